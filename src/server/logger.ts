/* Sabre's logger: pino, with Redis's four log levels.
 *
 *   loglevel  pino level
 *   debug     debug   (20)
 *   verbose   verbose (25, a custom level between debug and info)
 *   notice    info    (30)
 *   warning   warn    (40)
 *
 * Output goes to `logfile` (relative to `dir`) or stdout when it is "".
 * Writes are asynchronous (sonic-boom, sync: false); call flushLog() before
 * exiting. */

import * as path from 'path';
import pino from 'pino';
import type { Config } from './config';

export type Logger = pino.Logger<'verbose'>;

const LEVELS: { [loglevel: string]: string } = {
    debug: 'debug',
    verbose: 'verbose',
    notice: 'info',
    warning: 'warn',
};

export function pinoLevel(loglevel: string): string {
    return LEVELS[loglevel] ?? 'info';
}

/* A logger for this configuration. */
export function createLogger(cfg: Config): Logger {
    const dest = cfg.logfile === ''
        ? pino.destination({ dest: 1, sync: false })
        : pino.destination({ dest: path.resolve(cfg.dir, cfg.logfile), sync: false, append: true });
    return pino({
        level: pinoLevel(cfg.loglevel),
        customLevels: { verbose: 25 },
        base: { pid: process.pid },
    }, dest);
}

/* The process-wide logger. Until initLogger() runs it writes to stdout at
 * notice level, so modules may log at import time. */
export let log: Logger = pino({ level: 'info', customLevels: { verbose: 25 }, base: { pid: process.pid } },
    pino.destination({ dest: 1, sync: false }));

/* Create the logger for cfg, make it `log`, and follow CONFIG SET loglevel. */
export function initLogger(cfg: Config): Logger {
    log = createLogger(cfg);
    cfg.onChange('loglevel', (c) => { setLevel(c.loglevel); });
    return log;
}

/* Apply a Redis loglevel name to the current logger. */
export function setLevel(loglevel: string): void {
    log.level = pinoLevel(loglevel);
}

/* Flush buffered log lines synchronously (before process.exit). */
export function flushLog(): void {
    try { log.flush(); } catch { /* destination not ready yet */ }
}

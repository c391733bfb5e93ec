/**
 * SLOWLOG: commands whose execution took at least slowlog-log-slower-than µs
 * (Redis's slowlog.c). Entries are newest first and trimmed to slowlog-max-len when
 * one is added; ids keep counting across SLOWLOG RESET. Arguments are kept as
 * bytes, truncated as Redis does (32 arguments, 128 bytes each), with passwords
 * redacted as Redis's redactClientCommandArgument does.
 */
import type { Server } from './server';
import type { Client } from './client';
import type { ExecContext } from '../commands/context';
import type { CommandSpec } from '../commands/table';
import { int64Arg } from './local-commands';
import { replyHelp, subcommandSyntaxError } from '../commands/context';
import { slowlogArgv } from './slowlog-argv';

export { SLOWLOG_ENTRY_MAX_ARGC, SLOWLOG_ENTRY_MAX_STRING } from './slowlog-argv';

export interface SlowlogEntry {
  id: number;
  /** Unix time in seconds. */
  time: number;
  /** Execution time in µs. */
  duration: number;
  argv: (string | Buffer)[];
  peer: string;
  name: string;
}

export class Slowlog {
  private entries: SlowlogEntry[] = [];
  private nextId = 0;

  /**
   * Record the command in ctx if it ran for at least slowlog-log-slower-than µs
   * (a negative threshold disables the log). Called after every io-thread command.
   */
  maybeAdd(srv: Server, cl: Client, c: ExecContext, durationUs: number): void {
    const t = srv.cfg.slowlogLogSlowerThan;
    if (t < 0 || durationUs < t) return;
    this.addEntry(srv, slowlogArgv(c), durationUs, cl.addr, cl.name);
  }

  /** Add an entry whose arguments are already truncated (shard workers format their own). */
  addEntry(srv: Server, argv: (string | Buffer)[], durationUs: number, peer: string, name: string): void {
    this.entries.unshift({
      id: this.nextId++,
      time: Math.floor(Date.now() / 1000),
      duration: Math.floor(durationUs),
      argv,
      peer,
      name,
    });
    const max = srv.cfg.slowlogMaxLen;
    if (this.entries.length > max) this.entries.length = max;
  }

  reset(): void {
    this.entries = [];
  }

  get length(): number {
    return this.entries.length;
  }

  /** The newest `count` entries. */
  list(count: number): readonly SlowlogEntry[] {
    return count >= this.entries.length ? this.entries : this.entries.slice(0, count);
  }
}

/**
 * First argument index from which some arguments are passwords, or Infinity:
 * AUTH (all arguments), HELLO (the two after AUTH), CONFIG SET of requirepass or
 * masterauth (their values).
 */

const SLOWLOG_HELP = [
  'GET [<count>]',
  '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
  '    Entries are made of:',
  '    id, timestamp, time in microseconds, arguments array, client IP and port,',
  '    client name',
  'LEN',
  '    Return the length of the slowlog.',
  'RESET',
  '    Reset the slowlog.',
];

export function slowlogCommand(srv: Server, c: ExecContext, spec: CommandSpec): void {
  const w = c.w;
  const log = srv.slowlog;
  switch (spec.name) {
    case 'slowlog|len':
      w.integer(log.length);
      return;
    case 'slowlog|reset':
      log.reset();
      w.ok();
      return;
    case 'slowlog|get': {
      if (c.argc > 3) {
        subcommandSyntaxError(c);
        return;
      }
      let count = 10;
      if (c.argc === 3) {
        const n = int64Arg(c, 2);
        if (n === null || n < -1) {
          w.error('ERR count should be greater than or equal to -1');
          return;
        }
        count = n === -1 ? log.length : n;
      }
      const list = log.list(count);
      w.arrayHeader(list.length);
      for (const e of list) {
        w.arrayHeader(6);
        w.integer(e.id);
        w.integer(e.time);
        w.integer(e.duration);
        w.arrayHeader(e.argv.length);
        for (const a of e.argv) {
          if (typeof a === 'string') w.bulkString(a);
          else w.bulk(a, 0, a.length);
        }
        w.bulkString(e.peer);
        w.bulkString(e.name);
      }
      return;
    }
    case 'slowlog|help':
      replyHelp(c, SLOWLOG_HELP);
      return;
  }
}

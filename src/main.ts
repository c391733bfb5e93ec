#!/usr/bin/env node
/**
 * sabre-server [/path/to/redis.conf] [--port 6380 --shards N ...]
 * Starts the io thread and the shard workers, as redis-server starts Redis.
 */
import * as os from 'node:os';
import { Config, ConfigError, specialArgvAction } from './server/config';
import { flushLog, initLogger, log } from './server/logger';
import { Server } from './server/server';
import { REDIS_COMPAT_VERSION, SABRE_VERSION } from './server/version';

/** Default shard threads: inline on 2 cores or fewer (see README: benchmark), else one per spare core. */
export function defaultShards(cores: number): number {
  return cores <= 2 ? 0 : Math.min(cores - 1, 16);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const special = specialArgvAction(argv);
  if (special) {
    (special.stream === 'stdout' ? process.stdout : process.stderr).write(special.text);
    process.exit(special.exitCode);
  }
  let cfg: Config;
  try {
    cfg = Config.fromArgv(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(e.message);
      process.exit(1);
    }
    throw e;
  }
  initLogger(cfg);
  const shards = cfg.shards >= 0 ? cfg.shards : defaultShards(os.availableParallelism());
  if (shards > 30) {
    process.stderr.write('shards must be at most 30\n');
    process.exit(1);
  }
  const server = new Server(cfg, shards);
  server.onShutdown = (code) => {
    flushLog();
    process.exit(code);
  };
  try {
    await server.start();
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'Failed to start');
    flushLog();
    process.exit(1);
  }
  log.info({
    version: SABRE_VERSION, redis_version: REDIS_COMPAT_VERSION, port: server.boundPort(),
    bind: cfg.bind, shards,
  }, 'Ready to accept connections');
  const stop = (sig: string) => {
    log.warn({ signal: sig }, `Received ${sig} scheduling shutdown...`);
    void server.shutdown(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();

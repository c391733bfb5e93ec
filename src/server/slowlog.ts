/** SLOWLOG: commands whose execution took longer than slowlog-log-slower-than µs (Redis's slowlog.c). */
import type { Server } from './server';
import type { Client } from './client';
import type { ExecContext } from '../commands/context';
import type { CommandSpec } from '../commands/table';
import { replyHelp } from './local-commands';

const SLOWLOG_ENTRY_MAX_ARGC = 32;
const SLOWLOG_ENTRY_MAX_STRING = 128;

interface Entry { id: number; time: number; duration: number; argv: string[]; peer: string; name: string }

export class Slowlog {
  private entries: Entry[] = [];
  private nextId = 0;

  /** Record a command if it was slow enough (durationUs in µs). */
  maybeAdd(srv: Server, cl: Client, c: ExecContext, durationUs: number): void {
    const t = srv.cfg.slowlogLogSlowerThan;
    if (t < 0 || durationUs < t) return;
    const argc = Math.min(c.argc, SLOWLOG_ENTRY_MAX_ARGC);
    const argv: string[] = [];
    for (let j = 0; j < argc; j++) {
      if (argc !== c.argc && j === argc - 1) {
        argv.push(`... (${c.argc - argc + 1} more arguments)`);
        break;
      }
      const len = c.argLen(j);
      if (len > SLOWLOG_ENTRY_MAX_STRING) {
        const s = c.buf.toString('latin1', c.argStart[j], c.argStart[j] + SLOWLOG_ENTRY_MAX_STRING);
        argv.push(`${s}... (${len - SLOWLOG_ENTRY_MAX_STRING} more bytes)`);
      } else argv.push(c.argString(j));
    }
    this.addEntry(srv, argv, durationUs, cl.addr, cl.name);
  }

  /** Add an entry whose arguments were already truncated (shard workers send them so). */
  addEntry(srv: Server, argv: string[], durationUs: number, peer: string, name: string): void {
    if (srv.cfg.slowlogLogSlowerThan < 0) return;
    this.entries.unshift({ id: this.nextId++, time: Math.floor(Date.now() / 1000), duration: Math.round(durationUs), argv, peer, name });
    if (this.entries.length > srv.cfg.slowlogMaxLen) this.entries.length = srv.cfg.slowlogMaxLen;
  }

  trim(max: number): void {
    if (this.entries.length > max) this.entries.length = max;
  }

  reset(): void {
    this.entries = [];
  }

  get length(): number {
    return this.entries.length;
  }

  list(count: number): Entry[] {
    return count < 0 ? this.entries : this.entries.slice(0, count);
  }
}

export function slowlogCommand(srv: Server, c: ExecContext, spec: CommandSpec): void {
  const w = c.w;
  const log = srv.slowlog;
  log.trim(srv.cfg.slowlogMaxLen);
  switch (spec.name) {
    case 'slowlog|len': w.integer(log.length); return;
    case 'slowlog|reset': log.reset(); w.ok(); return;
    case 'slowlog|get': {
      let count = 10;
      if (c.argc === 3) {
        const s = c.argString(2);
        if (!/^-?\d+$/.test(s) || Number(s) < -1) {
          w.error('ERR count should be greater than or equal to -1');
          return;
        }
        count = Number(s);
      }
      const list = log.list(count);
      w.arrayHeader(list.length);
      for (const e of list) {
        w.arrayHeader(6);
        w.integer(e.id);
        w.integer(e.time);
        w.integer(e.duration);
        w.arrayHeader(e.argv.length);
        for (const a of e.argv) w.bulkString(a);
        w.bulkString(e.peer);
        w.bulkString(e.name);
      }
      return;
    }
    case 'slowlog|help':
      replyHelp(c, [
        'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
        'GET [<count>]',
        '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
        '    Entries are made of:',
        '    id, timestamp, time in microseconds, arguments array, client IP and port,',
        '    client name',
        'LEN',
        '    Return the length of the slowlog.',
        'RESET',
        '    Reset the slowlog.',
        'HELP',
        '    Print this help.',
      ]);
  }
}

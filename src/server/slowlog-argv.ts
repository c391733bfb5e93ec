/**
 * How a slow command's arguments are kept (Redis's slowlogCreateEntry): at most 32, the
 * last saying how many more there were; each at most 128 bytes, then how many more; the
 * passwords of AUTH, HELLO AUTH and CONFIG SET requirepass/masterauth redacted. Plain
 * functions over an ExecContext, so the io thread and shard workers keep them alike, and a
 * byte-exact encoding for the way from a worker to the io thread.
 */
import type { ExecContext } from '../commands/context';

export const SLOWLOG_ENTRY_MAX_ARGC = 32;
export const SLOWLOG_ENTRY_MAX_STRING = 128;

const REDACTED = Buffer.from('(redacted)');

/** The arguments of the command in c, as the slowlog keeps them. */
export function slowlogArgv(c: ExecContext): Buffer[] {
  const argc = c.argc;
  const n = Math.min(argc, SLOWLOG_ENTRY_MAX_ARGC);
  const redactFrom = redactedFrom(c);
  const argv: Buffer[] = [];
  for (let j = 0; j < n; j++) {
    if (n !== argc && j === n - 1) {
      argv.push(Buffer.from(`... (${argc - n + 1} more arguments)`));
      break;
    }
    if (j >= redactFrom && isRedacted(c, j, redactFrom)) {
      argv.push(REDACTED);
      continue;
    }
    const s = c.argStart[j], len = c.argEnd[j] - s;
    if (len > SLOWLOG_ENTRY_MAX_STRING) {
      argv.push(Buffer.concat([
        c.buf.subarray(s, s + SLOWLOG_ENTRY_MAX_STRING),
        Buffer.from(`... (${len - SLOWLOG_ENTRY_MAX_STRING} more bytes)`),
      ]));
    } else {
      argv.push(Buffer.from(c.buf.subarray(s, s + len)));
    }
  }
  return argv;
}

/** argv as (u32 length, bytes) pairs. */
export function encodeArgv(argv: Buffer[]): Buffer {
  let n = 0;
  for (const a of argv) n += 4 + a.length;
  const out = Buffer.allocUnsafe(n);
  let p = 0;
  for (const a of argv) {
    out.writeUInt32LE(a.length, p);
    p += 4 + a.copy(out, p + 4);
  }
  return out;
}

export function decodeArgv(src: Buffer, start: number, end: number): Buffer[] {
  const argv: Buffer[] = [];
  for (let p = start; p < end;) {
    const len = src.readUInt32LE(p);
    argv.push(Buffer.from(src.subarray(p + 4, p + 4 + len)));
    p += 4 + len;
  }
  return argv;
}

function redactedFrom(c: ExecContext): number {
  if (c.argIs(0, 'auth')) return 1;
  if (c.argIs(0, 'hello')) return 2;
  if (c.argIs(0, 'config') && c.argc > 2 && c.argIs(1, 'set')) return 3;
  return Infinity;
}

function isRedacted(c: ExecContext, j: number, from: number): boolean {
  if (from === 1) return true; // AUTH
  if (c.argIs(0, 'hello')) {
    // HELLO <ver> ... AUTH <user> <pass>: options are pairs/triples parsed left to right.
    for (let k = 2; k < c.argc; k++) {
      if (c.argIs(k, 'auth') && c.argc - 1 - k >= 2) {
        if (j === k + 1 || j === k + 2) return true;
        k += 2;
      } else if (c.argIs(k, 'setname')) k++;
    }
    return false;
  }
  // CONFIG SET name value [name value ...]
  return (j - from) % 2 === 0 && (c.argIs(j - 1, 'requirepass') || c.argIs(j - 1, 'masterauth'));
}

// Differential testing: the same command stream goes to Sabre and to the
// reference redis-server, and every reply is compared byte for byte.
//
// What is not compared byte for byte, and why:
//  - KEYS: the order of keys is the hash table's; both arrays are sorted
//    (element bytes, memcmp order) before comparing.
//  - TTL / EXPIRETIME (seconds) and PTTL / PEXPIRETIME (milliseconds): a
//    relative expiry is turned into an absolute one by each server's own clock
//    at a slightly different moment, so non-negative integer replies may differ
//    by up to ttlToleranceSec / ttlToleranceMs. Negative replies (-1 no expiry,
//    -2 no key) must match exactly. Streams should use far-future relative TTLs
//    (>= 100 s) or absolute/past timestamps, so no key expires mid-stream on one
//    server and not the other.
//  - Not to be put in streams at all (their replies are non-deterministic by
//    nature, see NON_DETERMINISTIC): RANDOMKEY, SCAN/SSCAN/HSCAN/ZSCAN (cursors
//    depend on table layout), TIME, LASTSAVE, INFO, CLIENT ID/LIST/INFO,
//    OBJECT IDLETIME/FREQ, DEBUG, MEMORY USAGE, SRANDMEMBER/SPOP/HRANDFIELD/
//    ZRANDMEMBER. runDifferential throws if one appears.
import { RawClient, escapeBytes, replyElements, replyInteger } from './resp';

export type Arg = string | Buffer;
export type Command = Arg[];

export interface Mismatch {
  /** Position of the command in the stream. */
  index: number;
  /** The command, rendered readably (binary bytes escaped). */
  command: string;
  /** Sabre's raw reply, escaped. */
  sabre: string;
  /** Redis's raw reply, escaped. */
  redis: string;
}

export interface DifferentialOptions {
  sabre: number;
  redis: number;
  commands: readonly (readonly Arg[])[];
  /** Commands per pipelined write (default 100). */
  chunkSize?: number;
  /** Stop collecting after this many mismatches (default 20: after the first, streams usually diverge). */
  maxMismatches?: number;
  /** Allowed difference for TTL / EXPIRETIME replies, in seconds (default 1). */
  ttlToleranceSec?: number;
  /** Allowed difference for PTTL / PEXPIRETIME replies, in milliseconds (default 1000). */
  ttlToleranceMs?: number;
  /** Extra equivalence: return true to accept a pair of differing replies. */
  equivalent?: (command: readonly Arg[], sabre: Buffer, redis: Buffer) => boolean;
  /** Called for every command with both raw replies (for logging and debugging). */
  onReply?: (index: number, command: readonly Arg[], sabre: Buffer, redis: Buffer) => void;
}

/** Command names (upper case) whose replies cannot be compared; see the header comment. */
export const NON_DETERMINISTIC = new Set([
  'RANDOMKEY',
  'SCAN',
  'SSCAN',
  'HSCAN',
  'ZSCAN',
  'TIME',
  'LASTSAVE',
  'INFO',
  'DEBUG',
  'SRANDMEMBER',
  'SPOP',
  'HRANDFIELD',
  'ZRANDMEMBER',
]);
const NON_DETERMINISTIC_SUB: Record<string, Set<string>> = {
  OBJECT: new Set(['IDLETIME', 'FREQ']),
  CLIENT: new Set(['ID', 'LIST', 'INFO']),
  MEMORY: new Set(['USAGE', 'STATS', 'DOCTOR', 'MALLOC-STATS']),
};

function argText(a: Arg): string {
  return typeof a === 'string' ? a : a.toString('latin1');
}

function name(cmd: readonly Arg[]): string {
  return cmd.length > 0 ? argText(cmd[0]).toUpperCase() : '';
}

/** Renders a command for humans: args quoted, binary bytes escaped. */
export function formatCommand(cmd: readonly Arg[]): string {
  return cmd.map((a) => `"${escapeBytes(typeof a === 'string' ? Buffer.from(a, 'utf8') : a, 120)}"`).join(' ');
}

export function formatMismatch(m: Mismatch): string {
  return `#${m.index}: ${m.command}\n  sabre: ${m.sabre}\n  redis: ${m.redis}`;
}

function assertDeterministic(cmd: readonly Arg[]): void {
  const n = name(cmd);
  const sub = NON_DETERMINISTIC_SUB[n];
  if (NON_DETERMINISTIC.has(n) || (sub && cmd.length > 1 && sub.has(argText(cmd[1]).toUpperCase()))) {
    throw new Error(`runDifferential: ${formatCommand(cmd)} has a non-deterministic reply; leave it out of streams`);
  }
}

function sortedArray(reply: Buffer): Buffer {
  const parts = replyElements(reply);
  if (!parts) return reply;
  return Buffer.concat([parts.header, ...parts.elements.slice().sort(Buffer.compare)]);
}

function withinTolerance(a: Buffer, b: Buffer, tol: number): boolean {
  const x = replyInteger(a);
  const y = replyInteger(b);
  if (x === null || y === null) return false;
  if (x < 0n || y < 0n) return x === y;
  const d = x > y ? x - y : y - x;
  return d <= BigInt(tol);
}

function sameReply(cmd: readonly Arg[], s: Buffer, r: Buffer, opts: DifferentialOptions): boolean {
  if (s.equals(r)) return true;
  switch (name(cmd)) {
    case 'KEYS':
      if (sortedArray(s).equals(sortedArray(r))) return true;
      break;
    case 'TTL':
    case 'EXPIRETIME':
      if (withinTolerance(s, r, opts.ttlToleranceSec ?? 1)) return true;
      break;
    case 'PTTL':
    case 'PEXPIRETIME':
      if (withinTolerance(s, r, opts.ttlToleranceMs ?? 1000)) return true;
      break;
  }
  return opts.equivalent ? opts.equivalent(cmd, s, r) : false;
}

/**
 * Sends the same commands to both servers over fresh connections (pipelined in
 * chunks, both servers in parallel), and returns the replies that differ.
 */
export async function runDifferential(opts: DifferentialOptions): Promise<Mismatch[]> {
  const chunk = opts.chunkSize ?? 100;
  const max = opts.maxMismatches ?? 20;
  for (const c of opts.commands) assertDeterministic(c);
  const [s, r] = await Promise.all([RawClient.connect(opts.sabre), RawClient.connect(opts.redis)]);
  const mismatches: Mismatch[] = [];
  try {
    for (let i = 0; i < opts.commands.length && mismatches.length < max; i += chunk) {
      const cmds = opts.commands.slice(i, i + chunk);
      let sr: Buffer[];
      let rr: Buffer[];
      try {
        [sr, rr] = await Promise.all([s.pipeline(cmds), r.pipeline(cmds)]);
      } catch (err) {
        // A dropped connection or a hang: name the chunk, the reply order is lost past here.
        throw new Error(
          `runDifferential: commands #${i}..#${i + cmds.length - 1} (first: ${formatCommand(cmds[0])}): ${(err as Error).message}`,
        );
      }
      for (let j = 0; j < cmds.length && mismatches.length < max; j++) {
        opts.onReply?.(i + j, cmds[j], sr[j], rr[j]);
        if (!sameReply(cmds[j], sr[j], rr[j], opts)) {
          mismatches.push({
            index: i + j,
            command: formatCommand(cmds[j]),
            sabre: escapeBytes(sr[j]),
            redis: escapeBytes(rr[j]),
          });
        }
      }
    }
  } finally {
    s.close();
    r.close();
  }
  return mismatches;
}

// ---- seeded randomness ----

/** mulberry32: a tiny, fast, seedable 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  /** Picks by weight from [weight, value] pairs. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let x = this.next() * total;
    for (const [w, v] of items) {
      x -= w;
      if (x < 0) return v;
    }
    return items[items.length - 1][1];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
}

/** A small key space so that commands collide: k0..k{space-1}, now and then a hash-tagged or odd key. */
export function randomKey(rng: Rng, space = 8): Arg {
  if (rng.chance(0.03)) return rng.pick(['', '{k0}x', 'k0{k0}', ' ', Buffer.from([0x6b, 0x00, 0xff])]);
  return `k${rng.int(0, space - 1)}`;
}

/** Integers as strings, weighted towards the interesting edges (int64 limits, signs, zero). */
export const EDGE_INTEGERS = [
  '0',
  '1',
  '-1',
  '2',
  '10',
  '100',
  '-100',
  '9223372036854775807',
  '-9223372036854775808',
  '9223372036854775806',
  '-9223372036854775807',
  '9223372036854775808', // one past: not an integer
  '-9223372036854775809',
  '18446744073709551615',
  '4611686018427387904',
  '99999999999999999999',
];

/** Strings that look almost like numbers, the parser's traps. */
export const TRICKY_NUMBERS = [
  '1.5',
  '-1.5',
  '1e3',
  '1E3',
  '1e-3',
  '.5',
  '5.',
  '-0',
  '+0',
  '+5',
  '007',
  '0.1',
  '3.0',
  '10.50',
  'inf',
  '-inf',
  '+inf',
  'Infinity',
  'nan',
  '  3',
  '3 ',
  '0x10',
  '1_000',
  '',
  '-',
  '1.7976931348623157e308',
  '1e309',
  '4.9e-324',
  '123456789012345678901234567890',
  '5e-1000',
];

export function randomInteger(rng: Rng): string {
  if (rng.chance(0.5)) return String(rng.int(-1000, 1000));
  return rng.pick(EDGE_INTEGERS);
}

export function randomFloatString(rng: Rng): string {
  if (rng.chance(0.4)) return (rng.int(-100000, 100000) / rng.pick([1, 10, 100, 1000, 7])).toString();
  return rng.pick(TRICKY_NUMBERS);
}

/** Values of every shape a string command meets: empty, numeric, tricky, binary, short and long (embstr/raw boundary at 44 bytes). */
export function randomValue(rng: Rng): Arg {
  switch (rng.int(0, 9)) {
    case 0:
      return '';
    case 1:
    case 2:
      return randomInteger(rng);
    case 3:
      return randomFloatString(rng);
    case 4:
      return rng.bytes(rng.int(1, 24)); // binary, may contain \r\n and \0
    case 5:
      return 'x'.repeat(rng.pick([43, 44, 45, 64, 100]));
    case 6:
      return rng.pick(['hello', 'world', 'hello world', 'abc', 'ohmytext', 'mynewtext', 'a']);
    default: {
      const n = rng.int(1, 12);
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(97 + rng.int(0, 5));
      return s;
    }
  }
}

/** A fixed far-future instant (2100-01-01T00:00:00Z), so absolute expiry replies are deterministic. */
export const FAR_FUTURE_UNIX = 4102444800;

export type TtlUnit = 's' | 'ms';

/**
 * A TTL argument that cannot make a key expire during a test run: relative
 * TTLs are >= 100 s, absolute ones are far-future or in the past (the key is
 * deleted at once, on both servers). Includes zero, negatives, overflowing
 * and non-numeric values for the error paths.
 */
export function randomTtl(rng: Rng, unit: TtlUnit, absolute = false): string {
  const k = unit === 's' ? 1 : 1000;
  const r = rng.next();
  if (r < 0.7) {
    if (absolute) return String((FAR_FUTURE_UNIX + rng.int(0, 100000)) * k);
    return String(rng.int(100, 100000) * k);
  }
  if (r < 0.8) return absolute ? String(rng.int(1, 1000000) * k) : String(-rng.int(1, 1000));
  return rng.pick(['0', '-1', 'abc', '1.5', '', '9223372036854775807', '-9223372036854775808', '9223372036854775', '99999999999999999999']);
}

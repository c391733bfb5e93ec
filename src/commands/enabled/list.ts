/**
 * list commands Sabre enables (Redis names, lowercase), and any getkeys procs they need.
 * A name is added here only once its handler works: until then the command answers
 * Redis's unknown-command error, as every command Sabre does not have.
 */
import type { GetKeysProc } from '../table';

export const LIST_COMMANDS: readonly string[] = [
  'lpush', 'rpush', 'lpushx', 'rpushx', 'lpop', 'rpop', 'llen', 'lrange', 'lindex', 'lset', 'linsert', 'lrem',
  'ltrim', 'lpos', 'lmove', 'rpoplpush', 'lmpop',
];

/** C atoi() of a byte range, as an int: leading spaces, a sign, digits up to the first other byte. */
function atoi(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  while (p < end && (buf[p] === 0x20 || (buf[p] >= 0x09 && buf[p] <= 0x0d))) p++;
  let neg = false;
  if (p < end && (buf[p] === 0x2b || buf[p] === 0x2d)) neg = buf[p++] === 0x2d;
  // strtol clamps to LONG_MIN/LONG_MAX on overflow; atoi then keeps the low 32 bits.
  let low = 0, mag = 0, digits = 0;
  for (; p < end && buf[p] >= 0x30 && buf[p] <= 0x39; p++) {
    const d = buf[p] - 0x30;
    low = (low * 10 + d) % 4294967296;
    mag = mag * 10 + d;
    if (mag !== 0) digits++;
  }
  if (digits > 19 || mag >= 9223372036854775807) return neg ? 0 : -1;
  return (neg ? -low : low) | 0;
}

/**
 * db.c genericGetKeys(): keys argv[firstKeyOfs + i*keyStep] for the count in
 * argv[keyCountOfs] (none when that count is out of range); no destination key here.
 */
function genericGetKeys(keyCountOfs: number, firstKeyOfs: number, keyStep: number, argc: number, buf: Uint8Array,
  argStart: Int32Array, argEnd: Int32Array, out: Int32Array, outFlags: Int32Array | null): number {
  if (keyCountOfs >= argc) return 0;
  const num = atoi(buf, argStart[keyCountOfs], argEnd[keyCountOfs]);
  if (num < 1 || num > Math.trunc((argc - firstKeyOfs) / keyStep)) return 0;
  for (let i = 0; i < num; i++) {
    out[i] = firstKeyOfs + i * keyStep;
    if (outFlags) outFlags[i] = 0;
  }
  return num;
}

/** db.c lmpopGetKeys: LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] */
const lmpopGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) =>
  genericGetKeys(1, 2, 1, argc, buf, argStart, argEnd, out, outFlags);

/** db.c blmpopGetKeys: BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] */
const blmpopGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) =>
  genericGetKeys(2, 3, 1, argc, buf, argStart, argEnd, out, outFlags);

export const LIST_GETKEYS: Record<string, GetKeysProc> = { lmpopGetKeys, blmpopGetKeys };

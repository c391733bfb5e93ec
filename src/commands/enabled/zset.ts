/**
 * zset commands Sabre enables (Redis names, lowercase), and any getkeys procs they need.
 * A name is added here only once its handler works: until then the command answers
 * Redis's unknown-command error, as every command Sabre does not have.
 *
 * The blocking forms (bzpopmin, bzpopmax, bzmpop) need the server's blocking machinery;
 * their pop-and-reply step is zsetServeBlockedPop() in ../zset.ts, and bzmpopGetKeys is
 * ready below for when they are enabled.
 */
import type { GetKeysProc } from '../table';

export const ZSET_COMMANDS: readonly string[] = [
  'zadd', 'zincrby', 'zrem', 'zcard', 'zscore', 'zmscore', 'zrank', 'zrevrank', 'zcount', 'zlexcount',
  'zrange', 'zrangestore', 'zrevrange', 'zrangebyscore', 'zrevrangebyscore', 'zrangebylex', 'zrevrangebylex',
  'zremrangebyrank', 'zremrangebyscore', 'zremrangebylex', 'zpopmin', 'zpopmax', 'zmpop', 'zrandmember',
  'zunion', 'zinter', 'zdiff', 'zunionstore', 'zinterstore', 'zdiffstore', 'zintercard', 'zscan',
];

/** C atoi() of an argument: optional spaces and sign, then digits up to the first other byte. */
function atoi(buf: Uint8Array, s: number, e: number): number {
  let p = s;
  while (p < e && (buf[p] === 0x20 || (buf[p] >= 0x09 && buf[p] <= 0x0d))) p++;
  let neg = false;
  if (p < e && (buf[p] === 0x2b || buf[p] === 0x2d)) {
    neg = buf[p] === 0x2d;
    p++;
  }
  let v = 0;
  for (; p < e; p++) {
    const d = buf[p] - 0x30;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    // strtol saturates at LONG_MAX / LONG_MIN; atoi's int cast keeps the low 32 bits (-1 / 0).
    if (v > 9223372036854775807) return neg ? 0 : -1;
  }
  const l = neg ? -v : v;
  return (l % 4294967296) | 0;
}

/**
 * db.c genericGetKeys(): `num` keys from argv[firstKeyOfs] every keyStep, the count read
 * by atoi() at argv[keyCountOfs], plus the store key at argv[storeKeyOfs] (if not 0);
 * nothing when the count is out of range (the command will answer an error).
 */
function genericGetKeys(storeKeyOfs: number, keyCountOfs: number, firstKeyOfs: number, keyStep: number,
  argc: number, buf: Uint8Array, argStart: Int32Array, argEnd: Int32Array, out: Int32Array,
  outFlags: Int32Array | null): number {
  if (keyCountOfs >= argc) return 0;
  const num = atoi(buf, argStart[keyCountOfs], argEnd[keyCountOfs]);
  if (num < 1 || num > Math.trunc((argc - firstKeyOfs) / keyStep)) return 0;
  for (let i = 0; i < num; i++) {
    out[i] = firstKeyOfs + i * keyStep;
    if (outFlags) outFlags[i] = 0;
  }
  if (storeKeyOfs) {
    out[num] = storeKeyOfs;
    if (outFlags) outFlags[num] = 0;
    return num + 1;
  }
  return num;
}

const zunionInterDiffGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) =>
  genericGetKeys(0, 1, 2, 1, argc, buf, argStart, argEnd, out, outFlags);
const zunionInterDiffStoreGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) =>
  genericGetKeys(1, 2, 3, 1, argc, buf, argStart, argEnd, out, outFlags);
const zmpopGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) =>
  genericGetKeys(0, 1, 2, 1, argc, buf, argStart, argEnd, out, outFlags);
const bzmpopGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) =>
  genericGetKeys(0, 2, 3, 1, argc, buf, argStart, argEnd, out, outFlags);

export const ZSET_GETKEYS: Record<string, GetKeysProc> = {
  zunionInterDiffGetKeys, zunionInterDiffStoreGetKeys, zmpopGetKeys, bzmpopGetKeys,
};

/**
 * set commands Sabre enables (Redis names, lowercase), and any getkeys procs they need.
 * A name is added here only once its handler works: until then the command answers
 * Redis's unknown-command error, as every command Sabre does not have.
 */
import type { GetKeysProc } from '../table';

export const SET_COMMANDS: readonly string[] = [
  'sadd', 'srem', 'sismember', 'smismember', 'scard', 'smembers', 'srandmember', 'spop', 'smove', 'sinter',
  'sintercard', 'sinterstore', 'sunion', 'sunionstore', 'sdiff', 'sdiffstore', 'sscan',
];

/** C atoi(): leading white space, a sign, then digits up to the first non-digit. */
function atoi(buf: Uint8Array, s: number, e: number): number {
  let p = s;
  while (p < e && (buf[p] === 0x20 || (buf[p] >= 0x09 && buf[p] <= 0x0d))) p++;
  let neg = false;
  if (p < e && (buf[p] === 0x2b || buf[p] === 0x2d)) neg = buf[p++] === 0x2d;
  let v = 0;
  while (p < e && buf[p] >= 0x30 && buf[p] <= 0x39 && v < 1e12) v = v * 10 + (buf[p++] - 0x30);
  return neg ? -v : v;
}

/** db.c sintercardGetKeys = genericGetKeys(0, 1, 2, 1): numkeys at argv[1], keys from argv[2]. */
const sintercardGetKeys: GetKeysProc = (cmd, argc, buf, argStart, argEnd, out, outFlags) => {
  const num = atoi(buf, argStart[1], argEnd[1]);
  if (num < 1 || num > argc - 2) return 0;
  const flags = cmd.keySpecs.length > 0 ? cmd.keySpecs[0].flags : 0;
  for (let i = 0; i < num; i++) {
    out[i] = 2 + i;
    if (outFlags) outFlags[i] = flags;
  }
  return num;
};

export const SET_GETKEYS: Record<string, GetKeysProc> = { sintercardGetKeys };

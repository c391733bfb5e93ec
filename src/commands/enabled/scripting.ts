/**
 * Scripting commands (handlers in src/scripting/scripts.ts) and their getkeys procs from
 * Redis 7.0 db.c: evalGetKeys and functionGetKeys are both genericGetKeys(0, 2, 3, 1):
 * numkeys at argv[2] (read with atoi), keys from argv[3]; no keys at all when numkeys is
 * out of range, so the command itself reports the error.
 */
import type { GetKeysProc } from '../table';

export const SCRIPTING_COMMANDS: readonly string[] = [
  'eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro',
  'script|load', 'script|exists', 'script|flush', 'script|kill', 'script|help',
  'function|load', 'function|delete', 'function|flush', 'function|list', 'function|dump',
  'function|restore', 'function|stats', 'function|kill', 'function|help',
];

/** C atoi(): optional blanks, a sign, digits; stops at the first non-digit. */
function atoi(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  while (i < e && (buf[i] === 0x20 || (buf[i] >= 0x09 && buf[i] <= 0x0d))) i++;
  let neg = false;
  if (i < e && (buf[i] === 0x2d || buf[i] === 0x2b)) neg = buf[i++] === 0x2d;
  let v = 0;
  while (i < e && buf[i] >= 0x30 && buf[i] <= 0x39 && v < 1e10) v = v * 10 + (buf[i++] - 0x30);
  return neg ? -v : v;
}

/** db.c genericGetKeys(0, 2, 3, 1, ...). */
const numKeysAt2: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) => {
  if (argc < 3) return 0;
  const num = atoi(buf, argStart[2], argEnd[2]);
  if (num < 1 || num > argc - 3) return 0;
  for (let i = 0; i < num; i++) {
    out[i] = 3 + i;
    if (outFlags) outFlags[i] = 0;
  }
  return num;
};

export const SCRIPTING_GETKEYS: Record<string, GetKeysProc> = {
  evalGetKeys: numKeysAt2,
  functionGetKeys: numKeysAt2,
};

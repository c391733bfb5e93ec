/**
 * SORT and SORT_RO (handlers in src/commands/sort.ts), and their getkeys procs from
 * Redis 7.0 db.c (sortGetKeys, sortROGetKeys): both commands declare incomplete key specs
 * (BY/GET keys derive from the data), so key extraction always goes through these.
 */
import { CMD_KEY_ACCESS, CMD_KEY_OW, CMD_KEY_RO, CMD_KEY_UPDATE } from '../command-docs';
import type { GetKeysProc } from '../table';

export const SORT_COMMANDS: readonly string[] = ['sort', 'sort_ro'];

/** strcasecmp(arg, lowerWord) == 0, with C string semantics (a NUL ends the argument). */
function argIsWord(buf: Uint8Array, s: number, e: number, lowerWord: string): boolean {
  const n = lowerWord.length;
  if (e - s < n) return false;
  for (let k = 0; k < n; k++) {
    const b = buf[s + k];
    const folded = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
    if (folded !== lowerWord.charCodeAt(k)) return false;
  }
  return e === s + n || buf[s + n] === 0;
}

/**
 * db.c sortGetKeys: the sorted key, then the destination of the last STORE found while
 * skipping LIMIT/GET/BY arguments the way Redis's scan does (quirks included).
 */
const sortGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) => {
  out[0] = 1;
  if (outFlags) outFlags[0] = CMD_KEY_RO | CMD_KEY_ACCESS;
  let foundStore = 0;
  for (let i = 2; i < argc; i++) {
    const s = argStart[i], e = argEnd[i];
    // Redis's inner loop over {limit 2, get 1, by 1}: "store" is tested at the first entry.
    if (argIsWord(buf, s, e, 'limit')) {
      i += 2;
    } else if (argIsWord(buf, s, e, 'store') && i + 1 < argc) {
      foundStore = 1;
      out[1] = i + 1;
      if (outFlags) outFlags[1] = CMD_KEY_OW | CMD_KEY_UPDATE;
    } else if (argIsWord(buf, s, e, 'get') || argIsWord(buf, s, e, 'by')) {
      i += 1;
    }
  }
  return 1 + foundStore;
};

/** db.c sortROGetKeys: just the sorted key. */
const sortROGetKeys: GetKeysProc = (_cmd, _argc, _buf, _argStart, _argEnd, out, outFlags) => {
  out[0] = 1;
  if (outFlags) outFlags[0] = CMD_KEY_RO | CMD_KEY_ACCESS;
  return 1;
};

export const SORT_GETKEYS: Record<string, GetKeysProc> = { sortGetKeys, sortROGetKeys };

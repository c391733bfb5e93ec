/**
 * The blocking commands' handlers (Redis's blockingPopGenericCommand and friends): parse,
 * try to serve like the non-blocking form, and otherwise set `c.blocked` so the io thread
 * blocks the client (src/server/blocking.ts). On a retry (`c.retry`, after a write to one
 * of the keys) a key of the wrong type is skipped rather than answered WRONGTYPE: in Redis
 * 7.0 the client then stays blocked.
 */
import { ERR_SYNTAX, ERR_WRONGTYPE, ExecContext, defineCommand } from './context';
import { ZSET_MAX, ZSET_MIN, zsetServeBlockedPop } from './zset';
import { TYPE_ZSET } from '../../native-layout/record';
import { LIST_HEAD, LIST_TAIL, blmoveTry, blockingPopTry, mpopArgs, moveForBlocked, parseMpopArgs, parseWhere, popForBlocked } from './list';
import { parseInt64, parseLongDouble, parsed } from '../util/numbers';

/** A blocking command inside MULTI (or a script) answers as on timeout, at once. */
export function replyNotBlocking(c: ExecContext, name: string): void {
  if (name === 'blmove' || name === 'brpoplpush') c.w.nullBulk();
  else c.w.nullArray();
}

/** getTimeoutFromObjectOrReply(UNIT_SECONDS): validates argv[i]; false after an error reply. */
export function checkTimeout(c: ExecContext, i: number): boolean {
  if (!parseLongDouble(c.buf, c.argStart[i], c.argEnd[i])) {
    c.w.error('ERR timeout is not a float or out of range');
    return false;
  }
  // (long long)(ftval * 1000.0): out of range (inf included) gives LLONG_MIN on x86.
  let ms = Math.trunc(parsed.dbl * 1000);
  if (!(ms > -9223372036854775808 && ms < 9223372036854775808)) ms = -1;
  if (ms < 0) {
    c.w.error('ERR timeout is negative');
    return false;
  }
  if (ms > 9223372036854775807 - Date.now()) {
    c.w.error('ERR timeout is out of range');
    return false;
  }
  return true;
}

function bpop(c: ExecContext, where: number): void {
  if (!checkTimeout(c, c.argc - 1)) return;
  const numkeys = c.argc - 2;
  if (c.retry) {
    for (let j = 1; j <= numkeys; j++) if (popForBlocked(c, j, where, -1)) return;
  } else if (blockingPopTry(c, 1, numkeys, where, -1)) {
    return;
  }
  c.blocked = true;
}

defineCommand('blpop', (c) => bpop(c, LIST_HEAD));
defineCommand('brpop', (c) => bpop(c, LIST_TAIL));

defineCommand('blmpop', (c) => {
  // Redis parses numkeys, LEFT|RIGHT and COUNT before the timeout.
  if (!parseMpopArgs(c, 2)) return;
  if (!checkTimeout(c, 1)) return;
  const { firstKey, numkeys, where, count } = mpopArgs;
  if (c.retry) {
    for (let j = 0; j < numkeys; j++) if (popForBlocked(c, firstKey + j, where, count)) return;
  } else if (blockingPopTry(c, firstKey, numkeys, where, count)) {
    return;
  }
  c.blocked = true;
});

function bmove(c: ExecContext, wherefrom: number, whereto: number, timeoutIdx: number): void {
  if (!checkTimeout(c, timeoutIdx)) return;
  const dirty = c.dirty;
  if (c.retry ? moveForBlocked(c, wherefrom, whereto) : blmoveTry(c, wherefrom, whereto)) {
    if (c.propagating && c.dirty !== dirty) propagateMove(c, wherefrom, whereto, timeoutIdx === 3);
    return;
  }
  c.blocked = true;
}

/**
 * A served BLMOVE/BRPOPLPUSH is replicated as LMOVE/RPOPLPUSH: right away with the
 * client's own LEFT/RIGHT words (lmoveGenericCommand), after blocking with Redis's shared
 * lowercase "left"/"right" (serveClientBlockedOnList).
 */
function propagateMove(c: ExecContext, wherefrom: number, whereto: number, rpoplpush: boolean): void {
  if (rpoplpush) {
    c.propagate(['RPOPLPUSH', c.argView(1), c.argView(2)]);
  } else if (c.retry) {
    c.propagate(['LMOVE', c.argView(1), c.argView(2), sideWord(wherefrom), sideWord(whereto)]);
  } else {
    c.propagate(['LMOVE', c.argView(1), c.argView(2), c.argView(3), c.argView(4)]);
  }
}

function sideWord(where: number): string {
  return where === LIST_HEAD ? 'left' : 'right';
}

defineCommand('blmove', (c) => {
  const wherefrom = parseWhere(c, 3);
  if (wherefrom < 0) return;
  const whereto = parseWhere(c, 4);
  if (whereto < 0) return;
  bmove(c, wherefrom, whereto, 5);
});

defineCommand('brpoplpush', (c) => bmove(c, LIST_TAIL, LIST_HEAD, 3));

// ---- sorted sets ---------------------------------------------------------------------------

/** Pop for BZPOPMIN/BZPOPMAX/BZMPOP from argv[first .. first+numkeys-1]: true once answered. */
function zpopKeys(c: ExecContext, first: number, numkeys: number, where: number, count: number, zmpop: boolean): boolean {
  for (let j = first; j < first + numkeys; j++) {
    const b = c.buf, s = c.argStart[j], e = c.argEnd[j];
    if (!c.retry) {
      // First try: a key of another type is an error (on a retry it is skipped).
      const ks = c.store.ks(b, s, e);
      const rec = ks.lookup(c.db, b, s, e, c.now);
      if (rec !== 0 && ks.type(rec) !== TYPE_ZSET) {
        c.w.error(ERR_WRONGTYPE);
        return true;
      }
    }
    if (zsetServeBlockedPop(c, b, s, e, where, count, zmpop)) return true;
  }
  return false;
}

function bzpop(c: ExecContext, where: number): void {
  if (!checkTimeout(c, c.argc - 1)) return;
  if (!zpopKeys(c, 1, c.argc - 2, where, 1, false)) c.blocked = true;
}

defineCommand('bzpopmin', (c) => bzpop(c, ZSET_MIN));
defineCommand('bzpopmax', (c) => bzpop(c, ZSET_MAX));

/** BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count], parsed as zmpopGenericCommand. */
defineCommand('bzmpop', (c) => {
  if (!parseInt64(c.buf, c.argStart[2], c.argEnd[2]) || parsed.isBig || parsed.int < 1) {
    c.w.error('ERR numkeys should be greater than 0');
    return;
  }
  const numkeys = parsed.int;
  const whereIdx = 3 + numkeys;
  if (whereIdx >= c.argc) {
    c.w.error(ERR_SYNTAX);
    return;
  }
  let where: number;
  if (c.argIs(whereIdx, 'min')) where = ZSET_MIN;
  else if (c.argIs(whereIdx, 'max')) where = ZSET_MAX;
  else {
    c.w.error(ERR_SYNTAX);
    return;
  }
  let count = -1;
  for (let j = whereIdx + 1; j < c.argc; j++) {
    if (count === -1 && c.argIs(j, 'count') && j + 1 < c.argc) {
      j++;
      if (!parseInt64(c.buf, c.argStart[j], c.argEnd[j]) || parsed.isBig || parsed.int < 1) {
        c.w.error('ERR count should be greater than 0');
        return;
      }
      count = parsed.int;
    } else {
      c.w.error(ERR_SYNTAX);
      return;
    }
  }
  if (!checkTimeout(c, 1)) return;
  if (!zpopKeys(c, 3, numkeys, where, count === -1 ? 1 : count, true)) c.blocked = true;
});

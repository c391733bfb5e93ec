/**
 * List commands (Redis 7.0 src/t_list.c): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE
 * LINDEX LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, and the non-blocking halves
 * of BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP for the server's blocking machinery.
 *
 * Values are quicklists in the shard arena (src/store/quicklist.ts); in Redis 7.0 a list
 * is always encoded "quicklist". Replies are written straight from the arena bytes.
 */
import { Keyspace } from '../store/keyspace';
import {
  LIST_HEAD, LIST_TAIL, el, qlClone, qlCreate, qlCurrentEquals, qlDelHead, qlDelTail, qlFree, qlFreeStep,
  qlInsertAtCursor, qlLength, qlNext, qlNodeCount, qlPeek, qlPrev, qlPush, qlRemove, qlReplaceAt, qlSeek, qlWriteBulks,
} from '../store/quicklist';
import { LIST_LAZYFREE_NODES } from '../../native-layout/quicklist';
import { ENC_QUICKLIST, TYPE_LIST } from '../../native-layout/record';
import { shardSettings } from '../shard/settings';
import { parseInt64, parsed } from '../util/numbers';
import {
  ERR_NOT_INTEGER, ERR_NO_SUCH_KEY, ERR_SYNTAX, ERR_WRONGTYPE, ExecContext, NOTIFY_LIST, defineCommand,
} from './context';
import { notifyDel, notifyMiss, notifyNew, valueCloners } from './keys';
import { optIs } from './expire';

export { LIST_HEAD, LIST_TAIL };

const ERR_OUT_OF_RANGE = 'ERR index out of range';
const ERR_MUST_BE_POSITIVE = 'ERR value is out of range, must be positive';
const ERR_RANK_ZERO = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const ERR_COUNT_NEGATIVE = "ERR COUNT can't be negative";
const ERR_MAXLEN_NEGATIVE = "ERR MAXLEN can't be negative";
const ERR_NUMKEYS = 'ERR numkeys should be greater than 0';
const ERR_MPOP_COUNT = 'ERR count should be greater than 0';

const LLONG_MIN = -9223372036854775808n;

// ---- value hooks -------------------------------------------------------------------------

Keyspace.valueFreers[TYPE_LIST] = (ks, rec) => {
  const ql = ks.valueWord(rec);
  if (ql === 0) return;
  // Big lists go to the lazy-free queue so DEL of millions of elements does not stall the shard.
  if (qlNodeCount(ks.arena, ql) > LIST_LAZYFREE_NODES) ks.lazyFree(TYPE_LIST, ql);
  else qlFree(ks.arena, ql);
};
Keyspace.valueStepFreers[TYPE_LIST] = (ks, value, deadline) => qlFreeStep(ks.arena, value, deadline);
valueCloners[TYPE_LIST] = (from, src, to) => qlClone(from.arena, from.valueWord(src), to.arena);

// ---- argument helpers --------------------------------------------------------------------

/** Output of getLong: the value, and whether it was LLONG_MIN (whose negation stays negative in C). */
let argLong = 0;
let argIsLongMin = false;

/** getLongFromObjectOrReply(): argv[i] into argLong; false after replying msg (or the default). */
function getLong(c: ExecContext, i: number, msg: string | null): boolean {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i])) {
    c.w.error(msg ?? ERR_NOT_INTEGER);
    return false;
  }
  argLong = parsed.int;
  argIsLongMin = parsed.isBig && parsed.big === LLONG_MIN;
  return true;
}

/** getRangeLongFromObjectOrReply() with max LONG_MAX, as LPOP/LPOS/LMPOP use it. */
function getLongAtLeast(c: ExecContext, i: number, min: number, msg: string): boolean {
  if (!getLong(c, i, msg)) return false;
  if (argLong < min) {
    c.w.error(msg);
    return false;
  }
  return true;
}

/** getListPositionFromObjectOrReply(): LIST_HEAD for LEFT, LIST_TAIL for RIGHT, -1 after a syntax error. */
export function parseWhere(c: ExecContext, i: number): number {
  if (optIs(c, i, 'right')) return LIST_TAIL;
  if (optIs(c, i, 'left')) return LIST_HEAD;
  c.w.error(ERR_SYNTAX);
  return -1;
}

/** Scratch for an element that must survive a change to its own list (LMOVE onto itself). */
let scratch = Buffer.allocUnsafe(256);

// ---- shared pieces -----------------------------------------------------------------------

/** Find argv[keyIdx]; 0 when missing, -1 after a WRONGTYPE reply, else the record. */
function lookupList(c: ExecContext, ks: Keyspace, keyIdx: number): number {
  const rec = ks.lookup(c.db, c.buf, c.argStart[keyIdx], c.argEnd[keyIdx], c.now);
  if (rec !== 0 && ks.type(rec) !== TYPE_LIST) {
    c.w.error(ERR_WRONGTYPE);
    return -1;
  }
  return rec;
}

/** lookupKeyRead() of argv[keyIdx] as a list: lookupList plus the "keymiss" event. */
function lookupListRead(c: ExecContext, ks: Keyspace, keyIdx: number): number {
  const rec = lookupList(c, ks, keyIdx);
  if (rec === 0) notifyMiss(c, keyIdx);
  return rec;
}

/** A new empty list under argv[keyIdx] (known to be absent); returns its quicklist. */
function createList(c: ExecContext, ks: Keyspace, keyIdx: number): number {
  const b = c.buf, s = c.argStart[keyIdx], e = c.argEnd[keyIdx];
  const ql = qlCreate(ks.arena, shardSettings.listMaxListpackSize);
  const rec = ks.newRecord(ks.hash(b, s, e), TYPE_LIST, ENC_QUICKLIST, b, s, e, ql, -1, c.now);
  ks.link(c.db, rec);
  notifyNew(c, keyIdx);
  return ql;
}

/**
 * addListRangeReply(): elements start..end (inclusive, negative from the tail) as an
 * array, from end to start when reverse. Seeks once, then walks node by node.
 */
function addListRangeReply(c: ExecContext, ks: Keyspace, ql: number, start: number, end: number, reverse: boolean): void {
  const a = ks.arena, w = c.w;
  const llen = qlLength(a, ql);
  if (start < 0) start = llen + start;
  if (end < 0) end = llen + end;
  if (start < 0) start = 0;
  if (start > end || start >= llen) {
    w.arrayHeader(0);
    return;
  }
  if (end >= llen) end = llen - 1;
  const n = end - start + 1;
  w.arrayHeader(n);
  qlSeek(a, ql, reverse ? end : start);
  qlWriteBulks(a, w, n, reverse);
}

/**
 * Pop `n` elements from one end after replying them (listPopRangeAndReplyWithKey without
 * the key); deletes the key when the list empties. The record must be the last found.
 */
function popRangeReply(c: ExecContext, ks: Keyspace, rec: number, ql: number, keyIdx: number, where: number,
  n: number): void {
  addListRangeReply(c, ks, ql, where === LIST_HEAD ? 0 : -n, where === LIST_HEAD ? n - 1 : -1, where === LIST_TAIL);
  if (where === LIST_HEAD) qlDelHead(ks.arena, ql, n); else qlDelTail(ks.arena, ql, n);
  listElementsRemoved(c, ks, rec, ql, keyIdx, where, n);
}

/**
 * listElementsRemoved(): the pop event, then delete the key of an emptied list (with its
 * "del" event); count the writes.
 */
function listElementsRemoved(c: ExecContext, ks: Keyspace, rec: number, ql: number, keyIdx: number, where: number,
  n: number): void {
  c.notifyArg(NOTIFY_LIST, where === LIST_HEAD ? 'lpop' : 'rpop', keyIdx);
  if (qlLength(ks.arena, ql) === 0) {
    ks.deleteFound(c.db, rec);
    notifyDel(c, keyIdx);
  }
  c.dirty += n;
}

// ---- LPUSH RPUSH LPUSHX RPUSHX -----------------------------------------------------------

function pushGeneric(c: ExecContext, where: number, xx: boolean): void {
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupList(c, ks, 1);
  if (rec < 0) return;
  let ql: number;
  if (rec === 0) {
    if (xx) {
      c.w.integer(0);
      return;
    }
    ql = createList(c, ks, 1);
  } else {
    ql = ks.valueWord(rec);
  }
  const a = ks.arena, b = c.buf;
  for (let j = 2; j < c.argc; j++) qlPush(a, ql, where, b, c.argStart[j], c.argEnd[j]);
  c.dirty += c.argc - 2;
  c.notifyArg(NOTIFY_LIST, where === LIST_HEAD ? 'lpush' : 'rpush', 1);
  c.w.integer(qlLength(a, ql));
}

defineCommand('lpush', (c) => pushGeneric(c, LIST_HEAD, false));
defineCommand('rpush', (c) => pushGeneric(c, LIST_TAIL, false));
defineCommand('lpushx', (c) => pushGeneric(c, LIST_HEAD, true));
defineCommand('rpushx', (c) => pushGeneric(c, LIST_TAIL, true));

// ---- LPOP RPOP ---------------------------------------------------------------------------

function popGeneric(c: ExecContext, where: number, name: string): void {
  const hasCount = c.argc === 3;
  let count = 0;
  if (c.argc > 3) {
    c.w.error(`ERR wrong number of arguments for '${name}' command`);
    return;
  }
  if (hasCount) {
    if (!getLongAtLeast(c, 2, 0, ERR_MUST_BE_POSITIVE)) return;
    count = argLong;
  }
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupList(c, ks, 1);
  if (rec < 0) return;
  if (rec === 0) {
    if (hasCount) c.w.nullArray(); else c.w.nullBulk();
    return;
  }
  if (hasCount && count === 0) {
    c.w.arrayHeader(0);
    return;
  }
  const a = ks.arena, ql = ks.valueWord(rec);
  if (!hasCount) {
    qlPeek(a, ql, where);
    c.w.bulk(el.u8, el.start, el.end);
    if (where === LIST_HEAD) qlDelHead(a, ql, 1); else qlDelTail(a, ql, 1);
    listElementsRemoved(c, ks, rec, ql, 1, where, 1);
    return;
  }
  const llen = qlLength(a, ql);
  popRangeReply(c, ks, rec, ql, 1, where, count > llen ? llen : count);
}

defineCommand('lpop', (c) => popGeneric(c, LIST_HEAD, 'lpop'));
defineCommand('rpop', (c) => popGeneric(c, LIST_TAIL, 'rpop'));

// ---- LLEN LRANGE LINDEX LSET --------------------------------------------------------------

defineCommand('llen', (c) => {
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupListRead(c, ks, 1);
  if (rec < 0) return;
  c.w.integer(rec === 0 ? 0 : qlLength(ks.arena, ks.valueWord(rec)));
});

defineCommand('lrange', (c) => {
  if (!getLong(c, 2, null)) return;
  const start = argLong;
  if (!getLong(c, 3, null)) return;
  const end = argLong;
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupListRead(c, ks, 1);
  if (rec < 0) return;
  if (rec === 0) {
    c.w.arrayHeader(0);
    return;
  }
  addListRangeReply(c, ks, ks.valueWord(rec), start, end, false);
});

defineCommand('lindex', (c) => {
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupListRead(c, ks, 1);
  if (rec < 0) return;
  if (rec === 0) {
    c.w.nullBulk();
    return;
  }
  if (!getLong(c, 2, null)) return;
  if (qlSeek(ks.arena, ks.valueWord(rec), argLong)) c.w.bulk(el.u8, el.start, el.end);
  else c.w.nullBulk();
});

defineCommand('lset', (c) => {
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupList(c, ks, 1);
  if (rec < 0) return;
  if (rec === 0) {
    c.w.error(ERR_NO_SUCH_KEY);
    return;
  }
  if (!getLong(c, 2, null)) return;
  if (!qlReplaceAt(ks.arena, ks.valueWord(rec), argLong, c.buf, c.argStart[3], c.argEnd[3])) {
    c.w.error(ERR_OUT_OF_RANGE);
    return;
  }
  c.dirty++;
  c.notifyArg(NOTIFY_LIST, 'lset', 1);
  c.w.ok();
});

// ---- LINSERT LREM LTRIM LPOS --------------------------------------------------------------

defineCommand('linsert', (c) => {
  let after: boolean;
  if (optIs(c, 2, 'after')) after = true;
  else if (optIs(c, 2, 'before')) after = false;
  else {
    c.w.error(ERR_SYNTAX);
    return;
  }
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupList(c, ks, 1);
  if (rec < 0) return;
  if (rec === 0) {
    c.w.integer(0);
    return;
  }
  const a = ks.arena, ql = ks.valueWord(rec), b = c.buf;
  const ps = c.argStart[3], pe = c.argEnd[3];
  // Seek the pivot from head to tail.
  let found = qlSeek(a, ql, 0) && qlCurrentEquals(b, ps, pe);
  while (!found && qlNext(a)) found = qlCurrentEquals(b, ps, pe);
  if (!found) {
    c.w.integer(-1);
    return;
  }
  qlInsertAtCursor(a, ql, after, b, c.argStart[4], c.argEnd[4]);
  c.dirty++;
  c.notifyArg(NOTIFY_LIST, 'linsert', 1);
  c.w.integer(qlLength(a, ql));
});

defineCommand('lrem', (c) => {
  if (!getLong(c, 2, null)) return;
  // In C, -LLONG_MIN stays negative: scan from the tail and never reach the limit.
  const fromTail = argLong < 0;
  const limit = argIsLongMin ? 0 : fromTail ? -argLong : argLong;
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupList(c, ks, 1);
  if (rec < 0) return;
  if (rec === 0) {
    c.w.integer(0);
    return;
  }
  const a = ks.arena, ql = ks.valueWord(rec);
  const removed = qlRemove(a, ql, c.buf, c.argStart[3], c.argEnd[3], limit, fromTail);
  c.dirty += removed;
  if (removed !== 0) {
    c.notifyArg(NOTIFY_LIST, 'lrem', 1);
    if (qlLength(a, ql) === 0) {
      ks.deleteFound(c.db, rec);
      notifyDel(c, 1);
    }
  }
  c.w.integer(removed);
});

defineCommand('ltrim', (c) => {
  if (!getLong(c, 2, null)) return;
  let start = argLong;
  if (!getLong(c, 3, null)) return;
  let end = argLong;
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = lookupList(c, ks, 1);
  if (rec < 0) return;
  if (rec === 0) {
    c.w.ok();
    return;
  }
  const a = ks.arena, ql = ks.valueWord(rec);
  const llen = qlLength(a, ql);
  if (start < 0) start = llen + start;
  if (end < 0) end = llen + end;
  if (start < 0) start = 0;
  let ltrim: number, rtrim: number;
  if (start > end || start >= llen) {
    ltrim = llen;
    rtrim = 0;
  } else {
    if (end >= llen) end = llen - 1;
    ltrim = start;
    rtrim = llen - end - 1;
  }
  if (ltrim > 0) qlDelHead(a, ql, ltrim);
  if (rtrim > 0) qlDelTail(a, ql, rtrim);
  c.notifyArg(NOTIFY_LIST, 'ltrim', 1);
  if (qlLength(a, ql) === 0) {
    ks.deleteFound(c.db, rec);
    notifyDel(c, 1);
  }
  c.dirty += ltrim + rtrim;
  c.w.ok();
});

/** LPOS matches when COUNT is given: kept until the array length is known (grown, never shrunk). */
let lposMatches = new Float64Array(64);

defineCommand('lpos', (c) => {
  let rank = 1, count = -1, maxlen = 0, rankIsLongMin = false;
  for (let j = 3; j < c.argc; j++) {
    const moreArgs = c.argc - 1 - j;
    if (optIs(c, j, 'rank') && moreArgs) {
      j++;
      if (!getLong(c, j, null)) return;
      rank = argLong;
      rankIsLongMin = argIsLongMin;
      if (rank === 0) {
        c.w.error(ERR_RANK_ZERO);
        return;
      }
    } else if (optIs(c, j, 'count') && moreArgs) {
      j++;
      if (!getLongAtLeast(c, j, 0, ERR_COUNT_NEGATIVE)) return;
      count = argLong;
    } else if (optIs(c, j, 'maxlen') && moreArgs) {
      j++;
      if (!getLongAtLeast(c, j, 0, ERR_MAXLEN_NEGATIVE)) return;
      maxlen = argLong;
    } else {
      c.w.error(ERR_SYNTAX);
      return;
    }
  }
  // A negative rank searches from the tail. -LLONG_MIN stays negative in C: every match
  // then satisfies the rank and COUNT never stops the scan.
  const fromTail = rank < 0;
  if (fromTail && !rankIsLongMin) rank = -rank;
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const rec = ks.lookup(c.db, c.buf, c.argStart[1], c.argEnd[1], c.now);
  if (rec === 0) {
    notifyMiss(c, 1);
    if (count !== -1) c.w.arrayHeader(0); else c.w.nullBulk();
    return;
  }
  if (ks.type(rec) !== TYPE_LIST) {
    c.w.error(ERR_WRONGTYPE);
    return;
  }
  const a = ks.arena, ql = ks.valueWord(rec), b = c.buf, es = c.argStart[2], ee = c.argEnd[2];
  const llen = qlLength(a, ql);
  let index = 0, matches = 0, matchIndex = -1, found = 0;
  let more = qlSeek(a, ql, fromTail ? -1 : 0);
  while (more && (maxlen === 0 || index < maxlen)) {
    if (qlCurrentEquals(b, es, ee)) {
      matches++;
      matchIndex = fromTail ? llen - index - 1 : index;
      if (rankIsLongMin || matches >= rank) {
        if (count === -1) break;
        if (found === lposMatches.length) {
          const grown = new Float64Array(found * 2);
          grown.set(lposMatches);
          lposMatches = grown;
        }
        lposMatches[found++] = matchIndex;
        if (count !== 0 && !rankIsLongMin && matches - rank + 1 >= count) break;
      }
    }
    index++;
    matchIndex = -1;
    more = fromTail ? qlPrev(a) : qlNext(a);
  }
  if (count !== -1) {
    c.w.arrayHeader(found);
    for (let i = 0; i < found; i++) c.w.integer(lposMatches[i]);
  } else if (matchIndex !== -1) {
    c.w.integer(matchIndex);
  } else {
    c.w.nullBulk();
  }
});

// ---- LMOVE RPOPLPUSH ----------------------------------------------------------------------

/**
 * lmoveGenericCommand() on argv[1] (source) and argv[2] (destination), which may live in
 * different keyspaces. Replies the moved element, nil, or WRONGTYPE.
 */
function lmoveGeneric(c: ExecContext, wherefrom: number, whereto: number): void {
  const b = c.buf, ss = c.argStart[1], se = c.argEnd[1];
  const sks = c.store.ks(b, ss, se);
  const srec = lookupList(c, sks, 1);
  if (srec < 0) return;
  if (srec === 0) {
    c.w.nullBulk();
    return;
  }
  moveFound(c, sks, sks.valueWord(srec), wherefrom, whereto);
}

/**
 * The rest of LMOVE once the source list (sql, in sks) is known to exist: checks the
 * destination, moves one element, replies it. Returns false after a WRONGTYPE reply.
 */
function moveFound(c: ExecContext, sks: Keyspace, sql: number, wherefrom: number, whereto: number): boolean {
  const b = c.buf;
  const dks = c.store.ks(b, c.argStart[2], c.argEnd[2]);
  const drec = lookupList(c, dks, 2);
  if (drec < 0) return false;
  const sa = sks.arena, da = dks.arena;
  const dql = drec === 0 ? createList(c, dks, 2) : dks.valueWord(drec);
  qlPeek(sa, sql, wherefrom);
  if (dql === sql && da === sa) {
    // Same list: the push may move the node holding the element, so copy it out first.
    const n = el.end - el.start;
    if (n > scratch.length) scratch = Buffer.allocUnsafe(n);
    scratch.set(el.u8.subarray(el.start, el.end), 0);
    if (wherefrom === LIST_HEAD) qlDelHead(sa, sql, 1); else qlDelTail(sa, sql, 1);
    qlPush(sa, sql, whereto, scratch, 0, n);
    c.w.bulk(scratch, 0, n);
    if (scratch.length > 65536) scratch = Buffer.allocUnsafe(256);
    // lmoveHandlePush()'s event, then the pop's.
    c.notifyArg(NOTIFY_LIST, whereto === LIST_HEAD ? 'lpush' : 'rpush', 2);
    c.notifyArg(NOTIFY_LIST, wherefrom === LIST_HEAD ? 'lpop' : 'rpop', 1);
  } else {
    c.w.bulk(el.u8, el.start, el.end);
    qlPush(da, dql, whereto, el.u8, el.start, el.end);
    if (wherefrom === LIST_HEAD) qlDelHead(sa, sql, 1); else qlDelTail(sa, sql, 1);
    c.notifyArg(NOTIFY_LIST, whereto === LIST_HEAD ? 'lpush' : 'rpush', 2);
    c.notifyArg(NOTIFY_LIST, wherefrom === LIST_HEAD ? 'lpop' : 'rpop', 1);
    // The destination lookup may have replaced the keyspace's found reference: find again.
    if (qlLength(sa, sql) === 0) {
      sks.delete(c.db, b, c.argStart[1], c.argEnd[1], c.now);
      notifyDel(c, 1);
    }
  }
  c.dirty++;
  return true;
}

defineCommand('lmove', (c) => {
  const wherefrom = parseWhere(c, 3);
  if (wherefrom < 0) return;
  const whereto = parseWhere(c, 4);
  if (whereto < 0) return;
  lmoveGeneric(c, wherefrom, whereto);
});

defineCommand('rpoplpush', (c) => lmoveGeneric(c, LIST_TAIL, LIST_HEAD));

// ---- LMPOP --------------------------------------------------------------------------------

/** Output of parseMpopArgs. */
export const mpopArgs = { numkeys: 0, firstKey: 0, where: LIST_HEAD, count: 1 };

/**
 * lmpopGenericCommand()'s parsing for LMPOP (numkeysIdx 1) and BLMPOP (numkeysIdx 2):
 * numkeys, LEFT|RIGHT, [COUNT n]. Fills mpopArgs; false after an error reply.
 */
export function parseMpopArgs(c: ExecContext, numkeysIdx: number): boolean {
  if (!getLongAtLeast(c, numkeysIdx, 1, ERR_NUMKEYS)) return false;
  const numkeys = argLong;
  const whereIdx = numkeysIdx + numkeys + 1;
  if (whereIdx >= c.argc) {
    c.w.error(ERR_SYNTAX);
    return false;
  }
  const where = parseWhere(c, whereIdx);
  if (where < 0) return false;
  let count = -1;
  for (let j = whereIdx + 1; j < c.argc; j++) {
    const moreArgs = c.argc - 1 - j;
    if (count === -1 && optIs(c, j, 'count') && moreArgs) {
      j++;
      if (!getLongAtLeast(c, j, 1, ERR_MPOP_COUNT)) return false;
      count = argLong;
    } else {
      c.w.error(ERR_SYNTAX);
      return false;
    }
  }
  mpopArgs.numkeys = numkeys;
  mpopArgs.firstKey = numkeysIdx + 1;
  mpopArgs.where = where;
  mpopArgs.count = count === -1 ? 1 : count;
  return true;
}

/** Pop from argv[keyIdx] for a *MPOP / B*POP if it holds elements: 1 served, 0 missing or empty, -1 WRONGTYPE replied. */
function popFromKey(c: ExecContext, keyIdx: number, where: number, count: number): number {
  const b = c.buf, s = c.argStart[keyIdx], e = c.argEnd[keyIdx];
  const ks = c.store.ks(b, s, e);
  const rec = lookupList(c, ks, keyIdx);
  if (rec <= 0) return rec;
  const a = ks.arena, ql = ks.valueWord(rec);
  const llen = qlLength(a, ql);
  if (llen === 0) return 0;
  c.w.arrayHeader(2);
  c.w.bulk(b, s, e);
  const popName = where === LIST_HEAD ? 'LPOP' : 'RPOP';
  if (count < 0) {
    // BLPOP/BRPOP: [key, element]; replicated as LPOP/RPOP key.
    qlPeek(a, ql, where);
    c.w.bulk(el.u8, el.start, el.end);
    if (where === LIST_HEAD) qlDelHead(a, ql, 1); else qlDelTail(a, ql, 1);
    listElementsRemoved(c, ks, rec, ql, keyIdx, where, 1);
    if (c.propagating) c.propagate([popName, c.argView(keyIdx)]);
  } else {
    // LMPOP/BLMPOP: [key, [elements]]; replicated as LPOP/RPOP key <how many were popped>.
    const n = count > llen ? llen : count;
    popRangeReply(c, ks, rec, ql, keyIdx, where, n);
    if (c.propagating) c.propagate([popName, c.argView(keyIdx), n]);
  }
  return 1;
}

defineCommand('lmpop', (c) => {
  if (!parseMpopArgs(c, 1)) return;
  const { firstKey, numkeys, where, count } = mpopArgs;
  for (let j = 0; j < numkeys; j++) {
    if (popFromKey(c, firstKey + j, where, count) !== 0) return;
  }
  c.w.nullArray();
});

// ---- blocking commands: the parts that touch lists ------------------------------------------

/**
 * The non-blocking pass of BLPOP/BRPOP (count -1) and BLMPOP (count >= 1, after
 * parseMpopArgs), as blockingPopGenericCommand's key loop: keys argv[firstKey ..
 * firstKey + numkeys - 1] in order; the first holding a list is popped from `where` and
 * answered ([key, element], or [key, [elements]] for BLMPOP); a key of another type answers
 * WRONGTYPE. Returns true when a reply was written, false (nothing written or changed) when
 * no key holds elements: then the caller blocks the client, or, when it may not block (MULTI,
 * scripts), replies a null array.
 */
export function blockingPopTry(c: ExecContext, firstKey: number, numkeys: number, where: number, count: number): boolean {
  for (let j = 0; j < numkeys; j++) {
    if (popFromKey(c, firstKey + j, where, count) !== 0) return true;
  }
  return false;
}

/**
 * Serve a client blocked in BLPOP/BRPOP (count -1) or BLMPOP (count >= 1) on argv[keyIdx]:
 * if that key now holds a list, pop and write the reply the command gives ([key, element] or
 * [key, [elements]]) and return true; false, with nothing written or changed, when the key
 * is missing or holds another type (the client stays blocked).
 */
export function popForBlocked(c: ExecContext, keyIdx: number, where: number, count: number): boolean {
  const b = c.buf, s = c.argStart[keyIdx], e = c.argEnd[keyIdx];
  const ks = c.store.ks(b, s, e);
  const rec = ks.lookup(c.db, b, s, e, c.now);
  if (rec === 0 || ks.type(rec) !== TYPE_LIST) return false;
  return popFromKey(c, keyIdx, where, count) === 1;
}

/**
 * The non-blocking pass of BLMOVE/BRPOPLPUSH (source argv[1], destination argv[2]): when
 * the source holds a list, runs LMOVE and returns true (reply written: the element, or
 * WRONGTYPE for the destination); WRONGTYPE on the source also returns true. False, with
 * nothing written, when the source is missing: the caller blocks, or replies a null bulk.
 */
export function blmoveTry(c: ExecContext, wherefrom: number, whereto: number): boolean {
  const b = c.buf, ss = c.argStart[1], se = c.argEnd[1];
  const sks = c.store.ks(b, ss, se);
  const srec = lookupList(c, sks, 1);
  if (srec < 0) return true;
  if (srec === 0) return false;
  moveFound(c, sks, sks.valueWord(srec), wherefrom, whereto);
  return true;
}

/**
 * Serve a client blocked in BLMOVE/BRPOPLPUSH: when argv[1] holds a list and argv[2] is
 * missing or a list, move one element and reply it (true); otherwise false with nothing
 * written or changed (Redis undoes the pop when the destination has the wrong type).
 */
export function moveForBlocked(c: ExecContext, wherefrom: number, whereto: number): boolean {
  const b = c.buf;
  const sks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const srec = sks.lookup(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  if (srec === 0 || sks.type(srec) !== TYPE_LIST) return false;
  const sql = sks.valueWord(srec);
  const dks = c.store.ks(b, c.argStart[2], c.argEnd[2]);
  const drec = dks.lookup(c.db, b, c.argStart[2], c.argEnd[2], c.now);
  if (drec !== 0 && dks.type(drec) !== TYPE_LIST) return false;
  return moveFound(c, sks, sql, wherefrom, whereto);
}

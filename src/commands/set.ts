/**
 * Set commands (Redis 7.0 src/t_set.c): SADD SREM SISMEMBER SMISMEMBER SCARD SMEMBERS
 * SRANDMEMBER SPOP SMOVE SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF
 * SDIFFSTORE SSCAN.
 *
 * Encodings as Redis 7.0: "intset" (src/store/intset.ts) while every member is an
 * integer and there are at most set-max-intset-entries of them, else "hashtable"
 * (src/store/adict.ts, entries without values). A set never converts back. The record's
 * value word is the intset's or the dict's address.
 *
 * Also exports the SCAN helpers HSCAN shares (cursor parsing, options).
 */
import { Keyspace } from '../store/keyspace';
import type { Arena } from '../store/arena';
import {
  AdictIter, adictCreate, adictDeleteFound, adictFind, adictFree, adictFreeStep, adictInsert, adictIterNext,
  adictIterStart, adictKeyLen, adictKeyStart, adictRandom, adictScan, adictSize, adictClone,
} from '../store/adict';
import {
  i64, int64Split, int64Write, intsetAdd, intsetClone, intsetFind, intsetFree, intsetGet, intsetLen,
  intsetNew, intsetRandom, intsetRemove, intsetRemoveAt, intsetResult,
} from '../store/intset';
import { ENC_HT, ENC_INTSET, TYPE_SET } from '../../native-layout/record';
import { ADDR_OFFSET_BITS } from '../../native-layout/arena';
import { shardSettings } from '../shard/settings';
import { parseInt64, parsed } from '../util/numbers';
import { stringMatch } from '../util/glob';
import type { ReplyWriter } from '../protocol/resp-writer';
import { ERR_NOT_INTEGER, ERR_SYNTAX, ERR_WRONGTYPE, ExecContext, NOTIFY_SET, defineCommand } from './context';
import { cstrLen, optIs } from './expire';
import { notifyDel, notifyMiss, notifyNew, valueCloners } from './keys';

/** Values with more elements than this are freed in steps (Redis's LAZYFREE_THRESHOLD). */
export const LAZYFREE_THRESHOLD = 64;

const ERR_RANGE_LONG = 'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807';
const ERR_POSITIVE = 'ERR value is out of range, must be positive';
const LLONG_MIN = -9223372036854775808n;

// ---- a set value, wherever it lives ------------------------------------------------------

/**
 * A set being worked on: a key's value (ks/rec set: changes of address or encoding are
 * written back to the record) or a temporary one (rec = 0). Preallocated and reused.
 * Iteration yields each member as bytes eu8[es, ee) (intset members as decimal digits in
 * `digits`, and as i64 in hi/lo).
 */
class SetObj {
  a!: Arena;
  ks: Keyspace | null = null;
  rec = 0;
  enc = 0;
  v = 0;
  /** Missing key (SUNION/SDIFF treat it as empty). */
  empty = false;
  // iteration
  readonly it = new AdictIter();
  idx = 0;
  eu8: Uint8Array = new Uint8Array(0);
  es = 0;
  ee = 0;
  hi = 0;
  lo = 0;
  ent = 0;
  readonly digits = new Uint8Array(24);
}

function bindRecord(o: SetObj, ks: Keyspace, rec: number): SetObj {
  o.a = ks.arena;
  o.ks = ks;
  o.rec = rec;
  o.enc = ks.encoding(rec);
  o.v = ks.valueWord(rec);
  o.empty = false;
  return o;
}

/** A new empty temporary set in arena `a`, created as setTypeCreate()/createIntsetObject(). */
function bindTemp(o: SetObj, a: Arena, intset: boolean): SetObj {
  o.a = a;
  o.ks = null;
  o.rec = 0;
  o.enc = intset ? ENC_INTSET : ENC_HT;
  o.v = intset ? intsetNew(a) : adictCreate(a, false);
  o.empty = false;
  return o;
}

function writeBack(o: SetObj): void {
  if (o.rec !== 0) {
    o.ks!.setValueWord(o.rec, o.v);
    o.ks!.setEncoding(o.rec, o.enc);
  }
}

const pool: SetObj[] = [];
function setObj(i: number): SetObj {
  while (pool.length <= i) pool.push(new SetObj());
  return pool[i];
}

export function setSize(o: SetObj): number {
  if (o.empty) return 0;
  return o.enc === ENC_INTSET ? intsetLen(o.a, o.v) : adictSize(o.a, o.v);
}

/** setTypeConvert(): intset -> hashtable, presized. */
function convertToHT(o: SetObj): void {
  const a = o.a, is = o.v, n = intsetLen(a, is);
  const d = adictCreate(a, false, n);
  const buf = o.digits;
  for (let i = 0; i < n; i++) {
    intsetGet(a, is, i);
    adictInsert(a, d, buf, 0, int64Write(i64.hi, i64.lo, buf, 0), null, 0, 0);
  }
  intsetFree(a, is);
  o.v = d;
  o.enc = ENC_HT;
  writeBack(o);
}

/** setTypeAdd(): 1 if buf[s, e) was added. */
function setAdd(o: SetObj, buf: Uint8Array, s: number, e: number): number {
  const a = o.a;
  if (o.enc === ENC_INTSET) {
    if (parseInt64(buf, s, e)) {
      int64Split();
      o.v = intsetAdd(a, o.v, i64.hi, i64.lo);
      writeBack(o);
      if (!intsetResult.changed) return 0;
      if (intsetLen(a, o.v) > shardSettings.setMaxIntsetEntries) convertToHT(o);
      return 1;
    }
    convertToHT(o);
    adictInsert(a, o.v, buf, s, e, null, 0, 0);
    return 1;
  }
  if (adictFind(a, o.v, buf, s, e) !== 0) return 0;
  adictInsert(a, o.v, buf, s, e, null, 0, 0);
  return 1;
}

/** setTypeRemove(): true if buf[s, e) was removed. */
function setRemove(o: SetObj, buf: Uint8Array, s: number, e: number): boolean {
  if (o.enc === ENC_INTSET) {
    if (!parseInt64(buf, s, e)) return false;
    int64Split();
    o.v = intsetRemove(o.a, o.v, i64.hi, i64.lo);
    writeBack(o);
    return intsetResult.changed;
  }
  const ent = adictFind(o.a, o.v, buf, s, e);
  if (ent === 0) return false;
  adictDeleteFound(o.a, o.v, ent);
  return true;
}

/** setTypeIsMember(). */
function setIsMember(o: SetObj, buf: Uint8Array, s: number, e: number): boolean {
  if (o.empty) return false;
  if (o.enc === ENC_INTSET) {
    if (!parseInt64(buf, s, e)) return false;
    int64Split();
    return intsetFind(o.a, o.v, i64.hi, i64.lo);
  }
  return adictFind(o.a, o.v, buf, s, e) !== 0;
}

/** Membership of the current member of `src` (being iterated) in `o`. */
function hasCurrent(o: SetObj, src: SetObj): boolean {
  if (o.empty) return false;
  if (src.enc === ENC_INTSET && o.enc === ENC_INTSET) return intsetFind(o.a, o.v, src.hi, src.lo);
  return setIsMember(o, src.eu8, src.es, src.ee);
}

function iterStart(o: SetObj): void {
  o.idx = 0;
  if (o.enc === ENC_HT && !o.empty) adictIterStart(o.it, o.a, o.v);
}

/** Next member into eu8/es/ee (and hi/lo for intsets); false at the end. */
function iterNext(o: SetObj): boolean {
  if (o.empty) return false;
  if (o.enc === ENC_INTSET) {
    if (o.idx >= intsetLen(o.a, o.v)) return false;
    memberAt(o, o.idx++);
    return true;
  }
  const e = adictIterNext(o.it);
  if (e === 0) return false;
  memberOfEntry(o, e);
  return true;
}

function memberAt(o: SetObj, i: number): void {
  intsetGet(o.a, o.v, i);
  o.hi = i64.hi;
  o.lo = i64.lo;
  o.eu8 = o.digits;
  o.es = 0;
  o.ee = int64Write(i64.hi, i64.lo, o.digits, 0);
}

function memberOfEntry(o: SetObj, e: number): void {
  o.ent = e;
  o.eu8 = o.a.u8[e >>> ADDR_OFFSET_BITS]!;
  o.es = adictKeyStart(o.a, o.v, e);
  o.ee = o.es + adictKeyLen(o.a, e);
}

/** A random member into eu8/es/ee (setTypeRandomElement); the set must not be empty. */
function randomMember(o: SetObj): void {
  if (o.enc === ENC_INTSET) {
    o.idx = intsetRandom(o.a, o.v);
    memberAt(o, o.idx);
  } else {
    memberOfEntry(o, adictRandom(o.a, o.v));
  }
}

/** Remove the member randomMember() just produced. */
function removeRandomMember(o: SetObj): void {
  if (o.enc === ENC_INTSET) {
    o.v = intsetRemoveAt(o.a, o.v, o.idx);
    writeBack(o);
  } else {
    // Find it again so the dict knows where it is linked.
    const e = adictFind(o.a, o.v, o.eu8, o.es, o.ee);
    adictDeleteFound(o.a, o.v, e);
  }
}

function freeValue(a: Arena, enc: number, v: number): void {
  if (enc === ENC_INTSET) intsetFree(a, v);
  else adictFree(a, v);
}

// ---- keys ---------------------------------------------------------------------------------

/** Look up argv[i] as a set into setObj(slot); null when missing; undefined after WRONGTYPE. */
function lookupSet(c: ExecContext, i: number, slot: number, ks: Keyspace): SetObj | null | undefined {
  const b = c.buf, s = c.argStart[i], e = c.argEnd[i];
  const rec = ks.lookup(c.db, b, s, e, c.now);
  if (rec === 0) return null;
  if (ks.type(rec) !== TYPE_SET) {
    c.w.error(ERR_WRONGTYPE);
    return undefined;
  }
  return bindRecord(setObj(slot), ks, rec);
}

/** lookupKeyRead() of argv[i] as a set: lookupSet plus the "keymiss" event. */
function lookupSetRead(c: ExecContext, i: number, slot: number, ks: Keyspace): SetObj | null | undefined {
  const o = lookupSet(c, i, slot, ks);
  if (o === null) notifyMiss(c, i);
  return o;
}

/** Link a new set record for argv[i] holding o's value (the key is known to be absent). */
function linkNewSet(c: ExecContext, ks: Keyspace, i: number, enc: number, v: number): number {
  const b = c.buf, s = c.argStart[i], e = c.argEnd[i];
  const rec = ks.newRecord(ks.hash(b, s, e), TYPE_SET, enc, b, s, e, v, -1, c.now);
  ks.link(c.db, rec);
  notifyNew(c, i);
  return rec;
}

/** setTypeCreate(first member) for argv[keyIdx], linked; bound to setObj(slot). */
function createSetFor(c: ExecContext, ks: Keyspace, keyIdx: number, mb: Uint8Array, ms: number, me: number,
  slot: number): SetObj {
  const intset = parseInt64(mb, ms, me);
  const v = intset ? intsetNew(ks.arena) : adictCreate(ks.arena, false);
  const rec = linkNewSet(c, ks, keyIdx, intset ? ENC_INTSET : ENC_HT, v);
  return bindRecord(setObj(slot), ks, rec);
}

/**
 * Replace argv[keyIdx] by the temporary set `o` (which lives in that key's arena), or
 * delete the key when `o` is empty (setKey / dbDelete of the *STORE commands).
 * Returns the stored size.
 */
function storeResult(c: ExecContext, keyIdx: number, o: SetObj, event: string): number {
  const b = c.buf, s = c.argStart[keyIdx], e = c.argEnd[keyIdx];
  const ks = c.store.ks(b, s, e);
  const existed = ks.delete(c.db, b, s, e, c.now);
  const n = setSize(o);
  if (n > 0) {
    // setKey(): an overwrite is no "new" key.
    const rec = ks.newRecord(ks.hash(b, s, e), TYPE_SET, o.enc, b, s, e, o.v, -1, c.now);
    ks.link(c.db, rec);
    if (!existed) notifyNew(c, keyIdx);
    c.notifyArg(NOTIFY_SET, event, keyIdx);
  } else {
    freeValue(o.a, o.enc, o.v);
    if (existed) notifyDel(c, keyIdx);
  }
  // An empty result over a missing key changes nothing (and is not propagated).
  if (n > 0 || existed) c.dirty++;
  return n;
}

// ---- replies ------------------------------------------------------------------------------

/** Digits of a non-negative integer. */
function digitsOf(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * Write an aggregate header for `n` elements in front of what was written since `start`
 * (Redis's addReplyDeferredLen + setDeferred*Len). `type` is the RESP type byte.
 */
export function deferredHeader(w: ReplyWriter, start: number, type: number, n: number): void {
  const hl = 3 + digitsOf(n);
  w.ensure(hl);
  const buf = w.buf;
  buf.copyWithin(start + hl, start, w.len);
  let p = start;
  buf[p++] = type;
  const d = digitsOf(n);
  for (let k = d - 1, x = n; k >= 0; k--) {
    buf[p + k] = 0x30 + (x % 10);
    x = Math.floor(x / 10);
  }
  p += d;
  buf[p++] = 13;
  buf[p] = 10;
  w.len += hl;
}

function setTypeByte(w: ReplyWriter): number {
  return w.resp === 3 ? 0x7e /* ~ */ : 0x2a /* * */;
}

function replyMember(c: ExecContext, o: SetObj): void {
  c.w.bulk(o.eu8, o.es, o.ee);
}

// ---- SCAN helpers (shared with HSCAN) -----------------------------------------------------

/** Output of parseScanCursor / parseScanOptions. */
export const scanArgs = { cursor: 0, count: 10, patIdx: -1 };

/**
 * parseScanCursorOrReply(): strtoul() of argv[i]; false after replying "invalid cursor".
 * The cursor is kept modulo 2^32 (adict cursors are 32-bit).
 */
export function parseScanCursor(c: ExecContext, i: number): boolean {
  const b = c.buf, s = c.argStart[i], n = cstrLen(c, i), e = s + n;
  scanArgs.cursor = 0;
  if (n === 0) return true;
  const c0 = b[s];
  if (c0 === 0x20 || (c0 >= 0x09 && c0 <= 0x0d)) {
    c.w.error('ERR invalid cursor');
    return false;
  }
  let p = s, neg = false;
  if (b[p] === 0x2b || b[p] === 0x2d) {
    neg = b[p] === 0x2d;
    p++;
  }
  if (p === e) {
    c.w.error('ERR invalid cursor');
    return false;
  }
  let lo = 0, hiDigits = 0;
  let v = 0n;
  for (let q = p; q < e; q++) {
    const d = b[q] - 0x30;
    if (d < 0 || d > 9) {
      c.w.error('ERR invalid cursor');
      return false;
    }
    lo = (lo * 10 + d) % 4294967296;
    if (++hiDigits > 15) {
      // Long inputs: check the unsigned long range exactly.
      if (hiDigits === 16) v = BigInt(c.buf.toString('latin1', p, q));
      v = v * 10n + BigInt(d);
      if (v > 0xffffffffffffffffn) {
        c.w.error('ERR invalid cursor');
        return false;
      }
    }
  }
  scanArgs.cursor = neg ? (4294967296 - lo) % 4294967296 : lo;
  return true;
}

/** scanGenericCommand() step 1: COUNT and MATCH from argv[from]; false after an error reply. */
export function parseScanOptions(c: ExecContext, from: number): boolean {
  scanArgs.count = 10;
  scanArgs.patIdx = -1;
  for (let i = from; i < c.argc;) {
    const left = c.argc - i;
    if (optIs(c, i, 'count') && left >= 2) {
      if (!parseInt64(c.buf, c.argStart[i + 1], c.argEnd[i + 1])) {
        c.w.error(ERR_NOT_INTEGER);
        return false;
      }
      if (parsed.int < 1) {
        c.w.error(ERR_SYNTAX);
        return false;
      }
      scanArgs.count = parsed.int;
      i += 2;
    } else if (optIs(c, i, 'match') && left >= 2) {
      const ps = c.argStart[i + 1], pe = c.argEnd[i + 1];
      scanArgs.patIdx = pe - ps === 1 && c.buf[ps] === 0x2a ? -1 : i + 1;
      i += 2;
    } else {
      c.w.error(ERR_SYNTAX);
      return false;
    }
  }
  return true;
}

/** Does bytes u8[s, e) pass the MATCH pattern (if any)? */
export function scanMatches(c: ExecContext, u8: Uint8Array, s: number, e: number): boolean {
  const pi = scanArgs.patIdx;
  return pi < 0 || stringMatch(c.buf, c.argStart[pi], c.argEnd[pi], u8, s, e, false);
}

/** Reply for a scan of a missing key: cursor 0, no elements (shared.emptyscan). */
export function replyEmptyScan(c: ExecContext): void {
  c.w.arrayHeader(2);
  c.w.bulkInteger(0);
  c.w.arrayHeader(0);
}

// ---- SADD SREM SISMEMBER SMISMEMBER SCARD SMOVE -------------------------------------------

function saddCommand(c: ExecContext): void {
  const b = c.buf;
  const ks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  let o = lookupSet(c, 1, 0, ks);
  if (o === undefined) return;
  if (o === null) o = createSetFor(c, ks, 1, b, c.argStart[2], c.argEnd[2], 0);
  let added = 0;
  for (let j = 2; j < c.argc; j++) added += setAdd(o, b, c.argStart[j], c.argEnd[j]);
  c.dirty += added;
  if (added !== 0) c.notifyArg(NOTIFY_SET, 'sadd', 1);
  c.w.integer(added);
}

function sremCommand(c: ExecContext): void {
  const b = c.buf;
  const ks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const o = lookupSet(c, 1, 0, ks);
  if (o === undefined) return;
  if (o === null) return c.w.integer(0);
  let deleted = 0, keyremoved = false;
  for (let j = 2; j < c.argc; j++) {
    if (setRemove(o, b, c.argStart[j], c.argEnd[j])) {
      deleted++;
      if (setSize(o) === 0) {
        ks.deleteFound(c.db, o.rec);
        keyremoved = true;
        break;
      }
    }
  }
  c.dirty += deleted;
  if (deleted !== 0) {
    c.notifyArg(NOTIFY_SET, 'srem', 1);
    if (keyremoved) notifyDel(c, 1);
  }
  c.w.integer(deleted);
}

function sismemberCommand(c: ExecContext): void {
  const b = c.buf;
  const o = lookupSetRead(c, 1, 0, c.store.ks(b, c.argStart[1], c.argEnd[1]));
  if (o === undefined) return;
  c.w.integer(o !== null && setIsMember(o, b, c.argStart[2], c.argEnd[2]) ? 1 : 0);
}

function smismemberCommand(c: ExecContext): void {
  const b = c.buf;
  const o = lookupSetRead(c, 1, 0, c.store.ks(b, c.argStart[1], c.argEnd[1]));
  if (o === undefined) return;
  c.w.arrayHeader(c.argc - 2);
  for (let j = 2; j < c.argc; j++) c.w.integer(o !== null && setIsMember(o, b, c.argStart[j], c.argEnd[j]) ? 1 : 0);
}

function scardCommand(c: ExecContext): void {
  const b = c.buf;
  const o = lookupSetRead(c, 1, 0, c.store.ks(b, c.argStart[1], c.argEnd[1]));
  if (o === undefined) return;
  c.w.integer(o === null ? 0 : setSize(o));
}

function smoveCommand(c: ExecContext): void {
  const b = c.buf;
  const srcKs = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const dstKs = c.store.ks(b, c.argStart[2], c.argEnd[2]);
  const srcRec = srcKs.lookup(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  const dstRec = dstKs.lookup(c.db, b, c.argStart[2], c.argEnd[2], c.now);
  if (srcRec === 0) return c.w.integer(0);
  if (srcKs.type(srcRec) !== TYPE_SET || (dstRec !== 0 && dstKs.type(dstRec) !== TYPE_SET)) {
    return c.w.error(ERR_WRONGTYPE);
  }
  const src = bindRecord(setObj(0), srcKs, srcRec);
  const ms = c.argStart[3], me = c.argEnd[3];
  if (srcKs === dstKs && srcRec === dstRec) return c.w.integer(setIsMember(src, b, ms, me) ? 1 : 0);
  if (!setRemove(src, b, ms, me)) return c.w.integer(0);
  c.notifyArg(NOTIFY_SET, 'srem', 1);
  if (setSize(src) === 0) {
    srcKs.delete(c.db, b, c.argStart[1], c.argEnd[1], c.now);
    notifyDel(c, 1);
  }
  const dst = dstRec === 0 ? createSetFor(c, dstKs, 2, b, ms, me, 1) : bindRecord(setObj(1), dstKs, dstRec);
  c.dirty++;
  if (setAdd(dst, b, ms, me) !== 0) {
    c.dirty++;
    c.notifyArg(NOTIFY_SET, 'sadd', 2);
  }
  c.w.integer(1);
}

// ---- SPOP SRANDMEMBER ---------------------------------------------------------------------

/** getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) of argv[i] into parsed; false after a reply. */
function parseCountArg(c: ExecContext, i: number): boolean {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i])) {
    c.w.error(ERR_NOT_INTEGER);
    return false;
  }
  if (parsed.isBig && parsed.big === LLONG_MIN) {
    c.w.error(ERR_RANGE_LONG);
    return false;
  }
  return true;
}

function spopCommand(c: ExecContext): void {
  if (c.argc > 3) return c.w.error(ERR_SYNTAX);
  const b = c.buf;
  const ks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  if (c.argc === 3) return spopWithCount(c, ks);
  const o = lookupSet(c, 1, 0, ks);
  if (o === undefined) return;
  if (o === null) return c.w.nullBulk();
  randomMember(o);
  replyMember(c, o);
  if (c.propagating) propagateSrem(c, o);
  removeRandomMember(o);
  c.notifyArg(NOTIFY_SET, 'spop', 1);
  if (setSize(o) === 0) {
    ks.deleteFound(c.db, o.rec);
    notifyDel(c, 1);
  }
  c.dirty++;
}

/** SPOP is replicated as SREM key member (a copy: the member's bytes go with it). */
function propagateSrem(c: ExecContext, o: SetObj): void {
  c.propagate(['SREM', c.argView(1), o.eu8.slice(o.es, o.ee)]);
}

/** How much bigger the set must be than what is left for SPOP to pop one by one. */
const SPOP_MOVE_STRATEGY_MUL = 5;

function spopWithCount(c: ExecContext, ks: Keyspace): void {
  if (!parseInt64(c.buf, c.argStart[2], c.argEnd[2]) || parsed.int < 0) return c.w.error(ERR_POSITIVE);
  let count = parsed.int;
  const o = lookupSet(c, 1, 0, ks);
  if (o === undefined) return;
  const w = c.w;
  if (o === null || count === 0) return w.setHeader(0);
  const size = setSize(o);
  c.dirty += count;
  c.notifyArg(NOTIFY_SET, 'spop', 1);
  if (count >= size) {
    // CASE 1: the whole set.
    w.setHeader(size);
    iterStart(o);
    while (iterNext(o)) replyMember(c, o);
    ks.deleteFound(c.db, o.rec);
    notifyDel(c, 1);
    c.dirty++;
    // The whole set went: replicated as DEL.
    if (c.propagating) c.propagate(['DEL', c.argView(1)]);
    return;
  }
  w.setHeader(count);
  let remaining = size - count;
  if (remaining * SPOP_MOVE_STRATEGY_MUL > count) {
    // CASE 2: pop random members one by one.
    while (count-- > 0) {
      randomMember(o);
      replyMember(c, o);
      if (c.propagating) propagateSrem(c, o);
      removeRandomMember(o);
    }
  } else {
    // CASE 3: move the members that stay into a new set, reply what is left in the old one.
    const keep = setObj(1);
    let started = false;
    while (remaining-- > 0) {
      randomMember(o);
      if (!started) {
        bindTemp(keep, o.a, parseInt64(o.eu8, o.es, o.ee));
        started = true;
      }
      // The member's bytes may live in the entry about to be freed: add first.
      setAdd(keep, o.eu8, o.es, o.ee);
      removeRandomMember(o);
    }
    iterStart(o);
    while (iterNext(o)) {
      replyMember(c, o);
      if (c.propagating) propagateSrem(c, o);
    }
    freeValue(o.a, o.enc, o.v);
    o.enc = keep.enc;
    o.v = keep.v;
    writeBack(o);
  }
  c.dirty++;
}

/** Below this ratio of size to count SRANDMEMBER samples by elimination (Redis's CASE 3). */
const SRANDMEMBER_SUB_STRATEGY_MUL = 3;

/** 4-byte keys for the uniqueness dict of random sampling. */
const idKey = new Uint8Array(4);
function idBytes(n: number): void {
  idKey[0] = n & 0xff;
  idKey[1] = (n >>> 8) & 0xff;
  idKey[2] = (n >>> 16) & 0xff;
  idKey[3] = n >>> 24;
}

function srandmemberCommand(c: ExecContext): void {
  if (c.argc > 3) return c.w.error(ERR_SYNTAX);
  const b = c.buf;
  const ks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const w = c.w;
  if (c.argc === 2) {
    const o = lookupSetRead(c, 1, 0, ks);
    if (o === undefined) return;
    if (o === null) return w.nullBulk();
    randomMember(o);
    return replyMember(c, o);
  }
  if (!parseCountArg(c, 2)) return;
  const uniq = parsed.int >= 0;
  let count = uniq ? parsed.int : -parsed.int;
  const o = lookupSetRead(c, 1, 0, ks);
  if (o === undefined) return;
  if (o === null || count === 0) return w.arrayHeader(0);
  const size = setSize(o);
  if (!uniq) {
    // CASE 1: independent picks.
    w.arrayHeader(count);
    while (count-- > 0) {
      randomMember(o);
      replyMember(c, o);
    }
    return;
  }
  if (count >= size) {
    // CASE 2: the whole set.
    w.arrayHeader(size);
    iterStart(o);
    while (iterNext(o)) replyMember(c, o);
    return;
  }
  w.arrayHeader(count);
  sampleUnique(c, o, size, count, null);
}

/**
 * Emit `count` distinct random members of o (count < size): selection sampling over the
 * members when count is a large share of them (O(size)), else random picks made unique
 * through a temporary dict of member ids (O(count)). `emit` null: reply each member.
 */
function sampleUnique(c: ExecContext, o: SetObj, size: number, count: number, emit: ((o: SetObj) => void) | null): void {
  if (count * SRANDMEMBER_SUB_STRATEGY_MUL > size) {
    iterStart(o);
    let left = size;
    while (count > 0 && iterNext(o)) {
      if (Math.random() * left < count) {
        if (emit === null) replyMember(c, o);
        else emit(o);
        count--;
      }
      left--;
    }
    return;
  }
  const seen = adictCreate(o.a, false, count);
  while (count > 0) {
    randomMember(o);
    idBytes(o.enc === ENC_INTSET ? o.idx : o.ent);
    if (adictFind(o.a, seen, idKey, 0, 4) !== 0) continue;
    adictInsert(o.a, seen, idKey, 0, 4, null, 0, 0);
    if (emit === null) replyMember(c, o);
    else emit(o);
    count--;
  }
  adictFree(o.a, seen);
}

// ---- SINTER SINTERCARD SINTERSTORE --------------------------------------------------------

const order: number[] = [];
function bySize(x: number, y: number): number {
  return setSize(pool[x]) - setSize(pool[y]);
}

/**
 * sinterGenericCommand(): keys argv[first .. first+n), result replied, counted
 * (cardinalityOnly, stopping at `limit` if > 0) or stored under argv[dstIdx] (dstIdx > 0).
 */
function sinterGeneric(c: ExecContext, first: number, n: number, dstIdx: number, cardinalityOnly: boolean,
  limit: number): void {
  const b = c.buf, w = c.w;
  let empty = false;
  for (let j = 0; j < n; j++) {
    const i = first + j;
    const o = lookupSetRead(c, i, j, c.store.ks(b, c.argStart[i], c.argEnd[i]));
    if (o === undefined) return;
    if (o === null) empty = true;
  }
  // An intersection with an empty set is empty (every key's type was checked first).
  if (empty) {
    if (dstIdx > 0) {
      const ks = c.store.ks(b, c.argStart[dstIdx], c.argEnd[dstIdx]);
      if (ks.delete(c.db, b, c.argStart[dstIdx], c.argEnd[dstIdx], c.now)) {
        c.dirty++;
        notifyDel(c, dstIdx);
      }
      w.integer(0);
    } else if (cardinalityOnly) {
      w.integer(0);
    } else {
      w.setHeader(0);
    }
    return;
  }
  // Smallest set first (a stable sort, as glibc's qsort on small arrays).
  order.length = 0;
  for (let j = 0; j < n; j++) order.push(j);
  order.sort(bySize);
  const s0 = pool[order[0]];
  let dst: SetObj | null = null;
  if (dstIdx > 0) dst = bindTemp(setObj(n), c.store.ks(b, c.argStart[dstIdx], c.argEnd[dstIdx]).arena, true);
  const start = w.len;
  let cardinality = 0;
  iterStart(s0);
  while (iterNext(s0)) {
    let j = 1;
    for (; j < n; j++) {
      const o = pool[order[j]];
      if (o.v === s0.v && o.a === s0.a) continue;
      if (!hasCurrent(o, s0)) break;
    }
    if (j !== n) continue;
    if (dst !== null) {
      setAdd(dst, s0.eu8, s0.es, s0.ee);
    } else if (cardinalityOnly) {
      cardinality++;
      if (limit > 0 && cardinality >= limit) break;
    } else {
      replyMember(c, s0);
      cardinality++;
    }
  }
  if (dst !== null) w.integer(storeResult(c, dstIdx, dst, 'sinterstore'));
  else if (cardinalityOnly) w.integer(cardinality);
  else deferredHeader(w, start, setTypeByte(w), cardinality);
}

function sintercardCommand(c: ExecContext): void {
  const b = c.buf;
  if (!parseInt64(b, c.argStart[1], c.argEnd[1]) || parsed.int < 1) {
    return c.w.error('ERR numkeys should be greater than 0');
  }
  const numkeys = parsed.int;
  if (numkeys > c.argc - 2) return c.w.error("ERR Number of keys can't be greater than number of args");
  let limit = 0;
  for (let j = 2 + numkeys; j < c.argc; j++) {
    if (optIs(c, j, 'limit') && c.argc - 1 - j > 0) {
      j++;
      if (!parseInt64(b, c.argStart[j], c.argEnd[j]) || parsed.int < 0) {
        return c.w.error("ERR LIMIT can't be negative");
      }
      limit = parsed.int;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  sinterGeneric(c, 2, numkeys, 0, true, limit);
}

// ---- SUNION SDIFF and their STORE forms ---------------------------------------------------

const SET_OP_UNION = 0;
const SET_OP_DIFF = 1;

function revBySize(x: number, y: number): number {
  return setSize(pool[y]) - setSize(pool[x]);
}

function sunionDiffGeneric(c: ExecContext, first: number, n: number, dstIdx: number, op: number): void {
  const b = c.buf, w = c.w;
  for (let j = 0; j < n; j++) {
    const i = first + j;
    const o = lookupSetRead(c, i, j, c.store.ks(b, c.argStart[i], c.argEnd[i]));
    if (o === undefined) return;
    if (o === null) setObj(j).empty = true;
  }
  // Select the DIFF algorithm as Redis does (it decides the result's encoding too).
  order.length = 0;
  for (let j = 0; j < n; j++) order.push(j);
  let diffAlgo = 1;
  const s0 = pool[0];
  if (op === SET_OP_DIFF && !s0.empty) {
    let one = 0, two = 0;
    for (let j = 0; j < n; j++) {
      if (pool[j].empty) continue;
      one += setSize(s0);
      two += setSize(pool[j]);
    }
    one = Math.floor(one / 2);
    diffAlgo = one <= two ? 1 : 2;
    if (diffAlgo === 1 && n > 1) {
      const rest = order.slice(1).sort(revBySize);
      for (let j = 1; j < n; j++) order[j] = rest[j - 1];
    }
  }
  const dstArena = dstIdx > 0 ? c.store.ks(b, c.argStart[dstIdx], c.argEnd[dstIdx]).arena
    : c.store.ks(b, c.argStart[first], c.argEnd[first]).arena;
  const dst = bindTemp(setObj(n), dstArena, true);
  let cardinality = 0;
  if (op === SET_OP_UNION) {
    for (let j = 0; j < n; j++) {
      const o = pool[j];
      iterStart(o);
      while (iterNext(o)) cardinality += setAdd(dst, o.eu8, o.es, o.ee);
    }
  } else if (!s0.empty && diffAlgo === 1) {
    iterStart(s0);
    while (iterNext(s0)) {
      let j = 1;
      for (; j < n; j++) {
        const o = pool[order[j]];
        if (o.empty) continue;
        if (o.v === s0.v && o.a === s0.a) break;
        if (hasCurrent(o, s0)) break;
      }
      if (j === n) {
        setAdd(dst, s0.eu8, s0.es, s0.ee);
        cardinality++;
      }
    }
  } else if (!s0.empty) {
    for (let j = 0; j < n; j++) {
      const o = pool[j];
      if (o.empty) continue;
      iterStart(o);
      while (iterNext(o)) {
        if (j === 0) cardinality += setAdd(dst, o.eu8, o.es, o.ee);
        else if (setRemove(dst, o.eu8, o.es, o.ee)) cardinality--;
      }
      if (cardinality === 0) break;
    }
  }
  if (dstIdx > 0) {
    w.integer(storeResult(c, dstIdx, dst, op === SET_OP_UNION ? 'sunionstore' : 'sdiffstore'));
    return;
  }
  w.setHeader(cardinality);
  iterStart(dst);
  while (iterNext(dst)) replyMember(c, dst);
  freeValue(dst.a, dst.enc, dst.v);
}

// ---- SSCAN --------------------------------------------------------------------------------

const scanFound: number[] = [];
function collectEntry(e: number): void {
  scanFound.push(e);
}

function sscanCommand(c: ExecContext): void {
  if (!parseScanCursor(c, 2)) return;
  const b = c.buf;
  const o = lookupSetRead(c, 1, 0, c.store.ks(b, c.argStart[1], c.argEnd[1]));
  if (o === undefined) return;
  if (o === null) return replyEmptyScan(c);
  if (!parseScanOptions(c, 3)) return;
  const w = c.w;
  if (o.enc === ENC_INTSET) {
    // Small encodings are returned whole, cursor 0.
    w.arrayHeader(2);
    w.bulkInteger(0);
    const start = w.len;
    let n = 0;
    iterStart(o);
    while (iterNext(o)) {
      if (!scanMatches(c, o.eu8, o.es, o.ee)) continue;
      replyMember(c, o);
      n++;
    }
    deferredHeader(w, start, 0x2a, n);
    return;
  }
  let cursor = scanArgs.cursor;
  let maxIterations = scanArgs.count * 10;
  scanFound.length = 0;
  do {
    cursor = adictScan(o.a, o.v, cursor, collectEntry);
  } while (cursor !== 0 && maxIterations-- > 0 && scanFound.length < scanArgs.count);
  w.arrayHeader(2);
  w.bulkInteger(cursor);
  const start = w.len;
  let n = 0;
  for (let k = 0; k < scanFound.length; k++) {
    memberOfEntry(o, scanFound[k]);
    if (!scanMatches(c, o.eu8, o.es, o.ee)) continue;
    replyMember(c, o);
    n++;
  }
  scanFound.length = 0;
  deferredHeader(w, start, 0x2a, n);
}

// ---- value lifecycle ----------------------------------------------------------------------

Keyspace.valueFreers[TYPE_SET] = (ks, rec) => {
  const v = ks.valueWord(rec);
  if (v === 0) return;
  const a = ks.arena;
  if (ks.encoding(rec) === ENC_INTSET) intsetFree(a, v);
  else if (adictSize(a, v) > LAZYFREE_THRESHOLD) ks.lazyFree(TYPE_SET, v);
  else adictFree(a, v);
};
// Only hashtable-encoded sets are queued.
Keyspace.valueStepFreers[TYPE_SET] = (ks, v, deadline) => adictFreeStep(ks.arena, v, deadline);
valueCloners[TYPE_SET] = (from, src, to) => {
  const v = from.valueWord(src);
  return from.encoding(src) === ENC_INTSET ? intsetClone(from.arena, v, to.arena) : adictClone(from.arena, v, to.arena);
};

// ---- registration -------------------------------------------------------------------------

defineCommand('sadd', saddCommand);
defineCommand('srem', sremCommand);
defineCommand('sismember', sismemberCommand);
defineCommand('smismember', smismemberCommand);
defineCommand('scard', scardCommand);
defineCommand('smove', smoveCommand);
defineCommand('spop', spopCommand);
defineCommand('srandmember', srandmemberCommand);
defineCommand('smembers', (c) => sinterGeneric(c, 1, 1, 0, false, 0));
defineCommand('sinter', (c) => sinterGeneric(c, 1, c.argc - 1, 0, false, 0));
defineCommand('sinterstore', (c) => sinterGeneric(c, 2, c.argc - 2, 1, false, 0));
defineCommand('sintercard', sintercardCommand);
defineCommand('sunion', (c) => sunionDiffGeneric(c, 1, c.argc - 1, 0, SET_OP_UNION));
defineCommand('sunionstore', (c) => sunionDiffGeneric(c, 2, c.argc - 2, 1, SET_OP_UNION));
defineCommand('sdiff', (c) => sunionDiffGeneric(c, 1, c.argc - 1, 0, SET_OP_DIFF));
defineCommand('sdiffstore', (c) => sunionDiffGeneric(c, 2, c.argc - 2, 1, SET_OP_DIFF));
defineCommand('sscan', sscanCommand);

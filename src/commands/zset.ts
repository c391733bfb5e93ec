/**
 * Sorted set commands (Redis 7.0 src/t_zset.c), with values in the shard arena:
 * the listpack encoding (src/store/zlistpack.ts) for small sets and the skiplist +
 * member index (src/store/zskiplist.ts) for large ones, converted at
 * zset-max-listpack-entries / zset-max-listpack-value as Redis does (and, as Redis,
 * never converted back except for freshly built STORE results).
 *
 * ZObj is the type layer (zsetAdd, zsetDel, zsetConvert... of t_zset.c): one object per
 * role, reused, holding the arena, encoding and value address of the set it works on.
 */
import { Arena } from '../store/arena';
import { Keyspace } from '../store/keyspace';
import { stringMatch } from '../util/glob';
import { parseDouble, parseInt64, parsed } from '../util/numbers';
import { formatDouble17g } from '../protocol/resp-writer';
import { shardSettings } from '../shard/settings';
import { ENC_INTSET, ENC_LISTPACK, ENC_SKIPLIST, TYPE_SET, TYPE_ZSET } from '../../native-layout/record';
import { ZSET_LAZYFREE_THRESHOLD } from '../../native-layout/zset';
import {
  LEX_MINUS, LEX_PLUS, LEX_STRING, ZLexRangeSpec, ZRangeSpec, lexRangeEmpty, zslByRank, zslCreate,
  zslDelete, zslDeleteRangeByLex, zslDeleteRangeByRank, zslDeleteRangeByScore, zslFind, zslFirst,
  zslFirstInLexRange, zslFirstInRange, zslFree, zslFreeStep, zslInsert, zslLast, zslLastInLexRange,
  zslLastInRange, zslLength, zslLexValueGteMin, zslLexValueLteMax, zslRank, zslScanStep, zslUpdateScore,
  zslValueGteMin, zslValueLteMax, znBackward, znBytes, znForward, znLen, znMemberOffset, znScore,
} from '../store/zskiplist';
import {
  zzlBytes, zzlClone, zzlCreate, zzlDeleteRun, zzlFind, zzlFirst, zzlFree, zzlInsert, zzlLast, zzlLength,
  zzlMemberLen, zzlNext, zzlPrev, zzlScore,
} from '../store/zlistpack';
import {
  ERR_NOT_FLOAT, ERR_NOT_INTEGER, ERR_SYNTAX, ERR_WRONGTYPE, ExecContext, NOTIFY_GENERIC, NOTIFY_ZSET, defineCommand,
} from './context';
import { notifyDel, notifyMiss, notifyNew, valueCloners } from './keys';
import { cstrLen, optIs } from './expire';
import { AdictIter, adictFind, adictIterNext, adictIterStart, adictKeyLen, adictKeyStart, adictSize } from '../store/adict';
import { i64, int64Split, int64Write, intsetFind, intsetGet, intsetLen } from '../store/intset';

const ERR_MINMAX_FLOAT = 'ERR min or max is not a float';
const ERR_MINMAX_LEX = 'ERR min or max not valid string range item';
const ERR_NAN = 'ERR resulting score is not a number (NaN)';
const ERR_POSITIVE = 'ERR value is out of range, must be positive';

// ---- the type layer ---------------------------------------------------------------------------

/** zsetAdd() input flags and output flags, as t_zset.c. */
export const ZADD_IN_INCR = 1;
export const ZADD_IN_NX = 2;
export const ZADD_IN_XX = 4;
export const ZADD_IN_GT = 8;
export const ZADD_IN_LT = 16;
export const ZADD_OUT_NOP = 1;
export const ZADD_OUT_NAN = 2;
export const ZADD_OUT_ADDED = 4;
export const ZADD_OUT_UPDATED = 8;

/**
 * A sorted set being read or changed: either encoding behind one interface. A position
 * `p` is a listpack entry offset or a skiplist node address (0 = none).
 */
export class ZObj {
  a!: Arena;
  enc = 0;
  v = 0;
  /** The score zsetAdd() left the member with. */
  newScore = 0;

  load(ks: Keyspace, rec: number): this {
    this.a = ks.arena;
    this.enc = ks.encoding(rec);
    this.v = ks.valueWord(rec);
    return this;
  }

  /** Write encoding and value address back to the record (after a change that may move them). */
  save(ks: Keyspace, rec: number): void {
    if (ks.valueWord(rec) !== this.v) ks.setValueWord(rec, this.v);
    if (ks.encoding(rec) !== this.enc) ks.setEncoding(rec, this.enc);
  }

  /** zsetTypeCreate(): an empty set, listpack unless the size hints rule it out. */
  create(a: Arena, sizeHint: number, maxLenHint: number): this {
    this.a = a;
    if (sizeHint <= shardSettings.zsetMaxListpackEntries && maxLenHint <= shardSettings.zsetMaxListpackValue
      && shardSettings.zsetMaxListpackEntries > 0) {
      this.enc = ENC_LISTPACK;
      this.v = zzlCreate(a, 64);
    } else {
      this.enc = ENC_SKIPLIST;
      this.v = zslCreate(a);
    }
    return this;
  }

  free(): void {
    if (this.enc === ENC_LISTPACK) zzlFree(this.a, this.v);
    else zslFree(this.a, this.v);
    this.v = 0;
  }

  length(): number {
    return this.enc === ENC_LISTPACK ? zzlLength(this.a, this.v) : zslLength(this.a, this.v);
  }
  first(): number {
    return this.enc === ENC_LISTPACK ? zzlFirst(this.a, this.v) : zslFirst(this.a, this.v);
  }
  last(): number {
    return this.enc === ENC_LISTPACK ? zzlLast(this.a, this.v) : zslLast(this.a, this.v);
  }
  next(p: number): number {
    return this.enc === ENC_LISTPACK ? zzlNext(this.a, this.v, p) : znForward(this.a, p, 0);
  }
  prev(p: number): number {
    return this.enc === ENC_LISTPACK ? zzlPrev(this.a, this.v, p) : znBackward(this.a, p);
  }
  score(p: number): number {
    return this.enc === ENC_LISTPACK ? zzlScore(this.a, this.v, p) : znScore(this.a, p);
  }
  /** Bytes holding the member of p, from mstart(p) to mend(p). */
  bytes(p: number): Uint8Array {
    return this.enc === ENC_LISTPACK ? zzlBytes(this.a, this.v) : znBytes(this.a, p);
  }
  mstart(p: number): number {
    return this.enc === ENC_LISTPACK ? p + 16 : znMemberOffset(this.a, p);
  }
  mlen(p: number): number {
    return this.enc === ENC_LISTPACK ? zzlMemberLen(this.a, this.v, p) : znLen(this.a, p);
  }

  find(m: Uint8Array, s: number, e: number): number {
    return this.enc === ENC_LISTPACK ? zzlFind(this.a, this.v, m, s, e) : zslFind(this.a, this.v, m, s, e);
  }

  /** Element at 0-based rank r (0 <= r < length). */
  byRank(r: number): number {
    if (this.enc === ENC_SKIPLIST) return zslByRank(this.a, this.v, r + 1);
    const n = zzlLength(this.a, this.v);
    if (r < n / 2) {
      let p = zzlFirst(this.a, this.v);
      while (r-- > 0) p = zzlNext(this.a, this.v, p);
      return p;
    }
    let p = zzlLast(this.a, this.v);
    for (let k = n - 1 - r; k > 0; k--) p = zzlPrev(this.a, this.v, p);
    return p;
  }

  /** 0-based rank of element p. */
  rank(p: number): number {
    if (this.enc === ENC_SKIPLIST) return zslRank(this.a, this.v, p) - 1;
    let r = 0;
    for (let q = zzlFirst(this.a, this.v); q !== p; q = zzlNext(this.a, this.v, q)) r++;
    return r;
  }

  firstInRange(r: ZRangeSpec): number {
    if (this.enc === ENC_SKIPLIST) return zslFirstInRange(this.a, this.v, r);
    if (r.min > r.max || (r.min === r.max && (r.minex || r.maxex))) return 0;
    for (let p = this.first(); p !== 0; p = this.next(p)) {
      const sc = this.score(p);
      if (zslValueGteMin(sc, r)) return zslValueLteMax(sc, r) ? p : 0;
    }
    return 0;
  }
  lastInRange(r: ZRangeSpec): number {
    if (this.enc === ENC_SKIPLIST) return zslLastInRange(this.a, this.v, r);
    if (r.min > r.max || (r.min === r.max && (r.minex || r.maxex))) return 0;
    for (let p = this.last(); p !== 0; p = this.prev(p)) {
      const sc = this.score(p);
      if (zslValueLteMax(sc, r)) return zslValueGteMin(sc, r) ? p : 0;
    }
    return 0;
  }
  lexGteMin(p: number, r: ZLexRangeSpec): boolean {
    const s = this.mstart(p);
    return zslLexValueGteMin(this.bytes(p), s, s + this.mlen(p), r);
  }
  lexLteMax(p: number, r: ZLexRangeSpec): boolean {
    const s = this.mstart(p);
    return zslLexValueLteMax(this.bytes(p), s, s + this.mlen(p), r);
  }
  /** zzlIsInLexRange(): the bounds can meet and the ends of the set are not outside them. */
  private inLexRange(r: ZLexRangeSpec): boolean {
    if (lexRangeEmpty(r)) return false;
    const last = this.last(), first = this.first();
    return last !== 0 && this.lexGteMin(last, r) && this.lexLteMax(first, r);
  }
  firstInLex(r: ZLexRangeSpec): number {
    if (this.enc === ENC_SKIPLIST) return zslFirstInLexRange(this.a, this.v, r);
    if (!this.inLexRange(r)) return 0;
    for (let p = this.first(); p !== 0; p = this.next(p)) {
      if (this.lexGteMin(p, r)) return this.lexLteMax(p, r) ? p : 0;
    }
    return 0;
  }
  lastInLex(r: ZLexRangeSpec): number {
    if (this.enc === ENC_SKIPLIST) return zslLastInLexRange(this.a, this.v, r);
    if (!this.inLexRange(r)) return 0;
    for (let p = this.last(); p !== 0; p = this.prev(p)) {
      if (this.lexLteMax(p, r)) return this.lexGteMin(p, r) ? p : 0;
    }
    return 0;
  }

  /** zsetConvert(..., SKIPLIST). */
  toSkiplist(): void {
    if (this.enc === ENC_SKIPLIST) return;
    const a = this.a, lp = this.v, zs = zslCreate(a);
    const u8 = zzlBytes(a, lp);
    for (let p = zzlFirst(a, lp); p !== 0; p = zzlNext(a, lp, p)) {
      zslInsert(a, zs, zzlScore(a, lp, p), u8, p + 16, p + 16 + zzlMemberLen(a, lp, p));
    }
    zzlFree(a, lp);
    this.enc = ENC_SKIPLIST;
    this.v = zs;
  }

  /** zsetConvertToListpackIfNeeded() for a freshly built skiplist set. */
  toListpackIfNeeded(maxelelen: number): void {
    if (this.enc === ENC_LISTPACK) return;
    const a = this.a, zs = this.v;
    const n = zslLength(a, zs);
    if (n > shardSettings.zsetMaxListpackEntries || maxelelen > shardSettings.zsetMaxListpackValue) return;
    let lp = zzlCreate(a, n * (16 + ((maxelelen + 7) & ~7)));
    for (let x = zslFirst(a, zs); x !== 0; x = znForward(a, x, 0)) {
      const mo = znMemberOffset(a, x);
      lp = zzlInsert(a, lp, znScore(a, x), znBytes(a, x), mo, mo + znLen(a, x));
    }
    zslFree(a, zs);
    this.enc = ENC_LISTPACK;
    this.v = lp;
  }

  /** Insert a member known to be absent (no conversion checks). */
  insertNew(score: number, m: Uint8Array, s: number, e: number): void {
    if (this.enc === ENC_LISTPACK) this.v = zzlInsert(this.a, this.v, score, m, s, e);
    else zslInsert(this.a, this.v, score, m, s, e);
  }

  /** Remove the element at p. */
  deleteAt(p: number): void {
    if (this.enc === ENC_LISTPACK) this.v = zzlDeleteRun(this.a, this.v, p, 1);
    else zslDelete(this.a, this.v, p);
  }

  /** zsetAdd(): returns ZADD_OUT_* flags; newScore holds the resulting score. */
  add(score: number, m: Uint8Array, s: number, e: number, flags: number): number {
    const incr = (flags & ZADD_IN_INCR) !== 0, nx = (flags & ZADD_IN_NX) !== 0, xx = (flags & ZADD_IN_XX) !== 0;
    const gt = (flags & ZADD_IN_GT) !== 0, lt = (flags & ZADD_IN_LT) !== 0;
    if (this.enc === ENC_LISTPACK) {
      const p = zzlFind(this.a, this.v, m, s, e);
      if (p === 0) {
        if (xx) return ZADD_OUT_NOP;
        if (zzlLength(this.a, this.v) + 1 > shardSettings.zsetMaxListpackEntries
          || e - s > shardSettings.zsetMaxListpackValue) {
          this.toSkiplist();
        } else {
          this.v = zzlInsert(this.a, this.v, score, m, s, e);
          this.newScore = score;
          return ZADD_OUT_ADDED;
        }
      }
    }
    const p = this.find(m, s, e);
    if (p === 0) {
      if (xx) return ZADD_OUT_NOP;
      zslInsert(this.a, this.v, score, m, s, e);
      this.newScore = score;
      return ZADD_OUT_ADDED;
    }
    if (nx) return ZADD_OUT_NOP;
    const cur = this.score(p);
    if (incr) {
      score += cur;
      if (score !== score) return ZADD_OUT_NAN;
    }
    if ((lt && score >= cur) || (gt && score <= cur)) return ZADD_OUT_NOP;
    this.newScore = score;
    if (score !== cur) {
      if (this.enc === ENC_LISTPACK) {
        this.v = zzlDeleteRun(this.a, this.v, p, 1);
        this.v = zzlInsert(this.a, this.v, score, m, s, e);
      } else {
        zslUpdateScore(this.a, this.v, p, score);
      }
      return ZADD_OUT_UPDATED;
    }
    return 0;
  }

  /** Remove 0-based ranks start..end inclusive. */
  deleteRankRange(start: number, end: number): void {
    if (this.enc === ENC_LISTPACK) this.v = zzlDeleteRun(this.a, this.v, this.byRank(start), end - start + 1);
    else zslDeleteRangeByRank(this.a, this.v, start + 1, end + 1);
  }
}

// ---- lifecycle hooks ------------------------------------------------------------------------

function freeZsetValue(ks: Keyspace, rec: number): void {
  const v = ks.valueWord(rec);
  if (v === 0) return;
  if (ks.encoding(rec) === ENC_LISTPACK) {
    zzlFree(ks.arena, v);
  } else if (zslLength(ks.arena, v) > ZSET_LAZYFREE_THRESHOLD) {
    ks.lazyFree(TYPE_ZSET, v);
  } else {
    zslFree(ks.arena, v);
  }
}
Keyspace.valueFreers[TYPE_ZSET] = freeZsetValue;
// Only skiplist values are ever queued.
Keyspace.valueStepFreers[TYPE_ZSET] = (ks, value, deadline) => zslFreeStep(ks.arena, value, deadline);

function cloneZsetValue(from: Keyspace, src: number, to: Keyspace): number {
  const v = from.valueWord(src);
  if (from.encoding(src) === ENC_LISTPACK) return zzlClone(from.arena, v, to.arena);
  const a = from.arena, zs = zslCreate(to.arena);
  for (let x = zslFirst(a, v); x !== 0; x = znForward(a, x, 0)) {
    const mo = znMemberOffset(a, x);
    zslInsert(to.arena, zs, znScore(a, x), znBytes(a, x), mo, mo + znLen(a, x));
  }
  return zs;
}
valueCloners[TYPE_ZSET] = cloneZsetValue;

// ---- helpers ----------------------------------------------------------------------------------

const zo = new ZObj();
const zdst = new ZObj();
/** Keyspace of the last lookupArg(). */
let zks: Keyspace;

/** Look up argv[i] (lazy expiry, LRU touched); 0 if absent. Sets zks. */
function lookupArg(c: ExecContext, i: number): number {
  const b = c.buf, s = c.argStart[i], e = c.argEnd[i];
  zks = c.store.ks(b, s, e);
  return zks.lookup(c.db, b, s, e, c.now);
}

/** Look up a zset argument: record, 0 if absent, -1 after a WRONGTYPE reply. */
function lookupZset(c: ExecContext, i: number): number {
  const rec = lookupArg(c, i);
  if (rec !== 0 && zks.type(rec) !== TYPE_ZSET) {
    c.w.error(ERR_WRONGTYPE);
    return -1;
  }
  return rec;
}

/** lookupKeyRead() of a zset argument: lookupZset plus the "keymiss" event. */
function lookupZsetRead(c: ExecContext, i: number): number {
  const rec = lookupZset(c, i);
  if (rec === 0) notifyMiss(c, i);
  return rec;
}

/** getLongFromObjectOrReply(): argument i as an int64 (a double beyond 2^53) into longArg. */
let longArg = 0;
function getLong(c: ExecContext, i: number, msg: string | null): boolean {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i])) {
    c.w.error(msg ?? ERR_NOT_INTEGER);
    return false;
  }
  longArg = parsed.int;
  return true;
}

/** getRangeLongFromObjectOrReply(): bounds exact as bigints. */
function getRangeLong(c: ExecContext, i: number, min: bigint, max: bigint, msg: string | null, rangeText: string): boolean {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i])) {
    c.w.error(msg ?? ERR_NOT_INTEGER);
    return false;
  }
  const v = parsed.isBig ? parsed.big : BigInt(parsed.int);
  if (v < min || v > max) {
    c.w.error(msg ?? rangeText);
    return false;
  }
  longArg = parsed.int;
  bigArg = v;
  return true;
}
let bigArg = 0n;

const LONG_MAX = 9223372036854775807n;
function getPositiveLong(c: ExecContext, i: number, msg: string | null): boolean {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i]) || (parsed.isBig ? parsed.big < 0n : parsed.int < 0)) {
    c.w.error(msg ?? ERR_POSITIVE);
    return false;
  }
  longArg = parsed.int;
  return true;
}

function isCSpace(ch: number): boolean {
  return ch === 0x20 || (ch >= 0x09 && ch <= 0x0d);
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
let strtodValue = 0;
/**
 * strtod() over the C string buf[s, NUL or e), which must be consumed whole and not be
 * NaN (zslParseRange). Unlike ZADD's scores, leading spaces, overflow to inf and
 * underflow are accepted, and "" is 0.
 */
function strtodWhole(buf: Uint8Array, s: number, e: number): boolean {
  let end = s;
  while (end < e && buf[end] !== 0) end++;
  if (s === end) {
    strtodValue = 0;
    return true;
  }
  let p = s;
  while (p < end && isCSpace(buf[p])) p++;
  if (p === end) return false;
  if (parseDouble(buf, p, end)) {
    strtodValue = parsed.dbl;
    return true;
  }
  const text = Buffer.from(buf.buffer, buf.byteOffset + p, end - p).toString('latin1');
  if (!DECIMAL.test(text)) return false;
  strtodValue = Number(text);
  return true;
}

const range = new ZRangeSpec();
const lexRange = new ZLexRangeSpec();

/** zslParseRange(): argv[minIdx], argv[maxIdx] into `range`. */
function parseScoreRange(c: ExecContext, minIdx: number, maxIdx: number): boolean {
  const b = c.buf;
  for (let k = 0; k < 2; k++) {
    const i = k === 0 ? minIdx : maxIdx;
    let s = c.argStart[i];
    const e = c.argEnd[i];
    const ex = s < e && b[s] === 0x28; // '('
    if (ex) s++;
    if (!strtodWhole(b, s, e)) return false;
    if (k === 0) {
      range.min = strtodValue;
      range.minex = ex;
    } else {
      range.max = strtodValue;
      range.maxex = ex;
    }
  }
  return true;
}

/** zslParseLexRangeItem() of argv[i] into the min (k 0) or max (k 1) bound of lexRange. */
function parseLexItem(c: ExecContext, i: number, k: number): boolean {
  const b = c.buf, s = c.argStart[i], e = c.argEnd[i];
  const c0 = s < e ? b[s] : 0;
  const c1 = s + 1 < e ? b[s + 1] : 0;
  let kind: number, ex: boolean;
  switch (c0) {
    case 0x2b: // '+'
      if (c1 !== 0) return false;
      kind = LEX_PLUS;
      ex = true;
      break;
    case 0x2d: // '-'
      if (c1 !== 0) return false;
      kind = LEX_MINUS;
      ex = true;
      break;
    case 0x28: // '('
      kind = LEX_STRING;
      ex = true;
      break;
    case 0x5b: // '['
      kind = LEX_STRING;
      ex = false;
      break;
    default:
      return false;
  }
  if (k === 0) {
    lexRange.minKind = kind;
    lexRange.minex = ex;
    lexRange.minStart = s + 1;
    lexRange.minEnd = e;
  } else {
    lexRange.maxKind = kind;
    lexRange.maxex = ex;
    lexRange.maxStart = s + 1;
    lexRange.maxEnd = e;
  }
  return true;
}

function parseLexRange(c: ExecContext, minIdx: number, maxIdx: number): boolean {
  lexRange.buf = c.buf;
  return parseLexItem(c, minIdx, 0) && parseLexItem(c, maxIdx, 1);
}

/** Replace key argv[i] with the value in `z` (setKey: any old value and TTL go). */
function storeKey(c: ExecContext, i: number, z: ZObj): void {
  const b = c.buf, s = c.argStart[i], e = c.argEnd[i];
  const ks = c.store.ks(b, s, e);
  const old = ks.lookupWrite(c.db, b, s, e, c.now);
  if (old !== 0) ks.deleteFound(c.db, old);
  const rec = ks.newRecord(ks.hash(b, s, e), TYPE_ZSET, z.enc, b, s, e, z.v, -1, c.now);
  ks.link(c.db, rec);
  if (old === 0) notifyNew(c, i);
}

/** dbDelete() of a *STORE destination argv[i] with its "del" event; true if it existed. */
function deleteKey(c: ExecContext, i: number): boolean {
  const b = c.buf, s = c.argStart[i], e = c.argEnd[i];
  if (!c.store.ks(b, s, e).delete(c.db, b, s, e, c.now)) return false;
  notifyDel(c, i);
  return true;
}

/** Emit n elements from p on (backwards when reverse), as zrangeResultEmit*ToClient. */
function emitRange(c: ExecContext, z: ZObj, p: number, n: number, reverse: boolean, withscores: boolean): void {
  const w = c.w, nested = withscores && w.resp === 3;
  for (; n > 0; n--) {
    if (nested) w.arrayHeader(2);
    const s = z.mstart(p);
    w.bulk(z.bytes(p), s, s + z.mlen(p));
    if (withscores) w.double(z.score(p));
    p = reverse ? z.prev(p) : z.next(p);
  }
}

/** Header of a range reply of n elements. */
function rangeHeader(c: ExecContext, n: number, withscores: boolean): void {
  c.w.arrayHeader(withscores && c.w.resp === 2 ? n * 2 : n);
}

// ---- ZADD ZINCRBY -------------------------------------------------------------------------------

let scores = new Float64Array(64);

function zaddGeneric(c: ExecContext, flagsIn: number): void {
  let flags = flagsIn, ch = false;
  let scoreidx = 2;
  while (scoreidx < c.argc) {
    if (optIs(c, scoreidx, 'nx')) flags |= ZADD_IN_NX;
    else if (optIs(c, scoreidx, 'xx')) flags |= ZADD_IN_XX;
    else if (optIs(c, scoreidx, 'ch')) ch = true;
    else if (optIs(c, scoreidx, 'incr')) flags |= ZADD_IN_INCR;
    else if (optIs(c, scoreidx, 'gt')) flags |= ZADD_IN_GT;
    else if (optIs(c, scoreidx, 'lt')) flags |= ZADD_IN_LT;
    else break;
    scoreidx++;
  }
  const incr = (flags & ZADD_IN_INCR) !== 0, nx = (flags & ZADD_IN_NX) !== 0, xx = (flags & ZADD_IN_XX) !== 0;
  const gt = (flags & ZADD_IN_GT) !== 0, lt = (flags & ZADD_IN_LT) !== 0;
  let elements = c.argc - scoreidx;
  if (elements % 2 !== 0 || elements === 0) return c.w.error(ERR_SYNTAX);
  elements /= 2;
  if (nx && xx) return c.w.error('ERR XX and NX options at the same time are not compatible');
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    return c.w.error('ERR GT, LT, and/or NX options at the same time are not compatible');
  }
  if (incr && elements > 1) return c.w.error('ERR INCR option supports a single increment-element pair');
  if (scores.length < elements) scores = new Float64Array(elements * 2);
  const b = c.buf;
  for (let j = 0; j < elements; j++) {
    const i = scoreidx + j * 2;
    if (!parseDouble(b, c.argStart[i], c.argEnd[i])) return c.w.error(ERR_NOT_FLOAT);
    scores[j] = parsed.dbl;
  }
  let rec = lookupZset(c, 1);
  if (rec < 0) return;
  let added = 0, updated = 0, processed = 0;
  let score = 0;
  const ks = zks;
  if (rec === 0) {
    if (xx) return zaddReply(c, incr, processed, score, ch, added, updated);
    // Redis 7.0 picks the encoding from the first member only.
    zo.a = ks.arena;
    const firstLen = c.argLen(scoreidx + 1);
    if (shardSettings.zsetMaxListpackEntries === 0 || shardSettings.zsetMaxListpackValue < firstLen) {
      zo.enc = ENC_SKIPLIST;
      zo.v = zslCreate(ks.arena);
    } else {
      zo.enc = ENC_LISTPACK;
      zo.v = zzlCreate(ks.arena, 64);
    }
    const s = c.argStart[1], e = c.argEnd[1];
    rec = ks.newRecord(ks.hash(b, s, e), TYPE_ZSET, zo.enc, b, s, e, zo.v, -1, c.now);
    ks.link(c.db, rec);
    notifyNew(c, 1);
  } else {
    zo.load(ks, rec);
  }
  for (let j = 0; j < elements; j++) {
    const i = scoreidx + j * 2 + 1;
    const out = zo.add(scores[j], b, c.argStart[i], c.argEnd[i], flags);
    if (out & ZADD_OUT_NAN) {
      zo.save(ks, rec);
      c.dirty += added + updated;
      c.w.error(ERR_NAN);
      if (added + updated !== 0) c.notifyArg(NOTIFY_ZSET, incr ? 'zincr' : 'zadd', 1);
      return;
    }
    if (out & ZADD_OUT_ADDED) added++;
    if (out & ZADD_OUT_UPDATED) updated++;
    if (!(out & ZADD_OUT_NOP)) processed++;
    score = zo.newScore;
  }
  zo.save(ks, rec);
  c.dirty += added + updated;
  zaddReply(c, incr, processed, score, ch, added, updated);
  if (added + updated !== 0) c.notifyArg(NOTIFY_ZSET, incr ? 'zincr' : 'zadd', 1);
}

function zaddReply(c: ExecContext, incr: boolean, processed: number, score: number, ch: boolean, added: number,
  updated: number): void {
  if (incr) {
    if (processed) c.w.double(score);
    else c.w.nullBulk();
  } else {
    c.w.integer(ch ? added + updated : added);
  }
}

// ---- ZREM ZCARD ZSCORE ZMSCORE ZRANK ----------------------------------------------------------

function zremCommand(c: ExecContext): void {
  const rec = lookupZset(c, 1);
  if (rec <= 0) {
    if (rec === 0) c.w.integer(0);
    return;
  }
  const ks = zks;
  zo.load(ks, rec);
  let deleted = 0;
  const b = c.buf;
  for (let j = 2; j < c.argc; j++) {
    const p = zo.find(b, c.argStart[j], c.argEnd[j]);
    if (p === 0) continue;
    zo.deleteAt(p);
    deleted++;
    if (zo.length() === 0) break;
  }
  // Save first: the value may have moved, and the key's freer frees what the record names.
  zo.save(ks, rec);
  const keyremoved = zo.length() === 0;
  if (keyremoved) ks.deleteFound(c.db, rec);
  c.dirty += deleted;
  c.w.integer(deleted);
  if (deleted !== 0) {
    c.notifyArg(NOTIFY_ZSET, 'zrem', 1);
    if (keyremoved) notifyDel(c, 1);
  }
}

function zcardCommand(c: ExecContext): void {
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  c.w.integer(rec === 0 ? 0 : zo.load(zks, rec).length());
}

function zscoreCommand(c: ExecContext): void {
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  if (rec === 0) return c.w.nullBulk();
  zo.load(zks, rec);
  const p = zo.find(c.buf, c.argStart[2], c.argEnd[2]);
  if (p === 0) c.w.nullBulk();
  else c.w.double(zo.score(p));
}

function zmscoreCommand(c: ExecContext): void {
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  c.w.arrayHeader(c.argc - 2);
  if (rec !== 0) zo.load(zks, rec);
  for (let j = 2; j < c.argc; j++) {
    const p = rec === 0 ? 0 : zo.find(c.buf, c.argStart[j], c.argEnd[j]);
    if (p === 0) c.w.nullBulk();
    else c.w.double(zo.score(p));
  }
}

function zrankGeneric(c: ExecContext, reverse: boolean): void {
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  if (rec === 0) return c.w.nullBulk();
  zo.load(zks, rec);
  const p = zo.find(c.buf, c.argStart[2], c.argEnd[2]);
  if (p === 0) return c.w.nullBulk();
  const r = zo.rank(p);
  c.w.integer(reverse ? zo.length() - 1 - r : r);
}

// ---- ZCOUNT ZLEXCOUNT ---------------------------------------------------------------------------

function zcountCommand(c: ExecContext): void {
  if (!parseScoreRange(c, 2, 3)) return c.w.error(ERR_MINMAX_FLOAT);
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  if (rec === 0) return c.w.integer(0);
  zo.load(zks, rec);
  const first = zo.firstInRange(range);
  if (first === 0) return c.w.integer(0);
  if (zo.enc === ENC_SKIPLIST) {
    const last = zo.lastInRange(range);
    return c.w.integer(zo.rank(last) - zo.rank(first) + 1);
  }
  let n = 0;
  for (let p = first; p !== 0 && zslValueLteMax(zo.score(p), range); p = zo.next(p)) n++;
  c.w.integer(n);
}

function zlexcountCommand(c: ExecContext): void {
  if (!parseLexRange(c, 2, 3)) return c.w.error(ERR_MINMAX_LEX);
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  if (rec === 0) return c.w.integer(0);
  zo.load(zks, rec);
  const first = zo.firstInLex(lexRange);
  if (first === 0) return c.w.integer(0);
  if (zo.enc === ENC_SKIPLIST) {
    const last = zo.lastInLex(lexRange);
    return c.w.integer(zo.rank(last) - zo.rank(first) + 1);
  }
  let n = 0;
  for (let p = first; p !== 0 && zo.lexLteMax(p, lexRange); p = zo.next(p)) n++;
  c.w.integer(n);
}

// ---- ZRANGE and friends -----------------------------------------------------------------------

const RANGE_AUTO = 0;
const RANGE_RANK = 1;
const RANGE_SCORE = 2;
const RANGE_LEX = 3;
const DIR_AUTO = 0;
const DIR_FORWARD = 1;
const DIR_REVERSE = 2;

/** Where the selected run starts and how long it is (set by selectRange). */
let selStart = 0;
let selCount = 0;

/**
 * The run of elements a ZRANGE selects, as genericZrangeby{rank,score,lex}Command walk
 * it: from selStart, selCount elements, backwards when reverse.
 */
function selectRange(z: ZObj, type: number, start: number, end: number, offset: number, limit: number,
  reverse: boolean): void {
  selStart = 0;
  selCount = 0;
  const llen = z.length();
  if (type === RANGE_RANK) {
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) return;
    if (end >= llen) end = llen - 1;
    selCount = end - start + 1;
    selStart = z.byRank(reverse ? llen - 1 - start : start);
    return;
  }
  if (offset > 0 && offset >= llen) return;
  let p: number;
  if (type === RANGE_SCORE) p = reverse ? z.lastInRange(range) : z.firstInRange(range);
  else p = reverse ? z.lastInLex(lexRange) : z.firstInLex(lexRange);
  // A negative offset skips everything, as `while (eptr && offset--)` does.
  if (offset < 0) return;
  while (p !== 0 && offset-- > 0) p = reverse ? z.prev(p) : z.next(p);
  selStart = p;
  let n = 0;
  while (p !== 0 && limit-- !== 0) {
    if (type === RANGE_SCORE) {
      const sc = z.score(p);
      if (reverse ? !zslValueGteMin(sc, range) : !zslValueLteMax(sc, range)) break;
    } else if (reverse ? !z.lexGteMin(p, lexRange) : !z.lexLteMax(p, lexRange)) {
      break;
    }
    n++;
    p = reverse ? z.prev(p) : z.next(p);
  }
  selCount = n;
}

/** zrangeGenericCommand(): ZRANGE, ZRANGESTORE, Z[REV]RANGE[BYSCORE|BYLEX]. */
function zrangeGeneric(c: ExecContext, argcStart: number, store: boolean, rangetype: number, direction: number): void {
  let minidx = argcStart + 1, maxidx = argcStart + 2;
  let withscores = false, offset = 0, limit = -1, hasLimit = false;
  for (let j = argcStart + 3; j < c.argc; j++) {
    const leftargs = c.argc - j - 1;
    if (!store && optIs(c, j, 'withscores')) {
      withscores = true;
    } else if (optIs(c, j, 'limit') && leftargs >= 2) {
      if (!getLong(c, j + 1, null)) return;
      offset = longArg;
      if (!getLong(c, j + 2, null)) return;
      limit = longArg;
      hasLimit = true;
      j += 2;
    } else if (direction === DIR_AUTO && optIs(c, j, 'rev')) {
      direction = DIR_REVERSE;
    } else if (rangetype === RANGE_AUTO && optIs(c, j, 'bylex')) {
      rangetype = RANGE_LEX;
    } else if (rangetype === RANGE_AUTO && optIs(c, j, 'byscore')) {
      rangetype = RANGE_SCORE;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  if (direction === DIR_AUTO) direction = DIR_FORWARD;
  if (rangetype === RANGE_AUTO) rangetype = RANGE_RANK;
  if (hasLimit && limit !== -1 && rangetype === RANGE_RANK) {
    return c.w.error('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  }
  if (withscores && rangetype === RANGE_LEX) {
    return c.w.error('ERR syntax error, WITHSCORES not supported in combination with BYLEX');
  }
  const reverse = direction === DIR_REVERSE;
  if (reverse && (rangetype === RANGE_SCORE || rangetype === RANGE_LEX)) {
    const t = maxidx;
    maxidx = minidx;
    minidx = t;
  }
  let start = 0, end = 0;
  if (rangetype === RANGE_RANK) {
    if (!getLong(c, minidx, null)) return;
    start = longArg;
    if (!getLong(c, maxidx, null)) return;
    end = longArg;
  } else if (rangetype === RANGE_SCORE) {
    if (!parseScoreRange(c, minidx, maxidx)) return c.w.error(ERR_MINMAX_FLOAT);
  } else if (!parseLexRange(c, minidx, maxidx)) {
    return c.w.error(ERR_MINMAX_LEX);
  }
  const rec = lookupZsetRead(c, argcStart);
  if (rec < 0) return;
  if (rec === 0) {
    if (store) {
      if (deleteKey(c, 1)) c.dirty++;
      c.w.integer(0);
    } else {
      c.w.arrayHeader(0);
    }
    return;
  }
  zo.load(zks, rec);
  selectRange(zo, rangetype, start, end, offset, limit, reverse);
  if (!store) {
    rangeHeader(c, selCount, withscores);
    emitRange(c, zo, selStart, selCount, reverse, withscores);
    return;
  }
  if (selCount === 0) {
    if (deleteKey(c, 1)) c.dirty++;
    c.w.integer(0);
    return;
  }
  // zrangeResultBeginStore: listpack unless the length alone rules it out; zsetAdd converts.
  const b = c.buf;
  const dks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const rangeLen = rangetype === RANGE_RANK ? selCount : -1;
  zdst.a = dks.arena;
  if (rangeLen > shardSettings.zsetMaxListpackEntries) {
    zdst.enc = ENC_SKIPLIST;
    zdst.v = zslCreate(dks.arena);
  } else {
    zdst.enc = ENC_LISTPACK;
    zdst.v = zzlCreate(dks.arena, 64);
  }
  let p = selStart;
  for (let n = selCount; n > 0; n--) {
    const s = zo.mstart(p);
    zdst.add(zo.score(p), zo.bytes(p), s, s + zo.mlen(p), 0);
    p = reverse ? zo.prev(p) : zo.next(p);
  }
  storeKey(c, 1, zdst);
  c.dirty++;
  c.w.integer(selCount);
  c.notifyArg(NOTIFY_ZSET, 'zrangestore', 1);
}

// ---- ZREMRANGEBY* --------------------------------------------------------------------------

function zremrangeGeneric(c: ExecContext, type: number): void {
  let start = 0, end = 0;
  if (type === RANGE_RANK) {
    if (!getLong(c, 2, null)) return;
    start = longArg;
    if (!getLong(c, 3, null)) return;
    end = longArg;
  } else if (type === RANGE_SCORE) {
    if (!parseScoreRange(c, 2, 3)) return c.w.error(ERR_MINMAX_FLOAT);
  } else if (!parseLexRange(c, 2, 3)) {
    return c.w.error(ERR_MINMAX_LEX);
  }
  const rec = lookupZset(c, 1);
  if (rec < 0) return;
  if (rec === 0) return c.w.integer(0);
  const ks = zks;
  zo.load(ks, rec);
  const llen = zo.length();
  let deleted = 0;
  if (type === RANGE_RANK) {
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) return c.w.integer(0);
    if (end >= llen) end = llen - 1;
    zo.deleteRankRange(start, end);
    deleted = end - start + 1;
  } else if (zo.enc === ENC_SKIPLIST) {
    deleted = type === RANGE_SCORE ? zslDeleteRangeByScore(zo.a, zo.v, range) : zslDeleteRangeByLex(zo.a, zo.v, lexRange);
  } else {
    const first = type === RANGE_SCORE ? zo.firstInRange(range) : zo.firstInLex(lexRange);
    if (first !== 0) {
      for (let p = first; p !== 0; p = zo.next(p)) {
        if (type === RANGE_SCORE ? !zslValueLteMax(zo.score(p), range) : !zo.lexLteMax(p, lexRange)) break;
        deleted++;
      }
      zo.v = zzlDeleteRun(zo.a, zo.v, first, deleted);
    }
  }
  // Save first: the value may have moved, and the key's freer frees what the record names.
  zo.save(ks, rec);
  const keyremoved = zo.length() === 0;
  if (keyremoved) ks.deleteFound(c.db, rec);
  c.dirty += deleted;
  c.w.integer(deleted);
  if (deleted !== 0) {
    c.notifyArg(NOTIFY_ZSET, type === RANGE_RANK ? 'zremrangebyrank' : type === RANGE_SCORE ? 'zremrangebyscore'
      : 'zremrangebylex', 1);
    if (keyremoved) notifyDel(c, 1);
  }
}

// ---- ZPOPMIN ZPOPMAX ZMPOP and the blocking pops -------------------------------------------------

export const ZSET_MIN = 0;
export const ZSET_MAX = 1;

/**
 * Pop up to `count` (>= 1) elements of the zset at `rec` of `ks` (last found record of
 * that keyspace), replying as genericZpopCommand with the key in key[ks0, ke) when
 * emitKey; deletes the key when it empties.
 */
function popFrom(c: ExecContext, ks: Keyspace, rec: number, key: Uint8Array, ks0: number, ke: number, where: number,
  count: number, emitKey: boolean, nested: boolean): number {
  const w = c.w;
  zo.load(ks, rec);
  const llen = zo.length();
  const popped = count > llen ? llen : count;
  let rangelen = popped;
  if (!nested && !emitKey) {
    w.arrayHeader(rangelen * 2);
  } else if (nested && !emitKey) {
    w.arrayHeader(rangelen);
  } else if (!nested && emitKey) {
    w.arrayHeader(rangelen * 2 + 1);
    w.bulk(key, ks0, ke);
  } else {
    w.arrayHeader(2);
    w.bulk(key, ks0, ke);
    w.arrayHeader(rangelen);
  }
  while (rangelen-- > 0) {
    const p = where === ZSET_MIN ? zo.first() : zo.last();
    if (nested) w.arrayHeader(2);
    const s = zo.mstart(p);
    w.bulk(zo.bytes(p), s, s + zo.mlen(p));
    w.double(zo.score(p));
    zo.deleteAt(p);
    c.dirty++;
  }
  // Save first: the value may have moved, and the key's freer frees what the record names.
  zo.save(ks, rec);
  c.notify(NOTIFY_ZSET, where === ZSET_MIN ? 'zpopmin' : 'zpopmax', key, ks0, ke);
  if (zo.length() === 0) {
    ks.deleteFound(c.db, rec);
    c.notify(NOTIFY_GENERIC, 'del', key, ks0, ke);
  }
  return popped;
}

/**
 * ZMPOP/BZMPOP are replicated as ZPOPMIN/ZPOPMAX key <how many were popped>, BZPOPMIN/BZPOPMAX
 * as ZPOPMIN/ZPOPMAX key (genericZpopCommand, serveClientBlockedOnSortedSet).
 */
function propagateZpop(c: ExecContext, key: Uint8Array, ks0: number, ke: number, where: number, popped: number): void {
  const name = where === ZSET_MIN ? 'ZPOPMIN' : 'ZPOPMAX';
  const k = key.subarray(ks0, ke);
  c.propagate(popped < 0 ? [name, k] : [name, k, popped]);
}

/**
 * genericZpopCommand() over the keys argv[first .. first+keyc): pops from the first key
 * that exists (WRONGTYPE if that key is not a zset). count -1: a plain single pop.
 */
function genericZpop(c: ExecContext, first: number, keyc: number, where: number, emitKey: boolean, count: number,
  nested: boolean, nilWhenEmpty: boolean): void {
  let rec = 0, idx = first;
  for (; idx < first + keyc; idx++) {
    rec = lookupArg(c, idx);
    if (rec === 0) continue;
    if (zks.type(rec) !== TYPE_ZSET) return c.w.error(ERR_WRONGTYPE);
    break;
  }
  if (rec === 0) {
    if (nilWhenEmpty) c.w.nullArray();
    else c.w.arrayHeader(0);
    return;
  }
  if (count === 0) return c.w.arrayHeader(0);
  if (count === -1) count = 1;
  const popped = popFrom(c, zks, rec, c.buf, c.argStart[idx], c.argEnd[idx], where, count, emitKey, nested);
  // ZPOPMIN/ZPOPMAX propagate as they are; ZMPOP (emitKey) is rewritten.
  if (emitKey && c.propagating) propagateZpop(c, c.buf, c.argStart[idx], c.argEnd[idx], where, popped);
}

function zpopMinMax(c: ExecContext, where: number): void {
  if (c.argc > 3) return c.w.error(ERR_SYNTAX);
  let count = -1;
  if (c.argc === 3) {
    if (!getPositiveLong(c, 2, null)) return;
    count = longArg;
  }
  genericZpop(c, 1, 1, where, false, count, c.w.resp > 2 && count !== -1, false);
}

function zmpopCommand(c: ExecContext): void {
  if (!getRangeLong(c, 1, 1n, LONG_MAX, 'ERR numkeys should be greater than 0', '')) return;
  const numkeys = longArg;
  const whereIdx = 1 + numkeys + 1;
  if (whereIdx >= c.argc) return c.w.error(ERR_SYNTAX);
  let where: number;
  if (optIs(c, whereIdx, 'min')) where = ZSET_MIN;
  else if (optIs(c, whereIdx, 'max')) where = ZSET_MAX;
  else return c.w.error(ERR_SYNTAX);
  let count = -1;
  for (let j = whereIdx + 1; j < c.argc; j++) {
    const moreargs = c.argc - 1 - j;
    if (count === -1 && optIs(c, j, 'count') && moreargs > 0) {
      j++;
      if (!getRangeLong(c, j, 1n, LONG_MAX, 'ERR count should be greater than 0', '')) return;
      count = longArg;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  if (count === -1) count = 1;
  genericZpop(c, 2, numkeys, where, true, count, true, true);
}

/**
 * For the server's blocking machinery (BZPOPMIN, BZPOPMAX, BZMPOP): serve a client
 * blocked on `key` (key[ks0, ke)) if that key now holds a sorted set. Pops from the
 * `where` end (ZSET_MIN / ZSET_MAX) and writes the reply the blocking command gives when
 * data is there: BZPOPMIN/BZPOPMAX (zmpop false; count ignored, one element) reply
 * [key, member, score]; BZMPOP (zmpop true) replies [key, [[member, score], ...]] with up
 * to `count` elements. Returns false, writing nothing, when the key is absent or not a
 * zset (the client keeps waiting; Redis only wakes zset waiters for zsets). The caller
 * runs it with c.db set to the client's database and c.now to the command time.
 */
export function zsetServeBlockedPop(c: ExecContext, key: Uint8Array, ks0: number, ke: number, where: number,
  count: number, zmpop: boolean): boolean {
  const ks = c.store.ks(key, ks0, ke);
  const rec = ks.lookup(c.db, key, ks0, ke, c.now);
  if (rec === 0 || ks.type(rec) !== TYPE_ZSET) return false;
  const popped = popFrom(c, ks, rec, key, ks0, ke, where, zmpop ? count : 1, true, zmpop);
  if (c.propagating) propagateZpop(c, key, ks0, ke, where, zmpop ? popped : -1);
  return true;
}

// ---- ZRANDMEMBER ---------------------------------------------------------------------------------

function zrandmemberCommand(c: ExecContext): void {
  if (c.argc >= 3) {
    if (!getRangeLong(c, 2, -LONG_MAX, LONG_MAX, null,
      'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807')) return;
    let count = longArg, withscores = false;
    if (c.argc > 4 || (c.argc === 4 && !optIs(c, 3, 'withscores'))) return c.w.error(ERR_SYNTAX);
    if (c.argc === 4) {
      withscores = true;
      if (bigArg < -LONG_MAX / 2n || bigArg > LONG_MAX / 2n) return c.w.error('ERR value is out of range');
    }
    const rec = lookupZsetRead(c, 1);
    if (rec < 0) return;
    if (rec === 0) return c.w.arrayHeader(0);
    zo.load(zks, rec);
    const size = zo.length();
    let uniq = true;
    if (count < 0) {
      count = -count;
      uniq = false;
    }
    if (count === 0) return c.w.arrayHeader(0);
    const w = c.w, nested = withscores && w.resp === 3;
    if (!uniq || count === 1) {
      rangeHeader(c, count, withscores);
      for (let k = 0; k < count; k++) {
        const p = zo.byRank(Math.floor(Math.random() * size));
        if (nested) w.arrayHeader(2);
        const s = zo.mstart(p);
        w.bulk(zo.bytes(p), s, s + zo.mlen(p));
        if (withscores) w.double(zo.score(p));
      }
      return;
    }
    if (count >= size) {
      // The whole set; Redis 7.0 replies it from the highest rank down.
      rangeHeader(c, size, withscores);
      emitRange(c, zo, zo.last(), size, true, withscores);
      return;
    }
    // Distinct ranks by Floyd's sampling: O(count) picks, each O(log n) to reach.
    const picked = new Set<number>();
    for (let j = size - count; j < size; j++) {
      const t = Math.floor(Math.random() * (j + 1));
      picked.add(picked.has(t) ? j : t);
    }
    rangeHeader(c, count, withscores);
    for (const r of picked) {
      const p = zo.byRank(r);
      if (nested) w.arrayHeader(2);
      const s = zo.mstart(p);
      w.bulk(zo.bytes(p), s, s + zo.mlen(p));
      if (withscores) w.double(zo.score(p));
    }
    return;
  }
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  if (rec === 0) return c.w.nullBulk();
  zo.load(zks, rec);
  const p = zo.byRank(Math.floor(Math.random() * zo.length()));
  const s = zo.mstart(p);
  c.w.bulk(zo.bytes(p), s, s + zo.mlen(p));
}

// ---- ZUNION ZINTER ZDIFF (STORE) ZINTERCARD -------------------------------------------------------

const SET_OP_UNION = 0;
const SET_OP_INTER = 1;
const SET_OP_DIFF = 2;
const AGGR_SUM = 0;
const AGGR_MIN = 1;
const AGGR_MAX = 2;

/**
 * A plain set as an input of ZUNION/ZINTER/ZDIFF (every member scores 1), read through
 * the set type's stores: intset (members as decimal digits) or adict ("hashtable").
 */
class SetSource {
  a!: Arena;
  enc = 0;
  v = 0;
  private readonly it = new AdictIter();
  private readonly digits = new Uint8Array(24);

  load(ks: Keyspace, rec: number): this {
    this.a = ks.arena;
    this.enc = ks.encoding(rec);
    this.v = ks.valueWord(rec);
    return this;
  }
  size(): number {
    return this.enc === ENC_INTSET ? intsetLen(this.a, this.v) : adictSize(this.a, this.v);
  }
  contains(m: Uint8Array, s: number, e: number): boolean {
    if (this.enc !== ENC_INTSET) return adictFind(this.a, this.v, m, s, e) !== 0;
    if (!parseInt64(m, s, e)) return false;
    int64Split();
    return intsetFind(this.a, this.v, i64.hi, i64.lo);
  }
  forEach(fn: (m: Uint8Array, s: number, e: number) => boolean): void {
    const a = this.a;
    if (this.enc === ENC_INTSET) {
      const n = intsetLen(a, this.v);
      for (let i = 0; i < n; i++) {
        intsetGet(a, this.v, i);
        if (!fn(this.digits, 0, int64Write(i64.hi, i64.lo, this.digits, 0))) return;
      }
      return;
    }
    adictIterStart(this.it, a, this.v);
    let ent: number;
    while ((ent = adictIterNext(this.it)) !== 0) {
      const s = adictKeyStart(a, this.v, ent);
      if (!fn(a.u8[ent >>> 22]!, s, s + adictKeyLen(a, ent))) return;
    }
  }
}

/** One input of a set operation: a zset, a set (scores 1), or a missing key. */
interface OpSource {
  kind: number; // 0 missing, 1 zset, 2 set
  z: ZObj;
  set: SetSource | null;
  weight: number;
  size: number;
  /** Identity of the key (keyspace, record): the same key given twice is the same input. */
  ks: Keyspace | null;
  rec: number;
}
const SRC_MISSING = 0;
const SRC_ZSET = 1;
const SRC_SET = 2;

function aggregate(target: number, val: number, aggr: number): number {
  if (aggr === AGGR_SUM) {
    const r = target + val;
    // inf + -inf is NaN: Redis keeps the convention that it is 0.
    return r !== r ? 0 : r;
  }
  if (aggr === AGGR_MIN) return val < target ? val : target;
  return val > target ? val : target;
}

/** zuiFind(): score of member m[s, e) in src into foundScore; false if absent. */
let foundScore = 0;
function srcFind(src: OpSource, m: Uint8Array, s: number, e: number): boolean {
  if (src.kind === SRC_ZSET) {
    const p = src.z.find(m, s, e);
    if (p === 0) return false;
    foundScore = src.z.score(p);
    return true;
  }
  if (src.kind === SRC_SET && src.set!.contains(m, s, e)) {
    foundScore = 1;
    return true;
  }
  return false;
}

function sameInput(x: OpSource, y: OpSource): boolean {
  return x.rec !== 0 && x.rec === y.rec && x.ks === y.ks;
}

/** Iterate a source: fn(member bytes, start, end, score). */
function srcForEach(src: OpSource, fn: (m: Uint8Array, s: number, e: number, score: number) => boolean): void {
  if (src.kind === SRC_ZSET) {
    const z = src.z;
    for (let p = z.first(); p !== 0; p = z.next(p)) {
      const s = z.mstart(p);
      if (!fn(z.bytes(p), s, s + z.mlen(p), z.score(p))) return;
    }
  } else if (src.kind === SRC_SET) {
    src.set!.forEach((m, s, e) => fn(m, s, e, 1));
  }
}

function zunionInterDiffGeneric(c: ExecContext, dstIdx: number, numkeysIndex: number, op: number,
  cardinalityOnly: boolean, name: string): void {
  if (!getLong(c, numkeysIndex, null)) return;
  const setnum = longArg;
  if (setnum < 1) return c.w.error(`ERR at least 1 input key is needed for '${name}' command`);
  if (setnum > c.argc - (numkeysIndex + 1)) return c.w.error(ERR_SYNTAX);
  const srcs: OpSource[] = [];
  let j = numkeysIndex + 1;
  for (let i = 0; i < setnum; i++, j++) {
    const rec = lookupArg(c, j);
    if (rec === 0) notifyMiss(c, j);
    const src: OpSource = { kind: SRC_MISSING, z: new ZObj(), set: null, weight: 1, size: 0, ks: zks, rec };
    if (rec !== 0) {
      const t = zks.type(rec);
      if (t === TYPE_ZSET) {
        src.kind = SRC_ZSET;
        src.z.load(zks, rec);
        src.size = src.z.length();
      } else if (t === TYPE_SET) {
        src.kind = SRC_SET;
        src.set = new SetSource().load(zks, rec);
        src.size = src.set.size();
      } else {
        return c.w.error(ERR_WRONGTYPE);
      }
    }
    srcs.push(src);
  }
  let aggr = AGGR_SUM, withscores = false, limit = 0;
  let remaining = c.argc - j;
  while (remaining > 0) {
    if (op !== SET_OP_DIFF && !cardinalityOnly && remaining > setnum && optIs(c, j, 'weights')) {
      j++;
      remaining--;
      for (let i = 0; i < setnum; i++, j++, remaining--) {
        if (!parseDouble(c.buf, c.argStart[j], c.argEnd[j])) {
          return c.w.error('ERR weight value is not a float');
        }
        srcs[i].weight = parsed.dbl;
      }
    } else if (op !== SET_OP_DIFF && !cardinalityOnly && remaining >= 2 && optIs(c, j, 'aggregate')) {
      j++;
      remaining--;
      if (optIs(c, j, 'sum')) aggr = AGGR_SUM;
      else if (optIs(c, j, 'min')) aggr = AGGR_MIN;
      else if (optIs(c, j, 'max')) aggr = AGGR_MAX;
      else return c.w.error(ERR_SYNTAX);
      j++;
      remaining--;
    } else if (remaining >= 1 && dstIdx < 0 && !cardinalityOnly && optIs(c, j, 'withscores')) {
      j++;
      remaining--;
      withscores = true;
    } else if (cardinalityOnly && remaining >= 2 && optIs(c, j, 'limit')) {
      j++;
      remaining--;
      if (!getPositiveLong(c, j, "ERR LIMIT can't be negative")) return;
      limit = longArg;
      j++;
      remaining--;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  // Smallest first (a stable sort, as glibc's qsort is for these sizes).
  if (op !== SET_OP_DIFF) srcs.sort((x, y) => x.size - y.size);

  if (cardinalityOnly) {
    let card = 0;
    if (srcs[0].size > 0) {
      srcForEach(srcs[0], (m, s, e) => {
        for (let k = 1; k < setnum; k++) if (!sameInput(srcs[k], srcs[0]) && !srcFind(srcs[k], m, s, e)) return true;
        card++;
        return !(limit && card >= limit);
      });
    }
    return c.w.integer(card);
  }

  // Build the result as a skiplist set in the destination's arena (any parked one otherwise).
  const b = c.buf;
  const anchor = dstIdx >= 0 ? dstIdx : numkeysIndex + 1;
  const tks = c.store.ks(b, c.argStart[anchor], c.argEnd[anchor]);
  const res = zdst;
  res.a = tks.arena;
  res.enc = ENC_SKIPLIST;
  res.v = zslCreate(tks.arena);
  let maxelelen = 0;
  if (op === SET_OP_INTER) {
    if (srcs[0].size > 0) {
      const w0 = srcs[0].weight;
      srcForEach(srcs[0], (m, s, e, sc) => {
        let score = w0 * sc;
        if (score !== score) score = 0;
        for (let k = 1; k < setnum; k++) {
          // Not safe to look up in the input being iterated (a dict find may rehash it).
          if (sameInput(srcs[k], srcs[0])) foundScore = sc;
          else if (!srcFind(srcs[k], m, s, e)) return true;
          score = aggregate(score, foundScore * srcs[k].weight, aggr);
        }
        zslInsert(res.a, res.v, score, m, s, e);
        if (e - s > maxelelen) maxelelen = e - s;
        return true;
      });
    }
  } else if (op === SET_OP_UNION) {
    for (let i = 0; i < setnum; i++) {
      const src = srcs[i];
      if (src.size === 0) continue;
      srcForEach(src, (m, s, e, sc) => {
        let score = src.weight * sc;
        if (score !== score) score = 0;
        const node = zslFind(res.a, res.v, m, s, e);
        if (node === 0) {
          zslInsert(res.a, res.v, score, m, s, e);
          if (e - s > maxelelen) maxelelen = e - s;
        } else {
          const cur = znScore(res.a, node), next = aggregate(cur, score, aggr);
          if (!Object.is(next, cur)) zslUpdateScore(res.a, res.v, node, next);
        }
        return true;
      });
    }
  } else if (srcs[0].size > 0) {
    srcForEach(srcs[0], (m, s, e, sc) => {
      for (let k = 1; k < setnum; k++) if (sameInput(srcs[k], srcs[0]) || srcFind(srcs[k], m, s, e)) return true;
      zslInsert(res.a, res.v, sc, m, s, e);
      if (e - s > maxelelen) maxelelen = e - s;
      return true;
    });
  }

  const n = zslLength(res.a, res.v);
  if (dstIdx >= 0) {
    if (n > 0) {
      res.toListpackIfNeeded(maxelelen);
      storeKey(c, dstIdx, res);
      c.dirty++;
      c.w.integer(n);
      c.notifyArg(NOTIFY_ZSET, name, dstIdx);
    } else {
      res.free();
      if (deleteKey(c, dstIdx)) c.dirty++;
      c.w.integer(0);
    }
    return;
  }
  rangeHeader(c, n, withscores);
  emitRange(c, res, zslFirst(res.a, res.v), n, false, withscores);
  res.free();
}

// ---- ZSCAN -----------------------------------------------------------------------------------------

/** parseScanCursorOrReply(): strtoul over the C string; null if invalid. Low 32 bits kept. */
function parseScanCursor(c: ExecContext, i: number): number | null {
  const b = c.buf, s = c.argStart[i], n = cstrLen(c, i), e = s + n;
  if (n === 0) return 0;
  if (isCSpace(b[s])) return null;
  let p = s, neg = false;
  if (b[p] === 0x2b || b[p] === 0x2d) {
    neg = b[p] === 0x2d;
    p++;
  }
  if (p === e) return null;
  let v = 0n;
  for (let q = p; q < e; q++) {
    const d = b[q] - 0x30;
    if (d < 0 || d > 9) return null;
    v = v * 10n + BigInt(d);
    if (v > 0xffffffffffffffffn) return null;
  }
  if (neg) v = BigInt.asUintN(64, -v);
  return Number(v & 0xffffffffn);
}

let scanSink: number[] = [];
function scanCollect(node: number): void {
  scanSink.push(node);
}

function zscanCommand(c: ExecContext): void {
  const cursor = parseScanCursor(c, 2);
  if (cursor === null) return c.w.error('ERR invalid cursor');
  const rec = lookupZsetRead(c, 1);
  if (rec < 0) return;
  const w = c.w;
  if (rec === 0) {
    w.arrayHeader(2);
    w.bulkString('0');
    w.arrayHeader(0);
    return;
  }
  zo.load(zks, rec);
  let count = 10, patIdx = -1;
  for (let i = 3; i < c.argc;) {
    const j = c.argc - i;
    if (optIs(c, i, 'count') && j >= 2) {
      if (!getLong(c, i + 1, null)) return;
      if (longArg < 1) return w.error(ERR_SYNTAX);
      count = longArg;
      i += 2;
    } else if (optIs(c, i, 'match') && j >= 2) {
      patIdx = i + 1;
      i += 2;
    } else {
      return w.error(ERR_SYNTAX);
    }
  }
  const b = c.buf;
  const ps = patIdx >= 0 ? c.argStart[patIdx] : 0, pe = patIdx >= 0 ? c.argEnd[patIdx] : 0;
  const usePattern = patIdx >= 0 && !(pe - ps === 1 && b[ps] === 0x2a);
  const found: number[] = [];
  let next = 0;
  if (zo.enc === ENC_LISTPACK) {
    for (let p = zo.first(); p !== 0; p = zo.next(p)) found.push(p);
  } else {
    scanSink = found;
    let maxIterations = count * 10;
    next = cursor;
    do {
      next = zslScanStep(zo.a, zo.v, next, scanCollect);
    } while (next !== 0 && maxIterations-- > 0 && found.length < count);
    scanSink = [];
  }
  let kept = 0;
  for (let k = 0; k < found.length; k++) {
    const p = found[k], s = zo.mstart(p);
    if (usePattern && !stringMatch(b, ps, pe, zo.bytes(p), s, s + zo.mlen(p), false)) found[k] = 0;
    else kept++;
  }
  w.arrayHeader(2);
  w.bulkInteger(next);
  w.arrayHeader(kept * 2);
  for (let k = 0; k < found.length; k++) {
    const p = found[k];
    if (p === 0) continue;
    const s = zo.mstart(p);
    w.bulk(zo.bytes(p), s, s + zo.mlen(p));
    // d2string(): %.17g, integers below 2^52 printed whole (the same text).
    w.bulkString(formatDouble17g(zo.score(p)));
  }
}

// ---- registration -----------------------------------------------------------------------------

defineCommand('zadd', (c) => zaddGeneric(c, 0));
defineCommand('zincrby', (c) => zaddGeneric(c, ZADD_IN_INCR));
defineCommand('zrem', zremCommand);
defineCommand('zcard', zcardCommand);
defineCommand('zscore', zscoreCommand);
defineCommand('zmscore', zmscoreCommand);
defineCommand('zrank', (c) => zrankGeneric(c, false));
defineCommand('zrevrank', (c) => zrankGeneric(c, true));
defineCommand('zcount', zcountCommand);
defineCommand('zlexcount', zlexcountCommand);
defineCommand('zrange', (c) => zrangeGeneric(c, 1, false, RANGE_AUTO, DIR_AUTO));
defineCommand('zrangestore', (c) => zrangeGeneric(c, 2, true, RANGE_AUTO, DIR_AUTO));
defineCommand('zrevrange', (c) => zrangeGeneric(c, 1, false, RANGE_RANK, DIR_REVERSE));
defineCommand('zrangebyscore', (c) => zrangeGeneric(c, 1, false, RANGE_SCORE, DIR_FORWARD));
defineCommand('zrevrangebyscore', (c) => zrangeGeneric(c, 1, false, RANGE_SCORE, DIR_REVERSE));
defineCommand('zrangebylex', (c) => zrangeGeneric(c, 1, false, RANGE_LEX, DIR_FORWARD));
defineCommand('zrevrangebylex', (c) => zrangeGeneric(c, 1, false, RANGE_LEX, DIR_REVERSE));
defineCommand('zremrangebyrank', (c) => zremrangeGeneric(c, RANGE_RANK));
defineCommand('zremrangebyscore', (c) => zremrangeGeneric(c, RANGE_SCORE));
defineCommand('zremrangebylex', (c) => zremrangeGeneric(c, RANGE_LEX));
defineCommand('zpopmin', (c) => zpopMinMax(c, ZSET_MIN));
defineCommand('zpopmax', (c) => zpopMinMax(c, ZSET_MAX));
defineCommand('zmpop', zmpopCommand);
defineCommand('zrandmember', zrandmemberCommand);
defineCommand('zunion', (c) => zunionInterDiffGeneric(c, -1, 1, SET_OP_UNION, false, 'zunion'));
defineCommand('zinter', (c) => zunionInterDiffGeneric(c, -1, 1, SET_OP_INTER, false, 'zinter'));
defineCommand('zdiff', (c) => zunionInterDiffGeneric(c, -1, 1, SET_OP_DIFF, false, 'zdiff'));
defineCommand('zunionstore', (c) => zunionInterDiffGeneric(c, 1, 2, SET_OP_UNION, false, 'zunionstore'));
defineCommand('zinterstore', (c) => zunionInterDiffGeneric(c, 1, 2, SET_OP_INTER, false, 'zinterstore'));
defineCommand('zdiffstore', (c) => zunionInterDiffGeneric(c, 1, 2, SET_OP_DIFF, false, 'zdiffstore'));
defineCommand('zintercard', (c) => zunionInterDiffGeneric(c, -1, 1, SET_OP_INTER, true, 'zintercard'));
defineCommand('zscan', zscanCommand);

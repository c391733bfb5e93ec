/**
 * SORT and SORT_RO (Redis 7.0 src/sort.c) over lists, sets and sorted sets. Handlers
 * register with defineCommand() and are enabled in ./enabled/sort.ts.
 *
 * Redis builds a vector of element objects, loads a weight per element (the element
 * itself, or a BY pattern's string value / hash field), sorts it and emits it, with GET
 * patterns looked up per emitted element. Here the vector is a few reused typed arrays:
 * element and weight bytes are copied into one scratch buffer (keys named by patterns
 * may be expired or written while the command runs; a copy cannot go stale), numeric
 * weights go to a Float64Array, and the sort permutes an Int32Array of indexes.
 *
 * Keys named by BY/GET patterns route through c.store.ks(): the server runs a SORT whose
 * patterns contain '*' over all shards, so any keyspace may be touched. STORE's
 * destination may live in another keyspace than the sorted key.
 */
import { Keyspace } from '../store/keyspace';
import { adictFind, adictIterNext, adictIterStart, adictKeyLen, adictKeyStart, adictSize, adictValueLen, adictValueStart, AdictIter } from '../store/adict';
import { intsetGet, intsetLen, i64, int64Write } from '../store/intset';
import { lpDecode, lpEntry, lpFind } from '../store/listpack';
import { LIST_TAIL, el, qlCreate, qlLength, qlNext, qlPrev, qlPush, qlSeek } from '../store/quicklist';
import { ADDR_OFFSET_BITS } from '../../native-layout/arena';
import { ENC_INTSET, ENC_LISTPACK, ENC_QUICKLIST, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET } from '../../native-layout/record';
import { shardSettings } from '../shard/settings';
import { parseInt64, parsed } from '../util/numbers';
import {
  ERR_NOT_INTEGER, ERR_SYNTAX, ERR_WRONGTYPE, ExecContext, NOTIFY_GENERIC, NOTIFY_KEY_MISS, NOTIFY_LIST, NOTIFY_NEW,
  defineCommand,
} from './context';
import { optIs } from './expire';
import { ZObj } from './zset';

const ERR_NOT_DOUBLE = "ERR One or more scores can't be converted into double";

/** Most GET patterns a SORT may carry without reallocating the pattern table. */
let getPat = new Int32Array(16);

// ---- the sort vector (reused; grown on demand) ----------------------------------------

/** Element and weight bytes, copied: element i is pool[eS[i], eE[i]). */
let pool: Buffer = Buffer.allocUnsafe(64 * 1024);
let poolLen = 0;
let eS = new Int32Array(1024);
let eE = new Int32Array(1024);
/** ALPHA BY weights: pool[wS[i], wE[i]), wS[i] = -1 for a missing one (NULL cmpobj). */
let wS = new Int32Array(1024);
let wE = new Int32Array(1024);
let score = new Float64Array(1024);
let order = new Int32Array(1024);
let vecLen = 0;

/** Keep a buffer that a huge SORT grew from pinning memory forever. */
const POOL_KEEP = 1 << 20;
const VEC_KEEP = 1 << 16;

function ensureVector(n: number): void {
  if (eS.length >= n) return;
  let cap = eS.length;
  while (cap < n) cap *= 2;
  eS = new Int32Array(cap);
  eE = new Int32Array(cap);
  wS = new Int32Array(cap);
  wE = new Int32Array(cap);
  score = new Float64Array(cap);
  order = new Int32Array(cap);
}

function poolRoom(n: number): void {
  if (poolLen + n <= pool.length) return;
  let cap = pool.length;
  while (cap < poolLen + n) cap *= 2;
  const next = Buffer.allocUnsafe(cap);
  pool.copy(next, 0, 0, poolLen);
  pool = next;
}

/** Copy src[s, e) into the pool; returns its start. */
function poolPut(src: Uint8Array, s: number, e: number): number {
  const n = e - s;
  poolRoom(n);
  const at = poolLen;
  if (n < 32) for (let i = 0; i < n; i++) pool[at + i] = src[s + i];
  else pool.set(src.subarray(s, e), at);
  poolLen += n;
  return at;
}

function pushElement(src: Uint8Array, s: number, e: number): void {
  const at = poolPut(src, s, e);
  eS[vecLen] = at;
  eE[vecLen] = at + (e - s);
  vecLen++;
}

function releaseScratch(): void {
  if (pool.length > POOL_KEEP) pool = Buffer.allocUnsafe(64 * 1024);
  if (eS.length > VEC_KEEP) {
    eS = new Int32Array(1024); eE = new Int32Array(1024); wS = new Int32Array(1024); wE = new Int32Array(1024);
    score = new Float64Array(1024); order = new Int32Array(1024);
  }
}

// ---- patterns (lookupKeyByPattern) ------------------------------------------------------

/** The value lookupByPattern found: pv.u8[s, e). */
const pv: { u8: Uint8Array; s: number; e: number } = { u8: pool, s: 0, e: 0 };

let keyBuf = Buffer.allocUnsafe(256);

/** strchr(): first `ch` in buf[s, e) before any NUL, or -1. */
function cstrchr(buf: Uint8Array, s: number, e: number, ch: number): number {
  for (let p = s; p < e; p++) {
    const b = buf[p];
    if (b === ch) return p;
    if (b === 0) return -1;
  }
  return -1;
}

/**
 * lookupKeyByPattern(): the value named by pattern argv[pi] with its first '*' replaced
 * by src[s, e): a string key's value, or with "->field" a hash field. Pattern "#" is
 * the element itself. C string rules as Redis: '*' and "->" are searched up to the
 * first NUL, "#" is "#" followed by the end or a NUL. False for "no value".
 */
function lookupByPattern(c: ExecContext, pi: number, src: Uint8Array, s: number, e: number): boolean {
  const b = c.buf, ps = c.argStart[pi], pe = c.argEnd[pi];
  if (pe > ps && b[ps] === 0x23 && (pe - ps === 1 || b[ps + 1] === 0)) {
    pv.u8 = src; pv.s = s; pv.e = e;
    return true;
  }
  const star = cstrchr(b, ps, pe, 0x2a);
  if (star < 0) return false;
  // strstr(p+1, "->") and a non-empty field after it.
  let arrow = -1;
  for (let p = star + 1; p + 1 < pe; p++) {
    if (b[p] === 0) break;
    if (b[p] === 0x2d && b[p + 1] === 0x3e) {
      if (p + 2 < pe && b[p + 2] !== 0) arrow = p;
      break;
    }
  }
  const keyEndInPat = arrow >= 0 ? arrow : pe;
  const prefix = star - ps, sub = e - s, postfix = keyEndInPat - (star + 1);
  const klen = prefix + sub + postfix;
  if (keyBuf.length < klen) keyBuf = Buffer.allocUnsafe(Math.max(klen, keyBuf.length * 2));
  const kb = keyBuf;
  for (let i = 0; i < prefix; i++) kb[i] = b[ps + i];
  for (let i = 0; i < sub; i++) kb[prefix + i] = src[s + i];
  for (let i = 0; i < postfix; i++) kb[prefix + sub + i] = b[star + 1 + i];
  const ks = c.store.ks(kb, 0, klen);
  const rec = ks.lookup(c.db, kb, 0, klen, c.now);
  if (rec === 0) {
    c.notify(NOTIFY_KEY_MISS, 'keymiss', kb, 0, klen);
    return false;
  }
  if (arrow >= 0) {
    if (ks.type(rec) !== TYPE_HASH) return false;
    return hashField(ks, rec, b, arrow + 2, pe);
  }
  if (ks.type(rec) !== TYPE_STRING) return false;
  pv.u8 = ks.u8(rec);
  pv.s = ks.valueOffset(rec);
  pv.e = pv.s + ks.valueWord(rec);
  return true;
}

/** hashTypeGetValue() (read-only, over the layouts of native-layout/listpack.md, adict.md). */
function hashField(ks: Keyspace, rec: number, f: Uint8Array, fs: number, fe: number): boolean {
  const a = ks.arena, v = ks.valueWord(rec);
  if (ks.encoding(rec) === ENC_LISTPACK) {
    const pos = lpFind(a, v, f, fs, fe, 1);
    if (pos < 0) return false;
    lpDecode(a, v, pos);
    lpDecode(a, v, lpEntry.next);
    pv.u8 = lpEntry.u8; pv.s = lpEntry.start; pv.e = lpEntry.end;
    return true;
  }
  const ent = adictFind(a, v, f, fs, fe);
  if (ent === 0) return false;
  pv.u8 = a.u8[ent >>> ADDR_OFFSET_BITS]!;
  pv.s = adictValueStart(a, ent);
  pv.e = pv.s + adictValueLen(a, ent);
  return true;
}

// ---- strtod ---------------------------------------------------------------------------

/** Set by strtodWhole when the bytes are not a whole double (eptr != end, ERANGE, NaN). */
let badDouble = false;

const DBL_MIN = 2.2250738585072014e-308;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
  1e18, 1e19, 1e20, 1e21, 1e22];

function isCSpace(ch: number): boolean {
  return ch === 0x20 || (ch >= 0x09 && ch <= 0x0d);
}
function hexVal(ch: number): number {
  if (ch >= 0x30 && ch <= 0x39) return ch - 0x30;
  const l = ch | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}
function wordAt(b: Uint8Array, p: number, end: number, word: string): boolean {
  if (end - p < word.length) return false;
  for (let k = 0; k < word.length; k++) if ((b[p + k] | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}

/**
 * glibc strtod() over b[s, e) as SORT uses it: the value, with badDouble set unless the
 * whole C string (up to a NUL) was consumed, without ERANGE, and not NaN. Integers and
 * short decimals are computed exactly in place; other forms build a string (rare).
 */
function strtodWhole(b: Uint8Array, s: number, e: number): number {
  badDouble = false;
  let end = s;
  while (end < e && b[end] !== 0) end++;
  let p = s;
  while (p < end && isCSpace(b[p])) p++;
  let neg = false;
  if (p < end && (b[p] === 0x2b || b[p] === 0x2d)) { neg = b[p] === 0x2d; p++; }
  // inf / infinity / nan
  if (wordAt(b, p, end, 'inf')) {
    p += 3;
    if (wordAt(b, p, end, 'inity')) p += 5;
    if (p !== end) badDouble = true;
    return neg ? -Infinity : Infinity;
  }
  if (wordAt(b, p, end, 'nan')) {
    badDouble = true;
    return NaN;
  }
  if (p + 1 < end && b[p] === 0x30 && (b[p + 1] | 0x20) === 0x78 &&
      (hexVal(b[p + 2]) >= 0 && p + 2 < end || (b[p + 2] === 0x2e && p + 3 < end && hexVal(b[p + 3]) >= 0))) {
    return hexDouble(b, p + 2, end, neg);
  }
  const digitsStart = p;
  let mant = 0, nd = 0, fracDigits = 0, sawDigit = false;
  while (p < end && b[p] >= 0x30 && b[p] <= 0x39) {
    if (nd < 16) { mant = mant * 10 + (b[p] - 0x30); if (mant !== 0) nd++; } else nd++;
    sawDigit = true; p++;
  }
  const intDigitsBeyond = nd > 16 ? nd - 16 : 0;
  if (p < end && b[p] === 0x2e) {
    p++;
    while (p < end && b[p] >= 0x30 && b[p] <= 0x39) {
      if (nd < 16) { mant = mant * 10 + (b[p] - 0x30); fracDigits++; if (mant !== 0) nd++; } else nd++;
      sawDigit = true; p++;
    }
  }
  if (!sawDigit) {
    // No conversion: strtod's eptr is the start of the string.
    if (s !== end) badDouble = true;
    return 0;
  }
  let exp = 0;
  if (p < end && (b[p] | 0x20) === 0x65) {
    let q = p + 1, eneg = false;
    if (q < end && (b[q] === 0x2b || b[q] === 0x2d)) { eneg = b[q] === 0x2d; q++; }
    if (q < end && b[q] >= 0x30 && b[q] <= 0x39) {
      while (q < end && b[q] >= 0x30 && b[q] <= 0x39) { if (exp < 100000) exp = exp * 10 + (b[q] - 0x30); q++; }
      if (eneg) exp = -exp;
      p = q;
    }
  }
  if (p !== end) badDouble = true;
  let v: number;
  const e10 = exp - fracDigits + intDigitsBeyond;
  if (nd <= 15 && e10 >= -22 && e10 <= 22) {
    // Clinger's fast path: both operands exact, one rounding.
    v = e10 < 0 ? mant / POW10[-e10] : mant * POW10[e10];
  } else {
    v = Number(Buffer.from(b.buffer, b.byteOffset + digitsStart, p - digitsStart).toString('latin1'));
    if (Number.isNaN(v)) v = 0; // cannot happen for the forms accepted above
  }
  // ERANGE: overflow, or an underflow (decimal tiny results are never exact).
  if (v === Infinity || (v < DBL_MIN && (v !== 0 || mant !== 0 || nd !== 0))) badDouble = true;
  return neg ? -v : v;
}

/** The hex form of strtod ("0x1.8p3"), p just past "0x". */
function hexDouble(b: Uint8Array, p: number, end: number, neg: boolean): number {
  let m = 0n, binExp = 0;
  while (p < end && hexVal(b[p]) >= 0) { m = (m << 4n) | BigInt(hexVal(b[p])); p++; }
  if (p < end && b[p] === 0x2e) {
    p++;
    while (p < end && hexVal(b[p]) >= 0) { m = (m << 4n) | BigInt(hexVal(b[p])); binExp -= 4; p++; }
  }
  if (p < end && (b[p] | 0x20) === 0x70) {
    let q = p + 1, eneg = false, x = 0;
    if (q < end && (b[q] === 0x2b || b[q] === 0x2d)) { eneg = b[q] === 0x2d; q++; }
    if (q < end && b[q] >= 0x30 && b[q] <= 0x39) {
      while (q < end && b[q] >= 0x30 && b[q] <= 0x39) { if (x < 100000) x = x * 10 + (b[q] - 0x30); q++; }
      binExp += eneg ? -x : x;
      p = q;
    }
  }
  if (p !== end) badDouble = true;
  if (m === 0n) return neg ? -0 : 0;
  // Normalise so the value is exactly m * 2^binExp with m odd.
  while ((m & 1n) === 0n) { m >>= 1n; binExp++; }
  const bits = m.toString(2).length;
  const top = bits - 1 + binExp; // exponent of the leading bit
  let v: number;
  if (top > 1023) v = Infinity;
  else if (top < -1075) v = 0;
  else v = Number(m) * Math.pow(2, binExp); // exact unless precision is lost below
  if (v === Infinity) badDouble = true;
  else if (top < -1022) {
    // Tiny: ERANGE unless the denormal is exact.
    if (binExp < -1074 || bits > 53) badDouble = true;
    if (binExp < -1074) v = Number(m) / Math.pow(2, -binExp - 1074) * Math.pow(2, -1074);
  }
  return neg ? -v : v;
}

// ---- comparison (sortCompare) -----------------------------------------------------------

let sortDesc = false;
let sortAlpha = false;
let sortByPattern = false;
let sortStore = false;

/** memcmp then length, as compareStringObjects(). */
function cmpBinary(as: number, ae: number, bs: number, be: number): number {
  const p = pool, n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = p[as + i] - p[bs + i];
    if (d !== 0) return d;
  }
  return (ae - as) - (be - bs);
}

/** strcoll() in the C / C.UTF-8 locale: strcmp of the C strings (up to a NUL). */
function cmpColl(as: number, ae: number, bs: number, be: number): number {
  const p = pool;
  for (let i = 0; ; i++) {
    const x = as + i < ae ? p[as + i] : 0, y = bs + i < be ? p[bs + i] : 0;
    if (x !== y) return x - y;
    if (x === 0) return 0;
  }
}

function sortCompare(i: number, j: number): number {
  let cmp: number;
  if (!sortAlpha) {
    const x = score[i], y = score[j];
    cmp = x > y ? 1 : x < y ? -1 : cmpBinary(eS[i], eE[i], eS[j], eE[j]);
  } else if (sortByPattern) {
    const xs = wS[i], ys = wS[j];
    if (xs < 0 || ys < 0) cmp = xs === ys ? 0 : xs < 0 ? -1 : 1;
    else cmp = sortStore ? cmpBinary(xs, wE[i], ys, wE[j]) : cmpColl(xs, wE[i], ys, wE[j]);
  } else {
    cmp = sortStore ? cmpBinary(eS[i], eE[i], eS[j], eE[j]) : cmpColl(eS[i], eE[i], eS[j], eE[j]);
  }
  return sortDesc ? -cmp : cmp;
}

// ---- loading the vector -----------------------------------------------------------------

const zo = new ZObj();
const setIter = new AdictIter();
const digits = new Uint8Array(24);

function loadList(ks: Keyspace, ql: number, from: number, n: number, backwards: boolean): void {
  const a = ks.arena;
  if (n <= 0 || !qlSeek(a, ql, from)) return;
  for (;;) {
    pushElement(el.u8, el.start, el.end);
    if (--n === 0) return;
    if (!(backwards ? qlPrev(a) : qlNext(a))) return;
  }
}

function loadSet(ks: Keyspace, rec: number): void {
  const a = ks.arena, v = ks.valueWord(rec);
  if (ks.encoding(rec) === ENC_INTSET) {
    const n = intsetLen(a, v);
    for (let i = 0; i < n; i++) {
      intsetGet(a, v, i);
      pushElement(digits, 0, int64Write(i64.hi, i64.lo, digits, 0));
    }
    return;
  }
  adictIterStart(setIter, a, v);
  let ent: number;
  while ((ent = adictIterNext(setIter)) !== 0) {
    const s = adictKeyStart(a, v, ent);
    pushElement(a.u8[ent >>> ADDR_OFFSET_BITS]!, s, s + adictKeyLen(a, ent));
  }
}

/** n members of the (skiplist) sorted set from 0-based rank `from`, backwards when desc. */
function loadZset(from: number, n: number, desc: boolean): void {
  if (n <= 0) return;
  let p = zo.byRank(from);
  while (n-- > 0 && p !== 0) {
    const s = zo.mstart(p);
    pushElement(zo.bytes(p), s, s + zo.mlen(p));
    p = desc ? zo.prev(p) : zo.next(p);
  }
}

// ---- the command ------------------------------------------------------------------------

function sortGeneric(c: ExecContext, readonly: boolean): void {
  const w = c.w;
  let desc = false, alpha = false, dontsort = false;
  let limitStart = 0, limitCount = -1;
  let byIdx = -1, storeIdx = -1, getop = 0;
  const argc = c.argc;
  if (getPat.length < argc) getPat = new Int32Array(argc);

  // The SQL-like syntax, parsed as sortCommandGeneric() does.
  for (let j = 2; j < argc; j++) {
    const left = argc - j - 1;
    if (optIs(c, j, 'asc')) {
      desc = false;
    } else if (optIs(c, j, 'desc')) {
      desc = true;
    } else if (optIs(c, j, 'alpha')) {
      alpha = true;
    } else if (optIs(c, j, 'limit') && left >= 2) {
      if (!parseInt64(c.buf, c.argStart[j + 1], c.argEnd[j + 1])) { w.error(ERR_NOT_INTEGER); return; }
      limitStart = parsed.int;
      if (!parseInt64(c.buf, c.argStart[j + 2], c.argEnd[j + 2])) { w.error(ERR_NOT_INTEGER); return; }
      limitCount = parsed.int;
      j += 2;
    } else if (!readonly && optIs(c, j, 'store') && left >= 1) {
      storeIdx = ++j;
    } else if (optIs(c, j, 'by') && left >= 1) {
      byIdx = ++j;
      // A BY pattern without '*' is constant: nothing to sort, no weights to look up.
      dontsort = cstrchr(c.buf, c.argStart[j], c.argEnd[j], 0x2a) < 0;
    } else if (optIs(c, j, 'get') && left >= 1) {
      getPat[getop++] = ++j;
    } else {
      w.error(ERR_SYNTAX);
      return;
    }
  }

  const kb = c.buf, kS = c.argStart[1], kE = c.argEnd[1];
  const ks = c.store.ks(kb, kS, kE);
  const rec = ks.lookup(c.db, kb, kS, kE, c.now);
  if (rec === 0) c.notifyArg(NOTIFY_KEY_MISS, 'keymiss', 1);
  const type = rec === 0 ? TYPE_LIST : ks.type(rec);
  if (rec !== 0 && type !== TYPE_SET && type !== TYPE_LIST && type !== TYPE_ZSET) {
    w.error(ERR_WRONGTYPE);
    return;
  }

  // A set has no order of its own: SORT ... STORE must not depend on it, so sort by bytes.
  if (dontsort && type === TYPE_SET && storeIdx >= 0) {
    dontsort = false;
    alpha = true;
    byIdx = -1;
  }

  // Destructively convert encoded sorted sets for SORT (Redis does, even for SORT_RO).
  if (type === TYPE_ZSET) {
    zo.load(ks, rec);
    if (zo.enc === ENC_LISTPACK) {
      zo.toSkiplist();
      zo.save(ks, rec);
    }
  }

  let vectorlen = rec === 0 ? 0
    : type === TYPE_LIST ? qlLength(ks.arena, ks.valueWord(rec))
      : type === TYPE_SET ? setLength(ks, rec)
        : zo.length();

  // LIMIT sanity checking, bounded by the object's size (no overflow).
  let start = Math.min(Math.max(limitStart, 0), vectorlen);
  limitCount = Math.min(Math.max(limitCount, -1), vectorlen);
  let end = limitCount < 0 ? vectorlen - 1 : start + limitCount - 1;
  if (start >= vectorlen) {
    start = vectorlen - 1;
    end = vectorlen - 2;
  }
  if (end >= vectorlen) end = vectorlen - 1;

  // Lists and sorted sets keep their own order when nothing is sorted: load just the range.
  if ((type === TYPE_ZSET || type === TYPE_LIST) && dontsort && (start !== 0 || end !== vectorlen - 1)) {
    vectorlen = end - start + 1;
  }

  ensureVector(vectorlen);
  poolLen = 0;
  vecLen = 0;
  if (rec !== 0) {
    if (type === TYPE_LIST && dontsort) {
      if (end >= start) {
        const ql = ks.valueWord(rec);
        loadList(ks, ql, desc ? qlLength(ks.arena, ql) - start - 1 : start, vectorlen, desc);
        end -= start;
        start = 0;
      }
    } else if (type === TYPE_LIST) {
      loadList(ks, ks.valueWord(rec), 0, vectorlen, false);
    } else if (type === TYPE_SET) {
      loadSet(ks, rec);
    } else if (dontsort) {
      const zlen = zo.length();
      loadZset(desc ? zlen - start - 1 : start, vectorlen, desc);
      end -= start;
      start = 0;
    } else {
      loadZset(0, vectorlen, false);
    }
  }
  vectorlen = vecLen;

  let conversionError = false;
  if (!dontsort) {
    for (let j = 0; j < vectorlen; j++) {
      score[j] = 0;
      wS[j] = -1;
      let u8: Uint8Array, s: number, e: number;
      if (byIdx >= 0) {
        if (!lookupByPattern(c, byIdx, pool, eS[j], eE[j])) continue;
        u8 = pv.u8; s = pv.s; e = pv.e;
      } else {
        u8 = pool; s = eS[j]; e = eE[j];
      }
      if (alpha) {
        // The weight may live in the arena: copy it. (BY never names the element itself:
        // a pattern with no '*', "#" included, means no sorting at all.)
        if (byIdx >= 0) {
          const at = poolPut(u8, s, e);
          wS[j] = at;
          wE[j] = at + (e - s);
        }
      } else {
        score[j] = strtodWhole(u8, s, e);
        if (badDouble) conversionError = true;
      }
    }
    sortDesc = desc;
    sortAlpha = alpha;
    sortByPattern = byIdx >= 0;
    sortStore = storeIdx >= 0;
    for (let j = 0; j < vectorlen; j++) order[j] = j;
    // Stable, as glibc's merge-sort qsort (Redis's pqsort for BY+LIMIT is not: ties of
    // ALPHA BY weights under LIMIT may come out in another order than Redis's).
    order.subarray(0, vectorlen).sort(sortCompare);
  } else {
    for (let j = 0; j < vectorlen; j++) order[j] = j;
  }

  const outputlen = getop ? getop * (end - start + 1) : end - start + 1;
  if (conversionError) {
    w.error(ERR_NOT_DOUBLE);
  } else if (storeIdx < 0) {
    w.arrayHeader(outputlen);
    for (let j = start; j <= end; j++) {
      const x = order[j];
      if (!getop) w.bulk(pool, eS[x], eE[x]);
      for (let g = 0; g < getop; g++) {
        if (lookupByPattern(c, getPat[g], pool, eS[x], eE[x])) w.bulk(pv.u8, pv.s, pv.e);
        else w.nullBulk();
      }
    }
  } else {
    storeResult(c, storeIdx, start, end, getop, outputlen);
  }
  releaseScratch();
}

function setLength(ks: Keyspace, rec: number): number {
  const v = ks.valueWord(rec);
  return ks.encoding(rec) === ENC_INTSET ? intsetLen(ks.arena, v) : adictSize(ks.arena, v);
}

/** STORE: the result as a list under argv[di] (setKey), or dbDelete() when it is empty. */
function storeResult(c: ExecContext, di: number, start: number, end: number, getop: number, outputlen: number): void {
  const b = c.buf, s = c.argStart[di], e = c.argEnd[di];
  const dks = c.store.ks(b, s, e);
  if (outputlen === 0) {
    if (dks.delete(c.db, b, s, e, c.now)) {
      c.dirty++;
      c.notifyArg(NOTIFY_GENERIC, 'del', di);
    }
    c.w.integer(0);
    return;
  }
  const a = dks.arena;
  const ql = qlCreate(a, shardSettings.listMaxListpackSize);
  for (let j = start; j <= end; j++) {
    const x = order[j];
    if (!getop) {
      qlPush(a, ql, LIST_TAIL, pool, eS[x], eE[x]);
      continue;
    }
    for (let g = 0; g < getop; g++) {
      // A missing value is stored as an empty string.
      if (lookupByPattern(c, getPat[g], pool, eS[x], eE[x])) qlPush(a, ql, LIST_TAIL, pv.u8, pv.s, pv.e);
      else qlPush(a, ql, LIST_TAIL, pool, 0, 0);
    }
  }
  const old = dks.lookupWrite(c.db, b, s, e, c.now);
  if (old !== 0) dks.deleteFound(c.db, old);
  const rec = dks.newRecord(dks.hash(b, s, e), TYPE_LIST, ENC_QUICKLIST, b, s, e, ql, -1, c.now);
  dks.link(c.db, rec);
  if (old === 0) c.notifyArg(NOTIFY_NEW, 'new', di);
  c.notifyArg(NOTIFY_LIST, 'sortstore', di);
  c.dirty += outputlen;
  c.w.integer(outputlen);
}

defineCommand('sort', (c) => sortGeneric(c, false));
defineCommand('sort_ro', (c) => sortGeneric(c, true));

/**
 * adict: a hash table of byte-string entries, each with an optional byte-string value,
 * living entirely in the shard arena (layout: native-layout/adict.md). It is Redis's
 * dict.c for collections: chained buckets, power-of-two tables, incremental rehash (each
 * operation moves a bucket while a rehash is in progress), shrinking when under 10% full,
 * reverse-binary SCAN cursors and random sampling. Hashes and sets use it for their
 * "hashtable" encoding; sorted sets can use it for member -> score (8-byte value).
 *
 * Everything is a plain function over (Arena, dict address): any thread that holds the
 * arena can run it, and no JS object exists per entry.
 *
 * Typical use:
 *   const d = adictCreate(a, true);
 *   let e = adictFind(a, d, buf, s, end);              // 0 when absent
 *   if (e === 0) e = adictInsert(a, d, buf, s, end, v, vs, ve);
 *   else e = adictSetValueFound(a, d, e, v, vs, ve);   // valid right after adictFind
 *   adictKeyStart(a, d, e) / adictKeyLen(a, e) / adictValueStart(a, e) / adictValueLen(a, e)
 *   bytes are in a.u8[e >>> 22].
 * adictDeleteFound / adictSetValueFound act on the entry the last adictFind returned,
 * in the same dict, with no other adict call in between (like Keyspace's "found").
 */
import { Arena, blockSize } from './arena';
import { hashBytes, rev32 } from './hash';
import { copyBytes, equalBytes } from './bytes';
import { ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, GRANULE_SHIFT, LARGE_BLOCK } from '../../native-layout/arena';
import {
  ADF_VALUES, AD_EMPTY_VISITS, AD_FLAGS, AD_FREE_CURSOR, AD_HEADER_BYTES, AD_HEADER_WORDS, AD_INITIAL_SIZE,
  AD_MIN_FILL, AD_REHASH_IDX, AD_REHASH_STEP, AD_SIZE0, AD_SIZE1, AD_TABLE0, AD_TABLE1, AD_USED0, AD_USED1,
  AE_HEADER, AE_HEADER_VALUES,
} from '../../native-layout/adict';

const NOT_REHASHING = 0xffffffff;

function seg(addr: number): number {
  return addr >>> ADDR_OFFSET_BITS;
}
/** u32 word index of an address in its segment. */
function word(addr: number): number {
  return ((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
}
function off(addr: number): number {
  return (addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT;
}

// Where the last adictFind found its entry: the word pointing at it, and its table.
let refWords: Uint32Array = new Uint32Array(1);
let refIndex = 0;
let refTable = 0;

// ---- entries ----------------------------------------------------------------------------

export function adictHasValues(a: Arena, d: number): boolean {
  return (a.u32[seg(d)]![word(d) + AD_FLAGS] & ADF_VALUES) !== 0;
}

export function adictKeyLen(a: Arena, e: number): number {
  return a.u32[seg(e)]![word(e) + 2];
}

/** Byte offset of the entry's key in a.u8[e >>> 22]. */
export function adictKeyStart(a: Arena, d: number, e: number): number {
  return (a.u32[seg(d)]![word(d) + AD_FLAGS] & ADF_VALUES) !== 0
    ? off(e) + AE_HEADER_VALUES + a.u32[seg(e)]![word(e) + 3]
    : off(e) + AE_HEADER;
}

/** Byte offset of the entry's value (dicts with values only). */
export function adictValueStart(_a: Arena, e: number): number {
  return off(e) + AE_HEADER_VALUES;
}

export function adictValueLen(a: Arena, e: number): number {
  return a.u32[seg(e)]![word(e) + 3];
}

function entrySize(a: Arena, withValues: boolean, e: number): number {
  const u32 = a.u32[seg(e)]!, w = word(e);
  return withValues ? AE_HEADER_VALUES + u32[w + 3] + u32[w + 2] : AE_HEADER + u32[w + 2];
}

// ---- create, size, free -----------------------------------------------------------------

/** A new empty dict; `sizeHint` presizes the table (Redis's dictExpand). */
export function adictCreate(a: Arena, withValues: boolean, sizeHint = 0): number {
  const d = a.alloc(AD_HEADER_BYTES);
  const u32 = a.u32[seg(d)]!, w = word(d);
  u32.fill(0, w, w + AD_HEADER_WORDS);
  u32[w + AD_REHASH_IDX] = NOT_REHASHING;
  u32[w + AD_FLAGS] = withValues ? ADF_VALUES : 0;
  if (sizeHint > 0) expand(a, d, sizeHint);
  return d;
}

export function adictSize(a: Arena, d: number): number {
  const u32 = a.u32[seg(d)]!, w = word(d);
  return u32[w + AD_USED0] + u32[w + AD_USED1];
}

/** Buckets of both tables (Redis's dictSlots). */
export function adictSlots(a: Arena, d: number): number {
  const u32 = a.u32[seg(d)]!, w = word(d);
  return u32[w + AD_SIZE0] + u32[w + AD_SIZE1];
}

export function adictIsRehashing(a: Arena, d: number): boolean {
  return a.u32[seg(d)]![word(d) + AD_REHASH_IDX] !== NOT_REHASHING;
}

function allocTable(a: Arena, size: number): number {
  const bytes = size * 4;
  const t = a.alloc(bytes);
  // Dedicated segments (>= 1 MiB) are fresh and zero; reused small blocks are not.
  if (blockSize(bytes) < LARGE_BLOCK) a.u32[seg(t)]!.fill(0, word(t), word(t) + size);
  return t;
}

/** Free every entry, the tables and the header. O(n): big dicts go through adictFreeStep. */
export function adictFree(a: Arena, d: number): void {
  while (!adictFreeStep(a, d, Infinity));
}

/**
 * Free a dict in steps: frees buckets until performance.now() >= deadline; returns true
 * once everything (header included) is freed. The dict must be unreachable already.
 */
export function adictFreeStep(a: Arena, d: number, deadline: number): boolean {
  const h = a.u32[seg(d)]!, w = word(d);
  const withValues = (h[w + AD_FLAGS] & ADF_VALUES) !== 0;
  const s0 = h[w + AD_SIZE0], s1 = h[w + AD_SIZE1];
  let cursor = h[w + AD_FREE_CURSOR];
  let steps = 0;
  while (cursor < s0 + s1) {
    const t = cursor < s0 ? h[w + AD_TABLE0] : h[w + AD_TABLE1];
    const i = cursor < s0 ? cursor : cursor - s0;
    const words = a.u32[seg(t)]!;
    let e = words[word(t) + i];
    while (e !== 0) {
      const next = a.u32[seg(e)]![word(e)];
      a.free(e, entrySize(a, withValues, e));
      e = next;
    }
    cursor++;
    if ((++steps & 255) === 0 && performance.now() >= deadline) {
      h[w + AD_FREE_CURSOR] = cursor;
      return false;
    }
  }
  if (s0 !== 0) a.free(h[w + AD_TABLE0], s0 * 4);
  if (s1 !== 0) a.free(h[w + AD_TABLE1], s1 * 4);
  a.free(d, AD_HEADER_BYTES);
  return true;
}

// ---- resize and rehash ------------------------------------------------------------------

/** Start growing/shrinking to the next power of two >= minSize (Redis's _dictExpand). */
function expand(a: Arena, d: number, minSize: number): void {
  const h = a.u32[seg(d)]!, w = word(d);
  if (h[w + AD_REHASH_IDX] !== NOT_REHASHING) return;
  let size = AD_INITIAL_SIZE;
  while (size < minSize) size *= 2;
  if (size === h[w + AD_SIZE0]) return;
  const t = allocTable(a, size);
  if (h[w + AD_SIZE0] === 0) {
    h[w + AD_TABLE0] = t;
    h[w + AD_SIZE0] = size;
    return;
  }
  h[w + AD_TABLE1] = t;
  h[w + AD_SIZE1] = size;
  h[w + AD_USED1] = 0;
  h[w + AD_REHASH_IDX] = 0;
}

/** Move up to n buckets from table 0 to table 1; true if more remain (Redis's dictRehash). */
export function adictRehash(a: Arena, d: number, n: number): boolean {
  const h = a.u32[seg(d)]!, w = word(d);
  if (h[w + AD_REHASH_IDX] === NOT_REHASHING) return false;
  let emptyVisits = n * AD_EMPTY_VISITS;
  const t0 = h[w + AD_TABLE0], s0 = h[w + AD_SIZE0];
  const t1 = h[w + AD_TABLE1], mask1 = h[w + AD_SIZE1] - 1;
  const w0 = a.u32[seg(t0)]!, b0 = word(t0);
  const w1 = a.u32[seg(t1)]!, b1 = word(t1);
  let idx = h[w + AD_REHASH_IDX];
  while (n-- > 0 && h[w + AD_USED0] !== 0) {
    while (w0[b0 + idx] === 0) {
      idx++;
      if (--emptyVisits === 0) {
        h[w + AD_REHASH_IDX] = idx;
        return true;
      }
    }
    let e = w0[b0 + idx];
    while (e !== 0) {
      const u32 = a.u32[seg(e)]!, ew = word(e);
      const next = u32[ew];
      const dst = b1 + (u32[ew + 1] & mask1);
      u32[ew] = w1[dst];
      w1[dst] = e;
      h[w + AD_USED0]--;
      h[w + AD_USED1]++;
      e = next;
    }
    w0[b0 + idx] = 0;
    idx++;
  }
  if (h[w + AD_USED0] === 0) {
    a.free(t0, s0 * 4);
    h[w + AD_TABLE0] = t1;
    h[w + AD_SIZE0] = h[w + AD_SIZE1];
    h[w + AD_USED0] = h[w + AD_USED1];
    h[w + AD_TABLE1] = 0;
    h[w + AD_SIZE1] = 0;
    h[w + AD_USED1] = 0;
    h[w + AD_REHASH_IDX] = NOT_REHASHING;
    return false;
  }
  h[w + AD_REHASH_IDX] = idx;
  return true;
}

/** Shrink when under AD_MIN_FILL% full (Redis's htNeedsResize + dictResize after a delete). */
function shrinkIfNeeded(a: Arena, d: number): void {
  const h = a.u32[seg(d)]!, w = word(d);
  if (h[w + AD_REHASH_IDX] !== NOT_REHASHING) return;
  const size = h[w + AD_SIZE0], used = h[w + AD_USED0];
  if (size > AD_INITIAL_SIZE && used * 100 < size * AD_MIN_FILL) expand(a, d, used);
}

// ---- lookup, insert, update, delete -----------------------------------------------------

/**
 * The entry whose key is buf[s, e), or 0. Moves one bucket first while rehashing.
 * Remembers where it found it for adictDeleteFound / adictSetValueFound.
 */
export function adictFind(a: Arena, d: number, buf: Uint8Array, s: number, e: number): number {
  const h = a.u32[seg(d)]!, w = word(d);
  if (h[w + AD_REHASH_IDX] !== NOT_REHASHING) adictRehash(a, d, AD_REHASH_STEP);
  if (h[w + AD_USED0] + h[w + AD_USED1] === 0) return 0;
  const hash = hashBytes(buf, s, e, a.hashSeed);
  const klen = e - s;
  const withValues = (h[w + AD_FLAGS] & ADF_VALUES) !== 0;
  for (let t = 0; t < 2; t++) {
    const size = h[w + (t === 0 ? AD_SIZE0 : AD_SIZE1)];
    if (size !== 0) {
      const table = h[w + (t === 0 ? AD_TABLE0 : AD_TABLE1)];
      let words = a.u32[seg(table)]!;
      let idx = word(table) + (hash & (size - 1));
      let ent = words[idx];
      while (ent !== 0) {
        const u32 = a.u32[seg(ent)]!, ew = word(ent);
        if ((u32[ew + 1] | 0) === hash && u32[ew + 2] === klen) {
          const ko = (ew << 2) + (withValues ? AE_HEADER_VALUES + u32[ew + 3] : AE_HEADER);
          if (equalBytes(a.u8[seg(ent)]!, ko, buf, s, klen)) {
            refWords = words;
            refIndex = idx;
            refTable = t;
            return ent;
          }
        }
        words = u32;
        idx = ew;
        ent = u32[ew];
      }
    }
    if (h[w + AD_REHASH_IDX] === NOT_REHASHING) break;
  }
  return 0;
}

/**
 * Add key buf[s, e) (known to be absent) with value v[vs, ve) (ignored without values);
 * returns the new entry. The key and value may come from any arena or buffer.
 */
export function adictInsert(a: Arena, d: number, buf: Uint8Array, s: number, e: number,
  v: Uint8Array | null, vs: number, ve: number): number {
  const h = a.u32[seg(d)]!, w = word(d);
  if (h[w + AD_REHASH_IDX] === NOT_REHASHING) {
    if (h[w + AD_SIZE0] === 0) expand(a, d, AD_INITIAL_SIZE);
    else if (h[w + AD_USED0] >= h[w + AD_SIZE0]) expand(a, d, h[w + AD_USED0] + 1);
  }
  const withValues = (h[w + AD_FLAGS] & ADF_VALUES) !== 0;
  const klen = e - s, vlen = withValues ? ve - vs : 0;
  const ent = a.alloc(withValues ? AE_HEADER_VALUES + vlen + klen : AE_HEADER + klen);
  const u32 = a.u32[seg(ent)]!, u8 = a.u8[seg(ent)]!, ew = word(ent);
  const hash = hashBytes(buf, s, e, a.hashSeed);
  u32[ew + 1] = hash;
  u32[ew + 2] = klen;
  if (withValues) {
    u32[ew + 3] = vlen;
    if (vlen > 0) copyBytes(v!, vs, ve, u8, (ew << 2) + AE_HEADER_VALUES);
    copyBytes(buf, s, e, u8, (ew << 2) + AE_HEADER_VALUES + vlen);
  } else {
    copyBytes(buf, s, e, u8, (ew << 2) + AE_HEADER);
  }
  const t = h[w + AD_REHASH_IDX] !== NOT_REHASHING ? 1 : 0;
  const size = h[w + (t === 0 ? AD_SIZE0 : AD_SIZE1)];
  const table = h[w + (t === 0 ? AD_TABLE0 : AD_TABLE1)];
  const words = a.u32[seg(table)]!, idx = word(table) + (hash & (size - 1));
  u32[ew] = words[idx];
  words[idx] = ent;
  h[w + (t === 0 ? AD_USED0 : AD_USED1)]++;
  return ent;
}

/**
 * Replace the value of the entry the last adictFind returned; returns the entry (moved
 * when its block class changes).
 */
export function adictSetValueFound(a: Arena, d: number, ent: number, v: Uint8Array, vs: number, ve: number): number {
  const u32 = a.u32[seg(ent)]!, u8 = a.u8[seg(ent)]!, ew = word(ent), eo = ew << 2;
  const klen = u32[ew + 2], oldV = u32[ew + 3], vlen = ve - vs;
  const oldSize = AE_HEADER_VALUES + oldV + klen, newSize = AE_HEADER_VALUES + vlen + klen;
  if (blockSize(oldSize) === blockSize(newSize)) {
    if (oldV !== vlen) u8.copyWithin(eo + AE_HEADER_VALUES + vlen, eo + AE_HEADER_VALUES + oldV, eo + oldSize);
    u32[ew + 3] = vlen;
    copyBytes(v, vs, ve, u8, eo + AE_HEADER_VALUES);
    return ent;
  }
  const n = a.alloc(newSize);
  const nu32 = a.u32[seg(n)]!, nu8 = a.u8[seg(n)]!, nw = word(n), no = nw << 2;
  nu32[nw] = u32[ew];
  nu32[nw + 1] = u32[ew + 1];
  nu32[nw + 2] = klen;
  nu32[nw + 3] = vlen;
  copyBytes(v, vs, ve, nu8, no + AE_HEADER_VALUES);
  copyBytes(u8, eo + AE_HEADER_VALUES + oldV, eo + oldSize, nu8, no + AE_HEADER_VALUES + vlen);
  refWords[refIndex] = n;
  a.free(ent, oldSize);
  return n;
}

/** Unlink and free the entry the last adictFind returned; may start shrinking the table. */
export function adictDeleteFound(a: Arena, d: number, ent: number): void {
  const h = a.u32[seg(d)]!, w = word(d);
  refWords[refIndex] = a.u32[seg(ent)]![word(ent)];
  h[w + (refTable === 0 ? AD_USED0 : AD_USED1)]--;
  a.free(ent, entrySize(a, (h[w + AD_FLAGS] & ADF_VALUES) !== 0, ent));
  shrinkIfNeeded(a, d);
}

/** Delete key buf[s, e); true if it was there. */
export function adictDelete(a: Arena, d: number, buf: Uint8Array, s: number, e: number): boolean {
  const ent = adictFind(a, d, buf, s, e);
  if (ent === 0) return false;
  adictDeleteFound(a, d, ent);
  return true;
}

// ---- random, scan, iterate, clone -------------------------------------------------------

/** A random entry (Redis's dictGetRandomKey), or 0 when empty. */
export function adictRandom(a: Arena, d: number): number {
  const h = a.u32[seg(d)]!, w = word(d);
  if (h[w + AD_USED0] + h[w + AD_USED1] === 0) return 0;
  if (h[w + AD_REHASH_IDX] !== NOT_REHASHING) adictRehash(a, d, AD_REHASH_STEP);
  let ent = 0;
  for (;;) {
    const s0 = h[w + AD_SIZE0];
    if (h[w + AD_REHASH_IDX] !== NOT_REHASHING) {
      // Buckets below rehashIdx in table 0 are empty.
      const from = h[w + AD_REHASH_IDX], slots = s0 + h[w + AD_SIZE1];
      const i = from + Math.floor(Math.random() * (slots - from));
      const t = i >= s0 ? h[w + AD_TABLE1] : h[w + AD_TABLE0];
      ent = a.u32[seg(t)]![word(t) + (i >= s0 ? i - s0 : i)];
    } else {
      const t = h[w + AD_TABLE0];
      ent = a.u32[seg(t)]![word(t) + Math.floor(Math.random() * s0)];
    }
    if (ent !== 0) break;
  }
  // A random element of the chain.
  let len = 0;
  for (let e = ent; e !== 0; e = a.u32[seg(e)]![word(e)]) len++;
  for (let k = Math.floor(Math.random() * len); k > 0; k--) ent = a.u32[seg(ent)]![word(ent)];
  return ent;
}

function visitBucket(a: Arena, table: number, i: number, fn: (ent: number) => void): void {
  let e = a.u32[seg(table)]![word(table) + i];
  while (e !== 0) {
    const next = a.u32[seg(e)]![word(e)];
    fn(e);
    e = next;
  }
}

/**
 * One step of Redis's dictScan: visits the buckets for `cursor` (calling fn for each
 * entry, which must not change the dict) and returns the next cursor (0 when done). An
 * entry present for the whole scan is visited at least once, even across resizes.
 */
export function adictScan(a: Arena, d: number, cursor: number, fn: (ent: number) => void): number {
  const h = a.u32[seg(d)]!, w = word(d);
  if (h[w + AD_USED0] + h[w + AD_USED1] === 0 || h[w + AD_SIZE0] === 0) return 0;
  let v = cursor >>> 0;
  if (h[w + AD_REHASH_IDX] === NOT_REHASHING) {
    const m0 = h[w + AD_SIZE0] - 1;
    visitBucket(a, h[w + AD_TABLE0], v & m0, fn);
    v = (v | ~m0) >>> 0;
    v = rev32((rev32(v) + 1) >>> 0);
  } else {
    let tS = h[w + AD_TABLE0], tL = h[w + AD_TABLE1];
    let mS = h[w + AD_SIZE0] - 1, mL = h[w + AD_SIZE1] - 1;
    if (mS > mL) {
      const t = tS; tS = tL; tL = t;
      const m = mS; mS = mL; mL = m;
    }
    visitBucket(a, tS, v & mS, fn);
    do {
      visitBucket(a, tL, v & mL, fn);
      v = (v | ~mL) >>> 0;
      v = rev32((rev32(v) + 1) >>> 0);
    } while ((v & (mS ^ mL)) !== 0);
  }
  return v;
}

/**
 * Iterator over every entry (no mutation of the dict while it runs, lookups included:
 * they may move buckets). Reuse one per call site: `adictIterStart(it, a, d)`, then
 * `while ((e = adictIterNext(it)) !== 0)`.
 */
export class AdictIter {
  a: Arena | null = null;
  d = 0;
  table = 0; // 0 or 1
  bucket = 0;
  next = 0;
}

export function adictIterStart(it: AdictIter, a: Arena, d: number): void {
  it.a = a;
  it.d = d;
  it.table = 0;
  it.bucket = 0;
  it.next = 0;
}

export function adictIterNext(it: AdictIter): number {
  const a = it.a!;
  if (it.next !== 0) {
    const e = it.next;
    it.next = a.u32[seg(e)]![word(e)];
    return e;
  }
  const h = a.u32[seg(it.d)]!, w = word(it.d);
  while (it.table < 2) {
    const size = h[w + (it.table === 0 ? AD_SIZE0 : AD_SIZE1)];
    const t = h[w + (it.table === 0 ? AD_TABLE0 : AD_TABLE1)];
    if (size !== 0) {
      const words = a.u32[seg(t)]!, base = word(t);
      while (it.bucket < size) {
        const e = words[base + it.bucket++];
        if (e !== 0) {
          it.next = a.u32[seg(e)]![word(e)];
          return e;
        }
      }
    }
    it.table++;
    it.bucket = 0;
  }
  return 0;
}

const cloneIter = new AdictIter();

/** Copy of dict `d` of arena `from` into arena `to` (re-hashed with `to`'s seed). */
export function adictClone(from: Arena, d: number, to: Arena): number {
  const withValues = adictHasValues(from, d);
  const n = adictCreate(to, withValues, adictSize(from, d));
  adictIterStart(cloneIter, from, d);
  let e: number;
  while ((e = adictIterNext(cloneIter)) !== 0) {
    const u8 = from.u8[seg(e)]!, ks = adictKeyStart(from, d, e), klen = adictKeyLen(from, e);
    if (withValues) {
      const vs = adictValueStart(from, e);
      adictInsert(to, n, u8, ks, ks + klen, u8, vs, vs + adictValueLen(from, e));
    } else {
      adictInsert(to, n, u8, ks, ks + klen, null, 0, 0);
    }
  }
  return n;
}

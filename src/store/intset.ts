/**
 * Intset: a sorted array of distinct int64 values in one arena block, as Redis's
 * intset.c (elements 2, 4 or 8 bytes wide, upgraded when a wider value arrives, never
 * downgraded). Layout: native-layout/intset.md.
 *
 * An int64 is passed as two numbers (hi: signed high 32 bits, lo: unsigned low 32 bits)
 * so values beyond 2^53 stay exact without BigInt; int64Split() makes the pair from
 * what parseInt64() left in `parsed`. Functions that change the set return its (possibly
 * moved) address.
 */
import { Arena, blockSize } from './arena';
import { copyBytes } from './bytes';
import { ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, GRANULE_SHIFT } from '../../native-layout/arena';
import {
  IS_ENCODING, IS_ENC_INT16, IS_ENC_INT32, IS_ENC_INT64, IS_HEADER, IS_LENGTH,
} from '../../native-layout/intset';
import { parsed, writeInt } from '../util/numbers';

const TWO32 = 4294967296;
const TWO53 = 9007199254740992;

function off(addr: number): number {
  return (addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT;
}

/** An int64 as (hi, lo): the output of int64Split() and intsetGet(). */
export const i64 = { hi: 0, lo: 0 };

/** Split the integer parseInt64() just parsed into i64. */
export function int64Split(): void {
  if (!parsed.isBig) {
    const v = parsed.int;
    const hi = Math.floor(v / TWO32);
    i64.hi = hi;
    i64.lo = v - hi * TWO32;
  } else {
    i64.hi = Number(BigInt.asIntN(32, parsed.big >> 32n));
    i64.lo = Number(BigInt.asUintN(32, parsed.big));
  }
}

/** The value of (hi, lo) as a number: exact when |v| <= 2^53. */
export function int64Number(hi: number, lo: number): number {
  return hi * TWO32 + lo;
}

/** Is (hi, lo) exactly representable as a JS number? */
export function int64IsSafe(hi: number, lo: number): boolean {
  return hi >= -2097152 && hi < 2097152;
}

/** Decimal digits of (hi, lo) into dst at pos; returns the length (ll2string). */
export function int64Write(hi: number, lo: number, dst: Uint8Array, pos: number): number {
  if (int64IsSafe(hi, lo)) return writeInt(dst, pos, hi * TWO32 + lo);
  const s = ((BigInt(hi) << 32n) + BigInt(lo)).toString();
  for (let i = 0; i < s.length; i++) dst[pos + i] = s.charCodeAt(i);
  return s.length;
}

/** Smallest element width that holds (hi, lo). */
function valueEncoding(hi: number, lo: number): number {
  if (hi === 0) return lo < 0x8000 ? IS_ENC_INT16 : lo < 0x80000000 ? IS_ENC_INT32 : IS_ENC_INT64;
  if (hi === -1) return lo >= TWO32 - 0x8000 ? IS_ENC_INT16 : lo >= 0x80000000 ? IS_ENC_INT32 : IS_ENC_INT64;
  return IS_ENC_INT64;
}

export function intsetNew(a: Arena): number {
  const is = a.alloc(IS_HEADER);
  const u32 = a.u32[is >>> ADDR_OFFSET_BITS]!, w = off(is) >>> 2;
  u32[w] = IS_ENC_INT16;
  u32[w + 1] = 0;
  return is;
}

export function intsetLen(a: Arena, is: number): number {
  return a.u32[is >>> ADDR_OFFSET_BITS]![(off(is) + IS_LENGTH) >>> 2];
}

function encodingOf(a: Arena, is: number): number {
  return a.u32[is >>> ADDR_OFFSET_BITS]![(off(is) + IS_ENCODING) >>> 2];
}

/** Bytes of the block in use. */
export function intsetBytes(a: Arena, is: number): number {
  return IS_HEADER + intsetLen(a, is) * encodingOf(a, is);
}

/** Element i (0-based) into i64. */
export function intsetGet(a: Arena, is: number, i: number): void {
  const enc = encodingOf(a, is);
  const o = off(is) + IS_HEADER + i * enc;
  if (enc === IS_ENC_INT16) {
    const u8 = a.u8[is >>> ADDR_OFFSET_BITS]!;
    const v = ((u8[o] | (u8[o + 1] << 8)) << 16) >> 16;
    i64.hi = v < 0 ? -1 : 0;
    i64.lo = v >>> 0;
  } else if (enc === IS_ENC_INT32) {
    const v = a.u32[is >>> ADDR_OFFSET_BITS]![o >>> 2] | 0;
    i64.hi = v < 0 ? -1 : 0;
    i64.lo = v >>> 0;
  } else {
    const u32 = a.u32[is >>> ADDR_OFFSET_BITS]!;
    i64.lo = u32[o >>> 2];
    i64.hi = u32[(o >>> 2) + 1] | 0;
  }
}

/** Element i as a number (exact when |v| <= 2^53). */
export function intsetGetNumber(a: Arena, is: number, i: number): number {
  intsetGet(a, is, i);
  return i64.hi * TWO32 + i64.lo;
}

function put(a: Arena, is: number, enc: number, i: number, hi: number, lo: number): void {
  const o = off(is) + IS_HEADER + i * enc;
  if (enc === IS_ENC_INT16) {
    const u8 = a.u8[is >>> ADDR_OFFSET_BITS]!;
    u8[o] = lo & 0xff;
    u8[o + 1] = (lo >>> 8) & 0xff;
  } else if (enc === IS_ENC_INT32) {
    a.u32[is >>> ADDR_OFFSET_BITS]![o >>> 2] = lo;
  } else {
    const u32 = a.u32[is >>> ADDR_OFFSET_BITS]!;
    u32[o >>> 2] = lo;
    u32[(o >>> 2) + 1] = hi;
  }
}

/** Result of intsetSearch(): where (hi, lo) is or would be inserted. */
let searchPos = 0;

/** Binary search (intsetSearch); sets searchPos. */
function search(a: Arena, is: number, hi: number, lo: number): boolean {
  let min = 0, max = intsetLen(a, is) - 1;
  if (max < 0) {
    searchPos = 0;
    return false;
  }
  while (min <= max) {
    const mid = (min + max) >>> 1;
    intsetGet(a, is, mid);
    const c = i64.hi !== hi ? i64.hi - hi : i64.lo - lo;
    if (c === 0) {
      searchPos = mid;
      return true;
    }
    if (c < 0) min = mid + 1;
    else max = mid - 1;
  }
  searchPos = min;
  return false;
}

/** Is (hi, lo) a member? */
export function intsetFind(a: Arena, is: number, hi: number, lo: number): boolean {
  const enc = encodingOf(a, is);
  if (valueEncoding(hi, lo) > enc) return false;
  return search(a, is, hi, lo);
}

/** Set by intsetAdd / intsetRemove: whether the set changed. */
export const intsetResult = { changed: false };

/** Resize to hold `len` elements of `enc` bytes, moving the block if its class changes. */
function resize(a: Arena, is: number, oldBytes: number, newBytes: number): number {
  if (blockSize(oldBytes) === blockSize(newBytes)) return is;
  const n = a.alloc(newBytes);
  const keep = oldBytes < newBytes ? oldBytes : newBytes;
  copyBytes(a.u8[is >>> ADDR_OFFSET_BITS]!, off(is), off(is) + keep, a.u8[n >>> ADDR_OFFSET_BITS]!, off(n));
  a.free(is, oldBytes);
  return n;
}

/** Add (hi, lo); returns the set's address; intsetResult.changed tells if it was new. */
export function intsetAdd(a: Arena, is: number, hi: number, lo: number): number {
  const enc = encodingOf(a, is), len = intsetLen(a, is);
  const venc = valueEncoding(hi, lo);
  if (venc > enc) {
    // Upgrade: the new value is below or above every element, so it goes at an end.
    const oldBytes = IS_HEADER + len * enc;
    is = resize(a, is, oldBytes, IS_HEADER + (len + 1) * venc);
    const prepend = hi < 0;
    for (let i = len - 1; i >= 0; i--) {
      // Read with the old width, write with the new one, from the end (no overlap issues).
      setEncoding(a, is, enc);
      intsetGet(a, is, i);
      const h = i64.hi, l = i64.lo;
      put(a, is, venc, i + (prepend ? 1 : 0), h, l);
    }
    setEncoding(a, is, venc);
    put(a, is, venc, prepend ? 0 : len, hi, lo);
    setLength(a, is, len + 1);
    intsetResult.changed = true;
    return is;
  }
  if (search(a, is, hi, lo)) {
    intsetResult.changed = false;
    return is;
  }
  const pos = searchPos;
  is = resize(a, is, IS_HEADER + len * enc, IS_HEADER + (len + 1) * enc);
  const u8 = a.u8[is >>> ADDR_OFFSET_BITS]!, base = off(is) + IS_HEADER;
  if (pos < len) u8.copyWithin(base + (pos + 1) * enc, base + pos * enc, base + len * enc);
  put(a, is, enc, pos, hi, lo);
  setLength(a, is, len + 1);
  intsetResult.changed = true;
  return is;
}

/** Remove (hi, lo); returns the set's address; intsetResult.changed tells if it was there. */
export function intsetRemove(a: Arena, is: number, hi: number, lo: number): number {
  if (!intsetFind(a, is, hi, lo)) {
    intsetResult.changed = false;
    return is;
  }
  return intsetRemoveAt(a, is, searchPos);
}

/** Remove element i; returns the set's address. */
export function intsetRemoveAt(a: Arena, is: number, i: number): number {
  const enc = encodingOf(a, is), len = intsetLen(a, is);
  const u8 = a.u8[is >>> ADDR_OFFSET_BITS]!, base = off(is) + IS_HEADER;
  if (i < len - 1) u8.copyWithin(base + i * enc, base + (i + 1) * enc, base + len * enc);
  setLength(a, is, len - 1);
  intsetResult.changed = true;
  return resize(a, is, IS_HEADER + len * enc, IS_HEADER + (len - 1) * enc);
}

/** A random element's index (the set must not be empty). */
export function intsetRandom(a: Arena, is: number): number {
  return Math.floor(Math.random() * intsetLen(a, is));
}

function setEncoding(a: Arena, is: number, enc: number): void {
  a.u32[is >>> ADDR_OFFSET_BITS]![(off(is) + IS_ENCODING) >>> 2] = enc;
}

function setLength(a: Arena, is: number, len: number): void {
  a.u32[is >>> ADDR_OFFSET_BITS]![(off(is) + IS_LENGTH) >>> 2] = len;
}

export function intsetFree(a: Arena, is: number): void {
  a.free(is, intsetBytes(a, is));
}

/** Copy of an intset of arena `from` into arena `to`. */
export function intsetClone(from: Arena, is: number, to: Arena): number {
  const bytes = intsetBytes(from, is);
  const n = to.alloc(bytes);
  copyBytes(from.u8[is >>> ADDR_OFFSET_BITS]!, off(is), off(is) + bytes, to.u8[n >>> ADDR_OFFSET_BITS]!, off(n));
  return n;
}

export { TWO53 };

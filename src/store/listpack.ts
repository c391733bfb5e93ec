/**
 * Listpack: a compact arena blob of byte-string entries for small collections (hash
 * field/value pairs, sorted set member/score pairs). Layout: native-layout/listpack.md.
 *
 * Entries are addressed by their byte offset relative to the block start ("position";
 * the first is LP_HEADER, the end is lpBytes()). Every mutation may move the block:
 * functions that change the listpack return its (possibly new) address, and positions
 * taken before a mutation are stale after it except where noted. Lookups are linear,
 * which is what small collections want (Redis's listpack is the same).
 *
 * Iterate without allocating:
 *   for (let p = LP_HEADER, end = lpBytes(a, lp); p < end; p = lpEntry.next) {
 *     lpDecode(a, lp, p);  // lpEntry.u8[lpEntry.start .. lpEntry.end) is the entry
 *   }
 */
import { Arena, blockSize } from './arena';
import { copyBytes, equalBytes } from './bytes';
import { ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, GRANULE_SHIFT } from '../../native-layout/arena';
import { LP_BYTES, LP_COUNT, LP_HEADER } from '../../native-layout/listpack';
import { writeInt } from '../util/numbers';

export { LP_HEADER };

function off(addr: number): number {
  return (addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT;
}

/** The last decoded entry: bytes u8[start, end); `next` is the position after it. */
export const lpEntry: { u8: Uint8Array; start: number; end: number; next: number } = {
  u8: new Uint8Array(0), start: 0, end: 0, next: 0,
};

/** Bytes of the LEB128 length prefix for an entry of n bytes. */
function prefixLen(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function writePrefix(u8: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    u8[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  u8[at++] = n;
  return at;
}

/** A new empty listpack with room for `hint` bytes of entries. */
export function lpNew(a: Arena, hint = 0): number {
  const lp = a.alloc(LP_HEADER + hint);
  const u32 = a.u32[lp >>> ADDR_OFFSET_BITS]!, w = off(lp) >>> 2;
  u32[w] = LP_HEADER;
  u32[w + 1] = 0;
  return lp;
}

/** Bytes in use, header included: also the position just past the last entry. */
export function lpBytes(a: Arena, lp: number): number {
  return a.u32[lp >>> ADDR_OFFSET_BITS]![(off(lp) + LP_BYTES) >>> 2];
}

export function lpCount(a: Arena, lp: number): number {
  return a.u32[lp >>> ADDR_OFFSET_BITS]![(off(lp) + LP_COUNT) >>> 2];
}

/** Decode the entry at position `pos` into lpEntry. */
export function lpDecode(a: Arena, lp: number, pos: number): void {
  const u8 = a.u8[lp >>> ADDR_OFFSET_BITS]!;
  let p = off(lp) + pos;
  let n = 0, mul = 1, b: number;
  do {
    b = u8[p++];
    n += (b & 0x7f) * mul;
    mul *= 128;
  } while (b & 0x80);
  lpEntry.u8 = u8;
  lpEntry.start = p;
  lpEntry.end = p + n;
  lpEntry.next = p + n - off(lp);
}

/** Position of the entry after the one at `pos`. */
export function lpNext(a: Arena, lp: number, pos: number): number {
  lpDecode(a, lp, pos);
  return lpEntry.next;
}

/** Position of entry number `index` (0-based), or lpBytes() when index == count. O(index). */
export function lpSeek(a: Arena, lp: number, index: number): number {
  let p = LP_HEADER;
  while (index-- > 0) p = lpNext(a, lp, p);
  return p;
}

/**
 * Position of the first entry equal to buf[s, e), comparing only every (skip+1)-th entry
 * from the first (skip = 1: the fields of field/value pairs), or -1.
 */
export function lpFind(a: Arena, lp: number, buf: Uint8Array, s: number, e: number, skip: number): number {
  const u8 = a.u8[lp >>> ADDR_OFFSET_BITS]!, base = off(lp);
  const end = base + lpBytes(a, lp), n = e - s;
  let p = base + LP_HEADER;
  while (p < end) {
    const at = p;
    let len = 0, mul = 1, b: number;
    do {
      b = u8[p++];
      len += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    if (len === n && equalBytes(u8, p, buf, s, n)) return at - base;
    p += len;
    for (let k = 0; k < skip && p < end; k++) {
      len = 0;
      mul = 1;
      do {
        b = u8[p++];
        len += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      p += len;
    }
  }
  return -1;
}

/**
 * Replace bytes [pos, pos+oldLen) of the listpack by `newLen` bytes left uninitialised
 * (the tail moves); returns the listpack address (moved when the size class changes)
 * and sets `spliceAt` to the absolute offset of the new bytes in a.u8[result >>> 22].
 */
let spliceAt = 0;
function splice(a: Arena, lp: number, pos: number, oldLen: number, newLen: number, countDelta: number): number {
  const total = lpBytes(a, lp);
  const next = total - oldLen + newLen;
  const u8 = a.u8[lp >>> ADDR_OFFSET_BITS]!, base = off(lp);
  let res = lp;
  if (blockSize(total) === blockSize(next)) {
    if (oldLen !== newLen) u8.copyWithin(base + pos + newLen, base + pos + oldLen, base + total);
    spliceAt = base + pos;
  } else {
    res = a.alloc(next);
    const nu8 = a.u8[res >>> ADDR_OFFSET_BITS]!, nbase = off(res);
    copyBytes(u8, base, base + pos, nu8, nbase);
    copyBytes(u8, base + pos + oldLen, base + total, nu8, nbase + pos + newLen);
    spliceAt = nbase + pos;
    a.free(lp, total);
  }
  const u32 = a.u32[res >>> ADDR_OFFSET_BITS]!, w = off(res) >>> 2;
  u32[w] = next;
  u32[w + 1] += countDelta;
  return res;
}

/**
 * Insert buf[s, e) as a new entry at position `pos` (before the entry there; lpBytes()
 * appends). Returns the listpack's address. `buf` must not be this listpack's block.
 */
export function lpInsert(a: Arena, lp: number, pos: number, buf: Uint8Array, s: number, e: number): number {
  const n = e - s;
  const res = splice(a, lp, pos, 0, prefixLen(n) + n, 1);
  const u8 = a.u8[res >>> ADDR_OFFSET_BITS]!;
  copyBytes(buf, s, e, u8, writePrefix(u8, spliceAt, n));
  return res;
}

/** Append buf[s, e); returns the listpack's address. */
export function lpAppend(a: Arena, lp: number, buf: Uint8Array, s: number, e: number): number {
  return lpInsert(a, lp, lpBytes(a, lp), buf, s, e);
}

const digits = new Uint8Array(24);

/** Append the decimal form of a safe integer. */
export function lpAppendInt(a: Arena, lp: number, v: number): number {
  return lpAppend(a, lp, digits, 0, writeInt(digits, 0, v));
}

/** Replace the entry at `pos` by buf[s, e); positions before `pos` stay valid. */
export function lpReplace(a: Arena, lp: number, pos: number, buf: Uint8Array, s: number, e: number): number {
  lpDecode(a, lp, pos);
  const oldLen = lpEntry.next - pos;
  const n = e - s;
  const res = splice(a, lp, pos, oldLen, prefixLen(n) + n, 0);
  const u8 = a.u8[res >>> ADDR_OFFSET_BITS]!;
  copyBytes(buf, s, e, u8, writePrefix(u8, spliceAt, n));
  return res;
}

/** Delete `n` consecutive entries from position `pos`; positions before `pos` stay valid. */
export function lpDelete(a: Arena, lp: number, pos: number, n: number): number {
  let p = pos;
  for (let k = 0; k < n; k++) p = lpNext(a, lp, p);
  return splice(a, lp, pos, p - pos, 0, -n);
}

/** Is the entry at `pos` equal to buf[s, e)? */
export function lpEquals(a: Arena, lp: number, pos: number, buf: Uint8Array, s: number, e: number): boolean {
  lpDecode(a, lp, pos);
  const n = lpEntry.end - lpEntry.start;
  return n === e - s && equalBytes(lpEntry.u8, lpEntry.start, buf, s, n);
}

export function lpFree(a: Arena, lp: number): void {
  a.free(lp, lpBytes(a, lp));
}

/** Copy of a listpack of arena `from` into arena `to` (both may be the same). */
export function lpClone(from: Arena, lp: number, to: Arena): number {
  const total = lpBytes(from, lp);
  const res = to.alloc(total);
  copyBytes(from.u8[lp >>> ADDR_OFFSET_BITS]!, off(lp), off(lp) + total, to.u8[res >>> ADDR_OFFSET_BITS]!, off(res));
  return res;
}

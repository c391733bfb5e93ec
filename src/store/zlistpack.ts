/**
 * The small encoding of sorted sets (Redis's "listpack" encoding, t_zset.c zzl*): one
 * arena block of (score, member) entries sorted by (score, member bytes). Layout in
 * native-layout/zset.md: a 16-byte header, then entries of align8(16 + len) bytes, each
 * with its score (f64, aligned), its member length and the size of the previous entry so
 * the list walks both ways. Operations are O(n), as Redis's listpack ones.
 *
 * An entry is named by its byte offset inside the block's segment (never 0). Mutations
 * may move the block: they return its new address, and entry offsets become stale.
 */
import { Arena, blockSize } from './arena';
import { compareBytes, copyBytes, equalBytes } from './bytes';
import { LPE_HEADER, LPE_LEN, LPE_PREV, LP_CAP, LP_COUNT, LP_HEADER, LP_LAST, LP_USED, lpEntrySize } from '../../native-layout/zset';

const SEG_SHIFT = 22;
const OFF_MASK = 0x3fffff;

function off(addr: number): number {
  return (addr & OFF_MASK) << 3;
}

export function zzlBytes(a: Arena, lp: number): Uint8Array {
  return a.u8[lp >>> SEG_SHIFT]!;
}
function words(a: Arena, lp: number): Uint32Array {
  return a.u32[lp >>> SEG_SHIFT]!;
}

/** An empty listpack with room for about `room` entry bytes. */
export function zzlCreate(a: Arena, room: number): number {
  const cap = blockSize(LP_HEADER + room);
  const lp = a.alloc(cap);
  const w = words(a, lp), o = off(lp) >>> 2;
  w[o + (LP_COUNT >>> 2)] = 0;
  w[o + (LP_USED >>> 2)] = 0;
  w[o + (LP_CAP >>> 2)] = cap;
  w[o + (LP_LAST >>> 2)] = 0;
  return lp;
}

export function zzlLength(a: Arena, lp: number): number {
  return words(a, lp)[(off(lp) + LP_COUNT) >>> 2];
}
export function zzlUsed(a: Arena, lp: number): number {
  return words(a, lp)[(off(lp) + LP_USED) >>> 2];
}
export function zzlCap(a: Arena, lp: number): number {
  return words(a, lp)[(off(lp) + LP_CAP) >>> 2];
}

export function zzlFree(a: Arena, lp: number): void {
  a.free(lp, zzlCap(a, lp));
}

/** First entry, or 0. */
export function zzlFirst(a: Arena, lp: number): number {
  return zzlLength(a, lp) === 0 ? 0 : off(lp) + LP_HEADER;
}
/** Last entry, or 0. */
export function zzlLast(a: Arena, lp: number): number {
  const last = words(a, lp)[(off(lp) + LP_LAST) >>> 2];
  return last === 0 ? 0 : off(lp) + last;
}
export function zzlNext(a: Arena, lp: number, e: number): number {
  const w = words(a, lp), base = off(lp);
  if (e - base === w[(base + LP_LAST) >>> 2]) return 0;
  return e + lpEntrySize(w[(e + LPE_LEN) >>> 2]);
}
export function zzlPrev(a: Arena, lp: number, e: number): number {
  const prev = words(a, lp)[(e + LPE_PREV) >>> 2];
  return prev === 0 ? 0 : e - prev;
}
export function zzlScore(a: Arena, lp: number, e: number): number {
  return a.f64[lp >>> SEG_SHIFT]![e >>> 3];
}
export function zzlSetScoreRaw(a: Arena, lp: number, e: number, score: number): void {
  a.f64[lp >>> SEG_SHIFT]![e >>> 3] = score;
}
export function zzlMemberLen(a: Arena, lp: number, e: number): number {
  return words(a, lp)[(e + LPE_LEN) >>> 2];
}
/** Member bytes are zzlBytes(a, lp)[e + 16, e + 16 + len). */
export function zzlMemberStart(e: number): number {
  return e + LPE_HEADER;
}

/** The entry of member m[s, e), or 0 (zzlFind). */
export function zzlFind(a: Arena, lp: number, m: Uint8Array, s: number, e: number): number {
  const u8 = zzlBytes(a, lp), w = words(a, lp);
  const len = e - s;
  let p = zzlFirst(a, lp);
  for (let n = zzlLength(a, lp); n > 0; n--) {
    const l = w[(p + LPE_LEN) >>> 2];
    if (l === len && equalBytes(u8, p + LPE_HEADER, m, s, len)) return p;
    p += lpEntrySize(l);
  }
  return 0;
}

/**
 * Insert (score, m[s, e)) at its place (the member must be absent). Returns the
 * listpack's address, which changes when the block had to grow.
 */
export function zzlInsert(a: Arena, lp: number, score: number, m: Uint8Array, s: number, e: number): number {
  const len = e - s, esz = lpEntrySize(len);
  let w = words(a, lp), base = off(lp);
  const used = w[(base + LP_USED) >>> 2], cap = w[(base + LP_CAP) >>> 2];
  if (LP_HEADER + used + esz > cap) {
    // Grow by half again, to a whole size class: appends are amortized O(1) copies.
    const want = Math.max(LP_HEADER + used + esz, cap + (cap >>> 1));
    const ncap = blockSize(want);
    const nlp = a.alloc(ncap);
    const nb = off(nlp);
    copyBytes(zzlBytes(a, lp), base, base + LP_HEADER + used, zzlBytes(a, nlp), nb);
    a.free(lp, cap);
    lp = nlp;
    base = nb;
    w = words(a, lp);
    w[(base + LP_CAP) >>> 2] = ncap;
  }
  const u8 = zzlBytes(a, lp), f64 = a.f64[lp >>> SEG_SHIFT]!;
  // Find the first entry greater than the new one.
  const count = w[(base + LP_COUNT) >>> 2];
  let p = base + LP_HEADER, i = 0, prevSize = 0;
  for (; i < count; i++) {
    const ps = f64[p >>> 3], pl = w[(p + LPE_LEN) >>> 2];
    if (ps > score || (ps === score && compareBytes(u8, p + LPE_HEADER, p + LPE_HEADER + pl, m, s, e) > 0)) break;
    prevSize = lpEntrySize(pl);
    p += prevSize;
  }
  const end = base + LP_HEADER + used;
  if (p < end) {
    u8.copyWithin(p + esz, p, end);
    // The entry after the new one now follows it.
    w[(p + esz + LPE_PREV) >>> 2] = esz;
    w[(base + LP_LAST) >>> 2] += esz;
  } else {
    w[(base + LP_LAST) >>> 2] = p - base;
  }
  // Redis keeps listpack scores as text, and "-0" reads back as 0.
  f64[p >>> 3] = score === 0 ? 0 : score;
  w[(p + LPE_LEN) >>> 2] = len;
  w[(p + LPE_PREV) >>> 2] = i === 0 ? 0 : prevSize;
  copyBytes(m, s, e, u8, p + LPE_HEADER);
  w[(base + LP_COUNT) >>> 2] = count + 1;
  w[(base + LP_USED) >>> 2] = used + esz;
  return lp;
}

/**
 * Delete `n` consecutive entries starting at entry `e`. Returns the listpack's address
 * (it moves to a smaller block once less than a quarter of it is used).
 */
export function zzlDeleteRun(a: Arena, lp: number, e: number, n: number): number {
  const w = words(a, lp), base = off(lp), u8 = zzlBytes(a, lp);
  const used = w[(base + LP_USED) >>> 2], cap = w[(base + LP_CAP) >>> 2];
  const end = base + LP_HEADER + used;
  const prevSize = w[(e + LPE_PREV) >>> 2];
  let q = e;
  for (let k = 0; k < n; k++) q += lpEntrySize(w[(q + LPE_LEN) >>> 2]);
  const gone = q - e;
  if (q < end) {
    u8.copyWithin(e, q, end);
    w[(e + LPE_PREV) >>> 2] = prevSize;
    w[(base + LP_LAST) >>> 2] -= gone;
  } else {
    w[(base + LP_LAST) >>> 2] = prevSize === 0 ? 0 : e - prevSize - base;
  }
  w[(base + LP_COUNT) >>> 2] -= n;
  const nused = used - gone;
  w[(base + LP_USED) >>> 2] = nused;
  if (cap > 256 && (LP_HEADER + nused) * 4 < cap) {
    const ncap = blockSize(LP_HEADER + nused * 2);
    const nlp = a.alloc(ncap);
    copyBytes(u8, base, base + LP_HEADER + nused, zzlBytes(a, nlp), off(nlp));
    words(a, nlp)[(off(nlp) + LP_CAP) >>> 2] = ncap;
    a.free(lp, cap);
    return nlp;
  }
  return lp;
}

/** A copy of the listpack in arena `to` (COPY, cross-shard RENAME). */
export function zzlClone(from: Arena, lp: number, to: Arena): number {
  const cap = zzlCap(from, lp), used = zzlUsed(from, lp);
  const n = to.alloc(cap);
  copyBytes(zzlBytes(from, lp), off(lp), off(lp) + LP_HEADER + used, zzlBytes(to, n), off(n));
  return n;
}

/** Length of the longest member (for conversion checks). */
export function zzlMaxMemberLen(a: Arena, lp: number): number {
  let max = 0;
  for (let e = zzlFirst(a, lp); e !== 0; e = zzlNext(a, lp, e)) {
    const l = zzlMemberLen(a, lp, e);
    if (l > max) max = l;
  }
  return max;
}

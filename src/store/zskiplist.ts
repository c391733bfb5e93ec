/**
 * The skiplist encoding of sorted sets, in the shard arena (native-layout/zset.md):
 * Redis's zskiplist (t_zset.c) with span counts for O(log n) ranks, ordered by
 * (score, member bytes), plus the member index that maps a member to its node in O(1)
 * (a chained hash table of node addresses with incremental rehash, like dict.c; the
 * chain link lives in the node, so the index costs one u32 bucket per member).
 *
 * Plain functions over an Arena and the address of a zset header block: no JS object
 * per member, no state outside the arena (any thread holding the arena can run them).
 */
import { Arena } from './arena';
import { hashBytes, rev32 } from './hash';
import { compareBytes, copyBytes, equalBytes } from './bytes';
import { LARGE_BLOCK } from '../../native-layout/arena';
import { blockSize } from './arena';
import {
  ZD_EMPTY_VISITS, ZD_INITIAL_SIZE, ZD_REHASH_STEP, ZN_BACKWARD, ZN_HNEXT, ZN_LEN, ZN_LEVEL, ZN_LEVELS,
  ZSKIPLIST_MAXLEVEL, ZSKIPLIST_P, ZS_HEAD, ZS_HEADER_BYTES, ZS_HEADER_WORDS, ZS_LENGTH, ZS_LEVEL, ZS_NOT_REHASHING,
  ZS_REHASH, ZS_S0, ZS_S1, ZS_T0, ZS_T1, ZS_TAIL, ZS_U0, ZS_U1, znodeSize,
} from '../../native-layout/zset';

const SEG_SHIFT = 22;
const OFF_MASK = 0x3fffff;

/** Byte offset of a block inside its segment. */
function off(addr: number): number {
  return (addr & OFF_MASK) << 3;
}

// ---- range specs (zrangespec / zlexrangespec) ----------------------------------------------

/** A score interval; minex/maxex: the bound is exclusive. */
export class ZRangeSpec {
  min = 0;
  max = 0;
  minex = false;
  maxex = false;
}

export function zslValueGteMin(v: number, r: ZRangeSpec): boolean {
  return r.minex ? v > r.min : v >= r.min;
}
export function zslValueLteMax(v: number, r: ZRangeSpec): boolean {
  return r.maxex ? v < r.max : v <= r.max;
}

/** Lex range item kinds: '-' (smaller than any string), '+' (greater), or bytes of `buf`. */
export const LEX_MINUS = -1;
export const LEX_STRING = 0;
export const LEX_PLUS = 1;

/** A lex interval; string bounds are byte ranges of `buf` (the command's argument buffer). */
export class ZLexRangeSpec {
  buf: Uint8Array = new Uint8Array(0);
  minKind = LEX_STRING;
  minStart = 0;
  minEnd = 0;
  minex = false;
  maxKind = LEX_STRING;
  maxStart = 0;
  maxEnd = 0;
  maxex = false;
}

/** sdscmplex() of the two bounds. */
export function lexBoundsCompare(r: ZLexRangeSpec): number {
  if (r.minKind === r.maxKind && r.minKind !== LEX_STRING) return 0;
  if (r.minKind === LEX_MINUS || r.maxKind === LEX_PLUS) return -1;
  if (r.minKind === LEX_PLUS || r.maxKind === LEX_MINUS) return 1;
  return compareBytes(r.buf, r.minStart, r.minEnd, r.buf, r.maxStart, r.maxEnd);
}

/** The range can hold nothing whatever the set (zslIsInLexRange's first test). */
export function lexRangeEmpty(r: ZLexRangeSpec): boolean {
  const cmp = lexBoundsCompare(r);
  return cmp > 0 || (cmp === 0 && (r.minex || r.maxex));
}

export function zslLexValueGteMin(m: Uint8Array, s: number, e: number, r: ZLexRangeSpec): boolean {
  if (r.minKind === LEX_MINUS) return true;
  if (r.minKind === LEX_PLUS) return false;
  const cmp = compareBytes(m, s, e, r.buf, r.minStart, r.minEnd);
  return r.minex ? cmp > 0 : cmp >= 0;
}
export function zslLexValueLteMax(m: Uint8Array, s: number, e: number, r: ZLexRangeSpec): boolean {
  if (r.maxKind === LEX_PLUS) return true;
  if (r.maxKind === LEX_MINUS) return false;
  const cmp = compareBytes(m, s, e, r.buf, r.maxStart, r.maxEnd);
  return r.maxex ? cmp < 0 : cmp <= 0;
}

// ---- node accessors ---------------------------------------------------------------------

export function znScore(a: Arena, n: number): number {
  return a.f64[n >>> SEG_SHIFT]![off(n) >>> 3];
}
export function znSetScore(a: Arena, n: number, score: number): void {
  a.f64[n >>> SEG_SHIFT]![off(n) >>> 3] = score;
}
export function znBackward(a: Arena, n: number): number {
  return a.u32[n >>> SEG_SHIFT]![(off(n) + ZN_BACKWARD) >>> 2];
}
export function znLen(a: Arena, n: number): number {
  return a.u32[n >>> SEG_SHIFT]![(off(n) + ZN_LEN) >>> 2];
}
export function znLevel(a: Arena, n: number): number {
  return a.u32[n >>> SEG_SHIFT]![(off(n) + ZN_LEVEL) >>> 2];
}
/** The node's segment bytes (member bytes are at znMemberOffset .. + znLen). */
export function znBytes(a: Arena, n: number): Uint8Array {
  return a.u8[n >>> SEG_SHIFT]!;
}
export function znMemberOffset(a: Arena, n: number): number {
  const o = off(n);
  return o + ZN_LEVELS + (a.u32[n >>> SEG_SHIFT]![(o + ZN_LEVEL) >>> 2] << 3);
}
export function znForward(a: Arena, n: number, i: number): number {
  return a.u32[n >>> SEG_SHIFT]![((off(n) + ZN_LEVELS) >>> 2) + (i << 1)];
}
function znSpan(a: Arena, n: number, i: number): number {
  return a.u32[n >>> SEG_SHIFT]![((off(n) + ZN_LEVELS) >>> 2) + (i << 1) + 1];
}
function znSetForward(a: Arena, n: number, i: number, v: number): void {
  a.u32[n >>> SEG_SHIFT]![((off(n) + ZN_LEVELS) >>> 2) + (i << 1)] = v;
}
function znSetSpan(a: Arena, n: number, i: number, v: number): void {
  a.u32[n >>> SEG_SHIFT]![((off(n) + ZN_LEVELS) >>> 2) + (i << 1) + 1] = v;
}
function znSetBackward(a: Arena, n: number, v: number): void {
  a.u32[n >>> SEG_SHIFT]![(off(n) + ZN_BACKWARD) >>> 2] = v;
}
function znHnext(a: Arena, n: number): number {
  return a.u32[n >>> SEG_SHIFT]![(off(n) + ZN_HNEXT) >>> 2];
}
function znSetHnext(a: Arena, n: number, v: number): void {
  a.u32[n >>> SEG_SHIFT]![(off(n) + ZN_HNEXT) >>> 2] = v;
}
function znSize(a: Arena, n: number): number {
  return znodeSize(znLevel(a, n), znLen(a, n));
}

// ---- header accessors -------------------------------------------------------------------

function hw(a: Arena, zs: number): Uint32Array {
  return a.u32[zs >>> SEG_SHIFT]!;
}
function hb(zs: number): number {
  return off(zs) >>> 2;
}
export function zslLength(a: Arena, zs: number): number {
  return hw(a, zs)[hb(zs) + ZS_LENGTH];
}
export function zslHead(a: Arena, zs: number): number {
  return hw(a, zs)[hb(zs) + ZS_HEAD];
}
/** First node (lowest rank) or 0. */
export function zslFirst(a: Arena, zs: number): number {
  return znForward(a, zslHead(a, zs), 0);
}
/** Last node or 0. */
export function zslLast(a: Arena, zs: number): number {
  return hw(a, zs)[hb(zs) + ZS_TAIL];
}

/** An empty zset header with its 32-level head node. */
export function zslCreate(a: Arena): number {
  const zs = a.alloc(ZS_HEADER_BYTES);
  const head = a.alloc(znodeSize(ZSKIPLIST_MAXLEVEL, 0));
  const w = hw(a, zs), b = hb(zs);
  w.fill(0, b, b + ZS_HEADER_WORDS);
  w[b + ZS_HEAD] = head;
  w[b + ZS_LEVEL] = 1;
  w[b + ZS_REHASH] = ZS_NOT_REHASHING;
  const hu = a.u32[head >>> SEG_SHIFT]!, ho = off(head) >>> 2;
  hu.fill(0, ho, ho + (znodeSize(ZSKIPLIST_MAXLEVEL, 0) >>> 2));
  hu[ho + (ZN_LEVEL >>> 2)] = ZSKIPLIST_MAXLEVEL;
  return zs;
}

function randomLevel(): number {
  let level = 1;
  while (level < ZSKIPLIST_MAXLEVEL && Math.random() < ZSKIPLIST_P) level++;
  return level;
}

// Search paths, reused by every operation (one operation at a time per thread).
const update = new Uint32Array(ZSKIPLIST_MAXLEVEL);
const rank = new Float64Array(ZSKIPLIST_MAXLEVEL);

/** (score(x), member(x)) < (score, m[s, e)) */
function nodeLess(a: Arena, x: number, score: number, m: Uint8Array, s: number, e: number): boolean {
  const xs = znScore(a, x);
  if (xs !== score) return xs < score;
  const mo = znMemberOffset(a, x);
  return compareBytes(znBytes(a, x), mo, mo + znLen(a, x), m, s, e) < 0;
}

/** Fill update[] (and rank[]) with the predecessors of `node` at every level. */
function findPath(a: Arena, zs: number, node: number): void {
  const w = hw(a, zs), b = hb(zs);
  const score = znScore(a, node), m = znBytes(a, node), ms = znMemberOffset(a, node), me = ms + znLen(a, node);
  let x = w[b + ZS_HEAD];
  const level = w[b + ZS_LEVEL];
  for (let i = level - 1; i >= 0; i--) {
    rank[i] = i === level - 1 ? 0 : rank[i + 1];
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0 || !nodeLess(a, f, score, m, ms, me)) break;
      rank[i] += znSpan(a, x, i);
      x = f;
    }
    update[i] = x;
  }
}

/** Link an allocated node (score and member set) at its place (zslInsert's linking). */
function zslLink(a: Arena, zs: number, node: number): void {
  findPath(a, zs, node);
  const w = hw(a, zs), b = hb(zs);
  const lvl = znLevel(a, node);
  let level = w[b + ZS_LEVEL];
  const head = w[b + ZS_HEAD];
  if (lvl > level) {
    for (let i = level; i < lvl; i++) {
      rank[i] = 0;
      update[i] = head;
      znSetSpan(a, head, i, w[b + ZS_LENGTH]);
    }
    level = lvl;
    w[b + ZS_LEVEL] = lvl;
  }
  for (let i = 0; i < lvl; i++) {
    const u = update[i];
    znSetForward(a, node, i, znForward(a, u, i));
    znSetForward(a, u, i, node);
    znSetSpan(a, node, i, znSpan(a, u, i) - (rank[0] - rank[i]));
    znSetSpan(a, u, i, rank[0] - rank[i] + 1);
  }
  for (let i = lvl; i < level; i++) znSetSpan(a, update[i], i, znSpan(a, update[i], i) + 1);
  znSetBackward(a, node, update[0] === head ? 0 : update[0]);
  const next = znForward(a, node, 0);
  if (next !== 0) znSetBackward(a, next, node);
  else w[b + ZS_TAIL] = node;
  w[b + ZS_LENGTH]++;
}

/** zslDeleteNode(): unlink x given its predecessors in update[]. */
function unlinkWithPath(a: Arena, zs: number, x: number): void {
  const w = hw(a, zs), b = hb(zs);
  let level = w[b + ZS_LEVEL];
  for (let i = 0; i < level; i++) {
    const u = update[i];
    if (znForward(a, u, i) === x) {
      znSetSpan(a, u, i, znSpan(a, u, i) + znSpan(a, x, i) - 1);
      znSetForward(a, u, i, znForward(a, x, i));
    } else {
      znSetSpan(a, u, i, znSpan(a, u, i) - 1);
    }
  }
  const next = znForward(a, x, 0);
  if (next !== 0) znSetBackward(a, next, znBackward(a, x));
  else w[b + ZS_TAIL] = znBackward(a, x);
  const head = w[b + ZS_HEAD];
  while (level > 1 && znForward(a, head, level - 1) === 0) level--;
  w[b + ZS_LEVEL] = level;
  w[b + ZS_LENGTH]--;
}

/** Insert a member known to be absent; returns its node. */
export function zslInsert(a: Arena, zs: number, score: number, m: Uint8Array, s: number, e: number): number {
  const len = e - s, lvl = randomLevel();
  const node = a.alloc(znodeSize(lvl, len));
  const u32 = a.u32[node >>> SEG_SHIFT]!, o = off(node);
  a.f64[node >>> SEG_SHIFT]![o >>> 3] = score;
  u32[(o + ZN_BACKWARD) >>> 2] = 0;
  u32[(o + ZN_HNEXT) >>> 2] = 0;
  u32[(o + ZN_LEN) >>> 2] = len;
  u32[(o + ZN_LEVEL) >>> 2] = lvl;
  copyBytes(m, s, e, a.u8[node >>> SEG_SHIFT]!, o + ZN_LEVELS + (lvl << 3));
  zslLink(a, zs, node);
  zdAdd(a, zs, node, hashBytes(m, s, e, a.hashSeed));
  return node;
}

/** Remove a node from the skiplist and the member index, and free it. */
export function zslDelete(a: Arena, zs: number, node: number): void {
  findPath(a, zs, node);
  unlinkWithPath(a, zs, node);
  zdRemove(a, zs, node);
  a.free(node, znSize(a, node));
}

/**
 * zslUpdateScore(): give `node` a new score, moving it only if the order changes.
 * The node stays the same block, so the member index needs no update.
 */
export function zslUpdateScore(a: Arena, zs: number, node: number, score: number): void {
  const back = znBackward(a, node), next = znForward(a, node, 0);
  if ((back === 0 || znScore(a, back) < score) && (next === 0 || znScore(a, next) > score)) {
    znSetScore(a, node, score);
    return;
  }
  findPath(a, zs, node);
  unlinkWithPath(a, zs, node);
  // The level slots keep their values; zslLink rewrites them all.
  znSetScore(a, node, score);
  zslLink(a, zs, node);
}

/** 1-based rank of a node (zslGetRank). */
export function zslRank(a: Arena, zs: number, node: number): number {
  const w = hw(a, zs), b = hb(zs);
  const score = znScore(a, node), m = znBytes(a, node), ms = znMemberOffset(a, node), me = ms + znLen(a, node);
  let x = w[b + ZS_HEAD], r = 0;
  for (let i = w[b + ZS_LEVEL] - 1; i >= 0; i--) {
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0) break;
      const fs = znScore(a, f);
      if (fs > score) break;
      if (fs === score) {
        const fo = znMemberOffset(a, f);
        if (compareBytes(znBytes(a, f), fo, fo + znLen(a, f), m, ms, me) > 0) break;
      }
      r += znSpan(a, x, i);
      x = f;
    }
    if (x === node) return r;
  }
  return 0;
}

/** Node at 1-based rank, or 0 (zslGetElementByRank). */
export function zslByRank(a: Arena, zs: number, r: number): number {
  const w = hw(a, zs), b = hb(zs);
  let x = w[b + ZS_HEAD], traversed = 0;
  for (let i = w[b + ZS_LEVEL] - 1; i >= 0; i--) {
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0 || traversed + znSpan(a, x, i) > r) break;
      traversed += znSpan(a, x, i);
      x = f;
    }
    if (traversed === r) return x;
  }
  return 0;
}

function isInRange(a: Arena, zs: number, r: ZRangeSpec): boolean {
  if (r.min > r.max || (r.min === r.max && (r.minex || r.maxex))) return false;
  const tail = zslLast(a, zs);
  if (tail === 0 || !zslValueGteMin(znScore(a, tail), r)) return false;
  const first = zslFirst(a, zs);
  return first !== 0 && zslValueLteMax(znScore(a, first), r);
}

/** First node in the score range, or 0. */
export function zslFirstInRange(a: Arena, zs: number, r: ZRangeSpec): number {
  if (!isInRange(a, zs, r)) return 0;
  const w = hw(a, zs), b = hb(zs);
  let x = w[b + ZS_HEAD];
  for (let i = w[b + ZS_LEVEL] - 1; i >= 0; i--) {
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0 || zslValueGteMin(znScore(a, f), r)) break;
      x = f;
    }
  }
  x = znForward(a, x, 0);
  return x !== 0 && zslValueLteMax(znScore(a, x), r) ? x : 0;
}

/** Last node in the score range, or 0. */
export function zslLastInRange(a: Arena, zs: number, r: ZRangeSpec): number {
  if (!isInRange(a, zs, r)) return 0;
  const w = hw(a, zs), b = hb(zs);
  let x = w[b + ZS_HEAD];
  for (let i = w[b + ZS_LEVEL] - 1; i >= 0; i--) {
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0 || !zslValueLteMax(znScore(a, f), r)) break;
      x = f;
    }
  }
  return x !== w[b + ZS_HEAD] && zslValueGteMin(znScore(a, x), r) ? x : 0;
}

function nodeLexGteMin(a: Arena, n: number, r: ZLexRangeSpec): boolean {
  const mo = znMemberOffset(a, n);
  return zslLexValueGteMin(znBytes(a, n), mo, mo + znLen(a, n), r);
}
function nodeLexLteMax(a: Arena, n: number, r: ZLexRangeSpec): boolean {
  const mo = znMemberOffset(a, n);
  return zslLexValueLteMax(znBytes(a, n), mo, mo + znLen(a, n), r);
}

function isInLexRange(a: Arena, zs: number, r: ZLexRangeSpec): boolean {
  if (lexRangeEmpty(r)) return false;
  const tail = zslLast(a, zs);
  if (tail === 0 || !nodeLexGteMin(a, tail, r)) return false;
  const first = zslFirst(a, zs);
  return first !== 0 && nodeLexLteMax(a, first, r);
}

export function zslFirstInLexRange(a: Arena, zs: number, r: ZLexRangeSpec): number {
  if (!isInLexRange(a, zs, r)) return 0;
  const w = hw(a, zs), b = hb(zs);
  let x = w[b + ZS_HEAD];
  for (let i = w[b + ZS_LEVEL] - 1; i >= 0; i--) {
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0 || nodeLexGteMin(a, f, r)) break;
      x = f;
    }
  }
  x = znForward(a, x, 0);
  return x !== 0 && nodeLexLteMax(a, x, r) ? x : 0;
}

export function zslLastInLexRange(a: Arena, zs: number, r: ZLexRangeSpec): number {
  if (!isInLexRange(a, zs, r)) return 0;
  const w = hw(a, zs), b = hb(zs);
  let x = w[b + ZS_HEAD];
  for (let i = w[b + ZS_LEVEL] - 1; i >= 0; i--) {
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0 || !nodeLexLteMax(a, f, r)) break;
      x = f;
    }
  }
  return x !== w[b + ZS_HEAD] && nodeLexGteMin(a, x, r) ? x : 0;
}

/** Remove and free every node from `x` on while `keep(x)` holds; update[] holds x's path. */
function deleteRun(a: Arena, zs: number, x: number, n: number): number {
  let removed = 0;
  while (x !== 0 && removed < n) {
    const next = znForward(a, x, 0);
    unlinkWithPath(a, zs, x);
    zdRemove(a, zs, x);
    a.free(x, znSize(a, x));
    removed++;
    x = next;
  }
  return removed;
}

/** Path to the first node of 1-based rank `start`, which is returned. */
function pathToRank(a: Arena, zs: number, start: number): number {
  const w = hw(a, zs), b = hb(zs);
  let x = w[b + ZS_HEAD], traversed = 0;
  for (let i = w[b + ZS_LEVEL] - 1; i >= 0; i--) {
    for (;;) {
      const f = znForward(a, x, i);
      if (f === 0 || traversed + znSpan(a, x, i) >= start) break;
      traversed += znSpan(a, x, i);
      x = f;
    }
    update[i] = x;
  }
  return znForward(a, x, 0);
}

/** zslDeleteRangeByRank(): remove 1-based ranks start..end inclusive; returns the count. */
export function zslDeleteRangeByRank(a: Arena, zs: number, start: number, end: number): number {
  return deleteRun(a, zs, pathToRank(a, zs, start), end - start + 1);
}

/** zslDeleteRangeByScore(). */
export function zslDeleteRangeByScore(a: Arena, zs: number, r: ZRangeSpec): number {
  const first = zslFirstInRange(a, zs, r);
  if (first === 0) return 0;
  const last = zslLastInRange(a, zs, r);
  const from = zslRank(a, zs, first), to = zslRank(a, zs, last);
  return zslDeleteRangeByRank(a, zs, from, to);
}

/** zslDeleteRangeByLex(). */
export function zslDeleteRangeByLex(a: Arena, zs: number, r: ZLexRangeSpec): number {
  const first = zslFirstInLexRange(a, zs, r);
  if (first === 0) return 0;
  const last = zslLastInLexRange(a, zs, r);
  const from = zslRank(a, zs, first), to = zslRank(a, zs, last);
  return zslDeleteRangeByRank(a, zs, from, to);
}

// ---- member index -------------------------------------------------------------------------

function bucketWords(a: Arena, table: number): Uint32Array {
  return a.u32[table >>> SEG_SHIFT]!;
}

function nodeHash(a: Arena, n: number): number {
  const mo = znMemberOffset(a, n);
  return hashBytes(znBytes(a, n), mo, mo + znLen(a, n), a.hashSeed);
}

/** The node of member m[s, e), or 0. */
export function zslFind(a: Arena, zs: number, m: Uint8Array, s: number, e: number): number {
  const w = hw(a, zs), b = hb(zs);
  if (w[b + ZS_REHASH] !== ZS_NOT_REHASHING) zdRehashStep(a, zs, ZD_REHASH_STEP);
  const hash = hashBytes(m, s, e, a.hashSeed);
  const len = e - s;
  for (let t = 0; t < 2; t++) {
    const size = w[b + (t === 0 ? ZS_S0 : ZS_S1)];
    if (size !== 0) {
      const table = w[b + (t === 0 ? ZS_T0 : ZS_T1)];
      let n = bucketWords(a, table)[(off(table) >>> 2) + (hash & (size - 1))];
      while (n !== 0) {
        if (znLen(a, n) === len && equalBytes(znBytes(a, n), znMemberOffset(a, n), m, s, len)) return n;
        n = znHnext(a, n);
      }
    }
    if (w[b + ZS_REHASH] === ZS_NOT_REHASHING) break;
  }
  return 0;
}

function zdAdd(a: Arena, zs: number, node: number, hash: number): void {
  const w = hw(a, zs), b = hb(zs);
  if (w[b + ZS_REHASH] !== ZS_NOT_REHASHING) zdRehashStep(a, zs, ZD_REHASH_STEP);
  else if (w[b + ZS_S0] === 0) zdResize(a, zs, ZD_INITIAL_SIZE);
  else if (w[b + ZS_U0] >= w[b + ZS_S0]) zdResize(a, zs, w[b + ZS_U0] + 1);
  const t = w[b + ZS_REHASH] !== ZS_NOT_REHASHING ? 1 : 0;
  const size = w[b + (t === 0 ? ZS_S0 : ZS_S1)], table = w[b + (t === 0 ? ZS_T0 : ZS_T1)];
  const words = bucketWords(a, table), idx = (off(table) >>> 2) + (hash & (size - 1));
  znSetHnext(a, node, words[idx]);
  words[idx] = node;
  w[b + (t === 0 ? ZS_U0 : ZS_U1)]++;
}

function zdRemove(a: Arena, zs: number, node: number): void {
  const w = hw(a, zs), b = hb(zs);
  const rehashing = w[b + ZS_REHASH] !== ZS_NOT_REHASHING;
  if (rehashing) zdRehashStep(a, zs, ZD_REHASH_STEP);
  const hash = nodeHash(a, node);
  for (let t = 0; t < 2; t++) {
    const size = w[b + (t === 0 ? ZS_S0 : ZS_S1)];
    if (size === 0) continue;
    const table = w[b + (t === 0 ? ZS_T0 : ZS_T1)];
    let words = bucketWords(a, table), idx = (off(table) >>> 2) + (hash & (size - 1));
    let n = words[idx];
    while (n !== 0) {
      if (n === node) {
        words[idx] = znHnext(a, n);
        w[b + (t === 0 ? ZS_U0 : ZS_U1)]--;
        if (w[b + ZS_REHASH] === ZS_NOT_REHASHING) zdShrinkIfNeeded(a, zs);
        return;
      }
      words = a.u32[n >>> SEG_SHIFT]!;
      idx = (off(n) + ZN_HNEXT) >>> 2;
      n = words[idx];
    }
  }
  throw new Error('zset member index: node not found');
}

/** htNeedsResize()/dictResize(): shrink a table under 10% full. */
function zdShrinkIfNeeded(a: Arena, zs: number): void {
  const w = hw(a, zs), b = hb(zs);
  const size = w[b + ZS_S0], used = w[b + ZS_U0];
  if (size > ZD_INITIAL_SIZE && used * 100 < size * 10) zdResize(a, zs, used < ZD_INITIAL_SIZE ? ZD_INITIAL_SIZE : used);
}

/** Start rehashing into a table of the next power of two >= minSize. */
function zdResize(a: Arena, zs: number, minSize: number): void {
  const w = hw(a, zs), b = hb(zs);
  let size = ZD_INITIAL_SIZE;
  while (size < minSize) size *= 2;
  if (size === w[b + ZS_S0]) return;
  const bytes = size * 4;
  const table = a.alloc(bytes);
  // Fresh dedicated segments are zero already; reused blocks are not.
  if (blockSize(bytes) < LARGE_BLOCK) {
    const o = off(table) >>> 2;
    bucketWords(a, table).fill(0, o, o + size);
  }
  if (w[b + ZS_S0] === 0) {
    w[b + ZS_T0] = table;
    w[b + ZS_S0] = size;
    return;
  }
  w[b + ZS_T1] = table;
  w[b + ZS_S1] = size;
  w[b + ZS_U1] = 0;
  w[b + ZS_REHASH] = 0;
}

/** Move up to n buckets of table 0 into table 1 (dictRehash); true while more remain. */
export function zdRehashStep(a: Arena, zs: number, n: number): boolean {
  const w = hw(a, zs), b = hb(zs);
  if (w[b + ZS_REHASH] === ZS_NOT_REHASHING) return false;
  let emptyVisits = n * ZD_EMPTY_VISITS;
  const t0 = w[b + ZS_T0], s0 = w[b + ZS_S0];
  const t1 = w[b + ZS_T1], mask1 = w[b + ZS_S1] - 1;
  const w0 = bucketWords(a, t0), b0 = off(t0) >>> 2;
  const w1 = bucketWords(a, t1), b1 = off(t1) >>> 2;
  let idx = w[b + ZS_REHASH];
  while (n-- > 0 && w[b + ZS_U0] !== 0) {
    while (w0[b0 + idx] === 0) {
      idx++;
      if (--emptyVisits === 0) {
        w[b + ZS_REHASH] = idx;
        return true;
      }
    }
    let node = w0[b0 + idx];
    while (node !== 0) {
      const next = znHnext(a, node);
      const dst = b1 + (nodeHash(a, node) & mask1);
      znSetHnext(a, node, w1[dst]);
      w1[dst] = node;
      w[b + ZS_U0]--;
      w[b + ZS_U1]++;
      node = next;
    }
    w0[b0 + idx] = 0;
    idx++;
  }
  if (w[b + ZS_U0] === 0) {
    a.free(t0, s0 * 4);
    w[b + ZS_T0] = t1;
    w[b + ZS_S0] = w[b + ZS_S1];
    w[b + ZS_U0] = w[b + ZS_U1];
    w[b + ZS_T1] = 0;
    w[b + ZS_S1] = 0;
    w[b + ZS_U1] = 0;
    w[b + ZS_REHASH] = ZS_NOT_REHASHING;
    return false;
  }
  w[b + ZS_REHASH] = idx;
  return true;
}

/**
 * One step of ZSCAN over the member index with Redis's reverse-binary cursor (dictScan):
 * calls fn for each node of the buckets for `cursor`; returns the next cursor (0: done).
 */
export function zslScanStep(a: Arena, zs: number, cursor: number, fn: (node: number) => void): number {
  const w = hw(a, zs), b = hb(zs);
  if (zslLength(a, zs) === 0 || w[b + ZS_S0] === 0) return 0;
  let v = cursor >>> 0;
  const visit = (table: number, i: number): void => {
    let n = bucketWords(a, table)[(off(table) >>> 2) + i];
    while (n !== 0) {
      const next = znHnext(a, n);
      fn(n);
      n = next;
    }
  };
  if (w[b + ZS_REHASH] === ZS_NOT_REHASHING) {
    const m0 = w[b + ZS_S0] - 1;
    visit(w[b + ZS_T0], v & m0);
    v = (v | ~m0) >>> 0;
    v = rev32(v);
    v = (v + 1) >>> 0;
    v = rev32(v);
  } else {
    let tS = w[b + ZS_T0], tL = w[b + ZS_T1];
    let mS = w[b + ZS_S0] - 1, mL = w[b + ZS_S1] - 1;
    if (mS > mL) {
      const t = tS; tS = tL; tL = t;
      const m = mS; mS = mL; mL = m;
    }
    visit(tS, v & mS);
    do {
      visit(tL, v & mL);
      v = (v | ~mL) >>> 0;
      v = rev32(v);
      v = (v + 1) >>> 0;
      v = rev32(v);
    } while ((v & (mS ^ mL)) !== 0);
  }
  return v;
}

// ---- freeing --------------------------------------------------------------------------------

/** Free nodes from the front until `deadline` (performance.now() ms); true once all is freed. */
export function zslFreeStep(a: Arena, zs: number, deadline: number): boolean {
  const w = hw(a, zs), b = hb(zs);
  const head = w[b + ZS_HEAD];
  let x = znForward(a, head, 0), k = 0;
  while (x !== 0) {
    const next = znForward(a, x, 0);
    a.free(x, znSize(a, x));
    x = next;
    if ((++k & 255) === 0 && performance.now() >= deadline) {
      // The level-0 chain from the head is all that is left to free.
      znSetForward(a, head, 0, x);
      return x === 0 ? zslFreeShell(a, zs) : false;
    }
  }
  return zslFreeShell(a, zs);
}

/** Free the header, head node and index tables (nodes already freed). */
function zslFreeShell(a: Arena, zs: number): boolean {
  const w = hw(a, zs), b = hb(zs);
  if (w[b + ZS_S0] !== 0) a.free(w[b + ZS_T0], w[b + ZS_S0] * 4);
  if (w[b + ZS_S1] !== 0) a.free(w[b + ZS_T1], w[b + ZS_S1] * 4);
  a.free(w[b + ZS_HEAD], znodeSize(ZSKIPLIST_MAXLEVEL, 0));
  a.free(zs, ZS_HEADER_BYTES);
  return true;
}

/** Free a whole zset now. */
export function zslFree(a: Arena, zs: number): void {
  zslFreeStep(a, zs, Infinity);
}

/** Bytes the zset holds in the arena (class sizes), for tests and MEMORY-style accounting. */
export function zslBytes(a: Arena, zs: number): number {
  const w = hw(a, zs), b = hb(zs);
  let total = blockSize(ZS_HEADER_BYTES) + blockSize(znodeSize(ZSKIPLIST_MAXLEVEL, 0));
  if (w[b + ZS_S0] !== 0) total += blockSize(w[b + ZS_S0] * 4);
  if (w[b + ZS_S1] !== 0) total += blockSize(w[b + ZS_S1] * 4);
  for (let x = zslFirst(a, zs); x !== 0; x = znForward(a, x, 0)) total += blockSize(znSize(a, x));
  return total;
}

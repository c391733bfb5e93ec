/**
 * Lists in the shard arena, as Redis 7.0's quicklist: a header block and a doubly linked
 * list of nodes, each node a compact run of entries (native-layout/quicklist.md). Pushes
 * and pops at either end are O(1); positional access walks whole nodes from the nearer
 * end of the list, then entries from the nearer end of the node.
 *
 * Node fill follows list-max-listpack-size exactly as quicklist.c does: a negative fill
 * caps a node at 4/8/16/32/64 KB (as Redis counts listpack bytes), a positive one at that
 * many entries (and 8 KB). The fill is fixed when the list is created, as Redis's ql->fill.
 *
 * Everything lives in the arena; the only JS state is the cursor below (one per thread,
 * valid within one command), so any thread that holds the arena can run this code.
 */
import { Arena, blockSize } from './arena';
import type { ReplyWriter } from '../protocol/resp-writer';
import { ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, GRANULE_SHIFT } from '../../native-layout/arena';
import {
  E_LEN1_MAX, E_LEN2_MAX, E_LEN2_TAG, E_LEN5_TAG, FILL_MAX, FILL_SAFETY_LIMIT, FILL_SIZE_LIMITS, LISTPACK_EMPTY_BYTES,
  N_COUNT, N_HEADER, N_HI, N_LO, N_NEXT, N_PREV, N_SIZE, QL_COUNT, QL_FILL, QL_HEAD, QL_HEADER_BYTES, QL_NODES,
  QL_TAIL,
} from '../../native-layout/quicklist';

/** Ends of a list, numbered as Redis's LIST_HEAD / LIST_TAIL. */
export const LIST_HEAD = 0;
export const LIST_TAIL = 1;

/**
 * The element the last peek/seek/next/prev landed on: el.u8[el.start, el.end). Valid until
 * the list is modified or the next call that moves the cursor.
 */
export const el: { u8: Uint8Array; start: number; end: number } = { u8: new Uint8Array(0), start: 0, end: 0 };

// ---- cursor (current entry of the list being walked) ------------------------------------
let curNode = 0; // node address
let curBase = 0; // byte offset of the node block in its segment
let curU8: Uint8Array = el.u8;
let curStart = 0; // absolute offset of the current entry (its length field)
let curEnd = 0; // absolute offset just past it

// ---- raw access --------------------------------------------------------------------------

function off(addr: number): number {
  return (addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT;
}
function seg(addr: number): number {
  return addr >>> ADDR_OFFSET_BITS;
}
function w32(a: Arena, addr: number): Uint32Array {
  return a.u32[addr >>> ADDR_OFFSET_BITS]!;
}
/** u32 field of a block. */
function get(a: Arena, addr: number, field: number): number {
  return a.u32[addr >>> ADDR_OFFSET_BITS]![(off(addr) + field) >>> 2];
}
function put(a: Arena, addr: number, field: number, v: number): void {
  a.u32[addr >>> ADDR_OFFSET_BITS]![(off(addr) + field) >>> 2] = v;
}

export function qlLength(a: Arena, ql: number): number {
  return a.f64[seg(ql)]![(off(ql) + QL_COUNT) >>> 3];
}
function addCount(a: Arena, ql: number, n: number): void {
  a.f64[seg(ql)]![(off(ql) + QL_COUNT) >>> 3] += n;
}
export function qlNodeCount(a: Arena, ql: number): number {
  return get(a, ql, QL_NODES);
}
function fillOf(a: Arena, ql: number): number {
  return get(a, ql, QL_FILL) | 0;
}

// ---- entries -----------------------------------------------------------------------------

function lenBytes(len: number): number {
  return len <= E_LEN1_MAX ? 1 : len <= E_LEN2_MAX ? 2 : 5;
}
/** Bytes an element of `len` bytes takes as an entry. */
export function entrySize(len: number): number {
  return len + 2 * lenBytes(len);
}

/** Write an entry for src[s, e) at u8[p]; returns the offset past it. */
function writeEntry(u8: Uint8Array, p: number, src: Uint8Array, s: number, e: number): number {
  const len = e - s;
  if (len <= E_LEN1_MAX) {
    u8[p++] = len;
    if (len <= 16) for (let i = s; i < e; i++) u8[p++] = src[i];
    else { u8.set(src.subarray(s, e), p); p += len; }
    u8[p++] = len;
    return p;
  }
  if (len <= E_LEN2_MAX) {
    u8[p++] = E_LEN2_TAG | (len >>> 8);
    u8[p++] = len & 0xff;
    u8.set(src.subarray(s, e), p);
    p += len;
    u8[p++] = len & 0xff;
    u8[p++] = E_LEN2_TAG | (len >>> 8);
    return p;
  }
  u8[p++] = E_LEN5_TAG;
  u8[p++] = len & 0xff; u8[p++] = (len >>> 8) & 0xff; u8[p++] = (len >>> 16) & 0xff; u8[p++] = len >>> 24;
  u8.set(src.subarray(s, e), p);
  p += len;
  u8[p++] = len & 0xff; u8[p++] = (len >>> 8) & 0xff; u8[p++] = (len >>> 16) & 0xff; u8[p++] = len >>> 24;
  u8[p++] = E_LEN5_TAG;
  return p;
}

/** Decode the entry starting at u8[p] into el (start/end); returns the offset past the entry. */
function entryAt(u8: Uint8Array, p: number): number {
  const b = u8[p];
  if (b < E_LEN2_TAG) {
    el.start = p + 1;
    el.end = p + 1 + b;
    return el.end + 1;
  }
  if (b < E_LEN5_TAG) {
    el.start = p + 2;
    el.end = el.start + (((b & 0x3f) << 8) | u8[p + 1]);
    return el.end + 2;
  }
  el.start = p + 5;
  el.end = el.start + ((u8[p + 1] | (u8[p + 2] << 8) | (u8[p + 3] << 16) | (u8[p + 4] << 24)) >>> 0);
  return el.end + 5;
}

/** Decode the entry ending at u8[q] into el; returns the offset where the entry starts. */
function entryBefore(u8: Uint8Array, q: number): number {
  const b = u8[q - 1];
  if (b < E_LEN2_TAG) {
    el.end = q - 1;
    el.start = el.end - b;
    return el.start - 1;
  }
  if (b < E_LEN5_TAG) {
    el.end = q - 2;
    el.start = el.end - (((b & 0x3f) << 8) | u8[q - 2]);
    return el.start - 2;
  }
  el.end = q - 5;
  el.start = el.end - ((u8[q - 5] | (u8[q - 4] << 8) | (u8[q - 3] << 16) | (u8[q - 2] << 24)) >>> 0);
  return el.start - 5;
}

// ---- fill rules (quicklist.c) ------------------------------------------------------------

/** Clamp a list-max-listpack-size value as quicklistSetFill does. */
export function clampFill(fill: number): number {
  if (fill > FILL_MAX) return FILL_MAX;
  if (fill < -5) return -5;
  return fill | 0;
}

/** _quicklistNodeSizeMeetsOptimizationRequirement */
function sizeMeetsOptimization(sz: number, fill: number): boolean {
  if (fill >= 0) return false;
  return sz <= FILL_SIZE_LIMITS[-fill - 1];
}

/** The node's size as Redis would count its listpack bytes. */
function nodeSz(a: Arena, node: number): number {
  return get(a, node, N_HI) - get(a, node, N_LO) + LISTPACK_EMPTY_BYTES;
}

/** _quicklistNodeAllowInsert: may `node` take one more element of `len` bytes? */
function allowInsert(a: Arena, node: number, fill: number, len: number): boolean {
  if (node === 0) return false;
  // Redis's estimate of the listpack entry overhead (prevlen + encoding).
  const overhead = (len < 254 ? 1 : 5) + (len < 64 ? 1 : len < 16384 ? 2 : 5);
  const newSz = nodeSz(a, node) + len + overhead;
  if (sizeMeetsOptimization(newSz, fill)) return true;
  if (newSz > FILL_SAFETY_LIMIT) return false;
  return get(a, node, N_COUNT) < fill;
}

/** _quicklistNodeAllowMerge */
function allowMerge(a: Arena, x: number, y: number, fill: number): boolean {
  if (x === 0 || y === 0) return false;
  const mergeSz = nodeSz(a, x) + nodeSz(a, y) - LISTPACK_EMPTY_BYTES;
  if (sizeMeetsOptimization(mergeSz, fill)) return true;
  if (mergeSz > FILL_SAFETY_LIMIT) return false;
  return get(a, x, N_COUNT) + get(a, y, N_COUNT) <= fill;
}

/** The most entry bytes a node grows to ahead of need (more only for one big element). */
function nodeCap(fill: number): number {
  return fill < 0 ? FILL_SIZE_LIMITS[-fill - 1] : FILL_SAFETY_LIMIT;
}

// ---- nodes -------------------------------------------------------------------------------

/** A new unlinked, empty node with room for `bytes` of entries, the room at its head side or tail side. */
function newNode(a: Arena, bytes: number, roomAtHead: boolean): number {
  const size = blockSize(N_HEADER + bytes);
  const node = a.alloc(size);
  const u32 = w32(a, node), w = off(node) >>> 2;
  u32[w] = 0;
  u32[w + 1] = 0;
  u32[w + 2] = 0;
  u32[w + 3] = size;
  const at = roomAtHead ? size : N_HEADER;
  u32[w + 4] = at;
  u32[w + 5] = at;
  return node;
}

/** Link `node` after (or before) `at`; at === 0 on an empty list. */
function linkNode(a: Arena, ql: number, at: number, node: number, after: boolean): void {
  if (at === 0) {
    put(a, node, N_PREV, 0);
    put(a, node, N_NEXT, 0);
    put(a, ql, QL_HEAD, node);
    put(a, ql, QL_TAIL, node);
  } else if (after) {
    const next = get(a, at, N_NEXT);
    put(a, node, N_PREV, at);
    put(a, node, N_NEXT, next);
    put(a, at, N_NEXT, node);
    if (next === 0) put(a, ql, QL_TAIL, node); else put(a, next, N_PREV, node);
  } else {
    const prev = get(a, at, N_PREV);
    put(a, node, N_NEXT, at);
    put(a, node, N_PREV, prev);
    put(a, at, N_PREV, node);
    if (prev === 0) put(a, ql, QL_HEAD, node); else put(a, prev, N_NEXT, node);
  }
  put(a, ql, QL_NODES, get(a, ql, QL_NODES) + 1);
}

/** Unlink and free a node (its entries must already be accounted for in the list count). */
function dropNode(a: Arena, ql: number, node: number): void {
  const prev = get(a, node, N_PREV), next = get(a, node, N_NEXT);
  if (prev === 0) put(a, ql, QL_HEAD, next); else put(a, prev, N_NEXT, next);
  if (next === 0) put(a, ql, QL_TAIL, prev); else put(a, next, N_PREV, prev);
  put(a, ql, QL_NODES, get(a, ql, QL_NODES) - 1);
  a.free(node, get(a, node, N_SIZE));
}

/** Put `to` in place of `from` in the chain (same prev/next); frees nothing. */
function replaceNode(a: Arena, ql: number, from: number, to: number): void {
  const prev = get(a, from, N_PREV), next = get(a, from, N_NEXT);
  put(a, to, N_PREV, prev);
  put(a, to, N_NEXT, next);
  if (prev === 0) put(a, ql, QL_HEAD, to); else put(a, prev, N_NEXT, to);
  if (next === 0) put(a, ql, QL_TAIL, to); else put(a, next, N_PREV, to);
}

/**
 * Move a node's entries into a new block of `size` bytes (a class size), with the entry
 * bytes [lo, at) and [at, hi) placed around a gap of `gap` bytes starting at offset
 * `newLo + (at - lo)`. Returns the new node; the old block is freed.
 */
function moveNode(a: Arena, ql: number, node: number, size: number, newLo: number, at: number, gap: number): number {
  const n = a.alloc(size);
  const su8 = a.u8[seg(node)]!, sb = off(node);
  const du8 = a.u8[seg(n)]!, db = off(n);
  const lo = get(a, node, N_LO), hi = get(a, node, N_HI);
  const cut = newLo + (at - lo);
  du8.set(su8.subarray(sb + lo, sb + at), db + newLo);
  du8.set(su8.subarray(sb + at, sb + hi), db + cut + gap);
  put(a, n, N_COUNT, get(a, node, N_COUNT));
  put(a, n, N_SIZE, size);
  put(a, n, N_LO, newLo);
  put(a, n, N_HI, newLo + (hi - lo) + gap);
  replaceNode(a, ql, node, n);
  a.free(node, get(a, node, N_SIZE));
  return n;
}

/** Output of openGap: the (possibly moved) node and the gap's offset in it. */
let gapNode = 0;
let gapAt = 0;

/**
 * Make `gap` free bytes at offset `at` (an entry boundary) of `node`, moving whichever
 * side is cheaper or growing the block. Sets gapNode/gapAt; lo/hi already include the gap.
 */
function openGap(a: Arena, ql: number, node: number, at: number, gap: number, fill: number): void {
  const u32 = w32(a, node), w = off(node) >>> 2, base = off(node);
  const size = u32[w + 3], lo = u32[w + 4], hi = u32[w + 5];
  const u8 = a.u8[seg(node)]!;
  const roomHead = lo - N_HEADER, roomTail = size - hi;
  if (roomTail >= gap && (hi - at <= at - lo || roomHead < gap)) {
    if (hi > at) u8.copyWithin(base + at + gap, base + at, base + hi);
    u32[w + 5] = hi + gap;
    gapNode = node;
    gapAt = at;
    return;
  }
  if (roomHead >= gap) {
    if (at > lo) u8.copyWithin(base + lo - gap, base + lo, base + at);
    u32[w + 4] = lo - gap;
    gapNode = node;
    gapAt = at - gap;
    return;
  }
  // Grow: double the entry bytes (within the node cap), room split around the data.
  const used = hi - lo + gap;
  let want = used * 2;
  const cap = nodeCap(fill);
  if (want > cap) want = cap > used ? cap : used;
  const newSize = blockSize(N_HEADER + want);
  const spare = newSize - N_HEADER - used;
  const newLo = N_HEADER + (spare >>> 1);
  gapNode = moveNode(a, ql, node, newSize, newLo, at, gap);
  gapAt = newLo + (at - lo);
}

/** Remove bytes [at, at + gap) of a node, moving the cheaper side. */
function closeGap(a: Arena, node: number, at: number, gap: number): void {
  const u32 = w32(a, node), w = off(node) >>> 2, base = off(node);
  const lo = u32[w + 4], hi = u32[w + 5];
  const u8 = a.u8[seg(node)]!;
  if (at - lo < hi - at - gap) {
    if (at > lo) u8.copyWithin(base + lo + gap, base + lo, base + at);
    u32[w + 4] = lo + gap;
  } else {
    if (hi > at + gap) u8.copyWithin(base + at, base + at + gap, base + hi);
    u32[w + 5] = hi - gap;
  }
}

/** Shrink a node that will not grow any more (its list end moved on) to its entries. */
function compactNode(a: Arena, ql: number, node: number): void {
  const size = get(a, node, N_SIZE), lo = get(a, node, N_LO), hi = get(a, node, N_HI);
  const fit = blockSize(N_HEADER + hi - lo);
  if (fit < size) moveNode(a, ql, node, fit, N_HEADER, hi, 0);
}

/**
 * Room for `need` bytes at the head (or tail) end of a node's entries. Re-centres the
 * entries when the block has ample room, else grows it. Returns the node (maybe moved).
 */
function reserveEnd(a: Arena, ql: number, node: number, need: number, atHead: boolean, fill: number): number {
  const u32 = w32(a, node), w = off(node) >>> 2;
  const size = u32[w + 3], lo = u32[w + 4], hi = u32[w + 5];
  if (atHead ? lo - N_HEADER >= need : size - hi >= need) return node;
  const used = hi - lo;
  const free = size - N_HEADER - used;
  if (free >= need && free - need >= used >>> 2) {
    // Ample room on the other side: move the entries so 3/4 of the spare is on the pushing side.
    const spare = free - need;
    const newLo = atHead ? N_HEADER + need + spare - (spare >>> 2) : N_HEADER + (spare >>> 2);
    const u8 = a.u8[seg(node)]!, base = off(node);
    u8.copyWithin(base + newLo, base + lo, base + hi);
    u32[w + 4] = newLo;
    u32[w + 5] = newLo + used;
    return node;
  }
  let want = (used + need) * 2;
  const cap = nodeCap(fill);
  if (want > cap) want = cap > used + need ? cap : used + need;
  const newSize = blockSize(N_HEADER + want);
  const spare = newSize - N_HEADER - used - need;
  const newLo = atHead ? N_HEADER + need + spare - (spare >>> 2) : N_HEADER + (spare >>> 2);
  return moveNode(a, ql, node, newSize, newLo, hi, 0);
}

// ---- whole lists -------------------------------------------------------------------------

/** A new empty list with Redis's fill for it (list-max-listpack-size at creation). */
export function qlCreate(a: Arena, fill: number): number {
  const ql = a.alloc(QL_HEADER_BYTES);
  const u32 = w32(a, ql), w = off(ql) >>> 2;
  u32[w] = 0;
  u32[w + 1] = 0;
  a.f64[seg(ql)]![(off(ql) + QL_COUNT) >>> 3] = 0;
  u32[w + 4] = 0;
  u32[w + 5] = clampFill(fill) >>> 0;
  return ql;
}

/** Free a list entirely. */
export function qlFree(a: Arena, ql: number): void {
  let node = get(a, ql, QL_HEAD);
  while (node !== 0) {
    const next = get(a, node, N_NEXT);
    a.free(node, get(a, node, N_SIZE));
    node = next;
  }
  a.free(ql, QL_HEADER_BYTES);
}

/** Free a list's nodes until `deadline` (performance.now() ms); true once all is freed. */
export function qlFreeStep(a: Arena, ql: number, deadline: number): boolean {
  let node = get(a, ql, QL_HEAD);
  let n = 0;
  while (node !== 0) {
    const next = get(a, node, N_NEXT);
    a.free(node, get(a, node, N_SIZE));
    node = next;
    if ((++n & 31) === 0 && performance.now() >= deadline) {
      put(a, ql, QL_HEAD, node);
      return false;
    }
  }
  a.free(ql, QL_HEADER_BYTES);
  return true;
}

/** Copy a list of arena `from` into arena `to` (nodes packed tight); returns the new header. */
export function qlClone(from: Arena, ql: number, to: Arena): number {
  const copy = qlCreate(to, fillOf(from, ql));
  let prev = 0;
  for (let node = get(from, ql, QL_HEAD); node !== 0; node = get(from, node, N_NEXT)) {
    const lo = get(from, node, N_LO), hi = get(from, node, N_HI);
    const n = newNode(to, hi - lo, false);
    const sb = off(node), db = off(n);
    to.u8[seg(n)]!.set(from.u8[seg(node)]!.subarray(sb + lo, sb + hi), db + N_HEADER);
    put(to, n, N_COUNT, get(from, node, N_COUNT));
    put(to, n, N_HI, N_HEADER + hi - lo);
    linkNode(to, copy, prev, n, true);
    prev = n;
  }
  addCount(to, copy, qlLength(from, ql));
  return copy;
}

// ---- push / pop --------------------------------------------------------------------------

/** quicklistPush: add src[s, e) at the head or tail. */
export function qlPush(a: Arena, ql: number, where: number, src: Uint8Array, s: number, e: number): void {
  const len = e - s, need = entrySize(len), fill = fillOf(a, ql);
  const atHead = where === LIST_HEAD;
  let node = get(a, ql, atHead ? QL_HEAD : QL_TAIL);
  if (!allowInsert(a, node, fill, len)) {
    if (node !== 0) compactNode(a, ql, node);
    const fresh = newNode(a, need, atHead);
    linkNode(a, ql, get(a, ql, atHead ? QL_HEAD : QL_TAIL), fresh, !atHead);
    node = fresh;
  } else {
    node = reserveEnd(a, ql, node, need, atHead, fill);
  }
  const u32 = w32(a, node), w = off(node) >>> 2, base = off(node), u8 = a.u8[seg(node)]!;
  if (atHead) {
    const lo = u32[w + 4] - need;
    writeEntry(u8, base + lo, src, s, e);
    u32[w + 4] = lo;
  } else {
    const hi = u32[w + 5];
    writeEntry(u8, base + hi, src, s, e);
    u32[w + 5] = hi + need;
  }
  u32[w + 2]++;
  addCount(a, ql, 1);
}

/** Load the head (or tail) element into el; false on an empty list. */
export function qlPeek(a: Arena, ql: number, where: number): boolean {
  const node = get(a, ql, where === LIST_HEAD ? QL_HEAD : QL_TAIL);
  if (node === 0) return false;
  const u8 = a.u8[seg(node)]!, base = off(node);
  el.u8 = u8;
  if (where === LIST_HEAD) entryAt(u8, base + get(a, node, N_LO));
  else entryBefore(u8, base + get(a, node, N_HI));
  return true;
}

/** Delete n elements from the head (quicklistDelRange(0, n)). */
export function qlDelHead(a: Arena, ql: number, n: number): void {
  addCount(a, ql, -n);
  while (n > 0) {
    const node = get(a, ql, QL_HEAD);
    const cnt = get(a, node, N_COUNT);
    if (cnt <= n) {
      n -= cnt;
      dropNode(a, ql, node);
      continue;
    }
    const u8 = a.u8[seg(node)]!, base = off(node);
    let p = base + get(a, node, N_LO);
    for (let i = 0; i < n; i++) p = entryAt(u8, p);
    put(a, node, N_LO, p - base);
    put(a, node, N_COUNT, cnt - n);
    n = 0;
  }
}

/** Delete n elements from the tail (quicklistDelRange(-n, n)). */
export function qlDelTail(a: Arena, ql: number, n: number): void {
  addCount(a, ql, -n);
  while (n > 0) {
    const node = get(a, ql, QL_TAIL);
    const cnt = get(a, node, N_COUNT);
    if (cnt <= n) {
      n -= cnt;
      dropNode(a, ql, node);
      continue;
    }
    const u8 = a.u8[seg(node)]!, base = off(node);
    let q = base + get(a, node, N_HI);
    for (let i = 0; i < n; i++) q = entryBefore(u8, q);
    put(a, node, N_HI, q - base);
    put(a, node, N_COUNT, cnt - n);
    n = 0;
  }
}

// ---- cursor ------------------------------------------------------------------------------

function enterNode(a: Arena, node: number): void {
  curNode = node;
  curBase = off(node);
  curU8 = a.u8[seg(node)]!;
  el.u8 = curU8;
}

/**
 * Put the cursor on element `index` (negative counts from the tail, as LINDEX) and load it
 * into el; false when out of range. Walks from the nearer end (quicklistGetIteratorAtIdx).
 */
export function qlSeek(a: Arena, ql: number, index: number): boolean {
  const count = qlLength(a, ql);
  let i = index >= 0 ? index : count + index;
  if (i < 0 || i >= count) return false;
  let node: number;
  if (i < count / 2) {
    node = get(a, ql, QL_HEAD);
    for (let c = get(a, node, N_COUNT); i >= c; c = get(a, node, N_COUNT)) {
      i -= c;
      node = get(a, node, N_NEXT);
    }
  } else {
    let back = count - 1 - i; // position from the tail
    node = get(a, ql, QL_TAIL);
    for (let c = get(a, node, N_COUNT); back >= c; c = get(a, node, N_COUNT)) {
      back -= c;
      node = get(a, node, N_PREV);
    }
    i = get(a, node, N_COUNT) - 1 - back;
  }
  enterNode(a, node);
  const cnt = get(a, node, N_COUNT);
  if (i < cnt / 2) {
    let p = curBase + get(a, node, N_LO);
    for (; i > 0; i--) p = entryAt(curU8, p);
    curStart = p;
    curEnd = entryAt(curU8, p);
  } else {
    let q = curBase + get(a, node, N_HI);
    for (let k = cnt - 1 - i; k > 0; k--) q = entryBefore(curU8, q);
    curEnd = q;
    curStart = entryBefore(curU8, q);
  }
  return true;
}

/** Move the cursor to the next element (towards the tail); false past the end. */
export function qlNext(a: Arena): boolean {
  if (curEnd === curBase + get(a, curNode, N_HI)) {
    const next = get(a, curNode, N_NEXT);
    if (next === 0) return false;
    enterNode(a, next);
    curStart = curBase + get(a, next, N_LO);
  } else {
    curStart = curEnd;
  }
  curEnd = entryAt(curU8, curStart);
  return true;
}

/** Move the cursor to the previous element (towards the head); false past the start. */
export function qlPrev(a: Arena): boolean {
  if (curStart === curBase + get(a, curNode, N_LO)) {
    const prev = get(a, curNode, N_PREV);
    if (prev === 0) return false;
    enterNode(a, prev);
    curEnd = curBase + get(a, prev, N_HI);
  } else {
    curEnd = curStart;
  }
  curStart = entryBefore(curU8, curEnd);
  return true;
}

/**
 * LRANGE's hot loop: write n elements, from the cursor's on (towards the tail, or the head
 * when reverse), as RESP bulk strings straight into the reply buffer: one capacity check
 * per node, no per-element calls. The cursor is left on the last element written.
 */
export function qlWriteBulks(a: Arena, w: ReplyWriter, n: number, reverse: boolean): void {
  let node = curNode, base = curBase;
  let p = reverse ? curEnd : curStart;
  for (;;) {
    const lo = base + get(a, node, N_LO), hi = base + get(a, node, N_HI);
    // Worst case per entry: "$" + 10 digits + 2 CRLF on top of its bytes (which include its length fields).
    w.ensure((reverse ? p - lo : hi - p) + get(a, node, N_COUNT) * 15);
    const u8 = a.u8[seg(node)]!;
    if (reverse) {
      while (n > 0 && p > lo) {
        p = entryBefore(u8, p);
        writeBulk(w, u8, el.start, el.end);
        n--;
      }
    } else {
      while (n > 0 && p < hi) {
        p = entryAt(u8, p);
        writeBulk(w, u8, el.start, el.end);
        n--;
      }
    }
    if (n === 0) break;
    node = get(a, node, reverse ? N_PREV : N_NEXT);
    base = off(node);
    p = base + get(a, node, reverse ? N_HI : N_LO);
  }
}

/** $len CRLF bytes CRLF into w.buf, whose room the caller ensured. */
function writeBulk(w: ReplyWriter, u8: Uint8Array, s: number, e: number): void {
  const buf = w.buf, len = e - s;
  let o = w.len;
  buf[o++] = 36; // $
  if (len < 10) buf[o++] = 48 + len;
  else if (len < 100) {
    const t = (len / 10) | 0;
    buf[o++] = 48 + t;
    buf[o++] = 48 + len - t * 10;
  } else {
    let d = 1;
    for (let x = len; x >= 10; x = (x / 10) | 0) d++;
    for (let x = len, q = o + d - 1; q >= o; q--) {
      const t = (x / 10) | 0;
      buf[q] = 48 + x - t * 10;
      x = t;
    }
    o += d;
  }
  buf[o++] = 13;
  buf[o++] = 10;
  if (len <= 32) for (let i = s; i < e; i++) buf[o++] = u8[i];
  else {
    buf.set(u8.subarray(s, e), o);
    o += len;
  }
  buf[o++] = 13;
  buf[o++] = 10;
  w.len = o;
}

/** Is the cursor's element equal to src[s, e)? */
export function qlCurrentEquals(src: Uint8Array, s: number, e: number): boolean {
  const n = e - s;
  if (el.end - el.start !== n) return false;
  const u8 = el.u8;
  for (let i = 0, p = el.start; i < n; i++, p++) if (u8[p] !== src[s + i]) return false;
  return true;
}

/**
 * LSET: put src[s, e) in place of element `index` (negative from the tail); false when out
 * of range. In place, unless a bigger value would push a shared node past its limit: then
 * the element is deleted and the value inserted at its position, splitting as an insert does.
 */
export function qlReplaceAt(a: Arena, ql: number, index: number, src: Uint8Array, s: number, e: number): boolean {
  if (!qlSeek(a, ql, index)) return false;
  const node = curNode, fill = fillOf(a, ql);
  const at = curStart - curBase, oldSize = curEnd - curStart, newSize = entrySize(e - s);
  const grownSz = nodeSz(a, node) - oldSize + newSize;
  if (newSize > oldSize && get(a, node, N_COUNT) > 1 && !sizeMeetsOptimization(grownSz, fill)
    && grownSz > FILL_SAFETY_LIMIT) {
    qlDeleteCurrent(a, ql);
    const count = qlLength(a, ql);
    const i = index >= 0 ? index : count + 1 + index;
    if (i >= count) qlPush(a, ql, LIST_TAIL, src, s, e);
    else {
      qlSeek(a, ql, i);
      qlInsertAtCursor(a, ql, false, src, s, e);
    }
    return true;
  }
  let n = node, start = at;
  if (newSize > oldSize) {
    // Room right after the old entry; whichever side moved, the old entry ends at the gap.
    openGap(a, ql, node, at + oldSize, newSize - oldSize, fill);
    n = gapNode;
    start = gapAt - oldSize;
  } else if (newSize < oldSize) {
    const lo = get(a, node, N_LO);
    closeGap(a, node, at + newSize, oldSize - newSize);
    // If the head side moved right to close the gap, the entry moved with it.
    if (get(a, node, N_LO) !== lo) start = at + (oldSize - newSize);
  }
  writeEntry(a.u8[seg(n)]!, off(n) + start, src, s, e);
  return true;
}

/** Delete the cursor's element (LREM-style single delete); the cursor is invalid afterwards. */
export function qlDeleteCurrent(a: Arena, ql: number): void {
  const node = curNode;
  const cnt = get(a, node, N_COUNT) - 1;
  addCount(a, ql, -1);
  if (cnt === 0) {
    dropNode(a, ql, node);
    return;
  }
  put(a, node, N_COUNT, cnt);
  closeGap(a, node, curStart - curBase, curEnd - curStart);
}

/**
 * _quicklistInsert: add src[s, e) after (or before) the cursor's element. The cursor is
 * invalid afterwards.
 */
export function qlInsertAtCursor(a: Arena, ql: number, after: boolean, src: Uint8Array, s: number, e: number): void {
  const fill = fillOf(a, ql), len = e - s, need = entrySize(len);
  const node = curNode;
  const lo = get(a, node, N_LO), hi = get(a, node, N_HI);
  const full = !allowInsert(a, node, fill, len);
  const atTail = after && curEnd === curBase + hi;
  const atHead = !after && curStart === curBase + lo;
  const next = get(a, node, N_NEXT), prev = get(a, node, N_PREV);
  addCount(a, ql, 1);
  if (!full) {
    openGap(a, ql, node, after ? curEnd - curBase : curStart - curBase, need, fill);
    put(a, gapNode, N_COUNT, get(a, gapNode, N_COUNT) + 1);
    writeAt(a, gapNode, gapAt, src, s, e);
    return;
  }
  if (atTail && allowInsert(a, next, fill, len)) {
    const n = reserveEnd(a, ql, next, need, true, fill);
    const at = get(a, n, N_LO) - need;
    put(a, n, N_LO, at);
    put(a, n, N_COUNT, get(a, n, N_COUNT) + 1);
    writeAt(a, n, at, src, s, e);
    return;
  }
  if (atHead && allowInsert(a, prev, fill, len)) {
    const n = reserveEnd(a, ql, prev, need, false, fill);
    const at = get(a, n, N_HI);
    put(a, n, N_HI, at + need);
    put(a, n, N_COUNT, get(a, n, N_COUNT) + 1);
    writeAt(a, n, at, src, s, e);
    return;
  }
  if (atTail || atHead) {
    const n = newNode(a, need, false);
    put(a, n, N_HI, N_HEADER + need);
    put(a, n, N_COUNT, 1);
    linkNode(a, ql, node, n, after);
    writeAt(a, n, N_HEADER, src, s, e);
    return;
  }
  // Split: the entries on the insertion side of the cursor move to a new node, which
  // takes the new element next to the split point; then neighbours merge where they fit.
  const cut = after ? curEnd - curBase : curStart - curBase;
  const moveLo = after ? cut : lo, moveHi = after ? hi : cut;
  let moved = 0;
  for (let p = curBase + moveLo; p < curBase + moveHi; p = entryAt(curU8, p)) moved++;
  const bytes = moveHi - moveLo;
  const n = newNode(a, bytes + need, false);
  const du8 = a.u8[seg(n)]!, db = off(n);
  let entryAtOff: number;
  if (after) {
    du8.set(curU8.subarray(curBase + moveLo, curBase + moveHi), db + N_HEADER + need);
    entryAtOff = N_HEADER;
  } else {
    du8.set(curU8.subarray(curBase + moveLo, curBase + moveHi), db + N_HEADER);
    entryAtOff = N_HEADER + bytes;
  }
  put(a, n, N_HI, N_HEADER + bytes + need);
  put(a, n, N_COUNT, moved + 1);
  if (after) put(a, node, N_HI, cut); else put(a, node, N_LO, cut);
  put(a, node, N_COUNT, get(a, node, N_COUNT) - moved);
  linkNode(a, ql, node, n, after);
  writeEntry(du8, db + entryAtOff, src, s, e);
  mergeAround(a, ql, node, fill);
}

/** Write the new element at offset `at` of a node. */
function writeAt(a: Arena, node: number, at: number, src: Uint8Array, s: number, e: number): void {
  writeEntry(a.u8[seg(node)]!, off(node) + at, src, s, e);
}

/** Append y's entries to x and drop y (y follows x); keeps whichever block has room. */
function mergeInto(a: Arena, ql: number, x: number, y: number): number {
  const xlo = get(a, x, N_LO), xhi = get(a, x, N_HI), ylo = get(a, y, N_LO), yhi = get(a, y, N_HI);
  const ybytes = yhi - ylo, xbytes = xhi - xlo;
  const cnt = get(a, x, N_COUNT) + get(a, y, N_COUNT);
  if (get(a, x, N_SIZE) - N_HEADER >= xbytes + ybytes) {
    // Room in x: make the tail room (shifting x's entries left if needed) and copy y there.
    let lo = xlo;
    const u8 = a.u8[seg(x)]!, base = off(x);
    if (get(a, x, N_SIZE) - xhi < ybytes) {
      u8.copyWithin(base + N_HEADER, base + xlo, base + xhi);
      lo = N_HEADER;
    }
    u8.set(a.u8[seg(y)]!.subarray(off(y) + ylo, off(y) + yhi), base + lo + xbytes);
    put(a, x, N_LO, lo);
    put(a, x, N_HI, lo + xbytes + ybytes);
    put(a, x, N_COUNT, cnt);
    dropNode(a, ql, y);
    return x;
  }
  const size = blockSize(N_HEADER + xbytes + ybytes);
  const n = moveNode(a, ql, x, size, N_HEADER, xhi, 0);
  a.u8[seg(n)]!.set(a.u8[seg(y)]!.subarray(off(y) + ylo, off(y) + yhi), off(n) + N_HEADER + xbytes);
  put(a, n, N_HI, N_HEADER + xbytes + ybytes);
  put(a, n, N_COUNT, cnt);
  dropNode(a, ql, y);
  return n;
}

/** _quicklistMergeNodes around `center`. */
function mergeAround(a: Arena, ql: number, center: number, fill: number): void {
  const prev = get(a, center, N_PREV), next = get(a, center, N_NEXT);
  const prevPrev = prev !== 0 ? get(a, prev, N_PREV) : 0;
  const nextNext = next !== 0 ? get(a, next, N_NEXT) : 0;
  if (allowMerge(a, prev, prevPrev, fill)) mergeInto(a, ql, prevPrev, prev);
  if (allowMerge(a, next, nextNext, fill)) mergeInto(a, ql, next, nextNext);
  let target = center;
  const cprev = get(a, center, N_PREV);
  if (allowMerge(a, center, cprev, fill)) target = mergeInto(a, ql, cprev, center);
  const tnext = get(a, target, N_NEXT);
  if (allowMerge(a, target, tnext, fill)) mergeInto(a, ql, target, tnext);
}

// ---- LREM --------------------------------------------------------------------------------

/**
 * Remove elements equal to src[s, e): up to `limit` of them (0: all), scanning from the
 * head, or from the tail when fromTail. Each node is compacted in one pass. Returns how
 * many were removed.
 */
export function qlRemove(a: Arena, ql: number, src: Uint8Array, s: number, e: number, limit: number,
  fromTail: boolean): number {
  let removed = 0;
  let node = get(a, ql, fromTail ? QL_TAIL : QL_HEAD);
  while (node !== 0 && (limit === 0 || removed < limit)) {
    const u8 = a.u8[seg(node)]!, base = off(node);
    const lo = base + get(a, node, N_LO), hi = base + get(a, node, N_HI);
    let cnt = get(a, node, N_COUNT);
    const nextNode = get(a, node, fromTail ? N_PREV : N_NEXT);
    el.u8 = u8;
    if (!fromTail) {
      let w = lo, r = lo;
      while (r < hi) {
        const re = entryAt(u8, r);
        if (qlCurrentEquals(src, s, e)) {
          removed++;
          cnt--;
          r = re;
          if (limit !== 0 && removed === limit) break;
          continue;
        }
        if (w !== r) u8.copyWithin(w, r, re);
        w += re - r;
        r = re;
      }
      if (w !== r) {
        u8.copyWithin(w, r, hi);
        put(a, node, N_HI, w + (hi - r) - base);
      }
    } else {
      let w = hi, r = hi;
      while (r > lo) {
        const rs = entryBefore(u8, r);
        if (qlCurrentEquals(src, s, e)) {
          removed++;
          cnt--;
          r = rs;
          if (limit !== 0 && removed === limit) break;
          continue;
        }
        if (w !== r) u8.copyWithin(w - (r - rs), rs, r);
        w -= r - rs;
        r = rs;
      }
      if (w !== r) {
        u8.copyWithin(w - (r - lo), lo, r);
        put(a, node, N_LO, w - (r - lo) - base);
      }
    }
    if (cnt !== get(a, node, N_COUNT)) {
      addCount(a, ql, cnt - get(a, node, N_COUNT));
      if (cnt === 0) dropNode(a, ql, node);
      else put(a, node, N_COUNT, cnt);
    }
    node = nextNode;
  }
  return removed;
}

// ---- checks (tests) ----------------------------------------------------------------------

/** Walk the whole list checking links and counts; returns '' or what is wrong. */
export function qlValidate(a: Arena, ql: number): string {
  let total = 0, nodes = 0, prev = 0;
  for (let node = get(a, ql, QL_HEAD); node !== 0; node = get(a, node, N_NEXT)) {
    nodes++;
    if (get(a, node, N_PREV) !== prev) return `node ${nodes}: bad prev link`;
    const cnt = get(a, node, N_COUNT), lo = get(a, node, N_LO), hi = get(a, node, N_HI), size = get(a, node, N_SIZE);
    if (cnt === 0) return `node ${nodes}: empty`;
    if (lo < N_HEADER || hi > size || lo > hi) return `node ${nodes}: bad bounds ${lo}..${hi} of ${size}`;
    const u8 = a.u8[seg(node)]!, base = off(node);
    let n = 0, p = base + lo;
    while (p < base + hi) { p = entryAt(u8, p); n++; }
    if (p !== base + hi || n !== cnt) return `node ${nodes}: ${n} entries walked, header says ${cnt}`;
    total += cnt;
    prev = node;
  }
  if (get(a, ql, QL_TAIL) !== prev) return 'bad tail';
  if (nodes !== get(a, ql, QL_NODES)) return `node count ${nodes} != ${get(a, ql, QL_NODES)}`;
  if (total !== qlLength(a, ql)) return `element count ${total} != ${qlLength(a, ql)}`;
  return '';
}

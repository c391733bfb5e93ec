/**
 * The shard arena: SharedArrayBuffer segments and a size-class allocator whose
 * state (bump pointer, free lists, segment stack, accounting) lives in segment 0,
 * so that any thread holding the segments can allocate in it. Layout and rules:
 * native-layout/arena.md.
 */
import { MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import {
  ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, ARENA_MAGIC, GRANULE_SHIFT, HEADER_BYTES, H_BUMP, H_CUR_SEG,
  H_FREE_HEADS, H_FREE_HEADS_END, H_FREE_SEGS, H_FREE_SEG_COUNT, H_GENERATION, H_HASH_SEED, H_MAGIC, H_NEXT_SEG,
  H_USED_LO, LARGE_BLOCK, MAX_SEGMENTS, SEGMENT_SIZE, H_DEFRAG_FLAGS, H_DEFRAG_SLOT_TABLE, H_SEG0_CARVED, DEFRAG_SLOT_WORDS, DEFRAG_MAX_SLOTS,
} from '../../native-layout/arena';

/**
 * Class sizes: 8..512 in steps of 8, 32-byte steps to 2 KiB and 64-byte steps to 4 KiB (so a
 * record of a 50-byte key and a 1 KB value wastes at most 31 bytes, not 12%), then about 12.5%
 * apart (page multiples once large).
 */
export const CLASS_SIZES: number[] = [];
for (let s = 8; s <= 512; s += 8) CLASS_SIZES.push(s);
for (let s = 544; s <= 2048; s += 32) CLASS_SIZES.push(s);
for (let s = 2112; s <= 4096; s += 64) CLASS_SIZES.push(s);
while (CLASS_SIZES[CLASS_SIZES.length - 1] < 0x7fff0000) {
  const prev = CLASS_SIZES[CLASS_SIZES.length - 1];
  let next = Math.ceil((prev * 1.125) / 8) * 8;
  if (next >= LARGE_BLOCK) next = Math.ceil(next / 4096) * 4096;
  CLASS_SIZES.push(Math.min(next, 0x7fff0000));
}
const SMALL_CLASS_LIMIT = 512;
const FIRST_LARGE_CLASS = CLASS_SIZES.findIndex((s) => s >= LARGE_BLOCK);
if (H_FREE_HEADS + FIRST_LARGE_CLASS > H_FREE_HEADS_END) throw new Error('arena header too small for size classes');
if (DEFRAG_MAX_SLOTS * DEFRAG_SLOT_WORDS > HEADER_BYTES / 4 - H_DEFRAG_SLOT_TABLE) throw new Error('arena header too small for defrag');

export function sizeClass(size: number): number {
  if (size <= SMALL_CLASS_LIMIT) return size <= 8 ? 0 : ((size + 7) >>> 3) - 1;
  if (size <= 2048) return 63 + ((size - 512 + 31) >>> 5);
  if (size <= 4096) return 111 + ((size - 2048 + 63) >>> 6);
  let lo = 144, hi = CLASS_SIZES.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (CLASS_SIZES[mid] >= size) hi = mid; else lo = mid + 1;
  }
  return lo;
}

/** Bytes actually reserved for a request of `size` bytes. */
export function blockSize(size: number): number {
  return CLASS_SIZES[sizeClass(size)];
}

/** A segment announcement between the threads that share an arena. */
export interface SegmentMessage { index: number; sab: SharedArrayBuffer | null }

export class Arena {
  /** Byte, u32 and f64 views of each segment; null for released or unknown indexes. */
  readonly u8: (Uint8Array | null)[] = [];
  readonly u32: (Uint32Array | null)[] = [];
  readonly f64: (Float64Array | null)[] = [];
  /** Header words of segment 0 (Int32Array for Atomics). */
  readonly hdr: Int32Array;
  /**
   * Per segment: 0, or its 1-based slot in the defrag evacuation table (native-layout/defrag.md).
   * Lives in the header, so every thread's free() parks blocks of an evacuating segment.
   */
  readonly evacuating: Uint8Array;
  /** Segment announcements seen by this thread; equals H_GENERATION when in sync. */
  private localGeneration = 0;
  /** Port to the other thread sharing this arena (owner shard <-> io thread), if any. */
  private port: MessagePort | null = null;
  /** The script thread's announcements, kept for its reply instead of posted (see adopt()). */
  private recorder: SegmentMessage[] | null = null;

  private constructor(seg0: SharedArrayBuffer) {
    this.hdr = new Int32Array(seg0, 0, HEADER_BYTES >> 2);
    this.evacuating = new Uint8Array(seg0, H_DEFRAG_FLAGS * 4, MAX_SEGMENTS);
    this.install(0, seg0);
  }

  /** A new arena, owned by the calling thread. */
  static create(): Arena {
    const a = new Arena(new SharedArrayBuffer(SEGMENT_SIZE));
    const h = a.hdr;
    h[H_MAGIC] = ARENA_MAGIC;
    h[H_CUR_SEG] = 0;
    h[H_BUMP] = HEADER_BYTES;
    h[H_NEXT_SEG] = 1;
    h[H_HASH_SEED] = (Math.random() * 0x7fffffff) | 0;
    a.f64[0]![(H_USED_LO >> 1) + 1] = SEGMENT_SIZE;
    return a;
  }

  /** Another thread's view of an existing arena, from its segment list. */
  static attach(segments: (SharedArrayBuffer | null)[], generation: number): Arena {
    const a = new Arena(segments[0]!);
    if (a.hdr[H_MAGIC] !== ARENA_MAGIC) throw new Error('not an arena');
    for (let i = 1; i < segments.length; i++) if (segments[i]) a.install(i, segments[i]!);
    a.localGeneration = generation;
    return a;
  }

  /** Current segments and generation, to hand to a thread that attaches. */
  snapshot(): { segments: (SharedArrayBuffer | null)[]; generation: number } {
    return {
      segments: this.u8.map((v) => (v ? (v.buffer as SharedArrayBuffer) : null)),
      generation: this.localGeneration,
    };
  }

  setPort(port: MessagePort): void {
    this.port = port;
  }

  /**
   * The script thread's view: segments it adds or releases are bumped in the generation
   * word and listed in `out`; the io thread adopt()s them after the script.
   */
  recordAnnouncements(out: SegmentMessage[]): void {
    this.recorder = out;
  }

  /** Announcements this thread has seen (the generation word's value when in sync). */
  get generation(): number {
    return this.localGeneration;
  }

  /**
   * Take in a segment the script thread announced (it bumped the generation word already),
   * and pass it on to the peer thread, whose sync() expects one message per bump.
   */
  adopt(msg: SegmentMessage): void {
    if (msg.sab) this.install(msg.index, msg.sab);
    else this.uninstall(msg.index);
    this.localGeneration++;
    if (this.port !== null) this.port.postMessage(msg);
  }

  /** Replace this view's segments with another thread's current list (script thread). */
  replaceSegments(segments: (SharedArrayBuffer | null)[], generation: number): void {
    for (let i = 1; i < Math.max(segments.length, this.u8.length); i++) {
      const sab = i < segments.length ? segments[i] : null;
      if (sab) {
        if (this.u8[i]?.buffer !== sab) this.install(i, sab);
      } else if (i < this.u8.length && this.u8[i] !== null) {
        this.uninstall(i);
      }
    }
    this.localGeneration = generation;
  }

  /** Take in the segments the other thread added or released; cheap when nothing changed. */
  sync(): void {
    if (this.port === null) return;
    while (this.localGeneration !== Atomics.load(this.hdr, H_GENERATION)) {
      // The peer posts before it bumps the generation, so the message is queued already.
      const m = receiveMessageOnPort(this.port);
      if (m === undefined) continue;
      const msg = m.message as SegmentMessage;
      if (msg.sab) this.install(msg.index, msg.sab);
      else this.uninstall(msg.index);
      this.localGeneration++;
    }
  }

  get hashSeed(): number {
    return this.hdr[H_HASH_SEED];
  }

  get usedBytes(): number {
    return this.f64[0]![H_USED_LO >> 1];
  }

  get segmentBytes(): number {
    return this.f64[0]![(H_USED_LO >> 1) + 1];
  }

  /**
   * Bytes carved out of segments: in use or on a free list, so resident (what RSS follows);
   * the untouched tails of the bump segment and of segment 0 are not.
   */
  get carvedBytes(): number {
    const h = this.hdr, seg0 = h[H_SEG0_CARVED];
    return this.segmentBytes - (SEGMENT_SIZE - h[H_BUMP]) - (seg0 === 0 ? 0 : SEGMENT_SIZE - seg0);
  }

  /**
   * Leave segment 0 to the header and the blocks allocated so far (the keyspace root, which
   * every thread caches and which never moves): data starts in segment 1, and every segment
   * that holds data can then be emptied and released by defrag.
   */
  leaveSegmentZero(): void {
    const h = this.hdr;
    if (h[H_CUR_SEG] !== 0 || h[H_SEG0_CARVED] !== 0) return;
    h[H_SEG0_CARVED] = h[H_BUMP];
    h[H_BUMP] = SEGMENT_SIZE;
  }

  /** Allocate `size` bytes (8-byte aligned, not zeroed); returns the block address. */
  alloc(size: number): number {
    const cls = sizeClass(size);
    const bytes = CLASS_SIZES[cls];
    this.f64[0]![H_USED_LO >> 1] += bytes;
    if (cls >= FIRST_LARGE_CLASS) return this.allocLarge(bytes);
    const h = this.hdr;
    const head = h[H_FREE_HEADS + cls] >>> 0;
    if (head !== 0) {
      // A free block's first word links to the next free block of its class.
      h[H_FREE_HEADS + cls] = this.u32[head >>> ADDR_OFFSET_BITS]![(head & ADDR_OFFSET_MASK) << 1];
      return head;
    }
    let seg = h[H_CUR_SEG];
    let bump = h[H_BUMP];
    if (bump + bytes > SEGMENT_SIZE) {
      this.recycleTail(seg, bump);
      seg = this.newSegment(SEGMENT_SIZE);
      bump = 0;
      h[H_CUR_SEG] = seg;
    }
    h[H_BUMP] = bump + bytes;
    return (seg << ADDR_OFFSET_BITS) | (bump >>> GRANULE_SHIFT);
  }

  /** Return a block; `size` must be the size it was allocated with (or any size of the same class). */
  free(addr: number, size: number): void {
    const cls = sizeClass(size);
    this.f64[0]![H_USED_LO >> 1] -= CLASS_SIZES[cls];
    if (cls >= FIRST_LARGE_CLASS) {
      this.releaseSegment(addr >>> ADDR_OFFSET_BITS);
      return;
    }
    const slot = this.evacuating[addr >>> ADDR_OFFSET_BITS];
    if (slot !== 0) {
      this.park(addr, CLASS_SIZES[cls], slot);
      return;
    }
    const h = this.hdr;
    this.u32[addr >>> ADDR_OFFSET_BITS]![(addr & ADDR_OFFSET_MASK) << 1] = h[H_FREE_HEADS + cls];
    h[H_FREE_HEADS + cls] = addr;
  }

  /**
   * A block freed in a segment that defrag is emptying goes on that segment's parked list
   * (word 0 next, word 1 size), out of reach of alloc(), and its bytes are counted: the
   * segment is released once its parked bytes cover it (src/store/defrag.ts).
   */
  park(addr: number, bytes: number, slot: number): void {
    const h = this.hdr, t = H_DEFRAG_SLOT_TABLE + (slot - 1) * DEFRAG_SLOT_WORDS;
    const u32 = this.u32[addr >>> ADDR_OFFSET_BITS]!, w = (addr & ADDR_OFFSET_MASK) << 1;
    u32[w] = h[t + 1];
    u32[w + 1] = bytes;
    h[t + 1] = addr;
    h[t + 2] += bytes;
  }

  /** Release a regular segment that holds nothing any more (defrag; the caller knows it is empty). */
  releaseEmptySegment(index: number): void {
    this.releaseSegment(index);
  }

  /** Put [offset, end of segment) of segment `seg` on the free lists (the bump tail's treatment). */
  recycleRange(seg: number, offset: number): void {
    this.recycleTail(seg, offset);
  }

  /**
   * Take in what the peer posted, without waiting for announcements still to come (safe at
   * any time, even while a script thread holds announcements back). Returns segments dropped.
   */
  drainPort(): number {
    if (this.port === null) return 0;
    let dropped = 0;
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
      const msg = m.message as SegmentMessage;
      if (msg.sab) this.install(msg.index, msg.sab);
      else {
        this.uninstall(msg.index);
        dropped++;
      }
      this.localGeneration++;
    }
    return dropped;
  }

  /** Byte offset of an address inside its segment. */
  static offset(addr: number): number {
    return (addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT;
  }

  static segment(addr: number): number {
    return addr >>> ADDR_OFFSET_BITS;
  }

  /** The unused end of a full segment goes to the free lists rather than being lost. */
  private recycleTail(seg: number, bump: number): void {
    let left = SEGMENT_SIZE - bump;
    while (left >= 8) {
      let cls = sizeClass(left);
      if (CLASS_SIZES[cls] > left) cls--;
      if (cls >= FIRST_LARGE_CLASS) cls = FIRST_LARGE_CLASS - 1;
      const bytes = CLASS_SIZES[cls];
      const addr = (seg << ADDR_OFFSET_BITS) | (bump >>> GRANULE_SHIFT);
      this.u32[seg]![bump >>> 2] = this.hdr[H_FREE_HEADS + cls];
      this.hdr[H_FREE_HEADS + cls] = addr;
      bump += bytes;
      left -= bytes;
    }
  }

  private allocLarge(bytes: number): number {
    return this.newSegment(bytes) << ADDR_OFFSET_BITS;
  }

  private newSegment(bytes: number): number {
    const h = this.hdr;
    let index: number;
    if (h[H_FREE_SEG_COUNT] > 0) index = h[H_FREE_SEGS + --h[H_FREE_SEG_COUNT]];
    else {
      index = h[H_NEXT_SEG];
      if (index >= MAX_SEGMENTS) throw new RangeError('arena is full');
      h[H_NEXT_SEG] = index + 1;
    }
    const sab = new SharedArrayBuffer(bytes);
    this.install(index, sab);
    this.f64[0]![(H_USED_LO >> 1) + 1] += bytes;
    this.announce(index, sab);
    return index;
  }

  private releaseSegment(index: number): void {
    const h = this.hdr;
    this.f64[0]![(H_USED_LO >> 1) + 1] -= this.u8[index]!.length;
    this.uninstall(index);
    h[H_FREE_SEGS + h[H_FREE_SEG_COUNT]++] = index;
    this.announce(index, null);
  }

  private announce(index: number, sab: SharedArrayBuffer | null): void {
    if (this.recorder !== null) {
      this.recorder.push({ index, sab });
      Atomics.add(this.hdr, H_GENERATION, 1);
      this.localGeneration++;
      return;
    }
    if (this.port === null) {
      // Alone (the inline store): still counted, so the script thread can tell it changed.
      Atomics.add(this.hdr, H_GENERATION, 1);
      this.localGeneration++;
      return;
    }
    this.port.postMessage({ index, sab } satisfies SegmentMessage);
    Atomics.add(this.hdr, H_GENERATION, 1);
    this.localGeneration++;
  }

  private install(index: number, sab: SharedArrayBuffer): void {
    while (this.u8.length <= index) {
      this.u8.push(null);
      this.u32.push(null);
      this.f64.push(null);
    }
    this.u8[index] = new Uint8Array(sab);
    this.u32[index] = new Uint32Array(sab, 0, sab.byteLength >>> 2);
    this.f64[index] = new Float64Array(sab, 0, sab.byteLength >>> 3);
  }

  private uninstall(index: number): void {
    this.u8[index] = null;
    this.u32[index] = null;
    this.f64[index] = null;
  }
}

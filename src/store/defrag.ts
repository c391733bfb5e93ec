/**
 * Active defragmentation: compacts a shard's arena so that RSS follows the data down after
 * many deletes (Redis's `activedefrag`, src/defrag.c, over Sabre's arena instead of jemalloc).
 * Layout of the state it keeps in the arena header: native-layout/defrag.md.
 *
 * A cycle, run by the thread that owns the arena, from its cron:
 *  1. starts when `activedefrag` is on, no snapshot is active and the arena's fragmentation
 *     (bytes carved out of segments but not in use) passes active-defrag-ignore-bytes and
 *     active-defrag-threshold-lower;
 *  2. counts each segment's free bytes by walking the free lists, and picks the sparsest
 *     regular segments (not segment 0, which holds the header) as the evacuation set;
 *  3. flags them in the header (a byte per segment that every thread's free() reads) and
 *     moves their free blocks from the class free lists to a parked list per segment, so
 *     nothing is allocated there any more and every block freed there is counted;
 *  4. scans every database with a dictScan cursor in time-bounded slices (a CPU share
 *     between active-defrag-cycle-min and -max, as Redis's computeDefragCycles), moving each
 *     record, value block, bucket array and collection node found in a flagged segment to a
 *     new block: alloc, copy, relink, free the old one (which parks it);
 *  5. releases a segment as soon as its parked bytes cover it, and at the end of the scan
 *     gives the segments it could not empty (something unmovable lives there) back to the
 *     free lists.
 * Moving a block only changes the one word that points at it (a bucket or chain link, a
 * record's value word, a node's neighbours): no other thread holds arena addresses between
 * commands, and the cycle pauses while a snapshot (which does) is active.
 */
import { fullGc } from '../util/gc';
import { Arena, CLASS_SIZES, blockSize, sizeClass } from './arena';
import { Keyspace } from './keyspace';
import { rev32 } from './hash';
import { intsetBytes } from './intset';
import { lpBytes } from './listpack';
import { zzlCap, zzlUsed } from './zlistpack';
import {
  ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, DEFRAG_MAX_SLOTS, DEFRAG_SLOT_WORDS, GRANULE_SHIFT, H_BUMP, H_CUR_SEG,
  H_DEFRAG_CYCLE_MAX, H_DEFRAG_CYCLE_MIN, H_DEFRAG_ENABLED, H_DEFRAG_HITS, H_DEFRAG_IGNORE_BYTES, H_DEFRAG_KEY_HITS,
  H_DEFRAG_KEY_MISSES, H_DEFRAG_MAX_SCAN_FIELDS, H_DEFRAG_MISSES, H_DEFRAG_RELEASED, H_DEFRAG_RUNNING, H_DEFRAG_SLOTS,
  H_DEFRAG_STARTED, H_DEFRAG_CYCLE, H_DEFRAG_SLOT_TABLE, H_DEFRAG_THRESHOLD_LOWER, H_DEFRAG_THRESHOLD_UPPER, H_DEFRAG_TOTAL_MS,
  H_FREE_HEADS, H_LAZYFREE_HEAD, H_NEXT_SEG, H_SNAPSHOT, LARGE_BLOCK, MAX_SEGMENTS, SEGMENT_SIZE,
} from '../../native-layout/arena';
import { D_SIZE0, D_SIZE1, D_TABLE0, D_TABLE1, D_REHASH_IDX } from '../../native-layout/dict';
import {
  ENC_INTSET, ENC_LISTPACK, ENC_SKIPLIST, TYPE_HASH, TYPE_LIST,
  TYPE_SET, TYPE_STRING, TYPE_ZSET,
} from '../../native-layout/record';
import {
  AD_FLAGS, AD_HEADER_BYTES, AD_SIZE0, AD_SIZE1, AD_TABLE0, AD_TABLE1, ADF_VALUES, AE_HEADER, AE_HEADER_VALUES,
} from '../../native-layout/adict';
import { N_HEADER, N_HI, N_LO, N_NEXT, N_PREV, N_SIZE, QL_HEAD, QL_HEADER_BYTES, QL_NODES, QL_TAIL } from '../../native-layout/quicklist';
import {
  ZN_BACKWARD, ZN_HNEXT, ZN_LEN, ZN_LEVEL, ZN_LEVELS, ZN_LEVEL_BYTES, ZS_HEAD, ZS_HEADER_BYTES, ZS_S0, ZS_S1, ZS_T0,
  ZS_T1, ZS_TAIL, ZS_LENGTH, ZSKIPLIST_MAXLEVEL, LP_HEADER as ZL_HEADER,
} from '../../native-layout/zset';

const NOT_REHASHING = 0xffffffff;
/** A regular segment is worth emptying when at least this share of its carved bytes is free... */
const EVACUATE_MIN_FREE = 0.25;
/** ...and at least this many bytes (emptying the bump segment right after it started is churn). */
const EVACUATE_MIN_BYTES = 1 << 20;
/** Share of the other segments' free bytes the evacuated live bytes may fill (size classes differ). */
const EVACUATE_FILL = 0.75;
/** Longest slice of defrag work at a time (ms), so that clients never wait on a whole budget. */
const SLICE_MS = 1;
/** How often (ms) a cycle may be tried again after one found nothing worth moving. */
const RETRY_MS = 1000;
/** Cycle phases: counting free bytes per segment, parking flagged free blocks, moving blocks. */
const PHASE_COUNT = 0;
const PHASE_PARK = 1;
const PHASE_SCAN = 2;
/** The smallest class that gets a dedicated segment: free lists exist below it. */
const FIRST_LARGE_CLASS = CLASS_SIZES.findIndex((s) => s >= LARGE_BLOCK);

function seg(addr: number): number {
  return addr >>> ADDR_OFFSET_BITS;
}
/** u32 word index of an address inside its segment. */
function word(addr: number): number {
  return (addr & ADDR_OFFSET_MASK) << 1;
}

/**
 * A full collection on this thread: a released segment's memory is unmapped only once every
 * thread's SharedArrayBuffer object for it is collected, and V8 does not count a dropped
 * 32 MiB buffer as pressure on a heap that is otherwise idle.
 */
export function collectReleasedSegments(): void {
  fullGc();
}

/** One keyspace's defragmenter, owned by the thread that owns the arena. */
export class Defragger {
  private readonly ks: Keyspace;
  private readonly a: Arena;
  private running = false;
  private phase = PHASE_SCAN;
  /** Free-list pass: the class being walked, and each class's detached rest. */
  private cls = 0;
  private readonly pending = new Uint32Array(FIRST_LARGE_CLASS);
  /** Scan position: database, dictScan cursor, and whether db's bucket arrays were looked at. */
  private db = 0;
  private cursor = 0;
  private tablesDone = false;
  /** Evacuation slots still waiting for their segment to empty. */
  private liveSlots = 0;
  /** Defrag time (ms) left in the current cron period. */
  private budget = 0;
  private startedAt = 0;
  private lastTry = -Infinity;
  private lastUsed = -1;
  private lastCarved = -1;
  /** Segments released since the last collection, and when that was. */
  private released = 0;
  private lastGc = 0;
  private maxScanFields = 1000;
  /** Counters, published to the header after each slice. */
  private hits = 0;
  private misses = 0;
  private keyHits = 0;
  private keyMisses = 0;
  private readonly segFree = new Float64Array(MAX_SEGMENTS);
  /** Live bytes of each candidate segment (carved minus free), for sizing the evacuation set. */
  private readonly segLive = new Float64Array(MAX_SEGMENTS);
  /** Skiplist walk: the last node seen at each level (predecessors of the next node). */
  private readonly zPrev = new Uint32Array(ZSKIPLIST_MAXLEVEL);

  constructor(ks: Keyspace) {
    this.ks = ks;
    this.a = ks.arena;
  }

  /** A cycle is running (it may be paused by a snapshot). */
  get active(): boolean {
    return this.running;
  }

  /** More work is wanted before the next cron tick (run it with step() when idle). */
  get wantsTime(): boolean {
    return this.running && this.budget > 0 && this.a.hdr[H_SNAPSHOT] === 0;
  }

  /**
   * From the owner's cron, once per period: start or stop a cycle, renew the period's CPU
   * budget (active_defrag_running percent of it) and run a first slice.
   */
  cron(periodMs: number): void {
    const h = this.a.hdr;
    if (h[H_DEFRAG_ENABLED] === 0) {
      if (this.running) this.endCycle();
      return;
    }
    // A snapshot walks buckets as they were at its cut: no cycle starts while one runs.
    if (!this.running && (h[H_SNAPSHOT] !== 0 || !this.tryStart())) return;
    this.budget = (periodMs * h[H_DEFRAG_RUNNING]) / 100;
    this.step(performance.now() + Math.min(SLICE_MS, this.budget));
  }

  /** Defrag until `deadline` (performance.now() ms) or the period's budget runs out. */
  step(deadline: number): void {
    if (!this.running || this.a.hdr[H_SNAPSHOT] !== 0) return;
    const t0 = performance.now();
    if (t0 + this.budget < deadline) deadline = t0 + this.budget;
    let done = false;
    if (this.phase === PHASE_COUNT) {
      if (this.walkFreeLists(deadline) && !this.pickSegments()) done = true;
    } else if (this.phase === PHASE_PARK) {
      if (this.walkFreeLists(deadline)) this.phase = PHASE_SCAN;
    } else {
      done = this.liveSlots === 0 || this.scan(deadline);
      this.releaseEmptied();
    }
    this.publish();
    if (done) this.endCycle();
    this.budget -= performance.now() - t0;
    if (this.released > 0 && (!this.running || performance.now() - this.lastGc > RETRY_MS)) this.collect();
  }

  // ---- starting and ending a cycle ------------------------------------------------------

  /** Bytes carved out of segments (in use or free-listed: resident). */
  private carved(): number {
    return this.a.carvedBytes;
  }

  /** Redis's computeDefragCycles: start a cycle when fragmentation is over the thresholds. */
  private tryStart(): boolean {
    const a = this.a, h = a.hdr;
    const used = a.usedBytes, carved = this.carved();
    const fragBytes = carved - used;
    const fragPct = used > 0 ? (carved / used - 1) * 100 : 0;
    const f64 = a.f64[0]!;
    if (fragPct < h[H_DEFRAG_THRESHOLD_LOWER] || fragBytes < f64[H_DEFRAG_IGNORE_BYTES >> 1]) return false;
    const now = performance.now();
    // After a cycle that found nothing worth moving, wait for the memory to change.
    if (now - this.lastTry < RETRY_MS || (used === this.lastUsed && carved === this.lastCarved)) return false;
    this.lastTry = now;
    const lower = h[H_DEFRAG_THRESHOLD_LOWER], upper = h[H_DEFRAG_THRESHOLD_UPPER];
    const cmin = h[H_DEFRAG_CYCLE_MIN], cmax = h[H_DEFRAG_CYCLE_MAX];
    let cpu = upper > lower ? Math.round(cmin + ((fragPct - lower) * (cmax - cmin)) / (upper - lower)) : cmax;
    cpu = Math.max(cmin, Math.min(cmax, cpu));
    h[H_DEFRAG_RUNNING] = cpu;
    this.running = true;
    this.phase = PHASE_COUNT;
    this.cls = 0;
    this.segFree.fill(0);
    this.startedAt = now;
    a.f64[0]![H_DEFRAG_STARTED >> 1] = Date.now();
    const msf = h[H_DEFRAG_MAX_SCAN_FIELDS];
    this.maxScanFields = msf > 0 ? msf : 1000;
    this.lastUsed = used;
    this.lastCarved = carved;
    return true;
  }

  /**
   * One pass over the free lists, a class at a time, in slices. The class's list is
   * detached while it is walked (so the walk survives allocs and frees in between: those
   * see a shorter list), and every block goes back to it, except, when parking, blocks of
   * flagged segments. Counting adds each segment's free bytes. True when every class is done.
   */
  private walkFreeLists(deadline: number): boolean {
    const a = this.a, h = a.hdr, free = this.segFree, evac = a.evacuating;
    const parking = this.phase === PHASE_PARK;
    let n = 0;
    while (this.cls < FIRST_LARGE_CLASS) {
      const cls = this.cls, bytes = CLASS_SIZES[cls], head = H_FREE_HEADS + cls;
      if (!parking && this.pending[cls] === 0) {
        this.pending[cls] = h[head];
        h[head] = 0;
      }
      let b = this.pending[cls];
      while (b !== 0) {
        const u32 = a.u32[seg(b)]!, w = word(b);
        const next = u32[w];
        const slot = evac[seg(b)];
        if (parking && slot !== 0) a.park(b, bytes, slot);
        else {
          if (!parking) free[seg(b)] += bytes;
          u32[w] = h[head];
          h[head] = b;
        }
        b = next;
        if ((++n & 255) === 0 && b !== 0 && performance.now() >= deadline) {
          this.pending[cls] = b;
          return false;
        }
      }
      this.pending[cls] = 0;
      this.cls++;
    }
    return true;
  }

  /**
   * After counting: pick and flag the evacuation set, detach every free list (to be walked
   * by the parking pass) and retire the bump segment if it is picked. False when no segment
   * is worth emptying.
   */
  private pickSegments(): boolean {
    const a = this.a, h = a.hdr;
    const free = this.segFree;
    const curSeg = h[H_CUR_SEG], bump = h[H_BUMP];
    const picks: number[] = [];
    let totalFree = 0;
    for (let i = 1; i < h[H_NEXT_SEG]; i++) {
      const u8 = a.u8[i];
      if (u8 === null || u8 === undefined || u8.length !== SEGMENT_SIZE) continue;
      // A dedicated 32 MiB block has no free bytes, so it is never picked.
      const carved = i === curSeg ? bump : SEGMENT_SIZE;
      totalFree += free[i];
      if (free[i] >= EVACUATE_MIN_BYTES && free[i] >= carved * EVACUATE_MIN_FREE) {
        picks.push(i);
        this.segLive[i] = carved - free[i];
        free[i] /= carved; // from here on: the free share, to sort by
      }
    }
    if (picks.length === 0) return false;
    // Sparsest first: the most bytes back for the least copying.
    picks.sort((x, y) => free[y] - free[x] || x - y);
    if (picks.length > DEFRAG_MAX_SLOTS) picks.length = DEFRAG_MAX_SLOTS;
    // Only as many as the free space of the segments left alone can take in: what moves then
    // fills their holes instead of new segments, and RSS never climbs on the way down (with
    // every segment half empty, evacuating all at once would first copy all live data out).
    // Later cycles take the rest.
    let live = 0, leftFree = totalFree, n = 0;
    while (n < picks.length) {
      const i = picks[n], carved = i === curSeg ? bump : SEGMENT_SIZE;
      const freeBytes = free[i] * carved;
      if (n > 0 && live + this.segLive[i] > (leftFree - freeBytes) * EVACUATE_FILL) break;
      live += this.segLive[i];
      leftFree -= freeBytes;
      n++;
    }
    picks.length = n;
    for (let k = 0; k < picks.length; k++) {
      const t = H_DEFRAG_SLOT_TABLE + k * DEFRAG_SLOT_WORDS;
      h[t] = picks[k];
      h[t + 1] = 0;
      h[t + 2] = 0;
      a.evacuating[picks[k]] = k + 1;
    }
    h[H_DEFRAG_CYCLE] = 1;
    h[H_DEFRAG_SLOTS] = picks.length;
    this.liveSlots = picks.length;
    // From here alloc() must not hand out a block of a flagged segment: every list is taken
    // off at once and walked in slices, and a retired bump segment's tail is parked whole
    // (the next allocation that needs fresh space starts a new segment).
    for (let cls = 0; cls < FIRST_LARGE_CLASS; cls++) {
      this.pending[cls] = h[H_FREE_HEADS + cls];
      h[H_FREE_HEADS + cls] = 0;
    }
    const curSlot = a.evacuating[curSeg];
    if (curSlot !== 0 && bump < SEGMENT_SIZE) {
      a.park((curSeg << ADDR_OFFSET_BITS) | (bump >>> GRANULE_SHIFT), SEGMENT_SIZE - bump, curSlot);
      h[H_BUMP] = SEGMENT_SIZE;
    }
    this.phase = PHASE_PARK;
    this.cls = 0;
    this.db = 0;
    this.cursor = 0;
    this.tablesDone = false;
    return true;
  }

  /** Release every flagged segment whose parked blocks cover it. */
  private releaseEmptied(): void {
    const a = this.a, h = a.hdr;
    const slots = h[H_DEFRAG_SLOTS];
    for (let k = 0; k < slots; k++) {
      const t = H_DEFRAG_SLOT_TABLE + k * DEFRAG_SLOT_WORDS;
      const s = h[t];
      if (s === 0 || h[t + 2] !== SEGMENT_SIZE) continue;
      a.evacuating[s] = 0;
      h[t] = 0;
      h[t + 1] = 0;
      this.liveSlots--;
      // A view of it cached by the last find() would keep it mapped.
      this.ks.refWords = EMPTY_WORDS;
      a.releaseEmptySegment(s);
      h[H_DEFRAG_RELEASED]++;
      this.released++;
    }
  }

  /** End the cycle: segments not emptied give their parked blocks back to the free lists. */
  private endCycle(): void {
    const a = this.a, h = a.hdr;
    // Stopped in the middle of a free-list pass: what is still detached goes back.
    if (this.phase !== PHASE_SCAN) {
      this.phase = PHASE_PARK;
      this.walkFreeLists(Infinity);
    }
    this.phase = PHASE_SCAN;
    this.releaseEmptied();
    if (h[H_DEFRAG_CYCLE] !== 0) {
      const slots = h[H_DEFRAG_SLOTS];
      for (let k = 0; k < slots; k++) {
        const t = H_DEFRAG_SLOT_TABLE + k * DEFRAG_SLOT_WORDS;
        const s = h[t];
        if (s === 0) continue;
        a.evacuating[s] = 0;
        h[t] = 0;
        for (let b = h[t + 1] >>> 0; b !== 0;) {
          const u32 = a.u32[seg(b)]!, w = word(b);
          const next = u32[w], bytes = u32[w + 1];
          const cls = sizeClass(bytes);
          if (cls < FIRST_LARGE_CLASS && CLASS_SIZES[cls] === bytes) {
            u32[w] = h[H_FREE_HEADS + cls];
            h[H_FREE_HEADS + cls] = b;
          } else {
            // The parked tail of the segment that was the bump segment.
            a.recycleRange(seg(b), Arena.offset(b));
          }
          b = next;
        }
      }
      h[H_DEFRAG_CYCLE] = 0;
      h[H_DEFRAG_SLOTS] = 0;
    }
    this.liveSlots = 0;
    this.running = false;
    // Something was done: the next cycle may come as soon as fragmentation calls for it.
    if (this.released > 0) {
      this.lastUsed = -1;
      this.collect();
    }
    this.budget = 0;
    h[H_DEFRAG_RUNNING] = 0;
    const f64 = a.f64[0]!;
    f64[H_DEFRAG_TOTAL_MS >> 1] += Math.round(performance.now() - this.startedAt);
    f64[H_DEFRAG_STARTED >> 1] = 0;
    this.publish();
  }

  private collect(): void {
    this.released = 0;
    this.lastGc = performance.now();
    collectReleasedSegments();
  }

  private publish(): void {
    const f64 = this.a.f64[0]!;
    f64[H_DEFRAG_HITS >> 1] += this.hits;
    f64[H_DEFRAG_MISSES >> 1] += this.misses;
    f64[H_DEFRAG_KEY_HITS >> 1] += this.keyHits;
    f64[H_DEFRAG_KEY_MISSES >> 1] += this.keyMisses;
    this.hits = this.misses = this.keyHits = this.keyMisses = 0;
  }

  // ---- the scan -------------------------------------------------------------------------

  /** Scan databases until `deadline`; true once every database was scanned. */
  private scan(deadline: number): boolean {
    const ks = this.ks;
    let steps = 0;
    while (this.db < ks.dbCount) {
      const db = this.db;
      if (!this.tablesDone) {
        this.moveDictTables(db);
        this.tablesDone = true;
      }
      if (ks.size(db) !== 0 && ks.dictField(db, D_SIZE0) !== 0) {
        do {
          this.cursor = this.scanStep(db, this.cursor);
          if (this.cursor === 0) break;
          if ((++steps & 15) === 0 && performance.now() >= deadline) return false;
        } while (this.liveSlots !== 0);
      }
      if (this.liveSlots === 0) return true;
      this.db++;
      this.cursor = 0;
      this.tablesDone = false;
    }
    this.moveLazyFreeNodes();
    return true;
  }

  /** Keyspace.scanStep's cursor walk (Redis's dictScan), visiting buckets instead of records. */
  private scanStep(db: number, cursor: number): number {
    const ks = this.ks;
    let v = cursor >>> 0;
    if (ks.dictField(db, D_REHASH_IDX) === NOT_REHASHING) {
      const m0 = ks.dictField(db, D_SIZE0) - 1;
      this.visitBucket(ks.dictField(db, D_TABLE0), v & m0);
      v = (v | ~m0) >>> 0;
      v = rev32((rev32(v) + 1) >>> 0);
    } else {
      let tS = ks.dictField(db, D_TABLE0), tL = ks.dictField(db, D_TABLE1);
      let mS = ks.dictField(db, D_SIZE0) - 1, mL = ks.dictField(db, D_SIZE1) - 1;
      if (mS > mL) {
        const t = tS; tS = tL; tL = t;
        const m = mS; mS = mL; mL = m;
      }
      this.visitBucket(tS, v & mS);
      do {
        this.visitBucket(tL, v & mL);
        v = (v | ~mL) >>> 0;
        v = rev32((rev32(v) + 1) >>> 0);
      } while ((v & (mS ^ mL)) !== 0);
    }
    return v;
  }

  /** Every record of one bucket: moved if its block is flagged, then its value's blocks. */
  private visitBucket(table: number, index: number): void {
    const a = this.a, ks = this.ks, evac = a.evacuating;
    let words = a.u32[seg(table)]!, idx = word(table) + index;
    let rec = words[idx];
    while (rec !== 0) {
      const hits0 = this.hits;
      if (evac[seg(rec)] !== 0) {
        const size = ks.recordSize(rec);
        const n = this.moveBlock(rec, size, size);
        words[idx] = n;
        rec = n;
      } else {
        this.misses++;
      }
      const type = ks.type(rec), value = type !== TYPE_STRING ? ks.valueWord(rec) : 0;
      if (value !== 0) this.defragValue(rec, type, ks.encoding(rec), value);
      if (this.hits !== hits0) this.keyHits++;
      else this.keyMisses++;
      // The chain link is the record's first word.
      words = a.u32[seg(rec)]!;
      idx = word(rec);
      rec = words[idx];
    }
  }

  /**
   * Copy the block at `from` (allocated for `size` bytes, `copy` of them meaningful) to a new
   * block and free the old one (which parks it); returns the new address.
   */
  private moveBlock(from: number, size: number, copy: number): number {
    const a = this.a;
    const to = a.alloc(size);
    const src = a.u32[seg(from)]!, dst = a.u32[seg(to)]!;
    const sw = word(from), dw = word(to), n = (copy + 3) >>> 2;
    if (n <= 128) for (let i = 0; i < n; i++) dst[dw + i] = src[sw + i];
    else dst.set(src.subarray(sw, sw + n), dw);
    a.free(from, size);
    this.hits++;
    return to;
  }

  /** Move a single-block value if flagged; returns its (maybe new) address. */
  private moveIfFlagged(addr: number, size: number, copy: number): number {
    if (this.a.evacuating[seg(addr)] === 0) {
      this.misses++;
      return addr;
    }
    return this.moveBlock(addr, size, copy);
  }

  private defragValue(rec: number, type: number, enc: number, v: number): void {
    const a = this.a;
    let n = v;
    switch (type) {
      case TYPE_LIST:
        n = this.moveIfFlagged(v, QL_HEADER_BYTES, QL_HEADER_BYTES);
        this.defragQuicklist(n);
        break;
      case TYPE_SET:
        if (enc === ENC_INTSET) {
          const bytes = intsetBytes(a, v);
          n = this.moveIfFlagged(v, bytes, bytes);
        } else n = this.defragAdict(v);
        break;
      case TYPE_HASH:
        if (enc === ENC_LISTPACK) {
          const bytes = lpBytes(a, v);
          n = this.moveIfFlagged(v, bytes, bytes);
        } else n = this.defragAdict(v);
        break;
      case TYPE_ZSET:
        if (enc === ENC_LISTPACK) n = this.moveIfFlagged(v, zzlCap(a, v), ZL_HEADER + zzlUsed(a, v));
        else if (enc === ENC_SKIPLIST) n = this.defragSkiplist(v);
        break;
    }
    if (n !== v) this.ks.setValueWord(rec, n);
  }

  /** A bucket array of `size` u32 words held in header word `hw[w]`: moved when flagged. */
  private moveTable(hw: Uint32Array, w: number, size: number): void {
    const t = hw[w], bytes = size * 4;
    if (size === 0 || t === 0 || blockSize(bytes) >= LARGE_BLOCK) return;
    hw[w] = this.moveIfFlagged(t, bytes, bytes);
  }

  /** The keyspace's own bucket arrays for db (big ones are dedicated segments, left alone). */
  private moveDictTables(db: number): void {
    const ks = this.ks;
    for (let t = 0; t < 2; t++) {
      const size = ks.dictField(db, t === 0 ? D_SIZE0 : D_SIZE1);
      const table = ks.dictField(db, t === 0 ? D_TABLE0 : D_TABLE1);
      const bytes = size * 4;
      if (size === 0 || table === 0 || blockSize(bytes) >= LARGE_BLOCK) continue;
      const n = this.moveIfFlagged(table, bytes, bytes);
      if (n !== table) ks.setDictField(db, t === 0 ? D_TABLE0 : D_TABLE1, n);
    }
  }

  /** A list's nodes: each flagged one moves and its neighbours (or the header) follow. */
  private defragQuicklist(ql: number): void {
    const a = this.a, evac = a.evacuating;
    const hu = a.u32[seg(ql)]!, hw = word(ql);
    if (hu[hw + (QL_NODES >>> 2)] > this.maxScanFields) {
      this.misses++;
      return;
    }
    let prev = 0;
    for (let node = hu[hw + (QL_HEAD >>> 2)]; node !== 0;) {
      const u32 = a.u32[seg(node)]!, w = word(node);
      const next = u32[w + (N_NEXT >>> 2)];
      if (evac[seg(node)] !== 0) {
        const size = u32[w + (N_SIZE >>> 2)];
        // Only the header and the entries [lo, hi) matter; free room around them is not copied.
        const lo = u32[w + (N_LO >>> 2)], hi = u32[w + (N_HI >>> 2)];
        const n = a.alloc(size);
        const du32 = a.u32[seg(n)]!, dw = word(n);
        for (let i = 0; i < N_HEADER >>> 2; i++) du32[dw + i] = u32[w + i];
        a.u8[seg(n)]!.set(a.u8[seg(node)]!.subarray(Arena.offset(node) + lo, Arena.offset(node) + hi), Arena.offset(n) + lo);
        a.free(node, size);
        this.hits++;
        if (prev === 0) hu[hw + (QL_HEAD >>> 2)] = n;
        else a.u32[seg(prev)]![word(prev) + (N_NEXT >>> 2)] = n;
        if (next === 0) hu[hw + (QL_TAIL >>> 2)] = n;
        else a.u32[seg(next)]![word(next) + (N_PREV >>> 2)] = n;
        prev = n;
      } else {
        this.misses++;
        prev = node;
      }
      node = next;
    }
  }

  /** A hashtable-encoded set or hash: header, bucket arrays, entries. Returns the header's address. */
  private defragAdict(d: number): number {
    const a = this.a, evac = a.evacuating;
    d = this.moveIfFlagged(d, AD_HEADER_BYTES, AD_HEADER_BYTES);
    const hu = a.u32[seg(d)]!, hw = word(d);
    this.moveTable(hu, hw + AD_TABLE0, hu[hw + AD_SIZE0]);
    this.moveTable(hu, hw + AD_TABLE1, hu[hw + AD_SIZE1]);
    const s0 = hu[hw + AD_SIZE0], s1 = hu[hw + AD_SIZE1];
    if (s0 + s1 > this.maxScanFields) {
      this.misses++;
      return d;
    }
    const withValues = (hu[hw + AD_FLAGS] & ADF_VALUES) !== 0;
    for (let t = 0; t < 2; t++) {
      const size = t === 0 ? s0 : s1, table = hu[hw + (t === 0 ? AD_TABLE0 : AD_TABLE1)];
      if (size === 0 || table === 0) continue;
      for (let i = 0; i < size; i++) {
        let words = a.u32[seg(table)]!, idx = word(table) + i;
        let e = words[idx];
        while (e !== 0) {
          if (evac[seg(e)] !== 0) {
            const eu = a.u32[seg(e)]!, ew = word(e);
            const bytes = withValues ? AE_HEADER_VALUES + eu[ew + 3] + eu[ew + 2] : AE_HEADER + eu[ew + 2];
            e = this.moveBlock(e, bytes, bytes);
            words[idx] = e;
          } else {
            this.misses++;
          }
          words = a.u32[seg(e)]!;
          idx = word(e);
          e = words[idx];
        }
      }
    }
    return d;
  }

  /**
   * A skiplist zset: header, member-index tables, and nodes. Walking level 0 while keeping
   * the last node seen at each level gives every node's predecessors, so a moved node's
   * forward links, its successor's backward link and its member-index chain link are fixed.
   */
  private defragSkiplist(zs: number): number {
    const a = this.a, evac = a.evacuating;
    zs = this.moveIfFlagged(zs, ZS_HEADER_BYTES, ZS_HEADER_BYTES);
    const hu = a.u32[seg(zs)]!, hw = word(zs);
    this.moveTable(hu, hw + ZS_T0, hu[hw + ZS_S0]);
    this.moveTable(hu, hw + ZS_T1, hu[hw + ZS_S1]);
    if (hu[hw + ZS_LENGTH] > this.maxScanFields) {
      this.misses++;
      return zs;
    }
    // The head node (32 levels, no member) is pointed at by the header only.
    let head = hu[hw + ZS_HEAD];
    if (evac[seg(head)] !== 0) {
      const bytes = ZN_LEVELS + ZSKIPLIST_MAXLEVEL * ZN_LEVEL_BYTES;
      head = this.moveBlock(head, bytes, bytes);
      hu[hw + ZS_HEAD] = head;
    } else {
      this.misses++;
    }
    const prev = this.zPrev;
    prev.fill(head);
    let x = a.u32[seg(head)]![word(head) + (ZN_LEVELS >>> 2)];
    while (x !== 0) {
      let u32 = a.u32[seg(x)]!, w = word(x);
      const level = u32[w + (ZN_LEVEL >>> 2)];
      if (evac[seg(x)] !== 0) {
        const bytes = ZN_LEVELS + level * ZN_LEVEL_BYTES + u32[w + (ZN_LEN >>> 2)];
        if (!this.relinkIndexed(hu, hw, x)) {
          // Not found in its member index: leave it where it is (the segment stays).
          this.misses++;
        } else {
          const n = this.moveBlock(x, bytes, bytes);
          this.replaceIndexed(n);
          for (let i = 0; i < level; i++) {
            const p = prev[i];
            a.u32[seg(p)]![word(p) + ((ZN_LEVELS + i * ZN_LEVEL_BYTES) >>> 2)] = n;
          }
          const fwd = a.u32[seg(n)]![word(n) + (ZN_LEVELS >>> 2)];
          if (fwd === 0) hu[hw + ZS_TAIL] = n;
          else a.u32[seg(fwd)]![word(fwd) + (ZN_BACKWARD >>> 2)] = n;
          x = n;
          u32 = a.u32[seg(x)]!;
          w = word(x);
        }
      } else {
        this.misses++;
      }
      for (let i = 0; i < level; i++) prev[i] = x;
      x = u32[w + (ZN_LEVELS >>> 2)];
    }
    return zs;
  }

  /** Where the member index links to node x: found by walking x's bucket chain. */
  private idxWords: Uint32Array = EMPTY_WORDS;
  private idxIndex = 0;

  private relinkIndexed(hu: Uint32Array, hw: number, x: number): boolean {
    const a = this.a;
    // Nodes do not keep their hash: recomputed from the member bytes with the arena's seed.
    const h = this.memberHash(x);
    // Either table may hold it while the index rehashes.
    for (let t = 0; t < 2; t++) {
      const size = hu[hw + (t === 0 ? ZS_S0 : ZS_S1)], table = hu[hw + (t === 0 ? ZS_T0 : ZS_T1)];
      if (size === 0 || table === 0) continue;
      let words = a.u32[seg(table)]!, idx = word(table) + (h & (size - 1));
      for (let e = words[idx]; e !== 0; e = words[idx]) {
        if (e === x) {
          this.idxWords = words;
          this.idxIndex = idx;
          return true;
        }
        words = a.u32[seg(e)]!;
        idx = word(e) + (ZN_HNEXT >>> 2);
      }
    }
    return false;
  }

  private replaceIndexed(n: number): void {
    this.idxWords[this.idxIndex] = n;
    this.idxWords = EMPTY_WORDS;
  }

  private memberHash(x: number): number {
    const a = this.a, u32 = a.u32[seg(x)]!, w = word(x);
    const level = u32[w + (ZN_LEVEL >>> 2)], len = u32[w + (ZN_LEN >>> 2)];
    const start = Arena.offset(x) + ZN_LEVELS + level * ZN_LEVEL_BYTES;
    return this.ks.hash(a.u8[seg(x)]!, start, start + len);
  }

  /** Nodes of the lazy-free queue (the values they hold are being freed, and left alone). */
  private moveLazyFreeNodes(): void {
    const a = this.a, h = a.hdr;
    let prev = 0;
    for (let node = h[H_LAZYFREE_HEAD] >>> 0; node !== 0;) {
      let cur = node;
      if (a.evacuating[seg(node)] !== 0) {
        cur = this.moveBlock(node, 12, 12);
        if (prev === 0) h[H_LAZYFREE_HEAD] = cur;
        else a.u32[seg(prev)]![word(prev)] = cur;
      }
      prev = cur;
      node = a.u32[seg(cur)]![word(cur)];
    }
  }
}

const EMPTY_WORDS = new Uint32Array(0);

// ---- the io thread's side ---------------------------------------------------------------

/** The CONFIG values a defrag cycle reads, as CONFIG GET prints them. */
export interface DefragConfig {
  getValue(name: string): string | null;
}

/** The settings publishDefragConfig() copies: it runs at start and when one of them changes. */
export const DEFRAG_CONFIG_NAMES = [
  'activedefrag', 'active-defrag-threshold-lower', 'active-defrag-threshold-upper', 'active-defrag-cycle-min',
  'active-defrag-cycle-max', 'active-defrag-max-scan-fields', 'active-defrag-ignore-bytes',
];

/**
 * On the io thread: copy the active-defrag-* settings into every arena's header, where the
 * owning thread reads them (no per-thread settings messages needed).
 */
export function publishDefragConfig(arenas: readonly Arena[], cfg: DefragConfig): void {
  const num = (name: string, dflt: number): number => {
    const v = Number(cfg.getValue(name) ?? dflt);
    return Number.isFinite(v) ? v : dflt;
  };
  const enabled = cfg.getValue('activedefrag') === 'yes' ? 1 : 0;
  const lower = num('active-defrag-threshold-lower', 10);
  const upper = num('active-defrag-threshold-upper', 100);
  const cmin = num('active-defrag-cycle-min', 1);
  const cmax = num('active-defrag-cycle-max', 25);
  const fields = Math.min(0x7fffffff, num('active-defrag-max-scan-fields', 1000));
  const ignore = num('active-defrag-ignore-bytes', 100 << 20);
  for (const a of arenas) {
    const h = a.hdr;
    h[H_DEFRAG_THRESHOLD_LOWER] = lower;
    h[H_DEFRAG_THRESHOLD_UPPER] = upper;
    h[H_DEFRAG_CYCLE_MIN] = cmin;
    h[H_DEFRAG_CYCLE_MAX] = cmax;
    h[H_DEFRAG_MAX_SCAN_FIELDS] = fields;
    a.f64[0]![H_DEFRAG_IGNORE_BYTES >> 1] = ignore;
    Atomics.store(h, H_DEFRAG_ENABLED, enabled);
  }
}

let dropsToCollect = 0;
let lastIoCollect = 0;

/**
 * From the io thread's cron with shard workers: drop this thread's views of segments the
 * shards released, and collect them (at most once a second: a full collection pauses the
 * io thread for a few ms) so that their memory is unmapped.
 */
export function dropReleasedSegments(keyspaces: readonly Keyspace[]): void {
  for (const ks of keyspaces) {
    const n = ks.arena.drainPort();
    if (n > 0) {
      ks.refWords = EMPTY_WORDS;
      dropsToCollect += n;
    }
  }
  const now = performance.now();
  if (dropsToCollect > 0 && now - lastIoCollect >= RETRY_MS) {
    dropsToCollect = 0;
    lastIoCollect = now;
    collectReleasedSegments();
  }
}

/** INFO's active_defrag_* numbers over every shard. */
export interface DefragStats {
  /** CPU percent of the most aggressive running cycle, 0 when none runs. */
  running: number;
  hits: number;
  misses: number;
  keyHits: number;
  keyMisses: number;
  /** ms: the longest total over shards (they defrag in parallel), and the running cycle's age. */
  totalMs: number;
  currentMs: number;
}

export function defragStats(keyspaces: readonly Keyspace[]): DefragStats {
  const s: DefragStats = { running: 0, hits: 0, misses: 0, keyHits: 0, keyMisses: 0, totalMs: 0, currentMs: 0 };
  const now = Date.now();
  for (const ks of keyspaces) {
    const a = ks.arena, f64 = a.f64[0]!;
    s.running = Math.max(s.running, a.hdr[H_DEFRAG_RUNNING]);
    s.hits += f64[H_DEFRAG_HITS >> 1];
    s.misses += f64[H_DEFRAG_MISSES >> 1];
    s.keyHits += f64[H_DEFRAG_KEY_HITS >> 1];
    s.keyMisses += f64[H_DEFRAG_KEY_MISSES >> 1];
    s.totalMs = Math.max(s.totalMs, f64[H_DEFRAG_TOTAL_MS >> 1]);
    const started = f64[H_DEFRAG_STARTED >> 1];
    if (started !== 0) s.currentMs = Math.max(s.currentMs, now - started);
  }
  return s;
}

/** Segments released by defrag in this arena so far (MEMORY MALLOC-STATS). */
export function defragReleased(a: Arena): number {
  return a.hdr[H_DEFRAG_RELEASED];
}

/**
 * The keyspace of one logical shard: `dbCount` databases, each a hash table of key
 * records in the shard's arena (native-layout/dict.md, native-layout/record.md).
 * Plain methods over arena memory, so whichever thread holds the arena's segments
 * (the owner shard, or the io thread during a cross-shard transaction) can run them.
 */
import { Arena, blockSize } from './arena';
import { hashBytes, rev32 } from './hash';
import { copyBytes, equalBytes } from './bytes';
import { accessedLru, initialLru } from './evict';
import {
  ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, GRANULE_SHIFT, H_EXPIRED_KEYS, H_KEYSPACE_HITS, H_KEYSPACE_MISSES, H_LAZYFREE_COUNT, H_LAZYFREE_HEAD, H_ROOT, H_SNAPSHOT,
  LARGE_BLOCK,
} from '../../native-layout/arena';
import { D_SNAPSHOT } from '../../native-layout/snapshot';
import {
  EMBSTR_LIMIT, ENC_EMBSTR, ENC_RAW, FLAG_HAS_EXPIRE, KEYLEN_MASK, LRU_MASK, META_ENC_MASK, META_ENC_SHIFT, META_LRU_SHIFT,
  META_TYPE_MASK, R_EXPIRE_HI, R_EXPIRE_LO, R_HASH, R_HEADER, R_HEADER_EXPIRE, R_KEYLEN, R_META, R_NEXT, R_VALUE,
  TYPE_STRING,
} from '../../native-layout/record';
import {
  DICT_HEADER_WORDS, DICT_INITIAL_SIZE, D_EXPIRE_CURSOR, D_REHASH_IDX, D_SIZE0, D_SIZE1, D_TABLE0, D_TABLE1,
  D_USED0, D_USED1, D_VOLATILE, REHASH_EMPTY_VISITS, REHASH_STEP,
} from '../../native-layout/dict';

const NOT_REHASHING = 0xffffffff;
const TWO32 = 4294967296;

/** Seconds clock for LRU, 24 bits as Redis's LRU_CLOCK(). */
export function lruClock(nowMs: number): number {
  return Math.floor(nowMs / 1000) & LRU_MASK;
}

/** Frees what a record's value owns outside the record (collections); set by the data-type modules. */
export type ValueFreer = (ks: Keyspace, addr: number) => void;

/**
 * Frees part of a queued value (its address) until `deadline` (performance.now() ms);
 * returns true once the value is entirely freed.
 */
export type ValueStepFreer = (ks: Keyspace, value: number, deadline: number) => boolean;

const LAZYFREE_NODE = 12;

/**
 * What the keyspace calls while a snapshot is active (src/persistence/snapshot.ts installs
 * one per thread): `beforeRemove` before it deletes a record on its own (expiry), so the
 * record's bucket is serialized first; `finish` before it drops or swaps whole tables.
 */
export interface SnapshotSink {
  beforeRemove(ks: Keyspace, db: number, hash: number): void;
  finish(ks: Keyspace): void;
}

export class Keyspace {
  readonly arena: Arena;
  readonly dbCount: number;
  /** Root block: u32 dbCount then the dict headers. */
  private root: Uint32Array;
  private rootWord: number;
  private seed: number;

  /** Where the last find() found its record: the word that points at it, and its table. */
  refWords: Uint32Array = new Uint32Array(1);
  refIndex = 0;
  foundTable = 0;

  /** Hooks by type for values stored outside the record. */
  static valueFreers: (ValueFreer | null)[] = [null, null, null, null, null];
  /** Step freers by type, for values put on the lazy-free queue. */
  static valueStepFreers: (ValueStepFreer | null)[] = [null, null, null, null, null];
  /** This thread's snapshot hooks; required while any arena it runs has a snapshot active. */
  static snapshotSink: SnapshotSink | null = null;
  /** This thread's hook for keys removed by expiry (the AOF's DEL), or null. */
  static expireHook: ((ks: Keyspace, db: number, addr: number) => void) | null = null;

  /**
   * Lookups count as keyspace hits or misses (Redis's lookupKeyRead*): set by the executor for
   * the command it runs (read-only ones, and those that read a key as GET does), per thread.
   */
  static countLookups = false;

  /** INFO keyspace_hits / keyspace_misses of this arena, readable from any thread. */
  get keyspaceHits(): number {
    return this.arena.f64[0]![H_KEYSPACE_HITS >> 1];
  }
  get keyspaceMisses(): number {
    return this.arena.f64[0]![H_KEYSPACE_MISSES >> 1];
  }

  /** Keys removed by expiry, kept in the arena header so the io thread can read it. */
  get expiredKeys(): number {
    return this.arena.hdr[H_EXPIRED_KEYS] >>> 0;
  }

  private constructor(arena: Arena) {
    this.arena = arena;
    const rootAddr = arena.hdr[H_ROOT] >>> 0;
    this.root = arena.u32[rootAddr >>> ADDR_OFFSET_BITS]!;
    this.rootWord = ((rootAddr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
    this.dbCount = this.root[this.rootWord];
    this.seed = arena.hashSeed;
  }

  static create(arena: Arena, dbCount: number): Keyspace {
    const words = 1 + dbCount * DICT_HEADER_WORDS;
    const addr = arena.alloc(words * 4);
    const u32 = arena.u32[addr >>> ADDR_OFFSET_BITS]!;
    const w = ((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
    u32.fill(0, w, w + words);
    u32[w] = dbCount;
    for (let db = 0; db < dbCount; db++) u32[w + 1 + db * DICT_HEADER_WORDS + D_REHASH_IDX] = NOT_REHASHING;
    arena.hdr[H_ROOT] = addr;
    // Data goes to segment 1 on: segment 0 (header, root) is the one defrag cannot release.
    arena.leaveSegmentZero();
    return new Keyspace(arena);
  }

  static attach(arena: Arena): Keyspace {
    return new Keyspace(arena);
  }

  /** A snapshot is in progress in this arena (one header word). */
  get snapshotActive(): boolean {
    return this.arena.hdr[H_SNAPSHOT] !== 0;
  }

  private snapshotSinkOrThrow(): SnapshotSink {
    const sink = Keyspace.snapshotSink;
    if (sink === null) throw new Error('snapshot active but no snapshot sink installed on this thread');
    return sink;
  }

  /** Word `field` (native-layout/dict.ts D_*) of database db's dict header. */
  dictField(db: number, field: number): number {
    return this.root[this.dh(db) + field];
  }
  setDictField(db: number, field: number, v: number): void {
    this.root[this.dh(db) + field] = v;
  }

  hash(buf: Uint8Array, start: number, end: number): number {
    return hashBytes(buf, start, end, this.seed);
  }

  /** Word index of database `db`'s dict header in `root`. */
  private dh(db: number): number {
    return this.rootWord + 1 + db * DICT_HEADER_WORDS;
  }

  // ---- record accessors ---------------------------------------------------------------

  u8(addr: number): Uint8Array {
    return this.arena.u8[addr >>> ADDR_OFFSET_BITS]!;
  }
  u32(addr: number): Uint32Array {
    return this.arena.u32[addr >>> ADDR_OFFSET_BITS]!;
  }
  static off(addr: number): number {
    return (addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT;
  }

  type(addr: number): number {
    return this.u32(addr)[(Keyspace.off(addr) + R_META) >>> 2] & META_TYPE_MASK;
  }
  encoding(addr: number): number {
    return (this.u32(addr)[(Keyspace.off(addr) + R_META) >>> 2] >>> META_ENC_SHIFT) & 0xf;
  }
  setEncoding(addr: number, enc: number): void {
    const u32 = this.u32(addr), w = (Keyspace.off(addr) + R_META) >>> 2;
    u32[w] = (u32[w] & ~0xf0) | (enc << META_ENC_SHIFT);
  }
  lru(addr: number): number {
    return this.u32(addr)[(Keyspace.off(addr) + R_META) >>> 2] >>> META_LRU_SHIFT;
  }
  /** An access (lookupKey): LRU clock, or LFU counter bump, per maxmemory-policy (src/store/evict.ts). */
  touch(addr: number, nowMs: number): void {
    const u32 = this.u32(addr), w = (Keyspace.off(addr) + R_META) >>> 2;
    const m = u32[w];
    u32[w] = (m & 0xff) | (accessedLru(m >>> META_LRU_SHIFT, nowMs) << META_LRU_SHIFT);
  }
  keyLen(addr: number): number {
    return this.u32(addr)[(Keyspace.off(addr) + R_KEYLEN) >>> 2] & KEYLEN_MASK;
  }
  hasExpire(addr: number): boolean {
    return (this.u32(addr)[(Keyspace.off(addr) + R_KEYLEN) >>> 2] & FLAG_HAS_EXPIRE) !== 0;
  }
  /** Absolute expiry in ms, or -1. */
  expireAt(addr: number): number {
    const u32 = this.u32(addr), w = Keyspace.off(addr) >>> 2;
    if ((u32[w + (R_KEYLEN >>> 2)] & FLAG_HAS_EXPIRE) === 0) return -1;
    return u32[w + (R_EXPIRE_HI >>> 2)] * TWO32 + u32[w + (R_EXPIRE_LO >>> 2)];
  }
  /** Byte offset (in u8(addr)) of the key. */
  keyOffset(addr: number): number {
    const off = Keyspace.off(addr);
    return off + ((this.u32(addr)[(off + R_KEYLEN) >>> 2] & FLAG_HAS_EXPIRE) !== 0 ? R_HEADER_EXPIRE : R_HEADER);
  }
  /** The value word: string length, or the address of a collection's value block. */
  valueWord(addr: number): number {
    return this.u32(addr)[(Keyspace.off(addr) + R_VALUE) >>> 2];
  }
  setValueWord(addr: number, v: number): void {
    this.u32(addr)[(Keyspace.off(addr) + R_VALUE) >>> 2] = v;
  }
  /** Byte offset of a string record's value. */
  valueOffset(addr: number): number {
    return this.keyOffset(addr) + this.keyLen(addr);
  }

  /** Bytes of the record block itself (strings include their value). */
  recordSize(addr: number): number {
    const off = Keyspace.off(addr), u32 = this.u32(addr);
    const kw = u32[(off + R_KEYLEN) >>> 2];
    const head = (kw & FLAG_HAS_EXPIRE) !== 0 ? R_HEADER_EXPIRE : R_HEADER;
    const type = u32[(off + R_META) >>> 2] & META_TYPE_MASK;
    return head + (kw & KEYLEN_MASK) + (type === TYPE_STRING ? u32[(off + R_VALUE) >>> 2] : 0);
  }

  /** Free a record no longer linked anywhere, and what its value owns. */
  freeRecord(addr: number): void {
    const t = this.type(addr);
    const f = Keyspace.valueFreers[t];
    if (f !== null) f(this, addr);
    this.arena.free(addr, this.recordSize(addr));
  }

  /**
   * A new, unlinked record. `valueWord` is the string length (bytes left uninitialised
   * after the key) or a collection's value address. expireMs < 0: no expiry.
   */
  newRecord(hash: number, type: number, enc: number, key: Uint8Array, ks: number, ke: number,
    valueWord: number, expireMs: number, nowMs: number): number {
    const klen = ke - ks;
    const head = expireMs >= 0 ? R_HEADER_EXPIRE : R_HEADER;
    const addr = this.arena.alloc(head + klen + (type === TYPE_STRING ? valueWord : 0));
    const u32 = this.u32(addr), off = Keyspace.off(addr), w = off >>> 2;
    u32[w] = 0;
    u32[w + 1] = hash;
    u32[w + 2] = type | (enc << META_ENC_SHIFT) | (initialLru(nowMs) << META_LRU_SHIFT);
    u32[w + 3] = expireMs >= 0 ? (klen | FLAG_HAS_EXPIRE) : klen;
    u32[w + 4] = valueWord;
    if (expireMs >= 0) {
      u32[w + 5] = expireMs % TWO32;
      u32[w + 6] = Math.floor(expireMs / TWO32);
    }
    copyBytes(key, ks, ke, this.u8(addr), off + head);
    return addr;
  }

  /**
   * Copy a record with another expiry state and/or string length; the key and the
   * first min(old,new) value bytes are kept. Returns the new (unlinked) record.
   */
  private copyRecord(addr: number, valueWord: number, expireMs: number): number {
    const u8 = this.u8(addr), u32 = this.u32(addr), off = Keyspace.off(addr), w = off >>> 2;
    const meta = u32[w + 2];
    const type = meta & META_TYPE_MASK;
    const ko = this.keyOffset(addr), klen = this.keyLen(addr);
    const n = this.newRecord(u32[w + 1], type, 0, u8, ko, ko + klen, valueWord, expireMs, 0);
    const nu32 = this.u32(n), nw = Keyspace.off(n) >>> 2;
    nu32[nw + 2] = meta;
    if (type === TYPE_STRING) {
      const oldLen = u32[w + 4];
      const vo = ko + klen;
      copyBytes(u8, vo, vo + (oldLen < valueWord ? oldLen : valueWord), this.u8(n), this.keyOffset(n) + klen);
    }
    return n;
  }

  // ---- lazy free ----------------------------------------------------------------------

  /** Queue a big value (of `type`, at `value`) to be freed in steps by the owning shard. */
  lazyFree(type: number, value: number): void {
    const node = this.arena.alloc(LAZYFREE_NODE);
    const u32 = this.u32(node), w = Keyspace.off(node) >>> 2;
    const h = this.arena.hdr;
    u32[w] = h[H_LAZYFREE_HEAD];
    u32[w + 1] = type;
    u32[w + 2] = value;
    h[H_LAZYFREE_HEAD] = node;
    h[H_LAZYFREE_COUNT]++;
  }

  get lazyFreePending(): number {
    return this.arena.hdr[H_LAZYFREE_COUNT];
  }

  /** Free queued values until `deadline` (performance.now() ms). */
  lazyFreeStep(deadline: number): void {
    const h = this.arena.hdr;
    while (h[H_LAZYFREE_HEAD] !== 0 && performance.now() < deadline) {
      const node = h[H_LAZYFREE_HEAD] >>> 0;
      const u32 = this.u32(node), w = Keyspace.off(node) >>> 2;
      const stepper = Keyspace.valueStepFreers[u32[w + 1]];
      if (stepper === null || stepper(this, u32[w + 2], deadline)) {
        h[H_LAZYFREE_HEAD] = u32[w];
        h[H_LAZYFREE_COUNT]--;
        this.arena.free(node, LAZYFREE_NODE);
      }
    }
  }

  // ---- dict ---------------------------------------------------------------------------

  private bucketWords(table: number): Uint32Array {
    return this.arena.u32[table >>> ADDR_OFFSET_BITS]!;
  }

  /**
   * Find a key; sets refWords/refIndex to the word pointing at it. Does one rehash
   * step first, as Redis's dictFind. Returns the record address or 0.
   */
  find(db: number, key: Uint8Array, ks: number, ke: number, hash: number): number {
    const r = this.root, d = this.dh(db);
    if (r[d + D_REHASH_IDX] !== NOT_REHASHING) this.rehashStep(db, REHASH_STEP);
    const klen = ke - ks;
    for (let t = 0; t < 2; t++) {
      const size = r[d + (t === 0 ? D_SIZE0 : D_SIZE1)];
      if (size !== 0) {
        const table = r[d + (t === 0 ? D_TABLE0 : D_TABLE1)];
        let words = this.bucketWords(table);
        let idx = (Keyspace.off(table) >>> 2) + (hash & (size - 1));
        let addr = words[idx];
        while (addr !== 0) {
          const u32 = this.arena.u32[addr >>> ADDR_OFFSET_BITS]!;
          const w = ((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
          if ((u32[w + 1] | 0) === hash) {
            const kw = u32[w + 3];
            if ((kw & KEYLEN_MASK) === klen) {
              const ko = (w << 2) + ((kw & FLAG_HAS_EXPIRE) !== 0 ? R_HEADER_EXPIRE : R_HEADER);
              if (equalBytes(this.arena.u8[addr >>> ADDR_OFFSET_BITS]!, ko, key, ks, klen)) {
                this.refWords = words;
                this.refIndex = idx;
                this.foundTable = t;
                return addr;
              }
            }
          }
          words = u32;
          idx = w;
          addr = u32[w];
        }
      }
      if (r[d + D_REHASH_IDX] === NOT_REHASHING) break;
    }
    return 0;
  }

  /** Link a new record (whose key is known to be absent) into database `db`. */
  link(db: number, addr: number): void {
    const r = this.root, d = this.dh(db);
    const rehashing = r[d + D_REHASH_IDX] !== NOT_REHASHING;
    if (!rehashing) this.expandIfNeeded(db);
    const t = r[d + D_REHASH_IDX] !== NOT_REHASHING ? 1 : 0;
    const size = r[d + (t === 0 ? D_SIZE0 : D_SIZE1)];
    const table = r[d + (t === 0 ? D_TABLE0 : D_TABLE1)];
    const words = this.bucketWords(table);
    const idx = (Keyspace.off(table) >>> 2) + (this.u32(addr)[(Keyspace.off(addr) + R_HASH) >>> 2] & (size - 1));
    this.u32(addr)[Keyspace.off(addr) >>> 2] = words[idx];
    words[idx] = addr;
    r[d + (t === 0 ? D_USED0 : D_USED1)]++;
    if (this.hasExpire(addr)) r[d + D_VOLATILE]++;
  }

  /** Unlink the record last found (does not free it). */
  unlinkFound(db: number, addr: number): void {
    const r = this.root, d = this.dh(db);
    this.refWords[this.refIndex] = this.u32(addr)[Keyspace.off(addr) >>> 2];
    r[d + (this.foundTable === 0 ? D_USED0 : D_USED1)]--;
    if (this.hasExpire(addr)) r[d + D_VOLATILE]--;
  }

  /** Put `next` in place of the record last found (`old`), in the same chain position; frees nothing. */
  replaceFound(db: number, old: number, next: number): void {
    this.u32(next)[Keyspace.off(next) >>> 2] = this.u32(old)[Keyspace.off(old) >>> 2];
    this.refWords[this.refIndex] = next;
    const delta = (this.hasExpire(next) ? 1 : 0) - (this.hasExpire(old) ? 1 : 0);
    if (delta !== 0) this.root[this.dh(db) + D_VOLATILE] += delta;
  }

  /** Delete the record last found and free it. */
  deleteFound(db: number, addr: number): void {
    this.unlinkFound(db, addr);
    this.freeRecord(addr);
  }

  private expandIfNeeded(db: number): void {
    const r = this.root, d = this.dh(db);
    const size = r[d + D_SIZE0], used = r[d + D_USED0];
    if (size === 0) this.resize(db, DICT_INITIAL_SIZE);
    // A snapshot walks the buckets as they were at its cut: no growing until it is done.
    else if (used >= size && r[d + D_SNAPSHOT] === 0) this.resize(db, used + 1);
  }

  /** Start rehashing into a table of the next power of two >= minSize (Redis's _dictExpand). */
  private resize(db: number, minSize: number): void {
    const r = this.root, d = this.dh(db);
    let size = DICT_INITIAL_SIZE;
    while (size < minSize) size *= 2;
    if (size === r[d + D_SIZE0]) return;
    const bytes = size * 4;
    const table = this.arena.alloc(bytes);
    // Fresh dedicated segments are zero already; reused blocks are not.
    if (blockSize(bytes) < LARGE_BLOCK) {
      const w = Keyspace.off(table) >>> 2;
      this.bucketWords(table).fill(0, w, w + size);
    }
    if (r[d + D_SIZE0] === 0) {
      r[d + D_TABLE0] = table;
      r[d + D_SIZE0] = size;
      return;
    }
    r[d + D_TABLE1] = table;
    r[d + D_SIZE1] = size;
    r[d + D_USED1] = 0;
    r[d + D_REHASH_IDX] = 0;
  }

  isRehashing(db: number): boolean {
    return this.root[this.dh(db) + D_REHASH_IDX] !== NOT_REHASHING;
  }

  /** Move up to n buckets from table 0 to table 1; true if more remain (Redis's dictRehash). */
  rehashStep(db: number, n: number): boolean {
    const r = this.root, d = this.dh(db);
    // Frozen by a snapshot: records stay in the buckets they had at the cut.
    if (r[d + D_REHASH_IDX] === NOT_REHASHING || r[d + D_SNAPSHOT] !== 0) return false;
    let emptyVisits = n * (REHASH_EMPTY_VISITS / REHASH_STEP);
    const t0 = r[d + D_TABLE0], s0 = r[d + D_SIZE0];
    const t1 = r[d + D_TABLE1], mask1 = r[d + D_SIZE1] - 1;
    const w0 = this.bucketWords(t0), b0 = Keyspace.off(t0) >>> 2;
    const w1 = this.bucketWords(t1), b1 = Keyspace.off(t1) >>> 2;
    let idx = r[d + D_REHASH_IDX];
    while (n-- > 0 && r[d + D_USED0] !== 0) {
      while (w0[b0 + idx] === 0) {
        idx++;
        if (--emptyVisits === 0) {
          r[d + D_REHASH_IDX] = idx;
          return true;
        }
      }
      let addr = w0[b0 + idx];
      while (addr !== 0) {
        const u32 = this.arena.u32[addr >>> ADDR_OFFSET_BITS]!;
        const w = ((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
        const next = u32[w];
        const dst = b1 + (u32[w + 1] & mask1);
        u32[w] = w1[dst];
        w1[dst] = addr;
        r[d + D_USED0]--;
        r[d + D_USED1]++;
        addr = next;
      }
      w0[b0 + idx] = 0;
      idx++;
    }
    if (r[d + D_USED0] === 0) {
      this.arena.free(t0, s0 * 4);
      r[d + D_TABLE0] = t1;
      r[d + D_SIZE0] = r[d + D_SIZE1];
      r[d + D_USED0] = r[d + D_USED1];
      r[d + D_TABLE1] = 0;
      r[d + D_SIZE1] = 0;
      r[d + D_USED1] = 0;
      r[d + D_REHASH_IDX] = NOT_REHASHING;
      return false;
    }
    r[d + D_REHASH_IDX] = idx;
    return true;
  }

  /** Cron work: rehash for up to `ms` per database, and shrink tables under 10% full. */
  cron(ms: number): void {
    for (let db = 0; db < this.dbCount; db++) {
      const r = this.root, d = this.dh(db);
      if (r[d + D_SNAPSHOT] !== 0) continue;
      if (r[d + D_REHASH_IDX] === NOT_REHASHING) {
        const size = r[d + D_SIZE0], used = r[d + D_USED0];
        if (size > DICT_INITIAL_SIZE && used * 100 < size * 10) {
          if (used === 0) this.freeTables(db);
          else this.resize(db, used);
        }
        continue;
      }
      const start = performance.now();
      while (this.rehashStep(db, 100) && performance.now() - start < ms);
    }
  }

  size(db: number): number {
    const r = this.root, d = this.dh(db);
    return r[d + D_USED0] + r[d + D_USED1];
  }

  volatileCount(db: number): number {
    return this.root[this.dh(db) + D_VOLATILE];
  }

  // ---- keys ---------------------------------------------------------------------------

  /** Remove the key if its expiry has passed (the record must be the last found). */
  expireIfNeeded(db: number, addr: number, nowMs: number): boolean {
    const e = this.expireAt(addr);
    if (e < 0 || e > nowMs) return false;
    // Copy-before-write: the record's bucket goes into an active snapshot before it changes.
    if (this.arena.hdr[H_SNAPSHOT] !== 0) {
      const u32 = this.u32(addr);
      this.snapshotSinkOrThrow().beforeRemove(this, db, u32[(Keyspace.off(addr) + R_HASH) >>> 2] | 0);
    }
    if (Keyspace.expireHook !== null) Keyspace.expireHook(this, db, addr);
    this.deleteFound(db, addr);
    this.arena.hdr[H_EXPIRED_KEYS]++;
    return true;
  }

  /**
   * Remove the record last found on the keyspace's own initiative (maxmemory eviction): its
   * bucket goes into an active snapshot first, as for expiry.
   */
  removeFound(db: number, addr: number): void {
    if (this.arena.hdr[H_SNAPSHOT] !== 0) {
      this.snapshotSinkOrThrow().beforeRemove(this, db, this.u32(addr)[(Keyspace.off(addr) + R_HASH) >>> 2] | 0);
    }
    this.deleteFound(db, addr);
  }

  /**
   * dictGetSomeKeys(): up to `count` records of db into `out`, from consecutive buckets at a
   * random place (both tables while rehashing), jumping elsewhere after runs of empty
   * buckets. `volatileOnly` keeps keys with an expiry only (there is no separate expires
   * dict), walking proportionally more buckets. Eviction sampling: cheap, not uniform.
   */
  sampleRecords(db: number, out: Uint32Array, count: number, volatileOnly: boolean): number {
    const r = this.root, d = this.dh(db);
    const size = r[d + D_USED0] + r[d + D_USED1];
    const wanted = volatileOnly ? r[d + D_VOLATILE] : size;
    if (wanted === 0) return 0;
    if (wanted < count) count = wanted;
    let maxSteps = count * 10;
    if (volatileOnly && wanted < size) maxSteps = Math.min(count * 10 * Math.ceil(size / wanted), 1 << 16);
    for (let j = 0; j < count && r[d + D_REHASH_IDX] !== NOT_REHASHING; j++) this.rehashStep(db, 1);
    const rehashIdx = r[d + D_REHASH_IDX];
    const tables = rehashIdx !== NOT_REHASHING ? 2 : 1;
    const s0 = r[d + D_SIZE0], s1 = tables === 2 ? r[d + D_SIZE1] : 0;
    const mask = (s1 > s0 ? s1 : s0) - 1;
    let i = Math.floor(Math.random() * (mask + 1));
    let empty = 0, stored = 0;
    while (stored < count && maxSteps-- > 0) {
      for (let t = 0; t < tables; t++) {
        // Buckets of table 0 below the rehash index are empty (already moved).
        if (tables === 2 && t === 0 && i < rehashIdx) {
          if (i >= s1) i = rehashIdx;
          else continue;
        }
        if (i >= (t === 0 ? s0 : s1)) continue;
        const table = r[d + (t === 0 ? D_TABLE0 : D_TABLE1)];
        let addr = this.bucketWords(table)[(Keyspace.off(table) >>> 2) + i];
        if (addr === 0) {
          if (++empty >= 5 && empty > count) {
            i = Math.floor(Math.random() * (mask + 1));
            empty = 0;
          }
          continue;
        }
        empty = 0;
        while (addr !== 0) {
          const u32 = this.arena.u32[addr >>> ADDR_OFFSET_BITS]!;
          const w = ((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
          if (!volatileOnly || (u32[w + 3] & FLAG_HAS_EXPIRE) !== 0) {
            out[stored++] = addr;
            if (stored === count) return stored;
          }
          addr = u32[w];
        }
      }
      i = (i + 1) & mask;
    }
    return stored;
  }

  /** Find a live key (lazy expiry applied); updates its LRU clock. */
  lookup(db: number, key: Uint8Array, ks: number, ke: number, nowMs: number): number {
    let addr = this.find(db, key, ks, ke, hashBytes(key, ks, ke, this.seed));
    if (addr !== 0 && this.expireIfNeeded(db, addr, nowMs)) addr = 0;
    if (Keyspace.countLookups) this.countLookup(addr);
    if (addr !== 0) this.touch(addr, nowMs);
    return addr;
  }

  private countLookup(addr: number): void {
    this.arena.f64[0]![(addr !== 0 ? H_KEYSPACE_HITS : H_KEYSPACE_MISSES) >> 1]++;
  }

  /** Like lookup, without touching the LRU clock (TYPE, TTL, OBJECT... as Redis's LOOKUP_NOTOUCH). */
  lookupNoTouch(db: number, key: Uint8Array, ks: number, ke: number, nowMs: number): number {
    const addr = this.findLive(db, key, ks, ke, nowMs);
    if (Keyspace.countLookups) this.countLookup(addr);
    return addr;
  }

  /**
   * Redis's lookupKeyWrite: find a live key (lazy expiry applied), LRU touched, never counted
   * as a keyspace hit or miss (the key a write command is about to change).
   */
  lookupWrite(db: number, key: Uint8Array, ks: number, ke: number, nowMs: number): number {
    const addr = this.findLive(db, key, ks, ke, nowMs);
    if (addr !== 0) this.touch(addr, nowMs);
    return addr;
  }

  /** The record of a key that has not expired (an expired one is deleted), counting nothing. */
  private findLive(db: number, key: Uint8Array, ks: number, ke: number, nowMs: number): number {
    const addr = this.find(db, key, ks, ke, hashBytes(key, ks, ke, this.seed));
    if (addr === 0) return 0;
    if (this.expireIfNeeded(db, addr, nowMs)) return 0;
    return addr;
  }

  /** Delete a key if present; true if it was deleted. */
  delete(db: number, key: Uint8Array, ks: number, ke: number, nowMs: number): boolean {
    const addr = this.findLive(db, key, ks, ke, nowMs);
    if (addr === 0) return false;
    this.deleteFound(db, addr);
    return true;
  }

  /**
   * Store a string value under a key, replacing any old value. `expireMs` < 0 drops
   * any expiry; keepTtl keeps the old one. The record is rewritten in place when its
   * block class and expiry layout allow it. Returns the record address.
   */
  setString(db: number, key: Uint8Array, ks: number, ke: number, val: Uint8Array, vs: number, ve: number,
    expireMs: number, keepTtl: boolean, nowMs: number): number {
    const hash = hashBytes(key, ks, ke, this.seed);
    let addr = this.find(db, key, ks, ke, hash);
    const vlen = ve - vs;
    const enc = vlen <= EMBSTR_LIMIT ? ENC_EMBSTR : ENC_RAW;
    if (addr !== 0) {
      // Header words read once: this is the hot path of SET on an existing key.
      const u32 = this.arena.u32[addr >>> ADDR_OFFSET_BITS]!;
      const w = ((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
      const kw = u32[w + 3];
      const hasExpire = (kw & FLAG_HAS_EXPIRE) !== 0;
      const oldExpire = hasExpire ? u32[w + 6] * TWO32 + u32[w + 5] : -1;
      const newExpire = keepTtl ? oldExpire : expireMs;
      if ((u32[w + 2] & META_TYPE_MASK) === TYPE_STRING && hasExpire === (newExpire >= 0)) {
        const head = (hasExpire ? R_HEADER_EXPIRE : R_HEADER) + (kw & KEYLEN_MASK);
        const cur = head + u32[w + 4], want = head + vlen;
        if (cur === want || blockSize(cur) === blockSize(want)) {
          // Same block and layout: overwrite the value in place. The key counts as accessed
          // (setKey's lookupKeyWrite; under LFU dbSetValue keeps the bumped counter).
          u32[w + 2] = TYPE_STRING | (enc << META_ENC_SHIFT) | (accessedLru(u32[w + 2] >>> META_LRU_SHIFT, nowMs) << META_LRU_SHIFT);
          u32[w + 4] = vlen;
          if (newExpire >= 0) {
            u32[w + 5] = newExpire % TWO32;
            u32[w + 6] = Math.floor(newExpire / TWO32);
          }
          copyBytes(val, vs, ve, this.arena.u8[addr >>> ADDR_OFFSET_BITS]!, (w << 2) + head);
          return addr;
        }
      }
      const n = this.newRecord(hash, TYPE_STRING, enc, key, ks, ke, vlen, newExpire, nowMs);
      const nw = (Keyspace.off(n) + R_META) >>> 2, nu32 = this.u32(n);
      nu32[nw] = (nu32[nw] & 0xff) | (accessedLru(u32[w + 2] >>> META_LRU_SHIFT, nowMs) << META_LRU_SHIFT);
      copyBytes(val, vs, ve, this.u8(n), this.valueOffset(n));
      this.replaceFound(db, addr, n);
      this.freeRecord(addr);
      return n;
    }
    addr = this.newRecord(hash, TYPE_STRING, enc, key, ks, ke, vlen, keepTtl ? -1 : expireMs, nowMs);
    copyBytes(val, vs, ve, this.u8(addr), this.valueOffset(addr));
    this.link(db, addr);
    return addr;
  }

  /**
   * Overwrite a string record's value when the new bytes fit its block; keeps any expiry.
   * False (nothing written) when the record must move: use resizeStringFound then.
   */
  overwriteStringInPlace(addr: number, val: Uint8Array, vs: number, ve: number, enc: number): boolean {
    const u32 = this.arena.u32[addr >>> ADDR_OFFSET_BITS]!;
    const w = ((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) >>> 2;
    const kw = u32[w + 3];
    const head = ((kw & FLAG_HAS_EXPIRE) !== 0 ? R_HEADER_EXPIRE : R_HEADER) + (kw & KEYLEN_MASK);
    const cur = head + u32[w + 4], want = head + (ve - vs);
    if (cur !== want && blockSize(cur) !== blockSize(want)) return false;
    u32[w + 2] = (u32[w + 2] & ~META_ENC_MASK) | (enc << META_ENC_SHIFT);
    u32[w + 4] = ve - vs;
    copyBytes(val, vs, ve, this.arena.u8[addr >>> ADDR_OFFSET_BITS]!, (w << 2) + head);
    return true;
  }

  /**
   * Resize the string value of the record last found to `len` bytes (contents kept up
   * to the shorter length). Returns the record, moved if its block had to change.
   */
  resizeStringFound(db: number, addr: number, len: number): number {
    const cur = this.recordSize(addr);
    const want = cur - this.valueWord(addr) + len;
    if (blockSize(cur) === blockSize(want)) {
      this.setValueWord(addr, len);
      return addr;
    }
    const n = this.copyRecord(addr, len, this.expireAt(addr));
    this.replaceFound(db, addr, n);
    this.freeRecord(addr);
    return n;
  }

  /** Set or clear (ms < 0) the expiry of the record last found; returns the record, maybe moved. */
  setExpireFound(db: number, addr: number, ms: number): number {
    const has = this.hasExpire(addr);
    if (has && ms >= 0) {
      const u32 = this.u32(addr), w = Keyspace.off(addr) >>> 2;
      u32[w + 5] = ms % TWO32;
      u32[w + 6] = Math.floor(ms / TWO32);
      return addr;
    }
    if (!has && ms < 0) return addr;
    const n = this.copyRecord(addr, this.valueWord(addr), ms);
    if (this.type(addr) !== TYPE_STRING) this.setValueWord(addr, 0); // ownership moved to n
    this.replaceFound(db, addr, n);
    this.arena.free(addr, this.recordSize(addr));
    return n;
  }

  /**
   * Link a copy of record `src` (from any keyspace with the same layout) under its own key
   * into `db` of this keyspace; `cloneValue` copies a collection value into this arena.
   */
  adoptCopy(db: number, srcKs: Keyspace, src: number, expireMs: number, nowMs: number,
    cloneValue: ((from: Keyspace, src: number, to: Keyspace) => number) | null): number {
    const su8 = srcKs.u8(src), ko = srcKs.keyOffset(src), klen = srcKs.keyLen(src);
    const type = srcKs.type(src);
    const valueWord = type === TYPE_STRING ? srcKs.valueWord(src) : cloneValue!(srcKs, src, this);
    const hash = hashBytes(su8, ko, ko + klen, this.seed);
    const n = this.newRecord(hash, type, srcKs.encoding(src), su8, ko, ko + klen, valueWord, expireMs, nowMs);
    if (type === TYPE_STRING) copyBytes(su8, ko + klen, ko + klen + valueWord, this.u8(n), this.valueOffset(n));
    this.link(db, n);
    return n;
  }

  // ---- whole databases ----------------------------------------------------------------

  /** Visit every record of db (no mutation allowed in fn). */
  forEach(db: number, fn: (addr: number) => void): void {
    const r = this.root, d = this.dh(db);
    for (let t = 0; t < 2; t++) {
      const size = r[d + (t === 0 ? D_SIZE0 : D_SIZE1)];
      if (size === 0) continue;
      const table = r[d + (t === 0 ? D_TABLE0 : D_TABLE1)];
      const words = this.bucketWords(table), base = Keyspace.off(table) >>> 2;
      for (let i = 0; i < size; i++) {
        let addr = words[base + i];
        while (addr !== 0) {
          const next = this.u32(addr)[Keyspace.off(addr) >>> 2];
          fn(addr);
          addr = next;
        }
      }
    }
  }

  private freeTables(db: number): void {
    const r = this.root, d = this.dh(db);
    if (r[d + D_SIZE0] !== 0) this.arena.free(r[d + D_TABLE0], r[d + D_SIZE0] * 4);
    if (r[d + D_SIZE1] !== 0) this.arena.free(r[d + D_TABLE1], r[d + D_SIZE1] * 4);
    for (let i = 0; i < DICT_HEADER_WORDS; i++) r[d + i] = 0;
    r[d + D_REHASH_IDX] = NOT_REHASHING;
  }

  /** Remove every key of db. Returns how many were removed. */
  flush(db: number): number {
    if (this.arena.hdr[H_SNAPSHOT] !== 0) this.snapshotSinkOrThrow().finish(this);
    const n = this.size(db);
    this.forEach(db, (addr) => this.freeRecord(addr));
    this.freeTables(db);
    return n;
  }

  /** SWAPDB: exchange two dict headers. */
  swap(a: number, b: number): void {
    if (this.arena.hdr[H_SNAPSHOT] !== 0) this.snapshotSinkOrThrow().finish(this);
    const r = this.root, da = this.dh(a), db = this.dh(b);
    for (let i = 0; i < DICT_HEADER_WORDS; i++) {
      const t = r[da + i];
      r[da + i] = r[db + i];
      r[db + i] = t;
    }
  }

  /**
   * One step of SCAN over db with Redis's reverse-binary cursor (dictScan): visits the
   * buckets for `cursor` and returns the next cursor (0 when done).
   */
  scanStep(db: number, cursor: number, fn: (addr: number) => void): number {
    const r = this.root, d = this.dh(db);
    if (this.size(db) === 0 || r[d + D_SIZE0] === 0) return 0;
    let v = cursor >>> 0;
    const visit = (table: number, i: number) => {
      const words = this.bucketWords(table);
      let addr = words[(Keyspace.off(table) >>> 2) + i];
      while (addr !== 0) {
        const next = this.u32(addr)[Keyspace.off(addr) >>> 2];
        fn(addr);
        addr = next;
      }
    };
    if (r[d + D_REHASH_IDX] === NOT_REHASHING) {
      const m0 = r[d + D_SIZE0] - 1;
      visit(r[d + D_TABLE0], v & m0);
      v = (v | ~m0) >>> 0;
      v = rev32(v);
      v = (v + 1) >>> 0;
      v = rev32(v);
    } else {
      let tS = r[d + D_TABLE0], tL = r[d + D_TABLE1];
      let mS = r[d + D_SIZE0] - 1, mL = r[d + D_SIZE1] - 1;
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

  /** A random live key's record (Redis's dictGetFairRandomKey, simplified), or 0. */
  randomRecord(db: number, nowMs: number): number {
    const r = this.root, d = this.dh(db);
    for (let tries = 0; tries < 100 && this.size(db) > 0; tries++) {
      let table: number, size: number;
      const s0 = r[d + D_SIZE0], s1 = r[d + D_SIZE1];
      const pick = Math.floor(Math.random() * (s0 + s1));
      if (pick < s0) { table = r[d + D_TABLE0]; size = pick; } else { table = r[d + D_TABLE1]; size = pick - s0; }
      let addr = this.bucketWords(table)[(Keyspace.off(table) >>> 2) + size];
      if (addr === 0) { tries--; continue; }
      let len = 0;
      for (let a = addr; a !== 0; a = this.u32(a)[Keyspace.off(a) >>> 2]) len++;
      for (let k = Math.floor(Math.random() * len); k > 0; k--) addr = this.u32(addr)[Keyspace.off(addr) >>> 2];
      const e = this.expireAt(addr);
      if (e >= 0 && e <= nowMs) {
        const ko = this.keyOffset(addr);
        const u8 = this.u8(addr);
        this.findLive(db, u8, ko, ko + this.keyLen(addr), nowMs);
        continue;
      }
      return addr;
    }
    return 0;
  }

  /**
   * Active expiry for one database: walk buckets from the saved cursor until `deadline`
   * (performance.now() ms), deleting expired records. Returns keys reclaimed.
   */
  activeExpire(db: number, nowMs: number, deadline: number): number {
    const r = this.root, d = this.dh(db);
    if (r[d + D_VOLATILE] === 0) return 0;
    let reclaimed = 0;
    let cursor = r[d + D_EXPIRE_CURSOR];
    const victims: number[] = [];
    let steps = 0;
    do {
      cursor = this.scanStep(db, cursor, (addr) => {
        const e = this.expireAt(addr);
        if (e >= 0 && e <= nowMs) victims.push(addr);
      });
      for (let i = 0; i < victims.length; i++) {
        const a = victims[i];
        const ko = this.keyOffset(a);
        const u8 = this.u8(a);
        if (this.findLive(db, u8, ko, ko + this.keyLen(a), nowMs) === 0) reclaimed++;
      }
      victims.length = 0;
      if (cursor === 0) break;
    } while ((++steps & 63) !== 0 || performance.now() < deadline);
    r[d + D_EXPIRE_CURSOR] = cursor;
    return reclaimed;
  }
}

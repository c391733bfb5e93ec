/**
 * Fork-less point-in-time snapshots of a shard's keyspace (native-layout/snapshot.md).
 *
 * beginSnapshot records the cut in the arena while the shard is parked: every database's
 * tables are frozen (no resize, no rehash), and a bitmap with one bit per bucket at the
 * cut says which buckets are already serialized. From then on a bucket is serialized
 * either by the walk (snapshotStep, in table order, between batches) or, before its first
 * change, by whichever thread is about to change it (snapshotBeforeWrite: copy-before-
 * write by bucket). A bucket's chain at the moment it is serialized is therefore its chain
 * at the cut. All state lives in the arena, so the hooks run on any thread holding it.
 */
import { Keyspace, SnapshotSink } from '../store/keyspace';
import { Store } from '../store/store';
import { LARGE_BLOCK, H_SNAPSHOT } from '../../native-layout/arena';
import { blockSize } from '../store/arena';
import { RdbOut, readValue, writeValue } from './rdb';
import { D_REHASH_IDX, D_SIZE0, D_SIZE1, D_TABLE0, D_TABLE1 } from '../../native-layout/dict';
import {
  CHUNK_BYTES, D_SNAPSHOT, ENTRY_EXPIRE, ENTRY_PREFIX, OP_END, OP_ENTRY, OP_FUNCTIONS, OP_HEADER, SD_BIT0, SD_BIT1, SD_SIZE0,
  SD_SIZE1, SD_TABLE0, SD_TABLE1, SD_WORDS, SNAP_END_BYTES, SNAP_HEADER_BYTES, SNAP_MAGIC, SNAP_VERSION, SS_BITMAP,
  SS_BITMAP_BYTES, SS_CUR_BUCKET, SS_CUR_DB, SS_CUR_TABLE, SS_CUT_MS_HI, SS_CUT_MS_LO, SS_DB_COUNT, SS_EARLY_BUCKETS,
  SS_EARLY_KEYS, SS_HEADER_WORDS, SS_ID, SS_WALK_KEYS, WALK_BATCH,
} from '../../native-layout/snapshot';

const NOT_REHASHING = 0xffffffff;
const TWO32 = 4294967296;

/** Where serialized entries go. One per thread that runs keyspace code. */
export interface SnapshotOut {
  /** Append the entry of record `rec` (key, expiry, value) of database `db`. */
  entry(ks: Keyspace, db: number, rec: number): void;
  /** Hand on whatever is buffered (before parking at, or releasing, a barrier). */
  flush(): void;
  /** The shard's part of snapshot `id` is complete; called after flush(). */
  done(ks: Keyspace, id: number): void;
}

// ---- the cut and its state --------------------------------------------------------------

/** Word index of the state block in its segment's u32 view, or -1 when no snapshot is active. */
function stateWord(ks: Keyspace): number {
  const addr = ks.arena.hdr[H_SNAPSHOT] >>> 0;
  return addr === 0 ? -1 : Keyspace.off(addr) >>> 2;
}

function stateWords(ks: Keyspace): Uint32Array {
  return ks.u32(ks.arena.hdr[H_SNAPSHOT] >>> 0);
}

export function snapshotActive(ks: Keyspace): boolean {
  return ks.arena.hdr[H_SNAPSHOT] !== 0;
}

/** Id of the active snapshot, or -1. */
export function snapshotId(ks: Keyspace): number {
  const w = stateWord(ks);
  return w < 0 ? -1 : stateWords(ks)[w + SS_ID];
}

/** Counters of the active snapshot (zeros when none): copy-before-write vs walk. */
export function snapshotStats(ks: Keyspace): { earlyKeys: number; earlyBuckets: number; walkKeys: number; bitmapBytes: number } {
  const w = stateWord(ks);
  if (w < 0) return { earlyKeys: 0, earlyBuckets: 0, walkKeys: 0, bitmapBytes: 0 };
  const s = stateWords(ks);
  return { earlyKeys: s[w + SS_EARLY_KEYS], earlyBuckets: s[w + SS_EARLY_BUCKETS], walkKeys: s[w + SS_WALK_KEYS], bitmapBytes: s[w + SS_BITMAP_BYTES] };
}

/**
 * Record the cut of snapshot `id` in the arena. Call while the shard is parked (any
 * thread). Throws if a snapshot is already active in this arena.
 */
export function beginSnapshot(ks: Keyspace, id: number, nowMs: number): void {
  const arena = ks.arena;
  if (arena.hdr[H_SNAPSHOT] !== 0) throw new Error('a snapshot is already in progress');
  const dbCount = ks.dbCount;
  const stateBytes = (SS_HEADER_WORDS + dbCount * SD_WORDS) * 4;
  const state = arena.alloc(stateBytes);
  const s = ks.u32(state), w = Keyspace.off(state) >>> 2;
  s.fill(0, w, w + stateBytes / 4);
  s[w + SS_ID] = id;
  s[w + SS_DB_COUNT] = dbCount;
  s[w + SS_CUT_MS_LO] = nowMs % TWO32;
  s[w + SS_CUT_MS_HI] = Math.floor(nowMs / TWO32);
  let bits = 0;
  for (let db = 0; db < dbCount; db++) {
    const p = w + SS_HEADER_WORDS + db * SD_WORDS;
    const size0 = ks.dictField(db, D_SIZE0);
    if (size0 === 0) continue; // empty at the cut: nothing to serialize, resizes stay free
    s[p + SD_TABLE0] = ks.dictField(db, D_TABLE0);
    s[p + SD_SIZE0] = size0;
    s[p + SD_BIT0] = bits;
    bits += size0;
    if (ks.dictField(db, D_REHASH_IDX) !== NOT_REHASHING) {
      const size1 = ks.dictField(db, D_SIZE1);
      s[p + SD_TABLE1] = ks.dictField(db, D_TABLE1);
      s[p + SD_SIZE1] = size1;
      s[p + SD_BIT1] = bits;
      bits += size1;
    }
    ks.setDictField(db, D_SNAPSHOT, 1);
  }
  if (bits > 0) {
    const bytes = ((bits + 31) >>> 5) * 4;
    const bitmap = arena.alloc(bytes);
    // Dedicated segments (1 MiB and up) are fresh and zeroed; reused small blocks are not.
    if (blockSize(bytes) < LARGE_BLOCK) {
      const bw = Keyspace.off(bitmap) >>> 2;
      ks.u32(bitmap).fill(0, bw, bw + bytes / 4);
    }
    // The bitmap may be in a new segment: re-read the state view.
    const s2 = ks.u32(state);
    s2[w + SS_BITMAP] = bitmap;
    s2[w + SS_BITMAP_BYTES] = bytes;
  }
  arena.hdr[H_SNAPSHOT] = state;
}

/** Drop the state, unfreeze the tables; resizes and rehash resume. */
function endSnapshot(ks: Keyspace, out: SnapshotOut): void {
  const arena = ks.arena;
  const state = arena.hdr[H_SNAPSHOT] >>> 0;
  const s = ks.u32(state), w = Keyspace.off(state) >>> 2;
  const id = s[w + SS_ID];
  const dbCount = s[w + SS_DB_COUNT];
  // The last chunk goes out while the snapshot (and its id) is still the shard's state.
  out.flush();
  for (let db = 0; db < dbCount; db++) ks.setDictField(db, D_SNAPSHOT, 0);
  if (s[w + SS_BITMAP] !== 0) arena.free(s[w + SS_BITMAP], s[w + SS_BITMAP_BYTES]);
  arena.hdr[H_SNAPSHOT] = 0;
  arena.free(state, (SS_HEADER_WORDS + dbCount * SD_WORDS) * 4);
  out.done(ks, id);
}

// ---- serializing buckets ------------------------------------------------------------------

/** Serialize one bucket's chain (at the cut, since it was not touched) and mark it. Returns records written. */
function serializeBucket(ks: Keyspace, db: number, table: number, bucket: number, out: SnapshotOut): number {
  let n = 0;
  let addr = ks.u32(table)[(Keyspace.off(table) >>> 2) + bucket];
  while (addr !== 0) {
    out.entry(ks, db, addr);
    n++;
    addr = ks.u32(addr)[Keyspace.off(addr) >>> 2];
  }
  return n;
}

/**
 * Copy-before-write: serialize the bucket(s) `hash` maps to in database db (both tables
 * if a rehash was in progress at the cut) unless already done. Call before any change to
 * a key of that hash (key hash: ks.hash(buf, s, e)). Cheap when no snapshot is active.
 */
export function snapshotBeforeWrite(ks: Keyspace, db: number, hash: number, out: SnapshotOut): void {
  const state = ks.arena.hdr[H_SNAPSHOT] >>> 0;
  if (state === 0) return;
  const s = ks.u32(state), w = Keyspace.off(state) >>> 2;
  if (db >= s[w + SS_DB_COUNT]) return;
  const p = w + SS_HEADER_WORDS + db * SD_WORDS;
  const size0 = s[p + SD_SIZE0];
  if (size0 === 0) return;
  const bitmap = s[w + SS_BITMAP];
  const bm = ks.u32(bitmap), bw = Keyspace.off(bitmap) >>> 2;
  for (let t = 0; t < 2; t++) {
    const size = s[p + (t === 0 ? SD_SIZE0 : SD_SIZE1)];
    if (size === 0) break;
    const bucket = hash & (size - 1);
    const bit = s[p + (t === 0 ? SD_BIT0 : SD_BIT1)] + bucket;
    const word = bw + (bit >>> 5), mask = 1 << (bit & 31);
    if ((bm[word] & mask) !== 0) continue;
    bm[word] |= mask;
    s[w + SS_EARLY_KEYS] += serializeBucket(ks, db, s[p + (t === 0 ? SD_TABLE0 : SD_TABLE1)], bucket, out);
    s[w + SS_EARLY_BUCKETS]++;
  }
}

/**
 * Serialize buckets in table order until `deadline` (performance.now() ms; at least
 * WALK_BATCH buckets per call). Returns true when this shard's part is complete: the state
 * is then cleared, `out` flushed and `out.done` called. Also true when no snapshot is active.
 */
export function snapshotStep(ks: Keyspace, deadline: number, out: SnapshotOut): boolean {
  const state = ks.arena.hdr[H_SNAPSHOT] >>> 0;
  if (state === 0) return true;
  const s = ks.u32(state), w = Keyspace.off(state) >>> 2;
  const dbCount = s[w + SS_DB_COUNT];
  const bitmap = s[w + SS_BITMAP];
  let db = s[w + SS_CUR_DB], t = s[w + SS_CUR_TABLE], bucket = s[w + SS_CUR_BUCKET];
  let budget = WALK_BATCH;
  let walked = 0;
  while (db < dbCount) {
    const p = w + SS_HEADER_WORDS + db * SD_WORDS;
    const size = s[p + (t === 0 ? SD_SIZE0 : SD_SIZE1)];
    if (bucket >= size) {
      // Next table, or next database.
      if (t === 0 && size !== 0 && s[p + SD_SIZE1] !== 0) t = 1;
      else { db++; t = 0; }
      bucket = 0;
      continue;
    }
    const table = s[p + (t === 0 ? SD_TABLE0 : SD_TABLE1)];
    const bm = ks.u32(bitmap), bw = Keyspace.off(bitmap) >>> 2;
    const bit0 = s[p + (t === 0 ? SD_BIT0 : SD_BIT1)];
    while (bucket < size) {
      const bit = bit0 + bucket;
      const word = bw + (bit >>> 5), mask = 1 << (bit & 31);
      if ((bm[word] & mask) === 0) {
        bm[word] |= mask;
        walked += serializeBucket(ks, db, table, bucket, out);
      }
      bucket++;
      if (--budget === 0) {
        budget = WALK_BATCH;
        if (performance.now() >= deadline) {
          s[w + SS_CUR_DB] = db;
          s[w + SS_CUR_TABLE] = t;
          s[w + SS_CUR_BUCKET] = bucket;
          s[w + SS_WALK_KEYS] += walked;
          out.flush();
          return false;
        }
      }
    }
  }
  s[w + SS_WALK_KEYS] += walked;
  endSnapshot(ks, out);
  return true;
}

/** Complete this shard's part synchronously (before FLUSHALL, FLUSHDB, SWAPDB, undeclared keys). */
export function snapshotFinish(ks: Keyspace, out: SnapshotOut): void {
  snapshotStep(ks, Infinity, out);
}

/**
 * Install this thread's snapshot hooks into the keyspace code (lazy and active expiry,
 * and the safety net in flush/swap). Call once per thread that runs keyspace code, with
 * that thread's writer.
 */
export function installSnapshotSink(out: SnapshotOut): void {
  const sink: SnapshotSink = {
    beforeRemove: (ks, db, hash) => snapshotBeforeWrite(ks, db, hash, out),
    finish: (ks) => snapshotFinish(ks, out),
  };
  Keyspace.snapshotSink = sink;
}

// ---- the entry format ---------------------------------------------------------------------

/** Appends the RDB type byte and payload of a record's value (rdb.ts writeValue). */
export type ValueWriter = (out: RdbOut, ks: Keyspace, rec: number) => void;

/**
 * Accumulates entries in one reusable RdbOut and hands its bytes on (`onChunk`; valid
 * only during the call) once it holds CHUNK_BYTES, or on flush(). Chunks hold whole entries.
 */
export class SnapshotWriter implements SnapshotOut {
  readonly out = new RdbOut(CHUNK_BYTES * 2);
  /** Bytes handed on or buffered, and entries written, since construction. */
  bytes = 0;
  entries = 0;
  private readonly onChunk: (buf: Buffer, start: number, end: number) => void;
  private readonly onDone: (ks: Keyspace, id: number) => void;
  private readonly valueWriter: ValueWriter;

  constructor(onChunk: (buf: Buffer, start: number, end: number) => void,
    onDone: (ks: Keyspace, id: number) => void = () => {}, valueWriter: ValueWriter = writeValue) {
    this.onChunk = onChunk;
    this.onDone = onDone;
    this.valueWriter = valueWriter;
  }

  entry(ks: Keyspace, db: number, rec: number): void {
    const out = this.out;
    const klen = ks.keyLen(rec), ko = ks.keyOffset(rec);
    const start = out.len;
    out.u8(OP_ENTRY);
    out.u8(db & 0xff);
    out.u8(db >>> 8);
    out.u32le(klen);
    out.bytes(ks.u8(rec), ko, ko + klen);
    out.saveBinaryDouble(ks.expireAt(rec));
    this.valueWriter(out, ks, rec);
    this.bytes += out.len - start;
    this.entries++;
    if (out.len >= CHUNK_BYTES) this.flush();
  }

  /** The function libraries at the cut (a FUNCTION DUMP payload). */
  functions(payload: Uint8Array): void {
    const out = this.out, start = out.len;
    out.u8(OP_FUNCTIONS);
    out.u32le(payload.length);
    out.bytes(payload, 0, payload.length);
    this.bytes += out.len - start;
  }

  flush(): void {
    const n = this.out.len;
    if (n === 0) return;
    this.out.reset();
    this.onChunk(this.out.buf, 0, n);
  }

  done(ks: Keyspace, id: number): void {
    this.onDone(ks, id);
  }
}

/** Payload of a snapshot file's first frame. keyCount -1 when unknown. */
export function encodeSnapshotHeader(createdMs: number, keyCount: number): Buffer {
  const b = Buffer.alloc(SNAP_HEADER_BYTES);
  b[0] = OP_HEADER;
  b.write(SNAP_MAGIC, 1, 'latin1');
  b.writeUInt16LE(SNAP_VERSION, 10);
  b.writeDoubleLE(createdMs, 12);
  b.writeDoubleLE(keyCount, 20);
  return b;
}

/** Payload of a snapshot file's last frame: END and the number of entries written. */
export function encodeSnapshotEnd(keyCount: number): Buffer {
  const b = Buffer.alloc(SNAP_END_BYTES);
  b[0] = OP_END;
  b.writeDoubleLE(keyCount, 1);
  return b;
}

// ---- loading --------------------------------------------------------------------------------

/**
 * Creates key `key[keyStart, keyEnd)` in database db of ks from the RDB value encoded at
 * src[pos..end), with expiry expireAt (-1 none); returns the position after the value
 * (src/persistence/rdb.ts readValue).
 */
export type ValueReader = (ks: Keyspace, db: number, key: Uint8Array, keyStart: number, keyEnd: number,
  src: Uint8Array, pos: number, end: number, expireAt: number, nowMs: number) => number;

const scratchF64 = new Float64Array(1);
const scratchU8 = new Uint8Array(scratchF64.buffer);

function readF64(src: Uint8Array, pos: number): number {
  for (let i = 0; i < 8; i++) scratchU8[i] = src[pos + i];
  return scratchF64[0];
}

function corrupt(what: string, pos: number): Error {
  return new Error(`snapshot: ${what} at offset ${pos}`);
}

export interface SnapshotHeader { version: number; createdMs: number; keyCount: number }

/** Parse an OP_HEADER op at src[pos]; throws unless it is one of a known version. */
export function readSnapshotHeader(src: Uint8Array, pos: number, end: number): SnapshotHeader {
  if (end - pos < SNAP_HEADER_BYTES || src[pos] !== OP_HEADER) throw corrupt('missing header', pos);
  for (let i = 0; i < SNAP_MAGIC.length; i++) {
    if (src[pos + 1 + i] !== SNAP_MAGIC.charCodeAt(i)) throw corrupt('bad magic', pos);
  }
  const version = src[pos + 10] | (src[pos + 11] << 8);
  if (version !== SNAP_VERSION) throw corrupt(`unsupported version ${version}`, pos);
  return { version, createdMs: readF64(src, pos + 12), keyCount: readF64(src, pos + 20) };
}

/**
 * Load the entries of one frame payload src[start, end) into the store: each key goes to
 * the keyspace of its slot; keys already expired at `nowMs` are skipped (as Redis's master
 * does). A header op is checked and skipped; END stops parsing. Returns keys loaded,
 * keys skipped as expired, and whether END was seen.
 */
export function loadSnapshotEntries(store: Store, src: Uint8Array, start: number, end: number, nowMs: number,
  reader: ValueReader = readValue, onFunctions: ((payload: Buffer) => void) | null = null): { keys: number; expired: number; end: boolean } {
  let pos = start, keys = 0, expired = 0;
  while (pos < end) {
    const op = src[pos];
    if (op === OP_ENTRY) {
      if (end - pos < ENTRY_PREFIX) throw corrupt('truncated entry', pos);
      const db = src[pos + 1] | (src[pos + 2] << 8);
      const klen = (src[pos + 3] | (src[pos + 4] << 8) | (src[pos + 5] << 16) | (src[pos + 6] << 24)) >>> 0;
      const kStart = pos + ENTRY_PREFIX, kEnd = kStart + klen;
      if (kEnd + ENTRY_EXPIRE > end) throw corrupt('truncated entry', pos);
      if (db >= store.dbCount) throw corrupt(`database ${db} out of range`, pos);
      const expireAt = readF64(src, kEnd);
      const ks = store.ks(src, kStart, kEnd);
      // find() also moves an incremental rehash along: loading must not chain every key
      // into a table that never grows. A duplicate entry (never written) replaces the key.
      const dup = ks.find(db, src, kStart, kEnd, ks.hash(src, kStart, kEnd));
      if (dup !== 0) ks.deleteFound(db, dup);
      pos = reader(ks, db, src, kStart, kEnd, src, kEnd + ENTRY_EXPIRE, end, expireAt, nowMs);
      if (pos > end) throw corrupt('truncated value', kEnd + ENTRY_EXPIRE);
      if (expireAt >= 0 && expireAt <= nowMs) {
        // The value had to be parsed to find the next entry; drop the key if the reader made it.
        const rec = ks.find(db, src, kStart, kEnd, ks.hash(src, kStart, kEnd));
        if (rec !== 0) ks.deleteFound(db, rec);
        expired++;
      } else keys++;
    } else if (op === OP_FUNCTIONS) {
      if (end - pos < 5) throw corrupt('truncated functions', pos);
      const len = (src[pos + 1] | (src[pos + 2] << 8) | (src[pos + 3] << 16) | (src[pos + 4] << 24)) >>> 0;
      if (pos + 5 + len > end) throw corrupt('truncated functions', pos);
      onFunctions?.(Buffer.from(src.subarray(pos + 5, pos + 5 + len)));
      pos += 5 + len;
    } else if (op === OP_HEADER) {
      readSnapshotHeader(src, pos, end);
      pos += SNAP_HEADER_BYTES;
    } else if (op === OP_END) {
      if (end - pos < SNAP_END_BYTES) throw corrupt('truncated end', pos);
      return { keys, expired, end: true };
    } else throw corrupt(`unknown op ${op}`, pos);
  }
  return { keys, expired, end: false };
}

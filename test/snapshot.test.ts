// Fork-less snapshots (src/persistence/snapshot.ts), in-process over real keyspaces: the
// cut is exact while writes, deletes, new keys and expiry run between walk steps, each key
// is written once, copy-before-write costs are proportional to the touched buckets,
// tables stay frozen during the snapshot, and entries load back into 1 or 3 keyspaces.
import { afterEach, describe, expect, it } from 'vitest';
import { Keyspace } from '../src/store/keyspace';
import { Store } from '../src/store/store';
import { makeStore } from './helpers/inproc';
import {
  SnapshotWriter, ValueReader, ValueWriter, beginSnapshot, encodeSnapshotEnd, encodeSnapshotHeader, installSnapshotSink,
  loadSnapshotEntries, readSnapshotHeader, snapshotActive, snapshotBeforeWrite, snapshotFinish, snapshotId, snapshotStats,
  snapshotStep,
} from '../src/persistence/snapshot';
import { D_REHASH_IDX, D_SIZE0, D_SIZE1 } from '../native-layout/dict';
import { D_SNAPSHOT, OP_END, OP_ENTRY, OP_HEADER } from '../native-layout/snapshot';
import { H_SNAPSHOT } from '../native-layout/arena';

// ---- a raw strings-only RDB value codec: the exact-cut tests compare value bytes ------------
// (the loading tests use the real codec, src/persistence/rdb.ts, the default)

const RDB_TYPE_STRING = 0;

const writeString: ValueWriter = (out, ks, rec) => {
  if (ks.type(rec) !== 0) throw new Error('test codec: strings only');
  const len = ks.valueWord(rec), vo = ks.valueOffset(rec);
  out.u8(RDB_TYPE_STRING);
  out.saveLen(len);
  out.bytes(ks.u8(rec), vo, vo + len);
};

function readLen(src: Uint8Array, pos: number): [number, number] {
  const t = src[pos] >> 6;
  if (t === 0) return [src[pos] & 0x3f, pos + 1];
  if (t === 1) return [((src[pos] & 0x3f) << 8) | src[pos + 1], pos + 2];
  return [Buffer.from(src.buffer, src.byteOffset + pos + 1, 4).readUInt32BE(0), pos + 5];
}

const readString: ValueReader = (ks, db, key, kS, kE, src, pos, _end, expireAt, nowMs) => {
  if (src[pos] !== RDB_TYPE_STRING) throw new Error('test codec: strings only');
  const [len, p] = readLen(src, pos + 1);
  ks.setString(db, key, kS, kE, src, p, p + len, expireAt, false, nowMs);
  return p + len;
};

// ---- helpers ----------------------------------------------------------------------------------

interface Entry { db: number; key: string; expireAt: number; value: string }

/** A writer that keeps every chunk (copied: the writer reuses its buffer). */
function collector(realCodec = false): { w: SnapshotWriter; chunks: Buffer[]; done: number[] } {
  const chunks: Buffer[] = [];
  const done: number[] = [];
  const w = new SnapshotWriter((b, s, e) => chunks.push(Buffer.from(b.subarray(s, e))), (_ks, id) => done.push(id),
    realCodec ? undefined : writeString);
  return { w, chunks, done };
}

function parseEntries(chunks: Buffer[]): Entry[] {
  const out: Entry[] = [];
  for (const c of chunks) {
    let p = 0;
    while (p < c.length) {
      expect(c[p]).toBe(OP_ENTRY);
      const db = c.readUInt16LE(p + 1), klen = c.readUInt32LE(p + 3);
      const key = c.subarray(p + 7, p + 7 + klen).toString('latin1');
      const expireAt = c.readDoubleLE(p + 7 + klen);
      p += 7 + klen + 8;
      expect(c[p]).toBe(RDB_TYPE_STRING);
      const [len, vp] = readLen(c, p + 1);
      out.push({ db, key, expireAt, value: c.subarray(vp, vp + len).toString('latin1') });
      p = vp + len;
    }
  }
  return out;
}

const ek = (db: number, key: string) => db + '/' + key;

/** The whole state of a store as a Map (what a snapshot at this instant must contain). */
function stateOf(store: Store): Map<string, Entry> {
  const m = new Map<string, Entry>();
  for (const ks of store.keyspaces) {
    for (let db = 0; db < ks.dbCount; db++) {
      ks.forEach(db, (a) => {
        const ko = ks.keyOffset(a), vo = ks.valueOffset(a);
        const key = Buffer.from(ks.u8(a).subarray(ko, ko + ks.keyLen(a))).toString('latin1');
        const value = Buffer.from(ks.u8(a).subarray(vo, vo + ks.valueWord(a))).toString('latin1');
        expect(m.has(ek(db, key))).toBe(false);
        m.set(ek(db, key), { db, key, expireAt: ks.expireAt(a), value });
      });
    }
  }
  return m;
}

function set(store: Store, db: number, key: string, value: string, expireAt: number, now: number): void {
  const k = Buffer.from(key, 'latin1'), v = Buffer.from(value, 'latin1');
  store.ks(k, 0, k.length).setString(db, k, 0, k.length, v, 0, v.length, expireAt, false, now);
}

/** What the lead does before running a write command: the hook for each of its keys. */
function hookKey(store: Store, db: number, k: Buffer, w: SnapshotWriter): Keyspace {
  const ks = store.ks(k, 0, k.length);
  snapshotBeforeWrite(ks, db, ks.hash(k, 0, k.length), w);
  return ks;
}

/** Deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectSnapshotEquals(entries: Entry[], cut: Map<string, Entry>): void {
  const seen = new Map<string, Entry>();
  for (const e of entries) {
    expect(seen.has(ek(e.db, e.key)), `duplicate ${ek(e.db, e.key)}`).toBe(false);
    seen.set(ek(e.db, e.key), e);
  }
  expect(seen.size).toBe(cut.size);
  for (const [k, e] of cut) expect(seen.get(k), k).toEqual(e);
}

afterEach(() => {
  Keyspace.snapshotSink = null;
});

// ---- tests --------------------------------------------------------------------------------------

describe('snapshot: exact cut under concurrent writes', () => {
  it('holds the state at the cut while writes, deletes, new keys and expiry run between steps', () => {
    const store = makeStore(1);
    const ks = store.keyspaces[0];
    const CUT = 1_000_000;
    const r = rng(42);
    const names: [number, string][] = [];
    // db 0 is left in the middle of an incremental rehash; dbs 1 and 3 are plain; db 2 empty.
    for (let i = 0; ; i++) {
      const key = 'k' + i;
      const ttl = i % 5 === 0 ? CUT + 500 + (i % 7) : i % 5 === 1 ? CUT + 1e9 : -1;
      set(store, 0, key, 'v' + i + 'x'.repeat(i % 40), ttl, 0);
      names.push([0, key]);
      if (i >= 6000 && ks.isRehashing(0) && ks.dictField(0, D_REHASH_IDX) > 64) break;
    }
    for (const db of [1, 3]) {
      for (let i = 0; i < 1500; i++) {
        set(store, db, 'd' + i, 'y'.repeat(i % 90), i % 3 === 0 ? CUT + 300 : -1, 0);
        names.push([db, 'd' + i]);
      }
    }
    // A few keys already expired at the cut but not yet removed: Redis writes those too.
    set(store, 1, 'stale', 'old', CUT - 10, 0);
    names.push([1, 'stale']);
    expect(ks.isRehashing(0)).toBe(true);
    const rehashIdx = ks.dictField(0, D_REHASH_IDX);
    expect(rehashIdx).toBeGreaterThan(0);

    const cut = stateOf(store);
    const { w, chunks, done } = collector();
    installSnapshotSink(w);
    beginSnapshot(ks, 7, CUT);
    expect(snapshotActive(ks)).toBe(true);
    expect(snapshotId(ks)).toBe(7);

    let now = CUT;
    let steps = 0, n = 0;
    const buf = Buffer.alloc(64);
    while (!snapshotStep(ks, performance.now(), w)) {
      steps++;
      now += 7; // time passes: TTLs of CUT+300/CUT+500 run out mid-snapshot
      for (let j = 0; j < 40; j++) {
        const op = r();
        const [db, key] = names[Math.floor(r() * names.length)];
        const k = Buffer.from(key);
        if (op < 0.35) {
          // Overwrite: sometimes in place, sometimes a bigger block.
          const ks2 = hookKey(store, db, k, w);
          const v = buf.subarray(0, Math.floor(r() * 64));
          v.fill(0x61 + (n++ % 26));
          ks2.setString(db, k, 0, k.length, v, 0, v.length, -1, r() < 0.5, now);
        } else if (op < 0.5) {
          hookKey(store, db, k, w).delete(db, k, 0, k.length, now);
        } else if (op < 0.75) {
          const nk = Buffer.from('new' + n++);
          const ks2 = hookKey(store, db, nk, w);
          ks2.setString(db, nk, 0, nk.length, nk, 0, nk.length, -1, false, now);
          names.push([db, nk.toString()]);
        } else if (op < 0.85) {
          // EXPIRE / PERSIST move the record to another block.
          const ks2 = hookKey(store, db, k, w);
          const a = ks2.lookup(db, k, 0, k.length, now);
          if (a !== 0) ks2.setExpireFound(db, a, r() < 0.5 ? now + 1e6 : -1);
        } else if (op < 0.95) {
          // A read: lazy expiry may delete (no lead hook; the keyspace calls the sink).
          ks.lookup(db, k, 0, k.length, now);
        } else {
          ks.activeExpire(db, now, performance.now() + 0.2);
        }
      }
    }
    expect(snapshotActive(ks)).toBe(false);
    expect(ks.arena.hdr[H_SNAPSHOT]).toBe(0);
    expect(done).toEqual([7]);
    expect(steps).toBeGreaterThan(10);
    const entries = parseEntries(chunks);
    expectSnapshotEquals(entries, cut);
    expect(ks.expiredKeys).toBeGreaterThan(0); // expiry did delete keys during the snapshot
    // The live state really moved away from the cut.
    expect(stateOf(store).size).not.toBe(cut.size);
  });

  it('a key removed by lazy or active expiry after the cut keeps its value in the snapshot', () => {
    const store = makeStore(1);
    const ks = store.keyspaces[0];
    for (let i = 0; i < 2000; i++) set(store, 0, 'p' + i, 'val' + i, -1, 0);
    set(store, 0, 'lazy', 'L-value', 1100, 0);
    set(store, 0, 'active', 'A-value', 1100, 0);
    set(store, 5, 'lazy5', 'L5', 1100, 0);
    const { w, chunks } = collector();
    installSnapshotSink(w);
    beginSnapshot(ks, 1, 1000);
    const lazy = Buffer.from('lazy'), lazy5 = Buffer.from('lazy5');
    expect(ks.lookup(0, lazy, 0, lazy.length, 1200)).toBe(0);
    expect(ks.lookup(5, lazy5, 0, lazy5.length, 1200)).toBe(0);
    ks.activeExpire(0, 1200, performance.now() + 50);
    expect(ks.size(0)).toBe(2000);
    expect(ks.expiredKeys).toBe(3);
    expect(snapshotStats(ks).earlyBuckets).toBeGreaterThanOrEqual(2);
    snapshotFinish(ks, w);
    const entries = parseEntries(chunks);
    const byKey = new Map(entries.map((e) => [ek(e.db, e.key), e]));
    expect(entries.length).toBe(2003);
    expect(byKey.get('0/lazy')).toEqual({ db: 0, key: 'lazy', expireAt: 1100, value: 'L-value' });
    expect(byKey.get('0/active')).toEqual({ db: 0, key: 'active', expireAt: 1100, value: 'A-value' });
    expect(byKey.get('5/lazy5')).toEqual({ db: 5, key: 'lazy5', expireAt: 1100, value: 'L5' });
  });

  it('expiry during a snapshot with no sink installed fails loudly instead of losing the key', () => {
    const store = makeStore(1);
    const ks = store.keyspaces[0];
    set(store, 0, 'x', 'y', 10, 0);
    const { w } = collector();
    beginSnapshot(ks, 1, 0);
    const k = Buffer.from('x');
    expect(() => ks.lookup(0, k, 0, 1, 100)).toThrow(/no snapshot sink/);
    snapshotFinish(ks, w);
    expect(ks.lookup(0, k, 0, 1, 100)).toBe(0);
  });

  it('FLUSHDB / SWAPDB during a snapshot complete it first (safety net), and begin twice throws', () => {
    const store = makeStore(1);
    const ks = store.keyspaces[0];
    for (let i = 0; i < 300; i++) set(store, i % 2, 'f' + i, 'v' + i, -1, 0);
    const cut = stateOf(store);
    const { w, chunks, done } = collector();
    installSnapshotSink(w);
    beginSnapshot(ks, 3, 0);
    expect(() => beginSnapshot(ks, 4, 0)).toThrow();
    snapshotStep(ks, 0, w);
    ks.swap(0, 1);
    expect(snapshotActive(ks)).toBe(false);
    ks.flush(0);
    expect(done).toEqual([3]);
    expectSnapshotEquals(parseEntries(chunks), cut);
  });
});

describe('snapshot: tables frozen during the snapshot', () => {
  it('no resize or rehash while active; both catch up after', () => {
    const store = makeStore(1);
    const ks = store.keyspaces[0];
    for (let i = 0; ; i++) {
      set(store, 0, 'r' + i, 'v', -1, 0);
      if (i > 3000 && ks.isRehashing(0)) break;
    }
    for (let i = 0; i < 1024; i++) set(store, 1, 's' + i, 'v', -1, 0);
    while (ks.isRehashing(1)) ks.rehashStep(1, 100);
    const before = [0, 1].map((db) => [ks.dictField(db, D_SIZE0), ks.dictField(db, D_SIZE1), ks.dictField(db, D_REHASH_IDX)]);
    const { w } = collector();
    installSnapshotSink(w);
    beginSnapshot(ks, 9, 0);
    expect(ks.dictField(0, D_SNAPSHOT)).toBe(1);
    expect(ks.dictField(2, D_SNAPSHOT)).toBe(0); // empty at the cut: not frozen
    const size1 = ks.dictField(1, D_SIZE0);
    // Enough new keys to double both tables several times over.
    for (let i = 0; i < 20000; i++) {
      const k = Buffer.from('n' + i);
      const db = i & 1;
      hookKey(store, db, k, w).setString(db, k, 0, k.length, k, 0, k.length, -1, false, 0);
      if (i % 1000 === 0) ks.cron(1);
    }
    // Db 2 was empty at the cut: it grows freely.
    for (let i = 0; i < 100; i++) set(store, 2, 'e' + i, 'v', -1, 0);
    expect(ks.dictField(2, D_SIZE0)).toBeGreaterThanOrEqual(64);
    const during = [0, 1].map((db) => [ks.dictField(db, D_SIZE0), ks.dictField(db, D_SIZE1), ks.dictField(db, D_REHASH_IDX)]);
    expect(during).toEqual(before);
    expect(ks.size(1)).toBe(1024 + 10000);
    expect(ks.dictField(1, D_SIZE0)).toBe(size1);
    snapshotFinish(ks, w);
    expect(ks.dictField(0, D_SNAPSHOT)).toBe(0);
    // Catch up: db 1 grows on its next insert; db 0 finishes its rehash, then grows.
    set(store, 1, 'after', 'v', -1, 0);
    expect(ks.isRehashing(1)).toBe(true);
    for (let i = 0; i < 100 && (ks.isRehashing(0) || ks.isRehashing(1)); i++) ks.cron(5);
    expect(ks.isRehashing(1)).toBe(false);
    expect(ks.dictField(1, D_SIZE0)).toBeGreaterThanOrEqual(ks.size(1));
    set(store, 0, 'after', 'v', -1, 0);
    for (let i = 0; i < 100 && ks.isRehashing(0); i++) ks.cron(5);
    expect(ks.dictField(0, D_SIZE0)).toBeGreaterThanOrEqual(ks.size(0));
    for (let i = 0; i < 20000; i += 997) {
      const k = Buffer.from('n' + i);
      expect(ks.lookup(i & 1, k, 0, k.length, 0)).not.toBe(0);
    }
  });
});

describe('snapshot: copy-before-write cost', () => {
  it('1M keys, 10% rewritten during the snapshot: early bytes follow the touched buckets', () => {
    const store = makeStore(1, 1);
    const ks = store.keyspaces[0];
    const N = 1_000_000;
    const k = Buffer.alloc(16), v = Buffer.alloc(16);
    const keyOf = (i: number) => k.write('key:' + i, 0, 'latin1');
    for (let i = 0; i < N; i++) {
      const kl = keyOf(i);
      v.fill(0x30 + (i % 10), 0, 8);
      ks.setString(0, k, 0, kl, v, 0, 8, -1, false, 0);
    }
    while (ks.isRehashing(0)) ks.rehashStep(0, 1000);
    let totalBytes = 0, chunkCount = 0;
    const w = new SnapshotWriter((_b, s, e) => { totalBytes += e - s; chunkCount++; }, undefined, writeString);
    installSnapshotSink(w);
    const usedBefore = ks.arena.usedBytes;
    beginSnapshot(ks, 1, 0);
    const stateBytes = ks.arena.usedBytes - usedBefore;
    const r = rng(7);
    const REWRITES = N / 10;
    let earlyBytes = 0, done = 0, steps = 0;
    const t0 = performance.now();
    const nv = Buffer.from('rewritten');
    let finished = false;
    while (!finished) {
      // One shard batch: 2000 rewrites of random existing keys, then a short walk step.
      for (let j = 0; j < 2000 && done < REWRITES; j++, done++) {
        const kl = keyOf(Math.floor(r() * N));
        const b0 = w.bytes;
        snapshotBeforeWrite(ks, 0, ks.hash(k, 0, kl), w);
        earlyBytes += w.bytes - b0;
        ks.setString(0, k, 0, kl, nv, 0, nv.length, -1, false, 0);
      }
      const stats = snapshotStats(ks);
      finished = snapshotStep(ks, performance.now() + 0.5, w);
      steps++;
      if (finished) {
        // Numbers for the report.
        const ms = performance.now() - t0;
        const entryBytes = totalBytes / N;
        console.log(`[snapshot 1M] table ${ks.dictField(0, D_SIZE0)} buckets, state+bitmap ${stateBytes} B, ` +
          `${steps} steps, ${ms.toFixed(0)} ms, ${chunkCount} chunks, total ${totalBytes} B (${entryBytes.toFixed(1)} B/entry); ` +
          `early: ${stats.earlyBuckets} buckets, ${stats.earlyKeys} keys, ${earlyBytes} B ` +
          `(${(earlyBytes / totalBytes * 100).toFixed(1)}% of the snapshot) for ${REWRITES} rewrites`);
        expect(w.entries).toBe(N);
        // Each rewrite costs at most one bucket: the chain that holds its key.
        expect(stats.earlyBuckets).toBeLessThanOrEqual(REWRITES);
        // Bytes copied early are the touched chains (about 1 + load factor keys each), not more.
        expect(stats.earlyKeys).toBeLessThan(stats.earlyBuckets * 2.2);
        expect(earlyBytes).toBeLessThan(stats.earlyKeys * (entryBytes + 1));
        expect(earlyBytes).toBeGreaterThan(stats.earlyKeys * (entryBytes - 1));
        expect(earlyBytes / totalBytes).toBeLessThan(0.25);
      }
    }
    // The bitmap: one bit per bucket (plus the allocator's size-class rounding, <= 12.5%).
    expect(stateBytes).toBeLessThan((ks.dictField(0, D_SIZE0) / 8) * 1.125 + 1024);
    expect(totalBytes).toBe(w.bytes);
  }, 60_000);
});

describe('snapshot: loading', () => {
  for (const [fromShards, toShards] of [[3, 1], [3, 3], [1, 3]]) {
    it(`round trip from ${fromShards} keyspace(s) into a fresh store of ${toShards}`, () => {
      const src = makeStore(fromShards);
      for (let i = 0; i < 5000; i++) set(src, i % 4, 'key' + i + (i % 3 === 0 ? '{tag}' : ''), 'v'.repeat(i % 200) + i, i % 4 === 1 ? 5e12 + i : -1, 0);
      set(src, 0, 'gone', 'expired-at-load', 1500, 0);
      const big = 'B'.repeat(100_000);
      set(src, 2, 'big', big, -1, 0);
      const cut = stateOf(src);
      const { w, chunks, done } = collector(true);
      installSnapshotSink(w);
      src.keyspaces.forEach((ks, i) => beginSnapshot(ks, 11, 1000 + i));
      // Shards walk in turns; a write lands in the middle.
      let left = fromShards;
      const stepDone = src.keyspaces.map(() => false);
      while (left > 0) {
        src.keyspaces.forEach((ks, i) => {
          if (stepDone[i]) return;
          if (snapshotStep(ks, 0, w)) { stepDone[i] = true; left--; }
        });
        const k = Buffer.from('key17');
        hookKey(src, 1, k, w).setString(1, k, 0, k.length, k, 0, 1, -1, false, 0);
      }
      expect(done).toEqual(src.keyspaces.map(() => 11));
      // Several chunks, each loaded on its own below: chunks hold whole entries.
      expect(chunks.length).toBeGreaterThan(3);
      const file: Buffer[] = [encodeSnapshotHeader(1000, cut.size), ...chunks, encodeSnapshotEnd(w.entries)];
      expect(readSnapshotHeader(file[0], 0, file[0].length)).toEqual({ version: 1, createdMs: 1000, keyCount: cut.size });
      expect(file[0][0]).toBe(OP_HEADER);
      expect(file[file.length - 1][0]).toBe(OP_END);

      const dst = makeStore(toShards);
      let keys = 0, expired = 0, ended = false;
      for (const f of file) {
        const res = loadSnapshotEntries(dst, f, 0, f.length, 2000); // rdb.ts readValue
        keys += res.keys;
        expired += res.expired;
        ended ||= res.end;
      }
      expect(ended).toBe(true);
      expect(expired).toBe(1);
      expect(keys).toBe(cut.size - 1);
      const want = new Map(cut);
      want.delete('0/gone');
      expect(stateOf(dst)).toEqual(want);
      // Every key is in the keyspace of its slot.
      for (const e of want.values()) {
        const kb = Buffer.from(e.key, 'latin1');
        expect(dst.ks(kb, 0, kb.length).lookup(e.db, kb, 0, kb.length, 2000)).not.toBe(0);
      }
    });
  }

  it('rejects a corrupt payload with its offset', () => {
    const dst = makeStore(1);
    const bad = Buffer.from([OP_ENTRY, 0, 0, 10, 0, 0, 0, 1, 2]);
    expect(() => loadSnapshotEntries(dst, bad, 0, bad.length, 0, readString)).toThrow(/truncated entry at offset 0/);
    const op = Buffer.from([0x42]);
    expect(() => loadSnapshotEntries(dst, op, 0, 1, 0, readString)).toThrow(/unknown op 66/);
    const hdr = encodeSnapshotHeader(1, 1);
    hdr[3] = 0x41;
    expect(() => loadSnapshotEntries(dst, hdr, 0, hdr.length, 0, readString)).toThrow(/bad magic/);
  });
});

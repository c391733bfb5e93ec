import { describe, expect, it } from 'vitest';
import { Arena, CLASS_SIZES, blockSize, sizeClass } from '../src/store/arena';
import { Keyspace } from '../src/store/keyspace';

const enc = (s: string) => Buffer.from(s);

describe('arena allocator', () => {
  it('size classes are monotonic and blockSize is idempotent', () => {
    for (let i = 1; i < CLASS_SIZES.length; i++) expect(CLASS_SIZES[i]).toBeGreaterThan(CLASS_SIZES[i - 1]);
    for (const s of [1, 8, 9, 100, 512, 513, 4000, 70000, 1 << 20, (1 << 20) + 1, 5e6]) {
      expect(blockSize(s)).toBeGreaterThanOrEqual(s);
      expect(blockSize(blockSize(s))).toBe(blockSize(s));
      expect(sizeClass(blockSize(s))).toBe(sizeClass(s));
    }
  });
  it('reuses freed blocks and accounts used bytes', () => {
    const a = Arena.create();
    const x = a.alloc(40);
    const before = a.usedBytes;
    a.free(x, 40);
    expect(a.usedBytes).toBe(before - 40);
    expect(a.alloc(33)).toBe(x);
    const big = a.alloc(3 << 20);
    expect(a.u8[big >>> 22]!.length).toBeGreaterThanOrEqual(3 << 20);
    a.free(big, 3 << 20);
    expect(a.u8[big >>> 22]).toBeNull();
  });
});

describe('keyspace', () => {
  it('stores, finds, deletes 200k keys through incremental rehash', () => {
    const ks = Keyspace.create(Arena.create(), 16);
    const N = 200_000;
    for (let i = 0; i < N; i++) {
      const k = enc('key:' + i), v = enc('v' + i);
      ks.setString(0, k, 0, k.length, v, 0, v.length, -1, false, 0);
    }
    expect(ks.size(0)).toBe(N);
    for (let i = 0; i < N; i += 997) {
      const k = enc('key:' + i);
      const a = ks.lookup(0, k, 0, k.length, 0);
      expect(a).not.toBe(0);
      const vo = ks.valueOffset(a);
      expect(Buffer.from(ks.u8(a).subarray(vo, vo + ks.valueWord(a))).toString()).toBe('v' + i);
    }
    for (let i = 0; i < N; i += 2) {
      const k = enc('key:' + i);
      expect(ks.delete(0, k, 0, k.length, 0)).toBe(true);
    }
    expect(ks.size(0)).toBe(N / 2);
    const k0 = enc('key:0'), k1 = enc('key:1');
    expect(ks.lookup(0, k0, 0, 5, 0)).toBe(0);
    expect(ks.lookup(0, k1, 0, 5, 0)).not.toBe(0);
  });
  it('scan visits every key exactly once when the table does not change', () => {
    const ks = Keyspace.create(Arena.create(), 1);
    const N = 5000;
    for (let i = 0; i < N; i++) {
      const k = enc('k' + i);
      ks.setString(0, k, 0, k.length, k, 0, k.length, -1, false, 0);
    }
    while (ks.isRehashing(0)) ks.rehashStep(0, 100);
    const seen = new Map<number, number>();
    let c = 0;
    do c = ks.scanStep(0, c, (a) => seen.set(a, (seen.get(a) ?? 0) + 1)); while (c !== 0);
    expect(seen.size).toBe(N);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });
  it('expiry fields move the record and lazy expiry removes it', () => {
    const ks = Keyspace.create(Arena.create(), 1);
    const k = enc('foo'), v = enc('bar');
    ks.setString(0, k, 0, 3, v, 0, 3, -1, false, 1000);
    let a = ks.find(0, k, 0, 3, ks.hash(k, 0, 3));
    a = ks.setExpireFound(0, a, 5000);
    expect(ks.expireAt(a)).toBe(5000);
    expect(ks.volatileCount(0)).toBe(1);
    expect(ks.lookup(0, k, 0, 3, 4999)).toBe(a);
    expect(ks.lookup(0, k, 0, 3, 5000)).toBe(0);
    expect(ks.size(0)).toBe(0);
    expect(ks.volatileCount(0)).toBe(0);
  });
});

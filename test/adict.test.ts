// adict (arena hash table), listpack and intset: the store structures under hashes and
// sets, checked against JS models over random operations, across rehashes and arenas.
import { describe, expect, it } from 'vitest';
import { Arena } from '../src/store/arena';
import {
  AdictIter, adictClone, adictCreate, adictDelete, adictFind, adictFree, adictInsert, adictIsRehashing,
  adictIterNext, adictIterStart, adictKeyLen, adictKeyStart, adictRandom, adictScan, adictSetValueFound, adictSize,
  adictSlots, adictValueLen, adictValueStart,
} from '../src/store/adict';
import {
  LP_HEADER, lpAppend, lpBytes, lpCount, lpDecode, lpDelete, lpEntry, lpFind, lpFree, lpInsert, lpNew, lpReplace,
} from '../src/store/listpack';
import { i64, int64Split, intsetAdd, intsetFind, intsetFree, intsetGet, intsetLen, intsetNew, intsetRemove } from '../src/store/intset';
import { parseInt64 } from '../src/util/numbers';

const b = (s: string) => Buffer.from(s, 'latin1');
const str = (a: Arena, e: number, s: number, n: number) => Buffer.from(a.u8[e >>> 22]!.subarray(s, s + n)).toString('latin1');

function keyOf(a: Arena, d: number, e: number): string {
  return str(a, e, adictKeyStart(a, d, e), adictKeyLen(a, e));
}
function valOf(a: Arena, e: number): string {
  return str(a, e, adictValueStart(a, e), adictValueLen(a, e));
}

describe('adict', () => {
  it('matches a Map over random inserts, updates and deletes, through grow and shrink rehashes', () => {
    const a = Arena.create();
    const used0 = a.usedBytes;
    const d = adictCreate(a, true);
    const model = new Map<string, string>();
    let sawRehash = false;
    for (let i = 0; i < 60000; i++) {
      const k = 'k' + Math.floor(Math.random() * (i < 40000 ? 20000 : 400));
      const op = Math.random();
      if (i >= 40000 || op < 0.3) {
        expect(adictDelete(a, d, b(k), 0, k.length)).toBe(model.delete(k));
      } else {
        const v = 'v'.repeat(Math.floor(Math.random() * 40)) + i;
        const e = adictFind(a, d, b(k), 0, k.length);
        if (e === 0) adictInsert(a, d, b(k), 0, k.length, b(v), 0, v.length);
        else adictSetValueFound(a, d, e, b(v), 0, v.length);
        model.set(k, v);
      }
      sawRehash ||= adictIsRehashing(a, d);
      expect(adictSize(a, d)).toBe(model.size);
    }
    expect(sawRehash).toBe(true);
    for (const [k, v] of model) {
      const e = adictFind(a, d, b(k), 0, k.length);
      expect(e).not.toBe(0);
      expect(valOf(a, e)).toBe(v);
    }
    // Shrinks (as Redis, checked on a delete once no rehash runs) back to fit.
    while (adictIsRehashing(a, d)) adictFind(a, d, b('x'), 0, 1);
    for (const k of [...model.keys()].slice(100)) {
      expect(adictDelete(a, d, b(k), 0, k.length)).toBe(true);
      model.delete(k);
    }
    while (adictIsRehashing(a, d)) adictFind(a, d, b('x'), 0, 1);
    expect(adictSlots(a, d)).toBeLessThanOrEqual(2048); // from 16384
    const it2 = new AdictIter();
    adictIterStart(it2, a, d);
    const seen = new Map<string, string>();
    let e: number;
    while ((e = adictIterNext(it2)) !== 0) seen.set(keyOf(a, d, e), valOf(a, e));
    expect(seen).toEqual(model);
    adictFree(a, d);
    expect(a.usedBytes).toBe(used0);
  });

  it('scan visits every key present for the whole scan, random picks are members', () => {
    const a = Arena.create();
    const d = adictCreate(a, false);
    for (let i = 0; i < 3000; i++) adictInsert(a, d, b('m' + i), 0, ('m' + i).length, null, 0, 0);
    const seen = new Set<string>();
    let cursor = 0, round = 0;
    do {
      cursor = adictScan(a, d, cursor, (e) => seen.add(keyOf(a, d, e)));
      if (round++ % 3 === 0) for (let k = 0; k < 10; k++) adictInsert(a, d, b(`n${round}_${k}`), 0, `n${round}_${k}`.length, null, 0, 0);
    } while (cursor !== 0);
    for (let i = 0; i < 3000; i++) expect(seen.has('m' + i)).toBe(true);
    for (let i = 0; i < 100; i++) {
      const e = adictRandom(a, d);
      const k = keyOf(a, d, e);
      expect(adictFind(a, d, b(k), 0, k.length)).toBe(e);
    }
  });

  it('clones into another arena (another hash seed)', () => {
    const a = Arena.create(), z = Arena.create();
    const d = adictCreate(a, true);
    for (let i = 0; i < 500; i++) adictInsert(a, d, b('f' + i), 0, ('f' + i).length, b('v' + i), 0, ('v' + i).length);
    const n = adictClone(a, d, z);
    expect(adictSize(z, n)).toBe(500);
    for (let i = 0; i < 500; i++) expect(valOf(z, adictFind(z, n, b('f' + i), 0, ('f' + i).length))).toBe('v' + i);
  });
});

describe('listpack', () => {
  it('append, find, replace, insert, delete and iterate like an array', () => {
    const a = Arena.create();
    let lp = lpNew(a);
    const model: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const x = Math.random();
      const v = 'e'.repeat(Math.floor(Math.random() * (i % 50 === 0 ? 300 : 20))) + i;
      if (x < 0.5 || model.length === 0) {
        lp = lpAppend(a, lp, b(v), 0, v.length);
        model.push(v);
      } else {
        const idx = Math.floor(Math.random() * model.length);
        let p = LP_HEADER;
        for (let k = 0; k < idx; k++) {
          lpDecode(a, lp, p);
          p = lpEntry.next;
        }
        if (x < 0.7) {
          lp = lpReplace(a, lp, p, b(v), 0, v.length);
          model[idx] = v;
        } else if (x < 0.85) {
          lp = lpInsert(a, lp, p, b(v), 0, v.length);
          model.splice(idx, 0, v);
        } else {
          lp = lpDelete(a, lp, p, 1);
          model.splice(idx, 1);
        }
      }
    }
    expect(lpCount(a, lp)).toBe(model.length);
    const got: string[] = [];
    for (let p = LP_HEADER, end = lpBytes(a, lp); p < end; p = lpEntry.next) {
      lpDecode(a, lp, p);
      got.push(Buffer.from(lpEntry.u8.subarray(lpEntry.start, lpEntry.end)).toString('latin1'));
    }
    expect(got).toEqual(model);
    const target = model[Math.floor(model.length / 2)];
    const pos = lpFind(a, lp, b(target), 0, target.length, 0);
    lpDecode(a, lp, pos);
    expect(Buffer.from(lpEntry.u8.subarray(lpEntry.start, lpEntry.end)).toString('latin1')).toBe(target);
    expect(lpFind(a, lp, b('absent'), 0, 6, 0)).toBe(-1);
    lpFree(a, lp);
  });
});

describe('intset', () => {
  it('stays sorted and exact across int16/int32/int64 upgrades', () => {
    const a = Arena.create();
    let is = intsetNew(a);
    const model = new Set<bigint>();
    const vals = ['1', '-1', '300', '-40000', '70000', '2147483648', '-9223372036854775808', '9223372036854775807',
      '9007199254740993', '-9007199254740993', '0', '32767', '-32768'];
    for (let i = 0; i < 2000; i++) {
      const v = i < vals.length ? vals[i] : String(Math.floor((Math.random() - 0.5) * 2 ** (Math.random() * 60)));
      if (!parseInt64(b(v), 0, v.length)) continue;
      int64Split();
      if (Math.random() < 0.8) {
        is = intsetAdd(a, is, i64.hi, i64.lo);
        model.add(BigInt(v));
      } else {
        is = intsetRemove(a, is, i64.hi, i64.lo);
        model.delete(BigInt(v));
      }
    }
    const sorted = [...model].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    expect(intsetLen(a, is)).toBe(sorted.length);
    for (let i = 0; i < sorted.length; i++) {
      intsetGet(a, is, i);
      expect((BigInt(i64.hi) << 32n) + BigInt(i64.lo)).toBe(sorted[i]);
    }
    for (const v of sorted.slice(0, 50)) {
      const t = v.toString();
      parseInt64(b(t), 0, t.length);
      int64Split();
      expect(intsetFind(a, is, i64.hi, i64.lo)).toBe(true);
    }
    intsetFree(a, is);
  });
});

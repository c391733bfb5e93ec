// The effect log: record round trip, full/wrap behaviour, 32-bit position wrap-around, and a
// stress run with two producer worker threads plus the main thread against a consumer thread,
// with durable waits that must never miss a wake-up.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { KIND_EFFECT, KIND_ROTATE, LOG_DURABLE, LOG_HEAD, LOG_TAIL, REC_HEADER } from '../native-layout/effect-log';
import { EffectLog, posAtLeast } from '../src/persistence/effect-log';
import { repoRoot } from './helpers/servers';

const distLog = path.join(repoRoot(), 'dist', 'src', 'persistence', 'effect-log.js');

function drainAll(log: EffectLog, from: number): { pos: number; recs: Array<{ kind: number; db: number; shard: number; payload: Buffer }> } {
  const recs = [];
  let pos = from;
  const head = log.head();
  while (pos !== head) {
    const end = log.next(pos);
    recs.push({ kind: log.recKind, db: log.recDb, shard: log.recShard, payload: Buffer.from(log.data.subarray(log.recStart, log.recEnd)) });
    pos = end;
  }
  log.release(pos);
  return { pos, recs };
}

describe('effect log', () => {
  it('posAtLeast compares with wrap-around', () => {
    expect(posAtLeast(5, 3)).toBe(true);
    expect(posAtLeast(3, 5)).toBe(false);
    expect(posAtLeast(3, 3)).toBe(true);
    expect(posAtLeast(-2147483648, 2147483640)).toBe(true); // wrapped past 2^31
    expect(posAtLeast(2147483640, -2147483648)).toBe(false);
    expect(posAtLeast(4, -4)).toBe(true);
  });

  it('appends and reads records; -1 when full; wraps; rejects oversized records', () => {
    const log = EffectLog.create(256);
    expect(log.capacity).toBe(256);
    const p = Buffer.from('*1\r\n$4\r\nPING\r\n');
    const positions: number[] = [];
    let pos: number;
    while ((pos = log.append(KIND_EFFECT, 3, 7, 42, p, 0, p.length)) !== -1) positions.push(pos);
    const rec = (REC_HEADER + p.length + 3) & ~3;
    expect(positions.length).toBe(Math.floor(256 / rec));
    expect(positions[0]).toBe(rec);
    let r = drainAll(log, 0);
    expect(r.recs.length).toBe(positions.length);
    for (const x of r.recs) expect([x.kind, x.db, x.shard, x.payload.toString()]).toEqual([KIND_EFFECT, 7, 42, p.toString()]);
    // Now records wrap around the end of the data area.
    let from = r.pos;
    for (let round = 0; round < 50; round++) {
      const body = Buffer.alloc(round % 37, round);
      expect(log.append(KIND_ROTATE, 0, round, round, body, 0, body.length)).not.toBe(-1);
      r = drainAll(log, from);
      from = r.pos;
      expect(r.recs).toHaveLength(1);
      expect(r.recs[0].db).toBe(round);
      expect(r.recs[0].payload.equals(body)).toBe(true);
    }
    expect(() => log.append(KIND_EFFECT, 0, 0, 0, Buffer.alloc(200), 0, 200)).toThrow(RangeError);
  });

  it('builder writes a record in place and gives back unused room', () => {
    const log = EffectLog.create(1024);
    const off = log.beginRecord(KIND_EFFECT, 0, 2, 9, 100);
    expect(off).toBeGreaterThanOrEqual(0);
    const n = log.data.write('*1\r\n$5\r\nMULTI\r\n', off, 'latin1');
    const pos = log.commitRecord(n);
    expect(pos).toBe((REC_HEADER + n + 3) & ~3);
    const r = drainAll(log, 0);
    expect(r.recs[0].payload.toString()).toBe('*1\r\n$5\r\nMULTI\r\n');
    expect(r.recs[0].db).toBe(2);
  });

  it('positions work across the 32-bit wrap', () => {
    const log = EffectLog.create(512);
    const start = 0x7fffff00 + 0x80; // a multiple of 4, 128 bytes below 2^31
    Atomics.store(log.ctl, LOG_HEAD, start | 0);
    Atomics.store(log.ctl, LOG_TAIL, start | 0);
    Atomics.store(log.ctl, LOG_DURABLE, start | 0);
    let from = start | 0;
    let seq = 0;
    for (let i = 0; i < 200; i++) {
      const b = Buffer.alloc(4 + (i % 30));
      b.writeUInt32LE(seq++, 0);
      const pos = log.append(KIND_EFFECT, 0, 0, 0, b, 0, b.length);
      expect(pos).not.toBe(-1);
      expect(posAtLeast(pos, from)).toBe(true);
      const r = drainAll(log, from);
      expect(r.recs[0].payload.readUInt32LE(0)).toBe(seq - 1);
      from = r.pos;
      log.publishDurable(from);
      expect(log.waitDurable(pos, 0)).toBe(true);
    }
    expect(from).toBeLessThan(0); // we really crossed 2^31
  });

  it('waitDurableAsync resolves on publish and waitDurable times out without one', async () => {
    const log = EffectLog.create(1024);
    const p = log.append(KIND_EFFECT, 0, 0, 0, Buffer.from('x'), 0, 1);
    expect(log.waitDurable(p, 20)).toBe(false);
    let done = false;
    const w = log.waitDurableAsync(p).then(() => { done = true; });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    log.publishDurable(p);
    await w;
    expect(done).toBe(true);
  });

  it('stress: 2 producer threads + main thread, consumer thread; order kept, nothing lost, torn or duplicated; no lost durable wake-ups', async () => {
    expect(fs.existsSync(distLog), 'build first (npm run build)').toBe(true);
    const N = 6000;
    const log = EffectLog.create(2048); // tiny: constant wrap and full conditions
    const producerCode = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { EffectLog } = require(${JSON.stringify(distLog)});
      const log = EffectLog.attach(workerData.sab);
      const id = workerData.id, N = workerData.n;
      const buf = Buffer.alloc(8 + 64);
      let lost = 0;
      for (let seq = 0; seq < N; seq++) {
        buf.writeUInt32LE(id, 0); buf.writeUInt32LE(seq, 4);
        const fill = seq % 61;
        for (let i = 0; i < fill; i++) buf[8 + i] = (id * 7 + seq + i) & 255;
        const pos = log.appendWait(1, 0, seq & 0xffff, id, buf, 0, 8 + fill);
        if (seq % 37 === 0 && !log.waitDurable(pos, 5000)) lost++;
      }
      parentPort.postMessage({ lost });
    `;
    const consumerCode = `
      const { workerData, parentPort } = require('node:worker_threads');
      const { EffectLog } = require(${JSON.stringify(distLog)});
      const log = EffectLog.attach(workerData.sab);
      const total = workerData.n * 3;
      const next = [0, 0, 0];
      const errors = [];
      const nap = new Int32Array(new SharedArrayBuffer(4));
      let pos = log.tail(), got = 0, batches = 0;
      while (got < total) {
        const head = log.head();
        if (pos === head) {
          const t = log.prepareSleep(pos);
          if (t !== -1) log.sleep(t, 200);
          continue;
        }
        while (pos !== head) {
          const end = log.next(pos);
          const d = log.data, s = log.recStart, len = log.recEnd - s;
          const id = d.readUInt32LE(s), seq = d.readUInt32LE(s + 4);
          if (log.recKind !== 1 || log.recShard !== id || log.recDb !== (seq & 0xffff)) errors.push('header ' + id + '/' + seq);
          if (id > 2 || seq !== next[id]) errors.push('order: producer ' + id + ' got ' + seq + ' want ' + next[id]);
          if (len !== 8 + (seq % 61)) errors.push('length ' + id + '/' + seq);
          for (let i = 0; i < len - 8; i++) if (d[s + 8 + i] !== ((id * 7 + seq + i) & 255)) { errors.push('torn ' + id + '/' + seq); break; }
          if (id <= 2) next[id] = seq + 1;
          got++;
          pos = end;
        }
        log.release(pos);
        if (++batches % 3 === 0) Atomics.wait(nap, 0, 0, 0.3); // let durable waiters pile up
        log.publishDurable(pos);
        if (errors.length > 20) break;
      }
      parentPort.postMessage({ errors, next, batches });
    `;
    const run = (code: string, data: object) => new Promise<any>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: data });
      w.once('message', resolve);
      w.once('error', reject);
    });
    const consumer = run(consumerCode, { sab: log.sab, n: N });
    const p1 = run(producerCode, { sab: log.sab, id: 1, n: N });
    const p2 = run(producerCode, { sab: log.sab, id: 2, n: N });
    // The main thread produces too: never blocks, retries on -1, awaits durable now and then.
    let mainLost = 0;
    let fulls = 0;
    const buf = Buffer.alloc(8 + 64);
    for (let seq = 0; seq < N; seq++) {
      buf.writeUInt32LE(0, 0);
      buf.writeUInt32LE(seq, 4);
      const fill = seq % 61;
      for (let i = 0; i < fill; i++) buf[8 + i] = (seq + i) & 255;
      let pos: number;
      while ((pos = log.append(KIND_EFFECT, 0, seq & 0xffff, 0, buf, 0, 8 + fill)) === -1) {
        fulls++;
        await new Promise((r) => setImmediate(r));
      }
      if (seq % 53 === 0) {
        let timer: NodeJS.Timeout | undefined;
        const ok = await Promise.race([
          log.waitDurableAsync(pos).then(() => true),
          new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 5000); }),
        ]);
        clearTimeout(timer);
        if (!ok) mainLost++;
      }
    }
    const [c, r1, r2] = await Promise.all([consumer, p1, p2]);
    expect(c.errors).toEqual([]);
    expect(c.next).toEqual([N, N, N]);
    expect(r1.lost + r2.lost + mainLost).toBe(0);
    expect(fulls).toBeGreaterThan(0); // the log really was full at times
    expect(log.pendingBytes()).toBe(0);
  }, 120_000);
});

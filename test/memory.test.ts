// MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP and INFO memory, against the
// reference redis-server 7.0.15 over real sockets (ioredis), in --shards 0, 1 and 2:
// replies and errors as Redis's, MEMORY STATS keys and INFO memory fields in Redis's order,
// and the numbers following the data (a key's usage grows with its value and stays within
// sane bounds of Redis's; used_memory grows with keys and falls after FLUSHALL).
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';

type Reply = string | number | null | Reply[];

function connect(port: number): Redis {
  return new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: true });
}

/** A command's reply, or its error's message (ioredis rejects on error replies). */
async function call(r: Redis, ...args: (string | number)[]): Promise<Reply | { err: string }> {
  try {
    return (await r.call(String(args[0]), ...args.slice(1).map(String))) as Reply;
  } catch (e) {
    return { err: (e as Error).message };
  }
}

function infoFields(text: string, section: string): Map<string, string> {
  const out = new Map<string, string>();
  let inSection = false;
  for (const line of text.split('\r\n')) {
    if (line.startsWith('# ')) inSection = line.slice(2) === section;
    else if (inSection && line !== '') {
      const i = line.indexOf(':');
      out.set(line.slice(0, i), line.slice(i + 1));
    }
  }
  return out;
}

async function usedMemory(r: Redis): Promise<number> {
  return Number(infoFields(await r.info('memory'), 'Memory').get('used_memory'));
}

/** MEMORY STATS keys in order (nested db.N maps reduced to their key). */
function statsKeys(reply: Reply): string[] {
  const a = reply as Reply[];
  const keys: string[] = [];
  for (let i = 0; i < a.length; i += 2) keys.push(a[i] as string);
  return keys;
}

/** Pipelined SETs of `n` keys with values of `size` bytes. */
async function fill(r: Redis, prefix: string, n: number, size: number): Promise<void> {
  const v = 'x'.repeat(size);
  for (let i = 0; i < n; i += 1000) {
    const p = r.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) p.set(`${prefix}:${j}`, v);
    await p.exec();
  }
}

let redis: ServerHandle;
let rc: Redis;

beforeAll(async () => {
  redis = await startRedis();
  rc = connect(redis.port);
}, 30_000);

afterAll(async () => {
  rc?.disconnect();
  await redis?.stop();
});

for (const shards of ['0', '1', '2']) {
  describe(`MEMORY and INFO memory (--shards ${shards})`, () => {
    let sabre: ServerHandle;
    let sc: Redis;

    beforeAll(async () => {
      sabre = await startSabre(['--shards', shards]);
      sc = connect(sabre.port);
    }, 30_000);

    afterAll(async () => {
      sc?.disconnect();
      await sabre?.stop();
    });

    it('errors and null replies as Redis', async () => {
      const cases: (string | number)[][] = [
        ['MEMORY', 'USAGE', 'nokey'],
        ['MEMORY', 'USAGE', 'nokey', 'SAMPLES', 0],
        ['MEMORY', 'USAGE', 'k', 'SAMPLES'],
        ['MEMORY', 'USAGE', 'k', 'SAMPLES', -1],
        ['MEMORY', 'USAGE', 'k', 'SAMPLES', 'x'],
        ['MEMORY', 'USAGE', 'k', 'SAMPLES', '5', 'extra'],
        ['MEMORY', 'USAGE', 'k', 'bogus'],
        ['MEMORY', 'USAGE'],
        ['MEMORY'],
        ['MEMORY', 'STATS', 'x'],
        ['MEMORY', 'DOCTOR', 'x'],
        ['MEMORY', 'PURGE', 'x'],
        ['MEMORY', 'bogus'],
        ['MEMORY', 'PURGE'],
        ['MEMORY', 'HELP'],
      ];
      for (const c of [rc, sc]) await call(c, 'SET', 'k', 'v');
      for (const args of cases) {
        const want = await call(rc, ...args);
        const got = await call(sc, ...args);
        expect(got, args.join(' ')).toEqual(want);
      }
    });

    it('MEMORY USAGE: grows with the value, samples, and stays near Redis for strings and collections', async () => {
      for (const c of [rc, sc]) {
        await c.flushall();
        await c.set('small', 'v'.repeat(10));
        await c.set('big', 'v'.repeat(10_000));
        await c.set('volatile', 'v'.repeat(10), 'EX', 1000);
        await c.rpush('list', ...Array.from({ length: 2000 }, (_, i) => `element:${i}`));
        await c.sadd('iset', ...Array.from({ length: 100 }, (_, i) => i));
        await c.sadd('set', ...Array.from({ length: 2000 }, (_, i) => `member:${i}`));
        await c.hset('hash', ...Array.from({ length: 2000 }, (_, i) => [`field:${i}`, `value:${i}`]).flat());
        await c.hset('smallhash', 'a', '1', 'b', '2');
        await c.zadd('zset', ...Array.from({ length: 2000 }, (_, i) => [i, `member:${i}`]).flat());
        await c.zadd('smallzset', 1, 'a', 2, 'b');
      }
      const small = (await sc.call('MEMORY', 'USAGE', 'small')) as number;
      const big = (await sc.call('MEMORY', 'USAGE', 'big')) as number;
      expect(small).toBeGreaterThan(10);
      expect(small).toBeLessThan(100);
      expect(big).toBeGreaterThanOrEqual(10_000);
      expect(big).toBeLessThan(12_000);
      // An expiry costs the record 8 bytes (it may stay in the same size class).
      expect((await sc.call('MEMORY', 'USAGE', 'volatile')) as number).toBeGreaterThanOrEqual(small);
      for (const key of ['small', 'big', 'list', 'iset', 'set', 'hash', 'smallhash', 'zset', 'smallzset']) {
        for (const samples of [undefined, 0, 1, 100]) {
          const args = samples === undefined ? ['MEMORY', 'USAGE', key] : ['MEMORY', 'USAGE', key, 'SAMPLES', String(samples)];
          const s = (await sc.call(args[0], ...args.slice(1))) as number;
          const r = (await rc.call(args[0], ...args.slice(1))) as number;
          expect(Number.isInteger(s), `${args.join(' ')}`).toBe(true);
          // Sane bounds: the same order of magnitude as Redis (Sabre is usually smaller).
          expect(s, `${args.join(' ')}: sabre ${s}, redis ${r}`).toBeGreaterThan(r / 8);
          expect(s, `${args.join(' ')}: sabre ${s}, redis ${r}`).toBeLessThan(r * 4);
        }
      }
      // SAMPLES 0 walks everything: adding elements grows the figure.
      const before = (await sc.call('MEMORY', 'USAGE', 'set', 'SAMPLES', '0')) as number;
      await sc.sadd('set', ...Array.from({ length: 2000 }, (_, i) => `more:${i}`));
      const after = (await sc.call('MEMORY', 'USAGE', 'set', 'SAMPLES', '0')) as number;
      expect(after).toBeGreaterThan(before + 2000 * 16);
      // MEMORY USAGE reads without touching: keys on every shard answer (hash tags spread them).
      for (let i = 0; i < 20; i++) await sc.set(`spread:${i}`, 'x'.repeat(i * 50));
      let prev = 0;
      for (let i = 0; i < 20; i++) {
        const u = (await sc.call('MEMORY', 'USAGE', `spread:${i}`)) as number;
        expect(u).toBeGreaterThanOrEqual(prev);
        prev = u;
      }
    });

    it('MEMORY USAGE inside MULTI answers as outside', async () => {
      await sc.set('mk', 'y'.repeat(300));
      const direct = await sc.call('MEMORY', 'USAGE', 'mk');
      const res = await sc.multi().call('MEMORY', 'USAGE', 'mk').call('MEMORY', 'USAGE', 'none').exec();
      expect(res).toEqual([[null, direct], [null, null]]);
    });

    it('MEMORY STATS has Redis 7.0\'s keys in order, db.N maps for databases with keys, consistent numbers', async () => {
      for (const c of [rc, sc]) {
        await c.flushall();
        await c.set('a', '1');
        await c.select(3);
        await c.set('b', '2', 'EX', 100);
        await c.select(0);
      }
      const rs = (await rc.call('MEMORY', 'STATS')) as Reply[];
      const ss = (await sc.call('MEMORY', 'STATS')) as Reply[];
      expect(statsKeys(ss)).toEqual(statsKeys(rs));
      expect(statsKeys(ss)).toContain('db.3');
      const m = new Map<string, Reply>();
      for (let i = 0; i < ss.length; i += 2) m.set(ss[i] as string, ss[i + 1]);
      expect(statsKeys(m.get('db.0')!)).toEqual(['overhead.hashtable.main', 'overhead.hashtable.expires']);
      expect((m.get('db.3') as Reply[])[3]).toBe(8); // one volatile key: its 8 expiry bytes
      expect(m.get('keys.count')).toBe(2);
      const total = m.get('total.allocated') as number;
      expect(total).toBeGreaterThan(0);
      expect((m.get('overhead.total') as number) + (m.get('dataset.bytes') as number)).toBe(total);
      expect(m.get('peak.allocated') as number).toBeGreaterThanOrEqual(total);
      expect(typeof m.get('fragmentation')).toBe('string'); // a RESP2 double is a bulk string
      expect(Number(m.get('fragmentation'))).toBeGreaterThan(0);
    });

    it('INFO memory has Redis 7.0\'s fields in Redis\'s order (Sabre\'s own after them)', async () => {
      const want = [...infoFields(await rc.info('memory'), 'Memory').keys()];
      const got = [...infoFields(await sc.info('memory'), 'Memory').keys()];
      expect(got.slice(0, want.length)).toEqual(want);
      const v = infoFields(await sc.info('memory'), 'Memory');
      expect(v.get('used_memory_human')).toMatch(/^\d+(\.\d\d[KMGTP]|B)$/);
      expect(v.get('used_memory_peak_perc')).toMatch(/^\d+\.\d\d%$/);
      expect(v.get('mem_fragmentation_ratio')).toMatch(/^\d+\.\d\d$/);
      expect(Number(v.get('used_memory_rss'))).toBeGreaterThan(10 << 20);
      expect(Number(v.get('used_memory_startup'))).toBeGreaterThan(0);
      expect(Number(v.get('used_memory_overhead')) + Number(v.get('used_memory_dataset'))).toBe(Number(v.get('used_memory')));
      expect(v.get('mem_allocator')).toBe('sabre-arena');
    });

    it('used_memory grows with keys and falls after FLUSHALL; peak keeps the high mark; DOCTOR follows', async () => {
      await sc.flushall();
      const empty = await usedMemory(sc);
      expect(await sc.call('MEMORY', 'DOCTOR')).toBe((await rc.call('MEMORY', 'DOCTOR')) as string);
      await fill(sc, 'fill', 20_000, 300);
      const full = await usedMemory(sc);
      // 20k records of ~340 bytes: at least 6 MB more, and not absurdly more.
      expect(full - empty).toBeGreaterThan(20_000 * 300);
      expect(full - empty).toBeLessThan(20_000 * 600);
      const doctor = (await sc.call('MEMORY', 'DOCTOR')) as string;
      expect(doctor).toMatch(/^(Hi Sam, I can't find any memory issue|Sam, I detected a few issues)/);
      expect(doctor.endsWith('\n')).toBe(true);
      await sc.flushall();
      const after = await usedMemory(sc);
      expect(after).toBeLessThan(empty + 64 * 1024);
      const peak = Number(infoFields(await sc.info('memory'), 'Memory').get('used_memory_peak'));
      expect(peak).toBeGreaterThanOrEqual(full);
      expect(await sc.call('MEMORY', 'DOCTOR')).toMatch(/^Hi Sam, this instance is empty/);
    }, 60_000);

    it('MEMORY MALLOC-STATS is a text report; PURGE answers OK', async () => {
      const text = (await sc.call('MEMORY', 'MALLOC-STATS')) as string;
      expect(text).toMatch(/^___ Begin sabre arena statistics ___\n/);
      expect(text.match(/^shard \d+:/gm)?.length).toBe(Math.max(1, Number(shards)));
      expect(await sc.call('MEMORY', 'PURGE')).toBe('OK');
    });
  });
}

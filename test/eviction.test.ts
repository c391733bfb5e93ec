// maxmemory and eviction through real sockets (ioredis), inline and with one and two shard
// workers: each policy evicts the right kind of keys (checked with clear statistical margins),
// noeviction answers Redis's exact -OOM while reads and deletes go on, MULTI is refused at
// queue time, CONFIG SET maxmemory lower evicts down to it, "evicted" events arrive, and
// OBJECT FREQ / IDLETIME read the LRU/LFU bits.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { ServerHandle, startSabre } from './helpers/servers';
import { keyHashSlot } from '../src/util/crc16';

const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
const NO_LFU = 'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when '
  + 'switching between policies at runtime LRU and LFU data will take some time to adjust.';
const NO_LRU = 'ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when '
  + 'switching between policies at runtime LRU and LFU data will take some time to adjust.';

const N = 1000; // keys per group
const VALUE = 'v'.repeat(200);

function field(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  if (m === null) throw new Error(`no ${name} in INFO`);
  return Number(m[1]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([['--shards 0'], ['--shards 1'], ['--shards 2']])('maxmemory eviction, %s', (mode) => {
  let srv: ServerHandle;
  let r: Redis;

  beforeAll(async () => {
    srv = await startSabre(mode.split(' '));
    r = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  });
  afterAll(async () => {
    r?.disconnect();
    if (process.env.EVICT_DEBUG) console.log(srv.logs().slice(-3000));
    await srv?.stop();
  });
  beforeEach(async () => {
    await r.config('SET', 'maxmemory', '0');
    await r.config('SET', 'maxmemory-policy', 'noeviction');
    await r.config('SET', 'maxmemory-samples', '10');
    await r.flushall();
  });

  async function arenaUsed(): Promise<number> {
    return field(await r.info('memory'), 'arena_used_bytes');
  }
  async function evicted(): Promise<number> {
    return field(await r.info('stats'), 'evicted_keys');
  }

  /** Write `prefix:0..n-1`, with EX ttl(i) when given. */
  async function fill(prefix: string, ttl: ((i: number) => number) | null = null, n = N): Promise<void> {
    const p = r.pipeline();
    for (let i = 0; i < n; i++) {
      if (ttl === null) p.set(`${prefix}:${i}`, VALUE);
      else p.set(`${prefix}:${i}`, VALUE, 'EX', ttl(i));
    }
    await p.exec();
  }

  /** Which of prefix:0..n-1 still exist (EXISTS does not touch the LRU clock). */
  async function alive(prefix: string, n = N): Promise<boolean[]> {
    const p = r.pipeline();
    for (let i = 0; i < n; i++) p.exists(`${prefix}:${i}`);
    const res = await p.exec();
    return res!.map(([err, v]) => {
      if (err) throw err;
      return v === 1;
    });
  }

  /**
   * CONFIG SET maxmemory so that about `fraction` of the data written since `base` must go,
   * then wait until the shards settle under it. Returns the keys evicted meanwhile.
   */
  async function shrinkBy(base: number, fraction: number): Promise<number> {
    const e0 = await evicted();
    const used = await arenaUsed();
    // The budget counts connection buffers too (INFO used_memory): leave them their room.
    const clients = field(await r.info('memory'), 'used_memory') - (await arenaUsed());
    const limit = Math.floor(used + clients - (used - base) * fraction);
    await r.config('SET', 'maxmemory', String(limit));
    const deadline = Date.now() + 10_000;
    let last = -1;
    for (;;) {
      const e = await evicted();
      if (e === last && (await arenaUsed()) <= limit) break;
      if (Date.now() > deadline) throw new Error(`eviction did not settle: used ${await arenaUsed()} > ${limit}`);
      last = e;
      await sleep(60);
    }
    expect(await arenaUsed()).toBeLessThanOrEqual(limit);
    // Connection buffers count too, and the test's own pipelines come and go: lift the
    // budget before counting what went, so nothing more goes meanwhile.
    await r.config('SET', 'maxmemory', '0');
    // (The shards take the setting after their current batch: wait for the count to stand.)
    let e = await evicted();
    for (;;) {
      await sleep(100);
      const again = await evicted();
      if (again === e) break;
      e = again;
    }
    return e - e0;
  }

  it('reports the settings in CONFIG GET and INFO', async () => {
    await r.config('SET', 'maxmemory', '3mb');
    await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
    expect(await r.config('GET', 'maxmemory')).toEqual(['maxmemory', '3145728']);
    expect(await r.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
    const mem = await r.info('memory');
    expect(mem).toMatch(/\r\nmaxmemory:3145728\r\nmaxmemory_human:3.00M\r\nmaxmemory_policy:allkeys-lru\r\n/);
    expect(await r.info('stats')).toMatch(/\r\nexpired_keys:\d+\r\n[\s\S]*\r\nevicted_keys:\d+\r\n/);
    for (const [name, value] of [['maxmemory-samples', '7'], ['lfu-log-factor', '20'], ['lfu-decay-time', '3'],
      ['maxmemory-eviction-tenacity', '50']]) {
      await r.config('SET', name, value);
      expect(await r.config('GET', name)).toEqual([name, value]);
    }
    await r.config('SET', 'lfu-log-factor', '10');
    await r.config('SET', 'lfu-decay-time', '1');
    await r.config('SET', 'maxmemory-eviction-tenacity', '10');
  });

  it('OBJECT FREQ counts accesses under LFU; OBJECT IDLETIME answers under LRU; each errors in the other mode', async () => {
    await r.config('SET', 'maxmemory-policy', 'allkeys-lfu');
    // The counter decays once per minute boundary crossed (lfu-decay-time 1): not across one here.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 59_000) await sleep(60_000 - intoMinute + 50);
    await r.set('foo', 'bar');
    expect(await r.object('FREQ', 'foo')).toBe(5); // LFU_INIT_VAL
    await r.get('foo');
    expect(await r.object('FREQ', 'foo')).toBe(6); // the first bump is certain
    await expect(r.object('IDLETIME', 'foo')).rejects.toThrow(NO_LRU);
    await r.config('SET', 'maxmemory-policy', 'volatile-lru');
    await r.set('foo', 'bar');
    expect(await r.object('IDLETIME', 'foo')).toBeLessThanOrEqual(1); // whole seconds of the LRU clock: 1 across a boundary
    await expect(r.object('FREQ', 'foo')).rejects.toThrow(NO_LFU);
  });

  it('noeviction: -OOM for commands that may grow memory, reads and deletes still work, MULTI refused at queue time', async () => {
    await fill('k', null, 200);
    // Well below: a DEL or two must not bring it back under.
    await r.config('SET', 'maxmemory', String((await arenaUsed()) - 16 * 1024));
    await expect(r.set('x', '1')).rejects.toThrow(OOM);
    await expect(r.lpush('l', 'a')).rejects.toThrow(OOM);
    await expect(r.incr('k:0')).rejects.toThrow(OOM);
    expect(await r.get('k:1')).toBe(VALUE);
    expect(await r.exists('k:2')).toBe(1);
    expect(await r.del('k:3')).toBe(1);
    // Inside MULTI even a read is refused while out of memory; EXEC then aborts.
    const m = r.multi();
    m.get('k:1');
    await expect(m.exec()).rejects.toThrow(/EXECABORT Transaction discarded because of previous errors/);
    expect(await evicted()).toBe(0);
    await r.flushall();
    expect(await r.set('x', '1')).toBe('OK');
  });

  it('allkeys-lru evicts the keys idle longest', async () => {
    await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const base = await arenaUsed();
    await fill('cold');
    await fill('hot');
    // The LRU clock counts seconds: the hot keys' accesses are a second later.
    await sleep(1200);
    const p = r.pipeline();
    for (let i = 0; i < N; i++) p.get(`hot:${i}`);
    await p.exec();
    const n = await shrinkBy(base, 0.25);
    const cold = (await alive('cold')).filter((a) => !a).length;
    const hot = (await alive('hot')).filter((a) => !a).length;
    expect(n).toBeGreaterThan(N / 4);
    expect(cold + hot).toBe(n);
    // Ideal LRU takes only cold keys; sampling approximates it.
    expect(hot).toBeLessThan(n * 0.1);
  });

  it('allkeys-lfu evicts the least frequently used keys', async () => {
    await r.config('SET', 'maxmemory-policy', 'allkeys-lfu');
    const base = await arenaUsed();
    await fill('cold');
    await fill('hot');
    for (let round = 0; round < 3; round++) {
      const p = r.pipeline();
      for (let i = 0; i < N; i++) p.get(`hot:${i}`);
      await p.exec();
    }
    expect(await r.object('FREQ', 'hot:7')).toBeGreaterThan(5);
    expect(await r.object('FREQ', 'cold:7')).toBe(5);
    const n = await shrinkBy(base, 0.25);
    const cold = (await alive('cold')).filter((a) => !a).length;
    const hot = (await alive('hot')).filter((a) => !a).length;
    expect(cold + hot).toBe(n);
    expect(hot).toBeLessThan(n * 0.1);
  });

  it('volatile-lru evicts only keys with a TTL, then answers -OOM when none is left', async () => {
    await r.config('SET', 'maxmemory-policy', 'volatile-lru');
    const base = await arenaUsed();
    await fill('vol', () => 100000);
    await fill('per');
    const n = await shrinkBy(base, 0.25);
    expect(n).toBeGreaterThan(N / 4);
    expect((await alive('per')).every((a) => a)).toBe(true);
    expect((await alive('vol')).filter((a) => !a).length).toBe(n);
    // Below what the persistent keys need: every volatile key goes, then writes are refused.
    await r.config('SET', 'maxmemory', String(base + 1000));
    const deadline = Date.now() + 10_000;
    while ((await r.dbsize()) > N && Date.now() < deadline) await sleep(50);
    await expect(r.set('new', '1')).rejects.toThrow(OOM);
    expect((await alive('per')).every((a) => a)).toBe(true);
    expect((await alive('vol')).some((a) => a)).toBe(false);
    expect(await r.get('per:5')).toBe(VALUE);
  });

  it('volatile-ttl evicts the keys closest to expiring', async () => {
    await r.config('SET', 'maxmemory-policy', 'volatile-ttl');
    const base = await arenaUsed();
    // ttl:i expires after ttl:i-1; the persistent keys must all stay.
    await fill('ttl', (i) => 10000 + i * 10, 2 * N);
    await fill('per');
    const n = await shrinkBy(base, 0.15);
    expect((await alive('per')).every((a) => a)).toBe(true);
    const gone = (await alive('ttl', 2 * N)).map((a, i) => (a ? -1 : i)).filter((i) => i >= 0);
    expect(gone.length).toBe(n);
    // Ideally the first n; sampling approximates: nearly all from the sooner half.
    expect(gone.filter((i) => i < N).length).toBeGreaterThan(n * 0.9);
  });

  it('volatile-random takes only keys with a TTL; allkeys-random takes from everything', async () => {
    await r.config('SET', 'maxmemory-policy', 'volatile-random');
    let base = await arenaUsed();
    await fill('vol', () => 100000);
    await fill('per');
    let n = await shrinkBy(base, 0.25);
    expect((await alive('per')).every((a) => a)).toBe(true);
    expect((await alive('vol')).filter((a) => !a).length).toBe(n);

    await r.config('SET', 'maxmemory', '0');
    await r.flushall();
    await r.config('SET', 'maxmemory-policy', 'allkeys-random');
    base = await arenaUsed();
    await fill('a');
    await fill('b');
    n = await shrinkBy(base, 0.25);
    const a = (await alive('a')).filter((x) => !x).length;
    const b = (await alive('b')).filter((x) => !x).length;
    expect(a + b).toBe(n);
    expect(Math.min(a, b)).toBeGreaterThan(n * 0.3);
  });

  it('an evicted watched key makes EXEC fail', async () => {
    await r.config('SET', 'maxmemory-policy', 'allkeys-random');
    const base = await arenaUsed();
    await fill('wk', null, 100);
    expect(await r.watch('wk:1')).toBe('OK');
    await r.config('SET', 'maxmemory', String(base + 100));
    const deadline = Date.now() + 10_000;
    while ((await r.dbsize()) > 0 && Date.now() < deadline) await sleep(20);
    expect(await r.dbsize()).toBe(0);
    await r.config('SET', 'maxmemory', '0');
    expect(await r.multi().set('x', '1').exec()).toBeNull();
    expect(await r.exists('x')).toBe(0);
  });

  it('the whole process stays under maxmemory, connection buffers included, when only one shard can evict', async () => {
    // Volatile keys on one shard, the new writes on another (hash tags chosen by slot): the
    // shard that can evict frees the whole excess, not just its share of it.
    const tag = (want: number) => {
      for (let i = 0; ; i++) {
        const t = `t${i}`;
        if (Math.floor((keyHashSlot(Buffer.from(t), 0, t.length) * 2) / 16384) === want) return t;
      }
    };
    const volTag = tag(0), newTag = tag(1);
    await r.config('SET', 'maxmemory-policy', 'volatile-lru');
    const used0 = field(await r.info('memory'), 'used_memory');
    await fill(`{${volTag}}vol`, () => 100000);
    const limit = used0 + 300 * 1024;
    await r.config('SET', 'maxmemory', String(limit));
    await fill(`{${newTag}}new`);
    const deadline = Date.now() + 10_000;
    let used = 0;
    while (Date.now() < deadline) {
      used = field(await r.info('memory'), 'used_memory');
      if (used <= limit) break;
      await sleep(60);
    }
    // INFO's used_memory (arenas and connection buffers) comes down to the budget.
    expect(used).toBeLessThanOrEqual(limit);
    expect(await evicted()).toBeGreaterThan(N / 4);
    expect((await alive(`{${newTag}}new`)).every((a) => a)).toBe(true);
  });

  it('writes over the budget evict as they go, and each evicted key is announced', async () => {
    const sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      await r.config('SET', 'notify-keyspace-events', 'Ee');
      const got = new Set<string>();
      let count = 0;
      sub.on('message', (_chan, key) => {
        got.add(key);
        count++;
      });
      await sub.subscribe('__keyevent@0__:evicted');
      await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
      const base = await arenaUsed();
      const e0 = await evicted();
      await r.config('SET', 'maxmemory', String(base + 200 * 1024));
      await fill('w', null, 2 * N); // ~500 KB of records into a 200 KB budget
      expect(await arenaUsed()).toBeLessThanOrEqual(base + 264 * 1024); // a record and a table expansion past it at most
      // The last write may leave it just over: a cron run then evicts once more.
      let n = -1;
      const deadline = Date.now() + 5000;
      for (;;) {
        const e = (await evicted()) - e0;
        if (e === n && count === n) break;
        if (Date.now() > deadline) break;
        n = e;
        await sleep(150);
      }
      expect(n).toBeGreaterThan(N / 2);
      expect(count).toBe(n);
      const gone = (await alive('w', 2 * N)).map((x, i) => (x ? null : `w:${i}`)).filter((k) => k !== null);
      expect(gone.length).toBe(n);
      for (const k of gone) expect(got.has(k!)).toBe(true);
    } finally {
      sub.disconnect();
      await r.config('SET', 'notify-keyspace-events', '');
    }
  });
});

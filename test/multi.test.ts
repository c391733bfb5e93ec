/**
 * MULTI / EXEC / DISCARD / WATCH / UNWATCH through real sockets: byte-for-byte against
 * the reference redis-server on one connection's streams (queueing errors, EXECABORT,
 * blocking commands inside MULTI, SELECT inside a block, keys on several shards), and
 * behaviour across connections on Sabre inline and with 1 and 2 shard workers: WATCH
 * aborts on writes by others, expiry, FLUSHDB, SWAPDB and RENAME onto the key; optimistic
 * increments under contention lose nothing; no reader sees half of a cross-shard EXEC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { Command, formatMismatch, runDifferential } from './helpers/differential';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MODES: [string, string[]][] = [
  ['--shards 0', ['--shards', '0']],
  ['--shards 1', ['--shards', '1']],
  ['--shards 2', ['--shards', '2']],
];

/** One connection's stream: every reply must equal Redis's. */
function transactionStream(): Command[] {
  const s: Command[] = [['FLUSHALL']];
  const add = (...cmds: Command[]) => s.push(...cmds);
  // Control errors and nesting.
  add(['EXEC'], ['DISCARD'], ['MULTI'], ['MULTI'], ['WATCH', 'x'], ['SET', 'a', '1'], ['EXEC']);
  // Queue-time errors abort; run-time errors are answered in place.
  add(['MULTI'], ['SET', 'a'], ['GET', 'a'], ['EXEC']);
  add(['MULTI'], ['NOSUCHCOMMAND', 'x'], ['EXEC']);
  add(['MULTI'], ['SHUTDOWN'], ['EXEC']);
  add(['MULTI'], ['SET', 's', 'str'], ['LPUSH', 's', 'x'], ['INCR', 's'], ['GET', 's'], ['EXEC']);
  add(['MULTI'], ['PING'], ['ECHO', 'hi'], ['DISCARD'], ['GET', 'a']);
  add(['MULTI'], ['EXEC']);
  // Blocking commands do not block inside MULTI (issue #3).
  add(['MULTI'], ['BLPOP', 'l', '0'], ['BRPOP', 'l', 'l2', '1'], ['BLMOVE', 'l', 'b', 'LEFT', 'LEFT', '0'],
    ['BRPOPLPUSH', 'l', 'b', '0'], ['BZPOPMIN', 'z', '0'], ['BZPOPMAX', 'z', '0'], ['BLMPOP', '0', '1', 'l', 'LEFT'],
    ['BZMPOP', '0', '1', 'z', 'MIN'], ['BLPOP', 'l', '-1'], ['BLPOP', 's', '0'], ['EXEC']);
  add(['RPUSH', 'l', 'a', 'b', 'c'], ['ZADD', 'z', '1', 'm', '2', 'n']);
  add(['MULTI'], ['BLPOP', 'l', '0'], ['BLMOVE', 'l', 'b', 'RIGHT', 'LEFT', '0'], ['BZPOPMAX', 'z', '0'],
    ['BLMPOP', '0', '1', 'l', 'LEFT', 'COUNT', '5'], ['BLPOP', 'l', '0'], ['LRANGE', 'b', '0', '-1'], ['EXEC']);
  // SELECT inside a block lasts after it; keys spread over shards.
  add(['MULTI'], ['SELECT', '3'], ['SET', 'k', 'v3'], ['MSET', 'x', '1', 'y', '2', 'z', '3', '{x}w', '4'],
    ['MGET', 'x', 'y', 'z', '{x}w'], ['EXEC'], ['GET', 'k'], ['SELECT', '0'], ['GET', 'k']);
  add(['MULTI'], ['INCR', 'c1'], ['INCR', 'c2'], ['INCR', 'c3'], ['RENAME', 'c1', 'c9'], ['MGET', 'c1', 'c2', 'c3', 'c9'], ['EXEC']);
  // WATCH with this connection's own writes, and writes that change nothing.
  add(['SET', 'wx', '1'], ['WATCH', 'wx'], ['SET', 'wx', '2'], ['MULTI'], ['GET', 'wx'], ['EXEC']);
  add(['WATCH', 'wx'], ['SET', 'wx', '9', 'NX'], ['MULTI'], ['GET', 'wx'], ['EXEC']);
  add(['WATCH', 'nokey'], ['DEL', 'nokey'], ['MULTI'], ['GET', 'wx'], ['EXEC']);
  add(['WATCH', 'wx', 'other'], ['UNWATCH'], ['SET', 'wx', '3'], ['MULTI'], ['GET', 'wx'], ['EXEC']);
  add(['WATCH', 'wx'], ['MULTI'], ['SET', 'wx', '4'], ['EXEC'], ['MULTI'], ['GET', 'wx'], ['EXEC']);
  add(['WATCH', 'wx'], ['MULTI'], ['DISCARD'], ['SET', 'wx', '5'], ['MULTI'], ['GET', 'wx'], ['EXEC']);
  add(['WATCH', 'wx'], ['FLUSHDB'], ['MULTI'], ['PING'], ['EXEC']);
  add(['WATCH', 'nokey2'], ['FLUSHDB'], ['MULTI'], ['PING'], ['EXEC']);
  add(['SET', 'r1', 'a'], ['WATCH', 'r2'], ['RENAME', 'r1', 'r2'], ['MULTI'], ['GET', 'r2'], ['EXEC']);
  add(['SET', 'e1', 'a'], ['WATCH', 'e1'], ['EXPIRE', 'e1', '100'], ['MULTI'], ['TTL', 'e1'], ['EXEC']);
  add(['WATCH', 'e1'], ['PERSIST', 'e1'], ['PERSIST', 'e1'], ['MULTI'], ['TTL', 'e1'], ['EXEC']);
  add(['SET', 'sw', 'db0'], ['WATCH', 'sw'], ['SWAPDB', '0', '1'], ['MULTI'], ['GET', 'sw'], ['EXEC'], ['SWAPDB', '0', '1']);
  add(['WATCH', 'a', 'b', 'c', 'd'], ['MULTI'], ['MGET', 'a', 'b', 'c', 'd'], ['EXEC']);
  // A whole pipeline of transactions (the client sends them without waiting).
  for (let i = 0; i < 20; i++) add(['WATCH', `p${i}`], ['MULTI'], ['INCR', `p${i}`], ['INCRBY', `p${(i + 1) % 20}`, `${i}`], ['EXEC']);
  add(['MGET', ...Array.from({ length: 20 }, (_, i) => `p${i}`)]);
  // RESP3: null replies of aborted EXEC and of blocking commands.
  add(['HELLO', '3'], ['SET', 'wx', '1'], ['WATCH', 'wx'], ['SET', 'wx', '2'], ['MULTI'], ['PING'], ['EXEC'],
    ['MULTI'], ['BLPOP', 'none', '0'], ['BLMOVE', 'none', 'b', 'LEFT', 'LEFT', '0'], ['HGETALL', 'none'], ['EXEC'], ['HELLO', '2']);
  return s;
}

describe('MULTI/EXEC against the reference Redis, one connection', () => {
  let redis: ServerHandle;
  beforeAll(async () => { redis = await startRedis(); });
  afterAll(async () => { await redis?.stop(); });

  it.each(MODES)('sabre %s answers byte for byte', async (_n, args) => {
    const sabre = await startSabre(args);
    try {
      // HELLO's reply carries the connection id, which differs: compare everything but that.
      const mismatches = await runDifferential({
        sabre: sabre.port, redis: redis.port, commands: transactionStream(), chunkSize: 7,
        equivalent: (cmd) => String(cmd[0]).toUpperCase() === 'HELLO',
      });
      expect(mismatches.map(formatMismatch)).toEqual([]);
    } finally {
      await sabre.stop();
    }
  });
});

describe.each([['redis', [] as string[]], ...MODES])('transactions across connections: %s', (name, args) => {
  let srv: ServerHandle;
  const conns: Redis[] = [];
  const conn = () => {
    const r = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    conns.push(r);
    return r;
  };
  beforeAll(async () => { srv = name === 'redis' ? await startRedis() : await startSabre(args); });
  afterAll(async () => {
    conns.forEach((c) => c.disconnect());
    await srv?.stop();
  });

  it('WATCH aborts EXEC when another client writes the key, not when it writes another', async () => {
    const [a, b] = [conn(), conn()];
    await a.set('w1', '1');
    await a.watch('w1');
    await b.set('w1', '2');
    expect(await a.multi().get('w1').exec()).toBeNull();
    await a.watch('w1');
    await b.set('unrelated', '2');
    await b.set('w1', '3', 'XX', 'GET'); // changes the value: touches
    expect(await a.multi().get('w1').exec()).toBeNull();
    await a.watch('w1');
    await b.set('w1', '3', 'NX'); // changes nothing
    await b.del('nothing-here');
    expect(await a.multi().get('w1').exec()).toEqual([[null, '3']]);
  });

  it('WATCH aborts on expiry, FLUSHDB, SWAPDB and RENAME onto the key', async () => {
    const [a, b] = [conn(), conn()];
    await a.set('ex', 'v', 'PX', 100);
    await a.watch('ex');
    await sleep(250);
    expect(await a.multi().ping().exec()).toBeNull();
    // Already expired at WATCH: its deletion changes nothing.
    await a.set('stale', 'v', 'PX', 20);
    await sleep(60);
    await a.watch('stale');
    await sleep(50);
    expect(await a.multi().ping().exec()).toEqual([[null, 'PONG']]);

    await a.set('fl', 'v');
    await a.watch('fl');
    await b.flushdb();
    expect(await a.multi().ping().exec()).toBeNull();

    await a.set('sw', 'v');
    await a.watch('sw');
    await b.swapdb(0, 1);
    await b.swapdb(0, 1);
    expect(await a.multi().ping().exec()).toBeNull();

    await a.set('src', 'v');
    await a.watch('dst');
    await b.rename('src', 'dst');
    expect(await a.multi().get('dst').exec()).toBeNull();
    expect(await a.get('dst')).toBe('v');
  });

  it('optimistic increments with WATCH lose no update under contention', async () => {
    const clients = Array.from({ length: 8 }, () => conn());
    await clients[0].set('counter', '0');
    const perClient = 25;
    let aborts = 0;
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < perClient;) {
        await c.watch('counter', '{counter}side');
        const v = Number(await c.get('counter'));
        const r = await c.multi().set('counter', String(v + 1)).incr('{counter}side').exec();
        if (r === null) aborts++;
        else i++;
      }
    }));
    expect(await clients[0].get('counter')).toBe(String(8 * perClient));
    expect(await clients[0].get('{counter}side')).toBe(String(8 * perClient));
    expect(aborts).toBeGreaterThan(0);
  });

  it('no reader sees half of an EXEC whose keys live on different shards', async () => {
    const writer = conn();
    const readers = [conn(), conn()];
    // Slots of "a" (15495) and "b" (3300) are on different shards with 2 workers.
    await writer.mset('ka', '0', 'kb', '0', 'kc', '0');
    let done = false, checks = 0;
    const torn: string[] = [];
    const reads = readers.map(async (r) => {
      while (!done) {
        const [x, y, z] = await r.mget('ka', 'kb', 'kc');
        checks++;
        if (x !== y || y !== z) torn.push(`${x} ${y} ${z}`);
      }
    });
    for (let i = 1; i <= 300; i++) await writer.multi().set('ka', String(i)).set('kb', String(i)).incr('kc').exec();
    done = true;
    await Promise.all(reads);
    expect(torn).toEqual([]);
    expect(checks).toBeGreaterThan(10);
    expect(await writer.mget('ka', 'kb', 'kc')).toEqual(['300', '300', '300']);
  });

  it('cross-shard commands of many pipelining clients (run back to back under one park) stay whole and in order', async () => {
    // Writers pipeline cross-shard MSETs and EXECs with single-shard reads of their own keys
    // between them; readers MGET every group. Each group is always whole, each writer reads
    // its own last write.
    const groups = Array.from({ length: 6 }, (_, g) => [`g${g}:a`, `g${g}:b`, `g${g}:c`, `g${g}:d`]);
    const writers = groups.map(() => conn());
    const readers = [conn(), conn()];
    await writers[0].mset(...groups.flat().flatMap((k) => [k, '0']));
    let done = false, checks = 0;
    const torn: string[] = [];
    const reads = readers.map(async (r) => {
      while (!done) {
        const vals = await r.mget(...groups.flat());
        checks++;
        for (let g = 0; g < groups.length; g++) {
          const v = vals.slice(g * 4, g * 4 + 4);
          if (new Set(v).size !== 1) torn.push(`${g}: ${v.join(' ')}`);
        }
      }
    });
    const stale: string[] = [];
    await Promise.all(writers.map(async (w, g) => {
      const keys = groups[g];
      for (let round = 1; round <= 40; round++) {
        const p = w.pipeline();
        p.mset(...keys.flatMap((k) => [k, `${round}m`]));
        p.get(keys[1]);
        p.multi().set(keys[0], `${round}x`).set(keys[1], `${round}x`).set(keys[2], `${round}x`).set(keys[3], `${round}x`).exec();
        p.get(keys[2]);
        const r = (await p.exec())!.map(([err, v]) => (err ? err.message : v));
        if (r[1] !== `${round}m` || r[r.length - 1] !== `${round}x`) stale.push(`${g}/${round}: ${JSON.stringify(r)}`);
      }
    }));
    done = true;
    await Promise.all(reads);
    expect(stale).toEqual([]);
    expect(torn).toEqual([]);
    expect(checks).toBeGreaterThan(5);
    for (const keys of groups) expect(await readers[0].mget(...keys)).toEqual(keys.map(() => '40x'));
  });

  it('a pushed list does not wake a BLPOP queued in MULTI; the block answers at once', async () => {
    const [a, b] = [conn(), conn()];
    const started = Date.now();
    const r = await a.multi().blpop('bq', 5).exec();
    expect(r).toEqual([[null, null]]);
    expect(Date.now() - started).toBeLessThan(2000);
    await b.rpush('bq', 'x');
    expect(await a.lpop('bq')).toBe('x');
  });

  it('LPUSH inside EXEC serves a client blocked on the key', async () => {
    const [a, b] = [conn(), conn()];
    const waiting = b.blpop('wake', 5);
    await sleep(50);
    expect(await a.multi().lpush('wake', 'v').exec()).toEqual([[null, 1]]);
    expect(await waiting).toEqual(['wake', 'v']);
  });
});

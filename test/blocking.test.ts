/**
 * Blocking pops through real sockets, on Sabre in inline and two-shard modes, compared with
 * the reference redis-server where the reply is deterministic: FIFO service, wake-up by a
 * push from another client (also with keys on different shards), sub-second timeouts,
 * CLIENT UNBLOCK, held pipelines, wrong types, disconnects.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { RawClient, encodeCommand } from './helpers/resp';

const TARGETS: [string, () => Promise<ServerHandle>][] = [
  ['redis', () => startRedis()],
  ['sabre --shards 0', () => startSabre(['--shards', '0'])],
  ['sabre --shards 1', () => startSabre(['--shards', '1'])],
  ['sabre --shards 2', () => startSabre(['--shards', '2'])],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(TARGETS)('%s', (_name, start) => {
  let srv: ServerHandle;
  const conns: Redis[] = [];
  const conn = () => {
    const r = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    conns.push(r);
    return r;
  };
  beforeAll(async () => {
    srv = await start();
  });
  afterAll(async () => {
    conns.forEach((c) => c.disconnect());
    await srv?.stop();
  });

  it('serves blocked clients in the order they blocked', async () => {
    const [a, b, c] = [conn(), conn(), conn()];
    const pa = a.blpop('fifo', 0);
    await sleep(50);
    const pb = b.blpop('fifo', 0);
    await sleep(50);
    expect(await c.rpush('fifo', '1', '2')).toBe(2);
    // The first to block gets the first element.
    expect(await pa).toEqual(['fifo', '1']);
    expect(await pb).toEqual(['fifo', '2']);
    expect(await c.exists('fifo')).toBe(0);
  });

  it('is served by a push sent before its own block is known (no lost wake-up)', async () => {
    // The push is dispatched while the BLPOP is still on its way to the shard: the io
    // thread learns the BLPOP blocked only after it dispatched the push.
    const [a, c] = [conn(), conn()];
    await Promise.all([a.ping(), c.ping()]);
    for (let i = 0; i < 20; i++) {
      const started = Date.now();
      const p = a.blpop(`race${i}`, 3);
      const q = c.rpush(`race${i}`, 'v');
      expect(await q).toBe(1);
      expect(await p).toEqual([`race${i}`, 'v']);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });

  it('wakes on a push to any of several keys (keys on different shards)', async () => {
    const [a, c] = [conn(), conn()];
    // 'k1' and 'zz' hash to different slots: different shards with --shards 2.
    const p = a.brpop('k1', 'zz', 'other', 0);
    await sleep(50);
    await c.lpush('zz', 'v');
    expect(await p).toEqual(['zz', 'v']);
  });

  it('times out with sub-second precision and answers a null array', async () => {
    const a = conn();
    const t0 = Date.now();
    expect(await a.blpop('never', 0.25)).toBe(null);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(240);
    expect(took).toBeLessThan(1000);
    const raw = await RawClient.connect(srv.port);
    raw.send(encodeCommand(['BLMOVE', 'never', 'x', 'LEFT', 'LEFT', '0.1']));
    expect((await raw.readReply()).toString()).toBe('*-1\r\n');
    raw.send(encodeCommand(['HELLO', '3']));
    await raw.readReply();
    raw.send(encodeCommand(['BLPOP', 'never', '0.05']));
    expect((await raw.readReply()).toString()).toBe('_\r\n');
    raw.close();
  });

  it('answers argument errors at once, as Redis', async () => {
    const raw = await RawClient.connect(srv.port);
    const cases = [
      ['BLPOP', 'k', '-1'], ['BLPOP', 'k', 'abc'], ['BLPOP', 'k', 'inf'], ['BLMOVE', 'a', 'b', 'UP', 'LEFT', '0'],
      ['BLMPOP', '0', '0', 'k', 'LEFT'], ['BLMPOP', '0', '1', 'k', 'MIDDLE'], ['BLMPOP', 'x', '1', 'k', 'LEFT'],
      ['BRPOPLPUSH', 'a', 'b', '-0.5'], ['BLPOP', 'k', '-0.0001'],
    ];
    const got: string[] = [];
    for (const c of cases.slice(0, -1)) {
      raw.send(encodeCommand(c));
      got.push((await raw.readReply()).toString());
    }
    // Texts as redis-server 7.0.15 answers them (inf overflows (long long) to a negative value).
    expect(got).toEqual([
      '-ERR timeout is negative\r\n', '-ERR timeout is not a float or out of range\r\n',
      '-ERR timeout is negative\r\n', '-ERR syntax error\r\n',
      '-ERR numkeys should be greater than 0\r\n', '-ERR syntax error\r\n',
      '-ERR timeout is not a float or out of range\r\n', '-ERR timeout is negative\r\n',
    ]);
    raw.close();
  });

  it('answers WRONGTYPE for a key of another type, and stays blocked if it turns into one later', async () => {
    const [a, c] = [conn(), conn()];
    await c.set('str', 'x');
    await expect(a.blpop('str', 1)).rejects.toThrow(/WRONGTYPE/);
    const p = a.blpop('later', 'later2', 0);
    await sleep(50);
    await c.set('later', 'not a list'); // a write to a key it waits on: Redis 7.0 keeps it blocked
    await sleep(50);
    await c.rpush('later2', 'ok');
    expect(await p).toEqual(['later2', 'ok']);
  });

  it('holds the rest of a pipeline until the blocking command is answered', async () => {
    const raw = await RawClient.connect(srv.port);
    raw.send(Buffer.concat([encodeCommand(['BLPOP', 'held', '0']), encodeCommand(['SET', 'after', '1'])]));
    await sleep(100);
    const c = conn();
    expect(await c.get('after')).toBe(null); // SET not run yet: the client is blocked
    await c.rpush('held', 'x');
    expect((await raw.readReply()).toString()).toBe('*2\r\n$4\r\nheld\r\n$1\r\nx\r\n');
    expect((await raw.readReply()).toString()).toBe('+OK\r\n');
    expect(await c.get('after')).toBe('1');
    raw.close();
  });

  it('BLMOVE moves for a blocked client and its push wakes the next one', async () => {
    const [a, b, c] = [conn(), conn(), conn()];
    const pb = b.blpop('stage2', 0);
    await sleep(50);
    const pa = a.blmove('stage1', 'stage2', 'LEFT', 'RIGHT', 0);
    await sleep(50);
    await c.rpush('stage1', 'job');
    expect(await pa).toBe('job');
    expect(await pb).toEqual(['stage2', 'job']);
  });

  it('CLIENT UNBLOCK ends a block with a timeout or an error', async () => {
    const [a, c] = [conn(), conn()];
    const id = await a.client('ID');
    const p = a.blpop('u1', 0);
    await sleep(50);
    expect(await c.client('UNBLOCK', id as number)).toBe(1);
    expect(await p).toBe(null);
    const p2 = a.blpop('u1', 0).catch((e: Error) => e.message);
    await sleep(50);
    expect(await c.client('UNBLOCK', id as number, 'ERROR')).toBe(1);
    expect(await p2).toBe('UNBLOCKED client unblocked via CLIENT UNBLOCK');
    expect(await c.client('UNBLOCK', id as number)).toBe(0);
    expect(Number(/blocked_clients:(\d+)/.exec(await c.info('clients'))![1])).toBe(0);
  });

  it('sorted sets: BZPOPMIN, BZPOPMAX, BZMPOP answer as Redis and wake on ZADD', async () => {
    const raw = await RawClient.connect(srv.port);
    const ask = async (...a: string[]) => { raw.send(encodeCommand(a)); return (await raw.readReply()).toString('latin1'); };
    expect(await ask('BZMPOP', 'x', '0', 'k', 'MIN')).toBe('-ERR numkeys should be greater than 0\r\n');
    expect(await ask('BZMPOP', '0', '1', 'k', 'MIDDLE')).toBe('-ERR syntax error\r\n');
    expect(await ask('BZMPOP', '0', '1', 'k', 'MIN', 'COUNT', '0')).toBe('-ERR count should be greater than 0\r\n');
    expect(await ask('BLMPOP', 'x', '0', 'k', 'LEFT')).toBe('-ERR numkeys should be greater than 0\r\n');
    expect(await ask('BZPOPMIN', 'k', 'x')).toBe('-ERR timeout is not a float or out of range\r\n');
    expect(await ask('ZADD', 'bz', '1', 'a', '2', 'b', '3', 'c')).toBe(':3\r\n');
    expect(await ask('BZPOPMIN', 'bz', 'nokey', '0')).toBe('*3\r\n$2\r\nbz\r\n$1\r\na\r\n$1\r\n1\r\n');
    expect(await ask('BZPOPMAX', 'nokey', 'bz', '0')).toBe('*3\r\n$2\r\nbz\r\n$1\r\nc\r\n$1\r\n3\r\n');
    expect(await ask('BZMPOP', '0', '2', 'nokey', 'bz', 'MAX', 'COUNT', '5')).toBe('*2\r\n$2\r\nbz\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n');
    expect(await ask('BZPOPMIN', 'bz', '0.05')).toBe('*-1\r\n');
    await ask('SET', 'bzs', 'x');
    expect(await ask('BZPOPMIN', 'bzs', '0')).toBe('-WRONGTYPE Operation against a key holding the wrong kind of value\r\n');
    await ask('HELLO', '3');
    await ask('ZADD', 'bz', '1.5', 'a', '2', 'b');
    expect(await ask('BZMPOP', '0', '1', 'bz', 'MIN', 'COUNT', '2')).toBe('*2\r\n$2\r\nbz\r\n*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n');
    raw.close();
    const [a, c] = [conn(), conn()];
    const p = a.bzpopmax('bzwait', 'zz', 0);
    await sleep(50);
    await c.zadd('zz', 7, 'm');
    expect(await p).toEqual(['zz', 'm', '7']);
  });

  it('forgets a client that disconnects while blocked', async () => {
    const a = new Redis({ port: srv.port, host: '127.0.0.1' });
    const c = conn();
    a.blpop('gone', 0).catch(() => undefined);
    await sleep(50);
    a.disconnect();
    await sleep(50);
    await c.rpush('gone', 'kept');
    expect(await c.lrange('gone', 0, -1)).toEqual(['kept']);
    expect(Number(/blocked_clients:(\d+)/.exec(await c.info('clients'))![1])).toBe(0);
  });
});

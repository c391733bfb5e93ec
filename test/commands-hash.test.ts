// Hash commands, in-process: each command runs through its handler over real Stores (1,
// 2 and 3 keyspaces) and its reply bytes are compared with the reference redis-server
// 7.0 on the same stream. Hashtable-ordered replies (HGETALL/HKEYS/HVALS) are compared as
// sorted multisets, HRANDFIELD by shape, membership and uniqueness. Plus direct checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/commands/strings';
import '../src/commands/keys';
import '../src/commands/expire';
import '../src/commands/set';
import '../src/commands/hash';
import { shardSettings } from '../src/shard/settings';
import { RawClient, replyElements } from './helpers/resp';
import { ServerHandle, startRedis } from './helpers/servers';
import { type Arg } from './helpers/inproc';
import { DEFAULTS, Inproc, differential, prng, s } from './helpers/collections';

const HASH_STREAMS: Arg[][][] = [
  s('hset h a 1 b 2', 'hget h a', 'hget h z', 'hget nokey a', 'hmget h a z b', 'hmget nokey a', 'hlen h', 'hlen nokey',
    'hexists h a', 'hexists h z', 'hexists nokey a', 'hstrlen h a', 'hstrlen h z', 'hstrlen nokey a', 'hkeys h', 'hvals h',
    'hgetall h', 'hkeys nokey', 'hvals nokey', 'hgetall nokey', 'object encoding h', 'hset h a 10 c 3', 'hgetall h',
    'hset h a', 'hset h a 1 b', 'hmset h a', 'hmset h x 9 y 8', 'hgetall h', 'hsetnx h a 5', 'hsetnx h n 5', 'hget h n',
    'hsetnx new f v', 'hgetall new', 'hdel h a z', 'hdel h z', 'hdel nokey a', 'hgetall h', 'hdel h b c x y n', 'exists h',
    'hdel new f', 'exists new'),
  s('hincrby h a 5', 'hincrby h a -3', 'hincrby h a x', 'hincrby h a 1.5', 'hset h s abc', 'hincrby h s 1', 'hset h z 007',
    'hincrby h z 1', 'hset h m 9223372036854775806', 'hincrby h m 1', 'hincrby h m 1', 'hget h m',
    'hincrby h m -9223372036854775808', 'hset h n -9223372036854775807', 'hincrby h n -1', 'hincrby h n -1',
    'hincrby h q 9223372036854775807', 'hincrby h b 9007199254740993', 'hincrby h b 9007199254740993', 'hget h b',
    'hincrbyfloat h f 1.5', 'hincrbyfloat h f 0.1', 'hincrbyfloat h f 0.2', 'hget h f', 'hincrbyfloat h f x',
    'hincrbyfloat h f inf', 'hincrbyfloat h f -inf', 'hincrbyfloat h f nan', 'hincrbyfloat h s 1',
    'hincrbyfloat h big 1e308', 'hincrbyfloat h big 1e308', 'hincrbyfloat h big 1e4000', 'hget h big',
    'hincrbyfloat h g 1000.1', 'hincrbyfloat h g 0.2', 'hincrbyfloat h a 1e30', 'hincrbyfloat h e 5.0e3',
    'hincrbyfloat h e -5000', 'hget h e', 'hincrbyfloat h c " 1"', 'hincrbyfloat h c 0x10', 'hgetall h',
    'hincrbyfloat n2 f 1', 'hincrby n3 f 1', 'hgetall n2', 'hgetall n3'),
  s('set str v', 'hset str a 1', 'hsetnx str a 1', 'hget str a', 'hmget str a', 'hdel str a', 'hlen str', 'hstrlen str a',
    'hexists str a', 'hkeys str', 'hvals str', 'hgetall str', 'hincrby str a 1', 'hincrbyfloat str a 1',
    'hrandfield str', 'hrandfield str 2', 'hscan str 0', 'hmset str a 1', 'hincrby str a x', 'hincrbyfloat str a x',
    'hset str a', 'sadd s x', 'hget s x'),
  s('hset h a 1 b 2 c 3', 'hrandfield h', 'hrandfield h 0', 'hrandfield h 1', 'hrandfield h 2', 'hrandfield h -5',
    'hrandfield h 3', 'hrandfield h 10', 'hrandfield h 2 withvalues', 'hrandfield h -5 withvalues',
    'hrandfield h 5 withvalues', 'hrandfield h 1 WITHVALUES', 'hrandfield h 1 withvalue', 'hrandfield h 1 withvalues x',
    'hrandfield h x', 'hrandfield h -9223372036854775808', 'hrandfield h 4611686018427387904 withvalues',
    'hrandfield h -4611686018427387904 withvalues', 'hrandfield h 4611686018427387903 withvalues x',
    'hrandfield nokey', 'hrandfield nokey 3', 'hrandfield nokey 3 withvalues', 'hrandfield nokey x'),
  s('hset h a 1 b 2 c 3', 'hscan h 0', 'hscan h 0 match b', 'hscan h 0 count 1', 'hscan h 0 count 0', 'hscan h 0 type hash',
    'hscan h x', 'hscan nokey 0', 'hscan nokey 0 count x', 'hscan h 0 novalues'),
  // conversions at the thresholds, and CONFIG SET of them
  s('config set hash-max-listpack-entries 2', 'hset h a 1 b 2', 'object encoding h', 'hset h c 3', 'object encoding h',
    'hdel h a b', 'object encoding h', 'config set hash-max-listpack-value 4', 'hset v a 1234', 'object encoding v',
    'hset v b 12345', 'object encoding v', 'hset w abcde 1', 'object encoding w', 'hset x a 1', 'hincrbyfloat x a 0.12345',
    'object encoding x', 'hset y a 1', 'hincrby y a 100000', 'object encoding y', 'hsetnx z a 12345', 'object encoding z',
    'hset q a 1', 'hsetnx q a 12345', 'object encoding q', 'config set hash-max-listpack-entries 0', 'hset e a 1',
    'object encoding e', 'hgetall e'),
];

function hashStream(seed: number, n: number): Arg[][] {
  const r = prng(seed);
  const out: Arg[][] = [];
  const keys = ['h1', 'h2', '{t}a'];
  const field = () => 'f' + Math.floor(r() * n);
  const value = () => (r() < 0.5 ? String(Math.floor(r() * 1000)) : 'v'.repeat(Math.floor(r() * 80)));
  for (let i = 0; i < 800; i++) {
    const k = keys[Math.floor(r() * keys.length)];
    const x = r();
    if (x < 0.35) {
      const args: Arg[] = [r() < 0.5 ? 'hset' : 'hmset', k];
      const m = 1 + Math.floor(r() * 10);
      for (let j = 0; j < m; j++) args.push(field(), value());
      out.push(args);
    } else if (x < 0.45) out.push(['hdel', k, field(), field()]);
    else if (x < 0.5) out.push(['hget', k, field()]);
    else if (x < 0.53) out.push(['hmget', k, field(), field()]);
    else if (x < 0.56) out.push(['hlen', k]);
    else if (x < 0.58) out.push(['hgetall', k]);
    else if (x < 0.6) out.push(['hkeys', k]);
    else if (x < 0.62) out.push(['hvals', k]);
    else if (x < 0.66) out.push(['hincrby', k, field(), String(Math.floor(r() * 100) - 50)]);
    else if (x < 0.7) out.push(['hincrbyfloat', k, field(), String(r() * 10 - 5)]);
    else if (x < 0.73) out.push(['hsetnx', k, field(), value()]);
    else if (x < 0.76) out.push(['hstrlen', k, field()]);
    else if (x < 0.78) out.push(['hexists', k, field()]);
    else if (x < 0.81) out.push(['object', 'encoding', k]);
    else if (x < 0.85) out.push(['hrandfield', k, String(Math.floor(r() * 40) - 15), ...(r() < 0.5 ? ['withvalues'] : [])]);
    else if (x < 0.87) out.push(['hscan', k, '0', 'count', '100000', 'match', '*1*']);
    else if (x < 0.89) out.push(['config', 'set', r() < 0.5 ? 'hash-max-listpack-entries' : 'hash-max-listpack-value',
      String([0, 8, 64, 512][Math.floor(r() * 4)])]);
    else if (x < 0.9) out.push(['copy', k, keys[Math.floor(r() * keys.length)], 'replace']);
    else out.push(['hset', k, field(), value()]);
  }
  return out;
}

describe('hash commands: differential against redis-server 7.0', () => {
  let redis: ServerHandle;
  let client: RawClient;
  beforeAll(async () => {
    redis = await startRedis();
    client = await RawClient.connect(redis.port);
  });
  afterAll(async () => {
    for (const c of DEFAULTS) new Inproc().runBytes(c);
    client?.close();
    await redis?.stop();
  });

  for (const shards of [1, 2, 3]) {
    it(`replies as Redis (${shards} keyspace${shards > 1 ? 's' : ''})`, async () => {
      const diffs = await differential(client, new Inproc(shards), HASH_STREAMS);
      expect(diffs.join('\n')).toBe('');
    });
  }

  it('generated streams on small and large hashes, both encodings and conversions', async () => {
    const diffs = await differential(client, new Inproc(2), [hashStream(1, 20), hashStream(2, 1500), hashStream(3, 200)]);
    expect(diffs.join('\n')).toBe('');
  });

  it('RESP3 replies', async () => {
    const streams = [s('hello 3', 'hset h a 1 b 2 c 3', 'hgetall h', 'hgetall nokey', 'hkeys nokey', 'hget h z',
      'hmget h a z', 'hrandfield h 2 withvalues', 'hrandfield h -4 withvalues', 'hrandfield h 9 withvalues',
      'hrandfield h 2', 'hrandfield nokey', 'hrandfield nokey 2 withvalues', 'hincrbyfloat h f 1.5', 'hscan h 0',
      'hello 2')];
    const diffs = await differential(client, new Inproc(), streams);
    expect(diffs.join('\n')).toBe('');
  });

  it('binary-safe fields and values', async () => {
    const bin = Buffer.from([0, 13, 10, 255, 0x80]);
    const streams: Arg[][][] = [[['hset', bin, bin, bin, 'x', Buffer.from('1\0')], ['hgetall', bin], ['hget', bin, bin],
      ['hdel', bin, 'x'], ['hlen', bin], ['hrandfield', bin, '1', Buffer.from('withvalues\0x')]]];
    const diffs = await differential(client, new Inproc(), streams);
    expect(diffs.join('\n')).toBe('');
  });
});

describe('hash commands: direct checks', () => {
  it('HRANDFIELD counts: distinct fields with their values (all strategies, both encodings)', () => {
    for (const n of [100, 2000]) {
      const r = new Inproc();
      for (let i = 0; i < n; i++) r.run('hset', 'h', 'f' + i, 'v' + i);
      for (const count of [1, 5, n / 2, n - 1, n, n + 5]) {
        const rep = replyElements(r.runBytes(['hrandfield', 'h', String(count), 'withvalues']))!;
        const els = rep.elements.map((e) => e.toString('latin1').split('\r\n')[1]);
        expect(els.length).toBe(2 * Math.min(count, n));
        const fields = new Set<string>();
        for (let i = 0; i < els.length; i += 2) {
          expect(els[i + 1]).toBe('v' + els[i].slice(1));
          fields.add(els[i]);
        }
        expect(fields.size).toBe(Math.min(count, n));
      }
    }
  });

  it('HSCAN of a hashtable returns every pair', () => {
    const r = new Inproc();
    for (let i = 0; i < 3000; i++) r.run('hset', 'h', 'f' + i, 'v' + i);
    const seen = new Map<string, string>();
    let cursor = '0';
    do {
      const rep = replyElements(r.runBytes(['hscan', 'h', cursor, 'count', '40']))!;
      cursor = rep.elements[0].toString().split('\r\n')[1];
      const els = replyElements(rep.elements[1])!.elements.map((e) => e.toString().split('\r\n')[1]);
      for (let i = 0; i < els.length; i += 2) seen.set(els[i], els[i + 1]);
    } while (cursor !== '0');
    expect(seen.size).toBe(3000);
    for (const [f, v] of seen) expect(v).toBe('v' + f.slice(1));
  });

  it('deleting a big hash is lazy and gives the memory back', () => {
    const r = new Inproc();
    const ks = r.store.keyspaces[0];
    const before = ks.arena.usedBytes;
    const args: Arg[] = ['hset', 'big'];
    for (let i = 0; i < 200000; i++) args.push('field:' + i, 'value:' + i);
    r.runBytes(args);
    expect(r.run('hlen', 'big')).toBe(':200000\r\n');
    expect(r.run('object', 'encoding', 'big')).toBe('$9\r\nhashtable\r\n');
    r.run('del', 'big');
    expect(ks.lazyFreePending).toBe(1);
    while (ks.lazyFreePending > 0) ks.lazyFreeStep(performance.now() + 2);
    expect(ks.arena.usedBytes - before).toBeLessThan(64 * 1024);
  });
});

// Set commands, in-process: each command runs through its handler over real Stores (1, 2
// and 3 keyspaces) and its reply bytes are compared with the reference redis-server 7.0
// on the same stream. Replies whose order is the hash table's (hashtable-encoded
// SMEMBERS/SUNION/...) are compared as sorted multisets; random replies (SRANDMEMBER,
// SPOP) by shape, membership and uniqueness. Plus direct checks: SPOP properties, SSCAN
// completeness, encodings, lazy free of big sets, V8 heap flat with elements.
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

const SET_STREAMS: Arg[][][] = [
  s('sadd s 3 1 2', 'smembers s', 'object encoding s', 'sadd s 2 5 -7', 'smembers s', 'scard s', 'sismember s 5',
    'sismember s x', 'sismember s 05', 'smismember s 1 x 3 05', 'smismember nokey a b', 'sadd s a', 'object encoding s',
    'scard s', 'smembers s', 'srem s 1 x a', 'srem s nope', 'srem nokey a', 'scard s', 'sismember nokey a',
    'scard nokey', 'smembers nokey', 'srem s 2 3 5 -7', 'exists s', 'type s'),
  s('sadd s 9223372036854775807 -9223372036854775808 0 -1 32767 32768 -32768 -32769 2147483647 2147483648',
    'smembers s', 'object encoding s', 'sismember s 9223372036854775807', 'sismember s 9223372036854775808',
    'srem s -9223372036854775808', 'smembers s', 'sadd s 9223372036854775808', 'object encoding s', 'smembers s'),
  s('sadd a 1 2 3 4', 'sadd b 3 4 5', 'sadd c 4 x', 'sinter a b', 'sinter a b c', 'sinter a nokey', 'sinter nokey a',
    'sunion a b', 'sunion a b c', 'sunion nokey', 'sdiff a b', 'sdiff a b c', 'sdiff nokey a', 'sdiff a nokey', 'sdiff a a',
    'sinter a a', 'sintercard 2 a b', 'sintercard 1 a limit 2', 'sintercard 1 a limit 0', 'sintercard 3 a b c',
    'sintercard 2 a nokey', 'sintercard 0 a', 'sintercard x a', 'sintercard 3 a b', 'sintercard 1 a limit -1',
    'sintercard 1 a limit x', 'sintercard 1 a foo', 'sintercard 1 a limit', 'sinterstore d a b', 'smembers d',
    'object encoding d', 'sunionstore d a c', 'smembers d', 'object encoding d', 'sdiffstore d a b', 'smembers d',
    'sinterstore d a nokey', 'exists d', 'sunionstore d nokey', 'exists d', 'sdiffstore d nokey a', 'exists d',
    'set str v', 'sinter a str', 'sinter nokey str', 'sunion a str', 'sdiff str a', 'sinterstore d a str',
    'sinterstore str a', 'smembers str', 'type str', 'sintercard 1 str', 'sunionstore a a b', 'smembers a',
    'sdiffstore b b', 'exists b', 'sinterstore a a', 'smembers a'),
  s('sadd a x y z', 'sadd b 1', 'smove a b x', 'smembers a', 'smembers b', 'object encoding b', 'smove a b nope',
    'smove nokey b x', 'smove a a y', 'smove a a nope', 'smove a c y', 'smembers c', 'object encoding c', 'smove a c z',
    'exists a', 'sadd n 5', 'smove n m 5', 'object encoding m', 'set str v', 'smove str b 1', 'smove b str 1',
    'smove nokey str 1', 'sadd e 1', 'smove b e 1', 'smembers e', 'exists b'),
  s('set str v', 'sadd str a', 'srem str a', 'sismember str a', 'smismember str a', 'scard str', 'smembers str',
    'spop str', 'spop str 2', 'srandmember str', 'srandmember str 2', 'sscan str 0', 'hset h a 1', 'sadd h x'),
  s('sadd s a', 'srandmember s', 'srandmember s 1', 'srandmember s -3', 'srandmember s 0', 'srandmember s 5',
    'srandmember nokey', 'srandmember nokey 3', 'srandmember s x', 'srandmember s 1 2',
    'srandmember s -9223372036854775808', 'srandmember s 9223372036854775807', 'spop nokey', 'spop nokey 3',
    'spop s 1 2', 'spop s x', 'spop s -1', 'spop s 0', 'spop s', 'exists s', 'sadd s 1 2 3', 'spop s 3', 'exists s',
    'sadd s 1 2 3', 'spop s 10', 'exists s', 'sadd s a b', 'spop s 2', 'exists s'),
  s('sadd s 1 2 3', 'sscan s 0', 'sscan s 0 match 1', 'sscan s 0 match *', 'sscan s 0 count 1', 'sscan s 0 count 0',
    'sscan s 0 count x', 'sscan s 0 foo', 'sscan s 0 type string', 'sscan s x', 'sscan s -1', 'sscan s 18446744073709551616',
    'sscan s 18446744073709551615', 'sscan nokey 0 count x', 'sscan nokey x', 'sscan s " 1"', 'sscan s "+1"',
    'sscan s 0 match'),
  // conversions at the thresholds, and CONFIG SET of them
  s('config set set-max-intset-entries 3', 'sadd s 1 2 3', 'object encoding s', 'sadd s 4', 'object encoding s',
    'srem s 4 3 2', 'object encoding s', 'sadd t 1 2', 'sadd t 3 4', 'object encoding t', 'sunionstore u s',
    'object encoding u', 'sadd v 1 2 3 4', 'sdiffstore w v s', 'object encoding w', 'smembers w',
    'config set set-max-intset-entries 0', 'sadd z 1', 'object encoding z', 'config set set-max-intset-entries 512'),
];

function setStreamLarge(seed: number, n: number): Arg[][] {
  const r = prng(seed);
  const out: Arg[][] = [];
  const keys = ['s1', 's2', 's3', '{t}a', '{t}b'];
  const member = () => (r() < 0.7 ? String(Math.floor(r() * n)) : 'm' + Math.floor(r() * n));
  for (let i = 0; i < 800; i++) {
    const k = keys[Math.floor(r() * keys.length)];
    const k2 = keys[Math.floor(r() * keys.length)];
    const x = r();
    if (x < 0.35) {
      const args: Arg[] = ['sadd', k];
      const m = 1 + Math.floor(r() * 20);
      for (let j = 0; j < m; j++) args.push(member());
      out.push(args);
    } else if (x < 0.45) out.push(['srem', k, member(), member()]);
    else if (x < 0.5) out.push(['sismember', k, member()]);
    else if (x < 0.53) out.push(['smismember', k, member(), member(), member()]);
    else if (x < 0.58) out.push(['scard', k]);
    else if (x < 0.6) out.push(['smembers', k]);
    else if (x < 0.62) out.push(['sinter', k, k2]);
    else if (x < 0.64) out.push(['sintercard', '2', k, k2, 'limit', String(Math.floor(r() * 10))]);
    else if (x < 0.66) out.push(['sunion', k, k2]);
    else if (x < 0.68) out.push(['sdiff', k, k2]);
    else if (x < 0.7) out.push(['sinterstore', k, k, k2]);
    else if (x < 0.72) out.push(['sunionstore', keys[Math.floor(r() * keys.length)], k, k2]);
    else if (x < 0.74) out.push(['sdiffstore', keys[Math.floor(r() * keys.length)], k, k2]);
    else if (x < 0.77) out.push(['smove', k, k2, member()]);
    else if (x < 0.8) out.push(['object', 'encoding', k]);
    else if (x < 0.84) out.push(['srandmember', k, String(Math.floor(r() * 40) - 15)]);
    else if (x < 0.86) out.push(['srandmember', k]);
    else if (x < 0.87) out.push(['spop', k, '1000000']);
    else if (x < 0.88) out.push(['sscan', k, '0', 'count', '100000', 'match', '*1*']);
    else if (x < 0.9) out.push(['config', 'set', 'set-max-intset-entries', String([0, 5, 64, 512][Math.floor(r() * 4)])]);
    else out.push(['sadd', k, ...Array.from({ length: 30 }, member)]);
  }
  return out;
}

describe('set commands: differential against redis-server 7.0', () => {
  let redis: ServerHandle;
  let client: RawClient;
  beforeAll(async () => {
    redis = await startRedis();
    client = await RawClient.connect(redis.port);
    await client.pipeline(DEFAULTS);
    for (const c of DEFAULTS) new Inproc().runBytes(c);
  });
  afterAll(async () => {
    for (const c of DEFAULTS) new Inproc().runBytes(c);
    client?.close();
    await redis?.stop();
  });

  for (const shards of [1, 2, 3]) {
    it(`replies as Redis (${shards} keyspace${shards > 1 ? 's' : ''})`, async () => {
      const diffs = await differential(client, new Inproc(shards), SET_STREAMS);
      expect(diffs.join('\n')).toBe('');
    });
  }

  it('generated streams on small and large sets, both encodings and conversions', async () => {
    const streams = [setStreamLarge(1, 50), setStreamLarge(2, 2000), [...DEFAULTS, ...setStreamLarge(3, 300)]];
    const diffs = await differential(client, new Inproc(2), streams);
    expect(diffs.join('\n')).toBe('');
  });

  it('RESP3 replies', async () => {
    const streams = [s('hello 3', 'sadd s 1 2 3', 'smembers s', 'smembers nokey', 'sinter s nokey', 'sunion s',
      'sdiff s s', 'srandmember s 2', 'srandmember s -2', 'srandmember s 5', 'srandmember nokey 2', 'srandmember nokey',
      'spop nokey', 'spop nokey 2', 'spop s 0', 'sintercard 1 s', 'smismember s 1 9', 'sadd t a b c', 'smembers t',
      'sunion s t', 'spop t 3', 'sscan s 0', 'hello 2')];
    const diffs = await differential(client, new Inproc(), streams);
    expect(diffs.join('\n')).toBe('');
  });

  it('binary-safe members', async () => {
    const bin = Buffer.from([0, 13, 10, 255, 0x80]);
    const streams: Arg[][][] = [[['sadd', bin, bin, 'x', Buffer.from('1\0')], ['smembers', bin], ['sismember', bin, bin],
      ['srem', bin, Buffer.from('1\0')], ['scard', bin], ['smove', bin, 'd', bin], ['smembers', 'd']]];
    const diffs = await differential(client, new Inproc(), streams);
    expect(diffs.join('\n')).toBe('');
  });
});

describe('set commands: direct checks', () => {
  const members = (r: Inproc, key: string): string[] => {
    const rep = replyElements(r.runBytes(['smembers', key]))!;
    return rep.elements.map((e) => e.toString('latin1').split('\r\n')[1]).sort();
  };

  it('SPOP with count pops distinct members and removes exactly them (all strategies)', () => {
    for (const [n, count, ints] of [[100, 3, true], [100, 90, true], [1000, 10, false], [1000, 900, false],
      [1000, 999, false], [50, 49, true]] as [number, number, boolean][]) {
      const r = new Inproc();
      const all = Array.from({ length: n }, (_, i) => (ints ? String(i) : 'm' + i));
      r.run('sadd', 's', ...all);
      const rep = replyElements(r.runBytes(['spop', 's', String(count)]))!;
      expect(rep.header.toString()).toBe(`*${count}\r\n`);
      const popped = rep.elements.map((e) => e.toString('latin1').split('\r\n')[1]);
      expect(new Set(popped).size).toBe(count);
      const left = members(r, 's');
      expect(left.length).toBe(n - count);
      expect([...left, ...popped].sort()).toEqual([...all].sort());
    }
  });

  it('SRANDMEMBER positive counts are distinct members, negative counts may repeat', () => {
    const r = new Inproc();
    for (let i = 0; i < 1000; i++) r.run('sadd', 'h', 'm' + i);
    for (const count of [1, 10, 300, 400, 999, 1000, 5000]) {
      const rep = replyElements(r.runBytes(['srandmember', 'h', String(count)]))!;
      const got = rep.elements.map((e) => e.toString('latin1').split('\r\n')[1]);
      expect(got.length).toBe(Math.min(count, 1000));
      expect(new Set(got).size).toBe(got.length);
      for (const m of got) expect(m).toMatch(/^m\d+$/);
    }
    const rep = replyElements(r.runBytes(['srandmember', 'h', '-3000']))!;
    expect(rep.elements.length).toBe(3000);
    expect(new Set(rep.elements.map((e) => e.toString())).size).toBeLessThan(1000);
  });

  it('SSCAN of a hashtable set returns every member across rehashing and growth', () => {
    const r = new Inproc();
    for (let i = 0; i < 5000; i++) r.run('sadd', 's', 'x' + i);
    const seen = new Set<string>();
    let cursor = '0';
    let rounds = 0;
    do {
      const rep = replyElements(r.runBytes(['sscan', 's', cursor, 'count', '50']))!;
      cursor = rep.elements[0].toString().split('\r\n')[1];
      for (const e of replyElements(rep.elements[1])!.elements) seen.add(e.toString().split('\r\n')[1]);
      // Grow the set while scanning: members present from the start must all be seen.
      if (rounds++ < 20) for (let k = 0; k < 200; k++) r.run('sadd', 's', `y${rounds}_${k}`);
    } while (cursor !== '0');
    for (let i = 0; i < 5000; i++) expect(seen.has('x' + i)).toBe(true);
    const rep = replyElements(r.runBytes(['sscan', 's', '0', 'match', 'x1?', 'count', '100000']))!;
    expect(replyElements(rep.elements[1])!.elements.length).toBe(10);
  });

  it('COPY, RENAME and MOVE carry sets across keyspaces', () => {
    const r = new Inproc(3);
    r.run('sadd', 'a', ...Array.from({ length: 300 }, (_, i) => 'e' + i));
    r.run('sadd', 'i', '1', '2', '3');
    for (const [src, dst] of [['a', 'zz'], ['i', 'yy']]) {
      expect(r.run('copy', src, dst)).toBe(':1\r\n');
      expect(members(r, dst)).toEqual(members(r, src));
      expect(r.run('object', 'encoding', dst)).toBe(r.run('object', 'encoding', src));
      expect(r.run('rename', dst, dst + 'q')).toBe('+OK\r\n');
      expect(members(r, dst + 'q')).toEqual(members(r, src));
      expect(r.run('sismember', dst + 'q', src === 'a' ? 'e7' : '2')).toBe(':1\r\n');
    }
    expect(r.run('move', 'a', '1')).toBe(':1\r\n');
    r.c.db = 1;
    expect(r.run('scard', 'a')).toBe(':300\r\n');
    r.c.db = 0;
  });

  it('deleting a 1M-member set is lazy and gives the memory back; the V8 heap does not grow with members', () => {
    const r = new Inproc();
    const ks = r.store.keyspaces[0];
    const before = ks.arena.usedBytes;
    const batch: Arg[] = ['sadd', 'big'];
    for (let i = 0; i < 1000; i++) batch.push('');
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    for (let b = 0; b < 1000; b++) {
      for (let i = 0; i < 1000; i++) batch[2 + i] = 'member:' + (b * 1000 + i);
      r.runBytes(batch);
    }
    globalThis.gc?.();
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    expect(r.run('scard', 'big')).toBe(':1000000\r\n');
    expect(heapGrowth).toBeLessThan(20 * 1024 * 1024); // ~30+ MB of members live in the arena
    expect(ks.arena.usedBytes - before).toBeGreaterThan(30 * 1000 * 1000);
    const t0 = performance.now();
    expect(r.run('del', 'big')).toBe(':1\r\n');
    expect(performance.now() - t0).toBeLessThan(20);
    expect(ks.lazyFreePending).toBe(1);
    // Each step stops at its deadline: with a budget of ~0 it frees a small slice only
    // (deterministic, unlike wall-clock checks on a busy machine), and steps are short.
    const total = ks.arena.usedBytes - before;
    const took: number[] = [];
    let maxFreed = 0;
    while (ks.lazyFreePending > 0) {
      const u0 = ks.arena.usedBytes, s0 = performance.now();
      ks.lazyFreeStep(s0 + 0.01);
      took.push(performance.now() - s0);
      // (The last step also drops the bucket array: one segment release.)
      if (ks.lazyFreePending > 0) maxFreed = Math.max(maxFreed, u0 - ks.arena.usedBytes);
    }
    expect(took.length).toBeGreaterThan(100);
    expect(maxFreed).toBeLessThan(total / 100);
    took.sort((x, y) => x - y);
    expect(took[took.length >> 1]).toBeLessThan(2);
    expect(ks.arena.usedBytes - before).toBeLessThan(64 * 1024);
  });

  it('threshold settings are read at command time', () => {
    const r = new Inproc();
    shardSettings.setMaxIntsetEntries = 2;
    try {
      r.run('sadd', 's', '1', '2');
      expect(r.run('object', 'encoding', 's')).toBe('$6\r\nintset\r\n');
      r.run('sadd', 's', '3');
      expect(r.run('object', 'encoding', 's')).toBe('$9\r\nhashtable\r\n');
    } finally {
      shardSettings.setMaxIntsetEntries = 512;
    }
  });
});

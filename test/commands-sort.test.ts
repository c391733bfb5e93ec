// SORT and SORT_RO, in-process: each command runs through its handler over real Stores (1,
// 2 and 3 keyspaces, so BY/GET pattern keys and STORE destinations land in other
// keyspaces than the sorted key) and its reply bytes are compared with the reference
// redis-server 7.0 on the same stream. Replies whose order is a hash table's (a
// hashtable set with BY nosort) are compared as sorted multisets. Plus checks through the
// real server with 2 shards (pattern keys on other shards) and of the getkeys procs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import '../src/commands/strings';
import '../src/commands/keys';
import '../src/commands/expire';
import '../src/commands/list';
import '../src/commands/set';
import '../src/commands/zset';
import '../src/commands/hash';
import '../src/commands/sort';
import { SORT_GETKEYS } from '../src/commands/enabled/sort';
import { compileCommand } from '../src/commands/table';
import { REDIS_COMMANDS } from '../src/commands/redis-commands';
import { RawClient, escapeBytes, replyElements } from './helpers/resp';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { type Arg, InprocServer } from './helpers/inproc';

/** Sabre's command layer without the network. CONFIG SET of shard settings is applied directly. */
class Inproc extends InprocServer {
  constructor(shards = 1) {
    super({ keyspaces: shards, configSet: true });
  }
}

function cmd(line: string): Arg[] {
  return (line.match(/'[^']*'|"[^"]*"|\S+/g) ?? []).map((a) => (a[0] === "'" || a[0] === '"' ? a.slice(1, -1) : a));
}
const s = (...lines: string[]): Arg[][] => lines.map(cmd);

/** Commands whose reply order is a hash table's: compared as multisets. */
const unordered = new WeakSet<Arg[]>();
function u(line: string): Arg[] {
  const c = cmd(line);
  unordered.add(c);
  return c;
}

function sortedElements(reply: Buffer): string[] | null {
  const r = replyElements(reply);
  if (r === null) return null;
  return [r.header.toString('latin1'), ...r.elements.map((e) => e.toString('latin1')).sort()];
}

async function differential(redis: RawClient, sabre: Inproc, streams: Arg[][][]): Promise<string[]> {
  const diffs: string[] = [];
  for (const stream of streams) {
    const all = [cmd('flushall'), ...DEFAULTS, ...stream];
    const theirs = await redis.pipeline(all);
    for (let i = 0; i < all.length; i++) {
      const name = String(all[i][0]).toLowerCase();
      if (name === 'hello') {
        sabre.w.resp = Number(all[i][1]) === 3 ? 3 : 2;
        continue;
      }
      const ours = sabre.runBytes(all[i]);
      let same = ours.equals(theirs[i]);
      if (!same && unordered.has(all[i])) {
        same = JSON.stringify(sortedElements(ours)) === JSON.stringify(sortedElements(theirs[i]));
      }
      if (!same) {
        diffs.push(`${all[i].map((a) => escapeBytes(a)).join(' ')}\n  sabre: ${escapeBytes(ours)}\n  redis: ${escapeBytes(theirs[i])}`);
      }
    }
    sabre.w.resp = 2;
  }
  return diffs;
}

const DEFAULTS = s('config set set-max-intset-entries 512', 'config set hash-max-listpack-entries 512',
  'config set hash-max-listpack-value 64', 'config set zset-max-listpack-entries 128',
  'config set zset-max-listpack-value 64', 'config set list-max-listpack-size -2');

const STREAMS: Arg[][][] = [
  // numeric sort of lists, LIMIT edge cases, DESC
  s('rpush l 3 1 2 10 -5 2.5 1e2 0x10 " 7" +4', 'sort l', 'sort l desc', 'sort l asc', 'sort l limit 0 3',
    'sort l limit 2 3', 'sort l limit -5 2', 'sort l limit 5 -1', 'sort l limit 1 0', 'sort l limit 100 5',
    'sort l limit 9 1', 'sort l limit 10 1', 'sort l limit 2 9223372036854775807', 'sort l limit 3 -9223372036854775808',
    'sort l limit -9223372036854775808 2', 'sort l limit x 1', 'sort l limit 1 y', 'sort l limit 1', 'sort l limit',
    'sort l desc limit 1 3', 'sort l limit 1 3 desc', 'sort_ro l', 'sort_ro l desc limit 2 2', 'sort nokey',
    'sort nokey limit 0 1', 'sort nokey desc alpha', 'sort l limit 1.5 2', 'sort l LIMIT 0 2 DESC'),
  // ties and odd numbers: equal scores fall back to byte order
  s('rpush l 1 1.0 01 +1 1e0 " 1" 2 2 inf -inf -Infinity 0 -0 "" 1e308', 'sort l', 'sort l desc',
    'rpush bad 1 x', 'sort bad', 'sort bad alpha', 'sort bad by nosort', 'rpush nan 1 nan', 'sort nan',
    'rpush hex 0x1p-1074 0x1.8p1 0x 1', 'sort hex',
    'rpush sp "3 " 1', 'sort sp', 'rpush dot . 1', 'sort dot', 'rpush e 1e 2', 'sort e', 'rpush ee "1e+" 2', 'sort ee',
    'rpush ok 2.2250738585072014e-308 1e-300 -1e-300 5', 'sort ok', 'rpush inf infinity infin', 'sort inf',
    'rpush big2 12345678901234567890 12345678901234567891 9007199254740993 9007199254740992', 'sort big2',
    'rpush dec 0.1 0.3 0.2 123456789.123456789 1.7976931348623157e308', 'sort dec',
    // ERANGE last: Redis does not clear errno before strtod, so it sticks for later SORTs of the same pipeline.
    'rpush big 1 1e400', 'sort big'),
  s('rpush tiny 1 1e-310', 'sort tiny'),
  s('rpush tiny 1 4.9e-324', 'sort tiny'),
  // ALPHA: byte order, DESC, LIMIT, STORE
  s('rpush l b a c B A aa "" ab 10 9 ~ zz', 'sort l alpha', 'sort l alpha desc', 'sort l alpha limit 2 3',
    'sort l ALPHA DESC LIMIT 0 4', 'sort l alpha store dst', 'lrange dst 0 -1', 'type dst', 'object encoding dst',
    'sort l alpha desc store dst', 'lrange dst 0 -1', 'sort_ro l alpha'),
  // BY nosort keeps the order of lists and sorted sets (DESC reverses, LIMIT takes a range)
  s('rpush l 5 3 9 1 7', 'sort l by nosort', 'sort l by nosort desc', 'sort l by nosort limit 1 2',
    'sort l by nosort desc limit 1 2', 'sort l by nosort limit 4 10', 'sort l by nosort limit 5 1',
    'sort l by nosort limit -1 -1', 'sort l by nosort desc limit 0 0', 'sort l by nosort alpha',
    'zadd z 3 c 1 a 2 b 5 e 4 d', 'sort z by nosort', 'sort z by nosort desc', 'sort z by nosort limit 1 2',
    'sort z by nosort desc limit 1 3', 'sort z by nosort limit 3 100', 'sort z by nosort limit 9 1', 'sort z alpha',
    'sort z alpha desc limit 1 2', 'sort z', 'object encoding z', 'sort z by nosort store dst', 'lrange dst 0 -1',
    'sort l by nosort store dst', 'lrange dst 0 -1', 'sort l by nosort get # get w_*', 'sort l by const get #'),
  // sets: intset sorted, hashtable nosort is hash order (compared as multisets), nosort+STORE sorts by bytes
  [...s('sadd s 5 -3 10 0 7', 'sort s', 'sort s desc', 'sort s alpha', 'sort s by nosort', 'sort s by nosort desc',
    'sort s by nosort limit 1 2', 'sort s by nosort store dst', 'lrange dst 0 -1',
    'sadd h x b a 3 1 zz', 'sort h alpha', 'sort h alpha desc limit 1 3', 'sort h', 'sort h by nosort store dst',
    'lrange dst 0 -1', 'sort h by nosort desc store dst', 'lrange dst 0 -1'), u('sort h by nosort'),
  u('sort h by nosort get #')],
  // BY and GET patterns over strings and hash fields, missing values
  s('rpush l 1 2 3 4', 'mset w_1 40 w_2 30 w_3 20', 'hset h_1 f 4 g x', 'hset h_2 f 1', 'hset h_3 f 3',
    'hset h_4 f 2 g z', 'mset o_1 one o_2 two o_4 four', 'sort l by w_*', 'sort l by w_* desc', 'sort l by h_*->f',
    'sort l by h_*->f desc', 'sort l by h_*->g alpha', 'sort l by h_*->g alpha desc', 'sort l by w_* get o_*',
    'sort l by w_* get # get o_* get h_*->f get h_*->nope get nokey_*', 'sort l get o_* get h_*->g',
    'sort l by w_* get o_* store dst', 'lrange dst 0 -1', 'sort l by h_*->f limit 1 2 get #',
    'sort l by h_*->f desc limit 0 2 get h_*->g', 'sort l by o_* alpha', 'sort l by o_* alpha desc',
    'sort l by o_*', 'sort l by h_*', 'sort l by w_*->f', 'sort l get h_*', 'sort l get w_*->f',
    'sort l by h_*-> get h_*->', 'sort l get #', 'sort l get # get #', 'sort l get nostar', 'sort l get w_',
    'sort l by w_* get # alpha', 'sort l by *', 'set 3 x', 'sort l get *', 'sort l by w_*-> alpha',
    'hset w_5 f 1', 'rpush l 5', 'sort l by w_*', 'sort l get w_*', 'rpush l2 a b', 'sort l2 by h_*->f',
    'sort l by w_* alpha', 'sort l by w_* alpha desc'),
  // patterns with the element in the middle, "->" before the star, hash field with "->"
  s('rpush l a b', 'set pre_a_post 2', 'set pre_b_post 1', 'sort l by pre_*_post', 'sort l by pre_*_post get pre_*_post',
    'hset x->a "f->g" 1', 'hset x->b "f->g" 2', 'sort l by x->*->f->g', 'sort l get x->*->f->g', 'hset k_a f->g 9',
    'sort l get k_*->f->g', 'sort l get k_*->f'),
  // STORE: count, list replaced, empty result deletes the destination, other types overwritten
  s('rpush l 3 1 2', 'set dst v', 'sort l store dst', 'lrange dst 0 -1', 'type dst', 'sort l limit 0 0 store dst',
    'exists dst', 'sort l store dst', 'sort nokey store dst', 'exists dst', 'sort nokey store dst', 'sadd dst a',
    'sort l desc store dst', 'lrange dst 0 -1', 'sort l get nokey_* store dst', 'lrange dst 0 -1', 'llen dst',
    'sort l store l', 'lrange l 0 -1', 'sort l desc store l', 'lrange l 0 -1', 'set ttlk v ex 100',
    'sort l store ttlk', 'ttl ttlk', 'sort l store a store b', 'exists a', 'lrange b 0 -1',
    'rpush bad x', 'set keep v', 'sort bad store keep', 'get keep', 'sort_ro l store dst', 'sort_ro l store',
    'sort l store', 'sort l by', 'sort l get', 'sort l foo', 'sort l asc desc asc', 'sort l desc asc', 'sort l alpha alpha'),
  // WRONGTYPE and error order
  s('set str v', 'sort str', 'sort_ro str', 'hset hh a 1', 'sort hh', 'sort str foo', 'sort str limit x 1',
    'sort str store dst', 'exists dst', 'sort str by nosort'),
  // sorted sets: both encodings
  s('zadd z 1 3 2 1 3 2', 'object encoding z', 'sort z', 'object encoding z', 'sort z desc', 'zadd z2 1 a',
    'sort_ro z2 alpha', 'object encoding z2', 'zadd z3 1 x', 'sort z3 by nosort', 'object encoding z3',
    'zadd z4 1 10 2 9', 'sort nokey by nosort', 'sort z4 limit 1 1', 'sort z4 by nosort limit 1 1'),
  // RESP3
  s('hello 3', 'rpush l 2 1 3', 'sort l', 'sort l get nokey_*', 'sort l get # get o_*', 'sort nokey',
    'sort l store dst', 'sort l limit 0 0 store dst', 'sort bad', 'rpush x y', 'sort x', 'hello 2'),
];

/** xorshift32, deterministic per seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

/** A big stream: lists, sets (both encodings), sorted sets (both encodings), weights everywhere. */
function bigStream(seed: number, n: number): Arg[][] {
  const r = rng(seed);
  const out: Arg[][] = [];
  const ints = Array.from({ length: n }, () => String(Math.floor(r() * 1e6) - 5e5));
  const words = Array.from({ length: n }, (_, i) => `w${i}_${Math.floor(r() * 1e9).toString(36)}`);
  const uniq = [...new Set(ints)];
  out.push(['rpush', 'li', ...ints], ['rpush', 'lw', ...words]);
  out.push(['sadd', 'si', ...uniq.slice(0, Math.min(uniq.length, 400))]);
  out.push(['sadd', 'sh', ...words]);
  out.push(['zadd', 'zs', ...uniq.flatMap((v, i) => [String(i % 7), v])]);
  out.push(['zadd', 'zw', ...words.slice(0, 100).flatMap((v, i) => [String(r() * 100), v])]);
  // Distinct weights (ties of ALPHA weights depend on input order), some missing.
  for (let i = 0; i < words.length; i++) {
    if (r() < 0.9) out.push(['set', `wt_${words[i]}`, String(r() * 1000)]);
    out.push(['hset', `hw_${words[i]}`, 'f', String(Math.floor(r() * 1e9)), 'g', `g${i}`]);
  }
  for (const v of uniq) out.push(['set', `wt_${v}`, `${Math.floor(r() * 1e9)}`]);
  const keys = ['li', 'lw', 'si', 'sh', 'zs', 'zw'];
  for (let i = 0; i < 40; i++) {
    const k = keys[Math.floor(r() * keys.length)];
    const numeric = k === 'li' || k === 'si' || k === 'zs';
    const c: string[] = ['sort', k];
    const x = r();
    if (x < 0.3) c.push('by', 'wt_*');
    else if (x < 0.5) c.push('by', 'hw_*->f');
    else if (x < 0.6 && k !== 'si' && k !== 'sh') c.push('by', 'nosort');
    else if (!numeric) c.push('alpha');
    if (x >= 0.5 && x < 0.6 && !numeric && (k === 'si' || k === 'sh')) c.push('alpha');
    if (r() < 0.5) c.push('limit', String(Math.floor(r() * n) - 5), String(Math.floor(r() * 50) - 2));
    if (r() < 0.3) c.push('desc');
    if (r() < 0.4) c.push('get', '#', 'get', r() < 0.5 ? 'wt_*' : 'hw_*->g');
    if (r() < 0.2) {
      c.push('store', `dst${i % 3}`);
      out.push(c, ['lrange', `dst${i % 3}`, '0', '-1']);
    } else {
      out.push(c);
    }
  }
  return out;
}

describe('SORT: differential against redis-server 7.0', () => {
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
      const diffs = await differential(client, new Inproc(shards), STREAMS);
      expect(diffs.join('\n')).toBe('');
    });
  }

  it('generated streams over big lists, sets and sorted sets', async () => {
    const streams = [bigStream(1, 60), bigStream(2, 700), bigStream(3, 300)];
    for (const shards of [1, 3]) {
      const diffs = await differential(client, new Inproc(shards), streams);
      expect(diffs.join('\n')).toBe('');
    }
  });

  it('binary elements and patterns (NUL bytes, high bytes)', async () => {
    const b = (...x: number[]) => Buffer.from(x);
    const stream: Arg[][] = [
      ['rpush', 'l', b(0x62), b(0xe9), b(0x61, 0, 0x7a), b(0x61, 0, 0x62), b(0x61), b(0x80), b(0x41)],
      ['sort', 'l', 'alpha'], ['sort', 'l', 'alpha', 'store', 'd'], ['lrange', 'd', '0', '-1'],
      ['rpush', 'n', b(0x35, 0, 0x78), '3'], ['sort', 'n'],
      ['set', b(0x77, 0x5f, 0x61, 0, 0x7a), '1'], ['set', 'w_b', '2'],
      ['sort', 'l', 'by', b(0x77, 0x5f, 0x2a), 'get', b(0x77, 0x5f, 0x2a)],
      ['sort', 'l', 'by', b(0x6e, 0x6f, 0, 0x2a)], ['sort', 'l', 'get', b(0x23, 0, 0x78)],
      ['sort', 'l', b(0x61, 0x6c, 0x70, 0x68, 0x61, 0, 0x71)], ['sort', 'l', 'alpha', 'by', 'w_*'],
    ];
    const diffs = await differential(client, new Inproc(2), [stream]);
    expect(diffs.join('\n')).toBe('');
  });
});

describe('SORT getkeys procs (db.c sortGetKeys / sortROGetKeys)', () => {
  const sortSpec = compileCommand(REDIS_COMMANDS.find((c) => c.name === 'sort')!);
  const run = (line: string, proc = SORT_GETKEYS.sortGetKeys): number[] => {
    const args = cmd(line).map((a) => Buffer.from(String(a)));
    const buf = Buffer.concat(args);
    const st = new Int32Array(args.length), en = new Int32Array(args.length);
    let p = 0;
    args.forEach((a, i) => { st[i] = p; p += a.length; en[i] = p; });
    const out = new Int32Array(args.length + 2);
    const n = proc(sortSpec, args.length, buf, st, en, out, null);
    return Array.from(out.subarray(0, n));
  };
  it('finds the sorted key and the last STORE destination as Redis', () => {
    expect(run('sort k')).toEqual([1]);
    expect(run('sort k store d')).toEqual([1, 3]);
    expect(run('sort k store a store b')).toEqual([1, 5]);
    expect(run('sort k get store store d')).toEqual([1, 5]);
    expect(run('sort k by store limit store 1 store x')).toEqual([1, 8]);
    expect(run('sort k store')).toEqual([1]);
    expect(run('sort k STORE d LIMIT 0 1')).toEqual([1, 3]);
    expect(run('sort_ro k store d', SORT_GETKEYS.sortROGetKeys)).toEqual([1]);
  });
});

describe('SORT through the server (2 shards)', () => {
  let sabre: ServerHandle;
  let redis: ServerHandle;
  let a: Redis;
  let b: Redis;
  beforeAll(async () => {
    [sabre, redis] = await Promise.all([startSabre(['--shards', '2']), startRedis()]);
    a = new Redis({ port: sabre.port, host: '127.0.0.1', lazyConnect: false });
    b = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: false });
  });
  afterAll(async () => {
    a?.disconnect();
    b?.disconnect();
    await Promise.all([sabre?.stop(), redis?.stop()]);
  });

  it('BY/GET pattern keys and the STORE destination on other shards', async () => {
    const script = async (r: Redis): Promise<unknown[]> => {
      const out: unknown[] = [];
      await r.flushall();
      const ids = Array.from({ length: 50 }, (_, i) => String(i));
      await r.rpush('list', ...ids);
      await r.sadd('set', ...ids.map((i) => `m${i}`));
      for (const i of ids) {
        await r.set(`weight_${i}`, String((Number(i) * 37) % 50));
        await r.hset(`obj_${i}`, 'name', `name${(Number(i) * 13) % 50}`, 'n', String(100 - Number(i)));
        await r.set(`weight_m${i}`, String((Number(i) * 7) % 50));
      }
      out.push(await r.sort('list', 'BY', 'weight_*', 'GET', '#', 'GET', 'obj_*->name'));
      out.push(await r.sort('list', 'BY', 'obj_*->n', 'LIMIT', '5', '10', 'DESC', 'GET', 'weight_*'));
      out.push(await r.sort('list', 'BY', 'obj_*->name', 'ALPHA', 'STORE', 'elsewhere'));
      out.push(await r.lrange('elsewhere', 0, -1));
      out.push(await r.sort('set', 'BY', 'weight_*', 'GET', 'weight_*'));
      out.push(await r.call('sort_ro', 'list', 'BY', 'nosort', 'GET', 'obj_*->n', 'LIMIT', '0', '5'));
      out.push(await r.sort('list', 'BY', 'weight_*', 'STORE', 'dest2').catch((e: Error) => e.message));
      out.push(await r.call('sort_ro', 'list', 'STORE', 'x').catch((e: Error) => e.message));
      out.push(await r.call('command', 'getkeys', 'sort', 'list', 'by', 'w_*', 'store', 'd'));
      out.push(await r.call('command', 'getkeys', 'sort_ro', 'list', 'by', 'w_*'));
      return out;
    };
    const ours = await script(a);
    const theirs = await script(b);
    expect(ours).toEqual(theirs);
  });
});

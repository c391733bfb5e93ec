// Keyspace notifications, in-process: every data command runs through its handler over
// real Stores (1 and 2 keyspaces) with a recorder as the notification sink, and the
// recorded (event, db, key) sequence is compared with the __keyevent@<db>__:<event>
// messages the reference redis-server 7.0 publishes for the same command stream.
// Classes: "KEA" (every type event and generic), then "KEn" (new keys) and "KEm" (key
// misses) separately, as 'A' leaves n and m out. Plus direct checks: the class bit of
// each event, and that nothing reaches the sink when the flags are off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/commands/strings';
import '../src/commands/keys';
import '../src/commands/expire';
import '../src/commands/hash';
import '../src/commands/list';
import '../src/commands/set';
import '../src/commands/zset';
import '../src/commands/blocking';
import '../src/commands/sort';
import '../src/commands/dump';
import {
  NOTIFY_EXPIRED, NOTIFY_GENERIC, NOTIFY_HASH, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, NOTIFY_KEY_MISS,
  NOTIFY_LIST, NOTIFY_NEW, NOTIFY_SET, NOTIFY_STRING, NOTIFY_ZSET,
} from '../src/commands/context';
import { RawClient, replyElements } from './helpers/resp';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { type Arg, InprocServer } from './helpers/inproc';
import Redis from 'ioredis';

/** One published notification as a subscriber of __keyevent@*__:* sees it. */
interface Event {
  cls: number;
  event: string;
  db: number;
  key: string;
}

/** Class letters of notify-keyspace-events, as Redis's keyspaceEventsStringToFlags. */
const CLASS_BITS: Record<string, number> = {
  g: NOTIFY_GENERIC, $: NOTIFY_STRING, l: NOTIFY_LIST, s: NOTIFY_SET, h: NOTIFY_HASH, z: NOTIFY_ZSET,
  x: NOTIFY_EXPIRED, m: NOTIFY_KEY_MISS, n: NOTIFY_NEW, K: NOTIFY_KEYSPACE, E: NOTIFY_KEYEVENT,
};
function flagsOf(spec: string): number {
  let f = 0;
  for (const ch of spec) {
    if (ch === 'A') f |= NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET | NOTIFY_EXPIRED;
    else f |= CLASS_BITS[ch];
  }
  return f;
}

/** Sabre's command layer without the network, recording every notification. */
class Inproc extends InprocServer {
  readonly events: Event[] = [];

  constructor(shards: number) {
    super({ keyspaces: shards, select: true, resetBlocked: true });
    this.c.notifySink = (cls, event, db, key, ks, ke) => {
      this.events.push({ cls, event, db, key: Buffer.from(key.subarray(ks, ke)).toString('latin1') });
    };
  }
}

function cmd(line: string): Arg[] {
  return (line.match(/'[^']*'|"[^"]*"|\S+/g) ?? []).map((a) => (a[0] === "'" || a[0] === '"' ? a.slice(1, -1) : a));
}
const s = (...lines: string[]): Arg[][] => lines.map(cmd);

// Every write command of every type, with emptied collections, misses and failed writes.
const STREAMS: Arg[][][] = [
  // strings
  s('set a 1', 'set a 2', 'set a 3 nx', 'set a 4 xx', 'set b 1 xx', 'set b 1 nx', 'set b 2 get', 'set c 1 get',
    'set c 2 ex 100', 'set c 3 keepttl', 'set c 4 px 100000 get', 'setnx a 1', 'setnx d 1', 'setex e 100 v',
    'setex e 0 v', 'psetex f 100000 v', 'set g v exat 1', 'getex a', 'getex a ex 100', 'getex a persist', 'getex a persist',
    'getex a pxat 1', 'getex nokey ex 10', 'getdel b', 'getdel nokey', 'getset d x', 'getset nd x', 'mget a d nokey',
    'mset m1 1 m2 2 m1 3', 'msetnx m1 1 m3 3', 'msetnx m3 1 m4 4', 'append m1 xyz', 'append ap xyz', 'strlen nokey',
    'get nokey', 'getrange nokey 0 1', 'setrange sr 0 ""', 'setrange sr 2 ab', 'setrange sr 0 x', 'setrange sr 1 ""',
    'incr i', 'incr i', 'decr i', 'incrby i 5', 'decrby i 2', 'decr nd2', 'incr ap', 'incrbyfloat fl 1.5',
    'incrbyfloat fl 1', 'incrbyfloat ap 1', 'lcs a nokey', 'substr nokey 0 1', 'rpush lst x', 'get lst', 'set lst v',
    'append lst2 x', 'incr lst'),
  // keys: del unlink exists touch type rename renamenx copy move object
  s('set a 1', 'set b 2', 'rpush l 1', 'del a nokey b', 'del nokey', 'set a 1', 'unlink a l nokey', 'set a 1',
    'exists a nokey', 'touch a nokey', 'type a', 'type nokey', 'rename a b', 'rename b b', 'rename nokey x',
    'set c 3', 'renamenx b c', 'renamenx b d', 'renamenx nokey q', 'copy d e', 'copy d e', 'copy d e replace',
    'copy nokey e', 'copy d d2 db 1', 'move d 1', 'move e 1', 'move nokey 1', 'select 1', 'get d', 'get d2',
    'rename d d3', 'select 0', 'object encoding c', 'object encoding nokey', 'randomkey', 'dbsize', 'keys *',
    'sadd s 1 2', 'rename s s2', 'copy s2 s3', 'move s3 2', 'swapdb 0 1', 'flushdb', 'select 2', 'flushall',
    'set x 1', 'select 0'),
  // expire family
  s('set a 1', 'expire a 100', 'pexpire a 100000', 'expireat a 4102444800', 'pexpireat a 4102444800000',
    'expire a 100 nx', 'expire a 200 xx', 'expire a 50 gt', 'expire a 500 lt', 'expire nokey 10', 'ttl a',
    'pttl nokey', 'ttl nokey', 'expiretime nokey', 'pexpiretime a', 'persist a', 'persist a', 'persist nokey',
    'expire a 0', 'exists a', 'set b 1', 'expire b -5', 'set c 1', 'pexpireat c 1', 'set d 1', 'expireat d 1',
    'expire nokey 0', 'set e 1', 'expire e 10 xx', 'expire e 10 nx', 'expire e 10 nx'),
  // hashes
  s('hset h a 1 b 2', 'hset h a 3', 'hmset h c 4', 'hsetnx h a 1', 'hsetnx h d 5', 'hsetnx h2 a 1', 'hget h a',
    'hget nokey a', 'hmget nokey a', 'hlen nokey', 'hstrlen nokey a', 'hexists nokey a', 'hkeys nokey', 'hvals nokey',
    'hgetall nokey', 'hdel h a nope', 'hdel h nope', 'hdel nokey a', 'hincrby h n 5', 'hincrby h n x',
    'hincrby h3 n 1', 'hincrbyfloat h f 1.5', 'hincrbyfloat h4 f 1', 'hrandfield nokey', 'hscan nokey 0',
    'hdel h b c d n f', 'exists h', 'hdel h2 a', 'set str v', 'hset str a 1', 'hget str a'),
  // lists
  s('lpush l a b', 'rpush l c', 'lpushx l d', 'rpushx l e', 'lpushx nokey a', 'rpushx nokey a', 'llen nokey',
    'lrange nokey 0 -1', 'lindex nokey 0', 'lpos nokey a', 'lpop l', 'rpop l', 'lpop l 0', 'lpop nokey', 'rpop nokey 2',
    'lset l 0 x', 'lset l 9 x', 'lset nokey 0 x', 'linsert l before x y', 'linsert l before nope y',
    'linsert nokey before a b', 'lrem l 0 y', 'lrem l 0 nope', 'lrem nokey 0 a', 'ltrim l 0 -1', 'ltrim l 0 0',
    'ltrim nokey 0 1', 'rpush l2 1 2 3', 'lmove l2 l3 left right', 'lmove l2 l2 right left', 'lmove nokey l3 left left',
    'rpoplpush l2 l3', 'rpoplpush l2 l3', 'rpoplpush l2 l3', 'lmpop 2 nokey l3 left count 2', 'lmpop 1 nokey left',
    'lmpop 2 l3 l left count 10', 'rpush m 1 2', 'ltrim m 5 10', 'rpush m 1', 'lrem m 0 1', 'rpush m 1', 'lpop m 5',
    'rpush m 1 2', 'rpop m', 'rpop m', 'rpush m 1', 'lmove m m left right', 'lmove m n right left',
    'set str v', 'lpush str a', 'lmove n str left left', 'llen n', 'rpush q 1', 'lmove q q left left'),
  // blocking pops that are served at once
  s('rpush l a b c', 'blpop nokey l 0', 'brpop l 0', 'rpush l x', 'blpop l 0', 'exists l', 'rpush l a b',
    'blmove l l2 left right 0', 'brpoplpush l l2 0', 'blmpop 0 2 nokey l2 right count 5', 'zadd z 1 a 2 b',
    'bzpopmin z 0', 'bzpopmax nokey z 0', 'zadd z 1 a 2 b 3 c', 'bzmpop 0 1 z min count 2', 'bzmpop 0 1 z max'),
  // sets
  s('sadd s a b', 'sadd s a', 'sadd s c', 'srem s a nope', 'srem s nope', 'srem nokey a', 'sismember nokey a',
    'smismember nokey a', 'scard nokey', 'smembers nokey', 'srandmember nokey', 'sscan nokey 0', 'smove s t b',
    'smove s t nope', 'smove nokey t a', 'smove s t c', 'sadd t x', 'smove t t x', 'sadd u 1 2 3', 'spop u', 'spop nokey',
    'spop u 0', 'spop u 5', 'sadd u 1 2 3 4 5 6', 'spop u 2', 'spop u 4', 'sadd a 1 2 3', 'sadd b 2 3 4',
    'sinter a b', 'sinter a nokey', 'sintercard 2 a b', 'sinterstore d a b', 'sinterstore d a nokey',
    'sinterstore d a nokey', 'sunionstore d a b', 'sunionstore d nokey', 'sunionstore e nokey', 'sdiffstore d a b',
    'sdiffstore d a a', 'sdiffstore d a a', 'sunion nokey a', 'sdiff nokey a', 'sinterstore a a b', 'sunionstore a a',
    'set str v', 'sadd str a', 'sinterstore str a', 'sunionstore str2 a str'),
  // sorted sets
  s('zadd z 1 a 2 b', 'zadd z 1 a', 'zadd z 3 a', 'zadd z nx 5 a', 'zadd z xx 5 c', 'zadd z xx ch 7 a',
    'zadd z incr 2 a', 'zadd z nx incr 2 a', 'zadd z2 xx 1 a', 'zadd z3 gt 1 a', 'zincrby z 1 b', 'zincrby z4 1 b',
    'zrem z nope', 'zrem z a nope', 'zrem nokey a', 'zcard nokey', 'zscore nokey a', 'zmscore nokey a', 'zrank nokey a',
    'zrevrank nokey a', 'zcount nokey 0 1', 'zlexcount nokey - +', 'zrange nokey 0 -1', 'zrangebyscore nokey 0 1',
    'zrevrange nokey 0 1', 'zrandmember nokey', 'zscan nokey 0', 'zadd y 1 a 2 b 3 c 4 d 5 e',
    'zremrangebyrank y 0 0', 'zremrangebyrank y 10 20', 'zremrangebyscore y 2 2', 'zremrangebyscore y 100 200',
    'zremrangebylex y [c [c', 'zremrangebylex y [x [z', 'zremrangebyrank nokey 0 1', 'zremrangebyrank y 0 -1',
    'exists y', 'zadd y 1 a 2 b 3 c', 'zpopmin y', 'zpopmax y 5', 'zpopmin nokey', 'zadd y 1 a', 'zmpop 2 nokey y min',
    'zmpop 1 nokey max', 'zadd y 1 a 2 b', 'zrem y a b', 'zadd p 1 a 2 b', 'zadd q 2 b 3 c', 'zunionstore u 2 p q',
    'zinterstore u 2 p q', 'zinterstore u 2 p nokey', 'zinterstore u 2 p nokey', 'zdiffstore u 1 p', 'zdiffstore u 2 p p',
    'zunionstore v 1 nokey', 'zrangestore r p 0 -1', 'zrangestore r p 5 10', 'zrangestore r p 5 10', 'zunion 2 nokey p',
    'zinter 2 p nokey', 'zdiff 2 p nokey', 'zintercard 2 p nokey', 'zrangestore r nokey 0 1', 'set str v',
    'zadd str 1 a', 'zunionstore str 1 p', 'zrangestore str2 str 0 1'),
  // sort
  s('rpush l 3 1 2', 'sort l', 'sort l store dst', 'sort nokey store dst', 'sort nokey store dst', 'sort nokey',
    'sort l limit 0 0 store dst', 'sort l store dst', 'sort_ro l', 'sort nokey2 store nd', 'set w_1 5', 'sadd ss 1 2',
    'sort ss by w_* store dst', 'hset hh f 1', 'sort l by nosort get hh->f store dst'),
  // overwrites (no "new"), SPOP's third strategy, failed writes that emit nothing
  s('set x 1', 'set y 2', 'rename x y', 'set x 1', 'renamenx x y', 'copy x y replace', 'sadd v 1 2 3 4 5 6 7 8 9 10',
    'spop v 9', 'hset h f 1', 'hsetnx h f 2', 'zadd z incr +inf a', 'zadd z incr -inf a', 'zadd z nx 1 a',
    'linsert nokey after a b', 'rpush l a', 'linsert l after a b', 'lmove l z left left', 'lset l 5 x',
    'set big 9223372036854775807', 'incr big', 'incrbyfloat y abc', 'setrange y -1 a', 'hincrbyfloat h f x',
    'zincrby z x a', 'sadd x 1', 'lpush y a', 'getex x ex -1', 'expire y abc', 'set s v', 'mget s nokey nokey2',
    'set y 1 ex 100', 'set y 2 keepttl get', 'set y 3 get', 'getdel y', 'lcs nokey nokey2'),
];

describe('keyspace notifications against redis-server 7.0', () => {
  let server: ServerHandle;
  let redis: RawClient;
  let sub: RawClient;

  beforeAll(async () => {
    server = await startRedis();
    redis = await RawClient.connect(server.port);
    sub = await RawClient.connect(server.port);
    await sub.command('psubscribe', '__keyevent@*__:*');
  }, 30_000);

  afterAll(async () => {
    redis?.close();
    sub?.close();
    await server?.stop();
  });

  /** The events Redis publishes for a stream run on an empty dataset, in order (an empty
   * stream: collect what the previous commands published). */
  async function redisEvents(spec: string, stream: Arg[][]): Promise<Event[]> {
    if (stream.length > 0) {
      await redis.command('config', 'set', 'notify-keyspace-events', '');
      await redis.pipeline([cmd('flushall'), cmd('select 0')]);
      await redis.command('config', 'set', 'notify-keyspace-events', spec);
      await redis.pipeline(stream);
    }
    await redis.command('config', 'set', 'notify-keyspace-events', '');
    await redis.command('publish', '__keyevent@99__:end', 'end');
    const out: Event[] = [];
    for (;;) {
      const msg = replyElements(await sub.readReply())!.elements.map((e) => bulkText(e));
      const m = /^__keyevent@(\d+)__:(.*)$/.exec(msg[2])!;
      if (m[1] === '99') break;
      out.push({ cls: 0, event: m[2], db: Number(m[1]), key: msg[3] });
    }
    return out;
  }

  function sabreEvents(sabre: Inproc, spec: string, stream: Arg[][]): Event[] {
    sabre.c.notifyFlags = 0;
    sabre.runBytes(cmd('flushall'));
    sabre.c.db = 0;
    sabre.events.length = 0;
    sabre.c.notifyFlags = flagsOf(spec);
    for (const command of stream) sabre.runBytes(command);
    sabre.c.notifyFlags = 0;
    return sabre.events.splice(0);
  }

  const show = (evs: Event[]) => evs.map((e) => `${e.db}:${e.event}:${e.key}`);

  for (const shards of [1, 2]) {
    for (const spec of ['KEA', 'KEn', 'KEm']) {
      it(`publishes Redis's events, classes ${spec}, ${shards} keyspace(s)`, async () => {
        const sabre = new Inproc(shards);
        for (const stream of [...STREAMS, await restoreStream()]) {
          const theirs = await redisEvents(spec, stream);
          const ours = sabreEvents(sabre, spec, stream);
          expect(show(ours), stream.map((x) => x.join(' ')).join(' | ')).toEqual(show(theirs));
        }
      }, 60_000);
    }
  }

  /** RESTORE with payloads DUMPed by Redis (the formats are the same). */
  async function restoreStream(): Promise<Arg[][]> {
    await redis.pipeline([cmd('flushall'), cmd('set s v'), cmd('rpush l a b')]);
    const ps = bulkBody(await redis.command('dump', 's'));
    const pl = bulkBody(await redis.command('dump', 'l'));
    return [['restore', 'a', '0', ps], ['restore', 'a', '0', ps], ['restore', 'a', '0', pl, 'replace'],
      ['restore', 'b', '100000', pl], ['restore', 'c', '1', ps, 'absttl'], ['restore', 'a', '0', Buffer.from('bad')],
      cmd('dump nokey'), cmd('set s v'), cmd('dump s')];
  }

  it("publishes Redis's events when a blocked client is served", async () => {
    // Each blocking command first finds nothing (Redis: a client blocks; Sabre: the handler
    // sets c.blocked), then a push makes it servable (Sabre: the server's retry of the handler).
    const blocking = ['blmove src dst left right 0', 'bzpopmin zz 0', 'blmpop 0 1 l2 left count 5', 'brpop l3 0',
      'brpoplpush l4 l4 0', 'bzmpop 0 1 zz2 max count 2'];
    const pushes = ['rpush src a', 'zadd zz 1 a', 'rpush l2 a b', 'rpush l3 a b', 'rpush l4 a', 'zadd zz2 1 a 2 b 3 c'];
    for (const shards of [1, 2]) {
      await redis.command('config', 'set', 'notify-keyspace-events', '');
      await redis.pipeline([cmd('flushall'), cmd('config set notify-keyspace-events KEAn')]);
      const waiters = await Promise.all(blocking.map(() => RawClient.connect(server.port)));
      const replies = waiters.map((w, i) => w.command(...cmd(blocking[i])));
      await new Promise((r) => setTimeout(r, 100));
      await redis.pipeline(pushes.map(cmd));
      await Promise.all(replies);
      for (const w of waiters) w.close();
      const theirs = await redisEvents('KEAn', []);

      const sabre = new Inproc(shards);
      sabre.c.notifyFlags = flagsOf('KEAn');
      for (let i = 0; i < blocking.length; i++) {
        sabre.runBytes(cmd(blocking[i]));
        expect(sabre.c.blocked).toBe(true);
      }
      for (let i = 0; i < blocking.length; i++) {
        sabre.runBytes(cmd(pushes[i]));
        sabre.c.retry = true;
        sabre.runBytes(cmd(blocking[i]));
        sabre.c.retry = false;
        expect(sabre.c.blocked).toBe(false);
      }
      expect(show(sabre.events)).toEqual(show(theirs));
    }
  }, 30_000);

  it('gives each event its class bit', () => {
    const sabre = new Inproc(1);
    sabre.c.notifyFlags = flagsOf('KEAnm');
    for (const line of ['set a 1', 'rpush l x', 'sadd s x', 'hset h f v', 'zadd z 1 x', 'del a', 'get nokey']) {
      sabre.runBytes(cmd(line));
    }
    expect(sabre.events.map((e) => [e.event, e.cls])).toEqual([
      ['new', NOTIFY_NEW], ['set', NOTIFY_STRING], ['new', NOTIFY_NEW], ['rpush', NOTIFY_LIST], ['new', NOTIFY_NEW],
      ['sadd', NOTIFY_SET], ['new', NOTIFY_NEW], ['hset', NOTIFY_HASH], ['new', NOTIFY_NEW], ['zadd', NOTIFY_ZSET],
      ['del', NOTIFY_GENERIC], ['keymiss', NOTIFY_KEY_MISS],
    ]);
  });

  it('hands nothing to the sink while notifications are off', () => {
    const sabre = new Inproc(2);
    for (const stream of STREAMS) for (const command of stream) sabre.runBytes(command);
    expect(sabre.events).toEqual([]);
  });
});

function bulkText(el: Buffer): string {
  return bulkBody(el).toString('latin1');
}

function bulkBody(el: Buffer): Buffer {
  const t = el.toString('latin1');
  return el.subarray(t.indexOf('\r\n') + 2, el.length - 2);
}

describe.each([['--shards 0'], ['--shards 2']])('keyspace notifications through the server, %s', (mode) => {
  let srv: ServerHandle;
  beforeAll(async () => { srv = await startSabre(mode.split(' ')); });
  afterAll(async () => { await srv?.stop(); });

  it('publishes write, expired and del events to subscribers, in order, from any shard', async () => {
    const sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    const cmd = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      await cmd.config('SET', 'notify-keyspace-events', 'KEA');
      const got: string[] = [];
      sub.on('pmessage', (_p, chan, msg) => got.push(`${chan} ${msg}`));
      await sub.psubscribe('__keyevent@*__:*');
      await cmd.set('a', '1');
      await cmd.lpush('b', 'x');
      await cmd.lpop('b');
      await cmd.set('c', 'v', 'PX', 50);
      // Active expiry, not an access, removes "c" (on the shard that owns it).
      for (let i = 0; i < 40 && !got.includes('__keyevent@0__:expired c'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual([
        '__keyevent@0__:set a', '__keyevent@0__:lpush b', '__keyevent@0__:lpop b', '__keyevent@0__:del b',
        '__keyevent@0__:set c', '__keyevent@0__:expire c', '__keyevent@0__:expired c',
      ]);
      await cmd.config('SET', 'notify-keyspace-events', '');
      await cmd.set('d', '1');
      await cmd.ping();
      expect(got.length).toBe(7);
    } finally {
      sub.disconnect();
      cmd.disconnect();
    }
  });
});

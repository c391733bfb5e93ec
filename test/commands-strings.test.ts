// String and expiry commands, in-process: each command runs through its handler over
// a real Store and ReplyWriter, and its reply bytes are compared with what the
// reference redis-server 7.0 answers to the same command stream (differential), plus
// direct assertions for what a differential cannot see (encodings after INCR, int64
// exactness, allocation-free hot paths).
import inspector from 'node:inspector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/commands/strings';
import '../src/commands/keys';
import '../src/commands/expire';
import '../src/commands/list';
import '../src/commands/set';
import { handlers } from '../src/commands/context';
import { RawClient, escapeBytes } from './helpers/resp';
import { ServerHandle, startRedis } from './helpers/servers';
import { type Arg, InprocServer } from './helpers/inproc';

/** Sabre's command layer without the network: args in one buffer, reply bytes out. */
class Inproc extends InprocServer {
  constructor(shards = 1) {
    super({ keyspaces: shards });
  }
}

/** "set k v" -> ['set','k','v']; quotes ('' or "") group words and allow an empty argument. */
function cmd(line: string): Arg[] {
  return (line.match(/'[^']*'|"[^"]*"|\S+/g) ?? []).map((a) => (a[0] === "'" || a[0] === '"' ? a.slice(1, -1) : a));
}

const TTL_COMMANDS = new Set(['ttl', 'pttl', 'expiretime', 'pexpiretime']);

/** Replies that may differ by clock skew: seconds within 1, milliseconds within 1000. */
function sameReply(command: Arg[], a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  const name = String(command[0]).toLowerCase();
  if (!TTL_COMMANDS.has(name) || a[0] !== 0x3a || b[0] !== 0x3a) return false;
  const x = Number(a.toString('latin1', 1, a.length - 2)), y = Number(b.toString('latin1', 1, b.length - 2));
  if (x < 0 || y < 0) return x === y;
  return Math.abs(x - y) <= (name === 'ttl' || name === 'expiretime' ? 1 : 1000);
}

/** Runs streams on both sides (after FLUSHALL) and lists every differing reply. */
async function differential(redis: RawClient, sabre: Inproc, streams: Arg[][][]): Promise<string[]> {
  const diffs: string[] = [];
  for (const stream of streams) {
    const all = [cmd('flushall'), ...stream];
    const theirs = await redis.pipeline(all);
    for (let i = 0; i < all.length; i++) {
      if (String(all[i][0]).toLowerCase() === 'hello') {
        // Protocol switch: the connection layer's job; only the writer's mode matters here.
        sabre.w.resp = Number(all[i][1]) === 3 ? 3 : 2;
        continue;
      }
      const ours = sabre.runBytes(all[i]);
      if (!sameReply(all[i], ours, theirs[i])) {
        diffs.push(`${all[i].map((a) => escapeBytes(typeof a === 'string' ? a : a)).join(' ')}\n  sabre: ${escapeBytes(ours)}\n  redis: ${escapeBytes(theirs[i])}`);
      }
    }
  }
  return diffs;
}

const s = (...lines: string[]): Arg[][] => lines.map(cmd);

/** Streams of string commands; each starts from an empty server. */
const STRING_STREAMS: Arg[][][] = [
  // GET / SET basics and options
  s('get k', 'set k v', 'get k', 'set k v2 xx', 'get k', 'set k v3 nx', 'get k', 'set n v nx', 'set x v xx', 'get x'),
  s('set k 1 nx xx', 'set k 1 xx nx', 'set k 1 nx nx', 'set k 1 xx xx', 'get k', 'set k 1 foo', 'set k 1 ex',
    'set k 1 ex 10 px 100', 'set k 1 px 10 ex 10', 'set k 1 ex 10 keepttl', 'set k 1 keepttl ex 10',
    'set k 1 exat 1 pxat 1', 'set k 1 persist', 'set k 1 ex 10 ex 20', 'ttl k', 'set k 1 px 5000 px 300000', 'pttl k'),
  s('set k v ex 0', 'set k v ex -1', 'set k v px 0', 'set k v exat 0', 'set k v pxat -5', 'set k v ex abc',
    'set k v ex 9223372036854775', 'set k v ex 9223372036854776', 'set k v px 9223372036854775807',
    'set k v ex 1.5', 'set k v ex 99999999999999999999', 'exists k'),
  s('set k v ex 100', 'ttl k', 'set k v2', 'ttl k', 'set k v3 px 100000', 'set k v4 keepttl', 'ttl k', 'get k',
    'set k v5 exat 4102444800', 'expiretime k', 'set k v6 pxat 4102444800123', 'pexpiretime k',
    'set k v7 exat 1', 'get k', 'set k v8 pxat 100', 'exists k'),
  s('set k v get', 'set k w get', 'get k', 'set k x nx get', 'get k', 'set q x xx get', 'get q', 'set k y xx get',
    'rpush l a', 'set l v get', 'get l', 'set l v', 'get l', 'set k v get ex 0', 'set k z get ex 100', 'ttl k'),
  s('set k v exat 9223372036854775', 'pexpiretime k', 'expiretime k', 'set k v pxat 9223372036854775807',
    'pexpiretime k', 'expiretime k', 'get k', 'set k v keepttl', 'pexpiretime k', 'persist k', 'pttl k'),
  // SETNX SETEX PSETEX GETSET GETDEL
  s('setnx k v', 'setnx k w', 'get k', 'setex k 100 v', 'ttl k', 'setex k 0 v', 'setex k -1 v', 'setex k x v',
    'psetex k 100000 v', 'pttl k', 'psetex k 0 v', 'psetex k 1.5 v', 'setex k 9223372036854776 v',
    'getset k new', 'ttl k', 'getset nokey v', 'get nokey', 'getdel k', 'getdel k', 'exists k',
    'sadd st a', 'getset st v', 'getdel st', 'setnx st v'),
  // GETEX
  s('getex k', 'set k v', 'getex k', 'getex k ex 100', 'ttl k', 'getex k persist', 'ttl k', 'getex k px 200000',
    'pttl k', 'getex k exat 4102444800', 'expiretime k', 'getex k pxat 4102444800999', 'pexpiretime k',
    'getex k ex 0', 'getex k ex -1', 'getex k ex x', 'getex nokey ex x', 'getex nokey ex 0', 'getex k foo',
    'getex k nx', 'getex k get', 'getex k keepttl', 'getex k persist ex 10', 'getex k ex 10 persist',
    'getex k ex 10 px 10', 'getex k ex', 'getex k exat 1', 'exists k', 'set k v', 'getex k pxat 1', 'get k',
    'lpush l x', 'getex l', 'getex l ex 10', 'getex k ex 9223372036854776'),
  // MGET MSET MSETNX
  s('mset a 1 b 2 c 3', 'mget a b c d', 'msetnx a 1 z 2', 'get z', 'msetnx y 1 z 2', 'mget y z', 'mset a',
    'msetnx a', 'mset a 1 b', 'msetnx q 1 q 2', 'get q', 'rpush l a', 'mget a l b', 'mset l v', 'get l',
    'object encoding a', 'set a 1 ex 100', 'mset a 2', 'ttl a'),
  // APPEND STRLEN
  s('append k hello', 'append k " world"', 'get k', 'strlen k', 'strlen nokey', 'append n 123', 'object encoding n',
    'append n 4', 'object encoding n', 'get n', 'append e ""', 'exists e', 'strlen e', 'object encoding e',
    'rpush l a', 'append l x', 'strlen l', 'set t v ex 100', 'append t x', 'ttl t', 'set i 5', 'append i ""',
    'object encoding i', 'incr i', 'object encoding i'),
  // GETRANGE SUBSTR
  s('set k "Hello World"', 'getrange k 0 4', 'getrange k -5 -1', 'getrange k 5 3', 'getrange k -1 -5',
    'getrange k 0 -100', 'getrange k -100 -50', 'getrange k 100 200', 'getrange k 0 100', 'getrange k -3 100',
    'getrange nokey 0 1', 'getrange k x 1', 'getrange k 0 y', 'substr k 1 3', 'getrange k 0 0', 'set e ""',
    'getrange e 0 -1', 'getrange e 0 0', 'set n 12345', 'getrange n 1 -2',
    'getrange k -9223372036854775807 -9223372036854775808', 'getrange k -9223372036854775808 -9223372036854775807',
    'getrange k 9223372036854775807 9223372036854775806', 'getrange k 0 9223372036854775807',
    'getrange k 1 99999999999999999999', 'lpush l a', 'getrange l 0 1', 'getrange k 3 2', 'getrange k -1 -1'),
  // SETRANGE
  s('setrange k 0 abc', 'get k', 'setrange k 5 xy', 'get k', 'strlen k', 'setrange k 1 ""', 'setrange nokey 3 ""',
    'exists nokey', 'setrange nokey 2 ab', 'get nokey', 'object encoding nokey', 'setrange k -1 x', 'setrange k x x',
    'setrange k 536870912 x', 'setrange k 536870911 ""', 'setrange k 9223372036854775807 x',
    'setrange k 99999999999999999999 x', 'setrange k 536870912 ""', 'set n 12', 'setrange n 0 3',
    'object encoding n', 'get n', 'rpush l a', 'setrange l 0 x', 'set t v ex 100', 'setrange t 0 w', 'ttl t',
    'setrange m 536870912 x'),
  // INCR family
  s('incr k', 'incr k', 'decr k', 'incrby k 10', 'decrby k 5', 'get k', 'object encoding k', 'incrby k x',
    'incrby k 1.5', 'incrby k ""', 'set s abc', 'incr s', 'set s " 1"', 'incr s', 'set s 01', 'incr s', 'set s -0',
    'incr s', 'set s +1', 'incr s', 'set m 9223372036854775806', 'incr m', 'incr m', 'get m',
    'set m -9223372036854775807', 'decr m', 'decr m', 'incrby m -1', 'decrby m 9223372036854775807',
    'decrby m -9223372036854775808', 'decrby z -9223372036854775808', 'incrby z -9223372036854775808', 'get z',
    'decrby z 1', 'incrby z 9223372036854775807', 'incrby z 9223372036854775807', 'set b 9007199254740993',
    'incr b', 'incrby b 9007199254740993', 'decrby b 18014398509481986', 'get b', 'incrby b 99999999999999999999',
    'rpush l a', 'incr l', 'decrby l 1', 'set t 5 ex 100', 'incr t', 'ttl t', 'set big 12345678901234567890',
    'incr big', 'set f 1.0', 'incr f', 'set sp 123456789012345678901', 'incr sp', 'incrby k 0', 'decrby k 0',
    'decrby k -0'),
  // INCRBYFLOAT
  s('incrbyfloat k 1.5', 'incrbyfloat k 0.1', 'incrbyfloat k 0.2', 'get k', 'object encoding k', 'incrbyfloat k x',
    'incrbyfloat k ""', 'incrbyfloat k inf', 'incrbyfloat k -inf', 'incrbyfloat k nan', 'incrbyfloat k 1e400',
    'set k 1e308', 'incrbyfloat k 1e308', 'set k abc', 'incrbyfloat k 1', 'set k 10', 'incrbyfloat k 0',
    'object encoding k', 'incrbyfloat k 5.0e3', 'incrbyfloat k -5000', 'incrbyfloat k 1e30', 'object encoding k',
    'incrbyfloat k 1e40', 'object encoding k', 'strlen k', 'set k 3', 'incrbyfloat k " 1"', 'incrbyfloat k 1 ',
    'incrbyfloat k 0x10', 'incrbyfloat k 1.', 'incrbyfloat k .5', 'set t 1 ex 100', 'incrbyfloat t 1', 'ttl t',
    'rpush l a', 'incrbyfloat l 1', 'set neg -1.5', 'incrbyfloat neg 1.5', 'get neg', 'incrbyfloat neg -0.0'),
  // LCS
  s('mset a ohmytext b mynewtext', 'lcs a b', 'lcs a b len', 'lcs a b idx', 'lcs a b idx minmatchlen 4',
    'lcs a b idx withmatchlen', 'lcs a b idx minmatchlen 2 withmatchlen', 'lcs a b idx len', 'lcs a b len idx',
    'lcs a b minmatchlen', 'lcs a b minmatchlen x', 'lcs a b minmatchlen -5 idx', 'lcs a b foo', 'lcs a nokey',
    'lcs nokey nokey2', 'lcs nokey nokey2 idx', 'lcs nokey nokey2 len', 'rpush l a', 'lcs a l', 'lcs l nokey',
    'mset x abcabcabc y cbacbacba', 'lcs x y idx withmatchlen', 'lcs x y', 'lcs a a idx', 'lcs a a', 'lcs x x len',
    'mset p 1234 q 1234', 'lcs p q idx withmatchlen', 'set r "a b"', 'lcs r a'),
  // STRLEN / GET on other types
  s('sadd st a', 'get st', 'strlen st', 'getrange st 0 1', 'type st', 'set st v', 'type st', 'get st'),
];

/** Streams of expiry commands. */
const EXPIRE_STREAMS: Arg[][][] = [
  s('expire k 100', 'set k v', 'expire k 100', 'ttl k', 'pttl k', 'expire k 100 nx', 'expire k 200 xx', 'ttl k',
    'expire k 50 gt', 'ttl k', 'expire k 300 gt', 'ttl k', 'expire k 500 lt', 'expire k 150 lt', 'ttl k',
    'persist k', 'ttl k', 'persist k', 'expire k 100 xx', 'expire k 100 gt', 'expire k 100 lt', 'ttl k',
    'persist nokey', 'ttl nokey', 'pttl nokey', 'expiretime nokey', 'pexpiretime nokey', 'expiretime k',
    'pexpiretime k'),
  s('set k v', 'expire k 10 nx xx', 'expire k 10 nx gt', 'expire k 10 nx lt', 'expire k 10 gt lt', 'expire k 10 foo',
    'expire k 10 NX', 'expire k x', 'expire k x foo', 'expire k 1.5', 'expire k ""', 'expire k 20 xx gt',
    'ttl k', 'expire k 10 nx nx', 'expire k 9223372036854775', 'expire k 9223372036854776',
    'expire k -9223372036854775', 'exists k', 'set k v', 'expire k -9223372036854776', 'pexpire k 9223372036854775807',
    'pexpire k -9223372036854775808', 'exists k'),
  s('set k v', 'expire k 0', 'exists k', 'set k v', 'expire k -1', 'exists k', 'set k v', 'pexpire k -100', 'get k',
    'set k v', 'expireat k 1', 'get k', 'set k v', 'pexpireat k 100', 'exists k', 'set k v',
    'expireat k 4102444800', 'expiretime k', 'pexpiretime k', 'pexpireat k 4102444800500', 'pexpiretime k',
    'expiretime k', 'pexpireat k 4102444800499', 'expiretime k', 'set k v', 'pexpireat k 9223372036854775807',
    'pexpiretime k', 'expiretime k', 'ttl k', 'pttl k', 'expireat k 9223372036854775', 'pexpiretime k',
    'expireat k 9223372036854776', 'pexpireat k 9223372036854775807 gt', 'pexpireat k 9223372036854775806 lt',
    'pexpiretime k', 'expireat k 4102444800 gt', 'expireat k 4102444800 lt', 'expiretime k'),
  s('set k v', 'expire k 100 gt', 'ttl k', 'expire k 100 lt', 'ttl k', 'expire k -5 lt', 'exists k',
    'set k v ex 100', 'expire k -5 gt', 'expire k -5 nx', 'expire k -5 xx', 'exists k', 'rpush l a',
    'expire l 100', 'ttl l', 'persist l', 'ttl l', 'lpush l2 a', 'pexpire l2 -1', 'exists l2'),
  s('set a 1', 'pexpireat a 1 lt', 'exists a', 'set a 1 ex 100', 'pexpireat a 1 gt', 'pexpireat a 1 lt', 'exists a'),
];

describe('string commands: differential against redis-server 7.0', () => {
  let redis: ServerHandle;
  let client: RawClient;
  beforeAll(async () => {
    redis = await startRedis();
    client = await RawClient.connect(redis.port);
  });
  afterAll(async () => {
    client?.close();
    await redis?.stop();
  });

  it('string commands reply byte for byte as Redis', async () => {
    const diffs = await differential(client, new Inproc(), STRING_STREAMS);
    expect(diffs.join('\n')).toBe('');
  });

  it('string commands behave the same over two shards', async () => {
    const diffs = await differential(client, new Inproc(2), STRING_STREAMS);
    expect(diffs.join('\n')).toBe('');
  });

  it('expiry commands reply as Redis', async () => {
    const diffs = await differential(client, new Inproc(), EXPIRE_STREAMS);
    expect(diffs.join('\n')).toBe('');
  });

  it('RESP3 replies (nulls, LCS IDX map)', async () => {
    const streams: Arg[][][] = [s('hello 3', 'get nokey', 'mset a ohmytext b mynewtext', 'mget a nokey',
      'lcs a b idx withmatchlen', 'lcs a b idx minmatchlen 3', 'lcs a b len', 'getex nokey', 'getdel nokey',
      'set a x get', 'set q x xx', 'set a y nx get', 'getset nokey v', 'incrbyfloat f 1.25', 'object encoding nokey',
      'hello 2')];
    const sabre = new Inproc();
    const diffs = await differential(client, sabre, streams);
    sabre.w.resp = 2;
    expect(diffs.join('\n')).toBe('');
  });

  it('binary-safe keys and values (NUL, CR LF, high bytes)', async () => {
    const bin = Buffer.from([0, 13, 10, 255, 0x80, 0x20]);
    const streams: Arg[][][] = [[
      ['set', bin, bin], ['get', bin], ['strlen', bin], ['append', bin, bin], ['get', bin],
      ['getrange', bin, '2', '-3'], ['setrange', bin, '1', bin], ['get', bin], ['lcs', bin, bin],
      ['set', 'k', 'v', Buffer.from('ex\0'), '100'], ['ttl', 'k'], ['set', 'k', 'v', Buffer.from('nx\0zz')],
      ['expire', 'k', '50', Buffer.from('gt\0x')], ['expire', 'k', '100', Buffer.from('foo\0x')],
      ['getex', 'k', Buffer.from('persist\0')], ['ttl', 'k'], ['mset', bin, '1', 'x', bin], ['mget', bin, 'x'],
    ]];
    const diffs = await differential(client, new Inproc(), streams);
    expect(diffs.join('\n')).toBe('');
  });
});

describe('string commands: direct checks', () => {
  it('stores the encodings Redis reports', () => {
    const r = new Inproc();
    const enc = (v: string) => {
      r.run('set', 'k', v);
      return r.run('object', 'encoding', 'k');
    };
    expect(enc('123')).toBe('$3\r\nint\r\n');
    expect(enc('-9223372036854775808')).toBe('$3\r\nint\r\n');
    expect(enc('9223372036854775808')).toBe('$6\r\nembstr\r\n');
    expect(enc('0123')).toBe('$6\r\nembstr\r\n');
    expect(enc('x'.repeat(44))).toBe('$6\r\nembstr\r\n');
    expect(enc('x'.repeat(45))).toBe('$3\r\nraw\r\n');
    r.run('set', 'k', 'x'.repeat(45));
    r.run('incrbyfloat', 'f', '1.5');
    expect(r.run('object', 'encoding', 'f')).toBe('$6\r\nembstr\r\n');
    r.run('setrange', 'k', '0', 'y');
    expect(r.run('object', 'encoding', 'k')).toBe('$3\r\nraw\r\n');
  });

  it('keeps int64 exact beyond 2^53', () => {
    const r = new Inproc();
    r.run('set', 'k', '9007199254740992');
    expect(r.run('incr', 'k')).toBe(':9007199254740993\r\n');
    expect(r.run('incrby', 'k', '9214364837600034814')).toBe(':9223372036854775807\r\n');
    expect(r.run('incr', 'k')).toBe('-ERR increment or decrement would overflow\r\n');
    expect(r.run('get', 'k')).toBe('$19\r\n9223372036854775807\r\n');
    expect(r.run('decrby', 'k', '-9223372036854775808')).toBe('-ERR decrement would overflow\r\n');
  });

  it('lazily expires keys by the command clock', () => {
    const r = new Inproc();
    r.clock = 1_000_000;
    r.run('set', 'k', 'v', 'px', '100');
    expect(r.run('pttl', 'k')).toBe(':100\r\n');
    r.clock = 1_000_099;
    expect(r.run('get', 'k')).toBe('$1\r\nv\r\n');
    r.clock = 1_000_100;
    expect(r.run('get', 'k')).toBe('$-1\r\n');
    expect(r.run('dbsize')).toBe(':0\r\n');
  });

  it('counts dirty writes as Redis', () => {
    const r = new Inproc();
    const d0 = r.c.dirty;
    r.run('set', 'a', '1');
    r.run('mset', 'b', '1', 'c', '2');
    r.run('setnx', 'a', '2');
    r.run('incr', 'a');
    r.run('get', 'a');
    expect(r.c.dirty - d0).toBe(4);
  });

  it('GET, SET, INCR, MGET and MSET do not allocate per command', async () => {
    const r = new Inproc();
    const cmds = [cmd('set key:1 hello'), cmd('get key:1'), cmd('incr ctr'), cmd('mset a 1 b 2'), cmd('mget a b key:1')];
    // Pre-build the argument buffers; time only the handler calls.
    const prepared = cmds.map((a) => {
      const parts = a.map((x) => Buffer.from(String(x)));
      const buf = Buffer.concat(parts);
      const st = new Int32Array(parts.length), en = new Int32Array(parts.length);
      let p = 0;
      parts.forEach((x, i) => { st[i] = p; p += x.length; en[i] = p; });
      return { buf, st, en, n: parts.length, h: handlers.get(String(a[0]))! };
    });
    const c = r.c;
    const runAll = (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        for (const p of prepared) {
          c.buf = p.buf; c.argStart = p.st; c.argEnd = p.en; c.argc = p.n; c.now = 1;
          r.w.reset();
          p.h(c);
        }
      }
    };
    runAll(20000); // warm up (JIT, reply buffer growth, dict growth)
    // Sample allocations (one sample per 512 bytes) while 500k commands run, and keep
    // the samples allocated by the command handlers themselves (src/commands/). The
    // store's and writer's own allocations are theirs to test.
    const session = new inspector.Session();
    session.connect();
    const post = (method: string, params?: object) => new Promise<any>((resolve, reject) => {
      session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res)));
    });
    await post('HeapProfiler.startSampling', {
      samplingInterval: 512, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true,
    });
    runAll(100000);
    const { profile } = await post('HeapProfiler.stopSampling');
    session.disconnect();
    let ours = 0;
    const where: string[] = [];
    const walk = (n: any, stack: string[]) => {
      const url: string = n.callFrame.url;
      const here = [...stack, `${n.callFrame.functionName}@${url.split('/').pop()}:${n.callFrame.lineNumber}`];
      if (n.selfSize > 0 && url.includes('/src/commands/')) {
        ours += n.selfSize;
        where.push(`${n.selfSize} ${here.slice(-5).join(' < ')}`);
      }
      n.children.forEach((ch: any) => walk(ch, here));
    };
    walk(profile.head, []);
    // 16 bytes per command would be 8 MB here.
    expect(ours, where.join('\n')).toBeLessThan(64 * 1024);
  });
});

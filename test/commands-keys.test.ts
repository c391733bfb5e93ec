// Keyspace commands, in-process over one and two keyspaces (logical shards): replies
// compared byte for byte with the reference redis-server 7.0 on the same command
// streams (KEYS replies compared as sorted sets), plus direct checks of what a
// differential cannot compare: SCAN cursors and coverage across shards, RANDOMKEY,
// OBJECT IDLETIME, dirty counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/commands/strings';
import '../src/commands/keys';
import '../src/commands/expire';
import '../src/commands/list';
import '../src/commands/set';
import { RawClient, escapeBytes, replyElements } from './helpers/resp';
import { ServerHandle, startRedis } from './helpers/servers';
import { type Arg, InprocServer } from './helpers/inproc';

/** Sabre's command layer without the network: args in one buffer, reply bytes out. */
class Inproc extends InprocServer {
  constructor(shards = 1) {
    super({ keyspaces: shards, select: true });
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
  if (name === 'keys') {
    // Hash-table order differs: compare the key sets.
    const x = replyElements(a), y = replyElements(b);
    if (x === null || y === null) return false;
    const sort = (e: Buffer[]) => e.map((k) => k.toString('latin1')).sort().join('\n');
    return sort(x.elements) === sort(y.elements);
  }
  if (!TTL_COMMANDS.has(name) || a[0] !== 0x3a || b[0] !== 0x3a) return false;
  const x = Number(a.toString('latin1', 1, a.length - 2)), y = Number(b.toString('latin1', 1, b.length - 2));
  if (x < 0 || y < 0) return x === y;
  return Math.abs(x - y) <= (name === 'ttl' || name === 'expiretime' ? 1 : 1000);
}

/** Runs streams on both sides (after FLUSHALL) and lists every differing reply. */
async function differential(redis: RawClient, sabre: Inproc, streams: Arg[][][]): Promise<string[]> {
  const diffs: string[] = [];
  for (const stream of streams) {
    const all = [cmd('flushall'), cmd('select 0'), ...stream];
    const theirs = await redis.pipeline(all);
    for (let i = 0; i < all.length; i++) {
      const ours = sabre.runBytes(all[i]);
      if (!sameReply(all[i], ours, theirs[i])) {
        diffs.push(`${all[i].map((a) => escapeBytes(typeof a === 'string' ? a : a)).join(' ')}\n  sabre: ${escapeBytes(ours)}\n  redis: ${escapeBytes(theirs[i])}`);
      }
    }
  }
  return diffs;
}

const s = (...lines: string[]): Arg[][] => lines.map(cmd);

const KEY_STREAMS: Arg[][][] = [
  // DEL UNLINK EXISTS TOUCH TYPE DBSIZE
  s('mset a 1 b 2 c 3 {x}1 4 {x}2 5', 'dbsize', 'exists a b nokey a', 'del a nokey a', 'exists a', 'unlink b c d',
    'dbsize', 'touch a {x}1 {x}2 nokey', 'type {x}1', 'type nokey', 'rpush l a', 'type l', 'sadd st a', 'type st',
    'del l st', 'dbsize', 'set e v px 100000', 'del e', 'set f v ex 100', 'del f'),
  // KEYS
  s('mset foo 1 foobar 2 bar 3 "h*llo" 4 hallo 5 "a[b" 6 user:1 x user:2 y user:10 z', 'keys *', 'keys foo*',
    'keys *bar', 'keys h?llo', 'keys h[ae]llo', 'keys h[^e]llo', 'keys user:?', 'keys user:*', 'keys "h\\*llo"',
    'keys "a[b"', 'keys nomatch', 'keys ""', 'keys FOO*', 'keys [', 'keys "*[a-c]*"', 'set t v exat 1', 'keys t*'),
  // RENAME RENAMENX
  s('set a 1', 'rename a b', 'get a', 'get b', 'rename nokey x', 'rename b b', 'renamenx b b', 'renamenx nokey x',
    'set c 3', 'renamenx b c', 'get b', 'rename b c', 'get c', 'exists b', 'set t v ex 100', 'rename t t2', 'ttl t2',
    'exists t', 'set u v', 'rename t2 u', 'ttl u', 'set n 123', 'rename n m', 'object encoding m', 'append m 4',
    'rename m n', 'object encoding n', 'rpush l a', 'rename l l2', 'type l2', 'rename c l2', 'type l2',
    'set big x pxat 9223372036854775807', 'rename big big2', 'pexpiretime big2', 'rename {a}1 {a}2',
    'set {a}1 v', 'rename {a}1 {a}2', 'get {a}2'),
  // COPY
  s('set a 1', 'copy a b', 'get b', 'copy a b', 'copy a b replace', 'copy a a', 'copy a a db 0', 'copy a a db 1',
    'select 1', 'get a', 'select 0', 'copy a b db 16', 'copy a b db -1', 'copy a b db x', 'copy a b db 99999999999',
    'copy a b db', 'copy a b foo', 'copy a b replace replace', 'copy nokey b', 'set t v ex 100', 'copy t t2',
    'ttl t2', 'copy t t3 db 2', 'select 2', 'ttl t3', 'select 0', 'set s "hello world"', 'append s !', 'copy s s2',
    'object encoding s2', 'rpush l a', 'copy l l2', 'type l2', 'copy a l2', 'copy a l2 replace', 'type l2',
    'set big x pxat 9223372036854775807', 'copy big big2', 'pexpiretime big2'),
  // MOVE
  s('set a 1', 'move a 1', 'exists a', 'select 1', 'get a', 'move a 0', 'select 0', 'get a', 'move a 0', 'move a 16',
    'move a -1', 'move a x', 'move a 99999999999', 'move nokey 1', 'set b x', 'select 1', 'set b y', 'select 0',
    'move b 1', 'get b', 'set t v ex 100', 'move t 3', 'select 3', 'ttl t', 'get t', 'select 0', 'rpush l a',
    'move l 4', 'select 4', 'type l', 'select 0', 'type l'),
  // OBJECT
  s('set a 1', 'object encoding a', 'object refcount a', 'set b 10000', 'object refcount b', 'set c -1',
    'object refcount c', 'set d hello', 'object refcount d', 'object encoding d', 'object encoding nokey',
    'object refcount nokey', 'object freq a', 'object freq nokey', 'object help', 'object idletime nokey',
    'incr a', 'object refcount a', 'rpush l a', 'object encoding l', 'object refcount l', 'object foo a',
    'set f 9999', 'object refcount f', 'set g 09', 'object refcount g', 'object encoding g'),
  // FLUSHDB FLUSHALL SWAPDB
  s('set a 1', 'select 1', 'set b 2', 'select 0', 'swapdb 0 1', 'get a', 'get b', 'swapdb 0 0', 'swapdb 0 16',
    'swapdb -1 0', 'swapdb x 0', 'swapdb 0 x', 'swapdb 99999999999 0', 'swapdb 0 99999999999', 'dbsize',
    'flushdb x', 'flushdb sync x', 'flushdb sync', 'dbsize', 'select 1', 'dbsize', 'flushdb async', 'dbsize',
    'set z 1', 'select 2', 'set y 1', 'flushall foo', 'flushall async', 'dbsize', 'select 1', 'dbsize', 'select 0',
    'set q 1', 'flushall SYNC', 'dbsize'),
];

describe('key commands: differential against redis-server 7.0', () => {
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

  it('one keyspace', async () => {
    const diffs = await differential(client, new Inproc(1), KEY_STREAMS);
    expect(diffs.join('\n')).toBe('');
  });

  it('two keyspaces (keys spread over both shards)', async () => {
    const diffs = await differential(client, new Inproc(2), KEY_STREAMS);
    expect(diffs.join('\n')).toBe('');
  });

  it('three keyspaces', async () => {
    const diffs = await differential(client, new Inproc(3), KEY_STREAMS);
    expect(diffs.join('\n')).toBe('');
  });
});

/** Full SCAN iteration: every key returned, and the cursors seen. */
function scanAll(r: Inproc, extra: string[] = [], start = '0'): { keys: string[]; calls: number } {
  let cursor = start;
  const keys: string[] = [];
  let calls = 0;
  do {
    const reply = r.runBytes(['scan', cursor, ...extra]);
    const top = replyElements(reply);
    if (top === null) throw new Error('bad SCAN reply ' + escapeBytes(reply));
    const c = top.elements[0].toString('latin1');
    cursor = c.slice(c.indexOf('\r\n') + 2, c.length - 2);
    for (const k of replyElements(top.elements[1])!.elements) {
      const t = k.toString('latin1');
      keys.push(t.slice(t.indexOf('\r\n') + 2, t.length - 2));
    }
    if (++calls > 100000) throw new Error('SCAN does not terminate');
  } while (cursor !== '0');
  return { keys, calls };
}

describe('key commands: direct checks', () => {
  for (const shards of [1, 2, 3]) {
    it(`SCAN visits every key exactly once over ${shards} shard(s)`, () => {
      const r = new Inproc(shards);
      const N = 3000;
      for (let i = 0; i < N; i++) r.run('set', `key:${i}`, 'v');
      // Keys reach every shard.
      if (shards > 1) for (const ks of r.store.keyspaces) expect(ks.size(0)).toBeGreaterThan(0);
      const { keys, calls } = scanAll(r);
      expect(keys.length).toBe(N);
      expect(new Set(keys).size).toBe(N);
      expect(calls).toBeGreaterThan(N / 30);
      const big = scanAll(r, ['count', '1000']);
      expect(new Set(big.keys).size).toBe(N);
      expect(big.calls).toBeLessThan(calls);
      const matched = scanAll(r, ['match', 'key:1*']);
      expect(matched.keys.sort()).toEqual(keys.filter((k) => k.startsWith('key:1')).sort());
    });
  }

  it('SCAN filters TYPE and expired keys, and rejects bad cursors and options', () => {
    const r = new Inproc(2);
    r.clock = 1_000_000;
    for (let i = 0; i < 50; i++) r.run('set', `k${i}`, 'v');
    for (let i = 0; i < 10; i++) r.run('set', `e${i}`, 'v', 'px', '10');
    r.run('rpush', 'list', 'x');
    expect(scanAll(r, ['type', 'LIST']).keys).toEqual(['list']);
    expect(scanAll(r, ['type', 'string']).keys.length).toBe(60);
    expect(scanAll(r, ['type', 'zset']).keys).toEqual([]);
    r.clock = 1_000_010;
    expect(scanAll(r).keys.sort()).toEqual([...Array.from({ length: 50 }, (_, i) => `k${i}`), 'list'].sort());
    expect(r.run('dbsize')).toBe(':51\r\n');
    for (const bad of [' 1', '1 ', 'x', '-', '+', '18446744073709551616', '1.5']) {
      expect(r.run('scan', bad)).toBe('-ERR invalid cursor\r\n');
    }
    expect(r.run('scan', '0', 'count', '0')).toBe('-ERR syntax error\r\n');
    expect(r.run('scan', '0', 'count', 'x')).toBe('-ERR value is not an integer or out of range\r\n');
    expect(r.run('scan', '0', 'match')).toBe('-ERR syntax error\r\n');
    expect(r.run('scan', '0', 'foo', 'bar')).toBe('-ERR syntax error\r\n');
    // strtoul forms Redis accepts: empty, '+', '-' (wraps), trailing NUL.
    expect(r.run('scan', '18446744073709551615', 'count', '1').startsWith('*2\r\n')).toBe(true);
    expect(r.run('scan', '-1').startsWith('*2\r\n')).toBe(true);
    expect(r.run('scan', '').startsWith('*2\r\n')).toBe(true);
    expect(r.run('scan', '+0').startsWith('*2\r\n')).toBe(true);
    expect(r.runBytes(['scan', Buffer.from('0\0zz')]).toString().startsWith('*2\r\n')).toBe(true);
  });

  it('SCAN continues from a shard to the next through the cursor', () => {
    const r = new Inproc(2);
    r.run('set', 'a', '1'); // one key in each shard
    let other = '';
    const ksA = r.store.ks(Buffer.from('a'), 0, 1);
    for (let i = 0; !other; i++) {
      const k = `k${i}`;
      if (r.store.ks(Buffer.from(k), 0, k.length) !== ksA) other = k;
    }
    r.run('set', other, '2');
    const { keys, calls } = scanAll(r, ['count', '1']);
    expect(keys.sort()).toEqual(['a', other].sort());
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('KEYS skips expired keys without deleting them; RANDOMKEY returns live keys', () => {
    const r = new Inproc(2);
    r.clock = 5_000_000;
    expect(r.run('randomkey')).toBe('$-1\r\n');
    r.run('set', 'live', 'v');
    r.run('set', 'dead', 'v', 'px', '5');
    r.clock = 5_000_005;
    expect(r.run('keys', '*')).toBe('*1\r\n$4\r\nlive\r\n');
    expect(r.run('dbsize')).toBe(':2\r\n');
    for (let i = 0; i < 20; i++) expect(r.run('randomkey')).toBe('$4\r\nlive\r\n');
    r.run('del', 'live');
    r.run('set', 'dead2', 'v', 'px', '1');
    r.clock = 5_000_010;
    expect(r.run('randomkey')).toBe('$-1\r\n');
    expect(r.run('dbsize')).toBe(':0\r\n');
    for (let i = 0; i < 100; i++) r.run('set', `r${i}`, 'v');
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) seen.add(r.run('randomkey'));
    expect(seen.size).toBeGreaterThan(50);
  });

  it('OBJECT IDLETIME follows the LRU clock; TOUCH and GET reset it, TYPE does not', () => {
    const r = new Inproc();
    r.clock = 1_000_000_000;
    r.run('set', 'k', 'v');
    r.clock += 42_000;
    expect(r.run('object', 'idletime', 'k')).toBe(':42\r\n');
    r.run('type', 'k');
    r.run('exists', 'k');
    r.run('ttl', 'k');
    expect(r.run('object', 'idletime', 'k')).toBe(':42\r\n');
    r.run('get', 'k');
    expect(r.run('object', 'idletime', 'k')).toBe(':0\r\n');
    r.clock += 7_000;
    r.run('rename', 'k', 'k2');
    expect(r.run('object', 'idletime', 'k2')).toBe(':0\r\n'); // RENAME's lookupKeyWrite touches it
    r.run('copy', 'k2', 'k3');
    expect(r.run('object', 'idletime', 'k3')).toBe(':0\r\n');
    r.clock += 3_000;
    r.run('touch', 'k2');
    expect(r.run('object', 'idletime', 'k2')).toBe(':0\r\n');
  });

  it('counts dirty writes as Redis', () => {
    const r = new Inproc(2);
    const d = () => r.c.dirty;
    r.run('mset', 'a', '1', 'b', '2', 'c', '3');
    let before = d();
    r.run('del', 'a', 'b', 'nokey');
    expect(d() - before).toBe(2);
    before = d();
    r.run('rename', 'c', 'z');
    r.run('copy', 'z', 'y');
    r.run('move', 'y', '1');
    r.run('expire', 'z', '100');
    r.run('persist', 'z');
    r.run('persist', 'z');
    r.run('swapdb', '0', '1');
    expect(d() - before).toBe(6);
    before = d();
    r.run('flushall');
    expect(d() - before).toBe(3);
  });

  it('RENAME and COPY across shards keep value, encoding and TTL', () => {
    const r = new Inproc(2);
    r.clock = 10_000_000;
    const kb = (k: string) => r.store.ks(Buffer.from(k), 0, k.length);
    let far = '';
    for (let i = 0; !far; i++) if (kb(`t${i}`) !== kb('src')) far = `t${i}`;
    r.run('set', 'src', 'x'.repeat(100), 'px', '5000');
    expect(r.run('rename', 'src', far)).toBe('+OK\r\n');
    expect(r.run('exists', 'src')).toBe(':0\r\n');
    expect(r.run('strlen', far)).toBe(':100\r\n');
    expect(r.run('pttl', far)).toBe(':5000\r\n');
    expect(r.run('object', 'encoding', far)).toBe('$3\r\nraw\r\n');
    expect(r.run('copy', far, 'src')).toBe(':1\r\n');
    expect(r.run('pttl', 'src')).toBe(':5000\r\n');
    expect(r.run('get', 'src')).toBe(r.run('get', far));
    expect(kb('src').size(0) + kb(far).size(0)).toBe(2);
  });
});

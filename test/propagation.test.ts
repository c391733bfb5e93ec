// What write commands propagate to the AOF (and replicas), compared with the reference
// redis-server 7.0: the same command stream runs in-process through Sabre's handlers (over 1
// and 2 keyspaces, with `propagating` on) and against a redis-server with appendonly on; the
// commands Sabre would propagate are compared with the incr AOF file Redis wrote. Absolute
// times (PXAT / PEXPIREAT) must agree within a few seconds; the members SPOP picks are random
// on both sides, so SREM members are compared with what SPOP replied instead.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/commands/strings';
import '../src/commands/keys';
import '../src/commands/expire';
import '../src/commands/list';
import '../src/commands/set';
import '../src/commands/zset';
import '../src/commands/hash';
import '../src/commands/sort';
import '../src/commands/blocking';
import { PropagatedArgv } from '../src/commands/context';
import { RawClient, encodeCommand } from './helpers/resp';
import { ServerHandle, startRedis } from './helpers/servers';
import { InprocServer } from './helpers/inproc';

/** A step: a command; `BLOCK cmd` sends it from a fresh client that blocks on it. */
type Step = string;

function tokens(step: string): string[] {
  return step.split(/\s+/).filter((t) => t !== '').map((t) => (t === '""' ? '' : t));
}

/** Sabre's command layer without the network, recording what each command propagates. */
class Inproc extends InprocServer {
  /** Everything propagated so far, as Redis's AOF would hold it (MULTI/EXEC around several). */
  readonly out: string[][] = [];
  /** Blocked commands waiting, in blocking order. */
  private readonly waiting: string[][] = [];
  /** True when some command left a replacement while propagation was off. */
  allocatedWhileOff = false;

  constructor(shards: number, propagating = true) {
    // The executor clears blocked and replacement before every command.
    super({ keyspaces: shards, propagating, resetBlocked: true, resetReplacement: true });
  }

  /** Runs argv; returns its reply text (or null when it blocked). */
  exec(argv: string[], retry: boolean): string | null {
    const c = this.c;
    const dirty = c.dirty;
    c.retry = retry;
    const reply = this.runBytes(argv);
    c.retry = false;
    if (!c.propagating && c.replacement !== null) this.allocatedWhileOff = true;
    if (c.blocked) {
      expect(c.replacement).toBeNull();
      expect(c.dirty).toBe(dirty);
      return null;
    }
    const cmds: string[][] = c.replacement !== null
      ? c.replacement.map(argvText)
      : c.dirty !== dirty ? [argv] : [];
    // propagatePendingCommands(): several commands from one call go in a transaction.
    if (cmds.length > 1) this.out.push(['MULTI'], ...cmds, ['EXEC']);
    else this.out.push(...cmds);
    return reply.toString('latin1');
  }

  step(step: Step): void {
    if (step.startsWith('BLOCK ')) {
      const argv = tokens(step.slice(6));
      if (this.exec(argv, false) === null) this.waiting.push(argv);
      return;
    }
    this.exec(tokens(step), false);
    // A write may serve blocked clients: retry them in blocking order, as the server does.
    for (let i = 0; i < this.waiting.length;) {
      if (this.exec(this.waiting[i], true) === null) i++;
      else this.waiting.splice(i, 1);
    }
  }
}

function argvText(argv: PropagatedArgv): string[] {
  return argv.map((a) => (typeof a === 'string' ? a : typeof a === 'number' ? String(a) : Buffer.from(a).toString('latin1')));
}

/** The commands of an AOF file (RESP arrays of bulk strings), SELECTs left out. */
function parseAof(text: string): string[][] {
  const out: string[][] = [];
  let p = 0;
  const line = (): string => {
    const e = text.indexOf('\r\n', p);
    const s = text.slice(p, e);
    p = e + 2;
    return s;
  };
  while (p < text.length) {
    const h = line();
    if (h[0] !== '*') throw new Error(`bad AOF at ${p}: ${h}`);
    const n = Number(h.slice(1));
    const argv: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = Number(line().slice(1));
      argv.push(text.slice(p, p + len));
      p += len + 2;
    }
    if (argv[0].toUpperCase() !== 'SELECT') out.push(argv);
  }
  return out;
}

const TIME_SLACK_MS = 5000n;

function isAbsTime(s: string): boolean {
  return /^\d{13,19}$/.test(s);
}

/** Differences between Redis's propagated commands (want) and Sabre's (got); '' when equal. */
function compare(want: string[][], got: string[][]): string {
  const show = (x: string[][] | undefined) => (x === undefined ? '(none)' : x.map((a) => a.join(' ')).join(' | '));
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    const w = want[i], g = got[i];
    const ctx = `at #${i}: redis ${show(want.slice(Math.max(0, i - 2), i + 2))}\n        sabre ${show(got.slice(Math.max(0, i - 2), i + 2))}`;
    if (w === undefined || g === undefined || w.length !== g.length) return ctx;
    for (let j = 0; j < w.length; j++) {
      if (w[j] === g[j]) continue;
      // Random SPOP members: checked against the SPOP reply separately.
      if (j === 2 && w[0] === 'SREM' && g[0] === 'SREM') continue;
      const timed = (j === 2 && w[0] === 'PEXPIREAT') || (j > 0 && w[j - 1] === 'PXAT');
      if (timed && isAbsTime(w[j]) && isAbsTime(g[j])) {
        const d = BigInt(w[j]) - BigInt(g[j]);
        if (d <= TIME_SLACK_MS && d >= -TIME_SLACK_MS) continue;
      }
      return ctx;
    }
  }
  return '';
}

// ---- the command streams ---------------------------------------------------------------------

const STRINGS: Step[] = [
  'SET k1 v NX EX 100', 'SET k1 v2 XX PX 100000 GET', 'SET k2 v EXAT 9999999999', 'SET k3 v PXAT 9999999999999',
  'SET k4 v KEEPTTL', 'SET k1 v3 KEEPTTL GET', 'SET k1 v4 GET get', 'SET k1 v5 NX', 'SET k9 v5 XX', 'SET k1 v5 XX GET',
  'SET k1 v6 xx get keepttl', 'set k1 v7 px 5000 nx', 'SET k1 v8 get ex 100', 'SET e2 v nx get ex 100',
  'SET e2 v nx get ex 100', 'SET k1 v9', 'set K1 v9', 'SET k1 12345', 'SET k1 v EX 0',
  'SETEX k5 100 v', 'psetex k6 100000 v', 'SETEX k5 0 v', 'SETNX k7 v', 'SETNX k7 v', 'GETSET k7 w', 'getset k7 x',
  'GETSET nokey x', 'GETEX k7 EX 100', 'GETEX k7 PX 100000', 'GETEX k7 EXAT 9999999999', 'getex k7 pxat 9999999999999',
  'GETEX k7 PERSIST', 'GETEX k7 PERSIST', 'GETEX k7', 'GETEX nokey EX 100', 'GETEX k7 PXAT 1', 'SET k7 v',
  'GETEX k7 EXAT 1', 'GETDEL k6', 'GETDEL k6', 'getdel k5',
  'INCRBYFLOAT f 1.5', 'INCRBYFLOAT f 1e3', 'incrbyfloat f -0.25', 'SET f 10 EX 100', 'INCRBYFLOAT f 0.1',
  'INCRBYFLOAT f abc', 'INCR i', 'INCRBY i 0', 'DECRBY i 5', 'DECR i', 'INCR k1',
  'MSET a 1 b 2', 'MSETNX a 1 c 3', 'MSETNX c 3 d 4', 'APPEND s x', 'APPEND s ""', 'SETRANGE s 0 ""',
  'SETRANGE s 3 yy', 'SETRANGE ns 0 ""', 'GET s', 'STRLEN s',
  // Absolute times beyond 2^53 are propagated exactly.
  'SET big v EXAT 9223372036854775', 'GETEX big PXAT 9223372036854775807', 'SET big v PX 9007199254740993',
  'GETEX big EXAT 9223372036854775', 'SET big v KEEPTTL GET',
];

const EXPIRES: Step[] = [
  'SET k8 v', 'EXPIRE k8 100', 'PEXPIRE k8 100000', 'EXPIREAT k8 9999999999', 'PEXPIREAT k8 9999999999999',
  'pexpireat k8 9999999999998 xx', 'EXPIRE k8 100 NX', 'EXPIRE k8 200 XX', 'expire k8 10 gt', 'EXPIRE k8 10 LT',
  'PEXPIRE k8 20000 gt', 'EXPIRE k8 -1', 'EXPIRE nokey 100', 'SET k8 v', 'PEXPIREAT k8 1', 'SET k8 v',
  'EXPIREAT k8 1 GT', 'EXPIRE k8 100 XX', 'PERSIST k8', 'EXPIRE k8 100', 'PERSIST k8', 'PEXPIRE k8 0',
  'SET k8 v', 'EXPIREAT k8 0', 'SET k8 v', 'PEXPIREAT k8 9223372036854775807', 'EXPIRE k8 9223372036854775',
  'EXPIRE k8 100 LT', 'DEL k8', 'DEL nokey', 'UNLINK nokey', 'SET k8 v', 'UNLINK k8',
];

const KEYS: Step[] = [
  'SET m 1', 'MOVE m 1', 'MOVE m 1', 'COPY nokey k8', 'SET k7 v', 'COPY k7 k8', 'COPY k7 k8', 'COPY k7 k8 REPLACE',
  'COPY k7 k8 DB 2', 'RENAME k8 k9', 'RENAME k9 k9', 'RENAMENX k9 k7', 'RENAMENX k9 k10', 'EXISTS k9',
  'TOUCH k9', 'SWAPDB 0 1', 'SWAPDB 0 1', 'FLUSHDB', 'FLUSHDB', 'FLUSHALL',
];

const HASHES: Step[] = [
  'HSET h a 1', 'HSET h a 1', 'HMSET h a 1 b 2', 'HINCRBYFLOAT h a 1.5', 'HINCRBYFLOAT h b 2', 'hincrbyfloat h c 1e2',
  'HINCRBYFLOAT h b x', 'HINCRBY h a 3', 'HINCRBY h b 3', 'HINCRBY h b 0', 'HSETNX h a 1', 'HSETNX h z 1',
  'HDEL h zz', 'HDEL h z zz', 'HDEL nokey a', 'HDEL h a b c',
];

const SETS: Step[] = [
  'SADD s a b c d e f g h', 'SADD s a', 'SPOP s', 'SPOP s 2', 'SPOP s 0', 'SPOP s 100', 'SPOP s', 'SPOP s 3',
  'SADD s2 a b c d e f g h i j', 'SPOP s2 9', 'SADD s3 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20',
  'SPOP s3 3', 'spop s3', 'SRANDMEMBER s3 2', 'SADD one a', 'SPOP one 1', 'SADD one a b', 'SPOP one 1', 'SPOP one 5',
  'SADD one x', 'SPOP one',
  'SMOVE s3 s4 nope', 'SADD s5 a', 'SMOVE s5 s4 a', 'SREM s3 zz', 'SADD t a b', 'SADD u b c',
  'SINTERSTORE dd t nokey', 'SET dd x', 'SINTERSTORE dd t nokey', 'SINTERSTORE dd t u', 'SUNIONSTORE dd t u',
  'SDIFFSTORE dd t t', 'SDIFFSTORE dd t t',
];

const LISTS: Step[] = [
  'RPUSH l a b c d e f', 'LPOP l', 'LPOP l 2', 'RPOP l 1', 'LPOP l 0', 'LPOP nokey', 'LPOP nokey 2',
  'LMPOP 1 l LEFT COUNT 1', 'LMPOP 2 nol l RIGHT', 'LMPOP 1 nol LEFT', 'RPUSH l a b c', 'lmpop 1 l left count 10',
  'RPUSH l a b c', 'BLPOP l 0', 'BRPOP nol l 0', 'BLMOVE l l2 LEFT RIGHT 0', 'BRPOPLPUSH l2 l3 0',
  'blmove l3 l3 right left 0', 'RPUSH l x y z', 'BLMPOP 0 1 l LEFT COUNT 2', 'BLMPOP 0 1 l RIGHT',
  'RPUSH l x y z', 'BLMPOP 0 2 nol l RIGHT COUNT 9',
  'LPUSHX nokey a', 'RPUSHX l3 b', 'LINSERT l3 BEFORE nope x', 'LINSERT l3 BEFORE b x', 'LREM l3 0 zz',
  'LREM l3 0 x', 'LTRIM l3 0 -1', 'LTRIM l3 1 -1', 'LSET l3 0 q', 'RPOPLPUSH nokey l3', 'LMOVE l3 l4 LEFT LEFT',
  'RPUSH sl 3 1 2', 'SORT sl STORE sd', 'SORT sl STORE sd2 LIMIT 5 5', 'SORT sl STORE sd LIMIT 5 5', 'SORT sl',
];

const ZSETS: Step[] = [
  'ZADD z 1 a 2 b 3 c 4 d 5 e', 'ZADD z 1 a', 'ZADD z XX 1 nope', 'ZADD z NX 9 a', 'ZADD z CH 7 a',
  'ZPOPMIN z', 'ZPOPMAX z 1', 'zpopmin z 10', 'ZPOPMIN z', 'ZPOPMIN nokey 2',
  'ZADD z 1 a 2 b 3 c 4 d 5 e', 'BZPOPMIN z 0', 'bzpopmax z 0', 'ZMPOP 1 z MIN COUNT 2', 'ZMPOP 2 noz z MAX',
  'ZMPOP 1 noz MAX', 'ZADD z 1 a 2 b 3 c', 'zmpop 1 z max count 10', 'ZADD z 1 a 2 b 3 c', 'BZMPOP 0 1 z MAX',
  'BZMPOP 0 1 z MIN COUNT 5', 'ZADD z 1 a', 'ZINCRBY z 1.5 a', 'ZADD z INCR 1 a', 'ZADD z GT INCR 0 a',
  'ZREM z nope', 'ZREMRANGEBYSCORE z 100 200', 'ZREMRANGEBYRANK z 0 0', 'ZADD y 1 a',
  'ZUNIONSTORE zd 2 y nokey', 'ZINTERSTORE zd 2 y nokey', 'ZINTERSTORE zd 2 y nokey', 'ZRANGESTORE zd y 0 -1',
  'ZRANGESTORE zd y 5 6', 'ZRANGESTORE zd y 5 6', 'ZDIFFSTORE zd 1 y',
];

/** Clients blocked first, then served by a later write (Redis's serveClientBlockedOn*). */
const BLOCKED: Step[] = [
  'BLOCK BLMOVE bl1 bl2 RIGHT LEFT 0', 'RPUSH bl1 x y',
  'BLOCK BZPOPMAX bz1 0', 'ZADD bz1 1 a 2 b',
  'BLOCK BLMPOP 0 2 n1 bl3 RIGHT COUNT 5', 'RPUSH bl3 x y z',
  'BLOCK BZMPOP 0 2 n1 bz2 MIN COUNT 5', 'ZADD bz2 1 x 2 y 3 z',
  'BLOCK BZMPOP 0 1 bz3 MAX', 'ZADD bz3 1 x 2 y',
  'BLOCK BRPOPLPUSH bl4 bl4 0', 'LPUSH bl4 a b',
  'BLOCK blmove bl5 bl6 left right 0', 'RPUSH bl5 a',
  'BLOCK BLPOP bl7 0', 'BLOCK BRPOP bl7 0', 'RPUSH bl7 a b c',
  'BLOCK BLMPOP 0 1 bl8 LEFT', 'LPUSH bl8 a',
  'BLOCK BZPOPMIN bz4 0', 'ZADD bz4 1 a',
];

/** Writes that change nothing: Redis propagates them only where dirty grows (or forced). */
const NOOPS: Step[] = [
  'SADD t a b', 'SMOVE t t a', 'SMOVE t t zz', 'SADD u a', 'SMOVE t u a', 'SMOVE nokey u a', 'SPOP nokey 3',
  'SPOP nokey', 'SREM nokey a', 'SADD t b', 'SINTERSTORE nd nokey t', 'SUNIONSTORE nd nokey', 'SDIFFSTORE nd nokey t',
  'HSET h f v', 'HSET h f v', 'HSET h f v g w', 'SET h v GET', 'GETEX h EX 10', 'GETDEL h', 'INCRBYFLOAT h 1',
  'HINCRBYFLOAT h f 1', 'HINCRBY h f 1', 'HINCRBYFLOAT nh f 1', 'HDEL h f g',
  'RPUSH l a', 'RPOPLPUSH l l', 'LMOVE l l LEFT RIGHT', 'LSET l 5 x', 'LINSERT nol BEFORE a b', 'LINSERT l AFTER a a',
  'LREM l 1 zz', 'LREM l -1 a', 'LREM nol 0 a', 'LTRIM nol 0 1', 'RPUSHX nol a', 'RPUSH l a b c', 'LTRIM l 5 10',
  'LPUSH l2 x', 'LPOP l2 0', 'LPOP l2 5', 'RPOP l2 1',
  'ZADD z 1 a', 'ZADD z GT 0 a', 'ZADD z LT 2 a', 'ZADD z NX INCR 1 a', 'ZADD z XX INCR 1 b', 'ZADD z INCR 0 a',
  'ZINCRBY z 0 a', 'ZREMRANGEBYRANK z 5 10', 'ZREMRANGEBYLEX z [x [y', 'ZPOPMIN z 0', 'ZPOPMAX nokey',
  'ZUNIONSTORE nz 1 nokey', 'ZRANGESTORE nz nokey 0 -1', 'ZMPOP 1 nokey MIN',
  'SORT nokey STORE sd', 'SET sd x', 'SORT nokey STORE sd', 'RPUSH sl 2 1', 'SORT sl STORE sd', 'SORT sl STORE sd DESC',
  'SET s v', 'SETRANGE s 1 ""', 'APPEND s ""', 'SET s v NX', 'SETNX s v', 'MSETNX s v', 'GETEX s', 'GETEX s PERSIST',
  'PERSIST s', 'EXPIRE s 10 XX', 'EXPIRE s 10 GT', 'EXPIRE nokey 10', 'GETEX nokey PERSIST', 'GETDEL nokey',
  'DEL nokey s nokey2', 'RENAME s s', 'RENAMENX s s', 'COPY s s2', 'COPY s s2', 'COPY s s2 REPLACE',
];

const STREAMS: Record<string, Step[]> = {
  noops: NOOPS,
  strings: STRINGS, expires: EXPIRES, keys: KEYS, hashes: HASHES, sets: SETS, lists: LISTS, zsets: ZSETS,
  blocked: BLOCKED,
};

// ---- the reference ---------------------------------------------------------------------------

let redis: ServerHandle;
let dir: string;
/** Redis's propagated commands for each stream. */
const reference: Record<string, string[][]> = {};

function incrAof(): string {
  const aofDir = path.join(dir, 'aof');
  const files = fs.readdirSync(aofDir).filter((f) => f.endsWith('.incr.aof'));
  expect(files.length).toBe(1);
  return fs.readFileSync(path.join(aofDir, files[0]), 'latin1');
}

async function blockedClients(cl: RawClient): Promise<number> {
  const info = (await cl.command('INFO', 'clients')).toString('latin1');
  return Number(/blocked_clients:(\d+)/.exec(info)![1]);
}

async function runOnRedis(steps: Step[]): Promise<string[][]> {
  const cl = await RawClient.connect(redis.port);
  await cl.command('FLUSHALL');
  await cl.command('SET', '__stream__', 'start');
  const start = parseAof(incrAof()).length - 1;
  const side: RawClient[] = [];
  for (const step of steps) {
    if (step.startsWith('BLOCK ')) {
      const b = await RawClient.connect(redis.port);
      side.push(b);
      const before = await blockedClients(cl);
      b.send(encodeCommand(tokens(step.slice(6))));
      for (let i = 0; i < 200 && (await blockedClients(cl)) === before; i++) await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    await cl.command(...tokens(step));
  }
  for (const b of side) b.close();
  const all = parseAof(incrAof());
  cl.close();
  // The marker starts this stream's part.
  expect(all[start]).toEqual(['SET', '__stream__', 'start']);
  return all.slice(start + 1);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sabre-prop-'));
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--appenddirname', 'aof']);
  for (const [name, steps] of Object.entries(STREAMS)) reference[name] = await runOnRedis(steps);
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---- the tests -------------------------------------------------------------------------------

describe.each([1, 2])('propagation over %i keyspace(s) matches redis-server 7.0', (shards) => {
  for (const name of Object.keys(STREAMS)) {
    it(name, () => {
      const sabre = new Inproc(shards);
      sabre.step('SET __stream__ start');
      sabre.out.length = 0;
      for (const step of STREAMS[name]) sabre.step(step);
      expect(compare(reference[name], sabre.out)).toBe('');
    });
  }
});

describe('propagation', () => {
  it('builds nothing when nobody listens', () => {
    for (const steps of Object.values(STREAMS)) {
      const sabre = new Inproc(1, false);
      for (const step of steps) sabre.step(step);
      expect(sabre.allocatedWhileOff).toBe(false);
    }
  });

  it('SPOP propagates SREM of exactly the members it replied', () => {
    const sabre = new Inproc(1);
    sabre.exec(tokens('SADD s 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 a b c'), false);
    for (const [cmd, n] of [['SPOP s', 1], ['SPOP s 3', 3], ['SPOP s 15', 15]] as const) {
      sabre.out.length = 0;
      const reply = sabre.exec(tokens(cmd), false)!;
      const members = reply.split('\r\n').filter((l, i, a) => i > 0 && a[i - 1].startsWith('$'));
      expect(members.length).toBe(n);
      const srem = sabre.out.filter((a) => a[0] === 'SREM');
      expect(srem.map((a) => a.slice(0, 2))).toEqual(members.map(() => ['SREM', 's']));
      expect(srem.map((a) => a[2]).sort()).toEqual([...members].sort());
      if (n > 1) expect([sabre.out[0], sabre.out[sabre.out.length - 1]]).toEqual([['MULTI'], ['EXEC']]);
    }
  });

  it('relative expiries become absolute from the command time', () => {
    const sabre = new Inproc(1);
    const t = Date.now();
    const run = (cmd: string) => {
      sabre.out.length = 0;
      sabre.exec(tokens(cmd), false);
      return sabre.out.map((a) => a.join(' '));
    };
    // exec() sets c.now = Date.now(): the time must fall in the window the command ran in.
    const check = (out: string[], prefix: string, rel: number) => {
      expect(out.length).toBe(1);
      expect(out[0].startsWith(prefix)).toBe(true);
      const v = Number(out[0].slice(prefix.length).split(' ')[0]);
      expect(v).toBeGreaterThanOrEqual(t + rel);
      expect(v).toBeLessThanOrEqual(Date.now() + rel);
    };
    check(run('SET k v EX 7'), 'SET k v PXAT ', 7000);
    check(run('SETEX k 9 v'), 'SET k v PXAT ', 9000);
    check(run('GETEX k PX 1234'), 'PEXPIREAT k ', 1234);
    check(run('EXPIRE k 5 GT'), 'PEXPIREAT k ', 5000);
    expect(run('EXPIRE k 4 GT')).toEqual([]);
    expect(run('PEXPIREAT k 9223372036854775807')).toEqual(['PEXPIREAT k 9223372036854775807']);
    expect(run('EXPIREAT k 9223372036854775')).toEqual(['PEXPIREAT k 9223372036854775000']);
  });
});

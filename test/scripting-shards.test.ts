/**
 * Scripts in a shard's own Lua VM (src/server/script-routing.ts, src/shard/scripting.ts), with
 * two shard workers: a script whose declared keys are on one shard runs there while the other
 * shard keeps serving; scripts that name undeclared keys keep the park-everything path; the
 * script cache, WATCH, blocked clients, -BUSY / SCRIPT KILL and the AOF see shard scripts as
 * Redis sees any script. WATCH and blocking cases are checked against the reference Redis too.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { keyHashSlot } from '../src/util/crc16';
import { ShardScripting } from '../src/shard/scripting';
import { makeSlotTable } from '../src/store/store';
import { lookupCommand, lookupSubcommand } from '../src/commands/table';
import { SCRIPT_STATE_BYTES, SHARD_RUNNING_CMD_BYTES } from '../src/scripting/lua-engine';

const sha1 = (body: string) => createHash('sha1').update(body).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The shard of a key with 2 shards (slots in two contiguous halves). */
const shardOf = (key: string) => (keyHashSlot(Buffer.from(key), 0, key.length) < 8192 ? 0 : 1);
/** A key named prefix + n on the given shard. */
function keyOn(shard: number, prefix: string): string {
  for (let n = 0; ; n++) if (shardOf(prefix + n) === shard) return prefix + n;
}

const SPIN = "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] " +
  "while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - s > tonumber(ARGV[1]) * 1000 then break end end " +
  "return redis.call('INCR', KEYS[1])";

describe('scripts on a shard\'s own Lua VM (--shards 2)', () => {
  let sabre: ServerHandle;
  let redis: ServerHandle;
  const conns: Redis[] = [];
  const conn = (port = sabre.port): Redis => {
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    conns.push(c);
    return c;
  };

  beforeAll(async () => {
    [sabre, redis] = await Promise.all([startSabre(['--shards', '2']), startRedis()]);
  });
  afterAll(async () => {
    for (const c of conns) c.disconnect();
    await Promise.all([sabre?.stop(), redis?.stop()]);
  });

  it('a shard-local script leaves the other shard serving while it runs', async () => {
    const a = conn(), b = conn();
    const k0 = keyOn(0, 'par:'), k1 = keyOn(1, 'par:');
    await b.set(k1, 'other');
    await b.del(k0);
    let evalDone = false;
    const ev = a.eval(SPIN, 1, k0, '1000').then((v) => { evalDone = true; return v; });
    await sleep(150);
    // The other shard answers while the script still runs.
    expect(await b.get(k1)).toBe('other');
    expect(evalDone).toBe(false);
    // A command for the script's own shard waits for it (the script is atomic).
    const same = await b.incr(k0);
    expect(await ev).toBe(1);
    expect(same).toBe(2);
  });

  it('a script naming an undeclared key still runs, with every shard held', async () => {
    const a = conn(), b = conn();
    const k0 = keyOn(0, 'und:'), k1 = keyOn(1, 'und:');
    await b.set(k1, 'v');
    const body = SPIN.replace("return redis.call('INCR', KEYS[1])", `return redis.call('GET', '${k1}')`);
    const ev = a.eval(body, 1, k0, '400');
    await sleep(100);
    // Everything waits for it, the other shard's keys too.
    const t0 = Date.now();
    expect(await b.get(k1)).toBe('v');
    expect(Date.now() - t0).toBeGreaterThan(150);
    expect(await ev).toBe('v');
  });

  it('EVAL on one shard caches the script for EVALSHA on either shard and for SCRIPT EXISTS; SCRIPT FLUSH forgets it', async () => {
    const c = conn();
    await c.script('FLUSH');
    const body = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
    const k0 = keyOn(0, 'cache:'), k1 = keyOn(1, 'cache:');
    expect(await c.eval(body, 1, k0, '5')).toBe(5);
    expect(await c.script('EXISTS', sha1(body), sha1('nope'))).toEqual([1, 0]);
    expect(await c.evalsha(sha1(body), 1, k1, '7')).toBe(7);
    expect(await c.evalsha(sha1(body), 1, k0, '1')).toBe(6);
    // Declared keys on both shards: the park-everything path has it too.
    const both = "return {redis.call('INCR', KEYS[1]), redis.call('INCR', KEYS[2])}";
    expect(await c.eval(both, 2, k0, k1)).toEqual([7, 8]);
    expect(await c.evalsha(sha1(body), 2, k0, k1, '1')).toBe(8);
    expect(await c.script('FLUSH')).toBe('OK');
    await expect(c.evalsha(sha1(body), 1, k0, '1')).rejects.toThrow('NOSCRIPT No matching script. Please use EVAL.');
    await expect(c.evalsha(sha1(body), 1, k1, '1')).rejects.toThrow('NOSCRIPT No matching script. Please use EVAL.');
    expect(await c.script('EXISTS', sha1(body))).toEqual([0]);
    // SCRIPT LOAD, then EVALSHA on a shard that never saw the body.
    expect(await c.script('LOAD', body)).toBe(sha1(body));
    expect(await c.evalsha(sha1(body), 1, k1, '2')).toBe(10);
    // SCRIPT FLUSH inside MULTI forgets them too.
    expect(await c.multi().script('FLUSH').exec()).toEqual([[null, 'OK']]);
    await expect(c.evalsha(sha1(body), 1, k1, '1')).rejects.toThrow('NOSCRIPT No matching script. Please use EVAL.');
    // A body that does not compile is not cached anywhere.
    await expect(c.eval('return (', 1, k0)).rejects.toThrow(/Error compiling script/);
    await expect(c.evalsha(sha1('return ('), 1, k0)).rejects.toThrow('NOSCRIPT');
  });

  it('WATCH is touched by the keys a shard script wrote, not by the ones it only read (as Redis)', async () => {
    const run = async (port: number) => {
      const w = conn(port), other = conn(port);
      await w.del('{t}read', '{t}written');
      await w.set('{t}read', '1');
      const out: unknown[] = [];
      const copy = "local v = redis.call('GET', KEYS[1]) return redis.call('SET', KEYS[2], v)";
      await w.watch('{t}read');
      await other.eval(copy, 2, '{t}read', '{t}written');
      out.push(await w.multi().get('{t}written').exec());
      await w.watch('{t}written');
      await other.eval(copy, 2, '{t}read', '{t}written');
      out.push(await w.multi().get('{t}written').exec());
      // A script that wrote nothing touches nothing.
      await w.watch('{t}read');
      await other.eval("return redis.call('GET', KEYS[1])", 1, '{t}read');
      out.push(await w.multi().get('{t}read').exec());
      return out;
    };
    const [got, want] = [await run(sabre.port), await run(redis.port)];
    expect(want).toEqual([[[null, '1']], null, [[null, '1']]]);
    expect(got).toEqual(want);
  });

  it('a shard script\'s push wakes a client blocked on the list', async () => {
    for (const port of [sabre.port, redis.port]) {
      const blocked = conn(port), pusher = conn(port);
      await pusher.del('{b}list');
      const pop = blocked.blpop('{b}list', 5);
      await sleep(100);
      expect(await pusher.eval("return redis.call('RPUSH', KEYS[1], ARGV[1])", 1, '{b}list', 'job')).toBe(1);
      expect(await pop).toEqual(['{b}list', 'job']);
    }
  });
});

describe('functions (FCALL) on a shard\'s own Lua VM (--shards 2)', () => {
  let sabre: ServerHandle;
  let redis: ServerHandle;
  beforeAll(async () => {
    [sabre, redis] = await Promise.all([startSabre(['--shards', '2']), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([sabre?.stop(), redis?.stop()]);
  });

  const SPIN_FN = "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] " +
    "while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - s > tonumber(args[1]) * 1000 then break end end " +
    "return redis.call('INCR', keys[1])";
  const lib = (version: string) => `#!lua name=shardlib\n` +
    `redis.register_function('spin', function(keys, args) ${SPIN_FN} end)\n` +
    `redis.register_function('ver', function(keys, args) redis.call('SET', keys[1], '${version}') return '${version}' end)\n` +
    `redis.register_function('forever', function(keys, args) local x = redis.call('GET', keys[1]) while true do end end)\n`;

  it('a shard-local function leaves the other shard serving while it runs', async () => {
    const a = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    const b = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    try {
      await a.call('FUNCTION', 'LOAD', 'REPLACE', lib('v1'));
      const k0 = keyOn(0, 'fpar:'), k1 = keyOn(1, 'fpar:');
      await b.del(k0);
      await b.set(k1, 'other');
      expect(await a.call('FCALL', 'ver', '1', keyOn(0, 'fver0:'))).toBe('v1');
      let done = false;
      const ev = a.call('FCALL', 'spin', '1', k0, '1000').then((v) => { done = true; return v; });
      await sleep(150);
      expect(await b.get(k1)).toBe('other');
      expect(done).toBe(false);
      // Its own shard's commands come after it.
      expect(await b.incr(k0)).toBe(2);
      expect(await ev).toBe(1);
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });

  it('library changes apply in order, pipelined right before an FCALL, as in Redis', async () => {
    for (const port of [sabre.port, redis.port]) {
      const c = new Redis({ port, maxRetriesPerRequest: 0 });
      try {
        await c.call('FUNCTION', 'FLUSH');
        const k = keyOn(1, 'fver:');
        const replies = await c.pipeline()
          .call('FUNCTION', 'LOAD', lib('v1')).call('FCALL', 'ver', '1', k)
          .call('FUNCTION', 'LOAD', 'REPLACE', lib('v2')).call('FCALL', 'ver', '1', k)
          .call('FUNCTION', 'DELETE', 'shardlib').call('FCALL', 'ver', '1', k)
          .call('FUNCTION', 'LOAD', lib('v3')).call('FCALL_RO', 'ver', '1', k)
          .multi().call('FUNCTION', 'FLUSH').exec().call('FCALL', 'ver', '1', k)
          .exec();
        expect(replies!.map(([e, v]) => (e ? e.message : v))).toEqual(['shardlib', 'v1', 'shardlib', 'v2', 'OK',
          'ERR Function not found', 'shardlib', 'ERR Can not execute a script with write flag using *_ro command.',
          'OK', 'QUEUED', ['OK'], 'ERR Function not found']);
        // One at a time (FCALL then runs on the shard, whose VM must see each change).
        const seq: unknown[] = [];
        for (const v of ['v4', 'v5']) {
          seq.push(await c.call('FUNCTION', 'LOAD', 'REPLACE', lib(v)));
          seq.push(await c.call('FCALL', 'ver', '1', k));
        }
        seq.push(await c.call('FUNCTION', 'DELETE', 'shardlib'));
        seq.push(await c.call('FCALL', 'ver', '1', k).catch((e: Error) => e.message));
        expect(seq).toEqual(['shardlib', 'v4', 'shardlib', 'v5', 'OK', 'ERR Function not found']);
      } finally {
        c.disconnect();
      }
    }
  });

  it('a busy function on a shard: FUNCTION STATS names it, FUNCTION KILL stops it', async () => {
    const a = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    const b = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    try {
      await a.call('FUNCTION', 'LOAD', 'REPLACE', lib('v1'));
      await a.config('SET', 'busy-reply-threshold', '300');
      const k = keyOn(1, 'fbusy:');
      expect(await a.call('FCALL', 'ver', '1', k)).toBe('v1');
      const ev = a.call('FCALL', 'forever', '1', k).catch((e: Error) => e.message);
      await sleep(600);
      const stats = await b.call('FUNCTION', 'STATS') as unknown[];
      expect((stats[1] as unknown[]).slice(0, 4)).toEqual(['name', 'forever', 'command', ['FCALL', 'forever', '1', k]]);
      await expect(b.get(k)).rejects.toThrow('BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.');
      await expect(b.call('SCRIPT', 'KILL')).rejects.toThrow('BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.');
      expect(await b.call('FUNCTION', 'KILL')).toBe('OK');
      expect(await ev).toMatch(/^ERR Script killed by user with SCRIPT KILL\.\.\. script: forever, on @user_function/);
      expect(await b.get(k)).toBe('v1');
      await b.config('SET', 'busy-reply-threshold', '5000');
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});

describe('a script whose declared keys span some of the shards (--shards 3)', () => {
  let sabre: ServerHandle;
  beforeAll(async () => {
    sabre = await startSabre(['--shards', '3']);
  });
  afterAll(async () => {
    await sabre?.stop();
  });

  it('parks only their shards: the third keeps serving, theirs wait for it', async () => {
    const a = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    const b = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    const third = (key: string) => Math.floor((keyHashSlot(Buffer.from(key), 0, key.length) * 3) / 16384);
    const on = (shard: number, prefix: string) => {
      for (let n = 0; ; n++) if (third(prefix + n) === shard) return prefix + n;
    };
    try {
      const k0 = on(0, 'span:'), k1 = on(1, 'span:'), k2 = on(2, 'span:');
      await b.del(k0, k1);
      await b.set(k2, 'free');
      const body = SPIN.replace("return redis.call('INCR', KEYS[1])", "redis.call('INCR', KEYS[1]) return redis.call('INCR', KEYS[2])");
      let done = false;
      const ev = a.eval(body, 2, k0, k1, '1000').then((v) => { done = true; return v; });
      await sleep(200);
      expect(await b.get(k2)).toBe('free');
      expect(done).toBe(false);
      let t0 = Date.now();
      // Its own shards' keys come after it, both of them at once.
      expect(await b.mget(k0, k1)).toEqual(['1', '1']);
      expect(Date.now() - t0).toBeGreaterThan(100);
      expect(await ev).toBe(1);
      // Declared keys span shards but an undeclared one is named: every shard is parked.
      const wide = SPIN.replace("return redis.call('INCR', KEYS[1])", `redis.call('INCR', KEYS[2]) return redis.call('GET', '${k2}')`);
      const ev2 = a.eval(wide, 2, k0, k1, '500');
      await sleep(150);
      t0 = Date.now();
      expect(await b.get(k2)).toBe('free');
      expect(Date.now() - t0).toBeGreaterThan(150);
      expect(await ev2).toBe('free');
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});

describe.each([['--shards 2', 2], ['--shards 3', 3]])('mixed script traffic, sabre %s', (_label, shards) => {
  it('keeps every transfer atomic: shard-local, cross-shard and undeclared scripts, functions, cache churn', async () => {
    const sabre = await startSabre(['--shards', String(shards)]);
    const N = 40;
    // A quarter of the accounts share hash tags in pairs of shard-local keys; the rest spread.
    const acct = (i: number) => (i % 4 === 0 ? `{t${i % 8}}acct:${i}` : `acct:${i}`);
    const keys = Array.from({ length: N }, (_, i) => acct(i));
    const TRANSFER = "local a = tonumber(redis.call('GET', KEYS[1])) local b = tonumber(redis.call('GET', KEYS[2])) " +
      "if a < 1 then return 0 end redis.call('SET', KEYS[1], a - 1) redis.call('SET', KEYS[2], b + 1) return 1";
    const UNDECLARED = "if tonumber(redis.call('GET', ARGV[1])) < 1 then return 0 end redis.call('DECR', ARGV[1]) redis.call('INCR', ARGV[2]) return 1";
    const LIB = "#!lua name=bank\nredis.register_function('move', function(keys, args) if tonumber(redis.call('GET', keys[1])) < 1 then return 0 end " +
      "redis.call('DECRBY', keys[1], 1) redis.call('INCRBY', keys[2], 1) return 1 end)";
    const admin = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    const conns: Redis[] = [];
    try {
      await admin.mset(...keys.flatMap((k) => [k, '100']));
      await admin.call('FUNCTION', 'LOAD', LIB);
      const end = Date.now() + 4000;
      const errors: string[] = [];
      let torn = 0, reads = 0, ran = 0;
      const worker = async () => {
        const c = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
        conns.push(c);
        while (Date.now() < end) {
          const i = Math.floor(Math.random() * N), j = (i + 1 + Math.floor(Math.random() * (N - 1))) % N;
          const p = c.pipeline();
          for (let k = 0; k < 8; k++) {
            const x = Math.random();
            if (x < 0.4) p.eval(TRANSFER, 2, acct(i), acct(j));
            else if (x < 0.55) p.eval(UNDECLARED, 0, acct(i), acct(j));
            else if (x < 0.8) p.call('FCALL', 'move', '2', acct(i), acct(j));
            else p.get(acct(i));
          }
          const r = Math.random();
          if (r < 0.03) p.script('FLUSH');
          else if (r > 0.97) p.call('FUNCTION', 'LOAD', 'REPLACE', LIB);
          for (const [e] of (await p.exec())!) {
            ran++;
            if (e) errors.push(e.message);
          }
        }
      };
      const checker = async () => {
        const c = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
        conns.push(c);
        while (Date.now() < end) {
          const sum = (await c.mget(...keys)).reduce((a, v) => a + Number(v), 0);
          reads++;
          if (sum !== N * 100) torn++;
        }
      };
      await Promise.all([...Array.from({ length: 10 }, worker), checker()]);
      expect(errors.slice(0, 5)).toEqual([]);
      expect(ran).toBeGreaterThan(1000);
      expect(reads).toBeGreaterThan(20);
      expect(torn).toBe(0);
      expect((await admin.mget(...keys)).reduce((a, v) => a + Number(v), 0)).toBe(N * 100);
    } finally {
      for (const c of conns) c.disconnect();
      admin.disconnect();
      await sabre.stop();
    }
  });
});

describe('the shard VM\'s run-time key check (the net under the static analysis)', () => {
  it('refuses keys of another shard and keyless commands that would see one shard only', async () => {
    const scripting = new ShardScripting(0, makeSlotTable(2), new SharedArrayBuffer(SCRIPT_STATE_BYTES + SHARD_RUNNING_CMD_BYTES));
    await scripting.start(null);
    const check = (...argv: string[]) => {
      const buf = Buffer.from(argv.join(''));
      const as = new Int32Array(argv.length), ae = new Int32Array(argv.length);
      let p = 0;
      argv.forEach((a, i) => { as[i] = p; p += a.length; ae[i] = p; });
      let spec = lookupCommand(buf, as[0], ae[0])!;
      if (spec.subcommands !== null) spec = lookupSubcommand(spec, buf, as[1], ae[1])!;
      return scripting.rt!.keyCheck!(spec, buf, as, ae, argv.length);
    };
    const ERR = 'Script attempted to access a non local key in a cluster node script';
    expect(check('get', keyOn(0, 'kc:'))).toBeNull();
    expect(check('get', keyOn(1, 'kc:'))).toBe(ERR);
    expect(check('mset', keyOn(0, 'kc:'), 'v', keyOn(1, 'kc:'), 'v')).toBe(ERR);
    expect(check('ping')).toBeNull();
    expect(check('select', '3')).toBeNull();
    expect(check('flushall')).toBe(ERR);
    expect(check('keys', '*')).toBe(ERR);
    expect(check('publish', 'ch', 'm')).toBe(ERR);
    expect(check('sort', keyOn(0, 'kc:'), 'BY', 'w_*')).toBe(ERR);
  });
});

describe('a busy script on a shard', () => {
  let sabre: ServerHandle;
  beforeAll(async () => {
    sabre = await startSabre(['--shards', '2', '--busy-reply-threshold', '200']);
  });
  afterAll(async () => {
    await sabre?.stop();
  });

  it('makes others get -BUSY until SCRIPT KILL stops it', async () => {
    const a = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    const b = new Redis({ port: sabre.port, maxRetriesPerRequest: 0 });
    try {
      const k = keyOn(1, 'busy:');
      // The shard's VM loads on its first script: not part of the script's time.
      expect(await a.eval('return 1', 1, k)).toBe(1);
      const ev = a.eval("local x = redis.call('GET', KEYS[1]) while true do end", 1, k).catch((e: Error) => e.message);
      await sleep(500);
      const stats = await b.call('FUNCTION', 'STATS') as unknown[];
      expect((stats[1] as unknown[]).slice(0, 4)).toEqual(['name', sha1("local x = redis.call('GET', KEYS[1]) while true do end"),
        'command', ['eval', "local x = redis.call('GET', KEYS[1]) while true do end", '1', k]]);
      await expect(b.get(keyOn(0, 'busy:'))).rejects.toThrow('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.');
      await expect(b.call('FUNCTION', 'KILL')).rejects.toThrow('BUSY');
      expect(await b.call('SCRIPT', 'KILL')).toBe('OK');
      expect(await ev).toMatch(/^ERR Script killed by user with SCRIPT KILL\.\.\./);
      expect(await b.ping()).toBe('PONG');
      await expect(b.call('SCRIPT', 'KILL')).rejects.toThrow('NOTBUSY No scripts in execution right now.');
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});

describe('shard script effects in the AOF', () => {
  it('survive a SIGKILL and restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sabre-shard-lua-'));
    const flags = ['--shards', '2', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    let s = await startSabre(flags);
    let c = new Redis({ port: s.port, maxRetriesPerRequest: 0 });
    try {
      const body = "redis.call('HSET', KEYS[1], 'f', ARGV[1]) redis.call('SET', KEYS[2], math.random(1000000)) return redis.call('INCR', KEYS[3])";
      for (const shard of [0, 1]) {
        const h = keyOn(shard, 'aof:h:');
        await c.eval(body, 3, h, `{${h}}r`, `{${h}}n`, `v${shard}`);
      }
      const before = await Promise.all([0, 1].map((sh) => c.get(`{${keyOn(sh, 'aof:h:')}}r`)));
      c.disconnect();
      s.proc.kill('SIGKILL');
      await new Promise((res) => s.proc.once('exit', res));
      s = await startSabre(flags);
      c = new Redis({ port: s.port, maxRetriesPerRequest: 0 });
      for (const shard of [0, 1]) {
        const h = keyOn(shard, 'aof:h:');
        expect(await c.hget(h, 'f')).toBe(`v${shard}`);
        expect(await c.get(`{${h}}n`)).toBe('1');
        expect(await c.get(`{${h}}r`)).toBe(before[shard]);
      }
    } finally {
      c.disconnect();
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Lua scripting served by the server (src/server/scripting.ts, the script thread):
 * byte-for-byte against the reference redis-server on one connection's streams, and
 * across connections on Sabre inline and with 1 and 2 shard workers: scripts are atomic
 * (also over undeclared keys on several shards), their writes wake blocked clients, abort
 * WATCH and raise keyspace events; a busy script makes others get -BUSY until SCRIPT KILL
 * (or only SHUTDOWN NOSAVE once it wrote); effects reach the AOF and survive a restart.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { Command, formatMismatch, runDifferential } from './helpers/differential';

const sha1 = (body: string) => createHash('sha1').update(body).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MODES: [string, string[]][] = [
  ['--shards 0', ['--shards', '0']],
  ['--shards 1', ['--shards', '1']],
  ['--shards 2', ['--shards', '2']],
];

const LIB = "#!lua name=mylib\n" +
  "redis.register_function('myincr', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n" +
  "redis.register_function{function_name='ro_get', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}\n";

function scriptStream(): Command[] {
  const s: Command[] = [['FLUSHALL'], ['SCRIPT', 'FLUSH'], ['FUNCTION', 'FLUSH']];
  const add = (...cmds: Command[]) => s.push(...cmds);
  // Conversions and errors.
  add(['EVAL', 'return {1, "two", {3.5, false, true}, nil, 5}', '0'], ['EVAL', 'return redis.error_reply("MY err")', '0'],
    ['EVAL', 'return {err="x"}', '0'], ['EVAL', 'return redis.status_reply("FINE")', '0'], ['EVAL', 'return', '0'],
    ['EVAL', 'return (', '0'], ['EVAL', 'return 1', 'x'], ['EVAL', 'return 1', '2', 'a'], ['EVAL', 'return 1', '-1'],
    ['EVAL', 'error("boom")', '0'], ['EVAL', 'return nosuchglobal', '0'], ['EVAL', 'x = 1', '0'],
    ['EVAL', 'return os.time()', '0'], ['EVAL', 'return redis.call("nosuch")', '0'], ['EVAL', 'return redis.pcall("incr", "s1")', '0']);
  // Keys on several shards, declared or not; writes and reads back.
  add(['EVAL', "for i=1,20 do redis.call('SET', 'k'..i, i) end return redis.call('MGET', 'k1', 'k7', 'k20')", '0'],
    ['MGET', 'k1', 'k2', 'k3', 'k19', 'k20'], ['EVAL', "return redis.call('INCRBY', KEYS[1], ARGV[1])", '1', 'k5', '10'],
    ['EVAL', "redis.call('RPUSH', KEYS[1], 'a', 'b') redis.call('SADD', KEYS[2], 'm') return redis.call('LRANGE', KEYS[1], 0, -1)", '2', 'lst', 'st'],
    ['EVAL', "return redis.call('TYPE', 'st')", '0'], ['EVAL', "return redis.call('GET', 'lst')", '0'],
    ['EVAL', "return redis.pcall('GET', 'lst')", '0'], ['EVAL', "return redis.call('DBSIZE')", '0'],
    ['EVAL_RO', "return redis.call('SET', 'x', 1)", '0'], ['EVAL_RO', "return redis.call('GET', 'k1')", '0'],
    ['EVAL', "redis.call('SELECT', 5) redis.call('SET', 'in5', 'v') return redis.call('GET', 'in5')", '0'], ['GET', 'in5'],
    ['SELECT', '5'], ['GET', 'in5'], ['SELECT', '0'],
    ['EVAL', "return redis.call('BLPOP', 'nolist', 0)", '0'], ['EVAL', "return string.len(string.rep('x', 100000))", '0'],
    ['EVAL', "redis.call('SET', 'big', string.rep('y', 300000)) return redis.call('STRLEN', 'big')", '0'], ['STRLEN', 'big']);
  // The script cache.
  add(['SCRIPT', 'LOAD', "return 'cached'"], ['EVALSHA', 'a7a4e0f3c2f0b1c4b5b3b1e5b4f5b0b9c8a7a6a5', '0'],
    ['EVALSHA', sha1("return 'cached'"), '0'], ['SCRIPT', 'EXISTS', sha1("return 'cached'"), 'ffff'],
    ['EVALSHA', 'short', '0'], ['EVAL', "return 'via eval'", '0'], ['SCRIPT', 'EXISTS', sha1("return 'via eval'")],
    ['SCRIPT', 'FLUSH'], ['SCRIPT', 'EXISTS', sha1("return 'cached'")], ['SCRIPT', 'KILL'], ['FUNCTION', 'KILL']);
  // Functions.
  add(['FUNCTION', 'LOAD', LIB], ['FUNCTION', 'LOAD', LIB], ['FCALL', 'myincr', '1', 'fk', '3'], ['FCALL', 'myincr', '1', 'fk', '4'],
    ['FCALL_RO', 'ro_get', '1', 'fk'], ['FCALL_RO', 'myincr', '1', 'fk', '1'], ['FCALL', 'nosuch', '0'],
    ['FUNCTION', 'LIST', 'LIBRARYNAME', 'nomatch'], ['FUNCTION', 'DELETE', 'mylib'], ['FCALL', 'myincr', '1', 'fk', '1'], ['FUNCTION', 'DELETE', 'mylib']);
  // Inside MULTI, and WATCH against the connection's own script writes.
  add(['MULTI'], ['SET', 'm1', '1'], ['EVAL', "return redis.call('INCR', 'm1')", '0'], ['EVAL', "return redis.call('INCR', 'm9')", '0'],
    ['GET', 'm1'], ['EXEC']);
  add(['SCRIPT', 'LOAD', "return redis.call('INCR', KEYS[1])"], ['MULTI'], ['EVALSHA', sha1("return redis.call('INCR', KEYS[1])"), '1', 'm2'],
    ['EVALSHA', sha1("return redis.call('INCR', KEYS[1])"), '1', 'm2'], ['PING'], ['SELECT', '2'],
    ['EVAL', "return redis.call('SET', 'in2', 'x')", '0'], ['SELECT', '0'], ['EXEC'], ['GET', 'm2'], ['SELECT', '2'], ['GET', 'in2'], ['SELECT', '0']);
  add(['MULTI'], ['EVAL', 'return 1', 'notanumber'], ['EXEC']);
  add(['MULTI'], ['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', '0'], ['EXEC']);
  add(['SET', 'w1', 'a'], ['WATCH', 'w1'], ['EVAL', "return redis.call('SET', 'w1', 'b')", '0'], ['MULTI'], ['GET', 'w1'], ['EXEC']);
  add(['WATCH', 'w1'], ['EVAL', "return redis.call('GET', 'w1')", '0'], ['MULTI'], ['GET', 'w1'], ['EXEC']);
  return s;
}

describe.each(MODES)('scripting served by sabre %s', (_label, args) => {
  let sabre: ServerHandle;
  let redis: ServerHandle;
  const conns: Redis[] = [];
  const conn = (): Redis => {
    const c = new Redis({ port: sabre.port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0 });
    conns.push(c);
    return c;
  };

  beforeAll(async () => {
    [sabre, redis] = await Promise.all([startSabre(args), startRedis()]);
  });
  afterAll(async () => {
    for (const c of conns) c.disconnect();
    await Promise.all([sabre?.stop(), redis?.stop()]);
  });

  it('answers byte for byte as Redis', async () => {
    const mismatches = await runDifferential({ sabre: sabre.port, redis: redis.port, commands: scriptStream(), chunkSize: 7 });
    expect(mismatches.map(formatMismatch)).toEqual([]);
  });

  it('a script is atomic: no reader sees half of it, even over undeclared keys on every shard', async () => {
    const writer = conn(), reader = conn();
    const keys = Array.from({ length: 12 }, (_, i) => `atom:${i}`);
    await writer.mset(...keys.flatMap((k) => [k, '0']));
    let stop = false;
    let torn = 0, reads = 0;
    const readLoop = (async () => {
      while (!stop) {
        const vals = await reader.mget(...keys);
        reads++;
        if (new Set(vals).size !== 1) torn++;
      }
    })();
    const body = "for i=0,11 do redis.call('SET', 'atom:'..i, ARGV[1]) end return 1";
    for (let n = 1; n <= 150; n++) await writer.eval(body, 0, String(n));
    stop = true;
    await readLoop;
    expect(reads).toBeGreaterThan(10);
    expect(torn).toBe(0);
    expect(await reader.mget(...keys)).toEqual(keys.map(() => '150'));
  });

  it('scripts of many clients, pipelined: each client gets its own replies, in order', async () => {
    const clients = Array.from({ length: 8 }, () => conn());
    const body = "return {KEYS[1], redis.call('INCR', KEYS[1]), ARGV[1]}";
    await Promise.all(clients.map(async (c, i) => {
      await c.del(`many:${i}`);
      const p = c.pipeline();
      for (let n = 1; n <= 50; n++) {
        p.eval(body, 1, `many:${i}`, String(n));
        if (n % 10 === 0) p.get(`many:${i}`);
      }
      const replies = (await p.exec())!.map(([err, v]) => (err ? err.message : v));
      const want: unknown[] = [];
      for (let n = 1; n <= 50; n++) {
        want.push([`many:${i}`, n, String(n)]);
        if (n % 10 === 0) want.push(String(n));
      }
      expect(replies).toEqual(want);
    }));
  });

  it('scripts of many clients at once (run back to back on one park) stay atomic among plain commands', async () => {
    // Transfers between accounts spread over the shards keep the total; plain INCRs and MGETs
    // of other clients go between them.
    const accounts = Array.from({ length: 8 }, (_, i) => `acct:${i}`);
    const setup = conn();
    await setup.mset(...accounts.flatMap((k) => [k, '1000']));
    await setup.set('plain', '0');
    const move = "local a = tonumber(redis.call('GET', KEYS[1])) local b = tonumber(redis.call('GET', KEYS[2])) " +
      "redis.call('SET', KEYS[1], a - ARGV[1]) redis.call('SET', KEYS[2], b + ARGV[1]) return a + b";
    const sha = await setup.script('LOAD', move) as string;
    const movers = Array.from({ length: 6 }, () => conn());
    const plain = conn(), reader = conn();
    let stop = false, torn = 0, reads = 0;
    const readLoop = (async () => {
      while (!stop) {
        const vals = await reader.mget(...accounts);
        reads++;
        if (vals.reduce((s, v) => s + Number(v), 0) !== 8000) torn++;
      }
    })();
    const plainLoop = (async () => {
      let n = 0;
      while (!stop) {
        const p = plain.pipeline();
        for (let i = 0; i < 10; i++) p.incr('plain');
        const r = (await p.exec())!.map(([, v]) => v as number);
        for (const v of r) expect(v).toBe(++n);
      }
      return n;
    })();
    await Promise.all(movers.map(async (c, i) => {
      for (let round = 0; round < 20; round++) {
        const p = c.pipeline();
        for (let k = 0; k < 10; k++) p.evalsha(sha, 2, accounts[(i + k) % 8], accounts[(i + k + 3) % 8], String(k + 1));
        const sums = (await p.exec())!.map(([err, v]) => (err ? err.message : v));
        // The two accounts' sum before each transfer is a whole number: no script saw another's half.
        for (const s of sums) expect(typeof s).toBe('number');
      }
    }));
    stop = true;
    await readLoop;
    const increments = await plainLoop;
    expect(reads).toBeGreaterThan(5);
    expect(torn).toBe(0);
    const vals = await reader.mget(...accounts);
    expect(vals.reduce((s, v) => s + Number(v), 0)).toBe(8000);
    expect(Number(await reader.get('plain'))).toBe(increments);
  });

  it('script writes wake blocked clients, abort WATCH of others and raise keyspace events', async () => {
    const a = conn(), b = conn(), sub = conn();
    await a.config('SET', 'notify-keyspace-events', 'KEA');
    await a.del('q', 'wk');
    const events: string[] = [];
    await sub.psubscribe('__keyevent@0__:*');
    sub.on('pmessage', (_p, ch, key) => events.push(`${ch.split(':')[1]} ${key}`));
    const popped = b.blpop('q', 5);
    await sleep(50);
    await a.eval("redis.call('LPUSH', KEYS[1], 'job') redis.call('SET', KEYS[2], 'x') return 1", 2, 'q', 'wk');
    expect(await popped).toEqual(['q', 'job']);

    const w = conn();
    await w.watch('wk');
    await a.eval("return redis.call('SET', KEYS[1], 'y')", 1, 'wk');
    expect(await w.multi().get('wk').exec()).toBeNull();
    // A script that only reads does not abort it.
    await w.watch('wk');
    await a.eval("return redis.call('GET', KEYS[1])", 1, 'wk');
    expect(await w.multi().get('wk').exec()).toEqual([[null, 'y']]);
    await sleep(100);
    expect(events).toContain('lpush q');
    expect(events).toContain('set wk');
    await a.config('SET', 'notify-keyspace-events', '');
  });

  it('a busy script answers -BUSY to others past busy-reply-threshold, SCRIPT KILL stops it', async () => {
    const a = conn(), b = conn(), c = conn();
    await b.config('SET', 'busy-reply-threshold', '300');
    await b.set('before', '1');
    // (It declares the key GET reads: with shard workers it runs on that key's shard, whose
    // commands wait for it; the other shard's would be served meanwhile.)
    const running = a.eval('local i = 0 while true do i = i + 1 end', 1, 'before').then(() => 'ok', (e: Error) => e.message);
    await sleep(100);
    const t0 = Date.now();
    const early = b.get('before').then((v) => v, (e: Error) => e.message);
    expect(await early).toBe('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    await expect(c.ping()).rejects.toThrow(/^BUSY Redis is busy running a script/);
    await expect(c.call('FUNCTION', 'KILL')).rejects.toThrow('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.');
    const stats = await c.call('FUNCTION', 'STATS') as unknown[];
    expect(stats[0]).toBe('running_script');
    expect((stats[1] as unknown[])[3]).toEqual(['eval', 'local i = 0 while true do i = i + 1 end', '1', 'before']);
    expect(await c.call('SCRIPT', 'KILL')).toBe('OK');
    expect(await running).toMatch(/^ERR Script killed by user with SCRIPT KILL\.\.\. script: [0-9a-f]{40}, on @user_script:1\.$/);
    expect(await b.get('before')).toBe('1');
    await expect(c.call('SCRIPT', 'KILL')).rejects.toThrow('NOTBUSY No scripts in execution right now.');

    // A function is killed with FUNCTION KILL.
    await b.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=spin\nredis.register_function('spin', function() while true do end end)");
    const fn = a.call('FCALL', 'spin', '0').then(() => 'ok', (e: Error) => e.message);
    await sleep(400);
    await expect(c.call('SCRIPT', 'KILL')).rejects.toThrow('BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.');
    await expect(c.get('before')).rejects.toThrow('BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.');
    expect(await c.call('FUNCTION', 'KILL')).toBe('OK');
    expect(await fn).toBe('ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.');
    await b.call('FUNCTION', 'DELETE', 'spin');
    await b.config('SET', 'busy-reply-threshold', '5000');
  });
});

describe.each(MODES)('scripts past maxmemory, sabre %s', (_label, args) => {
  let sabre: ServerHandle;
  let redis: ServerHandle;
  beforeAll(async () => {
    [sabre, redis] = await Promise.all([startSabre(args), startRedis()]);
  });
  afterAll(async () => {
    await Promise.all([sabre?.stop(), redis?.stop()]);
  });

  it('refuse their first deny-oom write, as Redis (scriptVerifyOOM, declared flags, allow-oom)', async () => {
    const commands: Command[] = [['FLUSHALL'], ['SET', 'pre', '1'], ['SET', 'pre2', '5'],
      ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction'], ['CONFIG', 'SET', 'maxmemory', '1'],
      ['EVAL', "return redis.call('set', KEYS[1], 'x')", '1', 'a'],
      ['EVAL', "return redis.pcall('set', KEYS[1], 'x')", '1', 'a'],
      ['EVAL', "return redis.call('set', 'undeclared', 'x')", '0'],
      ['EVAL', "redis.call('del', KEYS[1]) return redis.call('set', KEYS[1], 'x')", '1', 'pre'],
      ['EVAL', "return redis.call('get', KEYS[1])", '1', 'pre'],
      ['EVAL', "return redis.call('incr', KEYS[1])", '1', 'pre2'],
      ['EVAL', "return redis.call('del', KEYS[1])", '1', 'pre2'],
      ['EVAL', "#!lua\nreturn redis.call('get', KEYS[1])", '1', 'pre'],
      ['EVAL', "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", '1', 'pre'],
      ['EVAL', "#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], 'y')", '1', 'b'],
      ['EVAL_RO', "return redis.call('get', KEYS[1])", '1', 'b'],
      ['MULTI'], ['EVAL', "return redis.call('set', KEYS[1], 'z')", '1', 'c'], ['EXEC'],
      ['CONFIG', 'SET', 'maxmemory', '0'],
      ['EVAL', "return redis.call('set', KEYS[1], 'x')", '1', 'a'], ['MGET', 'a', 'b', 'c', 'pre', 'pre2']];
    const mismatches = await runDifferential({ sabre: sabre.port, redis: redis.port, commands, chunkSize: 1 });
    expect(mismatches.map(formatMismatch)).toEqual([]);
  });
});

// On the script thread (a script naming an undeclared key, every shard held) and in a shard's
// own VM (a script that names only its declared key).
describe.each([
  ['on the script thread', ['--shards', '1'], "redis.call('SET', 'x', 1) while true do end", 0],
  ['in a shard\'s VM', ['--shards', '2'], "redis.call('SET', KEYS[1], 1) while true do end", 1],
] as [string, string[], string, number][])('a busy script that already wrote, %s', (_label, args, body, nkeys) => {
  let sabre: ServerHandle;
  beforeAll(async () => {
    sabre = await startSabre([...args, '--busy-reply-threshold', '200']);
  });
  afterAll(async () => {
    await sabre?.stop();
  });

  it('is UNKILLABLE; SHUTDOWN needs NOSAVE and then ends the server', async () => {
    // (No reconnecting once the server is gone.)
    const a = new Redis({ port: sabre.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const b = new Redis({ port: sabre.port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const keys = nkeys === 0 ? [] : ['w'];
    try {
      // A VM loads on its first script (here, the one the busy script will run on): not part of
      // the script's time.
      expect(await a.eval(nkeys === 0 ? "return redis.call('EXISTS', 'x')" : 'return 1', nkeys, ...keys)).toBe(nkeys);
      a.eval(body, nkeys, ...keys).catch(() => { /* the connection drops at shutdown */ });
      await sleep(500);
      await expect(b.call('SCRIPT', 'KILL')).rejects.toThrow(
        'UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.');
      await expect(b.call('SHUTDOWN')).rejects.toThrow('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.');
      const exited = new Promise<number | null>((resolve) => sabre.proc.once('exit', (code) => resolve(code)));
      b.call('SHUTDOWN', 'NOSAVE').catch(() => { /* no reply: the server is gone */ });
      expect(await Promise.race([exited, sleep(5000).then(() => 'timeout')])).not.toBe('timeout');
    } finally {
      a.disconnect();
      b.disconnect();
    }
  });
});

describe.each(MODES)('script effects in the AOF, sabre %s', (_label, args) => {
  it('survive a SIGKILL and restart, functions included', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sabre-lua-aof-'));
    const flags = [...args, '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    let s = await startSabre(flags);
    let c = new Redis({ port: s.port, maxRetriesPerRequest: 0 });
    try {
      await c.call('FUNCTION', 'LOAD', LIB);
      await c.eval("for i=1,30 do redis.call('SET', 'a'..i, i) end redis.call('RPUSH', 'l', 'x', 'y') return 1", 0);
      await c.eval("redis.call('SET', 'r', math.random(1000000)) redis.call('SPOP', 'nosuch') return redis.call('INCR', 'cnt')", 0);
      await c.call('FCALL', 'myincr', '1', 'fk', '5');
      const r = await c.get('r');
      c.disconnect();
      s.proc.kill('SIGKILL');
      await new Promise((res) => s.proc.once('exit', res));
      s = await startSabre(flags);
      c = new Redis({ port: s.port, maxRetriesPerRequest: 0 });
      expect(await c.get('a17')).toBe('17');
      expect(await c.lrange('l', 0, -1)).toEqual(['x', 'y']);
      expect(await c.get('r')).toBe(r);
      expect(await c.get('cnt')).toBe('1');
      expect(await c.get('fk')).toBe('5');
      expect(await c.call('FCALL', 'myincr', '1', 'fk', '1')).toBe(6);
    } finally {
      c.disconnect();
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Lua scripting in-process: EVAL/EVALSHA/SCRIPT/FUNCTION/FCALL run through their handlers
// over a real Store, with redis.call running data commands through an Executor; reply
// bytes are compared with the reference redis-server 7.0 on the same command streams.
// Plus: killing a busy script from another thread, effects propagation, per-call cost.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/commands/strings';
import '../src/commands/keys';
import '../src/commands/expire';
import '../src/commands/hash';
import '../src/commands/list';
import '../src/commands/set';
import '../src/commands/zset';
import { handlers } from '../src/commands/context';
import { getRuntime, initScripting } from '../src/scripting/scripts';
import { SCRIPTING_GETKEYS } from '../src/commands/enabled/scripting';
import { STATUS_RUNNING, STATUS_WROTE, ST_STATUS } from '../src/scripting/lua-engine';
import { RawClient, escapeBytes } from './helpers/resp';
import { ServerHandle, startRedis } from './helpers/servers';
import { type Arg, InprocServer } from './helpers/inproc';

class Inproc extends InprocServer {
  constructor() {
    // Scripts are sent as utf8.
    super({ encoding: 'utf8', resetReplacement: true });
  }
}

const E = (body: string, ...rest: string[]): Arg[] => ['eval', body, ...(rest.length ? rest : ['0'])];

/** Runs streams on both sides (after FLUSHALL, SCRIPT FLUSH, FUNCTION FLUSH) and lists differing replies. */
async function differential(redis: RawClient, sabre: Inproc, streams: Arg[][][]): Promise<string[]> {
  const diffs: string[] = [];
  for (const stream of streams) {
    const reset: Arg[][] = [['hello', '2'], ['flushall'], ['script', 'flush'], ['function', 'flush']];
    const all = [...reset, ...stream];
    const theirs = await redis.pipeline(all);
    for (let i = 0; i < all.length; i++) {
      const name = String(all[i][0]).toLowerCase();
      if (name === 'hello') {
        sabre.w.resp = Number(all[i][1]) === 3 ? 3 : 2;
        continue;
      }
      const ours = sabre.runBytes(all[i]);
      if (!ours.equals(theirs[i])) {
        diffs.push(`${all[i].map((a) => escapeBytes(a)).join(' ')}\n  sabre: ${escapeBytes(ours)}\n  redis: ${escapeBytes(theirs[i])}`);
      }
    }
  }
  return diffs;
}

const CONVERSIONS: Arg[][] = [
  E('return 1'), E('return -7'), E('return 3.99'), E('return -3.7'), E("return 'abc'"), E('return true'),
  E('return false'), E('return nil'), E("return {1,2,{3,'x'},nil,5}"), E("return {ok='fine'}"),
  E("return {err='My error'}"), E("return {err='-X'}"), E("return redis.error_reply('My err')"),
  E("return redis.error_reply('-CODE text')"), E("return redis.error_reply('oops')"),
  E("return redis.status_reply('FINE')"), E('return redis.status_reply(1)'), E('return redis.error_reply()'),
  E('return {}'), E('return {1, {}, {{}}}'), E("return {double=3.5}"), E("return {map={a=1}}"), E("return {set={a=true}}"),
  E("return {big_number='123456789012345678901234567890'}"), E("return {verbatim_string={format='txt', string='hi'}}"),
  E('return math.huge'), E('return 2^53'), E('return 0/0'),
  E("return {1, 'a', true, false, 2.9}"), E('return 10/2'), E("return tostring(10/2)"), E("return tostring(1/3)"),
  E("return 'a' .. 5"), E('return string.format("%d %s %5.2f", 3, "x", 1.5)'),
  E('return string.format("%d", 3.7)'), E("return tonumber('0x10')"), E("return #KEYS + #ARGV", '2', 'k1', 'k2', 'a1'),
  E('return {KEYS[1], ARGV[1], ARGV[2]}', '1', 'key', 'arg1', 'arg2'),
  E("return redis.sha1hex('abc')"), E('return redis.REDIS_VERSION'), E('return redis.REDIS_VERSION_NUM'),
  E('return _VERSION'), E('return type(redis.replicate_commands())'), E('return redis.replicate_commands()'),
  E('return unpack({1,2})'), E('return table.getn({1,2,3})'), E('return math.mod(7, 3)'), E("return type(loadstring)"),
  E("return loadstring('return 1 + 1')()"), E("return select('#', 1, 2, 3)"), E('return type(string.gfind)'),
  E("math.randomseed(7) return math.random(1000)"),
];

const CALLS: Arg[][] = [
  ['set', 'k', 'v'], ['rpush', 'l', 'a', 'b', 'c'], ['hset', 'h', 'f', 'v'], ['set', 'n', '10'], ['sadd', 's', 'x'],
  E("return redis.call('get', KEYS[1])", '1', 'k'), E("return redis.call('GET', 'nokey')"),
  E("return redis.call('lrange', 'l', 0, -1)"), E("return redis.call('incrby', 'n', 5)"),
  E("return redis.call('set', 'f', 0.1)"), E("return redis.call('get', 'f')"), E("redis.call('set', 'f', 1e20) return redis.call('get', 'f')"),
  E("redis.call('set', 'f', 10/2) return redis.call('get', 'f')"), E("return redis.call('set', 'x', 'y')"),
  E("return redis.call('hgetall', 'h')"), E("return redis.call('smembers', 's')"), E("return redis.call('exists', 'k', 'nokey')"),
  E("return redis.call('incr', 'k')"), E("return redis.pcall('incr', 'k')"),
  E("local r = redis.pcall('incr', 'k') return r['err']"), E("local ok, e = pcall(redis.call, 'incr', 'k') return {tostring(ok), e}"),
  E("return redis.call('nosuch')"), E("return redis.call('get')"), E("return redis.call('incr', 'k', 'x')"),
  E("return redis.call()"), E("return redis.call('get', {})"), E("return redis.pcall('nosuch')"),
  E("return redis.call('lpush', 'k', 'x')"), E('return x'), E('x = 5'), E("error('boom')"), E("error({err='X custom'})"),
  E("error({err='ERR in table'})"), E('local t = {} t.x.y = 1'), E("return redis.call('get', 'k')\n"),
  E("local a = 1\nlocal b = 2\nreturn redis.call('incr', 'k')"), E('return print'), E('return os'), E('return cjson.x'),
  E('cjson.x = 1'), E('redis.call = nil'), E("string.upper = nil"), E('_G.x = 1'), E("return rawget(_G, 'redis') ~= nil"),
  E("setmetatable(_G, nil)"), E("return redis.setresp(4)"), E("redis.set_repl(99)"), E("return redis.sha1hex()"),
  E("return redis.log(redis.LOG_WARNING, 'hello from test')"), E("return redis.log(9, 'x')"), E('return redis.log(1)'),
  E('return 1 +'), E("return redis.call('blpop', 'nolist', 0)"),
  E("return redis.call('ping')"), E("return redis.call('echo', 'hi')"),
  E("return redis.call('type', 'h')"), E("return redis.call('del', 'x', 'k')"),
  E("local t = {} for i=1,100 do t[i] = i end return t"),
];

const RESP3: Arg[][] = [
  ['hello', '3'], ['hset', 'h', 'f', 'v'], ['sadd', 's', 'x'], ['zadd', 'z', '1.5', 'm'],
  E('return true'), E('return false'), E('return nil'), E("return {double=3.5}"), E("return {double=1/0}"),
  E("return {map={a=1}}"), E("return {set={a=true}}"), E("return {big_number='1234'}"),
  E("return {verbatim_string={format='txt', string='hi'}}"),
  E("redis.setresp(3) return redis.call('hgetall', 'h')"), E("redis.setresp(3) return redis.call('smembers', 's')"),
  E("redis.setresp(3) return redis.call('zscore', 'z', 'm')"), E("redis.setresp(3) return redis.call('get', 'nokey')"),
  E("redis.setresp(3) return {redis.call('get', 'nokey') == nil}"), E("redis.setresp(3) return true"),
  E("redis.setresp(3) return false"), E("redis.setresp(3) local r = redis.call('hgetall', 'h') return r['map']['f']"),
  E("redis.setresp(3) return redis.call('zscore', 'z', 'm')['double']"), E("return redis.call('hgetall', 'h')"),
  E("return redis.call('get', 'nokey')"), E("return {1, nil, 2}"),
  ['hello', '2'], E("redis.setresp(3) return true"), E("redis.setresp(3) return false"), E("redis.setresp(3) return redis.call('hgetall', 'h')"),
];

const LIBS: Arg[][] = [
  E("return cjson.encode({1, 2, 3})"), E("return cjson.encode({a=1})"), E("return cjson.encode({})"),
  E("return cjson.encode('a\"b\\\\c/\\n\\1\\127')"), E("return cjson.encode({1.5, -0.25, 1e20, 123456789012345})"),
  E("return cjson.encode({true, false, cjson.null})"), E("return cjson.encode({[1]=1, [2]=2, [4]=4})"),
  E("return cjson.encode({[1]=1, [20]=2})"), E("return cjson.encode({a={b={c={1,2}}}})"),
  E("return cjson.encode(math.huge)"), E("return cjson.encode(function() end)"),
  E("local t = cjson.decode('[1,2,3,{\"a\":[true,false,null]}]') return {t[1], t[3], t[4].a[1], type(t[4].a[3])}"),
  E("return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')"), E("return cjson.decode('{\"a\":1.5}').a * 2"),
  E("return cjson.decode('[1,2')"), E("return cjson.decode('nope')"), E("return cjson.decode('12')"),
  E("return tostring(cjson.decode('{\"n\":5}').n)"), E("return cjson.encode(cjson.decode('{\"k\":[1,2,{\"z\":null}]}'))"),
  E("return cmsgpack.pack({1, 2, 3})"), E("return cmsgpack.pack('abc', 1, -1, 300, -300, 70000, 1.5, 0.1, true, false)"),
  E("return cmsgpack.pack({a=1})"), E("return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300))"),
  E("return cmsgpack.pack(2^40, -2^40)"), E("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}))}"),
  E("local t = cmsgpack.unpack(cmsgpack.pack({x={1,2}})) return t.x[2]"), E("return cmsgpack.unpack('\\205')"),
  E("return bit.band(0xff, 0x0f)"), E("return bit.bor(1, 2, 4)"), E("return bit.bxor(5, 3)"), E("return bit.bnot(0)"),
  E("return bit.lshift(1, 31)"), E("return bit.rshift(-1, 28)"), E("return bit.arshift(-256, 4)"), E("return bit.tohex(255)"),
  E("return bit.tohex(-1, -4)"), E("return bit.tobit(2^32 + 5)"), E("return bit.tobit(1.5)"), E("return bit.tobit(2.5)"),
  E("return bit.rol(0x12345678, 8)"), E("return bit.ror(0x12345678, 8)"), E("return bit.bswap(0x12345678)"),
  E("return struct.pack('>I2', 258)"), E("return struct.pack('<i4', -2)"), E("return {struct.unpack('<i4', struct.pack('<i4', -2))}"),
  E("return struct.pack('b B h H', -1, 255, -2, 65535)"), E("return struct.size('>iHd')"), E("return struct.pack('s', 'ab')"),
  E("return {struct.unpack('>HHs', struct.pack('>HHs', 1, 2, 'xyz'))}"), E("return struct.pack('>d', 1.5)"),
  E("return {struct.unpack('c3', 'abcdef')}"), E("return struct.pack('i', 3.7)"),
];

const SCRIPTS: Arg[][] = [
  ['script', 'load', 'return 1'], ['script', 'exists', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 'abc'],
  ['evalsha', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'], ['evalsha', 'E0E1F9FABFC9D4800C877A703B823AC0578FF8DB', '0'],
  ['evalsha', 'ffffffffffffffffffffffffffffffffffffffff', '0'], ['evalsha', 'abc', '0'],
  E('return 2'), ['script', 'exists', '7f923f79fe76194c868d7e1d0820de36700eb649'],
  ['evalsha', '7f923f79fe76194c868d7e1d0820de36700eb649', '0'], ['script', 'flush'],
  ['evalsha', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'], ['script', 'flush', 'async'], ['script', 'flush', 'bad'],
  ['script', 'load', 'return +'], ['script', 'kill'], ['script', 'help'], ['eval', 'return 1', 'x'], ['eval', 'return 1', '-1'],
  ['eval', 'return 1', '2', 'a'], ['eval_ro', "return redis.call('set','k','v')", '0'], ['eval_ro', "return redis.call('get','k')", '0'],
  ['script', 'load', "return redis.call('set','k','v')"],
  ['evalsha_ro', '0c5ef3a1f7fd1b7faa3e5d5ab40f00cd2f3f1d37', '0'],
  E("#!lua flags=no-writes\nreturn redis.call('set','k','v')"), E('#!lua flags=bad\nreturn 1'), E('#!lua name=x\nreturn 1'),
  E('#!notlua\nreturn 1'), E("#!lua\nreturn redis.call('set','k','v')"), E('#!lua flags=no-writes,allow-oom\nreturn 1'),
  ['eval_ro', "#!lua\nreturn 1", '0'], ['eval_ro', "#!lua flags=no-writes\nreturn 1", '0'], E('#!lua'),
  E("#!lua flags=allow-stale,no-cluster,allow-cross-slot-keys\nreturn 1"), E("#!lua flags=\nreturn 1"),
  E("#!lua\nerror('line two')"),
];

const LIB1 = "#!lua name=mylib\nredis.register_function('f', function(keys, args) return {keys[1], args[1]} end)\n" +
  "redis.register_function{function_name='g', callback=function() return redis.call('set','a','b') end, flags={'no-writes'}, description='desc'}";
// FUNCTION LIST orders a library's functions by Redis's randomly seeded dict: compare one-function libraries.
const LIB3 = "#!lua name=mylib\nredis.register_function{function_name='g', callback=function() return 1 end, flags={'no-writes', 'allow-oom'}, description='desc'}";
const LIB2 = "#!lua name=other\nredis.register_function('w', function(keys) return redis.call('incr', keys[1]) end)";

const FUNCTIONS: Arg[][] = [
  ['function', 'load', 'return 1'], ['function', 'load', '#!lua\nreturn 1'], ['function', 'load', '#!lua name=x\nreturn 1'],
  ['function', 'load', "#!lua name=x\nredis.register_function('f', 5)"],
  ['function', 'load', "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, bad=1}"],
  ['function', 'load', "#!lua name=x\nredis.register_function('f', function() end, 3)"],
  ['function', 'load', "#!lua name=x\nredis.call('ping')"], ['function', 'load', '#!lua name=x\nlocal x = y'],
  ['function', 'load', "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'bad'}}"],
  ['function', 'load', '#!lua name=x foo=bar\n'], ['function', 'load', '#!lua name=x-y\n'],
  ['function', 'load', "#!lua name=x\nredis.register_function('f-x', function() end)"],
  ['function', 'load', "#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)"],
  ['function', 'load', LIB1], ['function', 'load', LIB1], ['function', 'load', 'replace', LIB1],
  ['function', 'load', "#!lua name=y\nredis.register_function('f', function() end)"],
  ['function', 'load', 'bad', 'x'], ['function', 'load', LIB2],
  ['fcall', 'f', '1', 'k', 'a'], ['fcall', 'g', '0'], ['fcall_ro', 'f', '0'], ['fcall_ro', 'g', '0'], ['fcall', 'nope', '0'],
  ['fcall', 'w', '1', 'cnt'], ['fcall', 'w', '1', 'cnt'], ['fcall', 'f', 'x'], ['fcall', 'f', '5', 'a'],
  ['function', 'list', 'libraryname'], ['function', 'list', 'foo'], ['function', 'stats'],
  ['function', 'delete', 'nope'], ['function', 'delete', 'other'], ['fcall', 'w', '1', 'cnt'],
  ['function', 'load', 'replace', LIB3], ['function', 'list', 'libraryname', 'mylib'],
  ['function', 'list', 'withcode', 'libraryname', 'my*'], ['function', 'list', 'libraryname', 'nomatch*'],
  ['function', 'list'], ['function', 'flush', 'bad'], ['function', 'kill'], ['function', 'help'],
  ['function', 'restore', 'bad'], ['function', 'restore', 'x', 'y'], ['function', 'flush'], ['function', 'list'],
  ['function', 'stats'],
];

describe('Lua scripting against redis-server 7.0', () => {
  let redis: ServerHandle;
  let client: RawClient;
  const sabre = new Inproc();

  beforeAll(async () => {
    await initScripting();
    redis = await startRedis();
    client = await RawClient.connect(redis.port);
  });
  afterAll(async () => {
    client?.close();
    await redis?.stop();
  });

  it('converts replies and values both ways (RESP2)', async () => {
    expect(await differential(client, sabre, [CONVERSIONS])).toEqual([]);
  });

  it('runs redis.call/pcall with Redis\'s errors and sandbox', async () => {
    expect(await differential(client, sabre, [CALLS])).toEqual([]);
  });

  it('converts RESP3 replies and booleans', async () => {
    expect(await differential(client, sabre, [RESP3])).toEqual([]);
  });

  it('bundles cjson, cmsgpack, bit and struct', async () => {
    expect(await differential(client, sabre, [LIBS])).toEqual([]);
  });

  it('caches scripts: SCRIPT LOAD/EXISTS/FLUSH, EVALSHA, NOSCRIPT, EVAL_RO, shebang flags', async () => {
    expect(await differential(client, sabre, [SCRIPTS])).toEqual([]);
  });

  it('loads and calls functions: FUNCTION LOAD/LIST/DELETE/FLUSH/STATS, FCALL', async () => {
    expect(await differential(client, sabre, [FUNCTIONS])).toEqual([]);
  });

  it('FUNCTION DUMP/RESTORE round trips, and reads Redis\'s (LZF) payloads', async () => {
    const streams: Arg[][] = [['function', 'flush'], ['function', 'load', LIB1], ['function', 'load', LIB2]];
    await client.pipeline(streams);
    for (const s of streams) sabre.runBytes(s);
    const dump = sabre.runBytes(['function', 'dump']);
    const payload = dump.subarray(dump.indexOf(10) + 1, dump.length - 2);
    const [theirDump] = await client.pipeline([['function', 'dump']]);
    const theirPayload = theirDump.subarray(theirDump.indexOf(10) + 1, theirDump.length - 2);
    const list = sabre.run('function', 'list', 'withcode');
    // Our payload restores in Redis and in Sabre; Redis's restores in Sabre.
    for (const p of [payload, theirPayload]) {
      // Payload order is Redis's dict order: either library may collide first.
      expect(sabre.run('function', 'restore', p)).toMatch(/^-ERR Library (mylib|other) already exists\r\n$/);
      expect(sabre.run('function', 'restore', p, 'replace')).toBe('+OK\r\n');
      expect(sabre.run('function', 'restore', p, 'flush')).toBe('+OK\r\n');
      expect(sabre.run('function', 'list', 'withcode').length).toBe(list.length);
      expect(sabre.run('fcall', 'f', '1', 'k', 'a')).toBe('*2\r\n$1\r\nk\r\n$1\r\na\r\n');
    }
    const theirs = await client.pipeline([['function', 'flush'], ['function', 'restore', payload], ['fcall', 'f', '1', 'k', 'a']]);
    expect(theirs.map((b) => b.toString('latin1'))).toEqual(['+OK\r\n', '+OK\r\n', '*2\r\n$1\r\nk\r\n$1\r\na\r\n']);
    const bad = Buffer.from(payload);
    bad[bad.length - 1] ^= 1;
    expect(sabre.run('function', 'restore', bad)).toBe('-ERR DUMP payload version or checksum are wrong\r\n');
    expect(sabre.run('function', 'flush')).toBe('+OK\r\n');
    expect(sabre.run('function', 'restore', payload, 'append')).toBe('+OK\r\n');
  });

  it('propagates the effects of the writes a script made, not the script', () => {
    sabre.run('flushall');
    const c = sabre.c;
    c.propagating = true;
    try {
      sabre.run('eval', "redis.call('set', KEYS[1], 'v') redis.call('get', KEYS[1]) redis.call('incr', 'n') " +
        "redis.set_repl(redis.REPL_NONE) redis.call('set', 'hidden', 1) return 1", '1', 'key');
      expect(c.replacement).not.toBeNull();
      const effects = c.replacement!.map((argv) => argv.map((a) => Buffer.from(a as Uint8Array).toString()).join(' '));
      expect(effects).toEqual(['set key v', 'incr n']);
      sabre.run('eval', "return redis.call('get', 'key')", '0');
      expect(c.replacement).toEqual([]);
    } finally {
      c.propagating = false;
    }
  });

  it('declares EVAL/FCALL keys like db.c evalGetKeys', () => {
    const args = ['eval', 'x', '2', 'a', 'b', 'c'].map((s) => Buffer.from(s));
    const buf = Buffer.concat(args);
    const as = new Int32Array(6), ae = new Int32Array(6);
    let p = 0;
    args.forEach((a, i) => { as[i] = p; p += a.length; ae[i] = p; });
    const out = new Int32Array(6);
    expect(SCRIPTING_GETKEYS.evalGetKeys(null as never, 6, buf, as, ae, out, null)).toBe(2);
    expect([...out.subarray(0, 2)]).toEqual([3, 4]);
    buf[as[2]] = 0x39; // numkeys 9: more than there are
    expect(SCRIPTING_GETKEYS.functionGetKeys(null as never, 6, buf, as, ae, out, null)).toBe(0);
  });
});

/** A worker that plays the io thread: waits for a running script, then asks to kill it. */
const KILLER = `
const { workerData, parentPort } = require('node:worker_threads');
const i32 = new Int32Array(workerData.sab);
const RUNNING = 1, WROTE = 2, KILL = 4;
const t0 = Date.now();
function attempt() {
  const s = Atomics.load(i32, 0);
  if (!(s & RUNNING) || (workerData.waitWrote && !(s & WROTE))) {
    if (Date.now() - t0 > 5000) { parentPort.postMessage('timeout'); return; }
    return setTimeout(attempt, 5);
  }
  setTimeout(() => {
    for (;;) {
      const s2 = Atomics.load(i32, 0);
      if (s2 & WROTE) { parentPort.postMessage('unkillable'); return; }
      if (Atomics.compareExchange(i32, 0, s2, s2 | KILL) === s2) { parentPort.postMessage('killed'); return; }
    }
  }, 50);
}
attempt();
`;

describe('busy scripts', () => {
  const sabre = new Inproc();

  beforeAll(async () => {
    await initScripting();
  });

  function killer(waitWrote: boolean): { worker: Worker; result: Promise<string> } {
    const rt = getRuntime()!;
    const worker = new Worker(KILLER, { eval: true, workerData: { sab: rt.engine.state.sab, waitWrote } });
    const result = new Promise<string>((resolve) => worker.once('message', resolve));
    return { worker, result };
  }

  it('a busy script is killed through the shared kill flag from another thread', async () => {
    const { worker, result } = killer(false);
    // Let the worker start before this thread blocks in the script.
    await new Promise((r) => setTimeout(r, 300));
    const body = 'local i = 0 while true do i = i + 1 end';
    const t0 = Date.now();
    const reply = sabre.run('eval', body, '0');
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(await result).toBe('killed');
    const sha = require('node:crypto').createHash('sha1').update(body).digest('hex');
    expect(reply).toBe(`-ERR Script killed by user with SCRIPT KILL... script: ${sha}, on @user_script:1.\r\n`);
    // pcall cannot swallow the kill.
    expect(Atomics.load(getRuntime()!.engine.state.i32, ST_STATUS) & STATUS_RUNNING).toBe(0);
    await worker.terminate();
    expect(sabre.run('eval', 'return 1', '0')).toBe(':1\r\n');
  }, 20000);

  it('a script that already wrote is UNKILLABLE and runs to its end', async () => {
    const { worker, result } = killer(true);
    await new Promise((r) => setTimeout(r, 300));
    const body = "redis.call('set', 'x', '1') local t = 0 for i = 1, 30000000 do t = t + i end return 'done'";
    const reply = sabre.run('eval', body, '0');
    expect(await result).toBe('unkillable');
    expect(reply).toBe('$4\r\ndone\r\n');
    await worker.terminate();
    const st = getRuntime()!.engine.state;
    expect(st.requestKill(true)).toBe('NOTBUSY No scripts in execution right now.');
    void STATUS_WROTE;
  }, 20000);

  it('pcall does not catch a kill; errors in deep recursion are replies, not crashes', async () => {
    const { worker, result } = killer(false);
    await new Promise((r) => setTimeout(r, 300));
    const reply = sabre.run('eval', 'while true do pcall(function() local x = 0 for i = 1, 1000 do x = x + i end end) end', '0');
    expect(await result).toBe('killed');
    expect(reply).toMatch(/^-ERR Script killed by user with SCRIPT KILL\.\.\. script: [0-9a-f]{40}, on @user_script:1\.\r\n$/);
    await worker.terminate();
    expect(sabre.run('eval', 'local function r(n) return 1 + r(n + 1) end return r(1)', '0')).toMatch(/^-ERR user_script:1: stack overflow/);
    expect(sabre.run('eval', 'return 1', '0')).toBe(':1\r\n');
  }, 20000);
});

describe('EVALSHA cost', () => {
  it('measures EVALSHA of return redis.call(\'GET\', KEYS[1]) in-process', async () => {
    await initScripting();
    const sabre = new Inproc();
    sabre.run('set', 'key', 'value');
    const sha = sabre.run('script', 'load', "return redis.call('GET', KEYS[1])").split('\r\n')[1];
    const args = ['evalsha', sha, '1', 'key'].map((s) => Buffer.from(s));
    const c = sabre.c;
    c.buf = Buffer.concat(args);
    c.argStart = new Int32Array(4);
    c.argEnd = new Int32Array(4);
    let p = 0;
    args.forEach((a, i) => { c.argStart[i] = p; p += a.length; c.argEnd[i] = p; });
    c.argc = 4;
    const h = handlers.get('evalsha')!;
    for (let i = 0; i < 20000; i++) { sabre.w.reset(); h(c); }
    const n = 100000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) { sabre.w.reset(); h(c); }
    const us = ((performance.now() - t0) * 1000) / n;
    expect(sabre.w.buf.toString('latin1', 0, sabre.w.len)).toBe('$5\r\nvalue\r\n');
    console.log(`EVALSHA return redis.call('GET', KEYS[1]): ${us.toFixed(2)} µs per call`);
  }, 60000);
});

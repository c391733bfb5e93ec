import { describe, expect, test } from 'vitest';
import { libraryIsShardLocal, scriptIsShardLocal } from '../src/scripting/locality';
import { commandById, BS_INDEX, FK_RANGE, CMD_MOVABLE_KEYS } from '../src/commands/table';

const local = (s: string | Uint8Array) => scriptIsShardLocal(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
const libLocal = (s: string) => libraryIsShardLocal(Buffer.from(s, 'utf8'));

const LOCAL: string[] = [
  "return redis.call('incr', KEYS[1])",
  "return redis.call('GET', KEYS[1])",
  "redis.call('set', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2])) return 1",
  "local v = redis.call('hget', KEYS[1], ARGV[1]) if v then return redis.call('hincrby', KEYS[1], ARGV[1], 1) end return nil",
  'if redis.call("get",KEYS[1]) == ARGV[1] then return redis.call("del",KEYS[1]) else return 0 end',
  "return redis.call('del', unpack(KEYS))",
  "return redis.call('mget', unpack(KEYS))",
  "for i = 1, #KEYS do redis.call('del', KEYS[i]) end",
  "redis.call('rpoplpush', KEYS[1], KEYS[2])",
  "redis.call('lmove', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')",
  "return redis.call('ping')",
  'return 1',
  'return ARGV[1]',
  "-- redis.call('get', 'x')\nlocal s = [[redis.call('get', 'x')]]\n--[==[ redis.call('flushall') ]==]\nreturn redis.call('get', KEYS[1])",
  "local s = \"redis.call('get', 'x')\" return s",
  "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])",
  "redis.call('hmset', KEYS[1], unpack(ARGV))",
  "return redis.call('object', 'encoding', KEYS[1])",
  "return redis.pcall('incr', KEYS[1])",
  // more of our own
  'redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])',
  "return redis.call('echo', ARGV[1])",
  "local t = redis.call('time') return t[1]",
  "redis.call('select', ARGV[1]) return redis.call('get', KEYS[1])",
  "return redis.call('mset', KEYS[1], ARGV[1], KEYS[2], ARGV[2])",
  "return redis.call('exists', KEYS[1], KEYS[2], unpack(KEYS))",
  "return redis.call('del', table.unpack(KEYS))",
  "for i, k in ipairs(KEYS) do redis.call('del', KEYS[i]) end",
  "for k, v in pairs(KEYS) do redis.call('expire', KEYS[k], 10) end",
  "redis.log(redis.LOG_WARNING, table.concat(KEYS, ',')) return #KEYS",
  "return redis.call('hset', KEYS[1], 'f', redis.call('get', KEYS[2]))",
  "return redis.call('hset', KEYS[1], 'f', ARGV[1] .. redis.call('get', KEYS[2]))",
  "return redis.call('get', KEYS[ #KEYS ])",
  "return redis.call('lpush', KEYS[1], unpack(ARGV))",
  "return redis.call('set', KEYS[1], (cjson.encode({a = 1})))",
  "return redis.call('set', KEYS[1], -x)",
  "return redis.call('memory', 'usage', KEYS[1])",
  "return redis.error_reply('bad') ",
  "return redis.status_reply('OK')",
  "return redis.sha1hex(ARGV[1])",
  "redis.setresp(3) redis.set_repl(redis.REPL_ALL) redis.replicate_commands() return redis.call('incr', KEYS[1])",
  "local unpack = table.unpack or unpack return redis.call('del', table.unpack(KEYS))",
  "local x = 0x1F + 1.5e3 + 3 // 2 + .5 return redis.call('incrby', KEYS[1], x)",
  "return redis.call('get', KEYS['\\49'])",
  "return redis.call([[get]], KEYS[1])",
  "return redis.call('\\x67et', KEYS[1])",
  "if KEYS[1] == ARGV[1] then return 1 end return redis.call('get', KEYS[1])",
  "local cfg = {} cfg.load = 1 return cfg.load",
  "return redis.call('get', KEYS[1], unpack(ARGV))", // GET's only key is argv[1], whatever the arity check says
  // Bull-style moveToActive-ish script: touches only declared keys
  "local jobId = redis.call('rpoplpush', KEYS[1], KEYS[2])\nif jobId then\n  redis.call('zadd', KEYS[3], ARGV[1], jobId)\nend\nreturn jobId",
];

const NOT_LOCAL: string[] = [
  "return redis.call('get', 'literal')",
  "return redis.call('get', ARGV[1])",
  "return redis.call('get', KEYS[1] .. ':x')",
  "local k = KEYS[1] .. 'suffix' return redis.call('get', k)",
  "return redis.call('mset', KEYS[1], 'a', unpack(ARGV))",
  "return redis.call('del', unpack(ARGV))",
  "local c = redis.call return c('get', KEYS[1])",
  "return pcall(redis.call, 'get', KEYS[1])",
  "local r = redis return r.call('get', KEYS[1])",
  "return _G.redis.call('get', KEYS[1])",
  "KEYS[1] = 'other' return redis.call('get', KEYS[1])",
  "local KEYS = {'x'} return redis.call('get', KEYS[1])",
  "table.insert(KEYS, 'x')",
  "return loadstring(\"return redis.call('get','x')\")()",
  "local cmd = 'get' return redis.call(cmd, KEYS[1])",
  "return redis.call('keys', '*')",
  "redis.call('flushall')",
  "return redis.call('dbsize')",
  "redis.call('publish', 'ch', 'm')",
  "return redis.call('zunionstore', KEYS[1], 1, KEYS[2])",
  "return redis.call('sort', KEYS[1], 'BY', 'w_*')",
  "return redis.call('eval', 'return 1', 0)",
  // our own
  // safe, but the analyzer only follows KEYS[...] expressions (false negatives cost speed only)
  "for _, k in ipairs(KEYS) do redis.call('del', k) end",
  "return redis.call('get', (KEYS[1]))",
  "local jobKey = KEYS[1] .. ARGV[1] return redis.call('hgetall', jobKey)",
  "return redis.call('hgetall', KEYS[1] .. ARGV[1])",
  "return redis.call('get', f())",
  "return redis.call('get', ...)",
  "return redis.call('get', KEYS[1]:upper())",
  "return redis.call('del', KEYS[1], ARGV[1])",
  "return redis.call('rename', KEYS[1], ARGV[1])",
  "return redis.call('copy', KEYS[1], 'dst')",
  "return redis.call('get')",
  "return redis.call()",
  "return redis.call('get', KEYS[1],)",
  "return redis.call 'get'",
  "return redis.call{'get', KEYS[1]}",
  "return redis['call']('get', KEYS[1])",
  "return redis:call('get', KEYS[1])",
  "local t = {redis} return t[1].call('get', 'x')",
  "local e = _ENV return e.redis.call('get', 'x')",
  "return _ENV['red' .. 'is'].call('get', 'x')",
  "return load('return 1')()",
  "return getmetatable('').__index",
  "return rawget(KEYS, 1)",
  "function redis.call() end",
  "local function redis() end",
  "local k = KEYS return redis.call('get', k[1])",
  "local function f(t) t[1] = 'x' end f(KEYS) return redis.call('get', KEYS[1])",
  "local function unpack(t) t[1] = 'x' end unpack(KEYS) return redis.call('get', KEYS[1])",
  "local _, t = pairs(KEYS) t[1] = 'x' return redis.call('get', KEYS[1])",
  "local t = {KEYS} return 1",
  "for _, KEYS in ipairs({{'x'}}) do redis.call('get', KEYS[1]) end",
  "table.sort(KEYS)",
  "KEYS = {'x'}",
  "KEYS[KEYS[1]] = 1",
  "return redis.call('client', 'list')",
  "return redis.call('object', KEYS[1])",
  "return redis.call('object', 'nosuch', KEYS[1])",
  "return redis.call('config', 'get', 'maxmemory')",
  "return redis.call('scan', 0)",
  "return redis.call('randomkey')",
  "return redis.call('swapdb', 0, 1)",
  "return redis.call('info')",
  "return redis.call('flushdb')",
  "return redis.call('spublish', KEYS[1], 'm')",
  "return redis.call('sort_ro', KEYS[1])",
  "return redis.call('lmpop', 1, KEYS[1], 'LEFT')",
  "return redis.call('zinter', 1, KEYS[1])",
  "return redis.call('sintercard', 1, KEYS[1])",
  "return redis.call('evalsha', ARGV[1], 0)",
  "return redis.call('nosuchcommand', KEYS[1])",
  "return redis.call('set', unpack(ARGV))",
  "return redis.call('mget', KEYS[1], unpack(ARGV))",
  "return redis.call('set', KEYS[1], 'v', function() local a, b = KEYS[2], 1 end)",
  "return redis.call('get', KEYS[1]) .. redis.call('get', ARGV[1])",
  'return redis.call("get", "\\z  x")',
  "return setmetatable({}, {})",
  "return debug.traceback()",
  "local x = package",
  "return require('x')",
  "return dofile('x')",
  // lexer corner cases that must not hide code
  "--[==[ comment ]] still comment ]==] return redis.call('get', 'x')",
  "--[=x line comment\nreturn redis.call('get', 'x')",
  "local s = [==[ ]] ]=] ]==] return redis.call('get', 'x')",
  "local s = 'it\\'s' return redis.call('get', 'x')",
  "local s = \"\\\"\" return redis.call('get', 'x')",
  "local s = 'a\\\nb' return redis.call('get', 'x')",
  // invalid Lua and garbage
  "return redis.call('get', KEYS[1]",
  "return 'unterminated",
  "return \"unterminated\nreturn 1\"",
  '--[[ unterminated long comment',
  'return [[ unterminated long string',
  'return [=x',
  "return '\\q'",
  "return '\\300'",
  "return '\\xZZ'",
  'return 3x',
  'return @',
  '\u00ff\u00fe',
  ')',
  '}}}{{{',
];

describe('scriptIsShardLocal', () => {
  test.each(LOCAL)('local: %s', (s) => {
    expect(local(s)).toBe(true);
  });
  test.each(NOT_LOCAL)('not local: %s', (s) => {
    expect(local(s)).toBe(false);
  });

  test('empty and whitespace scripts have no calls', () => {
    expect(local('')).toBe(true);
    expect(local(' \n\t')).toBe(true);
    expect(local('#!lua')).toBe(true);
  });

  test('a shebang is only skipped on the first line', () => {
    expect(local("return 1\n#!lua\nreturn redis.call('get', KEYS[1])")).toBe(false);
  });

  test('huge scripts are handled', () => {
    const body = "redis.call('incr', KEYS[1])\n".repeat(20000);
    expect(local(body)).toBe(true);
    expect(local(body + "redis.call('incr', 'x')")).toBe(false);
    expect(local('local ' + 'a'.repeat(1_000_000) + ' = 1')).toBe(true);
    expect(local('return ' + '('.repeat(100_000) + '1' + ')'.repeat(100_000))).toBe(true);
    expect(local('--[[' + ']='.repeat(100_000))).toBe(false);
  });

  test('the expansion window fits every enabled command accepted for a local call', () => {
    // callIsLocal refuses specs outside these bounds; this notices if the table grows some.
    const refused: string[] = [];
    for (const spec of commandById()) {
      if (spec.flags & CMD_MOVABLE_KEYS) continue;
      for (const ks of spec.keySpecs) {
        if (ks.bsType === BS_INDEX && ks.fkType === FK_RANGE && (ks.limit !== 0 || ks.keyStep > 2 || ks.lastKey < -2)) {
          refused.push(spec.name);
        }
      }
    }
    expect(refused).toEqual([]);
  });
});

const LIB_LOCAL: string[] = [
  "#!lua name=mylib\nredis.register_function('myincr', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)",
  "#!lua name=lib2\nredis.register_function{function_name='ro_get', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}",
  "#!lua name=two\nredis.register_function('set2', function(keys, args)\n  redis.call('set', keys[1], args[1])\n  return redis.call('set', keys[2], args[2])\nend)\n" +
    "redis.register_function('delall', function(keys, args) return redis.call('del', unpack(keys)) end)",
  "#!lua name=p\nredis.register_function('p', function() return redis.call('ping') end)",
  "#!lua name=l\nlocal function helper(x) return x * 2 end\nredis.register_function('f', function(keys, args) return redis.call('set', keys[1], helper(tonumber(args[1]))) end)",
  // more of our own
  "#!lua name=t\nredis.register_function{callback=function(k, a) return redis.pcall('hset', k[1], a[1], a[2]) end, description='d', function_name='hs';}",
  "#!lua name=t\nredis.register_function{\n  function_name = 'f',\n  callback = function(keys, args)\n    local a, b = 1, 2\n    for i = 1, #keys do redis.call('incrby', keys[i], a + b) end\n    if args[1] then return 1 else return 0 end\n  end,\n  flags = { 'allow-oom', 'no-cluster' },\n}",
  "#!lua name=t\nredis.register_function('f', function(keys) for _, k in ipairs(keys) do redis.log(redis.LOG_NOTICE, k) end return redis.call('mget', table.unpack(keys)) end)",
  "#!lua name=t\nlocal prefix = 'x:'\nredis.register_function('f', function(keys, args) return prefix .. redis.call('get', keys[#keys]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys, args) local f = function() return redis.call('ping') end return f() end)",
  "#!lua name=t\n-- keys[1] in a comment, redis.call('get', 'x')\nlocal s = [[redis.call('flushall')]]\nredis.register_function('f', function(keys) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys, args) return args.keys end)", // a field named like K is no use of K
  "#!lua name=t\nredis.register_function('a', function(keys) return redis.call('get', keys[1]) end)\nredis.register_function('b', function() return 1 end)",
];

const LIB_NOT_LOCAL: string[] = [
  "#!lua name=t\nredis.register_function('a', function(keys) return redis.call('get', keys[1]) end)\nredis.register_function('b', function(k) return redis.call('get', k[1]) end)",
  "#!lua name=t\nlocal function myfunc(keys, args) return redis.call('get', keys[1]) end\nredis.register_function('f', myfunc)",
  "#!lua name=t\nlocal function get(k) return redis.call('get', k) end\nredis.register_function('f', function(keys) return get(keys[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys, args) return redis.call('get', 'literal') end)",
  "#!lua name=t\nredis.register_function('f', function(keys, args) return redis.call('get', args[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys, args) keys[1] = 'x' return redis.call('get', keys[1]) end)",
  "#!lua name=t\nlocal keys = {}\nredis.register_function('f', function(keys) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys) local keys = {'x'} return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys) return redis.call('get', KEYS[1]) end)",
  "#!lua name=t\nlocal name = 'f'\nredis.register_function(name, function(keys) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nlocal rf = redis.register_function\nrf('f', function(keys) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.call('set', 'x', 1)\nredis.register_function('f', function(keys) return 1 end)",
  "#!lua name=t\nredis.register_function('f', function(keys, keys) return redis.call('get', keys[1]) end)",
  // our own
  "#!lua name=t\nredis.call('ping')\nredis.register_function('f', function() return 1 end)", // only the call site is wrong
  "redis.register_function('f', function(keys) return redis.call('get', keys[1]) end)", // no #!lua line
  "#!lua name=t\nreturn 1", // registers nothing
  "#!lua name=t\nredis.register_function('f', function(keys) return redis.call('get', keys[1]) end, 'x')",
  "#!lua name=t\nredis.register_function('f', function(keys) return 1 end or function() return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function('f' .. 'g', function(keys) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function 'f'",
  "#!lua name=t\nredis['register_function']('f', function(keys) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nregister_function('f', function(keys) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function{'f', function(keys) return redis.call('get', keys[1]) end}",
  "#!lua name=t\nredis.register_function{function_name='f', callback=cb}",
  "#!lua name=t\nredis.register_function{function_name=n, callback=function(keys) return redis.call('get', keys[1]) end}",
  "#!lua name=t\nredis.register_function{callback=function(keys) return redis.call('get', keys[1]) end}",
  "#!lua name=t\nredis.register_function{function_name='f', callback=function(keys) return 1 end, callback=function(keys) return redis.call('get', 'x') end}",
  "#!lua name=t\nredis.register_function{function_name='f', callback=function(keys) return 1 end, other=1}",
  "#!lua name=t\nredis.register_function{function_name='f', callback=function(keys) return 1 end, [1]=2}",
  "#!lua name=t\nredis.register_function{function_name='f', flags={redis.call('get', 'x')}, callback=function(keys) return 1 end}",
  "#!lua name=t\nredis.register_function('f', function(...) return redis.call('get', (...)[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys, ...) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(keys, args, x) return redis.call('get', keys[1]) end)",
  "#!lua name=t\nredis.register_function('f', function(_ENV) return 1 end)",
  "#!lua name=t\nredis.register_function('f', function(redis) return redis.call('get', 'x') end)",
  "#!lua name=t\nredis.register_function('f', function(keys, unpack) return redis.call('del', unpack(keys)) end)",
  // keys in a callback without parameters is a global
  "#!lua name=t\nredis.register_function('a', function(keys) return 1 end)\nredis.register_function('b', function() return redis.call('get', keys[1]) end)",
  // a closure could outlive its call and run under another FCALL's keys
  "#!lua name=t\nlocal saved = {}\nredis.register_function('a', function(keys) saved[1] = function() return redis.call('get', keys[1]) end return 1 end)\n" +
    "redis.register_function('b', function(keys) return saved[1]() end)",
  "#!lua name=t\nlocal function helper() return redis.call('get', 'x') end\nredis.register_function('f', function(keys) return helper() end)",
  "#!lua name=t\nfunction g(keys) return redis.call('get', keys[1]) end\nredis.register_function('f', function(keys) return g(keys) end)",
  "#!lua name=t\nredis.register_function('f', function(keys) for _, keys in ipairs({{'x'}}) do redis.call('get', keys[1]) end end)",
  "#!lua name=t\nredis.register_function('f', function(keys) local t = keys return redis.call('get', t[1]) end)",
  "#!lua name=t\nlocal x = keys[1]\nredis.register_function('f', function(keys) return 1 end)",
  "#!lua name=t\nredis.register_function('f', function(keys) return redis.call('get', keys[1]) end)\nredis.register_function('g', function(keys, args) return redis.call('keys', '*') end)",
  "#!lua name=t\nredis.register_function('f', function(keys) return redis.call('get', keys[1]) end", // unbalanced
  "#!lua name=t\nredis.register_function('f', function(keys) if x then return redis.call('get', keys[1]) end)", // missing end
  "#!lua name=t\nend redis.register_function('f', function(keys) return 1 end)",
];

describe('libraryIsShardLocal', () => {
  const titled = (list: string[]) => list.map((s) => [s.replace(/\n/g, '\\n'), s]);
  test.each(titled(LIB_LOCAL))('local: %s', (_, s) => {
    expect(libLocal(s)).toBe(true);
  });
  test.each(titled(LIB_NOT_LOCAL))('not local: %s', (_, s) => {
    expect(libLocal(s)).toBe(false);
  });

  test('EVAL scripts are no libraries and libraries are no EVAL scripts', () => {
    expect(libLocal("#!lua\nreturn redis.call('get', KEYS[1])")).toBe(false);
    // a library's callback body only looks local to the EVAL analyzer
    expect(local("#!lua name=t\nredis.register_function('f', function(keys) return redis.call('get', keys[1]) end)")).toBe(false);
  });

  test('a huge library is handled', () => {
    const fn = (i: number) => `redis.register_function('f${i}', function(keys, args) return redis.call('incr', keys[1]) end)\n`;
    let lib = '#!lua name=big\n';
    for (let i = 0; i < 5000; i++) lib += fn(i);
    expect(libLocal(lib)).toBe(true);
    expect(libLocal(lib + "redis.register_function('x', function(keys) return redis.call('incr', 'x') end)")).toBe(false);
    // deep nesting stays linear
    const nest = 20000;
    const deep = '#!lua name=d\n' + "redis.register_function('f', function(keys) ".repeat(nest) + 'return 1' + ' end)'.repeat(nest);
    expect(libLocal(deep)).toBe(true);
  });
});

describe('never throws', () => {
  // xorshift32: deterministic, so a failure reproduces
  let seed = 0x2545f491;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };

  test('random bytes', () => {
    for (let k = 0; k < 2000; k++) {
      const b = new Uint8Array(rand(200));
      for (let i = 0; i < b.length; i++) b[i] = rand(256);
      expect(typeof scriptIsShardLocal(b)).toBe('boolean');
      expect(typeof libraryIsShardLocal(b)).toBe('boolean');
      b[0] = 0x23; // past the #! check
      if (b.length > 1) b[1] = 0x21;
      expect(typeof libraryIsShardLocal(b)).toBe('boolean');
    }
  });

  test('random truncations of local scripts', () => {
    for (let k = 0; k < 2000; k++) {
      const s = Buffer.from(LOCAL[rand(LOCAL.length)]);
      const a = rand(s.length + 1);
      expect(typeof scriptIsShardLocal(s.subarray(a, a + rand(s.length + 1)))).toBe('boolean');
      const l = Buffer.from(LIB_LOCAL[rand(LIB_LOCAL.length)]);
      const end = rand(l.length + 1);
      expect(typeof libraryIsShardLocal(l.subarray(0, end))).toBe('boolean'); // keeps the #! line
      const b = rand(l.length + 1);
      expect(typeof libraryIsShardLocal(l.subarray(b, b + rand(l.length + 1)))).toBe('boolean');
    }
  });

  test('random token soup', () => {
    const vocab = [
      'redis', '.', 'call', 'pcall', '(', ')', '[', ']', '{', '}', ',', 'KEYS', 'ARGV', '1', "'get'", "'del'",
      "'mset'", "'object'", "'encoding'", 'unpack', 'table', 'ipairs', 'in', 'do', 'end', 'for', '#', '=', '==',
      '..', '...', 'local', 'function', 'return', ':', 'x', '--', '[[', ']]', '"', "'", '\\', '\n',
      'register_function', 'keys', 'args', 'if', 'then', 'do', 'while', 'repeat', 'until', "'ping'", 'callback',
      'function_name', ';',
    ];
    for (let k = 0; k < 2000; k++) {
      const parts: string[] = [];
      for (let i = rand(40); i > 0; i--) parts.push(vocab[rand(vocab.length)]);
      expect(typeof local(parts.join(' '))).toBe('boolean');
      expect(typeof libLocal('#!lua name=soup\n' + parts.join(' '))).toBe('boolean');
    }
  });
});

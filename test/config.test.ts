// Sabre's configuration (src/server/config.ts): redis.conf parsing, command
// line options, CONFIG GET/SET/REWRITE. Error texts are asserted literally
// (checked by hand against redis-server 7.0.15) and, where the reference
// server is installed, cross-checked against it live.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Config, ConfigError, SABRE_VERSION, memtoull, sdsrepr, sdssplitargs, specialArgvAction, stringmatch,
} from '../src/server/config';
import { RawClient } from './helpers/resp';
import { REDIS_SERVER, ServerHandle, startRedis } from './helpers/servers';

const HAVE_REDIS = fs.existsSync(REDIS_SERVER);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sabre-config-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let fileSeq = 0;
function writeConf(text: string): string {
  const f = path.join(tmp, `c${fileSeq++}.conf`);
  fs.writeFileSync(f, text);
  return f;
}

/* A Config that never chdir()s the test process. */
function fromArgv(argv: string[], stdin?: string): Config {
  return Config.fromArgv(argv, { chdir: false, readStdin: () => stdin ?? '' });
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

function fatal(line: number, text: string, err: string): string {
  return `\n*** FATAL CONFIG FILE ERROR (Sabre ${SABRE_VERSION}) ***\n` +
    `Reading the configuration file, at line ${line}\n>>> '${text}'\n${err}\n`;
}

describe('tokenizing (sdssplitargs / sdscatrepr)', () => {
  it('splits with quotes and escapes like Redis', () => {
    expect(sdssplitargs('  set  a   b ')).toEqual(['set', 'a', 'b']);
    expect(sdssplitargs('"a b" \'c d\' e')).toEqual(['a b', 'c d', 'e']);
    expect(sdssplitargs('"\\x41\\n\\t\\"" \'it\\\'s\'')).toEqual(['A\n\t"', "it's"]);
    expect(sdssplitargs('"\\xe2\\x82\\xac"')).toEqual(['€']);
    expect(sdssplitargs('ab"cd"')).toEqual(['abcd']); // a quote may open mid-token
    expect(sdssplitargs('')).toEqual([]);
    expect(sdssplitargs('"unterminated')).toBeNull();
    expect(sdssplitargs('"a"b')).toBeNull(); // closing quote must be followed by a space
    expect(sdssplitargs("'a'b")).toBeNull();
  });

  it('sdsrepr round-trips through sdssplitargs', () => {
    for (const s of ['', 'plain', 'a b"c\\', '\x01\x7f\n\r\t\x07\x08', 'héllo €']) {
      expect(sdssplitargs(sdsrepr(s))).toEqual([s]);
    }
    expect(sdsrepr('a b"c')).toBe('"a b\\"c"');
    expect(sdsrepr('\x01')).toBe('"\\x01"');
  });
});

describe('memory values (memtoull)', () => {
  it('parses units case-insensitively', () => {
    expect(memtoull('0')).toBe(0n);
    expect(memtoull('1b')).toBe(1n);
    expect(memtoull('1k')).toBe(1000n);
    expect(memtoull('1KB')).toBe(1024n);
    expect(memtoull('2m')).toBe(2000000n);
    expect(memtoull('2mB')).toBe(2n * 1024n * 1024n);
    expect(memtoull('3g')).toBe(3000000000n);
    expect(memtoull('3Gb')).toBe(3n * 1024n ** 3n);
    expect(memtoull('')).toBe(0n); // Redis accepts an empty value as 0
  });

  it('rejects what Redis rejects and wraps like Redis 7.0.15', () => {
    for (const bad of ['-1', '-0', ' 1', '+1', '1x', '1 kb', '1.5mb', 'kbb']) expect(memtoull(bad)).toBeNull();
    expect(memtoull('18446744073709551616')).toBe(2n ** 64n - 1n); // strtoull saturates
    expect(memtoull('20000000000gb')).toBe(3028092406290448384n); // the product wraps mod 2^64
  });
});

describe('glob matching of parameter names', () => {
  it('matches like stringmatchlen', () => {
    expect(stringmatch('*', 'port', true)).toBe(true);
    expect(stringmatch('p?rt', 'port', true)).toBe(true);
    expect(stringmatch('P*T', 'port', true)).toBe(true);
    expect(stringmatch('P*T', 'port', false)).toBe(false);
    expect(stringmatch('[op]ort', 'port', false)).toBe(true);
    expect(stringmatch('[^p]ort', 'port', false)).toBe(false);
    expect(stringmatch('[a-q]ort', 'port', false)).toBe(true);
    expect(stringmatch('*max-*-entries', 'hash-max-listpack-entries', true)).toBe(true);
    expect(stringmatch('*max-*-entries', 'maxmemory', true)).toBe(false);
    expect(stringmatch('\\*', '*', false)).toBe(true);
    expect(stringmatch('\\*', 'a', false)).toBe(false);
    expect(stringmatch('port*', 'port', false)).toBe(true);
  });
});

describe('defaults', () => {
  it('has Sabre defaults in typed fields and CONFIG GET', () => {
    const c = fromArgv([]);
    expect(c.port).toBe(6379);
    expect(c.bind).toEqual(['127.0.0.1']);
    expect(c.shards).toBe(-1);
    expect(c.protoMaxBulkLen).toBe(512 * 1024 * 1024);
    expect(c.clientQueryBufferLimit).toBe(1024 * 1024 * 1024);
    expect(c.appendonly).toBe(false);
    expect(c.save).toEqual([]);
    expect(c.configFile).toBeNull();
    expect(c.get(['bind', 'protected-mode', 'save', 'shards', 'proto-max-bulk-len', 'dir'])).toEqual([
      ['bind', '127.0.0.1'], ['protected-mode', 'no'], ['save', ''], ['shards', '-1'],
      ['proto-max-bulk-len', '536870912'], ['dir', fs.realpathSync(process.cwd())],
    ]);
  });
});

describe('config files', () => {
  it('parses comments, blank lines, quotes, case-insensitive names and units', () => {
    const f = writeConf([
      '# a comment',
      '',
      '   PORT 7000   ',
      'bind 127.0.0.2 "::1"',
      'maxmemory 100mb',
      'requirepass "p w\\"d"',
      'appendonly YES',
      'save 3600 1',
      'save 300 100',
      'hash-max-ziplist-entries 64', // alias
      'notify-keyspace-events KEA',
      'loglevel WARNING',
      'shards 2',
      'hz 1000', // clamped to 500 like Redis
      '\t\r',
    ].join('\n'));
    const c = fromArgv([f]);
    expect(c.configFile).toBe(f);
    expect(c.port).toBe(7000);
    expect(c.bind).toEqual(['127.0.0.2', '::1']);
    expect(c.maxmemory).toBe(100 * 1024 * 1024);
    expect(c.requirepass).toBe('p w"d');
    expect(c.appendonly).toBe(true);
    expect(c.save).toEqual([[3600, 1], [300, 100]]);
    expect(c.hashMaxListpackEntries).toBe(64);
    expect(c.loglevel).toBe('warning');
    expect(c.shards).toBe(2);
    expect(c.hz).toBe(500);
    expect(c.get(['notify-keyspace-events', 'save', 'maxmemory', 'hash-max-listpack-entries'])).toEqual([
      ['notify-keyspace-events', 'AKE'], ['save', '3600 1 300 100'], ['maxmemory', '104857600'],
      ['hash-max-listpack-entries', '64'],
    ]);
  });

  it('reports errors with line numbers in Redis format', () => {
    expect(configError(() => fromArgv([writeConf('port 7000\nfoo bar\n')])))
      .toBe(fatal(2, 'foo bar', 'Bad directive or wrong number of arguments'));
    expect(configError(() => fromArgv([writeConf('# c\n\n  port abc  \n')])))
      .toBe(fatal(3, 'port abc', "argument couldn't be parsed into an integer"));
    expect(configError(() => fromArgv([writeConf('port "7000\n')])))
      .toBe(fatal(1, 'port "7000', 'Unbalanced quotes in configuration line'));
    expect(configError(() => fromArgv([writeConf('port 1 2\n')])))
      .toBe(fatal(1, 'port 1 2', 'wrong number of arguments'));
    expect(configError(() => fromArgv([writeConf('maxmemory 1x\n')])))
      .toBe(fatal(1, 'maxmemory 1x', 'argument must be a memory value'));
    expect(configError(() => fromArgv([writeConf('port 70000\n')])))
      .toBe(fatal(1, 'port 70000', 'argument must be between 0 and 65535 inclusive'));
    expect(configError(() => fromArgv([writeConf('loglevel loud\n')])))
      .toBe(fatal(1, 'loglevel loud', 'argument(s) must be one of the following: debug, verbose, notice, warning'));
    expect(configError(() => fromArgv([writeConf('appendonly maybe\n')])))
      .toBe(fatal(1, 'appendonly maybe', "argument must be 'yes' or 'no'"));
    expect(configError(() => fromArgv([writeConf('save 0 1\n')])))
      .toBe(fatal(1, 'save 0 1', 'Invalid save parameters'));
    expect(configError(() => fromArgv([writeConf('dbfilename a/b.rdb\n')])))
      .toBe(fatal(1, 'dbfilename a/b.rdb', "dbfilename can't be a path, just a filename"));
    // The message in the brief, byte for byte (without the trailing newline Redis prints).
    expect(configError(() => fromArgv([writeConf('port 7000\nfoo bar\n')])).trimEnd()).toBe(
      "\n*** FATAL CONFIG FILE ERROR (Sabre 0.1.0) ***\nReading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments");
  });

  it('refuses what Sabre does not support', () => {
    expect(configError(() => fromArgv([writeConf('daemonize yes\n')])))
      .toBe(fatal(1, 'daemonize yes', 'Sabre does not daemonize: run it under a service manager'));
    expect(configError(() => fromArgv([writeConf('unixsocket /tmp/x.sock\n')])))
      .toBe(fatal(1, 'unixsocket /tmp/x.sock', 'Sabre does not support unix sockets'));
    expect(fromArgv([writeConf('daemonize no\nunixsocket ""\n')]).daemonize).toBe(false);
  });

  it('follows includes, with the included file\'s own line numbers', () => {
    const inner = writeConf('maxclients 77\n');
    const c = fromArgv([writeConf(`port 7001\ninclude ${inner}\ntimeout 5\n`)]);
    expect([c.port, c.maxclients, c.timeout]).toEqual([7001, 77, 5]);

    const bad = writeConf('\n\nmaxclients 0\n');
    expect(configError(() => fromArgv([writeConf(`port 7001\ninclude ${bad}\n`)])))
      .toBe(fatal(3, 'maxclients 0', 'argument must be between 1 and 4294967295 inclusive'));

    // A wildcard that matches nothing is fine (empty conf.d); files are read in name order.
    const d = fs.mkdtempSync(path.join(tmp, 'confd-'));
    fs.writeFileSync(path.join(d, 'b.conf'), 'timeout 9\n');
    fs.writeFileSync(path.join(d, 'a.conf'), 'timeout 8\nmaxclients 5\n');
    const g = fromArgv([writeConf(`include ${d}/*.conf\ninclude ${d}/none-*.conf\n`)]);
    expect([g.timeout, g.maxclients]).toEqual([9, 5]);
  });

  it('fails when a file can not be opened', () => {
    const missing = path.join(tmp, 'missing.conf');
    expect(configError(() => fromArgv([missing])))
      .toBe(`Fatal error, can't open config file '${missing}': No such file or directory\n`);
    expect(configError(() => fromArgv([writeConf(`include ${missing}\n`)])))
      .toBe(`Fatal error, can't open config file '${missing}': No such file or directory\n`);
  });

  it('checks that the log file can be opened', () => {
    expect(configError(() => fromArgv(['--logfile', path.join(tmp, 'no-such-dir', 'x.log')])))
      .toBe(`\n*** FATAL CONFIG FILE ERROR (Sabre ${SABRE_VERSION}) ***\nCan't open the log file: No such file or directory\n`);
  });

  it('accepts the directives Redis 7.0 silently ignores', () => {
    expect(fromArgv([writeConf('list-max-ziplist-entries 5\nlist-max-ziplist-value 7\nport 1\n')]).port).toBe(1);
  });
});

describe('command line', () => {
  it('appends --options after the file, values running to the next --', () => {
    const f = writeConf('port 7000\nmaxclients 5');
    const c = fromArgv([f, '--port', '7002', '--bind', '127.0.0.1', '::1', '--save', '--timeout', '3']);
    expect(c.port).toBe(7002);
    expect(c.maxclients).toBe(5);
    expect(c.bind).toEqual(['127.0.0.1', '::1']);
    expect(c.save).toEqual([]);
    expect(c.timeout).toBe(3);
    expect(fromArgv(['--save', '60', '1', '--save', '70', '2']).save).toEqual([[60, 1], [70, 2]]);
    expect(fromArgv(['--port 7003']).port).toBe(7003); // name and value in one argument
    expect(fromArgv(['--requirepass', 'a b"c\\']).requirepass).toBe('a b"c\\');
  });

  it('reports option errors at the line they become', () => {
    expect(configError(() => fromArgv(['--port', 'abc'])))
      .toBe(fatal(2, 'port "abc"', "argument couldn't be parsed into an integer"));
    expect(configError(() => fromArgv(['--foo', 'bar', 'baz'])))
      .toBe(fatal(2, 'foo "bar" "baz"', 'Bad directive or wrong number of arguments'));
    expect(configError(() => fromArgv(['--port', '1', '2'])))
      .toBe(fatal(2, 'port "1" "2"', 'wrong number of arguments'));
    expect(configError(() => fromArgv(['--port'])))
      .toBe(fatal(2, 'port', 'wrong number of arguments'));
    expect(configError(() => fromArgv(['--save', '--port', 'abc'])))
      .toBe(fatal(3, 'port "abc"', "argument couldn't be parsed into an integer"));
    expect(configError(() => fromArgv(['--bind', '1.2.3.4', '5.6.7.8', '--port', 'abc'])))
      .toBe(fatal(3, 'port "abc"', "argument couldn't be parsed into an integer"));
    // File lines come first: "port 1\n" + "\n" + options.
    expect(configError(() => fromArgv([writeConf('port 1\n'), '--port', 'x'])))
      .toBe(fatal(3, 'port "x"', "argument couldn't be parsed into an integer"));
  });

  it('reads config from stdin with -', () => {
    expect(fromArgv(['-'], 'port 7004\n').port).toBe(7004);
    expect(fromArgv(['--timeout', '4', '-'], 'port 7005\n')).toMatchObject({ port: 7005, timeout: 4 });
  });

  it('handles --version and --help like redis-server', () => {
    const v = specialArgvAction(['--version'])!;
    expect(v.stream).toBe('stdout');
    expect(v.exitCode).toBe(0);
    expect(v.text).toMatch(/^Sabre server v=0\.1\.0 sha=00000000:0 malloc=libc bits=64 build=[0-9a-f]+\n$/);
    expect(specialArgvAction(['-v'])!.text).toBe(v.text);
    const h = specialArgvAction(['--help'])!;
    expect([h.stream, h.exitCode]).toEqual(['stderr', 1]);
    expect(h.text).toContain('Usage: sabre-server [/path/to/redis.conf] [options] [-]');
    expect(specialArgvAction(['--port', '1'])).toBeNull();
    expect(specialArgvAction([])).toBeNull();
  });
});

describe('CONFIG GET', () => {
  it('globs over names and aliases, nocase, each parameter once', () => {
    const c = fromArgv([]);
    const names = c.get(['*max-*-entries']).map(([n]) => n);
    expect(new Set(names)).toEqual(new Set([
      'hash-max-listpack-entries', 'hash-max-ziplist-entries', 'set-max-intset-entries',
      'zset-max-listpack-entries', 'zset-max-ziplist-entries']));
    expect(c.get(['port', 'port', 'PORT'])).toEqual([['port', '6379']]);
    expect(c.get(['Port'])).toEqual([['Port', '6379']]); // exact names answer under the given spelling
    expect(c.get(['PORT', 'p*']).filter(([n]) => n.toLowerCase() === 'port')).toEqual([['PORT', '6379']]);
    expect(c.get(['P*RT'])).toEqual([['port', '6379']]);
    expect(c.get(['nonexistent'])).toEqual([]);
    expect(c.get(['lua-time-limit', 'busy-reply-threshold'])).toEqual([['lua-time-limit', '5000'], ['busy-reply-threshold', '5000']]);
    const all = c.get(['*']);
    expect(new Set(all.map(([n]) => n)).size).toBe(all.length);
  });
});

describe('CONFIG SET', () => {
  it('sets values and typed fields', () => {
    const c = fromArgv([]);
    expect(c.set(['maxmemory', '1KB', 'maxmemory-policy', 'ALLKEYS-LRU', 'timeout', '30'])).toBeNull();
    expect([c.maxmemory, c.maxmemoryPolicy, c.timeout]).toEqual([1024, 'allkeys-lru', 30]);
    expect(c.set(['save', '3600 1 300 100'])).toBeNull();
    expect(c.get(['save'])).toEqual([['save', '3600 1 300 100']]);
    expect(c.set(['save', ''])).toBeNull();
    expect(c.save).toEqual([]);
    expect(c.set(['bind', '127.0.0.1 ::1'])).toBeNull();
    expect(c.bind).toEqual(['127.0.0.1', '::1']);
    expect(c.set(['hz', '0'])).toBeNull();
    expect(c.get(['hz'])).toEqual([['hz', '1']]);
    expect(c.set(['maxmemory', '18446744073709551615'])).toBeNull();
    expect(c.get(['maxmemory'])).toEqual([['maxmemory', '18446744073709551615']]);
    expect(c.set(['notify-keyspace-events', 'ndtmKx'])).toBeNull();
    expect(c.get(['notify-keyspace-events'])).toEqual([['notify-keyspace-events', 'xtdnKm']]);
    expect(c.set(['maxmemory-clients', '10%'])).toBeNull();
    expect(c.get(['maxmemory-clients'])).toEqual([['maxmemory-clients', '10%']]);
  });

  it('answers with Redis 7.0.15 error texts', () => {
    const c = fromArgv([]);
    const cases: Array<[string[], string]> = [
      [['xyz', '1'], "ERR Unknown option or number of arguments for CONFIG SET - 'xyz'"],
      [['port', 'abc'], "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer"],
      [['PORT', 'abc'], "ERR CONFIG SET failed (possibly related to argument 'port') - argument couldn't be parsed into an integer"],
      [['port', '70000'], "ERR CONFIG SET failed (possibly related to argument 'port') - argument must be between 0 and 65535 inclusive"],
      [['databases', '3'], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"],
      [['port', '1', 'port', '2'], "ERR CONFIG SET failed (possibly related to argument 'port') - duplicate parameter"],
      [['port', '1', 'PORT', '2'], "ERR CONFIG SET failed (possibly related to argument 'PORT') - duplicate parameter"],
      [['maxmemory', '-1'], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"],
      [['maxclients', '0'], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"],
      [['proto-max-bulk-len', '1000'], "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and 9223372036854775807 inclusive"],
      [['loglevel', 'foo'], "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"],
      [['appendonly', 'maybe'], "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'"],
      [['timeout', '05'], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"],
      [['timeout', '+5'], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"],
      [['list-max-ziplist-size', 'abc'], "ERR CONFIG SET failed (possibly related to argument 'list-max-ziplist-size') - argument couldn't be parsed into an integer"],
      [['set-max-intset-entries', '-1'], "ERR CONFIG SET failed (possibly related to argument 'set-max-intset-entries') - argument must be between 0 and 9223372036854775807 inclusive"],
      [['save', '3600'], "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"],
      [['dir', '/tmp'], "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"],
      [['dbfilename', 'x.rdb'], "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"],
      [['notify-keyspace-events', 'Q'], "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."],
      [['databases', '2', 'xyz', '1'], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"],
      [['xyz', '1', 'databases', '2'], "ERR Unknown option or number of arguments for CONFIG SET - 'xyz'"],
      [['port', 'abc', 'databases', '2'], "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"],
      [['port', '1', '2'], 'ERR syntax error'],
    ];
    for (const [args, err] of cases) expect([args, c.set(args)]).toEqual([args, err]);
    expect(c.port).toBe(6379);
    // An alias and its primary name are different entries: not a duplicate.
    expect(c.set(['hash-max-ziplist-entries', '1', 'hash-max-listpack-entries', '2'])).toBeNull();
    expect(c.hashMaxListpackEntries).toBe(2);
  });

  it('is all or nothing', () => {
    const c = fromArgv([]);
    expect(c.set(['maxmemory', '100mb', 'timeout', '7', 'hz', 'abc']))
      .toBe("ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer");
    expect([c.maxmemory, c.timeout, c.hz]).toEqual([0, 0, 10]);
    expect(c.get(['maxmemory', 'timeout'])).toEqual([['maxmemory', '0'], ['timeout', '0']]);
  });

  it('refuses DENY_LOADING configs while loading and honours enable-protected-configs', () => {
    const c = fromArgv([]);
    expect(c.set(['appendonly', 'yes'], { loading: true })).toBe('LOADING Redis is loading the dataset in memory');
    expect(c.appendonly).toBe(false);
    const local = fromArgv(['--enable-protected-configs', 'local']);
    expect(local.set(['dbfilename', 'x.rdb'])).toBe("ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config");
    expect(local.set(['dbfilename', 'x.rdb'], { localClient: true })).toBeNull();
    expect(local.dbfilename).toBe('x.rdb');
    const yes = fromArgv(['--enable-protected-configs', 'yes']);
    expect(yes.set(['dir', tmp])).toBeNull();
    expect(yes.dir).toBe(fs.realpathSync(tmp));
    expect(yes.set(['dir', path.join(tmp, 'nope')]))
      .toBe("ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory");
  });

  it('notifies listeners on change only, and rolls back when one refuses', () => {
    const c = fromArgv([]);
    const seen: string[] = [];
    c.onChange('port', (cfg) => { seen.push(`port=${cfg.port}`); });
    c.onChange('maxmemory', (cfg) => (cfg.maxmemory > 1000 ? 'Unable to apply' : undefined));
    expect(c.set(['port', '7000'])).toBeNull();
    expect(c.set(['port', '7000'])).toBeNull(); // same value: no notification
    expect(seen).toEqual(['port=7000']);
    expect(c.set(['port', '7001', 'maxmemory', '5000']))
      .toBe("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - Unable to apply");
    expect([c.port, c.maxmemory]).toEqual([7000, 0]);
    expect(seen).toEqual(['port=7000', 'port=7001', 'port=7000']); // applied, then restored
    expect(() => c.onChange('nope', () => undefined)).toThrow();
  });
});

describe('CONFIG REWRITE', () => {
  it('needs a config file', () => {
    expect(fromArgv([]).rewrite()).toBe('ERR The server is running without a config file');
  });

  it('rewrites changed lines in place, blanks orphans, appends the rest', () => {
    const inc = writeConf('');
    const f = writeConf([
      '# hello', 'port 7395', 'bind 127.0.0.2', `include ${inc}`, 'hash-max-ziplist-entries 7',
      'save 60 1', 'save 70 2', '', '', '', 'maxmemory 1mb', 'list-max-ziplist-entries 5',
      'loglevel notice', 'appendfsync always', '',
    ].join('\n'));
    const c = fromArgv([f]);
    expect(c.set(['maxmemory', '3gb', 'notify-keyspace-events', 'Ex', 'requirepass', 'a b"c', 'save', '70 2'])).toBeNull();
    expect(c.set(['client-output-buffer-limit', 'pubsub 1mb 2k 5'])).toBeNull();
    expect(c.rewrite()).toBeNull();
    expect(fs.readFileSync(f, 'utf8')).toBe([
      '# hello', 'port 7395', 'bind 127.0.0.2', `include ${inc}`, 'hash-max-listpack-entries 7',
      'save 70 2', '', 'maxmemory 3gb', '# ??? list-max-ziplist-entries 5', 'loglevel notice', 'appendfsync always',
      '', '# Generated by CONFIG REWRITE',
      'requirepass "a b\\"c"',
      `dir ${sdsrepr(fs.realpathSync(process.cwd()))}`,
      'client-output-buffer-limit pubsub 1mb 2000 5',
      'notify-keyspace-events "xE"',
      'latency-tracking-info-percentiles 50 99 99.9',
      '',
    ].join('\n'));
    // The rewritten file loads back to the same values.
    const again = fromArgv([f]);
    for (const name of ['maxmemory', 'notify-keyspace-events', 'requirepass', 'save', 'client-output-buffer-limit', 'port', 'bind']) {
      expect(again.get([name])).toEqual(c.get([name]));
    }
    // Rewriting again keeps the values. (Like Redis, the per-class
    // client-output-buffer-limit lines shuffle until each class has a line.)
    expect(again.rewrite()).toBeNull();
    const third = fromArgv([f]);
    for (const name of ['maxmemory', 'requirepass', 'save', 'client-output-buffer-limit', 'hash-max-listpack-entries']) {
      expect(third.get([name])).toEqual(c.get([name]));
    }
    // Without such multi-line parameters rewriting converges at once (the
    // second rewrite adds the blank line Redis's split leaves at the end).
    const g = writeConf('port 7000\nmaxmemory 1mb\n');
    expect(fromArgv([g]).rewrite()).toBeNull();
    expect(fromArgv([g]).rewrite()).toBeNull();
    const twice = fs.readFileSync(g, 'utf8');
    expect(fromArgv([g]).rewrite()).toBeNull();
    expect(fs.readFileSync(g, 'utf8')).toBe(twice);
  });
});

/* ------------------------------------------------------------------------
 * Live cross-checks against redis-server 7.0.15
 * --------------------------------------------------------------------- */

describe.runIf(HAVE_REDIS)('cross-check with redis-server', () => {
  let redis: ServerHandle;
  let client: RawClient;
  beforeAll(async () => {
    redis = await startRedis();
    client = await RawClient.connect(redis.port);
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /* Parameters whose values differ by design or by environment. */
  const DIFFERENT = new Set(['port', 'bind', 'protected-mode', 'save', 'dir', 'logfile', 'daemonize', 'pidfile']);
  /* Redis 7.0.15 parameters Sabre does not have (TLS, replicaof, shutdown flags). */
  const NOT_IN_SABRE = /^(tls-|replicaof$|slaveof$|shutdown-on-sig)/;

  function bulkPairs(reply: Buffer): [string, string][] {
    const parts = reply.toString('utf8').split('\r\n');
    const out: [string, string][] = [];
    for (let i = 1; i + 3 < parts.length; i += 4) out.push([parts[i + 1], parts[i + 3]]);
    return out;
  }

  it('has the same parameters and default values', async () => {
    const theirs = new Map(bulkPairs(await client.command('CONFIG', 'GET', '*')));
    const ours = new Map(fromArgv([]).get(['*']));
    const missing = [...theirs.keys()].filter((n) => !ours.has(n) && !NOT_IN_SABRE.test(n));
    expect(missing).toEqual([]);
    const extra = [...ours.keys()].filter((n) => !theirs.has(n));
    expect(extra).toEqual(['shards']);
    for (const [name, value] of theirs) {
      if (!ours.has(name) || DIFFERENT.has(name)) continue;
      expect([name, ours.get(name)]).toEqual([name, value]);
    }
  });

  it('gives the same CONFIG SET replies and resulting values', async () => {
    const c = fromArgv([]);
    const cmds: string[][] = [
      ['xyz', '1'], ['port', 'abc'], ['PORT', '99999'], ['databases', '3'], ['timeout', '1', 'TIMEOUT', '2'],
      ['maxmemory', '1x'], ['maxmemory', ''], ['maxmemory', '1KB'], ['maxmemory', '20000000000gb'],
      ['maxmemory', '18446744073709551616'], ['maxmemory', '0'], ['maxclients', '1.5'], ['maxclients', '4294967296'],
      ['proto-max-bulk-len', '9223372036854775808'], ['proto-max-bulk-len', '9223372036854775807'],
      ['proto-max-bulk-len', '512mb'], ['slowlog-log-slower-than', '-2'], ['slowlog-log-slower-than', '-1'],
      ['slowlog-max-len', '-1'], ['lfu-log-factor', '2147483648'], ['timeout', '-0'], ['timeout', ' 5'],
      ['hz', '1000'], ['hz', '-1'], ['hz', '10'], ['loglevel', 'WARNING'], ['loglevel', 'notice'],
      ['maxmemory-policy', 'foo'], ['appendfsync', 'x'], ['latency-tracking', '1'], ['active-expire-effort', '11'],
      ['notify-keyspace-events', 'gx$lshzetdnKEm'], ['notify-keyspace-events', 'g$lshzxet'],
      ['notify-keyspace-events', 'An'], ['notify-keyspace-events', 'Z'], ['notify-keyspace-events', ''],
      ['save', '1  2'], ['save', 'a b'], ['save', ''], ['io-threads', '2'], ['unixsocket', '/x'],
      ['hash-max-ziplist-value', '1kb'], ['hash-max-listpack-value', '64'], ['list-max-listpack-size', '-5'],
      ['maxmemory-clients', '10%'], ['maxmemory-clients', '101%'], ['maxmemory-clients', '0'],
      ['client-output-buffer-limit', 'pubsub 1mb 2k'], ['client-output-buffer-limit', 'master 1 1 1'],
      ['client-output-buffer-limit', 'pubsub 1mb 2k x'], ['client-output-buffer-limit', 'replica 1mb 2k 5'],
      ['oom-score-adj-values', '1 2'], ['oom-score-adj-values', '1 2 3000'],
      ['latency-tracking-info-percentiles', '50 99.99'], ['latency-tracking-info-percentiles', '101'],
      ['latency-tracking-info-percentiles', '50 99 99.9'], ['dbfilename', 'a/b'], ['dir', '/tmp'],
      ['maxmemory', '100mb', 'hz', 'abc'], ['lua-time-limit', '-1'], ['busy-reply-threshold', '6000'],
      ['unixsocketperm', '700'], ['cluster-announce-hostname', 'bad_host'],
    ];
    for (const args of cmds) {
      const theirs = (await client.command('CONFIG', 'SET', ...args)).toString('utf8');
      const r = c.set(args);
      expect([args, r === null ? '+OK\r\n' : `-${r}\r\n`]).toEqual([args, theirs]);
      const names = [...new Set(args.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()))];
      const got = bulkPairs(await client.command('CONFIG', 'GET', ...names));
      for (const [n, v] of got) if (!DIFFERENT.has(n)) expect([n, c.getValue(n)]).toEqual([n, v]);
    }
  });

  it('fails config files with the same text as redis-server', () => {
    // Every case starts with "port 0": if redis-server ever accepted one, it
    // would exit at once ("not listening anywhere") rather than bind 6379.
    const cases = [
      'foo bar', 'port abc', 'port 1 2', 'port "1', 'maxmemory 1x', 'loglevel loud', 'appendonly maybe',
      'save 0 1', 'save 1', 'databases 0', 'notify-keyspace-events Q', 'bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17',
      'client-output-buffer-limit normal 1', "requirepass 'a'b", 'hz -1', 'include',
      'maxmemory-clients 101%', 'appendfilename ""', 'dbfilename a/b',
    ];
    for (const line of cases) {
      const f = writeConf(`port 0\nbind 127.0.0.1\n${line}\n`);
      const r = spawnSync(REDIS_SERVER, [f], { encoding: 'utf8', timeout: 5000 });
      const expected = r.stderr.replace(/\(Redis [0-9.]+\)/, `(Sabre ${SABRE_VERSION})`);
      expect([line, r.status]).toEqual([line, 1]);
      expect([line, configError(() => fromArgv([f]))]).toEqual([line, expected]);
    }
    // Options after the file.
    const f = writeConf('port 0\n');
    for (const opts of [['--port', 'x'], ['--save', '--port', 'x'], ['--bind', 'a', 'b', '--maxmemory', '1 2'], ['--nope']]) {
      const r = spawnSync(REDIS_SERVER, [f, ...opts], { encoding: 'utf8', timeout: 5000 });
      const expected = r.stderr.replace(/\(Redis [0-9.]+\)/, `(Sabre ${SABRE_VERSION})`);
      expect([opts, configError(() => fromArgv([f, ...opts]))]).toEqual([opts, expected]);
    }
  });
});

describe('logger', () => {
  it('maps Redis log levels and follows CONFIG SET loglevel', async () => {
    const { initLogger, pinoLevel, flushLog } = await import('../src/server/logger');
    expect(['debug', 'verbose', 'notice', 'warning'].map(pinoLevel)).toEqual(['debug', 'verbose', 'info', 'warn']);
    const file = path.join(tmp, 'sabre.log');
    const c = fromArgv(['--logfile', file, '--loglevel', 'notice']);
    const log = initLogger(c);
    expect(log.level).toBe('info');
    log.verbose('hidden');
    log.info('shown');
    expect(c.set(['loglevel', 'verbose'])).toBeNull();
    expect(log.level).toBe('verbose');
    log.verbose('now shown');
    const deadline = Date.now() + 5000;
    let lines: Array<{ level: number; msg: string }> = [];
    while (Date.now() < deadline) {
      try { flushLog(); } catch { /* not open yet */ }
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      if (lines.length >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[30, 'shown'], [25, 'now shown']]);
  });
});

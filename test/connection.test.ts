// Connection and server commands that run on the io thread (PING ECHO HELLO AUTH
// SELECT QUIT RESET CLIENT COMMAND TIME CONFIG SLOWLOG SHUTDOWN), compared byte for
// byte with the reference redis-server 7.0.15 on the same command sequences, in
// every threading mode (--shards 0 inline, --shards 2 with worker threads).
//
// Only what legitimately differs between two servers is normalised: client ids,
// addresses and ports, ages, buffer sizes, times, durations (see normalize()).
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, encodeCommand, escapeBytes, replyElements } from './helpers/resp';
import { ServerHandle, freePort, redisCli, repoRoot, startRedis, startSabre } from './helpers/servers';

type Cmd = readonly (string | Buffer)[];
const PASS = 's3cret';

/** Volatile CLIENT LIST fields: their values differ between any two servers. */
const VOLATILE_CLIENT_FIELDS =
  /\b(id|addr|laddr|fd|age|idle|qbuf|qbuf-free|argv-mem|multi-mem|rbs|rbp|obl|oll|omem|tot-mem|events)=\S*/g;

/**
 * A reply rendered readably, with what legitimately differs replaced by placeholders:
 * the id in HELLO's map, the values of volatile CLIENT LIST/INFO fields (and so the
 * bulk length), SLOWLOG entry ids, times, durations and peers.
 */
function normalize(reply: Buffer): string {
  let s = reply.toString('latin1');
  s = s.replace(/(\$2\r\nid\r\n):\d+\r\n/g, '$1:<id>\r\n');
  if (/(^|[\r\n:])id=\d+ addr=/.test(s)) {
    s = s.replace(/^([$=])\d+\r\n/, '$1<len>\r\n').replace(VOLATILE_CLIENT_FIELDS, '$1=*');
  }
  return escapeBytes(s, 100_000);
}

/** Runs cmds one at a time on a fresh connection; a closed connection ends the transcript. */
async function transcript(port: number, cmds: readonly Cmd[]): Promise<string[]> {
  const c = await RawClient.connect(port);
  const out: string[] = [];
  try {
    for (const cmd of cmds) {
      try {
        out.push(normalize(await c.command(...cmd)));
      } catch (err) {
        out.push(`<closed: ${(err as Error).message}>`);
        break;
      }
    }
  } finally {
    c.close();
  }
  return out;
}

/** Writes raw bytes in one go and returns everything received until the server closes or `until` arrives. */
function rawExchange(port: number, bytes: Buffer | string, until: string | null, timeoutMs = 3000): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (until !== null && data.endsWith(until)) finish(false);
    });
    sock.on('close', () => finish(true));
    sock.on('error', (e) => {
      if (!done) reject(e);
    });
  });
}

function pipelineBytes(cmds: readonly Cmd[]): Buffer {
  return Buffer.concat(cmds.map((c) => encodeCommand(c)));
}

function words(line: string): string[] {
  return line.split(' ');
}

/** The bulk/verbatim payload of a CLIENT INFO/LIST reply. */
function payload(reply: Buffer): string {
  const s = reply.toString('latin1');
  const body = s.slice(s.indexOf('\r\n') + 2, -2);
  return s[0] === '=' ? body.slice(4) : body;
}

function fieldNames(line: string): string[] {
  return words(line.trim()).map((kv) => kv.slice(0, kv.indexOf('=')));
}

function field(line: string, name: string): string {
  const kv = words(line.trim()).find((w) => w.startsWith(`${name}=`));
  if (kv === undefined) throw new Error(`no ${name}= in ${line}`);
  return kv.slice(name.length + 1);
}

function integerOf(reply: Buffer): number {
  const s = reply.toString('latin1');
  if (s[0] !== ':') throw new Error(`not an integer reply: ${escapeBytes(s)}`);
  return Number(s.slice(1, -2));
}

function waitExit(h: ServerHandle, ms: number): Promise<boolean> {
  if (h.proc.exitCode !== null || h.proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    h.proc.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

// The reference servers are shared by both modes: every sequence leaves them as it found them.
let redis: ServerHandle;
let redisAuth: ServerHandle;

/**
 * A server that requires PASS. startSabre/startRedis wait for +PONG, which a
 * password-protected server never answers, so the password is set once it is up.
 */
async function withPassword(h: ServerHandle): Promise<ServerHandle> {
  const c = await RawClient.connect(h.port);
  try {
    expect((await c.command('CONFIG', 'SET', 'requirepass', PASS)).toString()).toBe('+OK\r\n');
  } finally {
    c.close();
  }
  return h;
}

beforeAll(async () => {
  [redis, redisAuth] = await Promise.all([startRedis(), startRedis().then(withPassword)]);
});

afterAll(async () => {
  await Promise.all([redis?.stop(), redisAuth?.stop()]);
});

describe.each([0, 2])('io-thread commands, --shards %i', (shards) => {
  let sabre: ServerHandle;
  let sabreAuth: ServerHandle;

  beforeAll(async () => {
    [sabre, sabreAuth] = await Promise.all([
      startSabre(['--shards', String(shards)]),
      startSabre(['--shards', String(shards)]).then(withPassword),
    ]);
  });

  afterAll(async () => {
    await Promise.all([sabre?.stop(), sabreAuth?.stop()]);
  });

  /** Same sequence on a fresh connection to each server; the transcripts must match. */
  async function same(cmds: readonly Cmd[], auth = false): Promise<string[]> {
    const [s, r] = await Promise.all([
      transcript(auth ? sabreAuth.port : sabre.port, cmds),
      transcript(auth ? redisAuth.port : redis.port, cmds),
    ]);
    expect(s).toEqual(r);
    return s;
  }

  it('PING and ECHO, in RESP2 and RESP3, with arity errors', async () => {
    const t = await same([
      ['PING'], ['ping', 'hello world'], ['PING', 'a', 'b'], ['PING', ''],
      ['ECHO'], ['ECHO', 'x'], ['ECHO', 'x', 'y'], ['ECHO', ''], ['ECHO', Buffer.from([0, 0xff, 13, 10])],
      ['HELLO', '3'], ['PING'], ['PING', 'x'], ['ECHO', 'y'], ['PING', 'a', 'b'],
    ]);
    expect(t[0]).toBe('+PONG\\r\\n');
    expect(t[2]).toBe("-ERR wrong number of arguments for 'ping' command\\r\\n");
  });

  it('HELLO: versions, errors, AUTH and SETNAME options (applied as parsed)', async () => {
    const t = await same([
      ['HELLO'], ['HELLO', '2'], ['HELLO', '3'], ['HELLO', '1'], ['HELLO', '4'], ['HELLO', '-1'], ['HELLO', '0'],
      ['HELLO', 'abc'], ['HELLO', '3.0'], ['HELLO', '03'], ['HELLO', '99999999999'], ['HELLO', '99999999999999999999'],
      ['HELLO', 'AUTH', 'default', 'x'], ['HELLO', 'SETNAME', 'x'],
      ['HELLO', '3', 'foo'], ['HELLO', '3', 'AUTH', 'default'], ['HELLO', '3', 'SETNAME'],
      ['HELLO', '2', 'AUTH', 'default', 'anything'], ['HELLO', '2', 'AUTH', 'nosuchuser', 'x'], ['HELLO', '2', 'auth', 'DEFAULT', 'x'],
      ['HELLO', '2', 'SETNAME', 'first'], ['CLIENT', 'GETNAME'],
      ['HELLO', '2', 'SETNAME', 'a b'], ['CLIENT', 'GETNAME'],
      ['HELLO', '2', 'SETNAME', 'kept', 'bogus'], ['CLIENT', 'GETNAME'],
      ['HELLO', '3', 'SETNAME', 'x y', 'AUTH', 'nosuch', 'x'],
      ['HELLO', '3', 'AUTH', 'nosuch', 'x', 'SETNAME', 'x y'],
      ['HELLO', '2', 'SETNAME', 'a', 'SETNAME', 'b'], ['CLIENT', 'GETNAME'],
      ['HELLO', '2', 'setname', ''], ['CLIENT', 'GETNAME'],
      ['PING'],
    ]);
    expect(t[2].startsWith('%7\\r\\n$6\\r\\nserver\\r\\n$5\\r\\nredis\\r\\n$7\\r\\nversion\\r\\n$6\\r\\n7.0.15')).toBe(true);
    expect(t[5]).toBe('-NOPROTO unsupported protocol version\\r\\n');
  });

  it('HELLO: the id is the connection id, and the protocol sticks', async () => {
    const c = await RawClient.connect(sabre.port);
    try {
      const id = integerOf(await c.command('CLIENT', 'ID'));
      const hello = replyElements(await c.command('HELLO', '3'))!;
      expect(hello.header.toString()).toBe('%7\r\n');
      expect(hello.elements[7].toString()).toBe(`:${id}\r\n`);
      expect((await c.command('CLIENT', 'GETNAME')).toString()).toBe('_\r\n'); // RESP3 null
      expect((await c.command('HELLO')).toString()).toMatch(/^%7\r\n/); // no version: keeps RESP3
    } finally {
      c.close();
    }
  });

  it('AUTH with no password configured', async () => {
    await same([
      ['AUTH'], ['AUTH', 'x'], ['AUTH', 'default', 'x'], ['AUTH', 'default', ''], ['AUTH', 'nosuch', 'x'],
      ['AUTH', 'Default', 'x'], ['AUTH', 'a', 'b', 'c'], ['PING'],
    ]);
  });

  it('requirepass: NOAUTH before AUTH, HELLO/AUTH allowed, wrong and right passwords, RESET de-authenticates', async () => {
    const t = await same([
      ['PING'], ['GET', 'k'], ['SET', 'k', 'v'], ['CLIENT', 'ID'], ['CLIENT', 'SETNAME', 'x'], ['SELECT', '1'],
      ['NOSUCHCMD', 'x'], ['GET'], ['AUTH'],
      ['HELLO'], ['HELLO', '3'], ['HELLO', '2', 'SETNAME', 'early'], ['HELLO', '9'],
      ['AUTH', 'wrong'], ['AUTH', 'default', 'wrong'], ['AUTH', 'nosuch', PASS], ['AUTH', 'a', 'b', 'c'],
      ['HELLO', '3', 'AUTH', 'default', 'wrong'], ['PING'],
      ['AUTH', PASS], ['PING'], ['CLIENT', 'GETNAME'],
      ['AUTH', 'wrong'], ['PING'], // a failed AUTH does not log out
      ['RESET'], ['PING'],
      ['AUTH', 'default', PASS], ['PING'],
      ['RESET'],
      ['HELLO', '3', 'AUTH', 'default', PASS, 'SETNAME', 'named'], ['CLIENT', 'GETNAME'], ['PING'],
      ['HELLO', '2', 'AUTH', 'default', 'wrong'], ['PING'],
      ['RESET'], ['HELLO', '3', 'SETNAME', 'good', 'bogus'], ['AUTH', PASS], ['CLIENT', 'GETNAME'],
    ], true);
    expect(t[0]).toBe('-NOAUTH Authentication required.\\r\\n');
    expect(t[20]).toBe('+PONG\\r\\n');
  });

  it('--requirepass on the command line: connections must AUTH first', async () => {
    // startSabre waits for +PONG, which this server never sends before AUTH: spawned here.
    const port = await freePort();
    const main = path.join(repoRoot(), 'dist', 'src', 'main.js');
    const proc = spawn(process.execPath, [main, '--port', String(port), '--shards', String(shards), '--requirepass', PASS], { stdio: 'ignore' });
    const exited = new Promise((r) => proc.once('exit', r));
    try {
      let first = '';
      for (const deadline = Date.now() + 10_000; first === '' && Date.now() < deadline; ) {
        first = await rawExchange(port, encodeCommand(['PING']), '\r\n', 1000).then((r) => r.data, () => '');
        if (first === '') await new Promise((r) => setTimeout(r, 50));
      }
      expect(first).toBe('-NOAUTH Authentication required.\r\n');
      const cmds: Cmd[] = [['GET', 'k'], ['AUTH', 'wrong'], ['AUTH', PASS], ['PING'], ['CONFIG', 'GET', 'requirepass']];
      const [s, r] = await Promise.all([transcript(port, cmds), transcript(redisAuth.port, cmds)]);
      expect(s).toEqual(r);
      expect(s[3]).toBe('+PONG\\r\\n');
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
  });

  it('SELECT: range, non-integers, and the database really changes', async () => {
    await same([
      ['SELECT'], ['SELECT', '1', '2'], ['SELECT', '16'], ['SELECT', '-1'], ['SELECT', 'abc'], ['SELECT', '1.5'],
      ['SELECT', '01'], ['SELECT', '+1'], ['SELECT', '-0'], ['SELECT', ' 1'], ['SELECT', '2147483648'],
      ['SELECT', '-2147483649'], ['SELECT', '99999999999999999999'],
      ['SELECT', '15'], ['DEL', 'conn:sel'], ['SET', 'conn:sel', 'fifteen'],
      ['SELECT', '0'], ['GET', 'conn:sel'], ['SELECT', '15'], ['GET', 'conn:sel'], ['DEL', 'conn:sel'],
    ]);
  });

  it('QUIT: +OK, then the connection closes and pipelined commands after it do not run', async () => {
    const bytes = pipelineBytes([['QUIT'], ['SET', 'conn:quit', 'ran']]);
    const [s, r] = await Promise.all([rawExchange(sabre.port, bytes, null), rawExchange(redis.port, bytes, null)]);
    expect(s).toEqual({ data: '+OK\r\n', closed: true });
    expect(s).toEqual(r);
    await same([['GET', 'conn:quit'], ['QUIT', 'extra']]);
  });

  it('RESET: back to db 0, RESP2, no name, replies on; NO-EVICT survives', async () => {
    const t = await same([
      ['DEL', 'conn:reset'], ['SET', 'conn:reset', 'db0'],
      ['SELECT', '5'], ['HELLO', '3', 'SETNAME', 'resetme'], ['CLIENT', 'NO-EVICT', 'on'], ['RESET'],
      ['GET', 'conn:reset'], ['CLIENT', 'GETNAME'], ['PING'], ['CLIENT', 'INFO'], ['RESET', 'x'],
      ['DEL', 'conn:reset'],
    ]);
    expect(t[5]).toBe('+RESET\\r\\n');
    expect(t[9]).toContain('flags=e db=0');
    // RESET turns replies back on, and answers itself.
    const bytes = pipelineBytes([['CLIENT', 'REPLY', 'OFF'], ['PING'], ['RESET'], ['PING']]);
    const [s, r] = await Promise.all([rawExchange(sabre.port, bytes, '+PONG\r\n'), rawExchange(redis.port, bytes, '+PONG\r\n')]);
    expect(s).toEqual({ data: '+RESET\r\n+PONG\r\n', closed: false });
    expect(s).toEqual(r);
  });

  it('CLIENT ID, SETNAME, GETNAME', async () => {
    await same([
      ['CLIENT'], ['CLIENT', 'ID', 'x'], ['CLIENT', 'GETNAME'], ['CLIENT', 'GETNAME', 'x'],
      ['CLIENT', 'SETNAME'], ['CLIENT', 'SETNAME', 'a', 'b'], ['CLIENT', 'SETNAME', 'a b'], ['CLIENT', 'SETNAME', 'a\nb'],
      ['CLIENT', 'SETNAME', 'caf\u00e9'], ['CLIENT', 'SETNAME', '~!name!~'], ['CLIENT', 'GETNAME'],
      ['CLIENT', 'SETNAME', ''], ['CLIENT', 'GETNAME'], ['client', 'setname', 'lower'], ['CLIENT', 'GETNAME'],
    ]);
    const c = await RawClient.connect(sabre.port);
    const d = await RawClient.connect(sabre.port);
    try {
      const a = integerOf(await c.command('CLIENT', 'ID'));
      const b = integerOf(await d.command('CLIENT', 'ID'));
      expect(b).toBeGreaterThan(a);
      expect(field(payload(await c.command('CLIENT', 'INFO')), 'id')).toBe(String(a));
    } finally {
      c.close();
      d.close();
    }
  });

  it('CLIENT INFO and CLIENT LIST: Redis 7.0 fields in Redis order, RESP2 bulk and RESP3 verbatim', async () => {
    await same([
      ['CLIENT', 'INFO'], ['CLIENT', 'SETNAME', 'lister'], ['SELECT', '2'], ['CLIENT', 'INFO'], ['CLIENT', 'INFO', 'x'],
      ['HELLO', '3'], ['CLIENT', 'INFO'],
      ['CLIENT', 'LIST', 'x'], ['CLIENT', 'LIST', 'TYPE'], ['CLIENT', 'LIST', 'TYPE', 'foo'], ['CLIENT', 'LIST', 'TYPE', 'pubsub'],
      ['CLIENT', 'LIST', 'TYPE', 'master'], ['CLIENT', 'LIST', 'TYPE', 'replica'], ['CLIENT', 'LIST', 'TYPE', 'slave'],
      ['CLIENT', 'LIST', 'TYPE', 'normal', 'x'], ['CLIENT', 'LIST', 'ID'], ['CLIENT', 'LIST', 'ID', 'abc'],
      ['CLIENT', 'LIST', 'ID', '0'], ['CLIENT', 'LIST', 'ID', '-5'], ['CLIENT', 'LIST', 'ID', '99999'],
      ['CLIENT', 'LIST', 'ID', '99999', 'abc'], ['CLIENT', 'LIST', 'ID', '99999999999999999999'], ['CLIENT', 'LIST', 'foo', 'bar'],
    ]);
    const fields = async (port: number) => {
      const c = await RawClient.connect(port);
      const other = await RawClient.connect(port);
      try {
        await other.command('CLIENT', 'SETNAME', 'other');
        const id = integerOf(await other.command('CLIENT', 'ID'));
        const info = payload(await c.command('CLIENT', 'INFO'));
        const list = payload(await c.command('CLIENT', 'LIST')).split('\n');
        const typed = payload(await c.command('CLIENT', 'LIST', 'TYPE', 'normal')).split('\n');
        const byId = payload(await c.command('CLIENT', 'LIST', 'ID', String(id), String(id))).split('\n');
        return {
          infoFields: fieldNames(info),
          infoEndsWithNewline: info.endsWith('\n'),
          listOther: list.filter((l) => l.includes(' name=other ')).length,
          typedOther: typed.filter((l) => l.includes(' name=other ')).length,
          byId: byId.map((l) => (l === '' ? '' : `${field(l, 'name')} ${field(l, 'cmd')} ${fieldNames(l).join(',')}`)),
        };
      } finally {
        c.close();
        other.close();
      }
    };
    const [s, r] = await Promise.all([fields(sabre.port), fields(redis.port)]);
    expect(s).toEqual(r);
    expect(s.infoFields).toEqual([
      'id', 'addr', 'laddr', 'fd', 'name', 'age', 'idle', 'flags', 'db', 'sub', 'psub', 'ssub', 'multi', 'qbuf',
      'qbuf-free', 'argv-mem', 'multi-mem', 'rbs', 'rbp', 'obl', 'oll', 'omem', 'tot-mem', 'events', 'cmd', 'user',
      'redir', 'resp',
    ]);
    expect(s.byId).toHaveLength(3); // the id listed twice, then the final ""
  });

  it('CLIENT KILL: argument errors, in Redis order', async () => {
    await same([
      ['CLIENT', 'KILL'], ['CLIENT', 'KILL', '1.2.3.4:5'], ['CLIENT', 'KILL', 'foo'], ['CLIENT', 'KILL', 'ID'],
      ['CLIENT', 'KILL', 'ID', 'abc'], ['CLIENT', 'KILL', 'ID', '0'], ['CLIENT', 'KILL', 'ID', '-1'],
      ['CLIENT', 'KILL', 'ID', '99999999999999999999'], ['CLIENT', 'KILL', 'ID', '999999'],
      ['CLIENT', 'KILL', 'TYPE', 'foo'], ['CLIENT', 'KILL', 'TYPE', 'pubsub'], ['CLIENT', 'KILL', 'TYPE', 'master'],
      ['CLIENT', 'KILL', 'TYPE', 'slave'], ['CLIENT', 'KILL', 'USER', 'foo'], ['CLIENT', 'KILL', 'SKIPME', 'maybe'],
      ['CLIENT', 'KILL', 'ADDR', '1.2.3.4:5'], ['CLIENT', 'KILL', 'LADDR', '1.2.3.4:5'], ['CLIENT', 'KILL', 'MAXAGE', '10'],
      ['CLIENT', 'KILL', 'foo', 'bar'], ['CLIENT', 'KILL', 'ID', '1', 'ID'], ['CLIENT', 'KILL', 'TYPE', 'foo', 'ID'],
      ['CLIENT', 'KILL', 'ID', 'abc', 'TYPE'], ['CLIENT', 'KILL', 'SKIPME', 'yes', 'ID'],
      ['CLIENT', 'KILL', 'USER', 'default', 'ID', '999999'], ['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes', 'ID', '999999'],
      ['PING'],
    ]);
  });

  it('CLIENT KILL really disconnects: by ID, by ADDR (new form), old form, and itself', async () => {
    const scenario = async (port: number) => {
      const log: string[] = [];
      const a = await RawClient.connect(port);
      const open = async () => {
        const c = await RawClient.connect(port);
        const id = integerOf(await c.command('CLIENT', 'ID'));
        const addr = field(payload(await c.command('CLIENT', 'INFO')), 'addr');
        return { c, id, addr };
      };
      const alive = async (c: RawClient) => {
        try {
          return (await c.command('PING')).toString() === '+PONG\r\n' ? 'alive' : 'odd';
        } catch {
          return 'closed';
        }
      };
      try {
        const b = await open();
        log.push(normalize(await a.command('CLIENT', 'KILL', 'ID', String(b.id))), await alive(b.c));
        const c = await open();
        log.push(normalize(await a.command('CLIENT', 'KILL', 'ADDR', c.addr, 'SKIPME', 'yes')), await alive(c.c));
        const d = await open();
        log.push(normalize(await a.command('CLIENT', 'KILL', d.addr)), await alive(d.c));
        log.push(normalize(await a.command('CLIENT', 'KILL', d.addr))); // already gone
        // The new form skips the caller by default; SKIPME no kills it after the reply.
        const self = await open();
        log.push(normalize(await self.c.command('CLIENT', 'KILL', 'ID', String(self.id))), await alive(self.c));
        const self2 = await open();
        log.push(normalize(await self2.c.command('CLIENT', 'KILL', 'ID', String(self2.id), 'SKIPME', 'no')), await alive(self2.c));
        const self3 = await open();
        log.push(normalize(await self3.c.command('CLIENT', 'KILL', self3.addr)), await alive(self3.c));
        log.push(await alive(a));
      } finally {
        a.close();
      }
      return log;
    };
    const [s, r] = await Promise.all([scenario(sabre.port), scenario(redis.port)]);
    expect(s).toEqual(r);
    expect(s).toEqual([
      ':1\\r\\n', 'closed', ':1\\r\\n', 'closed', '+OK\\r\\n', 'closed', '-ERR No such client\\r\\n',
      ':0\\r\\n', 'alive', ':1\\r\\n', 'closed', '+OK\\r\\n', 'closed', 'alive',
    ]);
  });

  it('CLIENT REPLY ON/OFF/SKIP: exactly which pipelined replies come back', async () => {
    const cases: Cmd[][] = [
      [['CLIENT', 'REPLY', 'OFF'], ['PING'], ['ECHO', 'hidden'], ['SET', 'conn:reply', 'x'], ['NOSUCH'], ['GET'],
        ['CLIENT', 'REPLY', 'ON'], ['ECHO', 'visible']],
      [['CLIENT', 'REPLY', 'SKIP'], ['ECHO', 'skipped'], ['ECHO', 'shown'], ['GET', 'conn:reply']],
      [['CLIENT', 'REPLY', 'SKIP'], ['CLIENT', 'REPLY', 'SKIP'], ['ECHO', 'skipped-too'], ['ECHO', 'shown']],
      [['CLIENT', 'REPLY', 'SKIP'], ['CLIENT', 'REPLY', 'ON'], ['ECHO', 'after-on']],
      [['CLIENT', 'REPLY', 'SKIP'], ['CLIENT', 'REPLY', 'OFF'], ['ECHO', 'off'], ['CLIENT', 'REPLY', 'ON']],
      [['CLIENT', 'REPLY', 'OFF'], ['CLIENT', 'REPLY', 'SKIP'], ['ECHO', 'still-off'], ['CLIENT', 'REPLY', 'ON']],
      [['CLIENT', 'REPLY', 'SKIP'], ['NOSUCH', 'x'], ['GET', 'conn:reply']],
      [['CLIENT', 'REPLY', 'SKIP'], ['GET', 'conn:reply'], ['DEL', 'conn:reply']],
      [['CLIENT', 'REPLY'], ['CLIENT', 'REPLY', 'maybe'], ['CLIENT', 'REPLY', 'ON', 'x'], ['CLIENT', 'REPLY', 'ON']],
    ];
    for (const cmds of cases) {
      const marker = 'conn-reply-end';
      const bytes = pipelineBytes([...cmds, ['ECHO', marker]]);
      const until = `$${marker.length}\r\n${marker}\r\n`;
      const [s, r] = await Promise.all([rawExchange(sabre.port, bytes, until), rawExchange(redis.port, bytes, until)]);
      expect({ cmds, got: s.data }).toEqual({ cmds, got: r.data });
    }
  });

  it('CLIENT NO-EVICT, PAUSE/UNPAUSE, UNBLOCK: argument errors; HELP; unknown subcommands', async () => {
    const t = await same([
      ['CLIENT', 'NO-EVICT'], ['CLIENT', 'NO-EVICT', 'maybe'], ['CLIENT', 'NO-EVICT', 'on'], ['CLIENT', 'NO-EVICT', 'OFF'],
      ['CLIENT', 'NO-EVICT', 'on', 'x'],
      ['CLIENT', 'PAUSE'], ['CLIENT', 'PAUSE', 'abc'], ['CLIENT', 'PAUSE', '-1'], ['CLIENT', 'PAUSE', '1.5'],
      ['CLIENT', 'PAUSE', '99999999999999999999'], ['CLIENT', 'PAUSE', '0', 'foo'], ['CLIENT', 'PAUSE', 'abc', 'foo'],
      ['CLIENT', 'PAUSE', '-1', 'all'], ['CLIENT', 'PAUSE', '0', 'write', 'x'], ['CLIENT', 'PAUSE', '0'],
      ['CLIENT', 'PAUSE', '0', 'WRITE'], ['CLIENT', 'PAUSE', '0', 'all'],
      ['CLIENT', 'UNPAUSE'], ['CLIENT', 'UNPAUSE', 'x'],
      ['CLIENT', 'UNBLOCK'], ['CLIENT', 'UNBLOCK', 'abc'], ['CLIENT', 'UNBLOCK', '1', 'foo'], ['CLIENT', 'UNBLOCK', 'abc', 'foo'],
      ['CLIENT', 'UNBLOCK', 'abc', 'timeout'], ['CLIENT', 'UNBLOCK', '1', 'TIMEOUT'], ['CLIENT', 'UNBLOCK', '999999', 'error'],
      ['CLIENT', 'UNBLOCK', '1', 'error', 'x'], ['CLIENT', 'UNBLOCK', '-1'],
      ['CLIENT', 'HELP'], ['client', 'help'], ['CLIENT', 'HELP', 'x'],
      ['CLIENT', 'foo'], ['CLIENT', 'foo', 'bar'], ['CONFIG', 'foo'], ['SLOWLOG', 'foo'], ['COMMAND', 'foo'],
      ['CLIENT', 'x'.repeat(200)],
    ]);
    expect(t[13]).toBe("-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\\r\\n");
  });

  it('CLIENT PAUSE: a timeout past LLONG_MAX wraps in Redis 7.0 (no pause); UNPAUSE ends a pause', async () => {
    await same([['CLIENT', 'PAUSE', '9223372036854775807'], ['CLIENT', 'PAUSE', '9223372036854775806', 'write'], ['PING']]);
    // A real pause of writes: another client's SET waits until UNPAUSE (PAUSE ALL would
    // hold the UNPAUSE itself too, in Redis as here), while reads go on.
    const timing = async (port: number) => {
      const a = await RawClient.connect(port);
      const b = await RawClient.connect(port);
      try {
        expect((await a.command('CLIENT', 'PAUSE', '5000', 'WRITE')).toString()).toBe('+OK\r\n');
        const t0 = Date.now();
        const pending = b.command('SET', 'conn:paused', 'x');
        expect((await a.command('ECHO', 'reads-run')).toString()).toBe('$9\r\nreads-run\r\n');
        await new Promise((r) => setTimeout(r, 300));
        expect((await a.command('CLIENT', 'UNPAUSE')).toString()).toBe('+OK\r\n');
        expect((await pending).toString()).toBe('+OK\r\n');
        await a.command('DEL', 'conn:paused');
        return Date.now() - t0;
      } finally {
        a.close();
        b.close();
      }
    };
    const [s, r] = await Promise.all([timing(sabre.port), timing(redis.port)]);
    expect(r).toBeGreaterThanOrEqual(250);
    expect(r).toBeLessThan(3000);
    expect(s).toBeGreaterThanOrEqual(250);
    expect(s).toBeLessThan(3000);
  });

  it('COMMAND COUNT/INFO/DOCS for a few commands', async () => {
    await same([
      ['COMMAND', 'INFO', 'get'], ['COMMAND', 'INFO', 'set', 'ping', 'nosuch', 'client|kill', 'CONFIG|GET'],
      ['COMMAND', 'DOCS', 'ping'], ['COMMAND', 'DOCS', 'echo', 'get', 'nosuch'],
      ['COMMAND', 'DOCS', 'hello'], ['COMMAND', 'COUNT', 'x'], ['COMMAND', 'GETKEYS', 'get', 'a'], ['COMMAND', 'HELP'],
    ]);
    const count = integerOf(await (async () => {
      const c = await RawClient.connect(sabre.port);
      try {
        return await c.command('COMMAND', 'COUNT');
      } finally {
        c.close();
      }
    })());
    expect(count).toBeGreaterThan(50); // Sabre counts the commands it implements
  });

  it('TIME: two bulk integers, seconds and microseconds, near the clock', async () => {
    const c = await RawClient.connect(sabre.port);
    try {
      const before = Date.now();
      const reply = await c.command('TIME');
      const m = /^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$/.exec(reply.toString());
      expect(m, escapeBytes(reply)).not.toBeNull();
      const ms = Number(m![1]) * 1000 + Number(m![2]) / 1000;
      expect(Number(m![2])).toBeLessThan(1_000_000);
      expect(Math.abs(ms - before)).toBeLessThan(2000);
      const again = /^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$/.exec((await c.command('TIME')).toString())!;
      expect(Number(again[1]) * 1e6 + Number(again[2])).toBeGreaterThanOrEqual(Number(m![1]) * 1e6 + Number(m![2]));
    } finally {
      c.close();
    }
    await same([['TIME', 'x']]);
  });

  it('CONFIG GET/SET/RESETSTAT/HELP through the server', async () => {
    await same([
      ['CONFIG'], ['CONFIG', 'GET'], ['CONFIG', 'GET', 'maxmemory'], ['CONFIG', 'GET', 'nosuch'],
      ['CONFIG', 'SET', 'maxmemory', '10mb'], ['CONFIG', 'GET', 'maxmemory'], ['CONFIG', 'SET', 'maxmemory', '0'],
      ['CONFIG', 'SET', 'maxmemory'], ['CONFIG', 'SET', 'maxmemory', 'abc'], ['CONFIG', 'SET', 'nosuch', '1'],
      ['CONFIG', 'GET', 'slowlog-max-len'], ['CONFIG', 'GET', 'databases'],
      ['CONFIG', 'RESETSTAT'], ['CONFIG', 'RESETSTAT', 'x'], ['CONFIG', 'HELP'], ['CONFIG', 'HELP', 'x'],
      ['HELLO', '3'], ['CONFIG', 'GET', 'maxmemory-policy'],
    ]);
  });

  it('SLOWLOG: GET/LEN/RESET/HELP shapes and errors', async () => {
    await same([
      ['SLOWLOG'], ['SLOWLOG', 'foo'], ['SLOWLOG', 'RESET'], ['SLOWLOG', 'GET'], ['SLOWLOG', 'GET', '1', '2'],
      ['SLOWLOG', 'GET', 'abc'], ['SLOWLOG', 'GET', '-1'], ['SLOWLOG', 'GET', '-2'], ['SLOWLOG', 'GET', '007'],
      ['SLOWLOG', 'GET', '99999999999999999999'], ['SLOWLOG', 'GET', '9223372036854775807'], ['SLOWLOG', 'LEN'],
      ['SLOWLOG', 'LEN', 'x'], ['SLOWLOG', 'RESET', 'x'], ['SLOWLOG', 'HELP'], ['SLOWLOG', 'HELP', 'x'],
    ]);
  });

  it('SLOWLOG records commands over the threshold, newest first, passwords redacted', async () => {
    // Entries: [id, unix time, µs, argv, peer, name]; ids, times, durations and peers differ by nature.
    const entries = async (port: number) => {
      const c = await RawClient.connect(port);
      try {
        await c.command('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
        await c.command('SLOWLOG', 'RESET');
        await c.command('CLIENT', 'SETNAME', 'slowpoke');
        await c.command('ECHO', 'x'.repeat(130));
        await c.command('AUTH', 'default', 'hunter2');
        await c.command('PING');
        await c.command('SET', 'conn:slow', 'v'); // run by a shard worker with --shards 2
        await c.command('DEL', 'conn:slow');
        await c.command('ECHO', 'a', 'b'); // an arity error: rejected commands are not logged
        await c.command('CLIENT', 'LIST', 'ID', ...Array.from({ length: 40 }, (_, i) => String(100000 + i)));
        await c.command('HELLO', '2', 'AUTH', 'default', 'pw', 'SETNAME', 'slowpoke');
        const len = integerOf(await c.command('SLOWLOG', 'LEN'));
        const list = replyElements(await c.command('SLOWLOG', 'GET', '-1'))!;
        await c.command('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
        await c.command('SLOWLOG', 'RESET');
        const now = Math.floor(Date.now() / 1000);
        return {
          len,
          entries: list.elements.map((e) => {
            const f = replyElements(e)!.elements;
            const time = Number(f[1].toString().slice(1, -2));
            return {
              shape: f.map((x) => String.fromCharCode(x[0])).join(''),
              timeOk: Math.abs(time - now) < 5,
              argv: replyElements(f[3])!.elements.map((a) => escapeBytes(a)),
              peer: /^\$\d+\r\n127\.0\.0\.1:\d+\r\n$/.test(f[4].toString()),
              name: f[5].toString(),
            };
          }),
        };
      } finally {
        c.close();
      }
    };
    const [s, r] = await Promise.all([entries(sabre.port), entries(redis.port)]);
    expect(s).toEqual(r);
    expect(s.entries.map((e) => e.shape)).toEqual(s.entries.map(() => ':::*$$'));
    expect(s.len).toBeGreaterThanOrEqual(6);
  });

  it('wrong number of arguments, for each command', async () => {
    await same([
      ['ECHO'], ['ECHO', 'a', 'b'], ['AUTH'], ['SELECT'], ['SELECT', '1', '2'], ['TIME', 'x'], ['RESET', 'x'],
      ['CLIENT'], ['CLIENT', 'ID', 'x'], ['CLIENT', 'GETNAME', 'x'], ['CLIENT', 'SETNAME'], ['CLIENT', 'INFO', 'x'],
      ['CLIENT', 'KILL'], ['CLIENT', 'REPLY'], ['CLIENT', 'NO-EVICT'], ['CLIENT', 'PAUSE'], ['CLIENT', 'UNPAUSE', 'x'],
      ['CLIENT', 'UNBLOCK'], ['CLIENT', 'HELP', 'x'],
      ['COMMAND', 'COUNT', 'x'], ['COMMAND', 'GETKEYS'], ['COMMAND', 'HELP', 'x'],
      ['CONFIG'], ['CONFIG', 'GET'], ['CONFIG', 'SET', 'x'], ['CONFIG', 'RESETSTAT', 'x'], ['CONFIG', 'REWRITE', 'x'],
      ['SLOWLOG'], ['SLOWLOG', 'LEN', 'x'], ['SLOWLOG', 'RESET', 'x'], ['SLOWLOG', 'HELP', 'x'],
    ]);
  });

  it('SHUTDOWN: argument errors, ABORT with nothing in progress, then the process exits', async () => {
    const [s, r] = await Promise.all([startSabre(['--shards', String(shards)]), startRedis()]);
    try {
      const errs = [['SHUTDOWN', 'foo'], ['SHUTDOWN', 'ABORT'], ['SHUTDOWN', 'abort'], ['SHUTDOWN', 'ABORT', 'NOSAVE'],
        ['SHUTDOWN', 'SAVE', 'NOSAVE'], ['SHUTDOWN', 'NOW', 'ABORT']];
      const [ts, tr] = await Promise.all([transcript(s.port, errs), transcript(r.port, errs)]);
      expect(ts).toEqual(tr);
      expect(ts[1]).toBe('-ERR No shutdown in progress.\\r\\n');
      const bytes = pipelineBytes([['SHUTDOWN', 'NOSAVE']]);
      const [xs, xr] = await Promise.all([rawExchange(s.port, bytes, null, 5000), rawExchange(r.port, bytes, null, 5000)]);
      expect(xs).toEqual({ data: '', closed: true });
      expect(xs).toEqual(xr);
      expect(await waitExit(s, 5000)).toBe(true);
      expect(await waitExit(r, 5000)).toBe(true);
      expect(s.proc.exitCode).toBe(0);
    } finally {
      await Promise.all([s.stop(), r.stop()]);
    }
  });

  it('node-redis (RESP3) and ioredis connect with a password and a client name', async () => {
    const nr = createClient({
      RESP: 3,
      password: PASS,
      name: 'nr-client',
      socket: { port: sabreAuth.port, host: '127.0.0.1', reconnectStrategy: false },
    });
    nr.on('error', () => {});
    await nr.connect();
    try {
      expect(await nr.ping()).toBe('PONG');
      expect(await nr.sendCommand(['CLIENT', 'GETNAME'])).toBe('nr-client');
      expect(await nr.set('conn:nr', 'v')).toBe('OK');
      expect(await nr.get('conn:nr')).toBe('v');
      const info = String(await nr.sendCommand(['CLIENT', 'INFO']));
      expect(field(info, 'resp')).toBe('3');
      expect(field(info, 'name')).toBe('nr-client');
    } finally {
      nr.destroy();
    }
    const io = new Redis({ port: sabreAuth.port, host: '127.0.0.1', password: PASS, connectionName: 'io-client', lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await io.connect();
      expect(await io.ping()).toBe('PONG');
      expect(await io.client('GETNAME')).toBe('io-client');
      expect(await io.get('conn:nr')).toBe('v');
      expect(await io.del('conn:nr')).toBe(1);
    } finally {
      io.disconnect();
    }
    // A wrong password fails the connect with Redis's error.
    const badConnect = async (port: number) => {
      const bad = createClient({ RESP: 3, password: 'wrong', socket: { port, host: '127.0.0.1', reconnectStrategy: false } });
      bad.on('error', () => {});
      try {
        await bad.connect();
        return 'connected';
      } catch (err) {
        return (err as Error).message;
      } finally {
        if (bad.isOpen) bad.destroy();
      }
    };
    const [s, r] = await Promise.all([badConnect(sabreAuth.port), badConnect(redisAuth.port)]);
    expect(s).toBe(r);
    expect(s).toContain('WRONGPASS');
  });

  it('redis-cli: -a, -3 (RESP3), -n 3', () => {
    const run = (port: number, args: string[]) => {
      const r = redisCli(port, args);
      return { out: r.stdout, err: r.stderr, status: r.status };
    };
    const cases: string[][] = [
      ['-a', PASS, '--no-auth-warning', 'PING'],
      ['-a', 'wrong', '--no-auth-warning', 'PING'],
      ['-a', PASS, '--no-auth-warning', '-3', 'HELLO', '3'],
      ['-a', PASS, '--no-auth-warning', '-3', 'CLIENT', 'GETNAME'],
      ['-a', PASS, '--no-auth-warning', '-3', '-n', '3', 'CLIENT', 'INFO'],
      ['-a', PASS, '--no-auth-warning', '-n', '3', 'SET', 'conn:cli', 'three'],
      ['-a', PASS, '--no-auth-warning', '-n', '3', 'GET', 'conn:cli'],
      ['-a', PASS, '--no-auth-warning', 'GET', 'conn:cli'],
      ['-a', PASS, '--no-auth-warning', '-n', '3', 'DEL', 'conn:cli'],
      ['PING'],
    ];
    for (const args of cases) {
      const s = run(sabreAuth.port, args);
      const r = run(redisAuth.port, args);
      const norm = (o: string) => o.replace(/^id \d+$/m, 'id <id>').replace(VOLATILE_CLIENT_FIELDS, '$1=*');
      expect({ args, ...s, out: norm(s.out) }).toEqual({ args, ...r, out: norm(r.out) });
      expect(s.err).not.toContain('Unrecognized option');
    }
  });
});

/**
 * Server-level behaviour across shard modes: atomicity of cross-shard commands under
 * concurrent readers, pipeline reply order across shards, large values through the side
 * port, protocol abuse, many connections, active expiry, CLIENT PAUSE, start-up errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { ServerHandle, repoRoot, startSabre } from './helpers/servers';
import { RawClient, encodeCommand } from './helpers/resp';

const MODES = [0, 1, 2];

describe.each(MODES)('--shards %i', (shards) => {
  let srv: ServerHandle;
  beforeAll(async () => {
    srv = await startSabre(['--shards', String(shards)]);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('never shows half of an MSET to concurrent MGETs', async () => {
    // Keys chosen on different slots, so with 2 shards they live on different threads.
    const keys = ['a', 'b', 'c', 'foo', 'bar', 'user:1', 'user:2', 'zz'];
    const writer = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    const readers = [0, 1, 2].map(() => new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true }));
    await writer.connect();
    for (const r of readers) await r.connect();
    await writer.mset(...keys.flatMap((k) => [k, '0']));
    let stop = false;
    let torn = 0, reads = 0;
    const readLoops = readers.map(async (r) => {
      while (!stop) {
        const vals = await r.mget(...keys);
        reads++;
        if (new Set(vals).size !== 1) torn++;
      }
    });
    for (let i = 1; i <= 400; i++) {
      const p = writer.pipeline();
      for (let j = 0; j < 5; j++) p.mset(...keys.flatMap((k) => [k, `${i}.${j}`]));
      await p.exec();
    }
    stop = true;
    await Promise.all(readLoops);
    expect(reads).toBeGreaterThan(50);
    expect(torn).toBe(0);
    expect(await writer.mget(...keys)).toEqual(keys.map(() => '400.4'));
    // DEL across shards is atomic and counts every key.
    expect(await writer.del(...keys)).toBe(keys.length);
    writer.disconnect();
    readers.forEach((r) => r.disconnect());
  });

  it('answers a pipeline mixing shards and io-thread commands in order', async () => {
    const c = await RawClient.connect(srv.port);
    const cmds: string[][] = [];
    for (let i = 0; i < 300; i++) {
      cmds.push(['SET', `k${i}`, `v${i}`]);
      if (i % 7 === 0) cmds.push(['PING', `p${i}`]);
      if (i % 11 === 0) cmds.push(['MGET', `k${i}`, `k${Math.max(0, i - 1)}`, 'nokey']);
      cmds.push(['GET', `k${i}`]);
    }
    const replies = (await c.pipeline(cmds)).map((b) => b.toString('latin1'));
    let r = 0;
    for (let i = 0; i < 300; i++) {
      expect(replies[r++]).toBe('+OK\r\n');
      if (i % 7 === 0) expect(replies[r++]).toBe(`$${`p${i}`.length}\r\np${i}\r\n`);
      if (i % 11 === 0) {
        const prev = `v${Math.max(0, i - 1)}`;
        expect(replies[r++]).toBe(`*3\r\n$${`v${i}`.length}\r\nv${i}\r\n$${prev.length}\r\n${prev}\r\n$-1\r\n`);
      }
      expect(replies[r++]).toBe(`$${`v${i}`.length}\r\nv${i}\r\n`);
    }
    c.close();
  });

  it('stores and returns values larger than a ring (side port) intact', async () => {
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    const big = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
    expect(await r.set('big', big)).toBe('OK');
    const back = await r.getBuffer('big');
    expect(back?.equals(big)).toBe(true);
    expect(await r.strlen('big')).toBe(big.length);
    expect(await r.append('big', 'xyz')).toBe(big.length + 3);
    expect(await r.getrange('big', -3, -1)).toBe('xyz');
    await r.del('big');
    r.disconnect();
  });

  it('answers protocol errors as Redis does and closes the connection', async () => {
    for (const [input, err] of [
      ['*3\r\n$3\r\nSET\r\n$a\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
      ['*1\r\n+PING\r\n', "-ERR Protocol error: expected '$', got '+'\r\n"],
      ['*x\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
      ['PING "unbalanced\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
      ['*1\r\n$999999999999\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ]) {
      const got = await rawExchange(srv.port, input);
      expect(got).toBe(err);
    }
    // The server survives and serves others.
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    expect(await r.ping()).toBe('PONG');
    r.disconnect();
  });

  it('does not stall on a huge declared multibulk or bulk length', async () => {
    const s = net.connect(srv.port, '127.0.0.1');
    await new Promise((res) => s.once('connect', res));
    s.write('*2147483647\r\n$3\r\nSET\r\n$100000000\r\nabc');
    await new Promise((res) => setTimeout(res, 200));
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    expect(await r.ping()).toBe('PONG');
    s.destroy();
    r.disconnect();
  });

  it('supports inline commands', async () => {
    expect(await rawExchange(srv.port, 'SET inl "a b\\x41"\r\nGET inl\r\n', 2)).toBe('+OK\r\n$4\r\na bA\r\n');
  });

  it('reclaims expired keys that nobody reads (active expiry)', async () => {
    const c = await RawClient.connect(srv.port);
    // A database of its own: DBSIZE must count only the volatile keys.
    c.send(encodeCommand(['SELECT', '9']));
    expect((await c.readReply()).toString()).toBe('+OK\r\n');
    const N = 100_000;
    const chunk: Buffer[] = [];
    for (let i = 0; i < N; i++) {
      chunk.push(encodeCommand(['SET', `vol:${i}`, 'x'.repeat(20), 'PX', '2000']));
      if (chunk.length === 5000) {
        c.send(Buffer.concat(chunk));
        for (let k = 0; k < chunk.length; k++) await c.readReply();
        chunk.length = 0;
      }
    }
    c.send(encodeCommand(['DBSIZE']));
    const before = Number((await c.readReply()).toString().slice(1));
    expect(before).toBeGreaterThan(0);
    let size = before;
    const deadline = Date.now() + 10000;
    while (size > 0 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 250));
      c.send(encodeCommand(['DBSIZE']));
      size = Number((await c.readReply()).toString().slice(1));
    }
    expect(size).toBe(0);
    c.send(encodeCommand(['INFO', 'stats']));
    const info = (await c.readReply()).toString();
    expect(Number(/expired_keys:(\d+)/.exec(info)![1])).toBeGreaterThanOrEqual(N);
    c.close();
  });

  it('keeps slow commands\' arguments byte for byte in SLOWLOG, truncated as Redis', async () => {
    const c = await RawClient.connect(srv.port);
    const ask = async (...a: (string | Buffer)[]) => { c.send(encodeCommand(a)); return c.readReply(); };
    expect((await ask('CONFIG', 'SET', 'slowlog-log-slower-than', '0')).toString()).toBe('+OK\r\n');
    await ask('SLOWLOG', 'RESET');
    const bin = Buffer.from([0x61, 0xe9, 0x00, 0xff]);
    await ask('SET', bin, Buffer.alloc(200, 0x78));
    await ask('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
    const log = await ask('SLOWLOG', 'GET', '-1');
    // The SET entry: its key bytes, and the value cut at 128 bytes with Redis's suffix.
    const setEntry = Buffer.concat([
      Buffer.from('*3\r\n$3\r\nSET\r\n$4\r\n'), bin,
      Buffer.from(`\r\n$${128 + '... (72 more bytes)'.length}\r\n${'x'.repeat(128)}... (72 more bytes)\r\n`),
    ]);
    expect(log.includes(setEntry)).toBe(true);
    c.close();
  });

  it('holds commands while CLIENT PAUSE lasts, then runs them', async () => {
    const a = new Redis({ port: srv.port, host: '127.0.0.1' });
    const b = new Redis({ port: srv.port, host: '127.0.0.1' });
    await b.ping();
    expect(await a.client('PAUSE', 400, 'WRITE')).toBe('OK');
    const t0 = Date.now();
    expect(await b.get('nope')).toBe(null); // reads pass a WRITE pause
    expect(Date.now() - t0).toBeLessThan(300);
    expect(await b.set('paused', '1')).toBe('OK'); // writes wait for the end
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    // ALL pauses reads too, and (as in Redis 7.0) even CLIENT commands: only the timeout ends it.
    expect(await a.client('PAUSE', 600, 'ALL')).toBe('OK');
    const t1 = Date.now();
    const [got, unpaused] = await Promise.all([b.get('paused'), a.client('UNPAUSE')]);
    expect(got).toBe('1');
    expect(unpaused).toBe('OK');
    expect(Date.now() - t1).toBeGreaterThanOrEqual(550);
    expect(Date.now() - t1).toBeLessThan(3000);
    a.disconnect();
    b.disconnect();
  }, 20000);
});

describe('connections', () => {
  let srv: ServerHandle;
  beforeAll(async () => {
    srv = await startSabre(['--shards', '0', '--maxclients', '20000']);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('holds 10,000 idle connections and still serves them all', async () => {
    const N = 10_000;
    const socks: net.Socket[] = [];
    try {
      for (let i = 0; i < N; i += 500) {
        await Promise.all(Array.from({ length: 500 }, () => new Promise<void>((res, rej) => {
          const s = net.connect(srv.port, '127.0.0.1', () => res());
          s.once('error', rej);
          socks.push(s);
        })));
      }
      const r = new Redis({ port: srv.port, host: '127.0.0.1' });
      const info = await r.info('clients');
      expect(Number(/connected_clients:(\d+)/.exec(info)![1])).toBeGreaterThanOrEqual(N);
      const mem = await r.info('memory');
      // Every idle connection answers.
      let ok = 0;
      await Promise.all(socks.filter((_, i) => i % 10 === 0).map((s) => new Promise<void>((res) => {
        s.once('data', (d) => { if (d.toString() === '+PONG\r\n') ok++; res(); });
        s.write('PING\r\n');
      })));
      expect(ok).toBe(N / 10);
      expect(mem).toContain('used_memory_rss:');
      r.disconnect();
    } finally {
      for (const s of socks) s.destroy();
    }
  }, 60000);
});

describe('CLIENT SETINFO (Redis 7.2, sent by node-redis on connect)', () => {
  let srv: ServerHandle;
  beforeAll(async () => {
    srv = await startSabre(['--shards', '0']);
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('accepts LIB-NAME/LIB-VER and rejects bad input with Redis 7.2 texts', async () => {
    const c = await RawClient.connect(srv.port);
    const ask = async (...a: string[]) => { c.send(encodeCommand(a)); return (await c.readReply()).toString('latin1'); };
    expect(await ask('CLIENT', 'SETINFO', 'lib-name', 'my-lib')).toBe('+OK\r\n');
    expect(await ask('CLIENT', 'SETINFO', 'LIB-VER', '1.2.3')).toBe('+OK\r\n');
    expect(await ask('CLIENT', 'SETINFO', 'Lib-Name', 'a b')).toBe('-ERR Lib-Name cannot contain spaces, newlines or special characters.\r\n');
    expect(await ask('CLIENT', 'SETINFO', 'foo', 'x')).toBe("-ERR Unrecognized option 'foo'\r\n");
    expect(await ask('CLIENT', 'SETINFO', 'lib-name')).toBe("-ERR wrong number of arguments for 'client|setinfo' command\r\n");
    c.close();
  });
});

describe('start-up', () => {
  it('stops with the file, line and reason on a bad directive', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sabre-conf-'));
    const file = path.join(dir, 'bad.conf');
    fs.writeFileSync(file, 'port 0\nfrobnicate yes\n');
    const r = spawnSync(process.execPath, [path.join(repoRoot(), 'dist/src/main.js'), file], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('*** FATAL CONFIG FILE ERROR');
    expect(r.stderr).toContain('at line 2');
    expect(r.stderr).toContain(">>> 'frobnicate yes'");
    expect(r.stderr).toContain('Bad directive or wrong number of arguments');
  });

  it('logs a start-up line and exits cleanly on SIGTERM and on SHUTDOWN', async () => {
    const srv = await startSabre(['--shards', '1']);
    expect(srv.logs()).toMatch(/"msg":"Ready to accept connections"/);
    expect(srv.logs()).toMatch(/"shards":1/);
    const r = new Redis({ port: srv.port, host: '127.0.0.1', retryStrategy: () => null });
    r.on('error', () => undefined);
    await r.shutdown().catch(() => undefined);
    const code = await new Promise<number | null>((res) => {
      if (srv.proc.exitCode !== null) res(srv.proc.exitCode);
      else srv.proc.once('exit', (c) => res(c));
    });
    expect(code).toBe(0);
    r.disconnect();
    await srv.stop();
  });
});

/** Send raw bytes; collect what comes back until `replies` CRLF-terminated replies or close. */
function rawExchange(port: number, input: string, replies = 1): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => { s.destroy(); resolve(out); };
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (out.split('\r\n').length - 1 >= replies * (out.startsWith('$') ? 2 : 1) && replies > 1 && out.endsWith('\r\n')) {
        const parts = out.split('\r\n').length - 1;
        if (parts >= 3) done();
      }
    });
    s.on('close', done);
    s.on('error', done);
    setTimeout(done, 2000);
    s.write(input);
  });
}

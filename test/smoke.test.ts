// Smoke test: the clients people actually use (redis-cli, ioredis, node-redis
// over RESP2 and RESP3) can talk to Sabre at all. Per-command behaviour lives
// in the per-command and differential tests.
//
// To run this file against a redis-server instead of Sabre:
//   SABRE_CMD='redis-server --port {port} --bind 127.0.0.1 --save "" --appendonly no' npx vitest run test/smoke.test.ts
import Redis from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from './helpers/resp';
import { ServerHandle, redisCli, startSabre } from './helpers/servers';

describe('smoke: real clients against Sabre', () => {
  let server: ServerHandle;

  beforeAll(async () => {
    server = await startSabre();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('redis-cli: PING, SET, GET, unknown command', () => {
    expect(redisCli(server.port, ['PING'])).toMatchObject({ stdout: 'PONG\n', status: 0 });
    expect(redisCli(server.port, ['SET', 'smoke:cli', 'hello world']).stdout).toBe('OK\n');
    expect(redisCli(server.port, ['GET', 'smoke:cli']).stdout).toBe('hello world\n');
    expect(redisCli(server.port, ['GET', 'smoke:cli:missing']).stdout).toBe('\n');
    // Off a tty, redis-cli 7.0 prints an error reply as "ERR ..." plus an empty line, and exits 0.
    expect(redisCli(server.port, ['NOSUCHCMD', 'x'])).toMatchObject({
      stdout: "ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' \n\n",
      status: 0,
    });
    // commands piped on stdin, as scripts use it
    const piped = redisCli(server.port, [], 'SET smoke:pipe 1\nINCR smoke:pipe\nGET smoke:pipe\n');
    expect(piped.stdout).toBe('OK\n2\n2\n');
  });

  it('raw RESP: replies are byte-exact', async () => {
    const c = await RawClient.connect(server.port);
    try {
      expect((await c.command('PING')).toString()).toBe('+PONG\r\n');
      expect((await c.command('SET', 'smoke:raw', 'v')).toString()).toBe('+OK\r\n');
      expect((await c.command('GET', 'smoke:raw')).toString()).toBe('$1\r\nv\r\n');
      expect((await c.command('GET', 'smoke:raw:missing')).toString()).toBe('$-1\r\n');
      expect((await c.command('nosuchcmd', 'a', 'b')).toString()).toBe(
        "-ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b' \r\n",
      );
      // inline commands work too (telnet-style)
      c.send('PING\r\n');
      expect((await c.readReply()).toString()).toBe('+PONG\r\n');
      // RESP3 after HELLO 3: nil is "_"
      expect((await c.command('HELLO', '3'))[0]).toBe(0x25 /* % map */);
      expect((await c.command('GET', 'smoke:raw:missing')).toString()).toBe('_\r\n');
    } finally {
      c.close();
    }
  });

  it('ioredis: PING, SET/GET, 1000 pipelined INCRs, unknown command', async () => {
    const client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      expect(await client.set('smoke:io', 'hello')).toBe('OK');
      expect(await client.get('smoke:io')).toBe('hello');
      expect(await client.get('smoke:io:missing')).toBeNull();

      await client.del('smoke:io:ctr');
      const pipe = client.pipeline();
      for (let i = 0; i < 1000; i++) pipe.incr('smoke:io:ctr');
      const results = await pipe.exec();
      expect(results).toHaveLength(1000);
      expect(results!.every(([err], i) => err === null && results![i][1] === i + 1)).toBe(true);
      expect(await client.get('smoke:io:ctr')).toBe('1000');

      await expect(client.call('NOSUCHCMD', 'x')).rejects.toThrow("ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' ");
      expect(await client.ping()).toBe('PONG'); // the connection survives the error
    } finally {
      client.disconnect();
    }
  });

  it('node-redis (RESP2): PING, SET/GET, 1000 auto-pipelined INCRs, unknown command', async () => {
    const client = createClient({ RESP: 2, socket: { port: server.port, host: '127.0.0.1', reconnectStrategy: false } });
    client.on('error', () => {});
    await client.connect();
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await client.set('smoke:nr', 'hello')).toBe('OK');
      expect(await client.get('smoke:nr')).toBe('hello');
      await client.del('smoke:nr:ctr');
      // commands issued in the same tick go out as one pipeline
      const replies = await Promise.all(Array.from({ length: 1000 }, () => client.incr('smoke:nr:ctr')));
      expect(replies[0]).toBe(1);
      expect(replies[999]).toBe(1000);
      await expect(client.sendCommand(['NOSUCHCMD', 'x'])).rejects.toThrow("ERR unknown command 'NOSUCHCMD'");
    } finally {
      client.destroy();
    }
  });

  it('node-redis (RESP3): HELLO 3 handshake, commands, RESP3 nulls', async () => {
    const client = createClient({ RESP: 3, socket: { port: server.port, host: '127.0.0.1', reconnectStrategy: false } });
    client.on('error', () => {});
    await client.connect(); // sends HELLO 3 during the handshake
    try {
      const hello = (await client.sendCommand(['HELLO', '3'])) as Record<string, unknown>;
      expect(hello.proto).toBe(3);
      expect(hello).toHaveProperty('server');
      expect(hello).toHaveProperty('version');
      expect(await client.set('smoke:nr3', 'hello')).toBe('OK');
      expect(await client.get('smoke:nr3')).toBe('hello');
      expect(await client.get('smoke:nr3:missing')).toBeNull();
      expect(await client.incr('smoke:nr3:ctr')).toBeGreaterThan(0);
      await expect(client.sendCommand(['NOSUCHCMD'])).rejects.toThrow("ERR unknown command 'NOSUCHCMD'");
    } finally {
      client.destroy();
    }
  });
});

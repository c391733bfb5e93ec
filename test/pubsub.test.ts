/**
 * Pub/sub through real sockets: byte-exact command streams compared with the reference
 * redis-server (RESP2 and RESP3: (un)subscribe notifications and counts, patterns with
 * escapes, message/pmessage/smessage frames, PUBSUB introspection, the RESP2 subscribed
 * mode, PING, RESET, CLIENT REPLY OFF), ioredis and node-redis subscribers, fan-out to
 * 2,000 subscribers, ordering against in-flight replies, and the pubsub
 * client-output-buffer-limit (a subscriber that never reads is disconnected, memory bounded).
 */
import fs from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { RawClient, encodeCommand, escapeBytes } from './helpers/resp';

type Cmd = readonly string[];
/** One step of a script: which connection sends which command. */
type Step = readonly [conn: string, cmd: Cmd];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the steps in order, each on its named connection (opened on first use), waiting
 * after each until every connection has been quiet for a moment, and returns everything
 * each connection received, readable. HELLO's id (the only legitimate difference) is masked.
 */
async function runScript(port: number, steps: readonly Step[]): Promise<Record<string, string>> {
  const socks = new Map<string, net.Socket>();
  const data: Record<string, Buffer[]> = {};
  let lastData = Date.now();
  try {
    for (const [name, cmd] of steps) {
      let s = socks.get(name);
      if (s === undefined) {
        s = net.connect({ port, host: '127.0.0.1' });
        s.setNoDelay(true);
        await new Promise<void>((resolve, reject) => {
          s!.once('connect', () => resolve());
          s!.once('error', reject);
        });
        data[name] = [];
        s.on('data', (d: Buffer) => {
          data[name].push(d);
          lastData = Date.now();
        });
        s.on('error', () => {});
        socks.set(name, s);
      }
      const sent = Date.now();
      const before = data[name].length;
      s.write(encodeCommand(cmd));
      // Until the sender got an answer (or 300 ms passed: some commands answer nothing),
      // then every connection has been quiet for 25 ms.
      for (let waited = 0; waited < 3000; waited += 5) {
        await sleep(5);
        const now = Date.now();
        const answered = data[name].length > before || now - sent >= 300;
        if (answered && now - lastData >= 25) break;
      }
    }
  } finally {
    for (const s of socks.values()) s.destroy();
  }
  const out: Record<string, string> = {};
  for (const [name, chunks] of Object.entries(data)) {
    const s = Buffer.concat(chunks).toString('latin1').replace(/(\$2\r\nid\r\n):\d+\r\n/g, '$1:<id>\r\n');
    out[name] = escapeBytes(Buffer.from(s, 'latin1'), 1_000_000);
  }
  return out;
}

/** Resident set size of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const SABRE_MODES: [string, string[]][] = [
  ['--shards 0', ['--shards', '0']],
  ['--shards 1', ['--shards', '1']],
];

// ---- byte-exact comparison with redis-server ---------------------------------------------------

/** RESP2: notifications and counts, patterns (escapes too), subscribed mode, PING, RESET, QUIT. */
const RESP2_SCRIPT: Step[] = [
  ['a', ['SUBSCRIBE', 'news', 'sport', 'news']],
  ['b', ['SUBSCRIBE', 'news']],
  ['c', ['PSUBSCRIBE', 'n*', 'h\\*llo', 'h[ae]llo', 'x?']],
  ['d', ['PSUBSCRIBE', 'n*']],
  ['p', ['PUBLISH', 'news', 'hello world']],
  ['p', ['PUBLISH', 'sport', '']],
  ['p', ['PUBLISH', 'nope', 'x']],
  ['p', ['PUBLISH', 'h*llo', 'escaped star']],
  ['p', ['PUBLISH', 'hxllo', 'no match for the escaped pattern']],
  ['p', ['PUBLISH', 'hello', 'bracket']],
  ['p', ['PUBLISH', 'xy', 'question']],
  ['p', ['PUBLISH', 'nobody', 'n* matches']],
  ['p', ['PUBSUB', 'NUMSUB', 'news', 'sport', 'none']],
  ['p', ['PUBSUB', 'NUMSUB']],
  ['p', ['PUBSUB', 'NUMPAT']],
  ['p', ['PUBSUB', 'CHANNELS', 'sp*']],
  ['p', ['PUBSUB', 'CHANNELS', 'zz*']],
  ['p', ['PUBSUB', 'CHANNELS', 'a', 'b']],
  ['p', ['PUBSUB', 'SHARDCHANNELS']],
  ['p', ['PUBSUB', 'SHARDNUMSUB', 'x']],
  ['p', ['PUBSUB', 'HELP']],
  ['p', ['PUBSUB', 'NUMPAT', 'extra']],
  ['p', ['PUBSUB', 'FOO']],
  ['p', ['PUBSUB']],
  // Subscribed RESP2 mode: only the pub/sub context commands.
  ['a', ['GET', 'k']],
  ['a', ['CLIENT', 'ID']],
  ['a', ['PUBLISH', 'news', 'x']],
  ['a', ['NOSUCHCOMMAND']],
  ['a', ['GET']],
  ['a', ['PING']],
  ['a', ['PING', 'payload']],
  ['a', ['PING', 'a', 'b']],
  ['a', ['UNSUBSCRIBE', 'never-subscribed']],
  ['a', ['UNSUBSCRIBE', 'news']],
  ['a', ['PSUBSCRIBE', 'sp*']],
  ['p', ['PUBLISH', 'sport', 'twice']],
  ['a', ['PUNSUBSCRIBE']],
  ['a', ['UNSUBSCRIBE']],
  ['a', ['UNSUBSCRIBE']],
  ['a', ['PUNSUBSCRIBE']],
  ['a', ['SUNSUBSCRIBE']],
  // Out of subscribed mode again: everything works.
  ['a', ['PING']],
  ['a', ['GET', 'k']],
  ['c', ['PUNSUBSCRIBE', 'x?', 'not-there']],
  ['c', ['PUNSUBSCRIBE']],
  ['p', ['PUBSUB', 'NUMPAT']],
  // RESET leaves subscribed mode silently; QUIT is allowed.
  ['b', ['RESET']],
  ['b', ['GET', 'k']],
  ['p', ['PUBSUB', 'NUMSUB', 'news']],
  ['d', ['QUIT']],
  ['p', ['PUBSUB', 'NUMPAT']],
  // Shard channels: no cluster, no CROSSSLOT; patterns never see them.
  ['e', ['SSUBSCRIBE', 's{1}', 's{2}', 's{1}']],
  ['f', ['PSUBSCRIBE', '*']],
  ['p', ['SPUBLISH', 's{2}', 'shard message']],
  ['p', ['PUBLISH', 's{2}', 'not a shard publish']],
  ['p', ['PUBSUB', 'SHARDNUMSUB', 's{1}', 's{3}']],
  ['p', ['PUBSUB', 'SHARDCHANNELS', '*1*']],
  ['e', ['SUNSUBSCRIBE', 's{1}']],
  ['e', ['UNSUBSCRIBE']],
  ['e', ['SUNSUBSCRIBE']],
  ['e', ['SUNSUBSCRIBE']],
  ['f', ['PUNSUBSCRIBE']],
  // Binary names and payloads.
  ['g', ['SUBSCRIBE', 'bin\x00\xff\r\n']],
  ['p', ['PUBLISH', 'bin\x00\xff\r\n', '\x00\r\n\xfe']],
  ['g', ['UNSUBSCRIBE']],
  // CLIENT REPLY OFF: (un)subscribe notifications and messages still arrive, PING's reply does not.
  ['h', ['CLIENT', 'REPLY', 'OFF']],
  ['h', ['SUBSCRIBE', 'quiet']],
  ['p', ['PUBLISH', 'quiet', 'still delivered']],
  ['h', ['PING']],
  ['h', ['UNSUBSCRIBE']],
  ['h', ['PING']],
  ['h', ['CLIENT', 'REPLY', 'ON']],
  ['p', ['PUBSUB', 'CHANNELS']],
  ['p', ['PUBSUB', 'NUMPAT']],
];

/** RESP3: pushes, no subscribed-mode restrictions, self-delivery before the PUBLISH reply. */
const RESP3_SCRIPT: Step[] = [
  ['a', ['HELLO', '3']],
  ['a', ['SUBSCRIBE', 'ch', 'other']],
  ['a', ['PING']],
  ['a', ['PING', 'x']],
  ['a', ['GET', 'k']],
  ['a', ['SET', 'k', 'v']],
  ['a', ['GET', 'k']],
  ['a', ['PUBLISH', 'ch', 'to myself']],
  ['a', ['PSUBSCRIBE', 'c?']],
  ['b', ['PUBLISH', 'ch', 'two frames']],
  ['b', ['PUBLISH', 'cx', 'pattern only']],
  ['a', ['SSUBSCRIBE', 'sh']],
  ['b', ['SPUBLISH', 'sh', 'shard']],
  ['c', ['SUBSCRIBE', 'ch']],
  ['b', ['PUBLISH', 'ch', 'resp2 and resp3 subscribers']],
  ['a', ['UNSUBSCRIBE', 'other']],
  ['a', ['PUNSUBSCRIBE']],
  ['a', ['PUNSUBSCRIBE']],
  ['a', ['SUNSUBSCRIBE']],
  ['a', ['SUNSUBSCRIBE', 'never']],
  ['a', ['CLIENT', 'LIST', 'ID', '999999']],
  ['a', ['RESET']],
  ['b', ['PUBSUB', 'NUMSUB', 'ch']],
  ['a', ['PING']],
  ['a', ['HELLO', '3']],
  ['a', ['UNSUBSCRIBE']],
];

describe.each(SABRE_MODES)('byte-exact against redis-server: sabre %s', (_name, args) => {
  let redis: ServerHandle;
  let sabre: ServerHandle;
  beforeAll(async () => {
    [redis, sabre] = await Promise.all([startRedis(), startSabre(args)]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), sabre?.stop()]);
  });

  it('RESP2 streams are identical', async () => {
    const want = await runScript(redis.port, RESP2_SCRIPT);
    const got = await runScript(sabre.port, RESP2_SCRIPT);
    // Sanity: the reference really answered (the script exercises what it claims).
    expect(want.a).toContain('only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context');
    expect(want.h).toContain('still delivered');
    for (const conn of Object.keys(want)) expect({ conn, bytes: got[conn] }).toEqual({ conn, bytes: want[conn] });
  });

  it('RESP3 streams are identical', async () => {
    const want = await runScript(redis.port, RESP3_SCRIPT);
    const got = await runScript(sabre.port, RESP3_SCRIPT);
    expect(want.a).toContain('>3\\r\\n$7\\r\\nmessage\\r\\n$2\\r\\nch\\r\\n$9\\r\\nto myself\\r\\n:1\\r\\n');
    for (const conn of Object.keys(want)) expect({ conn, bytes: got[conn] }).toEqual({ conn, bytes: want[conn] });
  });

  it('UNSUBSCRIBE with no arguments drops every channel (Redis orders them by hash: compared as sets)', async () => {
    for (const srv of [redis, sabre]) {
      const c = await RawClient.connect(srv.port);
      c.send(Buffer.concat([encodeCommand(['SUBSCRIBE', 'u1', 'u2', 'u3']), encodeCommand(['PSUBSCRIBE', 'p1', 'p2'])]));
      for (let i = 0; i < 5; i++) await c.readReply();
      c.send(encodeCommand(['UNSUBSCRIBE']));
      const frames = [await c.readReply(), await c.readReply(), await c.readReply()].map((b) => b.toString('latin1'));
      // Counts go 4, 3, 2 (the two patterns remain), whatever the channel order.
      expect(frames.map((f) => /:(\d+)\r\n$/.exec(f)![1])).toEqual(['4', '3', '2']);
      expect(frames.map((f) => /\$2\r\n(u\d)\r\n/.exec(f)![1]).sort()).toEqual(['u1', 'u2', 'u3']);
      // Patterns go in subscription order.
      c.send(encodeCommand(['PUNSUBSCRIBE']));
      expect((await c.readReply()).toString()).toBe('*3\r\n$12\r\npunsubscribe\r\n$2\r\np1\r\n:1\r\n');
      expect((await c.readReply()).toString()).toBe('*3\r\n$12\r\npunsubscribe\r\n$2\r\np2\r\n:0\r\n');
      expect((await c.command('PING')).toString()).toBe('+PONG\r\n');
      c.close();
    }
  });

  it('INFO and CLIENT LIST report subscriptions as redis-server does', async () => {
    const fields = async (srv: ServerHandle) => {
      const a = await RawClient.connect(srv.port);
      await a.pipeline([['SUBSCRIBE', 'i1', 'i2'], ['PSUBSCRIBE', 'ip*'], ['SSUBSCRIBE', 'is']]);
      await a.readReply(); // the second SUBSCRIBE notification
      const o = await RawClient.connect(srv.port);
      const info = (await o.command('INFO', 'stats')).toString();
      const list = (await o.command('CLIENT', 'LIST', 'TYPE', 'pubsub')).toString();
      const normalList = (await o.command('CLIENT', 'LIST', 'TYPE', 'normal')).toString();
      a.close();
      await sleep(50);
      const after = (await o.command('INFO', 'stats')).toString();
      o.close();
      const pick = (s: string) => s.split('\r\n').filter((l) => l.startsWith('pubsub'));
      return {
        info: pick(info),
        list: /flags=\S+ db=0 sub=\d+ psub=\d+ ssub=\d+/.exec(list)?.[0],
        normalHasSubscriber: /sub=2 /.test(normalList),
        after: pick(after),
      };
    };
    const want = await fields(redis);
    expect(want.info).toEqual(['pubsub_channels:2', 'pubsub_patterns:1', 'pubsubshard_channels:1']);
    expect(await fields(sabre)).toEqual(want);
  });
});

// ---- behaviour on every server -----------------------------------------------------------------

const TARGETS: [string, () => Promise<ServerHandle>][] = [
  ['redis', () => startRedis()],
  ...SABRE_MODES.map(([n, a]): [string, () => Promise<ServerHandle>] => [`sabre ${n}`, () => startSabre(a)]),
];

describe.each(TARGETS)('%s', (_name, start) => {
  let srv: ServerHandle;
  beforeAll(async () => {
    srv = await start();
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('ioredis subscribers get messages, pattern messages and shard messages', async () => {
    const sub = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    const pub = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      const got: string[] = [];
      sub.on('message', (ch: string, m: string) => got.push(`message ${ch} ${m}`));
      sub.on('pmessage', (p: string, ch: string, m: string) => got.push(`pmessage ${p} ${ch} ${m}`));
      sub.on('smessage', (ch: string, m: string) => got.push(`smessage ${ch} ${m}`));
      expect(await sub.subscribe('io-a', 'io-b')).toBe(2);
      expect(await sub.psubscribe('io-*')).toBe(3);
      expect(await sub.ssubscribe('io-s')).toBe(1);
      expect(await pub.publish('io-a', 'one')).toBe(2);
      expect(await pub.publish('io-c', 'two')).toBe(1);
      expect(await pub.spublish('io-s', 'three')).toBe(1);
      expect(await pub.pubsub('NUMSUB', 'io-a', 'io-c')).toEqual(['io-a', 1, 'io-c', 0]);
      await sleep(50);
      expect(got).toEqual(['message io-a one', 'pmessage io-* io-a one', 'pmessage io-* io-c two', 'smessage io-s three']);
      // (ioredis's argument-less unsubscribe() waits forever when patterns remain: name them.)
      expect(await sub.unsubscribe('io-a', 'io-b')).toBe(1);
      expect(await sub.punsubscribe('io-*')).toBe(0);
      expect(await sub.sunsubscribe('io-s')).toBe(0);
      expect(await sub.get('anything')).toBe(null); // back in normal mode
    } finally {
      sub.disconnect();
      pub.disconnect();
    }
  });

  it('node-redis subscribers (RESP2 and RESP3) get messages in order', async () => {
    for (const RESP of [2, 3] as const) {
      const client = createClient({ RESP, socket: { port: srv.port, host: '127.0.0.1', reconnectStrategy: false } });
      client.on('error', () => {});
      await client.connect();
      const sub = client.duplicate();
      sub.on('error', () => {});
      await sub.connect();
      try {
        const got: string[] = [];
        await sub.subscribe('nr', (m: string, ch: string) => got.push(`${ch}:${m}`));
        await sub.pSubscribe('nr*', (m: string, ch: string) => got.push(`p ${ch}:${m}`));
        for (let i = 0; i < 20; i++) await client.publish(i % 2 ? 'nr' : 'nr-x', String(i));
        await sleep(50);
        const want: string[] = [];
        for (let i = 0; i < 20; i++) {
          if (i % 2) want.push(`nr:${i}`);
          want.push(`p ${i % 2 ? 'nr' : 'nr-x'}:${i}`);
        }
        expect(got).toEqual(want);
        await sub.unsubscribe();
        await sub.pUnsubscribe();
      } finally {
        await sub.quit().catch(() => {});
        await client.quit().catch(() => {});
      }
    }
  });

  it('fans out to 2,000 subscribers: each gets every message, in order', async () => {
    const N = 2000, M = 25;
    const subs: RawClient[] = [];
    try {
      for (let i = 0; i < N; i += 100) {
        const batch = await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => RawClient.connect(srv.port)));
        subs.push(...batch);
      }
      // Every fourth subscriber speaks RESP3.
      await Promise.all(subs.map(async (c, i) => {
        if (i % 4 === 0) await c.command('HELLO', '3');
        await c.command('SUBSCRIBE', 'fan');
      }));
      const pub = await RawClient.connect(srv.port);
      const counts = await pub.pipeline(Array.from({ length: M }, (_, j) => ['PUBLISH', 'fan', `message-${j}-${'x'.repeat(j * 10)}`]));
      expect(counts.map((b) => b.toString())).toEqual(Array(M).fill(`:${N}\r\n`));
      const frame = (j: number, resp3: boolean) => {
        const m = `message-${j}-${'x'.repeat(j * 10)}`;
        return `${resp3 ? '>' : '*'}3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$${m.length}\r\n${m}\r\n`;
      };
      await Promise.all(subs.map(async (c, i) => {
        for (let j = 0; j < M; j++) expect((await c.readReply()).toString()).toBe(frame(j, i % 4 === 0));
      }));
      expect((await pub.command('PUBSUB', 'NUMSUB', 'fan')).toString()).toBe(`*2\r\n$3\r\nfan\r\n:${N}\r\n`);
      for (const c of subs) c.close();
      subs.length = 0;
      // Disconnected subscribers are gone from the channel.
      let left = '';
      for (let t = 0; t < 100; t++) {
        left = (await pub.command('PUBSUB', 'NUMSUB', 'fan')).toString();
        if (left.endsWith(':0\r\n')) break;
        await sleep(20);
      }
      expect(left).toBe('*2\r\n$3\r\nfan\r\n:0\r\n');
      expect((await pub.command('PUBLISH', 'fan', 'nobody')).toString()).toBe(':0\r\n');
      pub.close();
    } finally {
      for (const c of subs) c.close();
    }
  }, 60_000);

  it('a push never overtakes the replies to earlier pipelined commands (RESP3)', async () => {
    const a = await RawClient.connect(srv.port);
    const b = await RawClient.connect(srv.port);
    await a.command('HELLO', '3');
    const SETS = 500;
    for (let round = 0; round < 10; round++) {
      const ch = `order-${round}`;
      // Many data commands (on a shard, their replies in flight for a while), then SUBSCRIBE,
      // while another client publishes: the message must come after all those replies.
      const cmds: Buffer[] = [];
      for (let i = 0; i < SETS; i++) cmds.push(encodeCommand(['SET', `k${i}`, 'v']));
      cmds.push(encodeCommand(['GET', 'k0']), encodeCommand(['SUBSCRIBE', ch]));
      a.send(Buffer.concat(cmds));
      let n = 0;
      for (let t = 0; t < 200 && n === 0; t++) {
        n = Number((await b.command('PUBLISH', ch, 'm')).toString().slice(1, -2));
      }
      expect(n).toBe(1);
      for (let i = 0; i < SETS; i++) expect((await a.readReply()).toString()).toBe('+OK\r\n');
      expect((await a.readReply()).toString()).toBe('$1\r\nv\r\n');
      expect((await a.readReply()).toString()).toBe(`>3\r\n$9\r\nsubscribe\r\n$${ch.length}\r\n${ch}\r\n:1\r\n`);
      expect((await a.readReply()).toString()).toBe(`>3\r\n$7\r\nmessage\r\n$${ch.length}\r\n${ch}\r\n$1\r\nm\r\n`);
      await a.command('UNSUBSCRIBE');
    }
    a.close();
    b.close();
  });

  it('disconnects a subscriber that does not read (hard limit 32mb) and stays bounded in memory', async () => {
    const sub = net.connect({ port: srv.port, host: '127.0.0.1' });
    await new Promise((r) => sub.once('connect', r));
    let received = 0;
    let closed = false;
    sub.on('data', (d: Buffer) => { received += d.length; });
    sub.on('close', () => { closed = true; });
    sub.on('error', () => {});
    sub.write(encodeCommand(['SUBSCRIBE', 'flood']));
    for (let t = 0; t < 100 && received === 0; t++) await sleep(10);
    sub.pause(); // from now on it reads nothing
    const pub = await RawClient.connect(srv.port);
    const rss0 = rssOf(srv.pid);
    let rssMax = rss0;
    const msg = 'z'.repeat(64 * 1024);
    const BATCH = 32, TOTAL = 160 * 1024 * 1024;
    let published = 0;
    let lastCount = -1;
    while (published < TOTAL) {
      const replies = await pub.pipeline(Array.from({ length: BATCH }, () => ['PUBLISH', 'flood', msg]));
      published += BATCH * msg.length;
      lastCount = Number(replies[BATCH - 1].toString().slice(1, -2));
      rssMax = Math.max(rssMax, rssOf(srv.pid));
    }
    // The subscriber was dropped: nobody receives the last messages.
    expect(lastCount).toBe(0);
    expect((await pub.command('PUBSUB', 'NUMSUB', 'flood')).toString()).toBe('*2\r\n$5\r\nflood\r\n:0\r\n');
    // Memory grew by about the limit (plus garbage not yet collected), not by the 160 MB published.
    expect(rssMax - rss0).toBeLessThan(96 * 1024 * 1024);
    sub.resume();
    for (let t = 0; t < 500 && !closed; t++) await sleep(10);
    expect(closed).toBe(true);
    expect(received).toBeLessThan(TOTAL / 2);
    pub.close();
  }, 60_000);

  it('disconnects a subscriber over the soft limit for longer than its seconds', async () => {
    const cfg = await RawClient.connect(srv.port);
    const old = (await cfg.command('CONFIG', 'GET', 'client-output-buffer-limit')).toString();
    expect((await cfg.command('CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 0 1mb 1')).toString()).toBe('+OK\r\n');
    try {
      const sub = net.connect({ port: srv.port, host: '127.0.0.1' });
      await new Promise((r) => sub.once('connect', r));
      let closed = false;
      let got = 0;
      sub.on('data', (d: Buffer) => { got += d.length; });
      sub.on('close', () => { closed = true; });
      sub.on('error', () => {});
      sub.write(encodeCommand(['SUBSCRIBE', 'soft']));
      for (let t = 0; t < 100 && got === 0; t++) await sleep(10);
      sub.pause();
      const msg = 'q'.repeat(64 * 1024);
      // Far more than the kernel's socket buffers take: the server holds > 1mb for the client.
      for (let i = 0; i < 10; i++) await cfg.pipeline(Array.from({ length: 32 }, () => ['PUBLISH', 'soft', msg]));
      expect((await cfg.command('PUBSUB', 'NUMSUB', 'soft')).toString()).toBe('*2\r\n$4\r\nsoft\r\n:1\r\n');
      await sleep(2200);
      // Checked when output is added, as Redis does.
      await cfg.command('PUBLISH', 'soft', 'one more');
      await sleep(50);
      expect((await cfg.command('PUBSUB', 'NUMSUB', 'soft')).toString()).toBe('*2\r\n$4\r\nsoft\r\n:0\r\n');
      sub.resume();
      for (let t = 0; t < 500 && !closed; t++) await sleep(10);
      expect(closed).toBe(true);
    } finally {
      // *2 $26 client-output-buffer-limit $n <value>
      await cfg.command('CONFIG', 'SET', 'client-output-buffer-limit', old.split('\r\n')[4]);
      cfg.close();
    }
  }, 30_000);
});

/**
 * Client-side caching (CLIENT TRACKING) through real sockets, in every shard mode: scripts
 * of commands over several connections run against Sabre and the reference redis-server,
 * and every connection's received bytes must be identical (RESP3 pushes, RESP2 redirection
 * to __redis__:invalidate, BCAST with prefixes, OPTIN/OPTOUT, NOLOOP, flushes, expiry,
 * MULTI/EXEC, broken redirections, argument errors, TRACKINGINFO). Plus INFO counters,
 * CLIENT LIST flags and GETREDIR (ioredis), tracking-table-max-keys, and node-redis's own
 * client-side cache (RESP3) kept correct by Sabre's invalidations.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { createClient } from 'redis';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';
import { encodeCommand, escapeBytes } from './helpers/resp';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A script step: commands pipelined on one connection, closing one, or waiting. */
type Step = { conn: number; cmds: string[] } | { close: number } | { sleep: number };
const on = (conn: number, ...cmds: string[]): Step => ({ conn, cmds });

/** A connection that keeps every byte it receives. */
class Conn {
  readonly chunks: Buffer[] = [];
  id = 0;
  private waiters: (() => void)[] = [];
  private constructor(readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('error', () => {});
  }
  static async open(port: number): Promise<Conn> {
    const sock = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', rej);
    });
    const c = new Conn(sock);
    c.sock.write(encodeCommand(['CLIENT', 'ID']));
    await c.until(() => /^:\d+\r\n$/.test(c.text()));
    c.id = Number(c.text().slice(1, -2));
    c.chunks.length = 0;
    return c;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
  async until(done: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!done()) {
      if (Date.now() > end) throw new Error(`timeout; got so far: ${escapeBytes(this.text())}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }
  /** Send commands then a PING marker; resolve once the marker's reply came back (all before it is in). */
  async send(cmds: string[][], marker: string): Promise<void> {
    this.sock.write(Buffer.concat([...cmds.map((c) => encodeCommand(c)), encodeCommand(['PING', marker])]));
    await this.until(() => this.text().includes(marker));
  }
}

/**
 * Run a script; returns each connection's bytes with connection ids replaced by #index
 * (HELLO's id, REDIRECT in TRACKINGINFO, tracking-redir-broken).
 */
async function runScript(port: number, steps: Step[]): Promise<string[]> {
  const setup = await Conn.open(port);
  await setup.send([['FLUSHALL'], ['CONFIG', 'SET', 'tracking-table-max-keys', '1000000'], ['CONFIG', 'SET', 'notify-keyspace-events', '']], 'setup');
  setup.sock.destroy();
  await sleep(20);
  const conns: (Conn | null)[] = [];
  const all: Conn[] = [];
  let n = 0;
  const get = async (i: number): Promise<Conn> => {
    if (conns[i] === undefined) {
      conns[i] = await Conn.open(port);
      all[i] = conns[i]!;
    }
    return conns[i]!;
  };
  try {
    for (const step of steps) {
      if ('sleep' in step) {
        await sleep(step.sleep);
      } else if ('close' in step) {
        conns[step.close]!.sock.destroy();
        conns[step.close] = null;
        await sleep(50);
      } else {
        const c = await get(step.conn);
        const cmds: string[][] = [];
        for (const line of step.cmds) {
          const args: string[] = [];
          for (const a of line.split(' ')) args.push(a.replace(/\{id:(\d+)\}/g, (_m, k) => String(all[Number(k)]?.id ?? 999999)));
          cmds.push(args);
        }
        await c.send(cmds, `__sync${n++}__`);
      }
      // Everything the step caused on other connections arrives before their next reply.
      for (const c of conns) if (c !== null && c !== undefined) await c.send([], `__sync${n++}__`);
    }
  } finally {
    for (const c of all) c?.sock.destroy();
  }
  return all.map((c) => {
    let t = c.text();
    const idOf = (id: string) => {
      const k = all.findIndex((x) => x !== undefined && String(x.id) === id);
      return k < 0 ? id : `#${k}`;
    };
    t = t.replace(/(\$2\r\nid\r\n:)(\d+)/g, (_m, p, id) => p + idOf(id));
    t = t.replace(/(\$8\r\nredirect\r\n:)(\d+)/g, (_m, p, id) => p + idOf(id));
    t = t.replace(/(tracking-redir-broken\r\n:)(\d+)/g, (_m, p, id) => p + idOf(id));
    return t;
  });
}

/** '' when equal, else which connection differs and the bytes around the first difference. */
function firstDifference(got: string[], want: string[]): string {
  if (got.length !== want.length) return `${got.length} connections, expected ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    const a = got[i], b = want[i];
    if (a === b) continue;
    let k = 0;
    while (k < a.length && k < b.length && a[k] === b[k]) k++;
    const from = Math.max(0, k - 120);
    return `connection ${i} differs at byte ${k}:\n  sabre: ${escapeBytes(a.slice(from, k + 160), 400)}\n  redis: ${escapeBytes(b.slice(from, k + 160), 400)}`;
  }
  return '';
}

const SCRIPTS: Record<string, Step[]> = {
  'RESP3 default mode: own writes after the reply, others at once, flush': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on'),
    on(0, 'GET a', 'SET a 1', 'GET a', 'GET b', 'MSET a 1 b 2', 'GET a', 'GET b'),
    on(1, 'HELLO 3', 'SET a 2', 'SET b 3', 'SET a 4'),
    on(0, 'MGET a b c', 'HGET h f', 'LRANGE l 0 -1'),
    on(1, 'HSET h f v', 'RPUSH l x', 'DEL c', 'SET c 1'),
    on(0, 'GET a', 'FLUSHDB'),
    on(0, 'GET a'),
    on(1, 'FLUSHALL'),
    on(0, 'GET x', 'SELECT 1', 'SET x 1', 'SELECT 0'),
    on(0, 'GET k1', 'GET k2'),
    on(1, 'SET k2 v', 'DEL k1 k2'),
    on(0, 'SADD s1 a', 'SADD s2 a', 'SMEMBERS s1', 'SMEMBERS s2', 'GET d'),
    on(1, 'SINTERSTORE d s1 s2', 'SREM s1 nope', 'SREM s1 a'),
    on(0, 'CLIENT TRACKING off', 'GET z'),
    on(1, 'SET z 1', 'SET a 9'),
    on(0, 'CLIENT TRACKING on', 'GET sw'),
    on(1, 'SELECT 1', 'SET sw 1', 'SWAPDB 0 1', 'SELECT 0', 'DEL sw'),
  ],
  'keyspace notifications of the selected classes only, while tracking raises them all': [
    on(0, 'PSUBSCRIBE __key*'),
    on(1, 'CONFIG SET notify-keyspace-events Kl', 'HELLO 3', 'CLIENT TRACKING on', 'GET s', 'LRANGE l 0 -1', 'GET t'),
    on(2, 'SET s 1', 'RPUSH l a', 'SET t x PX 1'),
    { sleep: 300 },
    on(1, 'CONFIG SET notify-keyspace-events KEA', 'GET s', 'LRANGE l 0 -1'),
    on(2, 'SET s 2', 'DEL l', 'LPUSH l b'),
    on(1, 'CLIENT TRACKING off'),
    on(2, 'SET s 3', 'LPUSH l c'),
  ],
  'pipelined read-modify-read keeps the key tracked': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on', 'GET a', 'SET a 1', 'GET a', 'INCR a', 'GET a'),
    on(1, 'SET a x'),
    on(1, 'SET a y'),
    on(0, 'GET a'),
    on(1, 'RENAME a b'),
    on(0, 'GET b', 'EXPIRE b 100'),
    on(1, 'PERSIST b', 'PERSIST b'),
  ],
  'RESP2 redirect to a subscriber of __redis__:invalidate': [
    on(0, 'SUBSCRIBE __redis__:invalidate'),
    on(1, 'CLIENT TRACKING on REDIRECT {id:0}', 'GET a', 'GET b'),
    on(2, 'SET a 1', 'SET b 1', 'SET b 2'),
    on(1, 'GET a', 'SET a 5', 'GET a'),
    on(2, 'FLUSHALL'),
    on(3, 'HELLO 3', 'CLIENT TRACKING on REDIRECT {id:0}', 'GET c'),
    on(2, 'SET c 1', 'FLUSHDB'),
    on(1, 'CLIENT TRACKING on', 'GET d'),
    on(2, 'SET d 1'),
  ],
  'RESP3 redirect target, and a redirect that breaks': [
    on(0, 'HELLO 3'),
    on(1, 'HELLO 3', 'CLIENT TRACKING on REDIRECT {id:0}', 'GET a'),
    on(2, 'SET a 1'),
    on(3, 'PING'),
    on(1, 'CLIENT TRACKING on REDIRECT {id:3}', 'GET b', 'CLIENT TRACKINGINFO'),
    { close: 3 },
    on(2, 'SET b 1'),
    on(1, 'CLIENT TRACKINGINFO', 'GET c', 'SET c 1'),
    on(2, 'FLUSHDB'),
    on(4, 'CLIENT TRACKING on REDIRECT {id:3}'),
  ],
  'BCAST with prefixes and NOLOOP': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on BCAST PREFIX a PREFIX b'),
    on(1, 'HELLO 3', 'CLIENT TRACKING on BCAST NOLOOP PREFIX b'),
    on(2, 'HELLO 3', 'CLIENT TRACKING on BCAST'),
    on(3, 'MSET a2 1 a1 2 c1 3 b1 4'),
    on(1, 'SET b2 x', 'SET a3 x'),
    on(0, 'GET a1', 'SET zz 1', 'SET a1 3'),
    on(3, 'DEL a1 b1 nokey'),
    on(3, 'FLUSHALL'),
    on(0, 'CLIENT TRACKINGINFO', 'CLIENT TRACKING on BCAST PREFIX c', 'CLIENT TRACKINGINFO'),
    on(3, 'SET c5 1'),
  ],
  'OPTIN and OPTOUT with CLIENT CACHING': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on OPTIN', 'GET a', 'CLIENT CACHING yes', 'GET b', 'GET c'),
    on(0, 'CLIENT CACHING yes', 'CLIENT GETNAME', 'GET d', 'CLIENT CACHING yes', 'MULTI', 'GET e', 'GET f', 'EXEC', 'GET g'),
    on(0, 'CLIENT TRACKINGINFO', 'CLIENT CACHING yes', 'CLIENT TRACKINGINFO'),
    on(1, 'MSET a 1 b 1 c 1 d 1 e 1 f 1 g 1'),
    on(2, 'HELLO 3', 'CLIENT TRACKING on OPTOUT', 'GET a', 'CLIENT CACHING no', 'GET b', 'GET c'),
    on(1, 'MSET a 2 b 2 c 2'),
    on(0, 'CLIENT TRACKING off', 'CLIENT TRACKING on OPTIN NOLOOP', 'CLIENT TRACKINGINFO'),
  ],
  'NOLOOP in default mode': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on NOLOOP', 'GET a', 'SET a 1', 'GET a', 'GET b'),
    on(1, 'SET a 2', 'SET b 2'),
    on(0, 'GET a', 'FLUSHDB', 'GET a'),
    on(1, 'SET a 3'),
  ],
  'MULTI/EXEC reads and writes': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on', 'MULTI', 'GET a', 'GET b', 'EXEC'),
    on(1, 'SET a 1'),
    on(0, 'MULTI', 'SET b 1', 'GET c', 'SET c 2', 'EXEC'),
    on(1, 'SET c 3', 'MULTI', 'SET a 1', 'SET b 1', 'EXEC'),
    on(0, 'GET a', 'MULTI', 'FLUSHDB', 'GET a', 'EXEC'),
  ],
  'keys read by scripts are remembered for their caller': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on', "EVAL return{redis.call('GET',KEYS[1]),redis.call('MGET',KEYS[2],'undeclared')} 2 a b",
      "EVAL_RO return(redis.call('GET',KEYS[1])) 1 c", "EVAL redis.call('SET',KEYS[1],'x');return(redis.call('GET',KEYS[1])) 1 d",
      "SCRIPT LOAD return(redis.call('HGET',KEYS[1],'f'))", 'EVALSHA 4107622c59911d4d4970a181abd2a41910900f74 1 h',
      "EVAL return(redis.call('EXISTS',KEYS[1])) 1 h"),
    on(1, 'SET a 1', 'SET b 1', 'SET undeclared 1', 'SET c 1', 'SET d 1', 'HSET h f v'),
    on(2, 'HELLO 3', 'CLIENT TRACKING on OPTIN', "EVAL return(redis.call('GET',KEYS[1])) 1 e", 'CLIENT CACHING yes',
      "EVAL return(redis.call('GET',KEYS[1])) 1 f"),
    on(1, 'SET e 1', 'SET f 1'),
  ],
  'expiry invalidates': [
    on(0, 'HELLO 3', 'CLIENT TRACKING on'),
    on(1, 'SET active v PX 100', 'SET other v PX 100', 'SET gone v', 'PEXPIRE gone 0'),
    on(0, 'GET active'),
    on(2, 'HELLO 3', 'CLIENT TRACKING on NOLOOP', 'GET other', 'GET gone'),
    on(1, 'SET gone v', 'EXPIRE gone -1'),
    { sleep: 700 },
    on(0, 'GET active'),
    on(2, 'GET other'),
  ],
  'argument errors and replies': [
    on(0, 'CLIENT TRACKING', 'CLIENT TRACKING maybe', 'CLIENT TRACKING on FOO', 'CLIENT TRACKING on REDIRECT',
      'CLIENT TRACKING on REDIRECT x', 'CLIENT TRACKING on REDIRECT -1', 'CLIENT TRACKING on REDIRECT 0',
      'CLIENT TRACKING on REDIRECT 123456', 'CLIENT TRACKING on REDIRECT {id:0} REDIRECT {id:0}',
      'CLIENT TRACKING on PREFIX a', 'CLIENT TRACKING on BCAST OPTIN', 'CLIENT TRACKING on BCAST OPTOUT',
      'CLIENT TRACKING on OPTIN OPTOUT', 'CLIENT TRACKING on PREFIX', 'CLIENT TRACKING off PREFIX a',
      'CLIENT TRACKING off BCAST', 'CLIENT TRACKINGINFO', 'CLIENT GETREDIR', 'CLIENT TRACKINGINFO x',
      'CLIENT GETREDIR x', 'CLIENT CACHING', 'CLIENT CACHING yes', 'CLIENT CACHING maybe'),
    on(0, 'CLIENT TRACKING on', 'CLIENT CACHING yes', 'CLIENT CACHING no', 'CLIENT CACHING maybe',
      'CLIENT TRACKING on BCAST', 'CLIENT TRACKING on OPTIN', 'CLIENT TRACKING on OPTOUT', 'CLIENT TRACKING on OPTIN',
      'CLIENT TRACKINGINFO', 'CLIENT CACHING no', 'CLIENT CACHING yes', 'CLIENT CACHING maybe', 'CLIENT GETREDIR'),
    on(1, 'CLIENT TRACKING on BCAST PREFIX ab PREFIX a', 'CLIENT TRACKING on BCAST PREFIX a PREFIX b PREFIX bc',
      'CLIENT TRACKINGINFO', 'CLIENT TRACKING on BCAST PREFIX abc', 'CLIENT TRACKING on BCAST PREFIX x PREFIX y',
      'CLIENT TRACKING on BCAST', 'CLIENT TRACKING on', 'CLIENT TRACKINGINFO', 'HELLO 3', 'CLIENT TRACKINGINFO'),
    on(2, 'HELLO 3', 'CLIENT TRACKINGINFO', 'CLIENT TRACKING on NOLOOP OPTOUT REDIRECT {id:0}', 'CLIENT TRACKINGINFO',
      'CLIENT CACHING no', 'CLIENT TRACKINGINFO', 'RESET', 'CLIENT TRACKINGINFO', 'CLIENT GETREDIR'),
  ],
};

const MODES = [0, 1, 2];

describe('CLIENT TRACKING, byte for byte against redis-server', () => {
  let redis: ServerHandle;
  const expected = new Map<string, string[]>();
  beforeAll(async () => {
    redis = await startRedis();
    for (const [name, steps] of Object.entries(SCRIPTS)) expected.set(name, await runScript(redis.port, steps));
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
  });

  for (const shards of MODES) {
    describe(`--shards ${shards}`, () => {
      let sabre: ServerHandle;
      beforeAll(async () => {
        sabre = await startSabre(['--shards', String(shards)]);
      });
      afterAll(async () => {
        await sabre?.stop();
      });
      for (const name of Object.keys(SCRIPTS)) {
        it(name, async () => {
          const got = await runScript(sabre.port, SCRIPTS[name]);
          const want = expected.get(name)!;
          expect(firstDifference(got, want)).toBe('');
        });
      }

      it('INFO counters, CLIENT LIST flags and redir', async () => {
        const a = new Redis({ port: sabre.port, host: '127.0.0.1', lazyConnect: true });
        const b = new Redis({ port: sabre.port, host: '127.0.0.1', lazyConnect: true });
        await a.connect();
        await b.connect();
        try {
          await a.flushall();
          const bid = await b.client('ID');
          await a.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(bid));
          await a.mget('k1', 'k2', 'k3');
          await b.call('CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'p', 'PREFIX', 'q');
          await b.get('k1');
          const info = await a.info();
          expect(info).toMatch(/tracking_clients:2\r\n/);
          expect(info).toMatch(/tracking_total_keys:3\r\n/);
          expect(info).toMatch(/tracking_total_items:3\r\n/);
          expect(info).toMatch(/tracking_total_prefixes:2\r\n/);
          expect(await a.client('GETREDIR')).toBe(bid);
          expect(await b.client('GETREDIR')).toBe(0);
          const mine = (await a.client('INFO')) as string;
          expect(mine).toMatch(/ flags=t /);
          expect(mine).toContain(` redir=${bid} `);
          const list = (await a.client('LIST')) as string;
          expect(list).toMatch(new RegExp(`id=${bid} .* flags=tB .* redir=0 `));
          b.disconnect();
          await sleep(100);
          await b.quit().catch(() => {});
          await a.set('k1', 'x'); // the redirect is gone: flag R
          expect((await a.client('INFO')) as string).toMatch(/ flags=tR /);
          const info2 = await a.info('stats');
          expect(info2).toMatch(/tracking_total_keys:2\r\n/);
          expect(info2).toMatch(/tracking_total_prefixes:0\r\n/);
          expect(await a.info('clients')).toMatch(/tracking_clients:1\r\n/);
          await a.call('CLIENT', 'TRACKING', 'off');
          expect((await a.client('INFO')) as string).toMatch(/ flags=N .* redir=-1 /);
          expect(await a.info('clients')).toMatch(/tracking_clients:0\r\n/);
        } finally {
          a.disconnect();
          b.disconnect();
        }
      });

      it('tracking-table-max-keys evicts keys with invalidations', async () => {
        const c = await Conn.open(sabre.port);
        try {
          await c.send([['FLUSHALL'], ['HELLO', '3'], ['CONFIG', 'SET', 'tracking-table-max-keys', '3'], ['CLIENT', 'TRACKING', 'on']], 'm0');
          await c.send([['MGET', 'a', 'b', 'c', 'd', 'e']], 'm1');
          await c.send([['PING']], 'm2');
          const t = c.text();
          expect((t.match(/invalidate/g) ?? []).length).toBe(2);
          const info = await new Promise<string>((res) => {
            c.chunks.length = 0;
            c.sock.write(encodeCommand(['INFO', 'stats']));
            void c.until(() => c.text().includes('tracking_total_prefixes')).then(() => res(c.text()));
          });
          expect(info).toMatch(/tracking_total_keys:3\r\n/);
          await c.send([['CONFIG', 'SET', 'tracking-table-max-keys', '1000000']], 'm3');
        } finally {
          c.sock.destroy();
        }
      });

      it('node-redis client-side cache (RESP3) stays correct', async () => {
        const client = createClient({
          RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 },
          socket: { port: sabre.port, host: '127.0.0.1', reconnectStrategy: false },
        });
        client.on('error', () => {});
        const writer = createClient({ socket: { port: sabre.port, host: '127.0.0.1', reconnectStrategy: false } });
        writer.on('error', () => {});
        await client.connect();
        await writer.connect();
        try {
          await writer.set('csc', 'v1');
          expect(await client.get('csc')).toBe('v1');
          expect(await client.get('csc')).toBe('v1');
          const cache = client.clientSideCache!;
          expect(cache.stats().hitCount).toBeGreaterThanOrEqual(1);
          await writer.set('csc', 'v2');
          await sleep(50);
          expect(await client.get('csc')).toBe('v2');
          await writer.flushAll();
          await sleep(50);
          expect(await client.get('csc')).toBe(null);
        } finally {
          await client.quit().catch(() => {});
          await writer.quit().catch(() => {});
        }
      });
    });
  }
});

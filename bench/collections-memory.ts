/**
 * Memory of big collections, Sabre against the reference Redis in the same run: one key
 * holding N elements (default 1,000,000) of each type, loaded through a pipelined raw
 * socket; reports used_memory and RSS deltas per element from both servers' INFO.
 *
 *   npm run build && node dist/bench/collections-memory.js [--n 1000000] [--shards 0]
 */
import * as net from 'node:net';
import * as fs from 'node:fs';
import { ServerHandle, startRedis, startSabre } from '../test/helpers/servers';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function encode(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

/** A minimal pipelined client: counts replies by their CRLF-terminated first line (no bulk replies expected but INFO). */
class Pipe {
  private sock: net.Socket;
  private buf = '';
  private replies = 0;
  private infoWaiter: ((s: string) => void) | null = null;
  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d) => this.onData(d.toString('latin1')));
  }
  ready(): Promise<void> {
    return new Promise((r) => this.sock.once('connect', () => r()));
  }
  private onData(s: string): void {
    this.buf += s;
    for (;;) {
      if (this.buf.startsWith('$')) {
        const nl = this.buf.indexOf('\r\n');
        if (nl < 0) return;
        const len = Number(this.buf.slice(1, nl));
        if (this.buf.length < nl + 4 + len) return;
        const body = this.buf.slice(nl + 2, nl + 2 + len);
        this.buf = this.buf.slice(nl + 4 + len);
        this.infoWaiter?.(body);
        this.infoWaiter = null;
        continue;
      }
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) return;
      this.buf = this.buf.slice(nl + 2);
      this.replies++;
    }
  }
  async send(cmds: string, expect: number): Promise<void> {
    const target = this.replies + expect;
    this.sock.write(cmds);
    while (this.replies < target) await new Promise((r) => setImmediate(r));
  }
  info(): Promise<string> {
    return new Promise((r) => { this.infoWaiter = r; this.sock.write(encode(['INFO', 'memory'])); });
  }
  close(): void {
    this.sock.destroy();
  }
}

const field = (s: string, f: string) => Number(new RegExp(`${f}:(\\d+)`).exec(s)?.[1] ?? NaN);

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const TYPES: [string, (i: number) => string[]][] = [
  ['hash (HSET big field:<i> value:<i>)', (i) => ['HSET', 'big', `field:${i}`, `value:${i}`]],
  ['set (SADD big member:<i>)', (i) => ['SADD', 'big', `member:${i}`]],
  ['list (RPUSH big element:<i>)', (i) => ['RPUSH', 'big', `element:${i}`]],
  ['zset (ZADD big <i> member:<i>)', (i) => ['ZADD', 'big', String(i), `member:${i}`]],
];

async function measure(srv: ServerHandle, n: number, make: (i: number) => string[]): Promise<[number, number]> {
  const p = new Pipe(srv.port);
  await p.ready();
  await p.send(encode(['FLUSHALL']), 1);
  // Big values are freed lazily: take the baseline once nothing is pending.
  let m0 = await p.info();
  while (field(m0, 'lazyfree_pending_objects') > 0) {
    await new Promise((r) => setTimeout(r, 50));
    m0 = await p.info();
  }
  const r0 = rss(srv.pid);
  const BATCH = 5000;
  for (let i = 0; i < n; i += BATCH) {
    let s = '';
    const end = Math.min(n, i + BATCH);
    for (let k = i; k < end; k++) s += encode(make(k));
    await p.send(s, end - i);
  }
  const m1 = await p.info();
  const r1 = rss(srv.pid);
  p.close();
  return [(field(m1, 'used_memory') - field(m0, 'used_memory')) / n, (r1 - r0) / n];
}

async function main(): Promise<void> {
  const n = Number(arg('n', '1000000'));
  const shards = arg('shards', '0');
  console.log(`Command: node dist/bench/collections-memory.js --n ${n} --shards ${shards}\n`);
  console.log(`One key of ${n.toLocaleString('en-US')} elements per type, on a fresh FLUSHALL; bytes per element from each server's own INFO used_memory and from RSS (RSS does not shrink after FLUSHALL, so later rows' RSS deltas are understated for both).\n`);
  console.log('| type | Redis used_memory B/elem | Sabre used_memory B/elem | Sabre/Redis | Redis RSS B/elem | Sabre RSS B/elem |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const redis = await startRedis();
  const sabre = await startSabre(['--shards', shards]);
  try {
    for (const [name, make] of TYPES) {
      const [ru, rr] = await measure(redis, n, make);
      const [su, sr] = await measure(sabre, n, make);
      console.log(`| ${name} | ${ru.toFixed(1)} | ${su.toFixed(1)} | ${(su / ru).toFixed(2)} | ${rr.toFixed(1)} | ${sr.toFixed(1)} |`);
    }
  } finally {
    await redis.stop();
    await sabre.stop();
  }
}

void main();

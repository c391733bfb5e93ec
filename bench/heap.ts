/**
 * V8 heap versus key count: loads N keys (default 10,000,000) into one Sabre through a
 * pipelined raw socket and reports INFO memory (heap_used_bytes, arena bytes, RSS) at
 * checkpoints. The design requires the heap to stay flat as keys grow (< 100 MB at 10M keys).
 *
 *   npm run build && node dist/bench/heap.js [--keys 10000000] [--shards 0]
 */
import * as net from 'node:net';
import { startSabre } from '../test/helpers/servers';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function encode(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

async function main(): Promise<void> {
  const keys = Number(arg('keys', '10000000'));
  const shards = arg('shards', '0');
  const srv = await startSabre(['--shards', shards]);
  const sock = net.connect(srv.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let pending = '';
  let waiters: ((s: string) => void)[] = [];
  let okCount = 0;
  sock.on('data', (d) => {
    pending += d.toString('latin1');
    // Count +OK replies fast; hand bulk replies (INFO) to a waiter.
    let i: number;
    while ((i = pending.indexOf('+OK\r\n')) === 0) { okCount++; pending = pending.slice(5); }
    if (pending.startsWith('$')) {
      const nl = pending.indexOf('\r\n');
      const len = Number(pending.slice(1, nl));
      if (pending.length >= nl + 2 + len + 2) {
        const body = pending.slice(nl + 2, nl + 2 + len);
        pending = pending.slice(nl + 4 + len);
        const w = waiters.shift();
        w?.(body);
      }
    }
  });
  const info = () => new Promise<string>((r) => { waiters.push(r); sock.write(encode(['INFO', 'memory'])); });
  const field = (s: string, f: string) => Number(new RegExp(`${f}:(\\d+)`).exec(s)?.[1] ?? NaN);
  const rows: string[] = [];
  const report = async (n: number) => {
    const m = await info();
    rows.push(`| ${n.toLocaleString('en-US')} | ${(field(m, 'heap_used_bytes') / 1e6).toFixed(1)} | ${(field(m, 'arena_used_bytes') / 1e6).toFixed(1)} | ${(field(m, 'used_memory_rss') / 1e6).toFixed(1)} | ${n ? (field(m, 'arena_used_bytes') / n).toFixed(1) : '-'} |`);
    process.stderr.write(rows[rows.length - 1] + '\n');
  };
  await report(0);
  const BATCH = 10000;
  const checkpoints = new Set([keys / 10, keys / 4, keys / 2, keys].map(Math.floor));
  const t0 = Date.now();
  for (let i = 0; i < keys; i += BATCH) {
    let s = '';
    for (let k = i; k < Math.min(keys, i + BATCH); k++) s += encode(['SET', `key:${k}`, 'value:0123456789']);
    const target = Math.min(keys, i + BATCH);
    sock.write(s);
    while (okCount < target) await new Promise((r) => setImmediate(r));
    if (checkpoints.has(target)) await report(target);
  }
  const secs = (Date.now() - t0) / 1000;
  console.log(`Command: node dist/bench/heap.js --keys ${keys} --shards ${shards}\n`);
  console.log(`Loaded ${keys.toLocaleString('en-US')} keys (\`SET key:<i> value:0123456789\`) in ${secs.toFixed(1)} s, --shards ${shards}.\n`);
  console.log('| keys | V8 heap used MB | arena used MB | RSS MB | arena bytes/key |');
  console.log('|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  sock.destroy();
  await srv.stop();
}

void main();

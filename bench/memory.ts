// Memory per key, Sabre against the reference Redis in the same run (issue #6).
// For each key shape, each server in turn is started fresh, loaded with N keys through
// pipelined raw RESP, and measured: used_memory (INFO memory) and RSS (/proc/<pid>/status,
// all threads) before and after, bytes per key, and the overhead over the raw key+value
// bytes; then a random half of the keys is deleted and RSS measured again (and once more
// after MEMORY PURGE); then `activedefrag yes` (with active-defrag-ignore-bytes 1mb, so that
// a modest data set qualifies) and RSS once it has settled (up to --defrag-wait s). Results:
// bench/RESULTS.md ("Memory (issue #6)").
//
//   npm run build && node dist/bench/memory.js [--keys 1000000] [--shapes small,spec] [--shards 1]
//
// Shapes: small = 16-byte keys, 16-byte values; spec = 50-byte keys, 1024-byte values.
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ServerHandle, startRedis, startSabre } from '../test/helpers/servers';
import { intOption, listOption, procStatusBytes, runBenchMain, shellWord, versionOf, writeReport } from './common';

interface Shape { name: string; keyLen: number; valueLen: number }
const SHAPES: Record<string, Shape> = {
  small: { name: 'small', keyLen: 16, valueLen: 16 },
  spec: { name: 'spec', keyLen: 50, valueLen: 1024 },
};

interface Options { keys: number; shapes: Shape[]; shards: string[]; out: string | null; defragWait: number }

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      keys: { type: 'string', default: '1000000' },
      shapes: { type: 'string', default: 'small,spec' },
      shards: { type: 'string', default: '1' },
      out: { type: 'string' },
      'defrag-wait': { type: 'string', default: '60' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log('node dist/bench/memory.js [--keys N] [--shapes small,spec] [--shards 0,1,2] [--defrag-wait 60] [--out file.md]');
    console.log('--defrag-wait: longest wait (s) for RSS to settle after CONFIG SET activedefrag yes');
    process.exit(0);
  }
  const shapes = listOption(values.shapes!).map((s) => {
    const sh = SHAPES[s];
    if (!sh) throw new Error(`--shapes: unknown shape '${s}' (small, spec)`);
    return sh;
  });
  defragWaitSec = intOption('defrag-wait', values['defrag-wait']!, 5);
  return { keys: intOption('keys', values.keys!, 1), shapes, shards: listOption(values.shards!), out: values.out ?? null, defragWait: defragWaitSec };
}

// ---- raw pipelined loading -------------------------------------------------------------

/** Key i: "key:" and i in decimal, zero-padded to exactly keyLen bytes. */
function writeKey(i: number, keyLen: number, out: Buffer, at: number): void {
  out[at] = 0x6b; out[at + 1] = 0x65; out[at + 2] = 0x79; out[at + 3] = 0x3a;
  let v = i;
  for (let d = keyLen - 1; d >= 4; d--) {
    out[at + d] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/**
 * Sends `n` commands built by `build(i, buf, at)` (each exactly `cmdLen` bytes, from
 * `template`), in batches, a window of batches in flight; every reply must be one line
 * that does not start with '-'. Resolves when all n replies arrived.
 */
function pipeline(port: number, n: number, template: Buffer, build: (i: number, buf: Buffer, at: number) => void,
  order: Uint32Array | null): Promise<void> {
  const cmdLen = template.length;
  const BATCH = Math.max(64, Math.floor((256 * 1024) / cmdLen));
  const WINDOW = 8;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let sent = 0, replies = 0, lineStart = true;
    const sendBatch = () => {
      const end = Math.min(n, sent + BATCH);
      const b = Buffer.allocUnsafe((end - sent) * cmdLen);
      for (let i = sent, at = 0; i < end; i++, at += cmdLen) {
        template.copy(b, at);
        build(order ? order[i] : i, b, at);
      }
      sock.write(b);
      sent = end;
    };
    sock.setNoDelay(true);
    sock.on('error', reject);
    sock.setTimeout(300_000, () => {
      sock.destroy();
      reject(new Error(`stalled after ${replies} replies`));
    });
    sock.on('connect', () => {
      for (let w = 0; w < WINDOW && sent < n; w++) sendBatch();
    });
    sock.on('data', (d: Buffer) => {
      const before = replies;
      for (let p = 0; p < d.length; p++) {
        if (lineStart && d[p] === 0x2d) {
          sock.destroy();
          reject(new Error(`error reply: ${d.toString('latin1', p, Math.min(d.length, p + 120)).split('\r\n')[0]}`));
          return;
        }
        lineStart = d[p] === 0x0a;
        if (lineStart) replies++;
      }
      for (let r = before; r < replies; r++) if ((r + 1) % BATCH === 0 && sent < n) sendBatch();
      if (replies >= n) {
        sock.destroy();
        resolve();
      }
    });
  });
}

function loadKeys(port: number, n: number, sh: Shape): Promise<void> {
  const head = `*3\r\n$3\r\nSET\r\n$${sh.keyLen}\r\n`;
  const mid = `\r\n$${sh.valueLen}\r\n`;
  // Values: random bytes (hex), the key's index stamped in front so no two are equal.
  let value = '';
  while (value.length < sh.valueLen) value += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  const template = Buffer.from(head + 'k'.repeat(sh.keyLen) + mid + value.slice(0, sh.valueLen) + '\r\n', 'latin1');
  const keyAt = head.length, valueAt = keyAt + sh.keyLen + mid.length;
  const stamp = Math.min(12, sh.valueLen);
  return pipeline(port, n, template, (i, b, at) => {
    writeKey(i, sh.keyLen, b, at + keyAt);
    let v = i;
    for (let d = stamp - 1; d >= 0; d--) {
      b[at + valueAt + d] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
  }, null);
}

/** DEL of half the keys, in a random order (a seeded shuffle). */
function deleteHalf(port: number, n: number, sh: Shape): Promise<void> {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let seed = 0x2545f491;
  for (let i = n - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  const head = `*2\r\n$3\r\nDEL\r\n$${sh.keyLen}\r\n`;
  const template = Buffer.from(head + 'k'.repeat(sh.keyLen) + '\r\n', 'latin1');
  return pipeline(port, Math.floor(n / 2), template, (i, b, at) => writeKey(i, sh.keyLen, b, at + head.length), order);
}

// ---- one-line commands -------------------------------------------------------------------

/** One command over a fresh connection; the reply's text (bulk body or line). */
function command(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => {
      let s = `*${args.length}\r\n`;
      for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      sock.write(s);
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const line = buf.toString('latin1', 0, nl);
      if (line[0] === '$' || line[0] === '=') {
        const len = Number(line.slice(1));
        if (buf.length < nl + 2 + len + 2) return;
        sock.destroy();
        resolve(buf.toString('utf8', nl + 2, nl + 2 + len));
      } else {
        sock.destroy();
        resolve(line.slice(1));
      }
    });
  });
}

async function usedMemory(port: number): Promise<number> {
  const info = await command(port, 'INFO', 'memory');
  const m = /used_memory:(\d+)/.exec(info);
  if (!m) throw new Error('no used_memory in INFO');
  return Number(m[1]);
}

function rss(pid: number): number {
  const v = procStatusBytes(pid, 'VmRSS');
  if (v === null) throw new Error(`no VmRSS for pid ${pid}`);
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- one measurement ---------------------------------------------------------------------

interface Row {
  server: string;
  keys: number;
  loadSec: number;
  usedBefore: number; usedAfter: number;
  rssBefore: number; rssAfter: number;
  usedHalf: number; rssHalf: number; rssPurged: number;
  /** After `CONFIG SET activedefrag yes`: the reply (OK, or the build's refusal), RSS once settled, seconds. */
  defragReply: string; rssDefrag: number; defragSec: number;
}

/** Longest wait for RSS to settle after activedefrag is turned on (--defrag-wait). */
let defragWaitSec = 60;

/**
 * Turn active defrag on and wait until RSS settles: no defrag cycle running and RSS within 1%
 * over the last 3 s (at least 5 s, at most --defrag-wait). Returns the settled RSS and the seconds taken.
 */
async function defragAndSettle(s: ServerHandle): Promise<{ reply: string; rss: number; sec: number }> {
  await command(s.port, 'CONFIG', 'SET', 'active-defrag-ignore-bytes', '1mb');
  const reply = await command(s.port, 'CONFIG', 'SET', 'activedefrag', 'yes');
  const t0 = performance.now();
  const samples: number[] = [];
  for (;;) {
    await sleep(1000);
    const now = rss(s.pid);
    samples.push(now);
    const sec = (performance.now() - t0) / 1000;
    const running = /active_defrag_running:(\d+)/.exec(await command(s.port, 'INFO', 'memory'));
    const idle = running === null || running[1] === '0';
    const last = samples.slice(-4);
    const flat = last.length === 4 && Math.max(...last) - Math.min(...last) <= now * 0.01;
    if ((idle && flat && sec >= 5) || sec >= defragWaitSec) return { reply, rss: now, sec: idle && flat ? sec - 3 : sec };
  }
}

async function measure(name: string, start: () => Promise<ServerHandle>, n: number, sh: Shape): Promise<Row> {
  const s = await start();
  try {
    await sleep(500);
    const usedBefore = await usedMemory(s.port), rssBefore = rss(s.pid);
    const t0 = performance.now();
    await loadKeys(s.port, n, sh);
    const loadSec = (performance.now() - t0) / 1000;
    const dbsize = Number(await command(s.port, 'DBSIZE'));
    if (dbsize !== n) throw new Error(`${name}: DBSIZE ${dbsize} after loading ${n} keys`);
    await sleep(1000);
    const usedAfter = await usedMemory(s.port), rssAfter = rss(s.pid);
    await deleteHalf(s.port, n, sh);
    const left = Number(await command(s.port, 'DBSIZE'));
    if (left !== n - Math.floor(n / 2)) throw new Error(`${name}: DBSIZE ${left} after deleting half`);
    // Let background freeing (Redis's jemalloc decay, lazy free) run a moment.
    await sleep(2000);
    const usedHalf = await usedMemory(s.port), rssHalf = rss(s.pid);
    await command(s.port, 'MEMORY', 'PURGE');
    await sleep(500);
    const rssPurged = rss(s.pid);
    const df = await defragAndSettle(s);
    return {
      server: name, keys: n, loadSec, usedBefore, usedAfter, rssBefore, rssAfter, usedHalf, rssHalf, rssPurged,
      defragReply: df.reply, rssDefrag: df.rss, defragSec: df.sec,
    };
  } finally {
    await s.stop();
  }
}

// ---- report ------------------------------------------------------------------------------

const MB = (b: number) => (b / (1 << 20)).toFixed(1);
const int = (x: number) => Math.round(x).toLocaleString('en-US');

function table(rows: Row[], sh: Shape, n: number): string[] {
  const raw = sh.keyLen + sh.valueLen;
  const md: string[] = [];
  md.push(`#### ${int(n)} keys, ${sh.keyLen}-byte keys, ${sh.valueLen}-byte values (raw key+value: ${raw} bytes)`, '');
  md.push('| server | load s | used_memory MB | used bytes/key | used overhead/key | RSS MB | RSS bytes/key | RSS overhead/key | RSS vs Redis |');
  md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const redisRss = rows[0].rssAfter - rows[0].rssBefore;
  for (const r of rows) {
    const used = (r.usedAfter - r.usedBefore) / n, rs = (r.rssAfter - r.rssBefore) / n;
    md.push(`| ${r.server} | ${r.loadSec.toFixed(1)} | ${MB(r.usedAfter)} | ${used.toFixed(1)} | ${(used - raw).toFixed(1)} | ${MB(r.rssAfter)} | ${rs.toFixed(1)} | ${(rs - raw).toFixed(1)} | ${((r.rssAfter - r.rssBefore) / redisRss).toFixed(2)} |`);
  }
  md.push('', `After \`DEL\` of a random half (${int(Math.floor(n / 2))} keys), 2 s later, and after \`MEMORY PURGE\`:`, '');
  md.push('| server | used_memory MB | RSS before MB | RSS after load MB | RSS after deleting half MB | RSS released | RSS after MEMORY PURGE MB |');
  md.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const released = (r.rssAfter - r.rssHalf) / (r.rssAfter - r.rssBefore);
    md.push(`| ${r.server} | ${MB(r.usedHalf)} | ${MB(r.rssBefore)} | ${MB(r.rssAfter)} | ${MB(r.rssHalf)} | ${(released * 100).toFixed(0)}% | ${MB(r.rssPurged)} |`);
  }
  md.push('', 'Then `CONFIG SET activedefrag yes` (and `active-defrag-ignore-bytes 1mb`), RSS once settled (no cycle running, ' +
    `RSS flat within 1% for 3 s; at most ${defragWaitSec} s):`, '');
  md.push('| server | activedefrag | RSS after deleting half MB | RSS after defrag MB | RSS released by defrag | of the freed half\'s RSS | settled after s |');
  md.push('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const accepted = r.defragReply === 'OK' ? 'yes' : `refused: ${r.defragReply.replace(/\|/g, '/').slice(0, 60)}...`;
    const half = (r.rssAfter - r.rssBefore) / 2;
    md.push(`| ${r.server} | ${accepted} | ${MB(r.rssPurged)} | ${MB(r.rssDefrag)} | ${MB(r.rssPurged - r.rssDefrag)} | ${(((r.rssPurged - r.rssDefrag) / half) * 100).toFixed(0)}% | ${r.defragSec.toFixed(0)} |`);
  }
  md.push('');
  return md;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const cmd = ['node', 'dist/bench/memory.js', ...process.argv.slice(2)].map(shellWord).join(' ');
  const md: string[] = [];
  md.push('```', cmd, '```', '');
  md.push(`${new Date().toISOString().slice(0, 16)}Z; ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${MB(os.totalmem())} MB; Node ${process.version}; ${await versionOf('redis-server')}`, '');
  md.push('used bytes/key = (used_memory after - before) / keys; RSS bytes/key likewise from VmRSS (/proc/<pid>/status, all threads); overhead = per key minus the raw key+value bytes. Servers run one after the other, each fresh, with `--save \'\' --appendonly no`.', '');
  for (const sh of o.shapes) {
    const rows: Row[] = [];
    rows.push(await measure('Redis', () => startRedis(), o.keys, sh));
    console.error(`redis ${sh.name}: done`);
    for (const shards of o.shards) {
      rows.push(await measure(`Sabre --shards ${shards}`, () => startSabre(['--shards', shards, '--save', '', '--appendonly', 'no']), o.keys, sh));
      console.error(`sabre --shards ${shards} ${sh.name}: done`);
    }
    md.push(...table(rows, sh, o.keys));
  }
  if (o.out) writeReport(md, process.cwd(), o.out);
  else process.stdout.write(md.join('\n') + '\n');
}

runBenchMain(module, 'memory', main);

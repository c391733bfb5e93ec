// Sabre vs Redis: throughput and latency with redis-benchmark, and memory per
// key. Built by tsc to dist/bench/run.js; `npm run bench -- [options]`.
// See bench/README.md for the options and how to read the output.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ServerHandle, repoRoot, startRedis, startSabre } from '../test/helpers/servers';
import { intOption, listOption, procStatusBytes, runBenchMain, shellWord, startedServers, versionOf, writeReport } from './common';

interface Options {
  n: number;
  tests: string[];
  shards: string[];
  pipeline: number[];
  clients: number;
  keys: number;
  runs: number;
  timeoutSec: number;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string', default: '100000' },
      tests: { type: 'string', default: 'set,get,incr,mset' },
      shards: { type: 'string', default: '0,1,2' },
      pipeline: { type: 'string', default: '1,16' },
      clients: { type: 'string', default: '50' },
      keys: { type: 'string', default: '1000000' },
      runs: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '300' },
      out: { type: 'string', default: 'bench/out/latest.md' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run bench -- [--n 100000] [--tests set,get,incr,mset] [--shards 0,1,2] [--pipeline 1,16]\n' +
        '                        [--clients 50] [--keys 1000000] [--runs 1] [--timeout 300] [--out bench/out/latest.md]\n' +
        '--keys 0 skips the memory measurement; --shards "" skips Sabre (Redis only).\n' +
        'SABRE_CMD overrides the Sabre command (see test/helpers/servers.ts).\n',
    );
    process.exit(0);
  }
  return {
    n: intOption('n', values.n!, 1),
    tests: listOption(values.tests!).map((t) => t.toLowerCase()),
    shards: listOption(values.shards!).map((s) => String(intOption('shards', s, 0))),
    pipeline: listOption(values.pipeline!).map((p) => intOption('pipeline', p, 1)),
    clients: intOption('clients', values.clients!, 1),
    keys: intOption('keys', values.keys!, 0),
    runs: intOption('runs', values.runs!, 1),
    timeoutSec: intOption('timeout', values.timeout!, 1),
    out: values.out!,
  };
}

// ---- redis-benchmark ----

export interface BenchRow {
  rps: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"]|"")*)"|([^,]+)|(?<=,)(?=,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) {
    out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? ''));
    if (m[0] === '') re.lastIndex++;
  }
  return out;
}

/**
 * Parses redis-benchmark --csv output (7.x: test,rps,avg_latency_ms,
 * min_latency_ms,p50_latency_ms,p95_latency_ms,p99_latency_ms,max_latency_ms)
 * into rows keyed by the test's first word, lower case ("MSET (10 keys)" -> mset).
 */
export function parseBenchmarkCsv(csv: string): Map<string, BenchRow> {
  const rows = new Map<string, BenchRow>();
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return rows;
  const header = parseCsvLine(lines[0]);
  const col = (name: string) => header.indexOf(name);
  const idx = {
    test: col('test'),
    rps: col('rps'),
    avg: col('avg_latency_ms'),
    p50: col('p50_latency_ms'),
    p95: col('p95_latency_ms'),
    p99: col('p99_latency_ms'),
    max: col('max_latency_ms'),
  };
  if (idx.test < 0 || idx.rps < 0) throw new Error(`unexpected redis-benchmark CSV header: ${lines[0]}`);
  const num = (f: string[], i: number) => (i >= 0 ? Number(f[i]) : NaN);
  for (const line of lines.slice(1)) {
    const f = parseCsvLine(line);
    const name = (f[idx.test] ?? '').split(/\s+/)[0].toLowerCase();
    rows.set(name, {
      rps: num(f, idx.rps),
      avg: num(f, idx.avg),
      p50: num(f, idx.p50),
      p95: num(f, idx.p95),
      p99: num(f, idx.p99),
      max: num(f, idx.max),
    });
  }
  return rows;
}

function benchmarkArgs(port: number | string, test: string, o: Options, pipeline: number): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '-t', test, '-n', String(o.n), '-c', String(o.clients), '-P', String(pipeline)];
}

/**
 * Runs redis-benchmark with `args` (options first, then an optional command) and `--csv`,
 * asynchronously (the servers' log pipes must keep draining): the CSV row of `test`, or why
 * there is none. The bench scripts all run it through here.
 */
export function redisBenchmark(args: string[], test: string, timeoutSec: number,
  onSpawn?: (p: ChildProcess) => void): Promise<BenchRow | string> {
  return new Promise((resolve) => {
    // --csv goes first: after a command it would be one of the command's arguments.
    const proc = spawn('redis-benchmark', ['--csv', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(proc);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutSec * 1000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      resolve(`error: ${e.message}`);
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal) return resolve(signal === 'SIGKILL' ? `timeout after ${timeoutSec} s` : `killed by ${signal}`);
      // redis-benchmark stops at the first error reply ("Error from server: ...") and exits 1.
      if (code !== 0) return resolve(`exit ${code}: ${(err.trim() || out.trim()).split('\n').pop() ?? ''}`);
      try {
        const row = parseBenchmarkCsv(out).get(test);
        resolve(row ?? `no '${test}' row in output: ${out.trim().slice(0, 200)}`);
      } catch (e) {
        resolve(`bad output: ${(e as Error).message}`);
      }
    });
  });
}

// ---- memory ----

/** Sends one inline-free RESP command and returns the raw reply text (small replies only). */
function rawCommand(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let buf = '';
    let expected = -1; // bulk length once the header is in
    sock.setTimeout(30_000, () => {
      sock.destroy();
      reject(new Error(`${args[0]}: no reply within 30 s`));
    });
    sock.on('error', reject);
    sock.on('connect', () => {
      sock.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
    });
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      if (buf[0] === '$' && expected < 0) expected = Number(buf.slice(1, eol));
      const done = buf[0] !== '$' || expected < 0 || buf.length >= eol + 2 + expected + 2;
      if (done) {
        sock.destroy();
        resolve(buf);
      }
    });
  });
}

async function usedMemory(port: number): Promise<number | null> {
  const info = await rawCommand(port, ['INFO', 'memory']);
  const m = /(?:^|\r\n)used_memory:(\d+)\r\n/.exec(info);
  return m ? Number(m[1]) : null;
}


/** SET key:<i> <16 bytes> for i < keys, pipelined in batches with a few batches in flight. */
function loadKeys(port: number, keys: number): Promise<void> {
  const BATCH = 1000;
  const WINDOW = 8;
  const value = 'vvvvvvvvvvvvvvvv'; // 16 bytes
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let sent = 0;
    let replies = 0;
    let lineStart = true;
    const sendBatch = () => {
      const end = Math.min(keys, sent + BATCH);
      let s = '';
      for (let i = sent; i < end; i++) {
        const key = `key:${i}`;
        s += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$16\r\n${value}\r\n`;
      }
      sent = end;
      sock.write(s);
    };
    sock.setNoDelay(true);
    sock.on('error', reject);
    sock.setTimeout(60_000, () => {
      sock.destroy();
      reject(new Error(`loading stalled after ${replies} replies`));
    });
    sock.on('connect', () => {
      for (let w = 0; w < WINDOW && sent < keys; w++) sendBatch();
    });
    sock.on('data', (d: Buffer) => {
      // Every reply must be "+OK\r\n": one line each, starting with '+'.
      for (let i = 0; i < d.length; i++) {
        if (lineStart && d[i] !== 0x2b) {
          sock.destroy();
          reject(new Error(`SET failed: ${d.toString('latin1', i, Math.min(d.length, i + 120)).split('\r\n')[0]}`));
          return;
        }
        lineStart = d[i] === 0x0a;
        if (lineStart) {
          replies++;
          if (replies % BATCH === 0 && sent < keys) sendBatch();
        }
      }
      if (replies === keys) {
        sock.destroy();
        resolve();
      }
    });
  });
}

interface MemResult {
  label: string;
  usedBefore: number | null;
  usedAfter: number | null;
  rssBefore: number | null;
  rssAfter: number | null;
  dbsize: string;
  seconds: number;
}

async function measureMemory(label: string, h: ServerHandle, keys: number): Promise<MemResult> {
  await rawCommand(h.port, ['FLUSHALL']);
  const usedBefore = await usedMemory(h.port);
  const rssBefore = procStatusBytes(h.pid, 'VmRSS');
  const t = process.hrtime.bigint();
  await loadKeys(h.port, keys);
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const dbsize = (await rawCommand(h.port, ['DBSIZE'])).trim();
  const usedAfter = await usedMemory(h.port);
  const rssAfter = procStatusBytes(h.pid, 'VmRSS');
  await rawCommand(h.port, ['FLUSHALL']);
  return { label, usedBefore, usedAfter, rssBefore, rssAfter, dbsize, seconds };
}

// ---- report ----

const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');
const fmtMs = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

function perKey(before: number | null, after: number | null, keys: number): string {
  return before === null || after === null ? 'n/a' : ((after - before) / keys).toFixed(1);
}

function median(rows: BenchRow[]): BenchRow {
  const sorted = rows.slice().sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)];
}

function cell(r: BenchRow | string, f: (r: BenchRow) => string): string {
  return typeof r === 'string' ? 'n/a' : f(r);
}


async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const root = repoRoot();
  process.chdir(root);

  const md: string[] = [];
  const script = path.relative(root, process.argv[1]);
  md.push('# Sabre vs Redis benchmark', '');
  md.push('Command:', '', '```');
  md.push(
    (process.env.SABRE_CMD ? `SABRE_CMD=${shellWord(process.env.SABRE_CMD)} ` : '') +
      ['node', script, ...process.argv.slice(2)].map(shellWord).join(' '),
  );
  md.push('```', '');
  md.push(
    `Effective options: --n ${o.n} --tests ${o.tests.join(',')} --shards ${o.shards.join(',')} ` +
      `--pipeline ${o.pipeline.join(',')} --clients ${o.clients} --keys ${o.keys} --runs ${o.runs}`,
    '',
  );
  md.push(`Each measurement: \`redis-benchmark ${benchmarkArgs('<port>', '<test>', o, 0).join(' ').replace('-P 0', '-P <pipeline>')}\``);
  md.push('Redis and Sabre runs alternate test by test (the order flips each time), so noise hits both.', '');
  const cpus = os.cpus();
  md.push(
    `Machine: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `Node ${process.version}, ${await versionOf('redis-server')}; ${new Date().toISOString()}`,
    '',
  );

  const results = new Map<string, { redis: BenchRow | string; sabre: BenchRow | string }>();
  const memory: MemResult[] = [];
  const { started, stopAll } = startedServers();

  try {
    log('starting redis-server');
    const redis = await startRedis();
    started.push(redis);
    if (o.keys > 0) {
      log(`redis: loading ${o.keys} keys for the memory measurement`);
      memory.push(await measureMemory('Redis', redis, o.keys));
    }

    let flip = false;
    for (const shards of o.shards) {
      log(`starting Sabre --shards ${shards}`);
      const sabre = await startSabre(['--shards', shards]);
      started.push(sabre);
      try {
        if (o.keys > 0) {
          log(`sabre --shards ${shards}: loading ${o.keys} keys for the memory measurement`);
          memory.push(await measureMemory(`Sabre --shards ${shards}`, sabre, o.keys));
        }
        await rawCommand(redis.port, ['FLUSHALL']);
        for (const pipeline of o.pipeline) {
          for (const test of o.tests) {
            const r: BenchRow[] = [];
            const s: BenchRow[] = [];
            let rErr = '';
            let sErr = '';
            for (let run = 0; run < o.runs; run++) {
              const order: ['redis' | 'sabre', number][] = [
                ['redis', redis.port],
                ['sabre', sabre.port],
              ];
              if (flip) order.reverse();
              flip = !flip;
              for (const [who, port] of order) {
                const row = await redisBenchmark(benchmarkArgs(port, test, o, pipeline), test, o.timeoutSec);
                log(`${who} shards=${shards} -P ${pipeline} ${test}: ${typeof row === 'string' ? row : `${fmtInt(row.rps)} rps`}`);
                if (typeof row === 'string') {
                  if (who === 'redis') rErr = row;
                  else sErr = row;
                } else (who === 'redis' ? r : s).push(row);
              }
            }
            results.set(`${pipeline}|${shards}|${test}`, {
              redis: r.length ? median(r) : rErr,
              sabre: s.length ? median(s) : sErr,
            });
          }
        }
      } finally {
        await sabre.stop();
      }
    }
  } finally {
    await stopAll();
  }

  for (const pipeline of o.pipeline) {
    md.push(`## Pipeline ${pipeline} (-P ${pipeline}), ${o.clients} clients, ${fmtInt(o.n)} requests`, '');
    md.push('| test | Sabre shards | Redis rps | Sabre rps | Sabre/Redis | Redis p50 ms | Sabre p50 ms | Redis p99 ms | Sabre p99 ms |');
    md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    const notes: string[] = [];
    for (const test of o.tests) {
      for (const shards of o.shards) {
        const res = results.get(`${pipeline}|${shards}|${test}`);
        if (!res) continue;
        const { redis: r, sabre: s } = res;
        const ratio = typeof r !== 'string' && typeof s !== 'string' && r.rps > 0 ? (s.rps / r.rps).toFixed(2) : 'n/a';
        md.push(
          `| ${test.toUpperCase()} | ${shards} | ${cell(r, (x) => fmtInt(x.rps))} | ${cell(s, (x) => fmtInt(x.rps))} | ${ratio} | ` +
            `${cell(r, (x) => fmtMs(x.p50))} | ${cell(s, (x) => fmtMs(x.p50))} | ${cell(r, (x) => fmtMs(x.p99))} | ${cell(s, (x) => fmtMs(x.p99))} |`,
        );
        if (typeof r === 'string') notes.push(`- ${test} (shards ${shards}), Redis: ${r}`);
        if (typeof s === 'string') notes.push(`- ${test} (shards ${shards}), Sabre: ${s}`);
      }
    }
    md.push('', ...(notes.length ? ['Failures:', ...notes, ''] : []));
  }

  if (memory.length > 0) {
    md.push(`## Memory: ${fmtInt(o.keys)} keys, \`SET key:<i> <16-byte value>\` on a fresh server`, '');
    md.push('| server | DBSIZE after | used_memory bytes/key | RSS bytes/key | used_memory after | RSS after | load time s |');
    md.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const m of memory) {
      md.push(
        `| ${m.label} | ${m.dbsize.replace(/^:/, '')} | ${perKey(m.usedBefore, m.usedAfter, o.keys)} | ${perKey(m.rssBefore, m.rssAfter, o.keys)} | ` +
          `${m.usedAfter === null ? 'n/a' : fmtInt(m.usedAfter)} | ${m.rssAfter === null ? 'n/a' : fmtInt(m.rssAfter)} | ${m.seconds.toFixed(2)} |`,
      );
    }
    md.push('', 'bytes/key = (after - before) / keys; used_memory from `INFO memory`, RSS from /proc/<pid>/status (all threads).', '');
  }

  log(`written to ${path.relative(root, writeReport(md, root, o.out))}`);
}

runBenchMain(module, 'bench', main);

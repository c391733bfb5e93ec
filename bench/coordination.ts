// Coordination workloads, Sabre vs Redis, side by side in one run: EVALSHA of a small
// script and PUBLISH with subscribers attached (both driven by redis-benchmark), and
// MULTI/EXEC of 10 commands (redis-benchmark has no MULTI test, so a small pipelined
// raw-socket client here drives it, the same client for both servers).
// Built by tsc to dist/bench/coordination.js; `node dist/bench/coordination.js --help`.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ServerHandle, repoRoot, startRedis, startSabre } from '../test/helpers/servers';
import { RawClient, ReplyScanner, encodeCommand, escapeBytes } from '../test/helpers/resp';
import { intOption, listOption, runBenchMain, shellWord, startedServers, versionOf, writeReport } from './common';
import { redisBenchmark } from './run';

const TESTS = ['evalsha', 'publish', 'multi'] as const;
type Test = (typeof TESTS)[number];
type KeyMode = 'spread' | 'tagged';

interface Options {
  tests: Test[];
  shards: string[];
  pipeline: number[];
  n: number;
  clients: number;
  publishN: number;
  subscribers: number[];
  payload: number;
  tx: number;
  txClients: number;
  txKeys: KeyMode[];
  runs: number;
  timeoutSec: number;
  out: string;
}

const USAGE =
  'usage: node dist/bench/coordination.js [--tests evalsha,publish,multi] [--shards 0,1] [--pipeline 1,16]\n' +
  '         [--n 100000] [--clients 50] [--publish-n 100000] [--subscribers 1,10] [--payload 16]\n' +
  '         [--tx 20000] [--tx-clients 20] [--tx-keys spread] [--runs 1] [--timeout 120]\n' +
  '         [--out bench/out/coordination.md]\n' +
  '--n, --clients: EVALSHA requests and connections (redis-benchmark -n, -c); --publish-n: PUBLISH requests\n' +
  '  (with --clients connections); --pipeline: redis-benchmark -P, and for MULTI the transactions in flight\n' +
  '  per connection; --subscribers: subscriber connections attached during a PUBLISH run (one run each);\n' +
  '  --tx, --tx-clients: MULTI/EXEC transactions and connections; --tx-keys spread|tagged: the 10 commands\n' +
  '  touch 5 keys of their own (spread over slots) or 5 keys sharing one {hash tag}.\n' +
  '--shards "" skips Sabre (Redis only). SABRE_CMD overrides the Sabre command (see test/helpers/servers.ts).\n';

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      tests: { type: 'string', default: TESTS.join(',') },
      shards: { type: 'string', default: '0,1' },
      pipeline: { type: 'string', default: '1,16' },
      n: { type: 'string', default: '100000' },
      clients: { type: 'string', default: '50' },
      'publish-n': { type: 'string', default: '100000' },
      subscribers: { type: 'string', default: '1,10' },
      payload: { type: 'string', default: '16' },
      tx: { type: 'string', default: '20000' },
      'tx-clients': { type: 'string', default: '20' },
      'tx-keys': { type: 'string', default: 'spread' },
      runs: { type: 'string', default: '1' },
      timeout: { type: 'string', default: '120' },
      out: { type: 'string', default: 'bench/out/coordination.md' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const tests = listOption(values.tests!).map((t) => t.toLowerCase());
  for (const t of tests) if (!(TESTS as readonly string[]).includes(t)) throw new Error(`--tests: unknown test '${t}' (known: ${TESTS.join(', ')})`);
  const txKeys = listOption(values['tx-keys']!);
  for (const k of txKeys) if (k !== 'spread' && k !== 'tagged') throw new Error(`--tx-keys: '${k}' is neither spread nor tagged`);
  return {
    tests: tests as Test[],
    shards: listOption(values.shards!).map((s) => String(intOption('shards', s, 0))),
    pipeline: listOption(values.pipeline!).map((p) => intOption('pipeline', p, 1)),
    n: intOption('n', values.n!, 1),
    clients: intOption('clients', values.clients!, 1),
    publishN: intOption('publish-n', values['publish-n']!, 1),
    subscribers: listOption(values.subscribers!).map((k) => intOption('subscribers', k, 0)),
    payload: intOption('payload', values.payload!, 1),
    tx: intOption('tx', values.tx!, 1),
    txClients: intOption('tx-clients', values['tx-clients']!, 1),
    txKeys: txKeys as KeyMode[],
    runs: intOption('runs', values.runs!, 1),
    timeoutSec: intOption('timeout', values.timeout!, 1),
    out: values.out!,
  };
}

function log(msg: string): void {
  process.stderr.write(`[coordination] ${msg}\n`);
}

/** One measurement: requests (or transactions) per second and latency in ms; extra per test. */
interface Row {
  rps: number;
  p50: number;
  p99: number;
  /** PUBLISH only: messages received per second over all subscribers, and received / expected. */
  delivered?: number;
  completeness?: number;
}

// ---- redis-benchmark with an arbitrary command ----

function benchmarkArgs(port: number | string, n: number, clients: number, pipeline: number, command: string[]): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '-n', String(n), '-c', String(clients), '-P', String(pipeline), '-r', '100000', ...command];
}

/** One command on a fresh connection; the raw reply. */
async function command(port: number, ...args: string[]): Promise<Buffer> {
  const c = await RawClient.connect(port);
  try {
    return await c.command(...args);
  } finally {
    c.close();
  }
}

// ---- EVALSHA ----

const EVAL_SCRIPT = "return redis.call('INCR', KEYS[1])";
const EVAL_SHA = crypto.createHash('sha1').update(EVAL_SCRIPT).digest('hex');

/** SCRIPT LOAD, then one EVALSHA that must answer :1; null when the server is ready, else why not. */
async function prepareEvalsha(port: number): Promise<string | null> {
  const loaded = await command(port, 'SCRIPT', 'LOAD', EVAL_SCRIPT);
  const want = `$40\r\n${EVAL_SHA}\r\n`;
  if (loaded.toString('latin1') !== want) return `SCRIPT LOAD answered "${escapeBytes(loaded, 120)}"`;
  const probe = `bench:evalsha:probe:${process.pid}:${Date.now()}`;
  const reply = await command(port, 'EVALSHA', EVAL_SHA, '1', probe);
  if (reply.toString('latin1') !== ':1\r\n') return `EVALSHA answered "${escapeBytes(reply, 120)}"`;
  await command(port, 'DEL', probe);
  return null;
}

function runEvalsha(port: number, o: Options, pipeline: number): Promise<Row | string> {
  return redisBenchmark(benchmarkArgs(port, o.n, o.clients, pipeline, ['evalsha', EVAL_SHA, '1', 'bench:evalsha:__rand_int__']), 'evalsha', o.timeoutSec);
}

// ---- PUBLISH with subscribers attached ----

const CHANNEL = 'bench:chan';

/** The exact bytes a RESP2 subscriber receives for one message on CHANNEL. */
function messageFrame(payload: string): Buffer {
  return Buffer.from(`*3\r\n$7\r\nmessage\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n$${payload.length}\r\n${payload}\r\n`, 'latin1');
}

/**
 * K subscriber connections that count what they receive. Every message has the same
 * frame, so counting bytes counts messages; the first frame is compared byte for byte
 * and the total must be a whole number of frames.
 */
class Subscribers {
  private readonly socks: net.Socket[] = [];
  private readonly bytes: number[] = [];
  private readonly heads: Buffer[] = [];
  private readonly headLen: number[] = [];
  firstAt = 0;
  lastAt = 0;

  private constructor(
    private readonly confirm: Buffer,
    private readonly frame: Buffer,
  ) {}

  static async open(port: number, k: number, frame: Buffer): Promise<Subscribers> {
    const confirm = Buffer.from(`*3\r\n$9\r\nsubscribe\r\n$${CHANNEL.length}\r\n${CHANNEL}\r\n:1\r\n`, 'latin1');
    const s = new Subscribers(confirm, frame);
    try {
      await Promise.all(Array.from({ length: k }, (_, i) => s.connect(port, i)));
      await s.waitUntil(() => s.bytes.every((b) => b >= confirm.length), 10_000, 'subscribe confirmations');
      s.bytes.forEach((_, i) => s.checkHead(i, confirm.length));
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  private connect(port: number, i: number): Promise<void> {
    this.bytes[i] = 0;
    this.heads[i] = Buffer.alloc(this.confirm.length + this.frame.length);
    this.headLen[i] = 0;
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      this.socks[i] = sock;
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.write(encodeCommand(['SUBSCRIBE', CHANNEL]));
        resolve();
      });
      sock.on('data', (d: Buffer) => this.onData(i, d));
    });
  }

  private onData(i: number, d: Buffer): void {
    const now = performance.now();
    const head = this.heads[i];
    if (this.headLen[i] < head.length) this.headLen[i] += d.copy(head, this.headLen[i], 0);
    if (this.bytes[i] >= this.confirm.length && this.firstAt === 0) this.firstAt = now;
    this.bytes[i] += d.length;
    this.lastAt = now;
  }

  /** Throws unless the first `upTo` bytes subscriber i received are what Redis sends. */
  private checkHead(i: number, upTo: number): void {
    const want = Buffer.concat([this.confirm, this.frame]).subarray(0, upTo);
    const got = this.heads[i].subarray(0, upTo);
    if (!got.equals(want)) throw new Error(`subscriber ${i} received "${escapeBytes(got, 200)}", expected "${escapeBytes(want, 200)}"`);
  }

  /** Messages received so far, over all subscribers. */
  received(): number {
    let n = 0;
    for (const b of this.bytes) n += Math.floor((b - this.confirm.length) / this.frame.length);
    return n;
  }

  /** After the run: throws if any subscriber received anything but whole, correct frames. */
  verify(): void {
    this.bytes.forEach((b, i) => {
      const body = b - this.confirm.length;
      if (body % this.frame.length !== 0) throw new Error(`subscriber ${i} received ${body} bytes, not a whole number of ${this.frame.length}-byte messages`);
      if (body > 0) this.checkHead(i, this.confirm.length + this.frame.length);
    });
  }

  async waitUntil(cond: () => boolean, ms: number, what: string): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) {
        if (what) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        return false;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  close(): void {
    for (const s of this.socks) s?.destroy();
  }
}

async function runPublish(port: number, o: Options, pipeline: number, k: number): Promise<Row | string> {
  const payload = 'p'.repeat(o.payload);
  const subs = await Subscribers.open(port, k, messageFrame(payload));
  try {
    const bench: Row | string = await redisBenchmark(benchmarkArgs(port, o.publishN, o.clients, pipeline, ['publish', CHANNEL, payload]), 'publish', o.timeoutSec);
    if (typeof bench === 'string') return bench;
    const expected = o.publishN * k;
    // Subscribers may still be draining their sockets when redis-benchmark exits.
    let stable = subs.received();
    while (!(await subs.waitUntil(() => subs.received() >= expected, 1000, ''))) {
      const now = subs.received();
      if (now === stable) break; // nothing more arrived within a second: the rest is lost
      stable = now;
    }
    subs.verify();
    const got = subs.received();
    const seconds = (subs.lastAt - subs.firstAt) / 1000;
    return { ...bench, delivered: got === 0 ? 0 : seconds > 0 ? got / seconds : NaN, completeness: k === 0 ? 1 : got / expected };
  } finally {
    subs.close();
  }
}

// ---- MULTI/EXEC of 10 commands ----

const TX_REPLIES = 12; // +OK, 10 x +QUEUED, the EXEC array

/** MULTI, 10 commands over 5 keys of connection `conn`, EXEC: the commands, in order. */
function transaction(conn: number, keys: KeyMode): string[][] {
  const p = keys === 'tagged' ? `{tx:${conn}}:` : `tx:${conn}:`;
  return [
    ['MULTI'],
    ['INCR', `${p}ctr`],
    ['SET', `${p}str`, 'vvvvvvvvvvvvvvvv'],
    ['GET', `${p}str`],
    ['EXPIRE', `${p}str`, '3600'],
    ['HSET', `${p}hash`, 'field', 'value'],
    ['HINCRBY', `${p}hash`, 'n', '1'],
    ['LPUSH', `${p}list`, 'item'],
    ['RPOP', `${p}list`],
    ['SADD', `${p}set`, 'member'],
    ['SISMEMBER', `${p}set`, 'member'],
    ['EXEC'],
  ];
}

/** One transaction through RawClient: null if every reply is right, else the first wrong one. */
async function prepareMulti(port: number, keys: KeyMode): Promise<string | null> {
  const c = await RawClient.connect(port);
  try {
    const cmds = transaction(999_999, keys);
    const replies = await c.pipeline(cmds);
    for (let i = 0; i < replies.length - 1; i++) {
      const want = i === 0 ? '+OK\r\n' : '+QUEUED\r\n';
      if (replies[i].toString('latin1') !== want) return `${cmds[i][0]} answered "${escapeBytes(replies[i], 120)}"`;
    }
    const exec = replies[replies.length - 1];
    // INCR :1, SET +OK, GET $16, EXPIRE :1, HSET :1, HINCRBY :1, LPUSH :1, RPOP $4, SADD :1, SISMEMBER :1 (fresh keys)
    const want = '*10\r\n:1\r\n+OK\r\n$16\r\nvvvvvvvvvvvvvvvv\r\n:1\r\n:1\r\n:1\r\n:1\r\n$4\r\nitem\r\n:1\r\n:1\r\n';
    if (exec.toString('latin1') !== want) return `EXEC answered "${escapeBytes(exec, 200)}"`;
    const p = keys === 'tagged' ? '{tx:999999}:' : 'tx:999999:';
    await c.command('DEL', `${p}ctr`, `${p}str`, `${p}hash`, `${p}list`, `${p}set`);
    return null;
  } finally {
    c.close();
  }
}

/**
 * `clients` connections, each keeping `depth` transactions in flight (each written whole,
 * as ioredis sends a MULTI block) until `total` have completed. Latency is from the write
 * of a transaction to the last byte of its EXEC reply.
 */
function runMulti(port: number, total: number, clients: number, depth: number, keys: KeyMode, timeoutSec: number): Promise<Row | string> {
  const latencies = new Float64Array(total);
  let recorded = 0;
  return new Promise((resolve) => {
    const socks: net.Socket[] = [];
    let finished = 0;
    let settled = false;
    const started = performance.now();
    const settle = (r: Row | string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const s of socks) s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => settle(`timeout after ${timeoutSec} s (${recorded} of ${total} transactions)`), timeoutSec * 1000);

    for (let conn = 0; conn < clients; conn++) {
      const share = Math.floor(total / clients) + (conn < total % clients ? 1 : 0);
      if (share === 0) {
        finished++;
        continue;
      }
      const txBytes = Buffer.concat(transaction(conn, keys).map((c) => encodeCommand(c)));
      const sendTimes = new Float64Array(depth); // ring: write time of each in-flight transaction
      let head = 0;
      let tail = 0;
      let sent = 0;
      let done = 0;
      let inTx = 0;
      let buf = Buffer.allocUnsafe(64 * 1024);
      let rpos = 0;
      let wpos = 0;
      const scanner = new ReplyScanner();
      const sock = net.connect({ port, host: '127.0.0.1' });
      socks.push(sock);
      sock.setNoDelay(true);
      const send = () => {
        sock.write(txBytes);
        sendTimes[tail] = performance.now();
        tail = (tail + 1) % depth;
        sent++;
      };
      sock.on('error', (e) => settle(`connection ${conn}: ${e.message}`));
      sock.on('close', () => {
        if (done < share) settle(`connection ${conn} closed by the server after ${done} transactions`);
      });
      sock.on('connect', () => {
        sock.cork();
        while (sent < share && sent < depth) send();
        sock.uncork();
      });
      sock.on('data', (d: Buffer) => {
        if (wpos + d.length > buf.length) {
          const unread = wpos - rpos;
          const next = unread + d.length > buf.length ? Buffer.allocUnsafe(Math.max(buf.length * 2, unread + d.length)) : buf;
          buf.copy(next, 0, rpos, wpos);
          scanner.rebase(rpos);
          buf = next;
          rpos = 0;
          wpos = unread;
        }
        d.copy(buf, wpos);
        wpos += d.length;
        sock.cork();
        for (;;) {
          const start = rpos;
          const end = scanner.scan(buf, rpos, wpos);
          if (end < 0) break;
          rpos = end;
          if (buf[start] === 0x2d) {
            settle(`connection ${conn}: "${escapeBytes(buf.subarray(start, end), 200)}"`);
            return;
          }
          if (++inTx < TX_REPLIES) continue;
          inTx = 0;
          if (buf[start] !== 0x2a) {
            settle(`connection ${conn}: EXEC answered "${escapeBytes(buf.subarray(start, end), 200)}"`);
            return;
          }
          latencies[recorded++] = performance.now() - sendTimes[head];
          head = (head + 1) % depth;
          if (sent < share) send();
          if (++done === share && ++finished === clients) {
            const seconds = (performance.now() - started) / 1000;
            const sorted = latencies.subarray(0, recorded).sort();
            const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
            settle({ rps: recorded / seconds, p50: at(0.5), p99: at(0.99) });
            return;
          }
        }
        sock.uncork();
        if (rpos === wpos) rpos = wpos = 0;
      });
    }
    if (finished === clients) settle('no transactions to run');
  });
}

// ---- report ----

const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmtMs = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const ratio = (r: Row | string, s: Row | string, f: (x: Row) => number | undefined) => {
  if (typeof r === 'string' || typeof s === 'string') return 'n/a';
  const a = f(r);
  const b = f(s);
  return a !== undefined && b !== undefined && a > 0 && Number.isFinite(b) ? (b / a).toFixed(2) : 'n/a';
};
const cell = (r: Row | string, f: (x: Row) => string) => (typeof r === 'string' ? 'n/a' : f(r));

function median(rows: Row[]): Row {
  const sorted = rows.slice().sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor(sorted.length / 2)];
}

/** One measurement point: its label parts and a runner per server. */
interface Case {
  test: Test;
  pipeline: number;
  variant: string; // subscribers for PUBLISH, key mode for MULTI, '' for EVALSHA
  run(port: number): Promise<Row | string>;
}

interface Result {
  redis: Row | string;
  sabre: Row | string;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const root = repoRoot();
  process.chdir(root);

  const cases: Case[] = [];
  for (const test of o.tests) {
    for (const pipeline of o.pipeline) {
      if (test === 'evalsha') cases.push({ test, pipeline, variant: '', run: (port) => runEvalsha(port, o, pipeline) });
      if (test === 'publish') {
        for (const k of o.subscribers) cases.push({ test, pipeline, variant: String(k), run: (port) => runPublish(port, o, pipeline, k) });
      }
      if (test === 'multi') {
        for (const keys of o.txKeys) cases.push({ test, pipeline, variant: keys, run: (port) => runMulti(port, o.tx, o.txClients, pipeline, keys, o.timeoutSec) });
      }
    }
  }

  /** Per server: why a test cannot run there at all (EVALSHA without scripting...), by test. */
  async function prepare(port: number): Promise<Map<Test, string>> {
    const unready = new Map<Test, string>();
    if (o.tests.includes('evalsha')) {
      const why = await prepareEvalsha(port);
      if (why) unready.set('evalsha', why);
    }
    if (o.tests.includes('multi')) {
      for (const keys of o.txKeys) {
        const why = await prepareMulti(port, keys);
        if (why) unready.set('multi', `${keys}: ${why}`);
      }
    }
    return unready;
  }

  const header: string[] = [];
  const script = path.relative(root, process.argv[1]);
  header.push('# Coordination workloads: Sabre vs Redis', '', 'Command:', '', '```');
  header.push(
    (process.env.SABRE_CMD ? `SABRE_CMD=${shellWord(process.env.SABRE_CMD)} ` : '') +
      ['node', script, ...process.argv.slice(2)].map(shellWord).join(' '),
  );
  header.push('```', '');
  header.push(
    `Effective options: --tests ${o.tests.join(',')} --shards ${o.shards.join(',')} --pipeline ${o.pipeline.join(',')} ` +
      `--n ${o.n} --clients ${o.clients} --publish-n ${o.publishN} --subscribers ${o.subscribers.join(',')} --payload ${o.payload} ` +
      `--tx ${o.tx} --tx-clients ${o.txClients} --tx-keys ${o.txKeys.join(',')} --runs ${o.runs}`,
    '',
  );
  const cpus = os.cpus();
  header.push(
    `Machine: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `Node ${process.version}, ${await versionOf('redis-server')}; ${new Date().toISOString()}`,
    'Redis and Sabre runs alternate case by case (the order flips each time), so noise hits both.',
    '',
  );

  const results = new Map<string, Result>();
  const key = (c: Case, shards: string) => `${c.test}|${c.pipeline}|${c.variant}|${shards}`;
  const { started, stopAll } = startedServers();

  try {
    log('starting redis-server');
    const redis = await startRedis();
    started.push(redis);
    const redisUnready = await prepare(redis.port);
    let flip = false;
    for (const shards of o.shards) {
      log(`starting Sabre --shards ${shards}`);
      const sabre = await startSabre(['--shards', shards]);
      started.push(sabre);
      try {
        const sabreUnready = await prepare(sabre.port);
        for (const [test, why] of sabreUnready) log(`sabre shards=${shards}: ${test} cannot run: ${why}`);
        for (const c of cases) {
          const rows: Record<'redis' | 'sabre', Row[]> = { redis: [], sabre: [] };
          const errs: Record<'redis' | 'sabre', string> = { redis: '', sabre: '' };
          for (let run = 0; run < o.runs; run++) {
            const order: ['redis' | 'sabre', number, Map<Test, string>][] = [
              ['redis', redis.port, redisUnready],
              ['sabre', sabre.port, sabreUnready],
            ];
            if (flip) order.reverse();
            flip = !flip;
            for (const [who, port, unready] of order) {
              const row = unready.get(c.test) ?? (await c.run(port));
              log(
                `${who} shards=${shards} ${c.test} -P ${c.pipeline}${c.variant ? ` ${c.variant}` : ''}: ` +
                  (typeof row === 'string' ? row : `${fmtInt(row.rps)}/s${row.delivered !== undefined ? `, delivered ${fmtInt(row.delivered)}/s` : ''}`),
              );
              if (typeof row === 'string') errs[who] = row;
              else rows[who].push(row);
            }
          }
          results.set(key(c, shards), {
            redis: rows.redis.length ? median(rows.redis) : errs.redis,
            sabre: rows.sabre.length ? median(rows.sabre) : errs.sabre,
          });
        }
      } finally {
        await sabre.stop();
      }
    }
  } finally {
    await stopAll();
  }

  const md = [...header];
  const failures: string[] = [];
  const noteFailures = (label: string, r: Result) => {
    if (typeof r.redis === 'string') failures.push(`- ${label}, Redis: ${r.redis}`);
    if (typeof r.sabre === 'string') failures.push(`- ${label}, Sabre: ${r.sabre}`);
  };
  for (const test of o.tests) {
    const mine = cases.filter((c) => c.test === test);
    if (test === 'evalsha') {
      md.push(`## EVALSHA of \`${EVAL_SCRIPT}\` on random keys`, '');
      md.push(`\`redis-benchmark ${benchmarkArgs('<port>', o.n, o.clients, 0, ['evalsha', '<sha>', '1', 'bench:evalsha:__rand_int__']).join(' ').replace('-P 0', '-P <pipeline>')}\`, after SCRIPT LOAD`, '');
      md.push('| -P | Sabre shards | Redis rps | Sabre rps | Sabre/Redis | Redis p50 ms | Sabre p50 ms | Redis p99 ms | Sabre p99 ms |');
      md.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    } else if (test === 'publish') {
      md.push(`## PUBLISH of ${o.payload}-byte messages to one channel, subscribers attached`, '');
      md.push(
        `\`redis-benchmark ${benchmarkArgs('<port>', o.publishN, o.clients, 0, ['publish', CHANNEL, '<payload>']).join(' ').replace('-P 0', '-P <pipeline>')}\`; ` +
          'each subscriber is a raw connection in the bench process that counts what it receives. ' +
          'delivered/s = messages received by all subscribers / (last receipt - first receipt); complete = received / (publishes x subscribers).',
        '',
      );
      md.push('| -P | subscribers | Sabre shards | Redis publish/s | Sabre publish/s | Sabre/Redis | Redis delivered/s | Sabre delivered/s | Sabre/Redis | Redis p99 ms | Sabre p99 ms | complete R / S |');
      md.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    } else {
      md.push('## MULTI/EXEC of 10 commands', '');
      md.push(
        `${fmtInt(o.tx)} transactions over ${o.txClients} connections, -P = transactions in flight per connection, each written whole. ` +
          'Commands: INCR, SET, GET, EXPIRE, HSET, HINCRBY, LPUSH, RPOP, SADD, SISMEMBER over 5 keys per connection ' +
          '(spread: `tx:<conn>:<name>`, tagged: `{tx:<conn>}:<name>`). Latency: write of the transaction to its EXEC reply.',
        '',
      );
      md.push('| -P | keys | Sabre shards | Redis tx/s | Sabre tx/s | Sabre/Redis | Redis p50 ms | Sabre p50 ms | Redis p99 ms | Sabre p99 ms |');
      md.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    }
    for (const c of mine) {
      for (const shards of o.shards) {
        const r = results.get(key(c, shards));
        if (!r) continue;
        const lat = `${cell(r.redis, (x) => fmtMs(x.p50))} | ${cell(r.sabre, (x) => fmtMs(x.p50))} | ${cell(r.redis, (x) => fmtMs(x.p99))} | ${cell(r.sabre, (x) => fmtMs(x.p99))}`;
        const rates = `${cell(r.redis, (x) => fmtInt(x.rps))} | ${cell(r.sabre, (x) => fmtInt(x.rps))} | ${ratio(r.redis, r.sabre, (x) => x.rps)}`;
        if (test === 'evalsha') {
          md.push(`| ${c.pipeline} | ${shards} | ${rates} | ${lat} |`);
          noteFailures(`EVALSHA -P ${c.pipeline} (shards ${shards})`, r);
        } else if (test === 'publish') {
          const pct = (x: Row) => `${((x.completeness ?? 0) * 100).toFixed(1)}%`;
          md.push(
            `| ${c.pipeline} | ${c.variant} | ${shards} | ${rates} | ${cell(r.redis, (x) => fmtInt(x.delivered ?? NaN))} | ${cell(r.sabre, (x) => fmtInt(x.delivered ?? NaN))} | ` +
              `${ratio(r.redis, r.sabre, (x) => x.delivered)} | ${cell(r.redis, (x) => fmtMs(x.p99))} | ${cell(r.sabre, (x) => fmtMs(x.p99))} | ${cell(r.redis, pct)} / ${cell(r.sabre, pct)} |`,
          );
          noteFailures(`PUBLISH -P ${c.pipeline}, ${c.variant} subscribers (shards ${shards})`, r);
        } else {
          md.push(`| ${c.pipeline} | ${c.variant} | ${shards} | ${rates} | ${lat} |`);
          noteFailures(`MULTI -P ${c.pipeline}, ${c.variant} keys (shards ${shards})`, r);
        }
      }
    }
    md.push('');
  }
  if (failures.length) md.push('Failures:', ...failures, '');

  log(`written to ${path.relative(root, writeReport(md, root, o.out))}`);
}

runBenchMain(module, 'coordination', main);

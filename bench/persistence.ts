// Sabre vs Redis with persistence on: SET throughput under each appendfsync policy,
// fork-less snapshots of a big dataset (time, file size, extra memory, with and without
// a concurrent writer), and start-up load time from a snapshot and from an AOF.
// Built by tsc to dist/bench/persistence.js; `node dist/bench/persistence.js --help`.
// Sabre and Redis run alternately in the same run so that the (shared, noisy) machine's
// noise hits both; read the ratios. Results and how they were produced: bench/RESULTS.md
// ("Persistence (issue #4)").
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REDIS_SERVER, ServerHandle, freePort, repoRoot, startRedis, startSabre } from '../test/helpers/servers';
import { BenchRow, redisBenchmark } from './run';
import { intOption, listOption, procStatusBytes, runBenchMain, shellWord, versionOf, writeReport } from './common';

type Mode = 'off' | 'everysec' | 'always';

interface Options {
  parts: Set<string>;
  n: number;
  clients: number;
  pipeline: number[];
  random: number;
  shards: string[];
  modes: Mode[];
  keys: number;
  datasetShards: string;
  writerN: number;
  writerPipeline: number;
  timeoutSec: number;
  tmp: string;
  keep: boolean;
  out: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      parts: { type: 'string', default: 'throughput,dataset' },
      n: { type: 'string', default: '200000' },
      clients: { type: 'string', default: '50' },
      pipeline: { type: 'string', default: '1,16' },
      random: { type: 'string', default: '1000000' },
      shards: { type: 'string', default: '0,1' },
      modes: { type: 'string', default: 'off,everysec,always' },
      keys: { type: 'string', default: '10000000' },
      'dataset-shards': { type: 'string', default: '1' },
      'writer-n': { type: 'string', default: '2000000' },
      'writer-pipeline': { type: 'string', default: '1' },
      timeout: { type: 'string', default: '300' },
      tmp: { type: 'string', default: os.tmpdir() },
      keep: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/out/persistence.md' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/bench/persistence.js [--parts throughput,dataset]\n' +
        '  throughput: [--n 200000] [--clients 50] [--pipeline 1,16] [--random 1000000] [--shards 0,1] [--modes off,everysec,always]\n' +
        '  dataset:    [--keys 10000000] [--dataset-shards 1] [--writer-n 2000000] [--writer-pipeline 1]\n' +
        '  [--timeout 300] [--tmp /tmp] [--keep] [--out bench/out/persistence.md]\n' +
        'Server data directories are created under --tmp and removed at the end (--keep keeps them).\n',
    );
    process.exit(0);
  }
  const modes = listOption(values.modes!).map((m) => {
    if (m !== 'off' && m !== 'everysec' && m !== 'always') throw new Error(`--modes: unknown mode '${m}' (off, everysec, always)`);
    return m as Mode;
  });
  const parts = new Set(listOption(values.parts!));
  for (const p of parts) if (p !== 'throughput' && p !== 'dataset') throw new Error(`--parts: unknown part '${p}'`);
  return {
    parts,
    n: intOption('n', values.n!, 1),
    clients: intOption('clients', values.clients!, 1),
    pipeline: listOption(values.pipeline!).map((p) => intOption('pipeline', p, 1)),
    random: intOption('random', values.random!, 1),
    shards: listOption(values.shards!).map((s) => String(intOption('shards', s, 0))),
    modes,
    keys: intOption('keys', values.keys!, 1),
    datasetShards: String(intOption('dataset-shards', values['dataset-shards']!, 0)),
    writerN: intOption('writer-n', values['writer-n']!, 0),
    writerPipeline: intOption('writer-pipeline', values['writer-pipeline']!, 1),
    timeoutSec: intOption('timeout', values.timeout!, 1),
    tmp: values.tmp!,
    keep: values.keep!,
    out: values.out!,
  };
}

function log(msg: string): void {
  process.stderr.write(`[persistence ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US');
const fmtMs = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const fmtMB = (b: number | null) => (b === null || !Number.isFinite(b) ? 'n/a' : (b / 2 ** 20).toFixed(0));
const fmtS = (ms: number | null) => (ms === null ? 'n/a' : (ms / 1000).toFixed(2));
const ratio = (s: number | null, r: number | null) => (s === null || r === null || r === 0 ? 'n/a' : (s / r).toFixed(2));


// ---- processes we start: every one is killed on the way out, errors included ----

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function track(p: ChildProcess): ChildProcess {
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
}

// ---- a minimal RESP client: one connection, replies in order ----

type Reply = string | number | null | Error | Reply[];

class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | null = null;

  private constructor(private readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      for (;;) {
        const r = parseReply(this.buf, 0);
        if (r === null) break;
        this.buf = this.buf.subarray(r.end);
        this.waiting.shift()?.resolve(r.value);
      }
    });
    const fail = (e: Error) => {
      this.failed = e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed')));
  }

  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new Conn(sock));
      });
    });
  }

  call(...args: (string | number)[]): Promise<Reply> {
    if (this.failed) return Promise.reject(this.failed);
    let s = `*${args.length}\r\n`;
    for (const a of args) {
      const v = String(a);
      s += `$${Buffer.byteLength(v)}\r\n${v}\r\n`;
    }
    this.sock.write(s);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async info(section: string): Promise<Map<string, string>> {
    const r = await this.call('INFO', section);
    if (typeof r !== 'string') throw new Error(`INFO ${section}: ${String(r)}`);
    const m = new Map<string, string>();
    for (const line of r.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0 && line[0] !== '#') m.set(line.slice(0, i), line.slice(i + 1));
    }
    return m;
  }

  close(): void {
    this.sock.destroy();
  }
}

function parseReply(b: Buffer, pos: number): { value: Reply; end: number } | null {
  const eol = b.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const head = b.toString('latin1', pos + 1, eol);
  switch (b[pos]) {
    case 0x2b: // +
      return { value: head, end: eol + 2 };
    case 0x2d: // -
      return { value: new Error(head), end: eol + 2 };
    case 0x3a: // :
      return { value: Number(head), end: eol + 2 };
    case 0x24: {
      // $
      const len = Number(head);
      if (len < 0) return { value: null, end: eol + 2 };
      if (b.length < eol + 2 + len + 2) return null;
      return { value: b.toString('latin1', eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
    }
    case 0x2a: {
      // *
      const n = Number(head);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: Reply[] = [];
      let p = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(b, p);
        if (r === null) return null;
        items.push(r.value);
        p = r.end;
      }
      return { value: items, end: p };
    }
    default:
      throw new Error(`unexpected reply byte 0x${b[pos].toString(16)}`);
  }
}

// ---- part 1: SET throughput with redis-benchmark ----

/** redis-benchmark (bench/run.ts), its process tracked so that an interrupted run ends it. */
function benchmark(args: string[], test: string, timeoutSec: number, onSpawn?: (p: ChildProcess) => void): Promise<BenchRow | string> {
  return redisBenchmark(args, test, timeoutSec, (p) => {
    track(p);
    onSpawn?.(p);
  });
}

function setBenchArgs(port: number | string, o: Options, pipeline: number | string): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-n', String(o.n), '-c', String(o.clients), '-P', String(pipeline), '-r', String(o.random)];
}

/** Server flags for a persistence mode: Redis's and Sabre's spelling is the same. */
function modeArgs(mode: Mode): string[] {
  const common = ['--save', '', '--auto-aof-rewrite-percentage', '0'];
  return mode === 'off' ? [...common, '--appendonly', 'no'] : [...common, '--appendonly', 'yes', '--appendfsync', mode];
}

function tempDir(o: Options, label: string): string {
  return fs.mkdtempSync(path.join(o.tmp, `sabre-bench-${label}-`));
}

interface ThroughputResult {
  mode: Mode;
  shards: string;
  pipeline: number;
  redis: BenchRow | string;
  sabre: BenchRow | string;
}

async function throughput(o: Options, dirs: string[]): Promise<ThroughputResult[]> {
  const results: ThroughputResult[] = [];
  let flip = false;
  for (const mode of o.modes) {
    for (const shards of o.shards) {
      // Fresh servers (and directories) per mode and shard count, so AOF files start empty.
      const rdir = tempDir(o, 'redis');
      const sdir = tempDir(o, 'sabre');
      dirs.push(rdir, sdir);
      log(`mode ${mode}: starting redis-server and Sabre --shards ${shards}`);
      let redis: ServerHandle | null = null;
      let sabre: ServerHandle | null = null;
      try {
        redis = await startRedis(['--dir', rdir, ...modeArgs(mode)]);
        sabre = await startSabre(['--shards', shards, '--dir', sdir, ...modeArgs(mode)]);
        for (const pipeline of o.pipeline) {
          const order: ['redis' | 'sabre', ServerHandle][] = [
            ['redis', redis],
            ['sabre', sabre],
          ];
          if (flip) order.reverse();
          flip = !flip;
          const res: ThroughputResult = { mode, shards, pipeline, redis: 'not run', sabre: 'not run' };
          for (const [who, h] of order) {
            const row = await benchmark(setBenchArgs(h.port, o, pipeline), 'set', o.timeoutSec);
            log(`${who} ${mode} shards=${shards} -P ${pipeline}: ${typeof row === 'string' ? row : `${fmtInt(row.rps)} rps, p99 ${row.p99} ms`}`);
            res[who] = row;
          }
          results.push(res);
        }
      } finally {
        await Promise.all([redis?.stop(), sabre?.stop()]);
      }
    }
  }
  return results;
}

// ---- part 2/3: servers we spawn ourselves (start-up can take longer than servers.ts waits) ----

interface Server {
  who: 'Redis' | 'Sabre';
  port: number;
  pid: number;
  proc: ChildProcess;
  dir: string;
  /** ms from spawn until PING answered +PONG (not -LOADING). */
  readyMs: number;
  /** ms from spawn until DBSIZE (answered by the shards, not the io thread) replied a number. */
  dataReadyMs: number;
  logs(): string;
  stop(): Promise<void>;
}

function pingOnce(port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    const done = (r: string) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(2000, () => done('timeout'));
    sock.once('error', () => done('refused'));
    sock.once('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.slice(0, got.indexOf('\r\n')));
    });
    sock.once('close', () => done('closed'));
  });
}

/**
 * Spawns Redis or Sabre in `dir` and resolves once PING answers +PONG; readyMs is the
 * time since spawn (the load time when the directory holds a dataset).
 */
async function spawnServer(who: 'Redis' | 'Sabre', dir: string, extra: string[], timeoutSec: number): Promise<Server> {
  const port = await freePort();
  const [cmd, args] =
    who === 'Redis'
      ? [REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'no', '--dir', dir, ...extra]]
      : [process.execPath, [path.join(repoRoot(), 'dist', 'src', 'main.js'), '--port', String(port), '--dir', dir, ...extra]];
  const t0 = performance.now();
  const proc = track(spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const collect = (d: Buffer) => {
    out += d.toString();
    if (out.length > 1 << 20) out = out.slice(-(1 << 19));
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  let exited: string | null = null;
  const exitP = new Promise<void>((r) =>
    proc.once('exit', (code, sig) => {
      exited = sig ? `signal ${sig}` : `code ${code}`;
      r();
    }),
  );
  const stop = async () => {
    if (exited !== null) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    await exitP;
    clearTimeout(t);
  };
  const deadline = t0 + timeoutSec * 1000;
  for (;;) {
    if (exited !== null) throw new Error(`${who} exited (${exited}) before it answered PING:\n${out.slice(-4000)}`);
    const r = await pingOnce(port);
    if (r === '+PONG') break;
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`${who} did not answer PING within ${timeoutSec} s (last: ${r}):\n${out.slice(-4000)}`);
    }
    await sleep(r === 'refused' ? 10 : 20);
  }
  const readyMs = performance.now() - t0;
  // PING is answered by Sabre's io thread; DBSIZE needs every shard to be serving too.
  let dataReadyMs = NaN;
  const c = await Conn.open(port);
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([c.call('DBSIZE'), new Promise<string>((res) => (timer = setTimeout(() => res('timeout'), timeoutSec * 1000)))]);
      clearTimeout(timer);
      if (typeof r === 'number') {
        dataReadyMs = performance.now() - t0;
        break;
      }
      if (r === 'timeout' || performance.now() > deadline) throw new Error(`${who}: DBSIZE did not answer within ${timeoutSec} s of start (${String(r)})`);
      await sleep(20);
    }
  } catch (e) {
    await stop();
    throw e;
  } finally {
    c.close();
  }
  return { who, port, pid: proc.pid!, proc, dir, readyMs, dataReadyMs, logs: () => out, stop };
}

function serverArgs(who: 'Redis' | 'Sabre', o: Options, appendonly: boolean): string[] {
  const a = ['--save', '', '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', 'everysec', '--auto-aof-rewrite-percentage', '0'];
  return who === 'Sabre' ? ['--shards', o.datasetShards, ...a] : a;
}

// ---- the dataset: SET key:<12-digit i> <16 hex digits of a hash of i> ----

// Keys are spelled as redis-benchmark spells `key:__rand_int__` with -r, so that the
// concurrent writer (redis-benchmark -r KEYS) overwrites existing keys instead of adding.
const CMD_LEN = 59; // *3 $3 SET $16 key:<12> $16 <16>
const TEMPLATE = Buffer.from('*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000000\r\n$16\r\n0000000000000000\r\n', 'latin1');
const KEY_DIGITS_AT = 4 + 9 + 5 + 4; // offset of the 12 digits
const VALUE_AT = KEY_DIGITS_AT + 12 + 2 + 5;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The 16-byte value redis-benchmark -d 16 writes (pseudo-random, from a fixed seed in
 * 7.x): one SET to the literal key `key:__rand_int__` (no -r), read back, deleted.
 */
async function writerValue(port: number, o: Options): Promise<string> {
  const r = await benchmark(['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-n', '1', '-c', '1', '-d', '16'], 'set', o.timeoutSec);
  if (typeof r === 'string') throw new Error(`redis-benchmark probe: ${r}`);
  const c = await Conn.open(port);
  try {
    const v = await c.call('GET', 'key:__rand_int__');
    await c.call('DEL', 'key:__rand_int__');
    if (typeof v !== 'string' || v.length !== 16) throw new Error(`redis-benchmark -d 16 wrote ${JSON.stringify(v)}`);
    return v;
  } finally {
    c.close();
  }
}

function keyOf(i: number): string {
  return 'key:' + String(i).padStart(12, '0');
}

/** 16 hex digits from two 32-bit mixes of i: values that lz4/LZF cannot shrink to nothing. */
function writeValue(i: number, out: Buffer, at: number): void {
  let a = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35) >>> 0;
  let b = Math.imul((i + 0x7f4a7c15) ^ (a >>> 7), 0x27d4eb2f) >>> 0;
  b = (b ^ (b >>> 15)) >>> 0;
  for (let k = 7; k >= 0; k--) {
    out[at + k] = HEX[a & 15];
    out[at + 8 + k] = HEX[b & 15];
    a >>>= 4;
    b >>>= 4;
  }
}

function valueOf(i: number): string {
  const b = Buffer.alloc(16);
  writeValue(i, b, 0);
  return b.toString('latin1');
}

/** Loads keys 0..n-1 over one connection: fixed-size pipelined batches, a window in flight. */
function loadDataset(port: number, n: number): Promise<void> {
  const BATCH = 4096;
  const WINDOW = 8;
  const batches = Array.from({ length: WINDOW + 1 }, () => {
    const b = Buffer.alloc(BATCH * CMD_LEN);
    for (let k = 0; k < BATCH; k++) TEMPLATE.copy(b, k * CMD_LEN);
    return b;
  });
  let bufIdx = 0;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let sent = 0;
    let replyBytes = 0;
    let checked = 0; // replies whose first byte was seen to be '+'
    const sendBatch = () => {
      const end = Math.min(n, sent + BATCH);
      const b = batches[bufIdx];
      bufIdx = (bufIdx + 1) % batches.length;
      for (let i = sent, at = 0; i < end; i++, at += CMD_LEN) {
        let v = i;
        for (let d = 11; d >= 0; d--) {
          b[at + KEY_DIGITS_AT + d] = 0x30 + (v % 10);
          v = Math.floor(v / 10);
        }
        writeValue(i, b, at + VALUE_AT);
      }
      // A copy: the socket may still hold the buffer when it comes round again.
      sock.write(Buffer.from(b.subarray(0, (end - sent) * CMD_LEN)));
      sent = end;
    };
    sock.setNoDelay(true);
    sock.on('error', reject);
    sock.setTimeout(120_000, () => {
      sock.destroy();
      reject(new Error(`loading stalled after ${replyBytes / 5} replies`));
    });
    sock.on('connect', () => {
      for (let w = 0; w < WINDOW && sent < n; w++) sendBatch();
    });
    sock.on('data', (d: Buffer) => {
      // Every reply is "+OK\r\n" (5 bytes); anything else breaks the 5-byte stride.
      for (let p = (5 - (replyBytes % 5)) % 5; p < d.length; p += 5) {
        if (d[p] !== 0x2b) {
          sock.destroy();
          reject(new Error(`SET failed near reply ${checked}: ${d.toString('latin1', p, Math.min(d.length, p + 100)).split('\r\n')[0]}`));
          return;
        }
        checked++;
      }
      const before = Math.floor(replyBytes / 5);
      replyBytes += d.length;
      const replies = Math.floor(replyBytes / 5);
      for (let r = before; r < replies; r++) if ((r + 1) % BATCH === 0 && sent < n) sendBatch();
      if (replies >= n) {
        sock.destroy();
        resolve();
      }
    });
  });
}

/** DBSIZE and a sample of keys: each must hold its loaded value or the writer's. */
async function verify(s: Server, o: Options, writerVal: string): Promise<string> {
  const c = await Conn.open(s.port);
  try {
    const dbsize = await c.call('DBSIZE');
    const problems: string[] = [];
    if (dbsize !== o.keys) problems.push(`DBSIZE ${String(dbsize)}, expected ${o.keys}`);
    const SAMPLE = 2000;
    const idx: number[] = [0, o.keys - 1];
    for (let k = 0; k < SAMPLE; k++) idx.push(Math.floor(Math.random() * o.keys));
    const replies = await Promise.all(idx.map((i) => c.call('GET', keyOf(i))));
    let bad = 0;
    for (let k = 0; k < idx.length; k++) {
      const r = replies[k];
      if (r !== valueOf(idx[k]) && r !== writerVal) {
        if (bad++ < 3) problems.push(`GET ${keyOf(idx[k])} = ${JSON.stringify(r instanceof Error ? r.message : r)}, expected ${valueOf(idx[k])}`);
      }
    }
    if (bad > 3) problems.push(`... ${bad} of ${idx.length} sampled keys wrong`);
    return problems.length === 0 ? `ok (${fmtInt(o.keys)} keys, ${idx.length} sampled)` : `WRONG: ${problems.join('; ')}`;
  } finally {
    c.close();
  }
}

// ---- memory sampling: RSS (and PSS) of the server and its forked children ----


function pssBytes(pid: number): number | null {
  try {
    const m = /Pss:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').split(/\s+/)) if (c) out.push(Number(c));
      } catch {
        /* thread gone */
      }
    }
  } catch {
    /* process gone */
  }
  return out;
}

interface MemSample {
  rss: number; // server + children VmRSS
  pss: number | null; // server + children Pss (shared pages split: real memory)
  childRss: number;
}

function sampleMem(pid: number, withPss: boolean): MemSample {
  let rss = procStatusBytes(pid, 'VmRSS') ?? 0;
  let pss = withPss ? pssBytes(pid) : null;
  let childRss = 0;
  for (const c of childPids(pid)) {
    const r = procStatusBytes(c, 'VmRSS') ?? 0;
    childRss += r;
    rss += r;
    if (pss !== null) pss += pssBytes(c) ?? 0;
  }
  return { rss, pss, childRss };
}

/** Samples every 50 ms (PSS every 4th sample: smaps_rollup walks the page tables) until stopped. */
class Sampler {
  peakRss = 0;
  peakPss = 0;
  peakChildRss = 0;
  samples = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.take();
    this.timer = setInterval(() => this.take(), 50);
  }
  private take(): void {
    const s = sampleMem(this.pid, this.samples % 4 === 0);
    this.samples++;
    this.peakRss = Math.max(this.peakRss, s.rss);
    this.peakChildRss = Math.max(this.peakChildRss, s.childRss);
    if (s.pss !== null) this.peakPss = Math.max(this.peakPss, s.pss);
  }
  stop(): void {
    this.take();
    clearInterval(this.timer);
  }
}

// ---- part 2: snapshot ----

interface SnapResult {
  who: string;
  writer: boolean;
  ms: number | null;
  error: string | null;
  fileBytes: number | null;
  rssBefore: number;
  pssBefore: number;
  peakExtraRss: number;
  peakExtraPss: number;
  peakChildRss: number;
  rssAfter: number;
  cowSize: string;
  writesDuring: number | null;
  writerNote: string;
}

async function waitSnapshot(c: Conn, kind: 'rdb' | 'aof', savesBefore: number, timeoutSec: number): Promise<string | null> {
  const deadline = Date.now() + timeoutSec * 1000;
  for (;;) {
    const info = await c.info('persistence');
    const inProgress = kind === 'rdb' ? info.get('rdb_bgsave_in_progress') : info.get('aof_rewrite_in_progress');
    const scheduled = kind === 'aof' ? info.get('aof_rewrite_scheduled') : '0';
    const count = Number(info.get(kind === 'rdb' ? 'rdb_saves' : 'aof_rewrites'));
    if (inProgress === '0' && scheduled === '0' && count > savesBefore) {
      const status = info.get(kind === 'rdb' ? 'rdb_last_bgsave_status' : 'aof_last_bgrewrite_status');
      return status === 'ok' ? null : `status ${status}`;
    }
    if (Date.now() > deadline) return `not finished after ${timeoutSec} s (in progress: ${inProgress})`;
    await sleep(50);
  }
}

/** BGSAVE, timed from the command to the end (rdb_bgsave_in_progress:0, rdb_saves up), memory sampled meanwhile. */
async function snapshot(s: Server, o: Options, writer: boolean): Promise<SnapResult> {
  const c = await Conn.open(s.port);
  let writerDone: Promise<BenchRow | string> | null = null;
  let writerProc: ChildProcess | null = null;
  try {
    if (writer && o.writerN > 0) {
      const args = ['-h', '127.0.0.1', '-p', String(s.port), '-t', 'set', '-r', String(o.keys), '-n', String(o.writerN), '-d', '16', '-c', '50', '-P', String(o.writerPipeline)];
      writerDone = benchmark(args, 'set', o.timeoutSec, (p) => (writerProc = p));
      await sleep(1000); // let the writer reach its pace before the baseline
    }
    const base = sampleMem(s.pid, true);
    const before = await c.info('persistence');
    const cmdsBefore = Number((await c.info('stats')).get('total_commands_processed'));
    const t0 = performance.now();
    const sampler = new Sampler(s.pid);
    const r = await c.call('BGSAVE');
    let error: string | null = r instanceof Error ? `BGSAVE: ${r.message}` : null;
    if (error === null) error = await waitSnapshot(c, 'rdb', Number(before.get('rdb_saves')), o.timeoutSec);
    const ms = performance.now() - t0;
    sampler.stop();
    const cmdsAfter = Number((await c.info('stats')).get('total_commands_processed'));
    const after = await c.info('persistence');
    let writerNote = '';
    if (writerDone) {
      // Stop the writer now: the snapshot is what we measure, not the writer's full run.
      (writerProc as ChildProcess | null)?.kill('SIGTERM');
      const wr = await writerDone;
      writerNote = typeof wr === 'string' ? (wr === 'killed by SIGTERM' ? 'stopped at the end' : wr) : `finished first (${fmtInt(wr.rps)} rps)`;
    }
    const end = sampleMem(s.pid, true);
    return {
      who: s.who,
      writer,
      ms: error === null ? ms : null,
      error,
      fileBytes: fileBytes(path.join(s.dir, 'dump.rdb')),
      rssBefore: base.rss,
      pssBefore: base.pss ?? 0,
      peakExtraRss: sampler.peakRss - base.rss,
      peakExtraPss: sampler.peakPss - (base.pss ?? 0),
      peakChildRss: sampler.peakChildRss,
      rssAfter: end.rss,
      cowSize: after.get('rdb_last_cow_size') ?? 'n/a',
      // The INFO polls count as commands too: a few per 50 ms, small next to the writer's.
      writesDuring: writer ? cmdsAfter - cmdsBefore : null,
      writerNote,
    };
  } finally {
    c.close();
  }
}

async function rewriteAof(s: Server, o: Options): Promise<{ ms: number | null; error: string | null }> {
  const c = await Conn.open(s.port);
  try {
    const before = Number((await c.info('persistence')).get('aof_rewrites'));
    const t0 = performance.now();
    const r = await c.call('BGREWRITEAOF');
    let error: string | null = r instanceof Error ? `BGREWRITEAOF: ${r.message}` : null;
    if (error === null) error = await waitSnapshot(c, 'aof', before, o.timeoutSec);
    return { ms: error === null ? performance.now() - t0 : null, error };
  } finally {
    c.close();
  }
}

function fileBytes(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}

function dirBytes(dir: string): number | null {
  try {
    let total = 0;
    for (const f of fs.readdirSync(dir)) total += fs.statSync(path.join(dir, f)).size;
    return total;
  } catch {
    return null;
  }
}

function aofFiles(dir: string): string {
  try {
    return fs
      .readdirSync(path.join(dir, 'appendonlydir'))
      .filter((f) => !f.endsWith('.manifest'))
      .map((f) => `${f} ${fmtMB(fs.statSync(path.join(dir, 'appendonlydir', f)).size)} MB`)
      .join(', ');
  } catch {
    return 'n/a';
  }
}

// ---- part 3: start-up ----

interface LoadCell {
  ms: number | null;
  dataMs: number | null;
  bytes: number | null;
  files: string;
  check: string;
}

interface LoadRow {
  what: string;
  Redis: LoadCell;
  Sabre: LoadCell;
}

interface DatasetResult {
  fillMs: Record<string, number>;
  emptyStartMs: Record<string, number>;
  rssLoaded: Record<string, number>;
  snaps: SnapResult[];
  loads: LoadRow[];
  rewrites: { who: string; ms: number | null; error: string | null }[];
  notes: string[];
}

async function dataset(o: Options, live: Set<Server>): Promise<DatasetResult> {
  const res: DatasetResult = { fillMs: {}, emptyStartMs: {}, rssLoaded: {}, snaps: [], loads: [], rewrites: [], notes: [] };
  const dirs = { Redis: tempDir(o, 'redis-data'), Sabre: tempDir(o, 'sabre-data') };
  const order: ('Redis' | 'Sabre')[] = ['Redis', 'Sabre'];
  const start = async (who: 'Redis' | 'Sabre', appendonly: boolean): Promise<Server> => {
    const s = await spawnServer(who, dirs[who], serverArgs(who, o, appendonly), o.timeoutSec);
    live.add(s);
    return s;
  };
  const stop = async (s: Server) => {
    await s.stop();
    live.delete(s);
  };
  try {
    // Fill both with appendonly on (everysec): the AOF of the load is measured in part 3.
    const srv: Record<string, Server> = {};
    for (const who of order) {
      srv[who] = await start(who, true);
      res.emptyStartMs[who] = srv[who].readyMs;
    }
    const writerVal = await writerValue(srv.Redis.port, o);
    for (const who of order) {
      log(`${who}: loading ${fmtInt(o.keys)} keys (appendonly yes, everysec)`);
      const t0 = performance.now();
      await loadDataset(srv[who].port, o.keys);
      res.fillMs[who] = performance.now() - t0;
      await sleep(1500); // everysec: let the last second reach the file
      res.rssLoaded[who] = procStatusBytes(srv[who].pid, 'VmRSS') ?? 0;
      log(`${who}: loaded in ${fmtS(res.fillMs[who])} s, RSS ${fmtMB(res.rssLoaded[who])} MB`);
    }
    for (const writer of [false, true]) {
      for (const who of writer ? [...order].reverse() : order) {
        log(`${who}: BGSAVE${writer ? ' with a concurrent writer' : ''}`);
        const r = await snapshot(srv[who], o, writer);
        log(`${who}: ${r.error ?? `${fmtS(r.ms)} s`}, file ${fmtMB(r.fileBytes)} MB, peak extra RSS ${fmtMB(r.peakExtraRss)} MB, PSS ${fmtMB(r.peakExtraPss)} MB`);
        res.snaps.push(r);
        if (r.error !== null) res.notes.push(`${who} BGSAVE${writer ? ' (writer)' : ''}: ${r.error}`);
        await sleep(500);
      }
    }
    for (const who of order) await stop(srv[who]);

    const loadStep = async (what: string, appendonly: boolean, rewriteAfter: boolean) => {
      const cell = (): LoadCell => ({ ms: null, dataMs: null, bytes: null, files: '', check: '' });
      const row: LoadRow = { what, Redis: cell(), Sabre: cell() };
      for (const who of order) {
        const c = row[who];
        c.bytes = appendonly ? dirBytes(path.join(dirs[who], 'appendonlydir')) : fileBytes(path.join(dirs[who], 'dump.rdb'));
        c.files = appendonly ? aofFiles(dirs[who]) : 'dump.rdb';
        log(`${who}: start-up, ${what}`);
        let s: Server;
        try {
          s = await start(who, appendonly);
        } catch (e) {
          c.check = `failed: ${(e as Error).message.split('\n')[0]}`;
          res.notes.push(`${who} start-up (${what}): ${(e as Error).message.slice(0, 2000)}`);
          continue;
        }
        c.ms = s.readyMs;
        c.dataMs = s.dataReadyMs;
        log(`${who}: PONG after ${fmtS(s.readyMs)} s, DBSIZE answered after ${fmtS(s.dataReadyMs)} s`);
        c.check = await verify(s, o, writerVal);
        log(`${who}: ${c.check}`);
        if (rewriteAfter) {
          log(`${who}: BGREWRITEAOF`);
          const r = await rewriteAof(s, o);
          res.rewrites.push({ who, ...r });
          if (r.error !== null) res.notes.push(`${who} BGREWRITEAOF: ${r.error}`);
        }
        await stop(s);
      }
      res.loads.push(row);
    };
    await loadStep('snapshot file (dump.rdb)', false, false);
    // The server started from the AOF as the load wrote it then rewrites it (BGREWRITEAOF).
    await loadStep('AOF as written by the load + writers (no rewrite)', true, true);
    await loadStep('AOF after BGREWRITEAOF (base + empty incr)', true, false);
  } finally {
    if (!o.keep) for (const d of Object.values(dirs)) fs.rmSync(d, { recursive: true, force: true });
    else log(`kept ${Object.values(dirs).join(' ')}`);
  }
  return res;
}

// ---- report ----


function throughputReport(o: Options, rows: ThroughputResult[], md: string[]): void {
  md.push(`### SET throughput by persistence mode: ${fmtInt(o.n)} requests, ${o.clients} clients, random keys (-r ${o.random})`, '');
  md.push(`Each measurement: \`redis-benchmark ${setBenchArgs('<port>', o, '<P>').join(' ')} --csv\`, Redis and Sabre back to back, order flipping each time.`);
  md.push("Modes: off = `--appendonly no`; everysec/always = `--appendonly yes --appendfsync <mode>`; both servers also get `--save '' --auto-aof-rewrite-percentage 0` and a fresh `--dir`.", '');
  for (const pipeline of o.pipeline) {
    md.push(`#### -P ${pipeline}`, '');
    md.push('| mode | Sabre shards | Redis rps | Sabre rps | Sabre/Redis | Redis p50 ms | Sabre p50 ms | Redis p99 ms | Sabre p99 ms |');
    md.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    const fails: string[] = [];
    for (const r of rows.filter((x) => x.pipeline === pipeline)) {
      const rr = typeof r.redis === 'string' ? null : r.redis;
      const ss = typeof r.sabre === 'string' ? null : r.sabre;
      md.push(
        `| ${r.mode} | ${r.shards} | ${rr ? fmtInt(rr.rps) : 'n/a'} | ${ss ? fmtInt(ss.rps) : 'n/a'} | ${ratio(ss?.rps ?? null, rr?.rps ?? null)} | ` +
          `${rr ? fmtMs(rr.p50) : 'n/a'} | ${ss ? fmtMs(ss.p50) : 'n/a'} | ${rr ? fmtMs(rr.p99) : 'n/a'} | ${ss ? fmtMs(ss.p99) : 'n/a'} |`,
      );
      if (typeof r.redis === 'string') fails.push(`- ${r.mode} shards ${r.shards}, Redis: ${r.redis}`);
      if (typeof r.sabre === 'string') fails.push(`- ${r.mode} shards ${r.shards}, Sabre: ${r.sabre}`);
    }
    md.push('', ...(fails.length ? ['Failures:', ...fails, ''] : []));
  }
}

function datasetReport(o: Options, d: DatasetResult, md: string[]): void {
  const val = (w: string, f: Record<string, number>) => f[w] ?? null;
  md.push(`### ${fmtInt(o.keys)} keys: load, snapshot, start-up (Sabre --shards ${o.datasetShards})`, '');
  md.push(
    `Dataset: \`SET key:<i as 12 digits> <16 hex chars>\` for every i < ${fmtInt(o.keys)}, pipelined (4096 commands per write, 8 in flight), ` +
      "on servers started with `--save '' --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0` in fresh directories.",
    '',
  );
  md.push('| | Redis | Sabre | Sabre/Redis |', '|---|---:|---:|---:|');
  md.push(`| start-up, empty dir (ms, spawn to PONG) | ${fmtInt(val('Redis', d.emptyStartMs) ?? NaN)} | ${fmtInt(val('Sabre', d.emptyStartMs) ?? NaN)} | ${ratio(val('Sabre', d.emptyStartMs), val('Redis', d.emptyStartMs))} |`);
  const rate = (w: string) => (d.fillMs[w] ? o.keys / (d.fillMs[w] / 1000) : null);
  md.push(`| load rate (SET/s, AOF everysec) | ${fmtInt(rate('Redis') ?? NaN)} | ${fmtInt(rate('Sabre') ?? NaN)} | ${ratio(rate('Sabre'), rate('Redis'))} |`);
  md.push(`| RSS after the load (MB) | ${fmtMB(val('Redis', d.rssLoaded))} | ${fmtMB(val('Sabre', d.rssLoaded))} | ${ratio(val('Sabre', d.rssLoaded), val('Redis', d.rssLoaded))} |`, '');

  md.push('#### BGSAVE', '');
  md.push(
    'Time from sending BGSAVE until INFO shows `rdb_bgsave_in_progress:0` with `rdb_saves` incremented (polled every 50 ms). ' +
      'Memory sampled every 50 ms: VmRSS of the server plus its children (`/proc/<pid>/task/*/children`: Redis\'s fork), ' +
      'and every 200 ms PSS (`/proc/<pid>/smaps_rollup`, shared pages split between parent and child, so it counts real memory). ' +
      '"peak extra" = peak during the snapshot minus the value just before BGSAVE.',
    '',
  );
  if (o.writerN > 0) {
    md.push(
      `Writer: \`redis-benchmark -t set -r ${o.keys} -n ${o.writerN} -d 16 -c 50 -P ${o.writerPipeline}\` started 1 s before BGSAVE and stopped when the snapshot ended; ` +
        'it overwrites existing keys (same key spelling), so the dataset does not grow. "writes during" = `total_commands_processed` delta (includes ~20 INFO polls/s).',
      '',
    );
  }
  md.push(
    '| server | writer | BGSAVE s | file MB | RSS before MB | peak extra RSS MB (incl. child) | peak child RSS MB | peak extra PSS MB | extra PSS / RSS before | RSS after MB | rdb_last_cow_size MB | writes during | writes/s | writer |',
  );
  md.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of d.snaps) {
    const cow = Number(s.cowSize);
    md.push(
      `| ${s.who} | ${s.writer ? 'yes' : 'no'} | ${s.error ? `failed: ${s.error}` : fmtS(s.ms)} | ${fmtMB(s.fileBytes)} | ${fmtMB(s.rssBefore)} | ${fmtMB(s.peakExtraRss)} | ` +
        `${fmtMB(s.peakChildRss)} | ${fmtMB(s.peakExtraPss)} | ${s.rssBefore > 0 ? ((100 * s.peakExtraPss) / s.rssBefore).toFixed(1) + '%' : 'n/a'} | ${fmtMB(s.rssAfter)} | ` +
        `${Number.isFinite(cow) ? fmtMB(cow) : s.cowSize} | ${s.writesDuring === null ? '' : fmtInt(s.writesDuring)} | ` +
        `${s.writesDuring === null || !s.ms ? '' : fmtInt(s.writesDuring / (s.ms / 1000))} | ${s.writerNote} |`,
    );
  }
  md.push('', "Sabre's `rdb_last_cow_size` is a constant 0 (no fork); its extra memory is in the PSS/RSS columns.", '');

  md.push('#### Start-up load time', '');
  md.push(
    'Restart in the same `--dir`; time from spawn until PING answers `+PONG` (not `-LOADING`), polled every 20 ms, ' +
      'and until a DBSIZE sent right after that PONG is answered (Sabre: every shard serving, not just the io thread). ' +
      'Each server loads its own files: Redis an RDB / a Redis 7 multi-part AOF (aof-use-rdb-preamble yes: after a rewrite the base is an RDB), ' +
      "Sabre its snapshot format / its multi-part AOF with lz4 frames. After each start: DBSIZE and 2,002 sampled GETs checked against what was written.",
    '',
  );
  md.push('| loaded from | Redis s (PONG) | Sabre s (PONG) | Sabre/Redis | Redis s (DBSIZE) | Sabre s (DBSIZE) | Redis files MB | Sabre files MB | Redis check | Sabre check |');
  md.push('|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
  for (const l of d.loads) {
    md.push(
      `| ${l.what} | ${fmtS(l.Redis.ms)} | ${fmtS(l.Sabre.ms)} | ${ratio(l.Sabre.ms, l.Redis.ms)} | ${fmtS(l.Redis.dataMs)} | ${fmtS(l.Sabre.dataMs)} | ${fmtMB(l.Redis.bytes)} | ${fmtMB(l.Sabre.bytes)} | ${l.Redis.check} | ${l.Sabre.check} |`,
    );
  }
  md.push('');
  for (const l of d.loads) md.push(`- ${l.what}: Redis ${l.Redis.files}; Sabre ${l.Sabre.files}`);
  md.push('');
  if (d.rewrites.length) {
    md.push(
      'BGREWRITEAOF (from the command until `aof_rewrite_in_progress:0`, `aof_rewrites` up): ' +
        d.rewrites.map((r) => `${r.who} ${r.error ? `failed: ${r.error}` : `${fmtS(r.ms)} s`}`).join(', '),
      '',
    );
  }
  if (d.notes.length) md.push('Problems:', '', ...d.notes.map((n) => `- ${n.replace(/\n/g, ' ')}`), '');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const root = repoRoot();
  process.chdir(root);
  const md: string[] = [];
  const script = path.relative(root, process.argv[1]);
  md.push('## Persistence (issue #4): AOF throughput, snapshots, start-up', '');
  md.push('Command:', '', '```', ['node', script, ...process.argv.slice(2)].map(shellWord).join(' '), '```', '');
  md.push(
    `Effective options: --parts ${[...o.parts].join(',')} --n ${o.n} --clients ${o.clients} --pipeline ${o.pipeline.join(',')} --random ${o.random} ` +
      `--shards ${o.shards.join(',')} --modes ${o.modes.join(',')} --keys ${o.keys} --dataset-shards ${o.datasetShards} ` +
      `--writer-n ${o.writerN} --writer-pipeline ${o.writerPipeline}`,
    '',
  );
  const cpus = os.cpus();
  md.push(
    `Machine: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ` +
      `${await versionOf(REDIS_SERVER)}; data dirs under ${o.tmp}; ${new Date().toISOString()}`,
    '',
  );

  const t0 = performance.now();
  const dirs: string[] = [];
  const live = new Set<Server>();
  const stopAll = async () => {
    await Promise.all([...live].map((s) => s.stop()));
    live.clear();
  };
  process.once('SIGINT', () => {
    void stopAll().then(() => process.exit(130));
  });
  try {
    if (o.parts.has('throughput')) throughputReport(o, await throughput(o, dirs), md);
    if (o.parts.has('dataset')) datasetReport(o, await dataset(o, live), md);
  } finally {
    await stopAll();
    if (!o.keep) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
  md.push(`Total run time: ${((performance.now() - t0) / 1000).toFixed(0)} s.`, '');

  log(`written to ${path.relative(root, writeReport(md, root, o.out))}`);
}

runBenchMain(module, 'persistence', main);

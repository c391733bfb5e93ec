// Cache hit rate under maxmemory, Sabre vs Redis, side by side in one run (issue #6).
// A cache workload from the specification: 80% reads, 20% writes, 20% of the keys taking
// 80% of the requests, maxmemory at half the dataset, under allkeys-lru and allkeys-lfu.
// Each server in turn is started fresh, loaded with every key (maxmemory off), then given
// maxmemory = its empty used_memory + half of what the dataset added, and driven with the
// same seeded request stream by a pipelined raw-RESP client at the same request rate: a
// warm-up, CONFIG RESETSTAT, then the measured phase. Hit rate = hits / GETs as the client
// sees them, checked against INFO's keyspace_hits / (keyspace_hits + keyspace_misses).
// Built by tsc to dist/bench/cache.js; `node dist/bench/cache.js --help`.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ServerHandle, repoRoot, startRedis, startSabre } from '../test/helpers/servers';
import { RawClient, escapeBytes } from '../test/helpers/resp';
import { intOption, listOption, runBenchMain, shellWord, versionOf, writeReport } from './common';

const POLICIES = ['allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl'];

interface Options {
  keys: number;
  valueSize: number;
  requests: number;
  warmup: number;
  readPct: number;
  policies: string[];
  shards: string[];
  pipeline: number;
  samples: number;
  rate: number;
  seed: number;
  /** own: each server's maxmemory is half of its own dataset; redis: Sabre gets Redis's maxmemory (the same setting). */
  budget: 'own' | 'redis';
  out: string;
}

const USAGE =
  'usage: node dist/bench/cache.js [--keys 200000] [--value-size 100] [--requests 2*keys] [--warmup keys]\n' +
  '         [--reads 80] [--policies allkeys-lru,allkeys-lfu] [--shards 0,2] [--pipeline 128]\n' +
  '         [--samples 0] [--rate 25000] [--seed 1] [--budget own] [--out bench/out/cache.md]\n' +
  '--keys: dataset size (keys key:<12 digits>, as redis-benchmark names them); --value-size: bytes per value;\n' +
  '  --requests: measured requests (cache-aside SETs come on top); --warmup: unmeasured requests before them;\n' +
  '  --reads: percent of requests that are GETs (the rest SETs); --pipeline: commands in flight on the one\n' +
  '  connection; --samples: maxmemory-samples for both servers (0 = leave the default, 5); --rate: at most\n' +
  '  this many drawn requests per second (0 = as fast as the server answers; see "LRU clock" in bench/README.md);\n' +
  '  --seed: the PRNG seed of the request stream (the same stream for every server);\n' +
  '  --budget own|redis: maxmemory at half of each server\'s own dataset, or Sabre given Redis\'s maxmemory (the same setting).\n' +
  '--shards "" skips Sabre (Redis only). SABRE_CMD overrides the Sabre command (see test/helpers/servers.ts).\n';

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      keys: { type: 'string', default: '200000' },
      'value-size': { type: 'string', default: '100' },
      requests: { type: 'string' },
      warmup: { type: 'string' },
      reads: { type: 'string', default: '80' },
      policies: { type: 'string', default: 'allkeys-lru,allkeys-lfu' },
      shards: { type: 'string', default: '0,2' },
      pipeline: { type: 'string', default: '128' },
      samples: { type: 'string', default: '0' },
      budget: { type: 'string', default: 'own' },
      rate: { type: 'string', default: '25000' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: 'bench/out/cache.md' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const keys = intOption('keys', values.keys!, 10);
  const readPct = intOption('reads', values.reads!, 0);
  if (readPct > 100) throw new Error(`--reads must be at most 100, got '${values.reads}'`);
  const policies = listOption(values.policies!);
  for (const p of policies) if (!POLICIES.includes(p)) throw new Error(`--policies: unknown policy '${p}' (known: ${POLICIES.join(', ')})`);
  return {
    keys,
    valueSize: intOption('value-size', values['value-size']!, 1),
    requests: values.requests === undefined ? 2 * keys : intOption('requests', values.requests, 1),
    warmup: values.warmup === undefined ? keys : intOption('warmup', values.warmup, 0),
    readPct,
    policies,
    shards: listOption(values.shards!).map((s) => String(intOption('shards', s, 0))),
    pipeline: intOption('pipeline', values.pipeline!, 1),
    samples: intOption('samples', values.samples!, 0),
    rate: intOption('rate', values.rate!, 0),
    seed: intOption('seed', values.seed!, 0),
    budget: budgetOption(values.budget!),
    out: values.out!,
  };
}

function budgetOption(v: string): 'own' | 'redis' {
  if (v !== 'own' && v !== 'redis') throw new Error(`--budget must be own or redis, not ${v}`);
  return v;
}

function log(msg: string): void {
  process.stderr.write(`[cache] ${msg}\n`);
}

// ---- the request stream ------------------------------------------------------------------

/** sfc32: a small, fast, seedable PRNG; uniform doubles in [0, 1) with 32 bits. */
class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
}

/** Share of a Zipf(s) distribution over n ranks that falls on the first `top` ranks. */
function zipfShare(n: number, s: number, top: number): number {
  let head = 0, all = 0;
  for (let k = 1; k <= n; k++) {
    const w = Math.pow(k, -s);
    all += w;
    if (k <= top) head += w;
  }
  return head / all;
}

/** The Zipf exponent that puts `share` of the mass on the top `topFraction` of n ranks (bisection). */
function calibrateZipf(n: number, topFraction: number, share: number): number {
  const top = Math.max(1, Math.round(n * topFraction));
  let lo = 0, hi = 4;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    if (zipfShare(n, mid, top) < share) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Key choice: rank r (0 = hottest) with probability proportional to (r+1)^-s, mapped to a
 * key index through a seeded permutation, so the hot keys are spread over the key names
 * (and over Sabre's shards) rather than being key:0..key:k.
 */
class KeyChooser {
  /** cdf[r]: probability of a rank <= r. */
  readonly cdf: Float64Array;
  readonly keyOfRank: Uint32Array;

  constructor(readonly n: number, readonly s: number, seed: number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) this.cdf[r] = sum += Math.pow(r + 1, -s);
    for (let r = 0; r < n; r++) this.cdf[r] /= sum;
    this.cdf[n - 1] = 1;
    this.keyOfRank = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.keyOfRank[i] = i;
    const rng = new Prng(seed ^ 0x5bd1e995);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      const t = this.keyOfRank[i];
      this.keyOfRank[i] = this.keyOfRank[j];
      this.keyOfRank[j] = t;
    }
  }

  /** The rank for a uniform u in [0, 1): the first r with cdf[r] > u. */
  rank(u: number): number {
    const cdf = this.cdf;
    let lo = 0, hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

// ---- the pipelined client -------------------------------------------------------------------

const KEY_DIGITS = 12; // redis-benchmark's __rand_int__ width: key:000000012345
const KEY_LEN = 4 + KEY_DIGITS;
const OP_GET = 0;
const OP_SET = 1;
const ASIDE = 2; // a cache-aside SET after a GET miss (an OP_SET the stream did not draw)

/** What one phase sent and saw, counted by the client. */
interface PhaseCounts {
  requests: number; // drawn from the stream
  gets: number;
  hits: number;
  misses: number;
  sets: number; // drawn SETs
  asideSets: number; // SETs after a GET miss
  hot: number; // drawn requests on the top 20% of ranks
  seconds: number;
}

/**
 * One connection, `window` commands in flight. Each reply frees a slot that is refilled at
 * once, the pending cache-aside SET first, so the order of commands is a function of the
 * stream and of which GETs missed, not of how replies happen to be split into reads.
 */
class CacheClient {
  private readonly getTemplate: Buffer;
  private readonly setTemplate: Buffer;
  private readonly getKeyAt: number;
  private readonly setKeyAt: number;
  private readonly ringOp: Uint8Array;
  private readonly ringKey: Uint32Array;
  private head = 0;
  private inFlight = 0;
  private readonly aside: Uint32Array;
  private asideHead = 0;
  private asideCount = 0;
  private readonly out: Buffer;
  private outLen = 0;
  private inBuf = Buffer.allocUnsafe(1 << 20);
  private rpos = 0;
  private wpos = 0;

  // The phase in progress.
  private sequential = false; // load: SET key:0..key:total-1 in order
  private total = 0;
  private drawn = 0;
  private counts: PhaseCounts = CacheClient.zero();
  private finish: ((c: PhaseCounts) => void) | null = null;
  private fail: ((e: Error) => void) | null = null;
  private startedAt = 0;
  /** --rate: drawn requests per ms (0 = unlimited); a timer resumes drawing when throttled. */
  private readonly perMs: number;
  private throttleTimer: NodeJS.Timeout | null = null;
  private readonly resume = () => {
    this.throttleTimer = null;
    this.refill();
    this.flush();
  };

  private constructor(private readonly sock: net.Socket, private readonly window: number, readonly valueSize: number,
    private readonly keys: KeyChooser, private readonly rng: Prng, private readonly readPct: number, rate: number) {
    this.perMs = rate / 1000;
    const getHead = `*2\r\n$3\r\nGET\r\n$${KEY_LEN}\r\n`;
    const setHead = `*3\r\n$3\r\nSET\r\n$${KEY_LEN}\r\n`;
    const key = 'key:' + '0'.repeat(KEY_DIGITS);
    let value = '';
    while (value.length < valueSize) value += 'v0123456789abcdef'.slice(0, valueSize - value.length);
    this.getTemplate = Buffer.from(`${getHead}${key}\r\n`, 'latin1');
    this.setTemplate = Buffer.from(`${setHead}${key}\r\n$${valueSize}\r\n${value}\r\n`, 'latin1');
    this.getKeyAt = getHead.length + 4;
    this.setKeyAt = setHead.length + 4;
    this.ringOp = new Uint8Array(window);
    this.ringKey = new Uint32Array(window);
    this.aside = new Uint32Array(window);
    this.out = Buffer.allocUnsafe(window * this.setTemplate.length);
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e) => this.abort(e));
    sock.on('close', () => this.abort(new Error('connection closed by the server')));
  }

  static connect(port: number, window: number, valueSize: number, keys: KeyChooser, rng: Prng, readPct: number, rate: number): Promise<CacheClient> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        resolve(new CacheClient(sock, window, valueSize, keys, rng, readPct, rate));
      });
    });
  }

  private static zero(): PhaseCounts {
    return { requests: 0, gets: 0, hits: 0, misses: 0, sets: 0, asideSets: 0, hot: 0, seconds: 0 };
  }

  close(): void {
    if (this.throttleTimer !== null) clearTimeout(this.throttleTimer);
    this.finish = null;
    this.fail = null;
    this.sock.destroy();
  }

  /** SET of every key, key:0 first. */
  load(n: number): Promise<PhaseCounts> {
    return this.run(true, n);
  }

  /** `n` requests drawn from the stream (plus the cache-aside SETs their misses cause). */
  mixed(n: number): Promise<PhaseCounts> {
    return this.run(false, n);
  }

  private run(sequential: boolean, n: number): Promise<PhaseCounts> {
    this.sequential = sequential;
    this.total = n;
    this.drawn = 0;
    this.counts = CacheClient.zero();
    this.startedAt = performance.now();
    return new Promise((resolve, reject) => {
      if (n === 0) return resolve(this.counts);
      this.finish = resolve;
      this.fail = reject;
      this.refill();
      this.flush();
    });
  }

  private abort(e: Error): void {
    const fail = this.fail;
    this.finish = null;
    this.fail = null;
    if (fail) fail(e);
  }

  private writeKey(at: number, key: number): void {
    const out = this.out;
    let v = key;
    for (let d = KEY_DIGITS - 1; d >= 0; d--) {
      out[at + d] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    }
  }

  private send(op: number, key: number): void {
    const at = this.outLen;
    if (op === OP_GET) {
      this.getTemplate.copy(this.out, at);
      this.writeKey(at + this.getKeyAt, key);
      this.outLen += this.getTemplate.length;
    } else {
      this.setTemplate.copy(this.out, at);
      this.writeKey(at + this.setKeyAt, key);
      this.outLen += this.setTemplate.length;
    }
    const slot = (this.head + this.inFlight) % this.window;
    this.ringOp[slot] = op;
    this.ringKey[slot] = key;
    this.inFlight++;
  }

  /** Fill the window: a pending cache-aside SET first, then the next drawn request. */
  private refill(): void {
    const c = this.counts;
    while (this.inFlight < this.window) {
      if (this.asideCount > 0) {
        const key = this.aside[this.asideHead];
        this.asideHead = (this.asideHead + 1) % this.window;
        this.asideCount--;
        this.send(ASIDE, key);
        continue;
      }
      if (this.drawn >= this.total) return;
      if (this.sequential) {
        this.send(OP_SET, this.drawn++);
        continue;
      }
      if (this.perMs > 0 && this.drawn >= (performance.now() - this.startedAt) * this.perMs) {
        if (this.throttleTimer === null) this.throttleTimer = setTimeout(this.resume, 1);
        return;
      }
      this.drawn++;
      const isGet = this.rng.next() * 100 < this.readPct;
      const rank = this.keys.rank(this.rng.next());
      if (rank * 5 < this.keys.n) c.hot++;
      this.send(isGet ? OP_GET : OP_SET, this.keys.keyOfRank[rank]);
    }
  }

  private flush(): void {
    if (this.outLen === 0) return;
    // The socket may keep the buffer it is given until it is sent: hand it a copy.
    this.sock.write(Buffer.from(this.out.subarray(0, this.outLen)));
    this.outLen = 0;
  }

  private onData(d: Buffer): void {
    if (this.wpos + d.length > this.inBuf.length) {
      const unread = this.wpos - this.rpos;
      const next = unread + d.length > this.inBuf.length ? Buffer.allocUnsafe(2 * (unread + d.length)) : this.inBuf;
      this.inBuf.copy(next, 0, this.rpos, this.wpos);
      this.inBuf = next;
      this.rpos = 0;
      this.wpos = unread;
    }
    d.copy(this.inBuf, this.wpos);
    this.wpos += d.length;
    const buf = this.inBuf, c = this.counts;
    for (;;) {
      const p = this.rpos;
      if (p >= this.wpos) break;
      const nl = buf.indexOf(0x0a, p);
      if (nl < 0 || nl >= this.wpos) break;
      let end = nl + 1;
      const type = buf[p];
      if (type === 0x24) {
        // $<len> or $-1
        if (buf[p + 1] !== 0x2d) {
          let len = 0;
          for (let i = p + 1; i < nl - 1; i++) len = len * 10 + buf[i] - 0x30;
          end = nl + 1 + len + 2;
          if (end > this.wpos) break;
        }
      } else if (type !== 0x2b) {
        this.abort(new Error(`unexpected reply "${escapeBytes(buf.subarray(p, Math.min(this.wpos, p + 200)), 200)}"`));
        this.sock.destroy();
        return;
      }
      this.rpos = end;
      if (this.inFlight === 0) {
        this.abort(new Error('a reply with no command in flight'));
        return;
      }
      const op = this.ringOp[this.head], key = this.ringKey[this.head];
      this.head = (this.head + 1) % this.window;
      this.inFlight--;
      if (op === OP_GET) {
        if (type !== 0x24) return this.abort(new Error(`GET answered "${escapeBytes(buf.subarray(p, end), 100)}"`));
        c.gets++;
        if (buf[p + 1] === 0x2d) {
          c.misses++;
          this.aside[(this.asideHead + this.asideCount) % this.window] = key;
          this.asideCount++;
        } else {
          if (end - nl - 3 !== this.valueSize) return this.abort(new Error(`GET returned ${end - nl - 3} bytes, not ${this.valueSize}`));
          c.hits++;
        }
      } else {
        if (type !== 0x2b) return this.abort(new Error(`SET answered "${escapeBytes(buf.subarray(p, end), 100)}"`));
        if (op === ASIDE) c.asideSets++;
        else c.sets++;
      }
      this.refill();
    }
    if (this.rpos === this.wpos) this.rpos = this.wpos = 0;
    this.flush();
    if (this.inFlight === 0 && this.asideCount === 0 && this.drawn >= this.total && this.finish) {
      c.requests = this.drawn;
      c.seconds = (performance.now() - this.startedAt) / 1000;
      const finish = this.finish;
      this.finish = null;
      this.fail = null;
      finish(c);
    }
  }
}

// ---- control commands ------------------------------------------------------------------------

async function command(c: RawClient, ...args: string[]): Promise<string> {
  const r = (await c.command(...args)).toString('utf8');
  if (r[0] === '-') throw new Error(`${args.join(' ')}: ${r.trim()}`);
  if (r[0] === '$') return r.slice(r.indexOf('\r\n') + 2, -2);
  return r.slice(1, -2);
}

async function infoFields(c: RawClient, section: string): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const line of (await command(c, 'INFO', section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function infoNumber(c: RawClient, section: string, field: string): Promise<number> {
  const v = (await infoFields(c, section)).get(field);
  if (v === undefined) throw new Error(`no ${field} in INFO ${section}`);
  return Number(v);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- one run ---------------------------------------------------------------------------------

interface Result {
  server: string;
  policy: string;
  emptyUsed: number;
  fullUsed: number;
  maxmemory: number;
  usedEnd: number;
  dbsize: number;
  evicted: number;
  hits: number;
  misses: number;
  /** Client-side counts of the measured phase (a cross-check of INFO's). */
  measured: PhaseCounts;
  warmupSec: number;
  error?: string;
}

async function runOne(name: string, start: () => Promise<ServerHandle>, policy: string, o: Options, keys: KeyChooser,
  fixedMax: number | null): Promise<Result> {
  const server = await start();
  let ctl: RawClient | null = null;
  let client: CacheClient | null = null;
  try {
    ctl = await RawClient.connect(server.port);
    ctl.timeoutMs = 120_000;
    // The policy before the load, so keys are born with LFU counters under allkeys-lfu.
    await command(ctl, 'CONFIG', 'SET', 'maxmemory', '0');
    await command(ctl, 'CONFIG', 'SET', 'maxmemory-policy', policy);
    if (o.samples > 0) await command(ctl, 'CONFIG', 'SET', 'maxmemory-samples', String(o.samples));
    await sleep(200);
    const emptyUsed = await infoNumber(ctl, 'memory', 'used_memory');
    client = await CacheClient.connect(server.port, o.pipeline, o.valueSize, keys, new Prng(o.seed), o.readPct, o.rate);
    const load = await client.load(o.keys);
    const dbsize = Number(await command(ctl, 'DBSIZE'));
    if (dbsize !== o.keys) throw new Error(`DBSIZE ${dbsize} after loading ${o.keys} keys`);
    const fullUsed = await infoNumber(ctl, 'memory', 'used_memory');
    const maxmemory = fixedMax ?? emptyUsed + Math.floor((fullUsed - emptyUsed) / 2);
    log(`${name} ${policy}: loaded in ${load.seconds.toFixed(1)} s, used_memory ${MB(emptyUsed)} -> ${MB(fullUsed)} MB, maxmemory ${MB(maxmemory)} MB`);
    await command(ctl, 'CONFIG', 'SET', 'maxmemory', String(maxmemory));
    // Let the eviction down to maxmemory finish (both evict in time-boxed steps between commands
    // and from a timer). Sabre's used_memory counts client buffers that its maxmemory check does
    // not, so "done" is: within 1% of maxmemory, or evicted_keys no longer moving.
    let lastEvicted = -1;
    for (let i = 0; i < 400; i++) {
      const evicted = await infoNumber(ctl, 'stats', 'evicted_keys');
      if ((await infoNumber(ctl, 'memory', 'used_memory')) <= maxmemory * 1.01 || evicted === lastEvicted) break;
      lastEvicted = evicted;
      await sleep(25);
    }
    const warm = await client.mixed(o.warmup);
    await command(ctl, 'CONFIG', 'RESETSTAT');
    // Sabre's RESETSTAT may leave evicted_keys alone: count the phase's evictions as a difference.
    const evictedBefore = await infoNumber(ctl, 'stats', 'evicted_keys');
    const measured = await client.mixed(o.requests);
    const stats = await infoFields(ctl, 'stats');
    const usedEnd = await infoNumber(ctl, 'memory', 'used_memory');
    const dbsizeEnd = Number(await command(ctl, 'DBSIZE'));
    const num = (f: string) => {
      const v = stats.get(f);
      if (v === undefined) throw new Error(`no ${f} in INFO stats`);
      return Number(v);
    };
    const r: Result = {
      server: name, policy, emptyUsed, fullUsed, maxmemory, usedEnd, dbsize: dbsizeEnd,
      evicted: num('evicted_keys') - evictedBefore, hits: num('keyspace_hits'), misses: num('keyspace_misses'),
      measured, warmupSec: warm.seconds,
    };
    log(`${name} ${policy}: hit rate ${pct(measured.hits, measured.gets)} (INFO ${pct(r.hits, r.hits + r.misses)}), ` +
      `${fmtInt((measured.requests + measured.asideSets) / measured.seconds)} ops/s, ${fmtInt(dbsizeEnd)} keys kept`);
    return r;
  } finally {
    client?.close();
    ctl?.close();
    await server.stop();
  }
}

// ---- reference: an exact LRU cache on the same stream --------------------------------------

/**
 * The read hit rate of a true LRU cache of `capacity` keys on the measured part of the same
 * stream (same seed, warm-up first), with the same cache-aside fill, applied at once rather
 * than a window later. It starts holding `capacity` arbitrary keys, as the servers do after
 * the first eviction.
 */
function exactLru(o: Options, keys: KeyChooser, capacity: number): number {
  const n = o.keys;
  const prev = new Int32Array(n).fill(-1), next = new Int32Array(n).fill(-1);
  const cached = new Uint8Array(n);
  let head = -1, tail = -1, size = 0;
  const unlink = (k: number) => {
    if (prev[k] >= 0) next[prev[k]] = next[k];
    else head = next[k];
    if (next[k] >= 0) prev[next[k]] = prev[k];
    else tail = prev[k];
  };
  const touch = (k: number) => {
    if (cached[k]) {
      if (head === k) return;
      unlink(k);
    } else {
      cached[k] = 1;
      size++;
    }
    prev[k] = -1;
    next[k] = head;
    if (head >= 0) prev[head] = k;
    head = k;
    if (tail < 0) tail = k;
    if (size > capacity) {
      const victim = tail;
      unlink(victim);
      cached[victim] = 0;
      size--;
    }
  };
  for (let k = 0; k < Math.min(capacity, n); k++) touch(k);
  const rng = new Prng(o.seed);
  let gets = 0, hits = 0;
  for (let i = 0; i < o.warmup + o.requests; i++) {
    const isGet = rng.next() * 100 < o.readPct;
    const key = keys.keyOfRank[keys.rank(rng.next())];
    if (isGet && i >= o.warmup) {
      gets++;
      if (cached[key]) hits++;
    }
    touch(key);
  }
  return gets > 0 ? hits / gets : NaN;
}

// ---- report ------------------------------------------------------------------------------

const MB = (b: number) => (b / (1 << 20)).toFixed(1);
const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(2)}%` : 'n/a');

/** The best any cache holding `kept` keys could do on these reads: the mass of the `kept` hottest ranks. */
function staticOptimum(keys: KeyChooser, kept: number): number {
  return kept <= 0 ? 0 : keys.cdf[Math.min(kept, keys.n) - 1];
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const root = repoRoot();
  process.chdir(root);

  const s = calibrateZipf(o.keys, 0.2, 0.8);
  const keys = new KeyChooser(o.keys, s, o.seed);
  log(`Zipf exponent ${s.toFixed(4)} puts 80% of the mass on the top 20% of ${o.keys} keys`);

  const md: string[] = [];
  const script = path.relative(root, process.argv[1]);
  md.push('# Cache hit rate under maxmemory: Sabre vs Redis', '', 'Command:', '', '```');
  md.push((process.env.SABRE_CMD ? `SABRE_CMD=${shellWord(process.env.SABRE_CMD)} ` : '') +
    ['node', script, ...process.argv.slice(2)].map(shellWord).join(' '));
  md.push('```', '');
  md.push(`Effective options: --keys ${o.keys} --value-size ${o.valueSize} --requests ${o.requests} --warmup ${o.warmup} ` +
    `--reads ${o.readPct} --policies ${o.policies.join(',')} --shards ${o.shards.join(',')} --pipeline ${o.pipeline} ` +
    `--samples ${o.samples} --rate ${o.rate} --seed ${o.seed} --budget ${o.budget}`, '');
  const cpus = os.cpus();
  md.push(`Machine: ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `Node ${process.version}, ${await versionOf('redis-server')}; ${new Date().toISOString()}`, '');

  const results: Result[] = [];
  for (const policy of o.policies) {
    const runs: [string, () => Promise<ServerHandle>][] = [['Redis', () => startRedis()]];
    for (const shards of o.shards) runs.push([`Sabre --shards ${shards}`, () => startSabre(['--shards', shards, '--save', '', '--appendonly', 'no'])]);
    let redisMax: number | null = null;
    for (const [name, start] of runs) {
      try {
        const r = await runOne(name, start, policy, o, keys, name !== 'Redis' && o.budget === 'redis' ? redisMax : null);
        if (name === 'Redis') redisMax = r.maxmemory;
        results.push(r);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        log(`${name} ${policy}: failed: ${msg}`);
        results.push({ server: name, policy, emptyUsed: 0, fullUsed: 0, maxmemory: 0, usedEnd: 0, dbsize: 0, evicted: 0, hits: 0, misses: 0,
          measured: { requests: 0, gets: 0, hits: 0, misses: 0, sets: 0, asideSets: 0, hot: 0, seconds: 0 }, warmupSec: 0, error: msg });
      }
    }
  }

  const ok = results.find((r) => !r.error);
  const hotShare = ok ? pct(ok.measured.hot, ok.measured.requests) : 'n/a';
  md.push(
    `Workload: ${fmtInt(o.keys)} keys \`key:<12 digits>\` with ${o.valueSize}-byte values, loaded in full (maxmemory 0, the policy already set), ` +
      (o.budget === 'own'
        ? `then \`maxmemory\` = used_memory when empty + half of what the load added (each server by its own used_memory), which evicts ` +
          `about half the keys.`
        : `then \`maxmemory\` = Redis's used_memory when empty + half of what the load added to it, the same setting for Sabre ` +
          `(whose smaller records then keep more of the keys).`) +
      ` Requests on one connection with ${o.pipeline} commands in flight: ${o.readPct}% GET, ${100 - o.readPct}% SET, ` +
      `keys drawn from a Zipf distribution over ranks, exponent s = ${s.toFixed(4)}, calibrated (bisection) so that the hottest 20% of the ` +
      `keys carry 80% of the probability; ranks are mapped to key names by a seeded shuffle. A GET that misses is followed by a ` +
      `cache-aside SET of that key. Seeded PRNG (sfc32, seed ${o.seed}): every server gets the same stream of drawn requests; ` +
      `${fmtInt(o.warmup)} warm-up requests, \`CONFIG RESETSTAT\`, then ${fmtInt(o.requests)} measured ones, ` +
      `of which ${hotShare} went to the hottest 20% of the keys. ` +
      (o.rate > 0
        ? `Drawn requests are paced at ${fmtInt(o.rate)}/s for every server, so both see the same timing: the LRU clock counts whole ` +
          'seconds and LFU counters decay per minute, so a faster server would otherwise see a coarser LRU.'
        : 'Requests are not paced (--rate 0): each server runs as fast as it answers, and a faster one sees a coarser LRU clock (seconds).'),
    '',
    'hit rate = hits / GETs of the measured phase as the client saw them (a GET answered with a value, or nil); ' +
      'INFO hit rate = keyspace_hits / (keyspace_hits + keyspace_misses) from `INFO stats` after the measured phase (reset by ' +
      '`CONFIG RESETSTAT` before it), which must be the same number ("n/a" where the server reports no lookups). static best = the reads\' share of the hottest *kept* keys (as many as DBSIZE at the end): ' +
      'the hit rate of a perfect cache of that size on this distribution, the ceiling for LRU and LFU. exact LRU = a true LRU cache ' +
      'of the same number of keys simulated on the same stream (what sampled LRU approximates). evicted = evicted_keys over the ' +
      'measured phase; ops/s counts drawn requests and cache-aside SETs (informational: one client, pipelined).',
    '',
  );
  md.push('| policy | server | hit rate | Sabre/Redis | INFO hit rate | static best | exact LRU | top-20% share | GETs | misses | cache-aside SETs | evicted | DBSIZE (kept) | maxmemory MB | used_memory MB | ops/s |');
  md.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const failures: string[] = [];
  for (const policy of o.policies) {
    const redis = results.find((r) => r.policy === policy && r.server === 'Redis' && !r.error);
    const redisRate = redis ? redis.measured.hits / redis.measured.gets : NaN;
    for (const r of results.filter((x) => x.policy === policy)) {
      if (r.error) {
        md.push(`| ${policy} | ${r.server} | n/a | n/a | | | | | | | | | | | | |`);
        failures.push(`- ${policy}, ${r.server}: ${r.error}`);
        continue;
      }
      const m = r.measured;
      const rate = m.hits / m.gets;
      const infoLookups = r.hits + r.misses;
      if (infoLookups > 0 && (m.hits !== r.hits || m.misses !== r.misses)) {
        failures.push(`- ${policy}, ${r.server}: INFO says ${r.hits} hits / ${r.misses} misses, the client counted ${m.hits} / ${m.misses}`);
      }
      if (infoLookups === 0) failures.push(`- ${policy}, ${r.server}: INFO keyspace_hits and keyspace_misses are both 0 after ${m.gets} GETs`);
      md.push(`| ${policy} | ${r.server} | ${(100 * rate).toFixed(2)}% | ${r.server === 'Redis' ? '' : Number.isFinite(redisRate) ? (rate / redisRate).toFixed(3) : 'n/a'} | ` +
        `${pct(r.hits, infoLookups)} | ${(100 * staticOptimum(keys, r.dbsize)).toFixed(2)}% | ${(100 * exactLru(o, keys, r.dbsize)).toFixed(2)}% | ${pct(m.hot, m.requests)} | ${fmtInt(m.gets)} | ${fmtInt(m.misses)} | ${fmtInt(m.asideSets)} | ` +
        `${fmtInt(r.evicted)} | ${fmtInt(r.dbsize)} (${pct(r.dbsize, o.keys)}) | ${MB(r.maxmemory)} | ${MB(r.usedEnd)} | ${fmtInt((m.requests + m.asideSets) / m.seconds)} |`);
    }
  }
  md.push('');
  md.push('Memory per server: used_memory empty -> loaded (MB): ' +
    results.filter((r) => !r.error).map((r) => `${r.server} ${r.policy} ${MB(r.emptyUsed)} -> ${MB(r.fullUsed)}`).join('; ') + '.', '');
  if (failures.length) md.push('Failures and mismatches:', ...failures, '');

  log(`written to ${path.relative(root, writeReport(md, root, o.out))}`);
}

runBenchMain(module, 'cache', main);

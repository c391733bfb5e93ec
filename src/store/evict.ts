/**
 * maxmemory: the LRU clock / LFU counter of every key, and eviction (Redis 7.0 src/evict.c,
 * the LFU parts of src/object.c, and processCommand's out-of-memory check).
 *
 * - Each key record keeps 24 bits in `meta` (native-layout/record.md): under an LRU (or
 *   no) policy the LRU clock in seconds (Redis's LRU_CLOCK()), under an LFU policy 16 bits
 *   of minutes (last decrement time) and an 8-bit logarithmic access counter. Switching
 *   policy reinterprets the bits, as in Redis ("will take some time to adjust").
 * - used memory, for maxmemory: the bytes handed out by the shards' arenas (class sizes),
 *   summed over every shard. The V8 heap, client buffers and the AOF buffer are not counted
 *   (Redis leaves AOF and replica buffers out too); INFO `used_memory` is a different sum.
 * - A shard over budget evicts from its own arena only, its share of the excess
 *   (excess * own / total), so the shards together come back under `maxmemory`. A shard
 *   learns the others' usage from a small shared block (MemoryBudget, native-layout/arena.md
 *   "maxmemory budget") that each shard updates after every batch and cron run.
 * - performEvictions() runs before each command (on the thread that runs it), bounded by
 *   `maxmemory-eviction-tenacity`'s time limit; an unfinished job continues between later
 *   commands and from the thread's idle loop / event loop (Redis's eviction time proc).
 */
import type { Arena } from './arena';
import type { Keyspace } from './keyspace';
import type { ExecContext } from '../commands/context';
import type { EffectSink } from '../persistence/effects';
import { NOTIFY_EVICTED } from '../commands/context';
import { ADDR_OFFSET_MASK, GRANULE_SHIFT, H_EVICTED_KEYS } from '../../native-layout/arena';
import { LRU_MASK, R_HASH } from '../../native-layout/record';

// ---- policies (Redis's MAXMEMORY_* values) --------------------------------------------------

export const MAXMEMORY_FLAG_LRU = 1 << 0;
export const MAXMEMORY_FLAG_LFU = 1 << 1;
export const MAXMEMORY_FLAG_ALLKEYS = 1 << 2;
export const MAXMEMORY_VOLATILE_LRU = (0 << 8) | MAXMEMORY_FLAG_LRU;
export const MAXMEMORY_VOLATILE_LFU = (1 << 8) | MAXMEMORY_FLAG_LFU;
export const MAXMEMORY_VOLATILE_TTL = 2 << 8;
export const MAXMEMORY_VOLATILE_RANDOM = 3 << 8;
export const MAXMEMORY_ALLKEYS_LRU = (4 << 8) | MAXMEMORY_FLAG_LRU | MAXMEMORY_FLAG_ALLKEYS;
export const MAXMEMORY_ALLKEYS_LFU = (5 << 8) | MAXMEMORY_FLAG_LFU | MAXMEMORY_FLAG_ALLKEYS;
export const MAXMEMORY_ALLKEYS_RANDOM = (6 << 8) | MAXMEMORY_FLAG_ALLKEYS;
export const MAXMEMORY_NO_EVICTION = 7 << 8;

const POLICY_BY_NAME: Record<string, number> = {
  'volatile-lru': MAXMEMORY_VOLATILE_LRU, 'volatile-lfu': MAXMEMORY_VOLATILE_LFU,
  'volatile-ttl': MAXMEMORY_VOLATILE_TTL, 'volatile-random': MAXMEMORY_VOLATILE_RANDOM,
  'allkeys-lru': MAXMEMORY_ALLKEYS_LRU, 'allkeys-lfu': MAXMEMORY_ALLKEYS_LFU,
  'allkeys-random': MAXMEMORY_ALLKEYS_RANDOM, 'noeviction': MAXMEMORY_NO_EVICTION,
};

/** performEvictions() results. */
export const EVICT_OK = 0;
export const EVICT_RUNNING = 1;
export const EVICT_FAIL = 2;

/** Redis's shared.oomerr. */
export const ERR_OOM = "OOM command not allowed when used memory > 'maxmemory'.";

/** This thread's copy of the maxmemory settings (CONFIG SET reaches every thread, src/shard/settings.ts). */
export const evictConfig = {
  maxmemory: 0,
  policy: MAXMEMORY_NO_EVICTION,
  /** policy & MAXMEMORY_FLAG_LFU: the 24 record bits hold LFU data. */
  lfu: false,
  samples: 5,
  tenacity: 10,
  lfuLogFactor: 10,
  lfuDecayTime: 1,
  lazyEviction: false,
};

/** CONFIG names this module reads. */
export const EVICT_SETTING_NAMES = [
  'maxmemory', 'maxmemory-policy', 'maxmemory-samples', 'maxmemory-eviction-tenacity', 'lfu-log-factor',
  'lfu-decay-time', 'lazyfree-lazy-eviction',
];

/** Apply one CONFIG value (as CONFIG GET prints it) to this thread's evictConfig. */
export function setEvictSetting(name: string, value: string): void {
  switch (name) {
    case 'maxmemory': evictConfig.maxmemory = Number(value) || 0; break;
    case 'maxmemory-policy':
      evictConfig.policy = POLICY_BY_NAME[value] ?? MAXMEMORY_NO_EVICTION;
      evictConfig.lfu = (evictConfig.policy & MAXMEMORY_FLAG_LFU) !== 0;
      break;
    case 'maxmemory-samples': evictConfig.samples = Math.max(1, Number(value) || 5); break;
    case 'maxmemory-eviction-tenacity': evictConfig.tenacity = Number(value) || 0; break;
    case 'lfu-log-factor': evictConfig.lfuLogFactor = Number(value) || 0; break;
    case 'lfu-decay-time': evictConfig.lfuDecayTime = Number(value) || 0; break;
    case 'lazyfree-lazy-eviction': evictConfig.lazyEviction = value === 'yes'; break;
  }
}

// ---- LRU clock and LFU counter (object.c, evict.c) -------------------------------------------

const LFU_INIT_VAL = 5;

/** LRU_CLOCK(): seconds, 24 bits. */
function lruClockNow(nowMs: number): number {
  return Math.floor(nowMs / 1000) & LRU_MASK;
}

/** LFUGetTimeInMinutes(). */
function lfuMinutes(nowMs: number): number {
  return Math.floor(nowMs / 60000) & 0xffff;
}

/** LFUDecrAndReturn(): the counter of a 24-bit LFU field, decayed by the periods elapsed since. */
export function lfuDecrAndReturn(field: number, nowMs: number): number {
  const ldt = field >>> 8, counter = field & 0xff;
  const now = lfuMinutes(nowMs);
  const elapsed = now >= ldt ? now - ldt : 65535 - ldt + now;
  const periods = evictConfig.lfuDecayTime > 0 ? Math.floor(elapsed / evictConfig.lfuDecayTime) : 0;
  return periods > counter ? 0 : counter - periods;
}

/** LFULogIncr(): bump the counter with probability 1 / ((counter - LFU_INIT_VAL) * lfu_log_factor + 1). */
function lfuLogIncr(counter: number): number {
  if (counter === 255) return 255;
  const base = counter > LFU_INIT_VAL ? counter - LFU_INIT_VAL : 0;
  return Math.random() < 1 / (base * evictConfig.lfuLogFactor + 1) ? counter + 1 : counter;
}

/** The 24-bit field of a key after an access (lookupKey's touch: updateLFU or LRU_CLOCK). */
export function accessedLru(field: number, nowMs: number): number {
  if (!evictConfig.lfu) return lruClockNow(nowMs);
  return (lfuMinutes(nowMs) << 8) | lfuLogIncr(lfuDecrAndReturn(field, nowMs));
}

/** The 24-bit field of a new key (createObject). */
export function initialLru(nowMs: number): number {
  return evictConfig.lfu ? (lfuMinutes(nowMs) << 8) | LFU_INIT_VAL : lruClockNow(nowMs);
}

/** estimateObjectIdleTime(): ms since the key's LRU clock was last set. */
function idleMs(field: number, nowMs: number): number {
  const clock = lruClockNow(nowMs);
  return (clock >= field ? clock - field : clock + (LRU_MASK - field)) * 1000;
}

/** evictionTimeLimitUs(), in ms. */
function timeLimitMs(): number {
  const t = evictConfig.tenacity;
  if (t <= 10) return 0.05 * t;
  if (t < 100) return 0.5 * Math.pow(1.15, t - 10);
  return Infinity;
}

// ---- used memory across shards -----------------------------------------------------------

/**
 * Words (f64) per slot in the shared budget block: [used bytes, evictable keys]. One slot per
 * shard, then one for the io thread: its connection buffers (nothing evictable).
 */
export const MEM_SLOT_WORDS = 2;

/** Keys the current policy may evict in these keyspaces (every key, or those with a TTL). */
export function evictableKeys(keyspaces: readonly Keyspace[]): number {
  const all = (evictConfig.policy & MAXMEMORY_FLAG_ALLKEYS) !== 0;
  let n = 0;
  for (const ks of keyspaces) for (let db = 0; db < ks.dbCount; db++) n += all ? ks.size(db) : ks.volatileCount(db);
  return n;
}

/**
 * The memory a thread sees: its own arenas live, the other shards' as they last published
 * them in `shared` (MEM_SLOT_WORDS f64 per shard; null when this thread holds every arena).
 */
export class MemoryBudget {
  /** Bytes outside the arenas this thread counts itself (inline: the connection buffers). */
  external = 0;

  constructor(readonly arenas: readonly Arena[], readonly shared: Float64Array | null, readonly self: number) {}

  own(): number {
    let n = 0;
    for (let i = 0; i < this.arenas.length; i++) n += this.arenas[i].usedBytes;
    return n;
  }

  /** used_memory as maxmemory counts it. */
  used(): number {
    let n = this.own() + this.external;
    const s = this.shared;
    if (s !== null) for (let i = 0; i < s.length; i += MEM_SLOT_WORDS) if (i !== this.self * MEM_SLOT_WORDS) n += s[i];
    return n;
  }

  publish(): void {
    if (this.shared !== null) this.shared[this.self * MEM_SLOT_WORDS] = this.own();
  }

  publishEvictable(keyspaces: readonly Keyspace[]): void {
    if (this.shared !== null) this.shared[this.self * MEM_SLOT_WORDS + 1] = evictableKeys(keyspaces);
  }

  /**
   * The used bytes of the shards that can evict (this one included): the excess is shared out
   * among them, so what a shard with nothing to evict adds is freed by the others.
   */
  evictingUsed(own: number): number {
    let n = own;
    const s = this.shared;
    if (s !== null) for (let i = 0; i < s.length; i += MEM_SLOT_WORDS) if (i !== this.self * MEM_SLOT_WORDS && s[i + 1] > 0) n += s[i];
    return n;
  }

  /** Another shard has keys it can evict (it evicts its share from its own cron or commands). */
  othersEvictable(): boolean {
    const s = this.shared;
    if (s === null) return false;
    for (let i = 0; i < s.length; i += MEM_SLOT_WORDS) if (i !== this.self * MEM_SLOT_WORDS && s[i + 1] > 0) return true;
    return false;
  }
}

/**
 * The io thread's view when the shards own the data (it cannot evict from them): over the
 * budget with nothing any shard could evict, as performEvictions() would end with EVICT_FAIL.
 */
export function outOfMemory(keyspaces: readonly Keyspace[], external: number): boolean {
  if (evictConfig.maxmemory === 0) return false;
  let used = external;
  for (const ks of keyspaces) used += ks.arena.usedBytes;
  if (used <= evictConfig.maxmemory) return false;
  return evictConfig.policy === MAXMEMORY_NO_EVICTION || evictableKeys(keyspaces) === 0;
}

/** evicted_keys over these keyspaces (INFO stats). */
export function evictedKeys(keyspaces: readonly Keyspace[]): number {
  let n = 0;
  for (const ks of keyspaces) n += ks.arena.hdr[H_EVICTED_KEYS] >>> 0;
  return n;
}

// ---- eviction ----------------------------------------------------------------------------

const EVPOOL_SIZE = 16;
const EVPOOL_CACHED_KEY = 255;

/**
 * evictionPoolLRU: the best candidates seen so far, ascending by score (idle time,
 * 255 - frequency, or how soon it expires). Entries keep a copy of the key, looked up again
 * before eviction: a record may have moved or gone since it was sampled. Shifting moves the
 * key buffers' references, as Redis swaps the cached sds, so nothing is allocated.
 */
class EvictionPool {
  readonly score = new Float64Array(EVPOOL_SIZE);
  readonly keyLen = new Int32Array(EVPOOL_SIZE).fill(-1);
  readonly hash = new Int32Array(EVPOOL_SIZE);
  readonly db = new Int32Array(EVPOOL_SIZE);
  readonly ksIndex = new Int32Array(EVPOOL_SIZE);
  readonly keys: Uint8Array[] = Array.from({ length: EVPOOL_SIZE }, () => new Uint8Array(EVPOOL_CACHED_KEY));

  private move(from: number, to: number): void {
    this.score[to] = this.score[from];
    this.keyLen[to] = this.keyLen[from];
    this.hash[to] = this.hash[from];
    this.db[to] = this.db[from];
    this.ksIndex[to] = this.ksIndex[from];
    this.keys[to] = this.keys[from];
  }

  /** Insert a sampled record if it beats the worst kept (evictionPoolPopulate's insertion). */
  insert(score: number, ks: Keyspace, ksIndex: number, db: number, addr: number): void {
    let k = 0;
    while (k < EVPOOL_SIZE && this.keyLen[k] >= 0 && this.score[k] < score) k++;
    const last = EVPOOL_SIZE - 1;
    if (k === 0 && this.keyLen[last] >= 0) return; // worse than everything, and no room
    if (k < EVPOOL_SIZE && this.keyLen[k] < 0) {
      // An empty slot: nothing to shift.
    } else if (this.keyLen[last] < 0) {
      // Room on the right: shift k.. right.
      const spare = this.keys[last];
      for (let m = last; m > k; m--) this.move(m - 1, m);
      this.keys[k] = spare;
    } else {
      // Full: drop the worst (leftmost), shift ..k-1 left.
      k--;
      const spare = this.keys[0];
      for (let m = 0; m < k; m++) this.move(m + 1, m);
      this.keys[k] = spare;
    }
    const klen = ks.keyLen(addr), ko = ks.keyOffset(addr);
    if (this.keys[k].length < klen) this.keys[k] = new Uint8Array(klen); // a rare long key
    this.keys[k].set(ks.u8(addr).subarray(ko, ko + klen));
    this.keyLen[k] = klen;
    this.score[k] = score;
    this.hash[k] = recordHash(ks, addr);
    this.db[k] = db;
    this.ksIndex[k] = ksIndex;
  }

  clear(k: number): void {
    this.keyLen[k] = -1;
  }
}

/**
 * performEvictions() for the keyspaces one thread owns. `owner.sink` is the thread's effect
 * sink (read at each eviction: it is installed after start-up).
 */
export class Evictor {
  /** A job stopped at its time limit and should continue (Redis's isEvictionProcRunning). */
  running = false;
  private readonly pool = new EvictionPool();
  private samples = new Uint32Array(16);
  private nextDb = 0;
  private nextKs = 0;
  /** Result of the last choose(): keyspace index, db, record. */
  private bestKs = 0;
  private bestDb = 0;
  private bestAddr = 0;

  constructor(readonly keyspaces: readonly Keyspace[], readonly budget: MemoryBudget, private readonly ctx: ExecContext,
    private readonly owner: { sink: EffectSink | null }) {}

  /**
   * Evict until this thread's share of the excess is freed, or the time limit. EVICT_OK:
   * under budget (or another shard will free the rest); EVICT_RUNNING: continuing later;
   * EVICT_FAIL: over budget and nothing may be evicted (deny commands that grow memory).
   */
  perform(nowMs: number): number {
    const cfg = evictConfig;
    if (cfg.maxmemory === 0) return this.done(EVICT_OK);
    const total = this.budget.used();
    if (total <= cfg.maxmemory) return this.done(EVICT_OK);
    if (cfg.policy === MAXMEMORY_NO_EVICTION) return this.done(EVICT_FAIL);
    const own = this.budget.own();
    // Whether we can evict decides the others' shares: say so before taking ours.
    this.budget.publishEvictable(this.keyspaces);
    const toFree = this.budget.shared === null ? total - cfg.maxmemory : ((total - cfg.maxmemory) * own) / this.budget.evictingUsed(own);
    const start = performance.now();
    const limit = timeLimitMs();
    let freed = 0, keysFreed = 0;
    while (freed < toFree) {
      if (!this.choose(nowMs)) {
        this.budget.publishEvictable(this.keyspaces);
        // Nothing of ours to evict: fine if another shard can still free its share.
        return this.done(this.budget.othersEvictable() ? EVICT_OK : EVICT_FAIL);
      }
      const ks = this.keyspaces[this.bestKs];
      const before = ks.arena.usedBytes;
      this.evict(ks, this.bestDb, this.bestAddr);
      // A big value may have gone to the lazy-free queue: free what the time limit allows.
      if (ks.lazyFreePending > 0) ks.lazyFreeStep(start + Math.min(limit, 1));
      freed += before - ks.arena.usedBytes;
      keysFreed++;
      if ((keysFreed & 15) === 0) {
        // The other shards must see what we freed, or they free our part again.
        this.budget.publish();
        if (this.budget.used() <= cfg.maxmemory) break;
        if (performance.now() - start > limit) {
          this.running = true;
          return EVICT_RUNNING;
        }
      }
    }
    return this.done(EVICT_OK);
  }

  /** This thread's used bytes and evictable keys, for the other shards' shares. */
  publishBudget(): void {
    this.budget.publish();
    this.budget.publishEvictable(this.keyspaces);
  }

  private done(result: number): number {
    this.running = false;
    this.budget.publish();
    return result;
  }

  /** Pick the next victim into bestKs/bestDb/bestAddr (the record was just found: deletable). */
  private choose(nowMs: number): boolean {
    const policy = evictConfig.policy;
    const volatile = (policy & MAXMEMORY_FLAG_ALLKEYS) === 0;
    const kss = this.keyspaces;
    if (policy === MAXMEMORY_ALLKEYS_RANDOM || policy === MAXMEMORY_VOLATILE_RANDOM) {
      for (let i = 0; i < kss.length; i++) {
        const ki = (this.nextKs + i) % kss.length;
        const ks = kss[ki];
        for (let j = 0; j < ks.dbCount; j++) {
          const db = (++this.nextDb) % ks.dbCount;
          if ((volatile ? ks.volatileCount(db) : ks.size(db)) === 0) continue;
          // Redis's dictGetRandomKey never fails on a non-empty dict; sampleRecords (dictGetSomeKeys)
          // gives up after 10 buckets, which are all empty often enough in a sparse table: retry.
          let got = 0;
          for (let tries = 0; got === 0 && tries < 1000; tries++) got = ks.sampleRecords(db, this.samples, 1, volatile);
          if (got === 0) continue;
          return this.found(ks, ki, db, this.samples[0]);
        }
      }
      return false;
    }
    const pool = this.pool;
    const n = evictConfig.samples;
    if (this.samples.length < n) this.samples = new Uint32Array(n);
    // Sample until the pool yields a live key; give up when nothing is left to sample.
    for (let round = 0; round < 64; round++) {
      let total = 0;
      for (let ki = 0; ki < kss.length; ki++) {
        const ks = kss[ki];
        for (let db = 0; db < ks.dbCount; db++) {
          const keys = volatile ? ks.volatileCount(db) : ks.size(db);
          if (keys === 0) continue;
          total += keys;
          const got = ks.sampleRecords(db, this.samples, n, volatile);
          for (let j = 0; j < got; j++) {
            const addr = this.samples[j];
            let score: number;
            if ((policy & MAXMEMORY_FLAG_LRU) !== 0) score = idleMs(ks.lru(addr), nowMs);
            else if ((policy & MAXMEMORY_FLAG_LFU) !== 0) score = 255 - lfuDecrAndReturn(ks.lru(addr), nowMs);
            else score = Number.MAX_SAFE_INTEGER - ks.expireAt(addr); // volatile-ttl: soonest first
            pool.insert(score, ks, ki, db, addr);
          }
        }
      }
      if (total === 0) return false;
      // Best (rightmost) first; entries whose key is gone are ghosts.
      for (let k = EVPOOL_SIZE - 1; k >= 0; k--) {
        const len = pool.keyLen[k];
        if (len < 0) continue;
        const ki = pool.ksIndex[k], db = pool.db[k];
        const ks = kss[ki];
        pool.clear(k);
        const addr = ks.find(db, pool.keys[k], 0, len, pool.hash[k]);
        if (addr !== 0 && (!volatile || ks.hasExpire(addr))) return this.found(ks, ki, db, addr, true);
      }
    }
    return false;
  }

  private found(ks: Keyspace, ki: number, db: number, addr: number, alreadyFound = false): true {
    if (!alreadyFound) {
      // Make it the keyspace's last found record (deleteFound needs its chain position).
      const ko = ks.keyOffset(addr);
      addr = ks.find(db, ks.u8(addr), ko, ko + ks.keyLen(addr), recordHash(ks, addr));
    }
    this.bestKs = ki;
    this.bestDb = db;
    this.bestAddr = addr;
    return true;
  }

  /** Delete one victim: "evicted" event, DEL (UNLINK when lazy) to the AOF, evicted_keys. */
  private evict(ks: Keyspace, db: number, addr: number): void {
    const ctx = this.ctx, sink = this.owner.sink;
    const u8 = ks.u8(addr), ko = ks.keyOffset(addr), ke = ko + ks.keyLen(addr);
    ctx.notify(NOTIFY_EVICTED, 'evicted', u8, ko, ke, db);
    if (ctx.propagating && sink !== null) {
      if (evictConfig.lazyEviction) sink.replacement(db, [['UNLINK', Buffer.from(u8.subarray(ko, ke))]]);
      else sink.del(db, u8, ko, ke);
    }
    ks.removeFound(db, addr);
    ks.arena.hdr[H_EVICTED_KEYS]++;
  }
}

/** The key hash stored in a record (as find() compares it). */
function recordHash(ks: Keyspace, addr: number): number {
  return ks.u32(addr)[(((addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT) + R_HASH) >>> 2] | 0;
}

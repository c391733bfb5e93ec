/**
 * Real libraries' own workloads, run unmodified against each server kind: the reference
 * redis-server and Sabre with --shards 0, 1 and 2 (issue #5).
 *
 * - Bull 4 (Lua scripts over lists, sorted sets and hashes; BRPOPLPUSH; pub/sub): jobs added
 *   singly, in bulk and with priorities, processed 4 at a time, completed with return values and
 *   progress, delayed, failed and retried with fixed and exponential backoff, retried by hand,
 *   counted, cleaned, emptied and obliterated; local and global 'completed'/'failed' events.
 * - redlock (SET NX PX-style Lua scripts): acquire, extend, release, contention between two
 *   lock clients, expiry, ownership (a stale holder cannot release or extend someone
 *   else's lock), multi-resource locks, and mutual exclusion under load.
 * - rate-limiter-flexible (RateLimiterRedis: a Lua INCRBY + PTTL script, MULTI for blocks):
 *   consume, penalty, reward, get, delete, blocking after the points run out, atomicity
 *   under 50 concurrent consumers.
 *
 * Bull uses its default "bull" prefix (no hash tags), as an application would, so with
 * --shards 2 its scripts touch keys on several shards, including keys they build from the
 * prefix rather than receive in KEYS. Its scripts also PUBLISH (redis.call('PUBLISH', ...)):
 * that is how the global events and the "delayed" wake-up reach the other queue objects.
 */
import { EventEmitter } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import Bull from 'bull';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
// redlock 4 ships no type declarations; the shape it has is described below.
import RedlockModule from 'redlock';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';

// ---- redlock 4's API, as used here ----

interface RedlockLock {
  resource: string | string[];
  value: string;
  /** Client-side deadline (ms since the epoch), ttl minus drift. */
  expiration: number;
  /** How many tries lock() took. */
  attempts: number;
  unlock(): Promise<void>;
  extend(ttl: number): Promise<RedlockLock>;
}
interface RedlockOptions {
  driftFactor?: number;
  retryCount?: number;
  retryDelay?: number;
  retryJitter?: number;
}
interface Redlock extends EventEmitter {
  lock(resource: string | string[], ttl: number): Promise<RedlockLock>;
}
type RedlockCtor = (new (clients: Redis[], options?: RedlockOptions) => Redlock) & { LockError: new () => Error };
const RedlockClass = RedlockModule as unknown as RedlockCtor;

// ---- server kinds ----

interface ServerKind {
  name: string;
  start(): Promise<ServerHandle>;
}

const KINDS: ServerKind[] = [
  { name: 'redis-server', start: () => startRedis() },
  { name: 'Sabre --shards 0', start: () => startSabre(['--shards', '0']) },
  { name: 'Sabre --shards 1', start: () => startSabre(['--shards', '1']) },
  { name: 'Sabre --shards 2', start: () => startSabre(['--shards', '2']) },
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let seq = 0;
/** A name no other test in this file uses. */
const unique = (what: string) => `${what}-${++seq}`;

/** The distinct messages among errors, at most 5: a library retrying against a failing server repeats itself. */
function distinct(errors: readonly unknown[]): string[] {
  return [...new Set(errors.map(String))].slice(0, 5);
}

/** Waits until cond() holds, or fails saying what was awaited and what else went wrong. */
async function until(cond: () => boolean, ms: number, what: string, errors: readonly unknown[] = []): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) {
      const extra = errors.length ? `; errors seen: ${distinct(errors).join(' | ')}` : '';
      throw new Error(`timed out after ${ms} ms waiting for ${what}${extra}`);
    }
    await sleep(10);
  }
}

/** Resolves when p settles or after ms, whichever is first: cleanup must never hang a suite. */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

describe.each(KINDS)('$name', (kind) => {
  let server: ServerHandle;
  let admin: Redis; // inspects what the libraries left in the keyspace
  const cleanups: (() => Promise<unknown>)[] = [];

  /** Registers something to close after the current test, most recent first. */
  function closeLater<T extends { close(): Promise<unknown> } | { quit(): Promise<unknown> }>(x: T): T {
    cleanups.push(() => ('close' in x ? x.close() : x.quit()));
    return x;
  }

  beforeAll(async () => {
    server = await kind.start();
    admin = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
    await admin.connect();
  });

  afterEach(async () => {
    while (cleanups.length) await bounded(cleanups.pop()!(), 5000);
  });

  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  // ---------------------------------------------------------------- Bull

  describe('Bull', () => {
    /**
     * A Bull queue on its own three ioredis connections (commands, blocking BRPOPLPUSH,
     * pub/sub). Bull 4's default client factory already gives the blocking and subscriber
     * connections maxRetriesPerRequest: null and enableReadyCheck: false.
     */
    function newQueue(name: string, errors: unknown[]): Bull.Queue {
      const queue = closeLater(new Bull(name, { redis: { host: '127.0.0.1', port: server.port } }));
      queue.on('error', (e) => errors.push(e));
      return queue;
    }

    /**
     * A producer queue listening to the queue's global 'completed' and 'failed' events, which
     * Bull's scripts PUBLISH; resolves once its subscriber connection has subscribed.
     */
    async function openProducer(name: string) {
      const errors: unknown[] = [];
      const queue = newQueue(name, errors);
      const completed = new Map<string, unknown>();
      const failed = new Map<string, string>();
      const completionOrder: string[] = [];
      const subscribed = Promise.all(
        ['global:completed', 'global:failed'].map((event) => new Promise((resolve) => queue.once(`registered:${event}` as 'error', resolve))),
      );
      queue.on('global:completed', (jobId: string, result: string) => {
        completed.set(String(jobId), JSON.parse(result));
        completionOrder.push(String(jobId));
      });
      queue.on('global:failed', (jobId: string, reason: string) => failed.set(String(jobId), reason));
      await queue.isReady();
      await subscribed;
      return { queue, errors, completed, failed, completionOrder };
    }

    /** A second queue object on the same queue (as another process would have) that processes its jobs. */
    function startWorker(name: string, errors: unknown[], processor: (job: Bull.Job) => Promise<unknown>, concurrency = 4) {
      const worker = newQueue(name, errors);
      const completed = new Map<string, unknown>(); // local events, with the job
      const failures: string[] = [];
      worker.on('completed', (job, result) => completed.set(String(job.id), result));
      worker.on('failed', (job, err) => failures.push(`${job.data.tag}: ${err.message}`));
      void worker.process(concurrency, processor).catch((e) => errors.push(e));
      return { worker, completed, failures };
    }

    const WAITING = { waiting: 0, active: 0, completed: 0, failed: 0, delayed: 0, paused: 0 };

    it('adds single, bulk and prioritized jobs, processes them 4 at a time: return values, events, counts, obliterate', async () => {
      const name = unique('basic');
      const p = await openProducer(name);
      const bulk = await p.queue.addBulk(Array.from({ length: 10 }, (_, n) => ({ data: { n, tag: `b${n}` } })));
      const low = await p.queue.add({ n: 200, tag: 'low' }, { priority: 5 });
      const high = await p.queue.add({ n: 100, tag: 'high' }, { priority: 1 });
      const jobs = [...bulk, low, high];
      expect(new Set(jobs.map((j) => String(j.id))).size).toBe(12);
      expect(await p.queue.getJobCounts()).toEqual({ ...WAITING, waiting: 12 });
      // Bull pops the wait list's tail: prioritized jobs are LINSERTed there, by priority,
      // ahead of the plain jobs (LPUSHed at the head, so first in first out).
      const wait = await admin.lrange(`bull:${name}:wait`, 0, -1);
      expect(wait.reverse()).toEqual([high, low, ...bulk].map((j) => String(j.id)));
      expect(await admin.zrange(`bull:${name}:priority`, 0, '-1', 'WITHSCORES')).toEqual([String(high.id), '1', String(low.id), '5']);

      let inFlight = 0;
      let maxInFlight = 0;
      let done = 0;
      const started: string[] = [];
      const w = startWorker(name, p.errors, async (job) => {
        started.push(job.data.tag);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await job.progress(50);
        // Stay active until as many jobs as the concurrency allows are (a fixed sleep raced
        // with a loaded machine's slower job fetches); 3 s at most, so a worker that runs
        // fewer at once still finishes and fails the check below.
        const t0 = Date.now();
        while (inFlight < Math.min(4, 12 - done) && Date.now() - t0 < 3000) await sleep(5);
        inFlight--;
        done++;
        return { square: job.data.n * job.data.n, tag: job.data.tag };
      });
      await until(() => p.completed.size === 12 && w.completed.size === 12, 10_000, '12 completed events', p.errors);

      expect(started[0]).toBe('high');
      expect(started.indexOf('low')).toBeLessThan(started.indexOf('b0'));
      expect(maxInFlight).toBe(4);
      for (const job of jobs) {
        const want = { square: job.data.n * job.data.n, tag: job.data.tag };
        expect(p.completed.get(String(job.id))).toEqual(want); // global, through PUBLISH
        expect(w.completed.get(String(job.id))).toEqual(want); // local
        const stored = await p.queue.getJob(job.id);
        expect(stored?.returnvalue).toEqual(want);
        expect(stored?.progress()).toBe(50);
        expect(stored?.attemptsMade).toBe(0); // Bull counts failed attempts only
        expect(stored!.finishedOn).toBeGreaterThanOrEqual(stored!.processedOn!);
        expect(await stored!.getState()).toBe('completed');
        expect(await stored!.isCompleted()).toBe(true);
      }
      expect(await p.queue.getJobCounts()).toEqual({ ...WAITING, completed: 12 });
      expect((await p.queue.getCompleted()).length).toBe(12);
      expect(w.failures).toEqual([]);

      await w.worker.close();
      expect((await admin.keys(`bull:${name}:*`)).length).toBeGreaterThan(12);
      await p.queue.obliterate({ force: true });
      expect(await admin.keys(`bull:${name}:*`)).toEqual([]);
      expect(distinct(p.errors)).toEqual([]);
    });

    it('delayed jobs run no earlier than their delay, in delay order', async () => {
      const name = unique('delayed');
      const p = await openProducer(name);
      const late = await p.queue.add({ tag: 'late' }, { delay: 600 });
      const soon = await p.queue.add({ tag: 'soon' }, { delay: 250 });
      const now = await p.queue.add({ tag: 'now' });
      expect(await late.getState()).toBe('delayed');
      expect(await p.queue.getJobCounts()).toEqual({ ...WAITING, delayed: 2, waiting: 1 });

      startWorker(name, p.errors, async (job) => `done:${job.data.tag}`);
      await until(() => p.completed.size === 3, 10_000, '3 completed events', p.errors);
      expect(p.completionOrder).toEqual([now.id, soon.id, late.id].map(String));
      expect(p.completed.get(String(late.id))).toBe('done:late');
      for (const [job, delay] of [
        [soon, 250],
        [late, 600],
      ] as const) {
        const stored = await p.queue.getJob(job.id);
        expect(stored!.processedOn! - stored!.timestamp).toBeGreaterThanOrEqual(delay);
      }
      expect(await p.queue.getJobCounts()).toEqual({ ...WAITING, completed: 3 });
      expect(distinct(p.errors)).toEqual([]);
    });

    it('failed attempts retry with backoff, then complete or fail for good; a failed job retried by hand completes; clean and empty', async () => {
      const name = unique('retry');
      const p = await openProducer(name);
      const runs = new Map<string, number>();
      const flaky = await p.queue.add({ tag: 'flaky' }, { attempts: 3, backoff: { type: 'fixed', delay: 150 } });
      const doomed = await p.queue.add({ tag: 'doomed' }, { attempts: 2, backoff: { type: 'exponential', delay: 50 } });
      const once = await p.queue.add({ tag: 'once' });

      const w = startWorker(name, p.errors, async (job) => {
        const tag: string = job.data.tag;
        const run = (runs.get(tag) ?? 0) + 1;
        runs.set(tag, run);
        if (tag === 'flaky' && run < 3) throw new Error(`flaky run ${run}`);
        if (tag === 'doomed') throw new Error(`doomed run ${run}`);
        if (tag === 'once' && run === 1) throw new Error('once run 1');
        return `${tag} ok after ${run}`;
      });

      await until(() => p.completed.has(String(flaky.id)) && p.failed.size === 2, 10_000, 'flaky completed, doomed and once failed', p.errors);
      expect(p.completed.get(String(flaky.id))).toBe('flaky ok after 3');
      expect(p.failed.get(String(doomed.id))).toBe('doomed run 2');
      expect(p.failed.get(String(once.id))).toBe('once run 1');
      // Local 'failed' fires for every failed attempt, global 'failed' only for the final one.
      expect(w.failures.sort()).toEqual(['doomed: doomed run 1', 'doomed: doomed run 2', 'flaky: flaky run 1', 'flaky: flaky run 2', 'once: once run 1']);

      const f = await p.queue.getJob(flaky.id);
      expect(f!.attemptsMade).toBe(2);
      expect(f!.returnvalue).toBe('flaky ok after 3');
      expect(f!.stacktrace.length).toBe(2);
      expect(f!.finishedOn! - f!.timestamp).toBeGreaterThanOrEqual(300); // two fixed 150 ms backoffs
      const d = await p.queue.getJob(doomed.id);
      expect(await d!.getState()).toBe('failed');
      expect(d!.attemptsMade).toBe(2);
      expect(d!.failedReason).toBe('doomed run 2');
      expect(d!.stacktrace.length).toBe(2);
      expect(d!.stacktrace[0]).toContain('Error: doomed run 1'); // oldest first
      expect(d!.stacktrace[1]).toContain('Error: doomed run 2');
      expect(await p.queue.getJobCounts()).toEqual({ ...WAITING, completed: 1, failed: 2 });
      expect((await p.queue.getFailed()).map((j) => j.data.tag).sort()).toEqual(['doomed', 'once']);

      const o = await p.queue.getJob(once.id);
      await o!.retry();
      await until(() => p.completed.has(String(once.id)), 10_000, 'the retried job to complete', p.errors);
      expect(p.completed.get(String(once.id))).toBe('once ok after 2');
      expect(await p.queue.getJobCounts()).toEqual({ ...WAITING, completed: 2, failed: 1 });
      expect(runs).toEqual(new Map([['flaky', 3], ['doomed', 2], ['once', 2]]));

      // clean(grace 0) removes finished jobs and their hashes; empty() the waiting ones.
      await w.worker.close();
      await p.queue.add({ tag: 'left waiting' });
      expect((await p.queue.clean(0, 'completed')).map(String).sort()).toEqual([String(flaky.id), String(once.id)].sort());
      expect((await p.queue.clean(0, 'failed')).map(String)).toEqual([String(doomed.id)]);
      expect(await p.queue.getJobCounts()).toEqual({ ...WAITING, waiting: 1 });
      await p.queue.empty();
      expect(await p.queue.getJobCounts()).toEqual(WAITING);
      for (const job of [flaky, doomed, once]) expect(await admin.exists(`bull:${name}:${job.id}`)).toBe(0);
      expect(distinct(p.errors)).toEqual([]);
    });
  });

  // ---------------------------------------------------------------- redlock

  describe('redlock', () => {
    /** A Redlock over its own connection; script errors (which redlock reports only as events) are collected. */
    async function openRedlock(options: RedlockOptions) {
      const client = closeLater(new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true }));
      await client.connect();
      const redlock = new RedlockClass([client], { driftFactor: 0.01, retryJitter: 0, ...options });
      const errors: unknown[] = [];
      redlock.on('clientError', (e) => errors.push(e));
      /** lock(), failing with the client errors behind a refusal, if there were any. */
      const lock = async (resource: string | string[], ttl: number) => {
        try {
          return await redlock.lock(resource, ttl);
        } catch (e) {
          if (errors.length) throw new Error(`${String(e)}; client errors: ${distinct(errors).join(' | ')}`);
          throw e;
        }
      };
      return { client, redlock, errors, lock };
    }

    it('acquires, extends and releases a lock', async () => {
      const res = unique('rl:res');
      const a = await openRedlock({ retryCount: 0 });
      const lock = await a.lock(res, 1000);
      expect(lock.value).toMatch(/^[0-9a-f]{32}$/);
      expect(await admin.get(res)).toBe(lock.value);
      const ttl1 = await admin.pttl(res);
      expect(ttl1).toBeGreaterThan(0);
      expect(ttl1).toBeLessThanOrEqual(1000);

      const extended = await lock.extend(5000);
      expect(extended.value).toBe(lock.value);
      expect(await admin.get(res)).toBe(lock.value);
      expect(await admin.pttl(res)).toBeGreaterThan(1000);

      await lock.unlock();
      expect(await admin.exists(res)).toBe(0);
      expect(distinct(a.errors)).toEqual([]);
    });

    it('contention: a second client is refused, or waits until the holder releases', async () => {
      const res = unique('rl:res');
      const a = await openRedlock({ retryCount: 0 });
      const impatient = await openRedlock({ retryCount: 0 });
      const patient = await openRedlock({ retryCount: 100, retryDelay: 20 });
      const held = await a.lock(res, 5000);

      await expect(impatient.redlock.lock(res, 5000)).rejects.toBeInstanceOf(RedlockClass.LockError);
      expect(distinct(impatient.errors)).toEqual([]); // refused by the script, not by an error
      expect(await admin.get(res)).toBe(held.value); // the refused attempt left the lock alone

      let releasedAt = 0;
      const waiting = patient.lock(res, 5000);
      await sleep(200);
      releasedAt = Date.now();
      await held.unlock();
      const got = await waiting;
      expect(Date.now()).toBeGreaterThanOrEqual(releasedAt);
      expect(got.attempts).toBeGreaterThan(1);
      expect(await admin.get(res)).toBe(got.value);
      expect(got.value).not.toBe(held.value);
      await got.unlock();
      expect(await admin.exists(res)).toBe(0);
      expect(distinct([...a.errors, ...patient.errors])).toEqual([]);
    });

    it('an expired lock can be taken; its stale holder can neither extend nor release the new one', async () => {
      const res = unique('rl:res');
      const a = await openRedlock({ retryCount: 0 });
      const b = await openRedlock({ retryCount: 0 });
      const stale = await a.lock(res, 250);
      await expect(b.redlock.lock(res, 5000)).rejects.toBeInstanceOf(RedlockClass.LockError);
      await sleep(350);
      expect(await admin.exists(res)).toBe(0); // expired on the server
      const fresh = await b.lock(res, 5000);
      expect(await admin.get(res)).toBe(fresh.value);

      // A holder whose clock says the lock is still valid (drift, a long pause): the
      // extend script must see that the value is not theirs.
      stale.expiration = Date.now() + 10_000;
      await expect(stale.extend(5000)).rejects.toBeInstanceOf(RedlockClass.LockError);
      await expect(stale.unlock()).rejects.toBeInstanceOf(RedlockClass.LockError);
      expect(await admin.get(res)).toBe(fresh.value);
      expect(await admin.pttl(res)).toBeGreaterThan(4000);
      await fresh.unlock();
      expect(await admin.exists(res)).toBe(0);
      expect(distinct([...a.errors, ...b.errors])).toEqual([]);
    });

    it('multi-resource locks are all or nothing', async () => {
      const [r1, r2, r3, r4] = [unique('rl:m'), unique('rl:m'), unique('rl:m'), unique('rl:m')];
      const a = await openRedlock({ retryCount: 0 });
      const b = await openRedlock({ retryCount: 0 });
      const lock = await a.lock([r1, r2, r3], 5000);
      expect(await admin.mget(r1, r2, r3)).toEqual([lock.value, lock.value, lock.value]);
      await expect(b.redlock.lock([r3, r4], 5000)).rejects.toBeInstanceOf(RedlockClass.LockError);
      expect(await admin.exists(r4)).toBe(0); // nothing half-taken
      await lock.extend(8000);
      for (const r of [r1, r2, r3]) expect(await admin.pttl(r)).toBeGreaterThan(5000);
      await lock.unlock();
      expect(await admin.exists(r1, r2, r3)).toBe(0);
      const other = await b.lock([r3, r4], 5000);
      expect(await admin.mget(r3, r4)).toEqual([other.value, other.value]);
      await other.unlock();
      expect(distinct([...a.errors, ...b.errors])).toEqual([]);
    });

    it('mutual exclusion: 6 workers on 2 lock clients do 30 read-modify-writes without losing one', async () => {
      const res = unique('rl:mutex');
      const counter = unique('rl:counter');
      const clients = [await openRedlock({ retryCount: 200, retryDelay: 10 }), await openRedlock({ retryCount: 200, retryDelay: 10 })];
      let inside = 0;
      let maxInside = 0;
      const work = async (c: (typeof clients)[number]) => {
        for (let i = 0; i < 5; i++) {
          const lock = await c.lock(res, 2000);
          inside++;
          maxInside = Math.max(maxInside, inside);
          const v = Number((await c.client.get(counter)) ?? '0');
          await sleep(1);
          await c.client.set(counter, String(v + 1));
          inside--;
          await lock.unlock();
        }
      };
      await Promise.all([0, 1, 2, 3, 4, 5].map((w) => work(clients[w % 2])));
      expect(await admin.get(counter)).toBe('30');
      expect(maxInside).toBe(1);
      expect(await admin.exists(res)).toBe(0);
      expect(distinct(clients.flatMap((c) => c.errors))).toEqual([]);
    });
  });

  // ---------------------------------------------------------------- rate-limiter-flexible

  describe('rate-limiter-flexible', () => {
    async function storeClient(): Promise<Redis> {
      const client = closeLater(new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true }));
      await client.connect();
      return client;
    }

    /** consume(), with the RateLimiterRes of a refusal as a value and any other error thrown. */
    async function consume(rl: RateLimiterRedis, key: string, points = 1): Promise<{ ok: boolean; res: RateLimiterRes }> {
      try {
        return { ok: true, res: await rl.consume(key, points) };
      } catch (e) {
        if (e instanceof RateLimiterRes) return { ok: false, res: e };
        throw e;
      }
    }

    it('consume counts down to a refusal; the stored counter and TTL are Redis keys', async () => {
      const prefix = unique('rlf');
      const rl = new RateLimiterRedis({ storeClient: await storeClient(), keyPrefix: prefix, points: 3, duration: 5 });
      const remaining: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { ok, res } = await consume(rl, 'user');
        expect(ok).toBe(true);
        remaining.push(res.remainingPoints);
        expect(res.isFirstInDuration).toBe(i === 0);
      }
      expect(remaining).toEqual([2, 1, 0]);
      const refused = await consume(rl, 'user');
      expect(refused.ok).toBe(false);
      expect(refused.res.consumedPoints).toBe(4);
      expect(refused.res.remainingPoints).toBe(0);
      expect(refused.res.msBeforeNext).toBeGreaterThan(0);
      expect(refused.res.msBeforeNext).toBeLessThanOrEqual(5000);
      expect(await admin.get(`${prefix}:user`)).toBe('4');
      const ttl = await admin.pttl(`${prefix}:user`);
      expect(ttl).toBeGreaterThan(3000);
      expect(ttl).toBeLessThanOrEqual(5000);

      // Another key has its own budget; delete() gives one back in full.
      expect((await consume(rl, 'other', 3)).ok).toBe(true);
      expect(await rl.delete('user')).toBe(true);
      expect(await admin.exists(`${prefix}:user`)).toBe(0);
      expect((await consume(rl, 'user')).res.remainingPoints).toBe(2);
    });

    it('penalty, reward and get', async () => {
      const prefix = unique('rlf');
      const rl = new RateLimiterRedis({ storeClient: await storeClient(), keyPrefix: prefix, points: 10, duration: 5 });
      expect(await rl.get('k')).toBeNull();
      const p = await rl.penalty('k', 4);
      expect(p.consumedPoints).toBe(4);
      expect(p.remainingPoints).toBe(6);
      const r = await rl.reward('k', 3);
      expect(r.consumedPoints).toBe(1);
      const g = await rl.get('k');
      expect(g?.consumedPoints).toBe(1);
      expect(g?.remainingPoints).toBe(9);
      expect(g!.msBeforeNext).toBeGreaterThan(3000);
      expect(await admin.get(`${prefix}:k`)).toBe('1');
      expect((await consume(rl, 'k', 9)).ok).toBe(true);
      expect((await consume(rl, 'k', 1)).ok).toBe(false);
    });

    it('blockDuration: a key that ran out stays blocked past its duration, then is let through', async () => {
      const prefix = unique('rlf');
      const rl = new RateLimiterRedis({ storeClient: await storeClient(), keyPrefix: prefix, points: 2, duration: 1, blockDuration: 2 });
      expect((await consume(rl, 'ip')).ok).toBe(true);
      expect((await consume(rl, 'ip')).ok).toBe(true);
      // The block starts between these two instants, and lasts 2 s.
      const blockSent = Date.now();
      const refused = await consume(rl, 'ip');
      const blockAnswered = Date.now();
      expect(refused.ok).toBe(false);
      expect(refused.res.msBeforeNext).toBeGreaterThan(1000); // the block, not the 1 s window
      expect(await admin.pttl(`${prefix}:ip`)).toBeGreaterThan(1000);

      await sleep(1300 - (Date.now() - blockSent)); // the 1 s window is over, the block is not
      expect((await consume(rl, 'ip')).ok).toBe(false);
      await sleep(2150 - (Date.now() - blockAnswered));
      const again = await consume(rl, 'ip');
      expect(again.ok).toBe(true);
      expect(again.res.consumedPoints).toBe(1);

      // block() by hand
      await rl.block('manual', 5);
      const manual = await consume(rl, 'manual');
      expect(manual.ok).toBe(false);
      expect(manual.res.msBeforeNext).toBeGreaterThan(4000);
    });

    it('50 concurrent consumers of 20 points: exactly 20 get through', async () => {
      const prefix = unique('rlf');
      const clients = [await storeClient(), await storeClient()];
      const limiters = clients.map((c) => new RateLimiterRedis({ storeClient: c, keyPrefix: prefix, points: 20, duration: 10 }));
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => consume(limiters[i % 2], 'shared')));
      expect(results.filter((r) => r.ok).length).toBe(20);
      expect(results.map((r) => r.res.consumedPoints).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await admin.get(`${prefix}:shared`)).toBe('50');
    });
  });
});

/**
 * A shard worker thread: owns one arena (its keyspace) and runs the commands the io
 * thread puts in its request ring, in ring order, writing replies to its reply ring.
 * Spins ~50 µs when idle before sleeping on the ring's wake word (DESIGN.md: a woken
 * thread costs 5-70 µs here). Also runs the shard's cron: active expiry and rehashing.
 */
import { writeSync } from 'node:fs';
import { MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Arena } from '../store/arena';
import { Keyspace } from '../store/keyspace';
import { Store, makeSlotTable } from '../store/store';
import { ExecContext } from '../commands/context';
import { ReplyWriter } from '../protocol/resp-writer';
import { Executor } from './executor';
import { Ring } from './ring';
import { H_BARRIER } from '../../native-layout/arena';
import {
  FLAG_LARGE, FLAG_NO_REPLY, FLAG_REPORT_WRITES, FLAG_RETRY, KIND_COMMAND, KIND_CONTROL, KIND_PARK, REPLY_WRITES, REPLY_CONTROL, REPLY_DATA, REPLY_LARGE,
  REPLY_BLOCKED, REPLY_DIRTY, REPLY_EVENT, REPLY_PARKED, REPLY_SLOWLOG, REP_DATA, REQ_ARGC, REQ_ARGS, REQ_CLIENT, REQ_CMD, REQ_DB, REQ_FLAGS, REQ_KIND, REQ_RESP, REQ_SEQ,
  RING_LARGE_DIVISOR, RING_WAKE,
} from '../../native-layout/ring';
import { applyShardSetting, shardSettings } from './settings';
import { ShardEvents } from './events';
import { encodeArgv, slowlogArgv } from '../server/slowlog-argv';
import { EffectLog } from '../persistence/effect-log';
import { ThreadPersistence } from '../persistence/effects';
import { snapshotId, snapshotStep } from '../persistence/snapshot';
import { H_DIRTY, H_SNAPSHOT } from '../../native-layout/arena';
import { PERSIST_AOF_ON, PERSIST_FSYNC_ALWAYS, PERSIST_WORDS } from '../persistence/flags';
import { Evictor, MemoryBudget, evictConfig } from '../store/evict';
import { Defragger } from '../store/defrag';
// (Registers EVAL & co.; the VM itself loads on a shard's first script.)
import { ShardScripting } from './scripting';

export interface ShardWorkerData {
  shard: number;
  dbCount: number;
  reqSab: SharedArrayBuffer;
  repSab: SharedArrayBuffer;
  slotTableSab: SharedArrayBuffer;
  arenaPort: MessagePort;
  sidePort: MessagePort;
  settings: Record<string, string>;
  /** The effect log and the persistence flags (src/persistence/flags.ts). */
  logSab: SharedArrayBuffer;
  persistSab: SharedArrayBuffer;
  /** maxmemory: every shard's used bytes and evictable keys (src/store/evict.ts MemoryBudget). */
  memSab?: SharedArrayBuffer;
  /** The ScriptState of this shard's Lua VM (src/scripting/lua-engine.ts), read by the io thread for -BUSY and SCRIPT KILL. */
  scriptStateSab: SharedArrayBuffer;
}

const SPIN_MS = 0.05;

/** A KIND_CONTROL record's message (ShardPool.control). */
interface ControlMessage { op: string; name?: string; value?: string; id?: number; body?: string; codes?: string[] }

async function main(): Promise<void> {
  const data = workerData as ShardWorkerData;
  const arena = Arena.create();
  arena.setPort(data.arenaPort);
  const ks = Keyspace.create(arena, data.dbCount);
  const slotTable = makeSlotTable(0, data.slotTableSab);
  const store = new Store([ks], slotTable, ks);
  const w = new ReplyWriter(64 * 1024);
  const ctx = new ExecContext(store, w);
  const exec = new Executor(ctx);
  const req = new Ring(data.reqSab);
  const rep = new Ring(data.repSab);
  const side = data.sidePort;
  for (const [k, v] of Object.entries(data.settings)) applyShardSetting(k, v);
  const largeLimit = rep.capacity / RING_LARGE_DIVISOR;
  let repDirty = false;
  const log = EffectLog.attach(data.logSab);
  const persistFlags = new Int32Array(data.persistSab, 0, PERSIST_WORDS);
  const persist = new ThreadPersistence(log, data.shard, false, ctx, () => snapshotId(ks));
  exec.sink = persist.sink;
  exec.snapOut = persist.snap;
  const evictor = new Evictor([ks], new MemoryBudget([arena], data.memSab ? new Float64Array(data.memSab) : null, data.shard), ctx, exec);
  exec.evictor = evictor;
  // Keyspace notifications travel ahead of their command's reply (REPLY_EVENT).
  const events = new ShardEvents();
  const scripting = new ShardScripting(data.shard, slotTable, data.scriptStateSab);
  /** A record needs the Lua VM, which is not loaded yet: the batch stopped in front of it. */
  let vmWanted = false;
  let pendingControl: ControlMessage | null = null;
  ctx.notifySink = (_cls, event, db, key, ks0, ke) => events.add(event, db, key, ks0, ke);
  /** Events of the command `seq` of client `clientId` (0: raised by the cron, no command). */
  function flushEvents(clientId = 0, seq = 0): void {
    if (events.len === 0) return;
    reply(clientId, seq, REPLY_EVENT, events.buf, 0, events.len);
    events.len = 0;
  }

  parentPort!.postMessage({ ready: true, arena: arena.snapshot() });

  /** Append one reply record; waits for the io thread when the ring is full. */
  function reply(client: number, seq: number, kind: number, src: Uint8Array, start: number, end: number,
    cmdId = 0, usec = 0): void {
    let len = end - start;
    if (len > largeLimit) {
      side.postMessage(Buffer.from(src.subarray(start, end)));
      kind = REPLY_LARGE | (kind & REPLY_DIRTY);
      len = 0;
    }
    const n = (REP_DATA + len + 3) & ~3;
    let at = rep.reserve(n);
    while (at < 0) {
      // Full: let the io thread see what is there (durable first), then wait for it to free space.
      makeDurable();
      rep.publish();
      rep.wake();
      Atomics.wait(rep.ctl, RING_WAKE + 1, 0, 1);
      at = rep.reserve(n);
    }
    const d = rep.data;
    d.writeUInt32LE(n, at);
    d.writeUInt32LE(client, at + 4);
    d.writeUInt32LE(seq, at + 8);
    d.writeUInt16LE(kind, at + 12);
    d.writeUInt16LE(cmdId, at + 14);
    d.writeUInt32LE(len, at + 16);
    d.writeFloatLE(usec, at + 20);
    if (len > 0) d.set(src.subarray(start, end), at + REP_DATA);
    rep.commit(n);
    repDirty = true;
  }

  /**
   * Publish the replies written so far. Their effects go to the log first; under
   * appendfsync always the replies wait until those effects are on disk (group commit:
   * the persistence worker's one fsync covers every producer's records that arrived).
   */
  function flushReplies(): void {
    makeDurable();
    if (!repDirty) return;
    repDirty = false;
    if (rep.publish()) rep.wake();
  }

  /** Effects so far to the log; under appendfsync always, wait until they are on disk. */
  function makeDurable(): void {
    if (!persist.sink.pending && persist.snap.out.len === 0) return;
    const pos = persist.flush();
    if (Atomics.load(persistFlags, PERSIST_FSYNC_ALWAYS) !== 0) while (!log.waitDurable(pos, 1000)) { /* disk stalled: keep waiting */ }
  }

  function park(txn: number): void {
    // Effects and snapshot chunks so far go to the log before the io thread's (ordering).
    persist.flush();
    reply(0, txn, REPLY_PARKED, w.buf, 0, 0);
    req.release();
    flushReplies();
    const hdr = arena.hdr;
    const t0 = performance.now();
    let v: number;
    while ((v = Atomics.load(hdr, H_BARRIER)) !== txn) {
      if (performance.now() - t0 > SPIN_MS) Atomics.wait(hdr, H_BARRIER, v, 100);
    }
    // The io thread may have grown this arena while it ran the transaction.
    arena.sync();
  }

  function control(msg: ControlMessage): void {
    let answer = '{}';
    if (msg.op === 'script-load') scripting.load(Buffer.from(msg.body!, 'latin1'));
    else if (msg.op === 'functions') scripting.loadFunctions(msg.codes!.map((c) => Buffer.from(c, 'latin1')));
    else if (msg.op === 'script-flush') scripting.flush();
    else if (msg.op === 'set') {
      applyShardSetting(msg.name!, msg.value!);
      // The batch copied the flags at its start: commands after this record see the new ones.
      ctx.notifyFlags = shardSettings.notifyFlags;
      // CONFIG SET maxmemory evicts at once (Redis's updateMaxmemory): from the idle loop.
      if (msg.name === 'maxmemory' || msg.name === 'maxmemory-policy') {
        evictor.running = evictConfig.maxmemory !== 0;
        evictor.publishBudget();
      }
    } else if (msg.op === 'stats') answer = JSON.stringify({ expiredKeys: ks.expiredKeys });
    else if (msg.op === 'exit') {
      flushReplies();
      process.exit(0);
    }
    const b = Buffer.from(answer);
    reply(0, msg.id ?? 0, REPLY_CONTROL, b, 0, b.length);
  }

  function runBatch(head: number): void {
    ctx.propagating = Atomics.load(persistFlags, PERSIST_AOF_ON) !== 0;
    ctx.notifyFlags = shardSettings.notifyFlags;
    const d = req.data;
    let tail = req.tail;
    let count = 0;
    while (tail !== head) {
      tail = req.next(tail);
      if (tail === head) break;
      const len = d.readUInt32LE(tail);
      const kind = d[tail + REQ_KIND];
      const argc = d.readUInt32LE(tail + REQ_ARGC);
      if (kind === KIND_PARK) {
        req.tail = tail + len;
        park(d.readUInt32LE(tail + REQ_SEQ));
        tail = req.tail;
        continue;
      }
      if (kind === KIND_COMMAND && scripting.rt === null && scripting.needsVm[d.readUInt16LE(tail + REQ_CMD)] !== 0) {
        // A script, and the VM is not loaded: the batch stops in front of it (see the main loop).
        vmWanted = true;
        break;
      }
      const flags = d[tail + REQ_FLAGS];
      if ((flags & FLAG_LARGE) !== 0) {
        let m = receiveMessageOnPort(side);
        while (m === undefined) m = receiveMessageOnPort(side);
        // Structured clone turns a Buffer into a plain Uint8Array.
        const u = m.message as Uint8Array;
        ctx.layEncodedArgs(Buffer.from(u.buffer, u.byteOffset, u.byteLength), 0, argc);
      } else {
        ctx.layEncodedArgs(d, tail + REQ_ARGS, argc);
      }
      if (kind === KIND_CONTROL) {
        const msg = JSON.parse(ctx.argString(0)) as ControlMessage;
        if ((msg.op === 'script-load' || msg.op === 'functions') && scripting.rt === null) {
          // The VM loads outside the batch (asynchronously); this record runs first after.
          vmWanted = true;
          pendingControl = msg;
          tail += len;
          break;
        }
        control(msg);
      } else {
        ctx.db = d.readUInt16LE(tail + REQ_DB);
        w.resp = d.readUInt16LE(tail + REQ_RESP) === 3 ? 3 : 2;
        ctx.now = Date.now();
        w.reset();
        const cmdId = d.readUInt16LE(tail + REQ_CMD);
        ctx.retry = (flags & FLAG_RETRY) !== 0;
        const t0 = performance.now();
        const dirty0 = ctx.dirty;
        if (ctx.retry || !exec.rejectOnOom(cmdId)) {
          if (scripting.needsVm[cmdId] !== 0) scripting.begin(ctx, (flags & FLAG_REPORT_WRITES) !== 0, exec.oomAtStart);
          exec.run(cmdId);
        }
        const usec = (performance.now() - t0) * 1000;
        const silent = (flags & FLAG_NO_REPLY) !== 0;
        const clientId = d.readUInt32LE(tail + REQ_CLIENT), seq = d.readUInt32LE(tail + REQ_SEQ);
        if (shardSettings.slowlogLogSlowerThan >= 0 && usec >= shardSettings.slowlogLogSlowerThan) {
          const argv = encodeArgv(slowlogArgv(ctx));
          reply(clientId, seq, REPLY_SLOWLOG, argv, 0, argv.length, cmdId, usec);
        }
        if (events.len > 0) flushEvents(clientId, seq);
        const writes = scripting.writes;
        if (writes.len > 0) {
          // What the script wrote (too much for one record: the io thread falls back to its declared keys).
          reply(clientId, seq, REPLY_WRITES, writes.buf, 0, writes.len > largeLimit ? 0 : writes.len);
          writes.len = 0;
        }
        if (ctx.blocked) reply(clientId, seq, REPLY_BLOCKED, w.buf, 0, 0, cmdId, usec);
        else reply(clientId, seq, ctx.dirty !== dirty0 ? REPLY_DATA | REPLY_DIRTY : REPLY_DATA, w.buf, 0, silent ? 0 : w.len, cmdId, usec);
      }
      tail += len;
      // Give space back and show progress now and then inside long batches.
      if ((++count & 63) === 0) {
        req.tail = tail;
        req.release();
        // Under appendfsync always, replies wait for one fsync at the end of the batch
        // (group commit) rather than one per 64 commands.
        if (Atomics.load(persistFlags, PERSIST_FSYNC_ALWAYS) === 0) flushReplies();
      }
    }
    req.tail = tail;
    req.release();
    flushReplies();
    Atomics.store(arena.hdr, H_DIRTY, ctx.dirty);
    if (evictConfig.maxmemory !== 0) evictor.publishBudget();
  }

  // ---- cron: active expiry and incremental rehash, hz times a second --------------------
  let nextCron = performance.now();
  const defrag = new Defragger(ks);
  function cron(): void {
    const now = performance.now();
    if (now < nextCron) return;
    const period = 1000 / shardSettings.hz;
    nextCron = now + period;
    ks.cron(1);
    defrag.cron(period);
    // Redis's slow cycle: up to 25% of the cron period, more with active-expire-effort.
    const deadline = performance.now() + period * (0.25 + 0.05 * (shardSettings.activeExpireEffort - 1));
    const wall = Date.now();
    ctx.propagating = Atomics.load(persistFlags, PERSIST_AOF_ON) !== 0;
    ctx.notifyFlags = shardSettings.notifyFlags;
    for (let db = 0; db < ks.dbCount && performance.now() < deadline; db++) ks.activeExpire(db, wall, deadline);
    if (evictConfig.maxmemory !== 0) {
      // Our numbers for the other shards' budgets, and our share of any excess freed even
      // when no command comes (they may be counting on it).
      evictor.publishBudget();
      evictor.perform(wall);
    }
    if (events.len > 0) {
      flushEvents();
      flushReplies();
    }
    // Expired keys' DELs (and any snapshot chunks) go to the log now.
    if (persist.sink.pending || persist.snap.out.len > 0) persist.flush();
  }

  let lastWork = performance.now();
  for (;;) {
    if (vmWanted) {
      vmWanted = false;
      await scripting.start(persist.snap);
      if (pendingControl !== null) {
        control(pendingControl);
        pendingControl = null;
        flushReplies();
      }
      continue;
    }
    const head = req.readHead();
    if (head !== req.tail) {
      runBatch(head);
      lastWork = performance.now();
      continue;
    }
    const now = performance.now();
    if (now >= nextCron) {
      cron();
      continue;
    }
    if (arena.hdr[H_SNAPSHOT] !== 0) {
      // A snapshot is being written: serialize a slice of buckets between batches.
      snapshotStep(ks, now + 1, persist.snap);
      persist.flush();
      continue;
    }
    if (evictor.running) {
      // An eviction job that hit its time limit goes on between batches (Redis's eviction time proc).
      ctx.propagating = Atomics.load(persistFlags, PERSIST_AOF_ON) !== 0;
      ctx.notifyFlags = shardSettings.notifyFlags;
      evictor.perform(Date.now());
      if (events.len > 0) {
        flushEvents();
        flushReplies();
      }
      if (persist.sink.pending) persist.flush();
      continue;
    }
    if (defrag.wantsTime) {
      // Idle: the rest of this period's defrag budget, a millisecond at a time.
      defrag.step(now + 1);
      continue;
    }
    if (ks.lazyFreePending > 0) {
      // Idle: free queued big values a millisecond at a time.
      ks.lazyFreeStep(now + 1);
      continue;
    }
    if (now - lastWork < SPIN_MS) continue;
    const token = req.prepareSleep();
    if (token < 0) continue;
    Atomics.wait(req.ctl, RING_WAKE, token, Math.max(1, nextCron - now));
    req.endSleep(token);
  }
}

main().catch((err: Error) => {
  // Written at once: a worker's console output is lost when it exits.
  writeSync(2, `shard worker: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});

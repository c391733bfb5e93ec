/**
 * The io thread's side of Lua scripting: EVAL/EVALSHA/FCALL and SCRIPT/FUNCTION run on the
 * script thread (src/scripting/script-worker.ts), one request at a time, in arrival order.
 *
 * A script has the dataset to itself while it runs: inline, the io thread holds every other
 * command back (Redis's single thread would not read them either); with shard workers every
 * shard is parked first, so a script may touch keys it did not declare (real queue libraries
 * do), across shards, atomically. The io thread stays free meanwhile: past
 * busy-reply-threshold it answers -BUSY and takes SCRIPT KILL / FUNCTION KILL /
 * SHUTDOWN NOSAVE (script.c, processCommand's busy check).
 *
 * EXEC blocks that hold a script run here too: their io-thread commands on this thread and
 * the rest on the script thread, with the dataset held for the whole block.
 */
import * as path from 'node:path';
import { MessageChannel, MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { Server } from './server';
import type { Client } from './client';
import { log } from './logger';
import { CMD_ALLOW_BUSY, CommandSpec, SCRIPT_RUN_COMMANDS, commandById, getKeyPositions } from '../commands/table';
import { ExecContext, saveArgs } from '../commands/context';
import { ReplyWriter } from '../protocol/resp-writer';
import type { Arena, SegmentMessage } from '../store/arena';
import type { Store } from '../store/store';
import { publishShardEvents } from './notifications';
import { publish } from './pubsub';
import { EXECABORT, MultiState, QueuedCommand, WatchSet, runQueuedCommand, watchedKeysChanged } from './multi';
import { PERSIST_AOF_ON } from '../persistence/flags';
import { SHARD_SETTING_NAMES } from '../shard/settings';
import {
  ERR_BUSY_EVAL, ERR_BUSY_FUNCTION, SCRIPT_STATE_BYTES, SHARD_RUNNING_CMD_BYTES, STATUS_IS_EVAL, STATUS_KILL, ST_FN_COUNT, ST_LIB_COUNT, ST_STATUS, ScriptStateView,
} from '../scripting/lua-engine';
import type { ScriptWorkerData } from '../scripting/script-worker';
import type { LibrariesMessage } from '../scripting/scripts';
import { WritesReader } from '../scripting/writes-list';
import { evictConfig, outOfMemory } from '../store/evict';
import {
  MBC_SPUBLISH, MBF_MULTI, MBF_PROPAGATE, MB_CALLBACK, MB_CALLBACK_CAPACITY, MB_CB_LEN, MB_CB_OP, MB_CB_RESULT, MB_CMD_HEADER, MB_COUNT, MB_DATA, MB_DEFAULT_CAPACITY, MB_DIRTY, MB_EVT_LEN,
  MB_FLAGS, MB_FUNCS, MB_IDLE, MB_NOTIFY, MB_REPLY, MB_MAX_BATCH, MB_REPLY_INDEX_ENTRY, MB_REP_LEN, MB_REP_PORT, MB_REQUEST, MB_REQ_LEN, MB_RUNNING, MB_SEGS,
  MB_STATE, MB_SYNC, MB_WRITES_LEN, MBR_OOM, MBR_TRACK_READS, MBW_READ,
} from '../../native-layout/script-mailbox';

/** Commands that run on the script thread (their subcommands too, but the KILLs). */
export const SCRIPT_THREAD_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro', 'script', 'function']);

/** What dispatch does with a command while a script runs. */
export const SCRIPT_PASS = 0;
export const SCRIPT_POSTPONE = 1;
export const SCRIPT_REJECT = 2;

const SPIN_MS = 0.05;
/** A shard's script running longer than this holds the commands for its shard here (ms). */
const SHARD_HOLD_MS = 20;
const WAIT_TIMEOUT_MS = 20;

/** An EXEC block being run by the host: where it is, and its reply so far. */
interface ExecRun {
  m: MultiState;
  ws: WatchSet | null;
  op: number;
  db: number;
  resp: 2 | 3;
  next: number;
  /** Commands of the segment on the script thread now. */
  segment: number;
  out: ReplyWriter;
  /** Writes of its io-thread commands, for waking blocked clients at the end. */
  localWrites: QueuedCommand[] | null;
}

interface ScriptJob {
  /** null for start-up replays (FUNCTION commands from the AOF, libraries from a snapshot). */
  client: Client | null;
  db: number;
  resp: 2 | 3;
  /** Its effects go to the AOF (not for replays of what is already there). */
  propagate: boolean;
  seq: number;
  silent: boolean;
  spec: CommandSpec;
  /** The command itself (EVAL, FUNCTION LOAD...); null for an EXEC block. */
  cmd: QueuedCommand | null;
  exec: ExecRun | null;
  needsStore: boolean;
  /** The dataset once it is ours (inline at once; with shards when all are parked for this job). */
  store: Store | null;
  release: (() => void) | null;
  /** The command's place in the dispatch order (WATCH touches of its writes count from there). */
  op: number;
  /** Its caller tracks keys (CLIENT TRACKING): if its script reads, the keys it declared are remembered for it. */
  trackReads: boolean;
  /** Over maxmemory with nothing to evict when it was dispatched (its scripts refuse their first deny-oom write). */
  oom: boolean;
  /**
   * With shards: the store job queued right after this one with nothing sent to any shard in
   * between. It takes over this job's park instead of parking the shards again.
   */
  heir: ScriptJob | null;
  /**
   * With shards: the shards it needs parked (bit s), when its script provably touches only its
   * declared keys (src/server/script-routing.ts); 0 for every shard.
   */
  mask: number;
}

export class ScriptHost {
  private readonly srv: Server;
  private worker: Worker | null = null;
  private starting: Promise<void> | null = null;
  private stopping = false;
  private mb!: Int32Array;
  private mbData!: Buffer;
  private cbData!: Buffer;
  private port!: MessagePort;
  readonly state = new ScriptStateView(new SharedArrayBuffer(SCRIPT_STATE_BYTES));
  private readonly queue: ScriptJob[] = [];
  /** FUNCTION DUMP of the libraries loaded now (null: none), written into every snapshot at its cut. */
  functionsDump: Buffer | null = null;
  private current: ScriptJob | null = null;
  /** The jobs of the request on the script thread: current first (inline, queued scripts go along). */
  private readonly batch: ScriptJob[] = [];
  /** Inline: the store belongs to the script thread until the job ends. */
  storeHeld = false;
  /** Jobs queued or running that need the dataset. */
  private storeJobs = 0;
  /** Arena generation the script thread has seen, per arena. */
  private seenGen: number[] = [];
  private arenas: Arena[] = [];
  private pendingSync: unknown[] = [];
  /** With shards: the last store job whose park (its own or inherited) is not released yet. */
  private chainTail: ScriptJob | null = null;
  /** ShardPool.staged right after chainTail's place was taken. */
  private chainMark = 0;
  /** The shards chainTail's park holds (0: all). */
  private chainParkMask = 0;
  private waitStart = 0;
  private busyTimer: NodeJS.Timeout | null = null;
  private readonly specs = commandById();
  private readonly pollFn = () => this.poll();
  private readonly wakeFn = () => this.poll();
  /** Decodes the writes list. */
  private readonly entry = new WritesReader();

  constructor(srv: Server) {
    this.srv = srv;
    for (const name of SHARD_SETTING_NAMES) {
      srv.cfg.onChange(name, (c) => {
        if (this.worker !== null) this.pendingSync.push({ op: 'set', name, value: c.getValue(name) ?? '' });
      });
    }
  }

  /** Is this command run by the script thread? */
  static routes(spec: CommandSpec): boolean {
    const top = spec.parent ? spec.parent.name : spec.name;
    return SCRIPT_THREAD_COMMANDS.has(top) && spec.name !== 'script|kill' && spec.name !== 'function|kill';
  }

  // ---- the busy check (processCommand) ----------------------------------------------------

  /** The ScriptState of each shard's Lua VM (shard-local scripts run there: src/server/script-routing.ts). */
  readonly shardStates: ScriptStateView[] = [];
  /** Scripts sent to shards whose replies have not come back. */
  private shardScripts = 0;

  shardScriptStarted(): void {
    this.shardScripts++;
  }

  shardScriptDone(): void {
    this.shardScripts--;
    // Clients held behind a long one go on.
    if (this.shardTimer !== null && this.srv.hasPostponed()) setImmediate(() => this.srv.resumePostponed());
  }

  /** A script past busy-reply-threshold (this thread's, or a shard's), or null. */
  private busyState(): ScriptStateView | null {
    const limit = this.srv.cfg.busyReplyThreshold;
    if (this.current !== null && this.state.running() && this.state.elapsed() > limit) return this.state;
    if (this.shardScripts > 0) {
      for (const st of this.shardStates) if (st.running() && st.elapsed() > limit) return st;
    }
    return null;
  }

  /**
   * Is some shard's script running past SHARD_HOLD_MS? Then commands for its shard wait here
   * rather than in its ring, as Redis holds every client while a script runs: at the
   * threshold they get -BUSY, and SCRIPT KILL waits for it. Short scripts hold nothing.
   */
  private longShardScript(): boolean {
    for (const st of this.shardStates) {
      if (st.running() && st.elapsed() > SHARD_HOLD_MS) {
        this.armShardTimer(st);
        return true;
      }
    }
    return false;
  }

  private holdsForShardScript(spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): boolean {
    if (spec.name === 'script|kill' || spec.name === 'function|kill' || spec.name === 'shutdown') return true;
    if (this.srv.isLocal(spec)) return false;
    const shard = this.srv.commandShard(spec, buf, as, ae, argc);
    if (shard < 0) return true;
    const st = this.shardStates[shard];
    return st.running() && st.elapsed() > SHARD_HOLD_MS;
  }

  private shardTimer: NodeJS.Timeout | null = null;

  /** Held clients get their turn when the shard's script passes the threshold (then -BUSY) or ends. */
  private armShardTimer(st: ScriptStateView): void {
    if (this.shardTimer !== null) return;
    const left = Math.max(1, this.srv.cfg.busyReplyThreshold - st.elapsed() + 1);
    this.shardTimer = setTimeout(() => {
      this.shardTimer = null;
      if (this.srv.hasPostponed()) this.srv.resumePostponed();
    }, left);
  }

  /** Has a running script passed busy-reply-threshold? */
  timedOut(): boolean {
    return this.busyState() !== null;
  }

  /**
   * While a job runs: SCRIPT_PASS, SCRIPT_POSTPONE (wait for the script to end, or to time
   * out), or SCRIPT_REJECT with busyError() to answer.
   */
  check(spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): number {
    if (this.timedOut()) {
      if ((spec.flags & CMD_ALLOW_BUSY) === 0) return SCRIPT_REJECT;
      // SHUTDOWN only with NOSAVE (shutdownCommand); WATCH reads the dataset: it waits inline.
      if (spec.name === 'shutdown' && !hasArg(buf, as, ae, argc, 'nosave')) return SCRIPT_REJECT;
      if (spec.name === 'watch' && this.storeHeld) return SCRIPT_POSTPONE;
      return SCRIPT_PASS;
    }
    if (this.shardScripts > 0 && this.longShardScript() && this.holdsForShardScript(spec, buf, as, ae, argc)) return SCRIPT_POSTPONE;
    if (this.storeJobs === 0) return SCRIPT_PASS;
    // Another script waits its turn in the host's queue rather than with the held clients,
    // unless clients are held already: then it queues behind them, in arrival order (a lock
    // holder's GET must not be overtaken forever by other clients' retried lock scripts).
    if (this.srv.isScriptCommand(spec) && !this.srv.hasPostponed()) return SCRIPT_PASS;
    // Until the threshold nothing that needs the dataset runs (Redis reads nothing from its
    // clients meanwhile), and a kill waits for it too; io-thread commands go on with shards,
    // and so do commands for shards no script holds.
    if (this.storeHeld) return SCRIPT_POSTPONE;
    if (!this.srv.isLocal(spec) && this.holdsShardOf(spec, buf, as, ae, argc)) return SCRIPT_POSTPONE;
    if (spec.name === 'script|kill' || spec.name === 'function|kill' || spec.name === 'shutdown') return SCRIPT_POSTPONE;
    return SCRIPT_PASS;
  }

  /** Redis's shared.slowevalerr / slowscripterr, by what is running. */
  busyError(): string {
    const st = this.busyState() ?? this.state;
    return (Atomics.load(st.i32, ST_STATUS) & STATUS_IS_EVAL) !== 0 ? ERR_BUSY_EVAL : ERR_BUSY_FUNCTION;
  }

  /** A job is queued or running here, or a script on a shard. */
  get active(): boolean {
    return this.current !== null || this.queue.length > 0 || this.shardScripts > 0;
  }

  // ---- SCRIPT KILL / FUNCTION KILL / FUNCTION STATS -----------------------------------------

  kill(c: ExecContext, isEval: boolean): void {
    // Only a script past the threshold: Redis reads no SCRIPT KILL before (check() holds it
    // back meanwhile), so a script that has not timed out has ended by then (NOTBUSY).
    const err = (this.busyState() ?? this.state).requestKill(isEval);
    if (err === null) c.w.ok();
    else c.w.error(err);
  }

  /**
   * FUNCTION STATS while a script runs: answered here (the thread running it is busy). `job`
   * is the script thread's, or null for a shard's script (its command is in its state buffer).
   */
  private runningStats(w: ReplyWriter, st: ScriptStateView, job: ScriptJob | null): void {
    const cmd = job !== null && job.exec === null ? job.cmd! : null;
    w.mapHeader(2);
    w.bulkString('running_script');
    w.mapHeader(3);
    w.bulkString('name');
    w.bulkString(st.name());
    w.bulkString('command');
    if (cmd !== null) {
      w.arrayHeader(cmd.argc);
      for (let i = 0; i < cmd.argc; i++) w.bulk(cmd.buf, cmd.argStart[i], cmd.argEnd[i]);
    } else if (job === null) {
      const b = Buffer.from(st.sab, SCRIPT_STATE_BYTES, SHARD_RUNNING_CMD_BYTES), argc = b.readUInt32LE(0);
      w.arrayHeader(argc);
      let p = 4;
      for (let i = 0; i < argc; i++) {
        const len = b.readUInt32LE(p);
        w.bulk(b, p + 4, p + 4 + len);
        p += 4 + len;
      }
    } else {
      w.arrayHeader(1);
      w.bulkString('exec');
    }
    w.bulkString('duration_ms');
    w.integer(Math.floor(st.elapsed()));
    w.bulkString('engines');
    w.mapHeader(1);
    w.bulkString('LUA');
    w.mapHeader(2);
    w.bulkString('libraries_count');
    w.integer(this.state.i32[ST_LIB_COUNT]);
    w.bulkString('functions_count');
    w.integer(this.state.i32[ST_FN_COUNT]);
  }

  // ---- submitting -------------------------------------------------------------------------

  /** Queue a script-thread command of a client (dispatch), to run with the shards of `mask` parked (0: all). */
  submit(cl: Client, seq: number, silent: boolean, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, mask: number): void {
    // (Bodies it would load first only to drop them.)
    if (spec.name === 'script|flush') this.deferredPreloads.length = 0;
    const shardBusy = spec.name === 'function|stats' ? this.busyState() : null;
    if (spec.name === 'function|stats' && ((this.current !== null && this.state.running()) || shardBusy !== null)) {
      const w = this.srv.w, start = w.len;
      if (shardBusy !== null && shardBusy !== this.state) this.runningStats(w, shardBusy, null);
      else this.runningStats(w, this.state, this.batch[this.mb[MB_RUNNING]] ?? this.current);
      this.srv.deliver(cl, seq, w.buf, start, silent ? start : w.len, true);
      if (silent) w.len = start;
      return;
    }
    const saved = saveArgs(buf, as, ae, argc);
    const cmd: QueuedCommand = { spec, buf: saved.buf, argStart: saved.argStart, argEnd: saved.argEnd, argc, db: cl.db };
    cl.inFlight++;
    this.enqueue({
      client: cl, db: cl.db, resp: cl.resp, propagate: true, seq, silent, spec, cmd, exec: null,
      needsStore: SCRIPT_RUN_COMMANDS.has(spec.name), store: null, release: null, op: this.srv.opSeq, heir: null, mask,
      trackReads: this.srv.tracking.on && this.srv.tracking.scriptReadsTracked(cl, seq), oom: this.oomNow(),
    });
  }

  /** EXEC of a block holding a script (Server.exec); the reply comes when it ran. */
  submitExec(cl: Client, seq: number, silent: boolean, spec: CommandSpec, m: MultiState, ws: WatchSet | null, op: number): void {
    cl.inFlight++;
    const exec: ExecRun = { m, ws, op, db: cl.db, resp: cl.resp, next: 0, segment: 0, out: new ReplyWriter(1024), localWrites: null };
    this.enqueue({
      client: cl, db: cl.db, resp: cl.resp, propagate: true, seq, silent, spec, cmd: null, exec, needsStore: true, store: null, release: null, op, heir: null, mask: 0, trackReads: false, oom: this.oomNow(),
    });
  }

  /** processCommand's pre_command_oom_state, from this thread's view of memory. */
  private oomNow(): boolean {
    if (evictConfig.maxmemory === 0) return false;
    const srv = this.srv;
    if (srv.pool !== null) return outOfMemory(srv.pool.keyspaces, srv.pool.clientBytes);
    return outOfMemory(srv.inlineStore!.keyspaces, srv.executor.evictor?.budget.external ?? 0);
  }

  /** Start-up: a FUNCTION command from the AOF, run on the script thread (no reply, not propagated again). */
  replay(spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, db: number): void {
    const saved = saveArgs(buf, as, ae, argc);
    const cmd: QueuedCommand = { spec, buf: saved.buf, argStart: saved.argStart, argEnd: saved.argEnd, argc, db };
    this.enqueue({
      client: null, db, resp: 2, propagate: false, seq: 0, silent: true, spec, cmd, exec: null,
      needsStore: SCRIPT_RUN_COMMANDS.has(spec.name), store: null, release: null, op: this.srv.opSeq, heir: null, mask: 0, trackReads: false, oom: false,
    });
  }

  /** Start-up: the function libraries of a snapshot (OP_FUNCTIONS). */
  replayFunctions(payload: Buffer): void {
    this.replayArgv('function|restore', [Buffer.from('FUNCTION'), Buffer.from('RESTORE'), payload, Buffer.from('REPLACE')]);
  }

  /** A script an EVAL brought to a shard's VM: cached here too (SCRIPT EXISTS, EVALSHA taking this path). */
  preload(body: Buffer): void {
    // Not running and nothing for it to do: it learns them when it starts, if ever (a server
    // whose scripts all run on shards never pays for the thread and its VM).
    if (this.worker === null && this.starting === null && this.queue.length === 0) {
      this.deferredPreloads.push(body);
      return;
    }
    this.replayArgv('script|load', [Buffer.from('SCRIPT'), Buffer.from('LOAD'), body]);
  }

  /** Bodies preload() kept while the script thread was not running, loaded ahead of its first job. */
  private deferredPreloads: Buffer[] = [];

  private replayArgv(name: string, args: Buffer[]): void {
    const spec = this.specs.find((s) => s.name === name)!;
    const buf = Buffer.concat(args);
    const as = new Int32Array(args.length), ae = new Int32Array(args.length);
    let p = 0;
    for (let i = 0; i < args.length; i++) {
      as[i] = p;
      p += args[i].length;
      ae[i] = p;
    }
    this.replay(spec, buf, as, ae, args.length, 0);
  }

  /**
   * Take the job's place in the command order now: inline, everything after it waits;
   * with shard workers, its park goes into every shard's queue behind what came before.
   */
  private enqueue(job: ScriptJob): void {
    if (this.deferredPreloads.length > 0) {
      const bodies = this.deferredPreloads;
      this.deferredPreloads = [];
      for (const body of bodies) this.replayArgv('script|load', [Buffer.from('SCRIPT'), Buffer.from('LOAD'), body]);
    }
    this.queue.push(job);
    if (job.needsStore) {
      this.storeJobs++;
      const pool = this.srv.pool;
      if (pool === null) {
        this.storeHeld = true;
        job.store = this.srv.inlineStore;
      } else if (this.chainTail !== null && pool.staged === this.chainMark && parkCovers(this.chainParkMask, job.mask)) {
        // Nothing went to a shard since the last script's park, over these shards: it holds this one's place too.
        this.chainTail.heir = job;
      } else {
        pool.parkShards(job.mask, (store, release) => {
          job.store = store;
          job.release = release;
          this.next();
        });
        this.chainParkMask = job.mask;
      }
      if (pool !== null) {
        this.chainTail = job;
        this.chainMark = pool.staged;
        this.heldMask = -1;
      }
    }
    this.next();
  }

  /** Shards held by store jobs queued or running (0: all), -1 until computed again. */
  private heldMask = -1;

  /** Are the shards of this command (its first key; none: all) held by a script's park? */
  private holdsShardOf(spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): boolean {
    if (this.heldMask === -1) {
      let m = 0;
      const jobs = this.current !== null ? [this.current, ...this.queue] : this.queue;
      for (const j of jobs) {
        if (!j.needsStore) continue;
        if (j.mask === 0) {
          m = 0;
          break;
        }
        m |= j.mask;
      }
      this.heldMask = m;
    }
    if (this.heldMask === 0) return true;
    const shard = this.srv.commandShard(spec, buf, as, ae, argc);
    return shard < 0 || (this.heldMask & (1 << shard)) !== 0;
  }

  private next(): void {
    if (this.current !== null || this.queue.length === 0) return;
    if (this.worker === null) {
      this.start();
      return;
    }
    const job = this.queue[0];
    if (job.needsStore && job.store === null) return;
    this.queue.shift();
    this.current = job;
    const batch = this.batch;
    batch.length = 0;
    batch.push(job);
    if (!job.needsStore) {
      this.post(job, 1, 0);
      return;
    }
    // The scripts queued right behind it go in the same request: nothing else can run between
    // them (inline every other command is held; with shards each inherits the park of the one
    // before), and one round trip serves them all.
    if (job.exec === null) {
      const sharded = this.srv.pool !== null;
      while (batch.length < MB_MAX_BATCH && this.queue.length > 0) {
        const j = this.queue[0];
        if (!j.needsStore || j.exec !== null || j.propagate !== job.propagate) break;
        if (sharded && batch[batch.length - 1].heir !== j) break;
        batch.push(this.queue.shift()!);
      }
    }
    this.busyTimer = setTimeout(() => this.onThreshold(), this.srv.cfg.busyReplyThreshold + 1);
    // This thread's effects so far go to the log before the script's.
    this.srv.durability.flushIo();
    this.begin(job, job.store!);
  }

  /** The dataset is ours: run the job. */
  private begin(job: ScriptJob, store: Store): void {
    if (job.exec === null) {
      this.post(job, this.batch.length, 0);
      return;
    }
    const x = job.exec;
    const srv = this.srv;
    if (x.ws !== null) srv.watch.remove(x.ws);
    if (x.m.aborted) x.out.error(EXECABORT);
    else if (x.ws !== null && watchedKeysChanged(x.ws, store)) x.out.nullArray();
    else {
      x.out.resp = x.resp;
      x.out.arrayHeader(x.m.commands.length);
      this.execContinue(job, store);
      return;
    }
    this.finish(x.out.buf, -1, x.out.len);
  }

  /**
   * Run an EXEC block from x.next: commands of the io thread here, runs of the others on
   * the script thread (execContinue is called again with their reply).
   */
  private execContinue(job: ScriptJob, store: Store): void {
    const x = job.exec!, srv = this.srv, cmds = x.m.commands, cl = job.client!;
    while (x.next < cmds.length) {
      const q = cmds[x.next];
      if (!srv.isLocal(q.spec)) {
        let end = x.next + 1;
        while (end < cmds.length && !srv.isLocal(cmds[end].spec)) end++;
        x.segment = end - x.next;
        this.post(job, end - x.next, MBF_MULTI);
        return;
      }
      // An io-thread command (SELECT, PUBLISH, CLIENT...), as execMulti runs it.
      const c = srv.ctx, w = srv.w;
      const saved = c.store, start = w.len;
      c.store = store;
      if (runQueuedCommand(srv, cl, q, x.db, x.resp, x.op)) (x.localWrites ??= []).push(q);
      x.db = cl.db;
      x.resp = cl.resp;
      c.store = saved;
      x.out.raw(w.buf, start, w.len);
      w.len = start;
      x.next++;
    }
    this.finish(x.out.buf, -1, x.out.len);
  }

  // ---- the mailbox ------------------------------------------------------------------------

  /**
   * Hand commands to the script thread: the batch's (one command per job), or `count` of the
   * EXEC block's from its next one.
   */
  private post(job: ScriptJob, count: number, flags: number): void {
    const srv = this.srv;
    // Segments other threads added since the script thread last looked.
    let sync = 0;
    for (let i = 0; i < this.arenas.length; i++) {
      const a = this.arenas[i];
      if (a.generation !== this.seenGen[i]) {
        const snap = a.snapshot();
        this.port.postMessage({ op: 'segments', arena: i, segments: snap.segments, generation: snap.generation });
        this.seenGen[i] = snap.generation;
        sync++;
      }
    }
    for (const m of this.pendingSync) this.port.postMessage(m);
    sync += this.pendingSync.length;
    this.pendingSync.length = 0;
    // The payload, in the mailbox or (too big) on the port.
    let size = 0;
    const x = job.exec;
    for (let k = 0; k < count; k++) {
      const q = x !== null ? x.m.commands[x.next + k] : this.batch[k].cmd!;
      size += MB_CMD_HEADER;
      for (let i = 0; i < q.argc; i++) size += 4 + q.argEnd[i] - q.argStart[i];
    }
    const inBox = size <= this.mbData.length;
    const dst = inBox ? this.mbData : Buffer.allocUnsafe(size);
    let p = 0;
    for (let k = 0; k < count; k++) {
      const q = x !== null ? x.m.commands[x.next + k] : this.batch[k].cmd!;
      dst.writeUInt32LE(q.spec.id, p);
      dst.writeUInt32LE(q.argc, p + 4);
      dst.writeUInt16LE(x !== null ? x.db : this.batch[k].db, p + 8);
      const j = x !== null ? job : this.batch[k];
      dst.writeUInt16LE((x !== null ? x.resp : j.resp | (j.trackReads ? MBR_TRACK_READS : 0)) | (j.oom ? MBR_OOM : 0), p + 10);
      dst.writeUInt32LE(x !== null ? 0 : this.batch[k].mask, p + 12);
      p += MB_CMD_HEADER;
      for (let i = 0; i < q.argc; i++) {
        const len = q.argEnd[i] - q.argStart[i];
        dst.writeUInt32LE(len, p);
        q.buf.copy(dst, p + 4, q.argStart[i], q.argEnd[i]);
        p += 4 + len;
      }
    }
    if (!inBox) this.port.postMessage(dst);
    const mb = this.mb;
    mb[MB_SYNC] = sync;
    mb[MB_COUNT] = count;
    mb[MB_FLAGS] = flags | (job.propagate && Atomics.load(srv.durability.flags, PERSIST_AOF_ON) !== 0 ? MBF_PROPAGATE : 0);
    mb[MB_NOTIFY] = srv.ctx.notifyFlags;
    mb[MB_REQ_LEN] = inBox ? size : -1;
    Atomics.store(mb, MB_STATE, MB_REQUEST);
    Atomics.notify(mb, MB_STATE);
    this.waitStart = performance.now();
    setImmediate(this.pollFn);
  }

  /** Poll for the reply while it is fresh, then sleep on the mailbox word. */
  private poll(): void {
    if (this.current === null) return;
    const st = Atomics.load(this.mb, MB_STATE);
    if (st === MB_REPLY) {
      this.onReply();
      return;
    }
    if (st === MB_CALLBACK) {
      this.callback();
      this.waitStart = performance.now();
    }
    if (performance.now() - this.waitStart < SPIN_MS) {
      setImmediate(this.pollFn);
      return;
    }
    const r = Atomics.waitAsync(this.mb, MB_STATE, MB_REQUEST, WAIT_TIMEOUT_MS);
    // (A callback stores MB_CALLBACK: that wakes this wait too.)
    if (r.async) r.value.then(this.wakeFn);
    else setImmediate(this.wakeFn);
  }

  /** The running script asks: PUBLISH / SPUBLISH to this thread's subscribers, at once. */
  private callback(): void {
    const mb = this.mb;
    const len = mb[MB_CB_LEN];
    let d = this.cbData;
    if (len < 0) {
      const u = this.receive() as Uint8Array;
      d = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    }
    const cl = d.readUInt32LE(0), ml = d.readUInt32LE(4 + cl);
    mb[MB_CB_RESULT] = publish(this.srv, d, 4, 4 + cl, d, 8 + cl, 8 + cl + ml, null, mb[MB_CB_OP] === MBC_SPUBLISH);
    Atomics.store(mb, MB_STATE, MB_REQUEST);
    Atomics.notify(mb, MB_STATE);
  }

  private onReply(): void {
    const mb = this.mb, srv = this.srv, job = this.current!;
    // Segments the script added: into this thread's view, and on to their shard. The script
    // thread has those; segments this thread took in meanwhile from a shard's park (a job
    // that needs no park runs while shards work) it has not seen yet: the next post() sends them.
    for (let n = mb[MB_SEGS]; n > 0; n--) {
      const msg = this.receive() as SegmentMessage & { arena: number };
      this.arenas[msg.arena].adopt(msg);
      this.seenGen[msg.arena]++;
    }
    if (mb[MB_FUNCS] !== 0) {
      const m = this.receive() as LibrariesMessage;
      this.functionsDump = m.dump === null ? null : Buffer.from(m.dump.buffer, m.dump.byteOffset, m.dump.byteLength);
      this.srv.scriptRouter?.librariesChanged(m.libs.map((l) => ({ code: Buffer.from(l.code.buffer, l.code.byteOffset, l.code.byteLength), functions: l.functions })));
    }
    let d: Buffer = this.mbData;
    if (mb[MB_REP_PORT] !== 0) {
      const u = this.receive() as Uint8Array;
      d = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    }
    const repLen = mb[MB_REP_LEN], evtLen = mb[MB_EVT_LEN], writesLen = mb[MB_WRITES_LEN];
    const indexAt = repLen + evtLen + writesLen;
    srv.ctx.dirty += mb[MB_DIRTY];
    if (evtLen > 0) publishShardEvents(srv, d, repLen, repLen + evtLen);
    // What the scripts wrote: WATCH touches now, blocked clients once the dataset is released.
    if (writesLen > 0) {
      const writes = Buffer.from(d.subarray(repLen + evtLen, indexAt));
      if (job.exec === null) this.rememberReads(writes);
      this.applyWrites(writes, job.exec !== null ? job.exec.op : -1, false);
      this.pendingWrites.push(writes);
    }
    Atomics.store(mb, MB_STATE, MB_IDLE);
    if (job.exec !== null) {
      const x = job.exec;
      x.out.raw(d, 0, repLen);
      x.next += x.segment;
      this.execContinue(job, job.store!);
      return;
    }
    // The replies stay where they are (mailbox or port buffer) until finish() delivered them.
    let start = 0;
    for (let k = 0; k < this.batch.length; k++) {
      const at = indexAt + k * MB_REPLY_INDEX_ENTRY, end = d.readUInt32LE(at);
      srv.accountCommand(this.batch[k].spec.id, d.readFloatLE(at + 4), d, start, end);
      start = end;
    }
    this.finish(d, indexAt, repLen);
  }

  /**
   * CLIENT TRACKING: a script that ran a read-only command makes its caller remember the keys it
   * declared (Redis's call() remembers the keys of server.script_caller's command), staged for
   * the caller's reply.
   */
  private rememberReads(b: Buffer): void {
    const e = this.entry;
    for (let p = 0; p < b.length;) {
      p = e.read(b, p);
      if (e.kind !== MBW_READ) continue;
      const job = this.batch[e.index], q = job.cmd;
      if (job.client === null || q === null) continue;
      if (this.keyPos.length < q.argc) this.keyPos = new Int32Array(q.argc * 2);
      const n = getKeyPositions(q.spec, q.argc, q.buf, q.argStart, q.argEnd, this.keyPos);
      if (n <= 0) continue;
      const keys: string[] = [];
      for (let i = 0; i < n; i++) keys.push(q.buf.toString('latin1', q.argStart[this.keyPos[i]], q.argEnd[this.keyPos[i]]));
      this.srv.tracking.stageScriptReads(job.client, job.seq, keys);
    }
  }

  private keyPos = new Int32Array(16);

  /** The job's writes, for waking blocked clients once the dataset is released. */
  private pendingWrites: Buffer[] = [];

  /**
   * Release the dataset, answer the batch's clients (reply k ends at the u32 at
   * `indexAt + k * 8` of `d`, or the one reply is d[0, len) when indexAt < 0), then let the
   * next job (and held clients) go.
   */
  private finish(d: Buffer, indexAt: number, len: number): void {
    const srv = this.srv, batch = this.batch, first = batch[0];
    if (this.busyTimer !== null) clearTimeout(this.busyTimer);
    this.busyTimer = null;
    if (first.needsStore) {
      this.storeJobs -= batch.length;
      const last = batch[batch.length - 1], heir = last.heir;
      if (heir !== null) {
        // The next script keeps the shards parked.
        heir.store = first.store;
        heir.release = first.release;
      } else if (first.release !== null) {
        if (this.chainTail === last) this.chainTail = null;
        first.release();
      } else srv.durability.flushIo();
    }
    this.storeHeld = false;
    this.heldMask = -1;
    for (const j of this.queue) if (j.needsStore && srv.pool === null) this.storeHeld = true;
    this.current = null;
    let start = 0;
    const router = srv.scriptRouter;
    for (let k = 0; k < batch.length; k++) {
      const job = batch[k], cl = job.client;
      if (router !== null && cl !== null) router.jobDone(job.cmd, job.exec?.m.commands ?? null);
      const end = indexAt < 0 ? len : d.readUInt32LE(indexAt + k * MB_REPLY_INDEX_ENTRY);
      if (cl !== null) {
        cl.inFlight--;
        srv.deliver(cl, job.seq, d, start, job.silent ? start : end, false);
      }
      start = end;
    }
    // One write per run of a client's replies (a pipelining client's scripts queue back to back).
    for (let k = 0; k < batch.length; k++) {
      const cl = batch[k].client;
      if (cl !== null && (k + 1 === batch.length || batch[k + 1].client !== cl)) srv.flushClient(cl);
    }
    // Clients blocked on keys the scripts wrote get their turn now.
    const local = first.exec?.localWrites;
    if (local && srv.blocking.active) for (const q of local) srv.blocking.signalCommandKeys(q.db, q.spec, q.buf, q.argStart, q.argEnd, q.argc);
    if (this.pendingWrites.length > 0) {
      const all = this.pendingWrites;
      this.pendingWrites = [];
      for (const writes of all) this.applyWrites(writes, 0, true);
    }
    const cl = first.client;
    if (cl !== null && first.exec !== null && first.exec.m.hasLocal) {
      cl.holdInput = false;
      srv.resumeInput(cl);
    }
    batch.length = 0;
    if (first.needsStore) srv.resumePostponed();
    this.next();
  }

  /**
   * WATCH touches (`wake` false; at `execOp`, or at the writing job's place in the dispatch
   * order when it is -1) or wake-ups of blocked clients (`wake` true) for each write.
   */
  private applyWrites(b: Buffer, execOp: number, wake: boolean): void {
    const srv = this.srv;
    if (wake ? !srv.blocking.active : !srv.watch.active) return;
    const e = this.entry;
    for (let p = 0; p < b.length;) {
      p = e.read(b, p);
      if (e.kind === MBW_READ) continue;
      const spec = this.specs[e.cmdId];
      if (wake) srv.blocking.signalCommandKeys(e.db, spec, b, e.as, e.ae, e.argc);
      else srv.watch.touchCommand(e.db, spec, b, e.as, e.ae, e.argc, execOp >= 0 ? execOp : this.batch[e.index].op);
    }
  }

  /** Past the threshold: held clients get their -BUSY (or their SCRIPT KILL) now. */
  private onThreshold(): void {
    this.busyTimer = null;
    if (this.current === null) return;
    if (!this.timedOut()) {
      // The script started after the job did (thread wake-up): wait for the rest of its time.
      const left = this.state.running() ? this.srv.cfg.busyReplyThreshold - this.state.elapsed() : 0;
      this.busyTimer = setTimeout(() => this.onThreshold(), Math.max(1, left + 1));
      return;
    }
    log.warn({ script: this.state.name() }, 'Slow script detected: still in execution after busy-reply-threshold');
    this.srv.resumePostponed();
  }

  private receive(): unknown {
    let m = receiveMessageOnPort(this.port);
    while (m === undefined) m = receiveMessageOnPort(this.port);
    return m.message;
  }

  // ---- the thread ---------------------------------------------------------------------------

  /** Start the script thread on first use (it loads a Lua VM: no cost for servers that never script). */
  private start(): void {
    if (this.starting !== null) return;
    const srv = this.srv;
    const sab = new SharedArrayBuffer(MB_DATA + MB_DEFAULT_CAPACITY);
    this.mb = new Int32Array(sab, 0, MB_DATA >> 2);
    this.mbData = Buffer.from(sab, MB_DATA);
    const cbSab = new SharedArrayBuffer(MB_CALLBACK_CAPACITY);
    this.cbData = Buffer.from(cbSab);
    const ch = new MessageChannel();
    this.port = ch.port2;
    this.arenas = srv.pool !== null ? srv.pool.arenas : [srv.inlineStore!.keyspaces[0].arena];
    const settings: Record<string, string> = {};
    for (const name of SHARD_SETTING_NAMES) settings[name] = srv.cfg.getValue(name) ?? '';
    const arenas = this.arenas.map((a) => a.snapshot());
    this.seenGen = arenas.map((a) => a.generation);
    const data: ScriptWorkerData = {
      mailboxSab: sab, callbackSab: cbSab, stateSab: this.state.sab, port: ch.port1, arenas, inline: srv.pool === null,
      slotTableSab: srv.slotTable.buffer as SharedArrayBuffer, settings,
      logSab: srv.durability.persistence.log.sab, persistSab: srv.durability.flags.buffer as SharedArrayBuffer,
    };
    const worker = new Worker(path.join(__dirname, '..', 'scripting', 'script-worker.js'), { workerData: data, transferList: [ch.port1] });
    worker.on('error', (err) => {
      log.fatal({ err: err.stack ?? String(err) }, 'Script thread crashed');
      process.exit(1);
    });
    worker.on('exit', (code) => {
      if (this.stopping) return;
      log.fatal({ code }, 'Script thread exited');
      process.exit(1);
    });
    this.starting = new Promise<void>((resolve) => {
      worker.once('message', () => {
        this.worker = worker;
        worker.unref();
        resolve();
        this.next();
      });
    });
  }

  /**
   * Shutdown: a running script is stopped even if it wrote (SHUTDOWN NOSAVE), since a thread
   * spinning in Lua cannot be terminated from outside: the count hook sees the kill bit.
   */
  async stop(): Promise<void> {
    for (const st of this.shardStates) Atomics.or(st.i32, ST_STATUS, STATUS_KILL);
    if (this.worker === null) return;
    this.stopping = true;
    Atomics.or(this.state.i32, ST_STATUS, STATUS_KILL);
    for (let i = 0; i < 100 && this.state.running(); i++) await new Promise((r) => setTimeout(r, 10));
    await this.worker.terminate();
  }
}

function hasArg(buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number, lower: string): boolean {
  for (let i = 1; i < argc; i++) {
    if (ae[i] - as[i] !== lower.length) continue;
    let k = 0;
    while (k < lower.length && (buf[as[i] + k] | 0x20) === lower.charCodeAt(k)) k++;
    if (k === lower.length) return true;
  }
  return false;
}

/** Does a park of shards `parked` (0: all) cover a job that needs `needed` (0: all)? */
function parkCovers(parked: number, needed: number): boolean {
  return parked === 0 || (needed !== 0 && (needed & ~parked) === 0);
}

/**
 * The io thread's side of persistence: owns the effect log, starts the persistence worker
 * (src/persistence/worker.ts), sends it configuration, and keeps the status INFO
 * persistence reports, from the worker's messages and the log's shared words.
 * Nothing here blocks the io thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel, MessagePort, Worker } from 'node:worker_threads';
import {
  FLAG_ROTATE, KIND_AOF_OFF, KIND_AOF_ON, KIND_EFFECT, KIND_ROTATE, KIND_SNAPSHOT_BEGIN, KIND_SYNC,
  LOG_DEFAULT_CAPACITY, STAT_AOF_BASE_SIZE, STAT_AOF_CURRENT_SIZE, STAT_BYTES_WRITTEN, STAT_DELAYED_FSYNC,
  STAT_FRAMES, STAT_FSYNCS, STAT_RECORDS, STAT_WRITES,
} from '../../native-layout/effect-log';
import { EffectLog } from './effect-log';
import type { FsyncPolicy, PersistenceControl, PersistenceEvent, PersistenceWorkerData, SnapshotBegin } from './worker';

export type { FsyncPolicy, PersistenceEvent, SnapshotBegin } from './worker';

export interface PersistenceStartOptions {
  /** Working directory (`dir`); the AOF directory and relative snapshot paths live under it. */
  dir: string;
  appendDirName?: string; // appenddirname, default appendonlydir
  appendFilename?: string; // appendfilename, default appendonly.aof
  appendfsync?: FsyncPolicy; // default everysec
  appendonly: boolean;
  /** Path of worker.js; default: next to this file, or dist/src/persistence/worker.js from sources. */
  workerPath?: string;
  /** Retry interval after a failed AOF write, ms (default 1000, as Redis). */
  retryMs?: number;
  /** Test hook: the next N incr writes fail with `failCode` (default ENOSPC). */
  failWrites?: number;
  failCode?: string;
}

/** The fields INFO persistence needs (Redis names). */
export interface PersistenceStatus {
  aof_enabled: number;
  aof_rewrite_in_progress: number;
  aof_rewrite_scheduled: number;
  aof_last_rewrite_time_sec: number;
  aof_current_rewrite_time_sec: number;
  aof_last_bgrewrite_status: 'ok' | 'err';
  aof_rewrites: number;
  aof_last_write_status: 'ok' | 'err';
  aof_current_size: number;
  aof_base_size: number;
  aof_buffer_length: number;
  aof_delayed_fsync: number;
  rdb_bgsave_in_progress: number;
  rdb_last_save_time: number;
  rdb_last_bgsave_status: 'ok' | 'err';
  rdb_last_bgsave_time_sec: number;
  rdb_current_bgsave_time_sec: number;
  rdb_saves: number;
  /** Sabre extras: fsync/write counters of the incr files, effect records consumed. */
  aof_fsyncs: number;
  aof_writes: number;
  aof_frames: number;
  aof_bytes_written: number;
  aof_records: number;
  /** Last write error (for logs / MISCONF text). */
  aof_last_write_error: string;
}

export interface PersistenceCallbacks {
  onSnapshotDone?: (ev: Extract<PersistenceEvent, { type: 'snapshot-done' }>) => void;
  onSnapshotFailed?: (ev: Extract<PersistenceEvent, { type: 'snapshot-failed' }>) => void;
  onWriteError?: (ev: Extract<PersistenceEvent, { type: 'write-error' }>) => void;
  onWriteOk?: () => void;
  onRotated?: (file: string) => void;
  onAofState?: (state: number) => void;
  /** The worker died or reported a fatal error. */
  onFatal?: (error: string) => void;
}

function defaultWorkerPath(): string {
  const here = path.join(__dirname, 'worker.js');
  if (fs.existsSync(here)) return here;
  // Running from sources (tests): use the compiled worker.
  return path.resolve(__dirname, '..', '..', 'dist', 'src', 'persistence', 'worker.js');
}

export class Persistence {
  readonly log: EffectLog;
  readonly status: PersistenceStatus = {
    aof_enabled: 0, aof_rewrite_in_progress: 0, aof_rewrite_scheduled: 0, aof_last_rewrite_time_sec: -1,
    aof_current_rewrite_time_sec: -1, aof_last_bgrewrite_status: 'ok', aof_rewrites: 0, aof_last_write_status: 'ok',
    aof_current_size: 0, aof_base_size: 0, aof_buffer_length: 0, aof_delayed_fsync: 0, rdb_bgsave_in_progress: 0,
    rdb_last_save_time: Math.floor(Date.now() / 1000), rdb_last_bgsave_status: 'ok', rdb_last_bgsave_time_sec: -1,
    rdb_current_bgsave_time_sec: -1, rdb_saves: 0, aof_fsyncs: 0, aof_writes: 0, aof_frames: 0, aof_bytes_written: 0,
    aof_records: 0, aof_last_write_error: '',
  };
  callbacks: PersistenceCallbacks = {};
  private worker: Worker | null = null;
  private control: MessagePort | null = null;
  private stopped: Promise<void> | null = null;
  private rewriteStartMs = 0;
  private bgsaveStartMs = 0;
  private readonly syncWaiters: Array<{ pos: number; resolve: () => void }> = [];
  private readonly scratch = Buffer.allocUnsafe(0);

  /** The log exists from construction, so shard workers can be handed `log.sab` before start(). */
  constructor(logCapacity: number = LOG_DEFAULT_CAPACITY) {
    this.log = EffectLog.create(logCapacity);
  }

  /** Start the worker; resolves once it opened the AOF files (call after loading the data). */
  start(opts: PersistenceStartOptions, callbacks: PersistenceCallbacks = {}): Promise<void> {
    this.callbacks = callbacks;
    const { port1, port2 } = new MessageChannel();
    this.control = port1;
    const data: PersistenceWorkerData = {
      sab: this.log.sab,
      control: port2,
      dir: opts.dir,
      appendDirName: opts.appendDirName ?? 'appendonlydir',
      appendFilename: opts.appendFilename ?? 'appendonly.aof',
      appendfsync: opts.appendfsync ?? 'everysec',
      appendonly: opts.appendonly,
      retryMs: opts.retryMs ?? 1000,
      failWrites: opts.failWrites ?? 0,
      failCode: opts.failCode ?? 'ENOSPC',
    };
    const worker = new Worker(opts.workerPath ?? defaultWorkerPath(), { workerData: data, transferList: [port2] });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (ev: PersistenceEvent) => {
        if (ev.type === 'ready') {
          ready = true;
          this.status.aof_enabled = ev.aofState === 0 ? 0 : 1;
          resolve();
        } else if (ev.type === 'fatal' && !ready) {
          reject(new Error(ev.error));
        }
        this.onEvent(ev);
      });
      worker.on('error', (e) => {
        if (!ready) reject(e);
        else this.callbacks.onFatal?.(e.message);
      });
      this.stopped = new Promise<void>((res) => worker.once('exit', () => {
        this.worker = null;
        if (!ready) reject(new Error('persistence worker exited during start'));
        for (const w of this.syncWaiters.splice(0)) w.resolve();
        res();
      }));
    });
  }

  private onEvent(ev: PersistenceEvent): void {
    const st = this.status;
    switch (ev.type) {
      case 'write-error':
        st.aof_last_write_status = 'err';
        st.aof_last_write_error = ev.message;
        this.callbacks.onWriteError?.(ev);
        break;
      case 'write-ok':
        st.aof_last_write_status = 'ok';
        this.callbacks.onWriteOk?.();
        break;
      case 'rotated':
        this.callbacks.onRotated?.(ev.file);
        break;
      case 'aof-state':
        st.aof_enabled = ev.state === 0 ? 0 : 1;
        this.callbacks.onAofState?.(ev.state);
        break;
      case 'snapshot-done':
      case 'snapshot-failed': {
        const ok = ev.type === 'snapshot-done';
        const now = Date.now();
        if (ev.forRewrite) {
          st.aof_rewrite_in_progress = 0;
          st.aof_last_bgrewrite_status = ok ? 'ok' : 'err';
          st.aof_last_rewrite_time_sec = Math.floor((now - this.rewriteStartMs) / 1000);
          st.aof_current_rewrite_time_sec = -1;
          if (!ok && ev.waitRewrite) st.aof_rewrite_scheduled = 1;
        } else {
          st.rdb_bgsave_in_progress = 0;
          st.rdb_last_bgsave_status = ok ? 'ok' : 'err';
          st.rdb_last_bgsave_time_sec = Math.floor((now - this.bgsaveStartMs) / 1000);
          st.rdb_current_bgsave_time_sec = -1;
          if (ok) {
            st.rdb_saves++;
            st.rdb_last_save_time = Math.floor(now / 1000);
          }
        }
        if (ev.type === 'snapshot-done') this.callbacks.onSnapshotDone?.(ev);
        else this.callbacks.onSnapshotFailed?.(ev);
        break;
      }
      case 'synced':
        for (let i = 0; i < this.syncWaiters.length;) {
          const w = this.syncWaiters[i];
          if (((ev.pos - w.pos) | 0) >= 0) {
            this.syncWaiters.splice(i, 1);
            w.resolve();
          } else {
            i++;
          }
        }
        break;
      case 'fatal':
        this.callbacks.onFatal?.(ev.error);
        break;
      default:
        break;
    }
  }

  /** Status for INFO persistence, with the live fields refreshed from the log. */
  info(): PersistenceStatus {
    const st = this.status;
    const s = this.log.stats;
    st.aof_current_size = s[STAT_AOF_CURRENT_SIZE];
    st.aof_base_size = s[STAT_AOF_BASE_SIZE];
    st.aof_buffer_length = this.log.pendingBytes();
    st.aof_delayed_fsync = s[STAT_DELAYED_FSYNC];
    st.aof_fsyncs = s[STAT_FSYNCS];
    st.aof_writes = s[STAT_WRITES];
    st.aof_frames = s[STAT_FRAMES];
    st.aof_bytes_written = s[STAT_BYTES_WRITTEN];
    st.aof_records = s[STAT_RECORDS];
    st.aof_last_write_status = this.log.writeOk() ? 'ok' : 'err';
    const now = Date.now();
    st.aof_current_rewrite_time_sec = st.aof_rewrite_in_progress ? Math.floor((now - this.rewriteStartMs) / 1000) : -1;
    st.rdb_current_bgsave_time_sec = st.rdb_bgsave_in_progress ? Math.floor((now - this.bgsaveStartMs) / 1000) : -1;
    return st;
  }

  // ---- producers (io thread) ------------------------------------------------------------------

  /** Pass-through to EffectLog.append: position after the record, or -1 (log full: retry later). */
  append(kind: number, flags: number, db: number, shardId: number, payload: Uint8Array, start: number, end: number): number {
    return this.log.append(kind, flags, db, shardId, payload, start, end);
  }

  /** An EFFECT record: RESP command(s) as Redis's AOF text, run in `db`. */
  appendEffect(db: number, shardId: number, payload: Uint8Array, start: number, end: number): number {
    return this.log.append(KIND_EFFECT, 0, db, shardId, payload, start, end);
  }

  durable(): number {
    return this.log.durable();
  }

  /** Resolves once everything before `pos` is durable (appendfsync always: fsynced). */
  waitDurableAsync(pos: number): Promise<void> {
    return this.log.waitDurableAsync(pos);
  }

  // ---- control ---------------------------------------------------------------------------------

  /**
   * Begin a snapshot (BGSAVE, or an AOF rewrite with forRewrite: the incr file rotates at
   * this point in the log). Call while every shard is parked, before they emit chunks.
   * Returns the log position, or -1 if the log is full (nothing was appended).
   */
  beginSnapshot(b: SnapshotBegin): number {
    const json = Buffer.from(JSON.stringify(b), 'utf8');
    const pos = this.log.append(KIND_SNAPSHOT_BEGIN, b.forRewrite ? FLAG_ROTATE : 0, b.id & 0xffff, 0, json, 0, json.length);
    if (pos === -1) return -1;
    const now = Date.now();
    if (b.forRewrite) {
      this.status.aof_rewrite_in_progress = 1;
      this.status.aof_rewrite_scheduled = 0;
      this.status.aof_rewrites++;
      this.rewriteStartMs = now;
    } else {
      this.status.rdb_bgsave_in_progress = 1;
      this.bgsaveStartMs = now;
    }
    return pos;
  }

  /** BGREWRITEAOF: beginSnapshot for a rewrite (the base gets the manifest's next name). */
  rewrite(id: number, shards: number, nowMs: number = Date.now()): number {
    return this.beginSnapshot({ id, path: null, shards, forRewrite: true, nowMs });
  }

  /** BGSAVE to `file` (absolute, or relative to dir). */
  bgsave(id: number, file: string, shards: number, nowMs: number = Date.now()): number {
    return this.beginSnapshot({ id, path: file, shards, forRewrite: false, nowMs });
  }

  /** A plain ROTATE record (close the incr file, open the next). -1 if the log is full. */
  rotate(snapshotId = 0): number {
    return this.log.append(KIND_ROTATE, 0, snapshotId & 0xffff, 0, this.scratch, 0, 0);
  }

  /**
   * CONFIG SET appendonly: yes → AOF_ON record (the worker waits for a rewrite: start one
   * with rewrite()); no → AOF_OFF record (flush, fsync, close; a rewrite is aborted).
   * Returns the log position or -1 (log full).
   */
  setEnabled(on: boolean): number {
    return this.log.append(on ? KIND_AOF_ON : KIND_AOF_OFF, 0, 0, 0, this.scratch, 0, 0);
  }

  setFsyncPolicy(p: FsyncPolicy): void {
    this.send({ type: 'config', appendfsync: p });
  }

  /** CONFIG SET dir: used for relative snapshot paths; moves the AOF directory only while AOF is off. */
  setDir(dir: string): void {
    this.send({ type: 'config', dir });
  }

  /** Test hook: make the next `n` incr writes fail with `code`. */
  failWrites(n: number, code = 'ENOSPC'): void {
    this.send({ type: 'fail-writes', n, code });
  }

  /** Write and fsync everything appended so far (SHUTDOWN, tests). */
  sync(): Promise<void> {
    if (!this.worker) return Promise.resolve();
    const pos = this.log.append(KIND_SYNC, 0, 0, 0, this.scratch, 0, 0);
    if (pos === -1) {
      // Log full: wait until it drains (rare; the io thread is not blocked, only this promise waits).
      return new Promise<void>((r) => setTimeout(r, 5)).then(() => this.sync());
    }
    return new Promise<void>((resolve) => this.syncWaiters.push({ pos, resolve }));
  }

  /** Stop the worker after it wrote (and fsynced) everything in the log. */
  async stop(): Promise<void> {
    if (!this.worker) return;
    this.send({ type: 'stop' });
    await this.stopped;
    this.control?.close();
    this.control = null;
  }

  private send(c: PersistenceControl): void {
    if (!this.control) return;
    this.control.postMessage(c);
    this.log.wakeConsumer();
  }
}

/**
 * The persistence worker thread: the single consumer of the effect log
 * (native-layout/effect-log.md). It turns EFFECT records into lz4 frames appended to the
 * current incr AOF file (SELECT inserted when the db changes, as feedAppendOnlyFile does),
 * writes and fsyncs by appendfsync policy and publishes the durable position; it writes
 * snapshot chunks into temp snapshot files and finishes them (END frame, fsync, rename);
 * it rotates incr files and keeps the Redis 7 manifest (aof.c openNewIncrAofForAppend,
 * backgroundRewriteDoneHandler).
 *
 * The thread runs a synchronous loop (it sleeps with Atomics.wait on the log's WAKE word),
 * so control messages arrive on a dedicated MessagePort polled with receiveMessageOnPort;
 * the io thread wakes the log after posting one. Results go to parentPort.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { FRAME_HEADER, FRAME_TARGET_RAW } from '../../native-layout/aof';
import { OP_END, OP_HEADER, SNAP_END_BYTES, SNAP_HEADER_BYTES, SNAP_MAGIC, SNAP_VERSION } from '../../native-layout/snapshot';
import {
  FLAG_ROTATE, KIND_AOF_OFF, KIND_AOF_ON, KIND_EFFECT, KIND_ROTATE, KIND_SNAPSHOT_BEGIN, KIND_SNAPSHOT_CHUNK,
  KIND_SNAPSHOT_DONE, KIND_SYNC, STAT_AOF_BASE_SIZE, STAT_AOF_CURRENT_SIZE, STAT_BYTES_WRITTEN, STAT_FRAMES,
  STAT_FSYNCS, STAT_LAST_FSYNC_MS, STAT_RECORDS, STAT_WRITES,
} from '../../native-layout/effect-log';
import { encodeFrame } from './aof-frame';
import { EffectLog, posAtLeast } from './effect-log';
import {
  AofManifest, dupManifest, emptyManifest, fsyncDir, manifestFileName, markIncrAsHistory, newBaseFile, newIncrFile,
  readManifest, tempIncrFileName, writeManifest,
} from './manifest';


export type FsyncPolicy = 'always' | 'everysec' | 'no';

export const AOF_OFF = 0;
export const AOF_ON = 1;
export const AOF_WAIT_REWRITE = 2;

/** workerData of the persistence worker. */
export interface PersistenceWorkerData {
  sab: SharedArrayBuffer;
  control: MessagePort;
  dir: string;
  appendDirName: string;
  appendFilename: string;
  appendfsync: FsyncPolicy;
  appendonly: boolean;
  /** Retry interval after a failed write (ms); Redis retries every second. */
  retryMs: number;
  /** Test hook: the next N incr writes fail (after writing half their bytes) with `failCode`. */
  failWrites: number;
  failCode: string;
}

/** Payload of a SNAPSHOT_BEGIN record (UTF-8 JSON). */
export interface SnapshotBegin {
  id: number;
  /** Target file (BGSAVE); ignored for an AOF rewrite (the base gets the manifest's next name). */
  path: string | null;
  /** Shards that will each send SNAPSHOT_DONE. */
  shards: number;
  forRewrite: boolean;
  nowMs: number;
}

/** Messages the worker posts to the io thread. */
export type PersistenceEvent =
  | { type: 'ready'; aofState: number; baseFile: string | null; incrFile: string | null }
  | { type: 'fatal'; error: string }
  | { type: 'write-error'; code: string; errno: number; message: string }
  | { type: 'write-ok' }
  | { type: 'rotated'; file: string }
  | { type: 'aof-state'; state: number }
  | { type: 'snapshot-done'; id: number; forRewrite: boolean; path: string; bytes: number; keys: number; startMs: number; endMs: number }
  | { type: 'snapshot-failed'; id: number; forRewrite: boolean; error: string; waitRewrite: boolean }
  | { type: 'synced'; pos: number }
  | { type: 'stopped' };

/** Control messages from the io thread (on the control port). */
export type PersistenceControl =
  | { type: 'config'; appendfsync?: FsyncPolicy; dir?: string }
  | { type: 'fail-writes'; n: number; code?: string }
  | { type: 'stop' };

interface Snapshot {
  id: number;
  forRewrite: boolean;
  shards: number;
  done: number;
  keys: number;
  /** SNAPSHOT_DONE records that carried a key count. */
  counted: number;
  tmpPath: string;
  target: string;
  fd: number;
  raw: Buffer;
  rawLen: number;
  bytes: number;
  startMs: number;
}

const ERRNO: Record<string, number> = { EIO: 5, ENOSPC: 28, EROFS: 30, EDQUOT: 122, EFBIG: 27, EBADF: 9 };

class PersistenceWorker {
  private readonly log: EffectLog;
  private readonly control: MessagePort;
  private policy: FsyncPolicy;
  private dir: string;
  private readonly appendDirName: string;
  private readonly appendFilename: string;
  private aofDir: string;
  private state = AOF_OFF;
  private manifest: AofManifest = emptyManifest();

  // Current incr file.
  private incrFd = -1;
  private incrPath = '';
  private incrSize = 0;
  /** Sizes of the other incr files the manifest lists (for aof_current_size). */
  private otherIncrBytes = 0;
  private baseSize = 0;
  private dirty = false; // written since the last fsync
  private lastFsync = Date.now();

  // Frame being built from EFFECT records.
  private raw = Buffer.allocUnsafe(2 * FRAME_TARGET_RAW);
  private rawLen = 0;
  private readonly hdr = Buffer.allocUnsafe(FRAME_HEADER);
  private dbWritten = -1; // db selected by what is in the file
  private dbPending = -1; // db selected by what is in `raw`

  /** Everything before this position is handled (effects written). */
  private committed: number;
  /** Snapshot records before this position were handled already (re-scans after a failed write skip them). */
  private snapHandled: number;
  private durablePublished: number;
  private retryAt = 0;
  private writeFailed = false;
  private failWrites: number;
  private failCode: string;
  private readonly retryMs: number;
  private stopping = false;

  private readonly snapshots = new Map<number, Snapshot>();
  /** Snapshot id of a rewrite -> first incr seq that belongs after its cut. */
  private readonly rewriteKeepSeq = new Map<number, number>();
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(d: PersistenceWorkerData) {
    this.log = EffectLog.attach(d.sab);
    this.control = d.control;
    this.policy = d.appendfsync;
    this.dir = d.dir;
    this.appendDirName = d.appendDirName;
    this.appendFilename = d.appendFilename;
    this.aofDir = path.resolve(d.dir, d.appendDirName);
    this.retryMs = d.retryMs;
    this.failWrites = d.failWrites;
    this.failCode = d.failCode;
    this.committed = this.log.tail();
    this.snapHandled = this.committed;
    this.durablePublished = this.log.durable();
    if (d.appendonly) this.openOnStart();
    this.log.setAofState(this.state);
    this.post({
      type: 'ready', aofState: this.state,
      baseFile: this.manifest.base ? this.manifest.base.fileName : null,
      incrFile: this.incrFd >= 0 ? path.basename(this.incrPath) : null,
    });
  }

  private post(ev: PersistenceEvent): void {
    parentPort!.postMessage(ev);
  }

  // ---- start (aofOpenIfNeededOnServerStart) ---------------------------------------------

  private openOnStart(): void {
    fs.mkdirSync(this.aofDir, { recursive: true });
    const m = readManifest(this.aofDir, manifestFileName(this.appendFilename)) ?? emptyManifest();
    let changed = false;
    if (!m.base && m.incr.length === 0) {
      // Empty dataset: create a base, as Redis does on start.
      const name = newBaseFile(m, this.appendFilename);
      writeEmptySnapshot(path.join(this.aofDir, name));
      changed = true;
    }
    let name: string;
    if (m.incr.length === 0) {
      name = newIncrFile(m, this.appendFilename);
      changed = true;
    } else {
      name = m.incr[m.incr.length - 1].fileName;
    }
    this.incrPath = path.join(this.aofDir, name);
    this.incrFd = fs.openSync(this.incrPath, 'a', 0o644);
    this.incrSize = fs.fstatSync(this.incrFd).size;
    if (changed) writeManifest(this.aofDir, this.appendFilename, m);
    this.manifest = m;
    this.state = AOF_ON;
    this.dbWritten = this.dbPending = -1;
    this.recomputeSizes();
  }

  private fileSize(name: string): number {
    try {
      return fs.statSync(path.join(this.aofDir, name)).size;
    } catch {
      return 0;
    }
  }

  private recomputeSizes(): void {
    const m = this.manifest;
    this.baseSize = m.base ? this.fileSize(m.base.fileName) : 0;
    let other = 0;
    const cur = path.basename(this.incrPath);
    for (const ai of m.incr) if (ai.fileName !== cur || this.incrFd < 0) other += this.fileSize(ai.fileName);
    this.otherIncrBytes = other;
    this.updateSizeStats();
  }

  private updateSizeStats(): void {
    const s = this.log.stats;
    s[STAT_AOF_BASE_SIZE] = this.baseSize;
    s[STAT_AOF_CURRENT_SIZE] = this.baseSize + this.otherIncrBytes + (this.incrFd >= 0 ? this.incrSize : 0);
  }

  // ---- main loop -------------------------------------------------------------------------

  /**
   * The loop, one pass per event-loop turn: lz4-napi frees the buffers it returns from
   * finalizers that Node runs on the event loop, so a thread that never returned to it
   * would keep every frame it ever compressed (measured: RSS grew by a snapshot file per
   * BGSAVE).
   */
  run(): void {
    this.step();
  }

  private readonly stepFn = (): void => this.step();

  private step(): void {
    const log = this.log;
    this.pollControl();
    const now = Date.now();
    if (this.retryAt > now) {
      if (this.stopping) return this.shutdown(); // a stop during disk errors: give up on what is unwritten
      Atomics.wait(this.sleeper, 0, 0, Math.min(100, this.retryAt - now));
      setImmediate(this.stepFn);
      return;
    }
    if (this.retryAt !== 0) this.retryAt = 0; // retry now
    const head = log.head();
    if (head !== this.committed) this.drain(head);
    this.syncByPolicy();
    if (this.stopping && this.retryAt === 0 && log.head() === this.committed) return this.shutdown();
    if (this.retryAt === 0) {
      const token = log.prepareSleep(this.committed);
      if (token !== -1) log.sleep(token, this.sleepMs());
    }
    setImmediate(this.stepFn);
  }

  private sleepMs(): number {
    if (this.policy === 'everysec' && this.dirty) return Math.max(1, this.lastFsync + 1000 - Date.now());
    return 1000;
  }

  private pollControl(): void {
    for (;;) {
      const m = receiveMessageOnPort(this.control);
      if (m === undefined) return;
      const c = m.message as PersistenceControl;
      if (c.type === 'config') {
        if (c.appendfsync) this.policy = c.appendfsync;
        if (c.dir !== undefined) {
          this.dir = c.dir;
          // The AOF directory moves with `dir` only while the AOF is closed (Redis keeps the open fd).
          if (this.state === AOF_OFF) this.aofDir = path.resolve(this.dir, this.appendDirName);
        }
      } else if (c.type === 'fail-writes') {
        this.failWrites = c.n;
        if (c.code) this.failCode = c.code;
      } else if (c.type === 'stop') {
        this.stopping = true;
      }
    }
  }

  /** Handle records from `committed` up to `head`. Stops early (retryAt set) on a failed write. */
  private drain(head: number): void {
    const log = this.log;
    let p = this.committed;
    while (p !== head) {
      const end = log.next(p);
      const kind = log.recKind;
      if (kind === KIND_EFFECT) {
        this.log.stats[STAT_RECORDS]++;
        if (this.incrFd >= 0) {
          const n = log.recEnd - log.recStart;
          if (this.rawLen > 0 && this.rawLen + n > FRAME_TARGET_RAW) {
            if (!this.flushIncr()) return this.log.release(this.committed);
            this.committed = p;
          }
          this.addEffect(log.recDb, log.data, log.recStart, log.recEnd);
        }
      } else if (kind === KIND_SNAPSHOT_CHUNK || kind === KIND_SNAPSHOT_DONE) {
        // Independent of the incr file: no flush needed, but never handle one twice.
        if (!posAtLeast(this.snapHandled, end)) {
          if (kind === KIND_SNAPSHOT_CHUNK) this.snapshotChunk(log.recDb, log.data, log.recStart, log.recEnd);
          else this.snapshotDone(log.recDb, log.data, log.recStart, log.recEnd);
          this.snapHandled = end;
        }
      } else {
        // Control records apply in log order: write the effects before them first.
        if (!this.flushIncr()) return this.log.release(this.committed);
        if (!posAtLeast(this.snapHandled, end)) {
          this.controlRecord(kind, log.recFlags, log.recDb, log.data, log.recStart, log.recEnd, end);
          this.snapHandled = end;
        }
      }
      p = end;
      if (this.rawLen === 0) this.committed = p;
    }
    if (!this.flushIncr()) return this.log.release(this.committed);
    this.committed = head;
    this.log.release(head);
  }

  /** Append an effect (with SELECT when its db differs) to the frame being built. */
  private addEffect(db: number, src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.rawLen + n + 40 > this.raw.length) this.growRaw(this.rawLen + n + 40);
    if (db !== this.dbPending) {
      this.rawLen = writeSelect(this.raw, this.rawLen, db);
      this.dbPending = db;
    }
    src.copy(this.raw, this.rawLen, start, end);
    this.rawLen += n;
  }

  private growRaw(need: number): void {
    let size = this.raw.length;
    while (size < need) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.raw.copy(b, 0, 0, this.rawLen);
    this.raw = b;
  }

  /** Write the pending frame to the incr file. False (and retry later) on a failed write. */
  private flushIncr(): boolean {
    if (this.rawLen === 0 || this.incrFd < 0) {
      this.rawLen = 0;
      return true;
    }
    const body = encodeFrame(this.raw, 0, this.rawLen, this.hdr);
    const total = FRAME_HEADER + body.length;
    try {
      this.writeIncr(this.hdr, body);
    } catch (e) {
      this.writeError(e as NodeJS.ErrnoException);
      // Drop the partial frame from the file so the next attempt appends a clean one.
      try {
        fs.ftruncateSync(this.incrFd, this.incrSize);
      } catch {
        // the next successful write still starts at a frame boundary only if this worked; nothing better to do
      }
      this.rawLen = 0;
      this.dbPending = this.dbWritten;
      // Rescan from `committed` later: snapshot records already handled are skipped (snapHandled).
      return false;
    }
    const s = this.log.stats;
    s[STAT_FRAMES]++;
    s[STAT_BYTES_WRITTEN] += total;
    this.incrSize += total;
    this.updateSizeStats();
    this.dirty = true;
    this.rawLen = 0;
    this.dbWritten = this.dbPending;
    this.writeSucceeded();
    return true;
  }

  private writeSucceeded(): void {
    if (this.writeFailed) {
      this.writeFailed = false;
      this.log.setWriteStatus(true, 0);
      this.post({ type: 'write-ok' });
    }
  }

  private writeIncr(a: Buffer, b: Buffer): void {
    const fd = this.incrFd;
    const total = a.length + b.length;
    if (this.failWrites > 0) {
      this.failWrites--;
      fs.writeSync(fd, a, 0, a.length);
      const e = new Error(`${this.failCode}: injected write failure`) as NodeJS.ErrnoException;
      e.code = this.failCode;
      e.errno = -(ERRNO[this.failCode] ?? 5);
      throw e;
    }
    this.log.stats[STAT_WRITES]++;
    let n = fs.writevSync(fd, [a, b]);
    while (n < total) {
      this.log.stats[STAT_WRITES]++;
      n += n < a.length ? fs.writeSync(fd, a, n, a.length - n) : fs.writeSync(fd, b, n - a.length, total - n);
    }
  }

  private writeError(e: NodeJS.ErrnoException): void {
    const code = e.code ?? 'EIO';
    const errno = Math.abs(e.errno ?? ERRNO[code] ?? 5);
    this.retryAt = Date.now() + this.retryMs;
    this.log.setWriteStatus(false, errno);
    if (!this.writeFailed) {
      this.writeFailed = true;
      this.post({ type: 'write-error', code, errno, message: e.message });
    }
  }

  /** Fsync by policy and publish the durable position. */
  private syncByPolicy(): void {
    if (this.retryAt !== 0) return; // a write failed: nothing new is durable
    const now = Date.now();
    if (this.dirty && (this.policy === 'always' || (this.policy === 'everysec' && now - this.lastFsync >= 1000))) {
      if (!this.fsyncIncr()) return;
    }
    // always: durable = fsynced; everysec/no: durable = written.
    if (this.committed !== this.durablePublished && (this.policy !== 'always' || !this.dirty)) {
      this.durablePublished = this.committed;
      this.log.publishDurable(this.committed);
    }
  }

  private fsyncIncr(): boolean {
    if (this.incrFd < 0) {
      this.dirty = false;
      return true;
    }
    try {
      fs.fdatasyncSync(this.incrFd);
    } catch (e) {
      this.writeError(e as NodeJS.ErrnoException);
      return false;
    }
    const now = Date.now();
    this.log.stats[STAT_FSYNCS]++;
    this.log.stats[STAT_LAST_FSYNC_MS] = now;
    this.lastFsync = now;
    this.dirty = false;
    this.writeSucceeded();
    return true;
  }

  // ---- control records -------------------------------------------------------------------

  private controlRecord(kind: number, flags: number, id: number, src: Buffer, start: number, end: number, pos: number): void {
    switch (kind) {
      case KIND_ROTATE:
        this.rotate(id);
        break;
      case KIND_SNAPSHOT_BEGIN: {
        let b: SnapshotBegin;
        try {
          b = JSON.parse(src.toString('utf8', start, end)) as SnapshotBegin;
        } catch {
          this.post({ type: 'snapshot-failed', id, forRewrite: false, error: 'bad SNAPSHOT_BEGIN record', waitRewrite: false });
          break;
        }
        const snap = this.snapshotBegin(b);
        if ((flags & FLAG_ROTATE) !== 0) this.rotate(b.id);
        // A snapshot with no shard parts (nothing to wait for) ends right here, after the rotation.
        if (snap && snap.shards <= 0 && this.snapshots.get(snap.id) === snap) this.finishSnapshot(snap);
        break;
      }
      case KIND_AOF_ON:
        this.aofOn();
        break;
      case KIND_AOF_OFF:
        this.aofOff();
        break;
      case KIND_SYNC:
        this.fsyncIncr();
        this.post({ type: 'synced', pos });
        break;
      default:
        break; // unknown kinds are skipped (forward compatibility)
    }
  }

  /** openNewIncrAofForAppend: close the current incr file, open the next one, persist the manifest. */
  private rotate(snapshotId: number): void {
    if (this.state === AOF_OFF) {
      this.rewriteKeepSeq.set(snapshotId, this.manifest.currIncrFileSeq + 1);
      return;
    }
    let fd = -1;
    try {
      if (this.state === AOF_WAIT_REWRITE) {
        const p = path.join(this.aofDir, tempIncrFileName(this.appendFilename));
        fd = fs.openSync(p, 'w', 0o644);
        this.switchIncr(fd, p);
      } else {
        const temp = dupManifest(this.manifest);
        const name = newIncrFile(temp, this.appendFilename);
        const p = path.join(this.aofDir, name);
        fd = fs.openSync(p, 'w', 0o644);
        writeManifest(this.aofDir, this.appendFilename, temp);
        this.switchIncr(fd, p);
        this.manifest = temp;
        this.rewriteKeepSeq.set(snapshotId, temp.currIncrFileSeq);
      }
      this.recomputeSizes();
      this.post({ type: 'rotated', file: path.basename(this.incrPath) });
    } catch (e) {
      if (fd >= 0 && fd !== this.incrFd) fs.closeSync(fd);
      // The rewrite that asked for this rotation cannot complete.
      const s = this.snapshots.get(snapshotId);
      if (s) this.failSnapshot(s, `Can't open the append-only file: ${(e as Error).message}`);
    }
  }

  private switchIncr(fd: number, p: string): void {
    if (this.incrFd >= 0) {
      try {
        fs.fdatasyncSync(this.incrFd);
      } catch {
        // Redis fsyncs and closes the old fd in the background and ignores the result
      }
      fs.closeSync(this.incrFd);
    }
    this.incrFd = fd;
    this.incrPath = p;
    this.incrSize = 0;
    this.dirty = false;
    this.dbWritten = this.dbPending = -1; // a new file starts with no db selected
  }

  private closeIncr(): void {
    if (this.incrFd < 0) return;
    try {
      fs.fdatasyncSync(this.incrFd);
    } catch {
      // reported by the next write, if any
    }
    fs.closeSync(this.incrFd);
    this.incrFd = -1;
    this.dirty = false;
  }

  /** appendonly yes at run time: wait for a rewrite (the io thread starts one), as startAppendOnly. */
  private aofOn(): void {
    if (this.state !== AOF_OFF) return;
    this.aofDir = path.resolve(this.dir, this.appendDirName);
    try {
      fs.mkdirSync(this.aofDir, { recursive: true });
      this.manifest = readManifest(this.aofDir, manifestFileName(this.appendFilename)) ?? emptyManifest();
    } catch (e) {
      this.post({ type: 'fatal', error: `AOF manifest: ${(e as Error).message}` });
      this.manifest = emptyManifest();
    }
    this.setState(AOF_WAIT_REWRITE);
  }

  /** appendonly no: stopAppendOnly (flushed before this record), fsync, close; abort a rewrite. */
  private aofOff(): void {
    if (this.state === AOF_OFF) return;
    const waiting = this.state === AOF_WAIT_REWRITE;
    const tempPath = this.incrPath;
    this.closeIncr();
    if (waiting && tempPath) fs.rmSync(tempPath, { force: true });
    this.incrPath = '';
    for (const s of this.snapshots.values()) if (s.forRewrite) this.failSnapshot(s, 'AOF rewrite aborted (appendonly no)');
    this.setState(AOF_OFF);
    this.updateSizeStats();
  }

  private setState(s: number): void {
    this.state = s;
    this.log.setAofState(s);
    this.post({ type: 'aof-state', state: s });
  }

  // ---- snapshots -------------------------------------------------------------------------

  private snapshotBegin(b: SnapshotBegin): Snapshot | null {
    let tmpPath: string;
    let target: string;
    if (b.forRewrite) {
      fs.mkdirSync(this.aofDir, { recursive: true });
      tmpPath = path.join(this.aofDir, `temp-rewriteaof-${b.id}.sabre`);
      target = '';
    } else {
      target = path.resolve(this.dir, b.path ?? 'dump.rdb');
      tmpPath = path.join(path.dirname(target), `temp-${b.id}-${path.basename(target)}`);
    }
    const s: Snapshot = {
      id: b.id, forRewrite: b.forRewrite, shards: b.shards, done: 0, keys: 0, counted: 0, tmpPath, target, fd: -1,
      raw: Buffer.allocUnsafe(FRAME_TARGET_RAW + 4096), rawLen: 0, bytes: 0, startMs: b.nowMs || Date.now(),
    };
    this.snapshots.set(b.id, s);
    try {
      s.fd = fs.openSync(tmpPath, 'w', 0o644);
      const h = snapshotHeader(s.startMs, -1);
      this.snapWriteFrame(s, h, h.length);
    } catch (e) {
      this.failSnapshot(s, (e as Error).message);
      return null;
    }
    return s;
  }

  private snapshotChunk(id: number, src: Buffer, start: number, end: number): void {
    const s = this.snapshots.get(id);
    if (!s) return; // failed or unknown: dropped
    const n = end - start;
    try {
      if (s.rawLen > 0 && s.rawLen + n > FRAME_TARGET_RAW) {
        this.snapWriteFrame(s, s.raw, s.rawLen);
        s.rawLen = 0;
      }
      if (n > s.raw.length) {
        this.snapWriteFrame(s, src.subarray(start, end), n); // one big chunk: a frame of its own
        return;
      }
      src.copy(s.raw, s.rawLen, start, end);
      s.rawLen += n;
    } catch (e) {
      this.failSnapshot(s, (e as Error).message);
    }
  }

  private snapshotDone(id: number, src: Buffer, start: number, end: number): void {
    const s = this.snapshots.get(id);
    if (!s) return;
    s.done++;
    if (end - start >= 8) {
      s.keys += src.readDoubleLE(start);
      s.counted++;
    }
    if (s.done >= s.shards) this.finishSnapshot(s);
  }

  private snapWriteFrame(s: Snapshot, raw: Buffer, len: number): void {
    const body = encodeFrame(raw, 0, len, this.hdr);
    fs.writeSync(s.fd, this.hdr);
    fs.writeSync(s.fd, body);
    s.bytes += FRAME_HEADER + body.length;
  }

  private finishSnapshot(s: Snapshot): void {
    const endMs = Date.now();
    try {
      if (s.rawLen > 0) this.snapWriteFrame(s, s.raw, s.rawLen);
      s.rawLen = 0;
      const e = snapshotEnd(s.counted === s.done ? s.keys : -1);
      this.snapWriteFrame(s, e, e.length);
      fs.fsyncSync(s.fd);
      fs.closeSync(s.fd);
      s.fd = -1;
      if (s.forRewrite) {
        s.target = this.rewriteDone(s);
      } else {
        fs.renameSync(s.tmpPath, s.target);
        fsyncDir(path.dirname(s.target));
      }
    } catch (err) {
      this.failSnapshot(s, (err as Error).message);
      return;
    }
    this.snapshots.delete(s.id);
    this.rewriteKeepSeq.delete(s.id);
    this.post({ type: 'snapshot-done', id: s.id, forRewrite: s.forRewrite, path: s.target, bytes: s.bytes, keys: s.keys, startMs: s.startMs, endMs });
  }

  /** backgroundRewriteDoneHandler: new base, incr files before the cut become history and go away. */
  private rewriteDone(s: Snapshot): string {
    const temp = dupManifest(this.manifest);
    const baseName = newBaseFile(temp, this.appendFilename);
    const basePath = path.join(this.aofDir, baseName);
    fs.renameSync(s.tmpPath, basePath);
    let keepFrom: number;
    let renamedIncr: string | null = null;
    if (this.state === AOF_WAIT_REWRITE && this.incrFd >= 0) {
      const name = newIncrFile(temp, this.appendFilename);
      renamedIncr = path.join(this.aofDir, name);
      fs.renameSync(this.incrPath, renamedIncr);
      keepFrom = temp.currIncrFileSeq;
    } else if (this.state === AOF_ON) {
      keepFrom = this.rewriteKeepSeq.get(s.id) ?? temp.currIncrFileSeq;
    } else {
      keepFrom = temp.currIncrFileSeq + 1; // AOF off (or still waiting without a file): no incr survives
    }
    markIncrAsHistory(temp, keepFrom);
    try {
      writeManifest(this.aofDir, this.appendFilename, temp);
    } catch (e) {
      fs.rmSync(basePath, { force: true });
      if (renamedIncr) fs.renameSync(renamedIncr, this.incrPath);
      throw e;
    }
    this.manifest = temp;
    if (renamedIncr) {
      this.incrPath = renamedIncr;
      this.setState(AOF_ON);
    }
    // aofDelHistoryFiles
    if (temp.history.length > 0) {
      for (const h of temp.history) fs.rmSync(path.join(this.aofDir, h.fileName), { force: true });
      temp.history = [];
      try {
        writeManifest(this.aofDir, this.appendFilename, temp);
      } catch {
        // history deletion failures cause no problems (Redis ignores them too)
      }
    }
    this.recomputeSizes();
    return basePath;
  }

  private failSnapshot(s: Snapshot, error: string): void {
    if (s.fd >= 0) {
      try {
        fs.closeSync(s.fd);
      } catch {
        // already failing
      }
      s.fd = -1;
    }
    fs.rmSync(s.tmpPath, { force: true });
    this.snapshots.delete(s.id);
    this.rewriteKeepSeq.delete(s.id);
    let waitRewrite = false;
    if (s.forRewrite && this.state === AOF_WAIT_REWRITE) {
      // Redis drops the temp incr file and schedules another rewrite.
      waitRewrite = true;
      if (this.incrFd >= 0) {
        const p = this.incrPath;
        this.closeIncr();
        fs.rmSync(p, { force: true });
        this.incrPath = '';
      }
    }
    this.post({ type: 'snapshot-failed', id: s.id, forRewrite: s.forRewrite, error, waitRewrite });
  }

  // ---- stop ------------------------------------------------------------------------------

  private shutdown(): void {
    this.flushIncr();
    this.closeIncr();
    if (this.committed !== this.durablePublished) this.log.publishDurable(this.committed);
    for (const s of [...this.snapshots.values()]) this.failSnapshot(s, 'shutdown');
    this.post({ type: 'stopped' });
    this.control.close();
  }
}

/** `*2\r\n$6\r\nSELECT\r\n$<n>\r\n<db>\r\n` at raw[pos]; returns the new end. */
function writeSelect(raw: Buffer, pos: number, db: number): number {
  pos += raw.write('*2\r\n$6\r\nSELECT\r\n$', pos, 'latin1');
  const digits = db < 10 ? 1 : db < 100 ? 2 : db < 1000 ? 3 : db < 10000 ? 4 : 5;
  raw[pos++] = 0x30 + digits;
  raw[pos++] = 0x0d;
  raw[pos++] = 0x0a;
  for (let i = digits - 1; i >= 0; i--) {
    raw[pos + i] = 0x30 + (db % 10);
    db = Math.floor(db / 10);
  }
  pos += digits;
  raw[pos++] = 0x0d;
  raw[pos++] = 0x0a;
  return pos;
}

/** OP_HEADER entry of native-layout/snapshot.md (same bytes as snapshot.ts encodeSnapshotHeader). */
function snapshotHeader(createdMs: number, keyCount: number): Buffer {
  const b = Buffer.alloc(SNAP_HEADER_BYTES);
  b[0] = OP_HEADER;
  b.write(SNAP_MAGIC, 1, 'latin1');
  b.writeUInt16LE(SNAP_VERSION, 10);
  b.writeDoubleLE(createdMs, 12);
  b.writeDoubleLE(keyCount, 20);
  return b;
}

/** OP_END entry with the number of entries written (-1 unknown). */
function snapshotEnd(keyCount: number): Buffer {
  const b = Buffer.alloc(SNAP_END_BYTES);
  b[0] = OP_END;
  b.writeDoubleLE(keyCount, 1);
  return b;
}

/** A snapshot of an empty dataset: header frame and END frame. */
export function writeEmptySnapshot(file: string): void {
  const hdr = Buffer.allocUnsafe(FRAME_HEADER);
  const h = snapshotHeader(Date.now(), 0);
  const e = snapshotEnd(0);
  const tmp = path.join(path.dirname(file), `temp-${path.basename(file)}`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    let body = encodeFrame(h, 0, h.length, hdr);
    fs.writeSync(fd, hdr);
    fs.writeSync(fd, body);
    body = encodeFrame(e, 0, e.length, hdr);
    fs.writeSync(fd, hdr);
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

if (parentPort && workerData && (workerData as PersistenceWorkerData).sab) {
  let w: PersistenceWorker | null = null;
  try {
    w = new PersistenceWorker(workerData as PersistenceWorkerData);
  } catch (e) {
    parentPort.postMessage({ type: 'fatal', error: (e as Error).message } satisfies PersistenceEvent);
    (workerData as PersistenceWorkerData).control.close();
  }
  if (w) w.run();
}


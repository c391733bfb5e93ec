/**
 * Persistence as the io thread runs it (issue #4): start-up loading, the AOF's effect
 * flow, snapshots (SAVE, BGSAVE, BGREWRITEAOF, save points, SHUTDOWN), appendfsync always
 * acknowledgement, and the INFO persistence fields. The pieces it drives:
 * src/persistence/persistence.ts (the persistence worker and the effect log),
 * src/persistence/effects.ts (this thread's effect sink and snapshot writer),
 * src/persistence/snapshot.ts (fork-less snapshots), src/persistence/aof-reader.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Server } from './server';
import type { Client } from './client';
import type { LocalHandler } from './local-commands';
import { log } from './logger';
import { Persistence } from '../persistence/persistence';
import { ThreadPersistence } from '../persistence/effects';
import { PERSIST_AOF_ON, PERSIST_FSYNC_ALWAYS, createPersistFlags } from '../persistence/flags';
import { posAtLeast } from '../persistence/effect-log';
import { beginSnapshot, snapshotStep } from '../persistence/snapshot';
import { AofReader, FrameFileReader, readManifest, truncateAt } from '../persistence/aof-reader';
import { manifestFileName } from '../persistence/manifest';
import { loadSnapshotEntries } from '../persistence/snapshot';
import { RequestParser, PARSE_ERROR, PARSE_INCOMPLETE } from '../protocol/resp-parser';
import { lookupCommand, lookupSubcommand } from '../commands/table';
import type { Store } from '../store/store';
import { H_SNAPSHOT } from '../../native-layout/arena';

/** Time slice of start-up loading and of inline snapshot steps, ms. */
const SLICE_MS = 20;

type SaveWaiter = (error: string | null) => void;

export class Durability {
  readonly persistence = new Persistence();
  /** Flags every thread reads (AOF on, fsync always). */
  readonly flags = createPersistFlags();
  io!: ThreadPersistence;
  /** Start-up loading in progress (-LOADING), and its progress for INFO. */
  loading = false;
  loadingStart = 0;
  loadingTotalBytes = 0;
  loadingLoadedBytes = 0;
  /** The snapshot in progress, if any, and who waits for it. */
  private snapshotId = 0;
  private snapshotKind: 'save' | 'rewrite' | null = null;
  private waiters: SaveWaiter[] = [];
  private rewritePending = false;
  private bgsavePending = false;
  /** Dirty counter at the last successful save (rdb_changes_since_last_save), and when it was. */
  dirtyAtSave = 0;
  lastSaveTime = Math.floor(Date.now() / 1000);
  lastBgsaveOk = true;
  private dirtyAtCut = 0;
  /** AOF on but only a snapshot file was there to load: the AOF gets a base by a rewrite. */
  private rewriteAfterStart = false;
  /** strerror() of the last AOF write error, for MISCONF. */
  private aofWriteError = 'Input/output error';
  /** When the last snapshot was tried (Redis's lastbgsave_try): failed saves retry after 5 s. */
  private lastBgsaveTry = 0;
  /** appendfsync always: io-thread effects not yet known durable, and clients waiting to be flushed. */
  private ioPending = -1;
  private held = new Set<Client>();
  private waitArmed = false;
  /** Base size at the last rewrite (auto-aof-rewrite-percentage). */
  private aofBaseSize = 0;

  constructor(private readonly srv: Server) {}

  /** Cheap test before writeDeniedError(): could writes be refused at all right now? */
  get mayDenyWrites(): boolean {
    return !this.lastBgsaveOk || (this.aofOn && !this.persistence.log.writeOk());
  }

  get aofOn(): boolean {
    return this.flags[PERSIST_AOF_ON] !== 0;
  }

  private get fsyncAlways(): boolean {
    return this.flags[PERSIST_FSYNC_ALWAYS] !== 0;
  }

  /** Hooks of the io thread (it runs keyspace code inline and in cross-shard transactions). */
  installIoThread(): void {
    const srv = this.srv;
    this.io = new ThreadPersistence(this.persistence.log, 0xffff, true, srv.ctx, () => this.snapshotId);
    srv.executor.sink = this.io.sink;
    srv.executor.snapOut = this.io.snap;
    Atomics.store(this.flags, PERSIST_FSYNC_ALWAYS, srv.cfg.appendfsync === 'always' ? 1 : 0);
  }

  // ---- start-up ---------------------------------------------------------------------------

  /**
   * Load the newest valid state (AOF when appendonly is on, else the snapshot file), then
   * start the persistence worker. Runs in slices so the server answers -LOADING meanwhile.
   */
  async load(store: Store, withParkedShards: (work: () => Promise<void>) => Promise<void>): Promise<void> {
    const cfg = this.srv.cfg;
    const dir = process.cwd();
    this.loading = true;
    this.loadingStart = Math.floor(Date.now() / 1000);
    await withParkedShards(async () => {
      if (cfg.appendonly) await this.loadAof(store, dir);
      else await this.loadSnapshotFile(store, path.resolve(dir, cfg.dbfilename));
    });
    const p = this.persistence;
    await p.start({
      dir, appendonly: cfg.appendonly, appendDirName: cfg.appenddirname, appendFilename: cfg.appendfilename,
      appendfsync: cfg.appendfsync as 'always' | 'everysec' | 'no',
    }, {
      onSnapshotDone: (ev) => this.snapshotEnded(null, ev.forRewrite),
      onSnapshotFailed: (ev) => this.snapshotEnded(ev.error, ev.forRewrite),
      onWriteError: (ev) => {
        this.aofWriteError = strerror(ev.code, ev.message);
        log.warn({ err: ev.message }, 'Error writing to the AOF file');
      },
      onWriteOk: () => log.warn('AOF write error looks solved. Redis can write again.'),
      onFatal: (e) => {
        // Without its persistence worker the server would acknowledge writes it never writes.
        log.fatal({ err: e }, 'Persistence worker failed');
        process.exit(1);
      },
    });
    this.aofBaseSize = p.info().aof_base_size;
    Atomics.store(this.flags, PERSIST_AOF_ON, cfg.appendonly ? 1 : 0);
    this.srv.ctx.propagating = cfg.appendonly;
    cfg.onChange('appendfsync', () => {
      p.setFsyncPolicy(cfg.appendfsync as 'always' | 'everysec' | 'no');
      Atomics.store(this.flags, PERSIST_FSYNC_ALWAYS, cfg.appendfsync === 'always' ? 1 : 0);
    });
    cfg.onChange('appendonly', () => this.setAppendonly(cfg.appendonly));
    // Serving from here: the persistence worker is ready for the effects of writes.
    this.loading = false;
    if (this.rewriteAfterStart) {
      log.info('Creating AOF base file from the loaded snapshot');
      this.startSnapshot('rewrite', null);
    }
  }

  /** Is there a file to load at start-up (so clients should be let in to see -LOADING)? */
  hasDataToLoad(): boolean {
    const cfg = this.srv.cfg, dir = process.cwd();
    const aofDir = path.join(dir, cfg.appenddirname);
    if (cfg.appendonly && fs.existsSync(path.join(aofDir, manifestFileName(cfg.appendfilename)))) return true;
    return fs.existsSync(path.resolve(dir, cfg.dbfilename));
  }

  private async loadAof(store: Store, dir: string): Promise<void> {
    const cfg = this.srv.cfg;
    const aofDir = path.join(dir, cfg.appenddirname);
    const manifest = fs.existsSync(aofDir) ? readManifest(aofDir, manifestFileName(cfg.appendfilename)) : null;
    if (manifest === null) {
      // Redis 7 starts a fresh AOF from the RDB file when there is no AOF yet, then
      // rewrites so that the AOF's base holds what was loaded.
      await this.loadSnapshotFile(store, path.resolve(dir, cfg.dbfilename));
      for (let db = 0; db < store.dbCount; db++) if (store.size(db) > 0) this.rewriteAfterStart = true;
      return;
    }
    const reader = AofReader.fromManifest(aofDir, manifest);
    this.loadingTotalBytes = 0;
    for (const f of [reader.baseFile, ...reader.incrFiles]) if (f !== null && fs.existsSync(f)) this.loadingTotalBytes += fs.statSync(f).size;
    const t0 = Date.now();
    let keys = 0;
    if (reader.baseFile !== null && fs.existsSync(reader.baseFile)) keys += await this.loadSnapshotFrames(store, reader.baseFile);
    const replay = new AofReplay(this.srv, store);
    let frame;
    let deadline = performance.now() + SLICE_MS;
    // Progress in file bytes (loading_total_bytes counts the files): finished files, then the offset.
    let doneFiles = this.loadingLoadedBytes, curFile = '', lastLog = Date.now();
    while ((frame = reader.next()) !== null) {
      replay.feed(frame.data, frame.file);
      if (frame.file !== curFile) {
        if (curFile !== '') doneFiles += fs.statSync(curFile).size;
        curFile = frame.file;
      }
      this.loadingLoadedBytes = doneFiles + frame.offset;
      if (performance.now() > deadline) {
        if (Date.now() - lastLog > 1000) {
          lastLog = Date.now();
          log.info({ file: frame.file, loadedBytes: this.loadingLoadedBytes, totalBytes: this.loadingTotalBytes, commands: replay.commands },
            'Loading the append only file');
        }
        await new Promise((r) => setImmediate(r));
        deadline = performance.now() + SLICE_MS;
      }
    }
    replay.end();
    if (reader.truncatedAt !== null) {
      log.warn({ file: reader.truncatedAt.file, offset: reader.truncatedAt.offset },
        '!!! Warning: short read while loading the AOF file !!! AOF loaded anyway because aof-load-truncated is enabled');
      truncateAt(reader.truncatedAt);
    }
    reader.close();
    log.info({ keys: keys + replay.commands, ms: Date.now() - t0 }, 'DB loaded from append only file');
  }

  private async loadSnapshotFile(store: Store, file: string): Promise<void> {
    if (!fs.existsSync(file)) return;
    this.loadingTotalBytes = fs.statSync(file).size;
    const t0 = Date.now();
    const keys = await this.loadSnapshotFrames(store, file);
    log.info({ keys, ms: Date.now() - t0, file }, 'DB loaded from disk');
  }

  /** Entries of a snapshot file into the store, frame by frame, yielding between slices. */
  private async loadSnapshotFrames(store: Store, file: string): Promise<number> {
    const r = new FrameFileReader(file, false);
    let keys = 0, frame: Buffer | null;
    let deadline = performance.now() + SLICE_MS;
    let lastLog = Date.now();
    try {
      while ((frame = r.next()) !== null) {
        const res = loadSnapshotEntries(store, frame, 0, frame.length, Date.now(), undefined,
          (payload) => this.srv.scripts.replayFunctions(payload));
        keys += res.keys;
        this.loadingLoadedBytes = r.offset;
        if (performance.now() > deadline) {
          if (Date.now() - lastLog > 1000) {
            lastLog = Date.now();
            log.info({ file, loadedBytes: r.offset, totalBytes: this.loadingTotalBytes, keys }, 'Loading the dataset');
          }
          await new Promise((res2) => setImmediate(res2));
          deadline = performance.now() + SLICE_MS;
        }
        if (res.end) break;
      }
    } finally {
      r.close();
    }
    return keys;
  }

  // ---- effects and appendfsync always --------------------------------------------------

  /** Hand the io thread's effects and snapshot chunks to the log (end of a batch, before releasing parked shards). */
  flushIo(): void {
    const io = this.io;
    if (!io.sink.pending && io.snap.out.len === 0) return;
    const pos = io.flush();
    if (this.fsyncAlways && this.aofOn) this.ioPending = pos;
  }

  /**
   * appendfsync always: may this client's output go out now? Not while effects the io
   * thread appended are still on their way to disk: the client is flushed once they are.
   */
  holdOutput(c: Client): boolean {
    if (this.ioPending === -1) return false;
    if (posAtLeast(this.persistence.log.durable(), this.ioPending)) {
      this.ioPending = -1;
      return false;
    }
    this.held.add(c);
    if (!this.waitArmed) {
      this.waitArmed = true;
      const target = this.ioPending;
      void this.persistence.waitDurableAsync(target).then(() => this.releaseHeld());
    }
    return true;
  }

  private releaseHeld(): void {
    this.waitArmed = false;
    if (this.ioPending !== -1 && !posAtLeast(this.persistence.log.durable(), this.ioPending)) {
      // More was appended while waiting: wait for that too.
      this.waitArmed = true;
      void this.persistence.waitDurableAsync(this.ioPending).then(() => this.releaseHeld());
      return;
    }
    this.ioPending = -1;
    const list = [...this.held];
    this.held.clear();
    for (const c of list) this.srv.flushClient(c);
  }

  // ---- snapshots ---------------------------------------------------------------------------

  get snapshotInProgress(): boolean {
    return this.snapshotKind !== null;
  }

  get rewriteInProgress(): boolean {
    return this.snapshotKind === 'rewrite';
  }

  /**
   * Start a snapshot: every shard is cut at one point of the command order (parked), the
   * persistence worker is told where the file goes, then shards serialize between batches.
   * `done` hears the outcome (SAVE waits on it; BGSAVE does not).
   */
  startSnapshot(kind: 'save' | 'rewrite', done: SaveWaiter | null): string | null {
    if (this.snapshotKind !== null) return 'busy';
    const srv = this.srv;
    this.snapshotKind = kind;
    if (kind === 'save') this.lastBgsaveTry = Math.floor(Date.now() / 1000);
    this.snapshotId = (this.snapshotId + 1) & 0xffff || 1;
    if (done) this.waiters.push(done);
    const id = this.snapshotId;
    const cut = (store: Store, release: () => void): void => {
      const now = Date.now();
      const p = this.persistence;
      const n = store.keyspaces.length;
      const pos = kind === 'rewrite' ? p.rewrite(id, n, now) : p.bgsave(id, srv.cfg.dbfilename, n, now);
      if (pos === -1) {
        release();
        this.snapshotEnded('the effect log is full', kind === 'rewrite');
        return;
      }
      for (const ks of store.keyspaces) beginSnapshot(ks, id, now);
      // The function libraries belong to the cut too (Redis's RDB holds them).
      const fns = srv.scripts.functionsDump;
      if (fns !== null) this.io.snap.functions(fns);
      this.dirtyAtCut = srv.ctx.dirty + srv.shardDirty();
      if (kind === 'rewrite') {
        // Effects from here on go to the new incr file that follows the new base.
        Atomics.store(this.flags, PERSIST_AOF_ON, 1);
        srv.ctx.propagating = true;
      }
      release();
      if (srv.pool === null) this.stepInline(store);
    };
    srv.parkAllShards(cut);
    return null;
  }

  /** Inline mode: the io thread serializes the snapshot itself, a slice per event-loop turn. */
  private stepInline(store: Store): void {
    const ks = store.keyspaces[0];
    const step = (): void => {
      if (ks.arena.hdr[H_SNAPSHOT] === 0) return;
      snapshotStep(ks, performance.now() + 2, this.io.snap);
      this.flushIo();
      if (ks.arena.hdr[H_SNAPSHOT] !== 0) setImmediate(step);
    };
    setImmediate(step);
  }

  private snapshotEnded(error: string | null, forRewrite: boolean): void {
    this.snapshotKind = null;
    if (error === null && !forRewrite) {
      this.dirtyAtSave = this.dirtyAtCut;
      this.lastSaveTime = Math.floor(Date.now() / 1000);
      this.lastBgsaveOk = true;
      log.info('Background saving terminated with success');
    } else if (error === null) {
      this.aofBaseSize = this.persistence.info().aof_base_size;
      log.info('Background AOF rewrite finished successfully');
    } else {
      if (!forRewrite) this.lastBgsaveOk = false;
      log.warn({ err: error }, forRewrite ? 'Background AOF rewrite failed' : 'Background saving error');
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(error);
    // A BGREWRITEAOF asked for during a BGSAVE runs now (Redis's aof_rewrite_scheduled).
    if (this.rewritePending) {
      this.rewritePending = false;
      this.startSnapshot('rewrite', null);
    } else if (this.bgsavePending) {
      this.bgsavePending = false;
      this.startSnapshot('save', null);
    }
  }

  /** Run `fn` when the snapshot in progress ends. */
  afterSnapshot(fn: () => void): void {
    this.waiters.push(() => fn());
  }

  get rewriteScheduled(): boolean {
    return this.rewritePending;
  }

  scheduleRewrite(): void {
    this.rewritePending = true;
  }

  scheduleBgsave(): void {
    this.bgsavePending = true;
  }

  /** CONFIG SET appendonly. */
  private setAppendonly(on: boolean): void {
    const p = this.persistence;
    if (!on) {
      Atomics.store(this.flags, PERSIST_AOF_ON, 0);
      this.srv.ctx.propagating = false;
      p.setEnabled(false);
      return;
    }
    if (this.aofOn) return;
    p.setEnabled(true);
    // The AOF starts with a rewrite whose cut switches propagation on (startSnapshot).
    if (this.startSnapshot('rewrite', null) !== null) this.rewritePending = true;
  }

  /** serverCron's persistence part: save points and automatic AOF rewrites. */
  cron(): void {
    if (this.loading || this.snapshotKind !== null) return;
    const cfg = this.srv.cfg;
    const now = Math.floor(Date.now() / 1000);
    const changes = this.srv.ctx.dirty + this.srv.shardDirty() - this.dirtyAtSave;
    for (const [seconds, minChanges] of cfg.save) {
      // After a failed BGSAVE, Redis retries only every CONFIG_BGSAVE_RETRY_DELAY (5 s).
      if (changes >= minChanges && now - this.lastSaveTime > seconds && (this.lastBgsaveOk || now - this.lastBgsaveTry > 5)) {
        log.info({ changes, seconds }, `${minChanges} changes in ${seconds} seconds. Saving...`);
        this.startSnapshot('save', null);
        return;
      }
    }
    if (this.aofOn && cfg.getValue('auto-aof-rewrite-percentage') !== '0') {
      const pct = Number(cfg.getValue('auto-aof-rewrite-percentage'));
      const minSize = Number(cfg.getValue('auto-aof-rewrite-min-size'));
      const size = this.persistence.info().aof_current_size;
      const base = this.aofBaseSize || 1;
      if (size > minSize && ((size - base) * 100) / base >= pct) {
        log.info({ size, base }, 'Starting automatic rewriting of AOF');
        this.startSnapshot('rewrite', null);
      }
    }
  }

  /** MISCONF: writes refused while snapshots or AOF writes fail, as Redis's writeCommandsDeniedByDiskError. */
  writeDeniedError(): string | null {
    const cfg = this.srv.cfg;
    if (!this.lastBgsaveOk && cfg.save.length > 0 && cfg.getValue('stop-writes-on-bgsave-error') === 'yes') {
      return 'MISCONF Redis is configured to save RDB snapshots, but it\'s currently unable to persist to disk. ' +
        'Commands that may modify the data set are disabled, because this instance is configured to report errors ' +
        'during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs ' +
        'for details about the RDB error.';
    }
    if (this.aofOn && !this.persistence.log.writeOk()) {
      return `MISCONF Errors writing to the AOF file: ${this.aofWriteError}`;
    }
    return null;
  }

  /** SHUTDOWN: save if asked (or save points exist), then write and fsync the AOF, and stop the worker. */
  async shutdown(save: boolean): Promise<string | null> {
    if (save && !this.loading) {
      if (this.snapshotKind === 'save') await new Promise<void>((r) => this.waiters.push(() => r()));
      const err = await new Promise<string | null>((resolve) => {
        const busy = this.startSnapshot('save', resolve);
        if (busy !== null) this.waiters.push(resolve);
      });
      if (err !== null) return err;
    }
    this.flushIo();
    await this.persistence.sync();
    await this.persistence.stop();
    return null;
  }
}

/**
 * Replays AOF text into the store on the io thread, like Redis's loadAppendOnlyFiles with
 * its fake client: SELECT switches database; a MULTI block is applied only when its EXEC
 * arrives (an unfinished block at the end is dropped, as Redis reverts it).
 */
class AofReplay {
  private readonly parser = new RequestParser();
  private db = 0;
  private inMulti = false;
  private block: Buffer[] = [];
  private carry: Buffer | null = null;
  commands = 0;

  constructor(private readonly srv: Server, private readonly store: Store) {
    this.parser.maxBulkLen = Number.MAX_SAFE_INTEGER;
  }

  feed(data: Buffer, file: string): void {
    let buf = data;
    if (this.carry !== null) {
      buf = Buffer.concat([this.carry, data]);
      this.carry = null;
    }
    const p = this.parser;
    let pos = 0;
    while (pos < buf.length) {
      const r = p.parse(buf, pos, buf.length);
      if (r === PARSE_INCOMPLETE) {
        this.carry = Buffer.from(buf.subarray(pos));
        return;
      }
      if (r === PARSE_ERROR) throw new Error(`Bad file format reading the append only file ${file}: ${p.error}`);
      const start = pos;
      pos = r;
      if (p.argc === 0) continue;
      const as = p.argStart, ae = p.argEnd;
      if (isWord(buf, as[0], ae[0], 'multi')) {
        this.inMulti = true;
        this.block = [];
        continue;
      }
      if (isWord(buf, as[0], ae[0], 'exec')) {
        this.inMulti = false;
        for (const cmd of this.block) this.runOne(cmd);
        this.block = [];
        continue;
      }
      if (this.inMulti) {
        this.block.push(Buffer.from(buf.subarray(start, pos)));
        continue;
      }
      this.apply(buf, as, ae, p.argc, file);
    }
  }

  private runOne(cmd: Buffer): void {
    const p = new RequestParser();
    p.maxBulkLen = Number.MAX_SAFE_INTEGER;
    p.parse(cmd, 0, cmd.length);
    this.apply(cmd, p.argStart, p.argEnd, p.argc, 'MULTI block');
  }

  private apply(buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, file: string): void {
    if (isWord(buf, as[0], ae[0], 'select')) {
      this.db = Number(buf.toString('latin1', as[1], ae[1]));
      return;
    }
    let spec = lookupCommand(buf, as[0], ae[0]);
    if (spec !== undefined && spec.subcommands !== null && argc >= 2) spec = lookupSubcommand(spec, buf, as[1], ae[1]);
    if (spec === undefined) {
      throw new Error(`Unknown command '${buf.toString('latin1', as[0], ae[0])}' reading the append only file ${file}`);
    }
    this.srv.runLoaded(spec, buf, as, ae, argc, this.db, this.store);
    this.commands++;
  }

  /** End of the AOF: an unfinished MULTI block is dropped. */
  end(): void {
    if (this.inMulti) log.warn('Revert incomplete MULTI/EXEC transaction in AOF file');
    this.inMulti = false;
    this.block = [];
  }
}

/** C's strerror() text for the errors a disk gives, as Redis prints them. */
function strerror(code: string, fallback: string): string {
  switch (code) {
    case 'ENOSPC': return 'No space left on device';
    case 'EROFS': return 'Read-only file system';
    case 'EIO': return 'Input/output error';
    case 'EDQUOT': return 'Disk quota exceeded';
    case 'EACCES': return 'Permission denied';
    case 'EPERM': return 'Operation not permitted';
    case 'EFBIG': return 'File too large';
    default: return fallback;
  }
}

function isWord(buf: Uint8Array, s: number, e: number, lower: string): boolean {
  if (e - s !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) if ((buf[s + k] | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

// ---- the commands ---------------------------------------------------------------------

/** The reply of a command answered later (SAVE waits for its snapshot). */
function later(srv: Server, cl: Client): (error: string | null, ok: string) => void {
  const deliver = srv.deferReply(cl);
  return (error, ok) => deliver((w) => (error === null ? w.simple(ok) : w.error(error)));
}

/** SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE: registered by local-commands.ts (after its own). */
export function registerDurabilityCommands(handlers: Map<string, LocalHandler>): void {
  handlers.set('save', (srv, cl, c) => {
    const d = srv.durability;
    if (d.snapshotInProgress && !d.rewriteInProgress) {
      c.w.error('ERR Background save already in progress');
      return;
    }
    const reply = later(srv, cl);
    // SAVE is synchronous for its client: what it pipelined after SAVE runs once the file is
    // written (other clients are served meanwhile, unlike Redis's blocking SAVE).
    cl.holdInput = true;
    const start = (): void => {
      d.startSnapshot('save', (err) => {
        reply(err === null ? null : 'ERR', 'OK');
        cl.holdInput = false;
        srv.resumeInput(cl);
      });
    };
    // An AOF rewrite is running: the save follows it.
    if (d.snapshotInProgress) d.afterSnapshot(start);
    else start();
  });

  handlers.set('bgsave', (srv, _cl, c) => {
    const d = srv.durability;
    let schedule = false;
    if (c.argc > 1) {
      if (c.argc === 2 && c.argIs(1, 'schedule')) schedule = true;
      else {
        c.w.error('ERR syntax error');
        return;
      }
    }
    if (d.snapshotInProgress && !d.rewriteInProgress) {
      c.w.error('ERR Background save already in progress');
    } else if (d.snapshotInProgress) {
      if (schedule) {
        d.scheduleBgsave();
        c.w.simple('Background saving scheduled');
      } else {
        c.w.error('ERR Another child process is active (AOF?): can\'t BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.');
      }
    } else {
      d.startSnapshot('save', null);
      c.w.simple('Background saving started');
    }
  });

  handlers.set('bgrewriteaof', (srv, _cl, c) => {
    const d = srv.durability;
    if (d.rewriteInProgress) {
      c.w.error('ERR Background append only file rewriting already in progress');
    } else if (d.snapshotInProgress) {
      d.scheduleRewrite();
      c.w.simple('Background append only file rewriting scheduled');
    } else {
      d.startSnapshot('rewrite', null);
      c.w.simple('Background append only file rewriting started');
    }
  });

  handlers.set('lastsave', (srv, _cl, c) => {
    c.w.integer(srv.durability.lastSaveTime);
  });
}

/** INFO persistence, in Redis 7.0's field order. */
export function persistenceInfo(srv: Server): string[] {
  const d = srv.durability;
  const st = d.persistence.info();
  const changes = srv.ctx.dirty + srv.shardDirty() - d.dirtyAtSave;
  const lines = [
    `loading:${d.loading ? 1 : 0}`,
    'async_loading:0',
    'current_cow_peak:0',
    'current_cow_size:0',
    'current_cow_size_age:0',
    'current_fork_perc:0.00',
    'current_save_keys_processed:0',
    'current_save_keys_total:0',
    `rdb_changes_since_last_save:${changes}`,
    `rdb_bgsave_in_progress:${d.snapshotInProgress && !d.rewriteInProgress ? 1 : 0}`,
    `rdb_last_save_time:${d.lastSaveTime}`,
    `rdb_last_bgsave_status:${d.lastBgsaveOk ? 'ok' : 'err'}`,
    `rdb_last_bgsave_time_sec:${st.rdb_last_bgsave_time_sec}`,
    `rdb_current_bgsave_time_sec:${st.rdb_current_bgsave_time_sec}`,
    `rdb_saves:${st.rdb_saves}`,
    'rdb_last_cow_size:0',
    'rdb_last_load_keys_expired:0',
    'rdb_last_load_keys_loaded:0',
    `aof_enabled:${d.aofOn ? 1 : 0}`,
    `aof_rewrite_in_progress:${d.rewriteInProgress ? 1 : 0}`,
    `aof_rewrite_scheduled:${d.rewriteScheduled ? 1 : 0}`,
    `aof_last_rewrite_time_sec:${st.aof_last_rewrite_time_sec}`,
    `aof_current_rewrite_time_sec:${st.aof_current_rewrite_time_sec}`,
    `aof_last_bgrewrite_status:${st.aof_last_bgrewrite_status}`,
    `aof_rewrites:${st.aof_rewrites}`,
    'aof_rewrites_consecutive_failures:0',
    `aof_last_write_status:${st.aof_last_write_status}`,
    'aof_last_cow_size:0',
    'module_fork_in_progress:0',
    'module_fork_last_cow_size:0',
  ];
  if (d.aofOn) {
    lines.push(
      `aof_current_size:${st.aof_current_size}`,
      `aof_base_size:${st.aof_base_size}`,
      'aof_pending_rewrite:0',
      `aof_buffer_length:${st.aof_buffer_length}`,
      'aof_pending_bio_fsync:0',
      `aof_delayed_fsync:${st.aof_delayed_fsync}`,
    );
  }
  if (d.loading) {
    const elapsed = Date.now() / 1000 - d.loadingStart;
    const perc = d.loadingTotalBytes > 0 ? (d.loadingLoadedBytes / d.loadingTotalBytes) * 100 : 0;
    const eta = d.loadingLoadedBytes > 0 ? Math.floor(((d.loadingTotalBytes - d.loadingLoadedBytes) * elapsed) / d.loadingLoadedBytes) : 1;
    lines.push(
      `loading_start_time:${d.loadingStart}`,
      `loading_total_bytes:${d.loadingTotalBytes}`,
      `loading_rdb_used_mem:0`,
      `loading_loaded_bytes:${d.loadingLoadedBytes}`,
      `loading_loaded_perc:${perc.toFixed(2)}`,
      `loading_eta_seconds:${eta}`,
    );
  }
  return lines;
}

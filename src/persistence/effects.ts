/**
 * A thread's effect sink: the deterministic effects of the writes this thread runs, as
 * Redis AOF text (RESP commands), gathered during a batch and appended to the shared
 * effect log in one record by flush() (src/persistence/effect-log.ts). A record starts in
 * the database in its header; a change of database inside it is an explicit SELECT, and
 * the record switches back before it ends, so the persistence worker's idea of the
 * current database stays right. A block of several effects that must replay together
 * (EXEC, a command that propagates several commands) is wrapped in MULTI/EXEC.
 */
import { KIND_EFFECT, KIND_SNAPSHOT_CHUNK, KIND_SNAPSHOT_DONE } from '../../native-layout/effect-log';
import { NOTIFY_EXPIRED } from '../commands/context';
import type { ExecContext, PropagatedArgv } from '../commands/context';
import type { EffectLog } from './effect-log';
import { Keyspace } from '../store/keyspace';
import { SnapshotWriter, installSnapshotSink } from './snapshot';

/** Flush before a record grows past this (the log takes records up to half its size). */
const FLUSH_AT = 1 << 20;

const MULTI = Buffer.from('*1\r\n$5\r\nMULTI\r\n');
const EXEC = Buffer.from('*1\r\n$4\r\nEXEC\r\n');

export class EffectSink {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private len = 0;
  /** Database of the record's header, and the one its last command runs in (-1: empty record). */
  private headDb = -1;
  private curDb = -1;
  /** Inside MULTI..EXEC: MULTI is written at the first effect, EXEC only if MULTI was. */
  private multiDepth = 0;
  private multiOpen = false;
  /** Log position after the last record this sink appended (-1: none yet). */
  lastPos = -1;

  /**
   * `spinWhenFull`: the io thread must not sleep; when the log is full it retries (the
   * persistence worker is draining it) instead of Atomics.wait.
   */
  constructor(private readonly log: EffectLog, private readonly shardId: number, private readonly spinWhenFull: boolean) {}

  get pending(): boolean {
    return this.len > 0;
  }

  /** A write command's own argv. */
  command(db: number, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): void {
    this.select(db);
    this.header(argc);
    for (let i = 0; i < argc; i++) this.bulk(buf, as[i], ae[i]);
    this.afterCommand();
  }

  /** What a handler propagates instead of itself (wrapped in MULTI/EXEC when several). */
  replacement(db: number, cmds: PropagatedArgv[]): void {
    if (cmds.length === 0) return;
    const wrap = cmds.length > 1;
    if (wrap) this.beginMulti();
    for (const argv of cmds) {
      this.select(db);
      this.header(argv.length);
      for (const a of argv) {
        if (typeof a === 'string') this.bulkString(a);
        else if (typeof a === 'number') this.bulkString(String(a));
        else this.bulk(a, 0, a.length);
      }
      this.afterCommand();
    }
    if (wrap) this.endMulti();
  }

  /** DEL of a key removed by expiry (or eviction), as Redis propagates it. */
  del(db: number, key: Uint8Array, ks: number, ke: number): void {
    this.select(db);
    this.header(2);
    this.bulkString('DEL');
    this.bulk(key, ks, ke);
    this.afterCommand();
  }

  /** Effects until endMulti() replay together (nested calls join the outer block). */
  beginMulti(): void {
    this.multiDepth++;
  }

  endMulti(): void {
    if (--this.multiDepth > 0) return;
    if (this.multiOpen) {
      this.raw(EXEC);
      this.multiOpen = false;
    }
  }

  /**
   * Append what was gathered to the log as one record; returns the position after it
   * (or lastPos when there was nothing). Never splits an open MULTI block.
   */
  flush(): number {
    if (this.len === 0 || this.multiDepth > 0) return this.lastPos;
    if (this.curDb !== this.headDb) this.selectCommand(this.headDb);
    const log = this.log;
    let pos: number;
    if (this.spinWhenFull) {
      // Only when the disk is behind by a whole log; the worker frees space as it writes.
      while ((pos = log.append(KIND_EFFECT, 0, this.headDb, this.shardId, this.buf, 0, this.len)) === -1) { /* spin */ }
    } else {
      pos = log.appendWait(KIND_EFFECT, 0, this.headDb, this.shardId, this.buf, 0, this.len);
    }
    this.len = 0;
    this.headDb = -1;
    this.curDb = -1;
    this.lastPos = pos;
    return pos;
  }

  // ---- RESP writing ---------------------------------------------------------------------

  private select(db: number): void {
    if (this.multiDepth > 0 && !this.multiOpen) {
      if (this.headDb === -1) this.headDb = this.curDb = db;
      if (this.curDb !== db) this.selectCommand(db);
      this.raw(MULTI);
      this.multiOpen = true;
      return;
    }
    if (this.headDb === -1) {
      this.headDb = this.curDb = db;
      return;
    }
    if (this.curDb !== db) this.selectCommand(db);
  }

  private selectCommand(db: number): void {
    this.header(2);
    this.bulkString('SELECT');
    this.bulkString(String(db));
    this.curDb = db;
  }

  private afterCommand(): void {
    if (this.len >= FLUSH_AT && this.multiDepth === 0) this.flush();
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private raw(b: Buffer): void {
    this.ensure(b.length);
    this.len += b.copy(this.buf, this.len);
  }

  private header(argc: number): void {
    this.ensure(16);
    this.buf[this.len++] = 0x2a; // '*'
    this.decimal(argc);
  }

  private bulk(src: Uint8Array, s: number, e: number): void {
    const n = e - s;
    this.ensure(n + 16);
    const b = this.buf;
    b[this.len++] = 0x24; // '$'
    this.decimal(n);
    if (n < 32) for (let i = 0; i < n; i++) b[this.len + i] = src[s + i];
    else b.set(src.subarray(s, e), this.len);
    this.len += n;
    b[this.len++] = 0x0d;
    b[this.len++] = 0x0a;
  }

  private bulkString(str: string): void {
    const n = Buffer.byteLength(str, 'latin1');
    this.ensure(n + 16);
    this.buf[this.len++] = 0x24;
    this.decimal(n);
    this.len += this.buf.write(str, this.len, 'latin1');
    this.buf[this.len++] = 0x0d;
    this.buf[this.len++] = 0x0a;
  }

  /** A non-negative integer then CRLF (lengths and counts). */
  private decimal(v: number): void {
    const b = this.buf;
    if (v < 10) {
      b[this.len++] = 0x30 + v;
    } else {
      const start = this.len;
      while (v > 0) {
        b[this.len++] = 0x30 + (v % 10);
        v = Math.floor(v / 10);
      }
      for (let i = start, j = this.len - 1; i < j; i++, j--) {
        const t = b[i];
        b[i] = b[j];
        b[j] = t;
      }
    }
    b[this.len++] = 0x0d;
    b[this.len++] = 0x0a;
  }
}

/**
 * Persistence on one thread that runs keyspace code (a shard worker, or the io thread):
 * its effect sink, its snapshot writer (chunks and completion go to the same log), and the
 * keyspace hooks that feed them: expired keys become DEL effects, and their buckets go
 * into an active snapshot before they change.
 */
export class ThreadPersistence {
  readonly sink: EffectSink;
  readonly snap: SnapshotWriter;

  constructor(readonly log: EffectLog, shardId: number, isIoThread: boolean, ctx: ExecContext,
    snapshotIdOf: (ks: Keyspace | null) => number) {
    this.sink = new EffectSink(log, shardId, isIoThread);
    const append = (kind: number, id: number, buf: Uint8Array, s: number, e: number): void => {
      if (!isIoThread) log.appendWait(kind, 0, id, shardId, buf, s, e);
      else while (log.append(kind, 0, id, shardId, buf, s, e) === -1) { /* the worker is draining it */ }
    };
    this.snap = new SnapshotWriter(
      (buf, s, e) => append(KIND_SNAPSHOT_CHUNK, snapshotIdOf(null), buf, s, e),
      (_ks, id) => append(KIND_SNAPSHOT_DONE, id, EMPTY, 0, 0),
    );
    const sink = this.sink;
    // An expired key: DEL in the AOF, and the "expired" keyspace event.
    Keyspace.expireHook = (ks, db, addr) => {
      const ko = ks.keyOffset(addr), u8 = ks.u8(addr), ke = ko + ks.keyLen(addr);
      if (ctx.propagating) sink.del(db, u8, ko, ke);
      ctx.notify(NOTIFY_EXPIRED, 'expired', u8, ko, ke, db);
    };
    installSnapshotSink(this.snap);
  }

  /** Hand everything gathered to the log; the position after it (or the last one). */
  flush(): number {
    this.snap.flush();
    return this.sink.flush();
  }
}

const EMPTY = new Uint8Array(0);

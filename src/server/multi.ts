/**
 * MULTI / EXEC / DISCARD / WATCH / UNWATCH (Redis's multi.c), on the io thread.
 *
 * Queued commands keep a copy of their arguments. EXEC runs the whole block on the io
 * thread: inline it runs at once; with shard workers every shard the block (or a watched
 * key) lives on is parked first, so no other client sees a state between two of its
 * commands, and the WATCH check sees every write ordered before the EXEC.
 *
 * WATCH: a key is dirty when a write command that changed the dataset names it (touches
 * are settled when the write's reply says it changed something), or when it was alive at
 * WATCH and is gone or expired at EXEC (expiry, eviction, FLUSHDB/FLUSHALL), as Redis 7.0's
 * touchWatchedKey / isWatchedKeyExpired decide.
 */
import type { Server } from './server';
import type { Client } from './client';
import { localHandlers } from './local-commands';
import { ExecContext, saveArgs } from '../commands/context';
import {
  CMD_MAY_REPLICATE, CMD_WRITE, CommandSpec, getKeyPositions,
} from '../commands/table';
import type { Store } from '../store/store';
import { parseInt64, parsed } from '../util/numbers';
import { keyHashSlot } from '../util/crc16';
import { replyNotBlocking } from '../commands/blocking';

/** A command queued between MULTI and EXEC, with its own copy of the arguments. */
export interface QueuedCommand {
  spec: CommandSpec;
  buf: Buffer;
  argStart: Int32Array;
  argEnd: Int32Array;
  argc: number;
  /** The database it ran in (set by EXEC for writes, for waking blocked clients). */
  db: number;
}

/** The transaction a client is building (Redis's multiState). */
export class MultiState {
  readonly commands: QueuedCommand[] = [];
  /** A command was refused while queueing: EXEC answers EXECABORT (CLIENT_DIRTY_EXEC). */
  aborted = false;
  /** A script command is queued: the block runs through the script host (src/server/scripting.ts). */
  hasScript = false;
  /** Union of the queued commands' flags (EXEC is postponed by CLIENT PAUSE WRITE if it writes). */
  flags = 0;
  /** Holds an io-thread command (SELECT, HELLO, CLIENT ...) that may change the connection's state. */
  hasLocal = false;
}

/**
 * The keys one WATCH..EXEC span watches. EXEC takes it off the client when dispatched
 * (later WATCHes in the same pipeline start a new set) and checks it once its shards are parked.
 */
export class WatchSet {
  readonly keys: WatchedKey[] = [];
  /** A watched key was touched (Redis's CLIENT_DIRTY_CAS). */
  dirty = false;
}

/** Watched keys a write in flight names, and its dispatch number. */
export interface PendingTouch {
  op: number;
  ids: string[];
}

/** One key a client watches. */
export interface WatchedKey {
  db: number;
  key: Buffer;
  /** db + NUL + key in latin1: the watch table's index. */
  id: string;
  /** Existed and was not expired at WATCH time (Redis's !wk->expired for existing keys). */
  alive: boolean;
  /** Dispatch number of the WATCH: only writes dispatched after it touch the key. */
  since: number;
  set: WatchSet;
}

export const EXECABORT = 'EXECABORT Transaction discarded because of previous errors.';

/**
 * Who watches which key, and the touches of writes still in flight to shard workers
 * (settled when their reply says whether they changed the dataset).
 */
export class WatchTable {
  private readonly byKey = new Map<string, WatchedKey[]>();
  private keyPos = new Int32Array(64);

  get active(): boolean {
    return this.byKey.size !== 0;
  }

  add(wk: WatchedKey): void {
    const list = this.byKey.get(wk.id);
    if (list === undefined) this.byKey.set(wk.id, [wk]);
    else list.push(wk);
    wk.set.keys.push(wk);
  }

  /** UNWATCH, DISCARD, RESET and disconnect: forget the client's current watch set. */
  unwatchAll(cl: Client): void {
    const ws = cl.watching;
    cl.watching = null;
    if (ws !== null) this.remove(ws);
  }

  /** Stop tracking a watch set (EXEC is done with it). */
  remove(ws: WatchSet): void {
    for (const wk of ws.keys) {
      const list = this.byKey.get(wk.id);
      if (list === undefined) continue;
      const i = list.indexOf(wk);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byKey.delete(wk.id);
    }
  }

  /**
   * A write dispatched as number `op` changed key id: dirty every watch set that watched it
   * before (writes still in flight when a later WATCH was dispatched come before it in order).
   */
  touchId(id: string, op: number): void {
    const list = this.byKey.get(id);
    if (list === undefined) return;
    for (const wk of list) if (op > wk.since) wk.set.dirty = true;
  }

  /** Touch every watched key of a database (SWAPDB: its keys change wholesale). */
  touchDb(db: number, op: number): void {
    const prefix = `${db}\0`;
    for (const [id, list] of this.byKey) if (id.startsWith(prefix)) for (const wk of list) if (op > wk.since) wk.set.dirty = true;
  }

  /**
   * The watched keys a write command names (its key specs; MOVE's and COPY .. DB's
   * destination database too), or null. Allocates only when something is watched.
   */
  watchedKeysOf(db: number, spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number, op: number): string[] | null {
    const name = spec.name;
    if (name === 'swapdb') {
      // Touched at once: the swap changes every key of both databases.
      if (argc === 3) for (let i = 1; i <= 2; i++) if (parseInt64(buf, as[i], ae[i])) this.touchDb(parsed.int, op);
      return null;
    }
    if (this.keyPos.length < argc) this.keyPos = new Int32Array(argc * 2);
    const n = getKeyPositions(spec, argc, buf, as, ae, this.keyPos);
    let hit: string[] | null = null;
    for (let i = 0; i < n; i++) {
      const k = this.keyPos[i];
      const key = latin1(buf, as[k], ae[k]);
      hit = this.collect(hit, `${db}\0${key}`);
      if (name === 'move' && argc === 3 && parseInt64(buf, as[2], ae[2])) hit = this.collect(hit, `${parsed.int}\0${key}`);
      if (name === 'copy' && i === 1) {
        for (let j = 3; j < argc - 1; j++) {
          if (isWord(buf, as[j], ae[j], 'db') && parseInt64(buf, as[j + 1], ae[j + 1])) hit = this.collect(hit, `${parsed.int}\0${key}`);
        }
      }
    }
    return hit;
  }

  private collect(hit: string[] | null, id: string): string[] | null {
    if (!this.byKey.has(id)) return hit;
    (hit ??= []).push(id);
    return hit;
  }

  /** A write ran here (inline, EXEC, cross-shard transaction): touch its keys if it changed anything. */
  touchCommand(db: number, spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number, op: number): void {
    const hit = this.watchedKeysOf(db, spec, buf, as, ae, argc, op);
    if (hit !== null) for (const id of hit) this.touchId(id, op);
  }

  /** A write goes to a shard worker: remember its watched keys until its reply says whether it changed anything. */
  stage(cl: Client, seq: number, db: number, spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number, op: number): void {
    const hit = this.watchedKeysOf(db, spec, buf, as, ae, argc, op);
    if (hit !== null) (cl.pendingTouch ??= new Map()).set(seq, { op, ids: hit });
  }

  /** The reply of a staged write arrived: touch its keys if the dataset changed. */
  settle(cl: Client, seq: number, changed: boolean): void {
    const pending = cl.pendingTouch;
    if (pending === null) return;
    const hit = pending.get(seq);
    if (hit === undefined) return;
    pending.delete(seq);
    if (pending.size === 0) cl.pendingTouch = null;
    if (changed) for (const id of hit.ids) this.touchId(id, hit.op);
  }
}

function latin1(buf: Uint8Array, s: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
}

function isWord(buf: Uint8Array, s: number, e: number, lower: string): boolean {
  if (e - s !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) if ((buf[s + k] | 0x20) !== lower.charCodeAt(k)) return false;
  return true;
}

/** Is the key present and not expired (keyIsExpired's view; no deletion, no LRU touch)? */
export function keyAlive(store: Store, db: number, key: Uint8Array, now: number): boolean {
  const ks = store.ks(key, 0, key.length);
  const rec = ks.find(db, key, 0, key.length, ks.hash(key, 0, key.length));
  if (rec === 0) return false;
  return !ks.hasExpire(rec) || ks.expireAt(rec) > now;
}

/** Queue a command inside MULTI (the dispatcher already checked it exists, its arity and auth). */
export function queueCommand(cl: Client, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
  const m = cl.multi!;
  const saved = saveArgs(buf, as, ae, argc);
  m.commands.push({ spec, buf: saved.buf, argStart: saved.argStart, argEnd: saved.argEnd, argc, db: 0 });
  m.flags |= spec.flags;
}

/** EXEC postponed by CLIENT PAUSE WRITE when the block writes (Redis's is_may_replicate_command). */
export function execWrites(cl: Client): boolean {
  return cl.multi !== null && (cl.multi.flags & (CMD_WRITE | CMD_MAY_REPLICATE)) !== 0;
}

/**
 * WATCH's keys, registered at once (so an EXEC later in the same pipeline checks them);
 * returns the new entries, whose `alive` is settled by settleAlive where the store is readable.
 */
export function watchKeys(srv: Server, cl: Client, c: ExecContext): WatchedKey[] {
  const added: WatchedKey[] = [];
  for (let i = 1; i < c.argc; i++) {
    const key = c.argBytes(i);
    const id = `${cl.db}\0${key.toString('latin1')}`;
    if (cl.watching !== null && cl.watching.keys.some((wk) => wk.id === id)) continue;
    const wk: WatchedKey = { db: cl.db, key, id, alive: false, since: srv.opSeq, set: (cl.watching ??= new WatchSet()) };
    srv.watch.add(wk);
    added.push(wk);
  }
  return added;
}

/** Note whether each newly watched key exists and is not expired (Redis's watchForKey expired flag). */
export function settleAlive(keys: WatchedKey[], store: Store): void {
  const now = Date.now();
  for (const wk of keys) wk.alive = keyAlive(store, wk.db, wk.key, now);
}

/** Has any watched key changed since WATCH (touched, or alive then and gone or expired now)? */
export function watchedKeysChanged(ws: WatchSet, store: Store): boolean {
  if (ws.dirty) return true;
  const now = Date.now();
  for (const wk of ws.keys) if (wk.alive && !keyAlive(store, wk.db, wk.key, now)) return true;
  return false;
}

/** The shards EXEC must hold parked: every shard its commands or its watched keys live on. */
export function execShardMask(srv: Server, m: MultiState, ws: WatchSet | null): number {
  let mask = 0;
  const table = srv.slotTable;
  if (ws !== null) for (const wk of ws.keys) mask |= 1 << table[keyHashSlot(wk.key, 0, wk.key.length)];
  if (!m.aborted) for (const q of m.commands) mask |= srv.commandShardMask(q.spec, q.buf, q.argStart, q.argEnd, q.argc);
  return mask;
}

/** Blocking commands inside EXEC answer as if they timed out at once (Redis's CLIENT_DENY_BLOCKING). */
/**
 * One command of an EXEC block on the io thread (srv.ctx.store already set), its reply
 * appended to the io writer: blocking commands answer at once, WATCHed keys of a write are
 * touched. True when it was a write that changed data (q.db then holds its database).
 */
export function runQueuedCommand(srv: Server, cl: Client, q: QueuedCommand, db: number, resp: 2 | 3, op: number): boolean {
  const c = srv.ctx, w = srv.w;
  c.buf = q.buf;
  c.argStart = q.argStart;
  c.argEnd = q.argEnd;
  c.argc = q.argc;
  c.db = db;
  c.now = Date.now();
  c.retry = false;
  w.resp = resp;
  const start = w.len;
  const dirty0 = c.dirty;
  const t0 = performance.now();
  srv.runQueued(cl, q.spec);
  if (c.blocked) {
    c.blocked = false;
    w.len = start;
    replyNotBlocking(c, q.spec.name);
  }
  srv.accountCommand(q.spec.id, (performance.now() - t0) * 1000, w.buf, start, w.len);
  if (c.dirty === dirty0) return false;
  if (srv.watch.active) srv.watch.touchCommand(c.db, q.spec, q.buf, q.argStart, q.argEnd, q.argc, op);
  if ((q.spec.flags & CMD_WRITE) === 0) return false;
  q.db = c.db;
  return true;
}

/**
 * EXEC proper, writing its whole reply to the io writer: EXECABORT, a null array when a
 * watched key changed, or every queued command's reply. The store must be safe to use
 * (inline, or every involved shard parked).
 */
export function execMulti(srv: Server, cl: Client, store: Store, m: MultiState, ws: WatchSet | null, op: number,
  db: number, resp: 2 | 3): void {
  const c = srv.ctx, w = srv.w;
  if (ws !== null) srv.watch.remove(ws);
  if (m.aborted) {
    w.error(EXECABORT);
    return;
  }
  if (ws !== null && watchedKeysChanged(ws, store)) {
    w.nullArray();
    return;
  }
  w.arrayHeader(m.commands.length);
  const savedStore = c.store;
  c.store = store;
  let writes: QueuedCommand[] | null = null;
  // The block's effects replay together: MULTI .. EXEC around them in the AOF.
  const sink = c.propagating ? srv.executor.sink : null;
  sink?.beginMulti();
  // The connection's db and protocol as of the EXEC: a later pipelined SELECT or HELLO may
  // already have run; a block that changes them itself held the client's input (Server.exec).
  for (const q of m.commands) {
    if (runQueuedCommand(srv, cl, q, db, resp, op)) (writes ??= []).push(q);
    if (m.hasLocal) {
      db = cl.db;
      resp = cl.resp;
    }
  }
  sink?.endMulti();
  c.store = savedStore;
  w.resp = resp;
  // Clients blocked on keys the block wrote get their turn after it, as after any write.
  if (writes !== null && srv.blocking.active) {
    for (const q of writes) srv.blocking.signalCommandKeys(q.db, q.spec, q.buf, q.argStart, q.argEnd, q.argc);
  }
}

// ---- the commands ---------------------------------------------------------------------

localHandlers.set('multi', (_srv, cl, c) => {
  if (cl.multi !== null) {
    c.w.error('ERR MULTI calls can not be nested');
    return;
  }
  cl.multi = new MultiState();
  c.w.ok();
});

localHandlers.set('discard', (srv, cl, c) => {
  if (cl.multi === null) {
    c.w.error('ERR DISCARD without MULTI');
    return;
  }
  cl.multi = null;
  srv.watch.unwatchAll(cl);
  c.w.ok();
});

localHandlers.set('exec', (srv, cl, c, spec) => {
  if (cl.multi === null) {
    c.w.error('ERR EXEC without MULTI');
    return;
  }
  srv.exec(cl, c, spec);
});

localHandlers.set('watch', (srv, cl, c, spec) => {
  if (cl.multi !== null) {
    c.w.error('ERR WATCH inside MULTI is not allowed');
    return;
  }
  srv.watchCommand(cl, c, spec);
});

localHandlers.set('unwatch', (srv, cl, c) => {
  srv.watch.unwatchAll(cl);
  c.w.ok();
});

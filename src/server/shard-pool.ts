/**
 * The io thread's side of the shard workers: starts them, puts command records in
 * their request rings (published once per batch), polls their reply rings while
 * commands are outstanding and parks on Atomics.waitAsync when idle, re-orders
 * replies per connection, and coordinates cross-shard transactions: every involved
 * shard parks at its barrier, the io thread runs the command over their arenas, then
 * releases them (DESIGN.md, "Cross-shard commands").
 */
import * as path from 'node:path';
import { MessageChannel, MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { Ring } from '../shard/ring';
import { Arena } from '../store/arena';
import { Keyspace } from '../store/keyspace';
import { Store } from '../store/store';
import type { Client } from './client';
import type { Server } from './server';
import type { CommandSpec } from '../commands/table';
import { saveArgs } from '../commands/context';
import { log } from './logger';
import { H_BARRIER } from '../../native-layout/arena';
import {
  FLAG_LARGE, FLAG_NO_REPLY, FLAG_REPORT_WRITES, FLAG_RETRY, KIND_COMMAND, KIND_CONTROL, KIND_PARK, REPLY_CONTROL, REPLY_DATA, REPLY_LARGE,
  REPLY_BLOCKED, REPLY_DIRTY, REPLY_EVENT, REPLY_KIND_MASK, REPLY_PARKED, REPLY_SLOWLOG, REPLY_WRITES, REP_DATA, REQ_ARGC, REQ_ARGS, RING_DEFAULT_CAPACITY, RING_LARGE_DIVISOR, RING_WAKE,
} from '../../native-layout/ring';
import { SHARD_SETTING_NAMES } from '../shard/settings';
import { decodeArgv } from './slowlog-argv';
import { EVENTS_PUBLISH, EVENTS_TRACK, publishShardEvents } from './notifications';
import { MEM_SLOT_WORDS } from '../store/evict';
import { SCRIPT_STATE_BYTES, SHARD_RUNNING_CMD_BYTES, ScriptStateView } from '../scripting/lua-engine';

/** io thread keeps polling this long (ms) after the last reply before it parks. */
const SPIN_MS = 0.05;
/** Insurance timeout of a parked io thread (ms). */
const PARK_TIMEOUT_MS = 20;

interface Transaction {
  id: number;
  client: Client;
  seq: number;
  silent: boolean;
  spec: CommandSpec;
  buf: Buffer;
  argStart: Int32Array;
  argEnd: Int32Array;
  argc: number;
  db: number;
  resp: 2 | 3;
  shards: number[];
  parked: number;
  retry: boolean;
  /** Runs instead of the command itself (EXEC, WATCH): writes the reply to the io writer. */
  onRun: (() => void) | null;
  /**
   * Transactions that came right after this one, over some of its shards, with nothing sent
   * to any shard in between: they run under its park, in order, before the release.
   */
  followers: Transaction[] | null;
}

/** Transactions run under one park at most (the shards wait meanwhile). */
const MAX_FOLLOWERS = 128;

export class ShardPool {
  readonly n: number;
  private readonly server: Server;
  private workers: Worker[] = [];
  private req: Ring[] = [];
  private rep: Ring[] = [];
  private side: MessagePort[] = [];
  readonly arenas: Arena[] = [];
  readonly keyspaces: Keyspace[] = [];
  allStore!: Store;
  private dirty: boolean[];
  /** Records (encoded) waiting for ring space, per shard: order is kept behind them. */
  private overflow: Buffer[][];
  private overflowCount = 0;
  private paused: Client[] = [];
  private outstanding = 0;
  private txns = new Map<number, Transaction>();
  /** The last transaction whose park is staged and not yet released, and `staged` right after it. */
  private lastTxn: Transaction | null = null;
  private lastTxnStaged = 0;
  /** parkShards() cuts waiting for their shards to park. */
  private holds = new Map<number, { parked: number; shards: number[]; then: (store: Store, release: () => void) => void }>();
  private nextTxn = 1;
  private pollScheduled = false;
  private parked = false;
  private parkId = 0;
  private parkTokens: number[] = [];
  private lastReplyAt = 0;
  private toFlush: Client[] = [];
  private controlWaiters = new Map<number, (answer: string) => void>();
  private nextControl = 1;
  private stopping = false;
  private readonly pollFn = () => this.poll();

  constructor(server: Server, n: number) {
    this.server = server;
    this.n = n;
    this.dirty = new Array(n).fill(false);
    this.overflow = Array.from({ length: n }, () => []);
  }

  async start(): Promise<void> {
    const cfg = this.server.cfg;
    const settings: Record<string, string> = {};
    for (const name of SHARD_SETTING_NAMES) settings[name] = cfg.getValue(name) ?? '';
    const ready: Promise<void>[] = [];
    // maxmemory: each shard's used bytes and evictable keys, for the others (src/store/evict.ts).
    const memSab = new SharedArrayBuffer((this.n + 1) * MEM_SLOT_WORDS * 8);
    this.memShared = new Float64Array(memSab);
    for (let i = 0; i < this.n; i++) {
      const req = new Ring(RING_DEFAULT_CAPACITY);
      const rep = new Ring(RING_DEFAULT_CAPACITY);
      const arenaCh = new MessageChannel();
      const sideCh = new MessageChannel();
      const scriptState = new ScriptStateView(new SharedArrayBuffer(SCRIPT_STATE_BYTES + SHARD_RUNNING_CMD_BYTES));
      this.server.scripts.shardStates.push(scriptState);
      const worker = new Worker(path.join(__dirname, '..', 'shard', 'worker.js'), {
        workerData: {
          shard: i, dbCount: cfg.databases, reqSab: req.sab, repSab: rep.sab,
          slotTableSab: this.server.slotTable.buffer, arenaPort: arenaCh.port1, sidePort: sideCh.port1, settings,
          logSab: this.server.durability.persistence.log.sab, persistSab: this.server.durability.flags.buffer, memSab,
          scriptStateSab: scriptState.sab,
        },
        transferList: [arenaCh.port1, sideCh.port1],
      });
      this.req.push(req);
      this.rep.push(rep);
      this.side.push(sideCh.port2);
      this.workers.push(worker);
      worker.on('error', (err) => {
        log.fatal({ shard: i, err: err.stack ?? String(err) }, 'Shard worker crashed');
        process.exit(1);
      });
      worker.on('exit', (code) => {
        if (!this.stopping) {
          log.fatal({ shard: i, code }, 'Shard worker exited');
          process.exit(1);
        }
      });
      ready.push(new Promise((resolve) => {
        worker.once('message', (m: { arena: { segments: SharedArrayBuffer[]; generation: number } }) => {
          const arena = Arena.attach(m.arena.segments, m.arena.generation);
          arena.setPort(arenaCh.port2);
          this.arenas[i] = arena;
          this.keyspaces[i] = Keyspace.attach(arena);
          resolve();
        });
      }));
    }
    await Promise.all(ready);
    this.allStore = new Store(this.keyspaces, this.server.slotTable, null);
    for (const name of SHARD_SETTING_NAMES) {
      cfg.onChange(name, () => { this.broadcastSetting(name, cfg.getValue(name) ?? ''); });
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  expiredKeys(): number {
    let n = 0;
    for (const ks of this.keyspaces) n += ks.expiredKeys;
    return n;
  }

  // ---- requests -------------------------------------------------------------------------

  /** The shards' shared maxmemory budget block; slot n is this thread's (see MemoryBudget). */
  memShared: Float64Array | null = null;
  /** Connection buffers, as last counted by the server cron (part of the maxmemory budget). */
  set clientBytes(n: number) {
    this.memShared![this.n * MEM_SLOT_WORDS] = n;
  }
  get clientBytes(): number {
    return this.memShared === null ? 0 : this.memShared[this.n * MEM_SLOT_WORDS];
  }

  /** Records queued for any shard so far: a park taken with nothing queued after it still holds the next one's place. */
  staged = 0;

  /** Queue a command for one shard (published by publish()). */
  stageCommand(shard: number, client: Client, seq: number, silent: boolean, cmdId: number,
    buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, retry = false, reportWrites = false): void {
    let args = 0;
    for (let i = 0; i < argc; i++) args += 4 + ae[i] - as[i];
    const size = (REQ_ARGS + args + 3) & ~3;
    const flags = (silent ? FLAG_NO_REPLY : 0) | (retry ? FLAG_RETRY : 0) | (reportWrites ? FLAG_REPORT_WRITES : 0);
    client.inFlight++;
    this.outstanding++;
    this.staged++;
    const ring = this.req[shard];
    if (this.overflow[shard].length === 0 && size <= ring.capacity / RING_LARGE_DIVISOR) {
      const at = ring.reserve(size);
      if (at >= 0) {
        encodeCommand(ring.data, at, size, KIND_COMMAND, flags, client, seq, cmdId, buf, as, ae, argc);
        ring.commit(size);
        this.dirty[shard] = true;
        return;
      }
    }
    // Too large for the ring, or the ring is full: keep an encoded copy, in order.
    const rec = Buffer.allocUnsafe(size);
    encodeCommand(rec, 0, size, KIND_COMMAND, flags, client, seq, cmdId, buf, as, ae, argc);
    this.overflow[shard].push(rec);
    this.overflowCount++;
    this.moveOverflow(shard);
    // Still no room: stop reading from this client until the shard catches up.
    if (this.overflow[shard].length > 0 && !client.paused) {
      client.paused = true;
      client.sock.pause();
      this.paused.push(client);
    }
  }

  private stageRaw(shard: number, rec: Buffer): void {
    this.staged++;
    this.overflow[shard].push(rec);
    this.overflowCount++;
    this.moveOverflow(shard);
  }

  /** Move waiting records into the ring while they fit; big ones travel by the side port. */
  private moveOverflow(shard: number): void {
    const q = this.overflow[shard];
    const ring = this.req[shard];
    while (q.length > 0) {
      const rec = q[0];
      const large = rec.length > ring.capacity / RING_LARGE_DIVISOR;
      const size = large ? REQ_ARGS : rec.length;
      const at = ring.reserve(size);
      if (at < 0) break;
      if (large) {
        this.side[shard].postMessage(rec.subarray(REQ_ARGS));
        rec.copy(ring.data, at, 0, REQ_ARGS);
        ring.data.writeUInt32LE(REQ_ARGS, at);
        ring.data[at + 13] |= FLAG_LARGE;
      } else {
        rec.copy(ring.data, at);
      }
      ring.commit(size);
      this.dirty[shard] = true;
      q.shift();
      this.overflowCount--;
    }
  }

  /** Publish every ring that got records this batch, waking sleeping workers. */
  publish(): void {
    for (let i = 0; i < this.n; i++) {
      if (!this.dirty[i]) continue;
      this.dirty[i] = false;
      if (this.req[i].publish()) this.req[i].wake();
    }
    if (this.outstanding > 0 && !this.pollScheduled && !this.parked) {
      this.pollScheduled = true;
      this.lastReplyAt = performance.now();
      setImmediate(this.pollFn);
    }
  }

  /** Run a command over several shards: park them all, run it here, release them. */
  startTransaction(client: Client, seq: number, silent: boolean, spec: CommandSpec,
    buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, shardMask: number, retry = false,
    onRun: (() => void) | null = null): void {
    const saved = saveArgs(buf, as, ae, argc);
    const shards: number[] = [];
    for (let s = 0; s < this.n; s++) if ((shardMask & (1 << s)) !== 0) shards.push(s);
    const txn: Transaction = {
      id: this.nextTxn++, client, seq, silent, spec, buf: saved.buf, argStart: saved.argStart, argEnd: saved.argEnd, argc,
      db: client.db, resp: client.resp, shards, parked: 0, retry, onRun, followers: null,
    };
    client.inFlight++;
    // Nothing went to any shard since the last transaction parked these shards (and more):
    // this one runs right after it under the same park, saving a park and release per command.
    const head = this.lastTxn;
    if (head !== null && this.staged === this.lastTxnStaged && (head.followers?.length ?? 0) < MAX_FOLLOWERS
      && shards.every((s) => head.shards.includes(s))) {
      (head.followers ??= []).push(txn);
      return;
    }
    this.txns.set(txn.id, txn);
    this.lastTxn = txn;
    for (const s of shards) {
      const rec = Buffer.alloc(REQ_ARGS);
      rec.writeUInt32LE(REQ_ARGS, 0);
      rec.writeUInt32LE(txn.id, 8);
      rec[12] = KIND_PARK;
      this.outstanding++;
      this.stageRaw(s, rec);
    }
    this.lastTxnStaged = this.staged;
  }

  /**
   * Park the shards of `mask` (0: every shard); `then` runs over the store once they are (it
   * must touch only their keys), and releases them when done.
   */
  parkShards(mask: number, then: (store: Store, release: () => void) => void): void {
    const id = this.nextTxn++;
    const shards: number[] = [];
    for (let s = 0; s < this.n; s++) if (mask === 0 || (mask & (1 << s)) !== 0) shards.push(s);
    this.holds.set(id, { parked: 0, shards, then });
    for (const s of shards) {
      const rec = Buffer.alloc(REQ_ARGS);
      rec.writeUInt32LE(REQ_ARGS, 0);
      rec.writeUInt32LE(id, 8);
      rec[12] = KIND_PARK;
      this.outstanding++;
      this.stageRaw(s, rec);
    }
    this.publish();
  }

  private release(id: number, shards: number[] | null): void {
    // The io thread's effects and snapshot chunks go to the log before the shards' next ones.
    this.server.durability.flushIo();
    const n = shards === null ? this.n : shards.length;
    for (let i = 0; i < n; i++) {
      const s = shards === null ? i : shards[i];
      Atomics.store(this.arenas[s].hdr, H_BARRIER, id);
      Atomics.notify(this.arenas[s].hdr, H_BARRIER);
    }
  }

  private onParked(id: number): void {
    const hold = this.holds.get(id);
    if (hold !== undefined) {
      if (++hold.parked < hold.shards.length) return;
      this.holds.delete(id);
      for (const s of hold.shards) this.arenas[s].sync();
      let released = false;
      hold.then(this.allStore, () => {
        if (released) return;
        released = true;
        this.release(id, hold.shards);
      });
      return;
    }
    const txn = this.txns.get(id);
    if (txn === undefined) return;
    if (++txn.parked < txn.shards.length) return;
    this.txns.delete(id);
    if (this.lastTxn === txn) this.lastTxn = null;
    for (const s of txn.shards) this.arenas[s].sync();
    this.runTransaction(txn);
    const followers = txn.followers;
    if (followers !== null) for (let i = 0; i < followers.length; i++) this.runTransaction(followers[i]);
    this.release(id, txn.shards);
  }

  /** Run a transaction's command on this thread, its shards parked, and answer it. */
  private runTransaction(txn: Transaction): void {
    const srv = this.server;
    srv.w.reset();
    const t0 = performance.now();
    srv.ctx.retry = txn.retry;
    const dirty0 = srv.ctx.dirty;
    srv.runOnIoThread(txn.spec, txn.buf, txn.argStart, txn.argEnd, txn.argc, txn.db, txn.resp, txn.onRun);
    srv.ctx.retry = false;
    const blocked = srv.ctx.blocked;
    srv.ctx.blocked = false;
    if (!blocked) srv.accountCommand(txn.spec.id, (performance.now() - t0) * 1000, srv.w.buf, 0, srv.w.len);
    if (txn.client.pendingTouch !== null) srv.watch.settle(txn.client, txn.seq, srv.ctx.dirty !== dirty0);
    const c = txn.client;
    c.inFlight--;
    if (blocked) {
      srv.w.reset();
      srv.blocking.blocked(c);
      return;
    }
    srv.deliver(c, txn.seq, srv.w.buf, 0, txn.silent ? 0 : srv.w.len, false);
    srv.w.reset();
    this.markFlush(c);
    if (c.block !== null && c.block.seq === txn.seq) srv.blockingServed(c);
  }

  /** Send a setting to every shard (CONFIG SET). */
  private broadcastSetting(name: string, value: string): void {
    for (let s = 0; s < this.n; s++) this.control(s, { op: 'set', name, value });
  }

  control(shard: number, msg: Record<string, unknown>): Promise<string> {
    const id = this.nextControl++;
    const body = Buffer.from(JSON.stringify({ ...msg, id }));
    const size = (REQ_ARGS + 4 + body.length + 3) & ~3;
    const rec = Buffer.alloc(size);
    rec.writeUInt32LE(size, 0);
    rec.writeUInt32LE(id, 8);
    rec[12] = KIND_CONTROL;
    rec.writeUInt32LE(1, REQ_ARGC);
    rec.writeUInt32LE(body.length, REQ_ARGS);
    body.copy(rec, REQ_ARGS + 4);
    this.outstanding++;
    this.stageRaw(shard, rec);
    this.publish();
    return new Promise((resolve) => this.controlWaiters.set(id, resolve));
  }

  // ---- replies --------------------------------------------------------------------------

  private poll(): void {
    this.pollScheduled = false;
    let got = 0;
    for (let s = 0; s < this.n; s++) got += this.drain(s);
    if (this.overflowCount > 0) {
      for (let s = 0; s < this.n; s++) if (this.overflow[s].length > 0) this.moveOverflow(s);
      this.publish();
    }
    if (this.overflowCount === 0 && this.paused.length > 0) this.resumePaused();
    this.flushClients();
    if (this.outstanding <= 0 && this.overflowCount === 0) return;
    const now = performance.now();
    if (got > 0) this.lastReplyAt = now;
    if (now - this.lastReplyAt < SPIN_MS) {
      if (!this.pollScheduled) {
        this.pollScheduled = true;
        setImmediate(this.pollFn);
      }
    } else {
      this.park();
    }
  }

  /**
   * From the io thread's cron: drain what shards sent on their own (keyspace events of
   * their active expiry) while no command is outstanding and nothing polls.
   */
  pollIdle(): void {
    if (!this.pollScheduled && !this.parked) this.poll();
  }

  /** Sleep until a worker notifies a reply ring (or the insurance timeout). */
  private park(): void {
    const tokens = this.parkTokens;
    tokens.length = 0;
    for (let s = 0; s < this.n; s++) {
      const t = this.rep[s].prepareSleep();
      if (t < 0) {
        for (let k = 0; k < tokens.length; k++) this.rep[k].endSleep(tokens[k]);
        this.pollScheduled = true;
        setImmediate(this.pollFn);
        return;
      }
      tokens.push(t);
    }
    this.parked = true;
    const id = ++this.parkId;
    const wake = () => this.unpark(id);
    for (let s = 0; s < this.n; s++) {
      const r = Atomics.waitAsync(this.rep[s].ctl, RING_WAKE, tokens[s], PARK_TIMEOUT_MS);
      if (r.async) r.value.then(wake);
      else wake();
    }
  }

  private unpark(id: number): void {
    if (!this.parked || id !== this.parkId) return;
    this.parked = false;
    for (let s = 0; s < this.n; s++) this.rep[s].endSleep(this.parkTokens[s]);
    this.lastReplyAt = performance.now();
    this.poll();
  }

  private drain(shard: number): number {
    const ring = this.rep[shard];
    const head = ring.readHead();
    let tail = ring.tail;
    if (tail === head) return 0;
    const d = ring.data;
    const clients = this.server.clients;
    let n = 0;
    while (tail !== head) {
      tail = ring.next(tail);
      if (tail === head) break;
      const len = d.readUInt32LE(tail);
      const kindWord = d.readUInt16LE(tail + 12);
      const kind = kindWord & REPLY_KIND_MASK;
      const seq = d.readUInt32LE(tail + 8);
      n++;
      if (kind === REPLY_DATA || kind === REPLY_LARGE) {
        this.outstanding--;
        const c = clients.get(d.readUInt32LE(tail + 4));
        const cmdId = d.readUInt16LE(tail + 14), usec = d.readFloatLE(tail + 20);
        if (this.server.scriptRouter!.runsScript(cmdId)) this.server.scripts.shardScriptDone();
        if (kind === REPLY_LARGE) {
          let m = receiveMessageOnPort(this.side[shard]);
          while (m === undefined) m = receiveMessageOnPort(this.side[shard]);
          // Structured clone turns a Buffer into a plain Uint8Array.
          const u = m.message as Uint8Array;
          const b = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
          this.server.accountCommand(cmdId, usec, b, 0, b.length);
          if (c !== undefined) this.server.deliver(c, seq, b, 0, b.length, false);
        } else {
          const plen = d.readUInt32LE(tail + 16);
          this.server.accountCommand(cmdId, usec, d, tail + REP_DATA, tail + REP_DATA + plen);
          if (c !== undefined) this.server.deliver(c, seq, d, tail + REP_DATA, tail + REP_DATA + plen, false);
        }
        if (c !== undefined) {
          c.inFlight--;
          if (c.pendingTouch !== null) this.server.watch.settle(c, seq, (kindWord & REPLY_DIRTY) !== 0);
          this.markFlush(c);
          if (c.block !== null && c.block.seq === seq) this.server.blockingServed(c);
        }
      } else if (kind === REPLY_BLOCKED) {
        this.outstanding--;
        const c = clients.get(d.readUInt32LE(tail + 4));
        if (c !== undefined) {
          c.inFlight--;
          this.server.blocking.blocked(c);
        }
      } else if (kind === REPLY_PARKED) {
        this.outstanding--;
        ring.tail = tail + len;
        ring.release();
        this.onParked(seq);
      } else if (kind === REPLY_EVENT) {
        const s = tail + REP_DATA, e = s + d.readUInt32LE(tail + 16);
        const c = clients.get(d.readUInt32LE(tail + 4));
        if (c === undefined || c.closed) {
          publishShardEvents(this.server, d, s, e);
        } else {
          // Subscribers get them when the command's reply goes out in its client's order: a
          // pipeline over several shards raises its events in command order, as in Redis.
          // Tracking hears of the keys now (it ties them to the reply itself).
          publishShardEvents(this.server, d, s, e, EVENTS_TRACK);
          (c.heldEvents ??= new Map()).set(seq, Buffer.from(d.subarray(s, e)));
        }
      } else if (kind === REPLY_WRITES) {
        const s = tail + REP_DATA;
        this.server.scriptRouter!.wrote(clients.get(d.readUInt32LE(tail + 4)), seq, d, s, s + d.readUInt32LE(tail + 16));
      } else if (kind === REPLY_SLOWLOG) {
        const plen = d.readUInt32LE(tail + 16);
        const argv = decodeArgv(d, tail + REP_DATA, tail + REP_DATA + plen);
        const c = clients.get(d.readUInt32LE(tail + 4));
        this.server.slowlog.addEntry(this.server, argv, d.readFloatLE(tail + 20), c?.addr ?? '', c?.name ?? '');
      } else if (kind === REPLY_CONTROL) {
        this.outstanding--;
        const plen = d.readUInt32LE(tail + 16);
        const answer = d.toString('utf8', tail + REP_DATA, tail + REP_DATA + plen);
        const waiter = this.controlWaiters.get(seq);
        this.controlWaiters.delete(seq);
        waiter?.(answer);
      }
      tail += len;
    }
    ring.tail = tail;
    ring.release();
    return n;
  }

  private markFlush(c: Client): void {
    if (!c.flushPending) {
      c.flushPending = true;
      this.toFlush.push(c);
    }
  }

  private flushClients(): void {
    const list = this.toFlush;
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      c.flushPending = false;
      this.server.flushClient(c);
    }
    list.length = 0;
  }

  private resumePaused(): void {
    for (const c of this.paused) {
      c.paused = false;
      if (!c.closed) c.sock.resume();
    }
    this.paused.length = 0;
  }
}

/** Lay one command record: header then (u32 len, bytes) per argument. */
function encodeCommand(dst: Buffer, at: number, size: number, kind: number, flags: number, client: Client,
  seq: number, cmdId: number, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
  dst.writeUInt32LE(size, at);
  dst.writeUInt32LE(client.id, at + 4);
  dst.writeUInt32LE(seq, at + 8);
  dst[at + 12] = kind;
  dst[at + 13] = flags;
  dst.writeUInt16LE(client.db, at + 14);
  dst.writeUInt16LE(client.resp, at + 16);
  dst.writeUInt16LE(cmdId, at + 18);
  dst.writeUInt32LE(argc, at + REQ_ARGC);
  let p = at + REQ_ARGS;
  for (let i = 0; i < argc; i++) {
    const s = as[i], e = ae[i], len = e - s;
    dst.writeUInt32LE(len, p);
    p += 4;
    if (len < 32) {
      for (let k = 0; k < len; k++) dst[p + k] = buf[s + k];
      p += len;
    } else {
      p += buf.copy(dst, p, s, e);
    }
  }
}


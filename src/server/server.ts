/**
 * The io thread: owns every socket, parses RESP in place, looks commands up, and either
 * runs them here (connection commands; the whole store with --shards 0) or routes them
 * by key slot to shard workers (src/server/shard-pool.ts). Replies are written once per
 * connection per batch, in command order.
 */
import * as net from 'node:net';
import { Config } from './config';
import { log } from './logger';
import { Client, REPLY_ON, REPLY_SKIP, REPLY_SKIP_NEXT } from './client';
import { RequestParser, PARSE_ERROR, PARSE_INCOMPLETE } from '../protocol/resp-parser';
import { ReplyWriter } from '../protocol/resp-writer';
import { ExecContext } from '../commands/context';
import { CMD_BLOCKING, CMD_LOADING, CMD_MAY_REPLICATE, CMD_NO_AUTH, CMD_NO_MULTI, CMD_SKIP_SLOWLOG, CMD_WRITE, CommandSpec, commandById, getKeyPositions, lookupCommand, lookupSubcommand } from '../commands/table';
import { Executor } from '../shard/executor';
import { Arena } from '../store/arena';
import { Keyspace } from '../store/keyspace';
import { Store, makeSlotTable } from '../store/store';
import { keyHashSlot } from '../util/crc16';
import { ShardPool } from './shard-pool';
import { LocalHandler, localHandlers } from './local-commands';
import { clientsMemory, registerMemoryCommands, sampleMemoryPeak } from './memory';
import { ServerStats } from './stats';
import { SHARD_SETTING_NAMES, applyShardSetting } from '../shard/settings';
import { Slowlog } from './slowlog';
import { BlockedCommand, BlockingManager } from './blocking';
import { commandById as allSpecs } from '../commands/table';
import { pubsubUnsubscribeAll, repliesWithPushes, subscribedModeError } from './pubsub';
import { Durability } from './durability';
import { EVENTS_PUBLISH, effectiveNotifyFlags, keyspaceEvent, publishShardEvents } from './notifications';
import { H_DIRTY } from '../../native-layout/arena';
import { CMD_DENYOOM } from '../commands/table';
import { ERR_OOM, EVICT_FAIL, Evictor, MemoryBudget, evictConfig, evictedKeys, outOfMemory } from '../store/evict';
import { WatchTable, execMulti, execShardMask, execWrites, queueCommand, settleAlive, watchKeys } from './multi';
import { Tracking } from './tracking';
import { DEFRAG_CONFIG_NAMES, Defragger, dropReleasedSegments, publishDefragConfig } from '../store/defrag';
import { SCRIPT_POSTPONE, SCRIPT_REJECT, ScriptHost } from './scripting';
import { ROUTED, ScriptRouter } from './script-routing';

/** How the io thread handles a command. */
const ROUTE_KEYS = 0; // by key slot to the owning shard(s)
const ROUTE_LOCAL = 1; // on the io thread, with access to the client and server
const ROUTE_ALL = 2; // needs every shard (KEYS, SCAN, DBSIZE, FLUSHALL, ...)
const ROUTE_ANY = 3; // keyless data command: any shard will do
const ROUTE_SCRIPT = 4; // on the script thread (src/server/scripting.ts)

/** Commands that run at once inside MULTI instead of being queued. */
const MULTI_CONTROL = new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset']);

// MEMORY STATS/DOCTOR/... run here; MEMORY USAGE goes to its key's shard.
registerMemoryCommands(localHandlers);

const ALL_SHARD_COMMANDS = new Set(['dbsize', 'keys', 'scan', 'randomkey', 'flushdb', 'flushall', 'swapdb']);

export class Server {
  readonly cfg: Config;
  readonly stats = new ServerStats();
  readonly slowlog = new Slowlog();
  readonly blocking = new BlockingManager(this);
  readonly watch = new WatchTable();
  /** CLIENT TRACKING: client-side caching invalidation (src/server/tracking.ts). */
  readonly tracking = new Tracking(this);
  readonly durability: Durability;
  /** Lua scripting: the script thread and what runs there (src/server/scripting.ts). */
  readonly scripts: ScriptHost;
  /** Sequence number of the command being dispatched (a local handler that defers its reply uses it). */
  private currentSeq = 0;
  /** Dispatch counter: orders WATCHes against writes still in flight (src/server/multi.ts). */
  opSeq = 0;
  /** Set by a local handler whose reply comes later (EXEC or WATCH waiting for parked shards). */
  private deferred = false;
  /** Writer for replies produced outside a client's own batch (blocked clients served or timed out). */
  private readonly sideW = new ReplyWriter(16 * 1024);
  readonly clients = new Map<number, Client>();
  readonly startTime = Date.now();
  readonly runId: string;
  private nextClientId = 1;
  private listeners: net.Server[] = [];
  private readonly parser = new RequestParser();
  /** Reply writer of the io thread, shared by every command run here. */
  readonly w = new ReplyWriter(64 * 1024);
  readonly ctx: ExecContext;
  readonly executor: Executor;
  /** The inline store (--shards 0), or null when shard workers own the data. */
  readonly inlineStore: Store | null;
  readonly pool: ShardPool | null;
  /** With shard workers: which scripts run in a shard's own Lua VM. */
  readonly scriptRouter: ScriptRouter | null = null;
  readonly shardCount: number;
  readonly slotTable: Uint16Array;
  private readonly route: Uint8Array;
  private readonly local: (LocalHandler | null)[];
  private keyPos = new Int32Array(256);
  private cronTimer: NodeJS.Timeout | null = null;
  shuttingDown = false;
  /** CLIENT PAUSE: end time (ms; 0 = not paused), and whether only writes pause. */
  private pauseEnd = 0;
  pauseWritesOnly = false;
  private pauseTimer: NodeJS.Timeout | null = null;
  /** Clients whose input waits for the pause to end (Redis's postponed clients). */
  private postponed: Client[] = [];

  get pauseUntil(): number {
    return this.pauseEnd;
  }

  /** Setting the pause end (CLIENT PAUSE / UNPAUSE) arms or fires the resume. */
  set pauseUntil(ms: number) {
    this.pauseEnd = ms;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    if (ms === 0) {
      setImmediate(() => this.resumePostponed());
      return;
    }
    this.pauseTimer = setTimeout(() => {
      this.pauseEnd = 0;
      this.resumePostponed();
    }, Math.max(0, ms - Date.now()));
  }

  private isPausedFor(spec: CommandSpec): boolean {
    if (this.pauseEnd === 0) return false;
    if (Date.now() >= this.pauseEnd) {
      this.pauseEnd = 0;
      return false;
    }
    return !this.pauseWritesOnly || (spec.flags & (CMD_WRITE | CMD_MAY_REPLICATE)) !== 0;
  }

  /** Let postponed clients go on (a pause or a script ended, or a script timed out). */
  resumePostponed(): void {
    const list = this.postponed;
    this.postponed = [];
    for (const c of list) {
      c.postponed = false;
      if (c.closed || c.qbuf === null) continue;
      const buf = c.qbuf;
      c.qbuf = null;
      this.processInput(c, buf);
    }
  }
  onShutdown: ((code: number) => void) | null = null;

  constructor(cfg: Config, shards: number) {
    this.cfg = cfg;
    this.runId = randomHex(40);
    this.shardCount = shards;
    this.slotTable = makeSlotTable(Math.max(1, shards));
    if (shards === 0) {
      const ks = Keyspace.create(Arena.create(), cfg.databases);
      this.inlineStore = new Store([ks], this.slotTable, ks);
      this.pool = null;
    } else {
      this.inlineStore = null;
      this.pool = new ShardPool(this, shards);
      this.scriptRouter = new ScriptRouter(this, shards);
    }
    this.ctx = new ExecContext(this.inlineStore ?? (null as unknown as Store), this.w);
    this.executor = new Executor(this.ctx);
    if (this.inlineStore !== null) {
      const kss = this.inlineStore.keyspaces;
      this.executor.evictor = new Evictor(kss, new MemoryBudget(kss.map((k) => k.arena), null, 0), this.ctx, this.executor);
    }
    this.durability = new Durability(this);
    this.scripts = new ScriptHost(this);
    // Keyspace notifications raised on this thread are published at once.
    this.ctx.notifyFlags = effectiveNotifyFlags(cfg.notifyKeyspaceEvents);
    // (keyspaceEvent also tells CLIENT TRACKING which keys changed.)
    this.ctx.notifySink = (cls, event, db, key, ks, ke) => keyspaceEvent(this, cls, event, db, key, ks, ke);
    cfg.onChange('notify-keyspace-events', (c) => { this.ctx.notifyFlags = effectiveNotifyFlags(c.notifyKeyspaceEvents); });
    const specs = commandById();
    this.route = new Uint8Array(specs.length);
    // A subcommand may have a handler of its own (MEMORY's), else its container's.
    this.local = specs.map((s) => localHandlers.get(s.name) ?? localHandlers.get(s.parent ? s.parent.name : s.name) ?? null);
    for (const s of specs) {
      const top = s.parent ? s.parent.name : s.name;
      if (this.local[s.id] !== null) this.route[s.id] = ROUTE_LOCAL;
      else if (ALL_SHARD_COMMANDS.has(top)) this.route[s.id] = ROUTE_ALL;
      else if (s.keySpecs.length === 0 && s.getKeysProc === null) this.route[s.id] = ROUTE_ANY;
      else this.route[s.id] = ROUTE_KEYS;
      if (ScriptHost.routes(s)) this.route[s.id] = ROUTE_SCRIPT;
      else if (s.name === 'script|kill' || s.name === 'function|kill') {
        const isEval = s.name === 'script|kill';
        this.local[s.id] = (srv, _cl, c) => srv.scripts.kill(c, isEval);
        this.route[s.id] = ROUTE_LOCAL;
      }
    }
    // The io thread runs the store too (inline, and in cross-shard transactions).
    for (const name of SHARD_SETTING_NAMES) {
      applyShardSetting(name, cfg.getValue(name) ?? '');
      cfg.onChange(name, (c) => { applyShardSetting(name, c.getValue(name) ?? ''); });
    }
    cfg.onChange('maxmemory', (c) => this.maxmemoryChanged(c.maxmemory));
    this.parser.maxBulkLen = cfg.protoMaxBulkLen;
    cfg.onChange('proto-max-bulk-len', (c) => { this.parser.maxBulkLen = c.protoMaxBulkLen; });
  }

  async start(): Promise<void> {
    this.durability.installIoThread();
    if (this.pool) {
      await this.pool.start();
      this.ctx.store = this.pool.allStore;
    }
    this.durability.loading = true;
    const store = this.inlineStore ?? this.pool!.allStore;
    // The arenas' owners read the active-defrag settings from their headers.
    const publishDefrag = () => publishDefragConfig(store.keyspaces.map((k) => k.arena), this.cfg);
    publishDefrag();
    for (const name of DEFRAG_CONFIG_NAMES) this.cfg.onChange(name, publishDefrag);
    const load = () => this.durability.load(store, (work) => new Promise<void>((resolve, reject) => {
      this.parkAllShards((_s, release) => {
        work().then(() => { release(); resolve(); }, (e) => { release(); reject(e); });
      });
    }));
    // With a dataset to load, clients may connect meanwhile and get -LOADING (as Redis).
    const early = this.durability.hasDataToLoad();
    if (!early) await load();
    for (const host of this.cfg.bind) await this.listen(host.replace(/^-/, ''), host.startsWith('-'));
    if (this.listeners.length === 0) throw new Error(`could not bind to any address of: ${this.cfg.bind.join(' ')}`);
    if (early) await load();
    this.scheduleCron();
    this.cfg.onChange('hz', () => this.scheduleCron());
    this.cfg.onChange('port', () => { void this.rebind(); });
    this.cfg.onChange('bind', () => { void this.rebind(); });
  }

  /** CONFIG SET port/bind: listen on the new addresses, then close the old listeners. */
  private async rebind(): Promise<void> {
    const old = this.listeners;
    this.listeners = [];
    try {
      for (const host of this.cfg.bind) await this.listen(host.replace(/^-/, ''), host.startsWith('-'));
      for (const l of old) l.close();
      log.info({ port: this.boundPort(), bind: this.cfg.bind }, 'Listening on new address');
    } catch (e) {
      for (const l of this.listeners) l.close();
      this.listeners = old;
      log.warn({ err: (e as Error).message }, 'Could not listen on the new address; keeping the old one');
    }
  }

  private listen(host: string, optional: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ noDelay: true }, (sock) => this.accept(sock));
      srv.once('error', (err: NodeJS.ErrnoException) => {
        if (optional && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) {
          log.warn({ host, err: err.message }, 'Could not bind optional address');
          resolve();
        } else reject(err);
      });
      srv.listen({ port: this.cfg.port, host, backlog: this.cfg.tcpBacklog }, () => {
        srv.removeAllListeners('error');
        srv.on('error', (err) => log.warn({ err: err.message }, 'listener error'));
        this.listeners.push(srv);
        resolve();
      });
    });
  }

  /** The port actually bound (differs from the configured one when it is 0). */
  boundPort(): number {
    const a = this.listeners[0]?.address();
    return a && typeof a === 'object' ? a.port : this.cfg.port;
  }

  private accept(sock: net.Socket): void {
    if (this.shuttingDown) {
      sock.destroy();
      return;
    }
    if (this.clients.size >= this.cfg.maxclients) {
      this.stats.rejectedConnections++;
      sock.end('-ERR max number of clients reached\r\n');
      return;
    }
    const client = new Client(this.nextClientId++, sock, this.cfg.requirepass === '');
    this.clients.set(client.id, client);
    this.stats.totalConnections++;
    if (this.cfg.tcpKeepalive > 0) sock.setKeepAlive(true, this.cfg.tcpKeepalive * 1000);
    sock.on('data', (chunk: Buffer) => this.onData(client, chunk));
    sock.on('error', () => this.freeClient(client));
    sock.on('close', () => this.freeClient(client));
  }

  freeClient(client: Client): void {
    // Every connection ends here, also those already closed by closeWhenDone (their socket's 'close').
    if (client.tracking !== null) this.tracking.disable(client);
    if (client.closed) return;
    client.closed = true;
    this.blocking.drop(client);
    pubsubUnsubscribeAll(this, client);
    this.watch.unwatchAll(client);
    this.clients.delete(client.id);
    client.sock.destroy();
  }

  /** Close after everything owed to the client is written. */
  private closeWhenDone(client: Client): void {
    if (client.inFlight === 0) {
      client.flush();
      client.closed = true;
      this.clients.delete(client.id);
      client.sock.end();
    }
  }

  private onData(client: Client, chunk: Buffer): void {
    if (client.closed) return;
    client.lastInteraction = Date.now();
    this.stats.netInputBytes += chunk.length;
    let buf: Buffer;
    if (client.postponed || client.holdInput) {
      client.qbuf = client.qbuf === null ? Buffer.from(chunk) : Buffer.concat([client.qbuf, chunk]);
      if (client.qbuf.length > this.cfg.clientQueryBufferLimit) this.queryBufferOverflow(client);
      return;
    }
    if (client.qbufChunks !== null) {
      client.qbufChunks.push(chunk);
      client.qbufChunkBytes += chunk.length;
      if (client.qbufChunkBytes > this.cfg.clientQueryBufferLimit) return this.queryBufferOverflow(client);
      if (client.qbufChunkBytes < client.qbufNeeded) return;
      buf = Buffer.concat(client.qbufChunks, client.qbufChunkBytes);
      client.qbufChunks = null;
    } else if (client.qbuf !== null) {
      buf = Buffer.concat([client.qbuf, chunk]);
      client.qbuf = null;
    } else {
      buf = chunk;
    }
    this.processInput(client, buf);
  }

  /**
   * Write the io writer's bytes straight to the socket: no copy. When the kernel took them
   * all (nothing left queued in the stream) the writer keeps its buffer; otherwise the
   * stream now owns it and the writer gets a fresh one.
   */
  private writeFromWriter(client: Client): void {
    const w = this.w;
    Client.netOutputBytes += w.len;
    const sock = client.sock;
    sock.write(w.buf.subarray(0, w.len));
    if (sock.writableLength !== 0) w.buf = Buffer.allocUnsafe(w.buf.length);
  }

  private queryBufferOverflow(client: Client): void {
    log.warn({ client: client.addr }, 'Closing client that reached max query buffer length');
    this.freeClient(client);
  }

  private processInput(client: Client, buf: Buffer): void {
    const p = this.parser;
    const w = this.w;
    w.reset();
    w.resp = client.resp;
    p.authRequired = !client.authenticated;
    const end = buf.length;
    let pos = 0;
    this.ctx.now = Date.now();
    this.lastCommandEnd = performance.now();
    while (pos < end && !client.closeAfterReply && !client.closed) {
      const cmdStart = pos;
      const r = p.parse(buf, pos, end);
      if (r === PARSE_INCOMPLETE) {
        const left = end - pos;
        if (left > this.cfg.clientQueryBufferLimit) {
          this.queryBufferOverflow(client);
          return;
        }
        if (p.needed > left) {
          client.qbufChunks = [buf.subarray(pos)];
          client.qbufChunkBytes = left;
          client.qbufNeeded = p.needed;
        } else {
          client.qbuf = Buffer.from(buf.subarray(pos));
        }
        break;
      }
      if (r === PARSE_ERROR) {
        // Protocol errors are latin1, one char per byte, as Redis echoes the offending byte.
        const start = w.len;
        w.rawString('-' + p.error + '\r\n');
        this.countError(w.buf, start, w.len);
        this.deliver(client, client.nextSeq++, w.buf, start, w.len, true);
        client.closeAfterReply = true;
        break;
      }
      pos = r;
      if (p.argc === 0) continue;
      if (!this.dispatch(client, p.buf, p.argStart, p.argEnd, p.argc)) {
        // Paused: keep this command and the rest for when the pause ends.
        client.qbuf = Buffer.from(buf.subarray(cmdStart));
        client.postponed = true;
        this.postponed.push(client);
        break;
      }
      if (client.holdInput) {
        // A blocking command is unresolved: the rest waits, as Redis waits with a blocked client.
        if (pos < end) client.qbuf = Buffer.from(buf.subarray(pos));
        break;
      }
    }
    this.tracking.endBatch();
    if (this.pool) this.pool.publish();
    this.durability.flushIo();
    const hold = this.durability.holdOutput(client);
    if (w.len > 0) {
      if (client.out === null && !client.closed && !hold) this.writeFromWriter(client);
      else client.appendOut(w.buf, 0, w.len);
    }
    w.reset();
    if (!hold) client.flush();
    if (client.closeAfterReply && !hold) this.closeWhenDone(client);
  }

  /** Write what a client has queued (appendfsync always may hold it until effects are on disk). */
  flushClient(c: Client): void {
    if (this.tracking.bcastPending) this.tracking.beforeWrite();
    if (this.durability.holdOutput(c)) return;
    c.flush();
    if (c.closeAfterReply && c.inFlight === 0 && !c.closed) {
      c.closed = true;
      this.clients.delete(c.id);
      c.sock.end();
    }
  }

  /**
   * Deliver reply bytes for command `seq` of a client, keeping command order. Bytes in
   * the io writer are left there when they are next in line (one copy at batch end).
   */
  deliver(client: Client, seq: number, src: Uint8Array, start: number, end: number, inWriter: boolean): void {
    if (client.closed) return;
    if (client.heldEvents !== null && seq === client.writeSeq) this.publishHeldEvents(client, seq);
    // CLIENT TRACKING: what this reply's command read or flushed; invalidations owed to the
    // client itself follow its reply, also when it arrives out of order (src/server/tracking.ts).
    const tracked = this.tracking.on ? this.tracking.onReply(client, seq) : null;
    if (seq === client.writeSeq) {
      // In-order bytes in the io writer stay there: processInput copies them once.
      if (!inWriter) client.appendOut(src, start, end);
      if (tracked !== null) {
        if (inWriter) this.w.raw(tracked, 0, tracked.length);
        else client.appendOut(tracked, 0, tracked.length);
      }
      client.writeSeq++;
      const stash = client.stash;
      if (stash !== null) {
        let b: Buffer | null | undefined;
        while ((b = stash.get(client.writeSeq)) !== undefined) {
          stash.delete(client.writeSeq);
          if (client.heldEvents !== null) this.publishHeldEvents(client, client.writeSeq);
          if (b !== null) {
            if (inWriter) {
              client.appendOut(this.w.buf, 0, this.w.len);
              this.w.reset();
            }
            client.appendOutBuffer(b);
          }
          if (client.tracking !== null && client.tracking.held !== null) {
            // CLIENT TRACKING: what a reply that arrived out of order caused goes out in its place.
            const x = this.tracking.onRelease(client, client.writeSeq);
            if (x !== null) {
              if (inWriter) {
                client.appendOut(this.w.buf, 0, this.w.len);
                this.w.reset();
              }
              client.appendOutBuffer(x);
            }
          }
          client.writeSeq++;
        }
        if (stash.size === 0) client.stash = null;
      }
      return;
    }
    const copy = end > start ? Buffer.from(src.subarray(start, end)) : null;
    (client.stash ??= new Map()).set(seq, copy);
    if (inWriter) this.w.len -= end - start;
  }

  /** Publish the keyspace events of a shard command whose reply goes out now (deliver). */
  private publishHeldEvents(client: Client, seq: number): void {
    const held = client.heldEvents!;
    const ev = held.get(seq);
    if (ev === undefined) return;
    held.delete(seq);
    if (held.size === 0) client.heldEvents = null;
    publishShardEvents(this, ev, 0, ev.length, EVENTS_PUBLISH);
  }

  /** Answer a command the dispatcher refused (unknown, arity, NOAUTH...), counting the error. */
  private rejectCommand(client: Client, seq: number, silent: boolean, error: string, spec: CommandSpec | null): void {
    this.stats.rejectedCalls++;
    if (spec) spec.rejectedCalls++;
    // A refused command inside MULTI makes EXEC fail (Redis's flagTransaction).
    if (client.multi !== null) client.multi.aborted = true;
    const w = this.w, start = w.len;
    w.error(error);
    this.countError(w.buf, start, w.len);
    if (silent) w.len = start;
    this.deliver(client, seq, w.buf, start, w.len, true);
  }

  /** Run or route one parsed command; false if CLIENT PAUSE postpones it. */
  private dispatch(client: Client, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): boolean {
    const seq = client.nextSeq++;
    this.stats.totalCommands++;
    this.opSeq++;
    let spec = lookupCommand(buf, as[0], ae[0]);
    const silent = client.replyMode !== REPLY_ON;
    if (spec === undefined) {
      this.rejectCommand(client, seq, silent, unknownCommandError(buf, as, ae, argc), null);
      return this.afterReplyMode(client);
    }
    if (spec.subcommands !== null && argc >= 2) {
      const sub = lookupSubcommand(spec, buf, as[1], ae[1]);
      if (sub === undefined) {
        const err = `ERR unknown subcommand '${latin1(buf, as[1], Math.min(ae[1], as[1] + 128))}'. Try ${spec.name.toUpperCase()} HELP.`;
        this.rejectCommand(client, seq, silent, err, null);
        return this.afterReplyMode(client);
      }
      spec = sub;
    }
    if ((spec.arity > 0 && argc !== spec.arity) || argc < -spec.arity) {
      this.rejectCommand(client, seq, silent, `ERR wrong number of arguments for '${spec.name}' command`, spec);
      return this.afterReplyMode(client);
    }
    if (!client.authenticated && (spec.flags & CMD_NO_AUTH) === 0) {
      this.rejectCommand(client, seq, silent, 'NOAUTH Authentication required.', spec);
      return this.afterReplyMode(client);
    }
    if (client.pubsub !== null) {
      // RESP2 subscribed mode allows only the pub/sub context commands (processCommand's order: after auth).
      const err = subscribedModeError(client, spec);
      if (err !== null) {
        this.rejectCommand(client, seq, silent, err, spec);
        return this.afterReplyMode(client);
      }
    }
    if (this.durability.loading && (spec.flags & CMD_LOADING) === 0) {
      this.rejectCommand(client, seq, silent, 'LOADING Redis is loading the dataset in memory', spec);
      return this.afterReplyMode(client);
    }
    if (evictConfig.maxmemory !== 0 && this.oomRejects(client, spec)) {
      this.rejectCommand(client, seq, silent, ERR_OOM, spec);
      return this.afterReplyMode(client);
    }
    if ((spec.flags & CMD_WRITE) !== 0 && this.durability.mayDenyWrites) {
      const err = this.durability.writeDeniedError();
      if (err !== null) {
        this.rejectCommand(client, seq, silent, err, spec);
        return this.afterReplyMode(client);
      }
    }
    if (this.scripts.active) {
      const act = this.scripts.check(spec, buf, as, ae, argc);
      if (act === SCRIPT_POSTPONE) {
        client.nextSeq--;
        this.stats.totalCommands--;
        return false;
      }
      if (act === SCRIPT_REJECT) {
        this.rejectCommand(client, seq, silent, this.scripts.busyError(), spec);
        return this.afterReplyMode(client);
      }
    }
    if (this.pauseEnd !== 0 && (this.isPausedFor(spec) || (this.pauseWritesOnly && spec.name === 'exec' && execWrites(client)))) {
      client.nextSeq--;
      this.stats.totalCommands--;
      return false;
    }
    client.lastCmd = spec.name;
    if (client.multi !== null && !MULTI_CONTROL.has(spec.name)) {
      if ((spec.flags & CMD_NO_MULTI) !== 0) {
        this.rejectCommand(client, seq, silent, 'ERR Command not allowed inside a transaction', spec);
      } else {
        queueCommand(client, spec, buf, as, ae, argc);
        if (this.route[spec.id] === ROUTE_LOCAL) client.multi.hasLocal = true;
        else if (this.route[spec.id] === ROUTE_SCRIPT) client.multi.hasScript = true;
        const w = this.w, start = w.len;
        if (!silent) w.simple('QUEUED');
        this.deliver(client, seq, w.buf, start, w.len, true);
      }
      return this.afterReplyMode(client);
    }
    if (this.tracking.on) this.tracking.beginCommand(client, seq, spec, buf, as, ae, argc);
    const route = this.route[spec.id];
    if (route === ROUTE_LOCAL) {
      const w = this.w, start = w.len;
      this.ctx.buf = buf;
      this.ctx.argStart = as;
      this.ctx.argEnd = ae;
      this.ctx.argc = argc;
      this.ctx.db = client.db;
      w.resp = client.resp;
      this.currentSeq = seq;
      const t0 = performance.now();
      this.local[spec.id]!(this, client, this.ctx, spec);
      if (this.deferred) {
        // Answered when the shards it needs are parked (shard-pool onParked).
        this.deferred = false;
        w.len = start;
        return this.afterReplyMode(client);
      }
      const usec = (performance.now() - t0) * 1000;
      this.accountCommand(spec.id, usec, w.buf, start, w.len);
      if ((spec.flags & CMD_SKIP_SLOWLOG) === 0) this.slowlog.maybeAdd(this, client, this.ctx, usec);
      w.resp = client.resp;
      // (Un)subscribe confirmations are pushes: Redis sends them even with replies off.
      const nowSilent = client.replyMode !== REPLY_ON && !repliesWithPushes(spec);
      if (nowSilent) w.len = start;
      this.deliver(client, seq, w.buf, start, w.len, true);
      return this.afterReplyMode(client);
    }
    if (route === ROUTE_SCRIPT) {
      // Shard-local scripts run in their shard's VM; the rest on the script thread, with the
      // shards the router names parked (0: all).
      const mask = this.scriptRouter === null ? 0 : this.scriptRouter.route(client, seq, silent, spec, buf, as, ae, argc);
      if (mask !== ROUTED) this.scripts.submit(client, seq, silent, spec, buf, as, ae, argc, mask);
      return this.afterReplyMode(client);
    }
    const blocking = (spec.flags & CMD_BLOCKING) !== 0;
    if (blocking) this.blocking.begin(client, seq, silent, spec, buf, as, ae, argc);
    if (this.pool === null) {
      this.runInline(client, seq, silent, spec, buf, as, ae, argc);
    } else if (!this.routeToShards(client, seq, silent, spec, buf, as, ae, argc, route)) {
      if (blocking) this.blocking.served(client, false);
      return this.afterReplyMode(client);
    }
    // Clients blocked on keys this command writes get their turn right after it.
    if (this.blocking.active && (spec.flags & CMD_WRITE) !== 0 && !(blocking && client.block?.keys)) {
      if (route === ROUTE_ALL) this.blocking.signalAll();
      else this.blocking.signalCommandKeys(client.db, spec, buf, as, ae, argc);
    }
    return this.afterReplyMode(client);
  }

  /**
   * processCommand's maxmemory check. Inline, evict here (performEvictions); with shard
   * workers each shard evicts before its own commands, and this thread refuses only when no
   * shard could make room. Refused: `denyoom` commands, anything queued inside MULTI, and an
   * EXEC whose block holds a `denyoom` command.
   */
  private oomRejects(client: Client, spec: CommandSpec): boolean {
    // isSafeToPerformEvictions(): not while loading, paused, or a script holds the dataset
    // (inline; with shards this thread only reads their counters, and a script on the script
    // thread or a shard does not stop it).
    if (this.durability.loading || this.pauseEnd !== 0 || this.scripts.storeHeld) return false;
    const ev = this.executor.evictor;
    let oom: boolean;
    if (ev !== null) {
      this.ctx.now = Date.now();
      oom = ev.perform(this.ctx.now) === EVICT_FAIL;
      if (ev.running) this.scheduleEviction();
    } else {
      oom = outOfMemory(this.pool!.keyspaces, this.pool!.clientBytes);
    }
    if (!oom) return false;
    if ((spec.flags & CMD_DENYOOM) !== 0) return true;
    const m = client.multi;
    if (m === null) return false;
    if (spec.name === 'exec') return (m.flags & CMD_DENYOOM) !== 0;
    return spec.name !== 'discard' && spec.name !== 'quit' && spec.name !== 'reset';
  }

  private evictionScheduled = false;

  /** Inline: an eviction job that hit its time limit goes on between event-loop turns. */
  private scheduleEviction(): void {
    if (this.evictionScheduled) return;
    this.evictionScheduled = true;
    setImmediate(() => {
      this.evictionScheduled = false;
      const ev = this.executor.evictor;
      if (ev === null || this.shuttingDown) return;
      if (this.scripts.storeHeld || this.durability.loading) {
        if (ev.running) setTimeout(() => this.scheduleEviction(), 1);
        return;
      }
      ev.perform(Date.now());
      this.durability.flushIo();
      if (ev.running) this.scheduleEviction();
    });
  }

  /**
   * maxmemory counts connection buffers too (Redis: all of used_memory but the AOF's). They
   * are summed by the cron (O(clients)) and when the budget changes, not per command.
   */
  private countClientMemory(): void {
    const bytes = clientsMemory(this);
    if (this.pool !== null) this.pool.clientBytes = bytes;
    else if (this.executor.evictor !== null) this.executor.evictor.budget.external = bytes;
  }

  /** CONFIG SET maxmemory: warn when under the current usage, and evict now (updateMaxmemory). */
  private maxmemoryChanged(maxmemory: number): void {
    if (maxmemory === 0) return;
    this.countClientMemory();
    const used = this.arenaBytes()[0];
    if (maxmemory < used) {
      log.warn(`WARNING: the new maxmemory value set via CONFIG SET (${maxmemory}) is smaller than the current memory usage (${used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.`);
    }
    // Shard workers start on their own when the setting reaches them.
    const ev = this.executor.evictor;
    if (ev !== null) {
      ev.running = true;
      this.scheduleEviction();
    }
  }

  /** Worker mode: put a data command in its shard's ring, or start a transaction over several. */
  private routeToShards(client: Client, seq: number, silent: boolean, spec: CommandSpec,
    buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, route: number, retry = false): boolean {
    const pool = this.pool!;
    let shard = -1;
    let mask = 0;
    if (route === ROUTE_KEYS && (spec.name === 'sort' || spec.name === 'sort_ro') && sortReadsOtherKeys(buf, as, ae, argc)) {
      // BY/GET patterns name keys that may live on any shard.
      route = ROUTE_ALL;
    }
    if (route === ROUTE_KEYS) {
      if (this.keyPos.length < argc) this.keyPos = new Int32Array(argc * 2);
      const n = getKeyPositions(spec, argc, buf, as, ae, this.keyPos);
      if (n < 0) {
        this.rejectCommand(client, seq, silent, 'ERR Invalid arguments specified for command', spec);
        return false;
      }
      const table = this.slotTable;
      for (let i = 0; i < n; i++) {
        const k = this.keyPos[i];
        const s = table[keyHashSlot(buf, as[k], ae[k])];
        if (shard === -1) shard = s;
        mask |= 1 << s;
      }
      if (shard === -1) shard = 0;
    } else if (route === ROUTE_ALL) {
      shard = 0;
      mask = this.shardCount === 1 ? 1 : (1 << this.shardCount) - 1;
    } else {
      shard = 0;
    }
    if (this.watch.active && (spec.flags & CMD_WRITE) !== 0) this.watch.stage(client, seq, client.db, spec, buf, as, ae, argc, this.opSeq);
    if ((mask & (mask - 1)) !== 0) pool.startTransaction(client, seq, silent, spec, buf, as, ae, argc, mask, retry);
    else pool.stageCommand(shard, client, seq, silent, spec.id, buf, as, ae, argc, retry);
    return true;
  }

  /** Run a blocked client's command again (its keys may have data now). */
  rerunBlocked(cl: Client, b: BlockedCommand): void {
    if (this.pool !== null) {
      this.routeToShards(cl, b.seq, b.silent, b.spec, b.buf, b.argStart, b.argEnd, b.argc, this.route[b.spec.id], true);
      this.pool.publish();
      return;
    }
    // Inline: run it now, with a writer of its own (we may be inside another client's batch).
    const ctx = this.ctx, rw = this.sideW, saved = ctx.w;
    ctx.w = rw;
    rw.reset();
    rw.resp = b.resp;
    ctx.buf = b.buf;
    ctx.argStart = b.argStart;
    ctx.argEnd = b.argEnd;
    ctx.argc = b.argc;
    ctx.db = b.db;
    ctx.now = Date.now();
    const t0 = performance.now();
    ctx.retry = true;
    const dirty0 = ctx.dirty;
    // CLIENT TRACKING: the served client is the one modifying keys now.
    const tracking = this.tracking, prevCurrent = tracking.current;
    tracking.current = cl;
    this.executor.run(b.spec.id);
    tracking.current = prevCurrent;
    ctx.retry = false;
    if (ctx.dirty !== dirty0 && this.watch.active) this.watch.touchCommand(b.db, b.spec, b.buf, b.argStart, b.argEnd, b.argc, ++this.opSeq);
    ctx.w = saved;
    if (ctx.blocked) {
      ctx.blocked = false;
      this.blocking.blocked(cl);
      return;
    }
    this.accountCommand(b.spec.id, (performance.now() - t0) * 1000, rw.buf, 0, rw.len);
    this.deliver(cl, b.seq, rw.buf, 0, b.silent ? 0 : rw.len, false);
    this.durability.flushIo();
    this.flushClient(cl);
    this.blockingServed(cl);
  }

  /** A blocking command was answered: release the client; what it wrote may wake others. */
  blockingServed(cl: Client): void {
    const b = cl.block;
    if (b === null) return;
    this.blocking.served(cl, true);
    if (this.blocking.active && (b.spec.flags & CMD_WRITE) !== 0) {
      this.blocking.signalCommandKeys(b.db, b.spec, b.buf, b.argStart, b.argEnd, b.argc);
    }
  }

  /** Answer a blocked client that timed out (null array) or was unblocked with an error. */
  replyBlockedEnd(cl: Client, b: BlockedCommand, error: string | null): void {
    const rw = this.sideW;
    rw.reset();
    rw.resp = b.resp;
    if (error !== null) rw.error(error);
    else rw.nullArray();
    this.deliver(cl, b.seq, rw.buf, 0, b.silent ? 0 : rw.len, false);
    this.flushClient(cl);
  }

  /** Continue with input held while the client was blocked. */
  resumeInput(cl: Client): void {
    setImmediate(() => {
      if (cl.closed || cl.holdInput || cl.postponed || cl.qbuf === null) return;
      const buf = cl.qbuf;
      cl.qbuf = null;
      this.processInput(cl, buf);
    });
  }

  private afterReplyMode(client: Client): true {
    if (client.replyMode === REPLY_SKIP) client.replyMode = REPLY_ON;
    else if (client.replyMode === REPLY_SKIP_NEXT) client.replyMode = REPLY_SKIP;
    return true;
  }

  /** --shards 0: run a data command right here. */
  private runInline(client: Client, seq: number, silent: boolean, spec: CommandSpec,
    buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
    const ctx = this.ctx, w = this.w;
    const start = w.len;
    ctx.buf = buf;
    ctx.argStart = as;
    ctx.argEnd = ae;
    ctx.argc = argc;
    ctx.db = client.db;
    w.resp = client.resp;
    // One clock read per command: a command's time runs from the previous one's end, so it
    // includes its own parse and dispatch (a fraction of a µs) besides the execution.
    const t0 = this.lastCommandEnd;
    const dirty0 = ctx.dirty;
    this.executor.run(spec.id);
    const t1 = performance.now();
    if (ctx.dirty !== dirty0 && this.watch.active) this.watch.touchCommand(client.db, spec, buf, as, ae, argc, this.opSeq);
    this.lastCommandEnd = t1;
    if (ctx.blocked) {
      // Nothing to pop: no reply now; the client waits (src/server/blocking.ts).
      ctx.blocked = false;
      w.len = start;
      this.blocking.blocked(client);
      return;
    }
    const usec = (t1 - t0) * 1000;
    this.accountCommand(spec.id, usec, w.buf, start, w.len);
    if (usec >= this.cfg.slowlogLogSlowerThan && this.cfg.slowlogLogSlowerThan >= 0) this.slowlog.maybeAdd(this, client, ctx, usec);
    if (silent) w.len = start;
    this.deliver(client, seq, w.buf, start, w.len, true);
    if (client.block !== null && client.block.seq === seq) this.blocking.served(client, false);
  }

  /** Run a command over every shard's arena on this thread (a parked transaction). */
  runOnIoThread(spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, db: number, resp: 2 | 3,
    onRun: (() => void) | null = null): void {
    const ctx = this.ctx;
    ctx.buf = buf;
    ctx.argStart = as;
    ctx.argEnd = ae;
    ctx.argc = argc;
    ctx.db = db;
    ctx.now = Date.now();
    this.w.resp = resp;
    if (onRun !== null) onRun();
    else this.executor.run(spec.id);
  }

  /**
   * For a local command answered later: its sequence number is taken now (replies stay in
   * order); the returned function writes the reply when it is ready.
   */
  deferReply(cl: Client): (write: (w: ReplyWriter) => void) => void {
    const seq = this.currentSeq, silent = cl.replyMode !== REPLY_ON, resp = cl.resp;
    this.deferred = true;
    cl.inFlight++;
    return (write) => {
      cl.inFlight--;
      const rw = this.sideW;
      rw.reset();
      rw.resp = resp;
      write(rw);
      this.deliver(cl, seq, rw.buf, 0, silent ? 0 : rw.len, false);
      this.flushClient(cl);
    };
  }

  /** Start-up loading: apply one AOF command to the store (no reply, no propagation). */
  runLoaded(spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, db: number, store: Store): void {
    if (this.route[spec.id] === ROUTE_SCRIPT) {
      // FUNCTION LOAD and friends: the libraries live on the script thread.
      this.scripts.replay(spec, buf, as, ae, argc, db);
      return;
    }
    const ctx = this.ctx, saved = ctx.store, prop = ctx.propagating;
    ctx.store = store;
    ctx.propagating = false;
    this.runOnIoThread(spec, buf, as, ae, argc, db, 2);
    ctx.propagating = prop;
    ctx.store = saved;
    ctx.blocked = false;
    this.w.reset();
  }

  /**
   * Park every shard (a cut in the command order), run `then` over the whole store on this
   * thread, and release them when it calls `release` (at once inline: nothing runs meanwhile).
   */
  parkAllShards(then: (store: Store, release: () => void) => void): void {
    if (this.pool === null) {
      then(this.inlineStore!, () => this.durability.flushIo());
      return;
    }
    this.pool.parkShards(0, then);
  }

  /** Writes counted by the shard workers (their part of rdb_changes_since_last_save). */
  shardDirty(): number {
    if (this.pool === null) return 0;
    let n = 0;
    for (const a of this.pool.arenas) n += a.hdr[H_DIRTY];
    return n;
  }

  // ---- MULTI/EXEC/WATCH (src/server/multi.ts) -----------------------------------------------

  /** EXEC: at once inline (or when it touches no shard), else once its shards are parked. */
  exec(cl: Client, c: ExecContext, spec: CommandSpec): void {
    const pool = this.pool;
    // Taken off the client now: what the pipeline queues or watches next is another transaction.
    const m = cl.multi!, ws = cl.watching;
    cl.multi = null;
    cl.watching = null;
    if (m.hasScript && !m.aborted) {
      // A block holding a script runs through the script host, the dataset held throughout.
      if (m.hasLocal) cl.holdInput = true;
      this.scriptRouter?.execBlock(m.commands);
      this.scripts.submitExec(cl, this.currentSeq, cl.replyMode !== REPLY_ON, spec, m, ws, this.opSeq);
      this.deferred = true;
      return;
    }
    if (pool === null) {
      execMulti(this, cl, this.inlineStore!, m, ws, this.opSeq, cl.db, cl.resp);
      return;
    }
    const mask = m.aborted ? 0 : execShardMask(this, m, ws);
    if (mask === 0) {
      execMulti(this, cl, pool.allStore, m, ws, this.opSeq, cl.db, cl.resp);
      return;
    }
    const op = this.opSeq, db = cl.db, resp = cl.resp;
    // A block that may change the connection (SELECT, HELLO...) holds what follows until it ran.
    if (m.hasLocal) cl.holdInput = true;
    pool.startTransaction(cl, this.currentSeq, cl.replyMode !== REPLY_ON, spec, c.buf, c.argStart, c.argEnd, c.argc, mask, false,
      () => {
        execMulti(this, cl, pool.allStore, m, ws, op, db, resp);
        if (m.hasLocal) {
          cl.holdInput = false;
          this.resumeInput(cl);
        }
      });
    this.deferred = true;
  }

  /** WATCH: notes whether each key is alive now, which needs its shard parked in worker mode. */
  watchCommand(cl: Client, c: ExecContext, spec: CommandSpec): void {
    const keys = watchKeys(this, cl, c);
    const pool = this.pool;
    if (pool === null) {
      settleAlive(keys, this.inlineStore!);
      c.w.ok();
      return;
    }
    let mask = 0;
    for (let i = 1; i < c.argc; i++) mask |= 1 << this.slotTable[keyHashSlot(c.buf, c.argStart[i], c.argEnd[i])];
    pool.startTransaction(cl, this.currentSeq, cl.replyMode !== REPLY_ON, spec, c.buf, c.argStart, c.argEnd, c.argc, mask, false,
      () => {
        settleAlive(keys, pool.allStore);
        this.w.ok();
      });
    this.deferred = true;
  }

  /** Are clients waiting with postponed input (CLIENT PAUSE, or a script holding the dataset)? */
  hasPostponed(): boolean {
    return this.postponed.length > 0;
  }

  /** Does this command run on the script thread? */
  isScriptCommand(spec: CommandSpec): boolean {
    return this.route[spec.id] === ROUTE_SCRIPT;
  }

  /** The shard of a command's first key; -1 without keys, or when it may reach every shard. */
  commandShard(spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): number {
    const route = this.route[spec.id];
    if (this.pool === null || (route !== ROUTE_KEYS && route !== ROUTE_SCRIPT)) return -1;
    if (this.keyPos.length < argc) this.keyPos = new Int32Array(argc * 2);
    if (getKeyPositions(spec, argc, buf, as, ae, this.keyPos) <= 0) return -1;
    const k = this.keyPos[0];
    return this.slotTable[keyHashSlot(buf, as[k], ae[k])];
  }

  /** Does this command run on the io thread (as opposed to a shard or the script thread)? */
  isLocal(spec: CommandSpec): boolean {
    return this.route[spec.id] === ROUTE_LOCAL;
  }

  /** Run one command queued by MULTI, on the io thread (EXEC). */
  runQueued(cl: Client, spec: CommandSpec): void {
    const local = this.local[spec.id];
    // CLIENT TRACKING: the EXEC's client modifies keys; its reads are remembered at once.
    const tracking = this.tracking, prevCurrent = tracking.current;
    tracking.current = cl;
    if (local !== null) local(this, cl, this.ctx, spec);
    else this.executor.run(spec.id);
    if (tracking.on) tracking.afterQueued(cl, spec, this.ctx);
    tracking.current = prevCurrent;
  }

  /** The shards a command needs (bit per shard): its keys' shards, all of them, or none for io-thread commands. */
  commandShardMask(spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): number {
    let route = this.route[spec.id];
    if (route === ROUTE_LOCAL) return 0;
    const all = this.shardCount >= 31 ? -1 : (1 << this.shardCount) - 1;
    if (route === ROUTE_KEYS && (spec.name === 'sort' || spec.name === 'sort_ro') && sortReadsOtherKeys(buf, as, ae, argc)) route = ROUTE_ALL;
    if (route === ROUTE_ALL) return all;
    if (route === ROUTE_ANY) return 1;
    if (this.keyPos.length < argc) this.keyPos = new Int32Array(argc * 2);
    const n = getKeyPositions(spec, argc, buf, as, ae, this.keyPos);
    if (n <= 0) return 1;
    let mask = 0;
    for (let i = 0; i < n; i++) mask |= 1 << this.slotTable[keyHashSlot(buf, as[this.keyPos[i]], ae[this.keyPos[i]])];
    return mask;
  }

  /** Number of keys in db across all shards. */
  dbSize(db: number): number {
    return this.inlineStore ? this.inlineStore.size(db) : this.pool!.allStore.size(db);
  }

  /** Error replies by their first word (INFO errorstats). */
  readonly errorStats = new Map<string, number>();
  private readonly specs = allSpecs();

  /** Count an error reply under its prefix ("ERR", "WRONGTYPE", ...). */
  countError(buf: Uint8Array, start: number, end: number): void {
    this.stats.errorReplies++;
    let e = start + 1;
    while (e < end && e < start + 129 && buf[e] !== 0x20 && buf[e] !== 0x0d) e++;
    const prefix = Buffer.from(buf.buffer, buf.byteOffset + start + 1, e - start - 1).toString('latin1');
    this.errorStats.set(prefix, (this.errorStats.get(prefix) ?? 0) + 1);
  }

  /** Command statistics after a command ran: time, and failed_calls when it answered an error. */
  accountCommand(cmdId: number, usec: number, reply: Uint8Array, start: number, end: number): void {
    const spec = this.specs[cmdId];
    // Counted after the command ran, as Redis's call() does (INFO does not see itself).
    spec.calls++;
    spec.usec += usec;
    if (end > start && reply[start] === 0x2d) {
      spec.failedCalls++;
      this.countError(reply, start, end);
    }
  }

  /** Big values queued for freeing across shards (INFO lazyfree_pending_objects). */
  lazyFreePending(): number {
    const store = this.inlineStore ?? this.pool!.allStore;
    let n = 0;
    for (const ks of store.keyspaces) n += ks.lazyFreePending;
    return n;
  }

  /** Keys with an expiry in db across all shards. */
  volatileCount(db: number): number {
    const store = this.inlineStore ?? this.pool!.allStore;
    let n = 0;
    for (const ks of store.keyspaces) n += ks.volatileCount(db);
    return n;
  }

  /** CONFIG RESETSTAT. */
  resetStats(): void {
    this.stats.reset();
    const b = this.statBase;
    b.hits += this.keyspaceHits();
    b.misses += this.keyspaceMisses();
    b.evicted += this.evictedKeys();
    b.expired += this.expiredKeys();
    for (const s of allSpecs()) {
      s.calls = 0;
      s.usec = 0;
      s.rejectedCalls = 0;
      s.failedCalls = 0;
    }
    this.slowlog.reset();
    this.errorStats.clear();
  }

  /** Arena bytes across shards: [used by blocks, reserved in segments]. */
  arenaBytes(): [number, number] {
    const store = this.inlineStore ?? this.pool!.allStore;
    let used = 0, reserved = 0;
    for (const ks of store.keyspaces) {
      used += ks.arena.usedBytes;
      reserved += ks.arena.segmentBytes;
    }
    return [used, reserved];
  }

  private scheduleCron(): void {
    if (this.cronTimer) clearInterval(this.cronTimer);
    this.cronTimer = setInterval(() => this.cron(), Math.max(2, Math.floor(1000 / this.cfg.hz)));
    this.cronTimer.unref();
  }

  /** serverCron on the io thread: client timeouts, and the store's cron when inline. */
  private cron(): void {
    const now = Date.now();
    this.stats.sampleOps(now);
    sampleMemoryPeak(this);
    if (evictConfig.maxmemory !== 0) this.countClientMemory();
    this.durability.cron();
    this.pool?.pollIdle();
    if (this.cfg.timeout > 0) {
      for (const c of this.clients.values()) {
        if (c.inFlight === 0 && now - c.lastInteraction > this.cfg.timeout * 1000) this.freeClient(c);
      }
    }
    const store = this.inlineStore;
    // Active defrag: the views of segments the shards released are dropped.
    if (this.pool !== null) dropReleasedSegments(this.pool.keyspaces);
    // Inline, a running script has the store to itself.
    if (store === null || this.scripts.storeHeld) return;
    const ks = store.keyspaces[0];
    ks.cron(1);
    this.defrag ??= new Defragger(ks);
    this.defrag.cron(1000 / this.cfg.hz);
    if (this.defrag.wantsTime) this.scheduleDefrag();
    if (ks.lazyFreePending > 0) this.scheduleLazyFree(ks);
    const period = 1000 / this.cfg.hz;
    const deadline = performance.now() + period * (0.25 + 0.05 * (this.cfg.activeExpireEffort - 1));
    for (let db = 0; db < ks.dbCount && performance.now() < deadline; db++) ks.activeExpire(db, now, deadline);
    this.durability.flushIo();
  }

  private lazyFreeScheduled = false;
  private defrag: Defragger | null = null;
  private defragScheduled = false;

  /** Inline mode: defrag in ~1 ms slices between event-loop turns, up to the period's budget. */
  private scheduleDefrag(): void {
    if (this.defragScheduled) return;
    this.defragScheduled = true;
    setImmediate(() => {
      this.defragScheduled = false;
      const d = this.defrag!;
      if (this.scripts.storeHeld || !d.wantsTime) return;
      d.step(performance.now() + 1);
      if (d.wantsTime) this.scheduleDefrag();
    });
  }
  /** performance.now() when the last inline command ended (command timing, see runInline). */
  private lastCommandEnd = 0;

  /** Inline mode: free queued big values in ~1 ms slices between event-loop turns. */
  private scheduleLazyFree(ks: Keyspace): void {
    if (this.lazyFreeScheduled) return;
    this.lazyFreeScheduled = true;
    setImmediate(() => {
      this.lazyFreeScheduled = false;
      ks.lazyFreeStep(performance.now() + 1);
      if (ks.lazyFreePending > 0) this.scheduleLazyFree(ks);
    });
  }

  /** Keys evicted by maxmemory across shards (INFO evicted_keys). */
  evictedKeys(): number {
    return evictedKeys((this.inlineStore ?? this.pool!.allStore).keyspaces) - this.statBase.evicted;
  }

  expiredKeys(): number {
    return (this.inlineStore ? this.inlineStore.keyspaces[0].expiredKeys : this.pool!.expiredKeys()) - this.statBase.expired;
  }

  /** INFO keyspace_hits / keyspace_misses: counted by each arena's owner, summed here. */
  keyspaceHits(): number {
    let n = 0;
    for (const ks of (this.inlineStore ?? this.pool!.allStore).keyspaces) n += ks.keyspaceHits;
    return n - this.statBase.hits;
  }

  keyspaceMisses(): number {
    let n = 0;
    for (const ks of (this.inlineStore ?? this.pool!.allStore).keyspaces) n += ks.keyspaceMisses;
    return n - this.statBase.misses;
  }

  /** The counters above as CONFIG RESETSTAT left them (the arenas' own keep counting). */
  private statBase = { hits: 0, misses: 0, evicted: 0, expired: 0 };

  /**
   * Shut down: save a snapshot when asked (or when save points are configured and NOSAVE
   * was not given), write and fsync the AOF, then exit. A failed save cancels the shutdown
   * (the error is returned) unless `force`.
   */
  async shutdown(code = 0, save: boolean | null = null, force = false): Promise<string | null> {
    if (this.shuttingDown) return null;
    this.shuttingDown = true;
    log.warn('User requested shutdown...');
    const doSave = save ?? this.cfg.save.length > 0;
    if (doSave) log.info('Saving the final RDB snapshot before exiting.');
    const err = await this.durability.shutdown(doSave);
    if (err !== null && !force) {
      log.warn({ err }, 'Error trying to save the DB, can\'t exit.');
      this.shuttingDown = false;
      return 'ERR Errors trying to SHUTDOWN. Check logs.';
    }
    if (this.cronTimer) clearInterval(this.cronTimer);
    for (const l of this.listeners) l.close();
    for (const c of this.clients.values()) {
      c.flush();
      c.sock.destroy();
    }
    this.clients.clear();
    if (this.pool) await this.pool.stop();
    await this.scripts.stop();
    log.warn('Sabre is now ready to exit, bye bye...');
    this.onShutdown?.(code);
    return null;
  }
}

/**
 * Does a SORT read keys other than its own (BY or GET patterns with a '*', GET '#' aside)?
 * BY without '*' means "don't sort" and reads nothing.
 */
function sortReadsOtherKeys(buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): boolean {
  for (let j = 2; j < argc - 1; j++) {
    const n = ae[j] - as[j];
    if (n !== 2 && n !== 3) continue;
    const a = buf[as[j]] | 0x20, b = buf[as[j] + 1] | 0x20;
    const isBy = n === 2 && a === 0x62 && b === 0x79;
    const isGet = n === 3 && a === 0x67 && b === 0x65 && (buf[as[j] + 2] | 0x20) === 0x74;
    if (!isBy && !isGet) continue;
    j++;
    for (let k = as[j]; k < ae[j]; k++) if (buf[k] === 0x2a) return true;
  }
  return false;
}

function latin1(buf: Uint8Array, s: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
}

/** Redis 7.0's text: "unknown command '%.128s', with args beginning with: 'a' 'b' " (args up to 128 bytes). */
function unknownCommandError(buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): string {
  let args = '';
  for (let i = 1; i < argc && args.length < 128; i++) {
    const room = 128 - args.length;
    args += `'${latin1(buf, as[i], Math.min(ae[i], as[i] + room))}' `;
  }
  return `ERR unknown command '${latin1(buf, as[0], Math.min(ae[0], as[0] + 128))}', with args beginning with: ${args}`;
}

function randomHex(n: number): string {
  let s = '';
  while (s.length < n) s += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, n);
}

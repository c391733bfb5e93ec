/**
 * Client-side caching: CLIENT TRACKING and its invalidation messages (Redis 7.0's tracking.c,
 * and the TRACKING / CACHING / GETREDIR / TRACKINGINFO parts of networking.c's clientCommand).
 *
 * Default mode: the keys a tracking client reads with a read-only command go into the
 * tracking table (key -> client ids; one table for every database, as in Redis). When a key
 * is modified (a write that changed it, expiry, eviction), every client in its entry gets an
 * invalidation and the entry goes. FLUSHDB / FLUSHALL invalidate everything with a null.
 * BCAST mode: modified keys matching a client's prefixes are sent in one array per prefix at
 * the end of the event-loop turn (Redis's beforeSleep). Messages are RESP3 pushes
 * `>2 invalidate [keys]`, or for a RESP2 client redirected to a connection in pub/sub mode,
 * a `message` on `__redis__:invalidate`.
 *
 * Which keys a write modified: the keyspace events commands raise (Redis pairs each
 * signalModifiedKey with a notifyKeyspaceEvent). While tracking is on, every class of event
 * is raised (the io thread's and the shards' notify flags get all classes; only what
 * notify-keyspace-events selects is published). On the io thread the command's client is
 * known (`current`); a shard's events arrive just ahead of the reply of the command that
 * raised them, so they wait in `pendingKeys` until that reply is delivered.
 *
 * Ordering, as Redis 7.0.15: a client that modifies a key it tracks itself gets the
 * invalidation right after its command's reply (server.tracking_pending_keys); every other
 * client gets it at once, which is before the writer's reply is written.
 */
import type { Server } from './server';
import type { Client } from './client';
import type { ExecContext } from '../commands/context';
import { ERR_NOT_INTEGER, ERR_SYNTAX, NOTIFY_EVICTED, NOTIFY_EXPIRED, NOTIFY_KEY_MISS, NOTIFY_NEW, effectiveNotifyFlags } from '../commands/context';
import { CMD_PUBSUB, CMD_READONLY, CommandSpec, SCRIPT_RUN_COMMANDS, getKeyPositions } from '../commands/table';
import { parseInt64, parsed } from '../util/numbers';

/** Client tracking flags (Redis's CLIENT_TRACKING_*). */
export const TRACKING_BCAST = 1;
export const TRACKING_OPTIN = 2;
export const TRACKING_OPTOUT = 4;
export const TRACKING_NOLOOP = 8;
export const TRACKING_CACHING = 16;
export const TRACKING_BROKEN_REDIR = 32;


/** Tracking state of one connection (Client.tracking; created on first use). */
export class ClientTracking {
  /** CLIENT TRACKING on (Redis's CLIENT_TRACKING). */
  on = false;
  flags = 0;
  /** CLIENT TRACKING .. REDIRECT id (0: none). */
  redirect = 0;
  /** BCAST prefixes (latin1). */
  prefixes: Set<string> | null = null;
  /** CLIENT CACHING as it stood when the EXEC being run was dispatched. */
  execCaching = false;
  /** A CLIENT CACHING ran inside EXEC: the flag goes with the transaction. */
  cachingInExec = false;
  /** Dispatch number (Server.opSeq) of the CLIENT TRACKING on: flushes dispatched before it do not concern it. */
  enabledAt = 0;
  /** Commands in flight whose reply does tracking work: seq -> keys read, or a flush's dispatch number. */
  ops: Map<number, string[] | number> | null = null;
  /** Invalidations owed to this connection after the reply of its command (key, or null: flush). */
  after: (string | null)[] | null = null;
  /** Messages caused by this connection's commands whose replies arrived ahead of earlier ones: seq -> held. */
  held: Map<number, Held> | null = null;
  /** seq of this connection's last script command whose reads count for its tracking (-1: none). */
  scriptSeq = -1;
}


/**
 * What a command's reply caused while it arrived out of order (a pipeline over several shards):
 * sent when the reply takes its place, so messages follow the writer's command order as in Redis.
 */
interface Held {
  readonly msgs: (Client | Buffer)[];
  after: (string | null)[] | null;
}

/** A BCAST prefix: keys modified this turn (-> the client that modified it last) and its clients. */
interface BcastState {
  keys: Map<string, Client | null>;
  readonly clients: Set<Client>;
}

/**
 * Longest a BCAST array waits for the replies of its writers' pipelines (ms). Only a client
 * that never stops pipelining reaches it; 5 ms was reached by ordinary pipelines over two
 * shards on a loaded machine, splitting what Redis sends as one array.
 */
const BCAST_MAX_WAIT_MS = 50;

const INVALIDATE_PUSH = Buffer.from('>2\r\n$10\r\ninvalidate\r\n', 'latin1');
const INVALIDATE_MESSAGE = Buffer.from('*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n', 'latin1');
const NULL_RESP2 = Buffer.from('$-1\r\n', 'latin1');
const NULL_RESP3 = Buffer.from('_\r\n', 'latin1');

/** Keyspace event classes that mean "this key changed" (keymiss and new do not). */
export const TRACKED_EVENT_CLASSES = ((1 << 15) - 1) & ~(NOTIFY_KEY_MISS | NOTIFY_NEW | 3);

export class Tracking {
  /** Commands are watched: a client tracks, or the table still holds keys. The hot path's only check. */
  on = false;
  /** Clients with tracking on (Redis's server.tracking_clients). */
  readonly clients = new Set<Client>();
  /** Key (latin1) -> ids of clients that may cache it. */
  readonly table = new Map<string, Set<number>>();
  /** Ids across the table (tracking_total_items). */
  totalItems = 0;
  readonly prefixes = new Map<string, BcastState>();
  /** The client whose command runs on the io thread now (Redis's server.current_client), or null. */
  current: Client | null = null;
  /** The client whose in-order reply bytes sit in the io writer (the one being dispatched). */
  inWriter: Client | null = null;
  /** Set while pub/sub delivers keyspace events: those deliveries are not command replies. */
  publishing = false;
  /** Keys modified by a command whose client is known only when its reply is delivered. */
  private pendingKeys: string[] = [];
  /** Per pending key: raised by expiry or eviction (no modifying client). */
  private pendingNoModifier: boolean[] = [];
  private sending = false;
  private turnScheduled = false;
  bcastPending = false;
  private bcastSince = 0;
  /** Clients that modified keys waiting in BCAST prefixes (see bcastReady). */
  private readonly bcastModifiers = new Set<Client>();
  private readonly toFlush = new Set<Client>();
  private limitCounter = 0;
  private keyPos = new Int32Array(64);
  private notifyHooked = false;
  private readonly turnFn = () => this.endOfTurn();

  constructor(private readonly srv: Server) {}

  // ---- state ------------------------------------------------------------------------------

  /** Recompute `on`; while it is, every class of keyspace event is raised. */
  private refresh(): void {
    const on = this.clients.size !== 0 || this.table.size !== 0;
    if (on === this.on) return;
    this.on = on;
    this.shardsReady = this.applyNotifyFlags();
  }

  /** Shards acknowledged the notify flags of the last change (null: nothing pending). */
  private shardsReady: Promise<unknown> | null = null;

  /**
   * notify-keyspace-events as the threads that run commands see it: the user's, plus every
   * class while tracking. Returns when every shard has the new flags (worker mode).
   */
  private applyNotifyFlags(): Promise<unknown> | null {
    const srv = this.srv, cfg = srv.cfg;
    if (!this.notifyHooked) {
      // Registered after the shard pool's own listener, so this one has the last word.
      this.notifyHooked = true;
      cfg.onChange('notify-keyspace-events', () => { if (this.on) this.applyNotifyFlags(); });
    }
    srv.ctx.notifyFlags = effectiveNotifyFlags(cfg.notifyKeyspaceEvents) | (this.on ? TRACKED_EVENT_CLASSES : 0);
    const pool = srv.pool;
    if (pool === null) return null;
    const user = cfg.getValue('notify-keyspace-events') ?? '';
    const acks: Promise<string>[] = [];
    for (let s = 0; s < pool.n; s++) acks.push(pool.control(s, { op: 'set', name: 'notify-keyspace-events', value: this.on ? user + 'KA' : user }));
    return Promise.all(acks);
  }

  private stateOf(cl: Client): ClientTracking {
    return cl.tracking ??= new ClientTracking();
  }

  /** Redis's enableTracking. */
  enable(cl: Client, redirect: number, options: number, prefixes: string[]): void {
    const t = this.stateOf(cl);
    if (!t.on) t.enabledAt = this.srv.opSeq;
    t.on = true;
    this.clients.add(cl);
    t.flags &= ~(TRACKING_BROKEN_REDIR | TRACKING_BCAST | TRACKING_OPTIN | TRACKING_OPTOUT | TRACKING_NOLOOP);
    t.redirect = redirect;
    if ((options & TRACKING_BCAST) !== 0) {
      t.flags |= TRACKING_BCAST;
      if (prefixes.length === 0) this.enableBcastPrefix(cl, t, '');
      for (const p of prefixes) this.enableBcastPrefix(cl, t, p);
    }
    t.flags |= options & (TRACKING_OPTIN | TRACKING_OPTOUT | TRACKING_NOLOOP);
    this.refresh();
  }

  private enableBcastPrefix(cl: Client, t: ClientTracking, prefix: string): void {
    let bs = this.prefixes.get(prefix);
    if (bs === undefined) {
      bs = { keys: new Map(), clients: new Set() };
      this.prefixes.set(prefix, bs);
    }
    if (bs.clients.has(cl)) return;
    bs.clients.add(cl);
    (t.prefixes ??= new Set()).add(prefix);
  }

  /** Redis's disableTracking (CLIENT TRACKING off, RESET, disconnect). Table entries go lazily. */
  disable(cl: Client): void {
    const t = cl.tracking;
    if (t === null) return;
    if (cl.closed && t.held !== null) {
      // Gone with replies outstanding: what its commands caused for others still goes out.
      for (const held of t.held.values()) this.sendHeld(held);
      t.held = null;
    }
    if ((t.flags & TRACKING_BCAST) !== 0 && t.prefixes !== null) {
      for (const p of t.prefixes) {
        const bs = this.prefixes.get(p);
        if (bs === undefined) continue;
        bs.clients.delete(cl);
        if (bs.clients.size === 0) this.prefixes.delete(p);
      }
      t.prefixes = null;
    }
    if (t.on) {
      t.on = false;
      this.clients.delete(cl);
      t.flags &= ~(TRACKING_BROKEN_REDIR | TRACKING_BCAST | TRACKING_OPTIN | TRACKING_OPTOUT | TRACKING_CACHING | TRACKING_NOLOOP);
    }
    this.refresh();
  }

  /** tracking_clients: clients with tracking on (connections already gone are dropped here). */
  trackingClients(): number {
    for (const c of this.clients) if (c.closed) this.disable(c);
    return this.clients.size;
  }

  // ---- the command path (src/server/server.ts hooks) ------------------------------------------

  /**
   * A command is about to run or be routed (dispatch, not queued in MULTI): note its client,
   * keep the table under tracking-table-max-keys, and stage what its reply must do: remember
   * the keys a tracking client reads, or invalidate everything after a flush.
   */
  beginCommand(cl: Client, seq: number, spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): void {
    this.current = cl;
    this.inWriter = cl;
    if (this.clients.size !== 0) this.limitUsedSlots();
    const name = spec.name;
    if ((name === 'flushdb' || name === 'flushall') && flushArgsValid(buf, as, ae, argc)) this.stage(cl, seq, this.srv.opSeq);
    const t = cl.tracking;
    if (t === null || !t.on) return;
    // CLIENT CACHING covers the next command or transaction (resetClient clears it after any
    // command but CLIENT's, outside MULTI).
    if (t.cachingInExec) {
      t.cachingInExec = false;
      t.flags &= ~TRACKING_CACHING;
    }
    const caching = (t.flags & TRACKING_CACHING) !== 0;
    if ((spec.parent === null || spec.parent.name !== 'client') && name !== 'multi') {
      if (name === 'exec') t.execCaching = caching;
      t.flags &= ~TRACKING_CACHING;
    }
    if (SCRIPT_RUN_COMMANDS.has(name)) {
      // Not the script command itself: the commands it runs (call()'s test, with the caller's flags).
      const counts = (t.flags & TRACKING_BCAST) === 0 && ((t.flags & TRACKING_OPTIN) === 0 || caching) && ((t.flags & TRACKING_OPTOUT) === 0 || !caching);
      t.scriptSeq = counts ? seq : -1;
      return;
    }
    const keys = this.keysToRemember(t, spec, caching, buf, as, ae, argc);
    if (keys !== null) this.stage(cl, seq, keys);
  }

  /** Does script command `seq` of cl count its reads for cl's tracking (decided at beginCommand)? */
  scriptReadsTracked(cl: Client, seq: number): boolean {
    const t = cl.tracking;
    return t !== null && t.on && t.scriptSeq === seq;
  }

  /** The keys cl's script `seq` declared, its script having run a read-only command: remembered when its reply goes out. */
  stageScriptReads(cl: Client, seq: number, keys: string[]): void {
    if (cl.tracking !== null && cl.tracking.on) this.stage(cl, seq, keys);
  }

  /**
   * The end of a batch of dispatches (before its replies are written): BCAST messages go out
   * (Redis's beforeSleep), and no command of a client runs on this thread any more.
   */
  endBatch(): void {
    if (this.bcastPending && this.bcastReady()) this.broadcast();
    this.current = null;
    this.inWriter = null;
  }

  /** Replies are about to be written (from shard replies): BCAST messages first, as beforeSleep. */
  beforeWrite(): void {
    if (this.bcastPending && this.bcastReady()) this.broadcast();
  }

  /**
   * Redis sends what one event-loop turn modified in one array per prefix; a pipeline's
   * commands span several shard replies here, so the array waits until every client that
   * modified a pending key has its replies in.
   */
  private bcastReady(): boolean {
    // A client that never stops pipelining must not hold the messages back for long.
    if (performance.now() - this.bcastSince > BCAST_MAX_WAIT_MS) return true;
    for (const c of this.bcastModifiers) if (c.inFlight > 0 && !c.closed) return false;
    return true;
  }

  /** After a command queued in MULTI ran inside EXEC (its client is `current`): its tracking work, at once. */
  afterQueued(cl: Client, spec: CommandSpec, c: ExecContext): void {
    const name = spec.name;
    if ((name === 'flushdb' || name === 'flushall') && flushArgsValid(c.buf, c.argStart, c.argEnd, c.argc)) this.invalidateAll(cl);
    const t = cl.tracking;
    if (t === null || !t.on) return;
    if (name === 'client|caching') {
      if ((t.flags & TRACKING_CACHING) !== 0) t.cachingInExec = true;
      return;
    }
    const keys = this.keysToRemember(t, spec, t.execCaching || (t.flags & TRACKING_CACHING) !== 0, c.buf, c.argStart, c.argEnd, c.argc);
    if (keys !== null) this.rememberKeys(cl, keys);
  }

  /** The keys a command of tracking client t reads and should be remembered (call()'s test), or null. */
  private keysToRemember(t: ClientTracking, spec: CommandSpec, caching: boolean, buf: Uint8Array, as: Int32Array,
    ae: Int32Array, argc: number): string[] | null {
    if ((spec.flags & CMD_READONLY) === 0 || (spec.flags & CMD_PUBSUB) !== 0 || (t.flags & TRACKING_BCAST) !== 0) return null;
    const name = spec.name;
    // Read-only scripts are not tracked themselves, only the commands they run.
    if (name === 'eval_ro' || name === 'evalsha_ro' || name === 'fcall_ro') return null;
    if (((t.flags & TRACKING_OPTIN) !== 0 && !caching) || ((t.flags & TRACKING_OPTOUT) !== 0 && caching)) return null;
    if (this.keyPos.length < argc) this.keyPos = new Int32Array(argc * 2);
    const n = getKeyPositions(spec, argc, buf, as, ae, this.keyPos);
    if (n <= 0) return null;
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push(latin1(buf, as[this.keyPos[i]], ae[this.keyPos[i]]));
    return keys;
  }

  private stage(cl: Client, seq: number, op: string[] | number): void {
    const t = this.stateOf(cl);
    (t.ops ??= new Map()).set(seq, op);
  }

  /**
   * The reply of command `seq` of `cl` is being delivered. Settle what it did, in the order
   * it happened: keys modified by shard events just ahead of it, then the keys it read (or
   * its flush). Returns the invalidations owed to cl's own connection, to follow the reply.
   */
  onReply(cl: Client, seq: number): Buffer | null {
    if (this.sending || this.publishing) return null;
    const t0 = cl.tracking;
    if (this.pendingKeys.length === 0 && (t0 === null || (t0.ops === null && t0.after === null))) return null;
    // Out of order: the table changes now (shard order), the messages when the reply takes its place.
    let held: Held | null = null;
    if (seq !== cl.writeSeq) {
      held = { msgs: [], after: null };
      this.holding = held;
    }
    if (this.pendingKeys.length !== 0) this.resolvePending(cl);
    const t = cl.tracking;
    if (t !== null && t.ops !== null) {
      const op = t.ops.get(seq);
      if (op !== undefined) {
        t.ops.delete(seq);
        if (t.ops.size === 0) t.ops = null;
        if (typeof op === 'number') this.invalidateAll(cl, op);
        else if (t.on) this.rememberKeys(cl, op);
      }
    }
    this.holding = null;
    if (held !== null) {
      if (t !== null) {
        held.after = t.after;
        t.after = null;
      }
      if (held.msgs.length !== 0 || held.after !== null) (this.stateOf(cl).held ??= new Map()).set(seq, held);
      return null;
    }
    if (t === null) return null;
    const after = t.after;
    t.after = null;
    return this.ownFrames(cl, after);
  }

  /** A reply that arrived out of order takes its place: what it caused goes out now. */
  onRelease(cl: Client, seq: number): Buffer | null {
    const t = cl.tracking;
    if (t === null || t.held === null) return null;
    const held = t.held.get(seq);
    if (held === undefined) return null;
    t.held.delete(seq);
    if (t.held.size === 0) t.held = null;
    this.sendHeld(held);
    return this.ownFrames(cl, held.after);
  }

  private sendHeld(held: Held): void {
    const m = held.msgs;
    for (let i = 0; i < m.length; i += 2) this.send(m[i] as Client, m[i + 1] as Buffer);
  }

  /** The invalidations owed to cl itself, as bytes to follow its reply (others' receivers get theirs now). */
  private ownFrames(cl: Client, after: (string | null)[] | null): Buffer | null {
    if (after === null) return null;
    let own: Buffer[] | null = null;
    for (const key of after) {
      const frame = this.frame(cl, key === null ? nullFor(cl) : keyArray(key));
      if (frame === null) continue;
      if (this.receiver === cl) (own ??= []).push(frame);
      else this.send(this.receiver!, frame);
    }
    return own === null ? null : own.length === 1 ? own[0] : Buffer.concat(own);
  }

  // ---- modified keys ----------------------------------------------------------------------------

  /**
   * A keyspace event of the io thread's store (Redis's signalModifiedKey). `noModifier`:
   * raised by expiry or eviction, not by the command that happens to run.
   */
  keyModified(key: Uint8Array, ks: number, ke: number, noModifier: boolean): void {
    const k = latin1(key, ks, ke);
    const cur = this.current;
    if (cur !== null) this.invalidateKey(k, noModifier ? null : cur, cur, true);
    else this.addPending(k, noModifier);
  }

  /** A shard's keyspace event: its command's client is known when its reply is delivered. */
  shardKeyModified(key: Uint8Array, ks: number, ke: number, noModifier: boolean): void {
    this.addPending(latin1(key, ks, ke), noModifier);
  }

  private addPending(k: string, noModifier: boolean): void {
    this.pendingKeys.push(k);
    this.pendingNoModifier.push(noModifier);
    this.scheduleTurn();
  }

  /**
   * Invalidate keys whose command's client is now known (the reply being delivered), or null
   * (active expiry, nothing followed). A shard's expiry events may come from its cron rather
   * than from the command whose reply follows: they never count as that client's own (NOLOOP).
   */
  private resolvePending(writer: Client | null): void {
    const keys = this.pendingKeys, noMod = this.pendingNoModifier;
    this.pendingKeys = [];
    this.pendingNoModifier = [];
    for (let i = 0; i < keys.length; i++) this.invalidateKey(keys[i], noMod[i] ? null : writer, writer, !noMod[i]);
  }

  /**
   * Redis's trackingInvalidateKey: queue the key for BCAST prefixes, and send an invalidation
   * to every client that may cache it (but a NOLOOP writer), then forget the entry. The
   * writer's own invalidation waits for its reply.
   */
  private invalidateKey(key: string, modifier: Client | null, writer: Client | null, noloopApplies: boolean): void {
    if (this.prefixes.size !== 0) this.rememberKeyToBroadcast(key, modifier);
    const ids = this.table.get(key);
    if (ids === undefined) return;
    const clients = this.srv.clients;
    let frameKey: Buffer | null = null;
    for (const id of ids) {
      const target = clients.get(id);
      if (target === undefined || target.closed) continue;
      const t = target.tracking;
      if (t === null || !t.on || (t.flags & TRACKING_BCAST) !== 0) continue;
      if (target === writer) {
        if ((t.flags & TRACKING_NOLOOP) !== 0 && noloopApplies) continue;
        (t.after ??= []).push(key);
        continue;
      }
      frameKey ??= keyArray(key);
      const frame = this.frame(target, frameKey);
      if (frame !== null) this.send(this.receiver!, frame);
    }
    this.totalItems -= ids.size;
    this.table.delete(key);
    if (this.table.size === 0) this.refresh();
  }

  /** Redis's trackingRememberKeys: cl may now cache these keys. */
  private rememberKeys(cl: Client, keys: string[]): void {
    for (const k of keys) {
      let ids = this.table.get(k);
      if (ids === undefined) {
        ids = new Set();
        this.table.set(k, ids);
      }
      if (!ids.has(cl.id)) {
        ids.add(cl.id);
        this.totalItems++;
      }
    }
    this.refresh();
  }

  /**
   * Redis's trackingInvalidateKeysOnFlush: a null to every tracking client (that enabled
   * tracking before the flush was dispatched, number `op`), and an empty table.
   */
  invalidateAll(writer: Client | null, op = Infinity): void {
    for (const c of this.clients) {
      if (c.closed || c.tracking!.enabledAt > op) continue;
      if (c === writer) (c.tracking!.after ??= []).push(null);
      else {
        const frame = this.frame(c, nullFor(c));
        if (frame !== null) this.send(this.receiver!, frame);
      }
    }
    this.table.clear();
    this.totalItems = 0;
    this.refresh();
  }

  /** Redis's trackingLimitUsedSlots: over tracking-table-max-keys, invalidate keys until under it. */
  private limitUsedSlots(): void {
    const max = this.srv.cfg.trackingTableMaxKeys;
    if (max === 0 || this.table.size <= max) {
      this.limitCounter = 0;
      return;
    }
    let effort = 100 * (this.limitCounter + 1);
    for (const key of this.table.keys()) {
      if (effort-- <= 0) break;
      this.invalidateKey(key, null, null, false);
      if (this.table.size <= max) {
        this.limitCounter = 0;
        return;
      }
    }
    this.limitCounter++;
  }

  // ---- BCAST ------------------------------------------------------------------------------------

  private rememberKeyToBroadcast(key: string, modifier: Client | null): void {
    for (const [prefix, bs] of this.prefixes) {
      if (prefix.length > key.length || !key.startsWith(prefix)) continue;
      if (!this.bcastPending) this.bcastSince = performance.now();
      bs.keys.set(key, modifier);
      this.bcastPending = true;
      if (modifier !== null) this.bcastModifiers.add(modifier);
    }
    if (this.bcastPending) this.scheduleTurn();
  }

  /** Redis's trackingBroadcastInvalidationMessages: one array of keys per prefix, keys in byte order. */
  private broadcast(): void {
    this.bcastPending = false;
    this.bcastModifiers.clear();
    if (this.clients.size === 0) return;
    const prefixes = [...this.prefixes.keys()].sort();
    for (const p of prefixes) {
      const bs = this.prefixes.get(p)!;
      if (bs.keys.size === 0) continue;
      const keys = [...bs.keys.keys()].sort();
      const all = keysArray(keys, bs.keys, null);
      for (const c of bs.clients) {
        let proto: Buffer | null = all;
        if ((c.tracking!.flags & TRACKING_NOLOOP) !== 0) proto = keysArray(keys, bs.keys, c);
        if (proto === null) continue;
        const frame = this.frame(c, proto);
        if (frame !== null) this.send(this.receiver!, frame);
      }
      bs.keys = new Map();
    }
  }

  // ---- sending ------------------------------------------------------------------------------------

  /** Who gets the frame frame() built last. */
  private receiver: Client | null = null;
  /** Where messages go while an out-of-order reply is settled (see onReply). */
  private holding: Held | null = null;

  /**
   * Redis's sendTrackingMessage: the frame for tracking client c about `value` (an encoded
   * array of keys, or a null), and its receiver in `this.receiver`; null when nothing goes out
   * (RESP2 without a redirect to a pub/sub connection).
   */
  private frame(c: Client, value: Buffer): Buffer | null {
    const t = c.tracking!;
    let r = c;
    let redirected = false;
    if (t.redirect !== 0) {
      const redir = this.srv.clients.get(t.redirect);
      if (redir === undefined || redir.closed) {
        t.flags |= TRACKING_BROKEN_REDIR;
        if (c.resp !== 3) return null;
        this.receiver = c;
        return Buffer.from(`>2\r\n$21\r\ntracking-redir-broken\r\n:${t.redirect}\r\n`, 'latin1');
      }
      r = redir;
      redirected = true;
    }
    this.receiver = r;
    if (r.resp === 3) return Buffer.concat([INVALIDATE_PUSH, value]);
    if (redirected && r.pubsub !== null) return Buffer.concat([INVALIDATE_MESSAGE, value]);
    return null;
  }

  /** Write a push to a connection, in order with its replies; written at the end of the turn. */
  private send(r: Client, frame: Buffer): void {
    if (r.closed) return;
    if (this.holding !== null) {
      this.holding.msgs.push(r, frame);
      return;
    }
    const srv = this.srv;
    if (r === this.inWriter) {
      // Its in-order replies sit in the io writer: the push goes where it happens.
      srv.w.raw(frame, 0, frame.length);
      return;
    }
    if (r.writeSeq === r.nextSeq) {
      r.appendOut(frame, 0, frame.length);
    } else {
      // Replies to earlier commands are still due: the push waits its turn after them.
      this.sending = true;
      srv.deliver(r, r.nextSeq++, frame, 0, frame.length, false);
      this.sending = false;
    }
    this.toFlush.add(r);
    this.scheduleTurn();
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(this.turnFn);
  }

  /** End of the event-loop turn (Redis's beforeSleep): leftover shard events, BCAST, then one write per receiver. */
  private endOfTurn(): void {
    this.turnScheduled = false;
    if (this.pendingKeys.length !== 0) this.resolvePending(null);
    if (this.bcastPending) {
      if (this.bcastReady()) this.broadcast();
      else if (!this.turnScheduled) {
        // Writers' replies are still coming: look again shortly (they usually trigger it first).
        this.turnScheduled = true;
        setTimeout(this.turnFn, 1);
      }
    }
    for (const r of this.toFlush) this.srv.flushClient(r);
    this.toFlush.clear();
  }

  // ---- CLIENT subcommands --------------------------------------------------------------------------

  /** CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP] */
  trackingCommand(cl: Client, c: ExecContext): void {
    const w = c.w;
    let redir = 0;
    let options = 0;
    const prefixes: string[] = [];
    for (let j = 3; j < c.argc; j++) {
      const moreargs = c.argc - 1 - j;
      if (c.argIs(j, 'redirect') && moreargs > 0) {
        j++;
        if (redir !== 0) {
          w.error('ERR A client can only redirect to a single other client');
          return;
        }
        if (!parseInt64(c.buf, c.argStart[j], c.argEnd[j])) {
          w.error(ERR_NOT_INTEGER);
          return;
        }
        redir = parsed.isBig ? Number(parsed.big) : parsed.int;
        // The client must exist now, even if it may go away later.
        const target = this.srv.clients.get(redir);
        if (target === undefined || target.closed) {
          w.error('ERR The client ID you want redirect to does not exist');
          return;
        }
      } else if (c.argIs(j, 'bcast')) {
        options |= TRACKING_BCAST;
      } else if (c.argIs(j, 'optin')) {
        options |= TRACKING_OPTIN;
      } else if (c.argIs(j, 'optout')) {
        options |= TRACKING_OPTOUT;
      } else if (c.argIs(j, 'noloop')) {
        options |= TRACKING_NOLOOP;
      } else if (c.argIs(j, 'prefix') && moreargs > 0) {
        j++;
        prefixes.push(latin1(c.buf, c.argStart[j], c.argEnd[j]));
      } else {
        w.error(ERR_SYNTAX);
        return;
      }
    }
    const t = cl.tracking;
    const tracking = t !== null && t.on;
    if (c.argIs(2, 'on')) {
      if ((options & TRACKING_BCAST) === 0 && prefixes.length > 0) {
        w.error('ERR PREFIX option requires BCAST mode to be enabled');
        return;
      }
      if (tracking && ((t.flags & TRACKING_BCAST) !== 0) !== ((options & TRACKING_BCAST) !== 0)) {
        w.error('ERR You can\'t switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.');
        return;
      }
      if ((options & TRACKING_BCAST) !== 0 && (options & (TRACKING_OPTIN | TRACKING_OPTOUT)) !== 0) {
        w.error('ERR OPTIN and OPTOUT are not compatible with BCAST');
        return;
      }
      if ((options & TRACKING_OPTIN) !== 0 && (options & TRACKING_OPTOUT) !== 0) {
        w.error('ERR You can\'t specify both OPTIN mode and OPTOUT mode');
        return;
      }
      const flags = t !== null ? t.flags : 0;
      if (((options & TRACKING_OPTIN) !== 0 && (flags & TRACKING_OPTOUT) !== 0) ||
        ((options & TRACKING_OPTOUT) !== 0 && (flags & TRACKING_OPTIN) !== 0)) {
        w.error('ERR You can\'t switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.');
        return;
      }
      if ((options & TRACKING_BCAST) !== 0 && !this.checkPrefixCollisions(cl, c, prefixes)) return;
      this.shardsReady = null;
      this.enable(cl, redir, options, prefixes);
      const ready = this.shardsReady as Promise<unknown> | null;
      if (ready !== null) {
        // Tracking just started: a shard applies the new event flags from its next batch on, so
        // what this client sends next (its first reads) waits until every shard has them.
        this.shardsReady = null;
        cl.holdInput = true;
        void ready.then(() => {
          cl.holdInput = false;
          this.srv.resumeInput(cl);
        });
      }
    } else if (c.argIs(2, 'off')) {
      this.disable(cl);
    } else {
      w.error(ERR_SYNTAX);
      return;
    }
    w.ok();
  }

  /**
   * Redis's checkPrefixCollisionsOrReply, quirk included: a collision inside the given list
   * found at index i > 0 replies the error and still goes on (Redis returns i, not 0).
   */
  private checkPrefixCollisions(cl: Client, c: ExecContext, prefixes: string[]): boolean {
    const own = cl.tracking?.prefixes ?? null;
    for (let i = 0; i < prefixes.length; i++) {
      if (own !== null) {
        for (const p of [...own].sort()) {
          if (prefixOverlap(p, prefixes[i])) {
            errorLatin1(c, `ERR Prefix '${cstr(prefixes[i])}' overlaps with an existing prefix '${cstr(p)}'. Prefixes for a single client must not overlap.`);
            return false;
          }
        }
      }
      for (let j = i + 1; j < prefixes.length; j++) {
        if (prefixOverlap(prefixes[i], prefixes[j])) {
          errorLatin1(c, `ERR Prefix '${cstr(prefixes[i])}' overlaps with another provided prefix '${cstr(prefixes[j])}'. Prefixes for a single client must not overlap.`);
          return i !== 0;
        }
      }
    }
    return true;
  }

  /** CLIENT CACHING yes|no */
  cachingCommand(cl: Client, c: ExecContext): void {
    const w = c.w;
    const t = cl.tracking;
    if (t === null || !t.on) {
      w.error('ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled');
      return;
    }
    if (c.argIs(2, 'yes')) {
      if ((t.flags & TRACKING_OPTIN) === 0) {
        w.error('ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.');
        return;
      }
    } else if (c.argIs(2, 'no')) {
      if ((t.flags & TRACKING_OPTOUT) === 0) {
        w.error('ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.');
        return;
      }
    } else {
      w.error(ERR_SYNTAX);
      return;
    }
    t.flags |= TRACKING_CACHING;
    w.ok();
  }

  /** CLIENT GETREDIR */
  getredirCommand(cl: Client, c: ExecContext): void {
    const t = cl.tracking;
    c.w.integer(t !== null && t.on ? t.redirect : -1);
  }

  /** CLIENT TRACKINGINFO: flags (a set), redirect, prefixes. */
  trackinginfoCommand(cl: Client, c: ExecContext): void {
    const w = c.w;
    const t = cl.tracking;
    const flags = t !== null ? t.flags : 0;
    const on = t !== null && t.on;
    w.mapHeader(3);
    w.bulkString('flags');
    const names = [on ? 'on' : 'off'];
    if ((flags & TRACKING_BCAST) !== 0) names.push('bcast');
    if ((flags & TRACKING_OPTIN) !== 0) {
      names.push('optin');
      if ((flags & TRACKING_CACHING) !== 0) names.push('caching-yes');
    }
    if ((flags & TRACKING_OPTOUT) !== 0) {
      names.push('optout');
      if ((flags & TRACKING_CACHING) !== 0) names.push('caching-no');
    }
    if ((flags & TRACKING_NOLOOP) !== 0) names.push('noloop');
    if ((flags & TRACKING_BROKEN_REDIR) !== 0) names.push('broken_redirect');
    w.setHeader(names.length);
    for (const n of names) w.bulkString(n);
    w.bulkString('redirect');
    w.integer(on ? t.redirect : -1);
    w.bulkString('prefixes');
    const prefixes = t !== null && t.prefixes !== null ? [...t.prefixes].sort() : [];
    w.arrayHeader(prefixes.length);
    for (const p of prefixes) {
      const b = Buffer.from(p, 'latin1');
      w.bulk(b, 0, b.length);
    }
  }
}

// ---- CLIENT LIST ------------------------------------------------------------------------------

/** CLIENT LIST flag letters for tracking, in catClientInfoString's order (after 'b'): t R B. */
export function trackingFlagLetters(cl: Client): string {
  const t = cl.tracking;
  if (t === null) return '';
  let f = '';
  if (t.on) f += 't';
  if ((t.flags & TRACKING_BROKEN_REDIR) !== 0) f += 'R';
  if ((t.flags & TRACKING_BCAST) !== 0) f += 'B';
  return f;
}

/** CLIENT LIST redir=: the redirect while tracking, else -1. */
export function trackingRedirect(cl: Client): number {
  const t = cl.tracking;
  return t !== null && t.on ? t.redirect : -1;
}

// ---- helpers --------------------------------------------------------------------------------

function latin1(buf: Uint8Array, s: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
}

/** *1 $len key: the value of a one-key invalidation. */
function keyArray(key: string): Buffer {
  return Buffer.from(`*1\r\n$${key.length}\r\n${key}\r\n`, 'latin1');
}

/** Redis's trackingBuildBroadcastReply: the keys (sorted) not last modified by `c`, or null if none. */
function keysArray(sorted: string[], modifiers: Map<string, Client | null>, c: Client | null): Buffer | null {
  let s = '';
  let n = 0;
  for (const k of sorted) {
    if (c !== null && modifiers.get(k) === c) continue;
    s += `$${k.length}\r\n${k}\r\n`;
    n++;
  }
  if (n === 0 && c !== null) return null;
  return Buffer.from(`*${n}\r\n${s}`, 'latin1');
}

/** shared.null[c->resp]: the flush invalidation's value, in the tracking client's protocol. */
function nullFor(c: Client): Buffer {
  return c.resp === 3 ? NULL_RESP3 : NULL_RESP2;
}

/** Redis's stringCheckPrefix: one is a prefix of the other. */
function prefixOverlap(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  return a.slice(0, n) === b.slice(0, n);
}

/** A %s of C: the text up to the first NUL. */
function cstr(s: string): string {
  const z = s.indexOf('\0');
  return z < 0 ? s : s.slice(0, z);
}

/** An error reply whose text is raw bytes (latin1), CR and LF as spaces like addReplyErrorFormat. */
function errorLatin1(c: ExecContext, s: string): void {
  c.w.rawString('-' + s.replace(/[\r\n]/g, ' ') + '\r\n');
}

/** FLUSHDB / FLUSHALL [ASYNC|SYNC]: arguments that flush (getFlushCommandFlags accepts them). */
function flushArgsValid(buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): boolean {
  if (argc === 1) return true;
  if (argc !== 2) return false;
  const n = ae[1] - as[1];
  const word = n === 4 ? 'sync' : n === 5 ? 'async' : null;
  if (word === null) return false;
  for (let k = 0; k < n; k++) if ((buf[as[1] + k] | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}

export { NOTIFY_EXPIRED, NOTIFY_EVICTED };

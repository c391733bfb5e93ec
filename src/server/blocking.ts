/**
 * Blocking commands (BLPOP, BLMOVE, BZPOPMIN, ...) on the io thread, as Redis's blocked.c:
 *
 * - A blocking command is routed like any keyed command. Its handler serves it when data
 *   is there; otherwise it sets ExecContext.blocked and the reply says "blocked".
 * - While the command is unresolved the client's further input is held, as Redis holds a
 *   blocked client.
 * - A write command touching a key that clients wait on is followed, in the same shard
 *   ring (or synchronously inline), by retries of those clients' commands in the order they
 *   blocked: they are served before any later command, like handleClientsBlockedOnKeys().
 * - A timeout or CLIENT UNBLOCK answers the client; if a retry is in flight its result wins,
 *   so an element it popped is never lost.
 */
import type { Server } from './server';
import type { Client } from './client';
import { CommandSpec, getKeyPositions } from '../commands/table';
import { saveArgs } from '../commands/context';

export interface BlockedCommand {
  seq: number;
  silent: boolean;
  spec: CommandSpec;
  buf: Buffer;
  argStart: Int32Array;
  argEnd: Int32Array;
  argc: number;
  db: number;
  resp: 2 | 3;
  /** Absolute deadline in ms, 0 = forever. */
  deadline: number;
  /** Wait-list names this client is registered under (db + key), once blocked. */
  keys: string[] | null;
  timer: NodeJS.Timeout | null;
  /** A retry has been routed and not answered yet. */
  retrying: boolean;
  /** What to answer once the in-flight retry comes back blocked: null = keep waiting. */
  pendingEnd: 'timeout' | 'error' | null;
  /** Wait-list names while the command (not yet known to block) is on its way to a shard. */
  inFlightKeys: string[] | null;
  /**
   * A write to one of its keys was dispatched while its run or retry was in flight: if that
   * run comes back blocked, it must be retried at once (the write may have come after it).
   */
  signaled: boolean;
}

/** Redis's blocking commands whose timeout is argv[1] rather than the last argument. */
const TIMEOUT_FIRST = new Set(['blmpop', 'bzmpop']);

export class BlockingManager {
  /** Wait lists, by db + NUL + key bytes (latin1): clients in the order they blocked. */
  private readonly waiting = new Map<string, Client[]>();
  /** Blocking commands dispatched to a shard whose outcome is not known yet, by wait-list name. */
  private readonly inFlight = new Map<string, Client[]>();
  blockedClients = 0;
  private keyPos = new Int32Array(16);

  constructor(private readonly srv: Server) {}

  /** True while some client waits: write commands must then check their keys. */
  get active(): boolean {
    return this.waiting.size > 0 || this.inFlight.size > 0;
  }

  /** A blocking command is being dispatched: keep a copy and hold the client's input. */
  begin(cl: Client, seq: number, silent: boolean, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
    const { buf: copy, argStart: starts, argEnd: ends } = saveArgs(buf, as, ae, argc);
    const ti = TIMEOUT_FIRST.has(spec.name) ? 1 : argc - 1;
    const secs = Number(copy.toString('latin1', starts[ti], ends[ti]));
    const deadline = Number.isFinite(secs) && secs > 0 ? Date.now() + secs * 1000 : 0;
    cl.block = {
      seq, silent, spec, buf: copy, argStart: starts, argEnd: ends, argc, db: cl.db, resp: cl.resp,
      deadline, keys: null, timer: null, retrying: false, pendingEnd: null, inFlightKeys: null, signaled: false,
    };
    cl.holdInput = true;
    if (this.srv.pool !== null) {
      const b = cl.block;
      b.inFlightKeys = this.namesOf(b);
      for (const name of b.inFlightKeys) {
        const list = this.inFlight.get(name);
        if (list === undefined) this.inFlight.set(name, [cl]);
        else list.push(cl);
      }
    }
  }

  /** The wait-list names (db + NUL + key) of a blocking command's keys, without duplicates. */
  private namesOf(b: BlockedCommand): string[] {
    const n = this.keysOf(b), names: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.keyPos[i];
      const name = `${b.db}\0${b.buf.toString('latin1', b.argStart[k], b.argEnd[k])}`;
      if (!names.includes(name)) names.push(name);
    }
    return names;
  }

  private dropInFlight(cl: Client, b: BlockedCommand): void {
    if (b.inFlightKeys === null) return;
    for (const name of b.inFlightKeys) {
      const list = this.inFlight.get(name);
      if (list === undefined) continue;
      const i = list.indexOf(cl);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.inFlight.delete(name);
    }
    b.inFlightKeys = null;
  }

  /** The blocking command answered (served or an error): release the client. */
  served(cl: Client, resume: boolean): void {
    const b = cl.block;
    if (b === null) return;
    this.unregister(cl, b);
    cl.block = null;
    cl.holdInput = false;
    if (resume) this.srv.resumeInput(cl);
  }

  /** The command (or its retry) found nothing to serve: wait, or end as decided meanwhile. */
  blocked(cl: Client): void {
    const b = cl.block;
    if (b === null) return;
    b.retrying = false;
    this.dropInFlight(cl, b);
    if (b.pendingEnd !== null) {
      this.finish(cl, b, b.pendingEnd);
      return;
    }
    if (b.keys !== null) {
      // Still waiting where it was, in its place, unless a write came while it ran.
      this.retryIfSignaled(cl, b);
      return;
    }
    b.keys = this.namesOf(b);
    for (const name of b.keys) {
      let list = this.waiting.get(name);
      if (list === undefined) this.waiting.set(name, (list = []));
      list.push(cl);
    }
    this.blockedClients++;
    if (b.deadline > 0) {
      b.timer = setTimeout(() => this.timedOut(cl), Math.max(0, b.deadline - Date.now()));
    }
    this.retryIfSignaled(cl, b);
  }

  private retryIfSignaled(cl: Client, b: BlockedCommand): void {
    if (!b.signaled) return;
    b.signaled = false;
    b.retrying = true;
    this.srv.rerunBlocked(cl, b);
  }

  /** After a write command: retry the clients waiting on any of its keys, in blocking order. */
  signalCommandKeys(db: number, spec: CommandSpec, buf: Uint8Array, as: Int32Array, ae: Int32Array, argc: number): void {
    if (this.keyPos.length < argc) this.keyPos = new Int32Array(argc * 2);
    const n = getKeyPositions(spec, argc, buf, as, ae, this.keyPos);
    for (let i = 0; i < n; i++) {
      const k = this.keyPos[i];
      const name = `${db}\0${Buffer.from(buf.buffer, buf.byteOffset + as[k], ae[k] - as[k]).toString('latin1')}`;
      const list = this.waiting.get(name);
      if (list !== undefined) this.retryAll(list);
      const flying = this.inFlight.get(name);
      if (flying !== undefined) for (const c of flying) if (c.block !== null) c.block.signaled = true;
    }
  }

  /** After a command that may change any key (SWAPDB, FLUSHALL...): retry everyone. */
  signalAll(): void {
    const all = new Set<Client>();
    for (const list of this.waiting.values()) for (const c of list) all.add(c);
    for (const list of this.inFlight.values()) for (const c of list) if (c.block !== null) c.block.signaled = true;
    this.retryAll([...all]);
  }

  private retryAll(list: Client[]): void {
    for (const cl of list.slice()) {
      const b = cl.block;
      if (b === null || cl.closed) continue;
      if (b.retrying) {
        // Its retry may have run before this write: it tries again if it comes back blocked.
        b.signaled = true;
        continue;
      }
      b.retrying = true;
      this.srv.rerunBlocked(cl, b);
    }
  }

  /** CLIENT UNBLOCK: 1 if the client was blocked (it gets a timeout or an error reply). */
  unblock(id: number, error: boolean): number {
    const cl = this.srv.clients.get(id);
    const b = cl?.block;
    if (cl === undefined || b === null || b === undefined || b.keys === null) return 0;
    const end = error ? 'error' : 'timeout';
    if (b.retrying) b.pendingEnd = end;
    else this.finish(cl, b, end);
    return 1;
  }

  /** A client went away: forget it. */
  drop(cl: Client): void {
    const b = cl.block;
    if (b === null) return;
    this.unregister(cl, b);
    cl.block = null;
  }

  private timedOut(cl: Client): void {
    const b = cl.block;
    if (b === null) return;
    b.timer = null;
    if (b.retrying) b.pendingEnd = 'timeout';
    else this.finish(cl, b, 'timeout');
  }

  /** Answer a blocked client without data: a null array on timeout, -UNBLOCKED on error. */
  private finish(cl: Client, b: BlockedCommand, how: 'timeout' | 'error'): void {
    this.srv.replyBlockedEnd(cl, b, how === 'error' ? 'UNBLOCKED client unblocked via CLIENT UNBLOCK' : null);
    this.served(cl, true);
  }

  private unregister(cl: Client, b: BlockedCommand): void {
    this.dropInFlight(cl, b);
    if (b.timer !== null) clearTimeout(b.timer);
    b.timer = null;
    if (b.keys === null) return;
    for (const name of b.keys) {
      const list = this.waiting.get(name);
      if (list === undefined) continue;
      const i = list.indexOf(cl);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.waiting.delete(name);
    }
    b.keys = null;
    this.blockedClients--;
  }

  private keysOf(b: BlockedCommand): number {
    if (this.keyPos.length < b.argc) this.keyPos = new Int32Array(b.argc * 2);
    const n = getKeyPositions(b.spec, b.argc, b.buf, b.argStart, b.argEnd, this.keyPos);
    return n < 0 ? 0 : n;
  }
}

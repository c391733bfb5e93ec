/**
 * Which scripts (EVAL, EVALSHA, FCALL and their _RO forms) run in a shard's own Lua VM
 * (src/shard/scripting.ts) rather than on the script thread (src/server/scripting.ts).
 *
 * A script goes to a shard when all its declared keys hash to that shard and its text (for
 * FCALL, its whole library) provably touches no other key (src/scripting/locality.ts): then
 * it is one more command of that shard, atomic because the shard runs one command at a time,
 * and the other shards go on. A provable one whose keys span shards, or whose caller's CLIENT
 * TRACKING must learn of its reads, runs on the script thread with only its keys' shards
 * parked (route()'s mask); anything else (undeclared or computed key names) with every shard parked.
 *
 * The io thread keeps what it needs for that choice: per script, its body and whether it is
 * shard-local; per shard, which scripts its VM has (an EVALSHA is preceded by a SCRIPT LOAD
 * of the body the first time a shard sees it) and which version of the function libraries.
 * The script thread learns every body an EVAL brought here too, so SCRIPT EXISTS and an
 * EVALSHA taking the slow path find it.
 */
import type { Server } from './server';
import type { Client } from './client';
import type { CommandSpec } from '../commands/table';
import { commandById } from '../commands/table';
import { keyHashSlot } from '../util/crc16';
import { libraryIsShardLocal, scriptIsShardLocal } from '../scripting/locality';
import { WritesReader } from '../scripting/writes-list';
import { isSha, sha1hex } from '../scripting/sha';
import type { QueuedCommand } from './multi';

interface KnownScript {
  body: Buffer;
  /** Every key it can touch is a declared one (locality.ts). */
  local: boolean;
}

/** route(): the script went to a shard's VM. */
export const ROUTED = -1;

const EVAL = 1;
const EVALSHA = 2;
const FCALL = 3;

/** Commands that change the function libraries (the script thread runs them). */
const FUNCTION_CHANGES = new Set(['function|load', 'function|delete', 'function|flush', 'function|restore']);

export class ScriptRouter {
  private readonly known = new Map<string, KnownScript>();
  /** Per shard: the scripts its VM has compiled (or was sent). */
  private readonly loaded: Set<string>[];
  /** 1 EVAL / EVAL_RO, 2 EVALSHA / EVALSHA_RO, 3 FCALL / FCALL_RO, by command id. */
  private readonly kind: Uint8Array;
  /** Functions by name: may they run on one shard (their library passed libraryIsShardLocal)? */
  private fnLocal = new Map<string, boolean>();
  /** The libraries' code as the script thread last reported it, and its version. */
  private libCodes: Buffer[] = [];
  private fnVersion = 0;
  /** Per shard: the library version its VM has. */
  private readonly shardFnVersion: number[];
  /** Library changes dispatched to the script thread and not done yet: FCALL waits its turn there. */
  private functionsPending = 0;
  private readonly specs = commandById();
  private readonly entry = new WritesReader();

  constructor(private readonly srv: Server, shards: number) {
    this.loaded = Array.from({ length: shards }, () => new Set<string>());
    this.shardFnVersion = new Array<number>(shards).fill(0);
    this.kind = Uint8Array.from(this.specs, (s) => (s.name === 'eval' || s.name === 'eval_ro' ? EVAL : s.name === 'evalsha' || s.name === 'evalsha_ro' ? EVALSHA
      : s.name === 'fcall' || s.name === 'fcall_ro' ? FCALL : 0));
  }

  /**
   * A script-thread command from a client (dispatch): send it to a shard's VM and return
   * ROUTED, or return the shards the script thread must park for it (bit s; 0: all). SCRIPT
   * LOAD / FLUSH and library changes update what is known.
   */
  route(cl: Client, seq: number, silent: boolean, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): number {
    const kind = this.kind[spec.id];
    if (kind === 0) {
      if (spec.name === 'script|load' && argc === 3) this.learn(sha1hex(buf, as[2], ae[2]), buf, as[2], ae[2]);
      else if (spec.name === 'script|flush') this.flush();
      else if (FUNCTION_CHANGES.has(spec.name)) this.functionsPending++;
      return 0;
    }
    const srv = this.srv, pool = srv.pool!;
    const nkeys = numKeys(buf, as[2], ae[2]);
    if (nkeys < 0 || nkeys > argc - 3) return 0;
    // Its reads must reach the caller's tracking table: the script thread reports them.
    const tracked = srv.tracking.on && srv.tracking.scriptReadsTracked(cl, seq);
    let sha = '';
    if (kind === FCALL) {
      // (While a library change is on its way the function may not be what it was.)
      if (this.functionsPending > 0 || this.fnLocal.get(buf.toString('latin1', as[1], ae[1])) !== true) return 0;
    } else {
      if (kind === EVAL) {
        sha = this.bodySha(buf, as[1], ae[1]);
        if (!tracked && !this.known.has(sha)) {
          this.learn(sha, buf, as[1], ae[1]);
          // The script thread caches it too (Redis's EVAL does), without holding anything.
          srv.scripts.preload(this.known.get(sha)!.body);
        }
      } else {
        if (ae[1] - as[1] !== 40) return 0;
        sha = this.shaArg(buf, as[1]);
      }
      if (this.known.get(sha)?.local !== true) return 0;
    }
    let mask = 0;
    for (let i = 3; i < 3 + nkeys; i++) mask |= 1 << srv.slotTable[keyHashSlot(buf, as[i], ae[i])];
    // Declared keys on several shards, or a tracking caller: the script thread, with only
    // those shards parked (a script without keys then parks them all).
    if (tracked || (mask & (mask - 1)) !== 0) return mask;
    // One shard; a script without keys goes to the client's own.
    const shard = nkeys === 0 ? cl.id % pool.n : 31 - Math.clz32(mask);
    if (kind === FCALL) {
      if (this.shardFnVersion[shard] !== this.fnVersion) {
        pool.control(shard, { op: 'functions', codes: this.libCodes.map((c) => c.toString('latin1')) });
        this.shardFnVersion[shard] = this.fnVersion;
      }
    } else if (!this.loaded[shard].has(sha)) {
      if (kind === EVALSHA) pool.control(shard, { op: 'script-load', body: this.known.get(sha)!.body.toString('latin1') });
      this.loaded[shard].add(sha);
    }
    this.stage(cl, seq, silent, spec, buf, as, ae, argc, shard);
    return ROUTED;
  }

  private stage(cl: Client, seq: number, silent: boolean, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number, shard: number): void {
    const srv = this.srv;
    // WATCH: its declared keys until the shard says which keys it wrote (wrote()). Its writes
    // matter only to keys WATCHed or clients blocked by now (later ones come after it).
    const watching = srv.watch.active;
    if (watching) srv.watch.stage(cl, seq, cl.db, spec, buf, as, ae, argc, srv.opSeq);
    srv.scripts.shardScriptStarted();
    srv.pool!.stageCommand(shard, cl, seq, silent, spec.id, buf, as, ae, argc, false, watching || srv.blocking.active);
  }

  /** The script thread's libraries changed (after a FUNCTION command, or at start-up). */
  librariesChanged(libs: { code: Buffer; functions: string[] }[]): void {
    const fnLocal = new Map<string, boolean>();
    for (const lib of libs) {
      const local = libraryIsShardLocal(lib.code);
      for (const name of lib.functions) fnLocal.set(name, local);
    }
    this.fnLocal = fnLocal;
    this.libCodes = libs.map((l) => Buffer.from(l.code));
    this.fnVersion++;
  }

  /** A client's job on the script thread is done: a library change it made is in place (librariesChanged came first). */
  jobDone(cmd: QueuedCommand | null, block: readonly QueuedCommand[] | null): void {
    if (cmd !== null && FUNCTION_CHANGES.has(cmd.spec.name)) this.functionsPending--;
    if (block !== null) for (const q of block) if (FUNCTION_CHANGES.has(q.spec.name)) this.functionsPending--;
  }

  /** Is this command (by id) one that may run on a shard's VM? */
  runsScript(cmdId: number): boolean {
    return this.kind[cmdId] !== 0;
  }

  /**
   * A shard's script wrote (REPLY_WRITES, ahead of its reply): touch the WATCHed keys it
   * changed, at the script's place in the order, and wake clients blocked on them. An empty
   * list means there were too many to send: the declared keys stay staged for the reply.
   */
  wrote(cl: Client | undefined, seq: number, b: Buffer, start: number, end: number): void {
    if (start === end) return;
    const srv = this.srv;
    let op = srv.opSeq;
    const pending = cl?.pendingTouch?.get(seq);
    if (cl !== undefined && pending !== undefined) {
      op = pending.op;
      cl.pendingTouch!.delete(seq);
      if (cl.pendingTouch!.size === 0) cl.pendingTouch = null;
    }
    const watch = srv.watch.active, wake = srv.blocking.active;
    if (!watch && !wake) return;
    const e = this.entry;
    for (let p = start; p < end;) {
      p = e.read(b, p);
      const spec = this.specs[e.cmdId];
      if (watch) srv.watch.touchCommand(e.db, spec, b, e.as, e.ae, e.argc, op);
      if (wake) srv.blocking.signalCommandKeys(e.db, spec, b, e.as, e.ae, e.argc);
    }
  }

  // The last script seen, so that a client repeating one allocates nothing to name it.
  private lastSha = '';
  private readonly lastShaBytes = Buffer.alloc(40);
  private lastBody: Buffer | null = null;
  private lastBodySha = '';

  /** EVALSHA's sha argument (40 bytes at `start`), lowercase. */
  private shaArg(buf: Buffer, start: number): string {
    if (this.lastSha !== '' && isSha(buf, start, this.lastShaBytes)) return this.lastSha;
    this.lastSha = buf.toString('latin1', start, start + 40).toLowerCase();
    this.lastShaBytes.write(this.lastSha, 'latin1');
    return this.lastSha;
  }

  /** The sha1 of an EVAL's body. */
  private bodySha(buf: Buffer, start: number, end: number): string {
    const last = this.lastBody;
    if (last !== null && last.length === end - start && buf.compare(last, 0, last.length, start, end) === 0) return this.lastBodySha;
    this.lastBodySha = sha1hex(buf, start, end);
    this.lastBody = Buffer.from(buf.subarray(start, end));
    return this.lastBodySha;
  }

  /**
   * An EXEC block going to the script thread: a SCRIPT FLUSH in it forgets every body now (at
   * worst an EXEC that WATCH aborts costs the shard path until the scripts come back).
   */
  execBlock(commands: readonly QueuedCommand[]): void {
    for (const q of commands) {
      if (q.spec.name === 'script|flush') this.flush();
      else if (FUNCTION_CHANGES.has(q.spec.name)) this.functionsPending++;
    }
  }

  /** SCRIPT FLUSH: forget every body; the shards' VMs drop theirs. */
  private flush(): void {
    this.known.clear();
    for (let s = 0; s < this.loaded.length; s++) {
      if (this.loaded[s].size === 0) continue;
      this.loaded[s].clear();
      this.srv.pool!.control(s, { op: 'script-flush' });
    }
  }

  private learn(sha: string, buf: Buffer, start: number, end: number): void {
    if (this.known.has(sha)) return;
    const body = Buffer.from(buf.subarray(start, end));
    this.known.set(sha, { body, local: scriptIsShardLocal(body) });
  }
}

/** EVAL's numkeys argument: a non-negative decimal, else -1 (the script thread answers the error). */
function numKeys(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 9) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

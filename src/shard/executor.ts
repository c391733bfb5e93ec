/**
 * Binds command handlers to command ids so a shard (or the io thread) runs a command
 * with one array lookup. Importing the command modules registers their handlers.
 */
import '../commands/strings';
import '../commands/keys';
import '../commands/expire';
import '../commands/hash';
import '../commands/list';
import '../commands/set';
import '../commands/zset';
import '../commands/blocking';
import '../commands/sort';
import '../commands/dump';
import '../commands/memory';
import { CommandHandler, ExecContext, handlers } from '../commands/context';
import { CMD_DENYOOM, CMD_READONLY, CMD_WRITE, CommandSpec, commandById, getKeyPositions } from '../commands/table';
import { ERR_OOM, EVICT_FAIL, Evictor, evictConfig } from '../store/evict';
import type { EffectSink } from '../persistence/effects';
import { SnapshotOut, snapshotBeforeWrite } from '../persistence/snapshot';
import { H_SNAPSHOT } from '../../native-layout/arena';
import { parseInt64, parsed } from '../util/numbers';
import { Keyspace } from '../store/keyspace';

/**
 * Write commands that read their source keys as GET does (lookupKeyRead): their lookups count
 * too. Their handlers reach the destination without lookup() (Redis's lookupKeyWrite).
 */
const READS_THROUGH_LOOKUP = new Set(['getdel', 'getex', 'getset', 'set', 'sunionstore', 'sinterstore', 'sdiffstore',
  'zunionstore', 'zinterstore', 'zdiffstore', 'zrangestore', 'copy', 'sort']);

/**
 * Commands whose key lookups count in INFO keyspace_hits/misses: the read-only ones, and GETDEL
 * and GETEX, which read their key as GET does (Redis counts lookupKeyRead*, not lookupKeyWrite;
 * MEMORY USAGE finds the key without counting).
 */
function countsLookups(spec: CommandSpec): boolean {
  if (READS_THROUGH_LOOKUP.has(spec.name)) return true;
  return (spec.flags & CMD_READONLY) !== 0 && spec.name !== 'memory|usage';
}

export class Executor {
  readonly byId: (CommandHandler | null)[];
  /** 1 for commands whose lookups are keyspace hits/misses. */
  private readonly countsLookups: Uint8Array;
  private readonly specs: readonly CommandSpec[];
  /** Where this thread's write effects go (AOF), and its snapshot writer; null until persistence starts. */
  sink: EffectSink | null = null;
  snapOut: SnapshotOut | null = null;
  /** Evicts from the keyspaces this thread owns (maxmemory); null where it owns none. */
  evictor: Evictor | null = null;
  private keyPos = new Int32Array(64);
  /** The last rejectOnOom() found memory over maxmemory with nothing to evict (pre_command_oom_state). */
  oomAtStart = false;

  constructor(readonly ctx: ExecContext) {
    this.specs = commandById();
    this.byId = this.specs.map((spec) => handlers.get(spec.parent ? spec.parent.name : spec.name) ?? null);
    this.countsLookups = Uint8Array.from(this.specs, (spec) => (countsLookups(spec) ? 1 : 0));
  }

  /**
   * Run command `id` with the arguments already laid in ctx; false if no handler exists.
   * Around a write: its keys' buckets go into an active snapshot first (copy-before-write),
   * and its effect goes to the sink after (its argv, or what the handler propagates instead).
   */
  run(id: number): boolean {
    const h = this.byId[id];
    if (h === null) return false;
    // Its key lookups count as keyspace hits/misses (Redis's lookupKeyRead*) or not.
    const ctx = this.ctx;
    ctx.blocked = false;
    if (this.snapOut !== null && (this.specs[id].flags & CMD_WRITE) !== 0 && this.snapshotRunning()) this.beforeWrite(id);
    Keyspace.countLookups = this.countsLookups[id] !== 0;
    // Without a sink of its own (a script's inner commands), the caller collects effects.
    if (!ctx.propagating || this.sink === null) {
      h(ctx);
      Keyspace.countLookups = false;
      return true;
    }
    ctx.replacement = null;
    const dirty0 = ctx.dirty;
    h(ctx);
    Keyspace.countLookups = false;
    const r = ctx.replacement;
    if (r !== null) {
      ctx.replacement = null;
      this.sink!.replacement(ctx.db, r);
    } else if (ctx.dirty !== dirty0) {
      this.sink!.command(ctx.db, ctx.buf, ctx.argStart, ctx.argEnd, ctx.argc);
    }
    return true;
  }

  /**
   * processCommand's maxmemory check, before a command from a client (not inside EXEC or a
   * script): evict if over budget; a `denyoom` command that still finds no room is refused
   * with -OOM (written to the reply). True when refused.
   */
  rejectOnOom(id: number): boolean {
    const ev = this.evictor;
    this.oomAtStart = false;
    if (ev === null || evictConfig.maxmemory === 0) return false;
    this.oomAtStart = ev.perform(this.ctx.now) === EVICT_FAIL;
    if (!this.oomAtStart || (this.specs[id].flags & CMD_DENYOOM) === 0) return false;
    this.ctx.w.error(ERR_OOM);
    return true;
  }

  private snapshotRunning(): boolean {
    const kss = this.ctx.store.keyspaces;
    for (let i = 0; i < kss.length; i++) if (kss[i].arena.hdr[H_SNAPSHOT] !== 0) return true;
    return false;
  }

  /** Serialize the buckets a write command is about to change (MOVE's and COPY .. DB's target db too). */
  private beforeWrite(id: number): void {
    const ctx = this.ctx, spec = this.specs[id], buf = ctx.buf, as = ctx.argStart, ae = ctx.argEnd;
    if (this.keyPos.length < ctx.argc) this.keyPos = new Int32Array(ctx.argc * 2);
    const n = getKeyPositions(spec, ctx.argc, buf, as, ae, this.keyPos);
    let otherDb = -1;
    if (spec.name === 'move' && ctx.argc === 3 && parseInt64(buf, as[2], ae[2])) otherDb = parsed.int;
    if (spec.name === 'copy') {
      for (let j = 3; j < ctx.argc - 1; j++) {
        if (ctx.argIs(j, 'db') && parseInt64(buf, as[j + 1], ae[j + 1])) otherDb = parsed.int;
      }
    }
    for (let i = 0; i < n; i++) {
      const k = this.keyPos[i];
      const ks = ctx.store.ks(buf, as[k], ae[k]);
      if (ks.arena.hdr[H_SNAPSHOT] === 0) continue;
      const hash = ks.hash(buf, as[k], ae[k]);
      snapshotBeforeWrite(ks, ctx.db, hash, this.snapOut!);
      if (otherDb >= 0 && otherDb < ks.dbCount) snapshotBeforeWrite(ks, otherDb, hash, this.snapOut!);
    }
  }
}

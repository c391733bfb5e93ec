/**
 * A shard's own Lua VM (DESIGN.md: a shard runs "its Lua VM"). The io thread sends EVAL and
 * EVALSHA here when every declared key is on this shard and the script provably touches no
 * other key (src/scripting/locality.ts); the script then runs like any other command of the
 * shard, and the other shards go on meanwhile. Scripts that may touch undeclared keys, or
 * keys of several shards, run on the script thread with every shard parked instead.
 *
 * The VM loads on first use (wasmoon compiles asynchronously: the worker's loop yields for
 * it once). What a script wrote travels to the io thread ahead of its reply (REPLY_WRITES):
 * WATCH touches and blocked clients' wake-ups need the keys it actually changed.
 */
import { CommandSpec, commandById, getKeyPositions } from '../commands/table';
import { keyHashSlot } from '../util/crc16';
import { initScripting, replaceLibraries, type ScriptRuntime } from '../scripting/scripts';
import type { SnapshotOut } from '../persistence/snapshot';
import { MBW_WRITE } from '../../native-layout/script-mailbox';
import { WritesList } from '../scripting/writes-list';
import { SCRIPT_STATE_BYTES, SHARD_RUNNING_CMD_BYTES } from '../scripting/lua-engine';
import type { ExecContext } from '../commands/context';

/** The script commands a shard's VM runs. */
const SHARD_SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** Redis Cluster's text for a script that reaches a key of another node. */
const ERR_NON_LOCAL = 'Script attempted to access a non local key in a cluster node script';

/** Keyless commands a script may call on a shard (answered without the dataset, or per-script state). */
const SHARD_FREE_COMMANDS = new Set(['ping', 'echo', 'time', 'select']);

/**
 * The run-time net under the static proof (src/scripting/locality.ts) for a script that runs
 * with only some shards at hand (in one shard's VM, or on the script thread with only its
 * declared keys' shards parked): redis.call's keys must be on the shards of `mask`, and a
 * keyless command must need no dataset.
 */
export class ScriptKeyCheck {
  /** Bit s: shard s is ours. */
  mask = 0;
  private keyPos = new Int32Array(16);
  readonly fn = (spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number) => this.check(spec, buf, as, ae, argc);

  constructor(private readonly slotTable: Uint16Array) {}

  check(spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): string | null {
    if (this.keyPos.length < argc) this.keyPos = new Int32Array(argc * 2);
    const n = getKeyPositions(spec, argc, buf, as, ae, this.keyPos);
    if (n <= 0) return SHARD_FREE_COMMANDS.has(spec.parent ? spec.parent.name : spec.name) ? null : ERR_NON_LOCAL;
    // SORT's BY/GET patterns name keys anywhere.
    if (spec.name === 'sort' || spec.name === 'sort_ro') return ERR_NON_LOCAL;
    for (let i = 0; i < n; i++) {
      const k = this.keyPos[i];
      if ((this.mask & (1 << this.slotTable[keyHashSlot(buf, as[k], ae[k])])) === 0) return ERR_NON_LOCAL;
    }
    return null;
  }
}

export class ShardScripting {
  /** The VM, once loaded. */
  rt: ScriptRuntime | null = null;
  /** 1 for EVAL, EVALSHA and their _RO forms: the commands that need the VM. */
  readonly needsVm: Uint8Array;
  /** Writes of the script running now (src/scripting/writes-list.ts), when the io thread wants them. */
  readonly writes = new WritesList();
  private readonly keys: ScriptKeyCheck;
  private readonly running: Buffer;
  private readonly noteWriteFn = (db: number, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number) =>
    this.noteWrite(db, spec, buf, as, ae, argc);

  constructor(shard: number, slotTable: Uint16Array, private readonly stateSab: SharedArrayBuffer) {
    this.keys = new ScriptKeyCheck(slotTable);
    this.keys.mask = 1 << shard;
    this.running = Buffer.from(stateSab, SCRIPT_STATE_BYTES, SHARD_RUNNING_CMD_BYTES);
    const specs = commandById();
    this.needsVm = Uint8Array.from(specs, (s) => (SHARD_SCRIPT_COMMANDS.has(s.name) ? 1 : 0));
  }

  /** Load the VM (once). */
  async start(snapOut: SnapshotOut | null): Promise<void> {
    if (this.rt !== null) return;
    const rt = await initScripting(this.stateSab);
    rt.keyCheck = this.keys.fn;
    rt.snapOut = snapOut;
    this.rt = rt;
  }

  /**
   * A script command is about to run: its argv where the io thread can read it, and whether
   * its writes are wanted (the io thread has WATCHed keys or blocked clients).
   */
  begin(c: ExecContext, reportWrites: boolean, oomAtStart: boolean): void {
    const rt = this.rt!;
    rt.onWrite = reportWrites ? this.noteWriteFn : null;
    rt.oomAtStart = oomAtStart;
    const b = this.running;
    let need = 4;
    for (let i = 0; i < c.argc; i++) need += 4 + c.argEnd[i] - c.argStart[i];
    const argc = need <= b.length ? c.argc : 1;
    b.writeUInt32LE(argc, 0);
    let p = 4;
    for (let i = 0; i < argc; i++) {
      b.writeUInt32LE(c.argEnd[i] - c.argStart[i], p);
      p += 4 + c.buf.copy(b, p + 4, c.argStart[i], c.argEnd[i]);
    }
  }

  /** SCRIPT LOAD on this VM (the io thread's copy of a body, ahead of an EVALSHA of it). */
  load(body: Buffer): void {
    this.rt!.createScript(body);
  }

  flush(): void {
    this.rt?.flushScripts();
  }

  /** The script thread's function libraries, in place of this VM's. */
  loadFunctions(codes: readonly Buffer[]): void {
    replaceLibraries(this.rt!, codes);
  }

  private noteWrite(db: number, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
    this.writes.append(MBW_WRITE, db, spec.id, 0, buf, as, ae, argc);
  }
}

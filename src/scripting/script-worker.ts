/**
 * The script thread: runs EVAL/FCALL (and SCRIPT/FUNCTION, and EXEC blocks holding them)
 * with every arena attached, so the io thread stays free while a script runs: it answers
 * -BUSY past busy-reply-threshold and takes SCRIPT KILL (DESIGN.md: "Lua VM"; Sabre's
 * choice is one VM on its own thread, see src/scripting/README.md).
 *
 * The io thread hands over one request at a time through the mailbox
 * (native-layout/script-mailbox.md) only while the dataset is ours alone: the inline store
 * held, or every shard parked. Segments this thread adds to an arena are announced back
 * in the reply; the io thread adopts them and passes them on to the owning shard.
 */
import { writeSync } from 'node:fs';
import { MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Arena, SegmentMessage } from '../store/arena';
import { Keyspace } from '../store/keyspace';
import { Store, makeSlotTable } from '../store/store';
import { ExecContext } from '../commands/context';
import { CMD_WRITE, CommandSpec, commandById } from '../commands/table';
import { replyNotBlocking } from '../commands/blocking';
import { ReplyWriter } from '../protocol/resp-writer';
import { Executor } from '../shard/executor';
import { ShardEvents } from '../shard/events';
import { applyShardSetting } from '../shard/settings';
import { EffectLog } from '../persistence/effect-log';
import { ThreadPersistence } from '../persistence/effects';
import { snapshotId } from '../persistence/snapshot';
import { PERSIST_FSYNC_ALWAYS, PERSIST_WORDS } from '../persistence/flags';
import { initScripting, librariesMessage } from './scripts';
import { ScriptKeyCheck } from '../shard/scripting';
import { WritesList } from './writes-list';
import { ByteBuffer } from '../util/byte-buffer';
import { ST_FN_COUNT, ST_LIB_COUNT } from './lua-engine';
import {
  MBF_MULTI, MBF_PROPAGATE, MB_CMD_HEADER, MB_COUNT, MB_DATA, MBC_PUBLISH, MBC_SPUBLISH, MB_CALLBACK, MB_CB_LEN, MB_CB_OP, MB_CB_RESULT, MB_DIRTY, MB_EVT_LEN, MB_FLAGS, MB_FUNCS,
  MB_NOTIFY, MB_REPLY, MB_REP_LEN, MB_REP_PORT, MB_REQUEST, MB_REPLY_INDEX_ENTRY, MB_REQ_LEN, MB_RUNNING, MB_SEGS, MB_STATE, MB_SYNC,
  MB_WRITES_LEN, MBR_OOM, MBR_TRACK_READS, MBW_READ, MBW_WRITE,
} from '../../native-layout/script-mailbox';

export interface ScriptWorkerData {
  mailboxSab: SharedArrayBuffer;
  callbackSab: SharedArrayBuffer;
  stateSab: SharedArrayBuffer;
  port: MessagePort;
  arenas: { segments: (SharedArrayBuffer | null)[]; generation: number }[];
  /** The inline store (one keyspace, no slot routing) rather than shard arenas. */
  inline: boolean;
  slotTableSab: SharedArrayBuffer;
  settings: Record<string, string>;
  logSab: SharedArrayBuffer;
  persistSab: SharedArrayBuffer;
}

/** Producer id of this thread in the effect log (shards use their index, the io thread 0xffff). */
export const SCRIPT_THREAD_PRODUCER = 0xfffe;

const SPIN_MS = 0.05;

async function main(): Promise<void> {
  const data = workerData as ScriptWorkerData;
  const rt = await initScripting(data.stateSab);
  const mb = new Int32Array(data.mailboxSab, 0, MB_DATA >> 2);
  const mbData = Buffer.from(data.mailboxSab, MB_DATA);
  const port = data.port;
  for (const [k, v] of Object.entries(data.settings)) applyShardSetting(k, v);

  // Segments this thread adds or releases, per arena, announced with the reply.
  const announced: SegmentMessage[][] = data.arenas.map(() => []);
  const arenas = data.arenas.map((a, i) => {
    const arena = Arena.attach(a.segments, a.generation);
    arena.recordAnnouncements(announced[i]);
    return arena;
  });
  const keyspaces = arenas.map((a) => Keyspace.attach(a));
  const slotTable = makeSlotTable(0, data.slotTableSab);
  const store = new Store(keyspaces, slotTable, data.inline ? keyspaces[0] : null);
  const keyCheck = new ScriptKeyCheck(slotTable);
  const w = new ReplyWriter(64 * 1024);
  const ctx = new ExecContext(store, w);
  const exec = new Executor(ctx);
  const specs = commandById();
  const log = EffectLog.attach(data.logSab);
  const persistFlags = new Int32Array(data.persistSab, 0, PERSIST_WORDS);
  const persist = new ThreadPersistence(log, SCRIPT_THREAD_PRODUCER, false, ctx, () => snapshotId(keyspaces[0]));
  exec.sink = persist.sink;
  exec.snapOut = persist.snap;
  rt.snapOut = persist.snap;
  const events = new ShardEvents();
  ctx.notifySink = (_cls, event, db, key, ks, ke) => events.add(event, db, key, ks, ke);

  // The writes of a request: every command that changed data, a script's own calls included.
  const writes = new WritesList();
  // Where each command's reply ends, and its time.
  const replyIndex = new ByteBuffer();
  let cmdIndex = 0;
  function noteWrite(db: number, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
    note(MBW_WRITE, db, spec, buf, as, ae, argc);
  }
  // Redis remembers the caller's keys (its declared ones) when its script runs a read-only
  // command: one entry per script, without arguments, says so.
  let readNoted = -1;
  function noteRead(db: number, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array): void {
    if (readNoted === cmdIndex) return;
    readNoted = cmdIndex;
    note(MBW_READ, db, spec, buf, as, ae, 0);
  }
  function note(kind: number, db: number, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
    writes.append(kind, db, spec.id, cmdIndex, buf, as, ae, argc);
  }
  rt.onWrite = noteWrite;

  // PUBLISH from a script: the io thread publishes (it is free meanwhile) and answers.
  const cb = Buffer.from(data.callbackSab);
  rt.publish = (shard, buf, cs, ce, ms, me) => {
    const n = 8 + (ce - cs) + (me - ms);
    const dst = n <= cb.length ? cb : Buffer.allocUnsafe(n);
    dst.writeUInt32LE(ce - cs, 0);
    buf.copy(dst, 4, cs, ce);
    dst.writeUInt32LE(me - ms, 4 + ce - cs);
    buf.copy(dst, 8 + ce - cs, ms, me);
    if (dst !== cb) port.postMessage(dst);
    mb[MB_CB_OP] = shard ? MBC_SPUBLISH : MBC_PUBLISH;
    mb[MB_CB_LEN] = dst === cb ? n : -1;
    Atomics.store(mb, MB_STATE, MB_CALLBACK);
    Atomics.notify(mb, MB_STATE);
    while (Atomics.load(mb, MB_STATE) === MB_CALLBACK) Atomics.wait(mb, MB_STATE, MB_CALLBACK, 1000);
    return mb[MB_CB_RESULT];
  };

  /** Take in what the io thread queued on the port: segment lists, settings. */
  function takeSync(n: number): void {
    for (let i = 0; i < n; i++) {
      let m = receiveMessageOnPort(port);
      while (m === undefined) m = receiveMessageOnPort(port);
      const msg = m.message as { op: string; arena?: number; segments?: (SharedArrayBuffer | null)[]; generation?: number; name?: string; value?: string };
      if (msg.op === 'segments') arenas[msg.arena!].replaceSegments(msg.segments!, msg.generation!);
      else if (msg.op === 'set') applyShardSetting(msg.name!, msg.value!);
    }
  }

  let functionsSent = 0;
  function handle(): void {
    takeSync(mb[MB_SYNC]);
    const count = mb[MB_COUNT], flags = mb[MB_FLAGS];
    let payload: Buffer = mbData;
    let off = 0;
    if (mb[MB_REQ_LEN] < 0) {
      let m = receiveMessageOnPort(port);
      while (m === undefined) m = receiveMessageOnPort(port);
      const u = m.message as Uint8Array;
      payload = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    }
    ctx.propagating = (flags & MBF_PROPAGATE) !== 0;
    ctx.notifyFlags = mb[MB_NOTIFY];
    w.reset();
    replyIndex.len = 0;
    replyIndex.reserve(count * MB_REPLY_INDEX_ENTRY);
    events.len = 0;
    writes.len = 0;
    readNoted = -1;
    const dirty0 = ctx.dirty;
    const multi = (flags & MBF_MULTI) !== 0;
    if (multi && ctx.propagating) persist.sink.beginMulti();
    for (let k = 0; k < count; k++) {
      const cmdId = payload.readUInt32LE(off);
      const argc = payload.readUInt32LE(off + 4);
      ctx.db = payload.readUInt16LE(off + 8);
      const respWord = payload.readUInt16LE(off + 10);
      w.resp = (respWord & 0xff) === 3 ? 3 : 2;
      rt.onRead = (respWord & MBR_TRACK_READS) !== 0 ? noteRead : null;
      rt.oomAtStart = (respWord & MBR_OOM) !== 0;
      // Only some shards parked for it: its calls must stay on their keys.
      keyCheck.mask = payload.readUInt32LE(off + 12);
      rt.keyCheck = keyCheck.mask !== 0 ? keyCheck.fn : null;
      const spec = specs[cmdId];
      off = ctx.layEncodedArgs(payload, off + MB_CMD_HEADER, argc);
      cmdIndex = k;
      mb[MB_RUNNING] = k;
      ctx.now = Date.now();
      ctx.retry = false;
      const start = w.len, d0 = ctx.dirty, t0 = performance.now();
      if (!exec.run(cmdId)) w.error(`ERR unknown command '${spec.name}'`);
      if (ctx.blocked) {
        ctx.blocked = false;
        w.len = start;
        replyNotBlocking(ctx, spec.name);
      }
      // A script's writes were noted call by call; a plain command's here.
      if (ctx.dirty !== d0 && (spec.flags & CMD_WRITE) !== 0) noteWrite(ctx.db, spec, ctx.buf, ctx.argStart, ctx.argEnd, argc);
      const ri = replyIndex.len;
      replyIndex.buf.writeUInt32LE(w.len, ri);
      replyIndex.buf.writeFloatLE((performance.now() - t0) * 1000, ri + 4);
      replyIndex.len = ri + MB_REPLY_INDEX_ENTRY;
    }
    if (multi && ctx.propagating) persist.sink.endMulti();
    // Effects to the log; under appendfsync always the reply waits until they are on disk.
    if (persist.sink.pending || persist.snap.out.len > 0) {
      const pos = persist.flush();
      if (Atomics.load(persistFlags, PERSIST_FSYNC_ALWAYS) !== 0) while (!log.waitDurable(pos, 1000)) { /* disk stalled */ }
    }
    // Segment announcements go on the port before a reply payload that may follow them.
    rt.engine.state.i32[ST_LIB_COUNT] = rt.libraries.size;
    rt.engine.state.i32[ST_FN_COUNT] = rt.functions.size;
    let segs = 0;
    for (let i = 0; i < announced.length; i++) {
      for (const a of announced[i]) port.postMessage({ arena: i, index: a.index, sab: a.sab });
      segs += announced[i].length;
      announced[i].length = 0;
    }
    mb[MB_SEGS] = segs;
    // Changed libraries: their dump (the io thread's snapshots) and code (the shards' VMs).
    mb[MB_FUNCS] = 0;
    if (rt.functionsVersion !== functionsSent) {
      functionsSent = rt.functionsVersion;
      port.postMessage(librariesMessage(rt));
      mb[MB_FUNCS] = 1;
    }
    mb[MB_DIRTY] = ctx.dirty - dirty0;
    mb[MB_REP_LEN] = w.len;
    mb[MB_EVT_LEN] = events.len;
    mb[MB_WRITES_LEN] = writes.len;
    if (w.len + events.len + writes.len + replyIndex.len <= mbData.length) {
      let p = w.buf.copy(mbData, 0, 0, w.len);
      p += events.buf.copy(mbData, p, 0, events.len);
      p += writes.buf.copy(mbData, p, 0, writes.len);
      replyIndex.buf.copy(mbData, p, 0, replyIndex.len);
      mb[MB_REP_PORT] = 0;
    } else {
      port.postMessage(Buffer.concat([w.buf.subarray(0, w.len), events.buf.subarray(0, events.len),
        writes.buf.subarray(0, writes.len), replyIndex.buf.subarray(0, replyIndex.len)]));
      mb[MB_REP_PORT] = 1;
    }
    if (w.buf.length > 1 << 20) w.buf = Buffer.allocUnsafe(64 * 1024);
  }

  parentPort!.postMessage({ ready: true });
  for (;;) {
    const t0 = performance.now();
    let s: number;
    while ((s = Atomics.load(mb, MB_STATE)) !== MB_REQUEST) {
      if (performance.now() - t0 > SPIN_MS) Atomics.wait(mb, MB_STATE, s, 1000);
    }
    handle();
    Atomics.store(mb, MB_STATE, MB_REPLY);
    Atomics.notify(mb, MB_STATE);
  }
}

main().catch((err: Error) => {
  // Written at once: a worker's console output is lost when it exits.
  writeSync(2, `script thread: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});

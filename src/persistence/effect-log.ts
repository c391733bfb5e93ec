/**
 * The effect log (layout: native-layout/effect-log.md): a multi-producer single-consumer
 * log in a SharedArrayBuffer. Producers (shard workers, the io thread) take a spin lock held
 * only for a copy, append one record and publish it with one store of HEAD. The single
 * consumer (the persistence worker) reads records in order, releases their space with one
 * store of TAIL, and publishes how far the log has reached the disk (DURABLE).
 *
 * Positions are 32-bit and wrap around: compare them with posAtLeast() only.
 */
import {
  LOG_AOF_STATE, LOG_CONTROL_BYTES, LOG_DEFAULT_CAPACITY, LOG_DURABLE, LOG_DURABLE_WAITERS, LOG_HEAD,
  LOG_INT_WORDS, LOG_LOCK, LOG_MIN_CAPACITY, LOG_SPACE_WAITERS, LOG_STATS_OFFSET, LOG_TAIL, LOG_WAKE,
  LOG_WRITE_ERRNO, LOG_WRITE_STATUS, REC_DB, REC_FLAGS, REC_HEADER, REC_KIND, REC_LEN, REC_SHARD, STAT_WORDS,
} from '../../native-layout/effect-log';

/** True when position `a` is at or after position `b` (wrap-around compare). */
export function posAtLeast(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

const SPIN_BEFORE_SLEEP = 256; // worker threads: spins on a held lock before Atomics.wait
const SMALL_COPY = 64; // below this a byte loop beats creating a subarray view

function roundUpPow2(n: number): number {
  let c = LOG_MIN_CAPACITY;
  while (c < n) c *= 2;
  return c;
}

export class EffectLog {
  readonly sab: SharedArrayBuffer;
  readonly ctl: Int32Array;
  /** Float64 statistics kept by the consumer (native-layout/effect-log.ts STAT_*). */
  readonly stats: Float64Array;
  /** The data area. */
  readonly data: Buffer;
  readonly capacity: number;
  readonly mask: number;
  /** Largest record (header + payload) an append accepts. */
  readonly maxRecord: number;

  // Builder state: the record being written in place between beginRecord() and commitRecord().
  private bOff = -1;
  private bHead = 0;
  private bSkip = 0;
  private bMax = 0;

  // Consumer cursor: fields of the record last returned by next().
  /** Offset in `data` of the current record's header. */
  recOff = 0;
  /** Position of the current record (after any wrap marker). */
  recPos = 0;
  recKind = 0;
  recFlags = 0;
  recDb = 0;
  recShard = 0;
  /** Payload bytes are data[recStart, recEnd). */
  recStart = 0;
  recEnd = 0;

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ctl = new Int32Array(sab, 0, LOG_INT_WORDS);
    this.stats = new Float64Array(sab, LOG_STATS_OFFSET, STAT_WORDS);
    this.capacity = sab.byteLength - LOG_CONTROL_BYTES;
    if (this.capacity < LOG_MIN_CAPACITY || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new RangeError(`effect log: capacity ${this.capacity} is not a power of two >= ${LOG_MIN_CAPACITY}`);
    }
    this.mask = this.capacity - 1;
    this.maxRecord = this.capacity >> 1;
    this.data = Buffer.from(sab, LOG_CONTROL_BYTES, this.capacity);
  }

  /** A new log; the capacity is rounded up to a power of two. */
  static create(capacityBytes: number = LOG_DEFAULT_CAPACITY): EffectLog {
    return new EffectLog(new SharedArrayBuffer(LOG_CONTROL_BYTES + roundUpPow2(capacityBytes)));
  }

  /** The same log seen from another thread. */
  static attach(sab: SharedArrayBuffer): EffectLog {
    return new EffectLog(sab);
  }

  // ---- lock ------------------------------------------------------------------------------

  /** Spin for the lock; `canSleep` (worker threads only) sleeps after a while (3-state futex mutex). */
  private lock(canSleep: boolean): void {
    const ctl = this.ctl;
    if (Atomics.compareExchange(ctl, LOG_LOCK, 0, 1) === 0) return;
    for (let i = 0; ; i++) {
      if (Atomics.load(ctl, LOG_LOCK) === 0 && Atomics.compareExchange(ctl, LOG_LOCK, 0, 1) === 0) return;
      if (canSleep && i >= SPIN_BEFORE_SLEEP) break;
    }
    // Mark "held with sleepers" and sleep until the holder's unlock notifies.
    while (Atomics.exchange(ctl, LOG_LOCK, 2) !== 0) Atomics.wait(ctl, LOG_LOCK, 2, 5);
  }

  private unlock(): void {
    if (Atomics.sub(this.ctl, LOG_LOCK, 1) !== 1) {
      Atomics.store(this.ctl, LOG_LOCK, 0);
      Atomics.notify(this.ctl, LOG_LOCK, 1);
    }
  }

  // ---- producers -------------------------------------------------------------------------

  /**
   * Append one record; returns the position after it, or -1 if the log has no room right
   * now (never blocks). Throws RangeError for a record larger than half the capacity.
   */
  append(kind: number, flags: number, db: number, shardId: number, payload: Uint8Array, start: number, end: number): number {
    return this.appendImpl(kind, flags, db, shardId, payload, start, end, false);
  }

  /** As append(), but sleeps until there is room (worker threads only: it uses Atomics.wait). */
  appendWait(kind: number, flags: number, db: number, shardId: number, payload: Uint8Array, start: number, end: number): number {
    for (;;) {
      const tail = Atomics.load(this.ctl, LOG_TAIL);
      const pos = this.appendImpl(kind, flags, db, shardId, payload, start, end, true);
      if (pos !== -1) return pos;
      this.waitForSpace(tail);
    }
  }

  private appendImpl(kind: number, flags: number, db: number, shardId: number, payload: Uint8Array,
    start: number, end: number, canSleep: boolean): number {
    const len = REC_HEADER + (end - start);
    if (len > this.maxRecord) throw new RangeError(`effect log: record of ${len} bytes exceeds ${this.maxRecord}`);
    this.lock(canSleep);
    const off = this.reserve(len);
    if (off < 0) {
      this.unlock();
      return -1;
    }
    const data = this.data;
    data.writeUInt32LE(len, off + REC_LEN);
    data[off + REC_KIND] = kind;
    data[off + REC_FLAGS] = flags;
    data.writeUInt16LE(db, off + REC_DB);
    data.writeUInt32LE(shardId >>> 0, off + REC_SHARD);
    const n = end - start;
    const dst = off + REC_HEADER;
    if (n <= SMALL_COPY) {
      for (let i = 0; i < n; i++) data[dst + i] = payload[start + i];
    } else {
      data.set(payload.subarray(start, end), dst);
    }
    return this.publish();
  }

  /**
   * Under the lock: find room for `len` bytes (writing a wrap marker if the record must go to
   * offset 0). Returns the data offset, or -1. Sets bHead/bSkip for publish().
   */
  private reserve(len: number): number {
    const ctl = this.ctl;
    const head = Atomics.load(ctl, LOG_HEAD);
    const tail = Atomics.load(ctl, LOG_TAIL);
    const used = (head - tail) | 0;
    const need = (len + 3) & ~3;
    let off = head & this.mask;
    const contig = this.capacity - off;
    const skip = need <= contig ? 0 : contig;
    if (used + skip + need > this.capacity) return -1;
    if (skip !== 0) {
      this.data.writeUInt32LE(0, off); // wrap marker
      off = 0;
    }
    this.bHead = head;
    this.bSkip = skip + need;
    return off;
  }

  /** Publish the reserved record, unlock, wake the consumer; returns the new head. */
  private publish(): number {
    const ctl = this.ctl;
    const head = (this.bHead + this.bSkip) | 0;
    Atomics.store(ctl, LOG_HEAD, head);
    this.unlock();
    this.wakeConsumer();
    return head;
  }

  /** Wake the consumer if it sleeps (epoch protocol: only the holder of its exact token notifies). */
  wakeConsumer(): void {
    const v = Atomics.load(this.ctl, LOG_WAKE);
    if ((v & 1) === 1 && Atomics.compareExchange(this.ctl, LOG_WAKE, v, (v + 1) | 0) === v) {
      Atomics.notify(this.ctl, LOG_WAKE, 1);
    }
  }

  /** Sleep (worker threads) until TAIL moves from `tail`, or 50 ms. */
  private waitForSpace(tail: number): void {
    Atomics.add(this.ctl, LOG_SPACE_WAITERS, 1);
    Atomics.wait(this.ctl, LOG_TAIL, tail, 50);
    Atomics.sub(this.ctl, LOG_SPACE_WAITERS, 1);
  }

  /**
   * Builder: reserve room for a record of at most `maxPayload` payload bytes and hold the
   * lock; returns the data offset where the payload goes (write it into `data`), or -1 (no
   * room; the lock is not held). Finish with commitRecord(); nothing else may run between.
   */
  beginRecord(kind: number, flags: number, db: number, shardId: number, maxPayload: number): number {
    const len = REC_HEADER + maxPayload;
    if (len > this.maxRecord) throw new RangeError(`effect log: record of ${len} bytes exceeds ${this.maxRecord}`);
    this.lock(false);
    const off = this.reserve(len);
    if (off < 0) {
      this.unlock();
      return -1;
    }
    const data = this.data;
    data[off + REC_KIND] = kind;
    data[off + REC_FLAGS] = flags;
    data.writeUInt16LE(db, off + REC_DB);
    data.writeUInt32LE(shardId >>> 0, off + REC_SHARD);
    this.bOff = off;
    this.bMax = maxPayload;
    return off + REC_HEADER;
  }

  /** Publish the record begun by beginRecord() with `payloadLen` bytes written; returns the position after it. */
  commitRecord(payloadLen: number): number {
    const off = this.bOff;
    if (off < 0 || payloadLen > this.bMax) throw new Error('effect log: commitRecord without a matching beginRecord');
    const len = REC_HEADER + payloadLen;
    this.data.writeUInt32LE(len, off + REC_LEN);
    // The reservation was for maxPayload; give back what the record did not use.
    this.bSkip -= ((REC_HEADER + this.bMax + 3) & ~3) - ((len + 3) & ~3);
    this.bOff = -1;
    return this.publish();
  }

  /** Drop the record begun by beginRecord() (nothing is published). */
  abortRecord(): void {
    if (this.bOff < 0) return;
    // A wrap marker may have been written; harmless, HEAD did not move past it.
    this.bOff = -1;
    this.unlock();
  }

  // ---- durability ------------------------------------------------------------------------

  durable(): number {
    return Atomics.load(this.ctl, LOG_DURABLE);
  }

  /** Consumer: everything before `pos` is durable; wake whoever waits. */
  publishDurable(pos: number): void {
    Atomics.store(this.ctl, LOG_DURABLE, pos);
    if (Atomics.load(this.ctl, LOG_DURABLE_WAITERS) > 0) Atomics.notify(this.ctl, LOG_DURABLE);
  }

  /** Shard workers: sleep until durable >= pos; false on timeout. Never on the io thread. */
  waitDurable(pos: number, timeoutMs: number): boolean {
    const ctl = this.ctl;
    let d = Atomics.load(ctl, LOG_DURABLE);
    if (posAtLeast(d, pos)) return true;
    const deadline = timeoutMs === Infinity ? Infinity : Date.now() + timeoutMs;
    Atomics.add(ctl, LOG_DURABLE_WAITERS, 1);
    try {
      for (;;) {
        // Sleeping on the exact value read: a publish after the read makes wait return at once.
        const left = deadline === Infinity ? Infinity : deadline - Date.now();
        if (left <= 0) return false;
        Atomics.wait(ctl, LOG_DURABLE, d, left);
        d = Atomics.load(ctl, LOG_DURABLE);
        if (posAtLeast(d, pos)) return true;
      }
    } finally {
      Atomics.sub(ctl, LOG_DURABLE_WAITERS, 1);
    }
  }

  /**
   * io thread: resolves once durable >= pos. Uses Atomics.waitAsync on the value read (no
   * lost wake-ups), with a 1 s timeout as insurance. Call it once per batch, not per command.
   */
  async waitDurableAsync(pos: number): Promise<void> {
    const ctl = this.ctl;
    for (;;) {
      const d = Atomics.load(ctl, LOG_DURABLE);
      if (posAtLeast(d, pos)) return;
      Atomics.add(ctl, LOG_DURABLE_WAITERS, 1);
      try {
        const r = Atomics.waitAsync(ctl, LOG_DURABLE, d, 1000);
        if (r.async) await r.value;
      } finally {
        Atomics.sub(ctl, LOG_DURABLE_WAITERS, 1);
      }
    }
  }

  // ---- consumer --------------------------------------------------------------------------

  head(): number {
    return Atomics.load(this.ctl, LOG_HEAD);
  }

  tail(): number {
    return Atomics.load(this.ctl, LOG_TAIL);
  }

  /** Bytes appended and not yet released (aof_buffer_length). */
  pendingBytes(): number {
    return (Atomics.load(this.ctl, LOG_HEAD) - Atomics.load(this.ctl, LOG_TAIL)) | 0;
  }

  /**
   * Read the record at `pos` (which must be before the published head): fills rec* fields
   * and returns the position after the record.
   */
  next(pos: number): number {
    const data = this.data;
    let off = pos & this.mask;
    let len = data.readUInt32LE(off + REC_LEN);
    if (len === 0) {
      pos = (pos + this.capacity - off) | 0;
      off = 0;
      len = data.readUInt32LE(REC_LEN);
    }
    this.recOff = off;
    this.recPos = pos;
    this.recKind = data[off + REC_KIND];
    this.recFlags = data[off + REC_FLAGS];
    this.recDb = data.readUInt16LE(off + REC_DB);
    this.recShard = data.readUInt32LE(off + REC_SHARD);
    this.recStart = off + REC_HEADER;
    this.recEnd = off + len;
    return (pos + ((len + 3) & ~3)) | 0;
  }

  /** Give the space before `pos` back to producers; wake producers sleeping for room. */
  release(pos: number): void {
    Atomics.store(this.ctl, LOG_TAIL, pos);
    if (Atomics.load(this.ctl, LOG_SPACE_WAITERS) > 0) Atomics.notify(this.ctl, LOG_TAIL);
  }

  /**
   * Consumer about to sleep: returns the odd token to wait on, or -1 if records arrived
   * meanwhile (`readPos` is where the consumer would read next).
   */
  prepareSleep(readPos: number): number {
    const token = (Atomics.add(this.ctl, LOG_WAKE, 1) + 1) | 0;
    if (Atomics.load(this.ctl, LOG_HEAD) !== readPos) {
      this.endSleep(token);
      return -1;
    }
    return token;
  }

  /** Sleep on the token from prepareSleep() for at most `timeoutMs`. */
  sleep(token: number, timeoutMs: number): void {
    Atomics.wait(this.ctl, LOG_WAKE, token, timeoutMs);
    this.endSleep(token);
  }

  endSleep(token: number): void {
    Atomics.compareExchange(this.ctl, LOG_WAKE, token, (token + 1) | 0);
  }

  // ---- status words ----------------------------------------------------------------------

  /** aof_last_write_status as the worker last saw it: true = ok. */
  writeOk(): boolean {
    return Atomics.load(this.ctl, LOG_WRITE_STATUS) === 0;
  }

  writeErrno(): number {
    return Atomics.load(this.ctl, LOG_WRITE_ERRNO);
  }

  setWriteStatus(ok: boolean, errno: number): void {
    Atomics.store(this.ctl, LOG_WRITE_ERRNO, errno);
    Atomics.store(this.ctl, LOG_WRITE_STATUS, ok ? 0 : 1);
  }

  /** 0 off, 1 on, 2 waiting for a rewrite. */
  aofState(): number {
    return Atomics.load(this.ctl, LOG_AOF_STATE);
  }

  setAofState(s: number): void {
    Atomics.store(this.ctl, LOG_AOF_STATE, s);
  }
}

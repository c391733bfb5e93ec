/**
 * SPSC ring over a SharedArrayBuffer (layout: native-layout/ring.md). The producer
 * reserves space and writes records with plain stores, then publishes them in one
 * Atomics.store of the head; the consumer reads up to the published head and frees
 * space with one Atomics.store of the tail. Wake-ups use the epoch protocol: the
 * sleeper makes RING_WAKE odd and sleeps on that exact value; a producer that sees it
 * odd compare-exchanges it to the next even value and notifies once, so a late waker
 * can never clear a newer sleep.
 */
import { RING_CONTROL_BYTES, RING_HEAD, RING_TAIL, RING_WAKE } from '../../native-layout/ring';

export class Ring {
  readonly sab: SharedArrayBuffer;
  readonly ctl: Int32Array;
  /** The data area, as a Buffer so records can be copied with Buffer.copy. */
  readonly data: Buffer;
  readonly capacity: number;
  /** Producer side: offset where the next record goes (published on publish()). */
  private head = 0;
  /** Consumer side: offset of the next record to read (published on release()). */
  tail = 0;

  constructor(sabOrCapacity: SharedArrayBuffer | number) {
    this.sab = typeof sabOrCapacity === 'number'
      ? new SharedArrayBuffer(RING_CONTROL_BYTES + sabOrCapacity) : sabOrCapacity;
    this.ctl = new Int32Array(this.sab, 0, RING_CONTROL_BYTES >> 2);
    this.capacity = this.sab.byteLength - RING_CONTROL_BYTES;
    this.data = Buffer.from(this.sab, RING_CONTROL_BYTES, this.capacity);
    this.head = Atomics.load(this.ctl, RING_HEAD);
    this.tail = Atomics.load(this.ctl, RING_TAIL);
  }

  // ---- producer -------------------------------------------------------------------------

  /**
   * Reserve `n` bytes (4-aligned) for one record; returns its offset in `data`, or -1 if
   * the ring is full right now. Writes the wrap marker when the record must go to 0.
   */
  reserve(n: number): number {
    const head = this.head;
    const tail = Atomics.load(this.ctl, RING_TAIL);
    if (head >= tail) {
      // Keep 4 bytes at the end for a wrap marker so head never reaches capacity.
      if (head + n + 4 <= this.capacity) return head;
      if (n < tail) {
        this.data.writeUInt32LE(0, head);
        this.head = 0;
        return 0;
      }
      return -1;
    }
    return head + n < tail ? head : -1;
  }

  /** Mark `n` bytes at the reserved offset as written. */
  commit(n: number): void {
    this.head += n;
  }

  /** Make every committed record visible to the consumer; true if it may be asleep. */
  publish(): boolean {
    Atomics.store(this.ctl, RING_HEAD, this.head);
    return (Atomics.load(this.ctl, RING_WAKE) & 1) === 1;
  }

  /**
   * Wake the consumer if it sleeps (after publish()). Every waiter on the word is woken: the
   * io thread's Atomics.waitAsync waits of earlier parks stay queued until they time out, and
   * a notify of one would wake the oldest of those instead of the current one (a lost wake-up
   * that cost a whole insurance timeout, 20 ms).
   */
  wake(): void {
    const v = Atomics.load(this.ctl, RING_WAKE);
    if ((v & 1) === 1 && Atomics.compareExchange(this.ctl, RING_WAKE, v, v + 1) === v) {
      Atomics.notify(this.ctl, RING_WAKE);
    }
  }

  /** Bytes a producer could still reserve in one piece, roughly (for back-pressure decisions). */
  freeBytes(): number {
    const tail = Atomics.load(this.ctl, RING_TAIL);
    return this.head >= tail ? this.capacity - this.head + tail - 8 : tail - this.head - 4;
  }

  // ---- consumer -------------------------------------------------------------------------

  /** Published head, for the consumer to read up to. */
  readHead(): number {
    return Atomics.load(this.ctl, RING_HEAD);
  }

  isEmpty(): boolean {
    return Atomics.load(this.ctl, RING_HEAD) === this.tail;
  }

  /** Offset of the next record at or after `tail`, following a wrap marker. */
  next(tail: number): number {
    return this.data.readUInt32LE(tail) === 0 ? 0 : tail;
  }

  /** Give the consumed space back to the producer. */
  release(): void {
    Atomics.store(this.ctl, RING_TAIL, this.tail);
  }

  /**
   * Consumer going to sleep: returns the odd token to wait on, or -1 if records arrived
   * meanwhile (then it must not sleep).
   */
  prepareSleep(): number {
    const token = Atomics.add(this.ctl, RING_WAKE, 1) + 1; // now odd
    if (!this.isEmpty()) {
      this.endSleep(token);
      return -1;
    }
    return token;
  }

  /** After waking (or deciding not to sleep): make the epoch even again unless a waker did. */
  endSleep(token: number): void {
    Atomics.compareExchange(this.ctl, RING_WAKE, token, token + 1);
  }
}

// A tiny raw RESP client for byte-exact tests: it hands back the exact bytes
// of each reply, so Sabre's and Redis's answers can be compared as they went
// over the wire. Replies are delimited by a resumable RESP2/RESP3 boundary
// scanner; nothing is decoded unless a test asks for it.
import net from 'node:net';

const CR = 13;
const LF = 10;

/** Encodes one command as a RESP array of bulk strings (strings as UTF-8). */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Renders bytes readably: printable ASCII as is, everything else as \r \n \xNN. */
export function escapeBytes(buf: Buffer | string, max = 400): string {
  const b = typeof buf === 'string' ? Buffer.from(buf, 'utf8') : buf;
  let out = '';
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) {
    const c = b[i];
    if (c === CR) out += '\\r';
    else if (c === LF) out += '\\n';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  if (b.length > max) out += `...(${b.length - max} more bytes)`;
  return out;
}

function findCRLF(buf: Buffer, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (buf[i] === CR && buf[i + 1] === LF) return i;
  }
  return -1;
}

function parseIntAt(buf: Buffer, start: number, end: number): number {
  const s = buf.toString('latin1', start, end);
  if (!/^-?\d+$/.test(s)) throw new Error(`RESP protocol error: bad length/count '${s}'`);
  return Number(s);
}

/**
 * Finds where one complete reply ends. Resumable: when the data runs out it
 * returns -1 and keeps its place, so a large reply arriving in many chunks is
 * scanned once, not once per chunk. Offsets are into the caller's buffer; the
 * caller shifts them with rebase() when it compacts that buffer.
 */
export class ReplyScanner {
  private pos = -1; // next element header to scan; -1 = no reply in progress
  private remaining = 1; // elements still owed at the current nesting level
  private stack: number[] = []; // remaining counts of the enclosing aggregates
  private start = 0; // where the reply in progress began

  /** Returns the end offset (exclusive) of the reply starting at start, or -1 if incomplete. */
  scan(buf: Buffer, start: number, end: number): number {
    if (this.pos < 0) {
      this.start = start;
      this.pos = start;
      this.remaining = 1;
      this.stack.length = 0;
    }
    for (;;) {
      const pos = this.pos;
      if (pos >= end) return this.incomplete();
      const type = buf[pos];
      const lineEnd = findCRLF(buf, pos + 1, end);
      if (lineEnd < 0) return this.incomplete();
      let next = lineEnd + 2;
      switch (type) {
        case 0x2b: // + simple string
        case 0x2d: // - error
        case 0x3a: // : integer
        case 0x5f: // _ null
        case 0x2c: // , double
        case 0x23: // # boolean
        case 0x28: // ( big number
          break;
        case 0x24: // $ bulk string
        case 0x21: // ! blob error
        case 0x3d: {
          // = verbatim string
          const len = parseIntAt(buf, pos + 1, lineEnd);
          if (len >= 0) {
            next = lineEnd + 2 + len + 2;
            if (next > end) return this.incomplete();
          }
          break;
        }
        case 0x2a: // * array
        case 0x25: // % map
        case 0x7e: // ~ set
        case 0x3e: // > push
        case 0x7c: {
          // | attribute (a map that precedes, and is not counted as, the reply)
          const n = parseIntAt(buf, pos + 1, lineEnd);
          const items = type === 0x25 || type === 0x7c ? n * 2 : n;
          if (type === 0x7c) {
            this.pos = next;
            if (items > 0) {
              this.stack.push(this.remaining + 1);
              this.remaining = items;
            }
            continue;
          }
          if (items > 0) {
            this.stack.push(this.remaining);
            this.remaining = items;
            this.pos = next;
            continue;
          }
          break; // empty or null aggregate: a leaf
        }
        default:
          throw new Error(
            `RESP protocol error: unexpected type byte 0x${type.toString(16)} at ` +
              `"${escapeBytes(buf.subarray(pos, Math.min(end, pos + 40)))}"`,
          );
      }
      this.pos = next;
      this.remaining--;
      while (this.remaining === 0) {
        const parent = this.stack.pop();
        if (parent === undefined) {
          this.pos = -1;
          return next;
        }
        this.remaining = parent - 1;
      }
    }
  }

  /** Out of data. If nothing of this reply was consumed yet, forget it, so the caller may move its buffer freely. */
  private incomplete(): number {
    if (this.pos === this.start) this.pos = -1;
    return -1;
  }

  /** The caller moved its unread bytes `by` bytes towards the front. */
  rebase(by: number): void {
    if (this.pos >= 0) {
      this.pos -= by;
      this.start -= by;
    }
  }
}

/** Splits a buffer holding whole replies into one Buffer per reply (views, not copies). */
export function splitReplies(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const scanner = new ReplyScanner();
  let start = 0;
  while (start < buf.length) {
    const end = scanner.scan(buf, start, buf.length);
    if (end < 0) throw new Error(`incomplete reply: "${escapeBytes(buf.subarray(start))}"`);
    out.push(buf.subarray(start, end));
    start = end;
  }
  return out;
}

/**
 * For an aggregate reply (* % ~ >): the header line and the raw bytes of each
 * element (a map's keys and values alternate). Returns null for anything else,
 * including null arrays.
 */
export function replyElements(reply: Buffer): { header: Buffer; elements: Buffer[] } | null {
  const t = reply[0];
  if (t !== 0x2a && t !== 0x25 && t !== 0x7e && t !== 0x3e) return null;
  const lineEnd = findCRLF(reply, 1, reply.length);
  const n = parseIntAt(reply, 1, lineEnd);
  if (n < 0) return null;
  const header = reply.subarray(0, lineEnd + 2);
  const elements = splitReplies(reply.subarray(lineEnd + 2));
  return { header, elements };
}

/** The value of an integer reply (":123\r\n"), or null if the reply is not an integer. */
export function replyInteger(reply: Buffer): bigint | null {
  if (reply[0] !== 0x3a) return null;
  return BigInt(reply.toString('latin1', 1, reply.length - 2));
}

type Waiter = { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | null };

export class RawClient {
  /** Milliseconds a reply may take before the connection is declared hung (and closed). */
  timeoutMs = 10_000;

  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  private rpos = 0; // start of the first unconsumed byte
  private wpos = 0; // end of received data
  private readonly scanner = new ReplyScanner();
  private readonly ready: Buffer[] = []; // complete replies nobody asked for yet
  private readonly waiters: Waiter[] = [];
  private failure: Error | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed by server')));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Writes raw bytes as they are (inline commands, malformed input, partial frames...). */
  send(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
  }

  /** Sends one command and resolves with the raw bytes of its one reply. */
  command(...args: (string | Buffer)[]): Promise<Buffer> {
    this.send(encodeCommand(args));
    return this.readReply();
  }

  /** Sends all commands in one write and resolves with one raw reply per command. */
  pipeline(cmds: readonly (readonly (string | Buffer)[])[]): Promise<Buffer[]> {
    if (cmds.length === 0) return Promise.resolve([]);
    this.send(Buffer.concat(cmds.map((c) => encodeCommand(c))));
    const replies: Promise<Buffer>[] = [];
    for (let i = 0; i < cmds.length; i++) replies.push(this.readReply());
    return Promise.all(replies);
  }

  /** The next reply on the connection, in order. */
  readReply(): Promise<Buffer> {
    const queued = this.ready.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: null };
      // Only the oldest waiter needs a clock; later ones get theirs when they move up.
      if (this.waiters.length === 0) this.arm(waiter);
      this.waiters.push(waiter);
    });
  }

  /** Bytes received but not yet part of a complete reply (for tests of partial writes). */
  pendingBytes(): number {
    return this.wpos - this.rpos;
  }

  close(): void {
    this.socket.destroy();
    this.fail(new Error('client closed'));
  }

  private arm(w: Waiter): void {
    if (this.timeoutMs <= 0) return;
    w.timer = setTimeout(() => {
      const partial = escapeBytes(this.buf.subarray(this.rpos, this.wpos), 200);
      this.socket.destroy();
      this.fail(new Error(`no reply within ${this.timeoutMs} ms (unparsed bytes so far: "${partial}")`));
    }, this.timeoutMs);
  }

  private onData(chunk: Buffer): void {
    this.append(chunk);
    for (;;) {
      let end: number;
      try {
        end = this.scanner.scan(this.buf, this.rpos, this.wpos);
      } catch (err) {
        this.socket.destroy();
        this.fail(err as Error);
        return;
      }
      if (end < 0) break;
      const reply = Buffer.from(this.buf.subarray(this.rpos, end)); // owned copy
      this.rpos = end;
      const w = this.waiters.shift();
      if (w) {
        if (w.timer) clearTimeout(w.timer);
        if (this.waiters.length > 0) this.arm(this.waiters[0]);
        w.resolve(reply);
      } else {
        this.ready.push(reply);
      }
    }
    if (this.rpos === this.wpos) this.rpos = this.wpos = 0;
  }

  private append(chunk: Buffer): void {
    if (this.wpos + chunk.length > this.buf.length) {
      const unread = this.wpos - this.rpos;
      const target = unread + chunk.length > this.buf.length ? Math.max(this.buf.length * 2, unread + chunk.length) : this.buf.length;
      const next = target === this.buf.length ? this.buf : Buffer.allocUnsafe(target);
      this.buf.copy(next, 0, this.rpos, this.wpos);
      this.scanner.rebase(this.rpos);
      this.buf = next;
      this.rpos = 0;
      this.wpos = unread;
    }
    chunk.copy(this.buf, this.wpos);
    this.wpos += chunk.length;
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    const waiters = this.waiters.splice(0);
    for (const w of waiters) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(this.failure);
    }
  }
}

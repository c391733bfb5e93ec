/**
 * A client connection, owned by the io thread. Holds what Redis's `client` struct holds
 * that Sabre needs: the selected db, protocol, name, auth state, the unparsed tail of
 * the query buffer and the reply ordering state (replies of a pipeline whose commands
 * went to several shards are written in sequence order).
 */
import type { Socket } from 'node:net';
import type { BlockedCommand } from './blocking';
import type { MultiState, PendingTouch, WatchSet } from './multi';
import type { ClientPubsub } from './pubsub';
import type { ClientTracking } from './tracking';

export const REPLY_ON = 0;
export const REPLY_OFF = 1;
export const REPLY_SKIP_NEXT = 2; // CLIENT REPLY SKIP was just called: the next command is silent
export const REPLY_SKIP = 3; // this command's reply is dropped, then back to ON

export class Client {
  readonly id: number;
  readonly sock: Socket;
  readonly addr: string;
  readonly laddr: string;
  readonly fd: number;
  db = 0;
  resp: 2 | 3 = 2;
  name = '';
  libName = '';
  libVer = '';
  authenticated: boolean;
  replyMode = REPLY_ON;
  noEvict = false;
  /** Close once pending replies are written (QUIT, protocol errors, CLIENT KILL). */
  closeAfterReply = false;
  closed = false;
  readonly created = Date.now();
  lastInteraction = Date.now();
  /** Full name of the last command, for CLIENT LIST cmd=. */
  lastCmd = 'NULL';

  /** Unparsed bytes carried to the next read, and bytes known to be needed before parsing again. */
  qbuf: Buffer | null = null;
  qbufChunks: Buffer[] | null = null;
  qbufChunkBytes = 0;
  qbufNeeded = 0;

  /** Reply ordering: sequence of the next command, and of the next reply to write. */
  nextSeq = 0;
  writeSeq = 0;
  /** Replies that arrived before an earlier one. */
  stash: Map<number, Buffer | null> | null = null;
  /** Keyspace events of shard commands, by sequence number, published when their reply goes out in order. */
  heldEvents: Map<number, Buffer> | null = null;
  /** Replies ready for one socket write at the end of the batch (a fresh buffer per write). */
  out: Buffer | null = null;
  outBytes = 0;
  /** Listed in the io thread's clients-to-flush list. */
  flushPending = false;
  /** Commands handed to shards and not yet answered. */
  inFlight = 0;
  /** Reading paused by back-pressure. */
  paused = false;
  /** Input held back by CLIENT PAUSE. */
  postponed = false;
  /** Input held back while a blocking command is unresolved. */
  holdInput = false;
  /** The blocking command this client waits on, if any. */
  block: BlockedCommand | null = null;
  /** Commands queued since MULTI (null: not in a transaction). */
  multi: MultiState | null = null;
  /** Keys under WATCH (and whether one was touched), and the touches of this client's writes still in flight. */
  watching: WatchSet | null = null;
  pendingTouch: Map<number, PendingTouch> | null = null;
  /** Pub/sub subscriptions (src/server/pubsub.ts): null while there are none (Redis's CLIENT_PUBSUB flag off). */
  pubsub: ClientPubsub | null = null;
  /** CLIENT TRACKING state (src/server/tracking.ts); null until the client first needs it. */
  tracking: ClientTracking | null = null;
  /** Pushes are queued for pub/sub's end-of-turn flush. */
  pushFlushPending = false;
  /** client-output-buffer-limit: when the soft limit was first exceeded (unix seconds, 0 = under it). */
  obufSoftLimitSince = 0;
  /** Over an output buffer limit: freed at the end of the turn (Redis's CLIENT_CLOSE_ASAP). */
  closeAsap = false;

  constructor(id: number, sock: Socket, authenticated: boolean) {
    this.id = id;
    this.sock = sock;
    this.authenticated = authenticated;
    this.addr = `${sock.remoteAddress}:${sock.remotePort}`;
    this.laddr = `${sock.localAddress}:${sock.localPort}`;
    // Node hides the fd on some platforms; Redis tools only display it.
    this.fd = ((sock as unknown as { _handle?: { fd?: number } })._handle?.fd) ?? -1;
  }

  /** Queue reply bytes for the next socket write (copied: the source is reused). */
  appendOut(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.reserveOut(n);
    if (n < 64) {
      const out = this.out!;
      for (let i = 0; i < n; i++) out[this.outBytes + i] = src[start + i];
    } else {
      this.out!.set(src.subarray(start, end), this.outBytes);
    }
    this.outBytes += n;
  }

  appendOutBuffer(b: Buffer): void {
    this.appendOut(b, 0, b.length);
  }

  private reserveOut(n: number): void {
    const out = this.out;
    if (out === null) {
      this.out = Buffer.allocUnsafe(n < 2048 ? 2048 : n);
    } else if (this.outBytes + n > out.length) {
      const next = Buffer.allocUnsafe(Math.max(out.length * 2, this.outBytes + n));
      out.copy(next, 0, 0, this.outBytes);
      this.out = next;
    }
  }

  /** Bytes written to the socket so far (INFO total_net_output_bytes). */
  static netOutputBytes = 0;

  /** One socket write for everything queued. */
  flush(): void {
    const out = this.out;
    if (out === null) return;
    const n = this.outBytes;
    this.out = null;
    this.outBytes = 0;
    if (this.closed || n === 0) return;
    Client.netOutputBytes += n;
    this.sock.write(n === out.length ? out : out.subarray(0, n));
  }
}

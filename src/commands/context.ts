/**
 * What a command handler runs against: its arguments as byte ranges of one buffer,
 * the store, the client's database, the reply writer and the command's clock.
 * One context per thread, reused for every command: handlers must not keep it.
 */
import type { ReplyWriter } from '../protocol/resp-writer';
import type { Store } from '../store/store';

export class ExecContext {
  store: Store;
  w: ReplyWriter;
  /** Arguments: argv[i] is buf[argStart[i] .. argEnd[i]); argv[0] is the command name. */
  buf: Buffer = Buffer.alloc(0);
  argStart: Int32Array = new Int32Array(0);
  argEnd: Int32Array = new Int32Array(0);
  argc = 0;

  /**
   * Take arguments encoded as (u32 length, bytes) each from `off` in `buf` (the shard rings'
   * and the script mailbox's encoding); returns the offset after the last one.
   */
  layEncodedArgs(buf: Buffer, off: number, argc: number): number {
    if (this.argStart.length < argc) {
      this.argStart = new Int32Array(Math.max(argc, this.argStart.length * 2, 16));
      this.argEnd = new Int32Array(this.argStart.length);
    }
    for (let i = 0; i < argc; i++) {
      const len = buf.readUInt32LE(off);
      this.argStart[i] = off + 4;
      this.argEnd[i] = off + 4 + len;
      off += 4 + len;
    }
    this.buf = buf;
    this.argc = argc;
    return off;
  }
  /** Selected database of the calling client. */
  db = 0;
  /** Command time in ms (Redis's commandTimeSnapshot): fixed for the whole command. */
  now = 0;
  /** Writes to the dataset, for INFO/SAVE bookkeeping (Redis's server.dirty). */
  dirty = 0;
  /** Set by a blocking command's handler that found nothing to serve (it writes no reply). */
  blocked = false;
  /** This run is a blocked client's retry after a write to one of its keys. */
  retry = false;

  // ---- propagation: the effects of writes, for the AOF (and replicas) ----------------------
  /**
   * Set while an effect sink is attached (AOF on). Handlers test it before building a
   * rewritten command, so nothing is allocated for propagation when nobody listens.
   */
  propagating = false;
  /**
   * Commands a handler asked to propagate instead of its own argv (Redis's
   * rewriteClientCommandVector / alsoPropagate), in order; null = propagate argv itself
   * if the command changed the dataset. An empty array propagates nothing.
   */
  replacement: PropagatedArgv[] | null = null;

  /**
   * Propagate `argv` in place of this command (several calls: several commands, in order).
   * Redis's own rewrites: relative expiries become PEXPIREAT / SET .. PXAT, SPOP becomes
   * SREM, INCRBYFLOAT becomes SET .. KEEPTTL, blocking pops their non-blocking forms.
   * Only call when `propagating` is set.
   */
  propagate(argv: PropagatedArgv): void {
    (this.replacement ??= []).push(argv);
  }

  /** Propagate nothing for this command even though it changed the dataset. */
  preventPropagation(): void {
    this.replacement ??= [];
  }

  // ---- keyspace notifications (notify-keyspace-events) -------------------------------------
  /**
   * Enabled notification classes (NOTIFY_* bits, Redis's notify-keyspace-events flags);
   * 0 when notifications are off: handlers call notify() only after testing it.
   */
  notifyFlags = 0;
  /** Where notify() hands events (the thread's event queue); null: nobody listens. */
  notifySink: ((cls: number, event: string, db: number, key: Uint8Array, ks: number, ke: number) => void) | null = null;

  /**
   * Redis's notifyKeyspaceEvent(type, event, key, dbid): call exactly where Redis does,
   * with Redis's event name; cheap when the class is disabled.
   */
  notify(cls: number, event: string, key: Uint8Array, ks: number, ke: number, db = this.db): void {
    if ((this.notifyFlags & cls) !== 0 && this.notifySink !== null) this.notifySink(cls, event, db, key, ks, ke);
  }

  /** notify() for argument i as the key. */
  notifyArg(cls: number, event: string, i: number, db = this.db): void {
    if ((this.notifyFlags & cls) !== 0 && this.notifySink !== null) this.notifySink(cls, event, db, this.buf, this.argStart[i], this.argEnd[i]);
  }

  /** Argument i as bytes for a propagated command (a view, valid until the command ends). */
  argView(i: number): Uint8Array {
    return this.buf.subarray(this.argStart[i], this.argEnd[i]);
  }

  constructor(store: Store, w: ReplyWriter) {
    this.store = store;
    this.w = w;
  }

  argLen(i: number): number {
    return this.argEnd[i] - this.argStart[i];
  }

  /** Case-insensitive compare of argument i with an ASCII lowercase word. */
  argIs(i: number, lowerWord: string): boolean {
    const s = this.argStart[i], n = this.argEnd[i] - s;
    if (n !== lowerWord.length) return false;
    const b = this.buf;
    for (let k = 0; k < n; k++) if ((b[s + k] | 0x20) !== lowerWord.charCodeAt(k)) return false;
    return true;
  }

  /** Argument as a string (for rare paths: errors, options, admin commands). */
  argString(i: number): string {
    return this.buf.toString('utf8', this.argStart[i], this.argEnd[i]);
  }

  /** Argument as a Buffer copy (for rare paths). */
  argBytes(i: number): Buffer {
    return Buffer.from(this.buf.subarray(this.argStart[i], this.argEnd[i]));
  }
}

export type CommandHandler = (c: ExecContext) => void;

/** One propagated command: its arguments as strings (latin1-safe ASCII), bytes or integers. */
export type PropagatedArgv = (string | Uint8Array | number)[];

/** A command's arguments copied out of a read buffer that will be reused. */
export interface SavedArgs {
  buf: Buffer;
  argStart: Int32Array;
  argEnd: Int32Array;
}

/** Copy argv (byte ranges of buf) into one compact buffer of its own. */
export function saveArgs(buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): SavedArgs {
  let bytes = 0;
  for (let i = 0; i < argc; i++) bytes += ae[i] - as[i];
  const copy = Buffer.allocUnsafe(bytes);
  const argStart = new Int32Array(argc), argEnd = new Int32Array(argc);
  let off = 0;
  for (let i = 0; i < argc; i++) {
    argStart[i] = off;
    off += buf.copy(copy, off, as[i], ae[i]);
    argEnd[i] = off;
  }
  return { buf: copy, argStart, argEnd };
}

/** Handlers by lowercase command name; the dispatcher binds them to command ids at start-up. */
export const handlers = new Map<string, CommandHandler>();

export function defineCommand(name: string, fn: CommandHandler): void {
  handlers.set(name, fn);
}

/** Notification classes: Redis's NOTIFY_* bits (server.h), set by notify-keyspace-events. */
export const NOTIFY_KEYSPACE = 1 << 0; // K
export const NOTIFY_KEYEVENT = 1 << 1; // E
export const NOTIFY_GENERIC = 1 << 2; // g
export const NOTIFY_STRING = 1 << 3; // $
export const NOTIFY_LIST = 1 << 4; // l
export const NOTIFY_SET = 1 << 5; // s
export const NOTIFY_HASH = 1 << 6; // h
export const NOTIFY_ZSET = 1 << 7; // z
export const NOTIFY_EXPIRED = 1 << 8; // x
export const NOTIFY_EVICTED = 1 << 9; // e
export const NOTIFY_STREAM = 1 << 10; // t
export const NOTIFY_KEY_MISS = 1 << 11; // m
export const NOTIFY_LOADED = 1 << 12; // module only
export const NOTIFY_MODULE = 1 << 13; // d
export const NOTIFY_NEW = 1 << 14; // n

/** notify-keyspace-events bits as handlers test them: 0 unless K or E is on (nothing would be published). */
export function effectiveNotifyFlags(flags: number): number {
  return (flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT)) !== 0 ? flags : 0;
}

/** Redis's shared error replies, byte for byte. */
export const ERR_SYNTAX = 'ERR syntax error';
export const ERR_WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
export const ERR_NOT_INTEGER = 'ERR value is not an integer or out of range';
export const ERR_NOT_FLOAT = 'ERR value is not a valid float';
export const ERR_OVERFLOW = 'ERR increment or decrement would overflow';
export const ERR_NO_SUCH_KEY = 'ERR no such key';
export const ERR_DB_INDEX = 'ERR DB index is out of range';

/** Redis's addReplySubcommandSyntaxError: a known subcommand with arguments its parser rejects. */
export function subcommandSyntaxError(c: ExecContext): void {
  const sub = c.buf.toString('utf8', c.argStart[1], Math.min(c.argEnd[1], c.argStart[1] + 128));
  c.w.error(`ERR unknown subcommand or wrong number of arguments for '${sub}'. Try ${c.argString(0).toUpperCase()} HELP.`);
}

/** Redis's addReplyHelp: a header naming the command as typed, the lines, then HELP. */
export function replyHelp(c: ExecContext, lines: readonly string[]): void {
  const w = c.w;
  w.arrayHeader(lines.length + 3);
  w.simple(`${c.argString(0).toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`);
  for (const l of lines) w.simple(l);
  w.simple('HELP');
  w.simple('    Prints this help.');
}

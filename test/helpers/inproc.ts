// Sabre's command layer without the network, for in-process tests: a real Store over
// 1..N keyspaces, an ExecContext and ReplyWriter; argv is laid into one buffer with
// start/end offsets as the parser would, the command's handler runs, and its reply
// bytes come back. Test files subclass InprocServer for what only they need (shims,
// recorded events, propagation); see the options below for what is shared.
import { CommandHandler, ExecContext, handlers } from '../../src/commands/context';
import { lookupCommand } from '../../src/commands/table';
import { ReplyWriter } from '../../src/protocol/resp-writer';
import { applyShardSetting } from '../../src/shard/settings';
import { Arena } from '../../src/store/arena';
import { Keyspace } from '../../src/store/keyspace';
import { Store, makeSlotTable } from '../../src/store/store';

export type Arg = string | Buffer;

/** A Store over `keyspaces` fresh keyspaces of `dbCount` databases each. */
export function makeStore(keyspaces: number, dbCount = 16): Store {
  const spaces: Keyspace[] = [];
  for (let i = 0; i < keyspaces; i++) spaces.push(Keyspace.create(Arena.create(), dbCount));
  return new Store(spaces, makeSlotTable(keyspaces), keyspaces === 1 ? spaces[0] : null);
}

export interface InprocOptions {
  /** Keyspaces (logical shards) behind the Store; default 1. */
  keyspaces?: number;
  /** Databases per keyspace; default 16. */
  dbCount?: number;
  /** How string arguments become bytes; default latin1 (scripts are sent as utf8). */
  encoding?: BufferEncoding;
  /** CONFIG SET <name> <value> applies the shard setting directly, as the io thread forwards it to every shard. */
  configSet?: boolean;
  /** SELECT <db> switches the context's db: the connection layer owns SELECT. */
  select?: boolean;
  /** Clear c.blocked before every command, as the executor does. */
  resetBlocked?: boolean;
  /** Clear c.replacement before every command, as the executor does. */
  resetReplacement?: boolean;
  /** The dispatcher's arity check (its error reply) before the handler runs. */
  checkArity?: boolean;
  /** Sets c.propagating when given. */
  propagating?: boolean;
}

export class InprocServer {
  readonly store: Store;
  readonly w = new ReplyWriter();
  readonly c: ExecContext;
  /** Fixed clock for the command (ms), or null for Date.now(). */
  clock: number | null = null;
  private readonly opts: InprocOptions;

  constructor(opts: InprocOptions = {}) {
    this.opts = opts;
    this.store = makeStore(opts.keyspaces ?? 1, opts.dbCount ?? 16);
    this.c = new ExecContext(this.store, this.w);
    if (opts.propagating !== undefined) this.c.propagating = opts.propagating;
  }

  /** The handler for a command; subclasses add shims for what the command layer lacks. */
  protected handler(name: string, _parts: readonly Buffer[]): CommandHandler | undefined {
    return handlers.get(name);
  }

  run(...args: Arg[]): string {
    return this.runBytes(args).toString('latin1');
  }

  runBytes(args: readonly Arg[]): Buffer {
    const enc = this.opts.encoding ?? 'latin1';
    const parts = args.map((a) => (typeof a === 'string' ? Buffer.from(a, enc) : a));
    const name = parts[0].toString('latin1').toLowerCase();
    const c = this.c;
    if (this.opts.configSet && name === 'config') {
      applyShardSetting(parts[2].toString('latin1').toLowerCase(), parts[3].toString('latin1'));
      return Buffer.from('+OK\r\n');
    }
    if (this.opts.select && name === 'select') {
      c.db = Number(parts[1].toString());
      return Buffer.from('+OK\r\n');
    }
    const buf = Buffer.concat(parts);
    c.buf = buf;
    c.argStart = new Int32Array(parts.length);
    c.argEnd = new Int32Array(parts.length);
    let p = 0;
    parts.forEach((x, i) => {
      c.argStart[i] = p;
      p += x.length;
      c.argEnd[i] = p;
    });
    c.argc = parts.length;
    c.now = this.clock ?? Date.now();
    if (this.opts.resetBlocked) c.blocked = false;
    if (this.opts.resetReplacement) c.replacement = null;
    const h = this.handler(name, parts);
    if (!h) throw new Error(`no handler for ${name}`);
    this.w.reset();
    if (this.opts.checkArity) {
      const spec = lookupCommand(buf, c.argStart[0], c.argEnd[0]);
      if (spec && (spec.arity > 0 ? parts.length !== spec.arity : parts.length < -spec.arity)) {
        this.w.error(`ERR wrong number of arguments for '${name}' command`);
        return Buffer.from(this.w.buf.subarray(0, this.w.len));
      }
    }
    h(c);
    return Buffer.from(this.w.buf.subarray(0, this.w.len));
  }
}

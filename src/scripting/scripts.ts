/**
 * EVAL / EVALSHA / EVAL_RO / EVALSHA_RO, SCRIPT, FUNCTION, FCALL / FCALL_RO: Redis 7.0's
 * eval.c, script.c and functions.c over this thread's Lua VM (src/scripting/lua-engine.ts).
 *
 * A script runs on the thread that holds its keys. redis.call lays the command's argv
 * in a second ExecContext over the same store and runs it through an Executor, so the
 * command sees exactly what a client's command would; its reply bytes become Lua values.
 * Effects replication: the outer command propagates, in place of itself, the effects of
 * the write commands the script ran (its `replacement` list), as Redis 7.0 always does.
 */
import { isSha, sha1hex } from './sha';
import {
  ERR_NOT_INTEGER, ExecContext, PropagatedArgv, defineCommand, handlers,
} from '../commands/context';
import {
  CMD_DENYOOM, CMD_MAY_REPLICATE, CMD_NOSCRIPT, CMD_READONLY, CMD_WRITE, CommandSpec, lookupCommand, lookupSubcommand,
} from '../commands/table';
import { ReplyWriter } from '../protocol/resp-writer';
import { stringMatch } from '../util/glob';
import { Executor } from '../shard/executor';
import type { SnapshotOut } from '../persistence/snapshot';
import { ERR_OOM } from '../store/evict';
import {
  CALL_ERROR, CALL_REPLY, LL_DEBUG, LL_NOTICE, LL_VERBOSE, LL_WARNING, LuaEngine, LuaHost, RunError,
  loadLua, luaLoaded,
} from './lua-engine';

// ---------------------------------------------------------------- flags

/** Script flags (shebang flags=, FUNCTION flags), Redis's SCRIPT_FLAG_*. */
export const SCRIPT_FLAG_NO_WRITES = 1 << 0;
export const SCRIPT_FLAG_ALLOW_OOM = 1 << 1;
export const SCRIPT_FLAG_ALLOW_STALE = 1 << 2;
export const SCRIPT_FLAG_NO_CLUSTER = 1 << 3;
export const SCRIPT_FLAG_EVAL_COMPAT_MODE = 1 << 4;
export const SCRIPT_FLAG_ALLOW_CROSS_SLOT = 1 << 5;

const FLAG_NAMES: [string, number][] = [
  ['no-writes', SCRIPT_FLAG_NO_WRITES],
  ['allow-oom', SCRIPT_FLAG_ALLOW_OOM],
  ['allow-stale', SCRIPT_FLAG_ALLOW_STALE],
  ['no-cluster', SCRIPT_FLAG_NO_CLUSTER],
  ['allow-cross-slot-keys', SCRIPT_FLAG_ALLOW_CROSS_SLOT],
];

interface Script {
  sha: string;
  body: Buffer;
  ref: number;
  flags: number;
}

interface LuaFunction {
  name: string;
  ref: number;
  flags: number;
  flagNames: string[];
  description: string | null;
  library: Library;
}

interface Library {
  name: string;
  code: Buffer;
  functions: Map<string, LuaFunction>;
}

// ---------------------------------------------------------------- the per-thread runtime

/** sdssplitargs() for a shebang line (quotes are rare here; plain whitespace split otherwise). */
function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  const re = /\s*("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/y;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < line.length) {
    if (/^\s*$/.test(line.slice(pos))) break;
    re.lastIndex = pos;
    m = re.exec(line);
    if (!m) return null;
    out.push(m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3] !== undefined ? m[3] : m[4]);
    pos = re.lastIndex;
  }
  return out;
}

/** eval.c evalExtractShebangFlags: flags, or an error text; `shebangLen` 0 without one. */
function parseShebang(body: Buffer): { flags: number; shebangLen: number } | string {
  let flags = SCRIPT_FLAG_EVAL_COMPAT_MODE;
  if (body.length < 2 || body[0] !== 0x23 || body[1] !== 0x21) return { flags, shebangLen: 0 };
  const end = body.indexOf(10);
  if (end < 0) return 'Invalid script shebang';
  const parts = splitArgs(body.toString('latin1', 0, end));
  if (!parts || parts.length === 0) return 'Invalid engine in script shebang';
  if (parts[0] !== '#!lua') return `Unexpected engine in script shebang: ${parts[0]}`;
  flags &= ~SCRIPT_FLAG_EVAL_COMPAT_MODE;
  for (let j = 1; j < parts.length; j++) {
    if (!parts[j].startsWith('flags=')) return `Unknown lua shebang option: ${parts[j]}`;
    const list = parts[j].slice(6);
    if (list.length === 0) continue;
    for (const f of list.split(',')) {
      const def = FLAG_NAMES.find(([n]) => n === f);
      if (!def) return `Unexpected flag in script shebang: ${f}`;
      flags |= def[1];
    }
  }
  return { flags, shebangLen: end };
}

/** The scripting state of one thread: its VM, script cache, function libraries. */
export class ScriptRuntime implements LuaHost {
  readonly engine: LuaEngine;
  readonly scripts = new Map<string, Script>();
  readonly libraries = new Map<string, Library>();
  readonly functions = new Map<string, LuaFunction>();

  // LuaHost
  replyBuf: Buffer = Buffer.alloc(0);
  replyLen = 0;
  callError = '';
  loadingLibrary = false;

  /** The command that runs the script, and the context redis.call uses. */
  private outer: ExecContext | null = null;
  private inner: ExecContext | null = null;
  private readonly innerW = new ReplyWriter(16 * 1024);
  private exec: Executor | null = null;
  private readOnly = false;
  /** PUBLISH / SPUBLISH from a script: done by the io thread, which owns the subscribers. */
  publish: ((shard: boolean, buf: Buffer, cs: number, ce: number, ms: number, me: number) => number) | null = null;
  /** Bumped whenever the function libraries change (the io thread keeps their dump for snapshots). */
  functionsVersion = 0;
  /** The database redis.call runs in (SELECT inside the script changes it). */
  private db = 0;
  /** redis.set_repl: PROPAGATE_AOF | PROPAGATE_REPL. */
  private repl = 3;
  private effects: PropagatedArgv[] | null = null;
  private pendingLib: Library | null = null;
  /** Every callback registered during a FUNCTION LOAD, kept or not. */
  private loadRefs: number[] = [];
  /** Snapshot writer for redis.call's writes (copy-before-write while a snapshot runs). */
  snapOut: SnapshotOut | null = null;
  /**
   * Told of every command a script ran that changed data (the io thread touches WATCHed
   * keys, wakes blocked clients and invalidates tracked keys from these).
   */
  onWrite: ((db: number, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number) => void) | null = null;
  /**
   * Told of the read-only commands a script runs, while its caller tracks keys (CLIENT TRACKING):
   * Redis then remembers the caller's own keys (call() with server.script_caller).
   */
  onRead: ((db: number, spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number) => void) | null = null;

  /**
   * Memory was over maxmemory, with nothing to evict, when the script command started (Redis's
   * server.pre_command_oom_state): set by the thread running it before each script command.
   */
  oomAtStart = false;
  /** Flags of the script running now (SCRIPT_FLAG_*). */
  private runFlags = 0;

  /**
   * On a shard's VM: refuses a command whose keys belong to another shard (an error text, or
   * null). The io thread sends only scripts that provably name their declared keys; this is
   * the net for what that analysis cannot see.
   */
  keyCheck: ((spec: CommandSpec, buf: Buffer, as: Int32Array, ae: Int32Array, argc: number) => string | null) | null = null;

  constructor(stateSab?: SharedArrayBuffer) {
    this.engine = new LuaEngine(stateSab);
    this.engine.host = this;
  }

  // ---- LuaHost: redis.call ------------------------------------------------------------

  call(buf: Buffer, as: Int32Array, ae: Int32Array, argc: number): number {
    let spec: CommandSpec | undefined = lookupCommand(buf, as[0], ae[0]);
    if (spec !== undefined && spec.subcommands !== null && argc >= 2) spec = lookupSubcommand(spec, buf, as[1], ae[1]);
    if (spec === undefined) {
      this.callError = 'Unknown Redis command called from script';
      return CALL_ERROR;
    }
    if ((spec.arity > 0 && argc !== spec.arity) || argc < -spec.arity) {
      this.callError = 'Wrong number of args calling Redis command from script';
      return CALL_ERROR;
    }
    if (spec.flags & CMD_NOSCRIPT) {
      this.callError = 'This Redis command is not allowed from script';
      return CALL_ERROR;
    }
    if (this.readOnly && (spec.flags & (CMD_WRITE | CMD_MAY_REPLICATE))) {
      this.callError = 'Write commands are not allowed from read-only scripts.';
      return CALL_ERROR;
    }
    if (this.oomAtStart && (spec.flags & CMD_DENYOOM) !== 0 && (this.runFlags & SCRIPT_FLAG_ALLOW_OOM) === 0 && !this.engine.wrote()) {
      // scriptVerifyOOM: past maxmemory when the script started, its first write that may
      // grow memory is refused (once it wrote, it cannot stop half way).
      const w = this.innerW;
      w.reset();
      w.error(ERR_OOM);
      this.replyBuf = w.buf;
      this.replyLen = w.len;
      return CALL_REPLY;
    }
    if (this.keyCheck !== null) {
      const err = this.keyCheck(spec, buf, as, ae, argc);
      if (err !== null) {
        this.callError = err;
        return CALL_ERROR;
      }
    }
    const outer = this.outer!;
    let inner = this.inner;
    if (inner === null || inner.store !== outer.store) {
      inner = this.inner = new ExecContext(outer.store, this.innerW);
      this.exec = new Executor(inner);
    }
    this.exec!.snapOut = this.snapOut;
    if ((spec.flags & CMD_WRITE) && !this.engine.markWrite()) {
      this.callError = 'Script killed by user with SCRIPT KILL...';
      return CALL_ERROR;
    }
    const w = this.innerW;
    w.reset();
    w.resp = this.engine.resp;
    inner.buf = buf;
    inner.argStart = as;
    inner.argEnd = ae;
    inner.argc = argc;
    inner.db = this.db;
    inner.now = outer.now;
    inner.propagating = outer.propagating;
    inner.notifyFlags = outer.notifyFlags;
    inner.notifySink = outer.notifySink;
    inner.replacement = null;
    inner.retry = false;
    const dirty = inner.dirty;
    if (!this.exec!.run(spec.id)) {
      if (!this.localCommand(spec.parent ? spec.parent.name : spec.name, inner)) {
        this.callError = 'Unknown Redis command called from script';
        return CALL_ERROR;
      }
    }
    if (inner.blocked) {
      // A blocking command inside a script does not block: it answers as on timeout.
      inner.blocked = false;
      w.reset();
      w.nullArray();
    }
    if (this.onRead !== null && (spec.flags & CMD_READONLY) !== 0) this.onRead(inner.db, spec, buf, as, ae, argc);
    const changed = inner.dirty - dirty;
    if (changed > 0) {
      outer.dirty += changed;
      if (this.onWrite !== null) this.onWrite(inner.db, spec, buf, as, ae, argc);
      if (outer.propagating && (this.repl & 1) !== 0) {
        const effects: PropagatedArgv[] = this.effects ?? [];
        this.effects = effects;
        // The handler may have set a replacement (TS cannot see that through exec.run).
        const replacement = inner.replacement as PropagatedArgv[] | null;
        if (replacement !== null) {
          for (const argv of replacement) effects.push(argv);
        } else {
          const argv: PropagatedArgv = [];
          for (let i = 0; i < argc; i++) argv.push(Buffer.from(buf.subarray(as[i], ae[i])));
          effects.push(argv);
        }
      }
    }
    this.replyBuf = w.buf;
    this.replyLen = w.len;
    return CALL_REPLY;
  }

  log(level: number, msg: string): void {
    // The shard's logger when present (pino is thread-safe per destination).
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { log } = require('../server/logger') as typeof import('../server/logger');
      if (level === LL_DEBUG) log.debug(msg);
      else if (level === LL_VERBOSE) log.verbose(msg);
      else if (level === LL_NOTICE) log.info(msg);
      else if (level === LL_WARNING) log.warn(msg);
    } catch {
      /* no logger on this thread */
    }
  }

  setRepl(flags: number): void {
    this.repl = flags;
  }

  registerFunction(name: string, fnRef: number, flagNames: string[] | null, description: string | null): string | null {
    const lib = this.pendingLib;
    if (lib === null) return 'redis.register_function can only be called on FUNCTION LOAD command';
    // Unreferenced after the load (this runs inside a Lua call: the stack is not ours).
    this.loadRefs.push(fnRef);
    if (!/^[A-Za-z0-9_]+$/.test(name)) {
      // Redis 7.0.15 reports a bad function name with the library-name message.
      return 'Library names can only contain letters, numbers, or underscores(_) and must be at least one character long';
    }
    if (lib.functions.has(name)) return 'Function already exists in the library';
    let flags = 0;
    const names: string[] = [];
    for (const f of flagNames ?? []) {
      const def = FLAG_NAMES.find(([n]) => n === f);
      if (!def) return 'unknown flag given';
      flags |= def[1];
      names.push(f);
    }
    lib.functions.set(name, { name, ref: fnRef, flags, flagNames: names, description, library: lib });
    return null;
  }

  // ---- running ---------------------------------------------------------------------------

  /** Compile (or find) the script for body; returns it or an error text (no code prefix). */
  createScript(body: Buffer, sha?: string): Script | string {
    sha ??= sha1hex(body, 0, body.length);
    const cached = this.scripts.get(sha);
    if (cached) return cached;
    const sb = parseShebang(body);
    if (typeof sb === 'string') return sb;
    // The shebang line is dropped but its line feed kept, so line numbers stay right.
    const code = sb.shebangLen ? body.subarray(sb.shebangLen) : body;
    const ref = this.engine.compile(code);
    if (typeof ref === 'string') return `Error compiling script (new function): ${ref}`;
    const script: Script = { sha, body: Buffer.from(body), ref, flags: sb.flags };
    this.scripts.set(sha, script);
    return script;
  }

  /** scriptPrepareForRun's checks; null if the script may run. */
  private prepare(flags: number, ro: boolean): string | null {
    const declared = !(flags & SCRIPT_FLAG_EVAL_COMPAT_MODE);
    if (declared && !(flags & SCRIPT_FLAG_NO_WRITES) && ro) {
      return 'ERR Can not execute a script with write flag using *_ro command.';
    }
    // A script that declared flags and may write needs allow-oom past maxmemory (processCommand
    // refuses it as a deny-oom command: evalGetCommandFlags).
    if (declared && this.oomAtStart && !(flags & (SCRIPT_FLAG_NO_WRITES | SCRIPT_FLAG_ALLOW_OOM))) return ERR_OOM;
    this.readOnly = ro || (declared && (flags & SCRIPT_FLAG_NO_WRITES) !== 0);
    this.runFlags = flags;
    return null;
  }

  /**
   * Commands a script may call whose handlers live on the io thread in Sabre: the stateless
   * ones and SELECT are answered here, PUBLISH goes to the io thread. False if `name` is none.
   */
  private localCommand(name: string, c: ExecContext): boolean {
    const w = c.w;
    switch (name) {
      case 'ping':
        if (c.argc === 1) w.simple('PONG');
        else w.bulk(c.buf, c.argStart[1], c.argEnd[1]);
        return true;
      case 'echo':
        w.bulk(c.buf, c.argStart[1], c.argEnd[1]);
        return true;
      case 'time': {
        const us = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
        w.arrayHeader(2);
        w.bulkString(String(us / 1000000n));
        w.bulkString(String(us % 1000000n));
        return true;
      }
      case 'select':
        this.select(c);
        return true;
      case 'publish':
      case 'spublish':
        if (this.publish === null) return false;
        w.integer(this.publish(name === 'spublish', c.buf, c.argStart[1], c.argEnd[1], c.argStart[2], c.argEnd[2]));
        return true;
      default:
        return false;
    }
  }

  /** SELECT inside a script: later calls use that database; the caller's stays as it was. */
  private select(c: ExecContext): void {
    const s = c.argString(1);
    const id = /^-?\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(id)) c.w.error(ERR_NOT_INTEGER);
    else if (id < 0 || id >= c.store.dbCount) c.w.error('ERR DB index is out of range');
    else {
      this.db = id;
      c.w.ok();
    }
  }

  private begin(c: ExecContext): void {
    this.outer = c;
    this.db = c.db;
    this.repl = 3;
    this.effects = null;
  }

  private end(c: ExecContext): void {
    // Effects replication: the script's writes replace the script command itself.
    if (c.propagating) {
      c.preventPropagation();
      if (this.effects !== null) for (const argv of this.effects) c.propagate(argv);
    }
    this.effects = null;
    this.outer = null;
  }

  runEval(c: ExecContext, script: Script, ro: boolean): void {
    const err = this.prepare(script.flags, ro);
    if (err !== null) {
      c.w.error(err);
      return;
    }
    const nkeys = numKeysOf(c);
    this.begin(c);
    let e: RunError | null;
    try {
      e = this.engine.runScript(script.ref, script.sha, c.buf, c.argStart, c.argEnd, 3, nkeys, c.argc, c.w);
    } finally {
      this.end(c);
    }
    if (e !== null) c.w.error(scriptErrorText(e, script.sha));
  }

  runFcall(c: ExecContext, fn: LuaFunction, ro: boolean): void {
    const err = this.prepare(fn.flags, ro);
    if (err !== null) {
      c.w.error(err);
      return;
    }
    const nkeys = numKeysOf(c);
    this.begin(c);
    let e: RunError | null;
    try {
      e = this.engine.runFunction(fn.ref, fn.name, c.buf, c.argStart, c.argEnd, 3, nkeys, c.argc, c.w);
    } finally {
      this.end(c);
    }
    if (e !== null) c.w.error(scriptErrorText(e, fn.name));
  }

  // The last script EVALSHA found: a client repeating one allocates nothing to find it again.
  private lastSha: Script | null = null;
  private readonly lastShaBytes = Buffer.alloc(40);

  /** The cached script whose sha1 is the 40 bytes at `start` (any case). */
  scriptBySha(buf: Buffer, start: number): Script | undefined {
    if (this.lastSha !== null && isSha(buf, start, this.lastShaBytes)) return this.lastSha;
    const script = this.scripts.get(buf.toString('latin1', start, start + 40).toLowerCase());
    if (script !== undefined) {
      this.lastSha = script;
      this.lastShaBytes.write(script.sha, 'latin1');
    }
    return script;
  }

  flushScripts(): void {
    this.lastSha = null;
    for (const s of this.scripts.values()) this.engine.unref(s.ref);
    this.scripts.clear();
    this.engine.collect();
  }

  // ---- function libraries ------------------------------------------------------------------

  /** functionsCreateWithLibraryCtx: returns the library name or an error text (no code). */
  loadLibrary(code: Buffer, replace: boolean): string | { name: string } {
    const md = extractLibMetadata(code);
    if (typeof md === 'string') return md;
    if (!/^[A-Za-z0-9_]+$/.test(md.name)) {
      return 'Library names can only contain letters, numbers, or underscores(_) and must be at least one character long';
    }
    if (md.engine.toLowerCase() !== 'lua') return `Engine '${md.engine}' not found`;
    const old = this.libraries.get(md.name);
    if (old && !replace) return `Library '${md.name}' already exists`;
    const lib: Library = { name: md.name, code: Buffer.from(code), functions: new Map() };
    this.pendingLib = lib;
    this.loadingLibrary = true;
    this.loadRefs = [];
    let err: string | null;
    try {
      err = this.engine.loadLibrary(code.subarray(md.codeStart), '@user_function');
    } finally {
      this.pendingLib = null;
      this.loadingLibrary = false;
    }
    const kept = new Set<number>();
    for (const f of lib.functions.values()) kept.add(f.ref);
    for (const r of this.loadRefs) if (!kept.has(r)) this.engine.unref(r);
    this.loadRefs = [];
    if (err === null && lib.functions.size === 0) err = 'No functions registered';
    if (err === null) {
      for (const name of lib.functions.keys()) {
        const existing = this.functions.get(name);
        if (existing && existing.library !== old) {
          err = `Function ${name} already exists`;
          break;
        }
      }
    }
    if (err !== null) {
      for (const f of lib.functions.values()) this.engine.unref(f.ref);
      return err;
    }
    if (old) this.unlinkLibrary(old);
    this.functionsVersion++;
    this.libraries.set(lib.name, lib);
    for (const f of lib.functions.values()) this.functions.set(f.name, f);
    return { name: lib.name };
  }

  unlinkLibrary(lib: Library): void {
    this.functionsVersion++;
    for (const f of lib.functions.values()) {
      if (this.functions.get(f.name) === f) this.functions.delete(f.name);
      this.engine.unref(f.ref);
    }
    this.libraries.delete(lib.name);
  }

  flushFunctions(): void {
    for (const lib of [...this.libraries.values()]) this.unlinkLibrary(lib);
    this.engine.collect();
  }
}

/** functions.c functionExtractLibMetaData. */
function extractLibMetadata(code: Buffer): { engine: string; name: string; codeStart: number } | string {
  if (code.length < 2 || code[0] !== 0x23 || code[1] !== 0x21) return 'Missing library metadata';
  const end = code.indexOf(10);
  if (end < 0) return 'Invalid library metadata';
  const parts = splitArgs(code.toString('latin1', 0, end));
  if (!parts || parts.length === 0) return 'Invalid library metadata';
  const engine = parts[0].slice(2);
  let name: string | null = null;
  for (let i = 1; i < parts.length; i++) {
    if (parts[i].slice(0, 5).toLowerCase() === 'name=') {
      if (name !== null) return 'Invalid metadata value, name argument was given multiple times';
      name = parts[i].slice(5);
      continue;
    }
    return `Invalid metadata value given: ${parts[i]}`;
  }
  if (name === null) return 'Library name was not given';
  return { engine, name, codeStart: end };
}

/** The reply for a failed script (luaCallFunction's error path). */
function scriptErrorText(e: RunError, name: string): string {
  let msg = e.msg;
  if (e.line !== null && e.source !== null) msg += ` script: ${name}, on ${e.source}:${e.line}.`;
  return msg;
}

/** argv[2] as numkeys, already validated by checkNumKeys. */
function numKeysOf(c: ExecContext): number {
  return Number(c.argString(2));
}

/** evalGenericCommand's numkeys checks: null or the error to reply. */
function checkNumKeys(c: ExecContext): string | null {
  const s = c.argString(2);
  if (!/^-?(0|[1-9][0-9]{0,18})$/.test(s) || !Number.isSafeInteger(Number(s))) return ERR_NOT_INTEGER;
  const n = Number(s);
  if (n > c.argc - 3) return "ERR Number of keys can't be greater than number of args";
  if (n < 0) return "ERR Number of keys can't be negative";
  return null;
}

// ---------------------------------------------------------------- the thread's runtime

let runtime: ScriptRuntime | null = null;
let stateSab: SharedArrayBuffer | undefined;

/**
 * Prepare scripting on this thread (await before serving commands). `sab` is the
 * ScriptState buffer the io thread reads (SCRIPT_STATE_BYTES); one is made if omitted.
 */
export async function initScripting(sab?: SharedArrayBuffer): Promise<ScriptRuntime> {
  stateSab = sab;
  await loadLua();
  return getRuntime()!;
}

/** This thread's runtime, or null before initScripting() has completed. */
export function getRuntime(): ScriptRuntime | null {
  if (runtime === null && luaLoaded()) runtime = new ScriptRuntime(stateSab);
  return runtime;
}

function needRuntime(c: ExecContext): ScriptRuntime | null {
  const rt = getRuntime();
  if (rt === null) c.w.error('ERR Lua scripting engine is not initialized on this thread');
  return rt;
}

// ---------------------------------------------------------------- EVAL family

function evalCommand(c: ExecContext, ro: boolean): void {
  const rt = needRuntime(c);
  if (rt === null) return;
  const err = checkNumKeys(c);
  if (err !== null) {
    c.w.error(err);
    return;
  }
  const script = rt.createScript(c.buf.subarray(c.argStart[1], c.argEnd[1]));
  if (typeof script === 'string') {
    c.w.error('ERR ' + script);
    return;
  }
  rt.runEval(c, script, ro);
}

function evalShaCommand(c: ExecContext, ro: boolean): void {
  const rt = needRuntime(c);
  if (rt === null) return;
  if (c.argLen(1) !== 40) {
    c.w.error('NOSCRIPT No matching script. Please use EVAL.');
    return;
  }
  const err = checkNumKeys(c);
  if (err !== null) {
    c.w.error(err);
    return;
  }
  const script = rt.scriptBySha(c.buf, c.argStart[1]);
  if (script === undefined) {
    c.w.error('NOSCRIPT No matching script. Please use EVAL.');
    return;
  }
  rt.runEval(c, script, ro);
}

defineCommand('eval', (c) => evalCommand(c, false));
defineCommand('eval_ro', (c) => evalCommand(c, true));
defineCommand('evalsha', (c) => evalShaCommand(c, false));
defineCommand('evalsha_ro', (c) => evalShaCommand(c, true));

// ---------------------------------------------------------------- SCRIPT

const SCRIPT_HELP = [
  'SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'DEBUG (YES|SYNC|NO)',
  '    Set the debug mode for subsequent scripts executed.',
  'EXISTS <sha1> [<sha1> ...]',
  '    Return information about the existence of the scripts in the script cache.',
  'FLUSH [ASYNC|SYNC]',
  '    Flush the Lua scripts cache. Very dangerous on replicas.',
  '    When called without the optional mode argument, the behavior is determined by the',
  '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
  '    * ASYNC: Asynchronously flush the scripts cache.',
  '    * SYNC: Synchronously flush the scripts cache.',
  'KILL',
  '    Kill the currently executing Lua script.',
  'LOAD <script>',
  '    Load a script into the scripts cache without executing it.',
  'HELP',
  '    Prints this help.',
];

function replyHelp(w: ReplyWriter, lines: string[]): void {
  w.arrayHeader(lines.length);
  for (const l of lines) w.simple(l);
}

defineCommand('script', (c) => {
  const w = c.w;
  if (c.argIs(1, 'help')) {
    replyHelp(w, SCRIPT_HELP);
    return;
  }
  const rt = needRuntime(c);
  if (rt === null) return;
  if (c.argIs(1, 'load')) {
    const s = rt.createScript(c.buf.subarray(c.argStart[2], c.argEnd[2]));
    if (typeof s === 'string') w.error('ERR ' + s);
    else w.bulkString(s.sha);
  } else if (c.argIs(1, 'exists')) {
    w.arrayHeader(c.argc - 2);
    for (let i = 2; i < c.argc; i++) w.integer(rt.scripts.has(c.argString(i).toLowerCase()) ? 1 : 0);
  } else if (c.argIs(1, 'flush')) {
    if (c.argc === 2 || (c.argc === 3 && (c.argIs(2, 'sync') || c.argIs(2, 'async')))) {
      rt.flushScripts();
      w.ok();
    } else {
      w.error('ERR SCRIPT FLUSH only support SYNC|ASYNC option');
    }
  } else if (c.argIs(1, 'kill')) {
    // Reached only when no script runs on this thread; the io thread kills running ones.
    w.error('NOTBUSY No scripts in execution right now.');
  } else {
    w.error(`ERR unknown subcommand '${c.argString(1).slice(0, 128)}'. Try SCRIPT HELP.`);
  }
});

// ---------------------------------------------------------------- FUNCTION / FCALL

function fcallCommand(c: ExecContext, ro: boolean): void {
  const rt = needRuntime(c);
  if (rt === null) return;
  const fn = rt.functions.get(c.argString(1));
  if (fn === undefined) {
    c.w.error('ERR Function not found');
    return;
  }
  const err = checkNumKeys(c);
  if (err !== null) {
    c.w.error(err === ERR_NOT_INTEGER ? 'ERR Bad number of keys provided' : err);
    return;
  }
  rt.runFcall(c, fn, ro);
}

defineCommand('fcall', (c) => fcallCommand(c, false));
defineCommand('fcall_ro', (c) => fcallCommand(c, true));

const FUNCTION_HELP = [
  'FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'LOAD [REPLACE] <FUNCTION CODE>',
  '    Create a new library with the given library name and code.',
  'DELETE <LIBRARY NAME>',
  '    Delete the given library.',
  'LIST [LIBRARYNAME PATTERN] [WITHCODE]',
  '    Return general information on all the libraries:',
  '    * Library name',
  '    * The engine used to run the Library',
  '    * Library description',
  '    * Functions list',
  '    * Library code (if WITHCODE is given)',
  '    It also possible to get only function that matches a pattern using LIBRARYNAME argument.',
  'STATS',
  '    Return information about the current function running:',
  '    * Function name',
  '    * Command used to run the function',
  '    * Duration in MS that the function is running',
  '    If no function is running, return nil',
  '    In addition, returns a list of available engines.',
  'KILL',
  '    Kill the current running function.',
  'FLUSH [ASYNC|SYNC]',
  '    Delete all the libraries.',
  '    When called without the optional mode argument, the behavior is determined by the',
  '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
  '    * ASYNC: Asynchronously flush the libraries.',
  '    * SYNC: Synchronously flush the libraries.',
  'DUMP',
  '    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command',
  'RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]',
  '    Restore the libraries represented by the given payload, it is possible to give a restore policy to',
  '    control how to handle existing libraries (default APPEND):',
  '    * FLUSH: delete all existing libraries.',
  '    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.',
  '    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old',
  '      libraries with the new libraries (notice that even on this option there is a chance of failure',
  '      in case of functions name collision with another library).',
  'HELP',
  '    Prints this help.',
];

defineCommand('function', (c) => {
  const w = c.w;
  if (c.argIs(1, 'help')) {
    replyHelp(w, FUNCTION_HELP);
    return;
  }
  const rt = needRuntime(c);
  if (rt === null) return;
  if (c.argIs(1, 'load')) functionLoad(c, rt);
  else if (c.argIs(1, 'delete')) {
    const lib = rt.libraries.get(c.argString(2));
    if (!lib) {
      w.error('ERR Library not found');
      return;
    }
    rt.unlinkLibrary(lib);
    c.dirty++;
    w.ok();
  } else if (c.argIs(1, 'flush')) {
    if (c.argc === 2 || (c.argc === 3 && (c.argIs(2, 'sync') || c.argIs(2, 'async')))) {
      rt.flushFunctions();
      c.dirty++;
      w.ok();
    } else {
      w.error('ERR FUNCTION FLUSH only supports SYNC|ASYNC option');
    }
  } else if (c.argIs(1, 'list')) functionList(c, rt);
  else if (c.argIs(1, 'stats')) {
    // A running function is answered by the io thread (this thread is busy running it).
    let fns = 0;
    for (const lib of rt.libraries.values()) fns += lib.functions.size;
    w.mapHeader(2);
    w.bulkString('running_script');
    w.nullBulk();
    w.bulkString('engines');
    w.mapHeader(1);
    w.bulkString('LUA');
    w.mapHeader(2);
    w.bulkString('libraries_count');
    w.integer(rt.libraries.size);
    w.bulkString('functions_count');
    w.integer(fns);
  } else if (c.argIs(1, 'kill')) {
    w.error('NOTBUSY No scripts in execution right now.');
  } else if (c.argIs(1, 'dump')) {
    const payload = dumpFunctions(rt);
    w.bulk(payload, 0, payload.length);
  } else if (c.argIs(1, 'restore')) {
    functionRestore(c, rt);
  } else {
    w.error(`ERR unknown subcommand '${c.argString(1).slice(0, 128)}'. Try FUNCTION HELP.`);
  }
});

function functionLoad(c: ExecContext, rt: ScriptRuntime): void {
  let replace = false;
  let pos = 2;
  while (pos < c.argc - 1) {
    if (c.argIs(pos, 'replace')) {
      replace = true;
      pos++;
      continue;
    }
    c.w.error(`ERR Unknown option given: ${c.argString(pos)}`);
    return;
  }
  if (pos >= c.argc) {
    c.w.error('ERR Function code is missing');
    return;
  }
  const r = rt.loadLibrary(c.buf.subarray(c.argStart[pos], c.argEnd[pos]), replace);
  if (typeof r === 'string') {
    c.w.error('ERR ' + r);
    return;
  }
  c.dirty++;
  c.w.bulkString(r.name);
}

/** functions.c functionListCommand. */
function functionList(c: ExecContext, rt: ScriptRuntime): void {
  const w = c.w;
  let withCode = false;
  let pattern: string | null = null;
  for (let i = 2; i < c.argc; i++) {
    if (c.argIs(i, 'withcode')) {
      withCode = true;
      continue;
    }
    if (c.argIs(i, 'libraryname')) {
      if (pattern !== null) {
        w.error('ERR library name argument was given multiple times');
        return;
      }
      if (i + 1 >= c.argc) {
        w.error('ERR library name argument was not given');
        return;
      }
      pattern = c.argString(++i);
      continue;
    }
    w.error(`ERR Unknown argument ${c.argString(i)}`);
    return;
  }
  const pat = pattern === null ? null : Buffer.from(pattern, 'latin1');
  const libs = [...rt.libraries.values()].filter((l) => {
    if (pat === null) return true;
    const name = Buffer.from(l.name, 'latin1');
    return stringMatch(pat, 0, pat.length, name, 0, name.length, false);
  });
  w.arrayHeader(libs.length);
  for (const lib of libs) {
    w.mapHeader(withCode ? 4 : 3);
    w.bulkString('library_name');
    w.bulkString(lib.name);
    w.bulkString('engine');
    w.bulkString('LUA');
    w.bulkString('functions');
    w.arrayHeader(lib.functions.size);
    for (const f of lib.functions.values()) {
      w.mapHeader(3);
      w.bulkString('name');
      w.bulkString(f.name);
      w.bulkString('description');
      if (f.description === null) w.nullBulk();
      else w.bulkString(f.description);
      w.bulkString('flags');
      w.setHeader(f.flagNames.length);
      for (const fl of f.flagNames) w.simple(fl);
    }
    if (withCode) {
      w.bulkString('library_code');
      w.bulk(lib.code, 0, lib.code.length);
    }
  }
}

// ---------------------------------------------------------------- FUNCTION DUMP / RESTORE

/*
 * The payload is Redis's: per library RDB_OPCODE_FUNCTION2 (245) and the code as an RDB
 * string, then the RDB version (10) as 2 bytes LE and a CRC64 (Jones) of everything
 * before it, LE. Sabre writes strings uncompressed (Redis reads those); it reads Redis's
 * LZF-compressed strings too, so payloads move both ways.
 */
const RDB_OPCODE_FUNCTION2 = 245;
const RDB_OPCODE_FUNCTION_PRE_GA = 246;
const RDB_VERSION = 10;

let crcTable: BigUint64Array | null = null;
function crc64(buf: Uint8Array, end: number): bigint {
  if (crcTable === null) {
    // Jones polynomial, reflected (Redis's crc64.c).
    crcTable = new BigUint64Array(256);
    const poly = 0x95ac9329ac4bc9b5n;
    for (let i = 0; i < 256; i++) {
      let crc = BigInt(i);
      for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
      crcTable[i] = crc;
    }
  }
  let crc = 0n;
  for (let i = 0; i < end; i++) crc = crcTable[Number((crc ^ BigInt(buf[i])) & 0xffn)] ^ (crc >> 8n);
  return crc;
}

function rdbLength(n: number): Buffer {
  if (n < 64) return Buffer.from([n]);
  if (n < 16384) return Buffer.from([0x40 | (n >> 8), n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0x80;
  b.writeUInt32BE(n, 1);
  return b;
}

/** What the io thread learns of the function libraries when they change (MB_FUNCS). */
export interface LibrariesMessage {
  /** FUNCTION DUMP of them all, for snapshots; null without libraries. */
  dump: Uint8Array | null;
  libs: { code: Uint8Array; functions: string[] }[];
}

export function librariesMessage(rt: ScriptRuntime): LibrariesMessage {
  return {
    dump: rt.libraries.size > 0 ? dumpFunctions(rt) : null,
    libs: [...rt.libraries.values()].map((l) => ({ code: l.code, functions: [...l.functions.keys()] })),
  };
}

/** A shard's VM takes the script thread's libraries (they loaded there already). */
export function replaceLibraries(rt: ScriptRuntime, codes: readonly Buffer[]): void {
  rt.flushFunctions();
  for (const code of codes) rt.loadLibrary(code, true);
}

export function dumpFunctions(rt: ScriptRuntime): Buffer {
  const parts: Buffer[] = [];
  for (const lib of rt.libraries.values()) {
    parts.push(Buffer.from([RDB_OPCODE_FUNCTION2]), rdbLength(lib.code.length), lib.code);
  }
  const body = Buffer.concat([...parts, Buffer.from([RDB_VERSION & 0xff, RDB_VERSION >> 8])]);
  const out = Buffer.alloc(body.length + 8);
  body.copy(out);
  out.writeBigUInt64LE(crc64(body, body.length), body.length);
  return out;
}

/** lzf_d.c */
function lzfDecompress(src: Buffer, outLen: number): Buffer | null {
  const out = Buffer.alloc(outLen);
  let ip = 0, op = 0;
  while (ip < src.length) {
    let ctrl = src[ip++];
    if (ctrl < 32) {
      ctrl++;
      if (op + ctrl > outLen || ip + ctrl > src.length) return null;
      src.copy(out, op, ip, ip + ctrl);
      op += ctrl;
      ip += ctrl;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) len += src[ip++];
      ref -= src[ip++];
      len += 2;
      if (op + len > outLen || ref < 0) return null;
      for (let i = 0; i < len; i++) out[op++] = out[ref++];
    }
  }
  return op === outLen ? out : null;
}

/** Reads RDB strings from a function payload; null on malformed input. */
function readRdbString(p: Buffer, pos: number): { s: Buffer; next: number } | null {
  const readLen = (at: number): { v: number; enc: boolean; next: number } | null => {
    if (at >= p.length) return null;
    const b = p[at], type = b >> 6;
    if (type === 0) return { v: b & 0x3f, enc: false, next: at + 1 };
    if (type === 1) return at + 1 < p.length ? { v: ((b & 0x3f) << 8) | p[at + 1], enc: false, next: at + 2 } : null;
    if (type === 3) return { v: b & 0x3f, enc: true, next: at + 1 };
    if (b === 0x80) return at + 4 < p.length ? { v: p.readUInt32BE(at + 1), enc: false, next: at + 5 } : null;
    if (b === 0x81) return at + 8 < p.length ? { v: Number(p.readBigUInt64BE(at + 1)), enc: false, next: at + 9 } : null;
    return null;
  };
  const l = readLen(pos);
  if (!l) return null;
  if (!l.enc) {
    if (l.next + l.v > p.length) return null;
    return { s: p.subarray(l.next, l.next + l.v), next: l.next + l.v };
  }
  if (l.v === 3) { // LZF
    const clen = readLen(l.next), len = clen && readLen(clen.next);
    if (!clen || !len || len.next + clen.v > p.length) return null;
    const s = lzfDecompress(p.subarray(len.next, len.next + clen.v), len.v);
    return s ? { s, next: len.next + clen.v } : null;
  }
  // Integer encodings (0: int8, 1: int16, 2: int32) as their decimal text.
  const size = l.v === 0 ? 1 : l.v === 1 ? 2 : l.v === 2 ? 4 : 0;
  if (!size || l.next + size > p.length) return null;
  const v = size === 1 ? p.readInt8(l.next) : size === 2 ? p.readInt16LE(l.next) : p.readInt32LE(l.next);
  return { s: Buffer.from(String(v)), next: l.next + size };
}

function functionRestore(c: ExecContext, rt: ScriptRuntime): void {
  const w = c.w;
  if (c.argc > 4) {
    w.error('ERR wrong number of arguments for \'function|restore\' command');
    return;
  }
  let policy = 'append';
  if (c.argc === 4) {
    if (c.argIs(3, 'flush')) policy = 'flush';
    else if (c.argIs(3, 'append')) policy = 'append';
    else if (c.argIs(3, 'replace')) policy = 'replace';
    else {
      w.error('ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.');
      return;
    }
  }
  const p = c.argBytes(2);
  // verifyDumpPayload: footer version and CRC.
  if (p.length < 10 || p.readUInt16LE(p.length - 10) > RDB_VERSION ||
      crc64(p, p.length - 8) !== p.readBigUInt64LE(p.length - 8)) {
    w.error('ERR DUMP payload version or checksum are wrong');
    return;
  }
  const codes: Buffer[] = [];
  let pos = 0;
  const end = p.length - 10;
  while (pos < end) {
    const op = p[pos++];
    if (op === RDB_OPCODE_FUNCTION_PRE_GA) {
      w.error('ERR Pre-GA function format not supported');
      return;
    }
    if (op !== RDB_OPCODE_FUNCTION2) {
      w.error('ERR given type is not a function');
      return;
    }
    const s = readRdbString(p, pos);
    if (!s) {
      w.error('ERR payload is not a valid function payload');
      return;
    }
    codes.push(Buffer.from(s.s));
    pos = s.next;
  }
  // Build into a scratch runtime state by loading into the live one with rollback.
  const saved = new Map(rt.libraries);
  const savedFns = new Map(rt.functions);
  const savedCode = [...saved.values()].map((l) => l.code);
  if (policy === 'flush') {
    rt.flushFunctions();
  }
  const loaded: string[] = [];
  let err: string | null = null;
  for (const code of codes) {
    const md = extractLibMetadata(code);
    const exists = typeof md !== 'string' && rt.libraries.has(md.name);
    if (exists && policy === 'append') {
      err = `Library ${typeof md !== 'string' ? md.name : ''} already exists`;
      break;
    }
    const r = rt.loadLibrary(code, policy === 'replace');
    if (typeof r === 'string') {
      err = r;
      break;
    }
    loaded.push(r.name);
  }
  if (err !== null) {
    // Roll back to the libraries that existed before (reloaded from their code).
    rt.flushFunctions();
    for (const code of savedCode) rt.loadLibrary(code, true);
    void savedFns;
    w.error('ERR ' + err);
    return;
  }
  c.dirty++;
  w.ok();
}

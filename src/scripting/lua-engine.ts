/**
 * One Lua VM per thread (Redis's `lctx.lua`): wasmoon's Lua 5.4 compiled to WebAssembly,
 * driven through the raw C API so that a call from a script into Redis costs a few
 * wasm calls and no JS allocation beyond the argument bytes.
 *
 *  - loadLua(): the only asynchronous step (compiles the wasm module, once per thread);
 *    everything after it is synchronous.
 *  - LuaEngine: the lua_State, the sandbox (src/scripting/lua-libs.ts: Redis 7.0's globals,
 *    the Lua 5.1 idioms, cjson/cmsgpack/bit/struct), the `redis` table's C functions,
 *    RESP -> Lua conversion for redis.call replies and Lua -> RESP for a script's result
 *    (script_lua.c's redisProtocolToLuaType / luaReplyToRedisReply), and the count hook
 *    that makes a running script killable from another thread (ScriptState below).
 *
 * Lua errors raised from JS (lua_error) unwind through the JS frames of our C functions,
 * so every C function here does its JS work inside try/catch and raises afterwards.
 */
import { createHash } from 'node:crypto';
import { formatDouble17g, type ReplyWriter } from '../protocol/resp-writer';
import { BOOT_LUA } from './lua-libs';

// ---------------------------------------------------------------- the wasm module

/** The raw exports of wasmoon's glue.wasm (C ABI: pointers are numbers, lua_Integer is bigint). */
interface RawLua {
  memory: { buffer: ArrayBuffer };
  malloc(n: number): number;
  free(p: number): void;
  luaL_newstate(): number;
  luaL_openlibs(L: number): void;
  luaL_loadbufferx(L: number, buf: number, len: number, name: number, mode: number): number;
  lua_gettop(L: number): number;
  lua_settop(L: number, idx: number): void;
  lua_pushvalue(L: number, idx: number): void;
  lua_rotate(L: number, idx: number, n: number): void;
  lua_checkstack(L: number, n: number): number;
  lua_type(L: number, idx: number): number;
  lua_isinteger(L: number, idx: number): number;
  lua_tonumberx(L: number, idx: number, isnum: number): number;
  lua_tointegerx(L: number, idx: number, isnum: number): bigint;
  lua_toboolean(L: number, idx: number): number;
  lua_tolstring(L: number, idx: number, len: number): number;
  lua_pushnil(L: number): void;
  lua_pushnumber(L: number, n: number): void;
  lua_pushinteger(L: number, n: bigint): void;
  lua_pushlstring(L: number, s: number, len: number): number;
  lua_pushstring(L: number, s: number): number;
  lua_pushcclosure(L: number, fn: number, n: number): void;
  lua_pushboolean(L: number, b: number): void;
  lua_rawget(L: number, idx: number): number;
  lua_rawgeti(L: number, idx: number, n: bigint): number;
  lua_rawset(L: number, idx: number): void;
  lua_rawseti(L: number, idx: number, n: bigint): void;
  lua_createtable(L: number, narr: number, nrec: number): void;
  lua_newuserdatauv(L: number, size: number, nuv: number): number;
  lua_setfield(L: number, idx: number, k: number): void;
  lua_getfield(L: number, idx: number, k: number): number;
  lua_settable(L: number, idx: number): void;
  lua_pcallk(L: number, nargs: number, nres: number, errfunc: number, ctx: number, k: number): number;
  lua_callk(L: number, nargs: number, nres: number, ctx: number, k: number): void;
  lua_error(L: number): number;
  lua_next(L: number, idx: number): number;
  lua_sethook(L: number, fn: number, mask: number, count: number): void;
}

let raw: RawLua | null = null;
let addFunction: ((fn: (...a: number[]) => number | void, sig: string) => number) | null = null;
let loading: Promise<void> | null = null;

/**
 * Load the Lua wasm module for this thread (once; later calls return the same promise).
 * wasmoon keeps the instance's exports private and wraps each in an assertion closure
 * that costs ~5x a direct call, so the exports are captured while it instantiates.
 */
export function loadLua(): Promise<void> {
  if (raw) return Promise.resolve();
  if (loading) return loading;
  loading = (async () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { LuaFactory } = require('wasmoon') as typeof import('wasmoon');
    // WebAssembly has no type declarations under this tsconfig's lib.
    const wa = (globalThis as unknown as { WebAssembly: { instantiate: (...a: unknown[]) => Promise<unknown> } }).WebAssembly;
    const original = wa.instantiate;
    let exportsSeen: Record<string, unknown> | null = null;
    wa.instantiate = async function (this: unknown, ...args: unknown[]) {
      const r = (await original.apply(this, args)) as { instance?: { exports: unknown }; exports?: unknown };
      const ex = (r.instance ?? r).exports as Record<string, unknown>;
      if (typeof ex.lua_pushlstring === 'function') exportsSeen = ex;
      return r;
    };
    let mod: { module: { addFunction: typeof addFunction } };
    try {
      mod = (await new LuaFactory().getLuaModule()) as unknown as typeof mod;
    } finally {
      wa.instantiate = original;
    }
    if (!exportsSeen) throw new Error('wasmoon: could not capture the Lua wasm exports');
    raw = exportsSeen as unknown as RawLua;
    addFunction = mod.module.addFunction!;
  })();
  return loading;
}

export function luaLoaded(): boolean {
  return raw !== null;
}

// ---------------------------------------------------------------- constants

const LUA_TNIL = 0;
const LUA_TBOOLEAN = 1;
const LUA_TNUMBER = 3;
const LUA_TSTRING = 4;
const LUA_TTABLE = 5;
const LUA_MASKLINE = 4;
const LUA_MASKCOUNT = 8;
/** Redis's hook period (luaMaskCountHook is installed with a count of 100000). */
const HOOK_COUNT = 100000;

export const LL_DEBUG = 0;
export const LL_VERBOSE = 1;
export const LL_NOTICE = 2;
export const LL_WARNING = 3;

// ---------------------------------------------------------------- shared script state

/**
 * What another thread (the io thread) needs to know about the script running on this
 * one, in a SharedArrayBuffer (layout in src/scripting/README.md):
 *
 *   Int32[0]   STATUS  bits: RUNNING 1, WROTE 2, KILL 4, IS_EVAL 8 (EVAL vs FCALL)
 *   Int32[1]   runs    incremented at every script start
 *   Float64[1] start   Date.now() at the script's start (bytes 8..16)
 *   Int32[4]   nameLen bytes of the name that follows
 *   bytes 32.. name    the script's sha1 (EVAL) or function name (FCALL), latin1, <= 96 bytes
 *
 * WROTE and KILL are set with compare-and-swap so that a kill never lands after a write:
 * the shard sets WROTE only if KILL is clear (else the script dies before writing), the
 * io thread sets KILL only if WROTE is clear (else it answers UNKILLABLE).
 */
export const SCRIPT_STATE_BYTES = 128;
/**
 * A shard's state buffer goes on after the ScriptState with the script command running now
 * (u32 argc, then argc × (u32 len, bytes); the command name only when it does not fit), for
 * FUNCTION STATS on the io thread while the shard is busy.
 */
export const SHARD_RUNNING_CMD_BYTES = 64 * 1024;
export const ST_STATUS = 0;
export const ST_RUNS = 1;
export const ST_START_F64 = 1;
export const ST_NAME_LEN = 4;
/** Libraries and functions loaded, kept by the script thread for FUNCTION STATS during a script. */
export const ST_LIB_COUNT = 5;
export const ST_FN_COUNT = 6;
export const ST_NAME_OFFSET = 32;
export const ST_NAME_MAX = SCRIPT_STATE_BYTES - ST_NAME_OFFSET;
export const STATUS_RUNNING = 1;
export const STATUS_WROTE = 2;
export const STATUS_KILL = 4;
export const STATUS_IS_EVAL = 8;

export const ERR_NOTBUSY = 'NOTBUSY No scripts in execution right now.';
export const ERR_UNKILLABLE = 'UNKILLABLE Sorry the script already executed write commands against the dataset. ' +
  'You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.';
export const ERR_BUSY_EVAL = 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.';
export const ERR_BUSY_FUNCTION = 'BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.';

/** A view of a thread's ScriptState, usable from any thread. */
export class ScriptStateView {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab, 0, SCRIPT_STATE_BYTES / 4);
    this.f64 = new Float64Array(sab, 0, SCRIPT_STATE_BYTES / 8);
    this.u8 = new Uint8Array(sab, 0, SCRIPT_STATE_BYTES);
  }

  running(): boolean {
    return (Atomics.load(this.i32, ST_STATUS) & STATUS_RUNNING) !== 0;
  }

  /** Milliseconds the current script has run (0 when none runs). */
  elapsed(now = Date.now()): number {
    return this.running() ? now - this.f64[ST_START_F64] : 0;
  }

  name(): string {
    const n = this.i32[ST_NAME_LEN];
    return Buffer.from(this.u8.buffer as ArrayBuffer, ST_NAME_OFFSET, n).toString('latin1');
  }

  /**
   * SCRIPT KILL (isEval) / FUNCTION KILL from another thread (script.c scriptKill):
   * null when the kill was requested (reply +OK), else the error to reply.
   */
  requestKill(isEval: boolean): string | null {
    for (;;) {
      const s = Atomics.load(this.i32, ST_STATUS);
      if ((s & STATUS_RUNNING) === 0) return ERR_NOTBUSY;
      if (s & STATUS_WROTE) return ERR_UNKILLABLE;
      if (isEval && (s & STATUS_IS_EVAL) === 0) return ERR_BUSY_FUNCTION;
      if (!isEval && (s & STATUS_IS_EVAL) !== 0) return ERR_BUSY_EVAL;
      if (Atomics.compareExchange(this.i32, ST_STATUS, s, s | STATUS_KILL) === s) return null;
    }
  }
}

// ---------------------------------------------------------------- host interface

/** Outcome of LuaHost.call. */
export const CALL_REPLY = 0; // the command ran; its reply is in replyBuf[0, replyLen)
export const CALL_ERROR = 1; // refused before running (callError holds Redis's text, no code)

/** What the engine needs from the command layer (src/scripting/scripts.ts). */
export interface LuaHost {
  /** Run argv (buf[argStart[i], argEnd[i]) for i < argc) as redis.call does. */
  call(buf: Buffer, argStart: Int32Array, argEnd: Int32Array, argc: number): number;
  /** After CALL_REPLY: the reply bytes, encoded in `resp` (the script's redis.setresp). */
  replyBuf: Buffer;
  replyLen: number;
  /** After CALL_ERROR: e.g. "Unknown Redis command called from script". */
  callError: string;
  /** redis.log at a Redis log level (LL_*). */
  log(level: number, msg: string): void;
  /** redis.set_repl (PROPAGATE_AOF 1 | PROPAGATE_REPL 2). */
  setRepl(flags: number): void;
  /** redis.register_function while a library loads; returns an error text or null. */
  registerFunction(name: string, fnRef: number, flags: string[] | null, description: string | null): string | null;
  /** True while a function library's code runs (FUNCTION LOAD). */
  loadingLibrary: boolean;
}

/** Result of a protected call made by the engine (runScript/runFunction). */
export interface RunError {
  /** The error table's err field (or "ERR <text>" for a non-table error). */
  msg: string;
  source: string | null;
  line: string | null;
}

// ---------------------------------------------------------------- the engine

/** Stack slots of the main thread that persist between scripts (see BOOT_LUA's return). */
const SLOT_ERRH = 1; // __redis__err__handler
const SLOT_GLOBALS = 2; // the real globals table (behind the read-only proxy _G)
const SLOT_FUNCS = 3; // the function-library API switch (function(mode))
const SLOT_NULL = 4; // cjson.null
const SLOT_HELPERS = 5; // table of internal helpers
const SLOT_STORE = 6; // compiled functions by integer id (helpers.ref / unref)
const BASE_TOP = 6;

export class LuaEngine {
  readonly L: number;
  readonly state: ScriptStateView;
  host: LuaHost | null = null;
  /** redis.setresp() of the running script: the RESP version redis.call replies come in. */
  resp: 2 | 3 = 2;

  private readonly lua: RawLua;
  private heapBuffer: ArrayBuffer;
  private heap: Buffer;
  private readonly lenPtr: number;
  private scratchPtr = 0;
  private scratchSize = 0;
  /** C strings in the wasm heap, by name, for lua_setfield / lua_pushstring. */
  private readonly cstr = new Map<string, number>();
  private readonly K_ERR: number;
  private readonly K_OK: number;
  private readonly K_MAP: number;
  private readonly K_SET: number;
  private readonly K_DOUBLE: number;
  private readonly K_BIG: number;
  private readonly K_VERBATIM: number;
  private readonly K_FORMAT: number;
  private readonly K_STRING: number;
  private readonly K_SOURCE: number;
  private readonly K_LINE: number;
  private readonly K_KEYS: number;
  private readonly K_ARGV: number;
  private readonly hookPtr: number;
  /** Arguments of the redis.call in progress, laid out for an ExecContext. */
  private argBuf = Buffer.allocUnsafe(4096);
  private argStart = new Int32Array(16);
  private argEnd = new Int32Array(16);
  private inCall = false;
  private killing = false;
  /** math.random's state (rand.c redisLrand48): per VM, carried from script to script as in Redis. */
  private rand48 = 0x1234abcd330en;

  /** Create a VM (loadLua() must have resolved on this thread). */
  constructor(stateSab?: SharedArrayBuffer) {
    if (!raw || !addFunction) throw new Error('loadLua() has not completed on this thread');
    this.lua = raw;
    this.state = new ScriptStateView(stateSab ?? new SharedArrayBuffer(SCRIPT_STATE_BYTES));
    this.heapBuffer = raw.memory.buffer;
    this.heap = Buffer.from(this.heapBuffer);
    this.lenPtr = raw.malloc(8);
    this.K_ERR = this.cs('err');
    this.K_OK = this.cs('ok');
    this.K_MAP = this.cs('map');
    this.K_SET = this.cs('set');
    this.K_DOUBLE = this.cs('double');
    this.K_BIG = this.cs('big_number');
    this.K_VERBATIM = this.cs('verbatim_string');
    this.K_FORMAT = this.cs('format');
    this.K_STRING = this.cs('string');
    this.K_SOURCE = this.cs('source');
    this.K_LINE = this.cs('line');
    this.K_KEYS = this.cs('KEYS');
    this.K_ARGV = this.cs('ARGV');

    const L = (this.L = raw.luaL_newstate());
    raw.luaL_openlibs(L);
    this.hookPtr = addFunction((Ls: number) => this.hook(Ls), 'vii');

    // BOOT_LUA is a chunk taking the table of C functions and returning the persistent slots.
    const st = this.loadChunk(BOOT_LUA, '=boot');
    if (st !== 0) throw new Error('Lua boot chunk: ' + this.toStr(L, -1));
    raw.lua_createtable(L, 0, 16);
    const UPVALUE1 = -1000000 - 1000 - 1; // lua_upvalueindex(1)
    const trampoline = addFunction((Ls: number) => {
      const lua = this.lua;
      lua.lua_pushvalue(Ls, UPVALUE1);
      lua.lua_rotate(Ls, 1, 1);
      lua.lua_callk(Ls, lua.lua_gettop(Ls) - 1, -1, 0, 0);
      return lua.lua_gettop(Ls);
    }, 'ii');
    const fns: Record<string, (Ls: number) => number> = {
      call: (Ls) => this.redisCommand(Ls, true),
      pcall: (Ls) => this.redisCommand(Ls, false),
      sha1hex: (Ls) => this.sha1hexFn(Ls),
      log: (Ls) => this.logFn(Ls),
      setresp: (Ls) => this.setrespFn(Ls),
      set_repl: (Ls) => this.setReplFn(Ls),
      random: (Ls) => this.randomFn(Ls),
      randomseed: (Ls) => this.randomseedFn(Ls),
      register_function: (Ls) => this.registerFunctionFn(Ls),
      // wrap(f): a C closure calling f, so a script's tail call into a library function
      // implemented in Lua keeps the script's frame (error positions, as Redis's C libraries).
      wrap: (Ls) => {
        this.lua.lua_settop(Ls, 1);
        this.lua.lua_pushcclosure(Ls, trampoline, 1);
        return 1;
      },
      newnull: (Ls) => {
        this.lua.lua_newuserdatauv(Ls, 0, 0);
        return 1;
      },
    };
    for (const [name, fn] of Object.entries(fns)) {
      raw.lua_pushcclosure(L, addFunction(fn, 'ii'), 0);
      raw.lua_setfield(L, -2, this.cs(name));
    }
    if (raw.lua_pcallk(L, 1, BASE_TOP, 0, 0, 0) !== 0) throw new Error('Lua boot: ' + this.toStr(L, -1));
    raw.lua_settop(L, BASE_TOP);
  }

  // ---------------------------------------------------------------- heap helpers

  /** The wasm heap as a Buffer (memory growth detaches the old one). */
  private mem(): Buffer {
    const b = this.lua.memory.buffer;
    if (b !== this.heapBuffer) {
      this.heapBuffer = b;
      this.heap = Buffer.from(b);
    }
    return this.heap;
  }

  /** A NUL-terminated copy of s in the wasm heap, kept for the VM's lifetime. */
  private cs(s: string): number {
    let p = this.cstr.get(s);
    if (p === undefined) {
      const bytes = Buffer.from(s + '\0', 'utf8');
      p = this.lua.malloc(bytes.length);
      this.mem().set(bytes, p);
      this.cstr.set(s, p);
    }
    return p;
  }

  private scratch(n: number): number {
    if (n > this.scratchSize) {
      if (this.scratchPtr) this.lua.free(this.scratchPtr);
      this.scratchSize = Math.max(n, this.scratchSize * 2, 4096);
      this.scratchPtr = this.lua.malloc(this.scratchSize);
      if (!this.scratchPtr) {
        this.scratchSize = 0;
        throw new Error('Lua VM out of memory');
      }
    }
    return this.scratchPtr;
  }

  /** Push src[start, end) as a Lua string. */
  pushBytes(L: number, src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    const p = this.scratch(n + 1);
    const heap = this.mem();
    if (n <= 32) {
      for (let i = 0; i < n; i++) heap[p + i] = src[start + i];
    } else {
      heap.set(src.subarray(start, end), p);
    }
    this.lua.lua_pushlstring(L, p, n);
  }

  pushString(L: number, s: string): void {
    const max = s.length * 3;
    const p = this.scratch(max + 1);
    const n = this.mem().write(s, p, max, 'utf8');
    this.lua.lua_pushlstring(L, p, n);
  }

  /** Push a number the way Redis's replies become Lua numbers (integers stay integers). */
  pushNumber(L: number, n: number): void {
    if (Number.isSafeInteger(n)) this.lua.lua_pushinteger(L, BigInt(n));
    else this.lua.lua_pushnumber(L, n);
  }

  /** The string at idx (strings and numbers; '' otherwise), decoded as UTF-8. */
  toStr(L: number, idx: number): string {
    const p = this.lua.lua_tolstring(L, idx, this.lenPtr);
    if (!p) return '';
    const heap = this.mem();
    return heap.toString('utf8', p, p + heap.readUInt32LE(this.lenPtr));
  }

  /** The bytes of the string at idx, copied. */
  toBytes(L: number, idx: number): Buffer {
    const p = this.lua.lua_tolstring(L, idx, this.lenPtr);
    if (!p) return Buffer.alloc(0);
    const heap = this.mem();
    return Buffer.from(heap.subarray(p, p + heap.readUInt32LE(this.lenPtr)));
  }

  private loadChunk(code: string | Buffer, chunkname: string): number {
    const bytes = typeof code === 'string' ? Buffer.from(code, 'utf8') : code;
    const p = this.scratch(bytes.length + 1);
    this.mem().set(bytes, p);
    return this.lua.luaL_loadbufferx(this.L, p, bytes.length, this.cs(chunkname), this.cs('t'));
  }

  // ---------------------------------------------------------------- compiling and running

  /**
   * Compile a script body as the function Redis names f_<sha> (chunk "@user_script").
   * Returns a registry reference, or the compiler's message as a string.
   */
  compile(body: Buffer, chunkname = '@user_script', env: 'eval' | 'function' = 'eval'): number | string {
    const L = this.L;
    const st = this.loadChunk(body, chunkname);
    if (st !== 0) {
      // Lua 5.1 quotes the end-of-stream token.
      const msg = this.toStr(L, -1).replace(/ near <eof>$/, " near '<eof>'");
      this.lua.lua_settop(L, BASE_TOP);
      return msg;
    }
    // helpers.setenv(fn, mode): its _ENV upvalue becomes the sandbox proxy.
    this.lua.lua_getfield(L, SLOT_HELPERS, this.cs(env === 'eval' ? 'seteval' : 'setfunc'));
    this.lua.lua_rotate(L, -2, 1);
    this.lua.lua_pcallk(L, 1, 1, 0, 0, 0);
    return this.ref(L);
  }

  /** Keep the value at the top of the main stack under an integer id (pops it). */
  private ref(L: number): number {
    const top = this.lua.lua_gettop(L) - 1;
    this.lua.lua_getfield(L, SLOT_HELPERS, this.cs('ref'));
    this.lua.lua_rotate(L, -2, 1);
    this.lua.lua_pcallk(L, 1, 1, 0, 0, 0);
    const r = Number(this.lua.lua_tointegerx(L, -1, 0));
    this.lua.lua_settop(L, top);
    return r;
  }

  /** Forget a compiled function (SCRIPT FLUSH, FUNCTION DELETE). */
  unref(ref: number): void {
    const L = this.L;
    const top = this.lua.lua_gettop(L);
    this.lua.lua_getfield(L, SLOT_HELPERS, this.cs('unref'));
    this.lua.lua_pushinteger(L, BigInt(ref));
    this.lua.lua_pcallk(L, 1, 0, 0, 0, 0);
    this.lua.lua_settop(L, top);
  }

  /** Drop every EVAL script's function (SCRIPT FLUSH) and collect garbage. */
  collect(): void {
    const L = this.L;
    this.lua.lua_getfield(L, SLOT_HELPERS, this.cs('gc'));
    this.lua.lua_pcallk(L, 0, 0, 0, 0, 0);
    this.lua.lua_settop(L, BASE_TOP);
  }

  private setArray(L: number, buf: Buffer, as: Int32Array, ae: Int32Array, from: number, count: number): void {
    this.lua.lua_createtable(L, count, 0);
    for (let i = 0; i < count; i++) {
      this.pushBytes(L, buf, as[from + i], ae[from + i]);
      this.lua.lua_rawseti(L, -2, BigInt(i + 1));
    }
  }

  /** Mark the shared state: a script named `name` starts. */
  private begin(name: string, isEval: boolean): void {
    const s = this.state;
    const bytes = Math.min(name.length, ST_NAME_MAX);
    for (let i = 0; i < bytes; i++) s.u8[ST_NAME_OFFSET + i] = name.charCodeAt(i) & 0xff;
    s.i32[ST_NAME_LEN] = bytes;
    s.f64[ST_START_F64] = Date.now();
    Atomics.add(s.i32, ST_RUNS, 1);
    Atomics.store(s.i32, ST_STATUS, STATUS_RUNNING | (isEval ? STATUS_IS_EVAL : 0));
    this.killing = false;
    this.resp = 2;
    this.lua.lua_sethook(this.L, this.hookPtr, LUA_MASKCOUNT, HOOK_COUNT);
  }

  private end(): void {
    this.lua.lua_sethook(this.L, 0, 0, 0);
    Atomics.store(this.state.i32, ST_STATUS, 0);
  }

  /**
   * A write command is about to run: record it, unless a kill got there first
   * (then the script must die without writing). False = killed.
   */
  /** Has the running script called a write command (Redis's SCRIPT_WRITE_DIRTY)? */
  wrote(): boolean {
    return (Atomics.load(this.state.i32, ST_STATUS) & STATUS_WROTE) !== 0;
  }

  markWrite(): boolean {
    const i32 = this.state.i32;
    for (;;) {
      const s = Atomics.load(i32, ST_STATUS);
      if (s & STATUS_KILL) return false;
      if (s & STATUS_WROTE) return true;
      if (Atomics.compareExchange(i32, ST_STATUS, s, s | STATUS_WROTE) === s) return true;
    }
  }

  /**
   * Run an EVAL script (fnRef from compile) with KEYS = argv[keysFrom, keysFrom+nkeys) and
   * ARGV = the rest up to argc; the result goes to w as a reply. Returns null on success,
   * else the error (nothing written to w).
   */
  runScript(fnRef: number, name: string, buf: Buffer, as: Int32Array, ae: Int32Array, keysFrom: number,
    nkeys: number, argc: number, w: ReplyWriter): RunError | null {
    const L = this.L, lua = this.lua;
    this.begin(name, true);
    try {
      this.setArray(L, buf, as, ae, keysFrom, nkeys);
      lua.lua_setfield(L, SLOT_GLOBALS, this.K_KEYS);
      this.setArray(L, buf, as, ae, keysFrom + nkeys, argc - keysFrom - nkeys);
      lua.lua_setfield(L, SLOT_GLOBALS, this.K_ARGV);
      lua.lua_rawgeti(L, SLOT_STORE, BigInt(fnRef));
      return this.finish(lua.lua_pcallk(L, 0, 1, SLOT_ERRH, 0, 0), w);
    } finally {
      this.end();
    }
  }

  /** Run a library function (FCALL): the callback gets (keys, args) tables. */
  runFunction(fnRef: number, name: string, buf: Buffer, as: Int32Array, ae: Int32Array, keysFrom: number,
    nkeys: number, argc: number, w: ReplyWriter): RunError | null {
    const L = this.L, lua = this.lua;
    this.begin(name, false);
    try {
      lua.lua_getfield(L, SLOT_HELPERS, this.cs('runtime'));
      lua.lua_pcallk(L, 0, 0, 0, 0, 0);
      lua.lua_rawgeti(L, SLOT_STORE, BigInt(fnRef));
      this.setArray(L, buf, as, ae, keysFrom, nkeys);
      this.setArray(L, buf, as, ae, keysFrom + nkeys, argc - keysFrom - nkeys);
      return this.finish(lua.lua_pcallk(L, 2, 1, SLOT_ERRH, 0, 0), w);
    } finally {
      this.end();
    }
  }

  /**
   * Run a function library's code (FUNCTION LOAD) with the load-time API
   * (redis.register_function). Returns null or Redis's error text.
   */
  loadLibrary(code: Buffer, chunkname: string): string | null {
    const L = this.L, lua = this.lua;
    const fn = this.compile(code, chunkname, 'function');
    if (typeof fn === 'string') return `Error compiling function: ${fn}`;
    this.begin('FUNCTION LOAD', false);
    try {
      lua.lua_getfield(L, SLOT_HELPERS, this.cs('loadapi'));
      lua.lua_pcallk(L, 0, 0, 0, 0, 0);
      lua.lua_rawgeti(L, SLOT_STORE, BigInt(fn));
      const st = lua.lua_pcallk(L, 0, 0, SLOT_ERRH, 0, 0);
      let err: string | null = null;
      if (st !== 0) err = `Error registering functions: ${this.errorInfo(L).msg}`;
      return err;
    } finally {
      lua.lua_getfield(L, SLOT_HELPERS, this.cs('runtime'));
      lua.lua_pcallk(L, 0, 0, 0, 0, 0);
      lua.lua_settop(L, BASE_TOP);
      this.unref(fn);
      this.end();
    }
  }

  private finish(status: number, w: ReplyWriter): RunError | null {
    const L = this.L;
    if (status !== 0) {
      const e = this.errorInfo(L);
      this.lua.lua_settop(L, BASE_TOP);
      return e;
    }
    this.replyFromLua(L, w);
    this.lua.lua_settop(L, BASE_TOP);
    return null;
  }

  /** luaExtractErrorInformation on the error object at the top of the stack. */
  private errorInfo(L: number): RunError {
    const lua = this.lua;
    const t = lua.lua_type(L, -1);
    if (t !== LUA_TTABLE) {
      const msg = t === LUA_TSTRING || t === LUA_TNUMBER ? this.toStr(L, -1) : 'execution failure';
      return { msg: 'ERR ' + msg, source: null, line: null };
    }
    const top = lua.lua_gettop(L);
    const field = (k: number): string | null => {
      lua.lua_pushstring(L, k);
      const ft = lua.lua_rawget(L, top);
      const v = ft === LUA_TSTRING || ft === LUA_TNUMBER ? this.toStr(L, -1) : null;
      lua.lua_settop(L, top);
      return v;
    };
    return { msg: field(this.K_ERR) ?? '', source: field(this.K_SOURCE), line: field(this.K_LINE) };
  }

  // ---------------------------------------------------------------- the count hook

  private hook(Ls: number): void {
    if (this.killing || (Atomics.load(this.state.i32, ST_STATUS) & STATUS_KILL) !== 0) {
      // Fire on every line from now on, so pcall cannot swallow the kill (luaMaskCountHook).
      if (!this.killing) this.host?.log(LL_WARNING, 'Lua script killed by user with SCRIPT KILL.');
      this.killing = true;
      this.lua.lua_sethook(Ls, this.hookPtr, LUA_MASKLINE, 0);
      this.pushError(Ls, 'ERR Script killed by user with SCRIPT KILL...');
      this.lua.lua_error(Ls);
    }
  }

  // ---------------------------------------------------------------- redis.call / redis.pcall

  /** luaPushErrorBuff: "-CODE msg" or "msg" (code ERR) -> {err="CODE msg"}. */
  private pushErrorBuff(L: number, text: string): void {
    let code = 'ERR', msg = text;
    if (text.charCodeAt(0) === 45 /* - */) {
      const sp = text.indexOf(' ');
      if (sp < 0) {
        msg = text.slice(1);
      } else {
        code = text.slice(1, sp);
        msg = text.slice(sp + 1);
      }
    }
    let s = 0, e = msg.length;
    while (s < e && (msg.charCodeAt(s) === 13 || msg.charCodeAt(s) === 10)) s++;
    while (e > s && (msg.charCodeAt(e - 1) === 13 || msg.charCodeAt(e - 1) === 10)) e--;
    this.pushError(L, code + ' ' + msg.slice(s, e));
  }

  /** Push {err = text}. */
  private pushError(L: number, text: string): void {
    this.lua.lua_createtable(L, 0, 1);
    this.pushString(L, text);
    this.lua.lua_setfield(L, -2, this.K_ERR);
  }

  /** Append bytes to argBuf at `at`, growing it. */
  private argRoom(at: number, n: number): void {
    if (at + n > this.argBuf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.argBuf.length * 2, at + n));
      this.argBuf.copy(grown, 0, 0, at);
      this.argBuf = grown;
    }
  }

  /**
   * luaRedisGenericCommand: the arguments become argv (numbers as %.17g, strings as their
   * bytes), the host runs the command, and its reply becomes Lua values. With raise
   * (redis.call) an error reply is raised as a Lua error; redis.pcall returns it.
   */
  private redisCommand(Ls: number, raise: boolean): number {
    const lua = this.lua;
    const argc = lua.lua_gettop(Ls);
    let error: string | null = null;
    let errorIsReply = false;
    if (argc === 0) {
      error = 'Please specify at least one argument for this redis lib call';
    } else if (this.inCall) {
      error = 'luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?';
      this.pushErrorBuff(Ls, error);
      return 1;
    } else if (this.host === null) {
      error = 'redis.call/pcall can only be called inside a script invocation';
    } else {
      if (this.argStart.length < argc) {
        this.argStart = new Int32Array(argc * 2);
        this.argEnd = new Int32Array(argc * 2);
      }
      let at = 0;
      let j = 0;
      for (; j < argc; j++) {
        const t = lua.lua_type(Ls, j + 1);
        this.argStart[j] = at;
        if (t === LUA_TNUMBER) {
          // Redis formats numbers with %.17g (lua_tolstring would lose precision).
          const s = formatDouble17g(lua.lua_tonumberx(Ls, j + 1, 0));
          this.argRoom(at, s.length);
          at += this.argBuf.write(s, at, 'latin1');
        } else if (t === LUA_TSTRING) {
          const p = lua.lua_tolstring(Ls, j + 1, this.lenPtr);
          const heap = this.mem();
          const n = heap.readUInt32LE(this.lenPtr);
          this.argRoom(at, n);
          if (n <= 32) {
            const dst = this.argBuf;
            for (let i = 0; i < n; i++) dst[at + i] = heap[p + i];
          } else {
            heap.copy(this.argBuf, at, p, p + n);
          }
          at += n;
        } else {
          break;
        }
        this.argEnd[j] = at;
      }
      lua.lua_settop(Ls, 0);
      if (j !== argc) {
        error = 'Lua redis lib command arguments must be strings or integers';
      } else {
        this.inCall = true;
        let outcome = CALL_ERROR;
        try {
          outcome = this.host.call(this.argBuf, this.argStart, this.argEnd, argc);
        } catch (e) {
          this.host.callError = `Sabre internal error: ${(e as Error).message}`;
        } finally {
          this.inCall = false;
        }
        if (outcome === CALL_ERROR) {
          error = this.host.callError;
        } else {
          const rb = this.host.replyBuf, len = this.host.replyLen;
          try {
            if (rb[0] === 45 /* - */) {
              errorIsReply = true;
              this.pushErrorBuff(Ls, rb.toString('utf8', 0, len - 2));
            } else {
              lua.lua_checkstack(Ls, 8);
              this.parseReply(Ls, rb, 0, len);
              return 1;
            }
          } catch (e) {
            error = `Sabre internal error: ${(e as Error).message}`;
          }
        }
      }
    }
    if (!errorIsReply) {
      lua.lua_settop(Ls, 0);
      this.pushErrorBuff(Ls, error!);
    }
    if (raise) return lua.lua_error(Ls);
    return 1;
  }

  // ---------------------------------------------------------------- RESP -> Lua

  /** Parse one RESP reply at buf[pos] and push it; returns the position after it. */
  private parseReply(L: number, buf: Buffer, pos: number, end: number): number {
    const lua = this.lua;
    const type = buf[pos];
    let eol = buf.indexOf(13, pos + 1);
    if (eol < 0 || eol >= end) eol = end;
    const next = eol + 2;
    switch (type) {
      case 43: // + status -> {ok=...}
        lua.lua_createtable(L, 0, 1);
        this.pushBytes(L, buf, pos + 1, eol);
        lua.lua_setfield(L, -2, this.K_OK);
        return next;
      case 45: // - error (inside an aggregate)
        this.pushErrorBuff(L, buf.toString('utf8', pos, eol));
        return next;
      case 58: // : integer
        lua.lua_pushinteger(L, lineInt(buf, pos + 1, eol));
        return next;
      case 36: { // $ bulk
        const n = Number(lineInt(buf, pos + 1, eol));
        if (n < 0) {
          lua.lua_pushboolean(L, 0);
          return next;
        }
        this.pushBytes(L, buf, next, next + n);
        return next + n + 2;
      }
      case 42: // * array
      case 62: { // > push
        const n = Number(lineInt(buf, pos + 1, eol));
        if (n < 0) {
          lua.lua_pushboolean(L, 0);
          return next;
        }
        lua.lua_checkstack(L, 4);
        lua.lua_createtable(L, n, 0);
        let p = next;
        for (let j = 0; j < n; j++) {
          const at = buf[p];
          p = this.parseReply(L, buf, p, end);
          if (at === 95 /* _ */) lua.lua_settop(L, -2); // nil: leave a hole
          else lua.lua_rawseti(L, -2, BigInt(j + 1));
        }
        return p;
      }
      case 37: { // % map -> {map={k=v}}
        const n = Number(lineInt(buf, pos + 1, eol));
        lua.lua_checkstack(L, 6);
        lua.lua_createtable(L, 0, 1);
        lua.lua_createtable(L, 0, n);
        let p = next;
        for (let j = 0; j < n; j++) {
          p = this.parseReply(L, buf, p, end);
          p = this.parseReply(L, buf, p, end);
          lua.lua_settable(L, -3);
        }
        lua.lua_setfield(L, -2, this.K_MAP);
        return p;
      }
      case 126: { // ~ set -> {set={k=true}}
        const n = Number(lineInt(buf, pos + 1, eol));
        lua.lua_checkstack(L, 6);
        lua.lua_createtable(L, 0, 1);
        lua.lua_createtable(L, 0, n);
        let p = next;
        for (let j = 0; j < n; j++) {
          p = this.parseReply(L, buf, p, end);
          lua.lua_pushboolean(L, 1);
          lua.lua_settable(L, -3);
        }
        lua.lua_setfield(L, -2, this.K_SET);
        return p;
      }
      case 95: // _ null
        lua.lua_pushnil(L);
        return next;
      case 35: // # bool
        lua.lua_pushboolean(L, buf[pos + 1] === 116 ? 1 : 0);
        return next;
      case 44: { // , double -> {double=n}
        const s = buf.toString('latin1', pos + 1, eol);
        lua.lua_createtable(L, 0, 1);
        lua.lua_pushnumber(L, s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));
        lua.lua_setfield(L, -2, this.K_DOUBLE);
        return next;
      }
      case 40: // ( big number -> {big_number=s}
        lua.lua_createtable(L, 0, 1);
        this.pushBytes(L, buf, pos + 1, eol);
        lua.lua_setfield(L, -2, this.K_BIG);
        return next;
      case 61: { // = verbatim -> {verbatim_string={format=, string=}}
        const n = Number(lineInt(buf, pos + 1, eol));
        lua.lua_createtable(L, 0, 1);
        lua.lua_createtable(L, 0, 2);
        this.pushBytes(L, buf, next + 4, next + n);
        lua.lua_setfield(L, -2, this.K_STRING);
        this.pushBytes(L, buf, next, next + 3);
        lua.lua_setfield(L, -2, this.K_FORMAT);
        lua.lua_setfield(L, -2, this.K_VERBATIM);
        return next + n + 2;
      }
      default:
        lua.lua_pushnil(L);
        return end;
    }
  }

  // ---------------------------------------------------------------- Lua -> RESP

  /** luaReplyToRedisReply: convert and pop the value at the top of L's stack. */
  replyFromLua(L: number, w: ReplyWriter): void {
    const lua = this.lua;
    if (!lua.lua_checkstack(L, 4)) {
      w.error('ERR reached lua stack limit');
      lua.lua_settop(L, -2);
      return;
    }
    const t = lua.lua_type(L, -1);
    switch (t) {
      case LUA_TSTRING: {
        const p = lua.lua_tolstring(L, -1, this.lenPtr);
        const heap = this.mem();
        w.bulk(heap, p, p + heap.readUInt32LE(this.lenPtr));
        break;
      }
      case LUA_TBOOLEAN:
        if (this.resp === 2) {
          if (lua.lua_toboolean(L, -1)) w.integer(1);
          else w.nullBulk();
        } else {
          w.bool(lua.lua_toboolean(L, -1) !== 0);
        }
        break;
      case LUA_TNUMBER:
        if (lua.lua_isinteger(L, -1)) {
          const v = lua.lua_tointegerx(L, -1, 0);
          if (v >= -9007199254740991n && v <= 9007199254740991n) w.integer(Number(v));
          else w.bigInteger(v);
        } else {
          w.bigInteger(doubleToLongLong(lua.lua_tonumberx(L, -1, 0)));
        }
        break;
      case LUA_TTABLE:
        this.tableReply(L, w);
        return; // tableReply pops
      default:
        w.nullBulk();
    }
    lua.lua_settop(L, -2);
  }

  /** Entries of the table on top of the stack (a RESP3 map or set header needs the count first). */
  private tableEntries(L: number): number {
    const lua = this.lua;
    let n = 0;
    lua.lua_pushnil(L);
    while (lua.lua_next(L, -2)) {
      lua.lua_settop(L, -2);
      n++;
    }
    return n;
  }

  private rawField(L: number, key: number): number {
    this.lua.lua_pushstring(L, key);
    return this.lua.lua_rawget(L, -2);
  }

  private tableReply(L: number, w: ReplyWriter): void {
    const lua = this.lua;
    let t = this.rawField(L, this.K_ERR);
    if (t === LUA_TSTRING) {
      const msg = this.toStr(L, -1);
      lua.lua_settop(L, -3);
      w.error(msg);
      return;
    }
    lua.lua_settop(L, -2);
    t = this.rawField(L, this.K_OK);
    if (t === LUA_TSTRING) {
      const s = this.toStr(L, -1);
      lua.lua_settop(L, -3);
      w.simple(s.replace(/[\r\n]/g, ' '));
      return;
    }
    lua.lua_settop(L, -2);
    t = this.rawField(L, this.K_DOUBLE);
    if (t === LUA_TNUMBER) {
      const d = lua.lua_tonumberx(L, -1, 0);
      lua.lua_settop(L, -3);
      w.double(d);
      return;
    }
    lua.lua_settop(L, -2);
    t = this.rawField(L, this.K_BIG);
    if (t === LUA_TSTRING) {
      const s = this.toStr(L, -1).replace(/[\r\n]/g, ' ');
      lua.lua_settop(L, -3);
      if (w.resp === 3) w.rawString('(' + s + '\r\n');
      else w.bulkString(s);
      return;
    }
    lua.lua_settop(L, -2);
    t = this.rawField(L, this.K_VERBATIM);
    if (t === LUA_TTABLE) {
      const ft = this.rawField(L, this.K_FORMAT);
      if (ft === LUA_TSTRING) {
        const format = this.toStr(L, -1);
        lua.lua_settop(L, -2);
        const st = this.rawField(L, this.K_STRING);
        if (st === LUA_TSTRING) {
          const s = this.toStr(L, -1);
          lua.lua_settop(L, -4);
          w.verbatim(s, format);
          return;
        }
      }
      lua.lua_settop(L, -2);
    }
    lua.lua_settop(L, -2);
    t = this.rawField(L, this.K_MAP);
    if (t === LUA_TTABLE) {
      w.mapHeader(this.tableEntries(L));
      lua.lua_pushnil(L);
      while (lua.lua_next(L, -2)) {
        lua.lua_pushvalue(L, -2);
        this.replyFromLua(L, w); // key
        this.replyFromLua(L, w); // value
      }
      lua.lua_settop(L, -3);
      return;
    }
    lua.lua_settop(L, -2);
    t = this.rawField(L, this.K_SET);
    if (t === LUA_TTABLE) {
      w.setHeader(this.tableEntries(L));
      lua.lua_pushnil(L);
      while (lua.lua_next(L, -2)) {
        lua.lua_settop(L, -2);
        lua.lua_pushvalue(L, -1);
        this.replyFromLua(L, w);
      }
      lua.lua_settop(L, -3);
      return;
    }
    lua.lua_settop(L, -2);
    // The array part, up to the first nil.
    let n = 0;
    while (lua.lua_rawgeti(L, -1, BigInt(n + 1)) !== LUA_TNIL) {
      lua.lua_settop(L, -2);
      n++;
    }
    lua.lua_settop(L, -2);
    w.arrayHeader(n);
    for (let j = 1; j <= n; j++) {
      lua.lua_rawgeti(L, -1, BigInt(j));
      this.replyFromLua(L, w);
    }
    lua.lua_settop(L, -2);
  }

  // ---------------------------------------------------------------- small redis.* functions

  private raiseError(L: number, text: string): number {
    this.lua.lua_settop(L, 0);
    this.pushErrorBuff(L, text);
    return this.lua.lua_error(L);
  }

  private sha1hexFn(L: number): number {
    if (this.lua.lua_gettop(L) !== 1) return this.raiseError(L, 'wrong number of arguments');
    const hex = createHash('sha1').update(this.toBytes(L, 1)).digest('hex');
    this.pushString(L, hex);
    return 1;
  }

  private logFn(L: number): number {
    const lua = this.lua;
    const argc = lua.lua_gettop(L);
    if (argc < 2) return this.raiseError(L, 'redis.log() requires two arguments or more.');
    if (lua.lua_type(L, 1) !== LUA_TNUMBER && !(lua.lua_type(L, 1) === LUA_TSTRING && Number.isFinite(Number(this.toStr(L, 1))))) {
      return this.raiseError(L, 'First argument must be a number (log level).');
    }
    const level = Math.trunc(lua.lua_tonumberx(L, 1, 0));
    if (!(level >= LL_DEBUG && level <= LL_WARNING)) return this.raiseError(L, 'Invalid debug level.');
    let msg = '';
    let first = true;
    for (let j = 2; j <= argc; j++) {
      const t = lua.lua_type(L, j);
      if (t !== LUA_TSTRING && t !== LUA_TNUMBER) continue;
      if (!first) msg += ' ';
      msg += this.toStr(L, j);
      first = false;
    }
    try {
      this.host?.log(level, msg);
    } catch {
      /* a logger failure must not break the script */
    }
    return 0;
  }

  private setrespFn(L: number): number {
    const lua = this.lua;
    if (this.host === null) return this.raiseError(L, 'redis.setresp can only be called inside a script invocation');
    if (lua.lua_gettop(L) !== 1) return this.raiseError(L, 'redis.setresp() requires one argument.');
    const resp = Math.trunc(lua.lua_tonumberx(L, 1, 0));
    if (resp !== 2 && resp !== 3) return this.raiseError(L, 'RESP version must be 2 or 3.');
    this.resp = resp;
    return 0;
  }

  private setReplFn(L: number): number {
    const lua = this.lua;
    if (this.host === null) return this.raiseError(L, 'redis.set_repl can only be called inside a script invocation');
    if (lua.lua_gettop(L) !== 1) return this.raiseError(L, 'redis.set_repl() requires two arguments.');
    const flags = Math.trunc(lua.lua_tonumberx(L, -1, 0));
    if ((flags & ~3) !== 0) {
      return this.raiseError(L, 'Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.');
    }
    this.host.setRepl(flags);
    return 0;
  }

  /** rand.c: 48-bit linear congruential generator (redisLrand48). */
  private lrand48(): number {
    this.rand48 = (this.rand48 * 0x5deece66dn + 0xbn) & 0xffffffffffffn;
    return Number(this.rand48 >> 17n);
  }

  private randomFn(L: number): number {
    const lua = this.lua;
    const REDIS_LRAND48_MAX = 2147483647;
    const r = (this.lrand48() % REDIS_LRAND48_MAX) / REDIS_LRAND48_MAX;
    const argc = lua.lua_gettop(L);
    if (argc === 0) {
      lua.lua_pushnumber(L, r);
    } else if (argc === 1) {
      const u = Math.trunc(lua.lua_tonumberx(L, 1, 0));
      if (!(u >= 1)) return this.raiseLuaMsg(L, "bad argument #1 to 'random' (interval is empty)");
      this.pushNumber(L, Math.floor(r * u) + 1);
    } else if (argc === 2) {
      const l = Math.trunc(lua.lua_tonumberx(L, 1, 0));
      const u = Math.trunc(lua.lua_tonumberx(L, 2, 0));
      if (!(l <= u)) return this.raiseLuaMsg(L, "bad argument #2 to 'random' (interval is empty)");
      this.pushNumber(L, Math.floor(r * (u - l + 1)) + l);
    } else {
      return this.raiseLuaMsg(L, 'wrong number of arguments');
    }
    return 1;
  }

  private randomseedFn(L: number): number {
    const seed = BigInt.asUintN(32, BigInt(Math.trunc(this.lua.lua_tonumberx(L, 1, 0))));
    this.rand48 = (seed << 16n) | 0x330en;
    return 0;
  }

  /** luaL_error-like: a string error (the error handler adds "ERR "). */
  private raiseLuaMsg(L: number, msg: string): number {
    this.lua.lua_settop(L, 0);
    this.pushString(L, msg);
    return this.lua.lua_error(L);
  }

  /**
   * redis.register_function(name, callback) or ({function_name=, callback=, flags=,
   * description=}); the Lua side (lua-libs) normalizes the arguments and calls this with
   * (name, callback, flags-table-or-nil, description-or-nil) after validating types.
   */
  private registerFunctionFn(L: number): number {
    const lua = this.lua;
    if (this.host === null || !this.host.loadingLibrary) {
      return this.raiseError(L, 'redis.register_function can only be called on FUNCTION LOAD command');
    }
    const name = this.toStr(L, 1);
    const fnId = Number(lua.lua_tointegerx(L, 2, 0));
    let flags: string[] | null = null;
    if (lua.lua_type(L, 3) === LUA_TTABLE) {
      flags = [];
      for (let i = 1; lua.lua_rawgeti(L, 3, BigInt(i)) !== LUA_TNIL; i++) {
        flags.push(lua.lua_type(L, -1) === LUA_TSTRING ? this.toStr(L, -1) : '\0');
        lua.lua_settop(L, -2);
      }
      lua.lua_settop(L, -2);
    }
    const description = lua.lua_type(L, 4) === LUA_TSTRING ? this.toStr(L, 4) : null;
    const err = this.host.registerFunction(name, fnId, flags, description);
    if (err !== null) return this.raiseError(L, err);
    return 0;
  }
}

/** A RESP line's integer (lengths and :n), as bigint for int64 exactness. */
function lineInt(buf: Buffer, start: number, end: number): bigint {
  const n = end - start;
  if (n <= 15) {
    let i = start, neg = false, v = 0;
    if (buf[i] === 45) {
      neg = true;
      i++;
    }
    for (; i < end; i++) v = v * 10 + (buf[i] - 48);
    return BigInt(neg ? -v : v);
  }
  return BigInt(buf.toString('latin1', start, end));
}

/** C's (long long) cast of a double as x86-64 does it: truncation; NaN and overflow give LLONG_MIN. */
function doubleToLongLong(d: number): bigint {
  if (!(d > -9223372036854775808 && d < 9223372036854775808)) return -9223372036854775808n;
  return BigInt(Math.trunc(d));
}

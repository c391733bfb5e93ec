// Sabre's command table: which Redis 7.0 commands are enabled, their metadata
// (arity, flags, key specs: dumped from Redis 7.0.15 into redis-commands.ts),
// allocation-free case-insensitive lookup by name bytes, and key extraction
// (db.c getKeysFromCommandWithSpecs) for routing and COMMAND GETKEYS.
import { REDIS_COMMANDS } from './redis-commands';
import { HASH_COMMANDS, HASH_GETKEYS } from './enabled/hash';
import { LIST_COMMANDS, LIST_GETKEYS } from './enabled/list';
import { SET_COMMANDS, SET_GETKEYS } from './enabled/set';
import { ZSET_COMMANDS, ZSET_GETKEYS } from './enabled/zset';
import { BLOCKING_COMMANDS } from './enabled/blocking';
import { SORT_COMMANDS, SORT_GETKEYS } from './enabled/sort';
import { PUBSUB_COMMANDS } from './enabled/pubsub';
import { TRANSACTION_COMMANDS } from './enabled/transactions';
import { PERSISTENCE_COMMANDS } from './enabled/persistence';
import { SCRIPTING_COMMANDS, SCRIPTING_GETKEYS } from './enabled/scripting';
import { MEMORY_COMMANDS } from './enabled/memory';
import { TRACKING_COMMANDS } from './enabled/tracking';
import {
  type RawCommand, parseAclCategories, parseCommandFlags, parseKeySpecFlags,
  CMD_KEY_NOT_KEY, CMD_KEY_VARIABLE_FLAGS, CMD_KEY_INCOMPLETE,
  CMD_KEY_RW, CMD_KEY_OW, CMD_KEY_ACCESS, CMD_KEY_UPDATE, CMD_MODULE,
} from './command-docs';

export {
  CMD_WRITE, CMD_READONLY, CMD_DENYOOM, CMD_MODULE, CMD_ADMIN, CMD_PUBSUB, CMD_NOSCRIPT,
  CMD_BLOCKING, CMD_LOADING, CMD_STALE, CMD_SKIP_MONITOR, CMD_SKIP_SLOWLOG, CMD_ASKING,
  CMD_FAST, CMD_NO_AUTH, CMD_NO_MANDATORY_KEYS, CMD_NO_ASYNC_LOADING, CMD_NO_MULTI,
  CMD_MOVABLE_KEYS, CMD_ALLOW_BUSY, CMD_MAY_REPLICATE, CMD_SENTINEL, CMD_ONLY_SENTINEL,
  CMD_PROTECTED,
  CMD_KEY_RO, CMD_KEY_RW, CMD_KEY_OW, CMD_KEY_RM, CMD_KEY_ACCESS, CMD_KEY_UPDATE,
  CMD_KEY_INSERT, CMD_KEY_DELETE, CMD_KEY_NOT_KEY, CMD_KEY_INCOMPLETE, CMD_KEY_VARIABLE_FLAGS,
} from './command-docs';

/** The commands that run a script (the script thread's that need the dataset; CLIENT TRACKING's script callers). */
export const SCRIPT_RUN_COMMANDS: ReadonlySet<string> = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/**
 * The commands Sabre implements. A container (CLIENT, CONFIG, ...) is enabled by
 * listing its subcommands as "container|sub"; COMMAND, COMMAND INFO/DOCS/LIST/COUNT
 * and lookups only ever see what is listed here. To add a command: append its
 * name (the metadata of every Redis 7.0 command is already in redis-commands.ts),
 * and if Redis gives it a getkeys_proc, add that to GETKEYS_PROCS below.
 */
export const ENABLED_COMMANDS: readonly string[] = [
  // connection and server
  'ping', 'echo', 'hello', 'auth', 'select', 'quit', 'reset',
  'client|id', 'client|setname', 'client|getname', 'client|list', 'client|info', 'client|kill',
  'client|setinfo', 'client|reply', 'client|no-evict', 'client|pause', 'client|unpause', 'client|unblock', 'client|help',
  'info',
  'command', 'command|count', 'command|info', 'command|docs', 'command|getkeys',
  'command|getkeysandflags', 'command|list', 'command|help',
  'time', 'dbsize',
  'config|get', 'config|set', 'config|resetstat', 'config|rewrite', 'config|help',
  'shutdown',
  'slowlog|get', 'slowlog|len', 'slowlog|reset', 'slowlog|help',
  'swapdb', 'flushdb', 'flushall',
  // strings
  'get', 'set', 'setnx', 'setex', 'psetex', 'getex', 'getdel', 'getset', 'mget', 'mset', 'msetnx',
  'append', 'strlen', 'getrange', 'setrange', 'substr', 'incr', 'decr', 'incrby', 'decrby',
  'incrbyfloat', 'lcs',
  // keyspace
  'del', 'unlink', 'exists', 'type', 'keys', 'scan', 'randomkey', 'rename', 'renamenx', 'copy',
  'move', 'touch',
  'object|encoding', 'object|freq', 'object|idletime', 'object|refcount', 'object|help',
  // expiry
  'expire', 'pexpire', 'expireat', 'pexpireat', 'ttl', 'pttl', 'expiretime', 'pexpiretime', 'persist',
  // collections: one file per type under ./enabled
  ...HASH_COMMANDS, ...LIST_COMMANDS, ...SET_COMMANDS, ...ZSET_COMMANDS, ...BLOCKING_COMMANDS, ...SORT_COMMANDS,
  ...PUBSUB_COMMANDS, ...TRANSACTION_COMMANDS, ...PERSISTENCE_COMMANDS, ...SCRIPTING_COMMANDS,
  ...MEMORY_COMMANDS, ...TRACKING_COMMANDS,
];

/** A compiled key spec (see RawKeySpec); numbers only, for getKeyPositions. */
export interface KeySpec {
  flags: number; // CMD_KEY_* bits
  bsType: number; // BS_*
  bsIndex: number;
  keyword: Uint8Array | null; // lowercase keyword bytes for BS_KEYWORD
  startFrom: number;
  fkType: number; // FK_*
  lastKey: number;
  keyStep: number;
  limit: number;
  keyNumIdx: number;
  firstKey: number;
}

export const BS_UNKNOWN = 0;
export const BS_INDEX = 1;
export const BS_KEYWORD = 2;
export const FK_UNKNOWN = 0;
export const FK_RANGE = 1;
export const FK_KEYNUM = 2;

/** Redis-style getkeys_proc: writes key positions (and CMD_KEY_* flags when
 *  outFlags is given) and returns the count. */
export type GetKeysProc = (
  cmd: CommandSpec, argc: number, argBuf: Uint8Array, argStart: Int32Array, argEnd: Int32Array,
  out: Int32Array, outFlags: Int32Array | null,
) => number;

export interface CommandSpec {
  name: string; // lowercase, e.g. "get"; for subcommands "client|list"
  id: number; // dense index into commandById(), stable within a process
  arity: number;
  flags: number; // CMD_* bits
  firstKey: number; // legacy triple, as COMMAND INFO reports it
  lastKey: number;
  keyStep: number;
  aclCategories: number; // bit i = ACL_CATEGORY_NAMES[i]
  keySpecs: KeySpec[];
  subcommands: Map<string, CommandSpec> | null; // keyed by lowercase subcommand name
  parent: CommandSpec | null;
  getKeysProc: GetKeysProc | null;
  /** Redis 7.0's metadata for COMMAND INFO / COMMAND DOCS. */
  meta: RawCommand;
  /** Lowercase bytes of the name within its table ("list" for "client|list"). */
  nameBytes: Uint8Array;
  // INFO commandstats (mutable)
  calls: number;
  usec: number;
  rejectedCalls: number;
  failedCalls: number;
}

// ---------------------------------------------------------------- name lookup

function fold(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/** Open-addressing hash table of specs keyed by case-folded name bytes. */
class NameTable {
  private readonly slots: Int32Array; // 1 + index into entries; 0 = empty
  private readonly mask: number;
  private readonly maxLen: number;

  constructor(private readonly entries: CommandSpec[]) {
    let size = 8;
    while (size < entries.length * 4) size <<= 1;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    let maxLen = 0;
    for (let i = 0; i < entries.length; i++) {
      const name = entries[i].nameBytes;
      if (name.length > maxLen) maxLen = name.length;
      let slot = NameTable.hash(name, 0, name.length) & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = i + 1;
    }
    this.maxLen = maxLen;
  }

  /** FNV-1a over the case-folded bytes. */
  private static hash(buf: Uint8Array, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let i = start; i < end; i++) h = Math.imul(h ^ fold(buf[i]), 0x01000193);
    return h >>> 0;
  }

  find(buf: Uint8Array, start: number, end: number): CommandSpec | undefined {
    const len = end - start;
    if (len <= 0 || len > this.maxLen) return undefined;
    let slot = NameTable.hash(buf, start, end) & this.mask;
    for (;;) {
      const e = this.slots[slot];
      if (e === 0) return undefined;
      const spec = this.entries[e - 1];
      const name = spec.nameBytes;
      if (name.length === len) {
        let i = 0;
        while (i < len && fold(buf[start + i]) === name[i]) i++;
        if (i === len) return spec;
      }
      slot = (slot + 1) & this.mask;
    }
  }
}

// ---------------------------------------------------------------- getkeys procs

/** db.c setGetKeys: SET's key is RW+access with GET, OW otherwise. */
const setGetKeys: GetKeysProc = (_cmd, argc, buf, argStart, argEnd, out, outFlags) => {
  out[0] = 1;
  let flags = CMD_KEY_OW | CMD_KEY_UPDATE;
  for (let i = 3; i < argc; i++) {
    const s = argStart[i];
    const len = argEnd[i] - s;
    // C compares through the NUL terminator: "GET\0..." also counts.
    if (len >= 3 && fold(buf[s]) === 0x67 && fold(buf[s + 1]) === 0x65 && fold(buf[s + 2]) === 0x74 &&
        (len === 3 || buf[s + 3] === 0)) {
      flags = CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE;
      break;
    }
  }
  if (outFlags) outFlags[0] = flags;
  return 1;
};

/** Implementations of Redis's getkeys_procs, by the names redis-commands.ts uses. */
const GETKEYS_PROCS: Record<string, GetKeysProc> = {
  setGetKeys,
  ...HASH_GETKEYS, ...LIST_GETKEYS, ...SET_GETKEYS, ...ZSET_GETKEYS, ...SORT_GETKEYS, ...SCRIPTING_GETKEYS,
};

// ---------------------------------------------------------------- building

const specsById: CommandSpec[] = [];
const topLevel: CommandSpec[] = [];
let topTable: NameTable;
const subTables = new Map<CommandSpec, NameTable>();

const textEncoder = new TextEncoder();

function compileKeySpec(raw: RawCommand['keySpecs'][number]): KeySpec {
  const ks: KeySpec = {
    flags: parseKeySpecFlags(raw.flags), bsType: BS_UNKNOWN, bsIndex: 0, keyword: null, startFrom: 0,
    fkType: FK_UNKNOWN, lastKey: 0, keyStep: 0, limit: 0, keyNumIdx: 0, firstKey: 0,
  };
  if (raw.bs.type === 'index') {
    ks.bsType = BS_INDEX;
    ks.bsIndex = raw.bs.index;
  } else if (raw.bs.type === 'keyword') {
    ks.bsType = BS_KEYWORD;
    ks.keyword = textEncoder.encode(raw.bs.keyword.toLowerCase());
    ks.startFrom = raw.bs.startfrom;
  }
  if (raw.fk.type === 'range') {
    ks.fkType = FK_RANGE;
    ks.lastKey = raw.fk.lastkey;
    ks.keyStep = raw.fk.keystep;
    ks.limit = raw.fk.limit;
  } else if (raw.fk.type === 'keynum') {
    ks.fkType = FK_KEYNUM;
    ks.keyNumIdx = raw.fk.keynumidx;
    ks.firstKey = raw.fk.firstkey;
    ks.keyStep = raw.fk.keystep;
  }
  return ks;
}

function makeSpec(raw: RawCommand, parent: CommandSpec | null): CommandSpec {
  if (raw.getkeys !== undefined && !GETKEYS_PROCS[raw.getkeys]) {
    throw new Error(`command '${raw.name}' is enabled but its getkeys proc ${raw.getkeys} is not implemented`);
  }
  const spec = compileCommand(raw, parent);
  spec.id = specsById.length;
  specsById.push(spec);
  return spec;
}

/**
 * A CommandSpec for any Redis 7.0 command, enabled or not, outside the table
 * (id -1; getKeysProc null when Sabre does not implement Redis's). For tests and tools.
 */
export function compileCommand(raw: RawCommand, parent: CommandSpec | null = null): CommandSpec {
  const ownName = parent ? raw.name.slice(parent.name.length + 1) : raw.name;
  return {
    name: raw.name,
    id: -1,
    arity: raw.arity,
    flags: parseCommandFlags(raw.flags, raw.hiddenFlags),
    firstKey: raw.firstKey,
    lastKey: raw.lastKey,
    keyStep: raw.keyStep,
    aclCategories: parseAclCategories(raw.aclCategories),
    keySpecs: raw.keySpecs.map(compileKeySpec),
    subcommands: null,
    parent,
    getKeysProc: raw.getkeys !== undefined ? GETKEYS_PROCS[raw.getkeys] ?? null : null,
    meta: raw,
    nameBytes: textEncoder.encode(ownName),
    calls: 0,
    usec: 0,
    rejectedCalls: 0,
    failedCalls: 0,
  };
}

/** Enabled commands that Redis 7.0.15 lacks (added from later Redis versions). */
export const LATER_REDIS_COMMANDS: ReadonlySet<string> = new Set(['client|setinfo']);

/**
 * Commands newer than 7.0.15 that Sabre implements because today's clients send them:
 * node-redis and others send CLIENT SETINFO (Redis 7.2) on connect. Metadata as 7.2 has it.
 */
function addLaterRedisCommands(rawByName: Map<string, RawCommand>): void {
  const client = rawByName.get('client')!;
  if (client.subcommands!.some((s) => s.name === 'client|setinfo')) return;
  const setinfo: RawCommand = {
    name: 'client|setinfo', arity: 4, flags: ['noscript', 'loading', 'stale'], firstKey: 0, lastKey: 0, keyStep: 0,
    aclCategories: ['@slow', '@connection'], tips: ['request_policy:all_nodes', 'response_policy:all_succeeded'], keySpecs: [],
    docs: {
      summary: 'Sets information specific to the client or connection.', since: '7.2.0', group: 'connection', complexity: 'O(1)',
      arguments: [{ name: 'attr', type: 'oneof', arguments: [
        { name: 'libname', type: 'string', token: 'LIB-NAME' },
        { name: 'libver', type: 'string', token: 'LIB-VER' },
      ] }],
    },
  } as RawCommand;
  const subs = client.subcommands!.slice();
  subs.push(setinfo);
  subs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  rawByName.set('client', { ...client, subcommands: subs });
}

function buildTable(): void {
  const rawByName = new Map<string, RawCommand>();
  for (const c of REDIS_COMMANDS) rawByName.set(c.name, c);
  addLaterRedisCommands(rawByName);
  // Group enabled names by top-level command, preserving ENABLED_COMMANDS order.
  const wanted = new Map<string, string[] | null>();
  for (const full of ENABLED_COMMANDS) {
    const bar = full.indexOf('|');
    const top = bar < 0 ? full : full.slice(0, bar);
    if (!rawByName.has(top)) throw new Error(`unknown command '${top}' in ENABLED_COMMANDS`);
    if (!wanted.has(top)) wanted.set(top, rawByName.get(top)!.subcommands ? [] : null);
    if (bar >= 0) {
      const subs = wanted.get(top);
      if (!subs) throw new Error(`'${top}' has no subcommands (in ENABLED_COMMANDS: '${full}')`);
      if (subs.includes(full)) throw new Error(`'${full}' is listed twice in ENABLED_COMMANDS`);
      subs.push(full);
    }
  }
  for (const [top, subs] of wanted) {
    const raw = rawByName.get(top)!;
    const spec = makeSpec(raw, null);
    topLevel.push(spec);
    if (subs === null) continue;
    if (subs.length === 0) throw new Error(`container '${top}' is enabled without any subcommand`);
    spec.subcommands = new Map();
    // Subcommands in the data file's (alphabetical) order, whatever order they were listed in.
    for (const subRaw of raw.subcommands!) {
      if (!subs.includes(subRaw.name)) continue;
      const sub = makeSpec(subRaw, spec);
      spec.subcommands.set(subRaw.name.slice(top.length + 1), sub);
    }
    if (spec.subcommands.size !== subs.length) {
      const missing = subs.filter((s) => !spec.subcommands!.has(s.slice(top.length + 1)));
      throw new Error(`unknown subcommands in ENABLED_COMMANDS: ${missing.join(', ')}`);
    }
    subTables.set(spec, new NameTable([...spec.subcommands.values()]));
  }
  topTable = new NameTable(topLevel);
}

buildTable();

// ---------------------------------------------------------------- lookups

/** The enabled top-level command named by buf[start, end), case-insensitive. Allocates nothing. */
export function lookupCommand(buf: Uint8Array, start: number, end: number): CommandSpec | undefined {
  return topTable.find(buf, start, end);
}

/** A subcommand of a container (CLIENT, CONFIG, ...) by name bytes, case-insensitive. */
export function lookupSubcommand(parent: CommandSpec, buf: Uint8Array, start: number, end: number): CommandSpec | undefined {
  const t = subTables.get(parent);
  return t ? t.find(buf, start, end) : undefined;
}

/**
 * lookupCommandBySds: a full name such as "get" or "client|list" (one '|' at
 * most; "client" alone is the container). Used by COMMAND INFO and COMMAND DOCS.
 */
export function lookupCommandByFullName(buf: Uint8Array, start: number, end: number): CommandSpec | undefined {
  let bar = -1;
  for (let i = start; i < end; i++) {
    if (buf[i] === 0x7c) {
      if (bar >= 0) return undefined; // more than one level of subcommands
      bar = i;
    }
  }
  if (bar < 0) return lookupCommand(buf, start, end);
  const base = lookupCommand(buf, start, bar);
  if (!base || !base.subcommands) return undefined;
  return lookupSubcommand(base, buf, bar + 1, end);
}

/** Enabled top-level commands, in table order (subcommands hang off .subcommands). */
export function allCommands(): CommandSpec[] {
  return topLevel;
}

/** Every enabled command and subcommand, indexed by CommandSpec.id. */
export function commandById(): readonly CommandSpec[] {
  return specsById;
}

// ---------------------------------------------------------------- key extraction

// Parse a whole argument as a long long the way util.c string2ll does (no
// spaces, no '+', no leading zeros); NaN if it is not one.
function parseStrictInt(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > 20) return NaN;
  let i = start;
  let neg = false;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
    if (i === end) return NaN;
  }
  if (buf[i] === 0x30) return i + 1 === end && !neg ? 0 : NaN;
  let v = 0;
  for (; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return neg ? -v : v;
}

function argEqualsFolded(buf: Uint8Array, s: number, e: number, word: Uint8Array): boolean {
  if (e - s !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (fold(buf[s + i]) !== word[i]) return false;
  return true;
}

/**
 * db.c getKeysUsingKeySpecs (default search flags: no not_key specs, no partial
 * results). Returns the key count, or -1 if a spec cannot be resolved.
 */
function keysFromSpecs(
  cmd: CommandSpec, argc: number, buf: Uint8Array, argStart: Int32Array, argEnd: Int32Array,
  out: Int32Array, outFlags: Int32Array | null,
): number {
  let k = 0;
  const specs = cmd.keySpecs;
  for (let j = 0; j < specs.length; j++) {
    const spec = specs[j];
    if (spec.flags & CMD_KEY_NOT_KEY) continue;

    let first = 0;
    if (spec.bsType === BS_INDEX) {
      first = spec.bsIndex;
    } else if (spec.bsType === BS_KEYWORD) {
      const from = spec.startFrom;
      const startIndex = from > 0 ? from : argc + from;
      const endIndex = from > 0 ? argc - 1 : 1;
      const word = spec.keyword!;
      for (let i = startIndex; i !== endIndex; i = startIndex <= endIndex ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (argEqualsFolded(buf, argStart[i], argEnd[i], word)) {
          first = i + 1;
          break;
        }
      }
      if (!first) continue; // keyword not found: this spec has no keys
    } else {
      return -1;
    }

    let last: number;
    let step: number;
    if (spec.fkType === FK_RANGE) {
      step = spec.keyStep;
      if (spec.lastKey >= 0) {
        last = first + spec.lastKey;
      } else if (!spec.limit) {
        last = argc + spec.lastKey;
      } else {
        last = first + (Math.trunc((argc - first) / spec.limit) + spec.lastKey);
      }
    } else if (spec.fkType === FK_KEYNUM) {
      step = spec.keyStep;
      const idx = first + spec.keyNumIdx;
      if (spec.keyNumIdx >= argc || idx >= argc) return -1;
      const numKeys = parseStrictInt(buf, argStart[idx], argEnd[idx]);
      if (!(numKeys >= 0)) return -1;
      first += spec.firstKey;
      last = first + numKeys - 1;
    } else {
      return -1;
    }

    // First or last out of bounds: a syntax error the command will report.
    if (last >= argc || last < first || first >= argc) return -1;

    for (let i = first; i <= last; i += step) {
      // Cannot happen for a command whose arity was checked; skip like Redis
      // does for variadic commands.
      if (i >= argc || i < first) continue;
      out[k] = i;
      if (outFlags) outFlags[k] = spec.flags;
      k++;
    }
    if (spec.flags & CMD_KEY_INCOMPLETE) return -1;
  }
  return k;
}

/**
 * Key positions for an argv (db.c getKeysFromCommandWithSpecs): key specs when
 * they are reliable, the command's getkeys proc otherwise. Writes argv indexes
 * (0 = command name) into out, which must hold at least argc entries, and
 * returns the count, or -1 for "Invalid arguments specified for command".
 * cmd is the subcommand's spec for container commands. Allocates nothing.
 */
export function getKeyPositions(
  cmd: CommandSpec, argc: number, argBuf: Uint8Array, argStart: Int32Array, argEnd: Int32Array,
  out: Int32Array,
): number {
  return getKeyPositionsWithFlags(cmd, argc, argBuf, argStart, argEnd, out, null);
}

/** getKeyPositions that also writes each key's CMD_KEY_* flags into outFlags. */
export function getKeyPositionsWithFlags(
  cmd: CommandSpec, argc: number, argBuf: Uint8Array, argStart: Int32Array, argEnd: Int32Array,
  out: Int32Array, outFlags: Int32Array | null,
): number {
  let hasKeySpec = false; // a spec not marked not_key
  let hasVarFlags = false;
  const specs = cmd.keySpecs;
  for (let j = 0; j < specs.length; j++) {
    if (!(specs[j].flags & CMD_KEY_NOT_KEY)) hasKeySpec = true;
    if (specs[j].flags & CMD_KEY_VARIABLE_FLAGS) hasVarFlags = true;
  }
  if (hasKeySpec && !hasVarFlags) {
    const n = keysFromSpecs(cmd, argc, argBuf, argStart, argEnd, out, outFlags);
    if (n >= 0) return n;
  }
  // Specs failed (invalid, incomplete) or their flags depend on the arguments.
  if (cmd.getKeysProc) return cmd.getKeysProc(cmd, argc, argBuf, argStart, argEnd, out, outFlags);
  return -1;
}

/** db.c doesCommandHaveKeys: may this command take key arguments at all? */
export function commandHasKeys(cmd: CommandSpec): boolean {
  if (cmd.getKeysProc || (cmd.flags & CMD_MODULE)) return true;
  for (const ks of cmd.keySpecs) if (!(ks.flags & CMD_KEY_NOT_KEY)) return true;
  return false;
}

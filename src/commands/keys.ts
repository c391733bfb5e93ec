/**
 * Keyspace commands (Redis 7.0 src/db.c, src/object.c): DEL UNLINK EXISTS TYPE KEYS SCAN
 * RANDOMKEY RENAME RENAMENX COPY MOVE TOUCH OBJECT DBSIZE FLUSHDB FLUSHALL SWAPDB.
 *
 * A command may span several keyspaces (logical shards): every key is routed through
 * store.ks(); whole-database commands walk store.keyspaces. SCAN's cursor encodes the
 * shard: cursor = bucketCursor * shardCount + shardIndex.
 */
import { Keyspace, lruClock } from '../store/keyspace';
import { copyBytes, equalBytes } from '../store/bytes';
import { LRU_MASK, META_LRU_SHIFT, R_META, TYPE_STRING } from '../../native-layout/record';
import { stringMatch } from '../util/glob';
import { parseInt64, parsed } from '../util/numbers';
import {
  ERR_DB_INDEX, ERR_NOT_INTEGER, ERR_NO_SUCH_KEY, ERR_SYNTAX, ExecContext, NOTIFY_GENERIC, NOTIFY_KEY_MISS, NOTIFY_NEW,
  PropagatedArgv, defineCommand,
} from './context';
import { ExpireTime, cstrArg, cstrLen, optIs, patchExpireWords, readExpire } from './expire';

const ERR_SAME_OBJECT = 'ERR source and destination objects are the same';

/** getObjectTypeName(), indexed by TYPE_* (numbered as Redis's OBJ_*). */
export const TYPE_NAMES: readonly string[] = ['string', 'list', 'set', 'zset', 'hash', 'module', 'stream'];

/** strEncoding(), indexed by ENC_* (numbered as Redis's OBJ_ENCODING_*). */
export const ENCODING_NAMES: readonly string[] = [
  'raw', 'int', 'hashtable', 'zipmap', 'linkedlist', 'ziplist', 'intset', 'skiplist', 'embstr', 'quicklist',
  'stream', 'listpack',
];

/**
 * Copies a collection value (the value block of record `src` in `from`) into keyspace
 * `to` and returns the new value word. Registered by the data-type modules, by TYPE_*;
 * used by COPY, and by RENAME/MOVE when the key changes shard.
 */
export type ValueCloner = (from: Keyspace, src: number, to: Keyspace) => number;
export const valueCloners: (ValueCloner | null)[] = [null, null, null, null, null, null, null];

/** maxmemory-policy is an LFU one (OBJECT FREQ works, OBJECT IDLETIME errors). Set by CONFIG. */
export const objectPolicy = { lfu: false, lfuDecayTime: 1 };

const OBJ_SHARED_REFCOUNT = 2147483647;
const OBJ_SHARED_INTEGERS = 10000;

// ---- notification helpers (shared by the data-type modules) ------------------------------

/**
 * Before a write that dbAdd()s argv[i] when it is absent: true if "new" events are on and
 * the key does not exist (the lookup also drops it if expired, as lookupKeyWrite does).
 * Costs one flag test when notifications are off.
 */
export function willAdd(c: ExecContext, ks: Keyspace, i: number): boolean {
  return (c.notifyFlags & NOTIFY_NEW) !== 0 && ks.lookupNoTouch(c.db, c.buf, c.argStart[i], c.argEnd[i], c.now) === 0;
}

/** dbAdd()'s "new" event for argv[i]. */
export function notifyNew(c: ExecContext, i: number, db = c.db): void {
  c.notifyArg(NOTIFY_NEW, 'new', i, db);
}

/** lookupKeyRead()'s "keymiss" event for argv[i]. */
export function notifyMiss(c: ExecContext, i: number): void {
  c.notifyArg(NOTIFY_KEY_MISS, 'keymiss', i);
}

/** The generic "del" a command emits after emptying a collection (or deleting a key). */
export function notifyDel(c: ExecContext, i: number, db = c.db): void {
  c.notifyArg(NOTIFY_GENERIC, 'del', i, db);
}

// ---- helpers ----------------------------------------------------------------------------

/** getIntFromObjectOrReply(): argument i as a 32-bit int into intArg.v; false after an error reply. */
const intArg = { v: 0 };
function getIntArg(c: ExecContext, i: number, msg: string | null): boolean {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i])) {
    c.w.error(msg ?? ERR_NOT_INTEGER);
    return false;
  }
  if (parsed.isBig || parsed.int < -2147483648 || parsed.int > 2147483647) {
    c.w.error(msg ?? 'ERR value is out of range, value must between -2147483648 and 2147483647');
    return false;
  }
  intArg.v = parsed.int;
  return true;
}

function argsEqual(c: ExecContext, i: number, j: number): boolean {
  const n = c.argLen(i);
  return n === c.argLen(j) && equalBytes(c.buf, c.argStart[i], c.buf, c.argStart[j], n);
}

/**
 * Link a copy of record `src` (keyspace `from`) under argv[keyIdx] into `db` of `to`,
 * with expiry `expire` (ms -1: none). `move`: the source is about to be removed, so a
 * collection value in the same keyspace changes owner instead of being cloned; the LRU
 * clock is kept too (Redis moves the same object). Returns the new record.
 */
function linkCopy(c: ExecContext, to: Keyspace, db: number, keyIdx: number, from: Keyspace, src: number,
  expire: ExpireTime, move: boolean): number {
  const type = from.type(src);
  let valueWord: number;
  if (type === TYPE_STRING || (move && from === to)) {
    valueWord = from.valueWord(src);
  } else {
    const clone = valueCloners[type];
    if (clone === null) throw new Error(`no value cloner for type ${type}`);
    valueWord = clone(from, src, to);
  }
  const b = c.buf, ks = c.argStart[keyIdx], ke = c.argEnd[keyIdx];
  const n = to.newRecord(to.hash(b, ks, ke), type, from.encoding(src), b, ks, ke, valueWord, expire.ms, c.now);
  if (expire.big) patchExpireWords(to, n, expire.bigv);
  if (type === TYPE_STRING) {
    const vo = from.valueOffset(src);
    copyBytes(from.u8(src), vo, vo + valueWord, to.u8(n), to.valueOffset(n));
  }
  if (move) {
    const u32 = to.u32(n), w = (Keyspace.off(n) + R_META) >>> 2;
    u32[w] = (u32[w] & ((1 << META_LRU_SHIFT) - 1)) | (from.lru(src) << META_LRU_SHIFT);
  }
  to.link(db, n);
  return n;
}

/** Remove argv[keyIdx] from `db` of `ks` after linkCopy(move) took its value. */
function removeMoved(c: ExecContext, ks: Keyspace, db: number, keyIdx: number, movedTo: Keyspace): void {
  const b = c.buf, s = c.argStart[keyIdx], e = c.argEnd[keyIdx];
  const addr = ks.find(db, b, s, e, ks.hash(b, s, e));
  if (addr === 0) return;
  if (ks.type(addr) !== TYPE_STRING && movedTo === ks) {
    // The value now belongs to the new record: free only the old record block.
    ks.unlinkFound(db, addr);
    ks.arena.free(addr, ks.recordSize(addr));
  } else {
    ks.deleteFound(db, addr);
  }
}

// ---- DEL UNLINK EXISTS TOUCH TYPE --------------------------------------------------------

function delCommand(c: ExecContext): void {
  const b = c.buf;
  let deleted = 0;
  for (let j = 1; j < c.argc; j++) {
    const s = c.argStart[j], e = c.argEnd[j];
    if (c.store.ks(b, s, e).delete(c.db, b, s, e, c.now)) {
      deleted++;
      notifyDel(c, j);
    }
  }
  c.dirty += deleted;
  c.w.integer(deleted);
}

function existsCommand(c: ExecContext): void {
  const b = c.buf;
  let count = 0;
  for (let j = 1; j < c.argc; j++) {
    const s = c.argStart[j], e = c.argEnd[j];
    if (c.store.ks(b, s, e).lookupNoTouch(c.db, b, s, e, c.now) !== 0) count++;
    else notifyMiss(c, j);
  }
  c.w.integer(count);
}

function touchCommand(c: ExecContext): void {
  const b = c.buf;
  let count = 0;
  for (let j = 1; j < c.argc; j++) {
    const s = c.argStart[j], e = c.argEnd[j];
    if (c.store.ks(b, s, e).lookup(c.db, b, s, e, c.now) !== 0) count++;
    else notifyMiss(c, j);
  }
  c.w.integer(count);
}

function typeCommand(c: ExecContext): void {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const addr = ks.lookupNoTouch(c.db, b, s, e, c.now);
  if (addr === 0) notifyMiss(c, 1);
  c.w.simple(addr === 0 ? 'none' : TYPE_NAMES[ks.type(addr)]);
}

// ---- KEYS SCAN RANDOMKEY DBSIZE ----------------------------------------------------------

function keysCommand(c: ExecContext): void {
  const b = c.buf, ps = c.argStart[1], pe = c.argEnd[1];
  const allkeys = pe - ps === 1 && b[ps] === 0x2a; // "*"
  const spaces = c.store.keyspaces;
  const now = c.now;
  const hits: number[] = []; // (keyspace index, record) pairs
  for (let k = 0; k < spaces.length; k++) {
    const ks = spaces[k];
    ks.forEach(c.db, (addr) => {
      const ko = ks.keyOffset(addr);
      if (!allkeys && !stringMatch(b, ps, pe, ks.u8(addr), ko, ko + ks.keyLen(addr), false)) return;
      // keyIsExpired(): skipped, not deleted.
      const t = ks.expireAt(addr);
      if (t >= 0 && t <= now) return;
      hits.push(k, addr);
    });
  }
  c.w.arrayHeader(hits.length >>> 1);
  for (let i = 0; i < hits.length; i += 2) {
    const ks = spaces[hits[i]], addr = hits[i + 1];
    const ko = ks.keyOffset(addr);
    c.w.bulk(ks.u8(addr), ko, ko + ks.keyLen(addr));
  }
}

const TWO32 = 4294967296;

/**
 * parseScanCursorOrReply(): strtoul() over the C string, leading space rejected, any
 * trailing byte or overflow is "invalid cursor". Returns the cursor as a bigint, or null.
 */
function parseScanCursor(c: ExecContext, i: number): bigint | null {
  const b = c.buf, s = c.argStart[i], n = cstrLen(c, i), e = s + n;
  if (n === 0) return 0n; // strtoul("") is 0 with nothing left over
  const c0 = b[s];
  if (c0 === 0x20 || (c0 >= 0x09 && c0 <= 0x0d)) return null;
  let p = s, neg = false;
  if (b[p] === 0x2b || b[p] === 0x2d) {
    neg = b[p] === 0x2d;
    p++;
  }
  if (p === e) return null;
  let v = 0n, small = 0;
  for (let q = p; q < e; q++) {
    const d = b[q] - 0x30;
    if (d < 0 || d > 9) return null;
    if (q - p < 15) small = small * 10 + d;
    else {
      if (q - p === 15) v = BigInt(small);
      v = v * 10n + BigInt(d);
      if (v > 0xffffffffffffffffn) return null; // ERANGE
    }
  }
  if (e - p <= 15) v = BigInt(small);
  return neg ? BigInt.asUintN(64, -v) : v;
}

/** C strcasecmp() of the C string of argv[i] with an ASCII string. */
function cstrCaseEquals(c: ExecContext, i: number, s: string): boolean {
  const n = cstrLen(c, i);
  if (n !== s.length) return false;
  const b = c.buf, st = c.argStart[i];
  for (let k = 0; k < n; k++) {
    const x = b[st + k], y = s.charCodeAt(k);
    const lx = x >= 0x41 && x <= 0x5a ? x + 32 : x;
    const ly = y >= 0x41 && y <= 0x5a ? y + 32 : y;
    if (lx !== ly) return false;
  }
  return true;
}

// SCAN's bucket visitor writes here (one SCAN at a time per thread).
let scanSink: number[] = [];
function scanCollect(addr: number): void {
  scanSink.push(addr);
}

function scanCommand(c: ExecContext): void {
  const cursor = parseScanCursor(c, 1);
  if (cursor === null) return c.w.error('ERR invalid cursor');
  let count = 10;
  let patIdx = -1, typeIdx = -1;
  for (let i = 2; i < c.argc;) {
    const remaining = c.argc - i;
    if (optIs(c, i, 'count') && remaining >= 2) {
      if (!parseInt64(c.buf, c.argStart[i + 1], c.argEnd[i + 1])) return c.w.error(ERR_NOT_INTEGER);
      if (parsed.int < 1) return c.w.error(ERR_SYNTAX);
      count = parsed.int;
      i += 2;
    } else if (optIs(c, i, 'match') && remaining >= 2) {
      patIdx = i + 1;
      i += 2;
    } else if (optIs(c, i, 'type') && remaining >= 2) {
      typeIdx = i + 1;
      i += 2;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  const spaces = c.store.keyspaces, nShards = spaces.length;
  let shard = Number(cursor % BigInt(nShards));
  let bucket = Number((cursor / BigInt(nShards)) % BigInt(TWO32));

  // Step 1: visit buckets until `count` keys or count*10 steps, shard after shard.
  const found: number[] = [];
  const foundShard: number[] = [];
  let maxIterations = count * 10;
  let done = false;
  scanSink = found;
  do {
    const before = found.length;
    bucket = spaces[shard].scanStep(c.db, bucket, scanCollect);
    for (let k = before; k < found.length; k++) foundShard.push(shard);
    if (bucket === 0) {
      if (++shard === nShards) {
        done = true;
        break;
      }
    }
  } while (maxIterations-- > 0 && found.length < count);
  scanSink = [];

  // Step 2: filter by pattern, type and expiry (in Redis's order).
  const b = c.buf;
  const ps = patIdx >= 0 ? c.argStart[patIdx] : 0, pe = patIdx >= 0 ? c.argEnd[patIdx] : 0;
  const usePattern = patIdx >= 0 && !(pe - ps === 1 && b[ps] === 0x2a);
  const keys: Buffer[] = [];
  for (let k = 0; k < found.length; k++) {
    const ks = spaces[foundShard[k]], addr = found[k];
    const ko = ks.keyOffset(addr);
    const key = Buffer.from(ks.u8(addr).subarray(ko, ko + ks.keyLen(addr)));
    if (usePattern && !stringMatch(b, ps, pe, key, 0, key.length, false)) continue;
    let live = -1;
    if (typeIdx >= 0) {
      live = ks.lookupNoTouch(c.db, key, 0, key.length, c.now);
      if (!cstrCaseEquals(c, typeIdx, live === 0 ? 'none' : TYPE_NAMES[ks.type(live)])) continue;
    }
    // expireIfNeeded(): a key the TYPE lookup already removed is not seen as expired.
    if (live === -1 && ks.lookupNoTouch(c.db, key, 0, key.length, c.now) === 0) continue;
    keys.push(key);
  }

  const next = done ? 0 : bucket * nShards + shard;
  c.w.arrayHeader(2);
  c.w.bulkInteger(next);
  c.w.arrayHeader(keys.length);
  for (let k = 0; k < keys.length; k++) c.w.bulk(keys[k], 0, keys[k].length);
}

function randomkeyCommand(c: ExecContext): void {
  const spaces = c.store.keyspaces;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const total = c.store.size(c.db);
    if (total === 0) break;
    // Pick a shard in proportion to its size, then a key in it.
    let r = Math.floor(Math.random() * total);
    let k = 0;
    while (r >= spaces[k].size(c.db)) r -= spaces[k++].size(c.db);
    const ks = spaces[k];
    const addr = ks.randomRecord(c.db, c.now);
    if (addr !== 0) {
      const ko = ks.keyOffset(addr);
      c.w.bulk(ks.u8(addr), ko, ko + ks.keyLen(addr));
      return;
    }
  }
  c.w.nullBulk();
}

function dbsizeCommand(c: ExecContext): void {
  c.w.integer(c.store.size(c.db));
}

// ---- RENAME COPY MOVE --------------------------------------------------------------------

const srcExpire = new ExpireTime();

function renameGeneric(c: ExecContext, nx: boolean): void {
  const b = c.buf;
  const samekey = argsEqual(c, 1, 2);
  const from = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const src = from.lookup(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  if (src === 0) return c.w.error(ERR_NO_SUCH_KEY);
  if (samekey) {
    if (nx) c.w.integer(0);
    else c.w.ok();
    return;
  }
  readExpire(from, src, srcExpire);
  const to = c.store.ks(b, c.argStart[2], c.argEnd[2]);
  const dst = to.lookup(c.db, b, c.argStart[2], c.argEnd[2], c.now);
  if (dst !== 0) {
    if (nx) return c.w.integer(0);
    to.deleteFound(c.db, dst);
  }
  linkCopy(c, to, c.db, 2, from, src, srcExpire, true);
  notifyNew(c, 2);
  removeMoved(c, from, c.db, 1, to);
  c.dirty++;
  c.notifyArg(NOTIFY_GENERIC, 'rename_from', 1);
  c.notifyArg(NOTIFY_GENERIC, 'rename_to', 2);
  if (nx) c.w.integer(1);
  else c.w.ok();
}

function copyCommand(c: ExecContext): void {
  let dstDb = c.db, replace = false;
  for (let j = 3; j < c.argc; j++) {
    const additional = c.argc - j - 1;
    if (optIs(c, j, 'replace')) {
      replace = true;
    } else if (optIs(c, j, 'db') && additional >= 1) {
      if (!getIntArg(c, j + 1, null)) return;
      if (intArg.v < 0 || intArg.v >= c.store.dbCount) return c.w.error(ERR_DB_INDEX);
      dstDb = intArg.v;
      j++;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  if (dstDb === c.db && argsEqual(c, 1, 2)) return c.w.error(ERR_SAME_OBJECT);
  const b = c.buf;
  const from = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const src = from.lookup(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  if (src === 0) {
    notifyMiss(c, 1);
    return c.w.integer(0);
  }
  readExpire(from, src, srcExpire);
  const to = c.store.ks(b, c.argStart[2], c.argEnd[2]);
  const dst = to.lookupWrite(dstDb, b, c.argStart[2], c.argEnd[2], c.now);
  if (dst !== 0) {
    if (!replace) return c.w.integer(0);
    to.deleteFound(dstDb, dst);
  }
  linkCopy(c, to, dstDb, 2, from, src, srcExpire, false);
  notifyNew(c, 2, dstDb);
  c.dirty++;
  c.notifyArg(NOTIFY_GENERIC, 'copy_to', 2, dstDb);
  c.w.integer(1);
}

function moveCommand(c: ExecContext): void {
  if (!getIntArg(c, 2, null)) return;
  const dstDb = intArg.v;
  if (dstDb < 0 || dstDb >= c.store.dbCount) return c.w.error(ERR_DB_INDEX);
  if (dstDb === c.db) return c.w.error(ERR_SAME_OBJECT);
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const src = ks.lookup(c.db, b, s, e, c.now);
  if (src === 0) return c.w.integer(0);
  readExpire(ks, src, srcExpire);
  if (ks.lookup(dstDb, b, s, e, c.now) !== 0) return c.w.integer(0);
  linkCopy(c, ks, dstDb, 1, ks, src, srcExpire, true);
  notifyNew(c, 1, dstDb);
  removeMoved(c, ks, c.db, 1, ks);
  c.dirty++;
  c.notifyArg(NOTIFY_GENERIC, 'move_from', 1);
  c.notifyArg(NOTIFY_GENERIC, 'move_to', 1, dstDb);
  c.w.integer(1);
}

// ---- OBJECT ------------------------------------------------------------------------------

const OBJECT_HELP: readonly string[] = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the kind of internal representation used in order to store the value',
  '    associated with a <key>.',
  'FREQ <key>',
  '    Return the access frequency index of the <key>. The returned integer is',
  '    proportional to the logarithm of the recent access frequency of the key.',
  'IDLETIME <key>',
  '    Return the idle time of the <key>, that is the approximated number of',
  '    seconds elapsed since the last access to the key.',
  'REFCOUNT <key>',
  '    Return the number of references of the value associated with the specified',
  '    <key>.',
  'HELP',
  '    Prints this help.',
];

const ERR_NO_LFU = 'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that '
  + 'when switching between policies at runtime LRU and LFU data will take some time to adjust.';
const ERR_NO_LRU = 'ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when '
  + 'switching between policies at runtime LRU and LFU data will take some time to adjust.';

/** OBJECT REFCOUNT: values 0..9999 stored as "int" share Redis's shared integers. */
function refcount(ks: Keyspace, addr: number): number {
  if (ks.type(addr) !== TYPE_STRING || ks.encoding(addr) !== 1 /* ENC_INT */) return 1;
  const vo = ks.valueOffset(addr);
  if (!parseInt64(ks.u8(addr), vo, vo + ks.valueWord(addr)) || parsed.isBig) return 1;
  return parsed.int >= 0 && parsed.int < OBJ_SHARED_INTEGERS ? OBJ_SHARED_REFCOUNT : 1;
}

/** estimateObjectIdleTime() / 1000: seconds since the LRU clock was last touched. */
function idleSeconds(ks: Keyspace, addr: number, nowMs: number): number {
  const clock = lruClock(nowMs), lru = ks.lru(addr) & LRU_MASK;
  return clock >= lru ? clock - lru : clock + (LRU_MASK - lru);
}

/** LFUDecrAndReturn(): the 8-bit counter decayed by elapsed minutes (LFU layout of the LRU field). */
function lfuFreq(ks: Keyspace, addr: number, nowMs: number): number {
  const lru = ks.lru(addr);
  const ldt = lru >>> 8, counter = lru & 0xff;
  const nowMin = Math.floor(nowMs / 60000) & 0xffff;
  const elapsed = nowMin >= ldt ? nowMin - ldt : 65535 - ldt + nowMin;
  const periods = objectPolicy.lfuDecayTime > 0 ? Math.floor(elapsed / objectPolicy.lfuDecayTime) : 0;
  return periods > counter ? 0 : counter - periods;
}

function objectCommand(c: ExecContext): void {
  if (c.argc === 2 && optIs(c, 1, 'help')) {
    c.w.arrayHeader(OBJECT_HELP.length);
    for (const line of OBJECT_HELP) c.w.simple(line);
    return;
  }
  const sub = optIs(c, 1, 'encoding') ? 1 : optIs(c, 1, 'refcount') ? 2 : optIs(c, 1, 'idletime') ? 3
    : optIs(c, 1, 'freq') ? 4 : 0;
  // The dispatcher normally answers these two from the command table.
  if (sub === 0) {
    c.w.error(`ERR unknown subcommand '${c.argString(1).slice(0, 128)}'. Try OBJECT HELP.`);
    return;
  }
  if (c.argc !== 3) {
    c.w.error(`ERR wrong number of arguments for 'object|${cstrArg(c, 1).toLowerCase()}' command`);
    return;
  }
  const b = c.buf, s = c.argStart[2], e = c.argEnd[2];
  const ks = c.store.ks(b, s, e);
  const addr = ks.lookupNoTouch(c.db, b, s, e, c.now);
  if (addr === 0) return c.w.nullBulk();
  switch (sub) {
    case 1:
      c.w.bulkString(ENCODING_NAMES[ks.encoding(addr)]);
      break;
    case 2:
      c.w.integer(refcount(ks, addr));
      break;
    case 3:
      if (objectPolicy.lfu) return c.w.error(ERR_NO_LRU);
      c.w.integer(idleSeconds(ks, addr, c.now));
      break;
    default:
      if (!objectPolicy.lfu) return c.w.error(ERR_NO_LFU);
      c.w.integer(lfuFreq(ks, addr, c.now));
  }
}

// ---- FLUSHDB FLUSHALL SWAPDB -------------------------------------------------------------

/** getFlushCommandFlags(): only an optional SYNC or ASYNC (both flush at once here). */
function flushArgsOk(c: ExecContext): boolean {
  if (c.argc === 1 || (c.argc === 2 && (optIs(c, 1, 'sync') || optIs(c, 1, 'async')))) return true;
  c.w.error(ERR_SYNTAX);
  return false;
}

function flushdbCommand(c: ExecContext): void {
  if (!flushArgsOk(c)) return;
  let removed = 0;
  for (const ks of c.store.keyspaces) removed += ks.flush(c.db);
  c.dirty += removed;
  c.w.ok();
  // forceCommandPropagation(): an already empty database is flushed on replicas/AOF too.
  if (removed === 0 && c.propagating) propagateArgv(c);
}

/** Propagate the command's own argv even though it changed nothing. */
function propagateArgv(c: ExecContext): void {
  const argv: PropagatedArgv = [];
  for (let j = 0; j < c.argc; j++) argv.push(c.argView(j));
  c.propagate(argv);
}

function flushallCommand(c: ExecContext): void {
  if (!flushArgsOk(c)) return;
  let removed = 0;
  for (const ks of c.store.keyspaces) for (let db = 0; db < ks.dbCount; db++) removed += ks.flush(db);
  // flushAllDataAndResetRDB(): the removed keys, plus one for the flush itself.
  c.dirty += removed + 1;
  c.w.ok();
}

function swapdbCommand(c: ExecContext): void {
  if (!getIntArg(c, 1, 'ERR invalid first DB index')) return;
  const a = intArg.v;
  if (!getIntArg(c, 2, 'ERR invalid second DB index')) return;
  const d = intArg.v;
  const n = c.store.dbCount;
  if (a < 0 || a >= n || d < 0 || d >= n) return c.w.error(ERR_DB_INDEX);
  if (a !== d) for (const ks of c.store.keyspaces) ks.swap(a, d);
  c.dirty++;
  c.w.ok();
}

// ---- registration -----------------------------------------------------------------------

defineCommand('del', delCommand);
defineCommand('unlink', delCommand);
defineCommand('exists', existsCommand);
defineCommand('touch', touchCommand);
defineCommand('type', typeCommand);
defineCommand('keys', keysCommand);
defineCommand('scan', scanCommand);
defineCommand('randomkey', randomkeyCommand);
defineCommand('dbsize', dbsizeCommand);
defineCommand('rename', (c) => renameGeneric(c, false));
defineCommand('renamenx', (c) => renameGeneric(c, true));
defineCommand('copy', copyCommand);
defineCommand('move', moveCommand);
// OBJECT is a container: the dispatcher may bind the container or each subcommand.
defineCommand('object', objectCommand);
for (const sub of ['encoding', 'freq', 'idletime', 'refcount', 'help']) defineCommand('object|' + sub, objectCommand);
defineCommand('flushdb', flushdbCommand);
defineCommand('flushall', flushallCommand);
defineCommand('swapdb', swapdbCommand);

/**
 * Hash commands (Redis 7.0 src/t_hash.c): HSET HSETNX HGET HMGET HMSET HDEL HEXISTS HLEN
 * HSTRLEN HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
 *
 * Encodings as Redis 7.0: "listpack" (src/store/listpack.ts, field and value entries
 * alternating, in insertion order) while the hash has at most hash-max-listpack-entries
 * fields and no field or value longer than hash-max-listpack-value bytes, else
 * "hashtable" (src/store/adict.ts with values). A hash never converts back. The record's
 * value word is the listpack's or the dict's address.
 */
import { Keyspace } from '../store/keyspace';
import type { Arena } from '../store/arena';
import {
  AdictIter, adictClone, adictCreate, adictDeleteFound, adictFind, adictFree, adictFreeStep, adictInsert,
  adictIterNext, adictIterStart, adictKeyLen, adictKeyStart, adictRandom, adictScan, adictSetValueFound, adictSize,
  adictValueLen, adictValueStart,
} from '../store/adict';
import {
  LP_HEADER, lpAppend, lpBytes, lpClone, lpCount, lpDecode, lpDelete, lpEntry, lpFind, lpFree, lpNew, lpReplace,
} from '../store/listpack';
import { ENC_HT, ENC_LISTPACK, TYPE_HASH } from '../../native-layout/record';
import { ADDR_OFFSET_BITS } from '../../native-layout/arena';
import { shardSettings } from '../shard/settings';
import {
  LongDouble, LD_ZERO, MAX_LONG_DOUBLE_CHARS, ld2stringHuman, ldAdd, parseInt64, parsed, string2ld, writeBigInt, writeInt,
} from '../util/numbers';
import {
  ERR_NOT_FLOAT, ERR_NOT_INTEGER, ERR_OVERFLOW, ERR_SYNTAX, ERR_WRONGTYPE, ExecContext, NOTIFY_HASH, defineCommand,
} from './context';
import { cstrLen } from './expire';
import { notifyDel, notifyMiss, notifyNew, valueCloners } from './keys';
import {
  LAZYFREE_THRESHOLD, deferredHeader, parseScanCursor, parseScanOptions, replyEmptyScan, scanArgs, scanMatches,
} from './set';

const ERR_RANGE_LONG = 'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807';
const LLONG_MIN = -9223372036854775808n;
const LLONG_MAX = 9223372036854775807n;
const HALF_LONG_MAX = 4611686018427387903n;
const MAX_SAFE = 9007199254740991;

// ---- the hash value of a record --------------------------------------------------------

/** hashTypeLength(). */
function hashLen(ks: Keyspace, rec: number): number {
  const v = ks.valueWord(rec);
  return ks.encoding(rec) === ENC_LISTPACK ? lpCount(ks.arena, v) >>> 1 : adictSize(ks.arena, v);
}

/** A value found by hashGet: hv.u8[s, e). */
const hv: { u8: Uint8Array; s: number; e: number } = { u8: new Uint8Array(0), s: 0, e: 0 };

/** hashTypeGetValue(): false when the field is absent. */
function hashGet(ks: Keyspace, rec: number, buf: Uint8Array, s: number, e: number): boolean {
  const a = ks.arena, v = ks.valueWord(rec);
  if (ks.encoding(rec) === ENC_LISTPACK) {
    const pos = lpFind(a, v, buf, s, e, 1);
    if (pos < 0) return false;
    lpDecode(a, v, pos);
    lpDecode(a, v, lpEntry.next);
    hv.u8 = lpEntry.u8;
    hv.s = lpEntry.start;
    hv.e = lpEntry.end;
    return true;
  }
  const ent = adictFind(a, v, buf, s, e);
  if (ent === 0) return false;
  hv.u8 = a.u8[ent >>> ADDR_OFFSET_BITS]!;
  hv.s = adictValueStart(a, ent);
  hv.e = hv.s + adictValueLen(a, ent);
  return true;
}

/** hashTypeConvert(): listpack -> hashtable, presized. */
function convertToHT(ks: Keyspace, rec: number): void {
  const a = ks.arena, lp = ks.valueWord(rec);
  const d = adictCreate(a, true, lpCount(a, lp) >>> 1);
  const end = lpBytes(a, lp);
  for (let p = LP_HEADER; p < end;) {
    lpDecode(a, lp, p);
    const u8 = lpEntry.u8, fs = lpEntry.start, fe = lpEntry.end;
    lpDecode(a, lp, lpEntry.next);
    p = lpEntry.next;
    adictInsert(a, d, u8, fs, fe, u8, lpEntry.start, lpEntry.end);
  }
  lpFree(a, lp);
  ks.setValueWord(rec, d);
  ks.setEncoding(rec, ENC_HT);
}

/** hashTypeTryConversion(): any of argv[from..to] too long for a listpack converts. */
function tryConversion(c: ExecContext, ks: Keyspace, rec: number, from: number, to: number): void {
  if (ks.encoding(rec) !== ENC_LISTPACK) return;
  const max = shardSettings.hashMaxListpackValue;
  for (let i = from; i <= to; i++) {
    if (c.argEnd[i] - c.argStart[i] > max) {
      convertToHT(ks, rec);
      return;
    }
  }
}

/** hashTypeSet(): 1 when the field existed (value updated), 0 when added. */
function hashSet(ks: Keyspace, rec: number, f: Uint8Array, fs: number, fe: number,
  v: Uint8Array, vs: number, ve: number): number {
  const a = ks.arena;
  if (ks.encoding(rec) === ENC_LISTPACK) {
    const max = shardSettings.hashMaxListpackValue;
    if (fe - fs > max || ve - vs > max) convertToHT(ks, rec);
  }
  if (ks.encoding(rec) === ENC_LISTPACK) {
    let lp = ks.valueWord(rec);
    const pos = lpFind(a, lp, f, fs, fe, 1);
    let update = 0;
    if (pos >= 0) {
      lpDecode(a, lp, pos);
      lp = lpReplace(a, lp, lpEntry.next, v, vs, ve);
      update = 1;
    } else {
      lp = lpAppend(a, lp, f, fs, fe);
      lp = lpAppend(a, lp, v, vs, ve);
    }
    ks.setValueWord(rec, lp);
    if (lpCount(a, lp) >>> 1 > shardSettings.hashMaxListpackEntries) convertToHT(ks, rec);
    return update;
  }
  const d = ks.valueWord(rec);
  const ent = adictFind(a, d, f, fs, fe);
  if (ent !== 0) {
    adictSetValueFound(a, d, ent, v, vs, ve);
    return 1;
  }
  adictInsert(a, d, f, fs, fe, v, vs, ve);
  return 0;
}

/** hashTypeDelete(). */
function hashDelete(ks: Keyspace, rec: number, f: Uint8Array, fs: number, fe: number): boolean {
  const a = ks.arena, v = ks.valueWord(rec);
  if (ks.encoding(rec) === ENC_LISTPACK) {
    const pos = lpFind(a, v, f, fs, fe, 1);
    if (pos < 0) return false;
    ks.setValueWord(rec, lpDelete(a, v, pos, 2));
    return true;
  }
  const ent = adictFind(a, v, f, fs, fe);
  if (ent === 0) return false;
  adictDeleteFound(a, v, ent);
  return true;
}

/**
 * Iteration over the pairs of a hash: field fu8[fs, fe), value vu8[vs, ve).
 * `id` identifies the pair (listpack position or dict entry) for sampling.
 */
class HashIter {
  a!: Arena;
  enc = 0;
  v = 0;
  pos = 0;
  end = 0;
  readonly it = new AdictIter();
  fu8: Uint8Array = new Uint8Array(0);
  fs = 0;
  fe = 0;
  vu8: Uint8Array = new Uint8Array(0);
  vs = 0;
  ve = 0;
  id = 0;
}

const iter = new HashIter();

function iterStart(h: HashIter, ks: Keyspace, rec: number): void {
  h.a = ks.arena;
  h.enc = ks.encoding(rec);
  h.v = ks.valueWord(rec);
  if (h.enc === ENC_LISTPACK) {
    h.pos = LP_HEADER;
    h.end = lpBytes(h.a, h.v);
  } else {
    adictIterStart(h.it, h.a, h.v);
  }
}

/** Load the listpack pair at position pos. */
function loadListpackPair(h: HashIter, pos: number): void {
  lpDecode(h.a, h.v, pos);
  h.id = pos;
  h.fu8 = lpEntry.u8;
  h.fs = lpEntry.start;
  h.fe = lpEntry.end;
  lpDecode(h.a, h.v, lpEntry.next);
  h.vu8 = lpEntry.u8;
  h.vs = lpEntry.start;
  h.ve = lpEntry.end;
  h.pos = lpEntry.next;
}

function loadEntry(h: HashIter, e: number): void {
  const a = h.a, u8 = a.u8[e >>> ADDR_OFFSET_BITS]!;
  h.id = e;
  h.fu8 = u8;
  h.fs = adictKeyStart(a, h.v, e);
  h.fe = h.fs + adictKeyLen(a, e);
  h.vu8 = u8;
  h.vs = adictValueStart(a, e);
  h.ve = h.vs + adictValueLen(a, e);
}

function iterNext(h: HashIter): boolean {
  if (h.enc === ENC_LISTPACK) {
    if (h.pos >= h.end) return false;
    loadListpackPair(h, h.pos);
    return true;
  }
  const e = adictIterNext(h.it);
  if (e === 0) return false;
  loadEntry(h, e);
  return true;
}

// ---- keys -------------------------------------------------------------------------------

/** Look up argv[1] as a hash: the record, 0 when missing, -1 after a WRONGTYPE reply. */
function lookupHash(c: ExecContext, ks: Keyspace): number {
  const rec = ks.lookup(c.db, c.buf, c.argStart[1], c.argEnd[1], c.now);
  if (rec === 0) return 0;
  if (ks.type(rec) !== TYPE_HASH) {
    c.w.error(ERR_WRONGTYPE);
    return -1;
  }
  return rec;
}

/** lookupKeyReadOrReply() for argv[1] as a hash: lookupHash plus the "keymiss" event. */
function lookupHashRead(c: ExecContext, ks: Keyspace): number {
  const rec = lookupHash(c, ks);
  if (rec === 0) notifyMiss(c, 1);
  return rec;
}

/** hashTypeLookupWriteOrCreate(): the record, created empty when missing; -1 after WRONGTYPE. */
function lookupWriteOrCreate(c: ExecContext, ks: Keyspace): number {
  const rec = lookupHash(c, ks);
  if (rec !== 0) return rec;
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const n = ks.newRecord(ks.hash(b, s, e), TYPE_HASH, ENC_LISTPACK, b, s, e, lpNew(ks.arena), -1, c.now);
  ks.link(c.db, n);
  notifyNew(c, 1);
  return n;
}

function keyspaceOf(c: ExecContext): Keyspace {
  return c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
}

// ---- HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN HEXISTS ------------------------------

function hsetCommand(c: ExecContext, hmset: boolean): void {
  if ((c.argc & 1) === 1) {
    c.w.error(hmset ? "ERR wrong number of arguments for 'hmset' command"
      : "ERR wrong number of arguments for 'hset' command");
    return;
  }
  const ks = keyspaceOf(c);
  const rec = lookupWriteOrCreate(c, ks);
  if (rec < 0) return;
  tryConversion(c, ks, rec, 2, c.argc - 1);
  const b = c.buf;
  let created = 0;
  for (let i = 2; i < c.argc; i += 2) {
    created += 1 - hashSet(ks, rec, b, c.argStart[i], c.argEnd[i], b, c.argStart[i + 1], c.argEnd[i + 1]);
  }
  c.dirty += (c.argc - 2) >>> 1;
  c.notifyArg(NOTIFY_HASH, 'hset', 1);
  if (hmset) c.w.ok();
  else c.w.integer(created);
}

function hsetnxCommand(c: ExecContext): void {
  const ks = keyspaceOf(c);
  const rec = lookupWriteOrCreate(c, ks);
  if (rec < 0) return;
  const b = c.buf;
  if (hashGet(ks, rec, b, c.argStart[2], c.argEnd[2])) return c.w.integer(0);
  tryConversion(c, ks, rec, 2, 3);
  hashSet(ks, rec, b, c.argStart[2], c.argEnd[2], b, c.argStart[3], c.argEnd[3]);
  c.dirty++;
  c.notifyArg(NOTIFY_HASH, 'hset', 1);
  c.w.integer(1);
}

function hgetCommand(c: ExecContext): void {
  const ks = keyspaceOf(c);
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  if (rec === 0 || !hashGet(ks, rec, c.buf, c.argStart[2], c.argEnd[2])) return c.w.nullBulk();
  c.w.bulk(hv.u8, hv.s, hv.e);
}

function hmgetCommand(c: ExecContext): void {
  const ks = keyspaceOf(c);
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  c.w.arrayHeader(c.argc - 2);
  for (let i = 2; i < c.argc; i++) {
    if (rec !== 0 && hashGet(ks, rec, c.buf, c.argStart[i], c.argEnd[i])) c.w.bulk(hv.u8, hv.s, hv.e);
    else c.w.nullBulk();
  }
}

function hdelCommand(c: ExecContext): void {
  const ks = keyspaceOf(c);
  const rec = lookupHash(c, ks);
  if (rec < 0) return;
  if (rec === 0) return c.w.integer(0);
  let deleted = 0, keyremoved = false;
  for (let i = 2; i < c.argc; i++) {
    if (hashDelete(ks, rec, c.buf, c.argStart[i], c.argEnd[i])) {
      deleted++;
      if (hashLen(ks, rec) === 0) {
        ks.deleteFound(c.db, rec);
        keyremoved = true;
        break;
      }
    }
  }
  c.dirty += deleted;
  if (deleted !== 0) {
    c.notifyArg(NOTIFY_HASH, 'hdel', 1);
    if (keyremoved) notifyDel(c, 1);
  }
  c.w.integer(deleted);
}

function hlenCommand(c: ExecContext): void {
  const ks = keyspaceOf(c);
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  c.w.integer(rec === 0 ? 0 : hashLen(ks, rec));
}

function hstrlenCommand(c: ExecContext): void {
  const ks = keyspaceOf(c);
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  c.w.integer(rec !== 0 && hashGet(ks, rec, c.buf, c.argStart[2], c.argEnd[2]) ? hv.e - hv.s : 0);
}

function hexistsCommand(c: ExecContext): void {
  const ks = keyspaceOf(c);
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  c.w.integer(rec !== 0 && hashGet(ks, rec, c.buf, c.argStart[2], c.argEnd[2]) ? 1 : 0);
}

// ---- HKEYS HVALS HGETALL ----------------------------------------------------------------

const WANT_KEYS = 1;
const WANT_VALUES = 2;

function getallGeneric(c: ExecContext, what: number): void {
  const ks = keyspaceOf(c);
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  const w = c.w;
  const n = rec === 0 ? 0 : hashLen(ks, rec);
  if (what === (WANT_KEYS | WANT_VALUES)) w.mapHeader(n);
  else w.arrayHeader(n);
  if (rec === 0) return;
  iterStart(iter, ks, rec);
  while (iterNext(iter)) {
    if (what & WANT_KEYS) w.bulk(iter.fu8, iter.fs, iter.fe);
    if (what & WANT_VALUES) w.bulk(iter.vu8, iter.vs, iter.ve);
  }
}

// ---- HINCRBY HINCRBYFLOAT ---------------------------------------------------------------

/** Digits of HINCRBY/HINCRBYFLOAT results (ld2string output fits MAX_LONG_DOUBLE_CHARS). */
const digits = Buffer.allocUnsafe(MAX_LONG_DOUBLE_CHARS);

function hincrbyCommand(c: ExecContext): void {
  const b = c.buf;
  if (!parseInt64(b, c.argStart[3], c.argEnd[3])) return c.w.error(ERR_NOT_INTEGER);
  const incr = parsed.int, incrBig = parsed.isBig ? parsed.big : null;
  const ks = keyspaceOf(c);
  const rec = lookupWriteOrCreate(c, ks);
  if (rec < 0) return;
  let value = 0;
  let valueBig: bigint | null = null;
  if (hashGet(ks, rec, b, c.argStart[2], c.argEnd[2])) {
    if (!parseInt64(hv.u8, hv.s, hv.e)) return c.w.error('ERR hash value is not an integer');
    value = parsed.int;
    if (parsed.isBig) valueBig = parsed.big;
  }
  let len: number, result = 0;
  let resultBig: bigint | null = null;
  if (valueBig === null && incrBig === null && Math.abs(result = value + incr) <= MAX_SAFE) {
    len = writeInt(digits, 0, result);
  } else {
    const r = (valueBig ?? BigInt(value)) + (incrBig ?? BigInt(incr));
    if (r > LLONG_MAX || r < LLONG_MIN) return c.w.error(ERR_OVERFLOW);
    resultBig = r;
    len = writeBigInt(digits, 0, r);
  }
  hashSet(ks, rec, b, c.argStart[2], c.argEnd[2], digits, 0, len);
  c.dirty++;
  c.notifyArg(NOTIFY_HASH, 'hincrby', 1);
  if (resultBig === null) c.w.integer(result);
  else c.w.bigInteger(resultBig);
}

const ldIncr = new LongDouble();
const ldValue = new LongDouble();

function hincrbyfloatCommand(c: ExecContext): void {
  const b = c.buf;
  if (!string2ld(b, c.argStart[3], c.argEnd[3], ldIncr)) return c.w.error(ERR_NOT_FLOAT);
  if (!ldIncr.isFinite()) return c.w.error('ERR value is NaN or Infinity');
  const ks = keyspaceOf(c);
  const rec = lookupWriteOrCreate(c, ks);
  if (rec < 0) return;
  if (hashGet(ks, rec, b, c.argStart[2], c.argEnd[2])) {
    if (!string2ld(hv.u8, hv.s, hv.e, ldValue)) return c.w.error('ERR hash value is not a float');
  } else {
    ldValue.cls = LD_ZERO;
    ldValue.neg = false;
  }
  ldAdd(ldValue, ldIncr, ldValue);
  if (!ldValue.isFinite()) return c.w.error('ERR increment would produce NaN or Infinity');
  const text = ld2stringHuman(ldValue);
  const len = digits.write(text, 0, 'latin1');
  hashSet(ks, rec, b, c.argStart[2], c.argEnd[2], digits, 0, len);
  c.dirty++;
  c.notifyArg(NOTIFY_HASH, 'hincrbyfloat', 1);
  c.w.bulk(digits, 0, len);
  // Replicated as HSET of the value it produced, so float formatting can never diverge.
  if (c.propagating) c.propagate(['HSET', c.argView(1), c.argView(2), text]);
}

// ---- HRANDFIELD -------------------------------------------------------------------------

/** How much bigger than the count the hash must be for sampling by random picks. */
const HRANDFIELD_SUB_STRATEGY_MUL = 3;

/** Positions of a listpack's fields, for O(1) random picks (grown, reused). */
let positions = new Int32Array(256);

function listpackPositions(a: Arena, lp: number): number {
  const n = lpCount(a, lp) >>> 1;
  if (positions.length < n) positions = new Int32Array(Math.max(n, positions.length * 2));
  let p = LP_HEADER;
  for (let i = 0; i < n; i++) {
    positions[i] = p;
    lpDecode(a, lp, p);
    lpDecode(a, lp, lpEntry.next);
    p = lpEntry.next;
  }
  return n;
}

/** A random pair into `iter` (iterStart must have bound it; listpackPositions run). */
function randomPair(h: HashIter, n: number): void {
  if (h.enc === ENC_LISTPACK) loadListpackPair(h, positions[Math.floor(Math.random() * n)]);
  else loadEntry(h, adictRandom(h.a, h.v));
}

function replyPair(c: ExecContext, h: HashIter, withvalues: boolean): void {
  const w = c.w;
  if (withvalues && w.resp === 3) w.arrayHeader(2);
  w.bulk(h.fu8, h.fs, h.fe);
  if (withvalues) w.bulk(h.vu8, h.vs, h.ve);
}

const idKey = new Uint8Array(4);

function hrandfieldCommand(c: ExecContext): void {
  const w = c.w;
  const ks = keyspaceOf(c);
  if (c.argc === 2) {
    const rec = lookupHashRead(c, ks);
    if (rec < 0) return;
    if (rec === 0) return w.nullBulk();
    iterStart(iter, ks, rec);
    randomPair(iter, iter.enc === ENC_LISTPACK ? listpackPositions(iter.a, iter.v) : 0);
    return w.bulk(iter.fu8, iter.fs, iter.fe);
  }
  if (!parseInt64(c.buf, c.argStart[2], c.argEnd[2])) return w.error(ERR_NOT_INTEGER);
  if (parsed.isBig && parsed.big === LLONG_MIN) return w.error(ERR_RANGE_LONG);
  const l = parsed.int, lBig = parsed.isBig ? parsed.big : 0n;
  let withvalues = false;
  if (c.argc > 4 || (c.argc === 4 && !withvaluesArg(c))) {
    return w.error(ERR_SYNTAX);
  }
  if (c.argc === 4) {
    withvalues = true;
    if (lBig > HALF_LONG_MAX || lBig < -HALF_LONG_MAX) return w.error('ERR value is out of range');
  }
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  if (rec === 0) return w.arrayHeader(0);
  const uniq = l >= 0;
  let count = uniq ? l : -l;
  if (count === 0) return w.arrayHeader(0);
  const size = hashLen(ks, rec);
  iterStart(iter, ks, rec);
  if (!uniq || count === 1) {
    // CASE 1: independent picks.
    w.arrayHeader(withvalues && w.resp === 2 ? count * 2 : count);
    const n = iter.enc === ENC_LISTPACK ? listpackPositions(iter.a, iter.v) : 0;
    while (count-- > 0) {
      randomPair(iter, n);
      replyPair(c, iter, withvalues);
    }
    return;
  }
  const replySize = count < size ? count : size;
  w.arrayHeader(withvalues && w.resp === 2 ? replySize * 2 : replySize);
  if (count >= size) {
    // CASE 2: the whole hash.
    while (iterNext(iter)) replyPair(c, iter, withvalues);
    return;
  }
  if (count * HRANDFIELD_SUB_STRATEGY_MUL > size) {
    // CASE 3: selection sampling over the pairs.
    let left = size;
    while (count > 0 && iterNext(iter)) {
      if (Math.random() * left < count) {
        replyPair(c, iter, withvalues);
        count--;
      }
      left--;
    }
    return;
  }
  // CASE 4: random picks, made unique through a temporary dict of pair ids.
  const n = iter.enc === ENC_LISTPACK ? listpackPositions(iter.a, iter.v) : 0;
  const a = ks.arena;
  const seen = adictCreate(a, false, count);
  while (count > 0) {
    randomPair(iter, n);
    const id = iter.id;
    idKey[0] = id & 0xff;
    idKey[1] = (id >>> 8) & 0xff;
    idKey[2] = (id >>> 16) & 0xff;
    idKey[3] = id >>> 24;
    if (adictFind(a, seen, idKey, 0, 4) !== 0) continue;
    adictInsert(a, seen, idKey, 0, 4, null, 0, 0);
    replyPair(c, iter, withvalues);
    count--;
  }
  adictFree(a, seen);
}

/** strcasecmp(argv[3], "withvalues") == 0 (C string compare: stops at a NUL). */
function withvaluesArg(c: ExecContext): boolean {
  const s = c.argStart[3];
  if (cstrLen(c, 3) !== 10) return false;
  const word = 'withvalues';
  for (let k = 0; k < 10; k++) if ((c.buf[s + k] | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}

// ---- HSCAN ------------------------------------------------------------------------------

const scanFound: number[] = [];
function collectEntry(e: number): void {
  scanFound.push(e);
}

function hscanCommand(c: ExecContext): void {
  if (!parseScanCursor(c, 2)) return;
  const ks = keyspaceOf(c);
  const rec = lookupHashRead(c, ks);
  if (rec < 0) return;
  if (rec === 0) return replyEmptyScan(c);
  if (!parseScanOptions(c, 3)) return;
  const w = c.w;
  iterStart(iter, ks, rec);
  if (iter.enc === ENC_LISTPACK) {
    // Small encodings are returned whole, cursor 0.
    w.arrayHeader(2);
    w.bulkInteger(0);
    const start = w.len;
    let n = 0;
    while (iterNext(iter)) {
      if (!scanMatches(c, iter.fu8, iter.fs, iter.fe)) continue;
      w.bulk(iter.fu8, iter.fs, iter.fe);
      w.bulk(iter.vu8, iter.vs, iter.ve);
      n += 2;
    }
    deferredHeader(w, start, 0x2a, n);
    return;
  }
  let cursor = scanArgs.cursor;
  let maxIterations = scanArgs.count * 10;
  scanFound.length = 0;
  do {
    cursor = adictScan(iter.a, iter.v, cursor, collectEntry);
    // Redis counts fields and values both against COUNT.
  } while (cursor !== 0 && maxIterations-- > 0 && scanFound.length * 2 < scanArgs.count);
  w.arrayHeader(2);
  w.bulkInteger(cursor);
  const start = w.len;
  let n = 0;
  for (let k = 0; k < scanFound.length; k++) {
    loadEntry(iter, scanFound[k]);
    if (!scanMatches(c, iter.fu8, iter.fs, iter.fe)) continue;
    w.bulk(iter.fu8, iter.fs, iter.fe);
    w.bulk(iter.vu8, iter.vs, iter.ve);
    n += 2;
  }
  scanFound.length = 0;
  deferredHeader(w, start, 0x2a, n);
}

// ---- value lifecycle --------------------------------------------------------------------

Keyspace.valueFreers[TYPE_HASH] = (ks, rec) => {
  const v = ks.valueWord(rec);
  if (v === 0) return;
  const a = ks.arena;
  if (ks.encoding(rec) === ENC_LISTPACK) lpFree(a, v);
  else if (adictSize(a, v) > LAZYFREE_THRESHOLD) ks.lazyFree(TYPE_HASH, v);
  else adictFree(a, v);
};
// Only hashtable-encoded hashes are queued.
Keyspace.valueStepFreers[TYPE_HASH] = (ks, v, deadline) => adictFreeStep(ks.arena, v, deadline);
valueCloners[TYPE_HASH] = (from, src, to) => {
  const v = from.valueWord(src);
  return from.encoding(src) === ENC_LISTPACK ? lpClone(from.arena, v, to.arena) : adictClone(from.arena, v, to.arena);
};

// ---- registration -----------------------------------------------------------------------

defineCommand('hset', (c) => hsetCommand(c, false));
defineCommand('hmset', (c) => hsetCommand(c, true));
defineCommand('hsetnx', hsetnxCommand);
defineCommand('hget', hgetCommand);
defineCommand('hmget', hmgetCommand);
defineCommand('hdel', hdelCommand);
defineCommand('hlen', hlenCommand);
defineCommand('hstrlen', hstrlenCommand);
defineCommand('hexists', hexistsCommand);
defineCommand('hkeys', (c) => getallGeneric(c, WANT_KEYS));
defineCommand('hvals', (c) => getallGeneric(c, WANT_VALUES));
defineCommand('hgetall', (c) => getallGeneric(c, WANT_KEYS | WANT_VALUES));
defineCommand('hincrby', hincrbyCommand);
defineCommand('hincrbyfloat', hincrbyfloatCommand);
defineCommand('hrandfield', hrandfieldCommand);
defineCommand('hscan', hscanCommand);

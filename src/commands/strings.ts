/**
 * String commands (Redis 7.0 src/t_string.c): GET SET SETNX SETEX PSETEX GETEX GETDEL
 * GETSET MGET MSET MSETNX APPEND STRLEN GETRANGE SUBSTR SETRANGE INCR DECR INCRBY
 * DECRBY INCRBYFLOAT LCS.
 *
 * Values are stored as bytes inline in the key record; the record's encoding nibble
 * mirrors what Redis would report for the same value (tryObjectEncoding: "int" for
 * string2l-valid values up to 20 bytes, "embstr" up to 44 bytes, else "raw"; APPEND and
 * SETRANGE leave "raw"; the INCR family "int"), so OBJECT ENCODING matches.
 * GET, SET, INCR, MGET and MSET allocate nothing per command.
 */
import type { Keyspace } from '../store/keyspace';
import { copyBytes } from '../store/bytes';
import { ENC_EMBSTR, ENC_INT, ENC_RAW, EMBSTR_LIMIT, TYPE_STRING } from '../../native-layout/record';
import {
  ERR_NAN_OR_INF, INCRBYFLOAT_NOT_FLOAT, INCRBYFLOAT_OK, incrByFloat, incrResult, parseInt64, parsed, writeBigInt,
  writeInt,
} from '../util/numbers';
import {
  ERR_NOT_FLOAT, ERR_NOT_INTEGER, ERR_OVERFLOW, ERR_SYNTAX, ERR_WRONGTYPE, ExecContext, NOTIFY_GENERIC, NOTIFY_STRING,
  PropagatedArgv, defineCommand,
} from './context';
import { notifyDel, notifyMiss, notifyNew, willAdd } from './keys';
import {
  ExpireTime, optIs, parseSetExpire, patchExpireWords, readExpire, resizeStringKeepingExpire, setExpireExact, when,
} from './expire';

/** proto-max-bulk-len default: the largest string SETRANGE/APPEND may build. */
export const PROTO_MAX_BULK_LEN = 512 * 1024 * 1024;
const ERR_STRING_TOO_LONG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)';

const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
const MAX_SAFE = 9007199254740991;

/** Digits of an integer result before it is stored (INCR family). */
const scratch = Buffer.allocUnsafe(32);

// ---- helpers ----------------------------------------------------------------------------

/** tryObjectEncoding(): a stored value that string2l accepts (<= 20 bytes) is "int". */
function markIntEncoding(ks: Keyspace, addr: number, buf: Uint8Array, s: number, e: number): void {
  if (e - s <= 20 && parseInt64(buf, s, e)) ks.setEncoding(addr, ENC_INT);
}

/** Store argv[valIdx] under argv[keyIdx] (setKey): no expiry unless given, encoding as Redis. */
function storeArg(c: ExecContext, ks: Keyspace, keyIdx: number, valIdx: number, expireMs: number, keepTtl: boolean): number {
  const b = c.buf, vs = c.argStart[valIdx], ve = c.argEnd[valIdx];
  const addr = ks.setString(c.db, b, c.argStart[keyIdx], c.argEnd[keyIdx], b, vs, ve, expireMs, keepTtl, c.now);
  markIntEncoding(ks, addr, b, vs, ve);
  return addr;
}

/** getGenericCommand(): reply the value of argv[1] or nil; false after a WRONGTYPE error. */
function getGeneric(c: ExecContext): boolean {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const addr = ks.lookup(c.db, b, s, e, c.now);
  if (addr === 0) {
    notifyMiss(c, 1);
    c.w.nullBulk();
    return true;
  }
  if (ks.type(addr) !== TYPE_STRING) {
    c.w.error(ERR_WRONGTYPE);
    return false;
  }
  const vo = ks.valueOffset(addr);
  c.w.bulk(ks.u8(addr), vo, vo + ks.valueWord(addr));
  return true;
}

// ---- GET SET and friends -----------------------------------------------------------------

const OBJ_SET_NX = 1 << 0;
const OBJ_SET_XX = 1 << 1;
const OBJ_EX = 1 << 2;
const OBJ_PX = 1 << 3;
const OBJ_KEEPTTL = 1 << 4;
const OBJ_SET_GET = 1 << 5;
const OBJ_EXAT = 1 << 6;
const OBJ_PXAT = 1 << 7;
const OBJ_PERSIST = 1 << 8;
const ANY_EXPIRE = OBJ_EX | OBJ_PX | OBJ_EXAT | OBJ_PXAT;

/** KEEPTTL's old expiry, to restore exactly beyond 2^53. */
const keptExpire = new ExpireTime();

const REPLY_OK = 0, REPLY_ONE = 1, REPLY_ZERO = 2, REPLY_NULL = 3;

function reply(c: ExecContext, kind: number): void {
  if (kind === REPLY_OK) c.w.ok();
  else if (kind === REPLY_ONE) c.w.integer(1);
  else if (kind === REPLY_ZERO) c.w.integer(0);
  else c.w.nullBulk();
}

// Output of parseExtendedStringArguments (one command at a time per thread).
let optFlags = 0;
let optExpireIdx = -1;

/**
 * parseExtendedStringArgumentsOrReply(): SET options from argv[3], GETEX options from
 * argv[2]. Sets optFlags/optExpireIdx; false after replying a syntax error.
 */
function parseExtendedStringArguments(c: ExecContext, isSet: boolean): boolean {
  let flags = 0, expireIdx = -1;
  for (let j = isSet ? 3 : 2; j < c.argc; j++) {
    const hasNext = j !== c.argc - 1;
    if (isSet && optIs(c, j, 'nx') && (flags & OBJ_SET_XX) === 0) {
      flags |= OBJ_SET_NX;
    } else if (isSet && optIs(c, j, 'xx') && (flags & OBJ_SET_NX) === 0) {
      flags |= OBJ_SET_XX;
    } else if (isSet && optIs(c, j, 'get')) {
      flags |= OBJ_SET_GET;
    } else if (isSet && optIs(c, j, 'keepttl') && (flags & (OBJ_PERSIST | ANY_EXPIRE)) === 0) {
      flags |= OBJ_KEEPTTL;
    } else if (!isSet && optIs(c, j, 'persist') && (flags & (ANY_EXPIRE | OBJ_KEEPTTL)) === 0) {
      flags |= OBJ_PERSIST;
    } else if (optIs(c, j, 'ex') && hasNext
      && (flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EXAT | OBJ_PX | OBJ_PXAT)) === 0) {
      flags |= OBJ_EX;
      expireIdx = ++j;
    } else if (optIs(c, j, 'px') && hasNext
      && (flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PXAT)) === 0) {
      flags |= OBJ_PX;
      expireIdx = ++j;
    } else if (optIs(c, j, 'exat') && hasNext
      && (flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_PX | OBJ_PXAT)) === 0) {
      flags |= OBJ_EXAT;
      expireIdx = ++j;
    } else if (optIs(c, j, 'pxat') && hasNext
      && (flags & (OBJ_KEEPTTL | OBJ_PERSIST | OBJ_EX | OBJ_EXAT | OBJ_PX)) === 0) {
      flags |= OBJ_PXAT;
      expireIdx = ++j;
    } else {
      c.w.error(ERR_SYNTAX);
      return false;
    }
  }
  optFlags = flags;
  optExpireIdx = expireIdx;
  return true;
}

/**
 * setGenericCommand(): argv[1] = argv[valIdx], with the expire in argv[expireIdx] (-1:
 * none) in seconds (EX/EXAT) or ms, relative for EX/PX.
 */
function setGeneric(c: ExecContext, flags: number, valIdx: number, expireIdx: number,
  okReply: number, abortReply: number, name: string): void {
  if (expireIdx >= 0
    && !parseSetExpire(c, expireIdx, (flags & (OBJ_EX | OBJ_EXAT)) !== 0, (flags & (OBJ_EX | OBJ_PX)) !== 0, name)) {
    return;
  }
  if ((flags & OBJ_SET_GET) !== 0 && !getGeneric(c)) return;
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  // lookupKeyWrite() also drops an expired key, which KEEPTTL must not inherit.
  keptExpire.setNumber(-1);
  if ((flags & (OBJ_SET_NX | OBJ_SET_XX | OBJ_KEEPTTL)) !== 0) {
    const found = ks.lookupWrite(c.db, b, s, e, c.now);
    if (((flags & OBJ_SET_NX) !== 0 && found !== 0) || ((flags & OBJ_SET_XX) !== 0 && found === 0)) {
      if ((flags & OBJ_SET_GET) === 0) reply(c, abortReply);
      return;
    }
    if ((flags & OBJ_KEEPTTL) !== 0 && found !== 0) readExpire(ks, found, keptExpire);
  }
  const added = willAdd(c, ks, 1);
  const addr = storeArg(c, ks, 1, valIdx, expireIdx >= 0 ? when.ms : -1, (flags & OBJ_KEEPTTL) !== 0);
  // The keyspace carries times as doubles: put back the exact words beyond 2^53.
  if (expireIdx >= 0 && when.big) patchExpireWords(ks, addr, when.bigv);
  else if (keptExpire.big) patchExpireWords(ks, addr, keptExpire.bigv);
  c.dirty++;
  if (added) notifyNew(c, 1);
  c.notifyArg(NOTIFY_STRING, 'set', 1);
  if (expireIdx >= 0) c.notifyArg(NOTIFY_GENERIC, 'expire', 1);
  if ((flags & OBJ_SET_GET) === 0) reply(c, okReply);
  if (c.propagating) propagateSet(c, flags, valIdx, expireIdx);
}

/**
 * What setGenericCommand() propagates: with an expire, SET key value PXAT <abs ms> (every
 * other option dropped); with GET, the command without its GET words; else argv itself.
 */
function propagateSet(c: ExecContext, flags: number, valIdx: number, expireIdx: number): void {
  if (expireIdx >= 0) {
    c.propagate(['SET', c.argView(1), c.argView(valIdx), 'PXAT', absTime(when)]);
  } else if ((flags & OBJ_SET_GET) !== 0) {
    const argv: PropagatedArgv = [];
    for (let j = 0; j < c.argc; j++) if (j < 3 || !optIs(c, j, 'get')) argv.push(c.argView(j));
    c.propagate(argv);
  }
}

/** An absolute expiry for a propagated command: exact decimal beyond 2^53. */
function absTime(t: ExpireTime): number | string {
  return t.big ? t.bigv.toString() : t.ms;
}

function setCommand(c: ExecContext): void {
  if (c.argc === 3) {
    // Plain SET: no option parsing at all.
    const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
    const added = willAdd(c, ks, 1);
    storeArg(c, ks, 1, 2, -1, false);
    c.dirty++;
    if (added) notifyNew(c, 1);
    c.notifyArg(NOTIFY_STRING, 'set', 1);
    c.w.ok();
    return;
  }
  if (!parseExtendedStringArguments(c, true)) return;
  setGeneric(c, optFlags, 2, optExpireIdx, REPLY_OK, REPLY_NULL, 'set');
}

function getexCommand(c: ExecContext): void {
  if (!parseExtendedStringArguments(c, false)) return;
  const flags = optFlags, expireIdx = optExpireIdx;
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const addr = ks.lookup(c.db, b, s, e, c.now);
  if (addr === 0) {
    notifyMiss(c, 1);
    return c.w.nullBulk();
  }
  if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
  // The expire is validated only once the key is known to exist, as Redis does.
  if (expireIdx >= 0
    && !parseSetExpire(c, expireIdx, (flags & (OBJ_EX | OBJ_EXAT)) !== 0, (flags & (OBJ_EX | OBJ_PX)) !== 0, 'getex')) {
    return;
  }
  const vo = ks.valueOffset(addr);
  c.w.bulk(ks.u8(addr), vo, vo + ks.valueWord(addr));
  // GETEX is never propagated as is: DEL, PEXPIREAT or PERSIST (getexCommand).
  if ((flags & (OBJ_EXAT | OBJ_PXAT)) !== 0 && !when.big && when.ms <= c.now) {
    ks.deleteFound(c.db, addr);
    c.dirty++;
    notifyDel(c, 1);
    if (c.propagating) c.propagate(['DEL', c.argView(1)]);
  } else if (expireIdx >= 0) {
    setExpireExact(ks, c.db, addr, when);
    c.dirty++;
    c.notifyArg(NOTIFY_GENERIC, 'expire', 1);
    if (c.propagating) c.propagate(['PEXPIREAT', c.argView(1), absTime(when)]);
  } else if ((flags & OBJ_PERSIST) !== 0 && ks.hasExpire(addr)) {
    ks.setExpireFound(c.db, addr, -1);
    c.dirty++;
    c.notifyArg(NOTIFY_GENERIC, 'persist', 1);
    if (c.propagating) c.propagate(['PERSIST', c.argView(1)]);
  }
}

function getdelCommand(c: ExecContext): void {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const addr = ks.lookup(c.db, b, s, e, c.now);
  if (addr === 0) {
    notifyMiss(c, 1);
    return c.w.nullBulk();
  }
  if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
  const vo = ks.valueOffset(addr);
  c.w.bulk(ks.u8(addr), vo, vo + ks.valueWord(addr));
  ks.deleteFound(c.db, addr);
  c.dirty++;
  notifyDel(c, 1);
  if (c.propagating) c.propagate(['DEL', c.argView(1)]);
}

function getsetCommand(c: ExecContext): void {
  if (!getGeneric(c)) return;
  const ks = c.store.ks(c.buf, c.argStart[1], c.argEnd[1]);
  const added = willAdd(c, ks, 1);
  storeArg(c, ks, 1, 2, -1, false);
  c.dirty++;
  if (added) notifyNew(c, 1);
  c.notifyArg(NOTIFY_STRING, 'set', 1);
  if (c.propagating) c.propagate(['SET', c.argView(1), c.argView(2)]);
}

function mgetCommand(c: ExecContext): void {
  const b = c.buf, w = c.w;
  w.arrayHeader(c.argc - 1);
  for (let j = 1; j < c.argc; j++) {
    const s = c.argStart[j], e = c.argEnd[j];
    const ks = c.store.ks(b, s, e);
    const addr = ks.lookup(c.db, b, s, e, c.now);
    if (addr === 0 || ks.type(addr) !== TYPE_STRING) {
      if (addr === 0) notifyMiss(c, j);
      w.nullBulk();
    } else {
      const vo = ks.valueOffset(addr);
      w.bulk(ks.u8(addr), vo, vo + ks.valueWord(addr));
    }
  }
}

function msetGeneric(c: ExecContext, nx: boolean): void {
  if ((c.argc & 1) === 0) {
    c.w.error(nx ? "ERR wrong number of arguments for 'msetnx' command" : "ERR wrong number of arguments for 'mset' command");
    return;
  }
  const b = c.buf;
  if (nx) {
    for (let j = 1; j < c.argc; j += 2) {
      const s = c.argStart[j], e = c.argEnd[j];
      if (c.store.ks(b, s, e).lookup(c.db, b, s, e, c.now) !== 0) {
        c.w.integer(0);
        return;
      }
    }
  }
  for (let j = 1; j < c.argc; j += 2) {
    const ks = c.store.ks(b, c.argStart[j], c.argEnd[j]);
    const added = willAdd(c, ks, j);
    storeArg(c, ks, j, j + 1, -1, false);
    if (added) notifyNew(c, j);
    c.notifyArg(NOTIFY_STRING, 'set', j);
  }
  c.dirty += (c.argc - 1) >>> 1;
  if (nx) c.w.integer(1);
  else c.w.ok();
}

// ---- APPEND STRLEN GETRANGE SETRANGE -----------------------------------------------------

function appendCommand(c: ExecContext): void {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const as = c.argStart[2], ae = c.argEnd[2];
  const ks = c.store.ks(b, s, e);
  let addr = ks.lookup(c.db, b, s, e, c.now);
  let total: number;
  if (addr === 0) {
    storeArg(c, ks, 1, 2, -1, false);
    notifyNew(c, 1);
    total = ae - as;
  } else {
    if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
    const old = ks.valueWord(addr);
    total = old + (ae - as);
    if (total > PROTO_MAX_BULK_LEN) return c.w.error(ERR_STRING_TOO_LONG);
    addr = resizeStringKeepingExpire(ks, c.db, addr, total);
    copyBytes(b, as, ae, ks.u8(addr), ks.valueOffset(addr) + old);
    ks.setEncoding(addr, ENC_RAW);
  }
  c.dirty++;
  c.notifyArg(NOTIFY_STRING, 'append', 1);
  c.w.integer(total);
}

function strlenCommand(c: ExecContext): void {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const addr = ks.lookup(c.db, b, s, e, c.now);
  if (addr === 0) {
    notifyMiss(c, 1);
    return c.w.integer(0);
  }
  if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
  c.w.integer(ks.valueWord(addr));
}

function getrangeCommand(c: ExecContext): void {
  const b = c.buf;
  if (!parseInt64(b, c.argStart[2], c.argEnd[2])) return c.w.error(ERR_NOT_INTEGER);
  let start = parsed.int;
  const startBig = parsed.isBig ? parsed.big : null;
  if (!parseInt64(b, c.argStart[3], c.argEnd[3])) return c.w.error(ERR_NOT_INTEGER);
  let end = parsed.int;
  const endBig = parsed.isBig ? parsed.big : null;
  const s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const addr = ks.lookup(c.db, b, s, e, c.now);
  if (addr === 0) {
    notifyMiss(c, 1);
    return c.w.bulk(b, 0, 0);
  }
  if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
  const strlen = ks.valueWord(addr);
  // "start > end" on the raw int64 values must be exact even beyond 2^53.
  const startGtEnd = startBig === null && endBig === null ? start > end
    : (startBig ?? BigInt(start)) > (endBig ?? BigInt(end));
  if (start < 0 && end < 0 && startGtEnd) return c.w.bulk(b, 0, 0);
  if (start < 0) start = strlen + start;
  if (end < 0) end = strlen + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= strlen) end = strlen - 1;
  if (start > end || strlen === 0) return c.w.bulk(b, 0, 0);
  const vo = ks.valueOffset(addr);
  c.w.bulk(ks.u8(addr), vo + start, vo + end + 1);
}

function setrangeCommand(c: ExecContext): void {
  const b = c.buf;
  if (!parseInt64(b, c.argStart[2], c.argEnd[2])) return c.w.error(ERR_NOT_INTEGER);
  // Offsets beyond 2^53 can only fail the size check: keep them as "huge".
  const offset = parsed.isBig ? (parsed.big < 0n ? -1 : Infinity) : parsed.int;
  if (offset < 0) return c.w.error('ERR offset is out of range');
  const vs = c.argStart[3], ve = c.argEnd[3], vlen = ve - vs;
  const s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  let addr = ks.lookup(c.db, b, s, e, c.now);
  let len: number;
  if (addr === 0) {
    // Setting nothing on a missing key creates nothing.
    if (vlen === 0) return c.w.integer(0);
    if (offset + vlen > PROTO_MAX_BULK_LEN) return c.w.error(ERR_STRING_TOO_LONG);
    len = offset + vlen;
    addr = ks.newRecord(ks.hash(b, s, e), TYPE_STRING, ENC_RAW, b, s, e, len, -1, c.now);
    const u8 = ks.u8(addr), vo = ks.valueOffset(addr);
    u8.fill(0, vo, vo + offset);
    copyBytes(b, vs, ve, u8, vo + offset);
    ks.link(c.db, addr);
    notifyNew(c, 1);
  } else {
    if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
    const old = ks.valueWord(addr);
    if (vlen === 0) return c.w.integer(old);
    if (offset + vlen > PROTO_MAX_BULK_LEN) return c.w.error(ERR_STRING_TOO_LONG);
    len = offset + vlen > old ? offset + vlen : old;
    addr = resizeStringKeepingExpire(ks, c.db, addr, len);
    const u8 = ks.u8(addr), vo = ks.valueOffset(addr);
    if (offset > old) u8.fill(0, vo + old, vo + offset);
    copyBytes(b, vs, ve, u8, vo + offset);
    ks.setEncoding(addr, ENC_RAW);
  }
  c.dirty++;
  c.notifyArg(NOTIFY_STRING, 'setrange', 1);
  c.w.integer(len);
}

// ---- INCR family ------------------------------------------------------------------------

/**
 * incrDecrCommand(): add `incr` (exact; `incrBig` when beyond 2^53) to the integer value
 * of argv[1]. The TTL is kept; the result is stored with "int" encoding.
 */
function incrDecr(c: ExecContext, incr: number, incrBig: bigint | null): void {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  let addr = ks.lookup(c.db, b, s, e, c.now);
  let value = 0;
  let valueBig: bigint | null = null;
  if (addr !== 0) {
    if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
    const vo = ks.valueOffset(addr);
    if (!parseInt64(ks.u8(addr), vo, vo + ks.valueWord(addr))) return c.w.error(ERR_NOT_INTEGER);
    value = parsed.int;
    if (parsed.isBig) valueBig = parsed.big;
  }
  let len: number;
  let result = 0;
  let resultBig: bigint | null = null;
  if (valueBig === null && incrBig === null && (result = value + incr) >= -MAX_SAFE && result <= MAX_SAFE) {
    len = writeInt(scratch, 0, result);
  } else {
    // Slow path: exact int64 arithmetic.
    const r = (valueBig ?? BigInt(value)) + (incrBig ?? BigInt(incr));
    if (r > LLONG_MAX || r < LLONG_MIN) return c.w.error(ERR_OVERFLOW);
    resultBig = r;
    len = writeBigInt(scratch, 0, r);
  }
  if (addr !== 0 && ks.overwriteStringInPlace(addr, scratch, 0, len, ENC_INT)) {
    // The common case: the new number fits the record's block.
  } else {
    if (addr !== 0) {
      addr = resizeStringKeepingExpire(ks, c.db, addr, len);
      copyBytes(scratch, 0, len, ks.u8(addr), ks.valueOffset(addr));
    } else {
      addr = ks.setString(c.db, b, s, e, scratch, 0, len, -1, false, c.now);
      notifyNew(c, 1);
    }
    ks.setEncoding(addr, ENC_INT);
  }
  c.dirty++;
  c.notifyArg(NOTIFY_STRING, 'incrby', 1);
  if (resultBig === null) c.w.integer(result);
  else c.w.bigInteger(resultBig);
}

function incrbyGeneric(c: ExecContext, negate: boolean): void {
  if (!parseInt64(c.buf, c.argStart[2], c.argEnd[2])) return c.w.error(ERR_NOT_INTEGER);
  if (!parsed.isBig) {
    incrDecr(c, negate ? -parsed.int : parsed.int, null);
    return;
  }
  if (negate && parsed.big === LLONG_MIN) return c.w.error('ERR decrement would overflow');
  const v = negate ? -parsed.big : parsed.big;
  incrDecr(c, Number(v), v);
}

function incrbyfloatCommand(c: ExecContext): void {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  let addr = ks.lookup(c.db, b, s, e, c.now);
  let status: number;
  if (addr !== 0) {
    if (ks.type(addr) !== TYPE_STRING) return c.w.error(ERR_WRONGTYPE);
    const vo = ks.valueOffset(addr);
    status = incrByFloat(ks.u8(addr), vo, vo + ks.valueWord(addr), b, c.argStart[2], c.argEnd[2]);
  } else {
    status = incrByFloat(null, 0, 0, b, c.argStart[2], c.argEnd[2]);
  }
  if (status !== INCRBYFLOAT_OK) return c.w.error(status === INCRBYFLOAT_NOT_FLOAT ? ERR_NOT_FLOAT : ERR_NAN_OR_INF);
  const text = Buffer.from(incrResult.text, 'latin1');
  const len = text.length;
  if (addr !== 0) {
    // dbReplaceValue keeps the TTL; createStringObject picks embstr/raw by length.
    addr = resizeStringKeepingExpire(ks, c.db, addr, len);
    copyBytes(text, 0, len, ks.u8(addr), ks.valueOffset(addr));
    ks.setEncoding(addr, len <= EMBSTR_LIMIT ? ENC_EMBSTR : ENC_RAW);
  } else {
    ks.setString(c.db, b, s, e, text, 0, len, -1, false, c.now);
    notifyNew(c, 1);
  }
  c.dirty++;
  c.notifyArg(NOTIFY_STRING, 'incrbyfloat', 1);
  c.w.bulk(text, 0, len);
  // Replicated as the value it produced, so float formatting can never diverge.
  if (c.propagating) c.propagate(['SET', c.argView(1), incrResult.text, 'KEEPTTL']);
}

// ---- LCS --------------------------------------------------------------------------------

function lcsCommand(c: ExecContext): void {
  const b = c.buf;
  let ua: Uint8Array = b, as = 0, alen = 0;
  let ub: Uint8Array = b, bs = 0, blen = 0;
  const ksA = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const addrA = ksA.lookup(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  const ksB = c.store.ks(b, c.argStart[2], c.argEnd[2]);
  if (addrA === 0) notifyMiss(c, 1);
  const addrB = ksB.lookup(c.db, b, c.argStart[2], c.argEnd[2], c.now);
  if (addrB === 0) notifyMiss(c, 2);
  if ((addrA !== 0 && ksA.type(addrA) !== TYPE_STRING) || (addrB !== 0 && ksB.type(addrB) !== TYPE_STRING)) {
    return c.w.error('ERR The specified keys must contain string values');
  }
  if (addrA !== 0) {
    ua = ksA.u8(addrA);
    as = ksA.valueOffset(addrA);
    alen = ksA.valueWord(addrA);
  }
  if (addrB !== 0) {
    ub = ksB.u8(addrB);
    bs = ksB.valueOffset(addrB);
    blen = ksB.valueWord(addrB);
  }
  let getlen = false, getidx = false, withmatchlen = false;
  let minmatchlen = 0;
  for (let j = 3; j < c.argc; j++) {
    const moreargs = c.argc - 1 - j;
    if (optIs(c, j, 'idx')) getidx = true;
    else if (optIs(c, j, 'len')) getlen = true;
    else if (optIs(c, j, 'withmatchlen')) withmatchlen = true;
    else if (optIs(c, j, 'minmatchlen') && moreargs > 0) {
      if (!parseInt64(b, c.argStart[j + 1], c.argEnd[j + 1])) return c.w.error(ERR_NOT_INTEGER);
      minmatchlen = parsed.int < 0 ? 0 : parsed.int;
      j++;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  if (getidx && getlen) return c.w.error('ERR If you want both the length and indexes, please just use IDX.');

  // LCS(i,j) = dp[j + i*(blen+1)]: the LCS length of a[0..i) and b[0..j).
  const cols = blen + 1;
  let dp: Uint32Array;
  try {
    dp = new Uint32Array((alen + 1) * cols);
  } catch {
    return c.w.error('ERR Insufficient memory, failed allocating transient memory for LCS');
  }
  for (let i = 1; i <= alen; i++) {
    const ai = ua[as + i - 1], row = i * cols, prev = row - cols;
    for (let j = 1; j <= blen; j++) {
      if (ai === ub[bs + j - 1]) dp[row + j] = dp[prev + j - 1] + 1;
      else {
        const l1 = dp[prev + j], l2 = dp[row + j - 1];
        dp[row + j] = l1 > l2 ? l1 : l2;
      }
    }
  }
  const lcsLen = dp[alen * cols + blen];
  let idx = lcsLen;
  const computelcs = getidx || !getlen;
  const result = computelcs ? Buffer.allocUnsafe(idx) : null;
  // Ranges to emit (IDX): [aStart, aEnd, bStart, bEnd, len] per match, in emit order.
  const ranges: number[] = [];
  let arangeStart = alen, arangeEnd = 0, brangeStart = 0, brangeEnd = 0;
  let i = alen, j = blen;
  while (computelcs && i > 0 && j > 0) {
    let emit = false;
    if (ua[as + i - 1] === ub[bs + j - 1]) {
      result![idx - 1] = ua[as + i - 1];
      if (arangeStart === alen) {
        arangeStart = i - 1;
        arangeEnd = i - 1;
        brangeStart = j - 1;
        brangeEnd = j - 1;
      } else if (arangeStart === i && brangeStart === j) {
        // Contiguous with the current range: extend it backward.
        arangeStart--;
        brangeStart--;
      } else {
        emit = true;
      }
      if (arangeStart === 0 || brangeStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      const l1 = dp[(i - 1) * cols + j], l2 = dp[i * cols + j - 1];
      if (l1 > l2) i--;
      else j--;
      if (arangeStart !== alen) emit = true;
    }
    if (emit) {
      const matchLen = arangeEnd - arangeStart + 1;
      if (getidx && (minmatchlen === 0 || matchLen >= minmatchlen)) {
        ranges.push(arangeStart, arangeEnd, brangeStart, brangeEnd, matchLen);
      }
      arangeStart = alen;
    }
  }
  const w = c.w;
  if (getidx) {
    w.mapHeader(2);
    w.bulkString('matches');
    w.arrayHeader(ranges.length / 5);
    for (let k = 0; k < ranges.length; k += 5) {
      w.arrayHeader(withmatchlen ? 3 : 2);
      w.arrayHeader(2);
      w.integer(ranges[k]);
      w.integer(ranges[k + 1]);
      w.arrayHeader(2);
      w.integer(ranges[k + 2]);
      w.integer(ranges[k + 3]);
      if (withmatchlen) w.integer(ranges[k + 4]);
    }
    w.bulkString('len');
    w.integer(lcsLen);
  } else if (getlen) {
    w.integer(idx);
  } else {
    w.bulk(result!, 0, result!.length);
  }
}

// ---- registration -----------------------------------------------------------------------

defineCommand('get', (c) => {
  getGeneric(c);
});
defineCommand('set', setCommand);
defineCommand('setnx', (c) => setGeneric(c, OBJ_SET_NX, 2, -1, REPLY_ONE, REPLY_ZERO, 'setnx'));
defineCommand('setex', (c) => setGeneric(c, OBJ_EX, 3, 2, REPLY_OK, REPLY_NULL, 'setex'));
defineCommand('psetex', (c) => setGeneric(c, OBJ_PX, 3, 2, REPLY_OK, REPLY_NULL, 'psetex'));
defineCommand('getex', getexCommand);
defineCommand('getdel', getdelCommand);
defineCommand('getset', getsetCommand);
defineCommand('mget', mgetCommand);
defineCommand('mset', (c) => msetGeneric(c, false));
defineCommand('msetnx', (c) => msetGeneric(c, true));
defineCommand('append', appendCommand);
defineCommand('strlen', strlenCommand);
defineCommand('getrange', getrangeCommand);
defineCommand('substr', getrangeCommand);
defineCommand('setrange', setrangeCommand);
defineCommand('incr', (c) => incrDecr(c, 1, null));
defineCommand('decr', (c) => incrDecr(c, -1, null));
defineCommand('incrby', (c) => incrbyGeneric(c, false));
defineCommand('decrby', (c) => incrbyGeneric(c, true));
defineCommand('incrbyfloat', incrbyfloatCommand);
defineCommand('lcs', lcsCommand);

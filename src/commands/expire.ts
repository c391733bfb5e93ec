/**
 * Key expiry commands (Redis 7.0 src/expire.c): EXPIRE PEXPIRE EXPIREAT PEXPIREAT,
 * TTL PTTL EXPIRETIME PEXPIRETIME, PERSIST; plus the expiry helpers the string
 * commands share (SET/GETEX expire arguments, exact int64 expiry times).
 *
 * Expiry times are int64 milliseconds in Redis. Everything a clock can produce fits a
 * JS double exactly; only user-supplied absolute times beyond 2^53 (PEXPIREAT k
 * 9223372036854775807) do not, and for those a BigInt slow path stores and reads the
 * record's two expiry words exactly.
 */
import { Keyspace } from '../store/keyspace';
import { R_EXPIRE_HI, R_EXPIRE_LO } from '../../native-layout/record';
import { parseInt64, parsed } from '../util/numbers';
import {
  ERR_NOT_INTEGER, ExecContext, NOTIFY_GENERIC, NOTIFY_KEY_MISS, PropagatedArgv, defineCommand,
} from './context';

const TWO32 = 4294967296;
const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
/** Largest seconds value that can be turned into ms without overflow (LLONG_MAX / 1000). */
const LLONG_MAX_DIV_1000 = 9223372036854775n;

// ---- C string views of arguments ------------------------------------------------------

/**
 * Redis compares option words with strcasecmp() on the sds, so an argument is seen up to
 * its first NUL byte ("nx\0junk" is NX). Length of argument i as a C string.
 */
export function cstrLen(c: ExecContext, i: number): number {
  const b = c.buf, s = c.argStart[i], e = c.argEnd[i];
  for (let p = s; p < e; p++) if (b[p] === 0) return p - s;
  return e - s;
}

/** strcasecmp(argv[i], lowerWord) == 0. */
export function optIs(c: ExecContext, i: number, lowerWord: string): boolean {
  const n = lowerWord.length;
  const s = c.argStart[i];
  if (c.argEnd[i] - s < n) return false;
  const b = c.buf;
  for (let k = 0; k < n; k++) if ((b[s + k] | 0x20) !== lowerWord.charCodeAt(k)) return false;
  return c.argEnd[i] === s + n || b[s + n] === 0;
}

/** Argument i as the C string Redis would print with %s (rare paths: error texts). */
export function cstrArg(c: ExecContext, i: number): string {
  const s = c.argStart[i];
  return c.buf.toString('latin1', s, s + cstrLen(c, i));
}

// ---- exact expiry times ----------------------------------------------------------------

/**
 * An int64 millisecond time: `ms` when |value| <= 2^53-1 (big = false), else the exact
 * value in `bigv` (and its nearest double in `ms`).
 */
export class ExpireTime {
  ms = 0;
  bigv = 0n;
  big = false;
  setNumber(n: number): void {
    this.ms = n;
    this.big = false;
  }
  setBig(b: bigint): void {
    if (b >= -9007199254740991n && b <= 9007199254740991n) {
      this.ms = Number(b);
      this.big = false;
    } else {
      this.bigv = b;
      this.ms = Number(b);
      this.big = true;
    }
  }
  asBig(): bigint {
    return this.big ? this.bigv : BigInt(this.ms);
  }
}

/** Parsed expire argument (SET/SETEX/GETEX/EXPIRE...): absolute ms. */
export const when = new ExpireTime();
/** A key's current expiry, read by readExpire(). */
const current = new ExpireTime();

/** Current expiry of a record into `out` (ms = -1 when none), exact beyond 2^53. */
export function readExpire(ks: Keyspace, addr: number, out: ExpireTime): void {
  if (!ks.hasExpire(addr)) {
    out.setNumber(-1);
    return;
  }
  const u32 = ks.u32(addr), w = Keyspace.off(addr) >>> 2;
  const hi = u32[w + (R_EXPIRE_HI >>> 2)], lo = u32[w + (R_EXPIRE_LO >>> 2)];
  if (hi < 0x200000) out.setNumber(hi * TWO32 + lo);
  else out.setBig((BigInt(hi) << 32n) | BigInt(lo));
}

/**
 * Give the record last found in `ks` the expiry `t` (which must be >= 0). Returns the
 * record's address (it may move when it gains an expiry field).
 */
export function setExpireExact(ks: Keyspace, db: number, addr: number, t: ExpireTime): number {
  addr = ks.setExpireFound(db, addr, t.ms);
  if (t.big) patchExpireWords(ks, addr, t.bigv);
  return addr;
}

/** Rewrite a record's expiry words with an exact value beyond 2^53 (record has HAS_EXPIRE). */
export function patchExpireWords(ks: Keyspace, addr: number, v: bigint): void {
  const u32 = ks.u32(addr), w = Keyspace.off(addr) >>> 2;
  u32[w + (R_EXPIRE_LO >>> 2)] = Number(v & 0xffffffffn);
  u32[w + (R_EXPIRE_HI >>> 2)] = Number((v >> 32n) & 0xffffffffn);
}

/**
 * resizeStringFound() keeping an expiry beyond 2^53 exact: the keyspace carries the
 * expiry over as a double when it has to move the record.
 */
export function resizeStringKeepingExpire(ks: Keyspace, db: number, addr: number, len: number): number {
  if (!ks.hasExpire(addr)) return ks.resizeStringFound(db, addr, len);
  const u32 = ks.u32(addr), w = Keyspace.off(addr) >>> 2;
  const hi = u32[w + (R_EXPIRE_HI >>> 2)], lo = u32[w + (R_EXPIRE_LO >>> 2)];
  const n = ks.resizeStringFound(db, addr, len);
  if (n !== addr && hi >= 0x200000) {
    const nu32 = ks.u32(n), nw = Keyspace.off(n) >>> 2;
    nu32[nw + (R_EXPIRE_HI >>> 2)] = hi;
    nu32[nw + (R_EXPIRE_LO >>> 2)] = lo;
  }
  return n;
}

/** addReplyErrorExpireTime(): the command's full name, lowercase. */
export function replyErrorExpireTime(c: ExecContext, name: string): void {
  c.w.error(`ERR invalid expire time in '${name}' command`);
}

/**
 * getExpireMillisecondsOrReply() of t_string.c: argument i is a positive time in seconds
 * (unitSeconds) or ms, relative to c.now when `relative`. Result in `when`. On error
 * the reply is written and false returned.
 */
export function parseSetExpire(c: ExecContext, i: number, unitSeconds: boolean, relative: boolean, name: string): boolean {
  if (!parseInt64(c.buf, c.argStart[i], c.argEnd[i])) {
    c.w.error(ERR_NOT_INTEGER);
    return false;
  }
  if (!parsed.isBig) {
    const v = parsed.int;
    if (v <= 0) {
      replyErrorExpireTime(c, name);
      return false;
    }
    const ms = (unitSeconds ? v * 1000 : v) + (relative ? c.now : 0);
    if (ms <= 9007199254740991) {
      when.setNumber(ms);
      return true;
    }
  }
  // Slow path: exact int64 arithmetic with Redis's overflow checks.
  let v = parsed.isBig ? parsed.big : BigInt(parsed.int);
  if (v <= 0n || (unitSeconds && v > LLONG_MAX_DIV_1000)) {
    replyErrorExpireTime(c, name);
    return false;
  }
  if (unitSeconds) v *= 1000n;
  if (relative) {
    v += BigInt(c.now);
    if (v > LLONG_MAX) v -= 1n << 64n; // signed overflow wraps, then fails the check below
  }
  if (v <= 0n) {
    replyErrorExpireTime(c, name);
    return false;
  }
  when.setBig(v);
  return true;
}

/** checkAlreadyExpired(): a time at or before now deletes instead of setting. */
function alreadyExpired(t: ExpireTime, now: number): boolean {
  return t.big ? t.bigv < 0n : t.ms <= now;
}

// ---- EXPIRE family ---------------------------------------------------------------------

const EXPIRE_NX = 1, EXPIRE_XX = 2, EXPIRE_GT = 4, EXPIRE_LT = 8;

/** parseExtendedExpireArgumentsOrReply(): flags, or -1 after replying an error. */
function parseExpireFlags(c: ExecContext): number {
  let flags = 0;
  for (let j = 3; j < c.argc; j++) {
    if (optIs(c, j, 'nx')) flags |= EXPIRE_NX;
    else if (optIs(c, j, 'xx')) flags |= EXPIRE_XX;
    else if (optIs(c, j, 'gt')) flags |= EXPIRE_GT;
    else if (optIs(c, j, 'lt')) flags |= EXPIRE_LT;
    else {
      c.w.error('ERR Unsupported option ' + cstrArg(c, j));
      return -1;
    }
  }
  if ((flags & EXPIRE_NX) !== 0 && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) !== 0) {
    c.w.error('ERR NX and XX, GT or LT options at the same time are not compatible');
    return -1;
  }
  if ((flags & EXPIRE_GT) !== 0 && (flags & EXPIRE_LT) !== 0) {
    c.w.error('ERR GT and LT options at the same time are not compatible');
    return -1;
  }
  return flags;
}

/** a <= b, a > b... on exact times: compare(a, b) < 0 when a < b. */
function compareTimes(a: ExpireTime, b: ExpireTime): number {
  if (!a.big && !b.big) return a.ms < b.ms ? -1 : a.ms > b.ms ? 1 : 0;
  const x = a.asBig(), y = b.asBig();
  return x < y ? -1 : x > y ? 1 : 0;
}

/** expireGenericCommand(): basetime is now (relative forms) or 0 (absolute forms). */
function expireGeneric(c: ExecContext, relative: boolean, unitSeconds: boolean, name: string): void {
  const flags = parseExpireFlags(c);
  if (flags < 0) return;
  const b = c.buf;
  if (!parseInt64(b, c.argStart[2], c.argEnd[2])) {
    c.w.error(ERR_NOT_INTEGER);
    return;
  }
  const basetime = relative ? c.now : 0;
  let fast = false;
  if (!parsed.isBig) {
    const ms = (unitSeconds ? parsed.int * 1000 : parsed.int) + basetime;
    if (ms >= -9007199254740991 && ms <= 9007199254740991) {
      when.setNumber(ms);
      fast = true;
    }
  }
  if (!fast) {
    let v = parsed.isBig ? parsed.big : BigInt(parsed.int);
    if (unitSeconds) {
      if (v > LLONG_MAX_DIV_1000 || v < -LLONG_MAX_DIV_1000) {
        replyErrorExpireTime(c, name);
        return;
      }
      v *= 1000n;
    }
    if (v > LLONG_MAX - BigInt(basetime)) {
      replyErrorExpireTime(c, name);
      return;
    }
    v += BigInt(basetime);
    if (v < LLONG_MIN) v = LLONG_MIN; // unreachable: basetime >= 0
    when.setBig(v);
  }

  const ks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const addr = ks.lookup(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  if (addr === 0) {
    c.w.integer(0);
    return;
  }
  if (flags !== 0) {
    readExpire(ks, addr, current);
    const none = !current.big && current.ms === -1;
    if ((flags & EXPIRE_NX) !== 0 && !none) return c.w.integer(0);
    if ((flags & EXPIRE_XX) !== 0 && none) return c.w.integer(0);
    // GT: no expiry counts as infinite, so GT always fails on it.
    if ((flags & EXPIRE_GT) !== 0 && (none || compareTimes(when, current) <= 0)) return c.w.integer(0);
    if ((flags & EXPIRE_LT) !== 0 && !none && compareTimes(when, current) >= 0) return c.w.integer(0);
  }
  if (alreadyExpired(when, c.now)) {
    ks.deleteFound(c.db, addr);
    c.notifyArg(NOTIFY_GENERIC, 'del', 1);
    // Replicated as an explicit DEL (UNLINK under lazyfree-lazy-expire, not supported here).
    if (c.propagating) c.propagate(['DEL', c.argView(1)]);
  } else {
    setExpireExact(ks, c.db, addr, when);
    c.notifyArg(NOTIFY_GENERIC, 'expire', 1);
    if (c.propagating && (relative || unitSeconds)) propagatePexpireat(c);
  }
  c.dirty++;
  c.w.integer(1);
}

/**
 * expireGenericCommand()'s rewrite: PEXPIREAT key <abs ms> with the NX/XX/GT/LT words kept
 * as given (PEXPIREAT itself is propagated untouched).
 */
function propagatePexpireat(c: ExecContext): void {
  const argv: PropagatedArgv = ['PEXPIREAT', c.argView(1), when.big ? when.bigv.toString() : when.ms];
  for (let j = 3; j < c.argc; j++) argv.push(c.argView(j));
  c.propagate(argv);
}

// ---- TTL family ------------------------------------------------------------------------

/** ttlGenericCommand(): -2 no key, -1 no expiry, else the TTL or the absolute time. */
function ttlGeneric(c: ExecContext, outputMs: boolean, outputAbs: boolean): void {
  const b = c.buf;
  const ks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const addr = ks.lookupNoTouch(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  if (addr === 0) {
    c.notifyArg(NOTIFY_KEY_MISS, 'keymiss', 1);
    c.w.integer(-2);
    return;
  }
  readExpire(ks, addr, current);
  if (!current.big) {
    if (current.ms === -1) {
      c.w.integer(-1);
      return;
    }
    let ttl = outputAbs ? current.ms : current.ms - c.now;
    if (ttl < 0) ttl = 0;
    c.w.integer(outputMs ? ttl : Math.floor((ttl + 500) / 1000));
    return;
  }
  let ttl = outputAbs ? current.bigv : current.bigv - BigInt(c.now);
  if (ttl < 0n) ttl = 0n;
  c.w.bigInteger(outputMs ? ttl : (ttl + 500n) / 1000n);
}

function persistCommand(c: ExecContext): void {
  const b = c.buf;
  const ks = c.store.ks(b, c.argStart[1], c.argEnd[1]);
  const addr = ks.lookup(c.db, b, c.argStart[1], c.argEnd[1], c.now);
  if (addr === 0 || !ks.hasExpire(addr)) {
    c.w.integer(0);
    return;
  }
  ks.setExpireFound(c.db, addr, -1);
  c.dirty++;
  c.notifyArg(NOTIFY_GENERIC, 'persist', 1);
  c.w.integer(1);
}

defineCommand('expire', (c) => expireGeneric(c, true, true, 'expire'));
defineCommand('pexpire', (c) => expireGeneric(c, true, false, 'pexpire'));
defineCommand('expireat', (c) => expireGeneric(c, false, true, 'expireat'));
defineCommand('pexpireat', (c) => expireGeneric(c, false, false, 'pexpireat'));
defineCommand('ttl', (c) => ttlGeneric(c, false, false));
defineCommand('pttl', (c) => ttlGeneric(c, true, false));
defineCommand('expiretime', (c) => ttlGeneric(c, false, true));
defineCommand('pexpiretime', (c) => ttlGeneric(c, true, true));
defineCommand('persist', persistCommand);

/**
 * DUMP and RESTORE (Redis 7.0 src/cluster.c dumpCommand, restoreCommand,
 * createDumpPayload, verifyDumpPayload). The payload is the value in RDB object
 * encoding (src/persistence/rdb.ts), the RDB version as 2 bytes little endian, then the
 * crc64 of everything before it as 8 bytes little endian.
 */
import { Keyspace, lruClock } from '../store/keyspace';
import { LRU_MASK, META_LRU_SHIFT, R_META } from '../../native-layout/record';
import { RDB_VERSION, RdbError, RdbOut, readValue, writeValue } from '../persistence/rdb';
import { crc64CheckLE, crc64WriteLE } from '../persistence/crc64';
import { parseInt64, parsed } from '../util/numbers';
import { ERR_NOT_INTEGER, ERR_SYNTAX, ExecContext, NOTIFY_GENERIC, defineCommand } from './context';
import { notifyDel, notifyMiss, notifyNew, objectPolicy } from './keys';

const ERR_PAYLOAD = 'ERR DUMP payload version or checksum are wrong';
const ERR_BUSYKEY = 'BUSYKEY Target key name already exists.';
const ERR_TTL = 'ERR Invalid TTL value, must be >= 0';
const ERR_IDLETIME = 'ERR Invalid IDLETIME value, must be >= 0';
const ERR_FREQ = 'ERR Invalid FREQ value, must be >= 0 and <= 255';
const ERR_BAD_FORMAT = 'ERR Bad data format';

const LLONG_MAX = 9223372036854775807;
/** Redis's LRU_CLOCK_MAX: the LRU field is 24 bits. */
const LRU_CLOCK_MAX = LRU_MASK;

/** Reused payload buffer: DUMP builds here, then copies into the reply. */
const payload = new RdbOut(4096);

/** createDumpPayload(): value, RDB version, crc64. */
export function createDumpPayload(out: RdbOut, ks: Keyspace, rec: number): void {
  out.reset();
  writeValue(out, ks, rec);
  out.ensure(10);
  out.buf[out.len++] = RDB_VERSION & 0xff;
  out.buf[out.len++] = (RDB_VERSION >>> 8) & 0xff;
  crc64WriteLE(out.buf, 0, out.len, out.buf, out.len);
  out.len += 8;
}

/** verifyDumpPayload(): footer present, RDB version not newer than ours, crc64 matches. */
export function verifyDumpPayload(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < 10) return false;
  const footer = end - 10;
  const rdbver = buf[footer] | (buf[footer + 1] << 8);
  if (rdbver > RDB_VERSION) return false;
  return crc64CheckLE(buf, start, end - 8, buf, end - 8);
}

function dumpCommand(c: ExecContext): void {
  const b = c.buf, s = c.argStart[1], e = c.argEnd[1];
  const ks = c.store.ks(b, s, e);
  const rec = ks.lookup(c.db, b, s, e, c.now);
  if (rec === 0) {
    notifyMiss(c, 1);
    c.w.nullBulk();
    return;
  }
  createDumpPayload(payload, ks, rec);
  c.w.bulk(payload.buf, 0, payload.len);
  // A one-off huge value should not pin its buffer for the life of the thread.
  if (payload.buf.length > 1 << 20) payload.buf = Buffer.allocUnsafe(4096);
}

/** getLongLongFromObjectOrReply() on argv[i]: the value in parsed.int, or false after the error reply. */
function argLongLong(c: ExecContext, i: number): boolean {
  if (parseInt64(c.buf, c.argStart[i], c.argEnd[i])) return true;
  c.w.error(ERR_NOT_INTEGER);
  return false;
}

/** objectSetLRUOrLFU(): FREQ under an LFU policy, IDLETIME (seconds) otherwise. */
function setLruOrLfu(ks: Keyspace, rec: number, lfuFreq: number, lruIdle: number, clock: number, nowMs: number): void {
  let field: number;
  if (objectPolicy.lfu) {
    if (lfuFreq < 0) return;
    field = (((Math.floor(nowMs / 60000) & 0xffff) << 8) | lfuFreq) >>> 0;
  } else {
    if (lruIdle < 0) return;
    let abs = clock - lruIdle;
    // The LRU clock wraps: past its start, sit half way round so the key stays idle long.
    if (abs < 0) abs = (clock + Math.floor(LRU_CLOCK_MAX / 2)) % LRU_CLOCK_MAX;
    field = abs;
  }
  const u32 = ks.u32(rec), w = (Keyspace.off(rec) + R_META) >>> 2;
  u32[w] = (u32[w] & 0xff) | ((field & LRU_MASK) << META_LRU_SHIFT);
}

function restoreCommand(c: ExecContext): void {
  let replace = false, absttl = false;
  let lfuFreq = -1, lruIdle = -1, lruClk = -1;
  for (let j = 4; j < c.argc; j++) {
    const additional = c.argc - j - 1;
    if (c.argIs(j, 'replace')) {
      replace = true;
    } else if (c.argIs(j, 'absttl')) {
      absttl = true;
    } else if (c.argIs(j, 'idletime') && additional >= 1 && lfuFreq === -1) {
      if (!argLongLong(c, j + 1)) return;
      lruIdle = parsed.int;
      if (lruIdle < 0) {
        c.w.error(ERR_IDLETIME);
        return;
      }
      lruClk = lruClock(c.now);
      j++;
    } else if (c.argIs(j, 'freq') && additional >= 1 && lruIdle === -1) {
      if (!argLongLong(c, j + 1)) return;
      lfuFreq = parsed.int;
      if (lfuFreq < 0 || lfuFreq > 255) {
        c.w.error(ERR_FREQ);
        return;
      }
      j++;
    } else {
      c.w.error(ERR_SYNTAX);
      return;
    }
  }

  const b = c.buf, ks0 = c.argStart[1], ke = c.argEnd[1];
  const ks = c.store.ks(b, ks0, ke);
  // Make sure this key does not already exist here (an expired one does not count).
  if (!replace && ks.lookup(c.db, b, ks0, ke, c.now) !== 0) {
    c.w.error(ERR_BUSYKEY);
    return;
  }

  if (!argLongLong(c, 2)) return;
  let ttl = parsed.int;
  if (ttl < 0) {
    c.w.error(ERR_TTL);
    return;
  }

  const ps = c.argStart[3], pe = c.argEnd[3];
  if (!verifyDumpPayload(b, ps, pe)) {
    c.w.error(ERR_PAYLOAD);
    return;
  }

  // The value replaces the old one only once it has loaded: unlink the old record now
  // (readValue needs the key absent) and put it back if the payload is bad.
  let old = 0;
  if (replace) {
    old = ks.lookupNoTouch(c.db, b, ks0, ke, c.now);
    if (old !== 0) ks.unlinkFound(c.db, old);
  }

  if (ttl !== 0 && !absttl) ttl += c.now;
  // A relative TTL that overflows long long wraps negative in Redis: already expired.
  const expired = ttl !== 0 && (ttl <= c.now || ttl > LLONG_MAX);
  try {
    readValue(ks, c.db, b, ks0, ke, b, ps, pe, expired || ttl === 0 ? -1 : ttl, c.now);
  } catch (err) {
    if (!(err instanceof RdbError)) throw err;
    if (old !== 0) ks.link(c.db, old);
    c.w.error(ERR_BAD_FORMAT);
    return;
  }
  if (old !== 0) ks.freeRecord(old);

  if (expired) {
    // Loaded only to validate it: drop the new key again.
    const rec = ks.lookupNoTouch(c.db, b, ks0, ke, c.now);
    if (rec !== 0) ks.deleteFound(c.db, rec);
    if (old !== 0) {
      if (c.propagating) c.propagate(['DEL', c.argView(1)]);
      c.dirty++;
      notifyDel(c, 1);
    } else if (c.propagating) {
      c.preventPropagation();
    }
    c.w.ok();
    return;
  }

  if (lruIdle >= 0 || lfuFreq >= 0) {
    const rec = ks.lookupNoTouch(c.db, b, ks0, ke, c.now);
    if (rec !== 0) setLruOrLfu(ks, rec, lfuFreq, lruIdle, lruClk, c.now);
  }

  if (c.propagating && ttl !== 0 && !absttl) {
    // Propagate the TTL as an absolute timestamp, as Redis rewrites argv[2] and appends ABSTTL.
    const argv: (string | Uint8Array | number)[] = [];
    for (let i = 0; i < c.argc; i++) argv.push(i === 2 ? ttl : c.argView(i));
    argv.push('ABSTTL');
    c.propagate(argv);
  }
  c.w.ok();
  c.dirty++;
  // dbAdd() of the restored key (a replaced one was deleted first), then the command's event.
  notifyNew(c, 1);
  c.notifyArg(NOTIFY_GENERIC, 'restore', 1);
}

defineCommand('dump', dumpCommand);
defineCommand('restore', restoreCommand);

/**
 * Redis RDB object serialization (RDB version 10, Redis 7.0 src/rdb.c) for Sabre's
 * values: what DUMP/RESTORE carry and what snapshot entries hold (native-layout/rdb.md).
 *
 * writeValue() writes the type byte and payload Redis 7.0 itself would write for the
 * value: RDB_TYPE_STRING (int / LZF / raw), LIST_QUICKLIST_2 (one packed listpack per
 * quicklist node), SET_INTSET or SET, ZSET_LISTPACK or ZSET_2, HASH_LISTPACK or HASH.
 * The listpack blobs are built byte for byte as Redis's listpack.c would (integers in
 * their integer encodings, Redis's backlen), so a small value DUMPs to the same bytes.
 *
 * readValue() accepts every object type Redis 7.0 can write or load (including the
 * ziplist/zipmap forms of older versions), validates every length against the input,
 * builds the value in the keyspace's arena in the encoding Sabre chooses at the current
 * thresholds, and links the key. Malformed input throws RdbError; whatever was built
 * so far is freed first.
 */
import type { Arena } from '../store/arena';
import { Keyspace } from '../store/keyspace';
import { copyBytes } from '../store/bytes';
import {
  AdictIter, adictCreate, adictFind, adictFree, adictInsert, adictIterNext, adictIterStart, adictKeyLen,
  adictKeyStart, adictSize, adictValueLen, adictValueStart,
} from '../store/adict';
import { LP_HEADER, lpAppend, lpBytes, lpCount, lpDecode, lpEntry, lpFind, lpFree, lpNew } from '../store/listpack';
import {
  i64, int64IsSafe, int64Split, int64Write, intsetAdd, intsetBytes, intsetFree, intsetGet, intsetLen, intsetNew,
  intsetResult,
} from '../store/intset';
import { LIST_TAIL, qlCreate, qlFree, qlLength, qlPush } from '../store/quicklist';
import {
  zzlBytes, zzlCreate, zzlFind, zzlFirst, zzlFree, zzlInsert, zzlLength, zzlMemberLen, zzlNext, zzlScore,
} from '../store/zlistpack';
import {
  zslCreate, zslFind, zslFree, zslInsert, zslLast, zslLength, znBackward, znBytes, znLen, znMemberOffset, znScore,
} from '../store/zskiplist';
import { ADDR_OFFSET_BITS } from '../../native-layout/arena';
import {
  E_LEN2_TAG, E_LEN5_TAG, N_HI, N_LO, N_NEXT, QL_HEAD, QL_NODES,
} from '../../native-layout/quicklist';
import {
  EMBSTR_LIMIT, ENC_EMBSTR, ENC_HT, ENC_INT, ENC_INTSET, ENC_LISTPACK, ENC_QUICKLIST, ENC_RAW, ENC_SKIPLIST,
  TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET,
} from '../../native-layout/record';
import { IS_ENC_INT16, IS_ENC_INT32, IS_ENC_INT64, IS_HEADER } from '../../native-layout/intset';
import { shardSettings } from '../shard/settings';
import { parseDouble, parseInt64, parsed, writeInt } from '../util/numbers';
import { formatDouble17g } from '../protocol/resp-writer';
import { lzfCompress, lzfDecompress } from './lzf';

// ---- RDB constants (src/rdb.h, Redis 7.0) ---------------------------------------------------

export const RDB_VERSION = 10;

export const RDB_TYPE_STRING = 0;
export const RDB_TYPE_LIST = 1;
export const RDB_TYPE_SET = 2;
export const RDB_TYPE_ZSET = 3;
export const RDB_TYPE_HASH = 4;
export const RDB_TYPE_ZSET_2 = 5;
export const RDB_TYPE_MODULE = 6;
export const RDB_TYPE_MODULE_2 = 7;
export const RDB_TYPE_HASH_ZIPMAP = 9;
export const RDB_TYPE_LIST_ZIPLIST = 10;
export const RDB_TYPE_SET_INTSET = 11;
export const RDB_TYPE_ZSET_ZIPLIST = 12;
export const RDB_TYPE_HASH_ZIPLIST = 13;
export const RDB_TYPE_LIST_QUICKLIST = 14;
export const RDB_TYPE_STREAM_LISTPACKS = 15;
export const RDB_TYPE_HASH_LISTPACK = 16;
export const RDB_TYPE_ZSET_LISTPACK = 17;
export const RDB_TYPE_LIST_QUICKLIST_2 = 18;
export const RDB_TYPE_STREAM_LISTPACKS_2 = 19;

const RDB_6BITLEN = 0;
const RDB_14BITLEN = 1;
const RDB_32BITLEN = 0x80;
const RDB_64BITLEN = 0x81;
const RDB_ENCVAL = 3;
const RDB_ENC_INT8 = 0;
const RDB_ENC_INT16 = 1;
const RDB_ENC_INT32 = 2;
const RDB_ENC_LZF = 3;

const QUICKLIST_NODE_CONTAINER_PLAIN = 1;
const QUICKLIST_NODE_CONTAINER_PACKED = 2;

/** Settings of the codec (rdbcompression): the lead wires CONFIG SET rdbcompression here. */
export const rdbSettings = { compression: true };

/** Malformed serialized value; RESTORE answers "ERR Bad data format". */
export class RdbError extends Error {
  constructor(msg = 'Bad data format') {
    super(msg);
    this.name = 'RdbError';
  }
}

function bad(why: string): never {
  throw new RdbError(why);
}

const TWO32 = 4294967296;

// ---- output ------------------------------------------------------------------------------------

/** A growable byte buffer the serializers append to. `buf` may be replaced by ensure(). */
export class RdbOut {
  buf: Buffer;
  len: number;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial > 16 ? initial : 16);
    this.len = 0;
  }

  reset(): void {
    this.len = 0;
  }

  /** Room for n more bytes. */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const nb = Buffer.allocUnsafe(cap);
    this.buf.copy(nb, 0, 0, this.len);
    this.buf = nb;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  bytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const b = this.buf;
    let o = this.len;
    if (n <= 32) for (let i = start; i < end; i++) b[o++] = src[i];
    else b.set(src.subarray(start, end), o);
    this.len += n;
  }

  /** u32 little endian. */
  u32le(v: number): void {
    this.ensure(4);
    const b = this.buf;
    let o = this.len;
    b[o++] = v & 0xff;
    b[o++] = (v >>> 8) & 0xff;
    b[o++] = (v >>> 16) & 0xff;
    b[o++] = (v >>> 24) & 0xff;
    this.len = o;
  }

  /** rdbSaveLen(): 6, 14, 32 or 64 bit big-endian length. */
  saveLen(len: number): void {
    this.ensure(9);
    const b = this.buf;
    let o = this.len;
    if (len < 1 << 6) {
      b[o++] = (RDB_6BITLEN << 6) | len;
    } else if (len < 1 << 14) {
      b[o++] = (RDB_14BITLEN << 6) | (len >>> 8);
      b[o++] = len & 0xff;
    } else if (len <= 0xffffffff) {
      b[o++] = RDB_32BITLEN;
      b[o++] = len >>> 24;
      b[o++] = (len >>> 16) & 0xff;
      b[o++] = (len >>> 8) & 0xff;
      b[o++] = len & 0xff;
    } else {
      const hi = Math.floor(len / TWO32), lo = len >>> 0;
      b[o++] = RDB_64BITLEN;
      b[o++] = hi >>> 24;
      b[o++] = (hi >>> 16) & 0xff;
      b[o++] = (hi >>> 8) & 0xff;
      b[o++] = hi & 0xff;
      b[o++] = lo >>> 24;
      b[o++] = (lo >>> 16) & 0xff;
      b[o++] = (lo >>> 8) & 0xff;
      b[o++] = lo & 0xff;
    }
    this.len = o;
  }

  /**
   * rdbSaveRawString(): up to 11 bytes that are a canonical int32 go as an integer
   * encoding; more than 20 bytes are LZF-compressed when rdbcompression is on and that
   * saves more than 4 bytes; everything else is length + bytes.
   */
  saveRawString(src: Uint8Array, start: number, end: number): void {
    const len = end - start;
    if (len <= 11) {
      if (len > 0 && this.tryIntegerEncoding(src, start, end)) return;
    } else if (len > 20 && rdbSettings.compression) {
      // rdbSaveLzfStringObject: output limited to len - 4 bytes.
      const outLen = len - 4;
      if (lzfScratch.length < outLen + 1) lzfScratch = Buffer.allocUnsafe(Math.max(outLen + 1, lzfScratch.length * 2));
      const clen = lzfCompress(src, start, end, lzfScratch, 0, outLen);
      if (clen > 0) {
        this.u8((RDB_ENCVAL << 6) | RDB_ENC_LZF);
        this.saveLen(clen);
        this.saveLen(len);
        this.bytes(lzfScratch, 0, clen);
        return;
      }
    }
    this.saveLen(len);
    this.bytes(src, start, end);
  }

  /** rdbTryIntegerEncoding() + rdbEncodeInteger(): false when not a canonical int32. */
  private tryIntegerEncoding(src: Uint8Array, start: number, end: number): boolean {
    // parseInt64 is string2ll: strict, so the round trip through ll2string is implied.
    if (!parseInt64(src, start, end) || parsed.isBig) return false;
    const v = parsed.int;
    this.ensure(5);
    const b = this.buf;
    let o = this.len;
    if (v >= -128 && v <= 127) {
      b[o++] = (RDB_ENCVAL << 6) | RDB_ENC_INT8;
      b[o++] = v & 0xff;
    } else if (v >= -32768 && v <= 32767) {
      b[o++] = (RDB_ENCVAL << 6) | RDB_ENC_INT16;
      b[o++] = v & 0xff;
      b[o++] = (v >> 8) & 0xff;
    } else if (v >= -2147483648 && v <= 2147483647) {
      b[o++] = (RDB_ENCVAL << 6) | RDB_ENC_INT32;
      b[o++] = v & 0xff;
      b[o++] = (v >> 8) & 0xff;
      b[o++] = (v >> 16) & 0xff;
      b[o++] = (v >> 24) & 0xff;
    } else {
      return false;
    }
    this.len = o;
    return true;
  }

  /** rdbSaveBinaryDoubleValue(): 8 bytes little endian. */
  saveBinaryDouble(d: number): void {
    f64Scratch[0] = d;
    this.bytes(f64Bytes, 0, 8);
  }
}

let lzfScratch = Buffer.allocUnsafe(1024);
const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);

// ---- Redis listpack encoder (listpack.c), for the blobs Sabre writes -----------------------

/** Builds one Redis listpack in an RdbOut: start(), add()..., finish(). */
class LpWriter {
  readonly out = new RdbOut(1024);
  count = 0;

  start(): void {
    this.out.reset();
    this.out.ensure(6);
    this.out.len = 6;
    this.count = 0;
  }

  /** lpAppend of a string: integers (string2ll) take an integer encoding, as lpEncodeGetType. */
  add(src: Uint8Array, s: number, e: number): void {
    const len = e - s;
    if (len > 0 && len <= 20 && parseInt64(src, s, e)) {
      if (!parsed.isBig) this.addSafeInt(parsed.int);
      else {
        int64Split();
        this.addInt64(i64.hi, i64.lo);
      }
      return;
    }
    const o = this.out;
    let hdr: number;
    if (len < 64) hdr = 1;
    else if (len < 4096) hdr = 2;
    else hdr = 5;
    o.ensure(hdr + len + 5);
    const b = o.buf;
    let p = o.len;
    if (hdr === 1) b[p++] = 0x80 | len;
    else if (hdr === 2) {
      b[p++] = 0xe0 | (len >>> 8);
      b[p++] = len & 0xff;
    } else {
      b[p++] = 0xf0;
      b[p++] = len & 0xff;
      b[p++] = (len >>> 8) & 0xff;
      b[p++] = (len >>> 16) & 0xff;
      b[p++] = len >>> 24;
    }
    o.len = p;
    o.bytes(src, s, e);
    this.backlen(hdr + len);
  }

  /** An integer (exact JS integer, |v| <= 2^53). */
  addSafeInt(v: number): void {
    if (v < -2147483648 || v > 2147483647) {
      const hi = Math.floor(v / TWO32);
      this.addInt64(hi, v - hi * TWO32);
      return;
    }
    const o = this.out;
    o.ensure(6 + 5);
    const b = o.buf;
    let p = o.len;
    let size: number;
    if (v >= 0 && v <= 127) {
      b[p++] = v;
      size = 1;
    } else if (v >= -4096 && v <= 4095) {
      const u = v < 0 ? (1 << 13) + v : v;
      b[p++] = 0xc0 | (u >>> 8);
      b[p++] = u & 0xff;
      size = 2;
    } else if (v >= -32768 && v <= 32767) {
      b[p++] = 0xf1;
      b[p++] = v & 0xff;
      b[p++] = (v >> 8) & 0xff;
      size = 3;
    } else if (v >= -8388608 && v <= 8388607) {
      b[p++] = 0xf2;
      b[p++] = v & 0xff;
      b[p++] = (v >> 8) & 0xff;
      b[p++] = (v >> 16) & 0xff;
      size = 4;
    } else {
      b[p++] = 0xf3;
      b[p++] = v & 0xff;
      b[p++] = (v >> 8) & 0xff;
      b[p++] = (v >> 16) & 0xff;
      b[p++] = (v >>> 24) & 0xff;
      size = 5;
    }
    o.len = p;
    this.backlen(size);
  }

  /** A 64-bit integer as (signed hi, unsigned lo): the 8-byte encoding unless smaller fits. */
  addInt64(hi: number, lo: number): void {
    if ((hi === 0 && lo <= 0x7fffffff) || (hi === -1 && lo >= 0x80000000)) {
      this.addSafeInt(hi * TWO32 + lo);
      return;
    }
    const o = this.out;
    o.ensure(9 + 5);
    o.buf[o.len++] = 0xf4;
    o.u32le(lo);
    o.u32le(hi >>> 0);
    this.backlen(9);
  }

  /** lpEncodeBacklen() for an entry of l bytes; counts the entry. */
  private backlen(l: number): void {
    const o = this.out;
    o.ensure(5);
    const b = o.buf;
    let p = o.len;
    if (l <= 127) {
      b[p++] = l;
    } else if (l < 16383) {
      b[p++] = l >>> 7;
      b[p++] = (l & 127) | 128;
    } else if (l < 2097151) {
      b[p++] = l >>> 14;
      b[p++] = ((l >>> 7) & 127) | 128;
      b[p++] = (l & 127) | 128;
    } else if (l < 268435455) {
      b[p++] = l >>> 21;
      b[p++] = ((l >>> 14) & 127) | 128;
      b[p++] = ((l >>> 7) & 127) | 128;
      b[p++] = (l & 127) | 128;
    } else {
      b[p++] = Math.floor(l / 268435456);
      b[p++] = ((l >>> 21) & 127) | 128;
      b[p++] = ((l >>> 14) & 127) | 128;
      b[p++] = ((l >>> 7) & 127) | 128;
      b[p++] = (l & 127) | 128;
    }
    o.len = p;
    this.count++;
  }

  /** Terminator and header (total bytes, element count; 65535 = unknown). */
  finish(): void {
    const o = this.out;
    o.u8(0xff);
    const b = o.buf, total = o.len;
    b[0] = total & 0xff;
    b[1] = (total >>> 8) & 0xff;
    b[2] = (total >>> 16) & 0xff;
    b[3] = total >>> 24;
    const n = this.count < 65535 ? this.count : 65535;
    b[4] = n & 0xff;
    b[5] = n >>> 8;
  }
}

const lpw = new LpWriter();
const scoreText = Buffer.allocUnsafe(64);

/** A score as zzlInsertAt stores it: d2string() text, kept as an integer when it is one. */
function addScore(w: LpWriter, score: number): void {
  if (Number.isSafeInteger(score)) {
    w.addSafeInt(score);
    return;
  }
  const s = formatDouble17g(score);
  const n = scoreText.write(s, 0, 'latin1');
  w.add(scoreText, 0, n);
}

// ---- writeValue ----------------------------------------------------------------------------

const dictIter = new AdictIter();

/** Append the RDB type byte and payload of the value of key record `rec`. */
export function writeValue(out: RdbOut, ks: Keyspace, rec: number): void {
  const a = ks.arena, type = ks.type(rec), enc = ks.encoding(rec);
  switch (type) {
    case TYPE_STRING: {
      out.u8(RDB_TYPE_STRING);
      const vo = ks.valueOffset(rec);
      out.saveRawString(ks.u8(rec), vo, vo + ks.valueWord(rec));
      return;
    }
    case TYPE_LIST:
      writeList(out, a, ks.valueWord(rec));
      return;
    case TYPE_SET: {
      const v = ks.valueWord(rec);
      if (enc === ENC_INTSET) {
        // Sabre's intset block is Redis's intset blob: little-endian header and elements.
        out.u8(RDB_TYPE_SET_INTSET);
        const o = Keyspace.off(v);
        out.saveRawString(a.u8[v >>> ADDR_OFFSET_BITS]!, o, o + intsetBytes(a, v));
        return;
      }
      out.u8(RDB_TYPE_SET);
      out.saveLen(adictSize(a, v));
      adictIterStart(dictIter, a, v);
      for (let e = adictIterNext(dictIter); e !== 0; e = adictIterNext(dictIter)) {
        const ko = adictKeyStart(a, v, e);
        out.saveRawString(a.u8[e >>> ADDR_OFFSET_BITS]!, ko, ko + adictKeyLen(a, e));
      }
      return;
    }
    case TYPE_ZSET: {
      const v = ks.valueWord(rec);
      if (enc === ENC_LISTPACK) {
        out.u8(RDB_TYPE_ZSET_LISTPACK);
        lpw.start();
        const u8 = zzlBytes(a, v);
        for (let e = zzlFirst(a, v); e !== 0; e = zzlNext(a, v, e)) {
          lpw.add(u8, e + 16, e + 16 + zzlMemberLen(a, v, e));
          addScore(lpw, zzlScore(a, v, e));
        }
        lpw.finish();
        out.saveRawString(lpw.out.buf, 0, lpw.out.len);
        return;
      }
      // rdbSaveObject writes a skiplist from the tail, so loading inserts at the head.
      out.u8(RDB_TYPE_ZSET_2);
      out.saveLen(zslLength(a, v));
      for (let x = zslLast(a, v); x !== 0; x = znBackward(a, x)) {
        const mo = znMemberOffset(a, x);
        out.saveRawString(znBytes(a, x), mo, mo + znLen(a, x));
        out.saveBinaryDouble(znScore(a, x));
      }
      return;
    }
    case TYPE_HASH: {
      const v = ks.valueWord(rec);
      if (enc === ENC_LISTPACK) {
        out.u8(RDB_TYPE_HASH_LISTPACK);
        lpw.start();
        const end = lpBytes(a, v);
        for (let p = LP_HEADER; p < end; p = lpEntry.next) {
          lpDecode(a, v, p);
          lpw.add(lpEntry.u8, lpEntry.start, lpEntry.end);
        }
        lpw.finish();
        out.saveRawString(lpw.out.buf, 0, lpw.out.len);
        return;
      }
      out.u8(RDB_TYPE_HASH);
      out.saveLen(adictSize(a, v));
      adictIterStart(dictIter, a, v);
      for (let e = adictIterNext(dictIter); e !== 0; e = adictIterNext(dictIter)) {
        const u8 = a.u8[e >>> ADDR_OFFSET_BITS]!;
        const ko = adictKeyStart(a, v, e), vo = adictValueStart(a, e);
        out.saveRawString(u8, ko, ko + adictKeyLen(a, e));
        out.saveRawString(u8, vo, vo + adictValueLen(a, e));
      }
      return;
    }
    default:
      throw new RdbError(`cannot serialize type ${type}`);
  }
}

/** RDB_TYPE_LIST_QUICKLIST_2: one packed listpack per quicklist node, as Redis 7.0. */
function writeList(out: RdbOut, a: Arena, ql: number): void {
  out.u8(RDB_TYPE_LIST_QUICKLIST_2);
  const hw = a.u32[ql >>> ADDR_OFFSET_BITS]!, ho = Keyspace.off(ql);
  out.saveLen(hw[(ho + QL_NODES) >>> 2]);
  for (let node = hw[(ho + QL_HEAD) >>> 2]; node !== 0;) {
    const u32 = a.u32[node >>> ADDR_OFFSET_BITS]!, u8 = a.u8[node >>> ADDR_OFFSET_BITS]!, base = Keyspace.off(node);
    const lo = base + u32[(base + N_LO) >>> 2], hi = base + u32[(base + N_HI) >>> 2];
    lpw.start();
    // Node entries: length (1, 2 or 5 bytes), bytes, length backwards (quicklist.md).
    for (let p = lo; p < hi;) {
      const b = u8[p];
      let s: number, n: number, tail: number;
      if (b < E_LEN2_TAG) {
        s = p + 1; n = b; tail = 1;
      } else if (b < E_LEN5_TAG) {
        s = p + 2; n = ((b & 0x3f) << 8) | u8[p + 1]; tail = 2;
      } else {
        s = p + 5; n = (u8[p + 1] | (u8[p + 2] << 8) | (u8[p + 3] << 16) | (u8[p + 4] << 24)) >>> 0; tail = 5;
      }
      lpw.add(u8, s, s + n);
      p = s + n + tail;
    }
    lpw.finish();
    out.saveLen(QUICKLIST_NODE_CONTAINER_PACKED);
    out.saveRawString(lpw.out.buf, 0, lpw.out.len);
    node = u32[(base + N_NEXT) >>> 2];
  }
}

// ---- input: lengths and strings ----------------------------------------------------------------

/** rdbLoadLen() result. */
const rl = { len: 0, encoded: false };

function readLen(src: Uint8Array, pos: number, end: number): number {
  if (pos >= end) bad('truncated length');
  const b = src[pos++];
  const kind = (b & 0xc0) >>> 6;
  rl.encoded = false;
  if (kind === RDB_ENCVAL) {
    rl.encoded = true;
    rl.len = b & 0x3f;
  } else if (kind === RDB_6BITLEN) {
    rl.len = b & 0x3f;
  } else if (kind === RDB_14BITLEN) {
    if (pos >= end) bad('truncated length');
    rl.len = ((b & 0x3f) << 8) | src[pos++];
  } else if (b === RDB_32BITLEN) {
    if (pos + 4 > end) bad('truncated length');
    rl.len = ((src[pos] << 24) >>> 0) + (src[pos + 1] << 16) + (src[pos + 2] << 8) + src[pos + 3];
    pos += 4;
  } else if (b === RDB_64BITLEN) {
    if (pos + 8 > end) bad('truncated length');
    const hi = ((src[pos] << 24) >>> 0) + (src[pos + 1] << 16) + (src[pos + 2] << 8) + src[pos + 3];
    const lo = ((src[pos + 4] << 24) >>> 0) + (src[pos + 5] << 16) + (src[pos + 6] << 8) + src[pos + 7];
    if (hi > 0x1fffff) bad('length too big');
    rl.len = hi * TWO32 + lo;
    pos += 8;
  } else {
    bad('unknown length encoding');
  }
  return pos;
}

/** A count of elements that follow: each takes at least one byte, so it cannot exceed what is left. */
function readCount(src: Uint8Array, pos: number, end: number): number {
  pos = readLen(src, pos, end);
  if (rl.encoded) bad('encoded length where a count was expected');
  if (rl.len > end - pos) bad('count larger than the payload');
  return pos;
}

/** A loaded string: str.u8[str.s, str.e). Integers and LZF output live in per-slot scratch. */
const str = { u8: new Uint8Array(0) as Uint8Array, s: 0, e: 0 };
const strScratch: Buffer[] = [Buffer.allocUnsafe(256), Buffer.allocUnsafe(256)];

function scratchFor(slot: number, n: number): Buffer {
  let b = strScratch[slot];
  if (b.length < n) {
    b = Buffer.allocUnsafe(Math.max(n, b.length * 2));
    strScratch[slot] = b;
  }
  return b;
}

/** Largest LZF expansion: a 3-byte back reference yields at most 264 bytes. */
const LZF_MAX_RATIO = 90;
const MAX_STRING = 512 * 1024 * 1024;

/** rdbGenericLoadStringObject(): into `str`; scratch `slot` (0 or 1) holds decoded forms. */
function readString(src: Uint8Array, pos: number, end: number, slot: number): number {
  pos = readLen(src, pos, end);
  if (rl.encoded) {
    switch (rl.len) {
      case RDB_ENC_INT8:
      case RDB_ENC_INT16:
      case RDB_ENC_INT32: {
        const n = rl.len === RDB_ENC_INT8 ? 1 : rl.len === RDB_ENC_INT16 ? 2 : 4;
        if (pos + n > end) bad('truncated integer');
        let v: number;
        if (n === 1) v = (src[pos] << 24) >> 24;
        else if (n === 2) v = ((src[pos] | (src[pos + 1] << 8)) << 16) >> 16;
        else v = src[pos] | (src[pos + 1] << 8) | (src[pos + 2] << 16) | (src[pos + 3] << 24);
        const b = scratchFor(slot, 24);
        str.u8 = b;
        str.s = 0;
        str.e = writeInt(b, 0, v);
        return pos + n;
      }
      case RDB_ENC_LZF: {
        pos = readLen(src, pos, end);
        if (rl.encoded) bad('bad LZF length');
        const clen = rl.len;
        pos = readLen(src, pos, end);
        if (rl.encoded) bad('bad LZF length');
        const len = rl.len;
        if (clen > end - pos) bad('truncated LZF string');
        if (len > MAX_STRING || len > clen * LZF_MAX_RATIO + 64) bad('implausible LZF length');
        const b = scratchFor(slot, len);
        if (len > 0 && lzfDecompress(src, pos, pos + clen, b, 0, len) !== len) bad('Invalid LZF compressed string');
        str.u8 = b;
        str.s = 0;
        str.e = len;
        return pos + clen;
      }
      default:
        bad('Unknown RDB string encoding type');
    }
  }
  const len = rl.len;
  if (len > end - pos) bad('truncated string');
  str.u8 = src;
  str.s = pos;
  str.e = pos + len;
  return pos + len;
}

/** rdbLoadBinaryDoubleValue(). */
function readBinaryDouble(src: Uint8Array, pos: number, end: number): number {
  if (pos + 8 > end) bad('truncated double');
  for (let i = 0; i < 8; i++) f64Bytes[i] = src[pos + i];
  dbl = f64Scratch[0];
  return pos + 8;
}

let dbl = 0;

/** rdbLoadDoubleValue(): length byte (253 nan, 254 +inf, 255 -inf), then ASCII. */
function readAsciiDouble(src: Uint8Array, pos: number, end: number): number {
  if (pos >= end) bad('truncated double');
  const n = src[pos++];
  if (n === 253) dbl = NaN;
  else if (n === 254) dbl = Infinity;
  else if (n === 255) dbl = -Infinity;
  else {
    if (pos + n > end) bad('truncated double');
    if (!parseDouble(src, pos, pos + n)) bad('bad double');
    dbl = parsed.dbl;
    pos += n;
  }
  return pos;
}

// ---- input: listpack / ziplist / zipmap / intset blobs --------------------------------------

/**
 * A decoded blob entry: bytes u8[s, e) (integers as decimal text in `digits`), plus
 * the numeric value for integer entries.
 */
class Entry {
  u8: Uint8Array = new Uint8Array(0);
  s = 0;
  e = 0;
  isInt = false;
  num = 0;
  readonly digits = Buffer.allocUnsafe(24);

  setInt(v: number): void {
    this.isInt = true;
    this.num = v;
    this.u8 = this.digits;
    this.s = 0;
    this.e = writeInt(this.digits, 0, v);
  }

  setInt64(hi: number, lo: number): void {
    if (int64IsSafe(hi, lo)) {
      this.setInt(hi * TWO32 + lo);
      return;
    }
    this.isInt = true;
    this.num = hi * TWO32 + lo;
    this.u8 = this.digits;
    this.s = 0;
    this.e = int64Write(hi, lo, this.digits, 0);
  }

  setBytes(u8: Uint8Array, s: number, e: number): void {
    this.isInt = false;
    this.u8 = u8;
    this.s = s;
    this.e = e;
  }
}

const entA = new Entry();
const entB = new Entry();

function u32le(u8: Uint8Array, p: number): number {
  return (u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16) | (u8[p + 3] << 24)) >>> 0;
}

/** Bytes lpEncodeBacklen() takes for an entry of l bytes. */
function backlenSize(l: number): number {
  return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

/** Listpack blob check (header, terminator); returns the position of the first entry. */
const LP_HDR = 6;
let blobEnd = 0; // position of the blob's terminator byte
let blobCount = 0; // element count from the header (65535 / 0xffff: unknown)

function listpackOpen(u8: Uint8Array, s: number, e: number): number {
  if (e - s < LP_HDR + 1) bad('listpack too short');
  if (u32le(u8, s) !== e - s) bad('listpack size mismatch');
  if (u8[e - 1] !== 0xff) bad('listpack without terminator');
  blobCount = u8[s + 4] | (u8[s + 5] << 8);
  blobEnd = e - 1;
  return s + LP_HDR;
}

/** Decode the listpack entry at p (p < blobEnd) into `ent`; returns the next position. */
function listpackNext(u8: Uint8Array, p: number, ent: Entry): number {
  const end = blobEnd;
  const b = u8[p];
  let size: number; // encoding + data bytes
  if ((b & 0x80) === 0) {
    ent.setInt(b);
    size = 1;
  } else if ((b & 0xc0) === 0x80) {
    const n = b & 0x3f;
    size = 1 + n;
    if (p + size > end) bad('listpack entry out of range');
    ent.setBytes(u8, p + 1, p + 1 + n);
  } else if ((b & 0xe0) === 0xc0) {
    if (p + 2 > end) bad('listpack entry out of range');
    let v = ((b & 0x1f) << 8) | u8[p + 1];
    if (v >= 1 << 12) v -= 1 << 13;
    ent.setInt(v);
    size = 2;
  } else if ((b & 0xf0) === 0xe0) {
    if (p + 2 > end) bad('listpack entry out of range');
    const n = ((b & 0x0f) << 8) | u8[p + 1];
    size = 2 + n;
    if (p + size > end) bad('listpack entry out of range');
    ent.setBytes(u8, p + 2, p + 2 + n);
  } else if (b === 0xf0) {
    if (p + 5 > end) bad('listpack entry out of range');
    const n = u32le(u8, p + 1);
    if (n > end - p - 5) bad('listpack entry out of range');
    size = 5 + n;
    ent.setBytes(u8, p + 5, p + 5 + n);
  } else if (b === 0xf1) {
    if (p + 3 > end) bad('listpack entry out of range');
    ent.setInt(((u8[p + 1] | (u8[p + 2] << 8)) << 16) >> 16);
    size = 3;
  } else if (b === 0xf2) {
    if (p + 4 > end) bad('listpack entry out of range');
    ent.setInt(((u8[p + 1] | (u8[p + 2] << 8) | (u8[p + 3] << 16)) << 8) >> 8);
    size = 4;
  } else if (b === 0xf3) {
    if (p + 5 > end) bad('listpack entry out of range');
    ent.setInt(u32le(u8, p + 1) | 0);
    size = 5;
  } else if (b === 0xf4) {
    if (p + 9 > end) bad('listpack entry out of range');
    ent.setInt64(u32le(u8, p + 5) | 0, u32le(u8, p + 1));
    size = 9;
  } else {
    bad('bad listpack entry encoding');
  }
  // The backlen must encode exactly the entry's size (lpValidateNext).
  const bl = backlenSize(size);
  const q = p + size;
  if (q + bl > end) bad('listpack backlen out of range');
  let v = 0;
  for (let i = 0; i < bl; i++) {
    const c = u8[q + i];
    if (i > 0 && (c & 128) === 0) bad('bad listpack backlen');
    v = v * 128 + (c & 127);
  }
  if (v !== size) bad('bad listpack backlen');
  return q + bl;
}

/** Ziplist blob check; returns the position of the first entry. */
const ZL_HDR = 10;
let zlTail = 0;
let zlPrevLen = 0;
let zlLastEntry = 0;

function ziplistOpen(u8: Uint8Array, s: number, e: number): number {
  if (e - s < ZL_HDR + 1) bad('ziplist too short');
  if (u32le(u8, s) !== e - s) bad('ziplist size mismatch');
  if (u8[e - 1] !== 0xff) bad('ziplist without terminator');
  zlTail = s + u32le(u8, s + 4);
  blobCount = u8[s + 8] | (u8[s + 9] << 8);
  blobEnd = e - 1;
  zlPrevLen = 0;
  zlLastEntry = s + ZL_HDR;
  return s + ZL_HDR;
}

/** Decode the ziplist entry at p (p < blobEnd) into `ent`; returns the next position. */
function ziplistNext(u8: Uint8Array, p: number, ent: Entry): number {
  const end = blobEnd, start = p;
  let prevlen: number;
  if (u8[p] < 254) prevlen = u8[p++];
  else if (u8[p] === 254) {
    if (p + 5 > end) bad('ziplist entry out of range');
    prevlen = u32le(u8, p + 1);
    p += 5;
  } else bad('bad ziplist prevlen');
  if (prevlen !== zlPrevLen) bad('bad ziplist prevlen');
  if (p >= end) bad('ziplist entry out of range');
  const b = u8[p];
  const kind = b >>> 6;
  if (kind === 0 || kind === 1 || kind === 2) {
    let n: number;
    if (kind === 0) {
      n = b & 0x3f;
      p += 1;
    } else if (kind === 1) {
      if (p + 2 > end) bad('ziplist entry out of range');
      n = ((b & 0x3f) << 8) | u8[p + 1];
      p += 2;
    } else {
      if (b !== 0x80 || p + 5 > end) bad('bad ziplist string encoding');
      n = ((u8[p + 1] << 24) >>> 0) + (u8[p + 2] << 16) + (u8[p + 3] << 8) + u8[p + 4];
      p += 5;
    }
    if (n > end - p) bad('ziplist entry out of range');
    ent.setBytes(u8, p, p + n);
    p += n;
  } else {
    p++;
    let n: number;
    switch (b) {
      case 0xc0: n = 2; break;
      case 0xd0: n = 4; break;
      case 0xe0: n = 8; break;
      case 0xf0: n = 3; break;
      case 0xfe: n = 1; break;
      default:
        if (b >= 0xf1 && b <= 0xfd) n = 0;
        else bad('bad ziplist integer encoding');
    }
    if (p + n > end) bad('ziplist entry out of range');
    if (n === 0) ent.setInt((b & 0x0f) - 1);
    else if (n === 1) ent.setInt((u8[p] << 24) >> 24);
    else if (n === 2) ent.setInt(((u8[p] | (u8[p + 1] << 8)) << 16) >> 16);
    else if (n === 3) ent.setInt(((u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16)) << 8) >> 8);
    else if (n === 4) ent.setInt(u32le(u8, p) | 0);
    else ent.setInt64(u32le(u8, p + 4) | 0, u32le(u8, p));
    p += n;
  }
  zlPrevLen = p - start;
  zlLastEntry = start;
  return p;
}

/** After the last ziplist entry: the tail offset and count must agree. */
function ziplistClose(count: number, s: number): void {
  if (zlTail !== (count === 0 ? s + ZL_HDR : zlLastEntry)) bad('bad ziplist tail');
  if (blobCount !== 0xffff && blobCount !== count) bad('ziplist count mismatch');
}

function listpackClose(count: number): void {
  if (blobCount !== 0xffff && blobCount !== count) bad('listpack count mismatch');
}

/**
 * Walks a ziplist or listpack blob of str.u8[s, e) into entries: blobFirst(), then
 * blobNext(ent) while blobMore(); blobDone() checks the totals.
 */
let blobIsZiplist = false;
let blobU8: Uint8Array = new Uint8Array(0);
let blobStart = 0;
let blobPos = 0;
let blobSeen = 0;

function blobFirst(ziplist: boolean, u8: Uint8Array, s: number, e: number): void {
  blobIsZiplist = ziplist;
  blobU8 = u8;
  blobStart = s;
  blobPos = ziplist ? ziplistOpen(u8, s, e) : listpackOpen(u8, s, e);
  blobSeen = 0;
}
function blobMore(): boolean {
  return blobPos < blobEnd;
}
function blobNext(ent: Entry): void {
  if (blobPos >= blobEnd) bad('odd number of entries');
  blobPos = blobIsZiplist ? ziplistNext(blobU8, blobPos, ent) : listpackNext(blobU8, blobPos, ent);
  blobSeen++;
}
function blobDone(): number {
  if (blobIsZiplist) ziplistClose(blobSeen, blobStart);
  else listpackClose(blobSeen);
  return blobSeen;
}

/**
 * Zipmap (RDB_TYPE_HASH_ZIPMAP, Redis < 2.6): zmlen, then (len key len free value+free)*,
 * 0xff. Calls pair(field entry, value entry) for each pair.
 */
function readZipmap(u8: Uint8Array, s: number, e: number, pair: () => void): number {
  if (e - s < 2 || u8[e - 1] !== 0xff) bad('bad zipmap');
  let p = s + 1;
  const end = e - 1;
  let n = 0;
  const zmLen = (): number => {
    if (p >= end) bad('zipmap out of range');
    const b = u8[p];
    if (b < 254) {
      p++;
      return b;
    }
    if (b === 254) {
      if (p + 5 > end) bad('zipmap out of range');
      const v = u32le(u8, p + 1);
      p += 5;
      return v;
    }
    return bad('bad zipmap length');
  };
  while (p < end) {
    const kl = zmLen();
    if (kl > end - p) bad('zipmap out of range');
    entA.setBytes(u8, p, p + kl);
    p += kl;
    const vl = zmLen();
    if (p >= end) bad('zipmap out of range');
    const free = u8[p++];
    if (vl + free > end - p) bad('zipmap out of range');
    entB.setBytes(u8, p, p + vl);
    p += vl + free;
    pair();
    n++;
  }
  if (u8[s] < 254 && u8[s] !== n) bad('zipmap count mismatch');
  return n;
}

// ---- building values -----------------------------------------------------------------------------

/** The value being built: freed if loading fails half way. */
const built = { type: -1, enc: 0, v: 0 };

function freeBuilt(a: Arena): void {
  const v = built.v;
  if (v === 0) return;
  switch (built.type) {
    case TYPE_LIST: qlFree(a, v); break;
    case TYPE_SET: if (built.enc === ENC_INTSET) intsetFree(a, v); else adictFree(a, v); break;
    case TYPE_ZSET: if (built.enc === ENC_LISTPACK) zzlFree(a, v); else zslFree(a, v); break;
    case TYPE_HASH: if (built.enc === ENC_LISTPACK) lpFree(a, v); else adictFree(a, v); break;
  }
  built.v = 0;
}

function begin(type: number, enc: number, v: number): void {
  built.type = type;
  built.enc = enc;
  built.v = v;
}

// -- lists

function listPush(a: Arena, u8: Uint8Array, s: number, e: number): void {
  qlPush(a, built.v, LIST_TAIL, u8, s, e);
}

function pushBlob(a: Arena, ziplist: boolean, u8: Uint8Array, s: number, e: number): void {
  blobFirst(ziplist, u8, s, e);
  while (blobMore()) {
    blobNext(entA);
    listPush(a, entA.u8, entA.s, entA.e);
  }
  blobDone();
}

function loadList(a: Arena, type: number, src: Uint8Array, pos: number, end: number): number {
  begin(TYPE_LIST, ENC_QUICKLIST, qlCreate(a, shardSettings.listMaxListpackSize));
  if (type === RDB_TYPE_LIST) {
    pos = readCount(src, pos, end);
    for (let n = rl.len; n > 0; n--) {
      pos = readString(src, pos, end, 0);
      listPush(a, str.u8, str.s, str.e);
    }
  } else if (type === RDB_TYPE_LIST_ZIPLIST) {
    pos = readString(src, pos, end, 0);
    pushBlob(a, true, str.u8, str.s, str.e);
  } else {
    pos = readCount(src, pos, end);
    for (let n = rl.len; n > 0; n--) {
      let container = QUICKLIST_NODE_CONTAINER_PACKED;
      if (type === RDB_TYPE_LIST_QUICKLIST_2) {
        pos = readLen(src, pos, end);
        container = rl.len;
        if (rl.encoded || (container !== QUICKLIST_NODE_CONTAINER_PLAIN && container !== QUICKLIST_NODE_CONTAINER_PACKED)) {
          bad('Quicklist integrity check failed');
        }
      }
      pos = readString(src, pos, end, 0);
      if (container === QUICKLIST_NODE_CONTAINER_PLAIN) listPush(a, str.u8, str.s, str.e);
      else pushBlob(a, type === RDB_TYPE_LIST_QUICKLIST, str.u8, str.s, str.e);
    }
  }
  // Empty nodes are skipped (as Redis); an empty list is not a valid key.
  if (qlLength(a, built.v) === 0) bad('empty list');
  return pos;
}

// -- sets

const setDigits = Buffer.allocUnsafe(24);

function setToHT(a: Arena, sizeHint: number): void {
  const is = built.v, n = intsetLen(a, is);
  const d = adictCreate(a, false, Math.max(n, sizeHint));
  built.enc = ENC_HT;
  built.v = d;
  for (let i = 0; i < n; i++) {
    intsetGet(a, is, i);
    adictInsert(a, d, setDigits, 0, int64Write(i64.hi, i64.lo, setDigits, 0), null, 0, 0);
  }
  intsetFree(a, is);
}

function setAddMember(a: Arena, u8: Uint8Array, s: number, e: number, total: number): void {
  if (built.enc === ENC_INTSET) {
    if (parseInt64(u8, s, e)) {
      int64Split();
      built.v = intsetAdd(a, built.v, i64.hi, i64.lo);
      if (!intsetResult.changed) bad('Duplicate set members detected');
      if (intsetLen(a, built.v) > shardSettings.setMaxIntsetEntries) setToHT(a, total);
      return;
    }
    setToHT(a, total);
  }
  if (adictFind(a, built.v, u8, s, e) !== 0) bad('Duplicate set members detected');
  adictInsert(a, built.v, u8, s, e, null, 0, 0);
}

/** Validate an intset blob (intsetValidateIntegrity, deep): width, size, strictly ascending. */
function checkIntset(u8: Uint8Array, s: number, e: number): number {
  if (e - s < IS_HEADER) bad('intset too short');
  const enc = u32le(u8, s), n = u32le(u8, s + 4);
  if (enc !== IS_ENC_INT16 && enc !== IS_ENC_INT32 && enc !== IS_ENC_INT64) bad('bad intset encoding');
  if (n * enc !== e - s - IS_HEADER) bad('intset size mismatch');
  let prevHi = 0, prevLo = 0;
  for (let i = 0, p = s + IS_HEADER; i < n; i++, p += enc) {
    let hi: number, lo: number;
    if (enc === IS_ENC_INT16) {
      const v = ((u8[p] | (u8[p + 1] << 8)) << 16) >> 16;
      hi = v < 0 ? -1 : 0; lo = v >>> 0;
    } else if (enc === IS_ENC_INT32) {
      const v = u32le(u8, p) | 0;
      hi = v < 0 ? -1 : 0; lo = v >>> 0;
    } else {
      lo = u32le(u8, p); hi = u32le(u8, p + 4) | 0;
    }
    if (i > 0 && (hi < prevHi || (hi === prevHi && lo <= prevLo))) bad('intset not sorted');
    prevHi = hi; prevLo = lo;
  }
  return n;
}

function loadSet(a: Arena, type: number, src: Uint8Array, pos: number, end: number): number {
  if (type === RDB_TYPE_SET_INTSET) {
    pos = readString(src, pos, end, 0);
    const n = checkIntset(str.u8, str.s, str.e);
    if (n === 0) bad('empty set');
    const bytes = str.e - str.s;
    const is = a.alloc(bytes);
    copyBytes(str.u8, str.s, str.e, a.u8[is >>> ADDR_OFFSET_BITS]!, Keyspace.off(is));
    begin(TYPE_SET, ENC_INTSET, is);
    if (n > shardSettings.setMaxIntsetEntries) setToHT(a, n);
    return pos;
  }
  pos = readCount(src, pos, end);
  const n = rl.len;
  if (n === 0) bad('empty set');
  if (n > shardSettings.setMaxIntsetEntries) begin(TYPE_SET, ENC_HT, adictCreate(a, false, n));
  else begin(TYPE_SET, ENC_INTSET, intsetNew(a));
  for (let i = 0; i < n; i++) {
    pos = readString(src, pos, end, 0);
    setAddMember(a, str.u8, str.s, str.e, n);
  }
  return pos;
}

// -- sorted sets

function zsetToSkiplist(a: Arena): void {
  const lp = built.v, zs = zslCreate(a);
  const u8 = zzlBytes(a, lp);
  built.enc = ENC_SKIPLIST;
  built.v = zs;
  for (let p = zzlFirst(a, lp); p !== 0; p = zzlNext(a, lp, p)) {
    zslInsert(a, zs, zzlScore(a, lp, p), u8, p + 16, p + 16 + zzlMemberLen(a, lp, p));
  }
  zzlFree(a, lp);
}

function zsetStart(a: Arena, n: number): void {
  if (n > shardSettings.zsetMaxListpackEntries || shardSettings.zsetMaxListpackEntries === 0) {
    begin(TYPE_ZSET, ENC_SKIPLIST, zslCreate(a));
  } else {
    begin(TYPE_ZSET, ENC_LISTPACK, zzlCreate(a, 64));
  }
}

function zsetAddMember(a: Arena, score: number, u8: Uint8Array, s: number, e: number): void {
  if (score !== score) bad('Zset with NAN score detected');
  if (built.enc === ENC_LISTPACK) {
    if (e - s > shardSettings.zsetMaxListpackValue || zzlLength(a, built.v) >= shardSettings.zsetMaxListpackEntries) {
      zsetToSkiplist(a);
    } else {
      if (zzlFind(a, built.v, u8, s, e) !== 0) bad('Duplicate zset fields detected');
      built.v = zzlInsert(a, built.v, score, u8, s, e);
      return;
    }
  }
  if (zslFind(a, built.v, u8, s, e) !== 0) bad('Duplicate zset fields detected');
  zslInsert(a, built.v, score, u8, s, e);
}

/** The score of a blob entry: an integer, or text strtod accepts. */
function entryScore(ent: Entry): number {
  if (ent.isInt) return ent.num;
  if (!parseDouble(ent.u8, ent.s, ent.e)) bad('bad zset score');
  return parsed.dbl;
}

function loadZset(a: Arena, type: number, src: Uint8Array, pos: number, end: number): number {
  if (type === RDB_TYPE_ZSET || type === RDB_TYPE_ZSET_2) {
    pos = readCount(src, pos, end);
    const n = rl.len;
    if (n === 0) bad('empty zset');
    zsetStart(a, n);
    for (let i = 0; i < n; i++) {
      pos = readString(src, pos, end, 0);
      pos = type === RDB_TYPE_ZSET_2 ? readBinaryDouble(src, pos, end) : readAsciiDouble(src, pos, end);
      zsetAddMember(a, dbl, str.u8, str.s, str.e);
    }
    return pos;
  }
  pos = readString(src, pos, end, 0);
  zsetStart(a, 0);
  blobFirst(type === RDB_TYPE_ZSET_ZIPLIST, str.u8, str.s, str.e);
  while (blobMore()) {
    blobNext(entA);
    blobNext(entB);
    zsetAddMember(a, entryScore(entB), entA.u8, entA.s, entA.e);
  }
  if (blobDone() === 0) bad('empty zset');
  return pos;
}

// -- hashes

function hashToHT(a: Arena, sizeHint: number): void {
  const lp = built.v;
  const d = adictCreate(a, true, Math.max(lpCount(a, lp) >>> 1, sizeHint));
  built.enc = ENC_HT;
  built.v = d;
  const end = lpBytes(a, lp);
  for (let p = LP_HEADER; p < end;) {
    lpDecode(a, lp, p);
    const u8 = lpEntry.u8, fs = lpEntry.start, fe = lpEntry.end;
    lpDecode(a, lp, lpEntry.next);
    p = lpEntry.next;
    adictInsert(a, d, u8, fs, fe, u8, lpEntry.start, lpEntry.end);
  }
  lpFree(a, lp);
}

function hashStart(a: Arena, n: number): void {
  if (n > shardSettings.hashMaxListpackEntries) begin(TYPE_HASH, ENC_HT, adictCreate(a, true, n));
  else begin(TYPE_HASH, ENC_LISTPACK, lpNew(a));
}

function hashAddPair(a: Arena, f: Uint8Array, fs: number, fe: number, v: Uint8Array, vs: number, ve: number,
  total: number): void {
  if (built.enc === ENC_LISTPACK) {
    const max = shardSettings.hashMaxListpackValue;
    if (fe - fs > max || ve - vs > max || (lpCount(a, built.v) >>> 1) >= shardSettings.hashMaxListpackEntries) {
      hashToHT(a, total);
    } else {
      if (lpFind(a, built.v, f, fs, fe, 1) >= 0) bad('Duplicate hash fields detected');
      built.v = lpAppend(a, built.v, f, fs, fe);
      built.v = lpAppend(a, built.v, v, vs, ve);
      return;
    }
  }
  if (adictFind(a, built.v, f, fs, fe) !== 0) bad('Duplicate hash fields detected');
  adictInsert(a, built.v, f, fs, fe, v, vs, ve);
}

let zipmapArena: Arena;
function zipmapPair(): void {
  hashAddPair(zipmapArena, entA.u8, entA.s, entA.e, entB.u8, entB.s, entB.e, 0);
}

function loadHash(a: Arena, type: number, src: Uint8Array, pos: number, end: number): number {
  if (type === RDB_TYPE_HASH) {
    pos = readCount(src, pos, end);
    const n = rl.len;
    if (n === 0) bad('empty hash');
    hashStart(a, n);
    for (let i = 0; i < n; i++) {
      pos = readString(src, pos, end, 0);
      const fu8 = str.u8, fs = str.s, fe = str.e;
      pos = readString(src, pos, end, 1);
      hashAddPair(a, fu8, fs, fe, str.u8, str.s, str.e, n);
    }
    return pos;
  }
  pos = readString(src, pos, end, 0);
  hashStart(a, 0);
  if (type === RDB_TYPE_HASH_ZIPMAP) {
    zipmapArena = a;
    if (readZipmap(str.u8, str.s, str.e, zipmapPair) === 0) bad('empty hash');
    return pos;
  }
  blobFirst(type === RDB_TYPE_HASH_ZIPLIST, str.u8, str.s, str.e);
  while (blobMore()) {
    blobNext(entA);
    blobNext(entB);
    hashAddPair(a, entA.u8, entA.s, entA.e, entB.u8, entB.s, entB.e, 0);
  }
  if (blobDone() === 0) bad('empty hash');
  return pos;
}

// ---- readValue -----------------------------------------------------------------------------

/**
 * Parse one value (type byte + payload) at src[pos, end), create key `key[keyStart,
 * keyEnd)` with it in database `db` of `ks` (the key must be absent), expiring at
 * `expireAtMs` (< 0: none), and link it. Returns the position after the value.
 * Throws RdbError on malformed input, having freed whatever it allocated.
 */
export function readValue(ks: Keyspace, db: number, key: Uint8Array, keyStart: number, keyEnd: number,
  src: Uint8Array, pos: number, end: number, expireAtMs: number, nowMs: number): number {
  if (pos >= end) bad('missing type');
  const type = src[pos++];
  const a = ks.arena;
  if (type === RDB_TYPE_STRING) {
    pos = readString(src, pos, end, 0);
    const len = str.e - str.s;
    let enc = len <= EMBSTR_LIMIT ? ENC_EMBSTR : ENC_RAW;
    // tryObjectEncoding(): integers become "int".
    if (len <= 20 && parseInt64(str.u8, str.s, str.e)) enc = ENC_INT;
    const rec = ks.newRecord(ks.hash(key, keyStart, keyEnd), TYPE_STRING, enc, key, keyStart, keyEnd, len,
      expireAtMs, nowMs);
    copyBytes(str.u8, str.s, str.e, ks.u8(rec), ks.valueOffset(rec));
    ks.link(db, rec);
    return pos;
  }
  built.type = -1;
  built.v = 0;
  try {
    switch (type) {
      case RDB_TYPE_LIST:
      case RDB_TYPE_LIST_ZIPLIST:
      case RDB_TYPE_LIST_QUICKLIST:
      case RDB_TYPE_LIST_QUICKLIST_2:
        pos = loadList(a, type, src, pos, end);
        break;
      case RDB_TYPE_SET:
      case RDB_TYPE_SET_INTSET:
        pos = loadSet(a, type, src, pos, end);
        break;
      case RDB_TYPE_ZSET:
      case RDB_TYPE_ZSET_2:
      case RDB_TYPE_ZSET_ZIPLIST:
      case RDB_TYPE_ZSET_LISTPACK:
        pos = loadZset(a, type, src, pos, end);
        break;
      case RDB_TYPE_HASH:
      case RDB_TYPE_HASH_ZIPMAP:
      case RDB_TYPE_HASH_ZIPLIST:
      case RDB_TYPE_HASH_LISTPACK:
        pos = loadHash(a, type, src, pos, end);
        break;
      default:
        // Modules, streams and unknown types: Sabre has no such values.
        bad(`unsupported RDB type ${type}`);
    }
  } catch (err) {
    freeBuilt(a);
    if (err instanceof RdbError) throw err;
    // Anything else from the builders is still malformed input from the caller's view.
    throw new RdbError(`Bad data format (${(err as Error).message})`);
  }
  const rec = ks.newRecord(ks.hash(key, keyStart, keyEnd), built.type, built.enc, key, keyStart, keyEnd, built.v,
    expireAtMs, nowMs);
  built.v = 0;
  ks.link(db, rec);
  return pos;
}

/**
 * MEMORY USAGE (Redis 7.0 object.c memoryCommand / objectComputeSize) with Sabre's real
 * byte cost: the key's record block (key, header, string value inline) plus its bucket
 * word, plus for collections the arena blocks of the value, sampled as Redis samples
 * (the first `samples` elements, extrapolated to the whole collection). Sizes are the
 * allocator's class sizes (what the block really takes), never the requested lengths.
 *
 * This handler runs where the key lives (its shard, or the io thread inline and inside
 * transactions). The whole-server subcommands (STATS, DOCTOR, ...) run on the io thread
 * (src/server/memory.ts); the ones here only answer when a shard is asked directly
 * (a script's redis.call), from what that thread can see.
 */
import { ExecContext, ERR_SYNTAX, ERR_NOT_INTEGER, defineCommand, replyHelp, subcommandSyntaxError } from './context';
import type { Keyspace } from '../store/keyspace';
import type { Arena } from '../store/arena';
import { blockSize } from '../store/arena';
import { parseInt64, parsed } from '../util/numbers';
import {
  ENC_HT, ENC_INTSET, ENC_LISTPACK, ENC_SKIPLIST, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET,
} from '../../native-layout/record';
import { ADDR_OFFSET_BITS, ADDR_OFFSET_MASK, GRANULE_SHIFT } from '../../native-layout/arena';
import { AD_HEADER_BYTES, AD_SIZE0, AD_SIZE1, AE_HEADER, AE_HEADER_VALUES } from '../../native-layout/adict';
import { N_NEXT, N_SIZE, QL_HEAD, QL_HEADER_BYTES } from '../../native-layout/quicklist';
import {
  ZS_HEADER_BYTES, ZS_S0, ZS_S1, ZSKIPLIST_MAXLEVEL, ZN_LEN, ZN_LEVEL, znodeSize,
} from '../../native-layout/zset';
import {
  AdictIter, adictHasValues, adictIterNext, adictIterStart, adictKeyLen, adictSize, adictValueLen,
} from '../store/adict';
import { lpBytes } from '../store/listpack';
import { intsetBytes } from '../store/intset';
import { qlNodeCount } from '../store/quicklist';
import { zzlCap } from '../store/zlistpack';
import { zslFirst, zslLength, znForward } from '../store/zskiplist';

/** Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES. */
export const MEMORY_USAGE_DEFAULT_SAMPLES = 5;

/** A key's bucket word in its database's hash table (Redis counts sizeof(dictEntry) here). */
const BUCKET_WORD = 4;

/** Redis 7.0's MEMORY HELP lines (addReplyHelp adds the header and HELP). */
export const MEMORY_HELP: readonly string[] = [
  'DOCTOR',
  '    Return memory problems reports.',
  'MALLOC-STATS',
  '    Return internal statistics report from the memory allocator.',
  'PURGE',
  '    Attempt to purge dirty pages for reclamation by the allocator.',
  'STATS',
  '    Return information about the memory usage of the server.',
  'USAGE <key> [SAMPLES <count>]',
  '    Return memory in bytes used by <key> and its value. Nested values are',
  '    sampled up to <count> times (default: 5, 0 means sample all).',
];

/** What Redis answers to MEMORY MALLOC-STATS without jemalloc. */
export const MALLOC_STATS_TEXT = 'Stats not supported for the current allocator';

function seg(addr: number): number {
  return addr >>> ADDR_OFFSET_BITS;
}
function off(addr: number): number {
  return (addr & ADDR_OFFSET_MASK) << GRANULE_SHIFT;
}
function u32At(a: Arena, addr: number, field: number): number {
  return a.u32[seg(addr)]![(off(addr) + field) >>> 2];
}

const iter = new AdictIter();

/** A bucket array of n u32 words, as allocated (0: no table). */
function tableBytes(n: number): number {
  return n === 0 ? 0 : blockSize(n * 4);
}

/** Hash table entries: header, bucket arrays, then `samples` entries extrapolated to all. */
function adictComputeSize(a: Arena, d: number, samples: number): number {
  let size = blockSize(AD_HEADER_BYTES) + tableBytes(u32At(a, d, AD_SIZE0 * 4)) + tableBytes(u32At(a, d, AD_SIZE1 * 4));
  const values = adictHasValues(a, d);
  let ele = 0, n = 0, e: number;
  adictIterStart(iter, a, d);
  while (n < samples && (e = adictIterNext(iter)) !== 0) {
    ele += blockSize(values ? AE_HEADER_VALUES + adictValueLen(a, e) + adictKeyLen(a, e) : AE_HEADER + adictKeyLen(a, e));
    n++;
  }
  if (n > 0) size += (ele / n) * adictSize(a, d);
  return size;
}

/** A list: header, then the first `samples` nodes' blocks extrapolated to every node (Redis samples nodes too). */
function quicklistComputeSize(a: Arena, ql: number, samples: number): number {
  let size = blockSize(QL_HEADER_BYTES);
  let node = u32At(a, ql, QL_HEAD), ele = 0, n = 0;
  while (node !== 0 && n < samples) {
    ele += blockSize(u32At(a, node, N_SIZE));
    n++;
    node = u32At(a, node, N_NEXT);
  }
  if (n > 0) size += (ele / n) * qlNodeCount(a, ql);
  return size;
}

/** A skiplist zset: header, head node, member index buckets, then sampled nodes. */
function skiplistComputeSize(a: Arena, zs: number, samples: number): number {
  const hw = a.u32[seg(zs)]!, hb = off(zs) >>> 2;
  let size = blockSize(ZS_HEADER_BYTES) + blockSize(znodeSize(ZSKIPLIST_MAXLEVEL, 0));
  size += tableBytes(hw[hb + ZS_S0]) + tableBytes(hw[hb + ZS_S1]);
  let node = zslFirst(a, zs), ele = 0, n = 0;
  while (node !== 0 && n < samples) {
    ele += blockSize(znodeSize(u32At(a, node, ZN_LEVEL), u32At(a, node, ZN_LEN)));
    n++;
    node = znForward(a, node, 0);
  }
  if (n > 0) size += (ele / n) * zslLength(a, zs);
  return size;
}

/**
 * objectComputeSize: bytes of a key's value outside its record (0 for strings: their
 * value is inside the record). `samples` >= 1; Infinity samples everything.
 */
export function valueComputeSize(ks: Keyspace, addr: number, samples: number): number {
  const type = ks.type(addr);
  if (type === TYPE_STRING) return 0;
  const v = ks.valueWord(addr);
  if (v === 0) return 0;
  const a = ks.arena, enc = ks.encoding(addr);
  switch (type) {
    case TYPE_LIST:
      return quicklistComputeSize(a, v, samples);
    case TYPE_SET:
      return enc === ENC_INTSET ? blockSize(intsetBytes(a, v)) : adictComputeSize(a, v, samples);
    case TYPE_HASH:
      return enc === ENC_LISTPACK ? blockSize(lpBytes(a, v)) : enc === ENC_HT ? adictComputeSize(a, v, samples) : 0;
    case TYPE_ZSET:
      return enc === ENC_SKIPLIST ? skiplistComputeSize(a, v, samples) : blockSize(zzlCap(a, v));
    default:
      return 0;
  }
}

/** MEMORY USAGE's figure for a record: the record block, its bucket word, and its value. */
export function keyMemoryUsage(ks: Keyspace, addr: number, samples: number): number {
  return Math.floor(blockSize(ks.recordSize(addr)) + BUCKET_WORD + valueComputeSize(ks, addr, samples));
}

/** MEMORY USAGE key [SAMPLES count]: options are checked before the key is looked up, as Redis. */
function memoryUsage(c: ExecContext): void {
  let samples = MEMORY_USAGE_DEFAULT_SAMPLES;
  for (let j = 3; j < c.argc; j++) {
    if (c.argIs(j, 'samples') && j + 1 < c.argc) {
      if (!parseInt64(c.buf, c.argStart[j + 1], c.argEnd[j + 1])) return c.w.error(ERR_NOT_INTEGER);
      const n = parsed.isBig ? Number(parsed.big) : parsed.int;
      if (n < 0) return c.w.error(ERR_SYNTAX);
      samples = n === 0 ? Infinity : n;
      j++;
    } else {
      return c.w.error(ERR_SYNTAX);
    }
  }
  const b = c.buf, s = c.argStart[2], e = c.argEnd[2];
  const ks = c.store.ks(b, s, e);
  // dictFind in Redis: no expiry check, no LRU touch.
  const addr = ks.find(c.db, b, s, e, ks.hash(b, s, e));
  if (addr === 0) return c.w.nullBulk();
  c.w.integer(keyMemoryUsage(ks, addr, samples));
}

/** Arena bytes across the keyspaces this thread runs (a shard's own, or all of them inline). */
function storeUsedBytes(c: ExecContext): number {
  let n = 0;
  for (const ks of c.store.keyspaces) n += ks.arena.usedBytes;
  return n;
}

/**
 * The MEMORY container as a shard sees it. USAGE is its real job; the others are here
 * for a script's redis.call on a shard, and the io thread answers them otherwise.
 */
function memoryCommand(c: ExecContext): void {
  if (c.argc === 2 && c.argIs(1, 'help')) return replyHelp(c, MEMORY_HELP);
  if (c.argc >= 3 && c.argIs(1, 'usage')) return memoryUsage(c);
  if (c.argc === 2 && c.argIs(1, 'purge')) return c.w.ok();
  if (c.argc === 2 && c.argIs(1, 'malloc-stats')) return c.w.bulkString(MALLOC_STATS_TEXT);
  if (c.argc === 2 && c.argIs(1, 'doctor')) {
    return c.w.verbatim(storeUsedBytes(c) < 5 * 1024 * 1024 ? DOCTOR_EMPTY : DOCTOR_OK);
  }
  if (c.argc === 2 && c.argIs(1, 'stats')) {
    // Only this thread's arenas are visible here.
    const used = storeUsedBytes(c);
    c.w.mapHeader(2);
    c.w.bulkString('total.allocated');
    c.w.integer(used);
    c.w.bulkString('keys.count');
    let keys = 0;
    for (const ks of c.store.keyspaces) for (let db = 0; db < ks.dbCount; db++) keys += ks.size(db);
    c.w.integer(keys);
    return;
  }
  subcommandSyntaxError(c);
}

/** getMemoryDoctorReport's texts (Redis 7.0, object.c). */
export const DOCTOR_OK = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
export const DOCTOR_EMPTY = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";

defineCommand('memory', memoryCommand);

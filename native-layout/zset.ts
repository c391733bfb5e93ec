/**
 * Sorted set value layouts (native-layout/zset.md). Two encodings, as Redis:
 *
 * listpack (ENC_LISTPACK): one block, entries sorted by (score, member bytes)
 *   header  0 u32 count   4 u32 used (entry bytes)   8 u32 cap (block bytes)   12 u32 last (offset of last entry, 0 = none)
 *   entry   0 f64 score   8 u32 len   12 u32 prev (size of the previous entry, 0 = first)   16 member bytes
 *           entry size = align8(16 + len), so every score is 8-byte aligned.
 *
 * skiplist (ENC_SKIPLIST): a header block, one node block per member, and the member
 * index (a chained hash table of node addresses, rehashed incrementally).
 *   header  u32 words, see ZS_*
 *   node    0 f64 score   8 u32 backward   12 u32 hnext (hash chain)   16 u32 len   20 u32 level
 *           24 + 8*i: u32 forward[i], u32 span[i]   24 + 8*level: member bytes
 */

// ---- listpack --------------------------------------------------------------------------
export const LP_COUNT = 0;
export const LP_USED = 4;
export const LP_CAP = 8;
export const LP_LAST = 12;
export const LP_HEADER = 16;

export const LPE_SCORE = 0;
export const LPE_LEN = 8;
export const LPE_PREV = 12;
export const LPE_HEADER = 16;

/** Bytes of a listpack entry holding a member of `len` bytes. */
export function lpEntrySize(len: number): number {
  return (LPE_HEADER + len + 7) & ~7;
}

// ---- skiplist header (u32 word indexes) -------------------------------------------------
export const ZS_HEAD = 0;
export const ZS_TAIL = 1;
export const ZS_LENGTH = 2;
export const ZS_LEVEL = 3;
/** Member index: table 0 (address, buckets, used), table 1, rehash index. */
export const ZS_T0 = 4;
export const ZS_S0 = 5;
export const ZS_U0 = 6;
export const ZS_T1 = 7;
export const ZS_S1 = 8;
export const ZS_U1 = 9;
export const ZS_REHASH = 10;
export const ZS_HEADER_WORDS = 12;
export const ZS_HEADER_BYTES = ZS_HEADER_WORDS * 4;
export const ZS_NOT_REHASHING = 0xffffffff;

// ---- skiplist node ------------------------------------------------------------------------
export const ZN_SCORE = 0;
export const ZN_BACKWARD = 8;
export const ZN_HNEXT = 12;
export const ZN_LEN = 16;
export const ZN_LEVEL = 20;
export const ZN_LEVELS = 24;
/** Bytes per level: forward address and span. */
export const ZN_LEVEL_BYTES = 8;

export function znodeSize(level: number, len: number): number {
  return ZN_LEVELS + level * ZN_LEVEL_BYTES + len;
}

/** Redis's ZSKIPLIST_MAXLEVEL and ZSKIPLIST_P. */
export const ZSKIPLIST_MAXLEVEL = 32;
export const ZSKIPLIST_P = 0.25;

/** Member index: initial buckets, rehash work per operation, shrink below 10% full. */
export const ZD_INITIAL_SIZE = 4;
export const ZD_REHASH_STEP = 1;
export const ZD_EMPTY_VISITS = 10;

/** Deleting a skiplist zset with more members than this goes through the lazy-free queue. */
export const ZSET_LAZYFREE_THRESHOLD = 64;

/**
 * Key record layout: one arena block per key, key and (for strings) value inline.
 * See native-layout/record.md.
 *
 *   0  u32 next       address of the next record in the same hash bucket (0 = end)
 *   4  u32 hash       32-bit hash of the key (rehash and chain walks never re-read the key)
 *   8  u32 meta       bits 0-3 type, 4-7 encoding, 8-31 LRU clock (seconds) or LFU minutes<<8|counter
 *  12  u32 keyLen     bits 0-28 key length; bit 31 HAS_EXPIRE
 *  16  u32 valueLen   string: value length in bytes; other types: address of the value block
 * [20  u32 expireLo, 24 u32 expireHi]   absolute expiry in ms, only when HAS_EXPIRE
 *  20 or 28: key bytes, then (strings) value bytes
 */
export const R_NEXT = 0;
export const R_HASH = 4;
export const R_META = 8;
export const R_KEYLEN = 12;
export const R_VALUE = 16;
export const R_EXPIRE_LO = 20;
export const R_EXPIRE_HI = 24;
export const R_HEADER = 20;
export const R_HEADER_EXPIRE = 28;

export const KEYLEN_MASK = 0x1fffffff;
export const FLAG_HAS_EXPIRE = 0x80000000;

export const META_TYPE_MASK = 0x0f;
export const META_ENC_SHIFT = 4;
export const META_ENC_MASK = 0xf0;
export const META_LRU_SHIFT = 8;
export const LRU_MASK = 0xffffff;

/** Types, numbered as Redis's OBJ_* constants. */
export const TYPE_STRING = 0;
export const TYPE_LIST = 1;
export const TYPE_SET = 2;
export const TYPE_ZSET = 3;
export const TYPE_HASH = 4;

/** Encodings, numbered as Redis's OBJ_ENCODING_* constants. */
export const ENC_RAW = 0;
export const ENC_INT = 1;
export const ENC_HT = 2;
export const ENC_INTSET = 6;
export const ENC_SKIPLIST = 7;
export const ENC_EMBSTR = 8;
export const ENC_QUICKLIST = 9;
export const ENC_LISTPACK = 11;

/** Redis keeps strings up to 44 bytes as embstr. */
export const EMBSTR_LIMIT = 44;

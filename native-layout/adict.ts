/**
 * Arena dict layout: a chained hash table of byte-string entries (with an optional
 * byte-string value each) living in the shard arena. Used by hashes and sets (encoding
 * "hashtable") and by any collection that needs O(1) member lookup. See native-layout/adict.md.
 *
 * Header block, AD_HEADER_WORDS u32 words:
 */
export const AD_TABLE0 = 0; // address of bucket array 0 (u32 entry addresses)
export const AD_SIZE0 = 1; // buckets in table 0 (power of two; 0 = no table yet)
export const AD_USED0 = 2; // entries in table 0
export const AD_TABLE1 = 3; // table being rehashed into (0 when not rehashing)
export const AD_SIZE1 = 4;
export const AD_USED1 = 5;
export const AD_REHASH_IDX = 6; // next bucket of table 0 to move; 0xffffffff when not rehashing
export const AD_FLAGS = 7; // ADF_* bits
export const AD_FREE_CURSOR = 8; // lazy free: next bucket to free (table 0 then table 1)
export const AD_RESERVED = 9;
export const AD_HEADER_WORDS = 10;
export const AD_HEADER_BYTES = AD_HEADER_WORDS * 4;

/** Entries carry a value. */
export const ADF_VALUES = 1;

/**
 * Entry block:
 *   0  u32 next      next entry in the same bucket (0 = end)
 *   4  u32 hash      murmur3 of the key with the arena seed (rehash never re-reads the key)
 *   8  u32 keyLen
 *  12  u32 valueLen  only with ADF_VALUES
 *  12 (no values) or 16 + valueLen: key bytes
 * With values, the value starts at offset 16 (8-byte aligned, so an 8-byte value such as
 * a sorted set's score can be read as a double), and the key follows it.
 */
export const AE_NEXT = 0;
export const AE_HASH = 4;
export const AE_KEYLEN = 8;
export const AE_VALUELEN = 12;
export const AE_HEADER = 12;
export const AE_HEADER_VALUES = 16;

export const AD_INITIAL_SIZE = 4;
/** Buckets moved per operation while rehashing (Redis's _dictRehashStep moves 1). */
export const AD_REHASH_STEP = 1;
/** Empty buckets visited at most per moved bucket (Redis's empty_visits = n*10). */
export const AD_EMPTY_VISITS = 10;
/** Shrink when under this percentage full (Redis's HASHTABLE_MIN_FILL). */
export const AD_MIN_FILL = 10;

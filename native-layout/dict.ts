/**
 * Key index layout: per database, a dict header block in the arena and up to two
 * bucket arrays (incremental rehash, as Redis's dict.c). See native-layout/dict.md.
 *
 * Keyspace root block (H_ROOT of the arena): u32 dbCount, then dbCount dict headers.
 * Dict header, DICT_HEADER_WORDS u32 words:
 */
export const D_TABLE0 = 0; // address of bucket array 0 (u32 record addresses)
export const D_SIZE0 = 1; // buckets in table 0 (power of two, 0 = none)
export const D_USED0 = 2; // records in table 0
export const D_TABLE1 = 3; // table being rehashed into (0 when not rehashing)
export const D_SIZE1 = 4;
export const D_USED1 = 5;
export const D_REHASH_IDX = 6; // next bucket of table 0 to move; -1 (as 0xffffffff) when idle
export const D_VOLATILE = 7; // records with HAS_EXPIRE
export const D_EXPIRE_CURSOR = 8; // active expiry scan position
export const D_AVG_TTL_LO = 9; // reserved for INFO keyspace avg_ttl
export const D_AVG_TTL_HI = 10;
export const DICT_HEADER_WORDS = 12;

export const DICT_INITIAL_SIZE = 4;
/** Buckets moved per dict operation while rehashing (Redis moves 1; we move a few, cheap here). */
export const REHASH_STEP = 4;
/** Empty buckets visited at most per step, as Redis's empty_visits = n*10. */
export const REHASH_EMPTY_VISITS = 40;

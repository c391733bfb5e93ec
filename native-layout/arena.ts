/**
 * Arena layout: the shard's memory, a list of SharedArrayBuffer segments.
 * See native-layout/arena.md. Every other module reads these constants.
 */

/** Regular segments are 32 MiB; blocks inside are 8-byte aligned. */
export const SEGMENT_SHIFT = 25;
export const SEGMENT_SIZE = 1 << SEGMENT_SHIFT;
export const GRANULE_SHIFT = 3;
export const GRANULE = 1 << GRANULE_SHIFT;

/**
 * An address is a u32: segment index in the high 10 bits, offset in granules in the low 22.
 * Address 0 is null (segment 0 starts with the arena header, never allocated).
 */
export const ADDR_OFFSET_BITS = SEGMENT_SHIFT - GRANULE_SHIFT; // 22
export const ADDR_OFFSET_MASK = (1 << ADDR_OFFSET_BITS) - 1;
export const MAX_SEGMENTS = 1 << (32 - ADDR_OFFSET_BITS); // 1024

/** Blocks of this class size or more get a dedicated segment of exactly that size. */
export const LARGE_BLOCK = 1 << 20;

/** Arena header: u32 words at the start of segment 0. */
export const H_MAGIC = 0;
export const H_GENERATION = 1; // bumped (Atomics) after every segment added or released; peers sync on it
export const H_CUR_SEG = 2; // segment that the bump pointer carves from
export const H_BUMP = 3; // byte offset of the bump pointer in H_CUR_SEG
export const H_NEXT_SEG = 4; // next never-used segment index
export const H_FREE_SEG_COUNT = 5; // released segment indexes available for reuse
export const H_ROOT = 6; // address of the owner's root block (the keyspace)
export const H_HASH_SEED = 7; // seed of the key hash, shared by every thread that runs this arena
export const H_USED_LO = 8; // bytes handed out (class sizes), as two u32 words
export const H_USED_HI = 9;
export const H_SEG_BYTES_LO = 10; // bytes of all live segments
export const H_SEG_BYTES_HI = 11;
export const H_BARRIER = 12; // transaction barrier word, see native-layout/ring.md
export const H_EXPIRED_KEYS = 13; // keys removed by expiry (INFO stats expired_keys), readable from any thread
export const H_LAZYFREE_HEAD = 14; // first node of the lazy-free queue: 12-byte blocks {u32 next, u32 type, u32 value}
export const H_LAZYFREE_COUNT = 15; // values waiting in it (INFO lazyfree_pending_objects)
export const H_FREE_HEADS = 16; // one u32 free-list head per size class below 1 MiB (192 classes: words 16..207)
export const H_FREE_HEADS_END = 495; // free-list heads may not reach the words from here on
export const H_SNAPSHOT = 496; // address of the active snapshot's state block, 0 = none (native-layout/snapshot.md)
export const H_EVICTED_KEYS = 497; // keys removed by maxmemory eviction (INFO stats evicted_keys), readable from any thread
export const H_KEYSPACE_HITS = 498; // f64 (words 498-499): lookups of read commands that found the key (INFO keyspace_hits)
export const H_KEYSPACE_MISSES = 500; // f64 (words 500-501): ... that did not (keyspace_misses)
export const H_DIRTY = 495; // writes counted by the shard that owns the arena (rdb_changes_since_last_save), published after each batch
export const H_FREE_SEGS = 512; // stack of released segment indexes (MAX_SEGMENTS words)
export const HEADER_WORDS = H_FREE_SEGS + MAX_SEGMENTS;
export const HEADER_BYTES = HEADER_WORDS * 4;

export const ARENA_MAGIC = 0x53424152; // "SBAR"

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
/**
 * Active defrag (native-layout/defrag.md). H_DEFRAG_FLAGS..+255: one byte per segment, 0 or the
 * 1-based slot of an evacuating segment in the evacuation table; free() into a flagged segment
 * parks the block there instead of on its class free list. Words 464.. are the cycle's state.
 */
export const H_DEFRAG_FLAGS = 208; // 1024 flag bytes: words 208..463
export const H_DEFRAG_CYCLE = 464; // 1 while a defrag cycle has segments flagged
export const H_DEFRAG_SLOTS = 465; // slots in use in the evacuation table (H_DEFRAG_SLOT_TABLE)
export const H_DEFRAG_RUNNING = 466; // CPU percent of the running cycle, 0 = none (INFO active_defrag_running)
export const H_DEFRAG_ENABLED = 467; // config written by the io thread: activedefrag yes (1) / no (0)
export const H_DEFRAG_THRESHOLD_LOWER = 468; // active-defrag-threshold-lower (percent)
export const H_DEFRAG_THRESHOLD_UPPER = 469; // active-defrag-threshold-upper (percent)
export const H_DEFRAG_CYCLE_MIN = 470; // active-defrag-cycle-min (percent of CPU)
export const H_DEFRAG_CYCLE_MAX = 471; // active-defrag-cycle-max
export const H_DEFRAG_MAX_SCAN_FIELDS = 472; // active-defrag-max-scan-fields (capped to 2^31)
export const H_DEFRAG_RELEASED = 473; // segments released by defrag so far
export const H_DEFRAG_IGNORE_BYTES = 474; // f64 (words 474-475): active-defrag-ignore-bytes
export const H_DEFRAG_HITS = 476; // f64: blocks moved (INFO active_defrag_hits)
export const H_DEFRAG_MISSES = 478; // f64: blocks looked at and left (active_defrag_misses)
export const H_DEFRAG_KEY_HITS = 480; // f64: keys with a block moved (active_defrag_key_hits)
export const H_DEFRAG_KEY_MISSES = 482; // f64: keys looked at with nothing moved (active_defrag_key_misses)
export const H_DEFRAG_TOTAL_MS = 484; // f64: wall time of finished cycles (total_active_defrag_time)
export const H_DEFRAG_STARTED = 486; // f64: Date.now() when the running cycle started, 0 = none
/**
 * Bytes of segment 0 carved when the keyspace moved data allocation on to segment 1 (the
 * header and the root block; its untouched rest is never resident), 0 while segment 0 is
 * still the bump segment. Data never lives in segment 0, so defrag can empty every data segment.
 */
export const H_SEG0_CARVED = 488;
export const H_SNAPSHOT = 496; // address of the active snapshot's state block, 0 = none (native-layout/snapshot.md)
export const H_EVICTED_KEYS = 497; // keys removed by maxmemory eviction (INFO stats evicted_keys), readable from any thread
export const H_KEYSPACE_HITS = 498; // f64 (words 498-499): lookups of read commands that found the key (INFO keyspace_hits)
export const H_KEYSPACE_MISSES = 500; // f64 (words 500-501): ... that did not (keyspace_misses)
export const H_DIRTY = 495; // writes counted by the shard that owns the arena (rdb_changes_since_last_save), published after each batch
export const H_FREE_SEGS = 512; // stack of released segment indexes (MAX_SEGMENTS words)
/** Defrag's evacuation table: per slot, u32 segment (0 = done), u32 parked-list head, u32 parked bytes. */
export const H_DEFRAG_SLOT_TABLE = H_FREE_SEGS + MAX_SEGMENTS; // 1536
export const DEFRAG_SLOT_WORDS = 3;
export const DEFRAG_MAX_SLOTS = 255; // a slot number fits a flag byte
export const HEADER_WORDS = H_DEFRAG_SLOT_TABLE + 768; // 2304 words: 9 KiB, a multiple of the 8-byte granule
export const HEADER_BYTES = HEADER_WORDS * 4;

export const ARENA_MAGIC = 0x53424152; // "SBAR"

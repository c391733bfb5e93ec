/**
 * Fork-less snapshots: the in-arena snapshot state of a shard and the entry format of
 * snapshot files. See native-layout/snapshot.md.
 *
 * Arena header word H_SNAPSHOT (native-layout/arena.ts) holds the address of the state
 * block below, 0 when no snapshot is active. Each frozen database also has D_SNAPSHOT
 * set in its dict header (native-layout/dict.ts), which pauses its resizes and rehash.
 *
 * State block, u32 words:
 */
export const SS_ID = 0; // snapshot id given to beginSnapshot
export const SS_DB_COUNT = 1; // databases described below
export const SS_BITMAP = 2; // address of the bitmap of serialized buckets (1 bit per bucket at the cut)
export const SS_BITMAP_BYTES = 3; // its size in bytes (a multiple of 4)
export const SS_CUR_DB = 4; // walk cursor: database,
export const SS_CUR_TABLE = 5; // table (0 or 1),
export const SS_CUR_BUCKET = 6; // and next bucket to visit
export const SS_CUT_MS_LO = 7; // wall-clock ms of the cut = hi * 2^32 + lo
export const SS_CUT_MS_HI = 8;
export const SS_EARLY_KEYS = 9; // records serialized by snapshotBeforeWrite (copy-before-write)
export const SS_EARLY_BUCKETS = 10; // buckets serialized by snapshotBeforeWrite
export const SS_WALK_KEYS = 11; // records serialized by the walk (snapshotStep / snapshotFinish)
export const SS_HEADER_WORDS = 12;

/** Then SD_WORDS u32 words per database: its tables as they were at the cut. */
export const SD_TABLE0 = 0; // bucket array 0 address
export const SD_SIZE0 = 1; // its buckets (0: no table, nothing to serialize)
export const SD_BIT0 = 2; // bitmap bit of its bucket 0
export const SD_TABLE1 = 3; // bucket array 1 (rehash in progress at the cut), else 0
export const SD_SIZE1 = 4;
export const SD_BIT1 = 5;
export const SD_WORDS = 6;

/**
 * Word 11 of each dict header (native-layout/dict.md; the word after D_AVG_TTL_HI):
 * 1 while a snapshot holds this database's tables frozen: no resize, no rehash step.
 */
export const D_SNAPSHOT = 11;

/** Buckets the walk visits between two deadline checks. */
export const WALK_BATCH = 64;

/**
 * Snapshot file payload (inside native-layout/aof.ts frames): a sequence of ops.
 *
 *   OP_HEADER: u8 op | 9 bytes "SABRESNAP" | u16 version | f64 createdMs | f64 keyCount (-1 unknown)
 *   OP_ENTRY:  u8 op | u16 db | u32 keyLen | key | f64 expireAtMs (-1 none) | value
 *              value: Redis RDB object encoding (type byte + payload), as DUMP's body
 *   OP_FUNCTIONS: u8 op | u32 len | FUNCTION DUMP payload (the Lua libraries at the cut)
 *   OP_END:    u8 op | f64 keyCount (entries written)
 */
export const OP_ENTRY = 1;
export const OP_FUNCTIONS = 2;
export const OP_HEADER = 0xfa;
export const OP_END = 0xff;

export const SNAP_MAGIC = 'SABRESNAP';
export const SNAP_VERSION = 1;
export const SNAP_HEADER_BYTES = 1 + 9 + 2 + 8 + 8;
export const SNAP_END_BYTES = 1 + 8;
/** Bytes of an entry before its key, and between key and value. */
export const ENTRY_PREFIX = 1 + 2 + 4;
export const ENTRY_EXPIRE = 8;

/** A writer hands its buffer on (one SNAPSHOT_CHUNK record) once it holds this much. */
export const CHUNK_BYTES = 64 * 1024;

/**
 * The effect log: one multi-producer single-consumer log in a SharedArrayBuffer that
 * carries every write's effects (and snapshot chunks) to the persistence worker.
 * See native-layout/effect-log.md.
 *
 * Control block: Int32 words, then Float64 statistics, then the data area.
 */
export const LOG_LOCK = 0; // producers' spin lock: 0 free, 1 held, 2 held with sleepers (worker threads)
export const LOG_HEAD = 1; // position after the last published record (written under the lock)
export const LOG_TAIL = 2; // consumer's release position: space before it is free
export const LOG_DURABLE = 3; // durable position published by the persistence worker
export const LOG_DURABLE_WAITERS = 4; // threads sleeping on LOG_DURABLE (notify only when > 0)
export const LOG_WAKE = 5; // consumer's sleep epoch: odd while it sleeps (ring.md wake protocol)
export const LOG_SPACE_WAITERS = 6; // producers sleeping on LOG_TAIL for room
export const LOG_WRITE_STATUS = 7; // 0 ok, 1 the last AOF write failed (aof_last_write_status:err)
export const LOG_WRITE_ERRNO = 8; // errno-like code of the last failed write (positive), 0 none
export const LOG_AOF_STATE = 9; // 0 off, 1 on, 2 wait-rewrite (as the worker sees it)
export const LOG_INT_WORDS = 16;

/** Float64 statistics kept current by the persistence worker (plain stores; advisory). */
export const STAT_AOF_CURRENT_SIZE = 0; // bytes in base + incr files of the manifest
export const STAT_AOF_BASE_SIZE = 1; // bytes of the base at the last rewrite/start
export const STAT_FSYNCS = 2; // fdatasync calls on incr files
export const STAT_WRITES = 3; // write system calls on incr files
export const STAT_FRAMES = 4; // frames written to incr files
export const STAT_BYTES_WRITTEN = 5; // bytes written to incr files
export const STAT_RECORDS = 6; // EFFECT records consumed
export const STAT_DELAYED_FSYNC = 7; // aof_delayed_fsync (kept for INFO; always 0 today)
export const STAT_LAST_FSYNC_MS = 8; // wall clock of the last fsync
export const STAT_WORDS = 16;

export const LOG_STATS_OFFSET = LOG_INT_WORDS * 4; // 64
export const LOG_CONTROL_BYTES = LOG_STATS_OFFSET + STAT_WORDS * 8; // 192
export const LOG_DEFAULT_CAPACITY = 16 << 20;
export const LOG_MIN_CAPACITY = 256;

/**
 * Record: 0 u32 length (header + payload, unpadded; 0 = wrap marker: continue at the start
 * of the data area), 4 u8 kind, 5 u8 flags, 6 u16 db (snapshot id for SNAPSHOT_* records and
 * ROTATE), 8 u32 shard id, 12 payload; the next record starts at the length rounded up to 4.
 */
export const REC_LEN = 0;
export const REC_KIND = 4;
export const REC_FLAGS = 5;
export const REC_DB = 6;
export const REC_SHARD = 8;
export const REC_HEADER = 12;

export const KIND_EFFECT = 1; // payload: RESP commands as Redis's AOF text (a MULTI..EXEC block is one record)
export const KIND_SNAPSHOT_CHUNK = 2; // db = snapshot id; payload: whole snapshot entries (aof.md)
export const KIND_SNAPSHOT_DONE = 3; // db = snapshot id; a shard finished its part; payload: optional f64 key count
export const KIND_ROTATE = 4; // db = snapshot id (rewrite) or 0: close the incr file, open the next one
export const KIND_SNAPSHOT_BEGIN = 5; // db = snapshot id; payload: UTF-8 JSON SnapshotBegin; FLAG_ROTATE: also rotate
export const KIND_AOF_ON = 6; // appendonly yes at run time: wait for a rewrite (Redis AOF_WAIT_REWRITE)
export const KIND_AOF_OFF = 7; // appendonly no: flush, fsync, close
export const KIND_SYNC = 8; // no payload: flush and fsync everything before it (SHUTDOWN, tests)

export const FLAG_ROTATE = 1; // on SNAPSHOT_BEGIN: rotate the incr file at this point (AOF rewrite)

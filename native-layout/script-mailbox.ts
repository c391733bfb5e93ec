/**
 * The mailbox between the io thread and the script thread: one request in flight at a
 * time (scripts run one after another). See native-layout/script-mailbox.md.
 *
 * Int32 control words, then the data area from MB_DATA.
 */
export const MB_STATE = 0; // MB_IDLE / MB_REQUEST / MB_REPLY (Atomics; both sides wait on it)
export const MB_COUNT = 1; // request: commands in the payload
export const MB_FLAGS = 2; // request: MBF_* bits
export const MB_NOTIFY = 5; // request: notify-keyspace-events flags in effect
export const MB_SYNC = 6; // request: messages waiting on the port (segment lists, settings) to take in first
export const MB_REQ_LEN = 7; // request: payload bytes in the data area; -1 when the payload is on the port
export const MB_REP_LEN = 8; // reply: bytes of the commands' replies, concatenated
export const MB_EVT_LEN = 9; // reply: bytes of keyspace events (src/shard/events.ts encoding)
export const MB_WRITES_LEN = 10; // reply: bytes of the write commands that changed data
export const MB_SEGS = 11; // reply: segment announcements waiting on the port, in order
export const MB_DIRTY = 12; // reply: changes made (server dirty counter delta)
export const MB_REP_PORT = 13; // reply: 1 when the reply payload is on the port instead
export const MB_RUNNING = 14; // while running: index of the command running now (FUNCTION STATS names its client's call)
export const MB_FUNCS = 16; // reply: 1 when the function libraries changed; their FUNCTION DUMP (or null) is on the port after the segments
export const MB_CB_OP = 17; // callback: MBC_* (what the script thread asks of the io thread mid-script)
export const MB_CB_LEN = 18; // callback: payload bytes in the callback buffer (-1: on the port)
export const MB_CB_RESULT = 19; // callback: the io thread's answer (PUBLISH: receivers)
export const MB_CONTROL_BYTES = 128;
export const MB_DATA = MB_CONTROL_BYTES;
export const MB_DEFAULT_CAPACITY = 4 << 20;

export const MB_IDLE = 0;
export const MB_REQUEST = 1;
export const MB_REPLY = 2;
export const MB_CALLBACK = 3; // the script asks the io thread something (PUBLISH); it sets MB_REQUEST again with the answer

/** Callbacks: payload u32 chanLen | chan | u32 msgLen | msg. */
export const MBC_PUBLISH = 1;
export const MBC_SPUBLISH = 2;
export const MB_CALLBACK_CAPACITY = 1 << 20;

/** Request flags. */
export const MBF_PROPAGATE = 1; // the AOF is on: collect effects
export const MBF_MULTI = 2; // the commands are (part of) an EXEC block: one MULTI in the AOF, blocking commands answer at once

/**
 * Request payload, per command: u32 cmdId, u32 argc, u16 db, u16 resp, u32 shard mask (the
 * shards parked for it, bit s; 0: all), then argc x (u32 len, bytes). A request is one client's command, several clients' scripts in a row (inline: they
 * run back to back with nothing between them), or a run of one EXEC block's commands.
 * Bit MBR_TRACK_READS of the resp word: the caller tracks keys (CLIENT TRACKING), so the reads
 * of its script come back too.
 * Reply payload: replies (MB_REP_LEN bytes), events (MB_EVT_LEN), writes (MB_WRITES_LEN):
 * per write u16 db, u16 cmdId, u16 command index, u16 kind (MBW_*), u32 argc, argc x (u32 len, bytes);
 * then per command u32 reply end (offset in the replies), f32 execution time in µs.
 */
export const MB_CMD_HEADER = 16;
/** In a command's resp word: remember the keys its script reads for the caller's tracking. */
export const MBR_TRACK_READS = 0x100;
/** In a command's resp word: memory was over maxmemory with nothing to evict when it was dispatched (scripts refuse their first deny-oom write). */
export const MBR_OOM = 0x200;
/** Kinds of the writes list's entries: a command that changed data, or a read of a tracking caller's script. */
export const MBW_WRITE = 0;
export const MBW_READ = 1;
export const MB_WRITE_HEADER = 12;
export const MB_REPLY_INDEX_ENTRY = 8;
/** Most scripts of several clients sent in one request. */
export const MB_MAX_BATCH = 256;

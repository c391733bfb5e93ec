/**
 * Single-producer single-consumer ring in a SharedArrayBuffer, one per direction per
 * shard. See native-layout/ring.md.
 *
 * Control block: Int32 words at the start of the buffer.
 */
export const RING_HEAD = 0; // producer's write offset into the data area (published with Atomics.store)
export const RING_TAIL = 1; // consumer's read offset (published with Atomics.store)
export const RING_WAKE = 2; // consumer's sleep epoch: odd while it sleeps (see ring.md, wake protocol)
export const RING_CONTROL_BYTES = 64; // control words padded to their own cache line
export const RING_DEFAULT_CAPACITY = 1 << 20; // 1 MiB: every page ends up resident (native-layout/ring.md)

/** A record whose payload goes through the side port because it is larger than this share of the ring. */
export const RING_LARGE_DIVISOR = 4;

/** Every record starts with its total length in bytes (4-aligned); 0 means "wrap to offset 0". */
export const REC_LENGTH = 0;

/**
 * Request record (io thread -> shard):
 *   0 u32 length, 4 u32 clientId, 8 u32 seq, 12 u8 kind, 13 u8 flags, 14 u16 db,
 *  16 u16 resp, 18 u16 cmdId, 20 u32 argc, 24: argc x (u32 len, bytes), padded to 4.
 */
export const REQ_CLIENT = 4;
export const REQ_SEQ = 8;
export const REQ_KIND = 12;
export const REQ_FLAGS = 13;
export const REQ_DB = 14;
export const REQ_RESP = 16;
export const REQ_CMD = 18;
export const REQ_ARGC = 20;
export const REQ_ARGS = 24;

export const KIND_COMMAND = 1; // run the command, reply with the same clientId/seq
export const KIND_PARK = 2; // cross-shard transaction: ack with REPLY_PARKED, wait on the arena barrier for seq
export const KIND_CONTROL = 3; // argv is a control message (config change, shutdown)
export const FLAG_NO_REPLY = 1; // CLIENT REPLY OFF/SKIP: reply record carries no bytes
export const FLAG_LARGE = 2; // the args arrive as one message on the side port
export const FLAG_RETRY = 4; // a blocked client's retry (ExecContext.retry)
export const FLAG_REPORT_WRITES = 8; // a script: send what it writes (REPLY_WRITES); the io thread has WATCHed keys or blocked clients

/**
 * Reply record (shard -> io thread):
 *   0 u32 length, 4 u32 clientId, 8 u32 seq, 12 u16 kind, 14 u16 cmdId,
 *  16 u32 payload length, 20 f32 execution time in µs, 24: payload.
 */
export const REP_CLIENT = 4;
export const REP_SEQ = 8;
export const REP_KIND = 12;
export const REP_CMD = 14;
export const REP_LEN = 16;
export const REP_USEC = 20;
export const REP_DATA = 24;

export const REPLY_DATA = 1;
/** Or'ed into a REPLY_DATA kind: the command changed the dataset (WATCH touches its keys). */
export const REPLY_DIRTY = 0x100;
export const REPLY_KIND_MASK = 0xff;
export const REPLY_PARKED = 2; // seq holds the transaction id
export const REPLY_LARGE = 3; // payload is the next message on the side port
export const REPLY_CONTROL = 4; // payload is a control answer (JSON)
export const REPLY_BLOCKED = 6; // a blocking command found no data: the io thread blocks the client
export const REPLY_EVENT = 7; // payload: keyspace notifications of the command whose reply follows (clientId/seq as its reply; 0 from the cron) (src/server/notifications.ts)
export const REPLY_SLOWLOG = 5; // payload: the slow command's arguments as slowlog keeps them, (u32 length, bytes) each; seq/client as the command's
export const REPLY_WRITES = 8; // payload: the write commands a script on the shard ran (script-mailbox.md writes-list entries), ahead of its reply; empty when too many to send (the io thread then takes the script's declared keys)

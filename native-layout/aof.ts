/**
 * AOF frames (incr AOF files and snapshot files share them) and the AOF manifest.
 * See native-layout/aof.md.
 */

/** Frame header: u32 magic, u32 rawLen, u32 compLen, u32 crc32; then compLen bytes. */
export const FRAME_MAGIC = 0x31464153; // bytes "SAF1"
export const FRAME_MAGIC_OFF = 0;
export const FRAME_RAW_LEN = 4;
export const FRAME_COMP_LEN = 8;
export const FRAME_CRC = 12;
export const FRAME_HEADER = 16;
/** crc32 covers the header's first 12 bytes, then the compressed bytes. */
export const FRAME_CRC_COVERED_HEADER = 12;
/** The compressed body starts with lz4-napi's u32 LE uncompressed size (lz4_flex compress_prepend_size). */
export const FRAME_LZ4_SIZE_PREFIX = 4;
/** Writers start a new frame once this much raw payload is pending (a record is never split). */
export const FRAME_TARGET_RAW = 1 << 20;
/** Sanity bound: a frame claiming more is corrupt, not truncated (proto-max-bulk-len). */
export const FRAME_MAX_RAW = 512 << 20;

/** Upper bound of an lz4 block for `rawLen` bytes, plus the size prefix. */
export function frameMaxCompLen(rawLen: number): number {
  return rawLen + Math.floor(rawLen / 255) + 16 + FRAME_LZ4_SIZE_PREFIX;
}

/**
 * Snapshot files (dump.rdb, the AOF base) are frames whose payloads are the entries of
 * native-layout/snapshot.ts: the persistence worker writes the OP_HEADER frame at snapshot
 * begin and the OP_END frame at the end; the shards' chunks are the frames between.
 */

/** AOF manifest (Redis 7 text format). */
export const MANIFEST_SUFFIX = '.manifest';
export const TEMP_FILE_PREFIX = 'temp-';
export const BASE_FILE_SUFFIX = '.base';
export const INCR_FILE_SUFFIX = '.incr';
export const BASE_FORMAT_SUFFIX = '.sabre'; // Sabre's snapshot container, where Redis has ".rdb"
export const INCR_FORMAT_SUFFIX = '.aof';
export const MANIFEST_MAX_LINE = 1024;
export const AOF_FILE_TYPE_BASE = 'b';
export const AOF_FILE_TYPE_HIST = 'h';
export const AOF_FILE_TYPE_INCR = 'i';

/**
 * List value layout (Redis 7.0 "quicklist"): a header block and a doubly linked list of
 * node blocks, each holding a run of entries. See native-layout/quicklist.md.
 *
 * Header block (QL_HEADER_BYTES):
 *   0  u32 head    address of the first node (0 = none)
 *   4  u32 tail    address of the last node
 *   8  f64 count   elements in the whole list
 *  16  u32 nodes   nodes in the list
 *  20  i32 fill    list-max-listpack-size when the list was created, clamped to [-5, 32767]
 */
export const QL_HEAD = 0;
export const QL_TAIL = 4;
export const QL_COUNT = 8;
export const QL_NODES = 16;
export const QL_FILL = 20;
export const QL_HEADER_BYTES = 24;

/**
 * Node block: a 24-byte header, then entries packed in [lo, hi) (byte offsets from the
 * block start); free room may sit on both sides so pushes at either end rarely move bytes.
 *   0  u32 prev    address of the previous node (0 = this is the head)
 *   4  u32 next    address of the next node (0 = this is the tail)
 *   8  u32 count   entries in this node (never 0 while linked)
 *  12  u32 size    bytes of the block (its allocation size, for Arena.free)
 *  16  u32 lo      offset of the first entry
 *  20  u32 hi      offset just past the last entry
 */
export const N_PREV = 0;
export const N_NEXT = 4;
export const N_COUNT = 8;
export const N_SIZE = 12;
export const N_LO = 16;
export const N_HI = 20;
export const N_HEADER = 24;

/**
 * Entry: len, the element's bytes, then len again written backwards, so the node can be
 * walked from either end. The length field is 1, 2 or 5 bytes:
 *   0xxxxxxx                      len < 128
 *   10xxxxxx xxxxxxxx             len < 16384 (big-endian 14 bits); backwards: lo8, 0x80|hi6
 *   11000000 + u32 little-endian  any other len; backwards: the u32, then 0xc0
 */
export const E_LEN1_MAX = 0x7f;
export const E_LEN2_MAX = 0x3fff;
export const E_LEN2_TAG = 0x80;
export const E_LEN5_TAG = 0xc0;

/** Redis's quicklist fill limits: negative fill -1..-5 caps a node at these listpack bytes. */
export const FILL_SIZE_LIMITS: readonly number[] = [4096, 8192, 16384, 32768, 65536];
/** A count-limited node (fill >= 0) still stops at this many bytes (SIZE_SAFETY_LIMIT). */
export const FILL_SAFETY_LIMIT = 8192;
/** quicklist.c FILL_MAX: positive fills above it are clamped. */
export const FILL_MAX = (1 << 15) - 1;
/** Bytes an empty Redis listpack takes (6-byte header + end byte): node sizes are compared as Redis's. */
export const LISTPACK_EMPTY_BYTES = 7;
/** Lists of more nodes than this are freed in steps (Redis's LAZYFREE_THRESHOLD on ql->len). */
export const LIST_LAZYFREE_NODES = 64;

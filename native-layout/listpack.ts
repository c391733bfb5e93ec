/**
 * Listpack layout: one arena block holding a short sequence of byte strings, for small
 * hashes (field, value, field, value...) and small sorted sets. See native-layout/listpack.md.
 *
 *   0  u32 bytes   bytes in use, header included (the block is blockSize(bytes))
 *   4  u32 count   entries
 *   8  entries: LEB128 length (1-5 bytes, 7 bits per byte, low bits first, high bit =
 *      more bytes follow), then that many bytes.
 */
export const LP_BYTES = 0;
export const LP_COUNT = 4;
export const LP_HEADER = 8;

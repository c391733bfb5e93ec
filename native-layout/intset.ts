/**
 * Intset layout: one arena block holding a sorted array of distinct int64 values, for
 * sets whose members are all integers (Redis's intset). See native-layout/intset.md.
 *
 *   0  u32 encoding   bytes per element: 2, 4 or 8 (the smallest that holds every element)
 *   4  u32 length     elements
 *   8  elements, ascending; little-endian int16 / int32, or int64 as {u32 low, i32 high}
 */
export const IS_ENCODING = 0;
export const IS_LENGTH = 4;
export const IS_HEADER = 8;
export const IS_ENC_INT16 = 2;
export const IS_ENC_INT32 = 4;
export const IS_ENC_INT64 = 8;

/** SHA1 names of scripts (EVAL's cache keys, EVALSHA's argument). */
import { createHash } from 'node:crypto';

export function sha1hex(buf: Uint8Array, start: number, end: number): string {
  return createHash('sha1').update(buf.subarray(start, end)).digest('hex');
}

/**
 * Are the 40 bytes at `start` the sha1 `lowerSha` (40 lowercase hex bytes), in any case? Lets
 * EVALSHA of the script a client just ran find it without building a string.
 */
export function isSha(buf: Uint8Array, start: number, lowerSha: Uint8Array): boolean {
  let i = 0;
  while (i < 40 && (buf[start + i] | 0x20) === lowerSha[i]) i++;
  return i === 40;
}

/**
 * Redis's crc64 (src/crc64.c): the "Jones" polynomial 0xad93d23594c935a9, reflected
 * input and output, initial value 0, no final xor. DUMP payloads end with it (little
 * endian) over everything before it. crc64("123456789") = 0xe9c6d914c4b8d9ca.
 *
 * The 64-bit register is kept as two u32 halves (hi, lo) so no BigInt runs per byte;
 * the table is built once with BigInt at load.
 */

const TABLE_LO = new Uint32Array(256);
const TABLE_HI = new Uint32Array(256);

(function buildTable(): void {
  // Reflected algorithm: shift right, xor with the bit-reversed polynomial.
  const POLY_REFLECTED = 0x95ac9329ac4bc9b5n;
  for (let i = 0; i < 256; i++) {
    let crc = BigInt(i);
    for (let k = 0; k < 8; k++) crc = (crc & 1n) !== 0n ? (crc >> 1n) ^ POLY_REFLECTED : crc >> 1n;
    TABLE_LO[i] = Number(crc & 0xffffffffn);
    TABLE_HI[i] = Number(crc >> 32n);
  }
})();

/** Result of crc64(): the CRC as two u32 halves. */
export const crc64Result = { hi: 0, lo: 0 };

/** crc64(crc, buf[start, end)) continuing from (hi, lo); result in crc64Result. */
export function crc64(hi: number, lo: number, buf: Uint8Array, start: number, end: number): void {
  for (let p = start; p < end; p++) {
    const idx = (lo ^ buf[p]) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ TABLE_LO[idx];
    hi = (hi >>> 8) ^ TABLE_HI[idx];
  }
  crc64Result.hi = hi >>> 0;
  crc64Result.lo = lo >>> 0;
}

/** Write the CRC of buf[start, end) as 8 little-endian bytes at dst[at]. */
export function crc64WriteLE(buf: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): void {
  crc64(0, 0, buf, start, end);
  const { hi, lo } = crc64Result;
  dst[at] = lo & 0xff;
  dst[at + 1] = (lo >>> 8) & 0xff;
  dst[at + 2] = (lo >>> 16) & 0xff;
  dst[at + 3] = lo >>> 24;
  dst[at + 4] = hi & 0xff;
  dst[at + 5] = (hi >>> 8) & 0xff;
  dst[at + 6] = (hi >>> 16) & 0xff;
  dst[at + 7] = hi >>> 24;
}

/** Does dst[at, at+8) hold the little-endian CRC of buf[start, end)? */
export function crc64CheckLE(buf: Uint8Array, start: number, end: number, dst: Uint8Array, at: number): boolean {
  crc64(0, 0, buf, start, end);
  const { hi, lo } = crc64Result;
  const gotLo = (dst[at] | (dst[at + 1] << 8) | (dst[at + 2] << 16) | (dst[at + 3] << 24)) >>> 0;
  const gotHi = (dst[at + 4] | (dst[at + 5] << 8) | (dst[at + 6] << 16) | (dst[at + 7] << 24)) >>> 0;
  return gotLo === lo && gotHi === hi;
}

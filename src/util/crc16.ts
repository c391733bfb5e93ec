// CRC16 and cluster key hash slots: a port of Redis 7.0 src/crc16.c and
// keyHashSlot() in src/cluster.c.
//
// CRC16-CCITT in the XMODEM variant (poly 0x1021, init 0, no reflection,
// no final xor): crc16("123456789") == 0x31c3. This is what Redis Cluster
// uses to place keys, so it must match bit for bit.

const CRC16_TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let j = 0; j < 8; j++) {
    crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  CRC16_TABLE[i] = crc;
}

/** crc16() from src/crc16.c over buf[start, end). */
export function crc16(buf: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >>> 8) ^ buf[i]) & 0xff];
  }
  return crc;
}

const OPEN_BRACE = 0x7b; // '{'
const CLOSE_BRACE = 0x7d; // '}'

/**
 * keyHashSlot() from src/cluster.c over the key buf[start, end).
 * Only the first '{' counts; if a '}' follows it with at least one byte
 * between them, only those bytes are hashed, otherwise the whole key is.
 */
export function keyHashSlot(buf: Uint8Array, start: number, end: number): number {
  let s = start;
  while (s < end && buf[s] !== OPEN_BRACE) s++;
  // No '{': hash the whole key.
  if (s === end) return crc16(buf, start, end) & 0x3fff;
  let e = s + 1;
  while (e < end && buf[e] !== CLOSE_BRACE) e++;
  // No '}' or nothing between {}: hash the whole key.
  if (e === end || e === s + 1) return crc16(buf, start, end) & 0x3fff;
  return crc16(buf, s + 1, e) & 0x3fff;
}

/**
 * One AOF frame (layout: native-layout/aof.md): a 16-byte header (magic, rawLen, compLen,
 * crc32) and an lz4 block. Used by incr AOF files and snapshot files alike.
 */
import { crc32 } from 'node:zlib';
import { compressSync, uncompressSync } from 'lz4-napi';
import {
  FRAME_COMP_LEN, FRAME_CRC, FRAME_CRC_COVERED_HEADER, FRAME_HEADER, FRAME_LZ4_SIZE_PREFIX, FRAME_MAGIC,
  FRAME_MAGIC_OFF, FRAME_MAX_RAW, FRAME_RAW_LEN, frameMaxCompLen,
} from '../../native-layout/aof';

export const FRAME_OK = 0;
/** The bytes end inside the frame (a torn tail if this is the end of the last file). */
export const FRAME_TRUNCATED = 1;
export const FRAME_BAD_MAGIC = 2;
export const FRAME_BAD_CRC = 3;
export const FRAME_BAD_LENGTH = 4;
export const FRAME_BAD_LZ4 = 5;

const REASONS = ['ok', 'truncated frame', 'bad frame magic', 'crc mismatch', 'bad frame length', 'bad lz4 data'];

export function frameStatusText(status: number): string {
  return REASONS[status] ?? `frame status ${status}`;
}

/**
 * Compress raw[start, end) into a frame: fills `header` (16 bytes) and returns the body.
 * Write header then body (writev).
 */
export function encodeFrame(raw: Buffer, start: number, end: number, header: Buffer): Buffer {
  const body = compressSync(start === 0 && end === raw.length ? raw : raw.subarray(start, end));
  header.writeUInt32LE(FRAME_MAGIC, FRAME_MAGIC_OFF);
  header.writeUInt32LE(end - start, FRAME_RAW_LEN);
  header.writeUInt32LE(body.length, FRAME_COMP_LEN);
  header.writeUInt32LE(crc32(body, crc32(header.subarray(0, FRAME_CRC_COVERED_HEADER))) >>> 0, FRAME_CRC);
  return body;
}

/** The whole frame in one Buffer (tests, tools, small frames). */
export function frameBuffer(raw: Uint8Array): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER);
  const b = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const body = encodeFrame(b, 0, b.length, header);
  return Buffer.concat([header, body]);
}

/** Result of checking a header (checkHeader) or decoding a frame (decodeFrame). */
export interface FrameInfo {
  status: number;
  rawLen: number;
  compLen: number;
  /** Total bytes of the frame (header + body) when the header is sane. */
  size: number;
  /** Decompressed payload (decodeFrame with status FRAME_OK). */
  payload: Buffer | null;
}

export function newFrameInfo(): FrameInfo {
  return { status: FRAME_OK, rawLen: 0, compLen: 0, size: 0, payload: null };
}

/**
 * Check the header bytes available at buf[pos, end): a short header whose bytes are a
 * prefix of a valid one is TRUNCATED; magic and length bounds are checked as far as present.
 */
export function checkHeader(buf: Uint8Array, pos: number, end: number, out: FrameInfo): number {
  out.payload = null;
  const avail = end - pos;
  const magicBytes = avail < 4 ? avail : 4;
  for (let i = 0; i < magicBytes; i++) {
    if (buf[pos + i] !== ((FRAME_MAGIC >>> (8 * i)) & 0xff)) return (out.status = FRAME_BAD_MAGIC);
  }
  if (avail < FRAME_HEADER) {
    // Check the length fields we can see.
    if (avail >= 8) {
      out.rawLen = readU32(buf, pos + FRAME_RAW_LEN);
      if (out.rawLen > FRAME_MAX_RAW) return (out.status = FRAME_BAD_LENGTH);
    }
    if (avail >= 12) {
      out.compLen = readU32(buf, pos + FRAME_COMP_LEN);
      if (!lengthsSane(out.rawLen, out.compLen)) return (out.status = FRAME_BAD_LENGTH);
    }
    return (out.status = FRAME_TRUNCATED);
  }
  out.rawLen = readU32(buf, pos + FRAME_RAW_LEN);
  out.compLen = readU32(buf, pos + FRAME_COMP_LEN);
  if (out.rawLen > FRAME_MAX_RAW || !lengthsSane(out.rawLen, out.compLen)) return (out.status = FRAME_BAD_LENGTH);
  out.size = FRAME_HEADER + out.compLen;
  return (out.status = avail < out.size ? FRAME_TRUNCATED : FRAME_OK);
}

function lengthsSane(rawLen: number, compLen: number): boolean {
  return compLen > FRAME_LZ4_SIZE_PREFIX && compLen <= frameMaxCompLen(rawLen);
}

function readU32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

/**
 * Decode the frame at buf[pos, end): checks magic, lengths, crc, the lz4 size prefix and the
 * decompressed length. On FRAME_OK `out.payload` holds the raw bytes and `out.size` the frame size.
 */
export function decodeFrame(buf: Buffer, pos: number, end: number, out: FrameInfo): number {
  const st = checkHeader(buf, pos, end, out);
  if (st !== FRAME_OK) return st;
  const bodyStart = pos + FRAME_HEADER;
  const bodyEnd = bodyStart + out.compLen;
  const want = readU32(buf, pos + FRAME_CRC);
  const got = crc32(buf.subarray(bodyStart, bodyEnd), crc32(buf.subarray(pos, pos + FRAME_CRC_COVERED_HEADER))) >>> 0;
  if (want !== got) return (out.status = FRAME_BAD_CRC);
  if (readU32(buf, bodyStart) !== out.rawLen) return (out.status = FRAME_BAD_LENGTH);
  let raw: Buffer;
  try {
    raw = uncompressSync(buf.subarray(bodyStart, bodyEnd));
  } catch {
    return (out.status = FRAME_BAD_LZ4);
  }
  if (raw.length !== out.rawLen) return (out.status = FRAME_BAD_LENGTH);
  out.payload = raw;
  return (out.status = FRAME_OK);
}

/**
 * LZF as Redis ships it (src/lzf_c.c, src/lzf_d.c; liblzf 3.6 with HLOG 16, VERY_FAST,
 * no INIT_HTAB). Redis DUMPs and saves strings longer than 20 bytes LZF-compressed when
 * that saves at least 4 bytes (rdbSaveLzfStringObject), so byte-identical DUMP output
 * needs this exact compressor, not just any LZF.
 *
 * Redis's hash table starts uninitialised on the stack; a slot pointing at offset 0 can
 * never match (`ref > in_data` is strict), which is what an empty slot means here. Slots
 * hold `base + position`, with `base` advanced past every input, so the table never
 * needs clearing between calls (a stale slot reads as empty).
 */

const HLOG = 16;
const HSIZE = 1 << HLOG;
const MAX_LIT = 1 << 5;
const MAX_OFF = 1 << 13;
const MAX_REF = (1 << 8) + (1 << 3);

const htab = new Uint32Array(HSIZE);
let base = 1;

function idx(h: number): number {
  // VERY_FAST: ((h >> (3*8 - HLOG)) - h*5) & (HSIZE - 1), in unsigned int arithmetic.
  return ((h >>> (24 - HLOG)) - Math.imul(h, 5)) & (HSIZE - 1);
}

/**
 * lzf_compress(in[inStart, inEnd), out[outStart, outStart + outLen)): the compressed
 * length, or 0 when the output would not fit in outLen bytes.
 */
export function lzfCompress(inp: Uint8Array, inStart: number, inEnd: number,
  out: Uint8Array, outStart: number, outLen: number): number {
  const inLen = inEnd - inStart;
  if (inLen === 0 || outLen === 0) return 0;
  if (base + inLen + 1 >= 0xffffffff) {
    htab.fill(0);
    base = 1;
  }
  const b = base;
  base += inLen + 1;
  const outEnd = outStart + outLen;
  let ip = inStart;
  let op = outStart;
  let lit = 0;
  op++; // start run
  let hval = (inp[ip] << 8) | inp[ip + 1];
  while (ip < inEnd - 2) {
    hval = ((hval << 8) | inp[ip + 2]) >>> 0;
    const slot = idx(hval);
    const stored = htab[slot];
    const ref = stored >= b ? inStart + (stored - b) : inStart;
    htab[slot] = b + (ip - inStart);
    const off = ip - ref - 1;
    if (off >= 0 && off < MAX_OFF && ref > inStart && inp[ref + 2] === inp[ip + 2]
      && inp[ref] === inp[ip] && inp[ref + 1] === inp[ip + 1]) {
      // match found at ref
      let len = 2;
      let maxlen = inEnd - ip - len;
      if (maxlen > MAX_REF) maxlen = MAX_REF;
      if (op + 3 + 1 >= outEnd) {
        if (op - (lit === 0 ? 1 : 0) + 3 + 1 >= outEnd) return 0;
      }
      out[op - lit - 1] = lit - 1; // stop run
      if (lit === 0) op--; // undo run if length is zero
      // lzf_c.c unrolls 16 steps when maxlen > 16 without checking maxlen, so near the
      // end of the input a match may run up to 2 bytes past maxlen: reproduce that.
      let mismatch = false;
      if (maxlen > 16) {
        for (let k = 0; k < 16; k++) {
          len++;
          if (inp[ref + len] !== inp[ip + len]) {
            mismatch = true;
            break;
          }
        }
      }
      if (!mismatch) {
        do len++;
        while (len < maxlen && inp[ref + len] === inp[ip + len]);
      }
      len -= 2; // len is now #octets - 1
      ip++;
      if (len < 7) {
        out[op++] = (off >>> 8) + (len << 5);
      } else {
        out[op++] = (off >>> 8) + (7 << 5);
        out[op++] = len - 7;
      }
      out[op++] = off & 0xff;
      lit = 0;
      op++; // start run
      ip += len + 1;
      if (ip >= inEnd - 2) break;
      // VERY_FAST: re-hash the two positions before ip.
      ip -= 2;
      hval = (inp[ip] << 8) | inp[ip + 1];
      hval = ((hval << 8) | inp[ip + 2]) >>> 0;
      htab[idx(hval)] = b + (ip - inStart);
      ip++;
      hval = ((hval << 8) | inp[ip + 2]) >>> 0;
      htab[idx(hval)] = b + (ip - inStart);
      ip++;
    } else {
      // one more literal byte we must copy
      if (op >= outEnd) return 0;
      lit++;
      out[op++] = inp[ip++];
      if (lit === MAX_LIT) {
        out[op - lit - 1] = lit - 1; // stop run
        lit = 0;
        op++; // start run
      }
    }
  }
  if (op + 3 > outEnd) return 0; // at most 3 bytes can be missing here
  while (ip < inEnd) {
    lit++;
    out[op++] = inp[ip++];
    if (lit === MAX_LIT) {
      out[op - lit - 1] = lit - 1;
      lit = 0;
      op++;
    }
  }
  out[op - lit - 1] = lit - 1; // end run
  if (lit === 0) op--; // undo run if length is zero
  return op - outStart;
}

/**
 * lzf_decompress(in[inStart, inEnd), out[outStart, outStart + outLen)): the number of
 * bytes written, or -1 when the input is malformed or does not fit (EINVAL / E2BIG).
 */
export function lzfDecompress(inp: Uint8Array, inStart: number, inEnd: number,
  out: Uint8Array, outStart: number, outLen: number): number {
  let ip = inStart;
  let op = outStart;
  const outEnd = outStart + outLen;
  if (ip >= inEnd) return -1;
  do {
    let ctrl = inp[ip++];
    if (ctrl < (1 << 5)) {
      // literal run
      ctrl++;
      if (op + ctrl > outEnd) return -1;
      if (ip + ctrl > inEnd) return -1;
      for (let k = 0; k < ctrl; k++) out[op++] = inp[ip++];
    } else {
      // back reference
      let len = ctrl >>> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (ip >= inEnd) return -1;
      if (len === 7) {
        len += inp[ip++];
        if (ip >= inEnd) return -1;
      }
      ref -= inp[ip++];
      if (op + len + 2 > outEnd) return -1;
      if (ref < outStart) return -1;
      for (let k = len + 2; k > 0; k--) out[op++] = out[ref++];
    }
  } while (ip < inEnd);
  return op - outStart;
}

/*
 * RESP2/RESP3 reply encoder: Sabre's equivalent of the addReply*() family in
 * Redis 7.0 networking.c. Replies are appended to one growable Buffer; numbers are
 * written digit by digit and short strings byte by byte, so encoding a reply
 * allocates nothing (doubles, bigints and long non-ASCII strings excepted).
 *
 * The owner flushes buf[0, len) to the socket and calls reset(); `buf` may be
 * replaced by ensure(), so never keep a reference to it across appends.
 */

export const CRLF = Buffer.from('\r\n', 'latin1');
export const OK = Buffer.from('+OK\r\n', 'latin1');
export const PONG = Buffer.from('+PONG\r\n', 'latin1');
export const QUEUED = Buffer.from('+QUEUED\r\n', 'latin1');
export const CZERO = Buffer.from(':0\r\n', 'latin1');
export const CONE = Buffer.from(':1\r\n', 'latin1');
export const EMPTY_ARRAY = Buffer.from('*0\r\n', 'latin1');
export const EMPTY_BULK = Buffer.from('$0\r\n\r\n', 'latin1');
export const NULL_BULK_RESP2 = Buffer.from('$-1\r\n', 'latin1');
export const NULL_ARRAY_RESP2 = Buffer.from('*-1\r\n', 'latin1');
export const NULL_RESP3 = Buffer.from('_\r\n', 'latin1');

const CH_CR = 13;
const CH_LF = 10;
const CH_MINUS = 45;
const CH_0 = 48;

/* Strings up to this many UTF-16 units are encoded with a JS loop when ASCII;
 * longer ones go through the native encoder. */
const SHORT_STRING = 64;
/* Byte copies up to this size are done with a loop instead of a native call. */
const SHORT_COPY = 32;
/* Room for a type byte, a sign, 16 digits and CRLF. */
const HEADER_ROOM = 24;

/** Decimal digits of a non-negative safe integer. */
function digitCount(n: number): number {
  if (n < 10) return 1;
  if (n < 100) return 2;
  if (n < 1000) return 3;
  if (n < 10000) return 4;
  if (n < 100000) return 5;
  if (n < 1000000) return 6;
  if (n < 10000000) return 7;
  if (n < 100000000) return 8;
  if (n < 1000000000) return 9;
  if (n < 10000000000) return 10;
  if (n < 100000000000) return 11;
  if (n < 1000000000000) return 12;
  if (n < 10000000000000) return 13;
  if (n < 100000000000000) return 14;
  if (n < 1000000000000000) return 15;
  if (n < 10000000000000000) return 16;
  return 17;
}

export class ReplyWriter {
  buf: Buffer;
  len = 0;
  resp: 2 | 3 = 2;

  constructor(initialSize = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(64, initialSize));
  }

  reset(): void {
    this.len = 0;
  }

  /** Makes room for `extra` more bytes (doubling, so appends are amortized O(1)). */
  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    if (size < need) size = need;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  /* --- low level ------------------------------------------------------------ */

  /** Writes the digits of a non-negative safe integer; room must be ensured. */
  private putUint(n: number): void {
    const buf = this.buf;
    const digits = digitCount(n);
    let p = this.len + digits;
    if (n <= 0x7fffffff) {
      while (n >= 10) {
        const q = (n / 10) | 0;
        buf[--p] = CH_0 + (n - q * 10);
        n = q;
      }
    } else {
      while (n >= 10) {
        const q = Math.floor(n / 10);
        buf[--p] = CH_0 + (n - q * 10);
        n = q;
      }
    }
    buf[--p] = CH_0 + n;
    this.len += digits;
  }

  /** <prefix><n>\r\n for a safe integer n; room must be ensured. */
  private putLine(prefix: number, n: number): void {
    const buf = this.buf;
    let o = this.len;
    buf[o++] = prefix;
    if (n < 0) {
      buf[o++] = CH_MINUS;
      n = -n;
    }
    if (n < 10) {
      buf[o++] = CH_0 + n;
    } else {
      this.len = o;
      this.putUint(n);
      o = this.len;
    }
    buf[o++] = CH_CR;
    buf[o++] = CH_LF;
    this.len = o;
  }

  private putCRLF(): void {
    this.buf[this.len++] = CH_CR;
    this.buf[this.len++] = CH_LF;
  }

  private putBytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= SHORT_COPY) {
      const buf = this.buf;
      let o = this.len;
      for (let i = start; i < end; i++) buf[o++] = src[i];
    } else {
      this.buf.set(src.subarray(start, end), this.len);
    }
    this.len += n;
  }

  /** Writes the UTF-8 bytes of s and returns their count; room for s.length*3 ensured. */
  private putUtf8(s: string): number {
    const n = s.length;
    if (n <= SHORT_STRING) {
      const buf = this.buf;
      const o = this.len;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[o + i] = c;
      }
      if (i === n) {
        this.len += n;
        return n;
      }
    }
    const written = this.buf.write(s, this.len, 'utf8');
    this.len += written;
    return written;
  }

  /** Length of s in UTF-8; cheap for ASCII. */
  private static utf8Length(s: string): number {
    const n = s.length;
    if (n <= SHORT_STRING) {
      let i = 0;
      while (i < n && s.charCodeAt(i) < 0x80) i++;
      if (i === n) return n;
    }
    return Buffer.byteLength(s, 'utf8');
  }

  /* --- simple types ---------------------------------------------------------- */

  ok(): void {
    this.ensure(5);
    const buf = this.buf;
    let o = this.len;
    buf[o++] = 43; // +
    buf[o++] = 79; // O
    buf[o++] = 75; // K
    buf[o++] = CH_CR;
    buf[o++] = CH_LF;
    this.len = o;
  }

  /** +s\r\n; s is a status such as "PONG" (ASCII). */
  simple(s: string): void {
    this.ensure(s.length + 3);
    this.buf[this.len++] = 43; // +
    this.putLatin1(s);
    this.putCRLF();
  }

  /**
   * -s\r\n; s carries its own code ("ERR ...", "WRONGTYPE ..."). Like
   * addReplyErrorFormat(), CR and LF inside s become spaces so the reply stays one line.
   */
  error(s: string): void {
    this.ensure(s.length * 3 + 3);
    this.buf[this.len++] = 45; // -
    const start = this.len;
    this.putUtf8(s);
    const buf = this.buf;
    for (let i = start; i < this.len; i++) {
      if (buf[i] === CH_CR || buf[i] === CH_LF) buf[i] = 32;
    }
    this.putCRLF();
  }

  /** :n\r\n for a safe integer. */
  integer(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.rawString(':' + String(Math.trunc(n)) + '\r\n');
      return;
    }
    this.ensure(HEADER_ROOM);
    this.putLine(58 /* : */, n);
  }

  /** :n\r\n for any int64 (values beyond 2^53). */
  bigInteger(n: bigint): void {
    this.rawString(':' + n.toString() + '\r\n');
  }

  bool(b: boolean): void {
    this.ensure(4);
    const buf = this.buf;
    let o = this.len;
    if (this.resp === 3) {
      buf[o++] = 35; // #
      buf[o++] = b ? 116 : 102; // t / f
    } else {
      buf[o++] = 58; // :
      buf[o++] = b ? 49 : 48;
    }
    buf[o++] = CH_CR;
    buf[o++] = CH_LF;
    this.len = o;
  }

  /* --- bulk strings ---------------------------------------------------------- */

  /** $len\r\n<bytes>\r\n */
  bulk(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.len + n + HEADER_ROOM + 2 > this.buf.length) this.ensure(n + HEADER_ROOM + 2);
    // The most frequent reply of all: written with locals and the short lengths inline.
    const buf = this.buf;
    let o = this.len;
    buf[o++] = 36; // $
    if (n < 10) {
      buf[o++] = CH_0 + n;
    } else if (n < 100) {
      const tens = (n / 10) | 0;
      buf[o++] = CH_0 + tens;
      buf[o++] = CH_0 + (n - tens * 10);
    } else {
      this.len = o;
      this.putUint(n);
      o = this.len;
    }
    buf[o++] = CH_CR;
    buf[o++] = CH_LF;
    if (n <= SHORT_COPY) {
      for (let i = start; i < end; i++) buf[o++] = src[i];
    } else {
      buf.set(src.subarray(start, end), o);
      o += n;
    }
    buf[o++] = CH_CR;
    buf[o++] = CH_LF;
    this.len = o;
  }

  /** A JS string as a bulk string, UTF-8 encoded. */
  bulkString(s: string): void {
    const n = ReplyWriter.utf8Length(s);
    this.ensure(n + HEADER_ROOM + 2);
    this.putLine(36 /* $ */, n);
    this.putUtf8(s);
    this.putCRLF();
  }

  /** An integer formatted as a bulk string, like addReplyBulkLongLong(). */
  bulkInteger(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.bulkString(String(Math.trunc(n)));
      return;
    }
    this.ensure(2 * HEADER_ROOM);
    const negative = n < 0;
    const magnitude = negative ? -n : n;
    this.putLine(36 /* $ */, digitCount(magnitude) + (negative ? 1 : 0));
    if (negative) this.buf[this.len++] = CH_MINUS;
    this.putUint(magnitude);
    this.putCRLF();
  }

  /** RESP2 $-1, RESP3 _ */
  nullBulk(): void {
    this.raw(this.resp === 3 ? NULL_RESP3 : NULL_BULK_RESP2, 0, this.resp === 3 ? 3 : 5);
  }

  /** RESP2 *-1, RESP3 _ */
  nullArray(): void {
    this.raw(this.resp === 3 ? NULL_RESP3 : NULL_ARRAY_RESP2, 0, this.resp === 3 ? 3 : 5);
  }

  /**
   * Redis 7.0 addReplyDouble(): RESP2 a bulk string of "%.17g" ("inf"/"-inf" for
   * infinities), RESP3 ",<%.17g>\r\n" (",inf" / ",-inf").
   */
  double(d: number): void {
    const s = formatDouble17g(d);
    if (this.resp === 3) {
      this.ensure(s.length + 3);
      this.buf[this.len++] = 44; // ,
      this.putLatin1(s);
      this.putCRLF();
    } else {
      this.ensure(s.length + HEADER_ROOM + 2);
      this.putLine(36 /* $ */, s.length);
      this.putLatin1(s);
      this.putCRLF();
    }
  }

  /**
   * addReplyVerbatim(): RESP3 "=<len+4>\r\n" + 3-byte format (space padded) + ":" + s,
   * RESP2 a plain bulk string.
   */
  verbatim(s: string, format = 'txt'): void {
    if (this.resp !== 3) {
      this.bulkString(s);
      return;
    }
    const n = ReplyWriter.utf8Length(s);
    this.ensure(n + HEADER_ROOM + 6);
    this.putLine(61 /* = */, n + 4);
    const buf = this.buf;
    for (let i = 0; i < 3; i++) buf[this.len++] = i < format.length ? format.charCodeAt(i) & 0xff : 32;
    buf[this.len++] = 58; // :
    this.putUtf8(s);
    this.putCRLF();
  }

  /* --- aggregates ------------------------------------------------------------ */

  arrayHeader(n: number): void {
    this.ensure(HEADER_ROOM);
    this.putLine(42 /* * */, n);
  }

  /** RESP3 %n, RESP2 *2n (flattened key/value pairs). */
  mapHeader(n: number): void {
    this.ensure(HEADER_ROOM);
    if (this.resp === 3) this.putLine(37 /* % */, n);
    else this.putLine(42 /* * */, n * 2);
  }

  /** RESP3 ~n, RESP2 *n */
  setHeader(n: number): void {
    this.ensure(HEADER_ROOM);
    this.putLine(this.resp === 3 ? 126 /* ~ */ : 42, n);
  }

  /** RESP3 >n, RESP2 *n */
  pushHeader(n: number): void {
    this.ensure(HEADER_ROOM);
    this.putLine(this.resp === 3 ? 62 /* > */ : 42, n);
  }

  /* --- preencoded ------------------------------------------------------------ */

  /** Copies already encoded protocol bytes. */
  raw(src: Uint8Array, start: number, end: number): void {
    this.ensure(end - start);
    this.putBytes(src, start, end);
  }

  /** Copies already encoded protocol text, one byte per char (latin1). */
  rawString(s: string): void {
    this.ensure(s.length);
    this.putLatin1(s);
  }

  private putLatin1(s: string): void {
    const n = s.length;
    if (n <= SHORT_STRING) {
      const buf = this.buf;
      let o = this.len;
      for (let i = 0; i < n; i++) buf[o++] = s.charCodeAt(i);
      this.len = o;
    } else {
      this.len += this.buf.write(s, this.len, 'latin1');
    }
  }
}

/* --- %.17g ------------------------------------------------------------------- */

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
/* NEG_POW10[j] = 10^-j as double literals (correctly rounded). */
const NEG_POW10 = [1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9];

/**
 * C printf("%.17g", d) as glibc prints it: 17 significant digits, rounded to nearest
 * with ties to even, trailing zeros dropped, exponent form ("1e+21", "1.5e-05") when
 * the decimal exponent is < -4 or >= 17; "inf", "-inf", "nan", "-nan", "-0".
 */
export function formatDouble17g(d: number): string {
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  if (d !== d) {
    f64[0] = d;
    return u32[HIGH_WORD] >>> 31 ? '-nan' : 'nan';
  }
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  // Up to 2^53 an integer prints in full, exactly what String() writes. (Above it
  // String() prints the shortest round-trip form, e.g. "45577392413508350" for
  // 45577392413508352, so those take the general path.)
  if (Number.isInteger(d) && d <= 9007199254740992 && d >= -9007199254740992) return String(d);

  const negative = d < 0;
  const x = negative ? -d : d;
  let s: string;
  if (Number.isInteger(x * 33554432 /* 2^25 */)) {
    // x = N * 2^-k with N odd and k <= 25: its exact decimal value is N * 5^k / 10^k.
    let k = 0;
    let n = x;
    while (!Number.isInteger(n)) {
      n *= 2;
      k++;
    }
    // N * 5^k below 2^53 is computed exactly (rounding is monotonic, so a true
    // product >= 2^53 cannot come out below it) and has at most 16 digits, so
    // printf shows it exactly. toPrecision() is slow on such values.
    const digits = k > 0 && k <= 22 ? n * POW5[k] : Infinity;
    if (digits < 9007199254740992) {
      s = exactDecimal(digits, k);
    } else {
      s = toCFormatG(roundTo17(x, k));
    }
  } else {
    s = toCFormatG(x.toPrecision(17));
  }
  return negative ? '-' + s : s;
}

/* POW5[k] = 5^k, exact up to k = 22. */
const POW5: number[] = [];
for (let k = 0, p = 1; k <= 22; k++, p *= 5) POW5.push(p);

/** %g of digits * 10^-scale, digits an integer (not ending in 0) of at most 16 digits. */
function exactDecimal(digits: number, scale: number): string {
  const text = String(digits);
  const exponent = text.length - 1 - scale;
  if (exponent < -4) {
    const abs = -exponent;
    return mantissa(text.charAt(0), text.slice(1)) + (abs < 10 ? 'e-0' : 'e-') + abs;
  }
  if (exponent < 0) return '0.' + '0'.repeat(-exponent - 1) + text;
  return text.slice(0, exponent + 1) + '.' + text.slice(exponent + 1);
}

/**
 * toPrecision(17) of a dyadic x = N * 2^-k, with exact ties broken to even as printf
 * does (toPrecision breaks them away from zero). A tie needs an exact value of 18
 * significant digits: N * 5^k is odd, so it ends in 5 and has exactly k decimals.
 * (Integers above 1e17, k = 0, are multiples of large powers of two: never ties.)
 */
function roundTo17(x: number, k: number): string {
  const s = x.toPrecision(17);
  if (k === 0) return s;
  let significant: number;
  if (x >= 1) {
    significant = digitCount(Math.floor(x)) + k;
  } else {
    // x >= 2^-25, so at most 7 zeros follow the decimal point.
    let zeros = 0;
    while (x < NEG_POW10[zeros + 1]) zeros++;
    significant = k - zeros;
  }
  if (significant !== 18) return s;
  const exact = x.toPrecision(18);
  const e = exact.indexOf('e');
  const mantissaEnd = e < 0 ? exact.length : e;
  const digit17 = exact.charCodeAt(mantissaEnd - 2) === 46 /* . */ ?
    exact.charCodeAt(mantissaEnd - 3) : exact.charCodeAt(mantissaEnd - 2);
  if (digit17 & 1) return s; // odd: rounding up is also what printf does
  return exact.slice(0, mantissaEnd - 1) + exact.slice(mantissaEnd);
}

/**
 * Rewrites Number#toPrecision() output (positive, 17 or fewer digits) in C's %g
 * style: JS uses exponent form for exponents >= precision or < -6, C for >= 17 or
 * < -4; C drops trailing zeros and writes the exponent with a sign and two digits.
 */
function toCFormatG(s: string): string {
  const e = s.indexOf('e');
  if (e < 0) {
    if (s.startsWith('0.0000')) {
      // 1e-6 <= x < 1e-4: fixed in JS, exponent form in C.
      let first = 6;
      while (s.charCodeAt(first) === CH_0) first++;
      const exponent = first - 1;
      return mantissa(s.charAt(first), s.slice(first + 1)) + (exponent < 10 ? 'e-0' : 'e-') + exponent;
    }
    return stripZeros(s);
  }
  const exponentText = s.slice(e + 2);
  const sign = s.charCodeAt(e + 1) === CH_MINUS ? 'e-' : 'e+';
  return stripZeros(s.slice(0, e)) + sign + (exponentText.length < 2 ? '0' : '') + exponentText;
}

/** "d" + "." + fraction without trailing zeros, or just "d". */
function mantissa(lead: string, fraction: string): string {
  let end = fraction.length;
  while (end > 0 && fraction.charCodeAt(end - 1) === CH_0) end--;
  return end === 0 ? lead : lead + '.' + fraction.slice(0, end);
}

/** Drops trailing zeros after a decimal point, and the point if nothing follows it. */
function stripZeros(s: string): string {
  if (s.indexOf('.') < 0) return s;
  let end = s.length;
  while (s.charCodeAt(end - 1) === CH_0) end--;
  if (s.charCodeAt(end - 1) === 46 /* . */) end--;
  return end === s.length ? s : s.slice(0, end);
}

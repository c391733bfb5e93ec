// Number parsing and formatting with Redis 7.0.15 semantics, on byte ranges.
//
// Ports (src/util.c, src/object.c, src/t_string.c of Redis 7.0.15):
//   parseInt64 / parseLong      <- string2ll() / string2l()   (getLongLongFromObject)
//   parseDouble                 <- string2d()                  (getDoubleFromObject: ZADD, ZINCRBY scores)
//   parseLongDouble, string2ld  <- string2ld()                 (getLongDoubleFromObject: INCRBYFLOAT, HINCRBYFLOAT)
//   ldAdd + ld2stringHuman      <- `long double` += and ld2string(..., LD_STR_HUMAN)
//   incrByFloat                 <- the arithmetic of incrbyfloatCommand()
//   writeInt / intLength        <- ll2string() / sdigits10()
//
// Redis does INCRBYFLOAT in x87 80-bit `long double` (64-bit mantissa) and
// prints "%.17Lf"; a JS double gives visibly different replies (Redis:
// 0.1 + 0.2 -> "0.3", 1000.1 + 0.2 -> "1000.29999999999999999", 1e400 is a
// valid value). So the long double path is emulated exactly with BigInt:
// LongDouble holds mant * 2^exp with a 64-bit mantissa, rounded to nearest
// even like glibc's strtold and the x87 FPU. BigInt allocates; this is only
// used by the *BYFLOAT commands.

/** Exact error texts of Redis 7.0 (including the "ERR " prefix). */
export const ERR_NOT_INTEGER = 'ERR value is not an integer or out of range';
export const ERR_NOT_FLOAT = 'ERR value is not a valid float';
export const ERR_OVERFLOW = 'ERR increment or decrement would overflow';
export const ERR_NAN_OR_INF = 'ERR increment would produce NaN or Infinity';

/**
 * Output registers of the parse functions (reused, never reallocated).
 * int: the parsed integer (exact when !isBig; nearest double otherwise).
 * big/isBig: the exact value as a bigint when |v| > 2^53-1.
 * dbl: the parsed double (for parseLongDouble: the long double rounded to double).
 */
export const parsed: { int: number; big: bigint; isBig: boolean; dbl: number } = {
  int: 0,
  big: 0n,
  isBig: false,
  dbl: 0,
};

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_MINUS = 0x2d;
const CH_PLUS = 0x2b;
const CH_DOT = 0x2e;

/** LONG_STR_SIZE in Redis: strings of 21+ bytes are never integers. */
const LONG_STR_SIZE = 21;
/** MAX_LONG_DOUBLE_CHARS: string2ld() rejects inputs of this many bytes or more. */
export const MAX_LONG_DOUBLE_CHARS = 5 * 1024;

// ---------------------------------------------------------------------------
// Integers

/**
 * string2ll(): strict int64 parse. No spaces, no '+', no leading zeros
 * (only "0" itself; "-0" and "007" are rejected), at most 20 bytes, no
 * overflow. Sets parsed.int (and parsed.big/isBig for |v| > 2^53-1).
 */
export function parseInt64(buf: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  if (len === 0 || len >= LONG_STR_SIZE) return false;
  let p = start;
  // Special case: first and only digit is 0.
  if (len === 1 && buf[p] === CH_0) {
    parsed.int = 0;
    parsed.isBig = false;
    return true;
  }
  let negative = false;
  if (buf[p] === CH_MINUS) {
    negative = true;
    p++;
    if (p === end) return false;
  }
  // First digit should be 1-9.
  if (buf[p] < 0x31 || buf[p] > CH_9) return false;
  // At most 20 digits: hi holds all but the last 9, lo the last 9; both exact.
  const ndigits = end - p;
  const split = end - 9;
  let hi = 0;
  let lo = 0;
  for (; p < end; p++) {
    const c = buf[p];
    if (c < CH_0 || c > CH_9) return false;
    if (p < split) hi = hi * 10 + (c - CH_0);
    else lo = lo * 10 + (c - CH_0);
  }
  if (ndigits <= 15 || hi < 9007199 || (hi === 9007199 && lo <= 254740991)) {
    // |v| <= 2^53-1: exact as a double.
    const v = ndigits <= 9 ? lo : hi * 1e9 + lo;
    parsed.int = negative ? -v : v;
    parsed.isBig = false;
    return true;
  }
  // Compare with 9223372036854775807 (or ...808 when negative) as hi/lo.
  if (hi > 9223372036 || (hi === 9223372036 && lo > (negative ? 854775808 : 854775807))) {
    return false;
  }
  const big = BigInt(hi) * 1000000000n + BigInt(lo);
  parsed.big = negative ? -big : big;
  parsed.int = Number(parsed.big);
  parsed.isBig = true;
  return true;
}

/** string2l(): `long` is 64-bit on Linux x86-64, so identical to string2ll. */
export const parseLong = parseInt64;

/** Number of bytes of the decimal form of the integer n (sdigits10). */
export function intLength(n: number): number {
  let len = 1;
  if (n < 0) {
    len = 2;
    n = -n;
  }
  while (n >= 10) {
    n = Math.floor(n / 10);
    len++;
  }
  return len;
}

/**
 * ll2string() into dst at pos for a safe integer n (|n| <= 2^53-1; -0 is
 * written as "0"). Returns the number of bytes written. No allocation.
 */
export function writeInt(dst: Uint8Array, pos: number, n: number): number {
  const len = intLength(n);
  let v = n < 0 ? -n : n;
  let i = pos + len - 1;
  // Integer ops while the value fits 31 bits, division by 10 above that.
  while (v >= 0x7fffffff) {
    const q = Math.floor(v / 10);
    dst[i--] = CH_0 + (v - q * 10);
    v = q;
  }
  let w = v | 0;
  do {
    const q = (w / 10) | 0;
    dst[i--] = CH_0 + (w - q * 10);
    w = q;
  } while (w !== 0);
  if (n < 0) dst[i] = CH_MINUS;
  return len;
}

/** ll2string() for a 64-bit value held as a bigint. */
export function ll2string(v: bigint): string {
  return v.toString();
}

/** ll2string() of a bigint into dst at pos; returns bytes written. */
export function writeBigInt(dst: Uint8Array, pos: number, v: bigint): number {
  const s = v.toString();
  for (let i = 0; i < s.length; i++) dst[pos + i] = s.charCodeAt(i);
  return s.length;
}

// ---------------------------------------------------------------------------
// strtod()/strtold() syntax, as glibc accepts it in the C locale.

function isCSpace(c: number): boolean {
  // isspace() in the C locale: ' ', \t, \n, \v, \f, \r.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function hexVal(c: number): number {
  if (c >= CH_0 && c <= CH_9) return c - CH_0;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Case-insensitive compare of buf[p, p+word.length) with a lowercase ASCII word. */
function matchWord(buf: Uint8Array, p: number, end: number, word: string): boolean {
  if (end - p !== word.length) return false;
  for (let i = 0; i < word.length; i++) {
    if ((buf[p + i] | 0x20) !== word.charCodeAt(i)) return false;
  }
  return true;
}

// Result of scanNumber(): what kind of number the whole range spells.
const SCAN_BAD = 0; // strtod would stop early, fail, or yield NaN
const SCAN_INF = 1;
const SCAN_DEC = 2;
const SCAN_HEX = 3;

// Details of the last scanNumber() (module registers, no allocation).
const scan = {
  neg: false,
  mantStart: 0, // first byte of the mantissa (digits and '.')
  mantEnd: 0,
  nonZero: false, // at least one nonzero mantissa digit
  exp: 0, // explicit exponent value (saturated), 0 if none
};

const EXP_SATURATE = 1e9;

/**
 * Does strtod()/strtold() consume exactly buf[start, end), and what kind of
 * number is it? Leading whitespace is rejected (Redis checks isspace(s[0])),
 * and NaN in any spelling is rejected (Redis checks isnan()).
 */
function scanNumber(buf: Uint8Array, start: number, end: number): number {
  if (start === end || isCSpace(buf[start])) return SCAN_BAD;
  let p = start;
  scan.neg = false;
  if (buf[p] === CH_MINUS || buf[p] === CH_PLUS) {
    scan.neg = buf[p] === CH_MINUS;
    p++;
  }
  if (p === end) return SCAN_BAD;
  const first = buf[p] | 0x20;
  if (first === 0x69 /* i */) {
    return matchWord(buf, p, end, 'inf') || matchWord(buf, p, end, 'infinity') ? SCAN_INF : SCAN_BAD;
  }
  let hex = false;
  if (buf[p] === CH_0 && p + 1 < end && (buf[p + 1] | 0x20) === 0x78 /* x */) {
    hex = true;
    p += 2;
  }
  scan.mantStart = p;
  scan.nonZero = false;
  let digits = 0;
  let dot = false;
  for (; p < end; p++) {
    const c = buf[p];
    if (c === CH_DOT) {
      if (dot) break;
      dot = true;
      continue;
    }
    const v = hex ? hexVal(c) : c >= CH_0 && c <= CH_9 ? c - CH_0 : -1;
    if (v < 0) break;
    if (v !== 0) scan.nonZero = true;
    digits++;
  }
  // "0x" without hex digits parses as "0" and stops at 'x'; "." alone fails.
  if (digits === 0) return SCAN_BAD;
  scan.mantEnd = p;
  scan.exp = 0;
  if (p < end) {
    const c = buf[p] | 0x20;
    if (c !== (hex ? 0x70 /* p */ : 0x65 /* e */)) return SCAN_BAD;
    p++;
    let eneg = false;
    if (p < end && (buf[p] === CH_MINUS || buf[p] === CH_PLUS)) {
      eneg = buf[p] === CH_MINUS;
      p++;
    }
    // An exponent marker without digits is not consumed: trailing garbage.
    if (p === end) return SCAN_BAD;
    let e = 0;
    for (; p < end; p++) {
      const d = buf[p];
      if (d < CH_0 || d > CH_9) return SCAN_BAD;
      if (e < EXP_SATURATE) e = e * 10 + (d - CH_0);
    }
    scan.exp = eneg ? -e : e;
  }
  return hex ? SCAN_HEX : SCAN_DEC;
}

// Exact powers of ten as doubles, for the fast decimal path.
const POW10 = new Float64Array(23);
for (let i = 0, v = 1; i < 23; i++, v *= 10) POW10[i] = v;

/**
 * Fast path for decimal strings: with <= 15 significant digits and a small
 * exponent the result is one correctly rounded IEEE operation (Clinger).
 * Returns NaN when it does not apply.
 */
function fastDecimal(buf: Uint8Array): number {
  let m = 0;
  let sig = 0;
  let fracDigits = 0;
  let dot = false;
  for (let p = scan.mantStart; p < scan.mantEnd; p++) {
    const c = buf[p];
    if (c === CH_DOT) {
      dot = true;
      continue;
    }
    if (dot) fracDigits++;
    if (sig === 0 && c === CH_0) continue; // leading zeros are free
    if (++sig > 15) return NaN;
    m = m * 10 + (c - CH_0);
  }
  const e = scan.exp - fracDigits;
  if (m === 0) return 0;
  if (e >= 0 && e <= 22) return m * POW10[e];
  if (e < 0 && e >= -22) return m / POW10[-e];
  return NaN;
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/**
 * string2d() (getDoubleFromObject: ZADD/ZINCRBY scores, etc.): strtod over
 * the whole range; rejects empty input, leading whitespace, trailing bytes,
 * NaN, overflow ("1e400") and underflow to zero ("1e-400"). Accepts "+1",
 * ".5", "5.", "inf"/"+inf"/"-infinity" (any case), hex "0x10", "0x1p-3",
 * and subnormals ("4e-320"). Sets parsed.dbl.
 */
export function parseDouble(buf: Uint8Array, start: number, end: number): boolean {
  const kind = scanNumber(buf, start, end);
  if (kind === SCAN_BAD) return false;
  let v: number;
  if (kind === SCAN_INF) {
    v = Infinity;
  } else if (kind === SCAN_HEX) {
    // Exact rounding to double (ERANGE cases fail); the sign is in ldTmp.
    if (!parseHexExact(buf, DBL_P, DBL_EMIN, DBL_EMAX, ldTmp)) return false;
    parsed.dbl = ldToNumber(ldTmp);
    return true;
  } else {
    v = fastDecimal(buf);
    if (v !== v) {
      // Slow path, rare: V8's string-to-double is correctly rounded like glibc.
      // The range after the sign is a validated decimal literal JS also accepts.
      v = Number(latin1(buf, scan.mantStart, end));
    }
    // ERANGE: overflow to HUGE_VAL or underflow to zero.
    if (v === Infinity) return false;
    if (v === 0 && scan.nonZero) return false;
  }
  parsed.dbl = scan.neg ? -v : v;
  return true;
}

// ---------------------------------------------------------------------------
// long double emulation (x87 80-bit extended: 64-bit mantissa, 15-bit exponent)

export const LD_ZERO = 0;
export const LD_FINITE = 1;
export const LD_INF = 2;
export const LD_NAN = 3;

/** A long double: (-1)^neg * mant * 2^exp when cls == LD_FINITE (0 < mant < 2^64). */
export class LongDouble {
  cls = LD_ZERO;
  neg = false;
  mant = 0n;
  exp = 0;
  copyFrom(o: LongDouble): void {
    this.cls = o.cls;
    this.neg = o.neg;
    this.mant = o.mant;
    this.exp = o.exp;
  }
  isFinite(): boolean {
    return this.cls === LD_ZERO || this.cls === LD_FINITE;
  }
}

// Formats as (mantissa bits, exponent of the mantissa's lowest bit for
// subnormals, exponent of the lowest bit of the largest finite value).
const LD_P = 64;
const LD_EMIN = -16382 - 63;
const LD_EMAX = 16383 - 63;
const DBL_P = 53;
const DBL_EMIN = -1074;
const DBL_EMAX = 1023 - 52;

const ldTmp = new LongDouble();

function bitLength(x: bigint): number {
  const h = x.toString(16);
  return (h.length - 1) * 4 + (32 - Math.clz32(parseInt(h[0], 16)));
}

const ROUND_OK = 0;
const ROUND_OVERFLOW = 1;
const ROUND_UNDERFLOW = 2;

/**
 * Rounds N/D * 2^base (N > 0, D > 0) to nearest-even in a binary format with
 * P mantissa bits; sets out.mant/out.exp (out.cls = LD_FINITE on success).
 */
function roundToFormat(
  N: bigint, D: bigint, base: number, P: number, emin: number, emax: number, out: LongDouble,
): number {
  // Pick the exponent k of the result's lowest bit so the quotient has P bits.
  let k = bitLength(N) - bitLength(D) - P + base;
  let q = 0n;
  let r = 0n;
  let den = 0n;
  for (let tries = 0; ; tries++) {
    if (k < emin) k = emin;
    const sh = k - base;
    if (sh >= 0) {
      den = D << BigInt(sh);
      q = N / den;
      r = N - q * den;
    } else {
      const num = N << BigInt(-sh);
      den = D;
      q = num / den;
      r = num - q * den;
    }
    const bl = q === 0n ? 0 : bitLength(q);
    if (bl > P) {
      k += bl - P;
      continue;
    }
    if (bl < P && k > emin && tries < 4) {
      k -= P - bl;
      continue;
    }
    break;
  }
  const twice = r << 1n;
  if (twice > den || (twice === den && (q & 1n) === 1n)) {
    q += 1n;
    if (q === 1n << BigInt(P)) {
      q >>= 1n;
      k++;
    }
  }
  if (k > emax) return ROUND_OVERFLOW;
  if (q === 0n) return ROUND_UNDERFLOW;
  out.cls = LD_FINITE;
  out.mant = q;
  out.exp = k;
  return ROUND_OK;
}

/** Exact value of the scanned hex mantissa/exponent, rounded to the format. */
function parseHexExact(buf: Uint8Array, P: number, emin: number, emax: number, out: LongDouble): boolean {
  out.neg = scan.neg;
  if (!scan.nonZero) {
    out.cls = LD_ZERO;
    return true;
  }
  let m = 0n;
  let frac = 0;
  let dot = false;
  for (let p = scan.mantStart; p < scan.mantEnd; p++) {
    const c = buf[p];
    if (c === CH_DOT) {
      dot = true;
      continue;
    }
    m = (m << 4n) | BigInt(hexVal(c));
    if (dot) frac += 4;
  }
  const e2 = scan.exp - frac;
  const top = bitLength(m) + e2;
  if (top > emax + P + 2) return false; // ERANGE, HUGE_VAL
  if (top < emin - 2) return false; // ERANGE, rounds to zero
  return roundToFormat(m, 1n, e2, P, emin, emax, out) === ROUND_OK;
}

/** Exact value of the scanned decimal mantissa/exponent, rounded to the format. */
function parseDecExact(buf: Uint8Array, P: number, emin: number, emax: number, out: LongDouble): boolean {
  out.neg = scan.neg;
  if (!scan.nonZero) {
    out.cls = LD_ZERO;
    return true;
  }
  let digits = '';
  let frac = 0;
  let dot = false;
  for (let p = scan.mantStart; p < scan.mantEnd; p++) {
    const c = buf[p];
    if (c === CH_DOT) {
      dot = true;
      continue;
    }
    if (dot) frac++;
    if (digits.length === 0 && c === CH_0) continue;
    digits += String.fromCharCode(c);
  }
  const e10 = scan.exp - frac;
  // Decimal magnitude is about 10^(digits + e10 - 1); cut off absurd
  // exponents before computing powers (log10(2) ~ 0.30103).
  const mag = digits.length + e10;
  if (mag > (emax + P) * 0.30103 + 2) return false; // ERANGE, HUGE_VAL
  if (mag < emin * 0.30103 - 2) return false; // ERANGE, zero
  const m = BigInt(digits);
  const r = e10 >= 0
    ? roundToFormat(m * 10n ** BigInt(e10), 1n, 0, P, emin, emax, out)
    : roundToFormat(m, 10n ** BigInt(-e10), 0, P, emin, emax, out);
  return r === ROUND_OK;
}

/** The long double's value rounded to a JS number. */
export function ldToNumber(x: LongDouble): number {
  let v: number;
  if (x.cls === LD_ZERO) v = 0;
  else if (x.cls === LD_INF) v = Infinity;
  else if (x.cls === LD_NAN) return NaN;
  else {
    // Keep the 53 rounded top bits, then scale by 2^exp in two exact steps.
    const bl = bitLength(x.mant);
    let m = x.mant;
    let e = x.exp;
    if (bl > 53) {
      const drop = bl - 53;
      const q = m >> BigInt(drop);
      const rem = m - (q << BigInt(drop));
      const half = 1n << BigInt(drop - 1);
      m = rem > half || (rem === half && (q & 1n) === 1n) ? q + 1n : q;
      e += drop;
    }
    v = Number(m);
    if (e > 2000) v = Infinity;
    else if (e < -2200) v = 0;
    else {
      const h = Math.trunc(e / 2);
      v = v * 2 ** h * 2 ** (e - h);
    }
  }
  return x.neg ? -v : v;
}

/**
 * string2ld() (getLongDoubleFromObject: INCRBYFLOAT, HINCRBYFLOAT) into out:
 * strtold over the whole range; rejects empty input, >= 5120 bytes, leading
 * whitespace, trailing bytes, NaN, overflow beyond ~1.19e4932 and underflow to
 * zero. Unlike string2d it accepts "1e400" (fits a long double) and
 * "1e-4940" (a long double subnormal).
 */
export function string2ld(buf: Uint8Array, start: number, end: number, out: LongDouble): boolean {
  if (end - start >= MAX_LONG_DOUBLE_CHARS) return false;
  const kind = scanNumber(buf, start, end);
  if (kind === SCAN_BAD) return false;
  if (kind === SCAN_INF) {
    out.cls = LD_INF;
    out.neg = scan.neg;
    return true;
  }
  if (kind === SCAN_HEX) return parseHexExact(buf, LD_P, LD_EMIN, LD_EMAX, out);
  return parseDecExact(buf, LD_P, LD_EMIN, LD_EMAX, out);
}

/** The long double of the last successful parseLongDouble(). */
export const parsedLd = new LongDouble();

/**
 * string2ld() semantics; the exact value goes to parsedLd and its nearest
 * double to parsed.dbl ("1e400" succeeds with parsed.dbl = Infinity: only
 * parsedLd holds it faithfully).
 */
export function parseLongDouble(buf: Uint8Array, start: number, end: number): boolean {
  if (!string2ld(buf, start, end, parsedLd)) return false;
  parsed.dbl = ldToNumber(parsedLd);
  return true;
}

/** out = a + b in long double arithmetic (round to nearest even). out may alias a or b. */
export function ldAdd(a: LongDouble, b: LongDouble, out: LongDouble): void {
  if (a.cls === LD_NAN || b.cls === LD_NAN) {
    out.cls = LD_NAN;
    out.neg = false;
    return;
  }
  if (a.cls === LD_INF || b.cls === LD_INF) {
    if (a.cls === LD_INF && b.cls === LD_INF && a.neg !== b.neg) {
      out.cls = LD_NAN;
      out.neg = true; // x87 default NaN is negative: printf shows "-nan"
      return;
    }
    out.neg = a.cls === LD_INF ? a.neg : b.neg;
    out.cls = LD_INF;
    return;
  }
  if (b.cls === LD_ZERO) {
    const neg = a.cls === LD_ZERO ? a.neg && b.neg : a.neg;
    out.copyFrom(a);
    out.neg = neg;
    return;
  }
  if (a.cls === LD_ZERO) {
    out.copyFrom(b);
    return;
  }
  const e = a.exp < b.exp ? a.exp : b.exp;
  const va = a.mant << BigInt(a.exp - e);
  const vb = b.mant << BigInt(b.exp - e);
  let sum = (a.neg ? -va : va) + (b.neg ? -vb : vb);
  if (sum === 0n) {
    // x + (-x) is +0 when rounding to nearest.
    out.cls = LD_ZERO;
    out.neg = false;
    return;
  }
  const neg = sum < 0n;
  if (neg) sum = -sum;
  out.neg = neg;
  if (roundToFormat(sum, 1n, e, LD_P, LD_EMIN, LD_EMAX, out) === ROUND_OVERFLOW) {
    out.cls = LD_INF;
  }
}

const POW10_17 = 10n ** 17n;

/**
 * ld2string(..., LD_STR_HUMAN): "%.17Lf" (exact, ties to even as glibc), then
 * trailing zeros and a trailing '.' removed, and "-0" turned into "0".
 * Infinity is "inf"/"-inf".
 */
export function ld2stringHuman(x: LongDouble): string {
  if (x.cls === LD_INF) return x.neg ? '-inf' : 'inf';
  if (x.cls === LD_NAN) return x.neg ? '-nan' : 'nan';
  if (x.cls === LD_ZERO) return '0';
  if (x.exp >= 0) {
    const s = (x.mant << BigInt(x.exp)).toString();
    return x.neg ? '-' + s : s;
  }
  // value * 10^17 = mant * 10^17 / 2^sh, rounded to an integer.
  const sh = BigInt(-x.exp);
  const num = x.mant * POW10_17;
  let q = num >> sh;
  const rem = num - (q << sh);
  const half = 1n << (sh - 1n);
  if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  let s = q.toString();
  if (s.length < 18) s = '0'.repeat(18 - s.length) + s;
  const ip = s.slice(0, s.length - 17);
  let fe = s.length;
  while (fe > s.length - 17 && s.charCodeAt(fe - 1) === CH_0) fe--;
  let out = fe > s.length - 17 ? ip + '.' + s.slice(s.length - 17, fe) : ip;
  if (x.neg) out = '-' + out;
  return out === '-0' ? '0' : out;
}

/**
 * Formats a JS double like ld2string(LD_STR_HUMAN) would format the "same"
 * number: plain fixed notation (1e21 -> "1000000000000000000000", 1e-7 ->
 * "0.0000001"), at most 17 fractional digits, no trailing zeros, "-0" -> "0",
 * "inf"/"-inf"/"nan". It starts from JS's shortest round-trip digits, not the
 * double's exact binary value, so it reads like Redis's long double output
 * for numbers typed in decimal; for exact INCRBYFLOAT replies use
 * ld2stringHuman on a LongDouble.
 */
export function formatLongDoubleHuman(d: number): string {
  if (d !== d) return 'nan';
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (d === 0) return '0';
  const neg = d < 0;
  const repr = String(neg ? -d : d);
  // Split the shortest representation into digits and a decimal exponent.
  let digits: string;
  let point: number; // position of the decimal point within digits
  const ei = repr.indexOf('e');
  const mant = ei < 0 ? repr : repr.slice(0, ei);
  const exp = ei < 0 ? 0 : Number(repr.slice(ei + 1));
  const dot = mant.indexOf('.');
  if (dot < 0) {
    digits = mant;
    point = mant.length + exp;
  } else {
    digits = mant.slice(0, dot) + mant.slice(dot + 1);
    point = dot + exp;
  }
  // Pad so the point falls inside [1, digits.length].
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  let ip = digits.slice(0, point);
  let fp = digits.slice(point);
  if (fp.length > 17) {
    // Round at 17 fractional digits, half to even on the decimal digits.
    const next = fp.charCodeAt(17) - CH_0;
    const rest = /[1-9]/.test(fp.slice(18));
    let kept = ip + fp.slice(0, 17);
    const last = kept.charCodeAt(kept.length - 1) - CH_0;
    if (next > 5 || (next === 5 && (rest || (last & 1) === 1))) {
      kept = (BigInt(kept) + 1n).toString().padStart(kept.length, '0');
    }
    ip = kept.slice(0, kept.length - 17);
    fp = kept.slice(kept.length - 17);
  }
  fp = fp.replace(/0+$/, '');
  const out = (neg ? '-' : '') + (ip === '' ? '0' : ip) + (fp.length ? '.' + fp : '');
  return out === '-0' ? '0' : out;
}

// ---------------------------------------------------------------------------
// INCRBYFLOAT

export const INCRBYFLOAT_OK = 0;
/** Either operand failed string2ld(): reply ERR_NOT_FLOAT. */
export const INCRBYFLOAT_NOT_FLOAT = 1;
/** The sum is NaN or infinite: reply ERR_NAN_OR_INF. */
export const INCRBYFLOAT_NAN_OR_INF = 2;

const incrA = new LongDouble();
const incrB = new LongDouble();

/** Output of incrByFloat(): the new value's text (reply and stored value). */
export const incrResult: { text: string; dbl: number } = { text: '', dbl: 0 };

/**
 * The arithmetic of incrbyfloatCommand(): current value (cur == null when the
 * key does not exist, i.e. 0) plus the increment, both parsed by string2ld,
 * added in long double, checked for NaN/Inf, and formatted with
 * ld2string(LD_STR_HUMAN) into incrResult.text. Returns an INCRBYFLOAT_* code.
 * (HINCRBYFLOAT parses the increment first and uses its own "hash value is
 * not a float" text: build it from string2ld/ldAdd/ld2stringHuman.)
 */
export function incrByFloat(
  cur: Uint8Array | null, cStart: number, cEnd: number,
  incr: Uint8Array, iStart: number, iEnd: number,
): number {
  if (cur === null) {
    incrA.cls = LD_ZERO;
    incrA.neg = false;
  } else if (!string2ld(cur, cStart, cEnd, incrA)) {
    return INCRBYFLOAT_NOT_FLOAT;
  }
  if (!string2ld(incr, iStart, iEnd, incrB)) return INCRBYFLOAT_NOT_FLOAT;
  ldAdd(incrA, incrB, incrA);
  if (!incrA.isFinite()) return INCRBYFLOAT_NAN_OR_INF;
  incrResult.text = ld2stringHuman(incrA);
  incrResult.dbl = ldToNumber(incrA);
  return INCRBYFLOAT_OK;
}

/*
 * RESP request parser: Sabre's equivalent of processMultibulkBuffer() and
 * processInlineBuffer() in Redis 7.0 networking.c, with sdssplitargs() from sds.c
 * for inline commands.
 *
 * The parser is stateless between calls: parse() looks at input[pos, end) and either
 * finds one complete command (returning the offset just after it), or reports that
 * more bytes are needed, or reports a protocol error with Redis's exact error text.
 * Arguments are not copied: argStart[i]/argEnd[i] are byte offsets into `buf`, valid
 * until the next parse() call. On the multibulk path nothing is allocated per command.
 *
 * Redis quirks reproduced on purpose, because clients can observe them:
 *  - a header line is found with strchr(), so a NUL byte before the '\r' hides it and
 *    Redis keeps waiting (until the line exceeds 64KB, then "too big ... string");
 *  - the byte after a header's '\r', and the two bytes after a bulk payload, are
 *    skipped without being checked to be "\n" / "\r\n";
 *  - "*0", "*-1" and any other count <= 0 is an empty command (argc 0);
 *  - numbers are parsed like string2ll(): no '+', no leading zeros, no "-0", at most
 *    20 characters, and must fit a signed 64-bit integer;
 *  - an inline line ends at '\n' (an '\r' just before it is dropped), and is split like
 *    sdssplitargs(): blanks are isspace() at the start of a token, but only
 *    ' ', '\t', '\r' end an unquoted token (so "\v" and "\f" stay inside it).
 */

export const PARSE_INCOMPLETE = -1;
export const PARSE_ERROR = -2;

/** PROTO_INLINE_MAX_SIZE: how long a line may grow without its terminator. */
export const PROTO_INLINE_MAX_SIZE = 64 * 1024;
/** Default proto-max-bulk-len. */
export const PROTO_MAX_BULK_LEN_DEFAULT = 512 * 1024 * 1024;

const INT_MAX = 2147483647;
const UNAUTH_MAX_MULTIBULK = 10;
const UNAUTH_MAX_BULK = 16384;
const INITIAL_ARGS = 64;

const CH_NUL = 0;
const CH_TAB = 9;
const CH_LF = 10;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_DQUOTE = 34;
const CH_DOLLAR = 36;
const CH_SQUOTE = 39;
const CH_STAR = 42;
const CH_MINUS = 45;
const CH_0 = 48;
const CH_1 = 49;
const CH_9 = 57;
const CH_BACKSLASH = 92;

/* Results of readHeader(). */
const LINE_OK = 0;
const LINE_WAIT = 1;
const LINE_TOO_BIG = 2;

/* The 19-digit magnitudes of LLONG_MAX and -LLONG_MIN, for string2ll's overflow check. */
const LLONG_MAX_DIGITS = '9223372036854775807';
const LLONG_MIN_DIGITS = '9223372036854775808';

const ERR_INVALID_MULTIBULK = 'ERR Protocol error: invalid multibulk length';
const ERR_UNAUTH_MULTIBULK = 'ERR Protocol error: unauthenticated multibulk length';
const ERR_INVALID_BULK = 'ERR Protocol error: invalid bulk length';
const ERR_UNAUTH_BULK = 'ERR Protocol error: unauthenticated bulk length';
const ERR_BIG_MBULK_COUNT = 'ERR Protocol error: too big mbulk count string';
const ERR_BIG_BULK_COUNT = 'ERR Protocol error: too big bulk count string';
const ERR_BIG_INLINE = 'ERR Protocol error: too big inline request';
const ERR_UNBALANCED = 'ERR Protocol error: unbalanced quotes in request';

/** C isspace() in the "C" locale: ' ', '\t', '\n', '\v', '\f', '\r'. */
function isSpace(c: number): boolean {
  return c === CH_SPACE || (c >= CH_TAB && c <= CH_CR);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export class RequestParser {
  /** Number of arguments of the last parsed command; 0 for an empty command. */
  argc = 0;
  /** Argument i is buf[argStart[i], argEnd[i]). */
  argStart: Int32Array = new Int32Array(INITIAL_ARGS);
  argEnd: Int32Array = new Int32Array(INITIAL_ARGS);
  /** The buffer the offsets point into: the input, or `scratch` for quoted inline args. */
  buf: Buffer = Buffer.alloc(0);
  /** On PARSE_ERROR: Redis's error text without '-' and CRLF (latin1, one char per byte). */
  error = '';
  /**
   * On PARSE_INCOMPLETE: when known, a lower bound of end - pos before parse() can
   * succeed or fail (the rest of a declared bulk); 0 when any new byte may matter.
   */
  needed = 0;
  /** proto-max-bulk-len. */
  maxBulkLen = PROTO_MAX_BULK_LEN_DEFAULT;
  /** Apply Redis's limits for clients that still have to AUTH. */
  authRequired = false;

  /* Outputs of readHeader(), kept as fields so the hot path returns no objects. */
  private lineNext = 0;
  private lineValue = 0;
  private lineNumOk = false;
  /* Holds inline arguments that quotes or escapes made non-contiguous. */
  private scratch: Buffer = Buffer.alloc(0);

  /**
   * Parses one command from input[pos, end). Returns the offset just after it, or
   * PARSE_INCOMPLETE (see `needed`), or PARSE_ERROR (see `error`; the connection
   * should get the error and be closed, as Redis does).
   */
  parse(input: Buffer, pos: number, end: number): number {
    this.needed = 0;
    if (pos >= end) return PARSE_INCOMPLETE;
    this.buf = input;
    if (input[pos] === CH_STAR) return this.parseMultibulk(input, pos, end);
    return this.parseInline(input, pos, end);
  }

  private fail(message: string): number {
    this.error = message;
    return PARSE_ERROR;
  }

  private growArgs(): void {
    const size = this.argStart.length * 2;
    const starts = new Int32Array(size);
    const ends = new Int32Array(size);
    starts.set(this.argStart);
    ends.set(this.argEnd);
    this.argStart = starts;
    this.argEnd = ends;
  }

  /* ---------------------------------------------------------------------------
   * Multibulk: *<count>\r\n then <count> times $<len>\r\n<len bytes>\r\n
   * ------------------------------------------------------------------------- */

  private parseMultibulk(input: Buffer, pos: number, end: number): number {
    let status = this.readHeader(input, pos, end);
    if (status !== LINE_OK) {
      return status === LINE_WAIT ? PARSE_INCOMPLETE : this.fail(ERR_BIG_MBULK_COUNT);
    }
    const count = this.lineValue;
    if (!this.lineNumOk || count > INT_MAX) return this.fail(ERR_INVALID_MULTIBULK);
    if (count > UNAUTH_MAX_MULTIBULK && this.authRequired) return this.fail(ERR_UNAUTH_MULTIBULK);
    let p = this.lineNext;
    if (count <= 0) {
      this.argc = 0;
      return p;
    }

    let argStart = this.argStart;
    let argEnd = this.argEnd;
    const maxBulkLen = this.maxBulkLen;
    let argc = 0;
    while (argc < count) {
      status = this.readHeader(input, p, end);
      if (status !== LINE_OK) {
        return status === LINE_WAIT ? PARSE_INCOMPLETE : this.fail(ERR_BIG_BULK_COUNT);
      }
      if (input[p] !== CH_DOLLAR) return this.badBulkType(input[p]);
      const len = this.lineValue;
      if (!this.lineNumOk || len < 0 || len > maxBulkLen) return this.fail(ERR_INVALID_BULK);
      if (len > UNAUTH_MAX_BULK && this.authRequired) return this.fail(ERR_UNAUTH_BULK);

      const start = this.lineNext;
      const stop = start + len;
      // Nothing in the payload or its (unchecked) trailing CRLF can change the
      // outcome, so the caller may wait for all of it before calling again.
      if (stop + 2 > end) {
        this.needed = stop + 2 - pos;
        return PARSE_INCOMPLETE;
      }
      if (argc === argStart.length) {
        this.growArgs();
        argStart = this.argStart;
        argEnd = this.argEnd;
      }
      argStart[argc] = start;
      argEnd[argc] = stop;
      argc++;
      p = stop + 2;
    }
    this.argc = argc;
    return p;
  }

  private badBulkType(c: number): number {
    // addReplyErrorFormat() turns '\r' and '\n' into spaces.
    const shown = c === CH_CR || c === CH_LF ? ' ' : String.fromCharCode(c);
    return this.fail("ERR Protocol error: expected '$', got '" + shown + "'");
  }

  /**
   * Finds the header line that starts with its type byte at p and parses the number
   * after the type byte. LINE_OK sets lineNext (just past "\r" and one more byte),
   * lineNumOk and lineValue (exact up to 2^53; larger values only compare correctly
   * against the limits, which is all they are used for).
   */
  private readHeader(input: Buffer, p: number, end: number): number {
    // Fast path: 1 to 15 digits without a leading zero, then '\r' and one more byte.
    let i = p + 1;
    if (i < end) {
      let c = input[i];
      if (c >= CH_1 && c <= CH_9) {
        let v = c - CH_0;
        i++;
        while (i < end) {
          c = input[i];
          if (c < CH_0 || c > CH_9) break;
          v = v * 10 + (c - CH_0);
          i++;
        }
        if (c === CH_CR && i + 1 < end && i - p <= 16) {
          this.lineNext = i + 2;
          this.lineValue = v;
          this.lineNumOk = true;
          return LINE_OK;
        }
      } else if (c === CH_0 && i + 2 < end && input[i + 1] === CH_CR) {
        this.lineNext = i + 3;
        this.lineValue = 0;
        this.lineNumOk = true;
        return LINE_OK;
      }
    }
    return this.readHeaderSlow(input, p, end);
  }

  /* Everything else, with Redis's exact semantics. */
  private readHeaderSlow(input: Buffer, p: number, end: number): number {
    let cr = p;
    while (cr < end) {
      const c = input[cr];
      if (c === CH_CR) break;
      if (c === CH_NUL) {
        cr = end; // strchr() stops at a NUL: the line has no end yet
        break;
      }
      cr++;
    }
    if (cr >= end) return end - p > PROTO_INLINE_MAX_SIZE ? LINE_TOO_BIG : LINE_WAIT;
    if (cr + 1 >= end) return LINE_WAIT; // "Buffer should also contain \n"
    this.lineNext = cr + 2;
    this.lineNumOk = this.string2ll(input, p + 1, cr);
    return LINE_OK;
  }

  /** Redis string2ll() over input[s, e); the value goes to lineValue. */
  private string2ll(input: Buffer, s: number, e: number): boolean {
    const slen = e - s;
    if (slen <= 0 || slen >= 21) return false; // LONG_STR_SIZE
    if (slen === 1 && input[s] === CH_0) {
      this.lineValue = 0;
      return true;
    }
    let negative = false;
    if (input[s] === CH_MINUS) {
      negative = true;
      s++;
      if (s === e) return false;
    }
    const first = s;
    let c = input[s];
    if (c < CH_1 || c > CH_9) return false;
    let v = c - CH_0;
    s++;
    while (s < e) {
      c = input[s];
      if (c < CH_0 || c > CH_9) return false;
      v = v * 10 + (c - CH_0);
      s++;
    }
    const digits = e - first;
    if (digits > 19) return false;
    if (digits === 19) {
      // Compare with the int64 limit digit by digit: doubles are not exact here.
      const limit = negative ? LLONG_MIN_DIGITS : LLONG_MAX_DIGITS;
      for (let k = 0; k < 19; k++) {
        const d = input[first + k];
        const l = limit.charCodeAt(k);
        if (d !== l) {
          if (d > l) return false;
          break;
        }
      }
    }
    this.lineValue = negative ? -v : v;
    return true;
  }

  /* ---------------------------------------------------------------------------
   * Inline: one line of space separated arguments, with optional quoting.
   * ------------------------------------------------------------------------- */

  private parseInline(input: Buffer, pos: number, end: number): number {
    // strchr(querybuf, '\n'): a NUL before the newline hides it.
    let nl = pos;
    while (nl < end) {
      const c = input[nl];
      if (c === CH_LF) break;
      if (c === CH_NUL) {
        nl = end;
        break;
      }
      nl++;
    }
    if (nl >= end) {
      return end - pos > PROTO_INLINE_MAX_SIZE ? this.fail(ERR_BIG_INLINE) : PARSE_INCOMPLETE;
    }
    const lineEnd = nl > pos && input[nl - 1] === CH_CR ? nl - 1 : nl;

    // Common case: no quotes, so every argument is a contiguous range of the input.
    let argc = 0;
    let i = pos;
    for (;;) {
      while (i < lineEnd && isSpace(input[i])) i++;
      if (i >= lineEnd) break;
      const start = i;
      while (i < lineEnd) {
        const c = input[i];
        if (c === CH_SPACE || c === CH_CR || c === CH_TAB) break;
        if (c === CH_DQUOTE || c === CH_SQUOTE) return this.splitQuoted(input, pos, lineEnd, nl + 1);
        i++;
      }
      if (argc === this.argStart.length) this.growArgs();
      this.argStart[argc] = start;
      this.argEnd[argc] = i;
      argc++;
      i++; // the separator, as sdssplitargs() does
    }
    this.argc = argc;
    return nl + 1;
  }

  /** sdssplitargs() for a line with quotes: arguments are rebuilt in `scratch`. */
  private splitQuoted(input: Buffer, pos: number, lineEnd: number, next: number): number {
    // Unescaping never makes the line longer.
    if (this.scratch.length < lineEnd - pos) {
      this.scratch = Buffer.allocUnsafe(Math.max(256, (lineEnd - pos) * 2));
    }
    const out = this.scratch;
    let o = 0;
    let argc = 0;
    let p = pos;
    for (;;) {
      while (p < lineEnd && isSpace(input[p])) p++;
      if (p >= lineEnd) break;
      const start = o;
      let inDouble = false;
      let inSingle = false;
      for (;;) {
        if (inDouble) {
          if (p >= lineEnd) return this.fail(ERR_UNBALANCED);
          const c = input[p];
          if (c === CH_BACKSLASH && p + 3 < lineEnd && input[p + 1] === 120 /* x */ &&
              hexValue(input[p + 2]) >= 0 && hexValue(input[p + 3]) >= 0) {
            out[o++] = hexValue(input[p + 2]) * 16 + hexValue(input[p + 3]);
            p += 4;
          } else if (c === CH_BACKSLASH && p + 1 < lineEnd) {
            const e = input[p + 1];
            out[o++] = e === 110 ? CH_LF : e === 114 ? CH_CR : e === 116 ? CH_TAB :
              e === 98 ? 8 : e === 97 ? 7 : e;
            p += 2;
          } else if (c === CH_DQUOTE) {
            // The closing quote must be followed by a blank or the end of the line.
            if (p + 1 < lineEnd && !isSpace(input[p + 1])) return this.fail(ERR_UNBALANCED);
            p++;
            break;
          } else {
            out[o++] = c;
            p++;
          }
        } else if (inSingle) {
          if (p >= lineEnd) return this.fail(ERR_UNBALANCED);
          const c = input[p];
          if (c === CH_BACKSLASH && p + 1 < lineEnd && input[p + 1] === CH_SQUOTE) {
            out[o++] = CH_SQUOTE;
            p += 2;
          } else if (c === CH_SQUOTE) {
            if (p + 1 < lineEnd && !isSpace(input[p + 1])) return this.fail(ERR_UNBALANCED);
            p++;
            break;
          } else {
            out[o++] = c;
            p++;
          }
        } else {
          if (p >= lineEnd) break;
          const c = input[p];
          if (c === CH_SPACE || c === CH_CR || c === CH_TAB) {
            p++;
            break;
          }
          if (c === CH_DQUOTE) inDouble = true;
          else if (c === CH_SQUOTE) inSingle = true;
          else out[o++] = c;
          p++;
        }
      }
      if (argc === this.argStart.length) this.growArgs();
      this.argStart[argc] = start;
      this.argEnd[argc] = o;
      argc++;
    }
    this.argc = argc;
    this.buf = out;
    return next;
  }
}

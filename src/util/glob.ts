// Glob-style pattern matching: an exact port of stringmatchlen() /
// stringmatchlen_impl() from Redis 7.0.15 src/util.c, used by KEYS, SCAN MATCH,
// PSUBSCRIBE, CONFIG GET, ACL key/channel patterns and friends.
//
// Exactness notes (these are observable behaviour, not bugs of the port):
// - Redis patterns are sds strings, so the C code may read the NUL terminator
//   one byte past the pattern; patByte() returns 0 past pEnd to emulate it.
// - `char` is signed on x86-64, so [a-z] ranges compare bytes >= 0x80 as
//   negative numbers; signed() reproduces that.
// - tolower() runs in the C locale (Redis only sets LC_COLLATE): A-Z only.
// - Recursion deeper than 1000 '*' levels is "no match" (CVE-2022-36021 fix).
// - skipLongerMatches: once the rest of a pattern after a '*' fails at every
//   position, outer '*'s stop trying (never changes the result, bounds time).

const STAR = 0x2a; // '*'
const QUESTION = 0x3f; // '?'
const LBRACKET = 0x5b; // '['
const RBRACKET = 0x5d; // ']'
const BACKSLASH = 0x5c; // '\\'
const CARET = 0x5e; // '^'
const DASH = 0x2d; // '-'

// Shared by one top-level stringMatch() call and its recursion; JS runs one
// call at a time per thread, so module state stands in for the C pointer.
let skipLongerMatches = false;

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

function signed(c: number): number {
  return (c << 24) >> 24;
}

/**
 * stringmatchlen(): does str[sStart, sEnd) match the glob pat[pStart, pEnd)?
 * nocase folds ASCII letters. Allocates nothing.
 */
export function stringMatch(
  pat: Uint8Array, pStart: number, pEnd: number,
  str: Uint8Array, sStart: number, sEnd: number,
  nocase: boolean,
): boolean {
  skipLongerMatches = false;
  return matchImpl(pat, pStart, pEnd, str, sStart, sEnd, nocase, 0);
}

function matchImpl(
  pat: Uint8Array, p: number, pEnd: number,
  str: Uint8Array, s: number, sEnd: number,
  nocase: boolean, nesting: number,
): boolean {
  // Protection against abusive patterns.
  if (nesting > 1000) return false;

  while (p < pEnd && s < sEnd) {
    const pc = pat[p];
    if (pc === STAR) {
      while (p + 1 < pEnd && pat[p + 1] === STAR) p++;
      if (pEnd - p === 1) return true; // trailing '*' matches the rest
      while (s < sEnd) {
        if (matchImpl(pat, p + 1, pEnd, str, s, sEnd, nocase, nesting + 1)) return true;
        if (skipLongerMatches) return false;
        s++;
      }
      // The rest of the pattern matches nowhere in the rest of the string:
      // longer matches for earlier '*'s cannot help either.
      skipLongerMatches = true;
      return false;
    } else if (pc === QUESTION) {
      s++;
    } else if (pc === LBRACKET) {
      p++;
      const not = p < pEnd && pat[p] === CARET;
      if (not) p++;
      let match = false;
      const sc = str[s];
      for (;;) {
        // Past the end the C code sees the sds NUL terminator.
        const c = p < pEnd ? pat[p] : 0;
        if (c === BACKSLASH && pEnd - p >= 2) {
          p++;
          if (pat[p] === sc) match = true;
        } else if (c === RBRACKET) {
          break;
        } else if (p >= pEnd) {
          // Unterminated class: step back so the advance below ends the pattern.
          p--;
          break;
        } else if (pEnd - p >= 3 && pat[p + 1] === DASH) {
          let start = signed(c);
          let end = signed(pat[p + 2]);
          let ch = signed(sc);
          if (start > end) {
            const t = start;
            start = end;
            end = t;
          }
          if (nocase) {
            start = lower(start);
            end = lower(end);
            ch = lower(ch);
          }
          p += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (!nocase) {
          if (c === sc) match = true;
        } else if (lower(c) === lower(sc)) {
          match = true;
        }
        p++;
      }
      if (not) match = !match;
      if (!match) return false;
      s++;
    } else {
      // '\\' escapes the next byte, unless it is the last one of the pattern.
      if (pc === BACKSLASH && pEnd - p >= 2) p++;
      const c = pat[p];
      if (!nocase) {
        if (c !== str[s]) return false;
      } else if (lower(c) !== lower(str[s])) {
        return false;
      }
      s++;
    }
    p++;
    if (s === sEnd) {
      while (p < pEnd && pat[p] === STAR) p++;
      break;
    }
  }
  return p === pEnd && s === sEnd;
}

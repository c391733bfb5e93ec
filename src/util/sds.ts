/**
 * Redis's sds.c string helpers Sabre needs in several places (redis.conf lines, CONFIG
 * REWRITE, the AOF manifest): sdssplitargs quoting rules, sdscatrepr and sdsneedsrepr.
 * They work on bytes, so \\xHH escapes round-trip any byte.
 */
function isPrint(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** sdsneedsrepr: quoting needed for a name that holds any of these bytes. */
export function sdsNeedsRepr(s: Buffer): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === 0x5c || c === 0x22 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x07 || c === 0x08 ||
      !isPrint(c) || isSpace(c)) return true;
  }
  return false;
}

/** sdscatrepr: the quoted form of `s`. */
export function sdsCatRepr(s: Buffer): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    switch (c) {
      case 0x5c: out += '\\\\'; break;
      case 0x22: out += '\\"'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x07: out += '\\a'; break;
      case 0x08: out += '\\b'; break;
      default:
        out += isPrint(c) ? String.fromCharCode(c) : '\\x' + c.toString(16).padStart(2, '0');
    }
  }
  return out + '"';
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** sdssplitargs: split a line into arguments (bytes); null on unbalanced quotes. */
export function sdsSplitArgs(line: Buffer): Buffer[] | null {
  const args: Buffer[] = [];
  let p = 0;
  const n = line.length;
  for (;;) {
    while (p < n && isSpace(line[p])) p++;
    if (p >= n) return args;
    let inq = false; // inside "double quotes"
    let insq = false; // inside 'single quotes'
    let done = false;
    const cur: number[] = [];
    while (!done) {
      const c = p < n ? line[p] : 0;
      if (inq) {
        if (p >= n) return null; // unterminated quotes
        if (c === 0x5c && p + 3 < n && line[p + 1] === 0x78 && hexVal(line[p + 2]) >= 0 && hexVal(line[p + 3]) >= 0) {
          cur.push(hexVal(line[p + 2]) * 16 + hexVal(line[p + 3]));
          p += 3;
        } else if (c === 0x5c && p + 1 < n) {
          p++;
          const e = line[p];
          cur.push(e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : e === 0x62 ? 0x08 : e === 0x61 ? 0x07 : e);
        } else if (c === 0x22) {
          // closing quote must be followed by a space or nothing at all
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          done = true;
        } else {
          cur.push(c);
        }
      } else if (insq) {
        if (p >= n) return null;
        if (c === 0x5c && p + 1 < n && line[p + 1] === 0x27) {
          p++;
          cur.push(0x27);
        } else if (c === 0x27) {
          if (p + 1 < n && !isSpace(line[p + 1])) return null;
          done = true;
        } else {
          cur.push(c);
        }
      } else {
        if (p >= n || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          done = true;
        } else if (c === 0x22) {
          inq = true;
        } else if (c === 0x27) {
          insq = true;
        } else {
          cur.push(c);
        }
      }
      if (p < n) p++;
    }
    args.push(Buffer.from(cur));
  }
}

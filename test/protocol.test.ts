import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  PARSE_ERROR,
  PARSE_INCOMPLETE,
  PROTO_INLINE_MAX_SIZE,
  RequestParser,
} from '../src/protocol/resp-parser';
import { formatDouble17g, OK, ReplyWriter } from '../src/protocol/resp-writer';

/* ---------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------- */

function multibulk(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function argsOf(p: RequestParser): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < p.argc; i++) out.push(Buffer.from(p.buf.subarray(p.argStart[i], p.argEnd[i])));
  return out;
}

function argStrings(p: RequestParser): string[] {
  return argsOf(p).map((b) => b.toString('latin1'));
}

/** Parses every command in `data`; returns them as latin1 strings (blank commands kept as []). */
function parseAll(data: Buffer, p = new RequestParser()): { cmds: string[][]; pos: number; last: number } {
  const cmds: string[][] = [];
  let pos = 0;
  let last = 0;
  while (pos < data.length) {
    last = p.parse(data, pos, data.length);
    if (last < 0) break;
    expect(last).toBeGreaterThan(pos);
    cmds.push(argStrings(p));
    pos = last;
  }
  return { cmds, pos, last };
}

function parseOne(text: string | Buffer, p = new RequestParser()): { ret: number; args: string[]; p: RequestParser } {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const ret = p.parse(buf, 0, buf.length);
  return { ret, args: ret >= 0 ? argStrings(p) : [], p };
}

function expectError(text: string | Buffer, message: string, p = new RequestParser()): void {
  const r = parseOne(text, p);
  expect(r.ret).toBe(PARSE_ERROR);
  expect(r.p.error).toBe(message);
}

function written(w: ReplyWriter): string {
  return w.buf.toString('latin1', 0, w.len);
}

/* ---------------------------------------------------------------------------
 * multibulk
 * ------------------------------------------------------------------------- */

describe('RequestParser multibulk', () => {
  it('parses one command into offsets over the input', () => {
    const buf = multibulk(['SET', 'key', 'value']);
    const p = new RequestParser();
    expect(p.parse(buf, 0, buf.length)).toBe(buf.length);
    expect(p.argc).toBe(3);
    expect(p.buf).toBe(buf);
    expect(argStrings(p)).toEqual(['SET', 'key', 'value']);
    expect(p.argStart[1]).toBe(17);
    expect(p.argEnd[1]).toBe(20);
  });

  it('parses at an offset and ignores bytes beyond end', () => {
    const cmd = multibulk(['GET', 'k']);
    const buf = Buffer.concat([Buffer.from('garbage'), cmd, Buffer.from('*9\r\n$x')]);
    const p = new RequestParser();
    expect(p.parse(buf, 7, 7 + cmd.length)).toBe(7 + cmd.length);
    expect(argStrings(p)).toEqual(['GET', 'k']);
    expect(p.parse(buf, 7, 7 + cmd.length - 1)).toBe(PARSE_INCOMPLETE);
  });

  it('parses a pipeline of many commands in one buffer', () => {
    const expected: string[][] = [];
    const parts: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      const cmd = i % 7 === 3 ? ['PING'] : ['SET', `key:${i}`, 'v'.repeat(i % 50)];
      expected.push(cmd);
      parts.push(i % 11 === 5 && i % 50 !== 0 ? Buffer.from(cmd.join(' ') + '\r\n') : multibulk(cmd));
    }
    const data = Buffer.concat(parts);
    const { cmds, pos } = parseAll(data);
    expect(pos).toBe(data.length);
    expect(cmds).toEqual(expected);
  });

  it('keeps binary payloads, CRLF and NUL included', () => {
    const bin = Buffer.from([0, 13, 10, 255, 36, 42, 13, 10, 0]);
    const buf = multibulk(['SET', bin, Buffer.from('\r\n'), Buffer.alloc(0)]);
    const p = new RequestParser();
    expect(p.parse(buf, 0, buf.length)).toBe(buf.length);
    const args = argsOf(p);
    expect(args.length).toBe(4);
    expect(args[1].equals(bin)).toBe(true);
    expect(args[2].toString()).toBe('\r\n');
    expect(args[3].length).toBe(0);
  });

  it('returns INCOMPLETE for every proper prefix of every command, split at each byte', () => {
    const cmds = [
      multibulk(['SET', 'key', 'value']),
      multibulk(['ECHO', Buffer.from('a\r\nb')]),
      multibulk(['X', '']),
      multibulk([Buffer.alloc(100, 120)]),
      Buffer.from('*0\r\n'),
      Buffer.from('*-1\r\n'),
      Buffer.from('PING\r\n'),
      Buffer.from('SET "a b" \'c\'\n'),
      Buffer.from('\r\n'),
    ];
    const stream = Buffer.concat(cmds);
    const p = new RequestParser();
    let offset = 0;
    for (const cmd of cmds) {
      for (let k = 0; k < cmd.length; k++) {
        // Feed a prefix of this command, with the previous commands in front of it.
        expect(p.parse(stream, offset, offset + k)).toBe(PARSE_INCOMPLETE);
        if (p.needed > 0) {
          expect(p.needed).toBeGreaterThan(k);
          expect(p.needed).toBeLessThanOrEqual(cmd.length);
        }
      }
      expect(p.parse(stream, offset, offset + cmd.length)).toBe(offset + cmd.length);
      offset += cmd.length;
    }
  });

  it('reassembles a pipeline delivered in chunks of every size', () => {
    const parts: Buffer[] = [];
    const expected: string[][] = [];
    for (let i = 0; i < 40; i++) {
      const cmd = ['HSET', `h${i}`, 'f', String(i * 12345)];
      expected.push(cmd);
      parts.push(multibulk(cmd));
    }
    const data = Buffer.concat(parts);
    for (const chunk of [1, 2, 3, 5, 7, 13, 64]) {
      const p = new RequestParser();
      const got: string[][] = [];
      let pos = 0;
      for (let avail = Math.min(chunk, data.length); ; avail = Math.min(avail + chunk, data.length)) {
        for (;;) {
          const r = p.parse(data, pos, avail);
          if (r === PARSE_INCOMPLETE) break;
          expect(r).toBeGreaterThan(0);
          got.push(argStrings(p));
          pos = r;
        }
        if (avail === data.length) break;
      }
      expect(pos).toBe(data.length);
      expect(got).toEqual(expected);
    }
  });

  it('sets needed to the rest of a declared bulk so a big payload is not re-parsed', () => {
    const p = new RequestParser();
    const head = Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\nabc');
    expect(p.parse(head, 0, head.length)).toBe(PARSE_INCOMPLETE);
    expect(p.needed).toBe(head.length - 3 + 100000000 + 2);
    // Waiting for the header itself: nothing is known.
    expect(p.parse(head, 0, 25)).toBe(PARSE_INCOMPLETE);
    expect(p.needed).toBe(0);
  });

  it('treats counts <= 0 as empty commands', () => {
    for (const text of ['*0\r\n', '*-1\r\n', '*-5\r\n', '*-9223372036854775808\r\n']) {
      const r = parseOne(text + 'PING\r\n');
      expect(r.ret).toBe(text.length);
      expect(r.p.argc).toBe(0);
    }
  });

  it('grows the argument arrays for commands with many arguments', () => {
    const args = ['MSET'];
    for (let i = 0; i < 3000; i++) args.push(`k${i}`);
    const buf = multibulk(args);
    const r = parseOne(buf);
    expect(r.ret).toBe(buf.length);
    expect(r.p.argc).toBe(3001);
    expect(r.args).toEqual(args);
    expect(r.p.argStart.length).toBeGreaterThanOrEqual(3001);
  });

  it('does not allocate or spin on huge declared lengths', () => {
    const p = new RequestParser();
    // INT_MAX arguments: valid, so it waits for them.
    expect(parseOne('*2147483647\r\n', p).ret).toBe(PARSE_INCOMPLETE);
    expect(parseOne('*2147483647\r\n$3\r\nfoo\r\n$2\r\nba', p).ret).toBe(PARSE_INCOMPLETE);
    expect(p.argStart.length).toBe(64);
    expectError('*2147483648\r\n', 'ERR Protocol error: invalid multibulk length');
    expectError('*9223372036854775807\r\n', 'ERR Protocol error: invalid multibulk length');
    expectError('*99999999999999999999\r\n', 'ERR Protocol error: invalid multibulk length');
    expectError('*-9223372036854775809\r\n', 'ERR Protocol error: invalid multibulk length');
    expectError('*1\r\n$999999999999\r\n', 'ERR Protocol error: invalid bulk length');
    expectError('*1\r\n$9223372036854775807\r\n', 'ERR Protocol error: invalid bulk length');
    expectError('*1\r\n$9223372036854775808\r\n', 'ERR Protocol error: invalid bulk length');
    // proto-max-bulk-len itself is allowed; one more is not.
    const at = parseOne('*1\r\n$536870912\r\n', p);
    expect(at.ret).toBe(PARSE_INCOMPLETE);
    expect(p.needed).toBe(16 + 536870912 + 2);
    expectError('*1\r\n$536870913\r\n', 'ERR Protocol error: invalid bulk length');
    const small = new RequestParser();
    small.maxBulkLen = 10;
    expect(parseOne(multibulk(['0123456789']), small).ret).toBeGreaterThan(0);
    expectError(multibulk(['0123456789A']), 'ERR Protocol error: invalid bulk length', small);
  });

  it('reports every multibulk protocol error with Redis 7.0 text', () => {
    const invalidMbulk = 'ERR Protocol error: invalid multibulk length';
    for (const t of ['*\r\n', '*x\r\n', '*01\r\n', '*+1\r\n', '*-0\r\n', '*1 \r\n', '* 1\r\n', '*-\r\n', '*1x\r\n']) {
      expectError(t, invalidMbulk);
    }
    const invalidBulk = 'ERR Protocol error: invalid bulk length';
    for (const t of ['$\r\n', '$-1\r\n', '$01\r\n', '$+1\r\n', '$-0\r\n', '$1a\r\n', '$ 1\r\n', '$0 \r\n']) {
      expectError('*1\r\n' + t, invalidBulk);
    }
    expectError("*1\r\n:4\r\n", "ERR Protocol error: expected '$', got ':'");
    expectError('*2\r\n$1\r\na\r\n*1\r\n', "ERR Protocol error: expected '$', got '*'");
    expectError('*1\r\n\x80\r\n', "ERR Protocol error: expected '$', got '\x80'");
    // addReplyErrorFormat() maps CR/LF to spaces.
    expectError('*1\r\n\r\nxx', "ERR Protocol error: expected '$', got ' '");
    expectError('*1\r\n\nx\r\n', "ERR Protocol error: expected '$', got ' '");

    const longLine = '*' + '1'.repeat(PROTO_INLINE_MAX_SIZE + 1);
    expectError(longLine, 'ERR Protocol error: too big mbulk count string');
    expect(parseOne('*' + '1'.repeat(PROTO_INLINE_MAX_SIZE - 1)).ret).toBe(PARSE_INCOMPLETE);
    expectError('*1\r\n$' + '1'.repeat(PROTO_INLINE_MAX_SIZE + 1), 'ERR Protocol error: too big bulk count string');
    expect(parseOne('*1\r\n$' + '1'.repeat(PROTO_INLINE_MAX_SIZE - 1)).ret).toBe(PARSE_INCOMPLETE);
    // A CR found far away still ends the line: then the number is what is wrong.
    expectError('*1\r\n$' + '1'.repeat(PROTO_INLINE_MAX_SIZE + 10) + '\r\n', 'ERR Protocol error: invalid bulk length');
  });

  it('applies the unauthenticated limits only when authRequired', () => {
    const p = new RequestParser();
    p.authRequired = true;
    expect(parseOne(multibulk(new Array(10).fill('a')), p).ret).toBeGreaterThan(0);
    expectError('*11\r\n', 'ERR Protocol error: unauthenticated multibulk length', p);
    expect(parseOne(multibulk(['AUTH', 'x'.repeat(16384)]), p).ret).toBeGreaterThan(0);
    expectError('*2\r\n$4\r\nAUTH\r\n$16385\r\n', 'ERR Protocol error: unauthenticated bulk length', p);
    // The invalid-length checks come first, as in Redis.
    expectError('*2147483648\r\n', 'ERR Protocol error: invalid multibulk length', p);
    expectError('*1\r\n$-1\r\n', 'ERR Protocol error: invalid bulk length', p);
    p.authRequired = false;
    expect(parseOne('*11\r\n', p).ret).toBe(PARSE_INCOMPLETE);
    expect(parseOne('*1\r\n$16385\r\n', p).ret).toBe(PARSE_INCOMPLETE);
  });

  it('reproduces Redis quirks: unchecked LF after CR, unchecked CRLF after payload, NUL hides CR', () => {
    // The byte after '\r' in a header is skipped whatever it is.
    let r = parseOne('*1\rX$4\rYPING\r\n');
    expect(r.ret).toBe(14);
    expect(r.args).toEqual(['PING']);
    // The two bytes after a payload are skipped too.
    r = parseOne('*1\r\n$3\r\nfooXY*1\r\n$4\r\nPING\r\n');
    expect(r.ret).toBe(13);
    expect(r.args).toEqual(['foo']);
    // Header waits for the byte after '\r'.
    expect(parseOne('*1\r').ret).toBe(PARSE_INCOMPLETE);
    expect(parseOne('*1\r\n$3\r').ret).toBe(PARSE_INCOMPLETE);
    // A NUL before the '\r' hides the line end: Redis keeps waiting...
    expect(parseOne('*1\x00\r\n').ret).toBe(PARSE_INCOMPLETE);
    expect(parseOne('*1\r\n$4\x00\r\nPING\r\n').ret).toBe(PARSE_INCOMPLETE);
    expect(parseOne('*1\r\n\x00\r\n').ret).toBe(PARSE_INCOMPLETE);
    // ...until the buffered line passes 64KB.
    expectError('*1\x00\r\n' + 'x'.repeat(PROTO_INLINE_MAX_SIZE), 'ERR Protocol error: too big mbulk count string');
  });
});

/* ---------------------------------------------------------------------------
 * inline
 * ------------------------------------------------------------------------- */

describe('RequestParser inline', () => {
  // Each case was checked against redis-server 7.0.15.
  const cases: [string, string[]][] = [
    ['PING\r\n', ['PING']],
    ['PING\n', ['PING']],
    ['  SET   k \t v  \r\n', ['SET', 'k', 'v']],
    ['\r\n', []],
    ['\n', []],
    ['   \t \r\n', []],
    ['a\rb\r\n', ['a', 'b']],
    ['a\r\r\n', ['a']],
    ['a\x0bb\r\n', ['a\x0bb']],
    ['\x0b\x0ca\r\n', ['a']],
    ['SET "a b" c\r\n', ['SET', 'a b', 'c']],
    ['ECHO "a\\x41"\r\n', ['ECHO', 'aA']],
    ['ECHO "\\x4g"\r\n', ['ECHO', 'x4g']],
    ['ECHO "\\xfF\\x00"\r\n', ['ECHO', '\xff\x00']],
    ['ECHO "\\n\\r\\t\\b\\a\\\\\\"\\q"\r\n', ['ECHO', '\n\r\t\b\x07\\"q']],
    ['ECHO ""\r\n', ['ECHO', '']],
    ['ECHO "a"\x0b\r\n', ['ECHO', 'a']],
    ['ECHO \x0ba"b"\r\n', ['ECHO', 'ab']],
    ['ECHO x"y z"\r\n', ['ECHO', 'xy z']],
    ['ECHO "raw\rcr"\r\n', ['ECHO', 'raw\rcr']],
    ["ECHO 'a\\'b'\r\n", ['ECHO', "a'b"]],
    ["ECHO 'a\\nb'\r\n", ['ECHO', 'a\\nb']],
    ["ECHO 'it''s'\r\n", []], // closing quote not followed by a blank: error, checked below
    ['ECHO a\\nb\r\n', ['ECHO', 'a\\nb']],
    ['ECHO "a" "b"\n', ['ECHO', 'a', 'b']],
  ];

  for (const [line, args] of cases) {
    if (line.includes("'it''s'")) continue;
    it(`splits ${JSON.stringify(line)}`, () => {
      const r = parseOne(line);
      expect(r.ret).toBe(Buffer.byteLength(line, 'latin1'));
      expect(r.args).toEqual(args);
      expect(r.p.argc).toBe(args.length);
    });
  }

  it('points unquoted arguments into the input and quoted ones into a scratch buffer', () => {
    const plain = Buffer.from('GET key\r\n');
    const p = new RequestParser();
    p.parse(plain, 0, plain.length);
    expect(p.buf).toBe(plain);
    const quoted = Buffer.from('GET "key"\r\n');
    p.parse(quoted, 0, quoted.length);
    expect(p.buf).not.toBe(quoted);
    expect(argStrings(p)).toEqual(['GET', 'key']);
    // The next multibulk command points back into its input.
    const mb = multibulk(['GET', 'x']);
    p.parse(mb, 0, mb.length);
    expect(p.buf).toBe(mb);
  });

  it('reports unbalanced quotes', () => {
    for (const t of [
      'ECHO "abc\r\n',
      "ECHO 'abc\r\n",
      '"PING"x\r\n',
      "ECHO 'it''s'\r\n",
      'ECHO "a\\x4\r\n',
      'ECHO "a\\"\r\n',
      'ECHO "a\\\r\n',
      'ECHO "\r\n',
    ]) {
      expectError(t, 'ERR Protocol error: unbalanced quotes in request');
    }
  });

  it('waits for the newline and rejects inline lines over 64KB', () => {
    expect(parseOne('PING').ret).toBe(PARSE_INCOMPLETE);
    expect(parseOne('PING\r').ret).toBe(PARSE_INCOMPLETE);
    expect(parseOne('x'.repeat(PROTO_INLINE_MAX_SIZE)).ret).toBe(PARSE_INCOMPLETE);
    expectError('x'.repeat(PROTO_INLINE_MAX_SIZE + 1), 'ERR Protocol error: too big inline request');
    // A long line that does end is fine.
    const long = 'SET k ' + 'v'.repeat(200000) + '\r\n';
    const r = parseOne(long);
    expect(r.ret).toBe(long.length);
    expect(r.args[2].length).toBe(200000);
    // A NUL before the newline hides it, as strchr() does in Redis.
    expect(parseOne('PING\x00\r\n').ret).toBe(PARSE_INCOMPLETE);
    expectError('PING\x00\r\n' + 'x'.repeat(PROTO_INLINE_MAX_SIZE), 'ERR Protocol error: too big inline request');
  });

  it('handles inline commands with many arguments', () => {
    const words = Array.from({ length: 500 }, (_, i) => `w${i}`);
    expect(parseOne(words.join(' ') + '\n').args).toEqual(words);
    expect(parseOne(words.map((w) => `"${w}"`).join(' ') + '\n').args).toEqual(words);
  });
});

describe('RequestParser robustness', () => {
  it('never throws and keeps offsets in range on random and mutated input', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = Buffer.from('*$\r\n0123456789-+ "\'\\x\x00abc');
    const base = Buffer.concat([
      multibulk(['SET', 'key', 'value']),
      Buffer.from('ECHO "a\\x41" \'b\'\r\n'),
      multibulk(['X', Buffer.from('\r\n\r\n')]),
    ]);
    const p = new RequestParser();
    for (let iter = 0; iter < 20000; iter++) {
      let buf: Buffer;
      if (iter & 1) {
        buf = Buffer.from(base);
        for (let k = rand(4); k >= 0; k--) buf[rand(buf.length)] = alphabet[rand(alphabet.length)];
      } else {
        buf = Buffer.alloc(1 + rand(40));
        for (let k = 0; k < buf.length; k++) buf[k] = rand(3) === 0 ? rand(256) : alphabet[rand(alphabet.length)];
      }
      let pos = 0;
      for (let guard = 0; guard < buf.length + 1 && pos < buf.length; guard++) {
        const r = p.parse(buf, pos, buf.length);
        if (r === PARSE_INCOMPLETE) {
          expect(p.needed).toBeGreaterThanOrEqual(0);
          break;
        }
        if (r === PARSE_ERROR) {
          expect(p.error.startsWith('ERR Protocol error: ')).toBe(true);
          break;
        }
        expect(r).toBeGreaterThan(pos);
        expect(r).toBeLessThanOrEqual(buf.length);
        for (let i = 0; i < p.argc; i++) {
          expect(p.argStart[i]).toBeLessThanOrEqual(p.argEnd[i]);
          expect(p.argEnd[i]).toBeLessThanOrEqual(p.buf.length);
        }
        pos = r;
      }
    }
  });
});

/* ---------------------------------------------------------------------------
 * writer
 * ------------------------------------------------------------------------- */

describe('ReplyWriter', () => {
  function both(fn: (w: ReplyWriter) => void): [string, string] {
    const w2 = new ReplyWriter();
    const w3 = new ReplyWriter();
    w3.resp = 3;
    fn(w2);
    fn(w3);
    return [written(w2), written(w3)];
  }

  it('encodes simple types', () => {
    expect(both((w) => w.ok())).toEqual(['+OK\r\n', '+OK\r\n']);
    expect(both((w) => w.simple('PONG'))).toEqual(['+PONG\r\n', '+PONG\r\n']);
    expect(both((w) => w.error('ERR unknown command'))).toEqual(['-ERR unknown command\r\n', '-ERR unknown command\r\n']);
    expect(both((w) => w.error('ERR a\r\nb'))[0]).toBe('-ERR a  b\r\n');
    expect(both((w) => w.bool(true))).toEqual([':1\r\n', '#t\r\n']);
    expect(both((w) => w.bool(false))).toEqual([':0\r\n', '#f\r\n']);
    expect(both((w) => w.nullBulk())).toEqual(['$-1\r\n', '_\r\n']);
    expect(both((w) => w.nullArray())).toEqual(['*-1\r\n', '_\r\n']);
  });

  it('writes integers digit by digit', () => {
    const values = [0, 1, -1, 9, 10, 99, 100, 12345, -12345, 2147483647, 2147483648, -2147483648, -2147483649,
      4294967296, 1e15, 999999999999999, 9999999999999999, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 2000; i++) values.push(Math.floor((Math.random() - 0.5) * 2 ** (1 + (i % 53))));
    const w = new ReplyWriter(64);
    for (const v of values) {
      w.reset();
      w.integer(v);
      expect(written(w)).toBe(`:${v}\r\n`);
      w.reset();
      w.bulkInteger(v);
      expect(written(w)).toBe(`$${String(v).length}\r\n${v}\r\n`);
    }
    w.reset();
    w.bigInteger(-9223372036854775808n);
    w.bigInteger(9223372036854775807n);
    expect(written(w)).toBe(':-9223372036854775808\r\n:9223372036854775807\r\n');
  });

  it('encodes bulk strings from bytes and from JS strings', () => {
    const w = new ReplyWriter();
    const src = Buffer.from('xx\r\n\x00binary\xffyy', 'latin1');
    w.bulk(src, 2, src.length - 2);
    expect(written(w)).toBe('$10\r\n\r\n\x00binary\xff\r\n');
    w.reset();
    w.bulk(src, 3, 3);
    expect(written(w)).toBe('$0\r\n\r\n');
    const big = Buffer.alloc(5000, 97);
    w.reset();
    w.bulk(big, 0, big.length);
    expect(written(w)).toBe(`$5000\r\n${'a'.repeat(5000)}\r\n`);

    for (const s of ['', 'hello', 'héllo wörld', '日本語', '😀', 'x'.repeat(100), 'é'.repeat(100)]) {
      w.reset();
      w.bulkString(s);
      const bytes = Buffer.from(s, 'utf8');
      expect(w.buf.subarray(0, w.len).equals(Buffer.concat([Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n')]))).toBe(true);
    }
  });

  it('encodes aggregate headers for RESP2 and RESP3', () => {
    expect(both((w) => w.arrayHeader(3))).toEqual(['*3\r\n', '*3\r\n']);
    expect(both((w) => w.arrayHeader(0))).toEqual(['*0\r\n', '*0\r\n']);
    expect(both((w) => w.mapHeader(2))).toEqual(['*4\r\n', '%2\r\n']);
    expect(both((w) => w.setHeader(5))).toEqual(['*5\r\n', '~5\r\n']);
    expect(both((w) => w.pushHeader(3))).toEqual(['*3\r\n', '>3\r\n']);
  });

  it('encodes doubles like addReplyDouble', () => {
    expect(both((w) => w.double(1.5))).toEqual(['$3\r\n1.5\r\n', ',1.5\r\n']);
    expect(both((w) => w.double(0.1))).toEqual(['$19\r\n0.10000000000000001\r\n', ',0.10000000000000001\r\n']);
    expect(both((w) => w.double(Infinity))).toEqual(['$3\r\ninf\r\n', ',inf\r\n']);
    expect(both((w) => w.double(-Infinity))).toEqual(['$4\r\n-inf\r\n', ',-inf\r\n']);
    expect(both((w) => w.double(NaN))).toEqual(['$3\r\nnan\r\n', ',nan\r\n']);
    expect(both((w) => w.double(-0))).toEqual(['$2\r\n-0\r\n', ',-0\r\n']);
    expect(both((w) => w.double(1e21))).toEqual(['$5\r\n1e+21\r\n', ',1e+21\r\n']);
  });

  it('encodes verbatim strings', () => {
    expect(both((w) => w.verbatim('hello'))).toEqual(['$5\r\nhello\r\n', '=9\r\ntxt:hello\r\n']);
    expect(both((w) => w.verbatim('# x\r\n', 'mkd'))).toEqual(['$5\r\n# x\r\n\r\n', '=9\r\nmkd:# x\r\n\r\n']);
    expect(both((w) => w.verbatim('é', 'md'))[1]).toBe(Buffer.from('=6\r\nmd :é\r\n').toString('latin1'));
  });

  it('copies raw bytes and strings', () => {
    const w = new ReplyWriter();
    w.raw(OK, 0, OK.length);
    w.rawString('*2\r\n');
    w.raw(Buffer.from('xx$1\r\na\r\nxx'), 2, 9);
    expect(written(w)).toBe('+OK\r\n*2\r\n$1\r\na\r\n');
  });

  it('grows its buffer while keeping earlier replies', () => {
    const w = new ReplyWriter(64);
    let expected = '';
    for (let i = 0; i < 5000; i++) {
      switch (i % 5) {
        case 0: w.integer(i); expected += `:${i}\r\n`; break;
        case 1: w.bulkString(`value-${i}`); expected += `$${String(`value-${i}`).length}\r\nvalue-${i}\r\n`; break;
        case 2: w.ok(); expected += '+OK\r\n'; break;
        case 3: w.arrayHeader(i); expected += `*${i}\r\n`; break;
        default: w.bulk(Buffer.alloc(i % 300, 98), 0, i % 300); expected += `$${i % 300}\r\n${'b'.repeat(i % 300)}\r\n`;
      }
    }
    expect(w.buf.length).toBeGreaterThan(64);
    expect(written(w)).toBe(expected);
    w.ensure(1 << 20);
    expect(w.buf.length - w.len).toBeGreaterThanOrEqual(1 << 20);
    expect(written(w)).toBe(expected);
    w.reset();
    expect(w.len).toBe(0);
  });
});

/* ---------------------------------------------------------------------------
 * %.17g against the C library
 * ------------------------------------------------------------------------- */

/** Formats doubles (given as IEEE bit patterns) with the C library's snprintf("%.17g"). */
function printf17g(values: number[]): string[] {
  const f64 = new Float64Array(values);
  const hex = Buffer.from(f64.buffer).toString('hex');
  const script = [
    'import sys, struct, ctypes',
    'libc = ctypes.CDLL("libc.so.6")',
    'buf = ctypes.create_string_buffer(64)',
    'data = bytes.fromhex(sys.stdin.read().strip())',
    'out = []',
    'for (x,) in struct.iter_unpack("<d", data):',
    '    libc.snprintf(buf, 64, b"%.17g", ctypes.c_double(x))',
    '    out.append(buf.value.decode())',
    'print("\\n".join(out))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], { input: hex, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout.trimEnd().split('\n');
}

describe('formatDouble17g', () => {
  it('matches the documented examples', () => {
    expect(formatDouble17g(1.5)).toBe('1.5');
    expect(formatDouble17g(0.1)).toBe('0.10000000000000001');
    expect(formatDouble17g(1e21)).toBe('1e+21');
    expect(formatDouble17g(1e-5)).toBe('1.0000000000000001e-05');
    expect(formatDouble17g(100)).toBe('100');
    expect(formatDouble17g(-0)).toBe('-0');
    // An exact tie at the 17th digit rounds to even, as printf does.
    expect(formatDouble17g(2 ** -25)).toBe('2.9802322387695312e-08');
  });

  it('matches C printf("%.17g") on many doubles', () => {
    const values: number[] = [
      0, -0, 1, -1, 0.5, 1 / 3, 2 / 3, 10, 100, 1e15, 1e16, 1e17, 1e18, 1e20, 1e21, 1e22, 1e100, 1e300,
      1e-4, 1e-5, 0.0001, 0.00001, 0.00009999999999999999, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308,
      123456789012345680, 12345678901234567, 99999999999999999, 9007199254740993, 45577392413508352, 2 ** 53, 2 ** 53 + 2,
      2 ** 56 + 8, 99999999999999984, 1e17 - 16, 2 ** 63, 3.141592653589793, 2.718281828459045,
      0.30000000000000004, 1.0000000000000002, 0.9999999999999999, 4.35, 4.45, 0.15, 1.005, 8.5, 0.125,
    ];
    // Exact ties: 2^-k and odd multiples of 2^-k for k <= 25, scaled around.
    for (let k = 1; k <= 30; k++) {
      values.push(2 ** -k, 3 * 2 ** -k, 12345 * 2 ** -k, 999999 * 2 ** -k, 123456789 * 2 ** -k, 2 ** 60 + k * 2 ** 8);
    }
    let seed = 987654321;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const bits = new Uint32Array(2);
    const asDouble = new Float64Array(bits.buffer);
    for (let i = 0; i < 3000; i++) {
      bits[0] = rand() ^ (rand() << 16);
      bits[1] = rand() ^ (rand() << 16);
      if (Number.isFinite(asDouble[0])) values.push(asDouble[0]);
      values.push((rand() % 2000000 - 1000000) / 10 ** (rand() % 12));
      values.push(rand() * 10 ** ((rand() % 60) - 30));
      values.push((rand() % 100000) * 2 ** -(rand() % 40));
    }
    for (const v of values.slice()) values.push(-v);
    const expected = printf17g(values);
    expect(expected.length).toBe(values.length);
    const mismatches: string[] = [];
    values.forEach((v, i) => {
      const got = formatDouble17g(v);
      if (got !== expected[i]) mismatches.push(`${v}: got ${got}, printf ${expected[i]}`);
    });
    expect(mismatches).toEqual([]);
  });
});

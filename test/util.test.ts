// Tests for src/util: crc16/keyHashSlot, glob matching, number parsing and
// formatting. Tables hold known Redis 7.0.15 answers; the "vs redis-server"
// suites start a reference /usr/bin/redis-server on a unix socket (no TCP
// port) and compare many generated inputs with it. They are skipped when no
// redis-server is installed.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { crc16, keyHashSlot } from '../src/util/crc16';
import { stringMatch } from '../src/util/glob';
import {
  parsed, parseInt64, parseLong, parseDouble, parseLongDouble, parsedLd,
  formatLongDoubleHuman, writeInt, intLength, ll2string, writeBigInt,
  string2ld, ldAdd, ld2stringHuman, LongDouble, incrByFloat, incrResult,
  INCRBYFLOAT_OK, INCRBYFLOAT_NOT_FLOAT, INCRBYFLOAT_NAN_OR_INF,
  ERR_NOT_INTEGER, ERR_NOT_FLOAT, ERR_OVERFLOW, ERR_NAN_OR_INF,
} from '../src/util/numbers';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const slot = (s: string): number => {
  const k = b(s);
  return keyHashSlot(k, 0, k.length);
};
const match = (p: string, s: string, nocase = false): boolean => {
  const pb = b(p);
  const sb = b(s);
  return stringMatch(pb, 0, pb.length, sb, 0, sb.length, nocase);
};
const i64 = (s: string): number | bigint | null => {
  const x = b(s);
  if (!parseInt64(x, 0, x.length)) return null;
  return parsed.isBig ? parsed.big : parsed.int;
};
const dbl = (s: string): number | null => {
  const x = b(s);
  return parseDouble(x, 0, x.length) ? parsed.dbl : null;
};
const ldText = (s: string): string | null => {
  const x = b(s);
  return parseLongDouble(x, 0, x.length) ? ld2stringHuman(parsedLd) : null;
};
// INCRBYFLOAT on a key holding `cur` (null: missing key), as its reply text.
const incr = (cur: string | null, by: string): string => {
  const c = cur === null ? null : b(cur);
  const i = b(by);
  const r = incrByFloat(c, 0, c ? c.length : 0, i, 0, i.length);
  if (r === INCRBYFLOAT_NOT_FLOAT) return ERR_NOT_FLOAT;
  if (r === INCRBYFLOAT_NAN_OR_INF) return ERR_NAN_OR_INF;
  return incrResult.text;
};

// Deterministic PRNG so failures reproduce.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Replies of redis-server 7.0.15 (x86-64): INCRBYFLOAT of a missing key by
// 1e400, and of "1e300" by 1: "%.17Lf" prints every integer digit of the
// long double.
const REDIS_1E400 =
  '10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880';
const REDIS_1E300_PLUS_1 =
  '1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144';

describe('crc16 / keyHashSlot', () => {
  it('crc16 is CRC-CCITT XMODEM', () => {
    const x = b('123456789');
    expect(crc16(x, 0, x.length)).toBe(0x31c3);
    expect(crc16(x, 0, 0)).toBe(0);
    // Sub-ranges hash only their bytes.
    const y = b('xx123456789yy');
    expect(crc16(y, 2, 11)).toBe(0x31c3);
  });

  it('matches the cluster spec examples', () => {
    expect(slot('foo')).toBe(12182);
    expect(slot('bar')).toBe(5061);
    expect(slot('')).toBe(0);
    expect(slot('{user1000}.following')).toBe(slot('{user1000}.followers'));
    expect(slot('{user1000}.following')).toBe(slot('user1000'));
    // "foo{}{bar}": nothing between the first {} -> the whole key.
    expect(slot('foo{}{bar}')).toBe(crc16(b('foo{}{bar}'), 0, 10) & 16383);
    expect(slot('foo{}{bar}')).not.toBe(slot('bar'));
    // "foo{{bar}}zap": hashes "{bar".
    expect(slot('foo{{bar}}zap')).toBe(crc16(b('{bar'), 0, 4) & 16383);
    expect(slot('foo{{bar}}zap')).toBe(slot('{bar'));
    // "foo{bar}{zap}": hashes "bar".
    expect(slot('foo{bar}{zap}')).toBe(slot('bar'));
    // No closing brace: whole key.
    expect(slot('foo{bar')).toBe(crc16(b('foo{bar'), 0, 7) & 16383);
    expect(slot('{}')).toBe(crc16(b('{}'), 0, 2) & 16383);
  });

  it('works on a sub-range of a larger buffer', () => {
    const buf = b('$3\r\nfoo\r\n');
    expect(keyHashSlot(buf, 4, 7)).toBe(12182);
    const tag = b('zz{a}{b}zz');
    expect(keyHashSlot(tag, 2, 8)).toBe(slot('a'));
    // The '{' before start must not count.
    expect(keyHashSlot(b('{foo}'), 1, 5)).toBe(slot('foo}'));
  });
});

describe('stringMatch (stringmatchlen)', () => {
  const cases: Array<[string, string, boolean, boolean?]> = [
    ['*', 'anything', true],
    ['*', '', false], // the loop never runs on an empty string (KEYS special-cases "*")
    ['', '', true],
    ['', 'a', false],
    ['a', '', false],
    ['**', 'x', true],
    ['a*', 'a', true],
    ['a**', 'a', true],
    ['*a', 'a', true],
    ['*a', 'ba', true],
    ['*a', 'ab', false],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyyd', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['?', '', false],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hallo', true], // reversed range is swapped
    ['h[a-b]llo', 'hcllo', false],
    // "[a-]" is the range ']'..'a' (swapped) in an unterminated class.
    ['[a-]', '-', false],
    ['[a-]', 'b', false],
    ['[a-]', '_', true],
    ['[a-]', ']', true],
    ['[-a]', '-', true],
    ['[]', ']', false],
    ['[]]', ']', false],
    ['[\\]]', ']', true],
    ['[\\', '\\', true], // lone backslash in an unterminated class is a literal
    ['[abc', 'a', true], // unterminated class still matches its members
    ['[abc', 'd', false],
    ['[^', 'x', true],
    ['[', 'x', false],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['\\', '\\', true], // trailing backslash matches itself
    ['a\\', 'a\\', true],
    ['\\?', '?', true],
    ['\\?', 'x', false],
    ['HELLO', 'hello', false],
    ['HELLO', 'hello', true, true],
    ['h[A-C]llo', 'hbllo', true, true],
    ['h[a-c]llo', 'hBllo', true, true],
    ['[\\A]', 'a', false, true], // escaped class members compare case-sensitively
    ['*?', '', false],
    ['a*', 'abc', true],
    ['*b*', 'abc', true],
    ['*[b]', 'ab', true],
  ];
  it.each(cases)('%j vs %j', (p, s, want, nocase) => {
    expect(match(p, s, !!nocase)).toBe(want);
  });

  it('compares range bounds as signed chars like x86 C', () => {
    // [a-\xff]: 'a'=97, '\xff'=-1 -> swapped to -1..97: 'A' (65) is inside, 'b' and 0x80 are not.
    expect(match('[a-\xff]', 'A')).toBe(true);
    expect(match('[a-\xff]', 'b')).toBe(false);
    expect(match('[a-\xff]', '\x80')).toBe(false);
    expect(match('[\x80-\xff]', '\x90')).toBe(true);
  });

  it('does not read bytes beyond the pattern range', () => {
    // Pattern "[a" followed by "]" outside the range: the class is unterminated.
    const buf = b('[a]b');
    const s = b('a');
    expect(stringMatch(buf, 0, 2, s, 0, 1, false)).toBe(true);
    const s2 = b('ab');
    expect(stringMatch(buf, 0, 2, s2, 0, 2, false)).toBe(false);
    // "a*" inside a larger buffer whose next byte is '*'.
    expect(stringMatch(b('a**'), 0, 1, b('a'), 0, 1, false)).toBe(true);
    expect(stringMatch(b('xab'), 1, 2, b('a'), 0, 1, false)).toBe(true);
  });

  it('stops at the nesting limit (CVE-2022-36021)', () => {
    const str = 'a'.repeat(1001);
    expect(match('*a'.repeat(1000), 'a'.repeat(1000))).toBe(true);
    expect(match('*a'.repeat(1001), str)).toBe(false);
  });

  it('is fast on exponential patterns', () => {
    const t0 = Date.now();
    expect(match('a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(60))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('parseInt64 (string2ll)', () => {
  const cases: Array<[string, number | bigint | null]> = [
    ['0', 0], ['-0', null], ['007', null], ['01', null], ['+1', null], [' 1', null], ['1 ', null],
    ['', null], ['-', null], ['1e3', null], ['1.0', null], ['12a', null], ['-1', -1], ['99', 99],
    ['9007199254740991', 9007199254740991], ['-9007199254740991', -9007199254740991],
    ['9007199254740992', 9007199254740992n], ['-9007199254740992', -9007199254740992n],
    ['9223372036854775807', 9223372036854775807n], ['9223372036854775808', null],
    ['-9223372036854775808', -9223372036854775808n], ['-9223372036854775809', null],
    ['18446744073709551615', null], ['99999999999999999999', null], ['100000000000000000000', null],
    ['-99999999999999999999', null], ['123456789012', 123456789012], ['1000000000', 1000000000],
    ['00', null], ['-01', null], ['1\x00', null],
  ];
  it.each(cases)('%j -> %s', (s, want) => {
    expect(i64(s)).toBe(want);
  });
  it('parseLong is the same (64-bit long)', () => {
    const x = b('-9223372036854775808');
    expect(parseLong(x, 0, x.length)).toBe(true);
    expect(parsed.big).toBe(-9223372036854775808n);
  });
  it('parses a sub-range', () => {
    const x = b('*3\r\n1234\r\n');
    expect(parseInt64(x, 4, 8)).toBe(true);
    expect(parsed.int).toBe(1234);
    expect(parsed.isBig).toBe(false);
  });
});

describe('writeInt / intLength / ll2string', () => {
  it('writes decimal ASCII', () => {
    const buf = new Uint8Array(32);
    for (const n of [0, 1, -1, 9, 10, -10, 99, 100, 2147483647, 2147483648, -2147483648, 4294967296,
      9007199254740991, -9007199254740991, 123456789012345]) {
      const len = writeInt(buf, 3, n);
      expect(len).toBe(String(n).length);
      expect(intLength(n)).toBe(String(n).length);
      expect(Buffer.from(buf.subarray(3, 3 + len)).toString()).toBe(String(n));
    }
    expect(writeInt(buf, 0, -0)).toBe(1);
    expect(buf[0]).toBe(0x30);
  });
  it('bigint', () => {
    expect(ll2string(-9223372036854775808n)).toBe('-9223372036854775808');
    const buf = new Uint8Array(32);
    const n = writeBigInt(buf, 1, 9223372036854775807n);
    expect(Buffer.from(buf.subarray(1, 1 + n)).toString()).toBe('9223372036854775807');
  });
});

describe('parseDouble (string2d, ZADD scores)', () => {
  const cases: Array<[string, number | null]> = [
    ['1.5', 1.5], ['.5', 0.5], ['5.', 5], ['-.5', -0.5], ['+1', 1], ['1e5', 1e5], ['1E5', 1e5],
    ['1e+5', 1e5], ['1e-5', 1e-5], ['1e400', null], ['-1e400', null], ['1e-400', null],
    ['4e-320', 4e-320], ['0e999999', 0], ['inf', Infinity], ['+inf', Infinity], ['-inf', -Infinity],
    ['INF', Infinity], ['Infinity', Infinity], ['-infinity', -Infinity], ['infin', null],
    ['nan', null], ['NaN', null], ['-nan', null], ['nan(123)', null], ['0x10', 16], ['-0x10', -16],
    ['0x1p-3', 0.125], ['0x.8', 0.5], ['0x1.8p1', 3], ['0x', null], ['0x1p', null], ['0xg', null],
    [' 1.5', null], ['1.5 ', null], ['\t1', null], ['', null], ['.', null], ['-', null], ['e5', null],
    ['1e', null], ['1e+', null], ['1.5.', null], ['1..5', null], ['1.5x', null], ['-0', -0],
    ['0.1', 0.1], ['123456789012345678901234567890', 1.2345678901234568e29],
    ['1.7976931348623157e308', 1.7976931348623157e308], ['1.7976931348623159e308', null],
    ['2.4703282292062328e-324', 5e-324], ['2.4703282292062327e-324', null],
    ['0x1p1024', null], ['0x1p-1074', 5e-324], ['0x1p-1076', null], ['1\x00', null],
  ];
  it.each(cases)('%j -> %s', (s, want) => {
    expect(dbl(s)).toBe(want);
  });
});

describe('parseLongDouble (string2ld, INCRBYFLOAT)', () => {
  const cases: Array<[string, string | null]> = [
    ['1.5', '1.5'], ['.5', '0.5'], ['5.', '5'], ['+1', '1'], ['-0', '0'], ['0x10', '16'],
    ['1e400', REDIS_1E400], ['1e-400', '0'], ['1e-4940', '0'], ['1e-4952', null],
    ['1e5000', null], ['inf', 'inf'], ['-inf', '-inf'], ['nan', null], [' 1.5', null], ['1.5 ', null],
    ['', null], ['0.1', '0.1'], ['-0.1', '-0.1'], ['1e-17', '0.00000000000000001'],
    ['4e-18', '0'], ['-4e-18', '0'], ['0x1p-16445', '0'], ['0x1p-16446', null],
  ];
  it.each(cases)('%j -> %s', (s, want) => {
    expect(ldText(s)).toBe(want);
  });
  it('rejects >= MAX_LONG_DOUBLE_CHARS bytes', () => {
    const ok = b('1'.padEnd(5119, '0'));
    expect(parseLongDouble(ok, 0, ok.length)).toBe(false); // 1e5118: overflow anyway
    const ok2 = b('0.' + '0'.repeat(5116) + '1');
    expect(ok2.length).toBe(5119);
    expect(parseLongDouble(ok2, 0, ok2.length)).toBe(false); // underflow to zero
    const z = b('0'.repeat(5119));
    expect(parseLongDouble(z, 0, z.length)).toBe(true);
    const z2 = b('0'.repeat(5120));
    expect(parseLongDouble(z2, 0, z2.length)).toBe(false);
  });
  it('parsed.dbl holds the nearest double', () => {
    const x = b('0.1');
    parseLongDouble(x, 0, x.length);
    expect(parsed.dbl).toBe(0.1);
    const y = b('1e400');
    parseLongDouble(y, 0, y.length);
    expect(parsed.dbl).toBe(Infinity);
  });
});

describe('incrByFloat (long double arithmetic + ld2string human)', () => {
  const cases: Array<[string | null, string, string]> = [
    [null, '0.1', '0.1'],
    ['0.1', '0.2', '0.3'], // a double sum would print 0.30000000000000004
    ['1000.1', '0.2', '1000.29999999999999999'],
    ['10.50', '0.1', '10.6'],
    ['5.0e3', '2.0e2', '5200'],
    ['1e300', '1', REDIS_1E300_PLUS_1],
    [null, '1e400', REDIS_1E400],
    [null, 'inf', ERR_NAN_OR_INF],
    ['1', 'nan', ERR_NOT_FLOAT],
    ['abc', '1', ERR_NOT_FLOAT],
    ['1', '-1', '0'],
    ['-1', '0.5', '-0.5'],
    ['1', '1e-30', '1'],
    ['1e4932', '1e4932', ERR_NAN_OR_INF],
  ];
  it.each(cases)('%j + %j -> %j', (cur, by, want) => {
    expect(incr(cur, by)).toBe(want);
  });
  it('ldAdd handles zeros and infinities', () => {
    const a = new LongDouble();
    const c = new LongDouble();
    const out = new LongDouble();
    const x = b('-0');
    string2ld(x, 0, 2, a);
    string2ld(x, 0, 2, c);
    ldAdd(a, c, out);
    expect(out.neg).toBe(true);
    const i1 = b('inf');
    const i2 = b('-inf');
    string2ld(i1, 0, 3, a);
    string2ld(i2, 0, 4, c);
    ldAdd(a, c, out);
    expect(out.isFinite()).toBe(false);
  });
});

describe('formatLongDoubleHuman', () => {
  const cases: Array<[number, string]> = [
    [0, '0'], [-0, '0'], [1, '1'], [-1.5, '-1.5'], [0.1, '0.1'], [10.6, '10.6'],
    [1e21, '1000000000000000000000'], [1e-7, '0.0000001'], [1e-17, '0.00000000000000001'],
    [1e-18, '0'], [-1e-18, '0'], [6e-18, '0.00000000000000001'], [Infinity, 'inf'],
    [-Infinity, '-inf'], [NaN, 'nan'], [123456789.125, '123456789.125'], [5200, '5200'],
    [1.2345678901234567e-5, '0.00001234567890123'], [0.99999999999999999, '1'],
    [9.999999999999999e-5, '0.0001'],
  ];
  it.each(cases)('%s -> %j', (d, want) => {
    expect(formatLongDoubleHuman(d)).toBe(want);
  });
});

describe('error texts', () => {
  it('are Redis 7.0 texts', () => {
    expect(ERR_NOT_INTEGER).toBe('ERR value is not an integer or out of range');
    expect(ERR_NOT_FLOAT).toBe('ERR value is not a valid float');
    expect(ERR_OVERFLOW).toBe('ERR increment or decrement would overflow');
    expect(ERR_NAN_OR_INF).toBe('ERR increment would produce NaN or Infinity');
  });
});

// ---------------------------------------------------------------------------
// Differential checks against a real redis-server.

const REDIS = '/usr/bin/redis-server';
// UTIL_DIFF_SCALE=20 runs 20x more generated inputs (for a longer soak).
const SCALE = Math.max(1, Number(process.env.UTIL_DIFF_SCALE ?? 1));
const haveRedis = existsSync(REDIS);

type Reply = string | bigint | null | Buffer | Reply[] | { err: string };

class MiniClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<(r: Reply) => void> = [];
  constructor(private sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const r = this.parse(0);
        if (!r) break;
        this.buf = this.buf.subarray(r[1]);
        this.waiters.shift()!(r[0]);
      }
    });
  }
  static connect(path: string): Promise<MiniClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path, () => resolve(new MiniClient(s)));
      s.on('error', reject);
    });
  }
  private parse(p: number): [Reply, number] | null {
    const nl = this.buf.indexOf('\r\n', p);
    if (nl < 0) return null;
    const t = this.buf[p];
    const line = this.buf.toString('latin1', p + 1, nl);
    if (t === 0x2b) return [line, nl + 2];
    if (t === 0x2d) return [{ err: line }, nl + 2];
    if (t === 0x3a) return [BigInt(line), nl + 2];
    if (t === 0x24) {
      const n = Number(line);
      if (n < 0) return [null, nl + 2];
      if (this.buf.length < nl + 2 + n + 2) return null;
      return [Buffer.from(this.buf.subarray(nl + 2, nl + 2 + n)), nl + 4 + n];
    }
    if (t === 0x2a) {
      const n = Number(line);
      const out: Reply[] = [];
      let q = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = this.parse(q);
        if (!r) return null;
        out.push(r[0]);
        q = r[1];
      }
      return [out, q];
    }
    throw new Error('bad reply type ' + t);
  }
  /** Pipelines all commands; resolves with their replies in order. */
  run(cmds: Array<Array<string | Buffer>>): Promise<Reply[]> {
    const parts: Buffer[] = [];
    const promises: Array<Promise<Reply>> = [];
    for (const c of cmds) {
      parts.push(Buffer.from(`*${c.length}\r\n`));
      for (const a of c) {
        const ab = typeof a === 'string' ? b(a) : a;
        parts.push(Buffer.from(`$${ab.length}\r\n`), ab, Buffer.from('\r\n'));
      }
      promises.push(new Promise((res) => this.waiters.push(res)));
    }
    this.sock.write(Buffer.concat(parts));
    return Promise.all(promises);
  }
  close(): void {
    this.sock.destroy();
  }
}

async function startRedis(dir: string, name: string, extra: string[]): Promise<[ChildProcess, MiniClient]> {
  const sockPath = join(dir, name + '.sock');
  const proc = spawn(REDIS, ['--port', '0', '--unixsocket', sockPath, '--save', '', '--appendonly', 'no',
    '--dir', dir, ...extra], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (existsSync(sockPath)) {
      try {
        return [proc, await MiniClient.connect(sockPath)];
      } catch { /* not accepting yet */ }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  throw new Error('redis-server did not start');
}

describe.skipIf(!haveRedis)('vs redis-server 7.0', () => {
  let dir = '';
  let plain: [ChildProcess, MiniClient];
  let cluster: [ChildProcess, MiniClient];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-util-'));
    plain = await startRedis(dir, 'plain', []);
    cluster = await startRedis(dir, 'cluster', ['--cluster-enabled', 'yes',
      '--cluster-config-file', join(dir, 'nodes.conf')]);
  }, 20000);
  afterAll(() => {
    plain?.[1].close();
    cluster?.[1].close();
    plain?.[0].kill();
    cluster?.[0].kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keyHashSlot == CLUSTER KEYSLOT', async () => {
    const r = rng(1);
    const alphabet = 'ab{}x{}';
    const keys: Buffer[] = [b('foo'), b('bar'), b('{user1000}.following'), b('foo{}{bar}'),
      b('foo{{bar}}zap'), b('foo{bar}{zap}'), b('{}'), b('}{'), b('{'), b('}')];
    for (let i = 0; i < 500 * SCALE; i++) {
      const n = Math.floor(r() * 12);
      const k = Buffer.alloc(n);
      for (let j = 0; j < n; j++) {
        k[j] = r() < 0.6 ? alphabet.charCodeAt(Math.floor(r() * alphabet.length)) : Math.floor(r() * 256);
      }
      keys.push(k);
    }
    const replies = await cluster[1].run(keys.map((k) => ['CLUSTER', 'KEYSLOT', k]));
    keys.forEach((k, i) => expect(BigInt(keyHashSlot(k, 0, k.length)), k.toString('hex')).toBe(replies[i]));
  });

  it('stringMatch == KEYS', async () => {
    const r = rng(2);
    const keyAlpha = ['a', 'b', 'A', '[', ']', '^', '-', '\\', '*', '?', '\x80', '\xff', 'z'];
    const patAlpha = ['a', 'b', 'A', '[', ']', '^', '-', '\\', '*', '*', '?', '\x80', '\xff', 'z', '[a-b]', '[^a]'];
    const keys = new Set<string>(['', 'a', 'ab']);
    while (keys.size < 300) {
      const n = 1 + Math.floor(r() * 6);
      let k = '';
      for (let j = 0; j < n; j++) k += keyAlpha[Math.floor(r() * keyAlpha.length)];
      keys.add(k);
    }
    const keyList = [...keys];
    await plain[1].run([['FLUSHALL'], ...keyList.map((k) => ['SET', b(k), '1'])]);
    const pats: string[] = ['**', '?', '[', '[^', '\\', 'a\\', '[a-', '[\\', '*[', '[]]', '[]', '*\\', '[a-\xff]', '[\xff-a]'];
    for (let i = 0; i < 400 * SCALE; i++) {
      const n = 1 + Math.floor(r() * 5);
      let p = '';
      for (let j = 0; j < n; j++) p += patAlpha[Math.floor(r() * patAlpha.length)];
      if (p !== '*') pats.push(p);
    }
    const replies = await plain[1].run(pats.map((p) => ['KEYS', b(p)]));
    pats.forEach((p, i) => {
      const got = (replies[i] as Buffer[]).map((x) => x.toString('latin1')).sort();
      const want = keyList.filter((k) => match(p, k)).sort();
      expect(want, JSON.stringify(p)).toEqual(got);
    });
    // The nesting limit, as Redis applies it.
    const deep = 'a'.repeat(1001);
    const [r1, r2] = await plain[1].run([['FLUSHALL'], ['SET', deep, '1']]);
    expect([r1, r2]).toEqual(['OK', 'OK']);
    const [k1000, k1001] = await plain[1].run([['KEYS', '*a'.repeat(1000) + '*'], ['KEYS', '*a'.repeat(1001)]]);
    expect(match('*a'.repeat(1000) + '*', deep)).toBe((k1000 as Buffer[]).length === 1);
    expect(match('*a'.repeat(1001), deep)).toBe((k1001 as Buffer[]).length === 1);
  });

  it('stringMatch nocase == COMMAND LIST FILTERBY PATTERN', async () => {
    const [all] = await plain[1].run([['COMMAND', 'LIST']]);
    const names = (all as Buffer[]).map((x) => x.toString('latin1'));
    expect(names.length).toBeGreaterThan(200);
    const r = rng(7);
    const alpha = ['a', 'C', 'e', 'G', 's', 'T', 'x', 'R', '|', '*', '*', '?', '[', ']', '^', '-', '\\', '[a-f]', '[^s]', '[E-c]'];
    const pats: string[] = ['*', 'CONFIG*', 'config|*', '*|*', '[a-c]*', 'x[A-C]*', '???', 's?T*'];
    for (let i = 0; i < 300 * SCALE; i++) {
      const n = 1 + Math.floor(r() * 6);
      let p = '';
      for (let j = 0; j < n; j++) p += alpha[Math.floor(r() * alpha.length)];
      pats.push(p);
    }
    const replies = await plain[1].run(pats.map((p) => ['COMMAND', 'LIST', 'FILTERBY', 'PATTERN', b(p)]));
    pats.forEach((p, i) => {
      const got = (replies[i] as Buffer[]).map((x) => x.toString('latin1')).sort();
      const want = names.filter((n) => match(p, n, true)).sort();
      expect(want, JSON.stringify(p)).toEqual(got);
    });
  });

  // Shared generator of number-ish strings.
  function numberStrings(seed: number, count: number): string[] {
    const r = rng(seed);
    const out: string[] = ['0', '-0', '007', '+1', ' 1', '1 ', '9223372036854775807', '9223372036854775808',
      '-9223372036854775808', '-9223372036854775809', '', '1e3', '1.5', '.5', '5.', '1e400', '1e-400',
      'inf', '-inf', '+inf', 'nan', '0x10', ' 1.5', '1.5 ', '4e-320', '1e-4940', '1e-4952', '1e4932',
      '1.18973149535723176502e+4932', '1.18973149535723176503e+4932', '0x1p16383', '0x1p16384',
      '0x1.fffffffffffffffep16383', '0x1.ffffffffffffffffp16383', '0xA.8p0', '0X1P+1', 'Infinity',
      '-0.0', '0.', '.e1', '1e+', '1e-1', '18446744073709551616', '0.30000000000000004',
      '2.4703282292062328e-324', '2.4703282292062327e-324', '1.7976931348623158e308',
      '1.7976931348623159e308', '3.64519953188247460253e-4951', '1.82259976594123730126e-4951',
      '1.82259976594123730127e-4951'];
    const chars = '0123456789.-+eExXpP abcdfin';
    for (let i = 0; i < count; i++) {
      const kind = r();
      let s = '';
      if (kind < 0.35) {
        // decimal with random digits and exponent
        if (r() < 0.3) s += '-';
        const id = Math.floor(r() * 22);
        for (let j = 0; j < id; j++) s += String(Math.floor(r() * 10));
        if (r() < 0.6) {
          s += '.';
          const fd = Math.floor(r() * 22);
          for (let j = 0; j < fd; j++) s += String(Math.floor(r() * 10));
        }
        if (r() < 0.3) s += 'e' + (r() < 0.5 ? '-' : '') + String(Math.floor(r() * 400));
      } else if (kind < 0.6) {
        // integers near 64-bit limits
        const base = r() < 0.5 ? 9223372036854775807n : 9007199254740991n;
        const v = base - BigInt(Math.floor(r() * 5)) + BigInt(Math.floor(r() * 5));
        s = (r() < 0.5 ? '-' : '') + v.toString();
        if (r() < 0.2) s = s.slice(0, Math.floor(r() * s.length));
      } else if (kind < 0.75) {
        s = '0x';
        const n = Math.floor(r() * 20);
        for (let j = 0; j < n; j++) s += '0123456789abcdef.'[Math.floor(r() * 17)];
        if (r() < 0.5) s += 'p' + (r() < 0.5 ? '-' : '') + String(Math.floor(r() * 17000));
      } else {
        const n = Math.floor(r() * 8);
        for (let j = 0; j < n; j++) s += chars[Math.floor(r() * chars.length)];
      }
      out.push(s);
    }
    return out;
  }

  it('parseInt64 == INCRBY increment parsing', async () => {
    const inputs = numberStrings(3, 600 * SCALE);
    const cmds: Array<Array<string>> = [];
    for (const s of inputs) cmds.push(['DEL', 'k'], ['INCRBY', 'k', s]);
    const replies = await plain[1].run(cmds);
    inputs.forEach((s, i) => {
      const rep = replies[2 * i + 1];
      const v = i64(s);
      if (typeof rep === 'object' && rep !== null && 'err' in rep) {
        expect(v, JSON.stringify(s)).toBe(null);
        expect('ERR ' + (rep as { err: string }).err.replace(/^ERR /, '')).toBe(ERR_NOT_INTEGER);
      } else {
        expect(v === null ? null : BigInt(v), JSON.stringify(s)).toBe(rep);
      }
    });
  });

  it('parseDouble == ZADD score parsing', async () => {
    // Inputs that spell a ZADD flag (XX, NX, ...) would be parsed as options.
    const inputs = numberStrings(4, 600 * SCALE).filter((x) => !/^(nx|xx|gt|lt|ch|incr)$/i.test(x));
    const cmds: Array<Array<string>> = [];
    for (const s of inputs) cmds.push(['DEL', 'z'], ['ZADD', 'z', s, 'm'], ['ZSCORE', 'z', 'm']);
    const replies = await plain[1].run(cmds);
    inputs.forEach((s, i) => {
      const add = replies[3 * i + 1];
      const score = replies[3 * i + 2];
      const v = dbl(s);
      if (typeof add === 'object' && add !== null && 'err' in add) {
        expect(v, JSON.stringify(s)).toBe(null);
        expect('-' + (add as { err: string }).err).toBe('-' + ERR_NOT_FLOAT);
      } else {
        expect(v, JSON.stringify(s)).not.toBe(null);
        const txt = (score as Buffer).toString();
        const want = txt === 'inf' ? Infinity : txt === '-inf' ? -Infinity : Number(txt);
        expect(v === 0 ? 0 : v, JSON.stringify(s)).toBe(want === 0 ? 0 : want);
      }
    });
  });

  it('incrByFloat == INCRBYFLOAT', async () => {
    const inputs = numberStrings(5, 500 * SCALE);
    const r = rng(6);
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < 700 * SCALE; i++) {
      pairs.push([inputs[Math.floor(r() * inputs.length)], inputs[Math.floor(r() * inputs.length)]]);
    }
    // Values that look like typical use: short decimals.
    for (let i = 0; i < 300 * SCALE; i++) {
      const d = () => (r() < 0.3 ? '-' : '') + String(Math.floor(r() * 100000)) + '.' + String(Math.floor(r() * 1000));
      pairs.push([d(), d()]);
    }
    // Many significant digits and wide exponents: stresses rounding and "%.17Lf".
    for (let i = 0; i < 300 * SCALE; i++) {
      const d = () => {
        let m = '';
        const n = 1 + Math.floor(r() * 25);
        for (let j = 0; j < n; j++) m += String(Math.floor(r() * 10));
        return (r() < 0.4 ? '-' : '') + m + 'e' + String(Math.floor(r() * 80) - 40 - n);
      };
      pairs.push([d(), d()]);
    }
    const cmds: Array<Array<string>> = [];
    for (const [cur, by] of pairs) cmds.push(['SET', 'k', cur], ['INCRBYFLOAT', 'k', by]);
    const replies = await plain[1].run(cmds);
    pairs.forEach(([cur, by], i) => {
      const rep = replies[2 * i + 1];
      const want = typeof rep === 'object' && rep !== null && 'err' in rep
        ? 'ERR ' + (rep as { err: string }).err.replace(/^ERR /, '')
        : (rep as Buffer).toString('latin1');
      expect(incr(cur, by), JSON.stringify([cur, by])).toBe(want);
    });
  });
});

// Differential test of the string, key and expiry commands (issue #2): random
// command streams from fixed seeds go to Sabre and to redis-server, and every
// reply must match byte for byte (see helpers/differential.ts for the few
// normalisations).
//
// Environment:
//   DIFF_TARGET=redis     compare two redis-servers (proves the harness itself)
//   DIFF_SEEDS=20         number of seeds (1..N);  DIFF_SEED=123 runs only that seed
//   DIFF_COMMANDS=500     commands per seed
//   DIFF_DUMP=file        append every command of every seed with both replies to file
//   DIFF_WRONGTYPE=1      also create list/set/hash keys, so string commands meet WRONGTYPE
//                         (default on only for DIFF_TARGET=redis until Sabre has collections)
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Arg,
  FAR_FUTURE_UNIX,
  Rng,
  formatCommand,
  formatMismatch,
  randomFloatString,
  randomInteger,
  randomKey,
  randomTtl,
  randomValue,
  runDifferential,
} from './helpers/differential';
import { RawClient, escapeBytes } from './helpers/resp';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';

const TARGET = process.env.DIFF_TARGET === 'redis' ? 'redis' : 'sabre';
const SEEDS = Number(process.env.DIFF_SEEDS ?? 20);
const COMMANDS = Number(process.env.DIFF_COMMANDS ?? 500);
const ONLY_SEED = process.env.DIFF_SEED ? Number(process.env.DIFF_SEED) : null;
const DUMP = process.env.DIFF_DUMP;
const WRONGTYPE = process.env.DIFF_WRONGTYPE ? process.env.DIFF_WRONGTYPE === '1' : TARGET === 'redis';

type Gen = (rng: Rng) => Arg[];

const k = randomKey;
const v = randomValue;

/** SET's option soup: valid combinations mostly, invalid ones sometimes. */
function setOptions(rng: Rng): Arg[] {
  const opts: Arg[] = [];
  if (rng.chance(0.3)) opts.push(rng.pick(['NX', 'XX', 'nx', 'xx']));
  if (rng.chance(0.2)) opts.push('GET');
  if (rng.chance(0.4)) {
    switch (rng.int(0, 4)) {
      case 0:
        opts.push('EX', randomTtl(rng, 's'));
        break;
      case 1:
        opts.push('PX', randomTtl(rng, 'ms'));
        break;
      case 2:
        opts.push('EXAT', randomTtl(rng, 's', true));
        break;
      case 3:
        opts.push('PXAT', randomTtl(rng, 'ms', true));
        break;
      default:
        opts.push('KEEPTTL');
    }
  }
  if (rng.chance(0.08)) {
    // invalid: conflicting or dangling options, unknown words
    opts.push(rng.pick<Arg>(['NX', 'XX', 'EX', 'PX', 'KEEPTTL', 'GET', 'FOO', 'EX', 'PXAT']));
  }
  // shuffle: SET takes options in any order
  for (let i = opts.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [opts[i], opts[j]] = [opts[j], opts[i]];
  }
  return opts;
}

function expireFlags(rng: Rng): Arg[] {
  if (rng.chance(0.5)) return [];
  if (rng.chance(0.1)) return [rng.pick(['NX', 'XX', 'GT', 'LT']), rng.pick(['NX', 'XX', 'GT', 'LT', 'FOO'])];
  return [rng.pick(['NX', 'XX', 'GT', 'LT', 'nx', 'gt'])];
}

function keys(rng: Rng, min: number, max: number): Arg[] {
  const out: Arg[] = [];
  const n = rng.int(min, max);
  for (let i = 0; i < n; i++) out.push(k(rng));
  return out;
}

function pairs(rng: Rng, min: number, max: number): Arg[] {
  const out: Arg[] = [];
  const n = rng.int(min, max);
  for (let i = 0; i < n; i++) out.push(k(rng), v(rng));
  return out;
}

function index(rng: Rng): string {
  if (rng.chance(0.15)) return rng.pick(['9223372036854775807', '-9223372036854775808', '1000000', 'x', '1.5', '']);
  return String(rng.int(-20, 60));
}

const GENERATORS: (readonly [number, Gen])[] = [
  [10, (r) => ['GET', k(r)]],
  [12, (r) => ['SET', k(r), v(r), ...setOptions(r)]],
  [2, (r) => ['SETNX', k(r), v(r)]],
  [2, (r) => ['SETEX', k(r), randomTtl(r, 's'), v(r)]],
  [2, (r) => ['PSETEX', k(r), randomTtl(r, 'ms'), v(r)]],
  [
    3,
    (r) => {
      const opt = r.int(0, 6);
      if (opt === 0) return ['GETEX', k(r)];
      if (opt === 1) return ['GETEX', k(r), 'EX', randomTtl(r, 's')];
      if (opt === 2) return ['GETEX', k(r), 'PX', randomTtl(r, 'ms')];
      if (opt === 3) return ['GETEX', k(r), 'EXAT', randomTtl(r, 's', true)];
      if (opt === 4) return ['GETEX', k(r), 'PXAT', randomTtl(r, 'ms', true)];
      if (opt === 5) return ['GETEX', k(r), 'PERSIST'];
      return ['GETEX', k(r), r.pick(['EX', 'PERSIST', 'KEEPTTL', 'FOO']), r.pick(['10', 'EX', 'PERSIST'])];
    },
  ],
  [2, (r) => ['GETDEL', k(r)]],
  [2, (r) => ['GETSET', k(r), v(r)]],
  [3, (r) => ['MGET', ...keys(r, 1, 5)]],
  [3, (r) => ['MSET', ...pairs(r, 1, 4)]],
  [2, (r) => ['MSETNX', ...pairs(r, 1, 3)]],
  [4, (r) => ['APPEND', k(r), v(r)]],
  [3, (r) => ['STRLEN', k(r)]],
  [3, (r) => [r.pick(['GETRANGE', 'SUBSTR']), k(r), index(r), index(r)]],
  [
    3,
    (r) => {
      const off = r.chance(0.9) ? String(r.int(0, 80)) : r.pick(['-1', 'x', '536870912', '536870911']);
      // a huge offset only with a non-empty value: it must be refused, never allocated
      const val = off === '536870911' ? 'ab' : v(r);
      return ['SETRANGE', k(r), off, val];
    },
  ],
  [4, (r) => ['INCR', k(r)]],
  [3, (r) => ['DECR', k(r)]],
  [3, (r) => ['INCRBY', k(r), randomInteger(r)]],
  [3, (r) => ['DECRBY', k(r), randomInteger(r)]],
  [4, (r) => ['INCRBYFLOAT', k(r), r.chance(0.8) ? randomFloatString(r) : randomInteger(r)]],
  [
    2,
    (r) => {
      const args: Arg[] = ['LCS', k(r), k(r)];
      if (r.chance(0.3)) args.push('LEN');
      if (r.chance(0.4)) args.push('IDX');
      if (r.chance(0.3)) args.push('MINMATCHLEN', r.pick(['0', '1', '2', '3', '-1', 'x']));
      if (r.chance(0.3)) args.push('WITHMATCHLEN');
      return args;
    },
  ],
  [3, (r) => [r.pick(['DEL', 'UNLINK']), ...keys(r, 1, 3)]],
  [3, (r) => ['EXISTS', ...keys(r, 1, 4)]],
  [2, (r) => ['TYPE', k(r)]],
  [2, (r) => ['KEYS', r.pick(['*', 'k*', 'k[0-3]', 'k?', '*0*', 'k[^0]', 'nomatch', '\\*', '{*'])]],
  [2, (r) => [r.pick(['RENAME', 'RENAMENX']), k(r), k(r)]],
  [
    2,
    (r) => {
      const args: Arg[] = ['COPY', k(r), k(r)];
      if (r.chance(0.3)) args.push('DB', r.pick(['0', '1', '2', '16', '-1', 'x']));
      if (r.chance(0.4)) args.push('REPLACE');
      return args;
    },
  ],
  [1, (r) => ['MOVE', k(r), r.pick(['0', '1', '2', '16', '-1', 'x'])]],
  [1, (r) => ['SELECT', r.pick(['0', '0', '0', '1', '2', '16', '-1', 'x'])]],
  [2, (r) => ['TOUCH', ...keys(r, 1, 3)]],
  [2, (r) => ['OBJECT', 'ENCODING', k(r)]],
  [3, (r) => ['EXPIRE', k(r), randomTtl(r, 's'), ...expireFlags(r)]],
  [2, (r) => ['PEXPIRE', k(r), randomTtl(r, 'ms'), ...expireFlags(r)]],
  [2, (r) => ['EXPIREAT', k(r), randomTtl(r, 's', true), ...expireFlags(r)]],
  [2, (r) => ['PEXPIREAT', k(r), randomTtl(r, 'ms', true), ...expireFlags(r)]],
  [3, (r) => [r.pick(['TTL', 'PTTL', 'EXPIRETIME', 'PEXPIRETIME']), k(r)]],
  [2, (r) => ['PERSIST', k(r)]],
  [1, () => ['DBSIZE']],
  [0.3, (r) => ['FLUSHDB', ...(r.chance(0.3) ? [r.pick(['ASYNC', 'SYNC', 'FOO'])] : [])]],
  // wrong arity, unknown subcommands, case-insensitivity of names
  [
    2,
    (r) =>
      r.pick<Arg[]>([
        ['GET'],
        ['GET', 'k0', 'k1'],
        ['SET', 'k0'],
        ['SETNX', 'k0'],
        ['SETEX', 'k0', '10'],
        ['GETDEL'],
        ['MGET'],
        ['MSET', 'k0'],
        ['MSET', 'k0', 'v', 'k1'],
        ['MSETNX', 'k0', 'v', 'k1'],
        ['APPEND', 'k0'],
        ['STRLEN'],
        ['GETRANGE', 'k0', '0'],
        ['SETRANGE', 'k0', '0'],
        ['INCR'],
        ['INCRBY', 'k0'],
        ['DECRBY', 'k0', '1', '2'],
        ['INCRBYFLOAT', 'k0'],
        ['LCS', 'k0'],
        ['DEL'],
        ['EXISTS'],
        ['TYPE'],
        ['KEYS'],
        ['RENAME', 'k0'],
        ['COPY', 'k0'],
        ['MOVE', 'k0'],
        ['TOUCH'],
        ['OBJECT'],
        ['OBJECT', 'ENCODING'],
        ['OBJECT', 'NOSUCH', 'k0'],
        ['EXPIRE', 'k0'],
        ['TTL'],
        ['PERSIST'],
        ['DBSIZE', 'x'],
        ['SELECT'],
        ['set', 'k0', 'lower'],
        ['gEt', 'k0'],
        ['NOSUCHCOMMAND', 'a', 'b'],
      ]),
  ],
];

const WRONGTYPE_GENERATORS: (readonly [number, Gen])[] = [
  [2, (r) => ['LPUSH', k(r), v(r)]],
  [1, (r) => ['SADD', k(r), v(r)]],
  [1, (r) => ['HSET', k(r), 'f', v(r)]],
];

function stream(seed: number, n: number): Arg[][] {
  const rng = new Rng(seed);
  const gens = WRONGTYPE ? [...GENERATORS, ...WRONGTYPE_GENERATORS] : GENERATORS;
  const out: Arg[][] = [];
  for (let i = 0; i < n; i++) out.push(rng.weighted(gens)(rng));
  return out;
}

async function flushAll(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    expect((await c.command('FLUSHALL')).toString()).toBe('+OK\r\n');
  } finally {
    c.close();
  }
}

describe(`differential: strings, keys, expiry (${TARGET} vs redis-server)`, () => {
  let sabre: ServerHandle | undefined;
  let redis: ServerHandle | undefined;

  beforeAll(async () => {
    [sabre, redis] = await Promise.all([TARGET === 'redis' ? startRedis() : startSabre(), startRedis()]);
  });

  afterAll(async () => {
    await Promise.all([sabre?.stop(), redis?.stop()]);
  });

  it('the harness sees a difference when there is one', async () => {
    await Promise.all([flushAll(sabre!.port), flushAll(redis!.port)]);
    const c = await RawClient.connect(redis!.port);
    await c.command('SET', 'k1', 'only-on-redis');
    c.close();
    const mismatches = await runDifferential({
      sabre: sabre!.port,
      redis: redis!.port,
      commands: [['GET', 'k0'], ['GET', 'k1'], ['EXISTS', 'k1'], ['DEL', 'k1']],
    });
    expect(mismatches.map((m) => m.index)).toEqual([1, 2, 3]);
    expect(mismatches[0].redis).toBe('$13\\r\\nonly-on-redis\\r\\n');
    expect(mismatches[0].sabre).toBe('$-1\\r\\n');
  });

  it('absolute expiry times are compared exactly', async () => {
    await Promise.all([flushAll(sabre!.port), flushAll(redis!.port)]);
    const at = String(FAR_FUTURE_UNIX + 5);
    const mismatches = await runDifferential({
      sabre: sabre!.port,
      redis: redis!.port,
      commands: [
        ['SET', 'k0', 'v', 'EXAT', at],
        ['EXPIRETIME', 'k0'],
        ['PEXPIRETIME', 'k0'],
        ['TTL', 'k0'],
      ],
    });
    expect(mismatches.map(formatMismatch)).toEqual([]);
  });

  const seeds = ONLY_SEED !== null ? [ONLY_SEED] : Array.from({ length: SEEDS }, (_, i) => i + 1);
  for (const seed of seeds) {
    it(`seed ${seed}: ${COMMANDS} random commands`, async () => {
      await Promise.all([flushAll(sabre!.port), flushAll(redis!.port)]);
      const lines: string[] = [];
      const mismatches = await runDifferential({
        sabre: sabre!.port,
        redis: redis!.port,
        commands: stream(seed, COMMANDS),
        onReply: DUMP
          ? (i, cmd, s, r) => {
              const same = s.equals(r);
              lines.push(`seed ${seed} #${i} ${formatCommand(cmd)}\n  ${same ? '==' : 'sabre:'} ${escapeBytes(s)}${same ? '' : `\n  redis: ${escapeBytes(r)}`}`);
            }
          : undefined,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\n--- last server output (${TARGET}) ---\n${sabre!.logs().slice(-3000)}`);
      });
      if (DUMP) fs.appendFileSync(DUMP, lines.join('\n') + '\n');
      // The first mismatch is the one that matters; later ones usually follow from it.
      expect(mismatches.slice(0, 3).map(formatMismatch).join('\n')).toBe('');
    });
  }
});

// The command table (src/commands/table.ts) and COMMAND
// (src/commands/command-command.ts), checked offline and against the
// reference redis-server 7.0.15: same requests, same reply bytes.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplyWriter } from '../src/protocol/resp-writer';
import { commandCommand } from '../src/commands/command-command';
import { REDIS_COMMANDS, REDIS_VERSION } from '../src/commands/redis-commands';
import {
  ACL_CATEGORY_NAMES, CMD_FLAG_NAMES, KEY_FLAG_NAMES, parseAclCategories, parseCommandFlags,
  parseKeySpecFlags,
} from '../src/commands/command-docs';
import {
  CMD_FAST, CMD_KEY_ACCESS, CMD_KEY_OW, CMD_KEY_RW, CMD_KEY_UPDATE, CMD_READONLY, CMD_WRITE,
  type CommandSpec, ENABLED_COMMANDS, LATER_REDIS_COMMANDS, allCommands, commandById, compileCommand, getKeyPositions,
  getKeyPositionsWithFlags, lookupCommand, lookupCommandByFullName, lookupSubcommand,
} from '../src/commands/table';
// @ts-ignore: plain ES module shared with the generator, no type declarations
import { RawClient, parseResp, startRedis } from './tools/gen-command-table.mjs';

type Node = { t: string; v?: any };

const enc = new TextEncoder();

/** argv strings → one byte buffer plus offset tables, as the RESP parser hands them over. */
function argv(args: string[]): { buf: Uint8Array; start: Int32Array; end: Int32Array } {
  const parts = args.map((a) => enc.encode(a));
  const buf = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  const start = new Int32Array(args.length);
  const end = new Int32Array(args.length);
  let o = 0;
  parts.forEach((p, i) => {
    buf[o++] = 0x20; // a separator byte, so ranges never touch
    start[i] = o;
    buf.set(p, o);
    o += p.length;
    end[i] = o;
  });
  return { buf, start, end };
}

function name(s: string): [Uint8Array, number, number] {
  const b = enc.encode(`xx${s}yy`);
  return [b, 2, 2 + s.length];
}

/** Sabre's reply bytes for COMMAND <args...>. */
function sabre(resp: 2 | 3, ...args: string[]): Buffer {
  const w = new ReplyWriter(256);
  w.resp = resp;
  const a = argv(['COMMAND', ...args]);
  commandCommand(args.length + 1, a.buf, a.start, a.end, w);
  return Buffer.from(w.buf.subarray(0, w.len));
}

function parseAll(b: Buffer): Node {
  const r = parseResp(b, 0);
  expect(r, 'complete reply').not.toBeNull();
  expect(r[1], 'no trailing bytes').toBe(b.length);
  return r[0];
}

const enabledNames = new Set<string>();
for (const c of allCommands()) {
  enabledNames.add(c.name);
  if (c.subcommands) for (const s of c.subcommands.values()) enabledNames.add(s.name);
}

/** Enabled names Redis 7.0.15 also has: what the reference comparisons cover (not CLIENT SETINFO, 7.2). */
const comparable = new Set([...enabledNames].filter((n) => !LATER_REDIS_COMMANDS.has(n)));

const bulkText = (n: Node): string => n.v as string;

/** Canonical form of a COMMAND INFO entry: subcommands filtered to Sabre's and sorted. */
function normInfo(n: Node): unknown {
  if (n.t === 'null') return null;
  const v = n.v as Node[];
  const subs = (v[9].v as Node[])
    .filter((s) => comparable.has(bulkText(s.v[0])))
    .map(normInfo)
    .sort((a: any, b: any) => (a.name < b.name ? -1 : 1));
  return { name: bulkText(v[0]), rest: v.slice(1, 9), subsType: subs.length ? 'arr' : v[9].t, subs };
}

/** Key/value pairs of a map reply (RESP3 %, or RESP2's flat array). */
function pairs(n: Node): [Node, Node][] {
  if (n.t === 'map') return n.v;
  const out: [Node, Node][] = [];
  for (let i = 0; i < n.v.length; i += 2) out.push([n.v[i], n.v[i + 1]]);
  return out;
}

/** Canonical form of a COMMAND DOCS map: entries sorted by name, nested subcommands filtered. */
function normDocs(n: Node): unknown {
  return pairs(n).filter(([k]) => comparable.has(bulkText(k)))
    .map(([k, d]) => ({
      name: bulkText(k),
      docs: pairs(d).map(([dk, dv]) =>
        bulkText(dk) === 'subcommands' ? { subcommands: normDocs(dv) } : [dk, dv]),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

describe('command table', () => {
  it('enables exactly the listed commands, with dense ids', () => {
    const tops = new Set(ENABLED_COMMANDS.map((n) => n.split('|')[0]));
    expect(allCommands().map((c) => c.name).sort()).toEqual([...tops].sort());
    expect(enabledNames.size).toBe(new Set([...tops, ...ENABLED_COMMANDS]).size);
    const all = commandById();
    expect(all.length).toBe(enabledNames.size);
    all.forEach((c, i) => expect(c.id).toBe(i));
    expect(REDIS_VERSION).toBe('7.0.15');
    expect(REDIS_COMMANDS.length).toBe(240); // all of Redis 7.0, enabled or not
  });

  it('looks names up case-insensitively and only for enabled commands', () => {
    const get = lookupCommand(...name('GeT'))!;
    expect(get.name).toBe('get');
    expect(get.arity).toBe(2);
    expect(get.flags).toBe(CMD_READONLY | CMD_FAST);
    expect([get.firstKey, get.lastKey, get.keyStep]).toEqual([1, 1, 1]);
    expect(lookupCommand(...name('get'))).toBe(get);
    expect(lookupCommand(...name('INCRBYFLOAT'))!.name).toBe('incrbyfloat');
    expect(lookupCommand(...name('set'))!.flags & CMD_WRITE).toBe(CMD_WRITE);
    expect(lookupCommand(...name('xadd'))).toBeUndefined(); // in Redis, not enabled yet
    expect(lookupCommand(...name('ge'))).toBeUndefined();
    expect(lookupCommand(...name('gett'))).toBeUndefined();
    expect(lookupCommand(...name(''))).toBeUndefined();
    expect(lookupCommand(...name('client|list'))).toBeUndefined();

    const client = lookupCommand(...name('CLIENT'))!;
    expect(client.subcommands!.size).toBe(17); // all 16 of Redis 7.0, plus SETINFO from 7.2
    const list = lookupSubcommand(client, ...name('List'))!;
    expect(list.name).toBe('client|list');
    expect(list.parent).toBe(client);
    expect(lookupSubcommand(client, ...name('trackin'))).toBeUndefined();
    expect(lookupSubcommand(get, ...name('list'))).toBeUndefined();
    expect(lookupCommandByFullName(...name('CLIENT|LIST'))).toBe(list);
    expect(lookupCommandByFullName(...name('client'))).toBe(client);
    expect(lookupCommandByFullName(...name('client|'))).toBeUndefined();
    expect(lookupCommandByFullName(...name('client|list|x'))).toBeUndefined();
    expect(lookupCommandByFullName(...name('get|x'))).toBeUndefined();
  });

  it('prints flags, categories and key flags in Redis order for all 240 commands', () => {
    const namesOf = (mask: number, names: readonly string[]) => names.filter((_, i) => mask & (1 << i));
    const check = (c: (typeof REDIS_COMMANDS)[number]) => {
      expect(namesOf(parseCommandFlags(c.flags, c.hiddenFlags), CMD_FLAG_NAMES)).toEqual(c.flags);
      expect(namesOf(parseAclCategories(c.aclCategories), ACL_CATEGORY_NAMES).map((n) => '@' + n)).toEqual(c.aclCategories);
      for (const ks of c.keySpecs) expect(namesOf(parseKeySpecFlags(ks.flags), KEY_FLAG_NAMES)).toEqual(ks.flags);
      c.subcommands?.forEach(check);
    };
    REDIS_COMMANDS.forEach(check);
  });

  it('finds key positions from key specs and getkeys procs', () => {
    const keys = (args: string[], withFlags = false) => {
      const top = lookupCommand(...name(args[0]))!;
      const cmd: CommandSpec = top.subcommands ? lookupSubcommand(top, ...name(args[1]))! : top;
      const a = argv(args);
      const out = new Int32Array(args.length);
      const flags = new Int32Array(args.length);
      const n = withFlags
        ? getKeyPositionsWithFlags(cmd, args.length, a.buf, a.start, a.end, out, flags)
        : getKeyPositions(cmd, args.length, a.buf, a.start, a.end, out);
      return withFlags ? [n, [...out.subarray(0, Math.max(n, 0))], [...flags.subarray(0, Math.max(n, 0))]] : [n, [...out.subarray(0, Math.max(n, 0))]];
    };
    expect(keys(['get', 'k'])).toEqual([1, [1]]);
    expect(keys(['mset', 'a', '1', 'b', '2'])).toEqual([2, [1, 3]]);
    expect(keys(['mget', 'a', 'b', 'c'])).toEqual([3, [1, 2, 3]]);
    expect(keys(['del', 'a', 'b'])).toEqual([2, [1, 2]]);
    expect(keys(['copy', 'a', 'b', 'DB', '1'])).toEqual([2, [1, 2]]);
    expect(keys(['lcs', 'a', 'b', 'LEN'])).toEqual([2, [1, 2]]);
    expect(keys(['object', 'encoding', 'k'])).toEqual([1, [2]]);
    expect(keys(['ping'])).toEqual([-1, []]);
    expect(keys(['set', 'k', 'v', 'EX', '10'], true)).toEqual([1, [1], [CMD_KEY_OW | CMD_KEY_UPDATE]]);
    expect(keys(['set', 'k', 'v', 'gEt'], true)).toEqual([1, [1], [CMD_KEY_RW | CMD_KEY_ACCESS | CMD_KEY_UPDATE]]);
  });

  it('looks up without allocating per call', () => {
    const [b, s, e] = name('incrbyfloat');
    for (let i = 0; i < 1000; i++) lookupCommand(b, s, e);
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let found = 0;
    for (let i = 0; i < 200000; i++) if (lookupCommand(b, s, e)) found++;
    const grown = process.memoryUsage().heapUsed - before;
    expect(found).toBe(200000);
    expect(grown).toBeLessThan(2_000_000); // 200k allocating lookups would be ~10+ MB
  });
});

describe.skipIf(!existsSync('/usr/bin/redis-server'))('COMMAND against redis-server 7.0.15', () => {
  let srv: { port: number; stop(): Promise<void> };
  const clients: Record<2 | 3, any> = {} as any;

  beforeAll(async () => {
    srv = await startRedis('/usr/bin/redis-server');
    clients[2] = await RawClient.connect(srv.port);
    clients[3] = await RawClient.connect(srv.port);
    await clients[3].call('HELLO', '3');
  }, 20000);

  afterAll(async () => {
    clients[2]?.close();
    clients[3]?.close();
    await srv?.stop();
  });

  const redis = async (resp: 2 | 3, ...args: string[]): Promise<Buffer> =>
    (await clients[resp].call('COMMAND', ...args)).raw;

  const simpleNames = () => [...comparable].filter((n) => !lookupCommandByFullName(...name(n))!.subcommands);
  const containers = () => allCommands().filter((c) => c.subcommands).map((c) => c.name);

  for (const resp of [2, 3] as const) {
    describe(`RESP${resp}`, () => {
      it('COMMAND INFO <name>: identical bytes for every command without subcommands', async () => {
        for (const n of simpleNames()) {
          expect((await redis(resp, 'INFO', n)).toString(), n).toBe(sabre(resp, 'INFO', n).toString());
          expect((await redis(resp, 'INFO', n.toUpperCase())).toString()).toBe(sabre(resp, 'INFO', n.toUpperCase()).toString());
        }
        // xadd exists in Redis but not (yet) in Sabre: left out of the byte comparison.
        const multi = ['get', 'nosuch', 'object|freq', 'get|x', '', 'TTL', 'client|', 'x|y|z'];
        expect((await redis(resp, 'INFO', ...multi)).toString()).toBe(sabre(resp, 'INFO', ...multi).toString());
        expect(sabre(resp, 'INFO', 'xadd').toString()).toBe(resp === 3 ? '*1\r\n_\r\n' : '*1\r\n$-1\r\n');
      });

      it('COMMAND DOCS <name>: identical bytes for every command without subcommands', async () => {
        for (const n of simpleNames()) {
          expect((await redis(resp, 'DOCS', n)).toString(), n).toBe(sabre(resp, 'DOCS', n).toString());
        }
        const multi = ['set', 'nosuch', 'client|kill', 'Expire', 'get'];
        expect((await redis(resp, 'DOCS', ...multi)).toString()).toBe(sabre(resp, 'DOCS', ...multi).toString());
        expect((await redis(resp, 'DOCS', 'nosuch')).toString()).toBe(sabre(resp, 'DOCS', 'nosuch').toString());
      });

      it('COMMAND INFO / DOCS of containers: same content, enabled subcommands only', async () => {
        for (const c of containers()) {
          const theirs = parseAll(await redis(resp, 'INFO', c));
          const ours = parseAll(sabre(resp, 'INFO', c));
          expect(normInfo(ours.v[0])).toEqual(normInfo(theirs.v[0]));
          const ourDocs = parseAll(sabre(resp, 'DOCS', c));
          expect(normDocs(ourDocs)).toEqual(normDocs(parseAll(await redis(resp, 'DOCS', c))));
          // Sabre's reply lists exactly its enabled subcommands.
          const subs = (ours.v[0].v[9].v as Node[]).map((s) => bulkText(s.v[0])).sort();
          expect(subs).toEqual([...lookupCommandByFullName(...name(c))!.subcommands!.values()].map((s) => s.name).sort());
        }
      });

      it('COMMAND, COMMAND INFO and COMMAND DOCS without names: every enabled command, as Redis describes it', async () => {
        const byName = (arr: Node) => new Map((arr.v as Node[]).map((e) => [bulkText(e.v[0]), normInfo(e)]));
        const theirs = byName(parseAll(await redis(resp)));
        for (const args of [[], ['INFO']]) {
          const ours = byName(parseAll(sabre(resp, ...args)));
          expect([...ours.keys()].sort()).toEqual(allCommands().map((c) => c.name).sort());
          for (const [n, entry] of ours) expect(entry, n).toEqual(theirs.get(n));
        }
        const ourDocs = parseAll(sabre(resp, 'DOCS'));
        expect(ourDocs.t).toBe(resp === 3 ? 'map' : 'arr');
        expect(normDocs(ourDocs)).toEqual(normDocs(parseAll(await redis(resp, 'DOCS'))));
      });

      it('COMMAND COUNT, HELP and errors', async () => {
        expect(sabre(resp, 'COUNT').toString()).toBe(`:${allCommands().length}\r\n`);
        for (const args of [
          ['HELP'], ['help'], ['foo'], ['COUNT', 'x'], ['HELP', 'x'], ['GETKEYS'], ['GETKEYS', 'get'],
          ['GETKEYSANDFLAGS', 'get'], ['LIST', 'FOO'], ['LIST', 'FILTERBY', 'bad', 'x'],
          ['LIST', 'FILTERBY', 'PATTERN', 'x', 'y'], ['LIST', 'FILTERBY', 'PATTERN'],
          ['x'.repeat(200)], ['bad\r\nname'], ['LIST', 'FILTERBY', 'PATTERN', 'a', 'FILTERBY', 'ACLCAT', 'string'],
        ]) {
          expect(sabre(resp, ...args).toString(), args.join(' ')).toBe((await redis(resp, ...args)).toString());
        }
      });

      it('COMMAND GETKEYS / GETKEYSANDFLAGS: identical bytes', async () => {
        const cases = [
          ['get', 'k'], ['get', 'a', 'b'], ['nosuch', 'a'], ['ping', 'x'], ['client', 'list'], ['client', 'kill', 'x'], ['client'], ['CLIENT', 'nosuch'], ['command'],
          ['object', 'encoding', 'k'], ['object', 'nosuch', 'k'], ['OBJECT', 'FREQ', 'k'], ['object', 'help'],
          ['set', 'k', 'v'], ['set', 'k', 'v', 'GET'], ['set', 'k', 'v', 'EX', '1', 'get'], ['set', 'k', 'v', 'getx'],
          ['mset', 'a', '1', 'b', '2'], ['mset', 'a', '1', 'b'], ['msetnx', 'a', '1'], ['mget', 'a', 'b', 'c'],
          ['del', 'a', 'b'], ['unlink', 'x'], ['exists', 'a', 'a'], ['touch', 'q'], ['rename', 'a', 'b'],
          ['renamenx', 'a', 'b'], ['copy', 'a', 'b', 'REPLACE'], ['move', 'a', '1'], ['lcs', 'a', 'b', 'IDX'],
          ['getex', 'k', 'PERSIST'], ['getdel', 'k'], ['incrbyfloat', 'k', '1.5'], ['setrange', 'k', '0', 'x'],
          ['expire', 'k', '10', 'NX'], ['pexpireat', 'k', '1'], ['ttl', 'k'], ['persist', 'k'],
          ['keys', '*'], ['scan', '0'], ['randomkey'], ['dbsize'], ['flushall'], ['swapdb', '0', '1'],
          ['command', 'info'], ['config', 'get', 'x'], ['slowlog', 'get'], ['type', 'k'],
        ];
        for (const c of cases) {
          for (const sub of ['GETKEYS', 'GETKEYSANDFLAGS']) {
            expect(sabre(resp, sub, ...c).toString(), `${sub} ${c.join(' ')}`)
              .toBe((await redis(resp, sub, ...c)).toString());
          }
        }
      });

      it('key specs of not-yet-enabled commands (keyword, keynum, limit) resolve as in Redis', async () => {
        // These commands' key specs succeed for valid arguments, so Redis answers from
        // them and not from its getkeys procs: the spec engine alone must agree.
        const cases = [
          ['eval', 's', '2', 'a', 'b', 'x'], ['fcall', 'f', '1', 'a', 'x'],
          ['zunionstore', 'd', '2', 'a', 'b', 'WEIGHTS', '1', '2'], ['zunion', '2', 'a', 'b'],
          ['zinter', '1', 'a', 'WITHSCORES'], ['sintercard', '2', 'a', 'b', 'LIMIT', '1'],
          ['xread', 'COUNT', '1', 'STREAMS', 'a', 'b', '0', '0'], ['xreadgroup', 'GROUP', 'g', 'c', 'STREAMS', 'a', '0'],
          ['georadius', 'k', '0', '0', '1', 'km', 'STORE', 'd'], ['georadius', 'k', '0', '0', '1', 'km', 'STOREDIST', 'd'],
          ['georadius', 'k', '0', '0', '1', 'km'],
          ['lmpop', '2', 'a', 'b', 'LEFT'], ['blmpop', '0', '2', 'a', 'b', 'LEFT'], ['zmpop', '1', 'a', 'MIN'],
          ['lmove', 'a', 'b', 'LEFT', 'RIGHT'], ['bitop', 'AND', 'd', 'a', 'b'], ['smove', 'a', 'b', 'm'],
          ['rpoplpush', 'a', 'b'], ['zrangestore', 'd', 's', '0', '1'], ['pfcount', 'a', 'b'],
          ['hset', 'h', 'f', 'v'], ['xadd', 's', '*', 'f', 'v'], ['blpop', 'a', 'b', '0'], ['sunionstore', 'd', 'a', 'b'],
        ];
        for (const c of cases) {
          const raw = REDIS_COMMANDS.find((r) => r.name === c[0])!;
          const cmd = compileCommand({ ...raw, getkeys: undefined });
          const a = argv(c);
          const out = new Int32Array(c.length);
          const fl = new Int32Array(c.length);
          const n = getKeyPositionsWithFlags(cmd, c.length, a.buf, a.start, a.end, out, fl);
          const ours = [...out.subarray(0, n)].map((pos, j) =>
            [c[pos], KEY_FLAG_NAMES.filter((_, b) => fl[j] & (1 << b))]);
          const theirs = (parseAll(await redis(resp, 'GETKEYSANDFLAGS', ...c)).v as Node[])
            .map((e) => [e.v[0].v, (e.v[1].v as Node[]).map((f) => f.v)]);
          expect(ours, c.join(' ')).toEqual(theirs);
        }
        // Unparsable, out-of-range or zero numkeys: the specs give up (-1), as
        // getKeysUsingKeySpecs does (Redis then asks evalGetKeys & co).
        for (const c of [['evalsha', 's', '0'], ['eval', 's', 'x'], ['eval', 's', '3', 'a'], ['zunion', '-1', 'a'], ['eval', 's', '01', 'a']]) {
          const cmd = compileCommand({ ...REDIS_COMMANDS.find((r) => r.name === c[0])!, getkeys: undefined });
          const a = argv(c);
          expect(getKeyPositions(cmd, c.length, a.buf, a.start, a.end, new Int32Array(c.length)), c.join(' ')).toBe(-1);
        }
      });

      it('COMMAND LIST [FILTERBY ...]: the same names (Redis order is random)', async () => {
        const names = (b: Buffer) => (parseAll(b).v as Node[]).map(bulkText).sort();
        for (const args of [
          ['LIST'], ['LIST', 'FILTERBY', 'ACLCAT', 'keyspace'], ['LIST', 'FILTERBY', 'aclcat', 'FAST'],
          ['LIST', 'FILTERBY', 'ACLCAT', 'nosuch'], ['LIST', 'FILTERBY', 'ACLCAT', '@read'],
          ['LIST', 'FILTERBY', 'PATTERN', 'client*'], ['LIST', 'FILTERBY', 'PATTERN', '*|HELP'],
          ['LIST', 'FILTERBY', 'pattern', '?et*'], ['LIST', 'FILTERBY', 'MODULE', 'x'],
        ]) {
          const theirs = names(await redis(resp, ...args)).filter((n) => enabledNames.has(n));
          const ours = names(sabre(resp, ...args)).filter((n) => comparable.has(n));
          expect(ours, args.join(' ')).toEqual(theirs);
        }
        expect(names(sabre(resp, 'LIST'))).toEqual([...enabledNames].sort());
      });
    });
  }
});

#!/usr/bin/env node
// Generates src/commands/redis-commands.ts: the metadata of every Redis 7.0
// command (COMMAND INFO + COMMAND DOCS), dumped from the reference redis-server.
//
//   node test/tools/gen-command-table.mjs [path/to/redis-server]
//
// The output is sorted by name (Redis's own ordering is its dict's, which is
// random per process) and is committed; Sabre never needs Redis at runtime.
// The module also exports the RESP3 client/parser the tests reuse.
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------- RESP parsing

/** Parses one RESP2/RESP3 value from buf at pos. Returns [value, nextPos] or null if incomplete.
 *  Values: {t:'simple'|'err'|'bulk'|'verbatim'|'int'|'double'|'bool'|'null'|'arr'|'set'|'map'|'push', v} */
export function parseResp(buf, pos = 0) {
  if (pos >= buf.length) return null;
  const eol = buf.indexOf('\r\n', pos, 'latin1');
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('latin1', pos + 1, eol);
  let next = eol + 2;
  switch (type) {
    case '+': return [{ t: 'simple', v: buf.toString('utf8', pos + 1, eol) }, next];
    case '-': return [{ t: 'err', v: buf.toString('utf8', pos + 1, eol) }, next];
    case ':': return [{ t: 'int', v: Number(line) }, next];
    case ',': return [{ t: 'double', v: line }, next];
    case '#': return [{ t: 'bool', v: line === 't' }, next];
    case '_': return [{ t: 'null' }, next];
    case '$': case '=': {
      const n = Number(line);
      if (n < 0) return [{ t: 'null', resp2: '$' }, next];
      if (next + n + 2 > buf.length) return null;
      const v = buf.toString('utf8', next, next + n);
      return [{ t: type === '$' ? 'bulk' : 'verbatim', v }, next + n + 2];
    }
    case '*': case '~': case '%': case '>': {
      let n = Number(line);
      if (n < 0) return [{ t: 'null', resp2: '*' }, next];
      if (type === '%') n *= 2;
      const items = [];
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, next);
        if (!r) return null;
        items.push(r[0]);
        next = r[1];
      }
      const t = type === '*' ? 'arr' : type === '~' ? 'set' : type === '>' ? 'push' : 'map';
      if (t === 'map') {
        const pairs = [];
        for (let i = 0; i < items.length; i += 2) pairs.push([items[i], items[i + 1]]);
        return [{ t, v: pairs }, next];
      }
      return [{ t, v: items }, next];
    }
    default:
      throw new Error(`bad RESP type byte ${JSON.stringify(type)} at ${pos}`);
  }
}

/** Encodes argv as a RESP array of bulk strings. */
export function encodeCommand(args) {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

/** A minimal request/response client that returns raw reply bytes. */
export class RawClient {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.waiters = [];
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.drain(); });
  }
  static connect(port) {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }
  drain() {
    while (this.waiters.length) {
      const r = parseResp(this.buf, 0);
      if (!r) return;
      const raw = this.buf.subarray(0, r[1]);
      this.buf = this.buf.subarray(r[1]);
      this.waiters.shift()({ raw: Buffer.from(raw), value: r[0] });
    }
  }
  /** Sends one command; resolves {raw, value}. */
  call(...args) {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.sock.write(encodeCommand(args));
    });
  }
  close() { this.sock.destroy(); }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.once('error', reject);
  });
}

/** Starts a throwaway reference redis-server; resolves {port, stop()}. */
export async function startRedis(bin = 'redis-server') {
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      const c = await RawClient.connect(port);
      c.close();
      break;
    } catch (e) {
      if (Date.now() > deadline) { child.kill('SIGKILL'); throw e; }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

// ------------------------------------------------------------ tree conversion

const str = (n) => {
  if (n.t !== 'bulk' && n.t !== 'simple') throw new Error(`expected string, got ${n.t}`);
  return n.v;
};
const int = (n) => {
  if (n.t !== 'int') throw new Error(`expected int, got ${n.t}`);
  return n.v;
};
/** A set/array of simple strings (flag lists). */
const flagList = (n) => n.v.map((x) => {
  if (x.t !== 'simple') throw new Error(`expected status flag, got ${x.t}`);
  return x.v;
});
const mapObj = (n) => {
  if (n.t !== 'map') throw new Error(`expected map, got ${n.t}`);
  const o = {};
  for (const [k, v] of n.v) o[str(k)] = v;
  return o;
};

function convertKeySpec(n) {
  const m = mapObj(n);
  const spec = {};
  if (m.notes) spec.notes = str(m.notes);
  spec.flags = flagList(m.flags);
  const bs = mapObj(m.begin_search);
  const bsSpec = mapObj(bs.spec);
  switch (str(bs.type)) {
    case 'index': spec.bs = { type: 'index', index: int(bsSpec.index) }; break;
    case 'keyword': spec.bs = { type: 'keyword', keyword: str(bsSpec.keyword), startfrom: int(bsSpec.startfrom) }; break;
    case 'unknown': spec.bs = { type: 'unknown' }; break;
    default: throw new Error(`begin_search ${str(bs.type)}`);
  }
  const fk = mapObj(m.find_keys);
  const fkSpec = mapObj(fk.spec);
  switch (str(fk.type)) {
    case 'range': spec.fk = { type: 'range', lastkey: int(fkSpec.lastkey), keystep: int(fkSpec.keystep), limit: int(fkSpec.limit) }; break;
    case 'keynum': spec.fk = { type: 'keynum', keynumidx: int(fkSpec.keynumidx), firstkey: int(fkSpec.firstkey), keystep: int(fkSpec.keystep) }; break;
    case 'unknown': spec.fk = { type: 'unknown' }; break;
    default: throw new Error(`find_keys ${str(fk.type)}`);
  }
  return spec;
}

const ARG_KEYS = ['name', 'type', 'key_spec_index', 'token', 'summary', 'since', 'deprecated_since', 'flags', 'arguments'];

function convertArg(n) {
  const m = mapObj(n);
  for (const k of Object.keys(m)) if (!ARG_KEYS.includes(k)) throw new Error(`unknown arg field ${k}`);
  const a = { name: str(m.name), type: str(m.type) };
  if (m.key_spec_index) a.key_spec_index = int(m.key_spec_index);
  if (m.token) a.token = str(m.token);
  if (m.summary) a.summary = str(m.summary);
  if (m.since) a.since = str(m.since);
  if (m.deprecated_since) a.deprecated_since = str(m.deprecated_since);
  if (m.flags) a.flags = flagList(m.flags);
  if (m.arguments) a.arguments = m.arguments.v.map(convertArg);
  return a;
}

const DOC_KEYS = ['summary', 'since', 'group', 'complexity', 'module', 'doc_flags', 'deprecated_since',
  'replaced_by', 'history', 'arguments', 'subcommands'];

function convertDocs(n) {
  const m = mapObj(n);
  for (const k of Object.keys(m)) if (!DOC_KEYS.includes(k)) throw new Error(`unknown doc field ${k}`);
  const d = {};
  if (m.summary) d.summary = str(m.summary);
  if (m.since) d.since = str(m.since);
  d.group = str(m.group);
  if (m.complexity) d.complexity = str(m.complexity);
  if (m.doc_flags) d.doc_flags = flagList(m.doc_flags);
  if (m.deprecated_since) d.deprecated_since = str(m.deprecated_since);
  if (m.replaced_by) d.replaced_by = str(m.replaced_by);
  if (m.history) d.history = m.history.v.map((h) => [str(h.v[0]), str(h.v[1])]);
  if (m.arguments) d.arguments = m.arguments.v.map(convertArg);
  const subs = {};
  if (m.subcommands) for (const [k, v] of m.subcommands.v) subs[str(k)] = convertDocs(v);
  return { docs: d, subDocs: subs, hasSubcommands: !!m.subcommands };
}

function convertInfo(n, docsByName) {
  const v = n.v;
  if (n.t !== 'arr' || v.length !== 10) throw new Error('COMMAND INFO entry is not a 10-array');
  const name = str(v[0]);
  const entry = {
    name,
    arity: int(v[1]),
    flags: flagList(v[2]),
    firstKey: int(v[3]),
    lastKey: int(v[4]),
    keyStep: int(v[5]),
    aclCategories: flagList(v[6]),
    tips: v[7].v.map(str),
    keySpecs: v[8].v.map(convertKeySpec),
  };
  const d = docsByName.get(name);
  if (!d) throw new Error(`no docs for ${name}`);
  entry.docs = d.docs;
  if (d.hasSubcommands) {
    const subDocs = new Map(Object.entries(d.subDocs).map(([k, x]) => [k, x]));
    const subs = v[9].v.map((s) => convertInfo(s, subDocs));
    subs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    entry.subcommands = subs;
  } else if (v[9].v.length) {
    throw new Error(`${name}: subcommands in INFO but not in DOCS`);
  }
  return entry;
}

// Commands whose Redis 7.0 implementation has a getkeys_proc (src/commands/*.json
// "get_keys_function" on the 7.0 branch). Not visible through COMMAND, so listed here.
export const GETKEYS_PROCS = {
  'set': 'setGetKeys',
  'bitfield': 'bitfieldGetKeys',
  'bitfield_ro': 'bitfieldGetKeys',
  'eval': 'evalGetKeys',
  'eval_ro': 'evalGetKeys',
  'evalsha': 'evalGetKeys',
  'evalsha_ro': 'evalGetKeys',
  'fcall': 'functionGetKeys',
  'fcall_ro': 'functionGetKeys',
  'sort': 'sortGetKeys',
  'sort_ro': 'sortROGetKeys',
  'migrate': 'migrateGetKeys',
  'georadius': 'georadiusGetKeys',
  'georadiusbymember': 'georadiusGetKeys',
  'xread': 'xreadGetKeys',
  'xreadgroup': 'xreadGetKeys',
  'zunionstore': 'zunionInterDiffStoreGetKeys',
  'zinterstore': 'zunionInterDiffStoreGetKeys',
  'zdiffstore': 'zunionInterDiffStoreGetKeys',
  'zunion': 'zunionInterDiffGetKeys',
  'zinter': 'zunionInterDiffGetKeys',
  'zdiff': 'zunionInterDiffGetKeys',
  'zintercard': 'zunionInterDiffGetKeys',
  'sintercard': 'sintercardGetKeys',
  'lmpop': 'lmpopGetKeys',
  'blmpop': 'blmpopGetKeys',
  'zmpop': 'zmpopGetKeys',
  'bzmpop': 'bzmpopGetKeys',
};

// Flags that COMMAND INFO hides on purpose (server.c addReplyFlagsForCommand),
// so they cannot be dumped: taken from the 7.0 branch's src/commands/*.json.
// Verify an entry against the source when enabling its command in Sabre.
export const HIDDEN_FLAGS = {
  'eval': ['may_replicate'],
  'evalsha': ['may_replicate'],
  'fcall': ['may_replicate'],
  'pfcount': ['may_replicate'],
  'publish': ['may_replicate'],
  'spublish': ['may_replicate'],
  'debug': ['protected'],
  'module': ['protected'],
};

export async function dumpCommandTable(port) {
  const c = await RawClient.connect(port);
  try {
    await c.call('HELLO', '3');
    const version = (await c.call('INFO', 'server')).value.v.match(/redis_version:(\S+)/)[1];
    const info = (await c.call('COMMAND')).value;
    const docs = (await c.call('COMMAND', 'DOCS')).value;
    const docsByName = new Map();
    for (const [k, v] of docs.v) docsByName.set(str(k), convertDocs(v));
    const commands = info.v.map((n) => convertInfo(n, docsByName));
    commands.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const cmd of commands) {
      if (GETKEYS_PROCS[cmd.name]) cmd.getkeys = GETKEYS_PROCS[cmd.name];
      if (HIDDEN_FLAGS[cmd.name]) cmd.hiddenFlags = HIDDEN_FLAGS[cmd.name];
    }
    return { redisVersion: version, commands };
  } finally {
    c.close();
  }
}

async function main() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const out = path.resolve(here, '../../src/commands/redis-commands.ts');
  const srv = await startRedis(process.argv[2] || 'redis-server');
  try {
    const table = await dumpCommandTable(srv.port);
    // One command per line keeps diffs readable and the file compact.
    const lines = table.commands.map((c) => '  ' + JSON.stringify(c));
    fs.writeFileSync(out, [
      '// Generated by test/tools/gen-command-table.mjs from the reference redis-server',
      `// ${table.redisVersion} (COMMAND + COMMAND DOCS). Do not edit by hand: rerun the generator.`,
      '// Holds every Redis command; src/commands/table.ts chooses which ones Sabre enables.',
      "import type { RawCommand } from './command-docs';",
      '',
      `export const REDIS_VERSION = ${JSON.stringify(table.redisVersion)};`,
      '',
      'export const REDIS_COMMANDS: readonly RawCommand[] = [',
      lines.join(',\n'),
      '];',
      '',
    ].join('\n'));
    console.log(`wrote ${table.commands.length} commands (redis ${table.redisVersion}) to ${out}`);
  } finally {
    await srv.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e) => { console.error(e); process.exit(1); });
}

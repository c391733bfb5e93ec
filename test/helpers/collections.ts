// Shared by the hash and set command tests: the in-process server they drive, the stream
// notation ('cmd a b' lines), reply comparison where order is the hash table's or random,
// and the differential runner against the reference redis-server.
import { RawClient, escapeBytes, replyElements } from './resp';
import { type Arg, InprocServer } from './inproc';

/** Sabre's command layer without the network. CONFIG SET of shard settings is applied directly. */
export class Inproc extends InprocServer {
  constructor(shards = 1) {
    super({ keyspaces: shards, configSet: true });
  }
}

function cmd(line: string): Arg[] {
  return (line.match(/'[^']*'|"[^"]*"|\S+/g) ?? []).map((a) => (a[0] === "'" || a[0] === '"' ? a.slice(1, -1) : a));
}
export const s = (...lines: string[]): Arg[][] => lines.map(cmd);

const ORDER_FREE = new Set(['smembers', 'sunion', 'sinter', 'sdiff', 'srandmember', 'spop', 'hkeys', 'hvals',
  'hgetall', 'hrandfield']);
const RANDOM = new Set(['srandmember', 'hrandfield']);
const PAIRS = new Set(['hgetall']);

function sortedElements(reply: Buffer, pairs: boolean): string[] | null {
  const r = replyElements(reply);
  if (r === null) return null;
  const els = r.elements.map((e) => e.toString('latin1'));
  if (!pairs) return els.sort();
  const out: string[] = [];
  for (let i = 0; i < els.length; i += 2) out.push(els[i] + els[i + 1]);
  return out.sort();
}

/** Random reply check: same header; every element belongs to the key; distinct when count >= 0. */
function randomReplyOk(sabre: Inproc, command: Arg[], ours: Buffer, theirs: Buffer): boolean {
  const name = String(command[0]).toLowerCase();
  const key = command[1];
  const member = (el: Buffer): boolean => {
    const t = el.toString('latin1');
    if (t[0] !== '$') return false;
    const v = el.subarray(t.indexOf('\r\n') + 2, el.length - 2);
    return sabre.run(name === 'srandmember' ? 'sismember' : 'hexists', key, v) === ':1\r\n';
  };
  if (ours[0] === 0x24) return theirs[0] === 0x24 && member(ours);
  const a = replyElements(ours), b = replyElements(theirs);
  if (a === null || b === null || !a.header.equals(b.header)) return false;
  const withvalues = command.length > 3;
  const resp3Pairs = withvalues && a.elements.length > 0 && a.elements[0][0] === 0x2a;
  const fields: Buffer[] = [];
  if (resp3Pairs) for (const p of a.elements) fields.push(replyElements(p)!.elements[0]);
  else for (let i = 0; i < a.elements.length; i += withvalues ? 2 : 1) fields.push(a.elements[i]);
  if (!fields.every(member)) return false;
  if (command.length >= 3 && !String(command[2]).startsWith('-')) {
    const uniq = new Set(fields.map((f) => f.toString('latin1')));
    if (uniq.size !== fields.length) return false;
  }
  return true;
}

function sameReply(sabre: Inproc, command: Arg[], ours: Buffer, theirs: Buffer): boolean {
  if (ours.equals(theirs)) return true;
  const name = String(command[0]).toLowerCase();
  if (name === 'sscan' || name === 'hscan') {
    // A whole hashtable in one call (cursor 0 on both): same elements, in table order.
    const a = replyElements(ours), b = replyElements(theirs);
    if (a === null || b === null || !a.elements[0].equals(b.elements[0]) || a.elements[0].toString() !== '$1\r\n0\r\n') {
      return false;
    }
    const x = sortedElements(a.elements[1], name === 'hscan'), y = sortedElements(b.elements[1], name === 'hscan');
    return JSON.stringify(x) === JSON.stringify(y);
  }
  if (!ORDER_FREE.has(name)) return false;
  const pairs = PAIRS.has(name) || (name === 'hrandfield' && command.length > 3 && ours.toString('latin1', 0, 1) === '*'
    && replyElements(ours)?.elements[0]?.[0] !== 0x2a);
  const x = sortedElements(ours, pairs), y = sortedElements(theirs, pairs);
  if (x !== null && y !== null && replyElements(ours)!.header.equals(replyElements(theirs)!.header)
    && JSON.stringify(x) === JSON.stringify(y)) return true;
  return RANDOM.has(name) && randomReplyOk(sabre, command, ours, theirs);
}

export async function differential(redis: RawClient, sabre: Inproc, streams: Arg[][][]): Promise<string[]> {
  const diffs: string[] = [];
  for (const stream of streams) {
    const all = [cmd('flushall'), ...DEFAULTS, ...stream];
    const theirs = await redis.pipeline(all);
    for (let i = 0; i < all.length; i++) {
      if (String(all[i][0]).toLowerCase() === 'hello') {
        sabre.w.resp = Number(all[i][1]) === 3 ? 3 : 2;
        continue;
      }
      const ours = sabre.runBytes(all[i]);
      if (!sameReply(sabre, all[i], ours, theirs[i])) {
        diffs.push(`${all[i].map((a) => escapeBytes(a)).join(' ')}\n  sabre: ${escapeBytes(ours)}\n  redis: ${escapeBytes(theirs[i])}`);
        if (diffs.length > 20) return diffs;
      }
    }
    sabre.w.resp = 2;
  }
  return diffs;
}

/** Deterministic PRNG (mulberry32) for generated streams. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULTS = s('config set set-max-intset-entries 512', 'config set hash-max-listpack-entries 512',
  'config set hash-max-listpack-value 64');

/**
 * Sorted set scaling: ZADD 1M members into one key, and at 1K, 100K and 1M members time
 * ZRANK, ZRANGE by rank (10 elements) and ZADD (new members) per command; they must grow
 * like log n. Then the memory of the 1M-member zset in Sabre (INFO memory arena_used_bytes
 * and used_memory deltas) against the reference redis-server's used_memory delta.
 * Prints a Markdown table.
 *
 *   npm run build && node dist/bench/zset-scaling.js [--shards 0] [--ops 20000]
 */
import { RawClient } from '../test/helpers/resp';
import { startRedis, startSabre, type ServerHandle } from '../test/helpers/servers';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const SIZES = [1_000, 100_000, 1_000_000];
const OPS = Number(arg('ops', '20000'));
const BATCH = 1000; // commands per pipelined write

async function infoField(cl: RawClient, field: string): Promise<number> {
  const t = (await cl.command('info', 'memory')).toString('latin1');
  const m = t.match(new RegExp(`\\r\\n${field}:(\\d+)`));
  return m ? Number(m[1]) : NaN;
}

/** Grow key 'z' to n members (member:i with score i), pipelined. */
async function fill(cl: RawClient, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 10_000) {
    const cmds: string[][] = [];
    for (let j = i; j < Math.min(to, i + 10_000); j += 500) {
      const c = ['zadd', 'z'];
      for (let k = j; k < Math.min(to, j + 500); k++) c.push(String(k), 'member:' + k);
      cmds.push(c);
    }
    await cl.pipeline(cmds);
  }
}

/** Microseconds per command for OPS commands made by make(i), pipelined BATCH at a time. */
async function timeOps(cl: RawClient, make: (i: number) => string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i += BATCH) {
    const cmds: string[][] = [];
    for (let j = i; j < i + BATCH; j++) cmds.push(make(j));
    await cl.pipeline(cmds);
  }
  return Number(process.hrtime.bigint() - t0) / 1000 / OPS;
}

interface Row { n: number; zrank: number; zrange: number; zadd: number }

async function measure(srv: ServerHandle): Promise<{ rows: Row[]; mem: Record<string, number> }> {
  const cl = await RawClient.connect(srv.port);
  await cl.command('flushall');
  await cl.command('set', 'warm', 'x');
  const used0 = await infoField(cl, 'used_memory');
  const arena0 = await infoField(cl, 'arena_used_bytes');
  const rows: Row[] = [];
  let have = 0, extra = 0;
  for (const n of SIZES) {
    await fill(cl, have, n);
    have = n;
    const zrank = await timeOps(cl, (i) => ['zrank', 'z', 'member:' + ((i * 7919) % n)]);
    const zrange = await timeOps(cl, (i) => {
      const s = (i * 104729) % (n - 10);
      return ['zrange', 'z', String(s), String(s + 9)];
    });
    // New members with scores among the existing ones; removed again so sizes stay exact.
    const zadd = await timeOps(cl, (i) => ['zadd', 'z', String(((i * 31) % n) + 0.5), 'extra:' + (extra + i)]);
    for (let i = 0; i < OPS; i += BATCH) {
      const cmds: string[][] = [];
      for (let j = i; j < i + BATCH; j++) cmds.push(['zrem', 'z', 'extra:' + (extra + j)]);
      await cl.pipeline(cmds);
    }
    extra += OPS;
    rows.push({ n, zrank, zrange, zadd });
  }
  const mem = {
    used: (await infoField(cl, 'used_memory')) - used0,
    arena: (await infoField(cl, 'arena_used_bytes')) - arena0,
    card: Number((await cl.command('zcard', 'z')).toString().slice(1)),
  };
  cl.close();
  return { rows, mem };
}

function fmt(x: number): string {
  return x.toFixed(2);
}

async function main(): Promise<void> {
  const shards = arg('shards', '0');
  const sabre = await startSabre(['--shards', shards]);
  const redis = await startRedis();
  try {
    const s = await measure(sabre);
    const r = await measure(redis);
    const lines: string[] = [];
    lines.push(`\`node dist/bench/zset-scaling.js --shards ${shards} --ops ${OPS}\` (pipelined ${BATCH} per write; µs per command)`);
    lines.push('');
    lines.push('| members | Sabre ZRANK | Sabre ZRANGE 10 | Sabre ZADD | Redis ZRANK | Redis ZRANGE 10 | Redis ZADD |');
    lines.push('|---:|---:|---:|---:|---:|---:|---:|');
    for (let i = 0; i < SIZES.length; i++) {
      const a = s.rows[i], b = r.rows[i];
      lines.push(`| ${a.n.toLocaleString('en-US')} | ${fmt(a.zrank)} | ${fmt(a.zrange)} | ${fmt(a.zadd)} | ${fmt(b.zrank)} | ${fmt(b.zrange)} | ${fmt(b.zadd)} |`);
    }
    lines.push('');
    lines.push(`| memory of a ${s.mem.card.toLocaleString('en-US')}-member zset ("member:N" members) | bytes | per member |`);
    lines.push('|---|---:|---:|');
    lines.push(`| Sabre arena_used_bytes delta | ${s.mem.arena.toLocaleString('en-US')} | ${fmt(s.mem.arena / s.mem.card)} |`);
    lines.push(`| Sabre used_memory delta | ${s.mem.used.toLocaleString('en-US')} | ${fmt(s.mem.used / s.mem.card)} |`);
    lines.push(`| Redis 7.0 used_memory delta | ${r.mem.used.toLocaleString('en-US')} | ${fmt(r.mem.used / r.mem.card)} |`);
    console.log(lines.join('\n'));
  } finally {
    await sabre.stop();
    await redis.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

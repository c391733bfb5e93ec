// INFO against the reference redis-server 7.0.15: which sections come back for
// which arguments, with Redis's headers, in Redis's order; every field Redis
// reports exists, in Redis's order (Sabre's own extra fields may follow); the
// fields clients and tools read have the right values; keyspace, errorstats and
// commandstats follow the same command stream as Redis's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, escapeBytes } from './helpers/resp';
import { ServerHandle, startRedis, startSabre } from './helpers/servers';

type Cmd = readonly string[];

/** The text of an INFO reply (RESP2 bulk or RESP3 verbatim). */
function infoText(reply: Buffer): string {
  const s = reply.toString('utf8');
  const m = /^([$=])(\d+)\r\n/.exec(s);
  if (m === null) throw new Error(`not a bulk/verbatim reply: ${escapeBytes(reply)}`);
  const body = s.slice(m[0].length, s.length - 2);
  expect(Buffer.byteLength(body)).toBe(Number(m[2]));
  return m[1] === '=' ? body.slice(4) : body;
}

interface Parsed {
  headers: string[];
  /** Field names per section title, in order. */
  fields: Map<string, string[]>;
  values: Map<string, string>;
}

function parseInfo(text: string): Parsed {
  const headers: string[] = [];
  const fields = new Map<string, string[]>();
  const values = new Map<string, string>();
  let current: string[] = [];
  for (const line of text.split('\r\n')) {
    if (line.startsWith('# ')) {
      headers.push(line.slice(2));
      current = [];
      fields.set(line.slice(2), current);
    } else if (line !== '') {
      const i = line.indexOf(':');
      current.push(line.slice(0, i));
      values.set(line.slice(0, i), line.slice(i + 1));
    }
  }
  return { headers, fields, values };
}

async function commands(port: number, cmds: readonly Cmd[]): Promise<Buffer[]> {
  const c = await RawClient.connect(port);
  try {
    const out: Buffer[] = [];
    for (const cmd of cmds) out.push(await c.command(...cmd));
    return out;
  } finally {
    c.close();
  }
}

async function info(port: number, ...sections: string[]): Promise<string> {
  return infoText((await commands(port, [['INFO', ...sections]]))[0]);
}

/** Sections whose fields are generated per command, per error or per database. */
const DYNAMIC = new Set(['Commandstats', 'Errorstats', 'Latencystats', 'Keyspace']);

let redis: ServerHandle;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe.each([0, 2])('INFO, --shards %i', (shards) => {
  let sabre: ServerHandle;

  beforeAll(async () => {
    sabre = await startSabre(['--shards', String(shards)]);
  });

  afterAll(async () => {
    await sabre?.stop();
  });

  it('sections and their order for each form of the arguments', async () => {
    const forms: string[][] = [
      [], ['default'], ['all'], ['everything'], ['ALL'], ['server'], ['server', 'clients'], ['clients', 'server'],
      ['CPU', 'Keyspace'], ['commandstats'], ['errorstats'], ['latencystats'], ['modules'], ['module_list'],
      ['default', 'commandstats'], ['all', 'server'], ['keyspace', 'memory', 'stats'], ['persistence', 'replication', 'cluster'],
      ['default', 'nosuch'],
    ];
    for (const args of forms) {
      const [s, r] = await Promise.all([info(sabre.port, ...args), info(redis.port, ...args)]);
      expect({ args, headers: parseInfo(s).headers }).toEqual({ args, headers: parseInfo(r).headers });
    }
    expect(parseInfo(await info(sabre.port)).headers).toEqual([
      'Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication', 'CPU', 'Modules', 'Errorstats', 'Cluster', 'Keyspace',
    ]);
    expect(parseInfo(await info(sabre.port, 'everything')).headers).toEqual([
      'Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication', 'CPU', 'Modules', 'Commandstats', 'Errorstats',
      'Latencystats', 'Cluster', 'Keyspace',
    ]);
  });

  it('unknown sections give an empty reply; the text is byte-exact in layout', async () => {
    for (const args of [['nosuch'], ['foo', 'bar']]) {
      const [[s], [r]] = await Promise.all([commands(sabre.port, [['INFO', ...args]]), commands(redis.port, [['INFO', ...args]])]);
      expect(s.toString()).toBe(r.toString());
      expect(s.toString()).toBe('$0\r\n\r\n');
    }
    // An empty section is its header alone; sections are separated by one empty line.
    const [[s], [r]] = await Promise.all([
      commands(sabre.port, [['INFO', 'modules', 'cluster']]),
      commands(redis.port, [['INFO', 'modules', 'cluster']]),
    ]);
    expect(s.toString()).toBe(r.toString());
    expect(s.toString()).toBe('$43\r\n# Modules\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n');
  });

  it('RESP3: a verbatim string of format txt', async () => {
    const [s, r] = await Promise.all([
      commands(sabre.port, [['HELLO', '3'], ['INFO', 'cluster']]),
      commands(redis.port, [['HELLO', '3'], ['INFO', 'cluster']]),
    ]);
    expect(s[1].toString()).toBe(r[1].toString());
    expect(s[1].toString()).toBe('=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n');
  });

  it("every field Redis reports exists, in Redis's order", async () => {
    const [s, r] = await Promise.all([info(sabre.port, 'everything'), info(redis.port, 'everything')]);
    const ps = parseInfo(s);
    const pr = parseInfo(r);
    for (const [title, redisFields] of pr.fields) {
      if (DYNAMIC.has(title)) continue;
      const sabreFields = ps.fields.get(title) ?? [];
      const known = new Set(redisFields);
      // Redis's fields first, in Redis's order; Sabre's own (sabre_version, arena_*, ...) after them.
      expect({ title, fields: sabreFields.slice(0, redisFields.length) }).toEqual({ title, fields: redisFields });
      expect({ title, extra: sabreFields.slice(redisFields.length).filter((f) => known.has(f)) }).toEqual({ title, extra: [] });
    }
  });

  it('the fields clients read: versions, run_id, role, loading, clients, memory', async () => {
    const extra = await Promise.all([RawClient.connect(sabre.port), RawClient.connect(sabre.port), RawClient.connect(sabre.port)]);
    try {
      await Promise.all(extra.map((c) => c.command('PING')));
      const v = parseInfo(await info(sabre.port)).values;
      expect(v.get('redis_version')).toBe('7.0.15');
      expect(v.get('redis_mode')).toBe('standalone');
      expect(v.get('run_id')).toMatch(/^[0-9a-f]{40}$/);
      expect(v.get('tcp_port')).toBe(String(sabre.port));
      expect(v.get('process_id')).toBe(String(sabre.pid));
      expect(v.get('role')).toBe('master');
      expect(v.get('loading')).toBe('0');
      expect(v.get('connected_clients')).toBe('4'); // the three above and the INFO caller
      expect(v.get('used_memory')).toMatch(/^[1-9]\d*$/);
      expect(v.get('used_memory_human')).toMatch(/^\d+(\.\d\d[KMGTP]|B)$/);
      expect(v.get('maxmemory')).toBe('0');
      expect(v.get('maxmemory_human')).toBe('0B');
      expect(v.get('maxmemory_policy')).toBe('noeviction');
      expect(v.get('mem_fragmentation_ratio')).toMatch(/^\d+\.\d\d$/);
      expect(v.get('aof_enabled')).toBe('0');
      expect(v.get('cluster_enabled')).toBe('0');
      expect(Number(v.get('uptime_in_seconds'))).toBeGreaterThanOrEqual(0);
      expect(Number(v.get('total_connections_received'))).toBeGreaterThanOrEqual(4);
      // run_id is stable for the life of the process
      expect(parseInfo(await info(sabre.port, 'server')).values.get('run_id')).toBe(v.get('run_id'));
    } finally {
      for (const c of extra) c.close();
    }
  });

  it('keyspace: db<N>:keys=,expires=,avg_ttl= for the non-empty databases', async () => {
    const stream: Cmd[] = [
      ['FLUSHALL'], ['SET', 'ks:a', '1'], ['SET', 'ks:b', '2', 'EX', '1000'], ['SET', 'ks:c', '3', 'PX', '500000'],
      ['SELECT', '3'], ['SET', 'ks:d', '4'], ['SELECT', '15'], ['SET', 'ks:e', '5', 'EX', '100'], ['DEL', 'ks:e'],
      ['INFO', 'keyspace'],
    ];
    const [s, r] = await Promise.all([commands(sabre.port, stream), commands(redis.port, stream)]);
    const norm = (b: Buffer) => infoText(b).replace(/avg_ttl=\d+/g, 'avg_ttl=*');
    expect(norm(s[s.length - 1])).toBe(norm(r[r.length - 1]));
    expect(norm(s[s.length - 1])).toBe('# Keyspace\r\ndb0:keys=3,expires=2,avg_ttl=*\r\ndb3:keys=1,expires=0,avg_ttl=*\r\n');
    const [e] = await Promise.all([commands(sabre.port, [['FLUSHALL'], ['INFO', 'keyspace']]), commands(redis.port, [['FLUSHALL']])]);
    expect(infoText(e[1])).toBe('# Keyspace\r\n');
  });

  it('errorstats and commandstats follow the command stream, and CONFIG RESETSTAT clears them', async () => {
    const stream: Cmd[] = [
      ['CONFIG', 'RESETSTAT'], ['PING'], ['PING'], ['ECHO', 'x'], ['GET'], ['NOSUCH'], ['SELECT', 'abc'], ['HELLO', '9'],
      ['AUTH', 'nosuch', 'x'], ['SET', 'cs:k', 'v'], ['GET', 'cs:k'], ['INCR', 'cs:k'], ['DEL', 'cs:k'], ['CLIENT', 'ID'],
      ['INFO', 'errorstats'], ['INFO', 'commandstats'], ['INFO', 'stats'],
    ];
    const [s, r] = await Promise.all([commands(sabre.port, stream), commands(redis.port, stream)]);
    const n = stream.length;
    expect(infoText(s[n - 3])).toBe(infoText(r[n - 3]));
    expect(infoText(s[n - 3])).toBe('# Errorstats\r\nerrorstat_ERR:count=4\r\nerrorstat_NOPROTO:count=1\r\nerrorstat_WRONGPASS:count=1\r\n');
    const stats = (b: Buffer) =>
      infoText(b).split('\r\n').filter((l) => l.startsWith('cmdstat_'))
        .map((l) => l.replace(/usec=\d+,usec_per_call=[\d.]+/, 'usec=*'))
        .sort();
    expect(stats(s[n - 2])).toEqual(stats(r[n - 2]));
    expect(stats(s[n - 2])).toContain('cmdstat_ping:calls=2,usec=*,rejected_calls=0,failed_calls=0');
    expect(stats(s[n - 2])).toContain('cmdstat_get:calls=1,usec=*,rejected_calls=1,failed_calls=0');
    const errors = (b: Buffer) => parseInfo(infoText(b)).values.get('total_error_replies');
    expect(errors(s[n - 1])).toBe(errors(r[n - 1]));
    for (const line of infoText(s[n - 2]).split('\r\n').filter((l) => l.startsWith('cmdstat_'))) {
      expect(line).toMatch(/^cmdstat_[a-z|-]+:calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=\d+,failed_calls=\d+$/);
    }
  });

  it('keyspace_hits/misses count the lookups of read commands as Redis does; RESETSTAT zeroes them and expired_keys', async () => {
    const stream: Cmd[] = [
      ['FLUSHALL'], ['CONFIG', 'RESETSTAT'], ['SET', 'ks:gone', 'v', 'PX', '1'],
      ['SET', 'ks:a', '1'], ['GET', 'ks:a'], ['GET', 'ks:none'], ['MGET', 'ks:a', 'ks:b', 'ks:c'], ['EXISTS', 'ks:a', 'ks:b'],
      ['TYPE', 'ks:a'], ['TTL', 'ks:a'], ['STRLEN', 'ks:x'], ['HGET', 'ks:h', 'f'], ['HSET', 'ks:h', 'f', 'v'], ['HGET', 'ks:h', 'f'],
      ['LRANGE', 'ks:l', '0', '-1'], ['INCR', 'ks:n'], ['SADD', 'ks:s', 'm'], ['SISMEMBER', 'ks:s', 'm'], ['ZSCORE', 'ks:z', 'm'],
      ['GETEX', 'ks:none'], ['GETDEL', 'ks:a'], ['DEL', 'ks:h'], ['GET', 'ks:gone'], ['RANDOMKEY'], ['DBSIZE'],
      ['INFO', 'stats'], ['CONFIG', 'RESETSTAT'], ['GET', 'ks:a'], ['INFO', 'stats'],
    ];
    const run = async (port: number) => {
      const first = await commands(port, stream.slice(0, 3));
      await new Promise((r) => setTimeout(r, 20)); // ks:gone expires
      return [...first, ...(await commands(port, stream.slice(3)))];
    };
    const [s, r] = await Promise.all([run(sabre.port), run(redis.port)]);
    const pick = (b: Buffer) => {
      const v = parseInfo(infoText(b)).values;
      return ['keyspace_hits', 'keyspace_misses', 'expired_keys', 'evicted_keys'].map((f) => `${f}:${v.get(f)}`);
    };
    const n = stream.length;
    expect(pick(s[n - 4])).toEqual(pick(r[n - 4]));
    expect(pick(s[n - 4])).toEqual(['keyspace_hits:8', 'keyspace_misses:10', 'expired_keys:1', 'evicted_keys:0']);
    expect(pick(s[n - 1])).toEqual(pick(r[n - 1]));
    expect(pick(s[n - 1])).toEqual(['keyspace_hits:0', 'keyspace_misses:1', 'expired_keys:0', 'evicted_keys:0']);
  });

  it('keyspace_hits/misses: write commands count the source keys they read (lookupKeyRead), not their destinations', async () => {
    const setup: Cmd[] = [['FLUSHALL'], ['SET', 'k', 'v'], ['SADD', 's1', 'a', 'b'], ['SADD', 's2', 'b', 'c'], ['ZADD', 'z1', '1', 'a', '2', 'b'],
      ['ZADD', 'z2', '1', 'b'], ['RPUSH', 'l', '3', '1', '2'], ['SET', 'w_1', '5'], ['SET', 'zd', 'x'], ['CONFIG', 'RESETSTAT']];
    const probes: Cmd[] = [['SET', 'k', 'v', 'GET'], ['SET', 'nok', 'v', 'GET'], ['SET', 'k', 'v', 'NX'], ['SET', 'k', 'v', 'XX', 'GET', 'EX', '100'],
      ['SET', 'nx1', 'v', 'NX', 'GET'], ['SET', 'k', 'v', 'KEEPTTL'], ['GETSET', 'k', 'v2'], ['GETSET', 'nok2', 'v'],
      ['SUNIONSTORE', 'd', 's1', 's2', 'nos'], ['SINTERSTORE', 'd', 's1', 's2'], ['SDIFFSTORE', 'd', 's1', 'nos'],
      ['ZUNIONSTORE', 'zd', '2', 'z1', 'noz'], ['ZINTERSTORE', 'zd', '2', 'z1', 'z2'], ['ZDIFFSTORE', 'zd', '2', 'z1', 'noz'],
      ['ZRANGESTORE', 'zd2', 'z1', '0', '-1'], ['ZRANGESTORE', 'zd2', 'noz', '0', '-1'], ['COPY', 'k', 'kc'], ['COPY', 'nok4', 'kc2'],
      ['COPY', 'k', 'kc'], ['SORT', 'l'], ['SORT', 'l', 'STORE', 'ld'], ['SORT', 'nol'], ['SORT', 'l', 'BY', 'w_*'],
      ['LMOVE', 'l', 'l2', 'LEFT', 'RIGHT'], ['SMOVE', 's1', 's3', 'a'], ['RENAME', 'kc', 'kc3'], ['APPEND', 'k', 'x'], ['INCR', 'cnt']];
    const stream: Cmd[] = [...setup, ...probes.flatMap((c) => [c, ['INFO', 'stats'] as Cmd])];
    const [s, r] = await Promise.all([commands(sabre.port, stream), commands(redis.port, stream)]);
    const pick = (b: Buffer) => {
      const v = parseInfo(infoText(b)).values;
      return `${v.get('keyspace_hits')}/${v.get('keyspace_misses')}`;
    };
    const per = (replies: Buffer[]) => probes.map((c, i) => `${c.join(' ')}: ${pick(replies[setup.length + 2 * i + 1])}`);
    expect(per(s)).toEqual(per(r));
    expect(per(r)[probes.length - 1]).not.toBe(`INCR cnt: 0/0`);
  });

  // Redis counts a call after the command ran: INFO commandstats does not count that
  // INFO, and CONFIG RESETSTAT counts itself.
  it('commandstats: a command is counted after it ran', async () => {
    const stream: Cmd[] = [['CONFIG', 'RESETSTAT'], ['INFO', 'commandstats']];
    const [s, r] = await Promise.all([commands(sabre.port, stream), commands(redis.port, stream)]);
    const norm = (b: Buffer) => infoText(b).replace(/usec=\d+,usec_per_call=[\d.]+/g, 'usec=*');
    expect(norm(s[1])).toBe(norm(r[1]));
  });

  it('latencystats lines have Redis format', async () => {
    await commands(sabre.port, [['PING'], ['ECHO', 'x']]);
    const lines = (await info(sabre.port, 'latencystats')).split('\r\n').filter((l) => l.startsWith('latency_'));
    expect(lines.some((l) => l.startsWith('latency_percentiles_usec_ping:'))).toBe(true);
    for (const l of lines) {
      expect(l).toMatch(/^latency_percentiles_usec_[a-z|-]+:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$/);
    }
  });
});

/**
 * Memory accounting on the io thread (Redis 7.0 object.c getMemoryOverheadData and
 * MEMORY STATS / DOCTOR / MALLOC-STATS / PURGE / HELP; INFO memory reads it too).
 *
 * What Sabre counts as used memory (Redis's zmalloc_used_memory): the arena blocks in
 * use in every shard (records, values, hash tables; class sizes, read from each arena's
 * header, which any thread may read), plus the io thread's per-connection buffers (query
 * buffers, pending replies, replies waiting for their turn, MULTI queues, pub/sub
 * subscriptions). The V8 heap and the Node runtime are not "used memory": like Redis's
 * binary and libc they do not grow with the data, and they show in RSS, so in
 * rss_overhead_* and mem_fragmentation_*. The allocator's "active" bytes are the arena
 * segments reserved (pages the OS hands out lazily, so resident <= reserved).
 *
 * Not counted (documented differences): the AOF buffer (it lives in the effect rings
 * and the persistence worker, bounded), Lua script caches (one VM per shard thread).
 */
import { fullGc } from '../util/gc';
import * as os from 'node:os';
import type { Server } from './server';
import type { Client } from './client';
import type { ExecContext } from '../commands/context';
import type { CommandSpec } from '../commands/table';
import type { Keyspace } from '../store/keyspace';
import { blockSize } from '../store/arena';
import { DICT_HEADER_WORDS, D_SIZE0, D_SIZE1 } from '../../native-layout/dict';
import { R_HEADER } from '../../native-layout/record';
import {
  H_BUMP, H_CUR_SEG, H_FREE_SEG_COUNT, H_LAZYFREE_COUNT, H_NEXT_SEG, SEGMENT_SIZE,
} from '../../native-layout/arena';
import { DOCTOR_EMPTY, DOCTOR_OK, MEMORY_HELP } from '../commands/memory';
import { replyHelp } from '../commands/context';
import { defragReleased, defragStats } from '../store/defrag';

type LocalHandler = (srv: Server, cl: Client, c: ExecContext, spec: CommandSpec) => void;

/** A client's fixed cost, as CLIENT LIST's tot-mem counts it. */
const CLIENT_BASE_BYTES = 1024;
/** A subscription: the name plus its entries in the client's and the server's maps. */
const SUBSCRIPTION_BYTES = 64;
/** An expiry costs a key 8 bytes in its record (native-layout/record.md). */
const EXPIRE_WORDS_BYTES = 8;

/** RSS of the process before any data: the Node runtime, Sabre's "binary". */
const STARTUP_RSS = process.memoryUsage.rss();

let peakAllocated = 0;

/** Redis's bytesToHuman (util.c). */
export function bytesToHuman(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(2)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)}M`;
  if (n < 1024 ** 4) return `${(n / 1024 ** 3).toFixed(2)}G`;
  if (n < 1024 ** 5) return `${(n / 1024 ** 4).toFixed(2)}T`;
  if (n < 1024 ** 6) return `${(n / 1024 ** 5).toFixed(2)}P`;
  return `${n}B`;
}

function keyspacesOf(srv: Server): readonly Keyspace[] {
  return (srv.inlineStore ?? srv.pool!.allStore).keyspaces;
}

/** Bytes one connection holds on the io thread (Redis's getClientMemoryUsage). */
export function clientMemory(cl: Client): number {
  let n = CLIENT_BASE_BYTES;
  if (cl.qbuf !== null) n += cl.qbuf.length;
  n += cl.qbufChunkBytes;
  if (cl.out !== null) n += cl.out.length;
  // Bytes handed to the socket that the kernel has not taken yet.
  n += cl.sock.writableLength;
  if (cl.stash !== null) for (const b of cl.stash.values()) if (b !== null) n += b.length;
  if (cl.multi !== null) for (const q of cl.multi.commands) n += q.buf.length + q.argc * 8;
  const ps = cl.pubsub;
  if (ps !== null) {
    for (const s of ps.channels) n += s.length + SUBSCRIPTION_BYTES;
    for (const s of ps.patterns) n += s.length + SUBSCRIPTION_BYTES;
    for (const s of ps.shardChannels) n += s.length + SUBSCRIPTION_BYTES;
  }
  return n;
}

/** Every connection's buffers (INFO mem_clients_normal, MEMORY STATS clients.normal). */
export function clientsMemory(srv: Server): number {
  let n = 0;
  for (const cl of srv.clients.values()) n += clientMemory(cl);
  return n;
}

/**
 * Arena bytes across shards: blocks in use; segments reserved; and bytes carved out of
 * them so far (all but the untouched tail of each bump segment: what has been written,
 * in use or on a free list, so resident; the rest of a segment the OS has not handed out).
 */
export function arenaBytes(srv: Server): { used: number; reserved: number; carved: number } {
  let used = 0, reserved = 0, carved = 0;
  for (const ks of keyspacesOf(srv)) {
    const a = ks.arena;
    used += a.usedBytes;
    reserved += a.segmentBytes;
    carved += a.carvedBytes;
  }
  return { used, reserved, carved };
}

/** Arena bytes of an empty server: each shard's keyspace root block. */
export function startupBytes(srv: Server): number {
  let n = 0;
  for (const ks of keyspacesOf(srv)) n += blockSize(4 * (1 + ks.dbCount * DICT_HEADER_WORDS));
  return n;
}

/** used_memory: arena blocks in use plus connection buffers; also moves the peak. */
export function usedMemory(srv: Server): number {
  const used = arenaBytes(srv).used + clientsMemory(srv);
  if (used > peakAllocated) peakAllocated = used;
  return used;
}

/** Called from the server cron: the peak follows the arenas between INFO calls (O(shards)). */
export function sampleMemoryPeak(srv: Server): void {
  const used = arenaBytes(srv).used;
  if (used > peakAllocated) peakAllocated = used;
}

function tableBytes(n: number): number {
  return n === 0 ? 0 : blockSize(n * 4);
}

export interface DbOverhead {
  dbid: number;
  /** Bucket arrays and the record headers (Redis: bucket pointers and dictEntries). */
  htMain: number;
  /** Expiry words of volatile keys (Redis: the expires dict). */
  htExpires: number;
}

/** Redis's struct redisMemOverhead, with Sabre's numbers. */
export interface MemOverhead {
  peakAllocated: number;
  totalAllocated: number;
  startupAllocated: number;
  replBacklog: number;
  clientsSlaves: number;
  clientsNormal: number;
  clusterLinks: number;
  aofBuffer: number;
  luaCaches: number;
  functionsCaches: number;
  overheadTotal: number;
  dataset: number;
  totalKeys: number;
  bytesPerKey: number;
  datasetPerc: number;
  peakPerc: number;
  allocatorAllocated: number;
  allocatorActive: number;
  allocatorResident: number;
  allocatorFrag: number;
  allocatorFragBytes: number;
  allocatorRss: number;
  allocatorRssBytes: number;
  rssExtra: number;
  rssExtraBytes: number;
  totalFrag: number;
  totalFragBytes: number;
  rss: number;
  db: DbOverhead[];
}

/** getMemoryOverheadData(): where used memory goes. */
export function memoryOverhead(srv: Server): MemOverhead {
  const kss = keyspacesOf(srv);
  const arena = arenaBytes(srv);
  const clients = clientsMemory(srv);
  const used = arena.used + clients;
  if (used > peakAllocated) peakAllocated = used;
  const startup = startupBytes(srv);
  const rss = process.memoryUsage.rss();
  let overhead = startup + clients;
  let totalKeys = 0;
  const db: DbOverhead[] = [];
  for (let d = 0; d < srv.cfg.databases; d++) {
    let keys = 0, main = 0, expires = 0;
    for (const ks of kss) {
      const n = ks.size(d);
      keys += n;
      main += tableBytes(ks.dictField(d, D_SIZE0)) + tableBytes(ks.dictField(d, D_SIZE1)) + n * R_HEADER;
      expires += ks.volatileCount(d) * EXPIRE_WORDS_BYTES;
    }
    if (keys === 0) continue;
    totalKeys += keys;
    overhead += main + expires;
    db.push({ dbid: d, htMain: main, htExpires: expires });
  }
  const dataset = Math.max(0, used - overhead);
  const net = used > startup ? used - startup : 1;
  // The allocator's active pages: arena bytes carved so far (in use or free-listed).
  const active = arena.carved + clients;
  const resident = active;
  return {
    peakAllocated,
    totalAllocated: used,
    startupAllocated: startup,
    replBacklog: 0,
    clientsSlaves: 0,
    clientsNormal: clients,
    clusterLinks: 0,
    aofBuffer: 0,
    luaCaches: 0,
    functionsCaches: 0,
    overheadTotal: overhead,
    dataset,
    totalKeys,
    bytesPerKey: totalKeys > 0 ? Math.floor(net / totalKeys) : 0,
    // Redis keeps these as C floats.
    datasetPerc: Math.fround((dataset * 100) / net),
    peakPerc: Math.fround((used * 100) / peakAllocated),
    allocatorAllocated: used,
    allocatorActive: active,
    allocatorResident: resident,
    allocatorFrag: Math.fround(active / used),
    allocatorFragBytes: active - used,
    allocatorRss: Math.fround(resident / active),
    allocatorRssBytes: resident - active,
    rssExtra: Math.fround(rss / resident),
    rssExtraBytes: rss - resident,
    totalFrag: Math.fround(rss / used),
    totalFragBytes: rss - used,
    rss,
    db,
  };
}

/** The INFO memory lines up to (not including) maxmemory, in Redis 7.0's order. */
export function infoMemoryHead(srv: Server): string[] {
  const mh = memoryOverhead(srv);
  const used = mh.totalAllocated, peak = mh.peakAllocated, total = os.totalmem();
  return [
    `used_memory:${used}`,
    `used_memory_human:${bytesToHuman(used)}`,
    `used_memory_rss:${mh.rss}`,
    `used_memory_rss_human:${bytesToHuman(mh.rss)}`,
    `used_memory_peak:${peak}`,
    `used_memory_peak_human:${bytesToHuman(peak)}`,
    `used_memory_peak_perc:${mh.peakPerc.toFixed(2)}%`,
    `used_memory_overhead:${mh.overheadTotal}`,
    `used_memory_startup:${mh.startupAllocated}`,
    `used_memory_dataset:${mh.dataset}`,
    `used_memory_dataset_perc:${mh.datasetPerc.toFixed(2)}%`,
    `allocator_allocated:${mh.allocatorAllocated}`,
    `allocator_active:${mh.allocatorActive}`,
    `allocator_resident:${mh.allocatorResident}`,
    `total_system_memory:${total}`,
    `total_system_memory_human:${bytesToHuman(total)}`,
  ];
}

/** The INFO memory lines after maxmemory_policy, in Redis 7.0's order, then Sabre's own. */
export function infoMemoryTail(srv: Server): string[] {
  const mh = memoryOverhead(srv);
  const arena = arenaBytes(srv);
  const heap = process.memoryUsage();
  let lazy = 0;
  for (const ks of keyspacesOf(srv)) lazy += ks.arena.hdr[H_LAZYFREE_COUNT];
  return [
    `allocator_frag_ratio:${mh.allocatorFrag.toFixed(2)}`,
    `allocator_frag_bytes:${mh.allocatorFragBytes}`,
    `allocator_rss_ratio:${mh.allocatorRss.toFixed(2)}`,
    `allocator_rss_bytes:${mh.allocatorRssBytes}`,
    `rss_overhead_ratio:${mh.rssExtra.toFixed(2)}`,
    `rss_overhead_bytes:${mh.rssExtraBytes}`,
    `mem_fragmentation_ratio:${mh.totalFrag.toFixed(2)}`,
    `mem_fragmentation_bytes:${mh.totalFragBytes}`,
    'mem_not_counted_for_evict:0',
    'mem_replication_backlog:0',
    'mem_total_replication_buffers:0',
    'mem_clients_slaves:0',
    `mem_clients_normal:${mh.clientsNormal}`,
    'mem_cluster_links:0',
    'mem_aof_buffer:0',
    'mem_allocator:sabre-arena',
    `active_defrag_running:${defragStats(keyspacesOf(srv)).running}`,
    `lazyfree_pending_objects:${lazy}`,
    'lazyfreed_objects:0',
    `arena_used_bytes:${arena.used}`,
    `arena_reserved_bytes:${arena.reserved}`,
    `heap_used_bytes:${heap.heapUsed}`,
    `heap_total_bytes:${heap.heapTotal}`,
  ];
}

/** MEMORY STATS: Redis 7.0's map, key for key. */
function memoryStats(srv: Server, c: ExecContext): void {
  const mh = memoryOverhead(srv), w = c.w;
  const pair = (k: string, v: number) => {
    w.bulkString(k);
    w.integer(v);
  };
  const dpair = (k: string, v: number) => {
    w.bulkString(k);
    w.double(v);
  };
  w.mapHeader(27 + mh.db.length);
  pair('peak.allocated', mh.peakAllocated);
  pair('total.allocated', mh.totalAllocated);
  pair('startup.allocated', mh.startupAllocated);
  pair('replication.backlog', mh.replBacklog);
  pair('clients.slaves', mh.clientsSlaves);
  pair('clients.normal', mh.clientsNormal);
  pair('cluster.links', mh.clusterLinks);
  pair('aof.buffer', mh.aofBuffer);
  pair('lua.caches', mh.luaCaches);
  pair('functions.caches', mh.functionsCaches);
  for (const d of mh.db) {
    w.bulkString(`db.${d.dbid}`);
    w.mapHeader(2);
    pair('overhead.hashtable.main', d.htMain);
    pair('overhead.hashtable.expires', d.htExpires);
  }
  pair('overhead.total', mh.overheadTotal);
  pair('keys.count', mh.totalKeys);
  pair('keys.bytes-per-key', mh.bytesPerKey);
  pair('dataset.bytes', mh.dataset);
  dpair('dataset.percentage', mh.datasetPerc);
  dpair('peak.percentage', mh.peakPerc);
  pair('allocator.allocated', mh.allocatorAllocated);
  pair('allocator.active', mh.allocatorActive);
  pair('allocator.resident', mh.allocatorResident);
  dpair('allocator-fragmentation.ratio', mh.allocatorFrag);
  pair('allocator-fragmentation.bytes', mh.allocatorFragBytes);
  dpair('allocator-rss.ratio', mh.allocatorRss);
  pair('allocator-rss.bytes', mh.allocatorRssBytes);
  dpair('rss-overhead.ratio', mh.rssExtra);
  pair('rss-overhead.bytes', mh.rssExtraBytes);
  dpair('fragmentation', mh.totalFrag);
  pair('fragmentation.bytes', mh.totalFragBytes);
}

const MB10 = 10 << 20;

/**
 * getMemoryDoctorReport(), Redis 7.0's rules and texts. The RSS tests leave out the
 * process's RSS before any data (the Node runtime, tens of MB that Redis's small binary
 * does not have), or every modest instance would be reported for "RSS overhead".
 */
export function memoryDoctorReport(srv: Server): string {
  const mh = memoryOverhead(srv);
  let empty = false, bigPeak = false, highFrag = false, highAllocFrag = false, highAllocRss = false;
  let highProcRss = false, bigClientBuf = false;
  let reports = 0;
  if (mh.totalAllocated < 5 * 1024 * 1024) {
    empty = true;
    reports++;
  } else {
    const rss = Math.max(0, mh.rss - STARTUP_RSS);
    if (mh.peakAllocated / mh.totalAllocated > 1.5) { bigPeak = true; reports++; }
    if (rss / mh.totalAllocated > 1.4 && rss - mh.totalAllocated > MB10) { highFrag = true; reports++; }
    if (mh.allocatorFrag > 1.1 && mh.allocatorFragBytes > MB10) { highAllocFrag = true; reports++; }
    if (mh.allocatorRss > 1.1 && mh.allocatorRssBytes > MB10) { highAllocRss = true; reports++; }
    if (rss / mh.allocatorResident > 1.1 && rss - mh.allocatorResident > MB10) { highProcRss = true; reports++; }
    const clients = srv.clients.size;
    if (clients > 0 && mh.clientsNormal / clients > 1024 * 200) { bigClientBuf = true; reports++; }
  }
  if (reports === 0) return DOCTOR_OK;
  if (empty) return DOCTOR_EMPTY;
  let s = 'Sam, I detected a few issues in this Redis instance memory implants:\n\n';
  if (bigPeak) s += ' * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n';
  if (highFrag) s += ' * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is "sabre-arena".\n\n';
  if (highAllocFrag) s += " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n";
  if (highAllocRss) s += ' * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n';
  if (highProcRss) s += ' * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n';
  if (bigClientBuf) s += ' * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n';
  s += "I'm here to keep you safe, Sam. I want to help you.\n";
  return s;
}

/** MEMORY MALLOC-STATS: the arena allocator's own report (Redis prints jemalloc's). */
export function mallocStatsText(srv: Server): string {
  let s = '___ Begin sabre arena statistics ___\n';
  const kss = keyspacesOf(srv);
  let used = 0, reserved = 0;
  for (let i = 0; i < kss.length; i++) {
    const a = kss[i].arena, h = a.hdr;
    used += a.usedBytes;
    reserved += a.segmentBytes;
    const carved = a.carvedBytes;
    s += `shard ${i}: allocated: ${a.usedBytes}, free-listed: ${carved - a.usedBytes}, segments: ${a.segmentBytes} (${h[H_NEXT_SEG] - h[H_FREE_SEG_COUNT]} live, ${h[H_FREE_SEG_COUNT]} released), `
      + `bump: segment ${h[H_CUR_SEG]} offset ${h[H_BUMP]}, lazyfree pending: ${h[H_LAZYFREE_COUNT]}, `
      + `released by defrag: ${defragReleased(a)}\n`;
  }
  s += `total: allocated: ${used}, segments: ${reserved}, not allocated: ${reserved - used}\n`;
  const m = process.memoryUsage();
  s += `v8 heap (io thread): used: ${m.heapUsed}, total: ${m.heapTotal}; external: ${m.external}, array buffers: ${m.arrayBuffers}; rss: ${m.rss}\n`;
  s += '--- End sabre arena statistics ---\n';
  return s;
}


/**
 * MEMORY PURGE: the arena frees dedicated (>= 1 MiB) segments as soon as their block is
 * freed and keeps small-block segments for reuse (releasing them needs compaction), so
 * what can be handed back now is the io thread's garbage: a full V8 collection, which
 * returns emptied heap pages to the OS. Shard threads' heaps hold no data and are left alone.
 */
function purge(): void {
  fullGc();
}

/** The io-thread MEMORY subcommands; USAGE runs where the key lives (src/commands/memory.ts). */
export function registerMemoryCommands(handlers: Map<string, LocalHandler>): void {
  handlers.set('memory|stats', (srv, _cl, c) => memoryStats(srv, c));
  handlers.set('memory|doctor', (srv, _cl, c) => c.w.verbatim(memoryDoctorReport(srv)));
  handlers.set('memory|malloc-stats', (srv, _cl, c) => c.w.verbatim(mallocStatsText(srv)));
  handlers.set('memory|purge', (_srv, _cl, c) => {
    purge();
    c.w.ok();
  });
  handlers.set('memory|help', (_srv, _cl, c) => replyHelp(c, MEMORY_HELP));
}

/** INFO: Redis 7.0's sections and the fields clients and tools read. */
import * as os from 'node:os';
import type { Server } from './server';
import type { Client } from './client';
import { Client as ClientClass } from './client';
import type { ExecContext } from '../commands/context';
import { commandById } from '../commands/table';
import { REDIS_COMPAT_VERSION, SABRE_VERSION } from './version';
import { lruClock } from '../store/keyspace';

const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules', 'errorstats', 'cluster', 'keyspace'];
const ALL_SECTIONS = [...DEFAULT_SECTIONS.slice(0, 8), 'commandstats', 'errorstats', 'cluster', 'keyspace'];

function human(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n}B` : `${v.toFixed(2)}${units[i]}`;
}

export function infoCommand(srv: Server, _cl: Client, c: ExecContext): void {
  const wanted = new Set<string>();
  let everything = false;
  if (c.argc === 1) DEFAULT_SECTIONS.forEach((s) => wanted.add(s));
  for (let j = 1; j < c.argc; j++) {
    const s = c.argString(j).toLowerCase();
    if (s === 'default') DEFAULT_SECTIONS.forEach((x) => wanted.add(x));
    else if (s === 'all') ALL_SECTIONS.forEach((x) => wanted.add(x));
    else if (s === 'everything') { everything = true; ALL_SECTIONS.forEach((x) => wanted.add(x)); }
    else wanted.add(s);
  }
  void everything;
  c.w.verbatim(genInfo(srv, wanted));
}

export function genInfo(srv: Server, wanted: Set<string>): string {
  const out: string[] = [];
  const now = Date.now();
  const section = (name: string, title: string, lines: () => string[]) => {
    if (!wanted.has(name)) return;
    if (out.length > 0) out.push('');
    out.push(`# ${title}`, ...lines());
  };
  const mem = process.memoryUsage();
  const [arenaUsed, arenaReserved] = srv.arenaBytes();
  section('server', 'Server', () => [
    `redis_version:${REDIS_COMPAT_VERSION}`,
    `sabre_version:${SABRE_VERSION}`,
    'redis_git_sha1:00000000',
    'redis_git_dirty:0',
    'redis_build_id:0',
    'redis_mode:standalone',
    `os:${os.type()} ${os.release()} ${os.arch()}`,
    'arch_bits:64',
    'monotonic_clock:POSIX clock_gettime',
    'multiplexing_api:epoll',
    'atomicvar_api:c11-builtin',
    `gcc_version:0.0.0`,
    `process_id:${process.pid}`,
    'process_supervised:no',
    `run_id:${srv.runId}`,
    `tcp_port:${srv.boundPort()}`,
    `server_time_usec:${now * 1000}`,
    `uptime_in_seconds:${Math.floor((now - srv.startTime) / 1000)}`,
    `uptime_in_days:${Math.floor((now - srv.startTime) / 86400000)}`,
    `hz:${srv.cfg.hz}`,
    `configured_hz:${srv.cfg.hz}`,
    `lru_clock:${lruClock(now)}`,
    `executable:${process.argv[1] ?? ''}`,
    `config_file:${srv.cfg.configFile ?? ''}`,
    'io_threads_active:0',
    `shards:${srv.shardCount}`,
  ]);
  section('clients', 'Clients', () => [
    `connected_clients:${srv.clients.size}`,
    'cluster_connections:0',
    `maxclients:${srv.cfg.maxclients}`,
    'client_recent_max_input_buffer:0',
    'client_recent_max_output_buffer:0',
    'blocked_clients:0',
    'tracking_clients:0',
    'clients_in_timeout_table:0',
  ]);
  section('memory', 'Memory', () => {
    // used_memory: what the dataset costs Sabre: arena blocks in use plus the V8 heap in use.
    const used = arenaUsed + mem.heapUsed;
    return [
      `used_memory:${used}`,
      `used_memory_human:${human(used)}`,
      `used_memory_rss:${mem.rss}`,
      `used_memory_rss_human:${human(mem.rss)}`,
      `used_memory_peak:${used}`,
      `used_memory_peak_human:${human(used)}`,
      `used_memory_overhead:${mem.heapUsed}`,
      `used_memory_dataset:${arenaUsed}`,
      `arena_used_bytes:${arenaUsed}`,
      `arena_reserved_bytes:${arenaReserved}`,
      `heap_used_bytes:${mem.heapUsed}`,
      `heap_total_bytes:${mem.heapTotal}`,
      `total_system_memory:${os.totalmem()}`,
      `total_system_memory_human:${human(os.totalmem())}`,
      `maxmemory:${srv.cfg.maxmemory}`,
      `maxmemory_human:${human(srv.cfg.maxmemory)}`,
      `maxmemory_policy:${srv.cfg.maxmemoryPolicy}`,
      `mem_fragmentation_ratio:${used > 0 ? (mem.rss / used).toFixed(2) : '0.00'}`,
      'mem_allocator:sabre-arena',
      'lazyfree_pending_objects:0',
    ];
  });
  section('persistence', 'Persistence', () => [
    'loading:0',
    'async_loading:0',
    `rdb_changes_since_last_save:0`,
    'rdb_bgsave_in_progress:0',
    `rdb_last_save_time:${Math.floor(srv.startTime / 1000)}`,
    'rdb_last_bgsave_status:ok',
    'aof_enabled:0',
    'aof_rewrite_in_progress:0',
    'aof_rewrite_scheduled:0',
    'aof_last_bgrewrite_status:ok',
    'aof_last_write_status:ok',
  ]);
  section('stats', 'Stats', () => [
    `total_connections_received:${srv.stats.totalConnections}`,
    `total_commands_processed:${srv.stats.totalCommands}`,
    `instantaneous_ops_per_sec:${srv.stats.instantaneousOps()}`,
    `total_net_input_bytes:${srv.stats.netInputBytes}`,
    `total_net_output_bytes:${ClientClass.netOutputBytes}`,
    `rejected_connections:${srv.stats.rejectedConnections}`,
    `expired_keys:${srv.expiredKeys()}`,
    'evicted_keys:0',
    `keyspace_hits:${srv.stats.keyspaceHits}`,
    `keyspace_misses:${srv.stats.keyspaceMisses}`,
    'pubsub_channels:0',
    'pubsub_patterns:0',
    `total_error_replies:${srv.stats.errorReplies}`,
  ]);
  section('replication', 'Replication', () => [
    'role:master',
    'connected_slaves:0',
    'master_failover_state:no-failover',
    `master_replid:${srv.runId}`,
    'master_replid2:0000000000000000000000000000000000000000',
    'master_repl_offset:0',
    'second_repl_offset:-1',
    'repl_backlog_active:0',
    `repl_backlog_size:${srv.cfg.replBacklogSize}`,
    'repl_backlog_first_byte_offset:0',
    'repl_backlog_histlen:0',
  ]);
  section('cpu', 'CPU', () => {
    const u = process.cpuUsage();
    return [
      `used_cpu_sys:${(u.system / 1e6).toFixed(6)}`,
      `used_cpu_user:${(u.user / 1e6).toFixed(6)}`,
      'used_cpu_sys_children:0.000000',
      'used_cpu_user_children:0.000000',
    ];
  });
  section('modules', 'Modules', () => []);
  section('commandstats', 'Commandstats', () => {
    const lines: string[] = [];
    for (const s of commandById()) {
      if (s.calls === 0 && s.rejectedCalls === 0 && s.failedCalls === 0) continue;
      const per = s.calls > 0 ? (s.usec / s.calls).toFixed(2) : '0.00';
      lines.push(`cmdstat_${s.name}:calls=${s.calls},usec=${Math.round(s.usec)},usec_per_call=${per},rejected_calls=${s.rejectedCalls},failed_calls=${s.failedCalls}`);
    }
    return lines;
  });
  section('errorstats', 'Errorstats', () => []);
  section('cluster', 'Cluster', () => ['cluster_enabled:0']);
  section('keyspace', 'Keyspace', () => {
    const lines: string[] = [];
    for (let db = 0; db < srv.cfg.databases; db++) {
      const keys = srv.dbSize(db);
      if (keys > 0) lines.push(`db${db}:keys=${keys},expires=${srv.volatileCount(db)},avg_ttl=0`);
    }
    return lines;
  });
  return out.join('\r\n') + '\r\n';
}

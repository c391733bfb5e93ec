/**
 * INFO: Redis 7.0.15's sections, headers, section order and field names in its
 * order (server.c genRedisInfoString), so that tools parsing INFO find what they
 * look for. Fields for machinery Sabre does not have (forks, jemalloc, replication
 * links, ...) report Redis's idle values. Sabre's own fields come last in a section.
 */
import { pubsubChannelCount, pubsubPatternCount, pubsubShardChannelCount } from './pubsub';
import * as os from 'node:os';
import { persistenceInfo } from './durability';
import type { Server } from './server';
import type { Client } from './client';
import { Client as ClientClass } from './client';
import type { ExecContext } from '../commands/context';
import { commandById } from '../commands/table';
import { REDIS_COMPAT_VERSION, SABRE_VERSION } from './version';
import { lruClock } from '../store/keyspace';
import { bytesToHuman as human, infoMemoryHead, infoMemoryTail } from './memory';
import { defragStats } from '../store/defrag';

/** Every section in the order Redis emits them; a section is emitted only if requested. */
const SECTION_ORDER = [
  'server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules',
  'commandstats', 'errorstats', 'latencystats', 'cluster', 'keyspace',
] as const;
type Section = (typeof SECTION_ORDER)[number];

/** INFO with no argument, or "default". */
const DEFAULT_SECTIONS: readonly Section[] = [
  'server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'modules',
  'errorstats', 'cluster', 'keyspace',
];

/** INFO [section ...]: sections are case-insensitive; unknown ones add nothing. */
export function infoCommand(srv: Server, _cl: Client, c: ExecContext): void {
  const wanted = new Set<string>();
  if (c.argc === 1) for (const s of DEFAULT_SECTIONS) wanted.add(s);
  for (let j = 1; j < c.argc; j++) {
    const s = c.argString(j).toLowerCase();
    if (s === 'default') for (const x of DEFAULT_SECTIONS) wanted.add(x);
    else if (s === 'all' || s === 'everything') for (const x of SECTION_ORDER) wanted.add(x);
    else if (s === 'module_list') wanted.add('modules');
    else wanted.add(s);
  }
  c.w.verbatim(genInfo(srv, wanted));
}

/** The INFO text for a set of (lower-case) section names. */
export function genInfo(srv: Server, wanted: ReadonlySet<string>): string {
  let out = '';
  for (const name of SECTION_ORDER) {
    if (!wanted.has(name)) continue;
    if (out.length > 0) out += '\r\n';
    const [title, lines] = section(srv, name);
    out += `# ${title}\r\n`;
    for (const l of lines) out += l + '\r\n';
  }
  return out;
}

function section(srv: Server, name: Section): [string, string[]] {
  const now = Date.now();
  switch (name) {
    case 'server': {
      const uptime = Math.floor((now - srv.startTime) / 1000);
      return ['Server', [
        `redis_version:${REDIS_COMPAT_VERSION}`,
        'redis_git_sha1:00000000',
        'redis_git_dirty:0',
        'redis_build_id:0',
        'redis_mode:standalone',
        `os:${os.type()} ${os.release()} ${os.arch() === 'x64' ? 'x86_64' : os.arch()}`,
        'arch_bits:64',
        'monotonic_clock:POSIX clock_gettime',
        'multiplexing_api:epoll',
        'atomicvar_api:c11-builtin',
        'gcc_version:0.0.0',
        `process_id:${process.pid}`,
        'process_supervised:no',
        `run_id:${srv.runId}`,
        `tcp_port:${srv.boundPort()}`,
        `server_time_usec:${Math.floor((performance.timeOrigin + performance.now()) * 1000)}`,
        `uptime_in_seconds:${uptime}`,
        `uptime_in_days:${Math.floor(uptime / 86400)}`,
        `hz:${srv.cfg.hz}`,
        `configured_hz:${srv.cfg.hz}`,
        `lru_clock:${lruClock(now)}`,
        `executable:${process.argv[1] ?? ''}`,
        `config_file:${srv.cfg.configFile ?? ''}`,
        'io_threads_active:0',
        `sabre_version:${SABRE_VERSION}`,
        `shards:${srv.shardCount}`,
      ]];
    }
    case 'clients': {
      let maxIn = 0, maxOut = 0;
      for (const cl of srv.clients.values()) {
        const q = cl.qbuf ? cl.qbuf.length : cl.qbufChunkBytes;
        if (q > maxIn) maxIn = q;
        if (cl.outBytes > maxOut) maxOut = cl.outBytes;
      }
      return ['Clients', [
        `connected_clients:${srv.clients.size}`,
        'cluster_connections:0',
        `maxclients:${srv.cfg.maxclients}`,
        `client_recent_max_input_buffer:${maxIn}`,
        `client_recent_max_output_buffer:${maxOut}`,
        `blocked_clients:${srv.blocking.blockedClients}`,
        `tracking_clients:${srv.tracking.trackingClients()}`,
        'clients_in_timeout_table:0',
      ]];
    }
    case 'memory': {
      // Accounting lives in src/server/memory.ts (shared with MEMORY STATS).
      const maxmemory = srv.cfg.maxmemory;
      return ['Memory', [
        ...infoMemoryHead(srv),
        'used_memory_lua:0',
        'used_memory_vm_eval:0',
        'used_memory_lua_human:0B',
        'used_memory_scripts_eval:0',
        'number_of_cached_scripts:0',
        'number_of_functions:0',
        'number_of_libraries:0',
        'used_memory_vm_functions:0',
        'used_memory_vm_total:0',
        'used_memory_vm_total_human:0B',
        'used_memory_functions:0',
        'used_memory_scripts:0',
        'used_memory_scripts_human:0B',
        `maxmemory:${maxmemory}`,
        `maxmemory_human:${human(maxmemory)}`,
        `maxmemory_policy:${srv.cfg.maxmemoryPolicy}`,
        ...infoMemoryTail(srv),
      ]];
    }
    case 'persistence':
      return ['Persistence', persistenceInfo(srv)];
    case 'stats': {
      const st = srv.stats;
      const df = defragStats((srv.inlineStore ?? srv.pool!.allStore).keyspaces);
      return ['Stats', [
        `total_connections_received:${st.totalConnections}`,
        `total_commands_processed:${st.totalCommands}`,
        `instantaneous_ops_per_sec:${st.instantaneousOps()}`,
        `total_net_input_bytes:${st.netInputBytes}`,
        `total_net_output_bytes:${ClientClass.netOutputBytes}`,
        'total_net_repl_input_bytes:0',
        'total_net_repl_output_bytes:0',
        'instantaneous_input_kbps:0.00',
        'instantaneous_output_kbps:0.00',
        'instantaneous_input_repl_kbps:0.00',
        'instantaneous_output_repl_kbps:0.00',
        `rejected_connections:${st.rejectedConnections}`,
        'sync_full:0',
        'sync_partial_ok:0',
        'sync_partial_err:0',
        `expired_keys:${srv.expiredKeys()}`,
        'expired_stale_perc:0.00',
        'expired_time_cap_reached_count:0',
        'expire_cycle_cpu_milliseconds:0',
        `evicted_keys:${srv.evictedKeys()}`,
        'evicted_clients:0',
        'total_eviction_exceeded_time:0',
        'current_eviction_exceeded_time:0',
        `keyspace_hits:${srv.keyspaceHits()}`,
        `keyspace_misses:${srv.keyspaceMisses()}`,
        `pubsub_channels:${pubsubChannelCount()}`,
        `pubsub_patterns:${pubsubPatternCount()}`,
        `pubsubshard_channels:${pubsubShardChannelCount()}`,
        'latest_fork_usec:0',
        'total_forks:0',
        'migrate_cached_sockets:0',
        'slave_expires_tracked_keys:0',
        `active_defrag_hits:${df.hits}`,
        `active_defrag_misses:${df.misses}`,
        `active_defrag_key_hits:${df.keyHits}`,
        `active_defrag_key_misses:${df.keyMisses}`,
        `total_active_defrag_time:${df.totalMs}`,
        `current_active_defrag_time:${df.currentMs}`,
        `tracking_total_keys:${srv.tracking.table.size}`,
        `tracking_total_items:${srv.tracking.totalItems}`,
        `tracking_total_prefixes:${srv.tracking.prefixes.size}`,
        'unexpected_error_replies:0',
        `total_error_replies:${st.errorReplies}`,
        'dump_payload_sanitizations:0',
        'total_reads_processed:0',
        'total_writes_processed:0',
        'io_threaded_reads_processed:0',
        'io_threaded_writes_processed:0',
        'reply_buffer_shrinks:0',
        'reply_buffer_expands:0',
      ]];
    }
    case 'replication':
      return ['Replication', [
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
      ]];
    case 'cpu': {
      // Node reports the process; the io thread's own share is not available on Node 20.
      const u = process.cpuUsage();
      const sys = (u.system / 1e6).toFixed(6), user = (u.user / 1e6).toFixed(6);
      return ['CPU', [
        `used_cpu_sys:${sys}`,
        `used_cpu_user:${user}`,
        'used_cpu_sys_children:0.000000',
        'used_cpu_user_children:0.000000',
        `used_cpu_sys_main_thread:${sys}`,
        `used_cpu_user_main_thread:${user}`,
      ]];
    }
    case 'modules':
      return ['Modules', []];
    case 'commandstats': {
      const lines: string[] = [];
      for (const s of commandById()) {
        if (s.calls === 0 && s.rejectedCalls === 0 && s.failedCalls === 0) continue;
        const usec = Math.floor(s.usec);
        const per = s.calls > 0 ? (usec / s.calls).toFixed(2) : '0.00';
        lines.push(`cmdstat_${s.name}:calls=${s.calls},usec=${usec},usec_per_call=${per},rejected_calls=${s.rejectedCalls},failed_calls=${s.failedCalls}`);
      }
      return ['Commandstats', lines];
    }
    case 'errorstats': {
      // Redis keeps them in a radix tree: sorted by prefix bytes.
      const prefixes = [...srv.errorStats.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return ['Errorstats', prefixes.map((p) => `errorstat_${p}:count=${srv.errorStats.get(p)}`)];
    }
    case 'latencystats': {
      // Sabre keeps no per-command latency histogram yet: every percentile is the mean.
      const lines: string[] = [];
      for (const s of commandById()) {
        if (s.calls === 0) continue;
        const mean = (s.usec / s.calls).toFixed(3);
        lines.push(`latency_percentiles_usec_${s.name}:p50=${mean},p99=${mean},p99.9=${mean}`);
      }
      return ['Latencystats', lines];
    }
    case 'cluster':
      return ['Cluster', ['cluster_enabled:0']];
    case 'keyspace': {
      const lines: string[] = [];
      for (let db = 0; db < srv.cfg.databases; db++) {
        const keys = srv.dbSize(db);
        if (keys > 0) lines.push(`db${db}:keys=${keys},expires=${srv.volatileCount(db)},avg_ttl=0`);
      }
      return ['Keyspace', lines];
    }
  }
}

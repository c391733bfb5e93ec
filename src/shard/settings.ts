/**
 * The few configuration values a shard thread reads, kept per thread and updated by
 * control records when CONFIG SET changes them on the io thread.
 */
import { keyspaceEventsStringToFlags } from '../server/config';
import { effectiveNotifyFlags } from '../commands/context';
import { objectPolicy } from '../commands/keys';
import { EVICT_SETTING_NAMES, evictConfig, setEvictSetting } from '../store/evict';

export const shardSettings = {
  hz: 10,
  activeExpireEffort: 1,
  protoMaxBulkLen: 512 * 1024 * 1024,
  maxmemoryPolicy: 'noeviction',
  slowlogLogSlowerThan: 10000,
  // Collection encodings switch at Redis's thresholds (CONFIG names in SHARD_SETTING_NAMES).
  hashMaxListpackEntries: 512, // this Redis 7.0.15 build's default (CONFIG GET on the reference)
  hashMaxListpackValue: 64,
  setMaxIntsetEntries: 512,
  zsetMaxListpackEntries: 128,
  zsetMaxListpackValue: 64,
  listMaxListpackSize: -2,
  listCompressDepth: 0,
  /** notify-keyspace-events as handlers test it (0 unless K or E is on). */
  notifyFlags: 0,
};

export const SHARD_SETTING_NAMES = [
  'hz', 'active-expire-effort', 'proto-max-bulk-len', 'maxmemory-policy', 'slowlog-log-slower-than',
  'hash-max-listpack-entries', 'hash-max-listpack-value', 'set-max-intset-entries', 'zset-max-listpack-entries',
  'zset-max-listpack-value', 'list-max-listpack-size', 'list-compress-depth', 'notify-keyspace-events',
  ...EVICT_SETTING_NAMES.filter((n) => n !== 'maxmemory-policy'),
];

export function applyShardSetting(name: string, value: string): void {
  if (EVICT_SETTING_NAMES.includes(name)) {
    setEvictSetting(name, value);
    // OBJECT FREQ / IDLETIME and RESTORE's FREQ / IDLETIME read the record bits the policy keeps.
    objectPolicy.lfu = evictConfig.lfu;
    objectPolicy.lfuDecayTime = evictConfig.lfuDecayTime;
  }
  switch (name) {
    case 'hz': shardSettings.hz = Math.min(500, Math.max(1, Number(value) || 10)); break;
    case 'active-expire-effort': shardSettings.activeExpireEffort = Number(value) || 1; break;
    case 'proto-max-bulk-len': shardSettings.protoMaxBulkLen = Number(value); break;
    case 'maxmemory-policy': shardSettings.maxmemoryPolicy = value; break;
    case 'slowlog-log-slower-than': shardSettings.slowlogLogSlowerThan = Number(value); break;
    case 'hash-max-listpack-entries': shardSettings.hashMaxListpackEntries = Number(value); break;
    case 'hash-max-listpack-value': shardSettings.hashMaxListpackValue = Number(value); break;
    case 'set-max-intset-entries': shardSettings.setMaxIntsetEntries = Number(value); break;
    case 'zset-max-listpack-entries': shardSettings.zsetMaxListpackEntries = Number(value); break;
    case 'zset-max-listpack-value': shardSettings.zsetMaxListpackValue = Number(value); break;
    case 'list-max-listpack-size': shardSettings.listMaxListpackSize = Number(value); break;
    case 'list-compress-depth': shardSettings.listCompressDepth = Number(value); break;
    case 'notify-keyspace-events': {
      const f = keyspaceEventsStringToFlags(value);
      shardSettings.notifyFlags = f < 0 ? 0 : effectiveNotifyFlags(f);
      break;
    }
  }
}

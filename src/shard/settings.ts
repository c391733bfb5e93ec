/**
 * The few configuration values a shard thread reads, kept per thread and updated by
 * control records when CONFIG SET changes them on the io thread.
 */
export const shardSettings = {
  hz: 10,
  activeExpireEffort: 1,
  protoMaxBulkLen: 512 * 1024 * 1024,
  maxmemoryPolicy: 'noeviction',
  slowlogLogSlowerThan: 10000,
};

export const SHARD_SETTING_NAMES = ['hz', 'active-expire-effort', 'proto-max-bulk-len', 'maxmemory-policy', 'slowlog-log-slower-than'];

export function applyShardSetting(name: string, value: string): void {
  switch (name) {
    case 'hz': shardSettings.hz = Math.min(500, Math.max(1, Number(value) || 10)); break;
    case 'active-expire-effort': shardSettings.activeExpireEffort = Number(value) || 1; break;
    case 'proto-max-bulk-len': shardSettings.protoMaxBulkLen = Number(value); break;
    case 'maxmemory-policy': shardSettings.maxmemoryPolicy = value; break;
    case 'slowlog-log-slower-than': shardSettings.slowlogLogSlowerThan = Number(value); break;
  }
}

/**
 * Pub/sub commands Sabre enables. They all run on the io thread (handlers and state in
 * src/server/pubsub.ts, registered into localHandlers); none has a getkeys proc.
 * SSUBSCRIBE/SUNSUBSCRIBE/SPUBLISH carry "not_key" key specs (the shard channel), which
 * matter only to cluster routing.
 */
export const PUBSUB_COMMANDS: readonly string[] = [
  'subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'publish',
  'ssubscribe', 'sunsubscribe', 'spublish',
  'pubsub|channels', 'pubsub|numsub', 'pubsub|numpat', 'pubsub|shardchannels', 'pubsub|shardnumsub', 'pubsub|help',
];

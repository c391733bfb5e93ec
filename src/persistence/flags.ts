/**
 * Persistence flags every thread reads, in a small SharedArrayBuffer the io thread owns:
 * whether writes propagate to the AOF, and whether replies wait for fsync. The io thread
 * flips them while the shards are parked (or between their batches), so a shard sees a
 * change at a batch boundary.
 */
export const PERSIST_AOF_ON = 0; // 1: write effects go to the effect log (appendonly yes, past the rewrite cut)
export const PERSIST_FSYNC_ALWAYS = 1; // 1: appendfsync always: acknowledge only durable effects
export const PERSIST_WORDS = 2;

export function createPersistFlags(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(PERSIST_WORDS * 4));
}

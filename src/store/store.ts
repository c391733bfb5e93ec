/**
 * The keyspaces a command may touch on the thread that runs it, and how a key finds
 * its keyspace: CRC16 slot, then the slot table (as Redis Cluster). On a shard worker
 * it is the worker's own keyspace; on the io thread it is every shard's, either inline
 * (`--shards 0`) or while a cross-shard transaction holds the shards parked.
 */
import { Keyspace } from './keyspace';
import { keyHashSlot } from '../util/crc16';

export const SLOTS = 16384;

export class Store {
  /** Indexed by logical shard. */
  readonly keyspaces: Keyspace[];
  /** slot -> logical shard, shared by every thread. */
  readonly slotTable: Uint16Array;
  /** Set when every key routes to one keyspace: no hashing needed. */
  readonly single: Keyspace | null;
  readonly dbCount: number;

  constructor(keyspaces: Keyspace[], slotTable: Uint16Array, single: Keyspace | null) {
    this.keyspaces = keyspaces;
    this.slotTable = slotTable;
    this.single = single;
    this.dbCount = keyspaces[0].dbCount;
  }

  /** The keyspace holding `key`. */
  ks(key: Uint8Array, start: number, end: number): Keyspace {
    return this.single ?? this.keyspaces[this.slotTable[keyHashSlot(key, start, end)]];
  }

  /** Keys in db across every shard. */
  size(db: number): number {
    let n = 0;
    for (let i = 0; i < this.keyspaces.length; i++) n += this.keyspaces[i].size(db);
    return n;
  }
}

/** Slot table spreading 16384 slots over n shards in contiguous ranges, like a fresh cluster. */
export function makeSlotTable(shards: number, sab?: SharedArrayBuffer): Uint16Array {
  const t = sab ? new Uint16Array(sab) : new Uint16Array(new SharedArrayBuffer(SLOTS * 2));
  if (!sab) for (let s = 0; s < SLOTS; s++) t[s] = Math.floor((s * shards) / SLOTS);
  return t;
}

/**
 * Keyspace notifications (Redis's notify.c): a handler's notify() becomes a publish of
 * `__keyspace@<db>__:<key>` → event and/or `__keyevent@<db>__:<event>` → key, as
 * notify-keyspace-events selects. Handlers run on the io thread (inline, transactions)
 * or on shard workers; a worker's events travel to the io thread in its reply ring, in
 * one record ahead of the reply of the command that caused them (ShardEvents below), and
 * pub/sub, which lives on the io thread, delivers them.
 */
import type { Server } from './server';
import { publish } from './pubsub';
import {
  NOTIFY_EVICTED, NOTIFY_EXPIRED, NOTIFY_GENERIC, NOTIFY_HASH, NOTIFY_KEYEVENT, NOTIFY_KEYSPACE, NOTIFY_KEY_MISS, NOTIFY_LIST,
  NOTIFY_NEW, NOTIFY_SET, NOTIFY_STREAM, NOTIFY_STRING, NOTIFY_ZSET, effectiveNotifyFlags,
} from '../commands/context';
export { effectiveNotifyFlags } from '../commands/context';

/** Publish one keyspace event (the class was already checked by the caller). */
export function publishKeyspaceEvent(srv: Server, event: string, db: number, key: Uint8Array, ks: number, ke: number): void {
  const flags = srv.cfg.notifyKeyspaceEvents;
  const keyBuf = Buffer.from(key.buffer, key.byteOffset + ks, ke - ks);
  const eventBuf = Buffer.from(event, 'latin1');
  if ((flags & NOTIFY_KEYSPACE) !== 0) {
    const chan = Buffer.concat([Buffer.from(`__keyspace@${db}__:`, 'latin1'), keyBuf]);
    publish(srv, chan, 0, chan.length, eventBuf, 0, eventBuf.length);
  }
  if ((flags & NOTIFY_KEYEVENT) !== 0) {
    const chan = Buffer.from(`__keyevent@${db}__:${event}`, 'latin1');
    publish(srv, chan, 0, chan.length, keyBuf, 0, keyBuf.length);
  }
}

/**
 * The io thread's notify sink. While CLIENT TRACKING is on every class is raised (the key
 * changed: src/server/tracking.ts); only the classes notify-keyspace-events selects are
 * published. Redis signals a modified key before its event, an expired one after.
 */
export function keyspaceEvent(srv: Server, cls: number, event: string, db: number, key: Uint8Array, ks: number, ke: number): void {
  const tracking = srv.tracking;
  const noModifier = cls === NOTIFY_EXPIRED || cls === NOTIFY_EVICTED;
  const modifies = tracking.on && cls !== NOTIFY_KEY_MISS && cls !== NOTIFY_NEW;
  if (modifies && !noModifier) tracking.keyModified(key, ks, ke, false);
  if ((effectiveNotifyFlags(srv.cfg.notifyKeyspaceEvents) & cls) !== 0) {
    tracking.publishing = true;
    publishKeyspaceEvent(srv, event, db, key, ks, ke);
    tracking.publishing = false;
  }
  if (modifies && noModifier) tracking.keyModified(key, ks, ke, true);
}

/** Each event's class (Redis's notifyKeyspaceEvent calls), to publish only the selected ones. */
const EVENT_CLASS = new Map<string, number>();
for (const [cls, names] of [
  [NOTIFY_GENERIC, 'del rename_from rename_to move_from move_to copy_to restore expire persist'],
  [NOTIFY_STRING, 'set setrange incrby incrbyfloat append'],
  [NOTIFY_LIST, 'lpush rpush lpop rpop linsert lset lrem ltrim sortstore'],
  [NOTIFY_SET, 'sadd srem spop sinterstore sunionstore sdiffstore'],
  [NOTIFY_HASH, 'hset hincrby hincrbyfloat hdel'],
  [NOTIFY_ZSET, 'zadd zincr zrem zremrangebyrank zremrangebyscore zremrangebylex zunionstore zinterstore zdiffstore zrangestore zpopmin zpopmax'],
  [NOTIFY_STREAM, 'xadd xtrim xdel xgroup-create xgroup-createconsumer xgroup-delconsumer xgroup-destroy xgroup-setid xsetid'],
  [NOTIFY_EXPIRED, 'expired'], [NOTIFY_EVICTED, 'evicted'], [NOTIFY_KEY_MISS, 'keymiss'], [NOTIFY_NEW, 'new'],
] as [number, string][]) for (const n of names.split(' ')) EVENT_CLASS.set(n, cls);

/**
 * The io thread: publish the events of a REPLY_EVENT record, and hand the modified keys to
 * CLIENT TRACKING (shards raise every class while it is on; see tracking.ts).
 */
/** What publishShardEvents does: tell CLIENT TRACKING, publish to subscribers, or both. */
export const EVENTS_TRACK = 1;
export const EVENTS_PUBLISH = 2;

export function publishShardEvents(srv: Server, d: Buffer, start: number, end: number, what = EVENTS_TRACK | EVENTS_PUBLISH): void {
  const tracking = srv.tracking;
  const userFlags = effectiveNotifyFlags(srv.cfg.notifyKeyspaceEvents);
  let p = start;
  while (p < end) {
    const db = d.readUInt16LE(p);
    const elen = d[p + 2];
    const event = d.toString('latin1', p + 3, p + 3 + elen);
    p += 3 + elen;
    const klen = d.readUInt32LE(p);
    p += 4;
    const cls = EVENT_CLASS.get(event) ?? NOTIFY_GENERIC;
    // Without tracking, shards raise only the selected classes.
    if ((what & EVENTS_PUBLISH) !== 0 && (!tracking.on || (userFlags & cls) !== 0)) {
      tracking.publishing = true;
      publishKeyspaceEvent(srv, event, db, d, p, p + klen);
      tracking.publishing = false;
    }
    if ((what & EVENTS_TRACK) !== 0 && tracking.on && cls !== NOTIFY_KEY_MISS && cls !== NOTIFY_NEW) {
      tracking.shardKeyModified(d, p, p + klen, cls === NOTIFY_EXPIRED || cls === NOTIFY_EVICTED);
    }
    p += klen;
  }
}

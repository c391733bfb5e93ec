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
import { NOTIFY_KEYEVENT, NOTIFY_KEYSPACE } from '../commands/context';
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

/** The io thread: publish the events of a REPLY_EVENT record. */
export function publishShardEvents(srv: Server, d: Buffer, start: number, end: number): void {
  let p = start;
  while (p < end) {
    const db = d.readUInt16LE(p);
    const elen = d[p + 2];
    const event = d.toString('latin1', p + 3, p + 3 + elen);
    p += 3 + elen;
    const klen = d.readUInt32LE(p);
    p += 4;
    publishKeyspaceEvent(srv, event, db, d, p, p + klen);
    p += klen;
  }
}

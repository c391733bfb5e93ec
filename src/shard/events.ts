/** Keyspace notifications raised on a shard worker, on their way to the io thread (src/server/notifications.ts). */
import { ByteBuffer } from '../util/byte-buffer';

/**
 * A shard worker's events of one command, encoded for the reply ring:
 * per event `u16 db | u8 eventLen | event | u32 keyLen | key`.
 */
export class ShardEvents extends ByteBuffer {
  add(event: string, db: number, key: Uint8Array, ks: number, ke: number): void {
    const klen = ke - ks;
    this.reserve(7 + event.length + klen);
    const b = this.buf;
    let p = this.len;
    b.writeUInt16LE(db, p);
    b[p + 2] = event.length;
    p += 3;
    p += b.write(event, p, 'latin1');
    b.writeUInt32LE(klen, p);
    p += 4;
    b.set(key.subarray(ks, ke), p);
    this.len = p + klen;
  }
}

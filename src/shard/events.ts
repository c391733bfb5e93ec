/** Keyspace notifications raised on a shard worker, on their way to the io thread (src/server/notifications.ts). */
/**
 * A shard worker's events of one command, encoded for the reply ring:
 * per event `u16 db | u8 eventLen | event | u32 keyLen | key`.
 */
export class ShardEvents {
  buf = Buffer.allocUnsafe(4096);
  len = 0;

  add(event: string, db: number, key: Uint8Array, ks: number, ke: number): void {
    const klen = ke - ks, need = 7 + event.length + klen;
    if (this.len + need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + need));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
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

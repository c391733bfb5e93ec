/**
 * The writes list (native-layout/script-mailbox.md): what a script (or a request of the
 * script thread) wrote, sent to the io thread for WATCH touches, blocked clients' wake-ups
 * and CLIENT TRACKING. Per entry: u16 db, u16 cmdId, u16 command index, u16 kind (MBW_*),
 * u32 argc, argc × (u32 len, bytes). Written by the script thread and by shard VMs
 * (REPLY_WRITES), read by the io thread.
 */
import { MB_WRITE_HEADER } from '../../native-layout/script-mailbox';
import { ByteBuffer } from '../util/byte-buffer';

export class WritesList extends ByteBuffer {
  append(kind: number, db: number, cmdId: number, index: number, src: Buffer, as: Int32Array, ae: Int32Array, argc: number): void {
    let n = MB_WRITE_HEADER;
    for (let i = 0; i < argc; i++) n += 4 + ae[i] - as[i];
    this.reserve(n);
    const b = this.buf;
    let p = this.len;
    b.writeUInt16LE(db, p);
    b.writeUInt16LE(cmdId, p + 2);
    b.writeUInt16LE(index, p + 4);
    b.writeUInt16LE(kind, p + 6);
    b.writeUInt32LE(argc, p + 8);
    p += MB_WRITE_HEADER;
    for (let i = 0; i < argc; i++) {
      const len = ae[i] - as[i];
      b.writeUInt32LE(len, p);
      src.copy(b, p + 4, as[i], ae[i]);
      p += 4 + len;
    }
    this.len = p;
  }
}

/** Walks a writes list: read(b, p) decodes the entry at p into its fields and returns the next one's offset. */
export class WritesReader {
  db = 0;
  cmdId = 0;
  index = 0;
  kind = 0;
  argc = 0;
  /** The entry's arguments: b[as[i], ae[i]). */
  as = new Int32Array(16);
  ae = new Int32Array(16);

  read(b: Buffer, p: number): number {
    this.db = b.readUInt16LE(p);
    this.cmdId = b.readUInt16LE(p + 2);
    this.index = b.readUInt16LE(p + 4);
    this.kind = b.readUInt16LE(p + 6);
    const argc = (this.argc = b.readUInt32LE(p + 8));
    p += MB_WRITE_HEADER;
    if (this.as.length < argc) {
      this.as = new Int32Array(argc * 2);
      this.ae = new Int32Array(argc * 2);
    }
    for (let i = 0; i < argc; i++) {
      const len = b.readUInt32LE(p);
      this.as[i] = p + 4;
      this.ae[i] = p + 4 + len;
      p += 4 + len;
    }
    return p;
  }
}

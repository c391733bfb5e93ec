/**
 * Reading AOF files frame by frame (native-layout/aof.md): the incr files a manifest lists
 * (the base snapshot is read by the snapshot loader; `baseFile` names it), or one plain
 * file (sabre-check-aof). A torn last frame of the last file is reported (`truncatedAt`)
 * for the caller to cut off with a warning; any other bad frame throws AofFormatError
 * naming file and offset.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FRAME_HEADER } from '../../native-layout/aof';
import { FRAME_OK, FRAME_TRUNCATED, FrameInfo, checkHeader, decodeFrame, frameStatusText, newFrameInfo } from './aof-frame';
import { AofManifest, readManifest as readManifestFile } from './manifest';

export { readManifestFile as readManifest };

export interface AofLocation {
  file: string;
  offset: number;
}

export class AofFormatError extends Error {
  constructor(readonly file: string, readonly offset: number, readonly reason: string) {
    super(`Bad AOF frame in ${file} at offset ${offset}: ${reason}`);
    this.name = 'AofFormatError';
  }
}

/** Sequential frame reader over one file. */
export class FrameFileReader {
  readonly path: string;
  readonly size: number;
  /** Offset of the next frame (after next() returned null: where the valid data ends). */
  offset = 0;
  /** Offset of the frame next() returned last. */
  frameOffset = 0;
  /** Offset of a torn last frame (only when opened with allowTruncated), else -1. */
  truncatedAt = -1;
  private fd: number;
  private readonly hdr = Buffer.allocUnsafe(FRAME_HEADER);
  private readonly info: FrameInfo = newFrameInfo();

  constructor(file: string, private readonly allowTruncated: boolean) {
    this.path = file;
    this.fd = fs.openSync(file, 'r');
    this.size = fs.fstatSync(this.fd).size;
  }

  /** The next frame's decompressed payload, or null at the end (or at a tolerated torn tail). */
  next(): Buffer | null {
    const pos = this.offset;
    if (pos >= this.size) return null;
    const avail = Math.min(FRAME_HEADER, this.size - pos);
    readFully(this.fd, this.hdr, avail, pos);
    let st = checkHeader(this.hdr, 0, avail, this.info);
    if (st === FRAME_OK || (st === FRAME_TRUNCATED && avail === FRAME_HEADER)) {
      const size = this.info.size;
      const have = Math.min(size, this.size - pos);
      const frame = Buffer.allocUnsafe(have);
      readFully(this.fd, frame, have, pos);
      st = decodeFrame(frame, 0, have, this.info);
    }
    if (st === FRAME_OK) {
      this.frameOffset = pos;
      this.offset = pos + this.info.size;
      return this.info.payload;
    }
    if (st === FRAME_TRUNCATED && this.allowTruncated) {
      this.truncatedAt = pos;
      return null;
    }
    throw new AofFormatError(this.path, pos, st === FRAME_TRUNCATED ? 'truncated frame not at the end of the last file' : frameStatusText(st));
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function readFully(fd: number, buf: Buffer, n: number, pos: number): void {
  let got = 0;
  while (got < n) {
    const r = fs.readSync(fd, buf, got, n - got, pos + got);
    if (r === 0) throw new Error(`short read at ${pos + got}`);
    got += r;
  }
}

export interface AofFrame {
  file: string;
  offset: number;
  /** Decompressed frame payload: RESP commands (Redis AOF text). */
  data: Buffer;
}

/**
 * Iterates the incr files' frames in order. next() returns null at the end; then
 * `truncatedAt` is set if the last file ends in a torn frame.
 */
export class AofReader {
  /** Path of the base snapshot file, if the manifest has one. */
  readonly baseFile: string | null;
  readonly incrFiles: string[];
  truncatedAt: AofLocation | null = null;
  private idx = 0;
  private cur: FrameFileReader | null = null;

  private constructor(baseFile: string | null, incrFiles: string[]) {
    this.baseFile = baseFile;
    this.incrFiles = incrFiles;
  }

  /** The files of `manifest` in `dir` (every listed file must exist). */
  static fromManifest(dir: string, manifest: AofManifest): AofReader {
    const base = manifest.base ? path.join(dir, manifest.base.fileName) : null;
    const incr = manifest.incr.map((ai) => path.join(dir, ai.fileName));
    for (const f of base ? [base, ...incr] : incr) {
      if (!fs.existsSync(f)) throw new Error(`The AOF file ${path.basename(f)} doesn't exist`);
    }
    return new AofReader(base, incr);
  }

  /** One plain file of frames, read as the last (and only) incr file. */
  static fromFile(file: string): AofReader {
    return new AofReader(null, [file]);
  }

  next(): AofFrame | null {
    for (;;) {
      if (this.cur === null) {
        if (this.idx >= this.incrFiles.length) return null;
        const last = this.idx === this.incrFiles.length - 1;
        this.cur = new FrameFileReader(this.incrFiles[this.idx], last);
      }
      const r = this.cur;
      let data: Buffer | null;
      try {
        data = r.next();
      } catch (e) {
        this.close();
        throw e;
      }
      if (data !== null) return { file: r.path, offset: r.frameOffset, data };
      if (r.truncatedAt >= 0) this.truncatedAt = { file: r.path, offset: r.truncatedAt };
      r.close();
      this.cur = null;
      this.idx++;
    }
  }

  close(): void {
    if (this.cur) this.cur.close();
    this.cur = null;
    this.idx = this.incrFiles.length;
  }
}

/** Cut a torn tail off (the loader after a `truncatedAt` report, check-aof --fix). */
export function truncateAt(loc: AofLocation): void {
  fs.truncateSync(loc.file, loc.offset);
}

#!/usr/bin/env node
/**
 * sabre-check-aof [--fix] <file|manifest>: checks Sabre AOF files frame by frame, as
 * redis-check-aof checks Redis's. Given a manifest, it checks the base (frames only) and every
 * incr file (frames, and that each frame holds whole RESP commands). Exit 0 when everything
 * is valid; otherwise it names the file and offset of the first bad frame and exits 1.
 * --fix truncates the LAST file at its first bad position and prints what it dropped (no
 * confirmation prompt, unlike redis-check-aof); a bad frame in any other file is not fixable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FRAME_MAGIC } from '../../native-layout/aof';
import { OP_HEADER, SNAP_MAGIC } from '../../native-layout/snapshot';
import { AofFormatError, FrameFileReader } from '../persistence/aof-reader';
import { AofManifest, parseManifest } from '../persistence/manifest';

type Out = (line: string) => void;

interface FileResult {
  size: number;
  okUpTo: number;
  frames: number;
  error: string | null;
}

/** Length of one RESP array of bulk strings at b[pos], or -1 if malformed/incomplete. */
function respCommandEnd(b: Buffer, pos: number): number {
  const readLine = (p: number, lead: number): [number, number] => {
    if (b[p] !== lead) return [-1, 0];
    const cr = b.indexOf(0x0d, p + 1);
    if (cr < 0 || b[cr + 1] !== 0x0a || cr === p + 1) return [-1, 0];
    const s = b.toString('latin1', p + 1, cr);
    if (!/^\d+$/.test(s)) return [-1, 0];
    return [cr + 2, Number(s)];
  };
  let [p, argc] = readLine(pos, 0x2a);
  if (p < 0 || argc < 1) return -1;
  while (argc-- > 0) {
    const [q, len] = readLine(p, 0x24);
    if (q < 0 || q + len + 2 > b.length || b[q + len] !== 0x0d || b[q + len + 1] !== 0x0a) return -1;
    p = q + len + 2;
  }
  return p;
}

function checkFile(file: string, isIncr: boolean): FileResult {
  const r = new FrameFileReader(file, true);
  const res: FileResult = { size: r.size, okUpTo: 0, frames: 0, error: null };
  try {
    for (;;) {
      const data = r.next();
      if (data === null) break;
      // A snapshot file (a base checked on its own) holds entries, not commands.
      if (res.frames === 0 && data[0] === OP_HEADER && data.toString('latin1', 1, 1 + SNAP_MAGIC.length) === SNAP_MAGIC) {
        isIncr = false;
      }
      if (isIncr) {
        for (let p = 0; p < data.length;) {
          const e = respCommandEnd(data, p);
          if (e < 0) throw new AofFormatError(file, r.frameOffset, `bad RESP command at byte ${p} of the frame`);
          p = e;
        }
      }
      res.frames++;
      res.okUpTo = r.offset;
    }
    if (r.truncatedAt >= 0) res.error = new AofFormatError(file, r.truncatedAt, 'truncated frame').message;
  } catch (e) {
    if (!(e instanceof AofFormatError)) throw e;
    res.error = e.message;
    res.okUpTo = e.offset;
  } finally {
    r.close();
  }
  return res;
}

function isFramesFile(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = fs.readSync(fd, b, 0, 4, 0);
    return n === 4 && b.readUInt32LE(0) === FRAME_MAGIC;
  } finally {
    fs.closeSync(fd);
  }
}

/** Check (and fix) one file; returns false when it is bad and was not fixed. */
function checkOne(file: string, isIncr: boolean, last: boolean, fix: boolean, out: Out): boolean {
  const name = path.basename(file);
  const r = checkFile(file, isIncr);
  const diff = r.size - r.okUpTo;
  out(`AOF analyzed: filename=${name}, size=${r.size}, ok_up_to=${r.okUpTo}, ok_up_to_frame=${r.frames}, diff=${diff}`);
  if (r.error === null) {
    out(`AOF ${name} is valid`);
    return true;
  }
  out(r.error);
  if (!fix) {
    out(`AOF ${name} is not valid. Use the --fix option to try fixing it.`);
    return false;
  }
  if (!last) {
    out(`Failed to truncate AOF ${name} because it is not the last file`);
    return false;
  }
  out(`This will shrink the AOF ${name} from ${r.size} bytes, with ${diff} bytes, to ${r.okUpTo} bytes`);
  try {
    fs.truncateSync(file, r.okUpTo);
  } catch (e) {
    out(`Failed to truncate AOF ${name}: ${(e as Error).message}`);
    return false;
  }
  out(`Successfully truncated AOF ${name}: dropped ${diff} bytes after ${r.frames} valid frames`);
  return true;
}

/** The tool's body: returns the exit code. */
export function checkAofMain(args: string[], out: Out = (l) => process.stdout.write(l + '\n')): number {
  let fix = false;
  let file: string;
  if (args.length === 1) {
    file = args[0];
  } else if (args.length === 2) {
    if (args[0] !== '--fix') {
      out(`Invalid argument: ${args[0]}`);
      return 1;
    }
    fix = true;
    file = args[1];
  } else {
    out('Usage: sabre-check-aof [--fix] <file.manifest|file.aof>');
    return 1;
  }
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    out(`Cannot open file: ${file}`);
    return 1;
  }
  if (size === 0) {
    out(`Empty file: ${file}`);
    return 1;
  }
  if (isFramesFile(file)) {
    out('Start checking Sabre AOF file');
    return checkOne(file, true, true, fix, out) ? 0 : 1;
  }
  let m: AofManifest;
  try {
    m = parseManifest(fs.readFileSync(file));
  } catch (e) {
    out(`Invalid AOF manifest file format: ${(e as Error).message}`);
    return 1;
  }
  out('Start checking Multi Part AOF');
  const dir = path.dirname(file);
  const total = (m.base ? 1 : 0) + m.incr.length;
  let i = 0;
  if (m.base) {
    out('Start to check BASE AOF (Sabre snapshot format).');
    const p = path.join(dir, m.base.fileName);
    if (!fs.existsSync(p)) {
      out(`AOF ${m.base.fileName} does not exist`);
      return 1;
    }
    if (!checkOne(p, false, ++i === total, fix, out)) return 1;
  }
  if (m.incr.length) out('Start to check INCR files.');
  for (const ai of m.incr) {
    const p = path.join(dir, ai.fileName);
    if (!fs.existsSync(p)) {
      out(`AOF ${ai.fileName} does not exist`);
      return 1;
    }
    if (!checkOne(p, true, ++i === total, fix, out)) return 1;
  }
  out('All AOF files and manifest are valid');
  return 0;
}

if (require.main === module) {
  process.exitCode = checkAofMain(process.argv.slice(2));
}

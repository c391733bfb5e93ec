/**
 * The AOF manifest in Redis 7's text format (native-layout/aof.md): formatting as aof.c's
 * aofInfoFormat/getAofManifestAsString does (names quoted with sdscatrepr when
 * sdsneedsrepr), parsing as aofLoadManifestFromFile does (sdssplitargs), and the
 * manifest edits of a rewrite (new base, history, new incr).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  AOF_FILE_TYPE_BASE, AOF_FILE_TYPE_HIST, AOF_FILE_TYPE_INCR, BASE_FILE_SUFFIX, BASE_FORMAT_SUFFIX,
  INCR_FILE_SUFFIX, INCR_FORMAT_SUFFIX, MANIFEST_MAX_LINE, MANIFEST_SUFFIX, TEMP_FILE_PREFIX,
} from '../../native-layout/aof';

export type AofFileType = 'b' | 'h' | 'i';

export interface AofInfo {
  fileName: string;
  fileSeq: number;
  fileType: AofFileType;
}

export interface AofManifest {
  base: AofInfo | null;
  history: AofInfo[];
  incr: AofInfo[];
  currBaseFileSeq: number;
  currIncrFileSeq: number;
}

/** Thrown by parseManifest with Redis's message; `line`/`lineText` locate it when known. */
export class ManifestError extends Error {
  constructor(readonly reason: string, readonly line: number, readonly lineText: string | null) {
    super(lineText === null ? reason : `${reason} (manifest line ${line}: '${lineText}')`);
    this.name = 'ManifestError';
  }
}

export function emptyManifest(): AofManifest {
  return { base: null, history: [], incr: [], currBaseFileSeq: 0, currIncrFileSeq: 0 };
}

export function dupManifest(m: AofManifest): AofManifest {
  return {
    base: m.base ? { ...m.base } : null,
    history: m.history.map((a) => ({ ...a })),
    incr: m.incr.map((a) => ({ ...a })),
    currBaseFileSeq: m.currBaseFileSeq,
    currIncrFileSeq: m.currIncrFileSeq,
  };
}

export { sdsCatRepr, sdsNeedsRepr, sdsSplitArgs } from '../util/sds';
import { sdsCatRepr, sdsNeedsRepr, sdsSplitArgs } from '../util/sds';

// ---- format / parse --------------------------------------------------------------------

/** One manifest line, as aofInfoFormat writes it. */
export function formatAofInfo(ai: AofInfo): string {
  const name = Buffer.from(ai.fileName, 'utf8');
  const repr = sdsNeedsRepr(name) ? sdsCatRepr(name) : ai.fileName;
  return `file ${repr} seq ${ai.fileSeq} type ${ai.fileType}\n`;
}

/** The whole manifest: base, then history, then incr files (getAofManifestAsString). */
export function formatManifest(m: AofManifest): string {
  let s = '';
  if (m.base) s += formatAofInfo(m.base);
  for (const ai of m.history) s += formatAofInfo(ai);
  for (const ai of m.incr) s += formatAofInfo(ai);
  return s;
}

function isBaseName(name: string): boolean {
  return !name.includes('/') && !name.includes('\\');
}

/** Parse manifest text with aofLoadManifestFromFile's rules and error messages. */
export function parseManifest(text: Buffer | string): AofManifest {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const m = emptyManifest();
  let maxSeq = 0;
  let linenum = 0;
  let p = 0;
  if (buf.length === 0) throw new ManifestError('Found an empty AOF manifest', 0, null);
  while (p < buf.length) {
    // fgets with a 1025-byte buffer: a line without '\n' in it is "too long" (or unterminated).
    let nl = buf.indexOf(0x0a, p);
    const lineEnd = nl < 0 ? buf.length : nl + 1;
    const chunkEnd = Math.min(lineEnd, p + MANIFEST_MAX_LINE);
    linenum++;
    if (buf[p] === 0x23) { // '#' comment
      p = chunkEnd;
      continue;
    }
    if (nl < 0 || nl >= chunkEnd) {
      throw new ManifestError('The AOF manifest file contains too long line', linenum, null);
    }
    // sdstrim(" \t\r\n")
    let s = p;
    let e = nl + 1;
    while (s < e && (buf[s] === 0x20 || buf[s] === 0x09 || buf[s] === 0x0d || buf[s] === 0x0a)) s++;
    while (e > s && (buf[e - 1] === 0x20 || buf[e - 1] === 0x09 || buf[e - 1] === 0x0d || buf[e - 1] === 0x0a)) e--;
    const line = buf.subarray(s, e);
    const lineText = line.toString('latin1');
    if (line.length === 0) throw new ManifestError('Invalid AOF manifest file format', linenum, lineText);
    const argv = sdsSplitArgs(line);
    if (argv === null || argv.length < 6 || argv.length % 2 !== 0) {
      throw new ManifestError('Invalid AOF manifest file format', linenum, lineText);
    }
    let fileName: string | null = null;
    let fileSeq = 0;
    let fileType = '';
    for (let i = 0; i < argv.length; i += 2) {
      const key = argv[i].toString('latin1').toLowerCase();
      if (key === 'file') {
        fileName = argv[i + 1].toString('utf8');
        if (!isBaseName(fileName)) throw new ManifestError("File can't be a path, just a filename", linenum, lineText);
      } else if (key === 'seq') {
        fileSeq = atoll(argv[i + 1].toString('latin1'));
      } else if (key === 'type') {
        fileType = argv[i + 1].length ? String.fromCharCode(argv[i + 1][0]) : '';
      }
    }
    if (!fileName || !fileSeq || !fileType) throw new ManifestError('Invalid AOF manifest file format', linenum, lineText);
    if (fileType === AOF_FILE_TYPE_BASE) {
      if (m.base) throw new ManifestError('Found duplicate base file information', linenum, lineText);
      m.base = { fileName, fileSeq, fileType };
      m.currBaseFileSeq = fileSeq;
    } else if (fileType === AOF_FILE_TYPE_HIST) {
      m.history.push({ fileName, fileSeq, fileType });
    } else if (fileType === AOF_FILE_TYPE_INCR) {
      if (fileSeq <= maxSeq) throw new ManifestError('Found a non-monotonic sequence number', linenum, lineText);
      m.incr.push({ fileName, fileSeq, fileType });
      m.currIncrFileSeq = fileSeq;
      maxSeq = fileSeq;
    } else {
      throw new ManifestError('Unknown AOF file type', linenum, lineText);
    }
    p = lineEnd;
  }
  if (linenum === 0) throw new ManifestError('Found an empty AOF manifest', 0, null);
  return m;
}

/** atoll: optional sign and leading digits, 0 when none. */
function atoll(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m ? Number(m[1]) : 0;
}

// ---- names and rewrite edits (aof.c) -----------------------------------------------------

export function manifestFileName(aofFilename: string): string {
  return aofFilename + MANIFEST_SUFFIX;
}

export function tempManifestFileName(aofFilename: string): string {
  return TEMP_FILE_PREFIX + aofFilename + MANIFEST_SUFFIX;
}

/** temp-appendonly.aof.incr: incr file used while waiting for the first rewrite. */
export function tempIncrFileName(aofFilename: string): string {
  return TEMP_FILE_PREFIX + aofFilename + INCR_FILE_SUFFIX;
}

/** getNewBaseFileNameAndMarkPreAsHistory: the previous base becomes history (first). */
export function newBaseFile(m: AofManifest, aofFilename: string): string {
  if (m.base) {
    m.base.fileType = AOF_FILE_TYPE_HIST;
    m.history.unshift(m.base);
  }
  const seq = ++m.currBaseFileSeq;
  m.base = { fileName: `${aofFilename}.${seq}${BASE_FILE_SUFFIX}${BASE_FORMAT_SUFFIX}`, fileSeq: seq, fileType: AOF_FILE_TYPE_BASE };
  return m.base.fileName;
}

/** getNewIncrAofName: append a new incr file. */
export function newIncrFile(m: AofManifest, aofFilename: string): string {
  const seq = ++m.currIncrFileSeq;
  const ai: AofInfo = { fileName: `${aofFilename}.${seq}${INCR_FILE_SUFFIX}${INCR_FORMAT_SUFFIX}`, fileSeq: seq, fileType: AOF_FILE_TYPE_INCR };
  m.incr.push(ai);
  return ai.fileName;
}

/** markRewrittenIncrAofAsHistory: incr files with seq < keepFromSeq become history. */
export function markIncrAsHistory(m: AofManifest, keepFromSeq: number): void {
  const keep: AofInfo[] = [];
  for (let i = m.incr.length - 1; i >= 0; i--) {
    const ai = m.incr[i];
    if (ai.fileSeq >= keepFromSeq) {
      keep.unshift(ai);
    } else {
      m.history.unshift({ fileName: ai.fileName, fileSeq: ai.fileSeq, fileType: AOF_FILE_TYPE_HIST });
    }
  }
  m.incr = keep;
}

// ---- files -----------------------------------------------------------------------------

/** Read and parse `dir/name`; null when the directory or the manifest does not exist. */
export function readManifest(dir: string, manifestName: string): AofManifest | null {
  let text: Buffer;
  try {
    text = fs.readFileSync(path.join(dir, manifestName));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return parseManifest(text);
}

/** fsync a directory so a rename or a new file in it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** writeAofManifestFile: write temp, fsync, rename over the manifest, fsync the directory. */
export function writeManifest(dir: string, aofFilename: string, m: AofManifest): void {
  const tmp = path.join(dir, tempManifestFileName(aofFilename));
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, formatManifest(m));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, manifestFileName(aofFilename)));
  fsyncDir(dir);
}

// AOF frames, the manifest, the reader, the persistence worker (fsync policies, group commit,
// rotation and rewrite, disk errors) and sabre-check-aof. Real files under os.tmpdir().
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FRAME_HEADER } from '../native-layout/aof';
import { KIND_SNAPSHOT_CHUNK, KIND_SNAPSHOT_DONE } from '../native-layout/effect-log';
import { FRAME_OK, FRAME_TRUNCATED, decodeFrame, frameBuffer, newFrameInfo } from '../src/persistence/aof-frame';
import { AofFormatError, AofReader, FrameFileReader } from '../src/persistence/aof-reader';
import {
  AofManifest, ManifestError, formatAofInfo, formatManifest, parseManifest, readManifest, sdsSplitArgs,
} from '../src/persistence/manifest';
import { FsyncPolicy, Persistence } from '../src/persistence/persistence';
import { checkAofMain } from '../src/tools/check-aof';
import { repoRoot } from './helpers/servers';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'sabre-aof-test-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let dirSeq = 0;
function tmpDir(): string {
  const d = path.join(tmpRoot, `d${dirSeq++}`);
  fs.mkdirSync(d);
  return d;
}

function resp(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

function readAll(r: AofReader): string {
  let s = '';
  for (let f = r.next(); f; f = r.next()) s += f.data.toString('latin1');
  return s;
}

describe('frames', () => {
  it('round trip of several sizes', () => {
    const info = newFrameInfo();
    const big = Buffer.alloc(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 27;
    for (const raw of [Buffer.alloc(0), Buffer.from(resp('SET', 'k', 'v')), Buffer.alloc(5000, 'a'), big]) {
      const f = frameBuffer(raw);
      expect(decodeFrame(f, 0, f.length, info)).toBe(FRAME_OK);
      expect(info.payload!.equals(raw)).toBe(true);
      expect(info.size).toBe(f.length);
    }
  });

  it('every single-byte flip in a frame is detected', () => {
    const a = frameBuffer(Buffer.from(resp('SET', 'key:1', 'hello world') + resp('INCR', 'n')));
    const b = frameBuffer(Buffer.from(resp('DEL', 'x')));
    const info = newFrameInfo();
    for (let i = 0; i < a.length; i++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const buf = Buffer.concat([a, b]);
        buf[i] ^= x;
        const st = decodeFrame(buf, 0, buf.length, info);
        expect(st, `byte ${i} ^ ${x}`).not.toBe(FRAME_OK);
        // Only a compLen that grew past the end can look like a torn frame.
        if (i < 8 || i >= 12) expect(st, `byte ${i} ^ ${x}`).not.toBe(FRAME_TRUNCATED);
      }
    }
  });

  it('a torn tail at every byte offset of the last frame is truncation, not corruption', () => {
    const dir = tmpDir();
    const frames = [resp('SET', 'a', '1'), resp('SET', 'b', '2'), resp('SET', 'c', 'x'.repeat(300))].map((s) => frameBuffer(Buffer.from(s)));
    const whole = Buffer.concat(frames);
    const lastStart = frames[0].length + frames[1].length;
    const file = path.join(dir, 'torn.aof');
    for (let k = 0; k <= frames[2].length; k++) {
      fs.writeFileSync(file, whole.subarray(0, lastStart + k));
      const r = AofReader.fromFile(file);
      const text = readAll(r);
      if (k === 0 || k === frames[2].length) {
        expect(r.truncatedAt).toBeNull();
      } else {
        expect(text).toBe(resp('SET', 'a', '1') + resp('SET', 'b', '2'));
        expect(r.truncatedAt, `cut at ${k}`).toEqual({ file, offset: lastStart });
      }
    }
  });

  it('a corrupt middle frame, or a torn frame in a file that is not the last, names file and offset', () => {
    const dir = tmpDir();
    const frames = [resp('SET', 'a', '1'), resp('SET', 'b', '2'), resp('SET', 'c', '3')].map((s) => frameBuffer(Buffer.from(s)));
    const f1 = path.join(dir, 'appendonly.aof.1.incr.aof');
    const f2 = path.join(dir, 'appendonly.aof.2.incr.aof');
    const bad = Buffer.concat(frames);
    bad[frames[0].length + FRAME_HEADER + 3] ^= 0x10;
    fs.writeFileSync(f1, bad);
    fs.writeFileSync(f2, frames[2]);
    const m: AofManifest = parseManifest('file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n');
    let r = AofReader.fromManifest(dir, m);
    expect(r.next()!.offset).toBe(0);
    let err: unknown;
    try { r.next(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(AofFormatError);
    expect((err as AofFormatError).file).toBe(f1);
    expect((err as AofFormatError).offset).toBe(frames[0].length);
    expect((err as Error).message).toContain(`${f1} at offset ${frames[0].length}: crc mismatch`);
    // Torn frame at the end of the first of two files: corruption, not a tolerated tail.
    fs.writeFileSync(f1, Buffer.concat(frames).subarray(0, frames[0].length + 5));
    r = AofReader.fromManifest(dir, m);
    r.next();
    expect(() => r.next()).toThrow(/at offset \d+: truncated frame not at the end/);
  });
});

describe('manifest', () => {
  it('formats and parses Redis 7 manifests, quoting names as sdscatrepr', () => {
    const m = parseManifest('file appendonly.aof.1.base.sabre seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n');
    expect(m.base).toEqual({ fileName: 'appendonly.aof.1.base.sabre', fileSeq: 1, fileType: 'b' });
    expect(formatManifest(m)).toBe('file appendonly.aof.1.base.sabre seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n');
    expect(formatAofInfo({ fileName: 'my file.aof', fileSeq: 3, fileType: 'i' })).toBe('file "my file.aof" seq 3 type i\n');
    expect(formatAofInfo({ fileName: 'a"b\\c\nd\x01é', fileSeq: 1, fileType: 'b' }))
      .toBe('file "a\\"b\\\\c\\nd\\x01\\xc3\\xa9" seq 1 type b\n');
    const names = ['my file.aof.2.base.sabre', 'x"y', 'tab\there', 'nl\nname', 'ünï cödé', 'last'];
    const mm: AofManifest = { base: { fileName: names[0], fileSeq: 2, fileType: 'b' }, history: [{ fileName: names[1], fileSeq: 1, fileType: 'h' }],
      incr: names.slice(2).map((n, i) => ({ fileName: n, fileSeq: i + 5, fileType: 'i' as const })), currBaseFileSeq: 2, currIncrFileSeq: 8 };
    expect(parseManifest(formatManifest(mm))).toEqual(mm);
    // As in Redis, a single quote needs no repr but then does not split back (sdssplitargs quirk).
    expect(formatAofInfo({ fileName: "it's", fileSeq: 1, fileType: 'i' })).toBe("file it's seq 1 type i\n");
    expect(() => parseManifest("file it's seq 1 type i\n")).toThrow('Invalid AOF manifest file format');
    // Comments, single quotes, other key order, and extra key/value pairs (forward compatibility).
    const p = parseManifest("# comment\nseq 4 type i file 'a b' startoffset 0\n");
    expect(p.incr).toEqual([{ fileName: 'a b', fileSeq: 4, fileType: 'i' }]);
    expect(sdsSplitArgs(Buffer.from('"a\\x41" \'b\\\'c\' d'))!.map(String)).toEqual(['aA', "b'c", 'd']);
  });

  it('rejects what aofLoadManifestFromFile rejects, with its messages', () => {
    const bad: Array<[string, string]> = [
      ['', 'Found an empty AOF manifest'],
      ['file a seq 1 type b', 'The AOF manifest file contains too long line'],
      ['\n', 'Invalid AOF manifest file format'],
      ['file a seq 1 type\n', 'Invalid AOF manifest file format'],
      ['file a seq 0 type b\n', 'Invalid AOF manifest file format'],
      ['file "a seq 1 type b\n', 'Invalid AOF manifest file format'],
      ['file dir/a seq 1 type b\n', "File can't be a path, just a filename"],
      ['file "back\\\\slash" seq 1 type b\n', "File can't be a path, just a filename"],
      ['file a seq 1 type b\nfile b seq 2 type b\n', 'Found duplicate base file information'],
      ['file a seq 2 type i\nfile b seq 2 type i\n', 'Found a non-monotonic sequence number'],
      ['file a seq 1 type x\n', 'Unknown AOF file type'],
      [`file ${'a'.repeat(1100)} seq 1 type b\n`, 'The AOF manifest file contains too long line'],
    ];
    for (const [text, msg] of bad) {
      let err: unknown;
      try { parseManifest(text); } catch (e) { err = e; }
      expect(err, JSON.stringify(text)).toBeInstanceOf(ManifestError);
      expect((err as ManifestError).reason).toBe(msg);
    }
  });
});

async function startP(dir: string, opts: { appendonly?: boolean; appendfsync?: FsyncPolicy; failWrites?: number; retryMs?: number; cap?: number } = {}) {
  const p = new Persistence(opts.cap ?? 1 << 20);
  const events: any[] = [];
  const cb = (type: string) => (ev: any) => events.push({ type, ...(typeof ev === 'object' ? ev : { v: ev }) });
  await p.start({
    dir, appendonly: opts.appendonly ?? true, appendfsync: opts.appendfsync ?? 'everysec',
    failWrites: opts.failWrites, retryMs: opts.retryMs,
  }, {
    onSnapshotDone: cb('snapshot-done'), onSnapshotFailed: cb('snapshot-failed'), onWriteError: cb('write-error'),
    onWriteOk: cb('write-ok'), onRotated: cb('rotated'), onFatal: cb('fatal'),
  });
  return { p, events };
}

function appendCmd(p: Persistence, db: number, text: string): number {
  const b = Buffer.from(text, 'latin1');
  const pos = p.appendEffect(db, 0, b, 0, b.length);
  expect(pos).not.toBe(-1);
  return pos;
}

function aofText(dir: string): { m: AofManifest; text: string; reader: AofReader } {
  const adir = path.join(dir, 'appendonlydir');
  const m = readManifest(adir, 'appendonly.aof.manifest')!;
  const reader = AofReader.fromManifest(adir, m);
  return { m, text: readAll(reader), reader };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('persistence worker', () => {
  expect(fs.existsSync(path.join(repoRoot(), 'dist', 'src', 'persistence', 'worker.js')), 'build first (npm run build)').toBe(true);

  for (const policy of ['always', 'everysec', 'no'] as const) {
    it(`appendfsync ${policy}: the reader returns what was appended, with SELECT where the db changes`, async () => {
      const dir = tmpDir();
      const { p } = await startP(dir, { appendfsync: policy });
      let expected = '';
      let last = 0;
      for (let i = 0; i < 300; i++) {
        const db = i % 50 < 25 ? 0 : 3 + (i % 2) * 10;
        const cmd = i % 7 === 0 ? resp('MULTI') + resp('SET', `k${i}`, `v${i}`) + resp('INCR', 'n') + resp('EXEC') : resp('SET', `k${i}`, 'x'.repeat(i));
        if (i === 0 || db !== (((i - 1) % 50 < 25) ? 0 : 3 + ((i - 1) % 2) * 10)) expected += resp('SELECT', String(db));
        expected += cmd;
        last = appendCmd(p, db, cmd);
      }
      await p.waitDurableAsync(last);
      const st = p.info();
      if (policy === 'always') expect(st.aof_fsyncs).toBeGreaterThan(0);
      if (policy === 'no') expect(st.aof_fsyncs).toBe(0);
      expect(st.aof_buffer_length).toBe(0);
      expect(st.aof_last_write_status).toBe('ok');
      const { m, text } = aofText(dir);
      expect(text).toBe(expected);
      expect(m.base!.fileName).toBe('appendonly.aof.1.base.sabre');
      expect(m.incr.map((x) => x.fileName)).toEqual(['appendonly.aof.1.incr.aof']);
      expect(st.aof_current_size).toBe(fs.statSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof')).size
        + fs.statSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.base.sabre')).size);
      await p.stop();
      // A restart appends to the same incr file and starts with no db selected.
      const { p: p2 } = await startP(dir, { appendfsync: policy });
      await p2.waitDurableAsync(appendCmd(p2, 3, resp('DEL', 'z')));
      await p2.stop();
      expect(aofText(dir).text).toBe(expected + resp('SELECT', '3') + resp('DEL', 'z'));
    });
  }

  it('group commit: under always, many concurrent appends share fewer fsyncs', async () => {
    const dir = tmpDir();
    const { p } = await startP(dir, { appendfsync: 'always' });
    const waits: Promise<void>[] = [];
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const pos = appendCmd(p, 0, resp('SET', `key:${i}`, String(i)));
      waits.push(p.waitDurableAsync(pos));
      if (i % 100 === 0) await new Promise((r) => setImmediate(r)); // arrivals spread over time
    }
    await Promise.all(waits);
    const st = p.info();
    expect(st.aof_records).toBe(n);
    expect(st.aof_fsyncs).toBeGreaterThan(0);
    // Every burst of 100 appends lands while an fsync runs; a busy machine can split bursts,
    // but far fewer fsyncs than records is the point of group commit.
    expect(st.aof_fsyncs, `${st.aof_fsyncs} fsyncs for ${n} records`).toBeLessThan(n / 2);
    await p.stop();
    expect(aofText(dir).text.split('SET').length - 1).toBe(n);
  });

  it('rewrite: rotates at the cut, writes the base from shard chunks, replaces the manifest, removes history', async () => {
    const dir = tmpDir();
    const adir = path.join(dir, 'appendonlydir');
    const { p, events } = await startP(dir);
    appendCmd(p, 0, resp('SET', 'before', '1'));
    expect(p.rewrite(7, 2)).not.toBe(-1);
    expect(p.info().aof_rewrite_in_progress).toBe(1);
    const chunk = Buffer.from([1, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf, 0, 1, 0x62]);
    expect(p.append(KIND_SNAPSHOT_CHUNK, 0, 7, 0, chunk, 0, chunk.length)).not.toBe(-1);
    appendCmd(p, 0, resp('SET', 'after', '2'));
    const one = Buffer.alloc(8);
    one.writeDoubleLE(1);
    p.append(KIND_SNAPSHOT_DONE, 0, 7, 0, one, 0, 8);
    p.append(KIND_SNAPSHOT_CHUNK, 0, 7, 1, chunk, 0, chunk.length);
    p.append(KIND_SNAPSHOT_DONE, 0, 7, 1, one, 0, 8);
    await until(() => events.some((e) => e.type === 'snapshot-done'));
    const done = events.find((e) => e.type === 'snapshot-done');
    expect(done).toMatchObject({ id: 7, forRewrite: true, keys: 2 });
    expect(p.info().aof_rewrite_in_progress).toBe(0);
    expect(p.info().aof_last_bgrewrite_status).toBe('ok');
    expect(fs.readFileSync(path.join(adir, 'appendonly.aof.manifest'), 'latin1'))
      .toBe('file appendonly.aof.2.base.sabre seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n');
    expect(fs.readdirSync(adir).sort()).toEqual(['appendonly.aof.2.base.sabre', 'appendonly.aof.2.incr.aof', 'appendonly.aof.manifest']);
    await p.stop();
    // Incr after the cut only; the base holds header, the chunks, END.
    const { text, reader } = aofText(dir);
    expect(text).toBe(resp('SELECT', '0') + resp('SET', 'after', '2'));
    const base = new FrameFileReader(reader.baseFile!, false);
    const payloads: Buffer[] = [];
    for (let f = base.next(); f; f = base.next()) payloads.push(f);
    base.close();
    expect(payloads.length).toBe(3);
    expect(payloads[0].toString('latin1', 1, 10)).toBe('SABRESNAP');
    expect(payloads[1].equals(Buffer.concat([chunk, chunk]))).toBe(true);
    expect(payloads[2][0]).toBe(0xff);
    expect(payloads[2].readDoubleLE(1)).toBe(2);
    expect(checkAofMain([path.join(adir, 'appendonly.aof.manifest')], () => {})).toBe(0);
  });

  it('BGSAVE writes a snapshot file by rename; appendonly off writes no AOF', async () => {
    const dir = tmpDir();
    const { p, events } = await startP(dir, { appendonly: false });
    expect(p.info().aof_enabled).toBe(0);
    appendCmd(p, 0, resp('SET', 'a', '1'));
    p.bgsave(3, 'dump.rdb', 1);
    const chunk = Buffer.from('entries');
    p.append(KIND_SNAPSHOT_CHUNK, 0, 3, 0, chunk, 0, chunk.length);
    p.append(KIND_SNAPSHOT_DONE, 0, 3, 0, chunk, 0, 0);
    await until(() => events.some((e) => e.type === 'snapshot-done'));
    expect(events.find((e) => e.type === 'snapshot-done').path).toBe(path.join(dir, 'dump.rdb'));
    expect(p.info().rdb_saves).toBe(1);
    expect(p.info().rdb_last_bgsave_status).toBe('ok');
    await p.stop();
    expect(fs.readdirSync(dir)).toEqual(['dump.rdb']);
    const r = new FrameFileReader(path.join(dir, 'dump.rdb'), false);
    const n = [r.next(), r.next(), r.next(), r.next()];
    r.close();
    expect(n[1]!.toString()).toBe('entries');
    expect(n[2]!.readDoubleLE(1)).toBe(-1); // no key count was given
    expect(n[3]).toBeNull();
  });

  it('appendonly yes at run time waits for a rewrite, then the temp incr becomes the incr file', async () => {
    const dir = tmpDir();
    const adir = path.join(dir, 'appendonlydir');
    const { p, events } = await startP(dir, { appendonly: false });
    expect(p.setEnabled(true)).not.toBe(-1);
    appendCmd(p, 0, resp('SET', 'lost', 'in-the-base')); // before the cut: covered by the base
    p.rewrite(1, 0); // no shards: the base is just header + END
    appendCmd(p, 5, resp('SET', 'kept', '1'));
    await p.sync();
    expect(fs.readdirSync(adir).sort()).toEqual(['appendonly.aof.1.base.sabre', 'appendonly.aof.1.incr.aof', 'appendonly.aof.manifest']);
    expect(events.find((e) => e.type === 'snapshot-done')).toBeTruthy();
    expect(p.info().aof_enabled).toBe(1);
    expect(p.setEnabled(false)).not.toBe(-1);
    appendCmd(p, 0, resp('SET', 'not', 'logged'));
    await p.stop();
    expect(aofText(dir).text).toBe(resp('SELECT', '5') + resp('SET', 'kept', '1'));
  });

  it('write errors: status err, data kept in the log, retried, recovered; nothing written twice', async () => {
    const dir = tmpDir();
    const { p, events } = await startP(dir, { appendfsync: 'always', failWrites: 3, retryMs: 30 });
    const pos = appendCmd(p, 0, resp('SET', 'a', '1'));
    await until(() => events.some((e) => e.type === 'write-error'));
    expect(events.find((e) => e.type === 'write-error')).toMatchObject({ code: 'ENOSPC', errno: 28 });
    expect(p.log.writeOk()).toBe(false);
    appendCmd(p, 0, resp('SET', 'b', '2'));
    await p.waitDurableAsync(pos);
    await until(() => p.info().aof_last_write_status === 'ok');
    // (The status is shared memory; the event comes after it, as a message.)
    await until(() => events.some((e) => e.type === 'write-ok'));
    p.failWrites(2, 'EIO');
    const pos2 = appendCmd(p, 1, resp('DEL', 'a'));
    await p.waitDurableAsync(pos2);
    expect(events.filter((e) => e.type === 'write-error').map((e) => e.code)).toEqual(['ENOSPC', 'EIO']);
    await p.stop();
    expect(aofText(dir).text).toBe(resp('SELECT', '0') + resp('SET', 'a', '1') + resp('SET', 'b', '2') + resp('SELECT', '1') + resp('DEL', 'a'));
  });
});

describe('sabre-check-aof', () => {
  function setup(): { dir: string; adir: string; manifest: string; incr: string; frames: Buffer[] } {
    const dir = tmpDir();
    const adir = path.join(dir, 'appendonlydir');
    fs.mkdirSync(adir);
    const frames = [resp('SET', 'a', '1'), resp('SET', 'b', '2'), resp('SET', 'c', '3')].map((s) => frameBuffer(Buffer.from(s)));
    const incr = path.join(adir, 'appendonly.aof.1.incr.aof');
    fs.writeFileSync(incr, Buffer.concat(frames));
    const manifest = path.join(adir, 'appendonly.aof.manifest');
    fs.writeFileSync(manifest, 'file appendonly.aof.1.incr.aof seq 1 type i\n');
    return { dir, adir, manifest, incr, frames };
  }

  it('exit codes, file and offset of the first bad frame, --fix truncates the last file', () => {
    const { manifest, incr, frames } = setup();
    const out: string[] = [];
    expect(checkAofMain([manifest], (l) => out.push(l))).toBe(0);
    expect(out).toContain('All AOF files and manifest are valid');
    expect(checkAofMain([incr], () => {})).toBe(0);
    // Torn tail.
    const full = fs.statSync(incr).size;
    fs.truncateSync(incr, full - 3);
    out.length = 0;
    expect(checkAofMain([manifest], (l) => out.push(l))).toBe(1);
    const okUpTo = frames[0].length + frames[1].length;
    expect(out.join('\n')).toContain(`${incr} at offset ${okUpTo}: truncated frame`);
    expect(out.join('\n')).toContain('AOF appendonly.aof.1.incr.aof is not valid. Use the --fix option to try fixing it.');
    out.length = 0;
    expect(checkAofMain(['--fix', manifest], (l) => out.push(l))).toBe(0);
    expect(out.join('\n')).toContain(`Successfully truncated AOF appendonly.aof.1.incr.aof: dropped ${full - 3 - okUpTo} bytes after 2 valid frames`);
    expect(fs.statSync(incr).size).toBe(okUpTo);
    expect(checkAofMain([manifest], () => {})).toBe(0);
    // Corrupt middle frame: reported with its offset.
    const b = fs.readFileSync(incr);
    b[frames[0].length + 20] ^= 1;
    fs.writeFileSync(incr, b);
    out.length = 0;
    expect(checkAofMain([incr], (l) => out.push(l))).toBe(1);
    expect(out.join('\n')).toContain(`${incr} at offset ${frames[0].length}: crc mismatch`);
    expect(checkAofMain(['--bogus', incr], () => {})).toBe(1);
  });

  it('refuses to fix a file that is not the last; the compiled CLI exits non-zero', () => {
    const { adir, manifest, frames } = setup();
    const f2 = path.join(adir, 'appendonly.aof.2.incr.aof');
    fs.writeFileSync(f2, frames[0]);
    fs.writeFileSync(manifest, 'file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n');
    const f1 = path.join(adir, 'appendonly.aof.1.incr.aof');
    fs.truncateSync(f1, fs.statSync(f1).size - 1);
    const out: string[] = [];
    expect(checkAofMain(['--fix', manifest], (l) => out.push(l))).toBe(1);
    expect(out).toContain('Failed to truncate AOF appendonly.aof.1.incr.aof because it is not the last file');
    const cli = path.join(repoRoot(), 'dist', 'src', 'tools', 'check-aof.js');
    const r = spawnSync(process.execPath, [cli, manifest], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${f1} at offset ${frames[0].length + frames[1].length}`);
    const ok = spawnSync(process.execPath, [cli, f2], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('AOF appendonly.aof.2.incr.aof is valid');
  });
});

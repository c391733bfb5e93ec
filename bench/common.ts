// Small helpers the bench scripts share (run.ts, persistence.ts, coordination.ts, memory.ts, cache.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ServerHandle } from '../test/helpers/servers';

/** A --name option as an integer >= min, or an error naming the option. */
export function intOption(name: string, s: string, min: number): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new Error(`--${name} must be an integer >= ${min}, got '${s}'`);
  return v;
}

/** A comma-separated option as its non-empty items. */
export function listOption(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

/** A word quoted for a shell command line, when it needs quoting. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `cmd --version`, trimmed (or "cmd: not found"). */
export function versionOf(cmd: string): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(cmd, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', () => resolve(`${cmd}: not found`));
    p.on('exit', () => resolve(out.trim()));
  });
}

/** A "<field>: N kB" line of /proc/<pid>/status in bytes (VmRSS, VmHWM...), or null. */
export function procStatusBytes(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Print the report and write it to `out` (relative to `root`, directories made); returns the path written. */
export function writeReport(md: string[], root: string, out: string): string {
  const text = md.join('\n');
  process.stdout.write(text + '\n');
  const outPath = path.resolve(root, out);
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  fs.writeFileSync(outPath, text + '\n');
  return outPath;
}

/** Run a bench script's main when it is the entry point, exiting 1 with its stack on failure. */
export function runBenchMain(mod: NodeModule, name: string, main: () => Promise<void>): void {
  if (require.main !== mod) return;
  main().catch((err: unknown) => {
    process.stderr.write(`[${name}] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}

/**
 * The servers a bench script starts (push each as it starts): stopAll() stops them at the
 * end, and Ctrl-C stops them before the script exits (130).
 */
export function startedServers(): { started: ServerHandle[]; stopAll: () => Promise<void> } {
  const started: ServerHandle[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((h) => h.stop()));
  };
  process.once('SIGINT', () => {
    void stopAll().then(() => process.exit(130));
  });
  return { started, stopAll };
}

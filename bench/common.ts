// Small helpers the bench scripts share (bench/run.ts, bench/persistence.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';

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

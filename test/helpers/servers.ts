// Starting and stopping Sabre and the reference redis-server for tests and
// benchmarks. Every process started here is tracked and killed when the
// starting process exits, and is spawned (where util-linux's setpriv exists)
// with a parent-death signal, so a crashed or killed test worker leaves no
// orphan servers behind.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import os from 'node:os';

export const REDIS_SERVER = '/usr/bin/redis-server';
export const REDIS_CLI = 'redis-cli';
const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const LOG_LIMIT = 1 << 20; // keep the last 1 MiB of a server's output

export interface ServerHandle {
  port: number;
  pid: number;
  proc: ChildProcess;
  /** Everything the server wrote to stdout and stderr so far (last 1 MiB). */
  logs(): string;
  /** SIGTERM, wait for exit, SIGKILL after 5 s. Safe to call twice. */
  stop(): Promise<void>;
}

/** The repository root: the nearest ancestor of this file holding package.json (works from test/ and dist/). */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
}

/** A port that was free a moment ago: bind :0 on 127.0.0.1, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port from listen(0)'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

// ---- process tracking: nothing we start outlives us ----

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = null;
    for (const p of ['/usr/bin/setpriv', '/bin/setpriv']) {
      if (fs.existsSync(p)) {
        setprivPath = p;
        break;
      }
    }
  }
  return setprivPath;
}

/** Spawns cmd with a parent-death SIGKILL when possible; setpriv execs, so the pid is the server's. */
function spawnTracked(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  installExitHook();
  const sp = setpriv();
  const proc = sp
    ? spawn(sp, ['--pdeathsig', 'SIGKILL', '--', cmd, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return proc;
}

/** Resolves true when a RESP PING on a fresh connection answers +PONG (or -NOAUTH: a server with requirepass is up too). */
function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('*1\r\n$4\r\nPING\r\n'));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got === '+PONG\r\n' || got.startsWith('-NOAUTH'));
    });
    sock.once('close', () => done(false));
  });
}

class StartError extends Error {
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

async function launch(what: string, cmd: string, args: string[], port: number, env: NodeJS.ProcessEnv): Promise<ServerHandle> {
  const proc = spawnTracked(cmd, args, env, repoRoot());
  let out = '';
  const collect = (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > LOG_LIMIT * 2) out = out.slice(-LOG_LIMIT);
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  let exitInfo: string | null = null;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
  });
  let spawnError: Error | null = null;
  proc.once('error', (err) => {
    spawnError = err;
  });

  const handle: ServerHandle = {
    port,
    pid: proc.pid ?? -1,
    proc,
    logs: () => out,
    stop: async () => {
      if (exitInfo !== null || proc.pid === undefined) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (spawnError !== null) throw new StartError(`${what}: cannot spawn ${cmd}: ${(spawnError as Error).message}`, false);
    if (exitInfo !== null) {
      const inUse = /address already in use|EADDRINUSE/i.test(out);
      throw new StartError(`${what} on port ${port} exited (${exitInfo}) before it was ready:\n${out}`, inUse);
    }
    if (await pingOnce(port)) return handle;
    if (Date.now() > deadline) {
      await handle.stop();
      throw new StartError(`${what} on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms. Output:\n${out}`, false);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Retries on a fresh port when another process grabbed ours between freePort() and bind. */
async function launchOnFreePort(
  what: string,
  build: (port: number) => { cmd: string; args: string[] },
  env: NodeJS.ProcessEnv,
): Promise<ServerHandle> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const { cmd, args } = build(port);
    try {
      return await launch(what, cmd, args, port, env);
    } catch (err) {
      if (!(err instanceof StartError) || !err.portInUse || attempt >= 3) throw err;
    }
  }
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Starts Sabre: `node dist/src/main.js --port P ...args` from the repo root.
 * SABRE_CMD overrides the command (run by /bin/sh with exec, so the pid is the
 * server's). If it contains {port}, it is the complete command line: {port} is
 * replaced and `args` are not passed (they are Sabre's own flags, which a
 * stand-in server would not understand). Otherwise `--port P ...args` are
 * appended. To point the suites and the benchmark at a second redis-server:
 *   SABRE_CMD='redis-server --port {port} --bind 127.0.0.1 --save "" --appendonly no'
 */
export async function startSabre(args: string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ServerHandle> {
  const env = { ...process.env, ...opts.env };
  const template = process.env.SABRE_CMD;
  if (template) {
    return launchOnFreePort(
      `Sabre (SABRE_CMD=${template})`,
      (port) => {
        const cmd = template.includes('{port}')
          ? template.split('{port}').join(String(port))
          : `${template} --port ${port} ${args.map(shellQuote).join(' ')}`;
        return { cmd: '/bin/sh', args: ['-c', `exec ${cmd}`] };
      },
      env,
    );
  }
  const main = path.join(repoRoot(), 'dist', 'src', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} does not exist: run \`npm run build\` first`);
  // Each server works in a fresh directory of its own (snapshots, AOF), removed after it stops.
  const ownDir = args.includes('--dir') ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'sabre-test-'));
  const dirArgs = ownDir === null ? [] : ['--dir', ownDir];
  const handle = await launchOnFreePort('Sabre', (port) => ({ cmd: process.execPath, args: [main, '--port', String(port), ...dirArgs, ...args] }), env);
  if (ownDir !== null) {
    const stop = handle.stop;
    handle.stop = async () => {
      await stop();
      fs.rmSync(ownDir, { recursive: true, force: true });
    };
  }
  return handle;
}

/** Starts the reference redis-server on a free loopback port, without persistence. */
export async function startRedis(args: string[] = []): Promise<ServerHandle> {
  return launchOnFreePort(
    'redis-server',
    (port) => ({
      cmd: REDIS_SERVER,
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...args],
    }),
    process.env,
  );
}

/** Runs redis-cli against 127.0.0.1:port synchronously. */
export function redisCli(port: number, args: string[], input?: string): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], {
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

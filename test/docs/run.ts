/**
 * @module test/docs/run — runs doc commands as a reader would: shell text through `bash -euo pipefail` (curl and
 * jq from the machine), `npx frontdesk …` and gateway starts as child processes of their own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { ROOT } from './doc-commands.ts';

export type Ran = { code: number | null; stdout: string; stderr: string };

/** The doc examples need bash, curl and jq; say which one is missing rather than fail on a shell error. */
export function requireTools(): void {
  for (const tool of ['bash', 'curl', 'jq']) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0)
      throw new Error(`${tool} is missing: the doc examples run with it (install ${tool})`);
  }
}

function collect(child: ChildProcess, timeoutMs: number, what: string): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: no end after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}

export function bash(script: string, env: Record<string, string> = {}, cwd = ROOT): Promise<Ran> {
  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { ...process.env, ...env } });
  return collect(child, 20_000, `bash -c ${script.slice(0, 80)}`);
}

/** `npx frontdesk …` in the repository, on `env` (the database it names). */
export function npx(args: string[], env: Record<string, string>): Promise<Ran> {
  const child = spawn('npx', ['frontdesk', ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  return collect(child, 30_000, `npx frontdesk ${args.join(' ')}`);
}

export type Exit = { code: number | null; signal: NodeJS.Signals | null };
export type Started = { origin: string; fhir: string; output: () => string; stop: () => Promise<Exit> };

/**
 * Starts `argv` (`npm start`, `npx frontdesk start`) as the leader of a process group and waits for the banner;
 * `stop` sends SIGTERM to the gateway and waits for the leader to exit (SIGKILL to the whole group if it has not
 * after 15 s).
 */
export async function startGateway(argv: string[], env: Record<string, string>): Promise<Started> {
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // gone already
    }
  };
  const fhir = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: no start banner\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /FHIR R4 API: (\S+)/.exec(out);
      if (m && /MLLP/.test(out)) (clearTimeout(timer), resolve(m[1]!));
    });
    child.on('exit', () => (clearTimeout(timer), reject(new Error(`${argv.join(' ')} exited early:\n${out}`))));
  }).catch((err: unknown) => {
    signal('SIGKILL');
    throw err;
  });
  return {
    origin: new URL(fhir).origin,
    fhir,
    output: () => out,
    stop: async () => {
      // The gateway alone, as `kill -TERM <pid>` would: `npm start` passes a signal on and `npx` does not, and a
      // second SIGTERM makes the gateway exit at once. npm names itself `npm …`; a shell between them waits.
      for (const pid of groupMembers(child.pid!)
        .filter((m) => /^(\S*\/)?node /.test(m.cmd))
        .map((m) => m.pid)) {
        process.kill(pid, 'SIGTERM');
      }
      const timer = setTimeout(() => signal('SIGKILL'), 15_000);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** The processes of a process group, from /proc (the CI machines run Linux): pid and command line. */
function groupMembers(pgid: number): { pid: number; cmd: string }[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) return [];
        return [{ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ') }];
      } catch {
        return []; // gone meanwhile
      }
    });
}

/** Runs `attempt` until it gives something `done` accepts, or fails with the last thing it gave. */
export async function until<T>(attempt: () => Promise<T>, done: (t: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const t = await attempt();
    if (done(t) || Date.now() > end) return t;
    await new Promise((r) => setTimeout(r, 100));
  }
}

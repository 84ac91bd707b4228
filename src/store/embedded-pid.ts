/**
 * @module store/embedded-pid — what a cluster's `postmaster.pid` means at start (line 1 the pid, line 4 the port).
 *
 * - no file, or its process is gone (or belongs to another user, which PostgreSQL itself takes as stale): start;
 * - a process killed a moment ago and not yet reaped by the system (a zombie): wait until it is gone, then start;
 * - this cluster's server, started by a live gateway (a CLI command joining it): share that server;
 * - this cluster's server whose gateway has died (only the Node process was killed, as by the OOM killer): stop
 *   it, so the new gateway starts its own and a later stop leaves no server behind;
 * - a live process that is not this cluster's server (the pid reused after a reboot): refuse to start, saying
 *   which process and what to do — PostgreSQL would refuse too, with a bare "lock file already exists".
 *
 * Processes are inspected through /proc; where there is none, a server is taken as running when its port answers.
 */
import { readFile, readlink, realpath } from 'node:fs/promises';
import { connect } from 'node:net';
import { basename, join, resolve } from 'node:path';

export type ExistingServer =
  | { kind: 'none' }
  | { kind: 'shared'; port: number }
  | { kind: 'orphan'; pid: number; port: number };

type Proc = { state: string; ppid: number; argv: string[] };

async function proc(pid: number): Promise<Proc | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    return { state: f[0] ?? '', ppid: Number(f[1]), argv };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: gone; EPERM: another user's process, not a server this user could have started
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `pid` has gone (a zombie counts as gone once reaped); false after `ms`. */
export async function gone(pid: number, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(100)) {
    if (!alive(pid)) return true;
  }
  return !alive(pid);
}

function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => s.destroy());
    s.once('connect', () => done(true)).once('error', () => done(false)).once('close', () => done(false));
    s.once('connect', () => s.end());
  });
}

export async function existingServer(clusterDir: string): Promise<ExistingServer> {
  let lines: string[];
  try {
    lines = (await readFile(join(clusterDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return { kind: 'none' };
  }
  const [pid, port] = [Number(lines[0]), Number(lines[3])];
  if (!pid || !port || !alive(pid)) return { kind: 'none' };
  const p = await proc(pid);
  if (!p) return (await answers(port)) ? { kind: 'shared', port } : { kind: 'none' };
  if (p.state === 'Z') {
    if (await gone(pid, 30_000)) return { kind: 'none' };
    throw new Error(`PostgreSQL's process ${pid} for ${clusterDir} was killed and has not been reaped after 30 s`);
  }
  if (!(await isServerOf(pid, p, clusterDir))) {
    const what = p.argv.length ? `"${p.argv.join(' ').slice(0, 80)}"` : 'another program';
    throw new Error(
      `${join(clusterDir, 'postmaster.pid')} names process ${pid}, which is alive but is not this cluster's ` +
        `PostgreSQL (it is ${what}): a crash left the file behind and the pid was reused. If no PostgreSQL runs ` +
        `on ${clusterDir}, delete that file and start again.`
    );
  }
  const parent = await proc(p.ppid);
  if (parent?.argv.some((a) => basename(a).startsWith('node'))) return { kind: 'shared', port };
  return { kind: 'orphan', pid, port };
}

/** A PostgreSQL server working in this cluster's directory (it changes into its data directory at start). */
async function isServerOf(pid: number, p: Proc, clusterDir: string): Promise<boolean> {
  const name = basename(p.argv[0] ?? '');
  if (name !== 'postgres' && name !== 'postmaster') return false;
  const d = p.argv.indexOf('-D');
  const dir = await readlink(`/proc/${pid}/cwd`).catch(() => resolve(p.argv[d + 1] ?? ''));
  const real = (x: string) => realpath(x).catch(() => resolve(x));
  return (await real(dir)) === (await real(clusterDir));
}

/**
 * CPU time read from /proc for `npm run bench:load` (bench/load.ts): the whole machine, one process, and a
 * PostgreSQL server (its postmaster and every server process it forked).
 *
 * Read from outside the measured processes, so reading costs them nothing and a process that is not Node
 * (PostgreSQL) is counted the same way. Times are in ms. Linux only: elsewhere every figure is NaN.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Clock ticks per second of /proc times (USER_HZ), 100 on every Linux this bench has met. */
const HZ = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
const ms = (ticks: number): number => (ticks * 1000) / HZ;

/** Busy time of all cores so far (/proc/stat `cpu` line: idle and iowait left out; guest is inside user). */
export function machineBusyMs(): number {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields.map(Number);
    return ms(user + nice + system + irq + softirq + steal);
  } catch {
    return Number.NaN;
  }
}

type ProcStat = { pid: number; comm: string; ppid: number; self: number; children: number };

/**
 * /proc/<pid>/stat: utime + stime (all threads: libuv pool, GC helpers, JIT) and cutime + cstime (children
 * already reaped). The command name is in parentheses and may hold spaces, so fields are counted after the last ')'.
 */
function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const f = text.slice(close + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
    const [utime = 0, stime = 0, cutime = 0, cstime = 0] = f.slice(11, 15).map(Number);
    const comm = text.slice(text.indexOf('(') + 1, close);
    return { pid, comm, ppid: Number(f[1]), self: utime + stime, children: cutime + cstime };
  } catch {
    return undefined; // gone
  }
}

/** CPU time of one process so far (all its threads); NaN once it has gone. */
export function processCpuMs(pid: number | undefined): number {
  const s = pid === undefined ? undefined : procStat(pid);
  return s ? ms(s.self) : Number.NaN;
}

function allProcesses(): ProcStat[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+$/.test(n)).flatMap((n) => procStat(Number(n)) ?? []);
}

/**
 * CPU time of PostgreSQL servers so far: each postmaster, the server processes it forked that are still alive
 * (backends, WAL writer, checkpointer, autovacuum), and the ones that ended (the postmaster's reaped-children
 * time, so a backend that exits inside a window is still counted). NaN when no postmaster is given.
 */
export function postgresCpuMs(postmasters: readonly number[]): number {
  if (postmasters.length === 0) return Number.NaN;
  const procs = allProcesses();
  let ticks = 0;
  for (const p of procs) {
    if (postmasters.includes(p.pid)) ticks += p.self + p.children;
    else if (postmasters.includes(p.ppid)) ticks += p.self;
  }
  return ms(ticks);
}

/**
 * The postmaster of a server backend (`pg_backend_pid()` of a connection): its parent, when both are visible
 * here and named `postgres` — none when the server runs on another machine or in another pid namespace.
 */
export function postmasterOf(backend: number): number[] {
  const b = procStat(backend);
  const pm = b?.comm === 'postgres' ? procStat(b.ppid) : undefined;
  return pm?.comm === 'postgres' ? [pm.pid] : [];
}

/** A cluster's server still running (its postmaster.pid names a live `postgres`), else undefined. */
export function runningPostmaster(clusterDir: string): number | undefined {
  try {
    const { pid } = readPostmaster(clusterDir);
    return procStat(pid)?.comm === 'postgres' ? pid : undefined;
  } catch {
    return undefined; // no pid file: stopped cleanly
  }
}

/** A cluster's postmaster.pid: line 1 the pid, line 4 the port, line 5 the socket directory. */
export function readPostmaster(clusterDir: string): { pid: number; port: number; socketDir: string } {
  const lines = readFileSync(join(clusterDir, 'postmaster.pid'), 'utf8').split('\n');
  return { pid: Number(lines[0]), port: Number(lines[3]), socketDir: lines[4]?.trim() ?? '' };
}

/** CPU time of the children this process has reaped (cutime + cstime): a finished tool it ran. */
export function reapedChildrenCpuMs(): number {
  const s = procStat(process.pid);
  return s ? ms(s.children) : Number.NaN;
}

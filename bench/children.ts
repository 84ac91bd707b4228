/**
 * The child processes of a benchmark (gateway, baseline, load generator), each forked with an IPC channel so the
 * orchestrator can call it (./load-loop.ts `Child`), and stopped in order — or killed when it does not answer,
 * with the embedded PostgreSQL of a gateway that died stopped by its pid.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { Child } from './load-loop.ts';
import { processCpuMs, runningPostmaster } from './load-proc.ts';

export class Children {
  /** Children alive: an interrupted run asks each to stop (the gateway then stops its PostgreSQL). */
  private readonly live = new Set<Child<unknown>>();
  private readonly env: Record<string, string | undefined>;

  /** `env`: what every child gets over the orchestrator's environment (the run's id, say). */
  constructor(env: Record<string, string | undefined>) {
    this.env = env;
  }

  fork<R>(script: string, o: { args?: string[]; env?: Record<string, string>; execArgv?: string[] } = {}): Child<R> {
    const child = fork(join(import.meta.dirname, script), o.args ?? [], {
      env: { ...process.env, ...this.env, ...o.env },
      execArgv: [...process.execArgv, ...(o.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const c = new Child<R>(child);
    this.live.add(c);
    void c.exited.then(() => this.live.delete(c));
    return c;
  }

  /** Stops every child still alive. */
  stopAll(): Promise<void> {
    return Promise.all([...this.live].map(stopChild)).then(() => undefined);
  }
}

/** Asks a child to stop; one that has not exited 20 s later is killed (our own child, by its pid). */
export async function stopChild(c: Child<unknown>): Promise<void> {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return;
  const timer = setTimeout(() => c.process.kill('SIGKILL'), 20_000);
  await Promise.race([c.call('stop').catch(() => undefined).then(() => c.exited), c.exited]);
  clearTimeout(timer);
}

/** The gateway stops its PostgreSQL; if it died first, the server it started is stopped here, by its pid. */
export async function stopLeftoverPostgres(clusterDir: string): Promise<void> {
  const left = runningPostmaster(clusterDir);
  if (left === undefined) return;
  process.kill(left, 'SIGINT'); // fast shutdown
  for (let i = 0; i < 300 && Number.isFinite(processCpuMs(left)); i++) await new Promise((r) => setTimeout(r, 100));
}

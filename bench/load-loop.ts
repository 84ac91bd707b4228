/**
 * The closed-loop driver and the parent ⇄ child messages of `npm run bench:load` (bench/load.ts).
 *
 * A row is `concurrency` workers, each sending one operation and waiting for its answer before the next (as a
 * FHIR client or an MLLP sender does). After the warm-up the driver drains, tells the parent (which settles the
 * gateway and takes its CPU readings: nothing of the warm-up is left running), and waits for `go`. It then starts
 * operations for `seconds` and lets those finish: every counted operation's whole cost falls inside the parent's
 * window, and no uncounted one's does.
 */
import type { ChildProcess } from 'node:child_process';

export type RunArgs = { op: string; concurrency: number; warmupS: number; seconds: number };
export type RunResult = {
  ops: number; failures: number; firstFailure?: string; seconds: number; p50: number; p95: number; p99: number;
};
/** One operation: undefined when it succeeded, else what went wrong (codes and ids, never PHI). */
export type Op = (i: number, worker: number) => Promise<string | undefined>;

/** Numbers operations across rows, so MSH-10s and identifiers never repeat within a process. */
let seq = 0;

export async function drive(a: RunArgs, op: Op, warm: () => Promise<void>): Promise<RunResult> {
  const phase = async (seconds: number, latencies?: number[]) => {
    const until = performance.now() + seconds * 1000;
    let failures = 0;
    let firstFailure: string | undefined;
    await Promise.all(
      Array.from({ length: a.concurrency }, async (_, worker) => {
        while (performance.now() < until) {
          const t = performance.now();
          const failure = await op(seq++, worker).catch((err: unknown) => `${(err as Error).message ?? err}`);
          latencies?.push(performance.now() - t);
          if (failure !== undefined) {
            failures++;
            firstFailure ??= failure;
          }
        }
      })
    );
    return { failures, firstFailure };
  };
  const warmup = await phase(a.warmupS);
  await warm();
  const latencies: number[] = [];
  const started = performance.now();
  const measured = await phase(a.seconds, latencies);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((x, y) => x - y);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  const firstFailure = warmup.firstFailure ?? measured.firstFailure;
  return {
    ops: latencies.length, failures: warmup.failures + measured.failures, ...(firstFailure ? { firstFailure } : {}),
    seconds, p50: q(0.5), p95: q(0.95), p99: q(0.99),
  };
}

type Call = { id: number; cmd: string; args?: unknown };
type Reply = { id: number; ok?: boolean; value?: unknown; error?: string; event?: 'warm' };
export type Handler = (args: never, warm: () => Promise<void>) => Promise<unknown>;

/**
 * Child side: answers the parent's calls with `handlers`; `ready` is sent as call 0 once the child has started.
 * `stop` answers, then ends the process; a parent that went away without asking gets the same (the gateway then
 * stops its PostgreSQL rather than leave it running).
 */
export function serveCalls(handlers: Record<string, Handler>, ready: unknown): void {
  const goes = new Map<number, () => void>();
  const send = (r: Reply): void => {
    if (process.connected) process.send!(r, undefined, {}, () => undefined);
  };
  let stopping = false;
  process.on('SIGINT', () => undefined); // Ctrl-C reaches the whole process group: the parent says when to stop
  process.on('disconnect', () => {
    if (stopping) return;
    stopping = true;
    void Promise.resolve(handlers.stop?.(undefined as never, async () => undefined))
      .catch(() => undefined)
      .finally(() => process.exit(1));
  });
  process.on('message', async (m: Call) => {
    if (m.cmd === 'stop') stopping = true;
    if (m.cmd === 'go') return void goes.get(m.id)?.();
    const warm = () => new Promise<void>((resolve) => {
      goes.set(m.id, resolve);
      send({ id: m.id, event: 'warm' });
    });
    try {
      const value = await handlers[m.cmd]!(m.args as never, warm);
      send({ id: m.id, ok: true, value });
    } catch (err) {
      send({ id: m.id, ok: false, error: (err as Error).stack ?? String(err) });
    }
    if (m.cmd === 'stop') {
      process.disconnect();
      // Whatever still holds the process open once stopped (the profile is written on exit either way).
      setTimeout(() => process.exit(0), 500).unref();
    }
  });
  send({ id: 0, ok: true, value: ready });
}

/** Parent side: calls into a forked child; `ready` is what the child sent once started. */
export class Child<R> {
  readonly ready: Promise<R>;
  readonly exited: Promise<number | null>;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly onWarm = new Map<number, () => Promise<void>>();

  readonly process: ChildProcess;

  constructor(process: ChildProcess) {
    this.process = process;
    this.ready = new Promise<R>((resolve, reject) => {
      this.pending.set(0, { resolve: (v) => resolve(v as R), reject });
    });
    process.on('message', (r: Reply) => {
      if (r.event === 'warm') {
        this.onWarm.get(r.id)!().then(
          () => void process.send({ id: r.id, cmd: 'go' }, (err) => err && this.pending.get(r.id)?.reject(err)),
          (err: Error) => this.pending.get(r.id)?.reject(err)
        );
        return;
      }
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.ok) p?.resolve(r.value);
      else p?.reject(new Error(`child ${process.pid}: ${r.error}`));
    });
    process.on('error', () => undefined); // a send to a child that is gone: its call is rejected instead
    this.exited = new Promise((resolve) => process.once('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`child ${process.pid} exited (${code})`));
      resolve(code);
    }));
  }

  get pid(): number {
    return this.process.pid!;
  }

  call<T>(cmd: string, args?: unknown, onWarm?: () => Promise<void>): Promise<T> {
    const id = this.next++;
    if (onWarm) this.onWarm.set(id, onWarm);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (!this.process.connected) return reject(new Error(`child ${this.process.pid} is gone`));
      this.process.send({ id, cmd, args } satisfies Call, (err) => err && reject(err));
    });
  }
}

/**
 * @module test/fuzz/sandbox — runs the project's pure functions on fuzz inputs in a worker thread, under a time
 * bound. Synchronous code cannot be interrupted from its own thread: a parser that loops forever would hang the
 * whole test run instead of failing with its input. Here the worker is ended after `timeoutMs` and started anew,
 * and the input that hung is a failing case like any other.
 */
import { Worker } from 'node:worker_threads';
import type { Verdict } from './verdict.ts';

type Pending = { resolve: (v: Verdict) => void; timer: NodeJS.Timeout };

export class Sandbox {
  private worker: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private next = 0;
  /** Runs on the current worker: the first ones also load mappings and definitions, once. */
  private runs = 0;
  private readonly timeoutMs: number;

  constructor(timeoutMs = 3000) {
    this.timeoutMs = timeoutMs;
  }

  private start(): Promise<Worker> {
    if (this.worker) return this.worker;
    this.runs = 0;
    const started: Promise<Worker> = new Promise((resolve, reject) => {
      const w = new Worker(new URL('./sandbox-worker.ts', import.meta.url));
      // A worker that dies (out of memory, an error thrown outside any target) fails what it was running, not the run.
      const died = (why: string) => {
        if (this.worker === started) this.worker = undefined;
        reject(new Error(why));
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          this.pending.delete(id);
          p.resolve({ kind: 'crash', ms: 0, name: 'WorkerDied', message: why, stack: '' });
        }
      };
      w.on('error', (err) => died(`the sandbox worker failed: ${err.message}`));
      w.on('exit', (code) => died(`the sandbox worker exited (${code})`));
      w.on('message', (m: { ready?: boolean; id?: number; verdict?: Verdict }) => {
        if (m.ready) return resolve(w);
        const p = this.pending.get(m.id as number);
        if (!p || !m.verdict) return;
        clearTimeout(p.timer);
        this.pending.delete(m.id as number);
        p.resolve(m.verdict);
      });
    });
    this.worker = started;
    return started;
  }

  /** The verdict of `target` on `input`; `timeoutMs` overrides the bound (the first runs compile schemas). */
  async run(target: string, input: unknown, timeoutMs = this.timeoutMs): Promise<Verdict> {
    const worker = await this.start();
    const id = this.next++;
    if (this.runs++ < 3) timeoutMs = Math.max(timeoutMs, 60_000);
    return new Promise<Verdict>((resolve) => {
      const started = performance.now();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.worker = undefined;
        worker.removeAllListeners('exit');
        void worker.terminate();
        resolve({ kind: 'hang', ms: Math.round(performance.now() - started) });
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
      worker.postMessage({ id, target, input });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    const worker = await w;
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}

/**
 * @module workflows/verify-coverage-runner — drives whole-day verifications in the background of a gateway: one run
 * per Task in this process, started by `Appointment/$verify-coverage` or resumed at start-up for Tasks a stopped
 * gateway left in progress. Failures are logged by class only (no PHI) and leave the Task in progress, to be
 * resumed by the next start.
 */
import type { Task } from '@medplum/fhirtypes';
import type { EligibilityContext } from './eligibility-submit.ts';
import { runVerification, startVerification, unfinishedVerifications } from './verify-coverage.ts';

export class VerificationRunner {
  private readonly ctx: EligibilityContext;
  private readonly running = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(ctx: EligibilityContext) {
    this.ctx = ctx;
  }

  /** The Task for `date` (a running one is returned as it is), its run started here if not already. */
  async start(date: string): Promise<Task & { id: string }> {
    const task = await startVerification(this.ctx.repo, date);
    this.drive(task);
    return task;
  }

  async resumeAll(): Promise<number> {
    const tasks = await unfinishedVerifications(this.ctx.repo);
    tasks.forEach((t) => this.drive(t));
    return tasks.length;
  }

  /** No new checks are started; the ones in flight finish (bounded by the payers' timeouts). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  /** Resolves when every run of this process has ended. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.all(this.running.values());
  }

  private drive(task: Task & { id: string }): void {
    if (this.running.has(task.id) || this.stopping.signal.aborted) return;
    const run = runVerification(this.ctx, task, undefined, this.stopping.signal)
      .then(() => undefined)
      .catch((err: unknown) => {
        this.ctx.log.warn(
          { task: task.id, err: { name: (err as Error).name, code: (err as { code?: string }).code } },
          'coverage verification stopped; resumed at next start'
        );
      })
      .finally(() => this.running.delete(task.id));
    this.running.set(task.id, run);
  }
}

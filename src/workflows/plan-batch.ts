/**
 * @module workflows/plan-batch — HL7 v2 messages in flight together share one transaction and one commit.
 *
 * A message's own work costs few rows; most of what it costs the database and the gateway is per statement and per
 * commit (round trips, planning, the commit's flush). Messages arriving on several connections at once are applied
 * together (./apply-plan.ts applyPlansIn): one lookup per wave, one read, one create statement and one commit for
 * all of them, each message's row written in that transaction. Every sender is answered after that commit, so each
 * acknowledgment still follows the commit that holds its message's work.
 *
 * Nothing waits for company: one batch at a time is written, and what arrives meanwhile goes into the next. A
 * message left out of a batch (it creates or changes what an earlier one of the batch does) goes first into the
 * next. When a batch fails — one message's content refused, a resend, a value PostgreSQL refuses — nothing of it
 * is committed and each of its messages is applied again alone, so a bad message takes no other with it and gets
 * its own answer. Messages whose resources a change hook watches (referrals, appointments) are applied alone: the
 * hook needs to know which sender each change came from.
 */
import type { Repository } from '../store/repository.ts';
import type { Plan } from '../translate/hl7v2/plan.ts';
import { applyPlan, applyPlansIn, type Within } from './apply-plan.ts';
import type { Hl7Applied as Applied } from './receive-hl7v2.ts';

/** Enough for every connection of a busy gateway; small enough that one batch's statements stay cheap to plan. */
const MAX_BATCH = 32;

type Job = {
  writer: Repository;
  plan: Plan;
  within: Within | undefined;
  resolve: (applied: Applied) => void;
  reject: (err: unknown) => void;
};

/** Told when a batch failed and its messages are applied one by one: `size` messages, the error that split it. */
export type OnSplit = (size: number, err: unknown) => void;

export class PlanBatcher {
  private readonly repo: Repository;
  private readonly max: number;
  private readonly onSplit: OnSplit;
  private queue: Job[] = [];
  private flushing = false;

  constructor(repo: Repository, max = MAX_BATCH, onSplit: OnSplit = () => undefined) {
    this.repo = repo;
    this.max = max;
    this.onSplit = onSplit;
  }

  /** Applies `plan` as `writer` (the message's sender); resolves once it is committed. */
  apply(writer: Repository, plan: Plan, within?: Within): Promise<Applied> {
    const watched = writer.options.onChange?.types;
    if (plan.entries.some((e) => watched?.has(e.resource.resourceType))) return applyPlan(writer, plan, within);
    return new Promise((resolve, reject) => {
      this.queue.push({ writer, plan, within, resolve, reject });
      if (this.flushing) return;
      this.flushing = true;
      // After the current I/O callbacks: messages read from several sockets in one turn start one batch.
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) await this.write(this.queue.splice(0, this.max));
    this.flushing = false;
  }

  private async write(batch: Job[]): Promise<void> {
    if (batch.length === 1) return alone(batch[0] as Job);
    let results: (Applied | undefined)[];
    try {
      results = await this.repo.transaction((tx) => applyPlansIn(tx, batch));
    } catch (err) {
      this.onSplit(batch.length, err);
      await Promise.all(batch.map(alone));
      return;
    }
    const later = batch.filter((job, i) => {
      const applied = results[i];
      if (applied) job.resolve(applied);
      return !applied;
    });
    this.queue.unshift(...later);
  }
}

/** One message in its own transaction: the path of a message that came alone, or of a batch that failed. */
async function alone(job: Job): Promise<void> {
  await applyPlan(job.writer, job.plan, job.within).then(job.resolve, job.reject);
}

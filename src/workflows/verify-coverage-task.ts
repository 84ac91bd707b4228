/**
 * @module workflows/verify-coverage-task — what a whole-day verification writes into its Task: one `output` per
 * check, typed `checked` or by the problem the front desk must act on, each keyed by patient|payer so that a
 * resumed run knows what it already has; and the closing status with a one-line summary (`businessStatus`).
 */
import type { Coverage, CoverageEligibilityResponse, Task, TaskOutput } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { PROBLEM_SYSTEM } from './eligibility-response.ts';

export const OUTPUT_SYSTEM = 'urn:frontdesk:verify-coverage';
export const KEY_EXTENSION = 'urn:frontdesk:extension:check-key';

export type Check = {
  key: string;
  patient: string;
  /** `Organization/<id>` of the payer, `none` when the patient has no active coverage. */
  payerKey: string;
  provider?: string;
  coverage?: Coverage & { id: string };
  appointment: string;
};

export type ProblemCode = 'inactive-coverage' | 'payer-error' | 'no-coverage' | 'payer-unreachable' | 'not-checked';

const PROBLEM_TEXT: Record<ProblemCode, string> = {
  'inactive-coverage': 'Coverage inactive',
  'payer-error': 'The payer rejected the inquiry',
  'no-coverage': 'No coverage on file',
  'payer-unreachable': 'The payer could not be reached',
  'not-checked': 'The check could not be made',
};

export function outputFor(c: Check, r: CoverageEligibilityResponse & { id: string }): TaskOutput {
  const ref = `CoverageEligibilityResponse/${r.id}`;
  if (r.outcome === 'error') {
    const noAnswer = r.error?.some((e) => e.code?.coding?.some((x) => x.system === PROBLEM_SYSTEM));
    return output(c, noAnswer ? 'payer-unreachable' : 'payer-error', r.disposition ?? PROBLEM_TEXT['payer-error'], ref);
  }
  if (r.insurance?.some((i) => i.inforce === false) && !r.insurance.some((i) => i.inforce)) {
    return output(c, 'inactive-coverage', r.disposition ?? PROBLEM_TEXT['inactive-coverage'], ref);
  }
  return output(c, 'checked', r.disposition ?? 'Coverage active', ref);
}

export function problemOutput(c: Check, code: ProblemCode, text: string): TaskOutput {
  return output(c, code, `${PROBLEM_TEXT[code]}: ${text}`, c.patient);
}

function output(c: Check, code: ProblemCode | 'checked', text: string, ref: string): TaskOutput {
  return {
    extension: [{ url: KEY_EXTENSION, valueString: c.key }],
    type: {
      coding: [{ system: OUTPUT_SYSTEM, code }],
      text: `${c.patient} (${c.appointment}), payer ${c.payerKey}: ${text}`,
    },
    valueReference: { reference: ref },
  };
}

/**
 * Writes a run's results into its Task one at a time, each update conditional on the version this run wrote last
 * (If-Match): checks finish concurrently, the Task's versions follow one another.
 */
export class TaskRecorder {
  task: Task & { id: string };
  private chain: Promise<unknown> = Promise.resolve();
  private readonly repo: Repository;

  constructor(repo: Repository, task: Task & { id: string }) {
    this.repo = repo;
    this.task = task;
  }

  add(output: TaskOutput): Promise<void> {
    const write = this.chain.then(() => this.write({ ...this.task, output: [...(this.task.output ?? []), output] }));
    this.chain = write;
    return write;
  }

  /** `completed`, with a one-line summary (`businessStatus`). */
  async finish(): Promise<Task> {
    await this.chain;
    const outputs = this.task.output ?? [];
    const problems = outputs.filter((o) => o.type?.coding?.[0]?.code !== 'checked').length;
    await this.write({
      ...this.task,
      status: 'completed',
      lastModified: new Date().toISOString(),
      businessStatus: { text: `${outputs.length} checked, ${problems} need attention` },
    });
    return this.task;
  }

  private async write(next: Task & { id: string }): Promise<void> {
    this.task = (await this.repo.update(next, this.task.meta?.versionId)).resource as Task & { id: string };
  }
}

/**
 * @module workflows/verify-coverage — whole-day verification: every appointment of a day that will happen
 * (booked, arrived, checked-in) gets its patient's active coverages checked, one check per patient and payer,
 * with at most `x12.maxConcurrent` checks in flight per payer, all payers at once.
 *
 * The run is a Task (code `verify-coverage`, input the date) whose `output` grows with each result and each problem
 * (inactive coverage, AAA error, no coverage on file, payer unreachable, cannot be asked), each tagged with its
 * patient|payer key. A run interrupted by a restart is resumed from its Task: the keys already in `output` are not
 * asked again. Every Task update is conditional on the version this run wrote last (If-Match), so two gateway
 * processes never both drive one Task: the second one's update fails and it stops.
 */
import { parseSearchRequest } from '@medplum/core';
import type { Appointment, Coverage, CoverageEligibilityRequest, Task, TaskOutput } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '../outcome.ts';
import type { Repository } from '../store/repository.ts';
import { checkEligibility, type EligibilityContext } from './eligibility-submit.ts';
import { appendOutputs, finishTask, KEY_EXTENSION, outputFor, problemOutput, type Check } from './verify-coverage-task.ts';

export const TASK_SYSTEM = 'urn:frontdesk:task';

export type Progress = { done: number; total: number; problems: number; last?: TaskOutput };

/** Starts (or finds the running) Task for a date; `run` then drives it to the end. */
export async function startVerification(repo: Repository, date: string): Promise<Task & { id: string }> {
  const running = await tasksFor(repo, date, 'in-progress');
  if (running[0]) return running[0];
  const task: Task = {
    resourceType: 'Task',
    status: 'in-progress',
    intent: 'order',
    code: { coding: [{ system: TASK_SYSTEM, code: 'verify-coverage', display: 'Verify coverage for a day' }] },
    authoredOn: new Date().toISOString(),
    input: [{ type: { text: 'date' }, valueDate: date }],
  };
  return (await repo.create(task)).resource as Task & { id: string };
}

/** The Tasks still in progress (resumed at start). */
export async function unfinishedVerifications(repo: Repository): Promise<(Task & { id: string })[]> {
  return tasksFor(repo, undefined, 'in-progress');
}

export async function runVerification(
  ctx: EligibilityContext,
  task: Task & { id: string },
  onProgress: (p: Progress) => void = () => {},
  signal?: AbortSignal
): Promise<Task> {
  const date = task.input?.find((i) => i.type?.text === 'date')?.valueDate;
  if (!date) throw new Error(`Task/${task.id} names no date`);
  const checks = await checksFor(ctx.repo, date);
  const done = new Set((task.output ?? []).map(keyOf));
  const todo = checks.filter((c) => !done.has(c.key));
  const state = { task, version: task.meta?.versionId, chain: Promise.resolve(), lost: false };
  const progress: Progress = { done: checks.length - todo.length, total: checks.length, problems: 0 };
  const record = (output: TaskOutput) => {
    state.chain = state.chain.then(async () => {
      if (state.lost) return;
      const updated = await appendOutputs(ctx.repo, state.task, [output], state.version).catch((err: unknown) => {
        if ((err as OperationOutcomeError).outcome?.issue?.[0]?.code === 'conflict' || /412|version/i.test(String(err))) state.lost = true;
        else throw err;
      });
      if (updated) Object.assign(state, { task: updated, version: updated.meta?.versionId });
    });
    progress.done++;
    if (output.type?.coding?.[0]?.code !== 'checked') progress.problems++;
    onProgress({ ...progress, last: output });
    return state.chain;
  };
  onProgress(progress);
  const byPayer = new Map<string, Check[]>();
  for (const c of todo) byPayer.set(c.payerKey, [...(byPayer.get(c.payerKey) ?? []), c]);
  await Promise.all(
    [...byPayer.values()].map((list) => {
      const limit = ctx.partners.partners.find((p) => p.reference === list[0]?.payerKey)?.x12?.maxConcurrent ?? 1;
      return pool(list, limit, async (c) => {
        if (!state.lost && !signal?.aborted) await record(await checkOne(ctx, c, date));
      });
    })
  );
  await state.chain;
  if (state.lost || signal?.aborted) return state.task;
  return finishTask(ctx.repo, state.task, state.version);
}

async function checkOne(ctx: EligibilityContext, c: Check, date: string): Promise<TaskOutput> {
  if (!c.coverage) return problemOutput(c, 'no-coverage', 'No active coverage on file for this patient');
  const request: CoverageEligibilityRequest = {
    resourceType: 'CoverageEligibilityRequest',
    status: 'active',
    purpose: ['benefits'],
    patient: { reference: c.patient },
    created: new Date().toISOString(),
    servicedDate: date,
    insurer: { reference: c.payerKey },
    ...(c.provider ? { provider: { reference: c.provider } } : {}),
    insurance: [{ focal: true, coverage: { reference: `Coverage/${c.coverage.id}` } }],
  };
  try {
    const stored = (await ctx.repo.create(request)).resource as CoverageEligibilityRequest & { id: string };
    const { response } = await checkEligibility(ctx, stored, false);
    return outputFor(c, response);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    return problemOutput(c, 'not-checked', err.outcome.issue?.[0]?.diagnostics ?? 'The check could not be made');
  }
}

/** One check per patient and payer, for the day's appointments that will happen. */
async function checksFor(repo: Repository, date: string): Promise<Check[]> {
  const appts = (await search(repo, 'Appointment', { date: [date], status: ['booked,arrived,checked-in'], _count: ['1000'] })) as Appointment[];
  const checks = new Map<string, Check>();
  for (const a of appts) {
    const patient = a.participant?.find((p) => p.actor?.reference?.startsWith('Patient/'))?.actor?.reference;
    if (!patient) continue;
    const provider = a.participant?.find((p) => /^(Practitioner|PractitionerRole)\//.test(p.actor?.reference ?? ''))?.actor?.reference;
    const coverages = (await search(repo, 'Coverage', { beneficiary: [patient], status: ['active'] })) as (Coverage & { id: string })[];
    if (!coverages.length) checks.set(`${patient}|none`, { key: `${patient}|none`, patient, payerKey: 'none', provider, appointment: `Appointment/${a.id}` });
    for (const coverage of coverages) {
      const payerKey = coverage.payor?.[0]?.reference ?? 'unknown';
      const key = `${patient}|${payerKey}`;
      if (!checks.has(key)) checks.set(key, { key, patient, payerKey, provider, coverage, appointment: `Appointment/${a.id}` });
    }
  }
  return [...checks.values()];
}

async function search(repo: Repository, type: string, params: Record<string, string[]>) {
  return (await repo.search(parseSearchRequest(type, params))).resources;
}

async function tasksFor(repo: Repository, date: string | undefined, status: string): Promise<(Task & { id: string })[]> {
  const tasks = (await search(repo, 'Task', { code: [`${TASK_SYSTEM}|verify-coverage`], status: [status], _count: ['100'] })) as (Task & { id: string })[];
  return tasks.filter((t) => date === undefined || t.input?.some((i) => i.valueDate === date));
}

function keyOf(o: TaskOutput): string {
  return o.extension?.find((e) => e.url === KEY_EXTENSION)?.valueString ?? '';
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

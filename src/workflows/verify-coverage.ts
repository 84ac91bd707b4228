/**
 * @module workflows/verify-coverage — whole-day verification: every appointment of a day that will happen
 * (booked, arrived, checked-in) gets its patient's active coverages checked, one check per patient and payer,
 * with at most `x12.maxConcurrent` checks in flight per payer from this process (whatever the runs), all payers at
 * once.
 *
 * The run is a Task (code `verify-coverage`, input the date) whose `output` grows with each result and each problem
 * (inactive coverage, AAA error, no coverage on file, payer unreachable, cannot be asked), each tagged with its
 * patient|payer key. A run interrupted by a restart is resumed from its Task: the keys already in `output` are not
 * asked again. Checks are paid for, so one Task is driven by one process at a time: the run holds a PostgreSQL
 * advisory lock on the Task for its whole length (a second gateway, or the CLI, finds it taken and leaves the Task
 * alone), and finding-or-creating the day's Task happens under a lock on the date (two clicks make one Task).
 * The day is the practice's: its appointments are those starting between midnight and midnight in its time zone.
 */
import { randomUUID } from 'node:crypto';
import { parseSearchRequest } from '@medplum/core';
import type { Appointment, Coverage, CoverageEligibilityRequest, Task, TaskOutput } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '../outcome.ts';
import { zoneOffset } from '../translate/hl7v2/datatypes.ts';
import type { Repository } from '../store/repository.ts';
import { checkEligibility, type EligibilityContext } from './eligibility-submit.ts';
import { Slots } from './slots.ts';
import { KEY_EXTENSION, outputFor, problemOutput, TaskRecorder, type Check } from './verify-coverage-task.ts';
import { lockInTransaction, tryLock } from '../store/locks.ts';

export const TASK_SYSTEM = 'urn:frontdesk:task';
/** Advisory lock namespace (first key of the two-key form) of whole-day runs. */
const LOCK_SPACE = 7270;

export type Progress = { done: number; total: number; problems: number; last?: TaskOutput };

/** `YYYY-MM-DD` that is a calendar day (2026-02-30 is not). */
export function isDay(date: string | undefined): date is string {
  if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date)) return false;
  const t = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(t.getTime()) && t.toISOString().slice(0, 10) === date;
}

/** The Task for a date: the one in progress, else a new one — decided under a lock on the date. */
export async function startVerification(repo: Repository, date: string): Promise<Task & { id: string }> {
  return repo.transaction(async (tx) => {
    await lockInTransaction(tx.sql, LOCK_SPACE, `day:${date}`);
    const running = await tasksFor(tx, date);
    if (running[0]) return running[0];
    const task: Task = {
      resourceType: 'Task',
      status: 'in-progress',
      intent: 'order',
      code: { coding: [{ system: TASK_SYSTEM, code: 'verify-coverage', display: 'Verify coverage for a day' }] },
      authoredOn: new Date().toISOString(),
      input: [{ type: { text: 'date' }, valueDate: date }],
    };
    return (await tx.create(task)).resource as Task & { id: string };
  });
}

/** The Tasks still in progress (resumed at start). */
export async function unfinishedVerifications(repo: Repository): Promise<(Task & { id: string })[]> {
  return tasksFor(repo, undefined);
}

/** Drives a Task to its end, unless another process holds it; returns the Task as this run left it. */
export async function runVerification(
  ctx: EligibilityContext,
  task: Task & { id: string },
  onProgress: (p: Progress) => void = () => {},
  signal?: AbortSignal
): Promise<Task> {
  const conn = await ctx.sql.reserve();
  try {
    const release = await tryLock(conn, LOCK_SPACE, task.id);
    if (!release) return task;
    try {
      // Read again under the lock: another process may have moved it on since it was listed.
      const current = (await ctx.repo.read('Task', task.id)) as Task & { id: string };
      return current.status === 'in-progress' ? await drive(ctx, current, onProgress, signal) : current;
    } finally {
      await release();
    }
  } finally {
    conn.release();
  }
}

async function drive(
  ctx: EligibilityContext,
  task: Task & { id: string },
  onProgress: (p: Progress) => void,
  signal?: AbortSignal
) {
  const date = task.input?.find((i) => i.type?.text === 'date')?.valueDate;
  if (!date) throw new Error(`Task/${task.id} names no date`);
  const checks = await checksFor(ctx, date);
  const done = new Set((task.output ?? []).map(keyOf));
  const todo = checks.filter((c) => !done.has(c.key));
  const recorder = new TaskRecorder(ctx.repo, task);
  const progress: Progress = { done: checks.length - todo.length, total: checks.length, problems: 0 };
  onProgress(progress);
  const one = async (c: Check) => {
    if (signal?.aborted) return;
    const output = await checkOne(ctx, c, date);
    await recorder.add(output);
    progress.done++;
    if (output.type?.coding?.[0]?.code !== 'checked') progress.problems++;
    onProgress({ ...progress, last: output });
  };
  // Every check waits for a slot of its payer's, shared with every other run of this process.
  await Promise.all(todo.map((c) => slotsFor(ctx, c.payerKey).run(() => one(c))));
  return signal?.aborted ? recorder.task : recorder.finish();
}

const slots = new WeakMap<EligibilityContext, Map<string, Slots>>();

/** The payer partner's slots (`x12.maxConcurrent`); checks that reach no partner share one slot and fail fast. */
function slotsFor(ctx: EligibilityContext, payerKey: string): Slots {
  const partner = ctx.partners.payerFor({ reference: payerKey });
  const key = partner?.id ?? '';
  let byPartner = slots.get(ctx);
  if (!byPartner) slots.set(ctx, (byPartner = new Map()));
  let s = byPartner.get(key);
  if (!s) byPartner.set(key, (s = new Slots(partner?.x12?.maxConcurrent ?? 1)));
  return s;
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
    // Stored with its 270 (one commit), under the id chosen here.
    const { response } = await checkEligibility(ctx, { ...request, id: randomUUID() }, false, false);
    return outputFor(c, response);
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    return problemOutput(c, 'not-checked', err.outcome.issue?.[0]?.diagnostics ?? 'The check could not be made');
  }
}

/** One check per patient and payer, for the day's appointments that will happen. */
async function checksFor(ctx: EligibilityContext, date: string): Promise<Check[]> {
  const next = new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const from = `${date}T00:00:00${zoneOffset(`${date}T00:00:00`, ctx.timeZone)}`;
  const to = `${next}T00:00:00${zoneOffset(`${next}T00:00:00`, ctx.timeZone)}`;
  const day = { date: [`ge${from}`, `lt${to}`], status: ['booked,arrived,checked-in'], _count: ['1000'] };
  const appts = (await search(ctx.repo, 'Appointment', day)) as Appointment[];
  const checks = new Map<string, Check>();
  for (const a of appts) {
    const patient = a.participant?.find((p) => p.actor?.reference?.startsWith('Patient/'))?.actor?.reference;
    if (!patient) continue;
    const provider = a.participant?.find((p) => /^(Practitioner|PractitionerRole)\//.test(p.actor?.reference ?? ''))
      ?.actor?.reference;
    const coverages = (await search(ctx.repo, 'Coverage', {
      beneficiary: [patient],
      status: ['active'],
    })) as (Coverage & { id: string })[];
    const appointment = `Appointment/${a.id}`;
    if (!coverages.length)
      checks.set(`${patient}|none`, { key: `${patient}|none`, patient, payerKey: 'none', provider, appointment });
    for (const coverage of coverages) {
      const payerKey = coverage.payor?.[0]?.reference ?? 'unknown';
      const key = `${patient}|${payerKey}`;
      if (!checks.has(key)) checks.set(key, { key, patient, payerKey, provider, coverage, appointment });
    }
  }
  return [...checks.values()];
}

async function search(repo: Repository, type: string, params: Record<string, string[]>) {
  return (await repo.search(parseSearchRequest(type, params))).resources;
}

async function tasksFor(repo: Repository, date: string | undefined): Promise<(Task & { id: string })[]> {
  const query = { code: [`${TASK_SYSTEM}|verify-coverage`], status: ['in-progress'], _count: ['100'] };
  const tasks = (await search(repo, 'Task', query)) as (Task & { id: string })[];
  return tasks.filter((t) => date === undefined || t.input?.some((i) => i.valueDate === date));
}

function keyOf(o: TaskOutput): string {
  return o.extension?.find((e) => e.url === KEY_EXTENSION)?.valueString ?? '';
}

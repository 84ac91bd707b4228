/**
 * Whole-day verification, `Appointment/$verify-coverage?date=…`: every appointment of the day that will happen gets
 * its patient's coverage checked once per payer, tracked in a Task whose output lists results and problems; a run
 * cut short resumes without asking the payer again for what it already has.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client } from '../helpers/gateway.ts';
import { gatewayWithPayers, insuredPatient } from '../helpers/eligibility.ts';
import { startPayer, type TestPayer } from '../helpers/payer.ts';
import { answer271, INACTIVE, read270 } from '../helpers/x12-answers.ts';
import { zoneOffset } from '../../src/translate/hl7v2/datatypes.ts';
import { runVerification, startVerification } from '../../src/workflows/verify-coverage.ts';

let payer: TestPayer;
let env: Awaited<ReturnType<typeof gatewayWithPayers>>;
let fhir: ReturnType<typeof client>;
const inactive = new Set<string>();
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  payer = await startPayer({
    mode: 'x12',
    delayMs: 50,
    answer: async (x12) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight--;
      return answer271(x12, inactive.has(read270(x12).subscriber[9] ?? '') ? INACTIVE : undefined);
    },
  });
  env = await gatewayWithPayers(
    [
      { id: 'dayplan', payerId: 'DAY01', url: payer.url, extra: { retries: 0 } },
      { id: 'serial', payerId: 'DAY02', url: payer.url, x12: { maxConcurrent: 1 } },
    ],
    { FRONTDESK_ELIGIBILITY_REUSE_MINUTES: '0', FRONTDESK_TIME_ZONE: 'America/Los_Angeles' }
  );
  fhir = client(env.g);
});
afterAll(async () => {
  await env?.cleanup();
  await payer?.close();
});

let day = 0;
/** A day of its own per test (the suite shares one database). */
function freshDate(): string {
  day++;
  return `20${30 + (Date.now() % 60)}-0${1 + (day % 9)}-${String(10 + (Math.floor(Math.random() * 18))).padStart(2, '0')}`;
}

/** An appointment at a local time of the practice (America/Los_Angeles). */
async function book(patient: string, practitioner: string, date: string, status = 'booked', time = '09:00') {
  const at = `${date}T${time}:00${zoneOffset(`${date}T${time}:00`, 'America/Los_Angeles')}`;
  const res = await fhir('POST', 'Appointment', {
    resourceType: 'Appointment',
    status,
    start: at,
    end: at,
    participant: [
      { actor: { reference: patient }, status: 'accepted' },
      { actor: { reference: practitioner }, status: 'accepted' },
    ],
  });
  expect(res.status).toBe(201);
}

describe('Appointment/$verify-coverage', () => {
  it('checks each booked patient once per payer and lists results and problems in the Task', async () => {
    const date = freshDate();
    const a = await insuredPatient(env.g, 'dayplan');
    const b = await insuredPatient(env.g, 'dayplan');
    inactive.add(b.memberId);
    await book(a.patient, a.practitioner, date);
    await book(a.patient, a.practitioner, date); // twice the same day: one check
    await book(b.patient, b.practitioner, date);
    const uninsured = (await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Nocover' }] })).body.id;
    await book(`Patient/${uninsured}`, a.practitioner, date);
    const cancelled = await insuredPatient(env.g, 'dayplan');
    await book(cancelled.patient, cancelled.practitioner, date, 'cancelled');
    const before = payer.requests.length;
    const res = await fhir('POST', `Appointment/$verify-coverage?date=${date}`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ resourceType: 'Task', status: 'in-progress' });
    await env.g.verifications.idle();
    const task = (await fhir('GET', `Task/${res.body.id}`)).body;
    expect(task.status).toBe('completed');
    const byCode = (code: string) => task.output.filter((o: any) => o.type.coding[0].code === code);
    expect(byCode('checked')).toHaveLength(1);
    expect(byCode('inactive-coverage')).toHaveLength(1);
    expect(byCode('no-coverage')).toHaveLength(1);
    expect(byCode('checked')[0].type.text).toContain(a.patient);
    expect(payer.requests.length - before).toBe(2);
    expect(task.businessStatus.text).toBe('3 checked, 2 need attention');
  });

  it('keeps at most maxConcurrent checks in flight to one payer, across the runs of two days', async () => {
    const dates = [freshDate(), freshDate()];
    for (const date of dates) {
      for (let n = 0; n < 5; n++) {
        const p = await insuredPatient(env.g, 'dayplan');
        await book(p.patient, p.practitioner, date);
      }
    }
    maxInFlight = 0;
    for (const date of dates) await fhir('POST', `Appointment/$verify-coverage?date=${date}`);
    await env.g.verifications.idle();
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(4);
  });

  it('resumes an interrupted run without asking again for what its Task already has', async () => {
    const date = freshDate();
    // One check at a time to this payer, so the run stops with exactly one result.
    const a = await insuredPatient(env.g, 'serial');
    const b = await insuredPatient(env.g, 'serial');
    await book(a.patient, a.practitioner, date);
    await book(b.patient, b.practitioner, date);
    const task = await startVerification(env.g.repo, date);
    const stop = new AbortController();
    // The first result lands, then the "process" stops.
    await runVerification(env.g.eligibility, task, (p) => p.done >= 1 && p.last && stop.abort(), stop.signal);
    const half = (await fhir('GET', `Task/${task.id}`)).body;
    expect(half.status).toBe('in-progress');
    expect(half.output).toHaveLength(1);
    const asked = payer.requests.length;
    expect(await env.g.verifications.resumeAll()).toBeGreaterThanOrEqual(1);
    await env.g.verifications.idle();
    const done = (await fhir('GET', `Task/${task.id}`)).body;
    expect(done.status).toBe('completed');
    expect(done.output).toHaveLength(2);
    expect(payer.requests.length - asked).toBe(1);
  });

  it('takes the day in the practice time zone: a late evening is that day, not the next one in UTC', async () => {
    const date = freshDate();
    const evening = await insuredPatient(env.g, 'dayplan');
    const dayBefore = await insuredPatient(env.g, 'dayplan');
    await book(evening.patient, evening.practitioner, date, 'booked', '23:30');
    const before = new Date(Date.parse(`${date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    await book(dayBefore.patient, dayBefore.practitioner, before, 'booked', '22:00');
    const res = await fhir('POST', `Appointment/$verify-coverage?date=${date}`);
    await env.g.verifications.idle();
    const task = (await fhir('GET', `Task/${res.body.id}`)).body;
    expect(task.output.map((o: any) => o.type.text.split(' ')[0])).toEqual([evening.patient]);
  });

  it('lets one process drive a Task: a second run at the same time leaves it alone', async () => {
    const date = freshDate();
    const patients = [await insuredPatient(env.g, 'dayplan'), await insuredPatient(env.g, 'dayplan')];
    for (const p of patients) await book(p.patient, p.practitioner, date);
    const [a, b] = await Promise.all([startVerification(env.g.repo, date), startVerification(env.g.repo, date)]);
    expect(a.id).toBe(b.id);
    const asked = payer.requests.length;
    const [first, second] = await Promise.all([runVerification(env.g.eligibility, a), runVerification(env.g.eligibility, b)]);
    expect([first.status, second.status].sort()).toEqual(['completed', 'in-progress']);
    expect(payer.requests.length - asked).toBe(2);
  });

  it.each(['tomorrow', '2026-02-30'])('refuses a date that is not a day (%s)', async (date) => {
    const res = await fhir('POST', `Appointment/$verify-coverage?date=${date}`);
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['date']);
  });
});

/**
 * `frontdesk verify-coverage --date D` as a front-office manager runs it (a child process on the gateway's
 * database and partners file): every patient booked that day is checked with the payer, the progress bar on
 * stderr reaches n/n, the summary table on stdout has one row per check and its last line names the Task, which
 * the gateway then serves; a date that is not a day is refused with exit code 2.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { insuredPatient } from './helpers/eligibility.ts';
import { client, testGateway, type TestGateway } from './helpers/gateway.ts';
import { startPayer, type TestPayer } from './helpers/payer.ts';
import { answer271, read270 } from './helpers/x12-answers.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const PAYER_ID = 'VCLI01';

let dir: string;
let partnersFile: string;
let payer: TestPayer;
let g: TestGateway;
let fhir: ReturnType<typeof client>;

beforeAll(async () => {
  payer = await startPayer({ mode: 'x12', answer: (x12) => answer271(x12) });
  dir = mkdtempSync(join(tmpdir(), 'frontdesk-verify-cli-'));
  partnersFile = join(dir, 'partners.json');
  const partner = {
    id: 'cli-plan',
    organization: { name: 'CLI Health Plan', identifier: { system: 'urn:frontdesk:x12:payer-id', value: PAYER_ID } },
    x12: { payerId: PAYER_ID, senderId: 'CLINIC01', endpoint: { url: payer.url, mode: 'x12', timeoutMs: 5000 } },
  };
  writeFileSync(partnersFile, JSON.stringify({ partners: [partner] }));
  // The gateway and the command read the same partners file, as on an operator's machine.
  g = await testGateway({ FRONTDESK_PARTNERS: partnersFile });
  fhir = client(g);
});
afterAll(async () => {
  await g?.stop();
  await payer?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Runs the CLI as test/translate/hl7v2/cli.int.test.ts does, on this run's database. Asynchronous: the payer
// answering the command lives in this process.
async function verifyCoverage(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, DATABASE_URL: inject('databaseUrl'), FRONTDESK_PARTNERS: partnersFile, FRONTDESK_LOG_LEVEL: 'silent' };
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/frontdesk.js'), 'verify-coverage', ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A day no other test books (the suite shares one database). */
function uniqueDate(): string {
  return `2${String(100 + Math.floor(Math.random() * 900))}-0${1 + Math.floor(Math.random() * 9)}-${10 + Math.floor(Math.random() * 18)}`;
}

async function book(patient: string, practitioner: string, date: string): Promise<string> {
  const res = await fhir('POST', 'Appointment', {
    resourceType: 'Appointment',
    status: 'booked',
    start: `${date}T15:00:00Z`,
    end: `${date}T15:30:00Z`,
    participant: [
      { actor: { reference: patient }, status: 'accepted' },
      { actor: { reference: practitioner }, status: 'accepted' },
    ],
  });
  expect(res.status).toBe(201);
  return `Appointment/${res.body.id}`;
}

// Each case starts the CLI, which loads the FHIR definitions before it opens the database.
describe('frontdesk verify-coverage', { timeout: 90_000 }, () => {
  it('checks the day, shows progress to n/n and one table row per check, and leaves the completed Task', async () => {
    const date = uniqueDate();
    const a = await insuredPatient(g, 'cli-plan');
    const b = await insuredPatient(g, 'cli-plan');
    const uninsured = `Patient/${(await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Nocover' }] })).body.id}`;
    const appointments = [await book(a.patient, a.practitioner, date), await book(b.patient, b.practitioner, date), await book(uninsured, a.practitioner, date)];
    const asked = payer.requests.length;

    const out = await verifyCoverage('--date', date);
    expect(out.code, out.stderr).toBe(0);

    // The payer was asked once per insured patient, about that patient.
    const members = payer.requests.slice(asked).map((r) => read270(r.body).subscriber[9]);
    expect(members.sort()).toEqual([a.memberId, b.memberId].sort());

    const lines = out.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s+/)).toEqual(['result', 'patient', 'appointment', 'payer', 'detail']);
    const rows = lines.slice(2, -2).map((l) => l.split(/\s{2,}/).slice(0, 4));
    expect(rows).toHaveLength(3);
    expect(rows).toEqual(expect.arrayContaining([
      ['checked', a.patient, appointments[0], a.payerOrg],
      ['checked', b.patient, appointments[1], b.payerOrg],
      ['no-coverage', uninsured, appointments[2], 'none'],
    ]));
    expect(lines.at(-2)).toBe('');
    const last = /^Task\/(\S+): completed, 3 checked, 1 need attention$/.exec(lines.at(-1) ?? '');
    expect(last, lines.at(-1)).not.toBeNull();
    const taskId = last?.[1];

    expect(out.stderr).toContain(`Verifying coverage for ${date} (Task/${taskId})`);
    const bars = out.stderr.split('\r').map((s) => s.trim()).filter((s) => s.startsWith('['));
    expect(bars.map((s) => / (\d+\/\d+),/.exec(s)?.[1])).toEqual(['0/3', '1/3', '2/3', '3/3']);
    expect(bars.at(-1)).toBe(`[${'#'.repeat(30)}] 3/3, 1 need attention`);

    const task = await fhir('GET', `Task/${taskId}`);
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({ status: 'completed', input: [{ valueDate: date }], businessStatus: { text: '3 checked, 1 need attention' } });
    expect(task.body.output.map((o: any) => o.type.coding[0].code).sort()).toEqual(['checked', 'checked', 'no-coverage']);
  });

  it.each(['tomorrow', '2026-13-01', '2026-02-30'])('refuses --date %s with exit code 2 and nothing on stdout', async (date) => {
    const out = await verifyCoverage('--date', date);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(`--date must be YYYY-MM-DD (got "${date}")`);
  });
});

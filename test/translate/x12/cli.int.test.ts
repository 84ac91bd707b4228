/**
 * `frontdesk translate FILE` for X12, as a user runs it (a child process, no database): a 271 prints its
 * CoverageEligibilityResponse with the patient and payer named by member id and payer id, a 270 its
 * CoverageEligibilityRequest with everything contained, a 999 or TA1 its OperationOutcome; bad input → exit 1,
 * nothing on stdout, an OperationOutcome on stderr; an HL7 v2 file still gets its Bundle.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/x12');
const MEMBER_ID = 'urn:frontdesk:x12:member-id';
const PAYER_ID = 'urn:frontdesk:x12:payer-id';

// Runs the CLI as test/translate/hl7v2/cli.int.test.ts does; a database that cannot exist proves none is needed.
async function translate(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/frontdesk.js'), 'translate', file], {
      env: { ...process.env, DATABASE_URL: 'postgres://nowhere.invalid/x' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontdesk-translate-x12-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to a file of its own in the temp dir; returns the path. */
async function ediFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

const fixture = (name: string) => join(FIXTURES, name);
const codeOf = (concept: any, system: string) => concept?.coding?.find((c: any) => c.system === system)?.code;

describe('frontdesk translate for X12', { timeout: 60_000 }, () => {
  it('prints the CoverageEligibilityResponse of a 271: in force, its member and payer, and its copays', async () => {
    const out = await translate(fixture('271-subscriber-response-to-clinic-x279.edi'));
    expect(out.code, out.stderr).toBe(0);
    const response = JSON.parse(out.stdout);
    expect(response).toMatchObject({
      resourceType: 'CoverageEligibilityResponse',
      outcome: 'complete',
      patient: { identifier: { system: MEMBER_ID, value: '123456789' } },
      insurer: { identifier: { system: PAYER_ID, value: '842610001' } },
      request: { identifier: { value: '93175-012547' } },
    });
    expect(response.insurance[0].inforce).toBe(true);
    // 2110C EB*B: a $10 office-visit copay in network (EB12 Y), $30 out of network (EB12 N).
    const copay = (network: string) =>
      response.insurance[0].item
        .filter((i: any) => codeOf(i.category, 'https://x12.org/codes/service-type-codes') === '98')
        .filter((i: any) => codeOf(i.network, 'http://terminology.hl7.org/CodeSystem/benefit-network') === network)
        .flatMap((i: any) => i.benefit ?? [])
        .filter((b: any) => codeOf(b.type, 'http://terminology.hl7.org/CodeSystem/benefit-type') === 'copay');
    expect(copay('in')).toEqual([expect.objectContaining({ allowedMoney: { value: 10, currency: 'USD' } })]);
    expect(copay('out')).toEqual([expect.objectContaining({ allowedMoney: { value: 30, currency: 'USD' } })]);
  });

  it('prints the CoverageEligibilityRequest of a 270, its patient and coverage contained, ' +
    'the subscriber id from NM109', async () => {
    const out = await translate(fixture('270-subscriber-request-by-clinic.edi'));
    expect(out.code, out.stderr).toBe(0);
    const request = JSON.parse(out.stdout);
    expect(request.resourceType).toBe('CoverageEligibilityRequest');
    const contained = (ref: string) => request.contained.find((r: any) => `#${r.id}` === ref);
    const patient = contained(request.patient.reference);
    expect(patient).toMatchObject({
      resourceType: 'Patient', name: [{ family: 'SMITH', given: ['ROBERT'] }], birthDate: '1943-05-19',
    });
    expect(patient.identifier).toContainEqual(expect.objectContaining({ system: MEMBER_ID, value: '11122333301' }));
    const coverage = contained(request.insurance[0].coverage.reference);
    expect(coverage).toMatchObject({
      resourceType: 'Coverage', subscriberId: '11122333301', beneficiary: { reference: request.patient.reference },
    });
    expect(contained(request.insurer.reference)?.identifier).toContainEqual({ system: PAYER_ID, value: '842610001' });
  });

  it('prints the OperationOutcome of a 999: one error per rejected set, the accepted one not an error', async () => {
    const out = await translate(fixture('999-ack-for-group-of-3-837s.edi'));
    expect(out.code, out.stderr).toBe(0);
    const outcome = JSON.parse(out.stdout);
    expect(outcome.resourceType).toBe('OperationOutcome');
    const sets = outcome.issue
      .filter((i: any) => /^Transaction set 837 /.test(i.diagnostics))
      .map((i: any) => [i.severity, i.diagnostics.slice(0, 'Transaction set 837 0001'.length)]);
    expect(sets).toEqual([
      ['information', 'Transaction set 837 0001'],
      ['error', 'Transaction set 837 0002'],
      ['error', 'Transaction set 837 0003'],
    ]);
  });

  it('prints the OperationOutcome of an interchange that holds only a TA1', async () => {
    const ta1 = await ediFile('ta1.edi', [
      'ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC01       *261204*1200*^*00501*000000779*0*P*:',
      'TA1*000000123*261204*1200*R*006',
      'IEA*0*000000779~',
    ].join('~'));
    const out = await translate(ta1);
    expect(out.code, out.stderr).toBe(0);
    const outcome = JSON.parse(out.stdout);
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue).toHaveLength(1);
    expect(outcome.issue[0]).toMatchObject({ severity: 'error', details: { coding: [{ code: '006' }] } });
    expect(outcome.issue[0].diagnostics).toMatch(/000000123 rejected/);
  });

  it('prints an error outcome for a 271 whose payer answered with AAA', async () => {
    const out = await translate(fixture('271-aaa-error.edi'));
    expect(out.code, out.stderr).toBe(0);
    const response = JSON.parse(out.stdout);
    expect(response).toMatchObject({ resourceType: 'CoverageEligibilityResponse', outcome: 'error' });
    expect(response.error.map((e: any) => codeOf(e.code, 'urn:frontdesk:x12:901'))).toEqual(['50']);
  });

  it('prints one document per line for an interchange of several sets', async () => {
    const text = (name: string) => readFileSync(fixture(name), 'latin1');
    const first = text('271-subscriber-response-to-clinic-x279.edi').replace(/IEA\*1\*000010216~$/, '');
    const second = text('270-subscriber-request-by-clinic.edi')
      .replace(/^ISA[^~]*~/, '')
      .replace(/IEA[^~]*~$/, '')
      .replaceAll('20213', '20214');
    const out = await translate(await ediFile('two-groups.edi', `${first}${second}IEA*2*000010216~`));
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).resourceType))
      .toEqual(['CoverageEligibilityResponse', 'CoverageEligibilityRequest']);
  });

  it.each([
    ['an ISA cut short', () => 'ISA*00*          *00*          *ZZ*123456789012345*ZZ', /ISA.*shorter/],
    ['an 837, which is X12 but not translated', () =>
      readFileSync(fixture('270-subscriber-request-by-clinic.edi'), 'latin1')
        .replace('GS*HS', 'GS*HC').replaceAll('005010X279A1', '005010X222A1').replace('ST*270', 'ST*837'),
      /837 is not translated/],
  ])('exits 1 for %s: nothing on stdout, an OperationOutcome on stderr', async (_what, text, names) => {
    const out = await translate(await ediFile(`bad-${Math.random().toString(36).slice(2)}.edi`, text()));
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    const outcome = JSON.parse(out.stderr);
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].severity).toBe('error');
    expect(outcome.issue[0].diagnostics).toMatch(names);
  });

  it('still translates an HL7 v2 file to its Bundle', async () => {
    const hl7 = await ediFile(
      'adt.hl7',
      'MSH|^~\\&|A|F|B|C|20260101||ADT^A04|X12CLI1|P|2.5.1\rPID|1||123^^^F^MR||Doe^Jane\r'
    );
    const out = await translate(hl7);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      resourceType: 'Bundle', type: 'transaction', identifier: { value: 'X12CLI1' },
    });
  });
});

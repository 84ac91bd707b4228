/**
 * `frontdesk translate FILE.hl7` as a user runs it (a child process, no database): the Bundle it prints loads
 * into a FHIR server (this gateway's own transaction endpoint), loading it twice changes nothing, an A40 Bundle
 * merges through its FHIRPath Patch; no conditional URL holds a `urn:uuid:` placeholder, which other servers
 * would not resolve there (R4 http.html#trules), so every corpus sample's Bundle loads from its chained searches;
 * bad input → exit code 1 and an OperationOutcome on stderr.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHl7 } from '../../../src/translate/hl7v2/charset.ts';
import { TRANSLATORS } from '../../../src/translate/hl7v2/translate.ts';
import { client, testGateway, type TestGateway } from '../../helpers/gateway.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/hl7v2');

async function translate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/frontdesk.js'), 'translate', ...args], { env: { ...process.env, DATABASE_URL: 'postgres://nowhere.invalid/x' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let g: TestGateway;
let fhir: ReturnType<typeof client>;
let dir: string;
beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
  dir = await mkdtemp(join(tmpdir(), 'frontdesk-translate-'));
});
afterAll(async () => {
  await g?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// Each case runs the CLI as a child process, which compiles the R4 JSON schema once (seconds on a loaded machine).
describe('frontdesk translate', { timeout: 90_000 }, () => {
  it('prints a transaction Bundle that loads into a FHIR server, and loading it again changes nothing', async () => {
    const out = await translate(join(FIXTURES, 'ADT-A04-01.hl7'), '--time-zone', 'America/Chicago');
    expect(out.code, out.stderr).toBe(0);
    const bundle = JSON.parse(out.stdout);
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'transaction' });
    expect(bundle.entry.map((e: any) => e.request.method)).toEqual(expect.arrayContaining(['PUT', 'POST']));
    const first = await fhir('POST', '', bundle);
    expect(first.status, JSON.stringify(first.body).slice(0, 400)).toBe(200);
    const created = first.body.entry.map((e: any) => e.response.location.replace(/\/_history\/.*/, ''));
    const second = await fhir('POST', '', bundle);
    expect(second.status).toBe(200);
    expect(second.body.entry.map((e: any) => e.response.location.replace(/\/_history\/.*/, ''))).toEqual(created);
    const patient = created.find((l: string) => l.startsWith('Patient/'));
    const coverage = await fhir('GET', `Coverage?beneficiary=${patient}`);
    expect(coverage.body.entry).toHaveLength(1);
  });

  it('an A40 Bundle retires the merged patient through a conditional FHIRPath Patch', async () => {
    const [keep, gone] = [`K${Date.now()}`, `G${Date.now()}`];
    const reg = join(dir, 'merged.hl7');
    await writeFile(reg, `MSH|^~\\&|A|CLINIC|B|C|20260101||ADT^A04|X1|P|2.5.1\rPID|1||${gone}^^^BCBS^MR||Test^Merged\r`);
    const loaded = await fhir('POST', '', JSON.parse((await translate(reg)).stdout));
    expect(loaded.status).toBe(200);
    const a40 = join(dir, 'a40.hl7');
    await writeFile(a40, `MSH|^~\\&|A|CLINIC|B|C|20260101||ADT^A40^ADT_A39|X2|P|2.5.1\rEVN|A40\rPID|1||${keep}^^^BCBS^MR||Test^Kept\rMRG|${gone}^^^BCBS^MR\r`);
    const merge = await fhir('POST', '', JSON.parse((await translate(a40)).stdout));
    expect(merge.status, JSON.stringify(merge.body).slice(0, 400)).toBe(200);
    const [retired, survivor] = merge.body.entry.map((e: any) => e.resource);
    expect(retired).toMatchObject({ active: false, name: [{ family: 'Test', given: ['Merged'] }], link: [{ type: 'replaced-by', other: { reference: `Patient/${survivor.id}` } }] });
    expect(survivor.link).toEqual([{ type: 'replaces', other: { reference: `Patient/${retired.id}` } }]);
    expect(survivor.identifier.map((i: any) => i.value)).toEqual([keep, gone]);
  });

  it('writes no urn:uuid placeholder in any request.url or ifNoneExist, and every corpus sample’s Bundle loads twice to the same resources', async () => {
    const samples = readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.hl7'))
      .map((f) => decodeHl7(readFileSync(join(FIXTURES, f))).text.replace(/^\uFEFF/, ''))
      .filter((text) => {
        const type = /^MSH\|[^|]*(?:\|[^|]*){6}\|([^|^]*)\^([^|^\r\n]*)/.exec(text);
        return type ? TRANSLATORS.has(`${type[1]}^${type[2]}`) : false;
      });
    expect(samples).toHaveLength(35);
    const file = join(dir, 'corpus.hl7');
    await writeFile(file, samples.map((t) => t.trimEnd()).join('\n'));
    const out = await translate(file, '--time-zone', 'America/Chicago');
    expect(out.code, out.stderr).toBe(0);
    const bundles = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(bundles).toHaveLength(35);
    for (const b of bundles) {
      for (const e of b.entry) {
        expect(e.request.url, b.identifier.value).not.toContain('urn:uuid:');
        expect(e.request.ifNoneExist ?? '', b.identifier.value).not.toContain('urn:uuid:');
      }
    }
    // The chained matches (`patient:Patient.identifier=…`) find on the second load what the first one wrote. A
    // merge (A40) patches a patient that must already exist: those are loaded by the test above.
    for (const b of bundles.filter((x) => !x.entry.some((e: any) => e.request.method === 'PATCH'))) {
      const first = await fhir('POST', '', b);
      expect(first.status, JSON.stringify(first.body).slice(0, 400)).toBe(200);
      const second = await fhir('POST', '', b);
      expect(second.status, JSON.stringify(second.body).slice(0, 400)).toBe(200);
      const where = (r: any) => r.body.entry.map((e: any) => e.response.location.replace(/\/_history\/.*/, ''));
      expect(where(second), b.identifier.value).toEqual(where(first));
    }
  });

  it('prints one Bundle per line for a batch file', async () => {
    const file = join(dir, 'batch.hl7');
    const m = (id: string) => `MSH|^~\\&|A|F|B|C|20260101||ADT^A04|${id}|P|2.5.1\nPID|1||${id}^^^F^MR||Batch^Test`;
    await writeFile(file, ['BHS|^~\\&|A|F', m('B1'), m('B2'), 'BTS|2'].join('\n'));
    const out = await translate(file);
    expect(out.code).toBe(0);
    expect(out.stdout.trim().split('\n').map((l) => JSON.parse(l).identifier.value)).toEqual(['B1', 'B2']);
  });

  it.each([
    ['an unsupported type', 'MSH|^~\\&|A|F|B|C|20260101||ORU^R01|X|P|2.5.1\rPID|1||1^^^F^MR\r', /ORU\^R01 is not supported/],
    ['no MSH', 'PID|1||1^^^F^MR\r', /outside any message/],
    ['a missing PID-3', 'MSH|^~\\&|A|F|B|C|20260101||ADT^A04|X|P|2.5.1\rPID|1||||Doe^J\r', /PID-3/],
    ['an impossible date', 'MSH|^~\\&|A|F|B|C|20260101||ADT^A04|X|P|2.5.1\rPID|1||1^^^F^MR||Doe^J||20261341\r', /PID-7/],
  ])('exits 1 with an OperationOutcome on stderr for %s', async (_name, text, message) => {
    const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.hl7`);
    await writeFile(file, text);
    const out = await translate(file);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('');
    const oo = JSON.parse(out.stderr);
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(oo)).toMatch(message);
  });

  it('exits 1 for a file that does not exist', async () => {
    const out = await translate(join(dir, 'nope.hl7'));
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stderr).issue[0].code).toBe('not-found');
  });
});

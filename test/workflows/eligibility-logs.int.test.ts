/**
 * No PHI in logs on the eligibility paths: a check answered, one refused with an AAA, one that times out, and a
 * pass-through 270, with logging at its most verbose; no line may carry the member's id, name or birth date.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, getToken } from '../helpers/gateway.ts';
import { eligibilityRequest, gatewayWithPayers, insuredPatient } from '../helpers/eligibility.ts';
import { startPayer, type TestPayer } from '../helpers/payer.ts';
import { answer271 } from '../helpers/x12-answers.ts';

const lines: string[] = [];
let payer: TestPayer;
let slow: TestPayer;
let env: Awaited<ReturnType<typeof gatewayWithPayers>>;

beforeAll(async () => {
  payer = await startPayer({ mode: 'x12', answer: (x12) => answer271(x12, x12.includes('MREJECT') ? { aaa: '72' } : undefined) });
  slow = await startPayer({ mode: 'x12', answer: (x12) => answer271(x12), delayMs: 3000 });
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  env = await gatewayWithPayers(
    [
      { id: 'logged', payerId: 'LOG01', url: payer.url },
      { id: 'slowlog', payerId: 'LOG02', url: slow.url, timeoutMs: 500 },
    ],
    { FRONTDESK_LOG_LEVEL: 'trace' },
    sink
  );
});
afterAll(async () => {
  await env?.cleanup();
  await Promise.all([payer?.close(), slow?.close()]);
});

describe('eligibility logs', () => {
  it('never carry the member id, name or birth date of the patients checked', async () => {
    const fhir = client(env.g);
    const answered = await insuredPatient(env.g, 'logged', { memberId: 'MSECRET4242' });
    const refused = await insuredPatient(env.g, 'logged', { memberId: 'MREJECT4343' });
    const timedOut = await insuredPatient(env.g, 'slowlog', { memberId: 'MSLOW4444' });
    expect((await fhir('POST', 'CoverageEligibilityRequest/$submit', eligibilityRequest(answered))).body.outcome).toBe('complete');
    expect((await fhir('POST', 'CoverageEligibilityRequest/$submit', eligibilityRequest(refused))).body.outcome).toBe('error');
    expect((await fhir('POST', 'CoverageEligibilityRequest/$submit', eligibilityRequest(timedOut))).body.outcome).toBe('error');
    const sample = readFileSync(join(import.meta.dirname, '../fixtures/x12/270-subscriber-request-by-clinic.edi'), 'latin1');
    const res = await fetch(`${new URL(env.g.fhirUrl).origin}/x12`, {
      method: 'POST',
      body: sample.replace('*PI*842610001~', '*PI*LOG01~').replace(/000010216/g, '000424242'),
      headers: { 'content-type': 'application/edi-x12', authorization: `Bearer ${await getToken(env.g)}` },
    });
    expect(res.status).toBe(200);
    expect(lines.some((l) => l.includes('payer answered'))).toBe(true); // the exchanges were logged…
    const secrets = ['MSECRET4242', 'MREJECT4343', 'MSLOW4444', '11122333301', 'Testperson', 'TESTPERSON', 'ALEXANDRA', 'SMITH', 'ROBERT', '19800101', '1980-01-01', '19430519'];
    for (const secret of secrets) expect(lines.filter((l) => l.includes(secret))).toEqual([]); // …without PHI
  });
});

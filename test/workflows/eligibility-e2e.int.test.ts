/**
 * Eligibility end to end against a real payer on a local port, in each connectivity mode (raw X12, JSON, CAQH CORE
 * multipart), and the `/x12` pass-through: a practice system's 270 routed by its payer id and answered with the
 * payer's 271, both sides stored, linked and translated.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInterchange } from '../../src/translate/x12/envelope.ts';
import { client, getToken } from '../helpers/gateway.ts';
import { eligibilityRequest, gatewayWithPayers, insuredPatient } from '../helpers/eligibility.ts';
import { startPayer, type TestPayer } from '../helpers/payer.ts';
import { answer271, read270, reject999 } from '../helpers/x12-answers.ts';

const modes = ['x12', 'json', 'core'] as const;
const payers: Record<string, TestPayer> = {};
let env: Awaited<ReturnType<typeof gatewayWithPayers>>;
let down: TestPayer;
let rejecting: TestPayer;
let slow: TestPayer;

beforeAll(async () => {
  for (const mode of modes) payers[mode] = await startPayer({ mode, answer: (x12) => answer271(x12) });
  down = await startPayer({ mode: 'x12', answer: () => '', status: 503 });
  rejecting = await startPayer({ mode: 'x12', answer: (x12) => reject999(x12) });
  slow = await startPayer({ mode: 'x12', answer: (x12) => answer271(x12), delayMs: 1500 });
  env = await gatewayWithPayers([
    ...modes.map((mode) => ({ id: `payer-${mode}`, payerId: `P${mode.toUpperCase()}`, url: payers[mode]!.url, mode })),
    { id: 'payer-down', payerId: 'PDOWN', url: down.url, extra: { retries: 0 } },
    { id: 'payer-rejecting', payerId: 'PREJECT', url: rejecting.url },
    { id: 'payer-slow', payerId: 'PSLOW', url: slow.url },
  ]);
});
afterAll(async () => {
  await env?.cleanup();
  await Promise.all([...Object.values(payers), down, rejecting, slow].map((p) => p?.close()));
});

describe('eligibility against a real local payer', () => {
  it.each(modes)('checks coverage over the %s mode', async (mode) => {
    const i = await insuredPatient(env.g, `payer-${mode}`);
    const res = await client(env.g)('POST', 'CoverageEligibilityRequest/$submit', eligibilityRequest(i));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'complete', insurance: [{ inforce: true }] });
    const seen = payers[mode]!.requests.at(-1)!;
    const x12 = mode === 'core' ? seen.fields?.Payload : mode === 'json' ? JSON.parse(seen.body).x12 : seen.body;
    expect(read270(x12!).subscriber[9]).toBe(i.memberId);
    if (mode === 'core') {
      expect(seen.fields).toMatchObject({ PayloadType: 'X12_270_Request_005010X279A1', ProcessingMode: 'RealTime', CORERuleVersion: '2.2.0', SenderID: 'CLINIC01' });
    }
  });
});

describe('POST /x12 pass-through of a 270', () => {
  const sample = readFileSync(join(import.meta.dirname, '../fixtures/x12/270-subscriber-request-by-clinic.edi'), 'latin1');
  const from = (payerId: string, control: string) =>
    sample.replace('*PI*842610001~', `*PI*${payerId}~`).replace('*000010216*0*T*', `*${control}*0*T*`).replace('IEA*1*000010216', `IEA*1*${control}`);
  const post = async (body: string) => {
    const res = await fetch(`${new URL(env.g.fhirUrl).origin}/x12`, {
      method: 'POST', body, headers: { 'content-type': 'application/edi-x12', authorization: `Bearer ${await getToken(env.g)}` },
    });
    return { status: res.status, text: await res.text(), id: res.headers.get('x-message-id') };
  };

  it('routes by the 2100A payer id and answers with the payer 271, re-enveloped to the practice', async () => {
    const control = String(100000000 + Math.floor(Math.random() * 8e8));
    const res = await post(from('PX12', control));
    expect(res.status).toBe(200);
    const ix = readInterchange(res.text);
    expect(ix.problems).toEqual([]);
    expect(ix.groups[0]).toMatchObject({ functionalId: 'HB' });
    expect(ix.groups[0]!.transactions[0]!.id).toBe('271');
    expect(ix.receiver).toBe('123456789012345'); // back to the practice's ISA06
    // The payer saw our envelope, with the practice's subscriber.
    const forwarded = read270(payers.x12!.requests.at(-1)!.body);
    expect(forwarded.isaSender).toBe('CLINIC01');
    expect(forwarded.subscriber[9]).toBe('11122333301');
    const rows = await env.g.db.sql`
      SELECT id::text, direction, message_type, related::text, resources FROM message WHERE id = ${res.id} OR related = ${res.id}
        OR related IN (SELECT id FROM message WHERE related = ${res.id}) ORDER BY id`;
    expect(rows.map((r) => `${r.direction} ${r.message_type}`)).toEqual(['inbound 270', 'outbound 270', 'inbound 271']);
    expect(rows[0]!.resources.some((r: string) => r.startsWith('CoverageEligibilityResponse/'))).toBe(true);
  });

  it('answers a 271 with AAA 42 at 2100A when the payer is unavailable', async () => {
    const control = String(100000000 + Math.floor(Math.random() * 8e8));
    const res = await post(from('PDOWN', control));
    expect(res.status).toBe(200);
    const segs = res.text.split('~').map((s) => s.split('*'));
    expect(segs.find((s) => s[0] === 'ST')?.[1]).toBe('271');
    expect(segs.find((s) => s[0] === 'AAA')).toEqual(['AAA', 'Y', '', '42', 'R']);
  });

  it('rejects the set in a 999 with the payer reason when the payer rejects the 270', async () => {
    const control = String(100000000 + Math.floor(Math.random() * 8e8));
    const res = await post(from('PREJECT', control));
    const segs = res.text.split('~').map((s) => s.split('*'));
    expect(segs.find((s) => s[0] === 'IK5')?.[1]).toBe('R');
    const [row] = await env.g.db.sql`SELECT status, outcome FROM message WHERE id = ${res.id}`;
    expect(row!.outcome.issue[0].diagnostics).toMatch(/payer rejected the inquiry/);
  });

  it('answers a resend that arrives while the first copy waits on the payer with 409, asking the payer once', async () => {
    const control = String(100000000 + Math.floor(Math.random() * 8e8));
    const asked = slow.requests.length;
    const first = post(from('PSLOW', control));
    await new Promise((r) => setTimeout(r, 400));
    const again = await post(from('PSLOW', control));
    expect(again.status).toBe(409);
    expect((await first).status).toBe(200);
    expect(slow.requests.length - asked).toBe(1);
    const late = await post(from('PSLOW', control)); // once answered, a resend gets the first answer
    expect(late.text).toBe((await first).text);
  });

  it('refuses a 270 for a payer id no partner has in its 999', async () => {
    const control = String(100000000 + Math.floor(Math.random() * 8e8));
    const res = await post(from('NOSUCHPAYER', control));
    const segs = res.text.split('~').map((s) => s.split('*'));
    expect(segs.find((s) => s[0] === 'IK5')?.[1]).toBe('R');
  });
});

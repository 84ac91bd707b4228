/**
 * `CoverageEligibilityRequest/$submit` through the gateway, the payer on the far side simulated with msw: what the
 * front desk sees for an active plan, an AAA rejection, a 999 or TA1 refusal, a payer that is down, slow or too
 * slow, and a payer whose circuit is open; the 270 that left, the message log and the reuse of recent answers.
 */
import { http, HttpResponse, delay } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { client } from '../helpers/gateway.ts';
import { eligibilityRequest, gatewayWithPayers, insuredPatient } from '../helpers/eligibility.ts';
import { ACTIVE_PPO, answer271, INACTIVE, read270, reject999, rejectTa1, type Answer } from '../helpers/x12-answers.ts';

const URL_ = 'https://payer.test/eligibility';
const DOWN = 'https://down.test/eligibility';
const mock = setupServer();
let env: Awaited<ReturnType<typeof gatewayWithPayers>>;
let fhir: ReturnType<typeof client>;
const seen: string[] = [];

beforeAll(async () => {
  // The test's own requests to the gateway pass through untouched.
  mock.listen({ onUnhandledFrame: () => {} });
  env = await gatewayWithPayers([
    { id: 'acme', payerId: 'ACME01', url: URL_, timeoutMs: 1500 },
    { id: 'down', payerId: 'DOWN01', url: DOWN, timeoutMs: 1000, extra: { retries: 0, circuit: { failures: 2, resetMs: 60000 } } },
  ]);
  fhir = client(env.g);
});
afterAll(async () => {
  mock.close();
  await env?.cleanup();
});
beforeEach(() => {
  mock.resetHandlers();
  seen.length = 0;
});

function payer(answer: Answer | ((x12: string) => string | Response | Promise<Response>)) {
  mock.use(
    http.post(URL_, async ({ request }) => {
      const x12 = await request.text();
      seen.push(x12);
      if (typeof answer === 'function') {
        const out = await answer(x12);
        return typeof out === 'string' ? HttpResponse.text(out) : out;
      }
      return HttpResponse.text(answer271(x12, answer));
    })
  );
}

async function submit(body: object, query = '') {
  return fhir('POST', `CoverageEligibilityRequest/$submit${query}`, body);
}

describe('CoverageEligibilityRequest/$submit', () => {
  it('answers an active plan with copays in and out of network, deductible left, coinsurance and exclusions', async () => {
    payer(ACTIVE_PPO);
    const i = await insuredPatient(env.g, 'acme');
    const res = await submit(eligibilityRequest(i, { servicedDate: '2026-12-07' }));
    expect(res.status).toBe(200);
    const r = res.body;
    expect(r).toMatchObject({ resourceType: 'CoverageEligibilityResponse', outcome: 'complete', patient: { reference: i.patient } });
    expect(r.id).toBeTruthy();
    expect(r.insurance[0].inforce).toBe(true);
    expect(r.insurance[0].benefitPeriod).toEqual({ start: '2026-01-01', end: '2026-12-31' });
    const office = r.insurance[0].item.filter((x: any) => x.category?.coding?.[0]?.code === '98');
    const copay = (net: string) => office.find((x: any) => x.network?.coding?.[0]?.code === net)?.benefit?.[0];
    expect(copay('in')).toMatchObject({ allowedMoney: { value: 25 } });
    expect(copay('out')).toMatchObject({ allowedMoney: { value: 60 } });
    const deductible = r.insurance[0].item.flatMap((x: any) => x.benefit ?? []).find((b: any) => b.type.coding.some((c: any) => c.code === 'deductible'));
    expect(deductible).toMatchObject({ allowedMoney: { value: 500 }, usedMoney: { value: 150 } });
    const coins = r.insurance[0].item.flatMap((x: any) => x.benefit ?? []).find((b: any) => b.type.coding.some((c: any) => c.code === 'copay-percent'));
    expect(coins.allowedUnsignedInt).toBe(20);
    const vision = r.insurance[0].item.find((x: any) => x.category?.coding?.[0]?.code === 'AL');
    expect(vision).toMatchObject({ excluded: true });
    // The 270 that left: the payer, the provider's NPI, the member, the date of service and the default service type.
    const sent = read270(seen[0]!);
    expect(sent.payer[9]).toBe('ACME01');
    expect(sent.provider[9]).toBe('1234567893');
    expect(sent.subscriber.slice(3, 5)).toEqual(['TESTPERSON', 'ALEXANDRA']);
    expect(sent.subscriber[9]).toBe(i.memberId);
    expect(sent.dtp).toEqual(['D8', '20261207']);
    expect(sent.eq).toEqual(['30']);
    // Stored: the response is readable, both sides are in the message log, linked.
    expect((await fhir('GET', `CoverageEligibilityResponse/${r.id}`)).status).toBe(200);
    const messageId = r.identifier.find((x: any) => x.system === 'urn:frontdesk:message').value;
    const [answer] = await env.g.db.sql`SELECT direction, message_type, related::text, status, resources FROM message WHERE id = ${messageId}`;
    expect(answer).toMatchObject({ direction: 'inbound', message_type: '271', status: 'processed', resources: [`CoverageEligibilityResponse/${r.id}`] });
    const [out] = await env.g.db.sql`SELECT direction, message_type, status, raw, control_id FROM message WHERE id = ${answer!.related}`;
    expect(out).toMatchObject({ direction: 'outbound', message_type: '270', status: 'processed' });
    expect(Buffer.from(out!.raw).toString('latin1')).toBe(seen[0]);
  });

  it('draws ISA13 from a sequence: two checks never share a control number', async () => {
    payer(ACTIVE_PPO);
    const i = await insuredPatient(env.g, 'acme');
    await submit(eligibilityRequest(i), '?fresh=true');
    await submit(eligibilityRequest(i), '?fresh=true');
    const [a, b] = seen.map((x) => read270(x).control);
    expect(a).toMatch(/^\d{9}$/);
    expect(Number(b)).toBeGreaterThan(Number(a));
  });

  it('reuses a recent complete answer for the same coverage and date unless asked for a fresh one', async () => {
    payer(ACTIVE_PPO);
    const i = await insuredPatient(env.g, 'acme');
    const first = await submit(eligibilityRequest(i, { servicedDate: '2026-12-08' }));
    const again = await submit(eligibilityRequest(i, { servicedDate: '2026-12-08' }));
    expect(again.body.id).toBe(first.body.id);
    expect(seen).toHaveLength(1);
    const fresh = await submit({ resourceType: 'Parameters', parameter: [{ name: 'request', resource: eligibilityRequest(i, { servicedDate: '2026-12-08' }) }, { name: 'fresh', valueBoolean: true }] });
    expect(fresh.body.id).not.toBe(first.body.id);
    expect(seen).toHaveLength(2);
    const otherDay = await submit(eligibilityRequest(i, { servicedDate: '2026-12-09' }));
    expect(otherDay.body.id).not.toBe(first.body.id);
  });

  it('reports inactive coverage as inforce false', async () => {
    payer(INACTIVE);
    const i = await insuredPatient(env.g, 'acme');
    const res = await submit(eligibilityRequest(i));
    expect(res.body.outcome).toBe('complete');
    expect(res.body.insurance[0].inforce).toBe(false);
  });

  it('turns an AAA 72 into outcome error with the reject reason and the follow-up action', async () => {
    payer({ aaa: '72' });
    const i = await insuredPatient(env.g, 'acme');
    const res = await submit(eligibilityRequest(i));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('error');
    const codes = res.body.error[0].code.coding.map((c: any) => c.code);
    expect(codes).toEqual(expect.arrayContaining(['72', 'C']));
  });

  it('reports a member id the payer corrected without changing the Coverage', async () => {
    payer({ ...ACTIVE_PPO, memberId: 'NEWID999' });
    const i = await insuredPatient(env.g, 'acme');
    const res = await submit(eligibilityRequest(i));
    expect(res.body.disposition).toMatch(/NEWID999/);
    expect((await fhir('GET', i.coverage)).body.subscriberId).toBe(i.memberId);
  });

  it('compares the payer record with the name the 270 carried, not a former name listed first', async () => {
    payer(ACTIVE_PPO);
    const i = await insuredPatient(env.g, 'acme');
    const patient = (await fhir('GET', i.patient)).body;
    const names = [{ use: 'old', family: 'Formername', given: ['Alexandra'] }, { use: 'official', family: 'Testperson', given: ['Alexandra'] }];
    expect((await fhir('PUT', i.patient, { ...patient, name: names })).status).toBe(200);
    const res = await submit(eligibilityRequest(i));
    expect(read270(seen[0]!).subscriber[3]).toBe('TESTPERSON');
    expect(res.body.disposition).not.toMatch(/differs/);
  });

  it.each([
    ['a 999 rejection', (x: string) => reject999(x), '999-rejected'],
    ['a TA1 rejection', (x: string) => rejectTa1(x), 'ta1-rejected'],
    ['HTTP 500', () => new HttpResponse('oops', { status: 500 }), 'http-error'],
    ['an HTML page', () => new HttpResponse('<html>maintenance</html>', { status: 200, headers: { 'content-type': 'text/html' } }), 'bad-response'],
  ])('answers %s with outcome error and a reason, never a 500', async (_, answer, code) => {
    payer(answer as (x12: string) => string | Response);
    const i = await insuredPatient(env.g, 'acme');
    const res = await submit(eligibilityRequest(i));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('error');
    expect(res.body.error[0].code.coding.map((c: any) => c.code)).toContain(code);
    expect(res.body.disposition.length).toBeGreaterThan(10);
  });

  it('waits for a slow payer within its timeout, and gives up on one beyond it', async () => {
    const i = await insuredPatient(env.g, 'acme');
    payer(async (x12) => (await delay(400), HttpResponse.text(answer271(x12))));
    expect((await submit(eligibilityRequest(i), '?fresh=true')).body.outcome).toBe('complete');
    payer(async (x12) => (await delay(5000), HttpResponse.text(answer271(x12))));
    const started = Date.now();
    const res = await submit(eligibilityRequest(i), '?fresh=true');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.body.outcome).toBe('error');
    expect(res.body.error[0].code.coding.map((c: any) => c.code)).toEqual(expect.arrayContaining(['80', 'timeout']));
  });

  it('opens the circuit of a payer that is down: later checks fail at once without calling it', async () => {
    let calls = 0;
    mock.use(http.post(DOWN, () => (calls++, new HttpResponse('down for maintenance', { status: 503 }))));
    const i = await insuredPatient(env.g, 'down');
    for (let n = 0; n < 2; n++) expect((await submit(eligibilityRequest(i), '?fresh=true')).body.outcome).toBe('error');
    expect(calls).toBe(2);
    const res = await submit(eligibilityRequest(i), '?fresh=true');
    expect(res.body.error[0].code.coding.map((c: any) => c.code)).toContain('circuit-open');
    expect(calls).toBe(2);
  });

  it('refuses a request it cannot send with a 400 naming what is missing', async () => {
    const i = await insuredPatient(env.g, 'acme');
    const res = await submit(eligibilityRequest(i, { provider: undefined }));
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['CoverageEligibilityRequest.provider']);
  });

  it('needs the create scopes', async () => {
    const i = await insuredPatient(env.g, 'acme');
    const { getToken } = await import('../helpers/gateway.ts');
    const weak = client(env.g, () => getToken(env.g, 'system/CoverageEligibilityRequest.rs'));
    expect((await weak('POST', 'CoverageEligibilityRequest/$submit', eligibilityRequest(i))).status).toBe(403);
  });

  it('audits the 270 sent as an outbound exchange', async () => {
    payer(ACTIVE_PPO);
    const i = await insuredPatient(env.g, 'acme');
    await submit(eligibilityRequest(i), '?fresh=true');
    const control = read270(seen[0]!).control;
    const events = await fhir('GET', `AuditEvent?entity-name=${control}`);
    expect(events.body.entry?.[0]?.resource).toMatchObject({ type: { code: '110106' }, subtype: [{ code: '270' }], outcome: '0' });
  });
});

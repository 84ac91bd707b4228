/**
 * The outbox over real MLLP sockets: a message enqueued with a resource change leaves after the commit (never for a
 * change that rolled back), in order per destination, once; a partner down holds its queue and gets every message
 * once when it is back; AE is a refusal recorded with its reason; a partner that never answers ends in a dead letter
 * that `$resend` sends again; two gateway processes on one database send each message exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue } from '../../src/store/outbox.ts';
import { client, getToken, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';
import { startMllpPartner, type MllpPartner } from '../helpers/mllp-partner.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { until } from '../helpers/wait.ts';

// An ACK wait long enough that a busy machine does not turn a slow answer into a retry (a second copy).
const FAST = { FRONTDESK_OUTBOX_RETRY_MS: '50', FRONTDESK_OUTBOX_ACK_TIMEOUT_MS: '1500', FRONTDESK_OUTBOX_MAX_ATTEMPTS: '4' };
let g: TestGateway;
let second: TestGateway;
const partners: MllpPartner[] = [];

beforeAll(async () => {
  // A database of their own: every gateway's worker delivers every destination's queue, so the other test files'
  // gateways (default ACK wait, default retries) must not see these rows.
  const url = await freshDatabase();
  g = await testGateway({ ...FAST, DATABASE_URL: url });
  second = await testGateway({ ...FAST, DATABASE_URL: url });
});
afterAll(async () => {
  for (const p of partners) expect(p.unreadable).toEqual([]);
  await Promise.all([g?.stop(), second?.stop()]);
  await Promise.all(partners.map((p) => p.down()));
  await dropAll();
});

async function partner(answer?: Parameters<typeof startMllpPartner>[0], delayMs = 0): Promise<{ p: MllpPartner; endpoint: string }> {
  const p = await startMllpPartner(answer, delayMs);
  partners.push(p);
  const res = await client(g)('POST', 'Endpoint', {
    resourceType: 'Endpoint',
    status: 'active',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7v2-mllp' },
    payloadType: [{ text: 'HL7 v2' }],
    address: `mllp://127.0.0.1:${p.port}`,
  });
  return { p, endpoint: `Endpoint/${res.body.id}` };
}

const hl7 = (control: string) =>
  Buffer.from(`MSH|^~\\&|FRONTDESK|CLINIC|SPECIALIST|OFFICE|20261204120000||REF^I12^REF_I12|${control}|P|2.5.1\rRF1|A\r`);

/** Enqueues messages in one transaction with a resource change, then wakes the worker, as a workflow would. */
async function send(gw: TestGateway, endpoint: string, controls: string[], rollback = false): Promise<string[]> {
  const ids: string[] = [];
  await gw.repo
    .transaction(async (tx) => {
      await tx.create({ resourceType: 'Task', status: 'requested', intent: 'order' });
      for (const c of controls) {
        ids.push(await enqueue(tx.sql, { destination: endpoint, sender: 'FRONTDESK^CLINIC', receiver: 'SPECIALIST^OFFICE', controlId: c, messageType: 'REF^I12', raw: hl7(c) }));
      }
      if (rollback) throw new Error('rolled back on purpose');
    })
    .catch((err: Error) => {
      if (!rollback) throw err;
    });
  gw.outbox.kick();
  return ids;
}

async function statusOf(id: string) {
  const [row] = await g.db.sql`SELECT status, attempts, last_error, response FROM message WHERE id = ${id}`;
  return row as { status: string; attempts: number; last_error: string | null; response: string | null };
}

describe('the outbox', () => {
  it('delivers after the commit, in order, once, and records the ACK', async () => {
    const { p, endpoint } = await partner();
    const controls = [unique('c'), unique('c'), unique('c')];
    const ids = await send(g, endpoint, controls);
    await until(() => p.received.length >= 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.received).toEqual(controls);
    await until(async () => (await statusOf(ids[2]!)).status === 'processed');
    expect(await statusOf(ids[0]!)).toMatchObject({ status: 'processed', attempts: 1 });
    expect((await statusOf(ids[0]!)).response).toContain(`MSA|AA|${controls[0]}`);
  });

  it('sends nothing for a change that rolled back', async () => {
    const { p, endpoint } = await partner();
    const ids = await send(g, endpoint, [unique('rb')], true);
    await new Promise((r) => setTimeout(r, 500));
    expect(p.received).toEqual([]);
    expect((await g.db.sql`SELECT 1 FROM message WHERE id = ${ids[0]!}`).length).toBe(0);
  });

  it('holds the queue of a partner that is down, past the attempts a silent partner gets, and sends everything once, in order, when it is back', async () => {
    const { p, endpoint } = await partner();
    await p.down();
    const controls = Array.from({ length: 5 }, () => unique('d'));
    const ids = await send(g, endpoint, controls);
    // 50, 100, 200, 400 ms: four attempts are spent well within this, and an unreachable partner makes no dead letter.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await statusOf(ids[0]!)).status).toBe('pending');
    await p.up();
    await until(() => p.received.length >= 5, 15000);
    await new Promise((r) => setTimeout(r, 300));
    expect(p.received).toEqual(controls);
  });

  it('records an AE as a refusal with its reason, and goes on with the next message', async () => {
    const first = unique('ae');
    const { p, endpoint } = await partner((c) => (c === first ? 'AE' : 'AA'));
    const ids = await send(g, endpoint, [first, unique('ok')]);
    await until(() => p.received.length >= 2);
    await until(async () => (await statusOf(ids[1]!)).status === 'processed');
    expect(p.received).toEqual([first, expect.any(String)]);
    expect(await statusOf(ids[0]!)).toMatchObject({ status: 'failed', attempts: 1 });
    expect((await statusOf(ids[0]!)).last_error).toMatch(/AE: .*Patient not known here/);
  });

  it('makes a dead letter of a message never answered, which $resend sends again', async () => {
    let answer: 'none' | 'AA' = 'none';
    const { p, endpoint } = await partner(() => answer);
    const [id] = await send(g, endpoint, [unique('dl')]);
    await until(async () => (await statusOf(id!)).status === 'failed', 15000);
    expect(await statusOf(id!)).toMatchObject({ attempts: 4 });
    expect((await statusOf(id!)).last_error).toMatch(/Dead letter after 4 attempt/);
    answer = 'AA';
    const token = await getToken(g);
    const res = await fetch(`${new URL(g.fhirUrl).origin}/messages/${id}/$resend`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    await until(async () => (await statusOf(id!)).status === 'processed');
    expect(p.received.length).toBe(5);
    const again = await fetch(`${new URL(g.fhirUrl).origin}/messages/${id}/$resend`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(again.status).toBe(409); // delivered: never sent twice by hand
  });

  it('lists outbound messages with their attempts and last error, and audits every attempt', async () => {
    const { p, endpoint } = await partner();
    const c = unique('log');
    const [id] = await send(g, endpoint, [c]);
    await until(() => p.received.length >= 1);
    await until(async () => (await statusOf(id!)).status === 'processed');
    const token = await getToken(g);
    const list = (await (await fetch(`${new URL(g.fhirUrl).origin}/messages?direction=outbound&_count=200`, { headers: { authorization: `Bearer ${token}` } })).json()) as { messages: { id: string }[] };
    expect(list.messages.find((m: { id: string }) => m.id === id)).toMatchObject({ destination: endpoint, attempts: 1, status: 'processed' });
    await until(async () => ((await client(g)('GET', `AuditEvent?entity-name=${c}`)).body.entry?.length ?? 0) >= 1);
    const event = (await client(g)('GET', `AuditEvent?entity-name=${c}`)).body.entry[0].resource;
    expect(event).toMatchObject({ type: { code: '110106' }, outcome: '0', outcomeDesc: 'hl7v2 AA' });
  });

  it('lists each outbound message with its attempts, last error and ACK code, and never a partner’s wording', async () => {
    const [ok, refusing, down] = [await partner(), await partner(() => 'AE'), await partner()];
    await down.p.down();
    const controls = [unique('aa'), unique('ae'), unique('down')] as const;
    const [delivered] = await send(g, ok.endpoint, [controls[0]]);
    const [refused] = await send(g, refusing.endpoint, [controls[1]]);
    const [waiting] = await send(g, down.endpoint, [controls[2]]);
    await until(async () => (await statusOf(delivered!)).status === 'processed');
    await until(async () => (await statusOf(refused!)).status === 'failed');
    await until(async () => (await statusOf(waiting!)).attempts >= 2);
    const token = await getToken(g);
    const read = async (path: string): Promise<any> =>
      (await fetch(`${new URL(g.fhirUrl).origin}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
    const { messages } = (await read('/messages?direction=outbound&_count=500')) as { messages: any[] };
    const listed = (id: string | undefined) => messages.find((m) => m.id === id);
    expect(listed(delivered)).toMatchObject({
      status: 'processed',
      attempts: 1,
      lastError: null,
      ack: { code: 'AA', controlId: controls[0], receivedAt: expect.any(String) },
    });
    expect(listed(refused)).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: expect.stringMatching(/^AE: refused by the partner/),
      ack: { code: 'AE', controlId: controls[1] },
    });
    expect(listed(waiting)).toMatchObject({
      status: 'pending',
      lastError: expect.stringMatching(/^unreachable: Cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/),
      ack: null,
    });
    expect(listed(waiting).attempts).toBeGreaterThan(0);
    // The partner's free text (MSA-3 here) may quote a patient: only a read of that one message shows it.
    expect(JSON.stringify(messages)).not.toContain('Patient not known here');
    for (const id of [delivered, refused, waiting]) {
      for (const key of ['raw', 'rawBase64', 'response']) expect(listed(id)).not.toHaveProperty(key);
    }
    const one = await read(`/messages/${refused}`);
    expect(one).toMatchObject({ lastError: 'AE: Patient not known here', ack: { code: 'AE', controlId: controls[1] } });
    expect(one.response).toContain(`MSA|AE|${controls[1]}`);
  });

  it('sends each message exactly once, one at a time and in commit order, with two gateway processes on one database', async () => {
    const { p, endpoint } = await partner(undefined, 30);
    const controls = Array.from({ length: 20 }, () => unique('two'));
    await Promise.all([send(g, endpoint, controls.slice(0, 10)), send(second, endpoint, controls.slice(10))]);
    second.outbox.kick();
    await until(() => p.received.length >= 20, 20000);
    await new Promise((r) => setTimeout(r, 500));
    expect([...p.received].sort()).toEqual([...controls].sort());
    expect(new Set(p.received).size).toBe(20);
    expect(p.maxOutstanding).toBe(1);
    const queued = await g.db.sql<{ control_id: string }[]>`
      SELECT control_id FROM message WHERE destination = ${endpoint} ORDER BY queue_seq`;
    expect(p.received).toEqual(queued.map((r) => r.control_id));
  });

  it('puts a dead letter sent again after the messages that went out meanwhile', async () => {
    const stuck = unique('stuck');
    let refuse = true;
    const { p, endpoint } = await partner((c) => (c === stuck && refuse ? 'AE' : 'AA'));
    const [id] = await send(g, endpoint, [stuck]);
    await until(async () => (await statusOf(id!)).status === 'failed');
    const later = unique('later');
    await send(g, endpoint, [later]);
    await until(() => p.received.includes(later));
    refuse = false;
    const token = await getToken(g);
    await fetch(`${new URL(g.fhirUrl).origin}/messages/${id}/$resend`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await until(async () => (await statusOf(id!)).status === 'processed');
    expect(p.received).toEqual([stuck, later, stuck]);
  });
});

/**
 * The closed referral loop over real MLLP sockets: a specialist office (an MLLP listener) receives the REF^I12 a
 * FHIR ServiceRequest causes, ACKs it, answers with RRI^I12 and books with SIU^S12 over the gateway's own MLLP
 * door; the Task follows (requested → received → accepted → in-progress), a change sends REF^I13, revoking sends
 * REF^I14 and cancels the Task. Every outbound message is read by @medplum/core's Hl7Message.
 */
import { Hl7Message } from '@medplum/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, getToken, testGateway, type TestGateway } from '../helpers/gateway.ts';
import { startMllpPartner, type MllpPartner } from '../helpers/mllp-partner.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { createReferralWorld, sendToGateway, type ReferralWorld } from '../helpers/referral-world.ts';
import { until } from '../helpers/wait.ts';

const FAST = {
  FRONTDESK_OUTBOX_RETRY_MS: '50',
  FRONTDESK_OUTBOX_ACK_TIMEOUT_MS: '1500',
  FRONTDESK_OUTBOX_MAX_ATTEMPTS: '2',
};
let g: TestGateway;
let office: MllpPartner;
let refusing: MllpPartner;
let w: ReferralWorld;

let url: string;

beforeAll(async () => {
  url = await freshDatabase();
  g = await testGateway({ ...FAST, DATABASE_URL: url, FRONTDESK_HL7_FACILITY: 'NORTHCLINIC' });
  office = await startMllpPartner();
  refusing = await startMllpPartner(() => 'AE');
  w = await createReferralWorld(client(g), office.port, refusing.port);
});
afterAll(async () => {
  expect(office?.unreadable).toEqual([]);
  await g?.stop();
  await Promise.all([office?.down(), refusing?.down()]);
  await dropAll();
});

const fromOffice = (text: string) => sendToGateway(g.mllpAddress, text);
const taskOf = async (sr: string) =>
  (await client(g)('GET', `Task?focus=ServiceRequest/${sr}`)).body.entry?.[0]?.resource;
const parsed = (i: number) => Hl7Message.parse((office.messages[i] as string).trim());

describe('a referral sent to a specialist office', () => {
  let sr: any;
  it('goes out as REF^I12 with the Endpoint’s MSH-5/6, and its Task is received on AA', async () => {
    sr = (await client(g)('POST', 'ServiceRequest', w.referral())).body;
    await until(() => office.received.length === 1);
    const m = parsed(0);
    expect(m.getSegment('MSH')?.getField(9)?.toString()).toBe('REF^I12^REF_I12');
    expect([3, 4, 5, 6].map((n) => m.getSegment('MSH')?.getField(n)?.toString())).toEqual([
      'FRONTDESK',
      'NORTHCLINIC',
      'CARDIOAPP',
      'CARDIO',
    ]);
    expect(m.getSegment('RF1')?.getField(6)?.toString()).toBe(`${sr.id}^^urn:frontdesk:referral^URI`);
    expect(m.getSegment('PID')?.getField(5)?.toString()).toBe('Quill^Ada');
    expect(m.getSegment('IN1')?.getField(4)?.toString()).toBe('Acme Health');
    expect(m.getSegment('DG1')?.getField(3)?.getComponent(1)).toBe('I20.9');
    expect(m.getSegment('OBX')?.getField(5)?.getComponent(4)).toBe('Base64');
    await until(async () => (await taskOf(sr.id))?.status === 'received');
    const task = await taskOf(sr.id);
    expect(task.owner.reference).toBe(`Organization/${w.specialistOrg}`);
    expect(task.focus.reference).toBe(`ServiceRequest/${sr.id}`);
    const subject = `ServiceRequest/${sr.id}`;
    const [row] = await g.db.sql`
      SELECT control_id, status, subject FROM message WHERE direction = 'outbound' AND subject = ${subject}`;
    expect(row).toMatchObject({ control_id: office.received[0], status: 'processed' });
  });

  it('RRI^I12 accepting it (matched by RF1-6) makes the Task accepted', async () => {
    const ack = await fromOffice(w.rri('RRI0001', 'A', `${sr.id}^^urn:frontdesk:referral^URI`));
    expect(ack).toBe('AA');
    expect((await taskOf(sr.id)).status).toBe('accepted');
  });

  it('SIU^S12 naming it in SCH-26 links the Appointment and starts the Task, and echoes nothing back', async () => {
    const ack = await fromOffice(w.siu('SIU0001', `${sr.id}^^urn:frontdesk:referral^URI`));
    expect(ack).toBe('AA');
    const appt = (await client(g)('GET', 'Appointment?identifier=urn:frontdesk:id:CARDIO|APPT-77')).body.entry[0]
      .resource;
    expect(appt.basedOn).toEqual([{ reference: `ServiceRequest/${sr.id}` }]);
    expect((await taskOf(sr.id)).status).toBe('in-progress');
    await new Promise((r) => setTimeout(r, 400));
    expect(office.received).toHaveLength(1);
  });

  it('a change the specialist would read sends REF^I13; a change it would not sends nothing', async () => {
    sr = (await client(g)('PUT', `ServiceRequest/${sr.id}`, { ...sr, note: [{ text: 'Now urgent: symptoms worse.' }] }))
      .body;
    await until(() => office.received.length === 2);
    expect(parsed(1).getSegment('MSH')?.getField(9)?.toString()).toBe('REF^I13^REF_I12');
    expect(parsed(1).getSegment('NTE')?.getField(3)?.toString()).toBe('Now urgent: symptoms worse.');
    sr = (
      await client(g)('PUT', `ServiceRequest/${sr.id}`, {
        ...sr,
        meta: undefined,
        identifier: [{ system: 'urn:x-ehr', value: 'r-1' }],
      })
    ).body;
    await new Promise((r) => setTimeout(r, 400));
    expect(office.received).toHaveLength(2);
  });

  it('put on hold: REF^I13 saying H', async () => {
    sr = (await client(g)('PUT', `ServiceRequest/${sr.id}`, { ...sr, meta: undefined, status: 'on-hold' })).body;
    await until(() => office.received.length === 3);
    expect(parsed(2).getSegment('MSH')?.getField(9)?.toString()).toBe('REF^I13^REF_I12');
    expect(parsed(2).getSegment('RF1')?.getField(1)?.toString()).toBe('H');
  });

  it('revoked: REF^I14 and the Task cancelled', async () => {
    await client(g)('PUT', `ServiceRequest/${sr.id}`, { ...sr, status: 'revoked' });
    await until(() => office.received.length === 4);
    expect(parsed(3).getSegment('MSH')?.getField(9)?.toString()).toBe('REF^I14^REF_I12');
    expect(parsed(3).getSegment('RF1')?.getField(1)?.toString()).toBe('R');
    expect((await taskOf(sr.id)).status).toBe('cancelled');
  });

  it('a revoked referral is not reopened: 409, nothing sent', async () => {
    const res = await client(g)('PUT', `ServiceRequest/${sr.id}`, { ...sr, meta: undefined, status: 'active' });
    expect(res.status).toBe(409);
    expect(res.body.issue[0].diagnostics).toMatch(/new ServiceRequest/);
    await new Promise((r) => setTimeout(r, 300));
    expect(office.received).toHaveLength(4);
    expect((await taskOf(sr.id)).status).toBe('cancelled');
  });
});

describe('a referral given to another office', () => {
  it('sends REF^I14 to the first, REF^I12 to the second, and the Task follows the new owner', async () => {
    const second = await startMllpPartner();
    try {
      const other = await w.addOffice(second.port, 'ENDOAPP', 'ENDO', 'Endo Partners');
      const before = office.received.length;
      const sr = (await client(g)('POST', 'ServiceRequest', w.referral())).body;
      await until(() => office.received.length === before + 1);
      await until(async () => (await taskOf(sr.id))?.status === 'received');
      await client(g)('PUT', `ServiceRequest/${sr.id}`, { ...sr, performer: [{ reference: `Organization/${other}` }] });
      await until(() => office.received.length === before + 2 && second.received.length === 1);
      expect(
        parsed(before + 1)
          .getSegment('MSH')
          ?.getField(9)
          ?.toString()
      ).toBe('REF^I14^REF_I12');
      const moved = Hl7Message.parse((second.messages[0] as string).trim());
      expect(moved.getSegment('MSH')?.getField(9)?.toString()).toBe('REF^I12^REF_I12');
      expect(moved.getSegment('RF1')?.getField(6)?.getComponent(1)).toBe(sr.id);
      await until(async () => (await taskOf(sr.id))?.status === 'received');
      expect((await taskOf(sr.id)).owner.reference).toBe(`Organization/${other}`);
      expect(second.unreadable).toEqual([]);
    } finally {
      await second.down();
    }
  });
});

describe('the other answers', () => {
  it('AE from the office: the Task failed with the reason', async () => {
    const sr = (await client(g)('POST', 'ServiceRequest', w.referral(w.refusingOrg))).body;
    await until(async () => (await taskOf(sr.id))?.status === 'failed');
    expect((await taskOf(sr.id)).statusReason.text).toMatch(/AE/);
    expect(refusing.received).toHaveLength(1);
    // The office fixes its side; the refused REF sent again with $resend: the Task is received after all.
    refusing.answer = () => 'AA';
    const [row] = await g.db.sql`SELECT id::text FROM message WHERE subject = ${`ServiceRequest/${sr.id}`}`;
    const token = await getToken(g);
    const res = await fetch(`${new URL(g.fhirUrl).origin}/messages/${row?.id}/$resend`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    await until(async () => (await taskOf(sr.id))?.status === 'received');
    expect(refusing.received).toHaveLength(2);
  });

  it('an office that never answers: a dead letter after the retries, and the Task failed saying so', async () => {
    const silent = await startMllpPartner(() => 'none');
    try {
      const org = await w.addOffice(silent.port, 'SILENTAPP', 'SILENT', 'Silent Clinic');
      const sr = (await client(g)('POST', 'ServiceRequest', w.referral(org))).body;
      await until(async () => (await taskOf(sr.id))?.status === 'failed', 15_000);
      expect((await taskOf(sr.id)).statusReason.text).toMatch(/Dead letter after 2 attempt/);
      expect(silent.received.length).toBe(2);
      expect(new Set(silent.received).size).toBe(1);
    } finally {
      await silent.down();
    }
  });

  it('RRI^I12 without RF1-6 is matched by MSA-2, the REF’s MSH-10; R rejects', async () => {
    const before = office.received.length;
    const sr = (await client(g)('POST', 'ServiceRequest', w.referral())).body;
    await until(() => office.received.length === before + 1);
    const control = office.received[before] as string;
    expect(await fromOffice(w.rri('RRI0002', 'R', '', control))).toBe('AA');
    expect((await taskOf(sr.id)).status).toBe('rejected');
  });

  it('an SIU naming in SCH-26 no referral known here is accepted, the SCH-26 noted as unmapped', async () => {
    expect(await fromOffice(w.siu('SIU0009', 'NOPE-1^CARDIO'))).toBe('AA');
    const [row] = await g.db.sql`SELECT unmapped FROM message WHERE control_id = 'SIU0009' AND direction = 'inbound'`;
    expect(row?.unmapped).toContain('SCH-26 (names no referral known here)');
  });

  it('an ACK whose effect on the Task was lost in a crash is followed up by the next process to start', async () => {
    const before = office.received.length;
    const sr = (await client(g)('POST', 'ServiceRequest', w.referral())).body;
    await until(() => office.received.length === before + 1);
    await until(async () => (await taskOf(sr.id))?.status === 'received');
    // As if the process died between writing the ACK and moving the Task: the Task still requested, the fate's
    // follow-up still pending.
    const task = await taskOf(sr.id);
    await client(g)('PUT', `Task/${task.id}`, { ...task, meta: undefined, status: 'requested' });
    await g.db.sql`UPDATE message SET follow_up_pending = true WHERE subject = ${`ServiceRequest/${sr.id}`}`;
    const next = await testGateway({ ...FAST, DATABASE_URL: url });
    try {
      await until(async () => (await taskOf(sr.id))?.status === 'received');
      const [row] = await g.db.sql`SELECT follow_up_pending FROM message WHERE subject = ${`ServiceRequest/${sr.id}`}`;
      expect(row?.follow_up_pending).toBe(false);
    } finally {
      await next.stop();
    }
  });

  it('a referral whose performer has no destination sends nothing and makes no Task', async () => {
    const sr = (
      await client(g)('POST', 'ServiceRequest', {
        ...w.referral(),
        performer: [{ reference: `Organization/${w.payerOrg}` }],
      })
    ).body;
    await new Promise((r) => setTimeout(r, 300));
    expect(await taskOf(sr.id)).toBeUndefined();
  });

  it('a referral that rolls back with its transaction sends nothing', async () => {
    const before = office.received.length;
    await g.repo
      .transaction(async (tx) => {
        await tx.create(w.referral() as never);
        throw new Error('rolled back on purpose');
      })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 400));
    expect(office.received).toHaveLength(before);
  });
});

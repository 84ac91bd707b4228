/**
 * Appointment news for partner offices over real MLLP: an Appointment for a referral that went to an office, or at
 * a practitioner of an office with a destination, sends SIU^S12 when booked, S13 when moved, S15 when cancelled;
 * a change the office would not read sends nothing; an appointment that reaches no office sends nothing.
 */
import { Hl7Message } from '@medplum/core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, type TestGateway } from '../helpers/gateway.ts';
import { startMllpPartner, type MllpPartner } from '../helpers/mllp-partner.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { createReferralWorld, sendToGateway, type ReferralWorld } from '../helpers/referral-world.ts';
import { until } from '../helpers/wait.ts';

let g: TestGateway;
let office: MllpPartner;
let w: ReferralWorld;

let dir: string;

beforeAll(async () => {
  const url = await freshDatabase();
  office = await startMllpPartner();
  // The office as a partner: its destination declared without MSH-5/MSH-6, its messages known by MSH-3/MSH-4.
  dir = await mkdtemp(join(tmpdir(), 'frontdesk-appt-out-'));
  const partners = join(dir, 'partners.json');
  await writeFile(
    partners,
    JSON.stringify({
      partners: [
        {
          id: 'cardio',
          organization: { name: 'Cardio (partner)', identifier: { system: 'urn:frontdesk:id:CARDIO', value: 'P-1' } },
          hl7v2: {
            senders: [{ application: 'CARDIOAPP', facility: 'CARDIO' }],
            destination: { host: '127.0.0.1', port: office.port },
          },
        },
      ],
    })
  );
  g = await testGateway({
    FRONTDESK_OUTBOX_RETRY_MS: '50',
    FRONTDESK_OUTBOX_ACK_TIMEOUT_MS: '1500',
    DATABASE_URL: url,
    FRONTDESK_PARTNERS: partners,
  });
  w = await createReferralWorld(client(g), office.port);
});
afterAll(async () => {
  expect(office?.unreadable).toEqual([]);
  await g?.stop();
  await office?.down();
  await rm(dir, { recursive: true, force: true });
  await dropAll();
});

const last = () => Hl7Message.parse((office.messages.at(-1) as string).trim());
const typeOf = (m: Hl7Message) => m.getSegment('MSH')?.getField(9)?.toString();
const quiet = () => new Promise((r) => setTimeout(r, 400));

function appointment(extra: object) {
  return {
    resourceType: 'Appointment',
    status: 'booked',
    start: '2026-12-15T09:00:00-06:00',
    end: '2026-12-15T09:30:00-06:00',
    participant: [{ actor: { reference: `Patient/${w.patient}` }, status: 'accepted' }],
    ...extra,
  };
}

describe('appointments for a referral sent to an office', () => {
  it('booked → S12 naming the referral, moved → S13, unchanged → nothing, cancelled → S15', async () => {
    const sr = (await client(g)('POST', 'ServiceRequest', w.referral())).body;
    await until(() => office.received.length === 1);
    let a = (
      await client(g)('POST', 'Appointment', appointment({ basedOn: [{ reference: `ServiceRequest/${sr.id}` }] }))
    ).body;
    await until(() => office.received.length === 2);
    expect(typeOf(last())).toBe('SIU^S12^SIU_S12');
    expect(last().getSegment('SCH')?.getField(26)?.toString()).toBe(`${sr.id}^^urn:frontdesk:referral^URI`);
    expect(last().getSegment('SCH')?.getField(1)?.toString()).toBe(`${a.id}^^urn:frontdesk:appointment^URI`);
    expect(last().getSegment('PID')?.getField(5)?.toString()).toBe('Quill^Ada');

    a = (
      await client(g)('PUT', `Appointment/${a.id}`, {
        ...a,
        start: '2026-12-16T14:00:00-06:00',
        end: '2026-12-16T14:30:00-06:00',
      })
    ).body;
    await until(() => office.received.length === 3);
    expect(typeOf(last())).toBe('SIU^S13^SIU_S12');
    expect(last().getSegment('TQ1')?.getField(7)?.toString()).toBe('20261216140000-0600');

    a = (await client(g)('PUT', `Appointment/${a.id}`, { ...a, meta: undefined })).body;
    await quiet();
    expect(office.received).toHaveLength(3);

    await client(g)('PUT', `Appointment/${a.id}`, {
      ...a,
      status: 'cancelled',
      cancelationReason: { text: 'Patient request' },
    });
    await until(() => office.received.length === 4);
    expect(typeOf(last())).toBe('SIU^S15^SIU_S12');
    expect(last().getSegment('SCH')?.getField(25)?.toString()).toBe('Cancelled');
  });
});

describe('what the offices did themselves', () => {
  it('an SIU from a partner office booking its referral is not sent back to it, Endpoint headers or not', async () => {
    const partnerOrg = g.partners.partners[0]?.reference as string;
    const before = office.received.length;
    const sr = (await client(g)('POST', 'ServiceRequest', { ...w.referral(), performer: [{ reference: partnerOrg }] }))
      .body;
    await until(() => office.received.length === before + 1);
    expect(await sendToGateway(g.mllpAddress, w.siu('SIU-P1', `${sr.id}^^urn:frontdesk:referral^URI`))).toBe('AA');
    await quiet();
    expect(office.received).toHaveLength(before + 1);
  });

  it('an appointment the office has, deleted: S15', async () => {
    const before = office.received.length;
    const sr = (await client(g)('POST', 'ServiceRequest', w.referral())).body;
    await until(() => office.received.length === before + 1);
    const a = (
      await client(g)('POST', 'Appointment', appointment({ basedOn: [{ reference: `ServiceRequest/${sr.id}` }] }))
    ).body;
    await until(() => office.received.length === before + 2);
    expect((await client(g)('DELETE', `Appointment/${a.id}`)).status).toBeLessThan(300);
    await until(() => office.received.length === before + 3);
    expect(typeOf(last())).toBe('SIU^S15^SIU_S12');
    expect(last().getSegment('SCH')?.getField(1)?.getComponent(1)).toBe(a.id);
  });
});

describe('appointments at an office’s practitioner', () => {
  it('a practitioner whose role belongs to an office with a destination: S12 there', async () => {
    const before = office.received.length;
    const doc = (
      await client(g)('POST', 'Practitioner', {
        resourceType: 'Practitioner',
        name: [{ family: 'Hopper', given: ['Grace'] }],
      })
    ).body;
    await client(g)('POST', 'PractitionerRole', {
      resourceType: 'PractitionerRole',
      active: true,
      practitioner: { reference: `Practitioner/${doc.id}` },
      organization: { reference: `Organization/${w.specialistOrg}` },
    });
    const participant = [
      { actor: { reference: `Patient/${w.patient}` }, status: 'accepted' },
      { actor: { reference: `Practitioner/${doc.id}` }, status: 'accepted' },
    ];
    await client(g)('POST', 'Appointment', appointment({ participant }));
    await until(() => office.received.length === before + 1);
    expect(typeOf(last())).toBe('SIU^S12^SIU_S12');
    expect(last().getSegment('AIP')?.getField(3)?.getComponent(2)).toBe('Hopper');
  });

  it('an appointment that reaches no office sends nothing', async () => {
    const before = office.received.length;
    const res = await client(g)('POST', 'Appointment', appointment({}));
    expect(res.status).toBe(201);
    await quiet();
    expect(office.received).toHaveLength(before);
  });
});

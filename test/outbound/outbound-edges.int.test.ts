/**
 * Outbound referrals at their edges, over real MLLP sockets (issue #14): the performer reached through a
 * PractitionerRole or a Practitioner, an Appointment at an office's Location, a partner that reads other
 * delimiters, a silent office next to a healthy one, a dead letter by age, every attempt audited as outbound,
 * `$resend` guarded by its scope, and no PHI in the logs of the run. Outbound messages are read by @medplum/core's
 * Hl7Message (in the partner helper, and here).
 */
import { Hl7Message } from '@medplum/core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hl7v2Message } from '../../src/translate/hl7v2/parse.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { client, getToken, testGateway, type TestGateway } from '../helpers/gateway.ts';
import { startMllpPartner, type MllpPartner, type PartnerAnswer } from '../helpers/mllp-partner.ts';
import { createReferralWorld, type ReferralWorld } from '../helpers/referral-world.ts';
import { until } from '../helpers/wait.ts';

const ACK_TIMEOUT_MS = 3000;
const MAX_ATTEMPTS = 3;
let g: TestGateway;
let fhir: ReturnType<typeof client>;
let w: ReferralWorld;
let office: MllpPartner;
/** The partner of the partners file that reads `#@*!$` (field, component, repetition, escape, sub-component). */
let hashOffice: MllpPartner;
let dir: string;
const partners: MllpPartner[] = [];
const lines: string[] = [];

beforeAll(async () => {
  const url = await freshDatabase();
  office = await startMllpPartner();
  hashOffice = await startMllpPartner();
  partners.push(office, hashOffice);
  dir = await mkdtemp(join(tmpdir(), 'frontdesk-edges-'));
  const file = join(dir, 'partners.json');
  const destination = { host: '127.0.0.1', port: hashOffice.port, application: 'HASHAPP', facility: 'HASH' };
  const org = { name: 'Hash Clinic', identifier: { system: 'urn:frontdesk:id:HASH', value: 'H-1' } };
  const hash = { id: 'hash', organization: org, hl7v2: { destination: { ...destination, encoding: '#@*!$' } } };
  await writeFile(file, JSON.stringify({ partners: [hash] }));
  const sink = new Writable({ write: (c, _e, done) => (lines.push(...String(c).split('\n').filter(Boolean)), done()) });
  // The most verbose logs (scanned for PHI), short retries, and messages dead after one minute.
  const env = {
    DATABASE_URL: url, FRONTDESK_PARTNERS: file, FRONTDESK_HL7_FACILITY: 'NORTHCLINIC', FRONTDESK_LOG_LEVEL: 'trace',
    FRONTDESK_OUTBOX_RETRY_MS: '50', FRONTDESK_OUTBOX_ACK_TIMEOUT_MS: `${ACK_TIMEOUT_MS}`,
    FRONTDESK_OUTBOX_MAX_ATTEMPTS: `${MAX_ATTEMPTS}`, FRONTDESK_OUTBOX_MAX_AGE_MINUTES: '1',
  };
  g = await testGateway(env, undefined, sink);
  fhir = client(g);
  w = await createReferralWorld(fhir, office.port);
});
afterAll(async () => {
  for (const p of partners) expect(p.unreadable).toEqual([]);
  await g?.stop();
  await Promise.all(partners.map((p) => p.down()));
  if (dir) await rm(dir, { recursive: true, force: true });
  await dropAll();
});

async function create(type: string, body: object): Promise<string> {
  const res = await fhir('POST', type, { resourceType: type, ...body });
  if (res.status !== 201) throw new Error(`${type}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}
/** Another office on its own listener; `org` its Organization's id. */
async function officeAt(answer?: (control: string) => PartnerAnswer, name = 'Other office') {
  const p = await startMllpPartner(answer);
  partners.push(p);
  const tag = `O${partners.length}`;
  return { p, org: await w.addOffice(p.port, `${tag}APP`, tag, name) };
}
const refer = async (body: object) => (await fhir('POST', 'ServiceRequest', body)).body as { id: string };
const taskOf = async (sr: string) => (await fhir('GET', `Task?focus=ServiceRequest/${sr}`)).body.entry?.[0]?.resource;
const taskIs = (sr: string, status: string) => async () => (await taskOf(sr))?.status === status;
type Row = { id: string; control_id: string; destination: string; status: string; attempts: number } & {
  last_error: string;
};
const rowOf = async (sr: string) =>
  (await g.db.sql<Row[]>`
    SELECT id::text, control_id, destination, status, attempts, last_error FROM message
    WHERE direction = 'outbound' AND subject = ${`ServiceRequest/${sr}`} ORDER BY id`)[0] as Row;
const audits = async (control: string) =>
  ((await fhir('GET', `AuditEvent?entity-name=${control}&_count=50`)).body.entry ?? []).map((e: any) => e.resource);
const read = (text: string | undefined) => Hl7Message.parse((text as string).trim());
const field = (m: Hl7Message, seg: string, n: number) => m.getSegment(seg)?.getField(n)?.toString();
const quiet = (ms = 400) => new Promise((r) => setTimeout(r, ms));

describe('the office a referral reaches through its performer', () => {
  it('a PractitionerRole of an office: REF^I12 to the office’s Endpoint, the Task the role’s', async () => {
    const doc = await create('Practitioner', { name: [{ family: 'Hopper', given: ['Grace'] }] });
    const role = await create('PractitionerRole', {
      active: true,
      practitioner: { reference: `Practitioner/${doc}` },
      organization: { reference: `Organization/${w.specialistOrg}` },
    });
    const before = office.received.length;
    const sr = await refer({ ...w.referral(), performer: [{ reference: `PractitionerRole/${role}` }] });
    await until(() => office.received.length === before + 1);
    const m = read(office.messages[before]);
    expect(field(m, 'MSH', 9)).toBe('REF^I12^REF_I12');
    expect([5, 6].map((n) => field(m, 'MSH', n))).toEqual(['CARDIOAPP', 'CARDIO']);
    expect(m.getSegment('RF1')?.getField(6)?.getComponent(1)).toBe(sr.id);
    const rt = m.getAllSegments('PRD').find((s) => s.getField(1)?.toString() === 'RT');
    expect(rt?.getField(2)?.toString()).toBe('Hopper^Grace');
    expect(rt?.getField(10)?.getComponent(1)).toBe('Cardio Partners');
    await until(taskIs(sr.id, 'received'));
    expect((await taskOf(sr.id)).owner.reference).toBe(`PractitionerRole/${role}`);
  });

  it('a Practitioner whose active role is at an office: REF^I12 there; an inactive role reaches nobody', async () => {
    const doc = await create('Practitioner', { name: [{ family: 'Curie', given: ['Marie'] }] });
    const orgRef = { reference: `Organization/${w.specialistOrg}` };
    const roleOf = (who: string, active: boolean) =>
      create('PractitionerRole', { active, practitioner: { reference: `Practitioner/${who}` }, organization: orgRef });
    await roleOf(doc, true);
    const before = office.received.length;
    const sr = await refer({ ...w.referral(), performer: [{ reference: `Practitioner/${doc}` }] });
    await until(() => office.received.length === before + 1);
    const m = read(office.messages[before]);
    expect(field(m, 'MSH', 9)).toBe('REF^I12^REF_I12');
    expect(m.getSegment('RF1')?.getField(6)?.getComponent(1)).toBe(sr.id);
    await until(taskIs(sr.id, 'received'));
    const retired = await create('Practitioner', { name: [{ family: 'Retired' }] });
    await roleOf(retired, false);
    const none = await refer({ ...w.referral(), performer: [{ reference: `Practitioner/${retired}` }] });
    await quiet();
    expect(office.received).toHaveLength(before + 1);
    expect(await taskOf(none.id)).toBeUndefined();
  });
});

describe('an appointment at an office’s location', () => {
  it('a Location whose managing Organization has a destination: SIU^S12 to that office', async () => {
    const managingOrganization = { reference: `Organization/${w.specialistOrg}` };
    const loc = await create('Location', { name: 'Cardio Suite 4', managingOrganization });
    const before = office.received.length;
    const actors = [`Patient/${w.patient}`, `Location/${loc}`];
    const participant = actors.map((r) => ({ actor: { reference: r }, status: 'accepted' }));
    const [start, end] = ['2026-12-18T10:00:00-06:00', '2026-12-18T10:30:00-06:00'];
    const appt = await create('Appointment', { status: 'booked', start, end, participant });
    await until(() => office.received.length === before + 1);
    const m = read(office.messages[before]);
    expect(field(m, 'MSH', 9)).toBe('SIU^S12^SIU_S12');
    expect([5, 6].map((n) => field(m, 'MSH', n))).toEqual(['CARDIOAPP', 'CARDIO']);
    expect(m.getSegment('SCH')?.getField(1)?.getComponent(1)).toBe(appt);
    expect(field(m, 'AIL', 3)).toBe('Cardio Suite 4');
    expect(field(m, 'PID', 5)).toBe('Quill^Ada');
  });
});

describe('a partner that reads other delimiters', () => {
  it('gets the REF in its own delimiters, a delimiter in a value escaped, and it reads back', async () => {
    const partnerOrg = g.partners.partners[0]?.reference as string;
    const note = 'Hash # at @ star * bang ! dollar $, pipe | caret ^ tilde ~ amp &';
    const sr = await refer({ ...w.referral(), performer: [{ reference: partnerOrg }], note: [{ text: note }] });
    await until(() => hashOffice.received.length === 1);
    const raw = hashOffice.messages[0] as string;
    expect(raw.startsWith('MSH#@*!$#FRONTDESK#NORTHCLINIC#HASHAPP#HASH#')).toBe(true);
    expect(raw).not.toContain('|^~\\&');
    const m = read(raw);
    expect(m.getSegment('MSH')?.getField(9)?.getComponent(2)).toBe('I12');
    expect(m.getSegment('RF1')?.getField(6)?.getComponent(1)).toBe(sr.id);
    expect(m.getSegment('PID')?.getField(5)?.getComponent(1)).toBe('Quill');
    // Only the partner's own delimiters are escaped (v2.5 §2.7.4), with its escape character.
    const escaped = 'Hash !F! at !S! star !R! bang !E! dollar !T!, pipe | caret ^ tilde ~ amp &';
    expect(m.getSegment('NTE')?.getField(3)?.toString()).toBe(escaped);
    expect(new Hl7v2Message(raw).first('NTE')?.text(3)).toBe(note);
    await until(taskIs(sr.id, 'received'));
  });
});

describe('delivery', () => {
  it('a silent office does not hold up a healthy one: delivered while the silent one waits for its ACK', async () => {
    const silent = await officeAt(() => 'none', 'Silent Clinic');
    const stuck = await refer(w.referral(silent.org));
    await until(() => silent.p.received.length === 1);
    const started = Date.now();
    const before = office.received.length;
    const sr = await refer(w.referral());
    await until(() => office.received.length === before + 1);
    await until(taskIs(sr.id, 'received'));
    expect(Date.now() - started).toBeLessThan(ACK_TIMEOUT_MS);
    // The silent office's first attempt has not even timed out: nothing was waiting for it.
    expect(await rowOf(stuck.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await rowOf(sr.id)).status).toBe('processed');
    await silent.p.down();
  });

  it('a message for an office down past the maximum age: a dead letter for its age, not its attempts', async () => {
    const down = await officeAt(undefined, 'Closed Clinic');
    await down.p.down();
    const sr = await refer(w.referral(down.org));
    // Unreachable: past the attempts a silent office gets, and still queued.
    await until(async () => (await rowOf(sr.id))?.attempts > MAX_ATTEMPTS, 10_000);
    expect((await rowOf(sr.id)).status).toBe('pending');
    expect((await taskOf(sr.id)).status).toBe('requested');
    // The clock moves past FRONTDESK_OUTBOX_MAX_AGE_MINUTES (1) for this message.
    const { id } = await rowOf(sr.id);
    await g.db.sql`UPDATE message SET queued_at = queued_at - interval '61 seconds' WHERE id = ${id}`;
    await until(async () => (await rowOf(sr.id)).status === 'failed', 10_000);
    expect((await rowOf(sr.id)).last_error).toMatch(/^Dead letter after \d+ attempt.*older than allowed.*unreachable/);
    await until(taskIs(sr.id, 'failed'));
    expect((await taskOf(sr.id)).statusReason.text).toMatch(/Dead letter/);
    expect(down.p.received).toEqual([]);
  });
});

describe('the audit trail of deliveries', () => {
  it('an office answering AE: its attempt audited as a failed outbound export, with the code', async () => {
    const refusing = await officeAt(() => 'AE', 'Refusing Clinic');
    const sr = await refer(w.referral(refusing.org));
    await until(taskIs(sr.id, 'failed'));
    const row = await rowOf(sr.id);
    await until(async () => (await audits(row.control_id)).length >= 1);
    const events = await audits(row.control_id);
    expect(events).toHaveLength(1);
    const entity = [{ what: { identifier: { value: row.id } }, name: row.control_id }];
    expect(events[0]).toMatchObject({ type: { code: '110106' }, subtype: [{ code: 'REF^I12' }], entity });
    expect([events[0].outcome, events[0].outcomeDesc]).toEqual(['4', 'hl7v2 AE']);
    expect(events[0].agent[0].network.address).toBe(row.destination);
  });

  it('an office down then up: every attempt audited, the failures as failures, the delivery as success', async () => {
    const flaky = await officeAt(undefined, 'Flaky Clinic');
    await flaky.p.down();
    const sr = await refer(w.referral(flaky.org));
    await until(async () => (await rowOf(sr.id))?.attempts >= 2, 10_000);
    await flaky.p.up();
    await until(taskIs(sr.id, 'received'), 10_000);
    const row = await rowOf(sr.id);
    expect(row.status).toBe('processed');
    expect(row.attempts).toBeGreaterThanOrEqual(3);
    expect(flaky.p.received).toEqual([row.control_id]);
    await until(async () => (await audits(row.control_id)).length === row.attempts);
    const events = await audits(row.control_id);
    for (const e of events) expect([e.type.code, e.agent[0].network.address]).toEqual(['110106', row.destination]);
    const failed = events.filter((e: any) => e.outcome === '4');
    expect(failed).toHaveLength(row.attempts - 1);
    expect(new Set(failed.map((e: any) => e.outcomeDesc))).toEqual(new Set(['hl7v2 unreachable (retry)']));
    expect(events.filter((e: any) => e.outcome === '0').map((e: any) => e.outcomeDesc)).toEqual(['hl7v2 AA']);
  });
});

describe('POST /messages/{id}/$resend', () => {
  it('refuses a token without the Message write scope (403) and sends nothing; with it, sends again', async () => {
    const refusing = await officeAt(() => 'AE', 'Strict Clinic');
    const sr = await refer(w.referral(refusing.org));
    await until(taskIs(sr.id, 'failed'));
    const row = await rowOf(sr.id);
    const resend = async (scope: string) =>
      fetch(`${new URL(g.fhirUrl).origin}/messages/${row.id}/$resend`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await getToken(g, scope)}` },
      });
    const denied = await resend('system/*.rs system/Message.rs');
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    await quiet();
    expect(await rowOf(sr.id)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(refusing.p.received).toHaveLength(1);
    refusing.p.answer = () => 'AA';
    expect((await resend('system/Message.u')).status).toBe(200);
    await until(taskIs(sr.id, 'received'));
    expect(refusing.p.received).toEqual([row.control_id, row.control_id]);
  });
});

describe('the logs of an outbound run', () => {
  it('carry the control id of a delivered referral, none of its patient’s names, birth date or ids', async () => {
    const patient = (await fhir('GET', `Patient/${w.patient}`)).body;
    const before = office.received.length;
    const sr = await refer(w.referral());
    await until(() => office.received.length === before + 1);
    await until(taskIs(sr.id, 'received'));
    const control = office.received[before] as string;
    await until(() => lines.some((l) => l.includes('outbox delivery') && l.includes(control)));
    // Names as words (a given name of three letters may sit inside another word); the rest anywhere.
    const names: string[] = patient.name.flatMap((n: any) => [n.family, ...n.given]);
    const born: string = patient.birthDate;
    // The patient's identifiers and birth date, the member id of the Coverage, and any message body.
    const others = [...patient.identifier.map((i: any) => i.value), born, born.replace(/-/g, ''), 'W123456789', 'PID|'];
    expect(names).toEqual(['Quill', 'Ada']);
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
    const leaks = lines.flatMap((line) => {
      const l = line.replace(uuid, '<id>');
      const found = [...names.filter((n) => new RegExp(`\\b${n}\\b`).test(l)), ...others.filter((s) => l.includes(s))];
      return found.map((s) => `${s}: ${l.slice(0, 200)}`);
    });
    expect(leaks).toEqual([]);
    expect(lines.length).toBeGreaterThan(20);
  });
});

/**
 * HL7 v2 translations end to end against a real gateway and PostgreSQL: ADT registration with next of kin,
 * visit, allergies, diagnoses and a non-self subscriber; an unchanged repeat writes no new versions; A40 merge;
 * the SIU life of one appointment (book, reschedule, modify, cancel, delete, no-show) in the sender's time zone;
 * REF/RRI; AR for types without a translation; enhanced acknowledgment mode over a real MLLP socket; batches over
 * HTTP; every corpus sample of the supported types accepted.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHl7 } from '../../src/translate/hl7v2/charset.ts';
import { TRANSLATORS } from '../../src/translate/hl7v2/translate.ts';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';
import { connectMllp, postHl7, seg } from '../helpers/hl7.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  // Public samples are often sent as training (MSH-11 T): accepted here, as a test system would.
  g = await testGateway({ FRONTDESK_TIME_ZONE: 'America/Chicago', FRONTDESK_HL7_PROCESSING_ID: 'P,D,T' });
  fhir = client(g);
});
afterAll(async () => g?.stop());

const post = (message: string) => postHl7(g, message);

const msh = (type: string, control: string, extra = '') => `MSH|^~\\&|PMS|NORTHCLINIC|FRONTDESK|FD|20260105120000||${type}|${control}|P|2.5.1${extra}`;
const id = () => unique('c').replace(/[^A-Za-z0-9]/g, '').slice(-20);

describe('ADT registration: everything a front office registers', () => {
  it('stores patient, next of kin, visit with its practitioners, allergy, diagnosis, coverage with a spouse subscriber', async () => {
    const mrn = id();
    const visit = `V${mrn}`;
    const lines = [
      msh('ADT^A04^ADT_A01', id()),
      'EVN|A04|20260105120000',
      `PID|1||${mrn}^^^NORTHCLINIC^MR||Quinterro^Alba^M||19790312|F||2106-3^White^CDCREC|12 Elm St^^Springfield^IL^62701^USA^H||^PRN^PH^^^217^5550142`,
      `PD1|||NORTH CLINIC|P${mrn}^Carver^Grace^^^Dr^^^NPI`,
      'NK1|1|Quinterro^Tomas|SPO^Spouse^HL70063|12 Elm St^^Springfield^IL^62701|^PRN^PH^^^217^5550143',
      `PV1|1|O|CLINIC^101^^NORTHCLINIC||||A${mrn}^Okafor^Ben^^^Dr^^^NPI||||||||||||${visit}^^^NORTHCLINIC^VN|||||||||||||||||||||||||20260105113000`,
      'AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives',
      'DG1|1||J45.909^Asthma, uncomplicated^I10||20260105|W',
      seg('IN1', { 1: '1', 2: 'GOLD^Gold PPO', 3: `PAYER${mrn}^^^NPI`, 4: 'Prairie Health Plan', 5: '1 Payer Way^^Chicago^IL^60601', 8: 'GRP77', 9: 'Acme Corp', 12: '20260101', 13: '20261231', 16: 'Quinterro^Tomas', 17: 'SPO', 18: '19770101', 19: '12 Elm St^^Springfield^IL', 22: '1', 36: `POL${mrn}`, 49: `MEM${mrn}` }),
    ];
    const res = await post(lines.join('\r'));
    expect(res.segments[1], res.text).toMatch(/^MSA\|AA\|/);
    // What the translation did not read is in the message log: PID-10 (race) has no mapping yet.
    const [logged] = await g.db.sql`SELECT unmapped FROM message WHERE control_id = ${lines[0]!.split('|')[9]!}`;
    expect(logged!.unmapped).toContain('PID-10');
    expect(logged!.unmapped).not.toContain('PID-3');

    const p = await fhir('GET', `Patient?identifier=urn:frontdesk:id:NORTHCLINIC|${mrn}&_revinclude=RelatedPerson:patient&_revinclude=AllergyIntolerance:patient&_revinclude=Condition:subject&_revinclude=Coverage:beneficiary&_revinclude=Encounter:subject`);
    const byType = (t: string) => p.body.entry.filter((e: any) => e.resource.resourceType === t).map((e: any) => e.resource);
    const [patient] = byType('Patient');
    expect(patient.name[0]).toMatchObject({ family: 'Quinterro', given: ['Alba', 'M'] });
    expect(patient.generalPractitioner[0].reference).toMatch(/^Practitioner\//);
    const related = byType('RelatedPerson');
    expect(related).toHaveLength(1); // the next of kin and the subscriber are the same person
    expect(related[0].relationship[0].coding[0]).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'SPS' });
    const [encounter] = byType('Encounter');
    expect(encounter).toMatchObject({ status: 'arrived', class: { code: 'AMB' }, period: { start: '2026-01-05T11:30:00-06:00' } });
    const attending = await fhir('GET', encounter.participant[0].individual.reference);
    expect(attending.body.name[0].family).toBe('Okafor');
    expect(byType('AllergyIntolerance')[0]).toMatchObject({ category: ['medication'], criticality: 'high', code: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '70618' }] } });
    expect(byType('Condition')[0]).toMatchObject({ code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'J45.909' }] }, encounter: { reference: `Encounter/${encounter.id}` } });
    const [coverage] = byType('Coverage');
    expect(coverage).toMatchObject({ subscriberId: `MEM${mrn}`, relationship: { coding: [{ code: 'spouse' }] }, subscriber: { reference: `RelatedPerson/${related[0].id}` } });
    expect(coverage.period).toEqual({ start: '2026-01-01', end: '2026-12-31' });

    // The same registration again (new control id): nothing changes, so nothing gets a new version.
    lines[0] = msh('ADT^A08^ADT_A01', id());
    expect((await post(lines.join('\r'))).segments[1]).toMatch(/^MSA\|AA\|/);
    const again = await fhir('GET', `Patient/${patient.id}`);
    expect(again.body.meta.versionId).toBe(patient.meta.versionId);
    const cov = await fhir('GET', `Coverage/${coverage.id}`);
    expect(cov.body.meta.versionId).toBe(coverage.meta.versionId);
  });
});

describe('ADT^A40 merge', () => {
  it('retires the merged patient into the survivor, which takes its identifiers; a resend changes nothing', async () => {
    const [keep, gone] = [id(), id()];
    const reg = (mrn: string, family: string) => [msh('ADT^A04^ADT_A01', id()), `PID|1||${mrn}^^^NORTHCLINIC^MR||${family}^Ann||19900101|F`, 'PV1|1|N'].join('\r');
    expect((await post(reg(keep, 'Keeper'))).segments[1]).toMatch(/^MSA\|AA/);
    expect((await post(reg(gone, 'Duplicate'))).segments[1]).toMatch(/^MSA\|AA/);
    const merge = () => [msh('ADT^A40^ADT_A39', id()), 'EVN|A40|20260105120000', `PID|1||${keep}^^^NORTHCLINIC^MR||Keeper^Ann||19900101|F`, `MRG|${gone}^^^NORTHCLINIC^MR`].join('\r');
    const res = await post(merge());
    expect(res.segments[1], res.text).toMatch(/^MSA\|AA/);
    const survivor = (await fhir('GET', `Patient?identifier=urn:frontdesk:id:NORTHCLINIC|${keep}`)).body.entry[0].resource;
    const all = (await fhir('GET', `Patient?identifier=urn:frontdesk:id:NORTHCLINIC|${gone}`)).body.entry.map((e: any) => e.resource);
    expect(all).toHaveLength(2);
    const merged = all.find((p: any) => p.id !== survivor.id);
    expect(survivor.identifier.map((i: any) => i.value)).toEqual(expect.arrayContaining([keep, gone]));
    expect(survivor.link).toEqual([{ other: { reference: `Patient/${merged.id}` }, type: 'replaces' }]);
    expect(merged).toMatchObject({ active: false, link: [{ other: { reference: `Patient/${survivor.id}` }, type: 'replaced-by' }] });
    // A later registration under the merged MRN updates the survivor, not the retired record.
    expect((await post(reg(gone, 'Keeper'))).segments[1]).toMatch(/^MSA\|AA/);
    const registered = (await fhir('GET', `Patient/${survivor.id}`)).body;
    // The merge sent again (a new MSH-10): MRG-1 now finds the survivor itself. Neither patient gets a new
    // version, and the survivor no link to itself.
    const again = await post(merge());
    expect(again.segments[1]).toMatch(/^MSA\|AA/);
    const after = (await fhir('GET', `Patient/${merged.id}`)).body;
    expect(after.meta.versionId).toBe(merged.meta.versionId);
    const kept = (await fhir('GET', `Patient/${survivor.id}`)).body;
    expect(kept.meta.versionId).toBe(registered.meta.versionId);
    expect(kept.link).toEqual([{ other: { reference: `Patient/${merged.id}` }, type: 'replaces' }]);
  });

  it('finds the merged patient by any MRG-1 identifier, not only the first', async () => {
    const [keep, gone] = [id(), id()];
    for (const [mrn, family] of [[keep, 'Keeper'], [gone, 'Duplicate']]) {
      expect((await post([msh('ADT^A04^ADT_A01', id()), `PID|1||${mrn}^^^NORTHCLINIC^MR||${family}^Bo`].join('\r'))).segments[1]).toMatch(/^MSA\|AA/);
    }
    const res = await post([msh('ADT^A40^ADT_A39', id()), `PID|1||${keep}^^^NORTHCLINIC^MR||Keeper^Bo`, `MRG|X${id()}^^^NORTHCLINIC^PI~${gone}^^^NORTHCLINIC^MR`].join('\r'));
    expect(res.segments[1], res.text).toMatch(/^MSA\|AA/);
    const all = (await fhir('GET', `Patient?identifier=urn:frontdesk:id:NORTHCLINIC|${gone}`)).body.entry.map((e: any) => e.resource);
    expect(all).toHaveLength(2); // the survivor (which took the identifier) and the merged one, retired
    expect(all.filter((p: any) => p.active === false)).toHaveLength(1);
  });

  it('never links a patient to itself: an A40 whose PID-3 and MRG-1 name one patient changes nothing', async () => {
    const [a, b] = [id(), id()];
    expect((await post([msh('ADT^A04^ADT_A01', id()), `PID|1||${a}^^^NORTHCLINIC^MR~${b}^^^NORTHCLINIC^PI||Single^Cy||19900101|M`].join('\r'))).segments[1]).toMatch(/^MSA\|AA/);
    const before = (await fhir('GET', `Patient?identifier=urn:frontdesk:id:NORTHCLINIC|${a}`)).body.entry[0].resource;
    const res = await post([msh('ADT^A40^ADT_A39', id()), `PID|1||${a}^^^NORTHCLINIC^MR||Single^Cy||19900101|M`, `MRG|${b}^^^NORTHCLINIC^PI`].join('\r'));
    expect(res.segments[1], res.text).toMatch(/^MSA\|AA/);
    const after = (await fhir('GET', `Patient/${before.id}`)).body;
    expect(after.link).toBeUndefined();
    expect(after.active).not.toBe(false);
    expect(after.meta.versionId).toBe(before.meta.versionId);
  });

  it('answers AE 204 when MRG-1 names no known patient', async () => {
    const res = await post([msh('ADT^A40^ADT_A39', id()), `PID|1||${id()}^^^NORTHCLINIC^MR||X^Y`, `MRG|${id()}^^^NORTHCLINIC^MR`].join('\r'));
    expect(res.segments[1]).toMatch(/^MSA\|AE\|/);
    expect(res.segments[2]).toContain('204^Unknown key identifier');
  });
});

describe('SIU: one appointment booked, rescheduled, modified, cancelled', () => {
  it('keeps one Appointment whose times are in the sender’s zone and whose status follows the events', async () => {
    const [mrn, filler, doc] = [id(), id(), `D${id()}`];
    const siu = (event: string, start: string, end: string, status = 'Booked') =>
      [
        msh(`SIU^${event}^SIU_S12`, id()),
        // SCH-25 is the filler status (table 0278).
        seg('SCH', { 2: `${filler}^NORTHCLINIC`, 7: 'Follow-up^Follow-up visit', 8: 'ROUTINE', 9: '20', 10: 'min', 11: `^^^${start}^${end}`, 25: status }),
        `PID|1||${mrn}^^^NORTHCLINIC^MR||Lindqvist^Ola||19650202|M`,
        'RGS|1',
        `AIP|1||${doc}^Patel^Nina^^^Dr|MD^Physician`,
        'AIL|1||EXAM^3^^NORTHCLINIC',
      ].join('\r');
    expect((await post(siu('S12', '202603091430', '202603091450'))).segments[1]).toMatch(/^MSA\|AA/);
    const found = await fhir('GET', `Appointment?identifier=urn:frontdesk:id:NORTHCLINIC|${filler}&_include=Appointment:actor`);
    const appt = found.body.entry.find((e: any) => e.resource.resourceType === 'Appointment').resource;
    // 9 March 2026 is after the US switch to daylight saving time (8 March): Chicago is UTC-5.
    expect(appt).toMatchObject({ status: 'booked', start: '2026-03-09T14:30:00-05:00', end: '2026-03-09T14:50:00-05:00', minutesDuration: 20 });
    const practitioner = found.body.entry.find((e: any) => e.resource.resourceType === 'Practitioner').resource;
    expect(practitioner.name[0].family).toBe('Patel');
    const day = await fhir('GET', `Appointment?actor=Practitioner/${practitioner.id}&date=2026-03-09`);
    expect(day.body.entry.map((e: any) => e.resource.id)).toEqual([appt.id]);

    expect((await post(siu('S13', '202603061000', '202603061020'))).segments[1]).toMatch(/^MSA\|AA/);
    const moved = (await fhir('GET', `Appointment/${appt.id}`)).body;
    expect(moved).toMatchObject({ status: 'booked', start: '2026-03-06T10:00:00-06:00' }); // before the switch: UTC-6
    // S14 (modify) takes its status from SCH-25: Pending → pending.
    expect((await post(siu('S14', '202603061000', '202603061020', 'Pending'))).segments[1]).toMatch(/^MSA\|AA/);
    expect((await fhir('GET', `Appointment/${appt.id}`)).body.status).toBe('pending');
    expect((await post(siu('S15', '202603061000', '202603061020', 'Cancelled'))).segments[1]).toMatch(/^MSA\|AA/);
    expect((await fhir('GET', `Appointment/${appt.id}`)).body.status).toBe('cancelled');
    const all = await fhir('GET', `Appointment?identifier=urn:frontdesk:id:NORTHCLINIC|${filler}`);
    expect(all.body.entry).toHaveLength(1);
  });

  it.each([
    ['S17', 'entered-in-error'],
    ['S26', 'noshow'],
  ])('SIU^%s after a booking → status %s, whatever SCH-25 says', async (event, status) => {
    const [mrn, filler] = [id(), id()];
    const siu = (trigger: string) =>
      [
        msh(`SIU^${trigger}^SIU_S12`, id()),
        seg('SCH', { 2: `${filler}^NORTHCLINIC`, 11: '^^^202603101000^202603101030', 25: 'Booked' }),
        `PID|1||${mrn}^^^NORTHCLINIC^MR||Berg^Ivo`,
      ].join('\r');
    expect((await post(siu('S12'))).segments[1]).toMatch(/^MSA\|AA/);
    expect((await post(siu(event))).segments[1]).toMatch(/^MSA\|AA/);
    const all = await fhir('GET', `Appointment?identifier=urn:frontdesk:id:NORTHCLINIC|${filler}`);
    expect(all.body.entry.map((e: any) => e.resource.status)).toEqual([status]);
  });

  it('without TQ1 or SCH-11 takes start and end from AIS-4 + AIS-7, and each participant’s status from AIP-12/AIL-12', async () => {
    const [mrn, filler, doc] = [id(), id(), `D${id()}`];
    const res = await post(
      [
        msh('SIU^S12^SIU_S12', id()),
        seg('SCH', { 2: `${filler}^NORTHCLINIC`, 25: 'Booked' }),
        `PID|1||${mrn}^^^NORTHCLINIC^MR||Aalto^Mia`,
        'RGS|1',
        seg('AIS', { 1: '1', 3: 'FU^Follow-up', 4: '202601201500', 7: '45', 8: 'min' }),
        seg('AIL', { 1: '1', 3: 'EXAM^4^^NORTHCLINIC', 12: 'Pending' }),
        seg('AIP', { 1: '1', 3: `${doc}^Sato^Ken^^^Dr`, 4: 'MD^Physician', 12: 'Cancelled' }),
      ].join('\r')
    );
    expect(res.segments[1], res.text).toMatch(/^MSA\|AA/);
    const appt = (await fhir('GET', `Appointment?identifier=urn:frontdesk:id:NORTHCLINIC|${filler}`)).body.entry[0].resource;
    expect(appt).toMatchObject({ status: 'booked', start: '2026-01-20T15:00:00-06:00', end: '2026-01-20T15:45:00-06:00', minutesDuration: 45 });
    const status = (type: string) => appt.participant.find((p: any) => p.actor.reference?.startsWith(`${type}/`)).status;
    expect([status('Patient'), status('Location'), status('Practitioner')]).toEqual(['accepted', 'tentative', 'declined']);
  });

  it('answers AE 101 for a booking without times', async () => {
    const res = await post([msh('SIU^S12^SIU_S12', id()), `SCH||${id()}^X`, `PID|1||${id()}^^^NORTHCLINIC^MR||A^B`, `AIP|1||${id()}^Doc^A`].join('\r'));
    expect(res.segments[1]).toMatch(/^MSA\|AE\|/);
    expect(res.segments[2]).toContain('101^Required field missing');
  });
});

describe('REF/RRI: a referral sent, then answered by the specialist', () => {
  it('makes a referral ServiceRequest with its Task; the RRI accepts it; an I14 cancels it', async () => {
    const [mrn, ref] = [id(), id()];
    const refMsg = (event: string) =>
      [
        msh(`REF^${event}^REF_I12`, id()),
        `RF1|P^Pending^HL70283|R^Routine^HL70280|Med^Medical^HL70281||O^Outpatient^HL70284|${ref}^NORTHCLINIC|20260105|20260301|20260105|O^Provider Ordered^HL70336`,
        `PRD|RP^Referring Provider^HL70286|Carver^Grace^^^Dr|||^WPN^PH^^^217^5550100||RP${mrn}^NPI`,
        `PRD|RT^Referred to Provider^HL70286|Ng^Lee^^^Dr|||^WPN^PH^^^217^5550199||RT${mrn}^NPI||||Valley Cardiology`,
        `PID|1||${mrn}^^^NORTHCLINIC^MR||Okoro^Chidi||19700707|M`,
        'DG1|1||I20.9^Angina pectoris, unspecified^I10',
      ].join('\r');
    expect((await post(refMsg('I12'))).segments[1]).toMatch(/^MSA\|AA/);
    const found = await fhir('GET', `ServiceRequest?identifier=urn:frontdesk:id:NORTHCLINIC|${ref}&category=http://snomed.info/sct|3457005&_revinclude=Task:focus`);
    const sr = found.body.entry.find((e: any) => e.resource.resourceType === 'ServiceRequest').resource;
    const task = found.body.entry.find((e: any) => e.resource.resourceType === 'Task').resource;
    expect(sr).toMatchObject({ status: 'active', intent: 'order', priority: 'routine' });
    expect(task).toMatchObject({ status: 'requested', focus: { reference: `ServiceRequest/${sr.id}` } });
    const requester = (await fhir('GET', sr.requester.reference)).body;
    expect(requester.name[0].family).toBe('Carver');

    // The specialist's answer comes from the other side: its MSH-4 is the specialist, RF1-6 keeps the referrer's id.
    const rri = [
      `MSH|^~\\&|CARDIO|VALLEYCARDIO|FRONTDESK|NORTHCLINIC|20260106091500||RRI^I12^RRI_I12|${id()}|P|2.5.1`,
      `MSA|AA|${id()}`,
      `RF1|A^Accepted^HL70283|R^Routine^HL70280|||O|${ref}^NORTHCLINIC||||||||||||||||`,
      `PRD|RT^Referred to Provider^HL70286|Ng^Lee^^^Dr|||||RT${mrn}^NPI`,
      `PID|1||${mrn}^^^NORTHCLINIC^MR||Okoro^Chidi`,
      'NTE|1||First visit offered for 12 January',
    ].join('\r');
    const answered = await post(rri);
    expect(answered.segments[1], answered.text).toMatch(/^MSA\|AA/);
    const after = (await fhir('GET', `Task/${task.id}`)).body;
    expect(after).toMatchObject({ status: 'accepted', lastModified: '2026-01-06T09:15:00-06:00', note: [{ text: 'First visit offered for 12 January' }] });

    expect((await post(refMsg('I14'))).segments[1]).toMatch(/^MSA\|AA/);
    expect((await fhir('GET', `ServiceRequest/${sr.id}`)).body.status).toBe('revoked');
    expect((await fhir('GET', `Task/${task.id}`)).body.status).toBe('cancelled');
  });

  it('answers AE 204 to an RRI about a referral it never saw', async () => {
    const res = await post([`MSH|^~\\&|CARDIO|VALLEYCARDIO|FRONTDESK|NORTHCLINIC|20260106||RRI^I12^RRI_I12|${id()}|P|2.5.1`, `RF1|A|||||${id()}^NORTHCLINIC`, `PID|1||${id()}^^^NORTHCLINIC^MR`].join('\r'));
    expect(res.segments[1]).toMatch(/^MSA\|AE\|/);
    expect(res.segments[2]).toContain('204^Unknown key identifier');
  });
});

describe('message types without a translation', () => {
  const DIR = join(import.meta.dirname, '../fixtures/hl7v2');
  /** A sample with a fresh control id; `type` replaces MSH-9 when given. */
  const sample = (file: string, control: string, type?: string) => {
    const text = decodeHl7(readFileSync(join(DIR, file))).text.replace(/^\uFEFF/, '');
    return text.replace(/^(MSH(?:\|[^|\r\n]*){7}\|)([^|\r\n]*)\|[^|\r\n]*/, (_m, head: string, nine: string) => `${head}${type ?? nine}|${control}`);
  };

  it.each([
    ['ADT^A03', 'ADT-A03-01.hl7', undefined],
    ['ORU^R01', 'ORU-R01-RMGEAD.hl7', undefined],
    ['SIU^S16', 'SIU-S16-01.hl7', undefined],
    ['REF^I15', 'REF-I12-01.hl7', 'REF^I15^REF_I12'],
  ])('%s is answered AR with ERR code 200 and stored as rejected', async (type, file, msh9) => {
    const control = id();
    const res = await post(sample(file, control, msh9));
    expect(res.segments[1], res.text).toMatch(new RegExp(`^MSA\\|AR\\|${control}`));
    const err = res.segments.find((s) => s.startsWith('ERR|'));
    expect(err).toContain('200^Unsupported message type^HL70357');
    // ERR-8 names the type, its component separator escaped (\S\).
    expect(err).toContain(`${type.replace('^', '\\S\\')} is not supported`);
    const [row] = await g.db.sql`SELECT status, message_type FROM message WHERE control_id = ${control}`;
    expect(row).toMatchObject({ status: 'rejected', message_type: expect.stringMatching(new RegExp(`^${type.replace('^', '\\^')}`)) });
  });
});

describe('acknowledgment modes and batches', () => {
  const reg = (control: string, extra: string) => [msh('ADT^A04^ADT_A01', control, extra), `PID|1||${id()}^^^NORTHCLINIC^MR||Ack^Test`].join('\r') + '\r';

  it('enhanced mode over MLLP: CA once stored, then AA, as two frames on the same connection', async () => {
    const mllp = await connectMllp(g.mllp.port);
    const control = id();
    mllp.write(reg(control, '|||AL|AL'));
    const frames = await mllp.next(2);
    mllp.close();
    expect(frames.map((f) => f.split('\r')[1])).toEqual([`MSA|CA|${control}`, `MSA|AA|${control}`]);
  });

  it('enhanced mode: NE/ER sends nothing on success; ER/AL sends only the application ACK', async () => {
    expect((await post(reg(id(), '|||NE|ER'))).status).toBe(204);
    const r = await post(reg(id(), '|||ER|AL'));
    expect(r.segments.filter((s) => s.startsWith('MSA'))).toEqual([expect.stringMatching(/^MSA\|AA\|/)]);
  });

  it('enhanced mode: an unsupported type gets CR (commit reject) and no application ACK', async () => {
    const r = await post(`${msh('ZZZ^Z99', id(), '|||AL|AL')}\rPID|1\r`);
    expect(r.segments.filter((s) => s.startsWith('MSA'))).toEqual([expect.stringMatching(/^MSA\|CR\|/)]);
  });

  it('a batch over HTTP: each message stored and acknowledged, in a BHS/BTS envelope', async () => {
    const [a, b] = [id(), id()];
    const batch = ['BHS|^~\\&|PMS|NORTHCLINIC|FRONTDESK|FD|20260105||||B77', reg(a, '').trim(), `${msh('ZZZ^Z99', b)}\rPID|1`, 'BTS|2'].join('\r');
    const r = await post(batch);
    expect(r.segments[0]).toMatch(/^BHS\|\^~\\&\|FRONTDESK\|FD\|PMS\|NORTHCLINIC\|.*\|B77$/);
    expect(r.segments.filter((s) => s.startsWith('MSA'))).toEqual([`MSA|AA|${a}`, expect.stringMatching(new RegExp(`^MSA\\|AR\\|${b}`))]);
    expect(r.segments.at(-1)).toBe('BTS|2');
    const rows = await g.db.sql`SELECT control_id, status FROM message WHERE control_id IN (${a}, ${b}) ORDER BY id`;
    expect(rows.map((x) => [x.control_id, x.status])).toEqual([[a, 'processed'], [b, 'rejected']]);
  });
});

describe('the corpus samples of every supported type', () => {
  const DIR = join(import.meta.dirname, '../fixtures/hl7v2');
  const files = readdirSync(DIR).filter((f) => f.endsWith('.hl7')).filter((f) => {
    const text = decodeHl7(readFileSync(join(DIR, f))).text;
    const type = /^MSH\|[^|]*(?:\|[^|]*){6}\|([^|^]*)\^([^|^]*)/m.exec(text.replace(/^\uFEFF/, ''));
    return type ? TRANSLATORS.has(`${type[1]}^${type[2]}`) : false;
  });

  it('covers the 35 ADT, SIU and REF samples of the supported types', () => {
    // MDM_01.hl7 is an ADT^A01 despite its name; SIU_12.hl7 an ADT^A60; SIU^S16 and RRI have no sample here.
    expect(files).toEqual([
      'ADT-A01-01.hl7', 'ADT-A01-02.hl7', 'ADT-A04-01.hl7', 'ADT-A04-02.hl7', 'ADT-A08-01.hl7', 'ADT-A08-02.hl7',
      'ADT-A28-01.hl7', 'ADT-A28-02.hl7', 'ADT-A31-01.hl7', 'ADT-A31-02.hl7', 'ADT-A40-01.hl7', 'ADT-A40-02.hl7',
      'ADT01-23.hl7', 'ADT01-28.hl7', 'ADT04-23.hl7', 'ADT04-251.hl7', 'ADT04-28.hl7', 'MDM_01.hl7',
      'REF-I12-01.hl7', 'REF-I12-02.hl7', 'REF-I14-01.hl7', 'REF-I14-02.hl7',
      'SIU-S12-01.hl7', 'SIU-S12-02.hl7', 'SIU-S12_1.hl7', 'SIU-S13-01.hl7', 'SIU-S13-02.hl7', 'SIU-S14-01.hl7',
      'SIU-S14-02.hl7', 'SIU-S15-01.hl7', 'SIU-S15-02.hl7', 'SIU-S17-01.hl7', 'SIU-S17-02.hl7', 'SIU-S26-01.hl7',
      'SIU-S26-02.hl7',
    ]);
  });

  it.each(files)('%s is processed (AA, or no ACK when MSH-15/16 say NE)', async (file) => {
    const text = decodeHl7(readFileSync(join(DIR, file))).text;
    // The samples share control ids: make each unique so none is taken for a resend. Some are training messages
    // (MSH-11 T), which this gateway refuses by default (AR 202, test/inbound/mllp/robust.int.test.ts): sent as P.
    const control = id();
    const msg = text.replace(/^(\uFEFF?MSH(?:\|[^|\r\n]*){8}\|)[^|\r\n]*\|[^|\r\n]*/, `$1${control}|P`);
    // A merge needs the patient it merges away: register it first, from MRG-1.
    for (const [, mrg] of msg.replace(/\n/g, '\r').matchAll(/\rMRG\|([^|\r]*)/g)) {
      expect((await post([msh('ADT^A04^ADT_A01', id()), `PID|1||${mrg}||Merged^Sample`].join('\r'))).segments[1]).toMatch(/^MSA\|AA/);
    }
    const res = await post(msg);
    if (res.status !== 204) expect(res.segments[1], res.text).toMatch(/^MSA\|AA\|/);
    const [row] = await g.db.sql`SELECT status, outcome FROM message WHERE control_id = ${control}`;
    expect(row, JSON.stringify(row?.outcome)).toMatchObject({ status: 'processed' });
  });
});

import { Hl7Message } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../../src/translate/hl7v2/encode.ts';
import { Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';
import { referralPlan } from '../../../src/translate/hl7v2/ref.ts';
import { referralMessage, type ReferralOut } from '../../../src/translate/hl7v2/ref-out.ts';
import { NPI, referralFixture } from '../../helpers/referral-fixtures.ts';

const ENV = {
  sender: { application: 'FRONTDESK', facility: 'NORTHCLINIC' },
  receiver: { application: 'CARDIOAPP', facility: 'CARDIO' },
  controlId: 'OUT0001',
  at: '2026-12-04T10:00:00-06:00',
};

function referralOut(event: ReferralOut['event'] = 'I12'): ReferralOut {
  const f = referralFixture();
  return {
    event,
    referral: f.referral,
    referralId: { system: 'urn:frontdesk:referral', value: 'sr-1' },
    patient: f.patient,
    requester: { practitioner: f.referrer, organization: f.referrerOrg },
    performer: { organization: f.specialistOrg },
    insurance: [{ coverage: f.coverage, payer: f.payer, subscriber: f.subscriber }],
    conditions: [f.condition],
    documents: [f.letter],
  };
}

const byType = (plan: ReturnType<typeof referralPlan>, type: string) =>
  plan.entries.filter((e) => e.resource.resourceType === type).map((e) => e.resource as any);

describe('REF^I12 out (FHIR → REF → the gateway’s own inbound translation → FHIR)', () => {
  const text = encodeMessage(referralMessage(ENV, referralOut()));
  const plan = referralPlan(new Hl7v2Message(text), { timeZone: 'America/Chicago' });

  it('is read by an independent parser (@medplum/core Hl7Message) with the same structure', () => {
    const m = Hl7Message.parse(text);
    expect(m.getSegment('MSH')?.getField(9)?.toString()).toBe('REF^I12^REF_I12');
    expect(m.getSegment('MSH')?.getField(10)?.toString()).toBe('OUT0001');
    expect(m.getSegment('RF1')?.getField(6)?.getComponent(1)).toBe('sr-1');
    expect(m.getAllSegments('PRD').map((s) => s.getField(1)?.toString())).toEqual(['RP', 'RT']);
    expect(m.getSegment('OBX')?.getField(2)?.toString()).toBe('ED');
    expect(m.getSegment('OBX')?.getField(5)?.getComponent(5)).toBe(
      Buffer.from('%PDF-1.4 synthetic').toString('base64')
    );
    const names = m.segments.map((s) => s.name).filter(Boolean);
    expect(names).toEqual(['MSH', 'RF1', 'PRD', 'PRD', 'PID', 'IN1', 'DG1', 'OBR', 'OBX', 'PV1', 'NTE']);
  });

  it('keeps the referral: status, priority, type, identifier, period, reasons, notes', () => {
    const [sr] = byType(plan, 'ServiceRequest');
    expect(sr.status).toBe('active');
    expect(sr.priority).toBe('asap');
    expect(sr.identifier[0]).toMatchObject({ system: 'urn:frontdesk:referral', value: 'sr-1' });
    expect(sr.category[1].coding[0]).toMatchObject({ code: 'Med', display: 'Medical' });
    expect(sr.authoredOn).toBe('2026-12-01T09:30:00-06:00');
    expect(sr.occurrencePeriod).toEqual({ start: '2026-12-10T00:00:00-06:00', end: '2027-01-10T00:00:00-06:00' });
    expect(sr.reasonCode).toEqual([{ text: 'Chest pain on exertion^since ~ October' }]);
    expect(sr.note).toEqual([{ text: 'Please see within two weeks.\nBring prior ECGs & labs.' }]);
    // PV1 only closes the OBR group (so the NTEs are the referral's); it carries nothing of the referral.
    expect(plan.unmapped).toEqual(['PV1']);
  });

  it('keeps the referral letter: a DocumentReference of the referral, its type, PDF content and status', () => {
    const [sr] = byType(plan, 'ServiceRequest');
    const [doc, ...more] = byType(plan, 'DocumentReference');
    expect(more).toEqual([]);
    expect(doc.type.coding).toEqual([{ system: 'http://loinc.org', code: '57133-1', display: 'Referral note' }]);
    expect(doc.content).toEqual([
      { attachment: { contentType: 'application/pdf', data: Buffer.from('%PDF-1.4 synthetic').toString('base64') } },
    ]);
    expect(doc.docStatus).toBe('final');
    expect(doc.status).toBe('current');
    const entry = plan.entries.find((e) => e.resource === doc);
    expect(sr.supportingInfo).toEqual([{ reference: entry?.fullUrl }]);
  });

  it('reads a document sent by pointer (RP) with its title, and reports an OBX that is not a document', () => {
    const f = referralOut();
    f.documents = [{
      resourceType: 'DocumentReference', status: 'current', docStatus: 'preliminary',
      content: [{ attachment: { contentType: 'image/jpeg', url: 'https://docs.example.org/x-ray/1', title: 'X-ray' } }],
    }];
    const sent = encodeMessage(referralMessage(ENV, f)).replace('\rPV1|', '\rOBX|2|NM|8867-4^Heart rate^LN||72\rPV1|');
    const p = referralPlan(new Hl7v2Message(sent), { timeZone: 'America/Chicago' });
    expect(byType(p, 'DocumentReference').map((d) => [d.content, d.docStatus, d.type])).toEqual([
      [[{ attachment: { contentType: 'image/jpeg', url: 'https://docs.example.org/x-ray/1', title: 'X-ray' } }],
        'preliminary', undefined],
    ]);
    expect(p.unmapped).toContain('OBX[2] (value type NM: not a document)');
  });

  it('keeps the patient, escaped delimiters included', () => {
    const [p] = byType(plan, 'Patient');
    expect(p.name).toEqual([{ family: "O'Hara|Quinn", given: ['Ada', 'Grace'], prefix: ['Ms'] }]);
    expect(p.birthDate).toBe('1984-02-29');
    expect(p.gender).toBe('female');
    expect(p.identifier).toContainEqual({ system: 'urn:frontdesk:id:NORTHCLINIC', value: 'MRN-5521' });
    expect(p.address).toEqual([
      { line: ['12 Elm St', 'Apt 3'], city: 'Springfield', state: 'IL', postalCode: '62701', use: 'home' },
    ]);
    expect(p.telecom).toEqual([
      { system: 'phone', value: '(217) 555-0101', use: 'home' },
      { system: 'phone', value: '(217) 555-0199', use: 'work' },
    ]);
  });

  it('keeps both providers, the coverage with its payer and subscriber, and the diagnosis', () => {
    const practitioners = byType(plan, 'Practitioner');
    expect(practitioners[0].identifier[0]).toMatchObject({ system: NPI, value: '1234567893' });
    expect(practitioners[0].name).toEqual([{ family: 'Lovelace', given: ['Byron'], prefix: ['Dr'] }]);
    const orgs = byType(plan, 'Organization');
    expect(orgs.map((o) => o.name)).toEqual(expect.arrayContaining(['North Clinic', 'Cardio Partners', 'Acme Health']));
    expect(orgs.find((o) => o.name === 'Cardio Partners').identifier).toEqual([
      { system: 'urn:frontdesk:id:CARDIO', value: 'CP-1' },
    ]);
    const [cov] = byType(plan, 'Coverage');
    expect(cov.subscriberId).toBe('W123456789');
    expect(cov.period).toEqual({ start: '2026-01-01', end: '2026-12-31' });
    expect(cov.order).toBe(1);
    expect(cov.relationship.coding[0].code).toBe('spouse');
    expect(cov.class[0]).toMatchObject({ value: 'G-77', name: 'Acme Group' });
    const [rp] = byType(plan, 'RelatedPerson');
    expect(rp.name).toEqual([{ family: 'Hara', given: ['Sam'] }]);
    expect(rp.birthDate).toBe('1980-01-15');
    const [cond] = byType(plan, 'Condition');
    expect(cond.code.coding[0]).toMatchObject({
      system: 'http://hl7.org/fhir/sid/icd-10-cm',
      code: 'I20.9',
      display: 'Angina pectoris, unspecified',
    });
    expect(cond.onsetDateTime).toBe('2026-11-20T08:15:00-06:00');
  });

  it('a coded reasonCode that is a diagnosis travels as a DG1, read back as a reason Condition', () => {
    const out = referralOut();
    const icd = {
      coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'R07.9', display: 'Chest pain, unspecified' }],
    };
    out.referral = { ...out.referral, reasonCode: [...(out.referral.reasonCode ?? []), icd] };
    const p = referralPlan(new Hl7v2Message(encodeMessage(referralMessage(ENV, out))), { timeZone: 'UTC' });
    expect(byType(p, 'Condition').map((c) => c.code.coding[0].code)).toEqual(['I20.9', 'R07.9']);
    expect(byType(p, 'ServiceRequest')[0].reasonCode).toEqual([{ text: 'Chest pain on exertion^since ~ October' }]);
    expect(byType(p, 'ServiceRequest')[0].reasonReference).toHaveLength(2);
  });

  it('I14 says revoked, and the Task is cancelled', () => {
    const out = referralOut('I14');
    out.referral = { ...out.referral, status: 'revoked' };
    const p = referralPlan(new Hl7v2Message(encodeMessage(referralMessage(ENV, out))), { timeZone: 'UTC' });
    expect(byType(p, 'ServiceRequest')[0].status).toBe('revoked');
    expect(byType(p, 'Task')[0].status).toBe('cancelled');
  });
});

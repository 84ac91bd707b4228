/**
 * Referrals (issue 5 point 3), on the pure translation: REF^I12/I13/I14 samples (FHIR-Converter, MIT) and an RRI^I12
 * answer made from REF-I12-01 become plans whose entries link by placeholder, validate, and find their stored twins
 * by the referral id RF1-6. Offset-less times are read in America/Chicago.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationOutcomeError } from '@medplum/core';
import type { Organization, Practitioner, PractitionerRole, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { decodeHl7 } from '../../../src/translate/hl7v2/charset.ts';
import { Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';
import type { Plan, PlanEntry } from '../../../src/translate/hl7v2/plan.ts';
import { referralPlan, referralResponsePlan } from '../../../src/translate/hl7v2/ref.ts';
import { validate } from '../../../src/validate/validator.ts';
import { setField } from '../../helpers/hl7.ts';

const OPTS = { timeZone: 'America/Chicago' };
const REFERRAL_SYSTEM = 'urn:frontdesk:id:EPIC';
const TASK_SYSTEM = `urn:frontdesk:referral-task:${encodeURIComponent(REFERRAL_SYSTEM)}`;

/** The segments of a sample, one string each. */
function sample(name: string): string[] {
  const text = decodeHl7(readFileSync(join(import.meta.dirname, '../../fixtures/hl7v2', `${name}.hl7`))).text;
  return text.split(/\r\n|\r|\n/).filter(Boolean);
}

const set = setField;

/** A sample with edits: `edit(segment)` returns the segment, a changed one, or null to drop it. */
function message(name: string, edit: (segment: string) => string | null = (s) => s): Hl7v2Message {
  return new Hl7v2Message(sample(name).map(edit).filter((s): s is string => s !== null).join('\r'));
}

const plan = (name: string, edit?: (segment: string) => string | null): Plan => referralPlan(message(name, edit), OPTS);
const entry = (p: Plan, key: string): PlanEntry => p.entries.find((e) => e.key === key) ?? expect.fail(`no entry ${key}`);
const ofType = (p: Plan, type: string): PlanEntry[] => p.entries.filter((e) => e.resource.resourceType === type);
const sr = (p: Plan) => entry(p, 'referral').resource as ServiceRequest;
const task = (p: Plan) => entry(p, 'task').resource as Task;
const onSegment = (name: string, change: (s: string) => string | null) => (s: string) => (s.startsWith(`${name}|`) ? change(s) : s);

function errorOf(run: () => unknown) {
  try {
    run();
  } catch (err) {
    const issue = (err as OperationOutcomeError).outcome.issue?.[0];
    return { code: issue?.details?.coding?.[0]?.code, where: issue?.expression?.[0] };
  }
  return expect.fail('no error');
}

function validateAll(p: Plan): void {
  // A patch (update-existing) is validated on the stored resource by the server, as the translate CLI does.
  for (const e of p.entries) if (e.mode !== 'update-existing') validate({ ...e.defaults, ...e.resource } as Resource, { profiles: e.profiles });
}

describe('REF^I12 (new referral)', () => {
  const p = plan('REF-I12-01');

  it('makes the Patient, each side’s Practitioner and Organization, Condition, Coverage, then the ServiceRequest and its Task', () => {
    expect(p.event).toBe('REF^I12');
    expect(p.entries.map((e) => e.resource.resourceType)).toEqual([
      'Patient',
      'Practitioner', 'Organization', 'PractitionerRole', // the referrer (PRD RP)
      'Practitioner', 'Organization', // the referred-to (PRD RT)
      'Condition', 'Organization', 'RelatedPerson', 'Coverage', 'ServiceRequest', 'Task',
    ]);
  });

  it('maps RF1 onto a ServiceRequest found by RF1-6 and searchable as a referral', () => {
    const e = entry(p, 'referral');
    expect(e.match).toBe(`identifier=${encodeURIComponent(REFERRAL_SYSTEM)}|226839`);
    expect(e.mode).toBe('upsert');
    expect(e.defaults).toEqual({ status: 'active' });
    const r = sr(p);
    expect(r.identifier).toEqual([
      { system: REFERRAL_SYSTEM, value: '226839', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PLAC' }] } },
      { system: 'urn:frontdesk:id:EXTID', value: '11001' },
    ]);
    // The front office searches `category=http://snomed.info/sct|3457005` (test/inbound/fhir/front-office.int.test.ts).
    expect(r.category?.[0]?.coding).toEqual([{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }]);
    expect(r.category?.[1]?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v2-0281', code: 'Med' });
    expect(r).toMatchObject({
      status: 'active', // RF1-1 P (pending): the specialist has yet to answer
      intent: 'order',
      priority: 'routine',
      occurrencePeriod: { start: '2022-01-25', end: '2022-02-10' },
      authoredOn: '2022-01-25',
      note: [{ text: 'Referral to Specialist' }, { text: 'Lab test' }],
    });
    expect(r.reasonCode?.[0]?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v2-0336', code: 'O' });
    expect(r.locationCode?.[0]?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v2-0284', code: 'O' });
  });

  it('links the ServiceRequest to its patient, providers, conditions and coverages by placeholder', () => {
    const r = sr(p);
    const [, referredTo] = ofType(p, 'Practitioner');
    const provider = ofType(p, 'Organization').find((o) => (o.resource as Organization).name === 'RADIANT HEALTH HOSPITAL');
    const [role] = ofType(p, 'PractitionerRole');
    expect(r.subject?.reference).toBe(entry(p, 'patient').fullUrl);
    expect(r.requester).toEqual({ reference: role?.fullUrl, display: 'DR ROBERT POWELL' });
    expect(r.performer).toEqual([
      { reference: referredTo?.fullUrl, display: 'DR PAUL McWILLIAMS' },
      { reference: provider?.fullUrl, display: 'RADIANT HEALTH HOSPITAL' },
    ]);
    expect(r.reasonReference).toEqual([{ reference: entry(p, 'dg1-0').fullUrl }]);
    expect(r.insurance).toEqual([{ reference: entry(p, 'coverage-0').fullUrl }]);
    expect(entry(p, 'coverage-0').resource).toMatchObject({ beneficiary: { reference: entry(p, 'patient').fullUrl } });
    expect(entry(p, 'dg1-0').resource).toMatchObject({ subject: { reference: entry(p, 'patient').fullUrl } });
  });

  it('tracks the referral with a Task, requested when created, in its own identifier system', () => {
    const e = entry(p, 'task');
    expect(e.match).toBe(`identifier=${encodeURIComponent(TASK_SYSTEM)}|226839`);
    expect(e.defaults).toEqual({ status: 'requested' });
    const t = task(p);
    expect(t.status).toBeUndefined();
    expect(t.identifier).toEqual([{ system: TASK_SYSTEM, value: '226839' }]);
    expect(t.code?.coding?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' });
    const referral = entry(p, 'referral').fullUrl;
    expect(t).toMatchObject({
      intent: 'order',
      priority: 'routine',
      focus: { reference: referral },
      basedOn: [{ reference: referral }],
      for: { reference: entry(p, 'patient').fullUrl },
      requester: { reference: ofType(p, 'PractitionerRole')[0]?.fullUrl },
      owner: { reference: ofType(p, 'Practitioner')[1]?.fullUrl },
      lastModified: '2022-01-25T16:20:00+00:00',
    });
  });

  it('knows each provider by PRD-7, keeps a stored one as it is, and reads PRD-5 from XTN-12', () => {
    const [referring, referredTo] = ofType(p, 'Practitioner');
    expect(referring).toMatchObject({ mode: 'ensure', match: 'identifier=urn%3Afrontdesk%3Aid%3ASL|PLN1001', source: 'PRD[1]-7' });
    expect(referredTo?.match).toBe('identifier=urn%3Afrontdesk%3Aid%3ASL|PLN5010');
    expect(referring?.resource as Practitioner).toMatchObject({
      identifier: [{ system: 'urn:frontdesk:id:SL', value: 'PLN1001', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0338', code: 'SL' }] }, period: { end: '2024-01-12' } }],
      name: [{ family: 'POWELL', given: ['ROBERT'], prefix: ['DR'] }],
      telecom: [{ system: 'phone', value: '(626)555-1234', use: 'work' }],
      address: [{ line: ['1031 HEALTHCARE DRIVE'], city: 'ANN ARBOR', state: 'MI', postalCode: '99999' }],
    });
    const provider = ofType(p, 'Organization').find((o) => (o.resource as Organization).name === 'RADIANT HEALTH HOSPITAL');
    expect(provider).toMatchObject({ mode: 'ensure', match: 'name:exact=RADIANT%20HEALTH%20HOSPITAL&type=prov', source: 'PRD[2]-10' });
    expect((provider?.resource as Organization).telecom).toEqual([{ system: 'phone', value: '(426)545-9881', use: 'work' }]);
  });

  it('gives the referrer its Organization (PRD-10), like the referred-to, and names both through a PractitionerRole', () => {
    const [referring] = ofType(p, 'Practitioner');
    const org = ofType(p, 'Organization').find((o) => (o.resource as Organization).name === 'GOOD HEALTH HOSPITAL');
    expect(org).toMatchObject({ mode: 'ensure', match: 'name:exact=GOOD%20HEALTH%20HOSPITAL&type=prov', source: 'PRD[1]-10' });
    expect(org?.resource as Organization).toMatchObject({
      active: true,
      type: [{ coding: [{ code: 'prov' }] }],
      address: [{ line: ['1031 HEALTHCARE DRIVE'], city: 'ANN ARBOR', state: 'MI', postalCode: '99999' }],
      telecom: [{ system: 'phone', value: '(626)555-7889', use: 'work' }],
    });
    const [role] = ofType(p, 'PractitionerRole');
    expect(role).toMatchObject({ mode: 'ensure', match: `practitioner=${referring?.fullUrl}&organization=${org?.fullUrl}`, source: 'PRD[1]' });
    expect(role?.resource as PractitionerRole).toEqual({
      resourceType: 'PractitionerRole',
      active: true,
      practitioner: { reference: referring?.fullUrl, display: 'DR ROBERT POWELL' },
      organization: { reference: org?.fullUrl, display: 'GOOD HEALTH HOSPITAL' },
      code: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0286', code: 'RP', display: 'Referring Provider' }], text: 'Referring Provider' }],
    });
  });

  it('reports the segments it does not map', () => {
    // The sample's OBX is a lab result (ST), not a document: it and its OBR are reported, not read.
    expect(p.unmapped).toEqual([
      'SFT', 'AUT', 'NK1', 'GT1', 'ACC', 'AL1', 'PR1', 'PRT', 'PV1', 'PV2',
      'OBR', 'OBX[1] (value type ST: not a document)', 'NTE (notes of OBR/OBX)',
    ]);
  });

  it('finds the same referral and Task again when the referral is sent again', () => {
    const again = plan('REF-I12-02');
    expect(entry(again, 'referral').match).toBe(entry(p, 'referral').match);
    expect(entry(again, 'task').match).toBe(entry(p, 'task').match);
  });
});

describe('every REF sample', () => {
  it.each(['REF-I12-01', 'REF-I12-02', 'REF-I14-01', 'REF-I14-02'])('%s gives entries that all validate', (name) => {
    const p = plan(name);
    expect(p.entries.length).toBeGreaterThan(5);
    expect(() => validateAll(p)).not.toThrow();
  });
});

describe('status per event', () => {
  it('I13 (modify) without RF1-1 keeps the stored statuses: they are only defaults', () => {
    const p = plan('REF-I12-01', (s) => (s.startsWith('MSH|') ? set(s, 9, 'REF^I13^REF_I12') : s.startsWith('RF1|') ? set(s, 1, '') : s));
    expect(p.event).toBe('REF^I13');
    expect(sr(p).status).toBeUndefined();
    expect(entry(p, 'referral').defaults).toEqual({ status: 'active' });
    expect(task(p).status).toBeUndefined();
    expect(entry(p, 'task').defaults).toEqual({ status: 'requested' });
    expect(() => validateAll(p)).not.toThrow();
  });

  it('I13 with RF1-1 R revokes the request; RF1-2 "" removes the priority from both', () => {
    const p = plan('REF-I12-01', (s) => (s.startsWith('MSH|') ? set(s, 9, 'REF^I13^REF_I12') : s.startsWith('RF1|') ? set(set(s, 1, 'R^Rejected^HL70283'), 2, '""') : s));
    expect(sr(p).status).toBe('revoked');
    expect(sr(p).priority).toBeUndefined();
    expect(entry(p, 'referral').remove).toEqual(['priority']);
    expect(entry(p, 'task').remove).toEqual(['priority']);
  });

  it.each(['REF-I14-01', 'REF-I14-02'])('I14 (%s) revokes the ServiceRequest and cancels the Task', (name) => {
    const p = plan(name);
    expect(p.event).toBe('REF^I14');
    expect(sr(p).status).toBe('revoked');
    expect(task(p).status).toBe('cancelled');
  });

  it('RF1-25 D (sent in error) marks both entered-in-error', () => {
    const p = plan('REF-I12-01', onSegment('RF1', (s) => set(s, 25, 'D')));
    expect(sr(p).status).toBe('entered-in-error');
    expect(task(p).status).toBe('entered-in-error');
  });
});

describe('identifiers and providers', () => {
  it('scopes an RF1-6 without authority to the sender (MSH-4) and an RF1-11 to the receiver (MSH-6)', () => {
    const p = plan('REF-I12-01', onSegment('RF1', (s) => set(set(s, 6, '226839'), 11, '11001')));
    expect(sr(p).identifier?.map((i) => `${i.system}|${i.value}`)).toEqual(['urn:frontdesk:id:GHHSFacility|226839', 'urn:frontdesk:id:RHHFacility|11001']);
    expect(task(p).identifier).toEqual([{ system: 'urn:frontdesk:referral-task:urn%3Afrontdesk%3Aid%3AGHHSFacility', value: '226839' }]);
  });

  it('refers to a provider without PRD-7 by name only, and reports roles other than referring and referred-to', () => {
    const p = plan('REF-I12-01', onSegment('PRD', (s) => (s.startsWith('PRD|RP') ? set(set(s, 7, ''), 10, '') : set(s, 1, 'PP^Primary Care Provider^HL70286'))));
    // No PRD-7 → no Practitioner for the referrer; with no referred-to PRD left, RF1-20 names the performer.
    expect(ofType(p, 'Practitioner').map((e) => e.source)).toEqual(['RF1-20']);
    expect(sr(p).requester).toEqual({ display: 'DR ROBERT POWELL' });
    expect(task(p).requester).toEqual({ display: 'DR ROBERT POWELL' });
    expect(p.unmapped).toContain('PRD[2] (role PP)');
  });

  it('makes the referrer’s Organization the requester when its practitioner has no PRD-7, and its Practitioner when it has no PRD-10', () => {
    const nameOnly = plan('REF-I12-01', onSegment('PRD', (s) => (s.startsWith('PRD|RP') ? set(s, 7, '') : s)));
    const org = ofType(nameOnly, 'Organization').find((o) => o.source === 'PRD[1]-10');
    expect(ofType(nameOnly, 'PractitionerRole')).toEqual([]);
    expect(sr(nameOnly).requester).toEqual({ reference: org?.fullUrl, display: 'GOOD HEALTH HOSPITAL' });
    expect(task(nameOnly).requester).toEqual(sr(nameOnly).requester);
    const noOrg = plan('REF-I12-01', onSegment('PRD', (s) => (s.startsWith('PRD|RP') ? set(s, 10, '') : s)));
    expect(ofType(noOrg, 'PractitionerRole')).toEqual([]);
    expect(sr(noOrg).requester).toEqual({ reference: ofType(noOrg, 'Practitioner')[0]?.fullUrl, display: 'DR ROBERT POWELL' });
  });

  it('takes the performer from RF1-20/RF1-19 when no PRD names the referred-to provider', () => {
    const p = plan('REF-I12-01', onSegment('PRD', (s) => (s.startsWith('PRD|RT') ? null : s)));
    const performer = ofType(p, 'Practitioner').find((e) => e.source === 'RF1-20');
    expect(performer?.resource).toMatchObject({ identifier: [{ system: 'urn:frontdesk:id:GHHSFacility', value: '12131' }], name: [{ family: 'McWilliams' }] });
    const org = ofType(p, 'Organization').find((e) => e.source === 'RF1-19');
    expect(org?.match).toBe('name:exact=Radiant%20Health%20Hospital&type=prov');
    expect(sr(p).performer?.map((r) => r.reference)).toEqual([performer?.fullUrl, org?.fullUrl]);
    expect(task(p).owner?.reference).toBe(performer?.fullUrl);
  });
});

describe('content errors', () => {
  it('no RF1-6 → code 101 at RF1-6', () => {
    expect(errorOf(() => plan('REF-I12-01', onSegment('RF1', (s) => set(s, 6, ''))))).toEqual({ code: '101', where: 'RF1-6' });
  });

  it('no PID → code 100 at PID', () => {
    expect(errorOf(() => plan('REF-I12-01', onSegment('PID', () => null)))).toEqual({ code: '100', where: 'PID' });
  });

  it('no RF1 → code 100 at RF1', () => {
    expect(errorOf(() => plan('REF-I12-01', onSegment('RF1', () => null)))).toEqual({ code: '100', where: 'RF1' });
  });
});

/**
 * The specialist's answer to REF-I12-01 (synthetic): sender and receiver swapped, MSA acknowledging MSG00112,
 * RF1-1 from `status`, the PRDs, PID and DG1 of the referral, and a message-level note.
 */
function answer(status: string, rf1: (s: string) => string | null = (s) => s): Hl7v2Message {
  const ref = sample('REF-I12-01');
  const msh = ref[0] as string;
  const field = (n: number) => msh.split('|')[n - 1] ?? '';
  let header = set(set(set(set(msh, 3, field(5)), 4, field(6)), 5, field(3)), 6, field(4));
  header = set(set(set(header, 7, '202202030930'), 9, 'RRI^I12^RRI_I12'), 10, 'RRI0001');
  const pick = (name: string) => ref.filter((s) => s.startsWith(`${name}|`));
  const rf1Segment = rf1(set(pick('RF1')[0] as string, 1, status));
  const segments = [header, 'MSA|AA|MSG00112', rf1Segment, ...pick('PRD'), ...pick('PID'), ...pick('DG1'), 'NTE|||Accepted: first visit 2022-02-10 09:00||'];
  return new Hl7v2Message(segments.filter((s): s is string => s !== null).join('\r'));
}

describe('RRI^I12 (the specialist answers)', () => {
  const ref = plan('REF-I12-01');
  const p = referralResponsePlan(answer('A^Accepted^HL70283'), OPTS);

  it('updates the existing referral and Task, found as the REF made them', () => {
    expect(p.event).toBe('RRI^I12');
    const referral = entry(p, 'referral');
    const t = entry(p, 'task');
    expect(referral).toMatchObject({ mode: 'update-existing', match: entry(ref, 'referral').match, source: 'RF1-6' });
    expect(t).toMatchObject({ mode: 'update-existing', match: entry(ref, 'task').match, source: 'RF1-6' });
    // The specialist's own id for the referral (RF1-11) is added to the request; nothing else of it changes.
    expect(referral.resource).toEqual({ resourceType: 'ServiceRequest', identifier: [{ system: 'urn:frontdesk:id:EXTID', value: '11001' }] });
  });

  it('sets the Task status, businessStatus, owner, note and lastModified (MSH-7 in the sender zone)', () => {
    const t = task(p);
    const owner = ofType(p, 'Practitioner')[0];
    expect(owner).toMatchObject({ mode: 'ensure', match: ofType(ref, 'Practitioner')[1]?.match });
    expect(t).toEqual({
      resourceType: 'Task',
      status: 'accepted',
      businessStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0283', code: 'A', display: 'Accepted' }], text: 'Accepted' },
      lastModified: '2022-02-03T09:30:00-06:00',
      owner: { reference: owner?.fullUrl, display: 'DR PAUL McWILLIAMS' },
      note: [{ text: 'Accepted: first visit 2022-02-10 09:00', time: '2022-02-03T09:30:00-06:00', authorReference: { reference: owner?.fullUrl, display: 'DR PAUL McWILLIAMS' } }],
    });
  });

  it('adds only the referred-to provider and reports MSA, PID, DG1 and the referrer PRD as unmapped', () => {
    expect(p.entries.map((e) => e.resource.resourceType)).toEqual(['ServiceRequest', 'Practitioner', 'Organization', 'Task']);
    expect(p.unmapped).toEqual(['MSA', 'PID', 'DG1', 'PRD[1] (role RP, not used)']);
    expect(() => validateAll(p)).not.toThrow();
  });

  it.each([
    ['P^Pending^HL70283', 'received'],
    ['R^Rejected^HL70283', 'rejected'],
    ['E^Expired^HL70283', 'cancelled'],
  ])('RF1-1 %s → Task status %s', (rf1, status) => {
    expect(task(referralResponsePlan(answer(rf1), OPTS)).status).toBe(status);
  });

  it('without RF1-1 leaves the Task status alone', () => {
    const t = task(referralResponsePlan(answer(''), OPTS));
    expect(t.status).toBeUndefined();
    expect(t.businessStatus).toBeUndefined();
  });

  it('scopes an RF1-6 without authority to the receiver (MSH-6): the referrer who assigned it', () => {
    const unscoped = plan('REF-I12-01', onSegment('RF1', (s) => set(s, 6, '226839')));
    const reply = referralResponsePlan(answer('A^Accepted^HL70283', (s) => set(s, 6, '226839')), OPTS);
    expect(entry(reply, 'referral').match).toBe(entry(unscoped, 'referral').match);
    expect(entry(reply, 'task').match).toBe(entry(unscoped, 'task').match);
  });

  it('no RF1-6 → code 101 at RF1-6; no RF1 → code 100', () => {
    expect(errorOf(() => referralResponsePlan(answer('A', (s) => set(s, 6, '')), OPTS))).toEqual({ code: '101', where: 'RF1-6' });
    expect(errorOf(() => referralResponsePlan(answer('A', () => null), OPTS))).toEqual({ code: '100', where: 'RF1' });
  });
});

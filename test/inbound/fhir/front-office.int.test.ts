/**
 * The searches a front desk lives on (issue #4), end to end over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, getToken, testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
const MRN = 'urn:oid:2.16.840.1.113883.3.999.5';
const NPI = 'http://hl7.org/fhir/sid/us-npi';
const REFERRAL = 'http://snomed.info/sct|3457005';
const ids: Record<string, string> = {};
let tag: string;
let mrn: string;
let npi: string;
let phoneDigits: string;

async function create(key: string, resource: Record<string, unknown>) {
  const res = await fhir('POST', resource.resourceType as string, resource);
  if (res.status !== 201) throw new Error(`${key}: ${JSON.stringify(res.body)}`);
  ids[key] = res.body.id;
  return res.body.id as string;
}

beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
  tag = unique('x').replace(/[^a-z0-9]/gi, '');
  mrn = unique('mrn');
  npi = unique('npi');
  phoneDigits = `555${String(Date.now()).slice(-7)}`;
  const phone = `(${phoneDigits.slice(0, 3)}) ${phoneDigits.slice(3, 6)}-${phoneDigits.slice(6)}`;
  await create('patel', { resourceType: 'Practitioner', identifier: [{ system: NPI, value: npi }], name: [{ family: `Patel${tag}`, given: ['Anita'] }] });
  await create('other', { resourceType: 'Practitioner', name: [{ family: 'Other' }] });
  await create('munoz', {
    resourceType: 'Patient',
    identifier: [{ system: MRN, value: mrn, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }],
    name: [{ family: `Muñoz${tag}`, given: ['José'] }],
    birthDate: '1978-05-06',
    telecom: [{ system: 'phone', value: phone }],
    generalPractitioner: [{ reference: `Practitioner/${ids.patel}` }],
  });
  await create('smith', { resourceType: 'Patient', name: [{ family: `Smith${tag}` }], birthDate: '1978-01-01' });
  const appt = (start: string, practitioner: string, patient: string) => ({
    resourceType: 'Appointment',
    status: 'booked',
    start,
    end: start.replace(/:00Z$/, ':20Z').replace(':00:', ':20:'),
    participant: [
      { actor: { reference: `Patient/${patient}` }, status: 'accepted' },
      { actor: { reference: `Practitioner/${practitioner}` }, status: 'accepted' },
    ],
  });
  await create('a3', appt('2026-03-10T15:00:00Z', ids.patel!, ids.smith!));
  await create('a1', appt('2026-03-10T09:00:00Z', ids.patel!, ids.munoz!));
  await create('a2', appt('2026-03-10T11:00:00Z', ids.patel!, ids.munoz!));
  await create('aOtherDay', appt('2026-03-11T09:00:00Z', ids.patel!, ids.munoz!));
  await create('aOtherDoc', appt('2026-03-10T09:00:00Z', ids.other!, ids.smith!));
  await create('payer', { resourceType: 'Organization', name: `Payer ${tag}` });
  await create('covActive', { resourceType: 'Coverage', status: 'active', beneficiary: { reference: `Patient/${ids.munoz}`, identifier: { system: MRN, value: mrn } }, payor: [{ reference: `Organization/${ids.payer}` }] });
  await create('covOld', { resourceType: 'Coverage', status: 'cancelled', beneficiary: { reference: `Patient/${ids.munoz}` }, payor: [{ reference: `Organization/${ids.payer}` }] });
  const sr = (status: string) => ({
    resourceType: 'ServiceRequest',
    status,
    intent: 'order',
    category: [{ coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }] }],
    subject: { reference: `Patient/${ids.munoz}` },
    code: { text: `Cardiology consult ${tag}` },
  });
  await create('srActive', sr('active'));
  await create('srDone', sr('completed'));
  await create('task', { resourceType: 'Task', status: 'requested', intent: 'order', focus: { reference: `ServiceRequest/${ids.srActive}` } });
  await create('elig1', { resourceType: 'CoverageEligibilityResponse', status: 'active', purpose: ['benefits'], patient: { reference: `Patient/${ids.munoz}` }, created: '2026-03-01', request: { reference: 'CoverageEligibilityRequest/x' }, outcome: 'complete', insurer: { reference: `Organization/${ids.payer}` } });
  await create('elig2', { resourceType: 'CoverageEligibilityResponse', status: 'active', purpose: ['benefits'], patient: { reference: `Patient/${ids.munoz}` }, created: '2026-03-09', request: { reference: 'CoverageEligibilityRequest/x' }, outcome: 'complete', insurer: { reference: `Organization/${ids.payer}` } });
  await create('cond', { resourceType: 'Condition', subject: { reference: `Patient/${ids.munoz}` }, code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006', display: `Diabetes mellitus type 2 ${tag}` }] } });
  await create('enc', { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${ids.munoz}` }, length: { value: 30, unit: 'min', system: 'http://unitsofmeasure.org', code: 'min' } });
});
afterAll(async () => g?.stop());

const matches = (res: { body: any }) => res.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => e.resource.id);
const included = (res: { body: any }) => res.body.entry.filter((e: any) => e.search.mode === 'include').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`).sort();

describe('patient lookup', () => {
  it('by name and birth date, ignoring case and accents', async () => {
    expect(matches(await fhir('GET', `Patient?name=MUNOZ${tag}&birthdate=1978`))).toEqual([ids.munoz]);
    expect(matches(await fhir('GET', `Patient?family=muñoz${tag.toLowerCase()}&given=jose&birthdate=1978-05-06`))).toEqual([ids.munoz]);
  });

  it('by phone, however the number is written', async () => {
    expect(matches(await fhir('GET', `Patient?phone=${phoneDigits}`))).toEqual([ids.munoz]);
    const dashed = `${phoneDigits.slice(0, 3)}-${phoneDigits.slice(3, 6)}-${phoneDigits.slice(6)}`;
    expect(matches(await fhir('GET', `Patient?phone=${encodeURIComponent(dashed)}`))).toEqual([ids.munoz]);
  });

  it('by MRN, also with :of-type', async () => {
    expect(matches(await fhir('GET', `Patient?identifier=${MRN}|${mrn}`))).toEqual([ids.munoz]);
    expect(matches(await fhir('GET', `Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|${mrn}`))).toEqual([ids.munoz]);
  });
});

describe("a practitioner's day", () => {
  it('lists the appointments of one day, sorted, with their patients included', async () => {
    const res = await fhir('GET', `Appointment?actor=Practitioner/${ids.patel}&date=2026-03-10&_sort=date&_include=Appointment:patient`);
    expect(matches(res)).toEqual([ids.a1, ids.a2, ids.a3]);
    expect(included(res)).toEqual([`Patient/${ids.munoz}`, `Patient/${ids.smith}`].sort());
    const desc = await fhir('GET', `Appointment?actor=Practitioner/${ids.patel}&date=2026-03-10&_sort=-date`);
    expect(matches(desc)).toEqual([ids.a3, ids.a2, ids.a1]);
  });

  it('finds the same day through a chain on the practitioner identifier', async () => {
    const res = await fhir('GET', `Appointment?actor:Practitioner.identifier=${NPI}|${npi}&date=2026-03-10&_sort=date`);
    expect(matches(res)).toEqual([ids.a1, ids.a2, ids.a3]);
    const byName = await fhir('GET', `Appointment?patient.name=munoz${tag}&_sort=date`);
    expect(matches(byName)).toEqual([ids.a1, ids.a2, ids.aOtherDay]);
    // A modifier on the chain's last parameter works as it does unchained: exact is case- and accent-sensitive.
    const exact = await fhir('GET', `Appointment?patient:Patient.name:exact=${encodeURIComponent(`Muñoz${tag}`)}&_sort=date`);
    expect(matches(exact)).toEqual([ids.a1, ids.a2, ids.aOtherDay]);
    expect(matches(await fhir('GET', `Appointment?patient:Patient.name:exact=munoz${tag}`))).toEqual([]);
    expect(matches(await fhir('GET', `Coverage?beneficiary:Patient.name:exact=${encodeURIComponent(`Muñoz${tag}`)}&beneficiary:Patient.active:not=false&_sort=_id`)).sort()).toEqual(
      [ids.covActive, ids.covOld].sort()
    );
  });

  it('iterates includes: appointments → patients → their general practitioner', async () => {
    const res = await fhir('GET', `Appointment?_id=${ids.a1}&_include=Appointment:patient&_include:iterate=Patient:general-practitioner`);
    expect(included(res)).toEqual([`Patient/${ids.munoz}`, `Practitioner/${ids.patel}`].sort());
  });
});

describe('coverage, referrals, eligibility', () => {
  it('includes the target type asked for, each resource once, and never a deleted one or a reference elsewhere', async () => {
    const res = await fhir('GET', `Appointment?actor=Practitioner/${ids.patel}&date=2026-03-10&_include=Appointment:actor:Practitioner`);
    expect(included(res)).toEqual([`Practitioner/${ids.patel}`]); // three appointments, one practitioner
    const gone = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: `Gone${tag}` }] });
    const appt = await fhir('POST', 'Appointment', {
      resourceType: 'Appointment', status: 'booked', start: '2026-04-01T09:00:00Z', end: '2026-04-01T09:20:00Z',
      participant: [
        { actor: { reference: `Patient/${gone.body.id}` }, status: 'accepted' },
        { actor: { reference: 'https://elsewhere.example/fhir/Practitioner/1' }, status: 'accepted' },
        { actor: { reference: `Practitioner/${ids.other}` }, status: 'accepted' },
      ],
    });
    expect((await fhir('DELETE', `Patient/${gone.body.id}`)).status).toBeLessThan(300);
    const after = await fhir('GET', `Appointment?_id=${appt.body.id}&_include=Appointment:actor`);
    expect(after.status).toBe(200);
    expect(included(after)).toEqual([`Practitioner/${ids.other}`]);
  });

  it("finds a patient's active coverages with the payer included", async () => {
    const res = await fhir('GET', `Coverage?beneficiary=Patient/${ids.munoz}&status=active&_include=Coverage:payor`);
    expect(matches(res)).toEqual([ids.covActive]);
    expect(included(res)).toEqual([`Organization/${ids.payer}`]);
    expect(matches(await fhir('GET', `Coverage?beneficiary:identifier=${MRN}|${mrn}`))).toEqual([ids.covActive]);
  });

  it('finds active referrals with their Tasks reverse-included, and by the Task status (_has)', async () => {
    const res = await fhir('GET', `ServiceRequest?subject=Patient/${ids.munoz}&category=${REFERRAL}&status=active&_revinclude=Task:focus`);
    expect(matches(res)).toEqual([ids.srActive]);
    expect(included(res)).toEqual([`Task/${ids.task}`]);
    expect(matches(await fhir('GET', `ServiceRequest?_has:Task:focus:status=requested&subject=Patient/${ids.munoz}`))).toEqual([ids.srActive]);
    expect(matches(await fhir('GET', `ServiceRequest?_has:Task:focus:status=completed&subject=Patient/${ids.munoz}`))).toEqual([]);
  });

  it("lists a patient's eligibility responses, newest first", async () => {
    const res = await fhir('GET', `CoverageEligibilityResponse?patient=Patient/${ids.munoz}&created=ge2026-03-01&_sort=-created`);
    expect(matches(res)).toEqual([ids.elig2, ids.elig1]);
  });
});

describe('search controls', () => {
  it('_summary=count gives the total without entries; _total=accurate counts', async () => {
    const res = await fhir('GET', `Appointment?actor=Practitioner/${ids.patel}&_summary=count`);
    expect(res.body.total).toBe(4);
    expect(res.body.entry ?? []).toHaveLength(0);
  });

  it('_elements and _summary=true return marked subsets', async () => {
    const el = await fhir('GET', `Patient?_id=${ids.munoz}&_elements=birthDate`);
    const p = el.body.entry[0].resource;
    expect(Object.keys(p).sort()).toEqual(['birthDate', 'id', 'meta', 'resourceType']);
    expect(p.meta.tag).toContainEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
    const sum = (await fhir('GET', `Patient?_id=${ids.munoz}&_summary=true`)).body.entry[0].resource;
    expect(sum.name).toBeDefined();
    expect(sum.birthDate).toBe('1978-05-06');
    expect(sum.generalPractitioner).toBeUndefined(); // not a summary element in R4
  });

  it('searches several types at once with _type', async () => {
    const res = await fhir('GET', `?_type=Patient,Practitioner&name=${encodeURIComponent(`muñoz${tag}`)},patel${tag}`);
    expect(matches(res).sort()).toEqual([ids.munoz, ids.patel].sort());
  });

  it('ignores unknown parameters with a warning, but refuses them under Prefer: handling=strict', async () => {
    const lenient = await fhir('GET', `Patient?_id=${ids.munoz}&favourite-colour=blue`);
    expect(matches(lenient)).toEqual([ids.munoz]);
    const strict = await fhir('GET', `Patient?_id=${ids.munoz}&favourite-colour=blue`, undefined, { prefer: 'handling=strict' });
    expect(strict.status).toBe(400);
    expect(strict.body.issue[0].diagnostics).toContain('favourite-colour');
  });

  it('searches token display text (:text), quantities and numbers', async () => {
    expect(matches(await fhir('GET', `Condition?code:text=diabetes mellitus type 2 ${tag}`))).toEqual([ids.cond]);
    expect(matches(await fhir('GET', `Encounter?subject=Patient/${ids.munoz}&length=30`))).toEqual([ids.enc]);
    expect(matches(await fhir('GET', `Encounter?subject=Patient/${ids.munoz}&length=gt20`))).toEqual([ids.enc]);
    expect(matches(await fhir('GET', `Encounter?subject=Patient/${ids.munoz}&length=lt20`))).toEqual([]);
    expect(matches(await fhir('GET', `Encounter?subject=Patient/${ids.munoz}&length=30|http://unitsofmeasure.org|min`))).toEqual([ids.enc]);
    expect(matches(await fhir('GET', `Encounter?subject=Patient/${ids.munoz}&length=30|http://unitsofmeasure.org|h`))).toEqual([]);
  });

  it('searches meta: _tag, _profile, _security, _lastUpdated', async () => {
    const { body } = await fhir('POST', 'Patient', {
      resourceType: 'Patient',
      meta: {
        tag: [{ system: 'urn:test:tag', code: tag }],
        security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }],
        profile: ['https://frontdesk.example.org/fhir/StructureDefinition/frontdesk-patient'],
      },
      identifier: [{ system: MRN, value: unique() }],
      name: [{ family: `Meta${tag}` }],
    });
    expect(matches(await fhir('GET', `Patient?_tag=urn:test:tag|${tag}`))).toEqual([body.id]);
    expect(matches(await fhir('GET', `Patient?_tag=urn:test:tag|${tag}&_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R`))).toEqual([body.id]);
    expect(matches(await fhir('GET', `Patient?_tag=urn:test:tag|${tag}&_profile=https://frontdesk.example.org/fhir/StructureDefinition/frontdesk-patient`))).toEqual([body.id]);
    expect(matches(await fhir('GET', `Patient?_tag=urn:test:tag|${tag}&_lastUpdated=ge${body.meta.lastUpdated}`))).toEqual([body.id]);
    expect(matches(await fhir('GET', `Patient?_tag=urn:test:tag|${tag}&_lastUpdated=lt${body.meta.lastUpdated}`))).toEqual([]);
  });

  it('finds audit events by agent identifier (the client)', async () => {
    const res = await fhir('GET', `AuditEvent?agent:identifier=urn:frontdesk:client-id|${g.credentials.id}&entity=Patient/${ids.munoz}&_count=1`);
    expect(res.status).toBe(200);
    expect(matches(res)).toHaveLength(1);
  });

  it('leaves out included resources the token may not read, and says so', async () => {
    const apptOnly = client(g, () => getToken(g, 'system/Appointment.rs'));
    const res = await apptOnly('GET', `Appointment?_id=${ids.a1}&_include=Appointment:patient`);
    expect(res.status).toBe(200);
    expect(included(res)).toEqual([]);
    const warning = res.body.entry.find((e: any) => e.search.mode === 'outcome');
    expect(warning.resource.issue[0].diagnostics).toContain('left out');
  });
});

/**
 * CoverageEligibilityRequest → 270, and 270 → CoverageEligibilityRequest. The 270s we write are golden files
 * (test/fixtures/golden/x12/*.270.edi, compared byte for byte; `UPDATE_GOLDEN=1` rewrites them after a review, a
 * missing one fails), read back by our own reader (round trip) and parsed by an independent one (node-x12) whose
 * envelope counts and control numbers must agree. The people, payer and provider are fictional.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Coverage, CoverageEligibilityRequest, Patient, Practitioner, RelatedPerson, Resource } from '@medplum/fhirtypes';
import { X12Parser, type X12Interchange as NodeX12Interchange } from 'node-x12';
import { describe, expect, it } from 'vitest';
import { OperationOutcomeError } from '../../../src/outcome.ts';
import { build270, type EligibilityInquiry } from '../../../src/translate/x12/eligibility-270.ts';
import { payerIdOf270, read270, requestFrom270, traceSystem } from '../../../src/translate/x12/eligibility-270-read.ts';
import { readInterchange } from '../../../src/translate/x12/envelope.ts';
import { writeInterchange } from '../../../src/translate/x12/interchange.ts';
import { SYSTEMS } from '../../../src/translate/x12/systems.ts';
import { validate } from '../../../src/validate/validator.ts';

const X12 = join(import.meta.dirname, '../../fixtures/x12');
const GOLDEN = join(import.meta.dirname, '../../fixtures/golden/x12');
const NOW = new Date('2026-03-02T14:05:09Z');
const REQ = 'CoverageEligibilityRequest';

const stc = (...codes: string[]) => ({ coding: codes.map((code) => ({ system: SYSTEMS.serviceType, code })) });
const rel = (code: string) => ({ coding: [{ system: SYSTEMS.subscriberRelationship, code }] });
const cls = (code: string, value: string) => ({ type: { coding: [{ system: SYSTEMS.coverageClass, code }] }, value });

const ana: Patient = {
  resourceType: 'Patient', id: 'ana',
  name: [{ use: 'old', family: 'Vale' }, { use: 'official', family: "O'Brien-Núñez", given: ['Ana', 'María'] }],
  birthDate: '1984-07-19', gender: 'female',
};
const coverage: Coverage = {
  resourceType: 'Coverage', status: 'active', subscriberId: 'PMH778812', beneficiary: { reference: 'Patient/ana' },
  payor: [{ reference: 'Organization/pmh' }], relationship: rel('self'), class: [cls('group', 'GRP-4410'), cls('plan', 'GOLD-PPO')],
};
const request: CoverageEligibilityRequest = {
  resourceType: 'CoverageEligibilityRequest', id: 'req-1001', status: 'active', purpose: ['validation', 'benefits'],
  patient: { reference: 'Patient/ana' }, created: '2026-03-02', insurer: { reference: 'Organization/pmh' },
  insurance: [{ coverage: { reference: 'Coverage/cov' } }],
};
const subscriberInquiry: EligibilityInquiry = {
  request, coverage, patient: ana,
  payer: { name: 'Prairie Mutual Health', payerId: 'PMH01' },
  provider: { name: 'Maple Street Family Clinic & Lab', npi: '1234567893' },
  trace: { reference: 'req-1001', originator: '9FRONTDESK' },
  today: '2026-03-02',
};

const leo: Patient = { resourceType: 'Patient', id: 'leo', name: [{ family: 'Park', given: ['Leo'] }], birthDate: '2015-11-30', gender: 'male' };
const minjun: RelatedPerson = {
  resourceType: 'RelatedPerson', id: 'minjun', patient: { reference: 'Patient/leo' },
  name: [{ family: 'Park', given: ['Min-jun', 'T'] }], birthDate: '1982-02-14', gender: 'male',
};
const dependentInquiry: EligibilityInquiry = {
  ...subscriberInquiry,
  request: { ...request, patient: { reference: 'Patient/leo' }, servicedDate: '2026-03-10', item: [{ category: stc('30') }] },
  coverage: { ...coverage, subscriberId: 'PMH550021', relationship: rel('child'), class: [cls('group', 'GRP-4410')], subscriber: { reference: 'RelatedPerson/minjun' } },
  patient: leo,
  subscriber: minjun,
  provider: { name: 'Rivera', npi: '1098765436', person: { family: 'Rivera', given: 'Sofía' } },
  trace: { reference: 'req-1002', originator: '9FRONTDESK' },
};

const servicesInquiry: EligibilityInquiry = {
  ...subscriberInquiry,
  patient: { ...ana, name: [{ family: 'Quinn Jr.', given: ['Theo'] }], gender: undefined },
  request: {
    ...request,
    servicedPeriod: { start: '2026-03-01', end: '2026-03-31' },
    item: [
      { category: stc('1', '33') },
      { category: stc('33', 'MH') },
      { category: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/ex-benefitcategory', code: '1' }] } },
      { category: stc('98'), productOrService: { coding: [{ system: SYSTEMS.cpt, code: '99213' }] }, modifier: [{ coding: [{ system: SYSTEMS.cpt, code: '25' }] }] },
      { productOrService: { coding: [{ system: SYSTEMS.hcpcs, code: 'G0439' }] } },
    ],
  },
  trace: { reference: 'req-1003', originator: '9FRONTDESK' },
};

/** The whole interchange, as the gateway sends it. */
function interchange(inq: EligibilityInquiry, control = 1001): string {
  const { body } = build270(inq, String(control), NOW);
  return writeInterchange(
    {
      senderQualifier: 'ZZ', senderId: 'FRONTDESK', receiverQualifier: 'ZZ', receiverId: 'PMH01', interchangeControl: control,
      groupControl: control, usage: 'T', ackRequested: false, functionalId: 'HS', version: '005010X279A1', now: NOW,
    },
    [{ id: '270', control: String(control).padStart(4, '0'), body }]
  );
}

function segmentsOf(text: string): string[] {
  return text.split('~').filter(Boolean);
}

function firstSet(text: string) {
  const ix = readInterchange(text);
  const tx = ix.groups[0]?.transactions[0];
  if (!tx) throw new Error('no transaction set');
  return { ix, tx };
}

function expressionOf(fn: () => unknown): string[] | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).outcome.issue?.[0]?.expression;
  }
  throw new Error('expected an OperationOutcomeError');
}

function contained<T extends Resource>(r: CoverageEligibilityRequest, id: string): T {
  const found = r.contained?.find((c) => c.id === id);
  if (!found) throw new Error(`no contained #${id}`);
  return found as T;
}

const CASES = [
  ['a subscriber, default service type and date', 'subscriber', subscriberInquiry],
  ['a dependent child of a subscriber, by a physician', 'dependent', dependentInquiry],
  ['several service types, procedures and a period', 'services', servicesInquiry],
] as const;

describe('CoverageEligibilityRequest to 270', () => {
  it.each(CASES)('writes the reviewed 270 for %s (%s.270.edi)', (_what, name, inq) => {
    const text = interchange(inq);
    const file = join(GOLDEN, `${name}.270.edi`);
    // Written only when asked: a golden file that is missing fails, it is never recreated from what it should check.
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(file, text, 'latin1');
    }
    expect(existsSync(file), `${file} is missing: review the 270, then run with UPDATE_GOLDEN=1`).toBe(true);
    const golden = readFileSync(file, 'latin1');
    expect(segmentsOf(text)).toEqual(segmentsOf(golden));
    expect(text).toBe(golden);
  });

  it('writes the subscriber loops in TR3 order, names cleaned as CORE 258 says, today as the date of service', () => {
    const segs = segmentsOf(interchange(subscriberInquiry)).slice(3, -3);
    expect(segs).toEqual([
      'BHT*0022*13*1001*20260302*1405',
      'HL*1**20*1',
      'NM1*PR*2*PRAIRIE MUTUAL HEALTH*****PI*PMH01',
      'HL*2*1*21*1',
      'NM1*1P*2*MAPLE STREET FAMILY CLINIC & LAB*****XX*1234567893',
      'HL*3*2*22*0',
      'TRN*1*req-1001*9FRONTDESK',
      'NM1*IL*1*OBRIENNUNEZ*ANA*MARIA***MI*PMH778812',
      'REF*6P*GRP-4410',
      'REF*18*GOLD-PPO',
      'DMG*D8*19840719*F',
      'DTP*291*D8*20260302',
      'EQ*30',
    ]);
  });

  it('puts the subscriber in 2100C and the patient in 2000D/2100D when the patient is a dependent', () => {
    const segs = segmentsOf(interchange(dependentInquiry)).slice(7, -3);
    expect(segs).toEqual([
      'NM1*1P*1*RIVERA*SOFIA****XX*1098765436',
      'HL*3*2*22*1',
      'NM1*IL*1*PARK*MINJUN*T***MI*PMH550021',
      'REF*6P*GRP-4410',
      'DMG*D8*19820214*M',
      'HL*4*3*23*0',
      'TRN*1*req-1002*9FRONTDESK',
      'NM1*03*1*PARK*LEO',
      'DMG*D8*20151130*M',
      'INS*N*19',
      'DTP*291*D8*20260310',
      'EQ*30',
    ]);
  });

  it.each([
    ['spouse', '01'],
    ['common', '01'],
    ['child', '19'],
    ['parent', '34'],
    ['other', '34'],
  ])('sends relationship %s as INS*N*%s', (code, ins02) => {
    const text = interchange({ ...dependentInquiry, coverage: { ...dependentInquiry.coverage, relationship: rel(code) } });
    expect(segmentsOf(text)).toContain(`INS*N*${ins02}`);
  });

  it('asks for the service types in one repeated EQ01, one EQ per procedure, over a period (RD8), the suffix in NM107', () => {
    const segs = segmentsOf(interchange(servicesInquiry));
    expect(segs).toContain('NM1*IL*1*QUINN*THEO***JR*MI*PMH778812');
    expect(segs).toContain('DMG*D8*19840719*U');
    expect(segs).toContain('DTP*291*RD8*20260301-20260331');
    expect(segs.filter((s) => s.startsWith('EQ'))).toEqual(['EQ*1^33^MH', 'EQ*98*HC:99213:25', 'EQ**HC:G0439']);
  });

  it('sends at most 99 service types, and says so beyond', () => {
    const codes = Array.from({ length: 100 }, (_, i) => (i + 100).toString(36).toUpperCase());
    const withTypes = (n: number) => ({ ...subscriberInquiry, request: { ...request, item: [{ category: stc(...codes.slice(0, n)) }] } });
    const eq = segmentsOf(interchange(withTypes(99))).find((s) => s.startsWith('EQ'));
    expect(eq?.split('*')[1]?.split('^')).toHaveLength(99);
    expect(expressionOf(() => build270(withTypes(100), '1', NOW))).toEqual([`${REQ}.item`]);
  });

  it('takes the member id from a Coverage identifier of type MB when there is no subscriberId', () => {
    const cov: Coverage = {
      ...coverage, subscriberId: undefined,
      identifier: [{ value: 'X-1' }, { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] }, value: 'MB-2020' }],
    };
    expect(segmentsOf(interchange({ ...subscriberInquiry, coverage: cov }))).toContain('NM1*IL*1*OBRIENNUNEZ*ANA*MARIA***MI*MB-2020');
  });

  it('cleans delimiters out of names but never out of identifiers', () => {
    const named: EligibilityInquiry = { ...subscriberInquiry, patient: { ...ana, name: [{ family: 'Ash*ford~', given: ['Ann:Marie^'] }] }, payer: { name: 'Prairie*Mutual: Health', payerId: 'PMH01' } };
    const segs = segmentsOf(interchange(named));
    expect(segs).toContain('NM1*IL*1*ASHFORD*ANNMARIE****MI*PMH778812');
    expect(segs).toContain('NM1*PR*2*PRAIRIEMUTUAL HEALTH*****PI*PMH01');
    let message = '';
    try {
      build270({ ...subscriberInquiry, coverage: { ...coverage, subscriberId: 'PMH*778812' } }, '1', NOW);
    } catch (err) {
      message = (err as OperationOutcomeError).outcome.issue?.[0]?.details?.text ?? '';
    }
    expect(message).toContain('"PMH*778812"');
  });

  it.each<[string, (i: EligibilityInquiry) => EligibilityInquiry, string]>([
    ['no birth date', (i) => ({ ...i, patient: { ...ana, birthDate: undefined } }), 'Patient.birthDate'],
    ['a birth date without a day', (i) => ({ ...i, patient: { ...ana, birthDate: '1984-07' } }), 'Patient.birthDate'],
    ['no name', (i) => ({ ...i, patient: { ...ana, name: undefined } }), 'Patient.name'],
    ['a name without a family name', (i) => ({ ...i, patient: { ...ana, name: [{ given: ['Ana'] }] } }), 'Patient.name.family'],
    ['no member id', (i) => ({ ...i, coverage: { ...coverage, subscriberId: undefined } }), 'Coverage.subscriberId'],
    ['a member id holding a delimiter', (i) => ({ ...i, coverage: { ...coverage, subscriberId: 'PMH~1' } }), 'Coverage.subscriberId'],
    ['a member id outside the X12 character set', (i) => ({ ...i, coverage: { ...coverage, subscriberId: 'PMHé1' } }), 'Coverage.subscriberId'],
    ['a group id holding a delimiter', (i) => ({ ...i, coverage: { ...coverage, class: [cls('group', 'GRP^1')] } }), 'Coverage.class[0].value'],
    ['a dependent without the subscriber', (i) => ({ ...i, coverage: { ...coverage, relationship: rel('spouse') } }), 'Coverage.subscriber'],
    ['a relationship from another code system', (i) => ({ ...i, coverage: { ...coverage, relationship: { coding: [{ system: 'urn:x', code: 'child' }] } } }), 'Coverage.relationship'],
    ['a subscriber without a name', (i) => ({ ...dependentInquiry, subscriber: { ...minjun, name: [] } }), 'RelatedPerson.name'],
    ['a dependent without a birth date', () => ({ ...dependentInquiry, patient: { ...leo, birthDate: undefined } }), 'Patient.birthDate'],
    ['a date of service without a day', (i) => ({ ...i, request: { ...request, servicedDate: '2026-03' } }), `${REQ}.servicedDate`],
    ['a period that ends before it starts', (i) => ({ ...i, request: { ...request, servicedPeriod: { start: '2026-03-02', end: '2026-03-01' } } }), `${REQ}.servicedPeriod`],
    ['a service type that is not an X12 code', (i) => ({ ...i, request: { ...request, item: [{ category: stc('office') }] } }), `${REQ}.item[0].category`],
    ['a procedure neither CPT nor HCPCS', (i) => ({ ...i, request: { ...request, item: [{ productOrService: { coding: [{ system: 'http://snomed.info/sct', code: '185349003' }] } }] } }), `${REQ}.item[0].productOrService`],
    ['an NPI that is not 10 digits', (i) => ({ ...i, provider: { name: 'Clinic', npi: '12345' } }), `${REQ}.provider`],
    ['a payer id holding a delimiter', (i) => ({ ...i, payer: { name: 'PMH', payerId: 'PMH:01' } }), `${REQ}.insurer`],
  ])('refuses %s, pointing at it', (_what, change, expression) => {
    expect(expressionOf(() => build270(change(subscriberInquiry), '1', NOW))).toEqual([expression]);
  });
});

describe('270 read back', () => {
  it.each(CASES)('our reader gets back what we wrote for %s', (_what, _name, inq) => {
    const { ix, tx } = firstSet(interchange(inq));
    expect(ix.problems).toEqual([]);
    expect(ix.groups[0]?.problems).toEqual([]);
    const read = read270(tx, ix.delimiters);
    expect(read.problems).toEqual([]);
    expect(read.reference).toBe('1001');
    const r = requestFrom270(tx, ix.delimiters);
    validate(r);
    expect(payerIdOf270(tx, ix.delimiters)).toBe(inq.payer.payerId);
    expect(r.created).toBe('2026-03-02T14:05:00Z');
    expect(r.identifier).toEqual([{ system: traceSystem(inq.trace.originator), value: inq.trace.reference }]);
    const cov = contained<Coverage>(r, 'coverage');
    expect(cov.subscriberId).toBe(inq.coverage.subscriberId);
    expect(cov.class).toEqual(inq.coverage.class);
    expect(cov.relationship).toEqual(inq.coverage.relationship);
    const patient = contained<Patient>(r, r.patient.reference?.slice(1) ?? '');
    expect(patient.birthDate).toBe(inq.patient.birthDate);
    expect(patient.gender ?? 'unknown').toBe(inq.patient.gender ?? 'unknown');
    expect(contained(r, 'payer')).toEqual({ resourceType: 'Organization', id: 'payer', name: inq.payer.name.toUpperCase(), identifier: [{ system: SYSTEMS.payerId, value: inq.payer.payerId }] });
    const provider = contained<Practitioner>(r, 'provider');
    expect(provider.resourceType).toBe(inq.provider.person ? 'Practitioner' : 'Organization');
    expect(provider.identifier).toEqual([{ system: SYSTEMS.npi, value: inq.provider.npi }]);
  });

  it('gets the whole subscriber request back', () => {
    const { ix, tx } = firstSet(interchange(subscriberInquiry));
    expect(requestFrom270(tx, ix.delimiters)).toEqual({
      resourceType: 'CoverageEligibilityRequest',
      contained: [
        { resourceType: 'Organization', id: 'payer', name: 'PRAIRIE MUTUAL HEALTH', identifier: [{ system: SYSTEMS.payerId, value: 'PMH01' }] },
        { resourceType: 'Organization', id: 'provider', name: 'MAPLE STREET FAMILY CLINIC & LAB', identifier: [{ system: SYSTEMS.npi, value: '1234567893' }] },
        {
          resourceType: 'Patient', id: 'subscriber',
          identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] }, system: SYSTEMS.memberId, value: 'PMH778812' }],
          name: [{ family: 'OBRIENNUNEZ', given: ['ANA', 'MARIA'] }], gender: 'female', birthDate: '1984-07-19',
        },
        {
          resourceType: 'Coverage', id: 'coverage', status: 'active', subscriber: { reference: '#subscriber' }, subscriberId: 'PMH778812',
          beneficiary: { reference: '#subscriber' }, relationship: rel('self'), payor: [{ reference: '#payer' }],
          class: [cls('group', 'GRP-4410'), cls('plan', 'GOLD-PPO')],
        },
      ],
      identifier: [{ system: traceSystem('9FRONTDESK'), value: 'req-1001' }],
      status: 'active',
      purpose: ['validation', 'benefits'],
      patient: { reference: '#subscriber' },
      servicedDate: '2026-03-02',
      created: '2026-03-02T14:05:00Z',
      provider: { reference: '#provider' },
      insurer: { reference: '#payer' },
      insurance: [{ focal: true, coverage: { reference: '#coverage' } }],
      item: [{ category: stc('30') }],
    });
  });

  it('gets the dependent, their subscriber and the physician back', () => {
    const { ix, tx } = firstSet(interchange(dependentInquiry));
    const r = requestFrom270(tx, ix.delimiters);
    expect(r.patient).toEqual({ reference: '#dependent' });
    expect(contained<Patient>(r, 'dependent')).toEqual({ resourceType: 'Patient', id: 'dependent', name: [{ family: 'PARK', given: ['LEO'] }], gender: 'male', birthDate: '2015-11-30' });
    expect(contained<Patient>(r, 'subscriber').name).toEqual([{ family: 'PARK', given: ['MINJUN', 'T'] }]);
    expect(contained<Patient>(r, 'subscriber').birthDate).toBe('1982-02-14');
    expect(contained<Coverage>(r, 'coverage').beneficiary).toEqual({ reference: '#dependent' });
    expect(contained<Practitioner>(r, 'provider').name).toEqual([{ family: 'RIVERA', given: ['SOFIA'] }]);
    expect(r.servicedDate).toBe('2026-03-10');
  });

  it('gets the service types, procedures with modifiers and the period back', () => {
    const { ix, tx } = firstSet(interchange(servicesInquiry));
    const r = requestFrom270(tx, ix.delimiters);
    expect(r.servicedPeriod).toEqual({ start: '2026-03-01', end: '2026-03-31' });
    expect(r.servicedDate).toBeUndefined();
    expect(r.item).toEqual([
      { category: stc('1') },
      { category: stc('33') },
      { category: stc('MH') },
      { category: stc('98'), productOrService: { coding: [{ system: SYSTEMS.cpt, code: '99213' }] }, modifier: [{ coding: [{ system: SYSTEMS.cpt, code: '25' }] }] },
      { productOrService: { coding: [{ system: SYSTEMS.hcpcs, code: 'G0439' }] } },
    ]);
    expect(contained<Patient>(r, 'subscriber').name).toEqual([{ family: 'QUINN', given: ['THEO'], suffix: ['JR'] }]);
  });
});

describe('270 parsed by node-x12, an independent parser', () => {
  it.each(CASES)('agrees with the envelope we wrote for %s', (_what, _name, inq) => {
    const text = interchange(inq, 4321);
    const parsed = new X12Parser(true).parse(text) as NodeX12Interchange;
    const v = (s: { elements: { value: string }[] } | undefined, n: number) => s?.elements[n - 1]?.value;
    // node-x12 hands ISA13/IEA02 back without their leading zeros.
    expect(Number(v(parsed.header, 13))).toBe(4321);
    expect(text).toContain('*000004321*0*T*:~');
    expect(v(parsed.trailer, 2)).toBe(v(parsed.header, 13));
    expect(v(parsed.trailer, 1)).toBe(String(parsed.functionalGroups.length));
    const group = parsed.functionalGroups[0];
    expect(v(group?.header, 6)).toBe('4321');
    expect(v(group?.trailer, 2)).toBe(v(group?.header, 6));
    expect(v(group?.trailer, 1)).toBe(String(group?.transactions.length));
    const set = group?.transactions[0];
    expect(v(set?.header, 2)).toBe('4321');
    expect(v(set?.header, 3)).toBe('005010X279A1');
    expect(v(set?.trailer, 2)).toBe(v(set?.header, 2));
    expect(Number(v(set?.trailer, 1))).toBe((set?.segments.length ?? 0) + 2);
    // Segment by segment, node-x12 reads what our own reader reads.
    const ours = firstSet(text).tx.segments.slice(1, -1);
    expect(set?.segments.map((s) => [s.tag, ...s.elements.map((e) => e.value)])).toEqual(ours);
  });
});

describe('the stupidedi 270s', () => {
  const fixture = (file: string) => firstSet(readFileSync(join(X12, file), 'latin1'));

  it('reads the clinic asking about a subscriber', () => {
    const { ix, tx } = fixture('270-subscriber-request-by-clinic.edi');
    const read = read270(tx, ix.delimiters);
    expect(read).toMatchObject({ control: '1234', purpose: '13', reference: '10001234', created: '2006-05-01T13:19:00Z', problems: [] });
    expect(read.inquiries).toHaveLength(1);
    expect(read.inquiries[0]).toMatchObject({
      source: { entity: 'PR', type: '2', last: 'ABC COMPANY', idQualifier: 'PI', id: '842610001' },
      receiver: { entity: '1P', type: '2', last: 'BONE AND JOINT CLINIC', idQualifier: 'SV', id: '2000035' },
      subscriber: {
        entity: 'IL', last: 'SMITH', first: 'ROBERT', idQualifier: 'MI', id: '11122333301', birthDate: '1943-05-19',
        trace: { reference: '93175-012547', originator: '9877281234' }, date: { date: '2006-05-01' }, inquiries: [{ serviceTypes: ['30'] }],
      },
    });
    expect(read.inquiries[0]?.dependent).toBeUndefined();
    expect(payerIdOf270(tx, ix.delimiters)).toBe('842610001');
    const r = requestFrom270(tx, ix.delimiters);
    validate(r);
    expect(r.patient).toEqual({ reference: '#subscriber' });
    expect(contained(r, 'provider')).toEqual({ resourceType: 'Organization', id: 'provider', name: 'BONE AND JOINT CLINIC', identifier: [{ system: 'urn:frontdesk:x12:66:SV', value: '2000035' }] });
    expect(r.identifier).toEqual([{ system: traceSystem('9877281234'), value: '93175-012547' }]);
  });

  it('reads the physician asking about a dependent, whose subscriber is known by member id only', () => {
    const { ix, tx } = fixture('270-dependent-request-by-physician.edi');
    const read = read270(tx, ix.delimiters);
    expect(read.problems).toEqual([]);
    expect(read.inquiries).toHaveLength(1);
    const inq = read.inquiries[0];
    expect(inq?.receiver).toMatchObject({ entity: '1P', type: '1', last: 'JONES', first: 'MARCUS', idQualifier: 'SV', id: '0202034' });
    expect(inq?.subscriber).toMatchObject({ last: '', idQualifier: 'MI', id: '11122333301', inquiries: [] });
    expect(inq?.dependent).toMatchObject({ entity: '03', last: 'SMITH', first: 'MARY', birthDate: '1978-10-14', trace: { reference: '93175-012547' }, inquiries: [{ serviceTypes: ['30'] }] });
    const r = requestFrom270(tx, ix.delimiters);
    validate(r);
    expect(r.patient).toEqual({ reference: '#dependent' });
    expect(r.servicedDate).toBe('2006-05-01');
    expect(contained<Patient>(r, 'subscriber')).toEqual({
      resourceType: 'Patient', id: 'subscriber',
      identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MB' }] }, system: SYSTEMS.memberId, value: '11122333301' }],
    });
    expect(contained<Practitioner>(r, 'provider')).toMatchObject({ resourceType: 'Practitioner', name: [{ family: 'JONES', given: ['MARCUS'] }] });
    const cov = contained<Coverage>(r, 'coverage');
    expect(cov.beneficiary).toEqual({ reference: '#dependent' });
    expect(cov.relationship).toBeUndefined();
    expect(payerIdOf270(tx, ix.delimiters)).toBe('842610001');
  });

  it('refuses to make a request from a 270 without a subscriber level', () => {
    const text = readFileSync(join(X12, '270-subscriber-request-by-clinic.edi'), 'latin1').replace('HL*3*2*22*0', 'HL*3*2*99*0');
    const { ix, tx } = firstSet(text);
    expect(read270(tx, ix.delimiters).problems).toContain('The 270 holds no subscriber level (2000C, HL03 22)');
    expect(() => requestFrom270(tx, ix.delimiters)).toThrow(OperationOutcomeError);
  });
});

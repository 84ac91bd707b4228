/**
 * The eligibility inquiries the 270 tests write and read back (a subscriber, a dependent asked about by a physician,
 * several service types and procedures), and the interchange the gateway sends for each. The people, payer and
 * provider are fictional.
 */
import type { Coverage, CoverageEligibilityRequest, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { build270, type EligibilityInquiry } from '../../src/translate/x12/eligibility-270.ts';
import { writeInterchange } from '../../src/translate/x12/interchange.ts';
import { SYSTEMS } from '../../src/translate/x12/systems.ts';

export const NOW = new Date('2026-03-02T14:05:09Z');

export const stc = (...codes: string[]) => ({ coding: codes.map((code) => ({ system: SYSTEMS.serviceType, code })) });
export const rel = (code: string) => ({ coding: [{ system: SYSTEMS.subscriberRelationship, code }] });
export const cls = (code: string, value: string) => ({
  type: { coding: [{ system: SYSTEMS.coverageClass, code }] }, value,
});

export const ana: Patient = {
  resourceType: 'Patient', id: 'ana',
  name: [{ use: 'old', family: 'Vale' }, { use: 'official', family: "O'Brien-Núñez", given: ['Ana', 'María'] }],
  birthDate: '1984-07-19', gender: 'female',
};
export const coverage: Coverage = {
  resourceType: 'Coverage', status: 'active', subscriberId: 'PMH778812', beneficiary: { reference: 'Patient/ana' },
  payor: [{ reference: 'Organization/pmh' }], relationship: rel('self'),
  class: [cls('group', 'GRP-4410'), cls('plan', 'GOLD-PPO')],
};
export const request: CoverageEligibilityRequest = {
  resourceType: 'CoverageEligibilityRequest', id: 'req-1001', status: 'active', purpose: ['validation', 'benefits'],
  patient: { reference: 'Patient/ana' }, created: '2026-03-02', insurer: { reference: 'Organization/pmh' },
  insurance: [{ coverage: { reference: 'Coverage/cov' } }],
};
export const subscriberInquiry: EligibilityInquiry = {
  request, coverage, patient: ana,
  payer: { name: 'Prairie Mutual Health', payerId: 'PMH01' },
  provider: { name: 'Maple Street Family Clinic & Lab', npi: '1234567893' },
  trace: { reference: 'req-1001', originator: '9FRONTDESK' },
  today: '2026-03-02',
};

export const leo: Patient = {
  resourceType: 'Patient', id: 'leo', name: [{ family: 'Park', given: ['Leo'] }],
  birthDate: '2015-11-30', gender: 'male',
};
export const minjun: RelatedPerson = {
  resourceType: 'RelatedPerson', id: 'minjun', patient: { reference: 'Patient/leo' },
  name: [{ family: 'Park', given: ['Min-jun', 'T'] }], birthDate: '1982-02-14', gender: 'male',
};
export const dependentInquiry: EligibilityInquiry = {
  ...subscriberInquiry,
  request: {
    ...request, patient: { reference: 'Patient/leo' }, servicedDate: '2026-03-10', item: [{ category: stc('30') }],
  },
  coverage: {
    ...coverage, subscriberId: 'PMH550021', relationship: rel('child'), class: [cls('group', 'GRP-4410')],
    subscriber: { reference: 'RelatedPerson/minjun' },
  },
  patient: leo,
  subscriber: minjun,
  provider: { name: 'Rivera', npi: '1098765436', person: { family: 'Rivera', given: 'Sofía' } },
  trace: { reference: 'req-1002', originator: '9FRONTDESK' },
};

export const servicesInquiry: EligibilityInquiry = {
  ...subscriberInquiry,
  patient: { ...ana, name: [{ family: 'Quinn Jr.', given: ['Theo'] }], gender: undefined },
  request: {
    ...request,
    servicedPeriod: { start: '2026-03-01', end: '2026-03-31' },
    item: [
      { category: stc('1', '33') },
      { category: stc('33', 'MH') },
      { category: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/ex-benefitcategory', code: '1' }] } },
      {
        category: stc('98'),
        productOrService: { coding: [{ system: SYSTEMS.cpt, code: '99213' }] },
        modifier: [{ coding: [{ system: SYSTEMS.cpt, code: '25' }] }],
      },
      { productOrService: { coding: [{ system: SYSTEMS.hcpcs, code: 'G0439' }] } },
    ],
  },
  trace: { reference: 'req-1003', originator: '9FRONTDESK' },
};

/** The whole interchange, as the gateway sends it. */
export function interchange(inq: EligibilityInquiry, control = 1001): string {
  const { body } = build270(inq, String(control), NOW);
  return writeInterchange(
    {
      senderQualifier: 'ZZ', senderId: 'FRONTDESK', receiverQualifier: 'ZZ', receiverId: 'PMH01',
      interchangeControl: control, groupControl: control, usage: 'T', ackRequested: false, functionalId: 'HS',
      version: '005010X279A1', now: NOW,
    },
    [{ id: '270', control: String(control).padStart(4, '0'), body }]
  );
}

export const CASES = [
  ['a subscriber, default service type and date', 'subscriber', subscriberInquiry],
  ['a dependent child of a subscriber, by a physician', 'dependent', dependentInquiry],
  ['several service types, procedures and a period', 'services', servicesInquiry],
] as const;

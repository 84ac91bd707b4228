/**
 * Synthetic FHIR for outbound referral tests: a patient, the referring and the referred-to sides, a coverage, a
 * diagnosis and a referral letter. Every name and number is made up.
 */
import type {
  Condition,
  Coverage,
  DocumentReference,
  Organization,
  Patient,
  Practitioner,
  RelatedPerson,
  ServiceRequest,
} from '@medplum/fhirtypes';

export const NPI = 'http://hl7.org/fhir/sid/us-npi';

export function referralFixture() {
  const patient: Patient = {
    resourceType: 'Patient',
    id: 'pat-1',
    identifier: [{ system: 'urn:frontdesk:id:NORTHCLINIC', value: 'MRN-5521' }],
    name: [{ family: "O'Hara|Quinn", given: ['Ada', 'Grace'], prefix: ['Ms'] }],
    birthDate: '1984-02-29',
    gender: 'female',
    address: [{ line: ['12 Elm St', 'Apt 3'], city: 'Springfield', state: 'IL', postalCode: '62701', use: 'home' }],
    telecom: [
      { system: 'phone', value: '(217) 555-0101', use: 'home' },
      { system: 'phone', value: '(217) 555-0199', use: 'work' },
    ],
  };
  const referrer: Practitioner = {
    resourceType: 'Practitioner',
    id: 'doc-1',
    identifier: [{ system: NPI, value: '1234567893' }],
    name: [{ family: 'Lovelace', given: ['Byron'], prefix: ['Dr'] }],
  };
  const referrerOrg: Organization = {
    resourceType: 'Organization',
    id: 'org-1',
    name: 'North Clinic',
    identifier: [{ system: 'urn:frontdesk:id:NORTHCLINIC', value: 'NC' }],
  };
  const specialist: Practitioner = {
    resourceType: 'Practitioner',
    id: 'doc-2',
    identifier: [{ system: NPI, value: '1098765432' }],
    name: [{ family: 'Hopper', given: ['Grace'] }],
  };
  const specialistOrg: Organization = {
    resourceType: 'Organization',
    id: 'org-2',
    name: 'Cardio Partners',
    identifier: [{ system: 'urn:frontdesk:id:CARDIO', value: 'CP-1' }],
  };
  const payer: Organization = {
    resourceType: 'Organization',
    id: 'payer-1',
    name: 'Acme Health',
    identifier: [{ system: 'urn:frontdesk:id:PAYERS', value: 'ACME01' }],
  };
  const subscriber: RelatedPerson = {
    resourceType: 'RelatedPerson',
    id: 'rp-1',
    patient: { reference: 'Patient/pat-1' },
    name: [{ family: 'Hara', given: ['Sam'] }],
    birthDate: '1980-01-15',
    relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'SPS' }] }],
  };
  const coverage: Coverage = {
    resourceType: 'Coverage',
    id: 'cov-1',
    status: 'active',
    beneficiary: { reference: 'Patient/pat-1' },
    payor: [{ reference: 'Organization/payer-1' }],
    subscriber: { reference: 'RelatedPerson/rp-1' },
    subscriberId: 'W123456789',
    relationship: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: 'spouse' }],
    },
    period: { start: '2026-01-01', end: '2026-12-31' },
    order: 1,
    class: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] },
        value: 'G-77',
        name: 'Acme Group',
      },
    ],
  };
  const condition: Condition = {
    resourceType: 'Condition',
    id: 'cond-1',
    subject: { reference: 'Patient/pat-1' },
    code: {
      coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I20.9', display: 'Angina pectoris, unspecified' }],
    },
    onsetDateTime: '2026-11-20T08:15:00-06:00',
  };
  const letter: DocumentReference = {
    resourceType: 'DocumentReference',
    id: 'doc-ref-1',
    status: 'current',
    type: { coding: [{ system: 'http://loinc.org', code: '57133-1', display: 'Referral note' }] },
    content: [
      { attachment: { contentType: 'application/pdf', data: Buffer.from('%PDF-1.4 synthetic').toString('base64') } },
    ],
  };
  const referral: ServiceRequest = {
    resourceType: 'ServiceRequest',
    id: 'sr-1',
    status: 'active',
    intent: 'order',
    priority: 'asap',
    category: [
      { coding: [{ system: 'http://snomed.info/sct', code: '3457005', display: 'Patient referral' }] },
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0281', code: 'Med', display: 'Medical' }] },
    ],
    subject: { reference: 'Patient/pat-1' },
    authoredOn: '2026-12-01T09:30:00-06:00',
    occurrencePeriod: { start: '2026-12-10T00:00:00-06:00', end: '2027-01-10T00:00:00-06:00' },
    reasonCode: [{ text: 'Chest pain on exertion^since ~ October' }],
    requester: { reference: 'Practitioner/doc-1' },
    performer: [{ reference: 'Organization/org-2' }],
    reasonReference: [{ reference: 'Condition/cond-1' }],
    supportingInfo: [{ reference: 'DocumentReference/doc-ref-1' }],
    note: [{ text: 'Please see within two weeks.\nBring prior ECGs & labs.' }],
  };
  return {
    patient,
    referrer,
    referrerOrg,
    specialist,
    specialistOrg,
    payer,
    subscriber,
    coverage,
    condition,
    letter,
    referral,
  };
}

/**
 * @module translate/x12/systems — the code systems and identifier systems the X12 ⇄ FHIR translations write.
 *
 * X12 publishes the service type codes as an external code list with its own URL; the other X12 element code
 * lists (EB01, EB06, AAA03, AAA04, …) have no published FHIR system, so they are named by element number under
 * the gateway's `urn:frontdesk:x12:` namespace, stable so that searches and client code can rely on them.
 */
export const SYSTEMS = {
  /** X12 external code list: service type codes (EB03 / EQ01). */
  serviceType: 'https://x12.org/codes/service-type-codes',
  /** Element 1390, EB01 eligibility or benefit information. */
  eb01: 'urn:frontdesk:x12:1390',
  /** Element 1207, EB02 coverage level. */
  coverageLevel: 'urn:frontdesk:x12:1207',
  /** Element 615, EB06 time period qualifier. */
  timePeriod: 'urn:frontdesk:x12:615',
  /** Element 901, AAA03 reject reason. */
  rejectReason: 'urn:frontdesk:x12:901',
  /** Element 889, AAA04 follow-up action. */
  followUp: 'urn:frontdesk:x12:889',
  /** Element 1336, EB04 insurance type. */
  insuranceType: 'urn:frontdesk:x12:1336',
  benefitType: 'http://terminology.hl7.org/CodeSystem/benefit-type',
  benefitNetwork: 'http://terminology.hl7.org/CodeSystem/benefit-network',
  benefitUnit: 'http://terminology.hl7.org/CodeSystem/benefit-unit',
  benefitTerm: 'http://terminology.hl7.org/CodeSystem/benefit-term',
  subscriberRelationship: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship',
  coverageClass: 'http://terminology.hl7.org/CodeSystem/coverage-class',
  npi: 'http://hl7.org/fhir/sid/us-npi',
  /** A payer's id as the X12 network knows it (2100A NM109 with NM108 PI). */
  payerId: 'urn:frontdesk:x12:payer-id',
  /** Member ids as a payer issues them (2100C NM109 with NM108 MI). */
  memberId: 'urn:frontdesk:x12:member-id',
  cpt: 'http://www.ama-assn.org/go/cpt',
  hcpcs: 'urn:oid:2.16.840.1.113883.6.285',
} as const;

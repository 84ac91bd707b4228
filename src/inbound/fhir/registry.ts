/**
 * @module inbound/fhir/registry — the resource types and interactions the FHIR API implements.
 *
 * The routes, the validator and `GET /fhir/metadata` all read this one table, so the CapabilityStatement
 * describes exactly what answers.
 */
import type { ResourceType } from '@medplum/fhirtypes';

/** Interactions of http.html, as CapabilityStatement.rest.resource.interaction codes. */
export const ALL_INTERACTIONS = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'create',
  'search-type',
] as const;
export type TypeInteraction = (typeof ALL_INTERACTIONS)[number];

const READ_ONLY: readonly TypeInteraction[] = ['read', 'vread', 'history-instance', 'history-type', 'search-type'];

/** The front-office resource types (issue #2) and what clients may do with each. */
export const RESOURCE_TYPES = {
  Patient: ALL_INTERACTIONS,
  RelatedPerson: ALL_INTERACTIONS,
  Practitioner: ALL_INTERACTIONS,
  PractitionerRole: ALL_INTERACTIONS,
  Organization: ALL_INTERACTIONS,
  Location: ALL_INTERACTIONS,
  Endpoint: ALL_INTERACTIONS,
  Coverage: ALL_INTERACTIONS,
  Schedule: ALL_INTERACTIONS,
  Slot: ALL_INTERACTIONS,
  Appointment: ALL_INTERACTIONS,
  Encounter: ALL_INTERACTIONS,
  ServiceRequest: ALL_INTERACTIONS,
  Task: ALL_INTERACTIONS,
  Condition: ALL_INTERACTIONS,
  AllergyIntolerance: ALL_INTERACTIONS,
  DocumentReference: ALL_INTERACTIONS,
  Communication: ALL_INTERACTIONS,
  Claim: ALL_INTERACTIONS,
  ClaimResponse: ALL_INTERACTIONS,
  CoverageEligibilityRequest: ALL_INTERACTIONS,
  CoverageEligibilityResponse: ALL_INTERACTIONS,
  ExplanationOfBenefit: ALL_INTERACTIONS,
  // Written only by the gateway itself (audit/); clients may read and search.
  AuditEvent: READ_ONLY,
} as const satisfies Partial<Record<ResourceType, readonly TypeInteraction[]>>;

export type SupportedType = keyof typeof RESOURCE_TYPES;

export function isSupportedType(type: string): type is SupportedType {
  return Object.hasOwn(RESOURCE_TYPES, type);
}

export function allows(type: SupportedType, interaction: TypeInteraction): boolean {
  return (RESOURCE_TYPES[type] as readonly TypeInteraction[]).includes(interaction);
}

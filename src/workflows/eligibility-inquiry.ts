/**
 * @module workflows/eligibility-inquiry — gathers what a 270 needs from the stored resources a
 * CoverageEligibilityRequest points at: its Coverage (`insurance.coverage`, the focal one first), the patient and,
 * when `Coverage.relationship` is not self, the subscriber; the payer (`insurer`, else `Coverage.payor`) and the
 * partner that reaches it; the provider's NPI (`provider`: Practitioner, PractitionerRole or Organization).
 *
 * Whatever is missing is a 400 whose expression names the element to fix, before anything is sent: a payer
 * answers an incomplete inquiry with an AAA the clerk cannot act on as easily.
 */
import { createHash } from 'node:crypto';
import type {
  CoverageEligibilityRequest,
  Coverage,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  Reference,
  RelatedPerson,
} from '@medplum/fhirtypes';
import { getStatus, invalid, OperationOutcomeError } from '../outcome.ts';
import type { Partner, PartnerRegistry } from '../partners.ts';
import type { Repository } from '../store/repository.ts';
import type { EligibilityInquiry } from '../translate/x12/eligibility-270.ts';
import { SYSTEMS } from '../translate/x12/systems.ts';

export type GatheredInquiry = {
  inquiry: EligibilityInquiry;
  partner: Partner & { x12: NonNullable<Partner['x12']> };
  coverageRef: string;
  insurerRef: string;
  /** Same coverage, provider, date of service and service types → same key: an answer that may be reused. */
  reuseKey: string;
};

export async function gatherInquiry(
  repo: Repository,
  partners: PartnerRegistry,
  request: CoverageEligibilityRequest & { id: string },
  today: string
): Promise<GatheredInquiry> {
  const insurance = request.insurance?.find((i) => i.focal) ?? request.insurance?.[0];
  const coverageRef = insurance?.coverage?.reference;
  if (!coverageRef) invalid('The request names no Coverage to check', 'CoverageEligibilityRequest.insurance.coverage');
  const coverage = await readRef<Coverage>(
    repo,
    coverageRef,
    'Coverage',
    'CoverageEligibilityRequest.insurance.coverage'
  );
  const patientRef = request.patient?.reference ?? coverage.beneficiary?.reference;
  const relationship = coverage.relationship?.coding?.find((c) => c.system === SYSTEMS.subscriberRelationship)?.code;
  const subscriberRef = relationship && relationship !== 'self' ? coverage.subscriber?.reference : undefined;
  if (relationship && relationship !== 'self' && !subscriberRef) {
    invalid(`Coverage.relationship is ${relationship}: the subscriber must be named`, 'Coverage.subscriber');
  }
  const insurerRef = request.insurer?.reference ?? coverage.payor?.[0]?.reference;
  // Read together: each is one round trip, and none depends on another.
  const [patient, subscriber, insurer, provider] = await Promise.all([
    readRef<Patient>(repo, patientRef, 'Patient', 'CoverageEligibilityRequest.patient'),
    subscriberRef ? readRef<Patient | RelatedPerson>(repo, subscriberRef, undefined, 'Coverage.subscriber') : undefined,
    readRef<Organization>(repo, insurerRef, 'Organization', 'CoverageEligibilityRequest.insurer'),
    providerOf(repo, request.provider),
  ]);
  const partner = partners.payerFor({ reference: insurerRef, identifier: insurer.identifier });
  if (!partner?.x12) {
    invalid(
      `No payer in the partners file reaches ${insurerRef} (${insurer.name ?? 'unnamed'}): add an x12 section`,
      'CoverageEligibilityRequest.insurer'
    );
  }
  const inquiry: EligibilityInquiry = {
    request,
    coverage,
    patient,
    ...(subscriber ? { subscriber } : {}),
    payer: { name: insurer.name ?? partner.organization.name, payerId: partner.x12.payerId },
    provider,
    trace: {
      reference: request.id.replace(/[^A-Za-z0-9-]/g, '').slice(0, 50),
      originator: partner.x12.traceOriginator,
    },
    today,
  };
  const types = (request.item ?? [])
    .flatMap((i) => i.category?.coding?.filter((c) => c.system === SYSTEMS.serviceType).map((c) => c.code) ?? [])
    .sort();
  const date = request.servicedDate ?? `${request.servicedPeriod?.start ?? today}/${request.servicedPeriod?.end ?? ''}`;
  const reuseKey = createHash('sha256')
    .update(
      JSON.stringify([
        coverageRef,
        `${coverage.meta?.versionId ?? ''}`,
        provider.npi,
        date,
        types.length ? types : ['30'],
      ])
    )
    .digest('hex')
    .slice(0, 32);
  return {
    inquiry,
    partner: partner as GatheredInquiry['partner'],
    coverageRef,
    insurerRef: insurerRef as string,
    reuseKey,
  };
}

async function readRef<T>(
  repo: Repository,
  ref: string | undefined,
  type: string | undefined,
  at: string
): Promise<T & { id: string }> {
  const [t, id, ...rest] = (ref ?? '').split('/');
  if (!ref || !t || !id || rest.length || (type && t !== type)) {
    invalid(`${at} must reference a stored ${type ?? 'resource'} as Type/id (got "${ref ?? ''}")`, at);
  }
  try {
    return (await repo.read(t, id)) as unknown as T & { id: string };
  } catch (err) {
    // Only a missing or deleted target is the caller's mistake; anything else (the database) stays what it is.
    const status = err instanceof OperationOutcomeError ? getStatus(err.outcome) : 500;
    if (status !== 404 && status !== 410) throw err;
    invalid(`${at} references ${ref}, which does not exist`, at);
  }
}

async function providerOf(repo: Repository, ref: Reference | undefined): Promise<EligibilityInquiry['provider']> {
  const at = 'CoverageEligibilityRequest.provider';
  if (!ref?.reference) invalid('The request names no provider: the payer needs the NPI it is asked for', at);
  const npiOf = (r: { identifier?: { system?: string; value?: string }[] }) =>
    r.identifier?.find((i) => i.system === SYSTEMS.npi)?.value;
  const resource = await readRef<Practitioner | PractitionerRole | Organization>(repo, ref.reference, undefined, at);
  if (resource.resourceType === 'Organization') {
    const npi = npiOf(resource);
    if (!npi) invalid(`${ref.reference} has no NPI (identifier system ${SYSTEMS.npi})`, at);
    return { name: resource.name ?? '', npi };
  }
  const practitioner =
    resource.resourceType === 'PractitionerRole'
      ? resource.practitioner?.reference
        ? await readRef<Practitioner>(repo, resource.practitioner.reference, 'Practitioner', at)
        : undefined
      : resource;
  const npi = practitioner ? npiOf(practitioner) : undefined;
  if (practitioner && npi) {
    const name = practitioner.name?.[0];
    return {
      name: name?.family ?? '',
      npi,
      person: { family: name?.family ?? '', ...(name?.given?.[0] ? { given: name.given[0] } : {}) },
    };
  }
  if (resource.resourceType === 'PractitionerRole' && resource.organization?.reference) {
    const org = await readRef<Organization>(repo, resource.organization.reference, 'Organization', at);
    const orgNpi = npiOf(org);
    if (orgNpi) return { name: org.name ?? '', npi: orgNpi };
  }
  invalid(`${ref.reference} has no NPI (identifier system ${SYSTEMS.npi})`, at);
}

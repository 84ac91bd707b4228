/**
 * @module translate/hl7v2/adt — ADT registration messages (A01, A04, A08, A28, A31) to FHIR, pure.
 *
 * PID → Patient after the HL7 v2-to-FHIR IG `Segment PID to Patient` map; IN1 → Coverage and its payer
 * Organization after `Segment IN1 to Coverage` (with local rules for what the IG leaves open: IN1-3 company id,
 * IN1-36 policy number, IN1-8 group). Each resource comes with the business identifier to match it by and the
 * elements whose field held `""` (delete) — an empty field means "no information" and keeps what is stored.
 */
import type { CodeableConcept, Coverage, Identifier, Organization, Patient } from '@medplum/fhirtypes';
import { address, contactPoint, contentError, date, each, humanName, identifier } from './datatypes.ts';
import { identifierSystem, lookup } from './mappings.ts';
import { DELETE, type Hl7v2Message, type Segment } from './parse.ts';

export type Update<T> = { resource: T; match: Identifier | undefined; remove: string[] };

export type Registration = {
  patient: Update<Patient>;
  coverages: { payer: Update<Organization>; coverage: Update<Coverage> }[];
  /** Segments present in the message that this translation does not map (reported, never silently dropped). */
  unmapped: string[];
};

const MAPPED = new Set(['MSH', 'EVN', 'PID', 'IN1']);

export function registration(msg: Hl7v2Message): Registration {
  const pid = msg.first('PID');
  if (!pid) throw contentError('The message has no PID segment', 'PID', '100');
  // An identifier without assigning authority (CX-4) is scoped to the facility that sent it (MSH-4, else MSH-3).
  const msh = msg.first('MSH');
  const facility = msh?.text(4) ?? msh?.text(3);
  const patient = patientOf(pid, facility);
  const unmapped = [...new Set(msg.segments.map((s) => s.name).filter((n) => !MAPPED.has(n)))];
  const coverages: Registration['coverages'] = [];
  msg.all('IN1').forEach((in1, i) => {
    // An IN1 naming no insurance company (IN1-3 and IN1-4 empty) cannot make a Coverage: reported, not fatal.
    if (!in1.text(3) && !in1.text(4)) unmapped.push(`IN1[${i + 1}] (no IN1-3/IN1-4)`);
    else coverages.push(coverageOf(in1, i));
  });
  return { patient, coverages, unmapped };
}

function patientOf(pid: Segment, facility: string | undefined): Update<Patient> {
  const scoped = (c: Parameters<typeof identifier>[0]) => {
    const id = identifier(c);
    if (id && !id.system && facility) id.system = identifierSystem(facility);
    return id;
  };
  const identifiers = [...each(pid, 3, scoped), ...each(pid, 2, scoped), ...each(pid, 4, scoped)];
  const ssn = pid.text(19);
  if (ssn) identifiers.push({ system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn, type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'SS' }] } });
  const match = identifiers.find((i) => i.system && i.value);
  if (!match) throw contentError('PID-3 (patient identifier list) is empty', 'PID-3', '101');
  const p: Patient = { resourceType: 'Patient', identifier: dedupeIdentifiers(identifiers) };
  const remove: string[] = [];
  const field = (n: number, element: string, value: unknown) => {
    if (pid.get(n) === DELETE) remove.push(element);
    else if (value !== undefined && !(Array.isArray(value) && value.length === 0)) (p as unknown as Record<string, unknown>)[element] = value;
  };
  field(5, 'name', each(pid, 5, humanName));
  field(7, 'birthDate', date(pid.text(7), 'PID-7'));
  field(8, 'gender', lookup('0001', pid.text(8)));
  field(11, 'address', each(pid, 11, address));
  const telecom = [...each(pid, 13, (c) => contactPoint(c, 'home')), ...each(pid, 14, (c) => contactPoint(c, 'work'))];
  if (pid.get(13) === DELETE && pid.get(14) === DELETE) remove.push('telecom');
  else if (telecom.length) p.telecom = telecom;
  field(16, 'maritalStatus', codeable(pid, 16, 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus'));
  const deceased = pid.text(30);
  const deceasedAt = pid.text(29);
  if (deceasedAt) p.deceasedDateTime = date(deceasedAt, 'PID-29');
  else if (deceased === 'Y' || deceased === 'N') p.deceasedBoolean = deceased === 'Y';
  return { resource: p, match, remove };
}

function coverageOf(in1: Segment, _i: number): { payer: Update<Organization>; coverage: Update<Coverage> } {
  const payerId = identifier(in1.rep(3, 0));
  const payerName = in1.text(4);
  const payer: Organization = { resourceType: 'Organization', active: true };
  if (payerId) payer.identifier = [payerId];
  if (payerName) payer.name = payerName;
  const payerAddress = address(in1.rep(5, 0));
  if (payerAddress) payer.address = [payerAddress];
  payer.type = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'pay', display: 'Payer' }] }];
  const policy = in1.text(36);
  const memberId = in1.text(49) ?? policy;
  const coverage: Coverage = {
    resourceType: 'Coverage',
    status: 'active',
    beneficiary: { reference: 'Patient/$patient' },
    payor: [{ reference: 'Organization/$payer' }],
  };
  const payerKey = payerId?.value ?? payerName ?? '';
  if (policy) coverage.identifier = [{ system: `urn:frontdesk:policy:${encodeURIComponent(payerKey)}`, value: policy }];
  if (memberId) coverage.subscriberId = memberId;
  const plan = in1.text(2);
  const group = in1.text(8);
  const classes: NonNullable<Coverage['class']> = [];
  if (group) classes.push({ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] }, value: group, name: in1.text(9) });
  if (plan) classes.push({ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'plan' }] }, value: plan });
  if (classes.length) coverage.class = classes;
  const start = date(in1.text(12), 'IN1-12');
  const end = date(in1.text(13), 'IN1-13');
  if (start || end) coverage.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  const rel = in1.text(17);
  const relCode = rel === 'SEL' ? 'self' : rel === 'SPO' ? 'spouse' : rel === 'CHD' ? 'child' : rel ? 'other' : undefined;
  if (relCode) coverage.relationship = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: relCode }] };
  if (rel === 'SEL') coverage.subscriber = { reference: 'Patient/$patient' };
  const order = Number(in1.text(22));
  if (Number.isInteger(order) && order > 0) coverage.order = order;
  return {
    payer: { resource: payer, match: payerId?.system ? payerId : undefined, remove: [] },
    coverage: { resource: coverage, match: coverage.identifier?.[0], remove: [] },
  };
}

function codeable(seg: Segment, n: number, system: string): CodeableConcept | undefined {
  const code = seg.text(n, 1);
  if (!code) return undefined;
  const cc: CodeableConcept = { coding: [{ system, code }] };
  const display = seg.text(n, 2);
  if (display) cc.text = display;
  return cc;
}

function dedupeIdentifiers(ids: Identifier[]): Identifier[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = `${i.system}|${i.value}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

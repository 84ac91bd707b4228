/**
 * @module translate/hl7v2/entries — plan entries that several message types share, pure: the patient (PID, PD1),
 * practitioners (XCN), diagnoses (DG1) and coverages with their payers and subscribers (IN1/IN2), and the
 * conventions around them (identifiers scoped to the sending facility, the plan's builder, unmapped segments).
 *
 * After the HL7 v2-to-FHIR IG segment maps. Where the IG leaves IN1 open, local rules: IN1-3 company id and IN1-4
 * name make the payer, IN1-36 the policy identifier, IN1-8 the group, IN1-22 the order; the subscriber is a
 * RelatedPerson when IN1-17 is not "self".
 */
import type { Condition, Coverage, Identifier, Organization, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { GATEWAY_PROFILES } from '../../validate/profiles.ts';
import { address, codeableConcept, contactPoint, contentError, date, dateTime, each, humanName, identifier, person, type Comp } from './datatypes.ts';
import { identifierSystem, lookup } from './mappings.ts';
import { DELETE, type Hl7v2Message, type Segment } from './parse.ts';
import { byIdentifier, PlanBuilder, tokenOf, type Ref } from './plan.ts';

export type TranslateOptions = {
  /** IANA time zone of the sending partner: times without an offset are read in it. */
  timeZone: string;
};

export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';


export function builderOf(msg: Hl7v2Message): PlanBuilder {
  const msh = msg.first('MSH');
  return new PlanBuilder(`${msh?.text(9, 1) ?? ''}^${msh?.text(9, 2) ?? ''}`, msh?.text(10) ?? '');
}

/** An identifier without assigning authority (CX-4) is scoped to the facility that sent it (MSH-4, else MSH-3). */
export function facilityOf(msg: Hl7v2Message): string | undefined {
  const msh = msg.first('MSH');
  return msh?.text(4) ?? msh?.text(3);
}


export function scoped(c: Comp, facility: string | undefined): Identifier | undefined {
  const id = identifier(c);
  if (id && !id.system && facility) id.system = identifierSystem(facility);
  return id;
}


export function unmappedSegments(msg: Hl7v2Message, mapped: ReadonlySet<string>): string[] {
  return [...new Set(msg.segments.map((s) => s.name).filter((n) => !mapped.has(n)))];
}

/** PID (+PD1) → the Patient entry `key`, matched by its first identifier among active patients. */
export function patientEntry(b: PlanBuilder, key: string, pid: Segment, pd1: Segment | undefined, facility: string | undefined, opts: TranslateOptions): Ref {
  const p = patientResource(b, pid, pd1, facility, opts);
  return b.add(key, p.resource, { match: p.match, remove: p.remove, profiles: [GATEWAY_PROFILES.Patient], source: 'PID' });
}


export function patientResource(b: PlanBuilder, pid: Segment, pd1: Segment | undefined, facility: string | undefined, opts: TranslateOptions) {
  const identifiers = [...each(pid, 3, (c) => scoped(c, facility)), ...each(pid, 2, (c) => scoped(c, facility)), ...each(pid, 4, (c) => scoped(c, facility))];
  const ssn = pid.text(19);
  if (ssn) identifiers.push({ system: 'http://hl7.org/fhir/sid/us-ssn', value: ssn, type: { coding: [{ system: V2_0203, code: 'SS' }] } });
  const first = identifiers.find((i) => i.system && i.value);
  if (!first) throw contentError('PID-3 (patient identifier list) is empty', 'PID-3', '101');
  const p: Patient = { resourceType: 'Patient', identifier: dedupeIdentifiers(identifiers) };
  const remove: string[] = [];
  const field = (n: number, element: keyof Patient, value: unknown) => {
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
  const language = codeableConcept(pid.rep(15, 0), 'urn:ietf:bcp:47');
  if (language) p.communication = [{ language }];
  field(16, 'maritalStatus', codeableConcept(pid.rep(16, 0), 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus'));
  const deceased = pid.text(30);
  const deceasedAt = pid.text(29);
  if (deceasedAt) p.deceasedDateTime = dateTime(deceasedAt, 'PID-29', opts.timeZone);
  else if (deceased === 'Y' || deceased === 'N') p.deceasedBoolean = deceased === 'Y';
  // PD1-4 primary care provider → generalPractitioner (a Practitioner known by its identifier).
  const gps = pd1 ? each(pd1, 4, (c) => practitioner(b, c, 'PD1-4', facility)) : [];
  if (gps.length) p.generalPractitioner = gps;
  return { resource: p, match: `${byIdentifier(first)}&active:not=false`, remove };
}

/**
 * XCN → a Practitioner entry (kept as stored if known) when it carries an id, else a reference by display. An id
 * without assigning authority (XCN-9) is scoped to the sending facility, as patient identifiers are.
 */
export function practitioner(b: PlanBuilder, c: Comp, source: string, facility?: string): Ref | undefined {
  const who = person(c);
  if (!who) return undefined;
  if (who.identifier && !who.identifier.system && facility) who.identifier.system = identifierSystem(facility);
  const display = who.name ? [who.name.prefix?.join(' '), who.name.given?.join(' '), who.name.family].filter(Boolean).join(' ') : undefined;
  if (!who.identifier?.system) return display ? { display } : undefined;
  const resource = { resourceType: 'Practitioner' as const, identifier: [who.identifier], ...(who.name ? { name: [who.name] } : {}) };
  const ref = b.add(`practitioner|${who.identifier.system}|${who.identifier.value}`, resource, { match: byIdentifier(who.identifier), mode: 'ensure', source });
  return display ? { ...ref, display } : ref;
}


export function roleCode(v2: string | undefined) {
  const code = lookup('0063', v2);
  return code ? { coding: [{ system: ROLE_CODE, code }] } : undefined;
}


export function relatedMatch(patient: Ref, id: Identifier | undefined, family: string | undefined, role: string | undefined): string {
  if (id) return byIdentifier(id);
  const parts = [`patient=${patient.reference}`];
  if (family) parts.push(`name:exact=${encodeURIComponent(family)}`);
  if (role) parts.push(`relationship=${tokenOf({ system: ROLE_CODE, value: role })}`);
  return parts.join('&');
}


export function condition(b: PlanBuilder, dg1: Segment, i: number, patient: Ref, encounter: Ref | undefined, opts: TranslateOptions): void {
  const code = codeableConcept(dg1.rep(3, 0));
  if (!code) {
    b.unmapped.push(`DG1[${i + 1}] (no DG1-3 diagnosis code)`);
    return;
  }
  const c: Condition = {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
    code,
    subject: patient,
  };
  if (encounter) c.encounter = encounter;
  const onset = dateTime(dg1.text(5), `DG1[${i + 1}]-5`, opts.timeZone);
  if (onset) c.onsetDateTime = onset;
  b.add(`dg1-${i}`, c, { match: `subject=${patient.reference}&${codeMatch(code)}`, source: `DG1[${i + 1}]` });
}


export function codeMatch(code: NonNullable<Condition['code']>): string {
  const k = code.coding?.[0];
  return k ? `code=${tokenOf({ system: k.system, value: k.code })}` : `code:text=${encodeURIComponent(code.text ?? '')}`;
}

/** IN1 (+ the IN2 after it) → Coverage and its payer; an IN1 naming no insurance company is reported, not fatal. */
export function coverages(b: PlanBuilder, msg: Hl7v2Message, patient: Ref, opts: TranslateOptions): void {
  const segs = msg.segments;
  let n = 0;
  segs.forEach((in1, at) => {
    if (in1.name !== 'IN1') return;
    const i = n++;
    if (!in1.text(3) && !in1.text(4)) {
      b.unmapped.push(`IN1[${i + 1}] (no IN1-3/IN1-4)`);
      return;
    }
    const next = segs[at + 1];
    coverage(b, in1, next?.name === 'IN2' ? next : undefined, i, patient, opts);
  });
}


function coverage(b: PlanBuilder, in1: Segment, in2: Segment | undefined, i: number, patient: Ref, opts: TranslateOptions): void {
  const where = `IN1[${i + 1}]`;
  const payerId = identifier(in1.rep(3, 0));
  const payerName = in1.text(4);
  const payer: Organization = {
    resourceType: 'Organization',
    active: true,
    type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/organization-type', code: 'pay', display: 'Payer' }] }],
  };
  if (payerId) payer.identifier = [payerId];
  if (payerName) payer.name = payerName;
  const payerAddress = address(in1.rep(5, 0));
  if (payerAddress) payer.address = [payerAddress];
  const payerMatch = payerId?.system ? byIdentifier(payerId) : `name:exact=${encodeURIComponent(payerName ?? payerId?.value ?? '')}&type=pay`;
  const payerRef = b.add(`payer-${i}`, payer, { match: payerMatch, source: `${where}-3` });

  const policy = in1.text(36);
  const c: Coverage = { resourceType: 'Coverage', status: 'active', beneficiary: patient, payor: [payerRef] };
  const payerKey = payerId?.value ?? payerName ?? '';
  const ids: Identifier[] = [];
  if (policy) ids.push({ system: `urn:frontdesk:policy:${encodeURIComponent(payerKey)}`, value: policy });
  const mbi = in2?.text(6);
  if (mbi) ids.push({ system: 'http://hl7.org/fhir/sid/us-mbi', value: mbi, type: { coding: [{ system: V2_0203, code: 'MC' }] } });
  const medicaid = in2?.text(8);
  if (medicaid) ids.push({ system: 'urn:frontdesk:medicaid', value: medicaid, type: { coding: [{ system: V2_0203, code: 'MA' }] } });
  if (ids.length) c.identifier = ids;
  const memberId = in1.text(49) ?? policy;
  if (memberId) c.subscriberId = memberId;
  const classes: NonNullable<Coverage['class']> = [];
  const group = in1.text(8);
  const plan = in1.text(2);
  const classType = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code }] });
  if (group) classes.push({ type: classType('group'), value: group, ...(in1.text(9) ? { name: in1.text(9) } : {}) });
  if (plan) classes.push({ type: classType('plan'), value: plan });
  if (classes.length) c.class = classes;
  const start = date(in1.text(12), `${where}-12`);
  const end = date(in1.text(13), `${where}-13`);
  if (start || end) c.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  const rel = in1.text(17, 1);
  const relCode = rel === 'SEL' ? 'self' : rel === 'SPO' ? 'spouse' : rel === 'CHD' ? 'child' : rel ? 'other' : undefined;
  if (relCode) c.relationship = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship', code: relCode }] };
  if (rel === 'SEL' || !rel) {
    if (rel) c.subscriber = patient;
  } else {
    const subscriber = subscriberOf(b, in1, i, patient, rel);
    if (subscriber) c.subscriber = subscriber;
  }
  const order = Number(in1.text(22));
  if (Number.isInteger(order) && order > 0) c.order = order;
  const match = c.identifier?.[0] ? byIdentifier(c.identifier[0]) : `beneficiary=${patient.reference}&payor=${payerRef.reference}`;
  b.add(`coverage-${i}`, c, { match, source: where });
}

/** IN1-16 name, IN1-17 relationship, IN1-18 birth date, IN1-19 address → the subscriber as a RelatedPerson. */
function subscriberOf(b: PlanBuilder, in1: Segment, i: number, patient: Ref, rel: string): Ref | undefined {
  const names = each(in1, 16, humanName);
  if (!names.length) return undefined;
  const role = roleCode(rel);
  const rp: RelatedPerson = { resourceType: 'RelatedPerson', active: true, patient, name: names };
  if (role) rp.relationship = [role];
  const birthDate = date(in1.text(18), `IN1[${i + 1}]-18`);
  if (birthDate) rp.birthDate = birthDate;
  const addresses = each(in1, 19, address);
  if (addresses.length) rp.address = addresses;
  return b.add(`subscriber-${i}`, rp, { match: relatedMatch(patient, undefined, names[0]?.family, role?.coding?.[0]?.code), source: `IN1[${i + 1}]-16` });
}


export function dedupeIdentifiers(ids: Identifier[]): Identifier[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = `${i.system}|${i.value}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

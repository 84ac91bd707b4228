/**
 * @module translate/hl7v2/entries — plan entries that several message types share, pure: the patient (PID, PD1),
 * practitioners (XCN), diagnoses (DG1) and coverages with their payers and subscribers (IN1/IN2), and the
 * conventions around them (identifiers scoped to the sending facility, the plan's builder, unmapped segments).
 *
 * Which field feeds which element is data: the field maps of mappings/hl7v2/ (patient, condition, payer, coverage,
 * subscriber), applied by ./fieldmap.ts. Here is what needs logic: identifiers and the matches made of them,
 * references to other entries, classes. Where the IG leaves IN1 open, local rules: IN1-3 company id and IN1-4 name
 * make the payer, IN1-36 the policy identifier, IN1-8 the group; the subscriber is a RelatedPerson when IN1-17 is
 * not "self".
 */
import type { Condition, Coverage, Identifier, Organization, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { GATEWAY_PROFILES } from '../../validate/profiles.ts';
import { contentError, each, identifier, person, type Comp } from './datatypes.ts';
import { applyMap, feed, fieldMap, type Mapped } from './fieldmap.ts';
import { identifierSystem } from './mappings.ts';
import { DELETE, type Hl7v2Message, type Segment } from './parse.ts';
import { byIdentifier, PlanBuilder, tokenOf, type Ref } from './plan.ts';

export type TranslateOptions = {
  /** IANA time zone of the sending partner: times without an offset are read in it. */
  timeZone: string;
  /** The referral an RRI without RF1-6 answers, found by the workflow from MSA-2 (the REF's MSH-10). */
  answered?: Identifier;
};

export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
const US_SSN = 'http://hl7.org/fhir/sid/us-ssn';

// The field maps of mappings/hl7v2/, read (and checked) when the gateway starts.
const PATIENT = fieldMap('patient');
const CONDITION = fieldMap('condition');
const PAYER = fieldMap('payer');
const COVERAGE = fieldMap('coverage');
const SUBSCRIBER = fieldMap('subscriber');


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

/** Identifier types (HL7 table 0203) that do not tell one person from another: SSN, driver's licence, and the
 * subscriber and guarantor numbers a family shares. */
const NOT_KEYS = new Set(['SS', 'DL', 'SN', 'GI', 'GN']);

/** PID (+PD1) → the Patient entry `key`, matched by any of its PID-3 identifiers among active patients. */
export function patientEntry(b: PlanBuilder, key: string, pid: Segment, pd1: Segment | undefined, facility: string | undefined, opts: TranslateOptions): Ref {
  const p = patientResource(b, pid, pd1, facility, opts);
  return b.add(key, p.resource, { match: p.match, remove: p.remove, partial: p.partial, profiles: [GATEWAY_PROFILES.Patient], source: 'PID' });
}

/**
 * PID (+PD1) → the Patient (field map mappings/hl7v2/patient.json) and its match: any PID-3 identifier (FHIR search
 * OR), so a repeat listing another identifier first still finds the patient; PID-2/4 only when PID-3 has none of
 * the patient's own; social security, driver's licence, subscriber and guarantor numbers only when nothing else is
 * given.
 */
export function patientResource(b: PlanBuilder, pid: Segment, pd1: Segment | undefined, facility: string | undefined, opts: TranslateOptions) {
  const listed = each(pid, 3, (c) => scoped(c, facility));
  const identifiers = [...listed, ...each(pid, 2, (c) => scoped(c, facility)), ...each(pid, 4, (c) => scoped(c, facility))];
  const ssn = pid.text(19);
  if (ssn) identifiers.push({ system: US_SSN, value: ssn, type: { coding: [{ system: V2_0203, code: 'SS' }] } });
  // Matched by the patient's record numbers: PID-3's, else PID-2/4's. Social security and driver's licence numbers
  // (placeholders such as 999-99-9999 are common) and identifiers a family shares (subscriber, guarantor numbers)
  // must never make two people one Patient: used only when nothing else identifies the patient.
  const usable = (ids: Identifier[]) => ids.filter((i) => i.system && i.value);
  const records = (ids: Identifier[]) => usable(ids).filter((i) => i.system !== US_SSN && !i.type?.coding?.some((c) => c.system === V2_0203 && NOT_KEYS.has(c.code ?? '')));
  const matchOn = [records(listed), records(identifiers), usable(identifiers)].find((ids) => ids.length) ?? [];
  if (!matchOn.length) throw contentError('PID-3 (patient identifier list) is empty', 'PID-3', '101');
  const m = applyMap(PATIENT, { PID: pid, PD1: pd1 }, (s) => s, opts) as Mapped;
  // Identifiers are united with the stored ones, never dropped; but a PID-19 sent as "" removes the stored SSN.
  if (pid.get(19) === DELETE) m.remove.push(`identifier[system=${US_SSN}]`);
  // PD1-4 primary care provider → generalPractitioner (a Practitioner known by its identifier).
  if (pd1) feed(m, pd1, 4, 'generalPractitioner', each(pd1, 4, (c) => practitioner(b, c, 'PD1-4', facility)));
  const p = { resourceType: 'Patient', identifier: dedupeIdentifiers(identifiers), ...m.resource } as Patient;
  return { resource: p, match: `${byIdentifier(...matchOn)}&active:not=false`, remove: m.remove, partial: m.partial };
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


export function relatedMatch(patient: Ref, id: Identifier | undefined, family: string | undefined, role: string | undefined): string {
  if (id) return byIdentifier(id);
  const parts = [`patient=${patient.reference}`];
  if (family) parts.push(`name:exact=${encodeURIComponent(family)}`);
  if (role) parts.push(`relationship=${tokenOf({ system: ROLE_CODE, value: role })}`);
  return parts.join('&');
}


export function condition(b: PlanBuilder, dg1: Segment, i: number, patient: Ref, encounter: Ref | undefined, opts: TranslateOptions): void {
  const m = applyMap(CONDITION, { DG1: dg1 }, () => `DG1[${i + 1}]`, opts);
  if (!m) {
    b.unmapped.push(`DG1[${i + 1}] (no DG1-3 diagnosis code)`);
    return;
  }
  const c = { resourceType: 'Condition', ...m.resource, subject: patient, ...(encounter ? { encounter } : {}) } as Condition;
  b.add(`dg1-${i}`, c, { match: `subject=${patient.reference}&${codeMatch(c.code!)}`, remove: m.remove, partial: m.partial, source: `DG1[${i + 1}]` });
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


/** IN1 (+IN2) → the payer Organization (payer.json), the Coverage (coverage.json) and its subscriber. */
function coverage(b: PlanBuilder, in1: Segment, in2: Segment | undefined, i: number, patient: Ref, opts: TranslateOptions): void {
  const where = `IN1[${i + 1}]`;
  const label = (s: string) => `${s}[${i + 1}]`;
  const payerId = identifier(in1.rep(3, 0));
  const pm = applyMap(PAYER, { IN1: in1 }, label, opts) as Mapped;
  const payer = { resourceType: 'Organization', ...pm.resource, ...(payerId ? { identifier: [payerId] } : {}) } as Organization;
  const payerMatch = payerId?.system ? byIdentifier(payerId) : `name:exact=${encodeURIComponent(in1.text(4) ?? payerId?.value ?? '')}&type=pay`;
  const payerRef = b.add(`payer-${i}`, payer, { match: payerMatch, remove: pm.remove, partial: pm.partial, source: `${where}-3` });

  const m = applyMap(COVERAGE, { IN1: in1, IN2: in2 }, label, opts) as Mapped;
  // Identifiers, matches, classes and references: IN1-36 policy (scoped to the payer), IN2-6 MBI, IN2-8 Medicaid.
  const policy = in1.text(36);
  const payerKey = payerId?.value ?? in1.text(4) ?? '';
  const ids: Identifier[] = [];
  if (policy) ids.push({ system: `urn:frontdesk:policy:${encodeURIComponent(payerKey)}`, value: policy });
  const mbi = in2?.text(6);
  if (mbi) ids.push({ system: 'http://hl7.org/fhir/sid/us-mbi', value: mbi, type: { coding: [{ system: V2_0203, code: 'MC' }] } });
  const medicaid = in2?.text(8);
  if (medicaid) ids.push({ system: 'urn:frontdesk:medicaid', value: medicaid, type: { coding: [{ system: V2_0203, code: 'MA' }] } });
  if (ids.length) m.resource.identifier = ids;
  // IN1-8 group (IN1-9 its name) and IN1-2 plan: one slice of Coverage.class each.
  const classType = (code: string) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code }] });
  const group = in1.text(8);
  feed(m, in1, 8, 'class[type.coding.code=group]', group ? { type: classType('group'), value: group, ...(in1.text(9) ? { name: in1.text(9) } : {}) } : undefined);
  const plan = in1.text(2);
  feed(m, in1, 2, 'class[type.coding.code=plan]', plan ? { type: classType('plan'), value: plan } : undefined);
  // The subscriber: the patient (IN1-17 SEL), else the insured of IN1-16 as a RelatedPerson.
  const rel = in1.text(17, 1);
  const subscriber = rel === 'SEL' ? patient : rel ? subscriberOf(b, in1, i, patient, opts) : undefined;
  feed(m, in1, rel && rel !== 'SEL' ? 16 : 17, 'subscriber', subscriber);
  const c = { resourceType: 'Coverage', ...m.resource, beneficiary: patient, payor: [payerRef] } as Coverage;
  const match = c.identifier?.[0] ? byIdentifier(c.identifier[0]) : `beneficiary=${patient.reference}&payor=${payerRef.reference}`;
  b.add(`coverage-${i}`, c, { match, remove: m.remove, partial: m.partial, source: where });
}

/** IN1-16 name, IN1-17 relationship, IN1-18 birth date, IN1-19 address → the subscriber (subscriber.json). */
function subscriberOf(b: PlanBuilder, in1: Segment, i: number, patient: Ref, opts: TranslateOptions): Ref | undefined {
  const m = applyMap(SUBSCRIBER, { IN1: in1 }, () => `IN1[${i + 1}]`, opts);
  if (!m) return undefined;
  const rp = { resourceType: 'RelatedPerson', ...m.resource, patient } as RelatedPerson;
  const match = relatedMatch(patient, undefined, rp.name?.[0]?.family, roleOf(rp));
  return b.add(`subscriber-${i}`, rp, { match, remove: m.remove, partial: m.partial, source: `IN1[${i + 1}]-16` });
}

/** The v3 RoleCode of a RelatedPerson's relationship (NK1-3, IN1-17), what it is matched by without identifier. */
export function roleOf(rp: RelatedPerson): string | undefined {
  return rp.relationship?.flatMap((r) => r.coding ?? []).find((k) => k.system === ROLE_CODE)?.code;
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

/**
 * @module translate/hl7v2/adt — ADT registration (A01, A04, A08, A28, A31) and merge (A40) messages to a plan, pure.
 *
 * After the HL7 v2-to-FHIR IG segment maps: PID (+PD1) → Patient, NK1 → RelatedPerson, PV1/PV2 → Encounter with
 * its Practitioners, AL1 → AllergyIntolerance, DG1 → Condition, IN1/IN2 → Coverage + payer Organization (the
 * entries other message types share are in ./entries.ts).
 * A40: the patient of PID-3 survives, takes the identifiers of MRG-1 and `replaces` the merged one, which becomes
 * inactive and `replaced-by` the survivor.
 */
import type { AllergyIntolerance, Encounter, Identifier, Patient, RelatedPerson } from '@medplum/fhirtypes';
import { GATEWAY_PROFILES } from '../../validate/profiles.ts';
import { address, codeableConcept, contactPoint, contentError, date, dateTime, each, humanName, identifier } from './datatypes.ts';
import {
  builderOf,
  codeMatch,
  condition,
  coverages,
  dedupeIdentifiers,
  facilityOf,
  patientEntry,
  patientResource,
  practitioner,
  relatedMatch,
  roleCode,
  scoped,
  unmappedSegments,
  V2_0203,
  type TranslateOptions,
} from './entries.ts';
import { lookup } from './mappings.ts';
import type { Hl7v2Message, Segment } from './parse.ts';
import { byIdentifier, type Plan, type PlanBuilder, type Ref } from './plan.ts';

/** Segments the registration translation reads; anything else is reported as unmapped. */
const REGISTRATION_SEGMENTS = new Set(['MSH', 'EVN', 'PID', 'PD1', 'NK1', 'PV1', 'PV2', 'AL1', 'DG1', 'IN1', 'IN2']);

export function registrationPlan(msg: Hl7v2Message, opts: TranslateOptions): Plan {
  const b = builderOf(msg);
  const pid = msg.first('PID');
  if (!pid) throw contentError('The message has no PID segment', 'PID', '100');
  const facility = facilityOf(msg);
  const patient = patientEntry(b, 'patient', pid, msg.first('PD1'), facility, opts);
  msg.all('NK1').forEach((nk1, i) => relatedPerson(b, nk1, i, patient, opts));
  const encounter = encounterEntry(b, msg, patient, facility, opts);
  msg.all('AL1').forEach((al1, i) => allergy(b, al1, i, patient, opts));
  msg.all('DG1').forEach((dg1, i) => condition(b, dg1, i, patient, encounter, opts));
  coverages(b, msg, patient, opts);
  b.unmapped.unshift(...unmappedSegments(msg, REGISTRATION_SEGMENTS));
  return b.build();
}

/** ADT^A40 (structure ADT_A39): for each PID + MRG pair, the merged patient is retired into the surviving one. */
export function mergePlan(msg: Hl7v2Message, opts: TranslateOptions): Plan {
  const b = builderOf(msg);
  const facility = facilityOf(msg);
  const segs = msg.segments;
  let pairs = 0;
  segs.forEach((pid, i) => {
    if (pid.name !== 'PID') return;
    const mrg = segs.slice(i + 1).find((s) => s.name === 'MRG' || s.name === 'PID');
    if (mrg?.name !== 'MRG') throw contentError(`PID[${pairs + 1}] has no MRG segment naming the patient to merge`, 'MRG', '100');
    const merged = each(mrg, 1, (c) => scoped(c, facility));
    if (!merged.length) throw contentError('MRG-1 (prior patient identifier list) is empty', 'MRG-1', '101');
    const survivorKey = `patient-${pairs}`;
    const mergedKey = `merged-${pairs}`;
    // The merged patient first: matched before the survivor takes its identifiers.
    const first = merged[0] as Identifier;
    b.add(
      mergedKey,
      { resourceType: 'Patient', active: false, link: [{ other: b.ref(survivorKey), type: 'replaced-by' }] } as Patient,
      { match: `${byIdentifier(first)}&active:not=false`, mode: 'update-existing', distinctFrom: survivorKey, profiles: [GATEWAY_PROFILES.Patient], source: 'MRG-1' }
    );
    const survivor = patientResource(b, pid, undefined, facility, opts);
    survivor.resource.identifier = dedupeIdentifiers([...(survivor.resource.identifier ?? []), ...merged]);
    survivor.resource.link = [{ other: b.ref(mergedKey), type: 'replaces' }];
    b.add(survivorKey, survivor.resource, { match: survivor.match, remove: survivor.remove, profiles: [GATEWAY_PROFILES.Patient], source: 'PID' });
    pairs++;
  });
  if (!pairs) throw contentError('The message has no PID segment', 'PID', '100');
  b.unmapped.unshift(...unmappedSegments(msg, new Set(['MSH', 'EVN', 'PID', 'PD1', 'MRG', 'PV1'])));
  return b.build();
}


function relatedPerson(b: PlanBuilder, nk1: Segment, i: number, patient: Ref, opts: TranslateOptions): void {
  const names = each(nk1, 2, humanName);
  const ids = [...each(nk1, 33, identifier), ...each(nk1, 12, identifier)].filter((x) => x.system);
  if (!names.length && !ids.length) {
    b.unmapped.push(`NK1[${i + 1}] (no NK1-2 name)`);
    return;
  }
  const rp: RelatedPerson = { resourceType: 'RelatedPerson', active: true, patient };
  if (ids.length) rp.identifier = ids;
  if (names.length) rp.name = names;
  const relationship = nk1.text(3, 1);
  const relationships = [];
  const rel = roleCode(relationship);
  if (rel) relationships.push(rel);
  const contactRole = nk1.text(7, 1);
  if (contactRole) relationships.push({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: contactRole }] });
  if (relationships.length) rp.relationship = relationships;
  const addresses = each(nk1, 4, address);
  if (addresses.length) rp.address = addresses;
  const telecom = [...each(nk1, 5, (c) => contactPoint(c, 'home')), ...each(nk1, 6, (c) => contactPoint(c, 'work'))];
  if (telecom.length) rp.telecom = telecom;
  const gender = lookup('0001', nk1.text(15));
  if (gender) rp.gender = gender as RelatedPerson['gender'];
  const birthDate = date(nk1.text(16), `NK1[${i + 1}]-16`);
  if (birthDate) rp.birthDate = birthDate;
  const start = dateTime(nk1.text(8), `NK1[${i + 1}]-8`, opts.timeZone);
  const end = dateTime(nk1.text(9), `NK1[${i + 1}]-9`, opts.timeZone);
  if (start || end) rp.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  b.add(`nk1-${i}`, rp, { match: relatedMatch(patient, ids[0], names[0]?.family, rel?.coding?.[0]?.code), source: `NK1[${i + 1}]` });
}

/** PV1 (+PV2) → Encounter, identified by the visit number PV1-19; a dummy PV1 (`PV1||N`) maps to nothing. */
function encounterEntry(b: PlanBuilder, msg: Hl7v2Message, patient: Ref, facility: string | undefined, opts: TranslateOptions): Ref | undefined {
  const pv1 = msg.first('PV1');
  if (!pv1) return undefined;
  const patientClass = pv1.text(2);
  const visit = scoped(pv1.rep(19, 0), facility);
  if (!visit) {
    if (patientClass && patientClass !== 'N') b.unmapped.push('PV1 (no PV1-19 visit number: no Encounter made)');
    return undefined;
  }
  const start = dateTime(pv1.text(44), 'PV1-44', opts.timeZone);
  const end = dateTime(pv1.text(45), 'PV1-45', opts.timeZone);
  const event = b.event.split('^')[1];
  // The status the event says (A01 admitted, A04 registered, a discharge time); an update (A08) keeps the stored one.
  const status: Encounter['status'] | undefined = end ? 'finished' : event === 'A01' ? 'in-progress' : event === 'A04' ? 'arrived' : undefined;
  const classCode = lookup('0004', patientClass) ?? 'AMB';
  const e = {
    resourceType: 'Encounter',
    identifier: [{ ...visit, type: { coding: [{ system: V2_0203, code: 'VN' }] } }],
    ...(status ? { status } : {}),
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: classCode },
    subject: patient,
  } as Encounter;
  if (start || end) e.period = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  const participant: NonNullable<Encounter['participant']> = [];
  for (const [n, code] of [[7, 'ATND'], [8, 'REF'], [9, 'CON'], [17, 'ADM']] as const) {
    for (const individual of each(pv1, n, (c) => practitioner(b, c, `PV1-${n}`, facility))) {
      participant.push({ type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code }] }], individual });
    }
  }
  if (participant.length) e.participant = participant;
  const location = [pv1.text(3, 1), pv1.text(3, 2), pv1.text(3, 3), pv1.text(3, 4)].filter(Boolean).join(' ');
  if (location) e.location = [{ location: { display: location } }];
  const type = codeableConcept(pv1.rep(4, 0), 'http://terminology.hl7.org/CodeSystem/v2-0007');
  if (type) e.type = [type];
  const service = codeableConcept(pv1.rep(10, 0), 'http://terminology.hl7.org/CodeSystem/v2-0069');
  if (service) e.serviceType = service;
  const reason = msg.first('PV2') ? codeableConcept(msg.first('PV2')!.rep(3, 0)) : undefined;
  if (reason) e.reasonCode = [reason];
  return b.add('encounter', e, { match: byIdentifier(visit), source: 'PV1', defaults: { status: 'planned' } });
}


function allergy(b: PlanBuilder, al1: Segment, i: number, patient: Ref, opts: TranslateOptions): void {
  const code = codeableConcept(al1.rep(3, 0));
  if (!code) {
    b.unmapped.push(`AL1[${i + 1}] (no AL1-3 allergen)`);
    return;
  }
  const a: AllergyIntolerance = {
    resourceType: 'AllergyIntolerance',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
    code,
    patient,
  };
  const category = lookup('0127', al1.text(2, 1));
  if (category) a.category = [category as NonNullable<AllergyIntolerance['category']>[number]];
  const criticality = lookup('0128', al1.text(4, 1));
  if (criticality) a.criticality = criticality as AllergyIntolerance['criticality'];
  const reactions = [];
  for (let r = 0; r < al1.count(5); r++) {
    const text = al1.text(5, 1, 1, r);
    if (text) reactions.push({ text });
  }
  if (reactions.length) a.reaction = [{ manifestation: reactions }];
  const onset = dateTime(al1.text(6), `AL1[${i + 1}]-6`, opts.timeZone);
  if (onset) a.onsetDateTime = onset;
  b.add(`al1-${i}`, a, { match: `patient=${patient.reference}&${codeMatch(code)}`, source: `AL1[${i + 1}]` });
}

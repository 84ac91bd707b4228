/**
 * @module translate/hl7v2/adt — ADT registration (A01, A04, A08, A28, A31) and merge (A40) messages to a plan, pure.
 *
 * After the HL7 v2-to-FHIR IG segment maps: PID (+PD1) → Patient, NK1 → RelatedPerson, PV1/PV2 → Encounter with
 * its Practitioners, AL1 → AllergyIntolerance, DG1 → Condition, IN1/IN2 → Coverage + payer Organization (the
 * entries other message types share are in ./entries.ts). Which field feeds which element is data, the field maps
 * of mappings/hl7v2/ (./fieldmap.ts); here is what needs logic: identifiers and matches, references, the status.
 * A40: the patient of PID-3 survives, takes the identifiers of MRG-1 and `replaces` the merged one, which becomes
 * inactive and `replaced-by` the survivor.
 */
import type { AllergyIntolerance, Encounter, Patient, Period, RelatedPerson } from '@medplum/fhirtypes';
import { GATEWAY_PROFILES } from '../../validate/profiles.ts';
import { contentError, each, humanName, identifier } from './datatypes.ts';
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
  roleOf,
  scoped,
  unmappedSegments,
  V2_0203,
  type TranslateOptions,
} from './entries.ts';
import { applyMap, feed, fieldMap, type Mapped } from './fieldmap.ts';
import type { Hl7v2Message, Segment } from './parse.ts';
import { byIdentifier, type Plan, type PlanBuilder, type Ref } from './plan.ts';

// The field maps of mappings/hl7v2/, read (and checked) when the gateway starts.
const RELATED_PERSON = fieldMap('related-person');
const ENCOUNTER = fieldMap('encounter');
const ALLERGY = fieldMap('allergy-intolerance');

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
    // The merged patient first, found by any MRG-1 identifier before the survivor takes them. When it is the
    // survivor itself (the merge sent again, or PID-3 and MRG-1 naming one patient) it is skipped, and the
    // survivor's link to it, a link to itself, is dropped when written (src/workflows/apply-plan.ts).
    b.add(
      mergedKey,
      { resourceType: 'Patient', active: false, link: [{ other: b.ref(survivorKey), type: 'replaced-by' }] } as Patient,
      { match: `${byIdentifier(...merged)}&active:not=false`, mode: 'update-existing', distinctFrom: survivorKey, profiles: [GATEWAY_PROFILES.Patient], source: 'MRG-1' }
    );
    const survivor = patientResource(b, pid, undefined, facility, opts);
    survivor.resource.identifier = dedupeIdentifiers([...(survivor.resource.identifier ?? []), ...merged]);
    survivor.resource.link = [{ other: b.ref(mergedKey), type: 'replaces' }];
    b.add(survivorKey, survivor.resource, { match: survivor.match, remove: survivor.remove, partial: survivor.partial, profiles: [GATEWAY_PROFILES.Patient], source: 'PID' });
    pairs++;
  });
  if (!pairs) throw contentError('The message has no PID segment', 'PID', '100');
  b.unmapped.unshift(...unmappedSegments(msg, new Set(['MSH', 'EVN', 'PID', 'PD1', 'MRG', 'PV1'])));
  return b.build();
}

/** NK1 → RelatedPerson (mappings/hl7v2/related-person.json), known by NK1-33/NK1-12, else by name and role. */
function relatedPerson(b: PlanBuilder, nk1: Segment, i: number, patient: Ref, opts: TranslateOptions): void {
  const ids = [...each(nk1, 33, identifier), ...each(nk1, 12, identifier)].filter((x) => x.system);
  if (!each(nk1, 2, humanName).length && !ids.length) {
    b.unmapped.push(`NK1[${i + 1}] (no NK1-2 name)`);
    return;
  }
  const m = applyMap(RELATED_PERSON, { NK1: nk1 }, () => `NK1[${i + 1}]`, opts) as Mapped;
  const rp = { resourceType: 'RelatedPerson', ...m.resource, patient, ...(ids.length ? { identifier: ids } : {}) } as RelatedPerson;
  const match = relatedMatch(patient, ids[0], rp.name?.[0]?.family, roleOf(rp));
  b.add(`nk1-${i}`, rp, { match, remove: m.remove, partial: m.partial, source: `NK1[${i + 1}]` });
}

/** The participant types of PV1's practitioners (v3 ParticipationType), each field one slice of Encounter.participant. */
const PARTICIPANTS = [[7, 'ATND'], [8, 'REF'], [9, 'CON'], [17, 'ADM']] as const;

/**
 * PV1 (+PV2) → Encounter (mappings/hl7v2/encounter.json), identified by the visit number PV1-19; a dummy PV1
 * (`PV1||N`) maps to nothing.
 */
function encounterEntry(b: PlanBuilder, msg: Hl7v2Message, patient: Ref, facility: string | undefined, opts: TranslateOptions): Ref | undefined {
  const pv1 = msg.first('PV1');
  if (!pv1) return undefined;
  const patientClass = pv1.text(2);
  const visit = scoped(pv1.rep(19, 0), facility);
  if (!visit) {
    if (patientClass && patientClass !== 'N') b.unmapped.push('PV1 (no PV1-19 visit number: no Encounter made)');
    return undefined;
  }
  const m = applyMap(ENCOUNTER, { PV1: pv1, PV2: msg.first('PV2') }, (s) => s, opts) as Mapped;
  const event = b.event.split('^')[1];
  // The status the event says (A01 admitted, A04 registered, a discharge time); an update (A08) keeps the stored one.
  const end = (m.resource.period as Period | undefined)?.end;
  const status: Encounter['status'] | undefined = end ? 'finished' : event === 'A01' ? 'in-progress' : event === 'A04' ? 'arrived' : undefined;
  for (const [n, code] of PARTICIPANTS) {
    const type = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code }] }];
    const individuals = each(pv1, n, (c) => practitioner(b, c, `PV1-${n}`, facility));
    feed(m, pv1, n, `participant[type.coding.code=${code}]`, individuals.map((individual) => ({ type, individual })));
  }
  const e = {
    resourceType: 'Encounter',
    identifier: [{ ...visit, type: { coding: [{ system: V2_0203, code: 'VN' }] } }],
    ...(status ? { status } : {}),
    ...m.resource,
    subject: patient,
  } as Encounter;
  return b.add('encounter', e, { match: byIdentifier(visit), remove: m.remove, partial: m.partial, source: 'PV1', defaults: { status: 'planned', ...m.defaults } });
}

/** AL1 → AllergyIntolerance (mappings/hl7v2/allergy-intolerance.json), known by the patient and the allergen. */
function allergy(b: PlanBuilder, al1: Segment, i: number, patient: Ref, opts: TranslateOptions): void {
  const m = applyMap(ALLERGY, { AL1: al1 }, () => `AL1[${i + 1}]`, opts);
  if (!m) {
    b.unmapped.push(`AL1[${i + 1}] (no AL1-3 allergen)`);
    return;
  }
  const a = { resourceType: 'AllergyIntolerance', ...m.resource, patient } as AllergyIntolerance;
  b.add(`al1-${i}`, a, { match: `patient=${patient.reference}&${codeMatch(a.code!)}`, remove: m.remove, partial: m.partial, source: `AL1[${i + 1}]` });
}

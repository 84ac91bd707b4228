/**
 * @module translate/hl7v2/siu — scheduling messages SIU^S12/S13/S14/S15/S17/S26 (structure SIU_S12) to a plan, pure.
 *
 * After the HL7 v2-to-FHIR IG `Message SIU_S12 to Bundle`, `Segment SCH to Appointment` and the AIS/AIG/AIL/AIP
 * maps: one Appointment per message, identified by the filler's id (SCH-2, else the placer's SCH-1), so a
 * reschedule (S13), a modification (S14), a cancellation (S15), a deletion (S17) or a no-show (S26) updates the
 * appointment the booking (S12) made. Placer and filler ids are EIs (EI-2 namespace, EI-3/4 universal id), scoped
 * to the sending facility without an authority. Status from the event, or from SCH-25 (table 0278) for S12/S13/S14,
 * and each participant's from its segment's filler status: the tables `SIU-event`, `0278`, `0278-participant` and
 * `duration-unit` of mappings/hl7v2/tables.json.
 * Start and end from TQ1-7/8 (v2.5+), else SCH-11.4/5 (legacy TQ), else the earliest resource start plus its
 * duration; offset-less times are read in the sender's time zone. Participants: the patient (PID), practitioners
 * (AIP-3, known by id), locations (AIL-3) and other resources (AIG-3, by name). Message-level NTEs → comment.
 */
import type { Appointment, Identifier, Location } from '@medplum/fhirtypes';
import { builderOf, condition, facilityOf, patientEntry, practitioner, unmappedSegments, V2_0203, type TranslateOptions } from './entries.ts';
import { addMinutes, codeableConcept, contentError, dateTime, type Comp } from './datatypes.ts';
import { entityId } from './entity-id.ts';
import { identifierSystem, lookup } from './mappings.ts';
import type { Hl7v2Message, Segment } from './parse.ts';
import { byIdentifier, type Plan, type PlanBuilder, type Ref } from './plan.ts';

const SIU_SEGMENTS = new Set(['MSH', 'SCH', 'TQ1', 'NTE', 'PID', 'PD1', 'DG1', 'RGS', 'AIS', 'AIG', 'AIL', 'AIP']);

export function schedulingPlan(msg: Hl7v2Message, opts: TranslateOptions): Plan {
  const b = builderOf(msg);
  const sch = msg.first('SCH');
  if (!sch) throw contentError('The message has no SCH segment', 'SCH', '100');
  const facility = facilityOf(msg);
  const trigger = b.event.split('^')[1] ?? '';

  // SCH-1/SCH-2 are EI (IG `Segment SCH to Appointment`: EI[Identifier-Extension]), not CX.
  const placer = entityId(sch.rep(1, 0), facility);
  const filler = entityId(sch.rep(2, 0), facility);
  if (!placer && !filler) throw contentError('SCH-1 and SCH-2 (placer and filler appointment ids) are both empty', 'SCH-2', '101');
  const identifiers = [
    ...(filler ? [{ ...filler, type: { coding: [{ system: V2_0203, code: 'FILL' }] } }] : []),
    ...(placer ? [{ ...placer, type: { coding: [{ system: V2_0203, code: 'PLAC' }] } }] : []),
  ];

  const pid = msg.first('PID');
  const patient = pid ? patientEntry(b, 'patient', pid, msg.first('PD1'), facility, opts) : undefined;

  const status = (lookup('SIU-event', trigger) ?? lookup('0278', sch.text(25, 1))) as Appointment['status'] | undefined;
  const a = { resourceType: 'Appointment', identifier: identifiers, ...(status ? { status } : {}) } as Appointment;
  const { start, end } = timing(msg, sch, opts);
  if (start && end) {
    a.start = start;
    a.end = end;
  } else if (status !== 'cancelled' && status !== 'entered-in-error' && status !== 'noshow' && status !== 'pending' && status !== 'waitlist') {
    throw contentError('The appointment has no start and end (TQ1-7/8, SCH-11, or AIS-4 with a duration)', 'TQ1-7', '101');
  }
  const minutes = start && end ? Math.round((Date.parse(end) - Date.parse(start)) / 60_000) : durationMinutes(sch.text(9), sch.text(10, 1));
  if (minutes !== undefined) a.minutesDuration = minutes;
  const reason = codeableConcept(sch.rep(7, 0));
  if (reason) a.reasonCode = [reason];
  const type = codeableConcept(sch.rep(8, 0), 'http://terminology.hl7.org/CodeSystem/v2-0277');
  if (type) a.appointmentType = type;
  if (status === 'cancelled') {
    const why = codeableConcept(sch.rep(6, 0));
    if (why) a.cancelationReason = why;
  }
  const services = msg.all('AIS').map((ais) => codeableConcept(ais.rep(3, 0))).filter((c) => c !== undefined);
  if (services.length) a.serviceType = services;
  const comment = notesAfter(msg, 'SCH');
  if (comment) a.comment = comment;

  const participant: NonNullable<Appointment['participant']> = [];
  if (patient) participant.push({ actor: patient, status: 'accepted' });
  for (const aip of msg.all('AIP')) {
    const actor = practitioner(b, aip.rep(3, 0), 'AIP-3', facility);
    if (actor) participant.push(withType({ actor, status: participantStatus(aip.text(12, 1)) }, aip.rep(4, 0)));
  }
  for (const ail of msg.all('AIL')) {
    const actor = location(b, ail.rep(3, 0), facility);
    if (actor) participant.push(withType({ actor, status: participantStatus(ail.text(12, 1)) }, ail.rep(4, 0)));
  }
  for (const aig of msg.all('AIG')) {
    const name = aig.text(3, 2) ?? aig.text(3, 1);
    if (name) participant.push(withType({ actor: { display: name }, status: participantStatus(aig.text(14, 1)) }, aig.rep(4, 0)));
  }
  if (!participant.length) throw contentError('The appointment has no participant (PID, AIP, AIL or AIG)', 'AIP', '101');
  a.participant = participant;

  const reasons: Ref[] = [];
  msg.all('DG1').forEach((dg1, i) => {
    if (!patient) return;
    const before = b.entries.length;
    condition(b, dg1, i, patient, undefined, opts);
    const added = b.entries[before];
    if (added) reasons.push(b.ref(added.key));
  });
  if (reasons.length) a.reasonReference = reasons;

  // Either id finds it: the placer's booking answered by the filler's message that adds its own id.
  const match = byIdentifier(...[filler, placer].filter((i): i is Identifier => !!i?.system));
  // A cancellation reason belongs to a cancelled (or missed) appointment only (app-4): a later status drops it.
  const remove = status && status !== 'cancelled' && status !== 'noshow' ? ['cancelationReason'] : [];
  b.add('appointment', a, { match, remove, source: 'SCH', defaults: { status: 'booked' } });
  b.unmapped.unshift(...unmappedSegments(msg, SIU_SEGMENTS));
  return b.build();
}

/** TQ1-7/8, else SCH-11.4/5, else the earliest AIS/AIL/AIP start with its duration (AIS-7 + AIS-8 units). */
function timing(msg: Hl7v2Message, sch: Segment, opts: TranslateOptions): { start?: string; end?: string } {
  const tq1 = msg.first('TQ1');
  let start = dateTime(tq1?.text(7), 'TQ1-7', opts.timeZone) ?? dateTime(sch.text(11, 4), 'SCH-11.4', opts.timeZone);
  let end = dateTime(tq1?.text(8), 'TQ1-8', opts.timeZone) ?? dateTime(sch.text(11, 5), 'SCH-11.5', opts.timeZone);
  if (!start) {
    // Resource segments: AIS-4 start, AIS-7 duration, AIS-8 units; AIL/AIP-6 start, -9 duration, -10 units.
    const slots = [
      ...msg.all('AIS').map((s) => ({ at: s.text(4), dur: s.text(7), unit: s.text(8, 1), where: 'AIS-4' })),
      ...msg.all('AIL').map((s) => ({ at: s.text(6), dur: s.text(9), unit: s.text(10, 1), where: 'AIL-6' })),
      ...msg.all('AIP').map((s) => ({ at: s.text(6), dur: s.text(9), unit: s.text(10, 1), where: 'AIP-6' })),
    ]
      .map((s) => ({ ...s, start: dateTime(s.at, s.where, opts.timeZone) }))
      .filter((s) => s.start?.includes('T'))
      .sort((x, y) => Date.parse(x.start as string) - Date.parse(y.start as string));
    const first = slots[0];
    if (first) {
      start = first.start;
      const minutes = durationMinutes(first.dur, first.unit) ?? durationMinutes(sch.text(9), sch.text(10, 1));
      if (minutes !== undefined && start) end = addMinutes(start, minutes);
    }
  }
  if (start && !start.includes('T')) start = dateTime(`${start.replaceAll('-', '')}0000`, 'TQ1-7', opts.timeZone);
  if (end && !end.includes('T')) end = dateTime(`${end.replaceAll('-', '')}2359`, 'TQ1-8', opts.timeZone);
  if (start && !end) {
    const minutes = durationMinutes(sch.text(9), sch.text(10, 1));
    if (minutes !== undefined) end = addMinutes(start, minutes);
  }
  if (start && end && Date.parse(end) < Date.parse(start)) throw contentError(`The appointment ends (${end}) before it starts (${start})`, 'TQ1-8', '102');
  return { start, end };
}

/** A duration in minutes from a quantity and its unit (table `duration-unit`; minutes when none); undefined when unknown. */
function durationMinutes(value: string | undefined, unit: string | undefined): number | undefined {
  const n = Number(value);
  if (!value || !Number.isFinite(n) || n < 0) return undefined;
  const seconds = Number(lookup('duration-unit', (unit ?? 'min').toLowerCase()));
  return seconds ? Math.round((n * seconds) / 60) : undefined;
}

type ParticipantStatus = NonNullable<Appointment['participant']>[number]['status'];

/** Participant status from the filler status code of a resource segment (table `0278-participant`), else accepted. */
function participantStatus(code: string | undefined): ParticipantStatus {
  return (lookup('0278-participant', code) as ParticipantStatus | undefined) ?? 'accepted';
}

function withType<T extends { actor: Ref; status: string }>(p: T, c: Comp): T & { type?: { coding?: { system?: string; code?: string }[]; text?: string }[] } {
  const type = codeableConcept(c);
  return type ? { ...p, type: [type] } : p;
}

/** AIL-3 (PL) → a Location known by the sending facility's name for it: point of care, room, bed, facility. */
function location(b: PlanBuilder, c: Comp, facility: string | undefined): Ref | undefined {
  const parts = [c(1), c(2), c(3), c(4)];
  // A PL sent with sub-components in its first component (`11&X-Ray Room&L`): id & name & type.
  const sub = c(1, 2);
  const name = (sub ? [sub] : parts).filter(Boolean).join(' ');
  if (!name) return undefined;
  const value = (sub ? [c(1, 1)] : parts).map((p) => p ?? '').join('/').replace(/\/+$/, '');
  const system = `${identifierSystem(c(4) ?? facility ?? 'local')}:location`;
  const loc: Location = { resourceType: 'Location', status: 'active', name, identifier: [{ system, value }], mode: 'instance' };
  return b.add(`location|${system}|${value}`, loc, { match: byIdentifier({ system, value }), mode: 'ensure', source: 'AIL-3' });
}

/** The text of the NTE segments right after the first `after` segment, one line each. */
function notesAfter(msg: Hl7v2Message, after: string): string | undefined {
  const at = msg.segments.findIndex((s) => s.name === after);
  const lines: string[] = [];
  for (const s of msg.segments.slice(at + 1)) {
    if (s.name === 'TQ1') continue;
    if (s.name !== 'NTE') break;
    const text = s.text(3);
    if (text) lines.push(text);
  }
  return lines.length ? lines.join('\n') : undefined;
}

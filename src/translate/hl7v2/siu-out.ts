/**
 * @module translate/hl7v2/siu-out — an Appointment as SIU^S12 (booked), S13 (rescheduled), S14 (changed), S15
 * (cancelled) or S17 (deleted: entered in error), structure SIU_S12, pure: the inverse of the inbound ./siu.ts,
 * which reads every field written here back into the same Appointment.
 *
 * SCH-1 the appointment's placer identifier (EI: its PLAC identifier, else its id in `urn:frontdesk:appointment`),
 * SCH-2 its filler identifier when it has one, SCH-6 the cancellation reason, SCH-7 reason, SCH-8 type, SCH-9/10
 * duration in minutes, SCH-11 (legacy TQ) and TQ1-7/8 start and end, SCH-25 status (table 0278 backwards), SCH-26
 * the referral it is for (RF1-6 of the REF, ./referral-id.ts); NTE the comment; PID; AIS the service type; AIL each
 * location (PL, by name) and AIP each practitioner (XCN), in the order of SIU_S12's resource group.
 */
import type { Appointment, Identifier, Location, Patient, Practitioner } from '@medplum/fhirtypes';
import { authority, cwe, dtm, ei, xpn } from './datatypes-out.ts';
import type { Field, OutSegment, Repetition } from './encode.ts';
import { reverseLookup } from './mappings.ts';
import { mshSegment, pidSegment, segmentOf, type Envelope } from './out-segments.ts';

export const OWN_APPOINTMENT_SYSTEM = 'urn:frontdesk:appointment';

export type AppointmentOut = {
  event: 'S12' | 'S13' | 'S14' | 'S15' | 'S17';
  appointment: Appointment;
  patient?: Patient;
  practitioners: Practitioner[];
  locations: Location[];
  /** SCH-26: the referral the appointment is for. */
  referralId?: Identifier;
};

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

export function appointmentMessage(env: Envelope, o: AppointmentOut): OutSegment[] {
  const a = o.appointment;
  const segments = [mshSegment(env, ['SIU', o.event, 'SIU_S12']), sch(o)];
  const timing = new Map<number, Field>([[1, [['1']]]]);
  if (a.start) timing.set(7, [[dtm(a.start)]]);
  if (a.end) timing.set(8, [[dtm(a.end)]]);
  segments.push(segmentOf('TQ1', timing));
  for (const line of a.comment?.split('\n') ?? []) segments.push(segmentOf('NTE', new Map([[3, [[line]]]])));
  if (o.patient) segments.push(pidSegment(o.patient));
  segments.push(segmentOf('RGS', new Map([[1, [['1']]]])));
  (a.serviceType ?? []).forEach((s, i) =>
    segments.push(
      segmentOf(
        'AIS',
        new Map([
          [1, [[String(i + 1)]]],
          [3, [cwe(s) as Repetition]],
        ])
      )
    )
  );
  o.locations.forEach((l, i) => {
    if (l.name)
      segments.push(
        segmentOf(
          'AIL',
          new Map([
            [1, [[String(i + 1)]]],
            [3, [[l.name]]],
          ])
        )
      );
  });
  o.practitioners.forEach((p, i) => {
    const id = p.identifier?.find((x) => x.value);
    const name = p.name?.[0] ? xpn(p.name[0]) : [];
    const xcn: Repetition = [id?.value, ...name.slice(0, 6), undefined, id ? authority(id.system) : undefined];
    segments.push(
      segmentOf(
        'AIP',
        new Map([
          [1, [[String(i + 1)]]],
          [3, [xcn]],
        ])
      )
    );
  });
  return segments;
}

function sch(o: AppointmentOut): OutSegment {
  const a = o.appointment;
  const typed = (code: string) =>
    a.identifier?.find((i) => i.value && i.type?.coding?.some((k) => k.system === V2_0203 && k.code === code));
  const placer = typed('PLAC') ?? { system: OWN_APPOINTMENT_SYSTEM, value: a.id };
  const f = new Map<number, Field>([[1, [ei(placer) as Repetition]]]);
  const filler = typed('FILL');
  if (filler) f.set(2, [ei(filler) as Repetition]);
  const set = (n: number, r: Repetition | undefined) => r && f.set(n, [r]);
  if (a.status === 'cancelled') set(6, cwe(a.cancelationReason));
  set(7, cwe(a.reasonCode?.[0]));
  set(8, cwe(a.appointmentType));
  if (a.minutesDuration !== undefined) {
    f.set(9, [[String(a.minutesDuration)]]);
    f.set(10, [['min']]);
  }
  if (a.start && a.end) f.set(11, [[undefined, undefined, undefined, dtm(a.start), dtm(a.end)]]);
  const status = reverseLookup('0278', a.status);
  if (status) f.set(25, [[status]]);
  if (o.referralId) set(26, ei(o.referralId));
  return segmentOf('SCH', f);
}

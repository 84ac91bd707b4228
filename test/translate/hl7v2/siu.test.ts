/**
 * Scheduling (issue 5 point 3), on the pure translation: SIU samples (FHIR-Converter, MIT) edited field by field
 * become an Appointment known by its EI placer/filler ids, with the status and participant statuses the tables of
 * mappings/hl7v2/tables.json give. Offset-less times are read in America/Chicago.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Appointment } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { decodeHl7 } from '../../../src/translate/hl7v2/charset.ts';
import { Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';
import type { Plan, PlanEntry } from '../../../src/translate/hl7v2/plan.ts';
import { schedulingPlan } from '../../../src/translate/hl7v2/siu.ts';
import { setField } from '../../helpers/hl7.ts';

const OPTS = { timeZone: 'America/Chicago' };
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

const set = setField;

/** SIU-S12-01 (MSH-4 GHHSFacility) with edits: `edit(segment)` returns the segment, a changed one, or null to drop it. */
function plan(edit: (segment: string) => string | null = (s) => s): Plan {
  const text = decodeHl7(readFileSync(join(import.meta.dirname, '../../fixtures/hl7v2/SIU-S12-01.hl7'))).text;
  const segments = text.split(/\r\n|\r|\n/).filter(Boolean).map(edit).filter((s): s is string => s !== null);
  return schedulingPlan(new Hl7v2Message(segments.join('\r')), OPTS);
}
const on = (name: string, change: (s: string) => string | null) => (s: string) => (s.startsWith(`${name}|`) ? change(s) : s);
const event = (trigger: string, more: (s: string) => string | null = (s) => s) => (s: string) =>
  s.startsWith('MSH|') ? set(s, 9, `SIU^${trigger}^SIU_S12`) : more(s);
const appointmentEntry = (p: Plan): PlanEntry => p.entries.find((e) => e.key === 'appointment') ?? expect.fail('no appointment');
const appointment = (p: Plan) => appointmentEntry(p).resource as Appointment;

describe('SCH-1/SCH-2 placer and filler appointment ids (EI)', () => {
  it('takes the system from EI-2 when it names another namespace than the sending facility (MSH-4)', () => {
    const p = plan(on('SCH', (s) => set(s, 2, 'F123^OTHERSYS')));
    expect(appointment(p).identifier?.[0]).toEqual({ system: 'urn:frontdesk:id:OTHERSYS', value: 'F123', type: { coding: [{ system: V2_0203, code: 'FILL' }] } });
    // Found by either id: the filler's, or the placer's (a booking the filler answers with its own id added).
    expect(appointmentEntry(p).match).toBe('identifier=urn%3Afrontdesk%3Aid%3AOTHERSYS|F123,urn%3Afrontdesk%3Aid%3AGHHSFacility|12345');
  });

  it('takes an ISO universal id (EI-3/EI-4) as urn:oid:', () => {
    const p = plan(on('SCH', (s) => set(set(s, 1, 'P77^PLACERAPP^1.2.3^ISO'), 2, '')));
    expect(appointment(p).identifier).toEqual([{ system: 'urn:oid:1.2.3', value: 'P77', type: { coding: [{ system: V2_0203, code: 'PLAC' }] } }]);
    expect(appointmentEntry(p).match).toBe('identifier=urn%3Aoid%3A1.2.3|P77');
  });

  it('scopes an id without authority to the sending facility', () => {
    const p = plan();
    expect(appointment(p).identifier?.map((i) => `${i.system}|${i.value}`)).toEqual(['urn:frontdesk:id:GHHSFacility|36996', 'urn:frontdesk:id:GHHSFacility|12345']);
  });
});

describe('Appointment.status (tables SIU-event and 0278)', () => {
  it.each([
    ['S12', 'Booked', 'booked'],
    ['S14', 'Pending', 'pending'],
    ['S13', 'Waitlist', 'waitlist'],
    ['S15', 'Booked', 'cancelled'],
    ['S17', 'Booked', 'entered-in-error'],
    ['S26', 'Booked', 'noshow'],
  ])('SIU^%s with SCH-25 %s → %s', (trigger, filler, status) => {
    expect(appointment(plan(event(trigger, on('SCH', (s) => set(s, 25, filler))))).status).toBe(status);
  });

  it('without SCH-25, leaves the status to the default booked (set only when the appointment is created)', () => {
    const p = plan(on('SCH', (s) => set(s, 25, '')));
    expect(appointment(p).status).toBeUndefined();
    expect(appointmentEntry(p).defaults).toEqual({ status: 'booked' });
  });
});

describe('participants and times from the resource segments', () => {
  it('maps each resource segment’s filler status (table 0278-participant), accepted when not listed', () => {
    const p = plan((s) => (s.startsWith('AIP|') ? set(s, 12, 'Cancelled') : s.startsWith('AIL|') ? set(s, 12, 'Waitlist') : s.startsWith('AIG|') ? set(s, 14, 'Noshow') : s));
    const statuses = appointment(p).participant?.map((x) => [p.entries.find((e) => e.fullUrl === x.actor?.reference)?.resource.resourceType ?? x.actor?.display, x.status]);
    expect(statuses).toEqual([
      ['Patient', 'accepted'],
      ['Practitioner', 'declined'],
      ['Location', 'tentative'],
      ['EVIS X12 Video Colonoscope', 'declined'],
    ]);
  });

  it('without TQ1 and SCH-11, starts at the earliest AIS/AIL/AIP start and lasts its duration (table duration-unit)', () => {
    const p = plan((s) =>
      s.startsWith('TQ1|') ? null
      : s.startsWith('SCH|') ? set(s, 11, '')
      : s.startsWith('AIS|') ? set(set(set(s, 4, '202603091400'), 7, '1.5'), 8, 'h^Hours^ISO')
      : s.startsWith('AIL|') || s.startsWith('AIP|') ? set(s, 6, '202603091430')
      : s);
    // 9 March 2026 is after the US switch to daylight saving time: Chicago is UTC-5.
    expect(appointment(p)).toMatchObject({ start: '2026-03-09T14:00:00-05:00', end: '2026-03-09T15:30:00-05:00', minutesDuration: 90 });
  });
});

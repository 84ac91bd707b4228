import { Hl7Message } from '@medplum/core';
import type { Appointment } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../../src/translate/hl7v2/encode.ts';
import { Hl7v2Message } from '../../../src/translate/hl7v2/parse.ts';
import { schedulingPlan } from '../../../src/translate/hl7v2/siu.ts';
import { appointmentMessage, type AppointmentOut } from '../../../src/translate/hl7v2/siu-out.ts';
import { NPI, referralFixture } from '../../helpers/referral-fixtures.ts';

const ENV = {
  sender: { application: 'FRONTDESK', facility: 'NORTHCLINIC' },
  receiver: { application: 'CARDIOAPP', facility: 'CARDIO' },
  controlId: 'SIUOUT1',
  at: '2026-12-04T10:00:00-06:00',
};

const appointment: Appointment = {
  resourceType: 'Appointment',
  id: 'appt-1',
  status: 'booked',
  start: '2026-12-15T09:00:00-06:00',
  end: '2026-12-15T09:30:00-06:00',
  minutesDuration: 30,
  reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '29857009', display: 'Chest pain' }] }],
  appointmentType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0276', code: 'FOLLOWUP' }] },
  serviceType: [{ coding: [{ system: 'urn:frontdesk:cs:CARDIO', code: 'CONSULT', display: 'Cardiology consult' }] }],
  comment: 'Bring prior ECGs.\nArrive 15 minutes early.',
  participant: [
    { actor: { reference: 'Patient/pat-1' }, status: 'accepted' },
    { actor: { reference: 'Practitioner/doc-2' }, status: 'accepted' },
    { actor: { reference: 'Location/loc-1' }, status: 'accepted' },
  ],
};

function out(event: AppointmentOut['event'], a: Appointment = appointment): AppointmentOut {
  const f = referralFixture();
  return {
    event,
    appointment: a,
    patient: f.patient,
    practitioners: [f.specialist],
    locations: [{ resourceType: 'Location', id: 'loc-1', name: 'Cardiology Suite 2' }],
    referralId: { system: 'urn:frontdesk:referral', value: 'sr-1' },
  };
}

const read = (o: AppointmentOut) => {
  const text = encodeMessage(appointmentMessage(ENV, o));
  const plan = schedulingPlan(new Hl7v2Message(text), { timeZone: 'America/Chicago' });
  const of = (type: string) =>
    plan.entries.filter((e) => e.resource.resourceType === type).map((e) => e.resource as any);
  return { text, plan, of };
};

describe('SIU out (FHIR → SIU → the gateway’s own inbound translation → FHIR)', () => {
  it('S12 keeps the appointment: ids, times, duration, reason, type, service, comment, participants', () => {
    const { of, plan } = read(out('S12'));
    const [a] = of('Appointment');
    expect(a.identifier).toContainEqual(
      expect.objectContaining({ system: 'urn:frontdesk:appointment', value: 'appt-1' })
    );
    expect(a.status).toBe('booked');
    expect([a.start, a.end, a.minutesDuration]).toEqual(['2026-12-15T09:00:00-06:00', '2026-12-15T09:30:00-06:00', 30]);
    expect(a.reasonCode[0].coding[0]).toMatchObject({
      system: 'http://snomed.info/sct',
      code: '29857009',
      display: 'Chest pain',
    });
    expect(a.appointmentType.coding[0]).toMatchObject({ code: 'FOLLOWUP' });
    expect(a.serviceType[0].coding[0]).toMatchObject({ system: 'urn:frontdesk:cs:CARDIO', code: 'CONSULT' });
    expect(a.comment).toBe('Bring prior ECGs.\nArrive 15 minutes early.');
    const [doc] = of('Practitioner');
    expect(doc.identifier[0]).toMatchObject({ system: NPI, value: '1098765432' });
    expect(doc.name[0]).toMatchObject({ family: 'Hopper', given: ['Grace'] });
    expect(of('Location')[0].name).toBe('Cardiology Suite 2');
    expect(of('Patient')[0].name[0].family).toBe("O'Hara|Quinn");
    expect(plan.unmapped).toEqual([]);
  });

  it('names the referral in SCH-26 and is read by @medplum/core Hl7Message', () => {
    const m = Hl7Message.parse(read(out('S12')).text.trim());
    expect(m.getSegment('MSH')?.getField(9)?.toString()).toBe('SIU^S12^SIU_S12');
    expect(m.getSegment('SCH')?.getField(26)?.toString()).toBe('sr-1^^urn:frontdesk:referral^URI');
    expect(m.getSegment('TQ1')?.getField(7)?.toString()).toBe('20261215090000-0600');
  });

  it('S13 moves it; S15 cancels it with the reason', () => {
    const moved = { ...appointment, start: '2026-12-16T14:00:00-06:00', end: '2026-12-16T14:30:00-06:00' };
    expect(read(out('S13', moved)).of('Appointment')[0].start).toBe('2026-12-16T14:00:00-06:00');
    const cancelled: Appointment = {
      ...appointment,
      status: 'cancelled',
      cancelationReason: { text: 'Patient request' },
    };
    const [a] = read(out('S15', cancelled)).of('Appointment');
    expect(a.status).toBe('cancelled');
    expect(a.cancelationReason).toEqual({ text: 'Patient request' });
  });
});

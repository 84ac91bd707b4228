/**
 * @module workflows/appointment-out — appointment news for partner offices (issue #14 point 3), called by the
 * store's change hook inside the transaction that changed the Appointment.
 *
 * An Appointment `basedOn` a referral that reaches a partner (its performer), or with a participant (Practitioner,
 * PractitionerRole, or a Location whose managing Organization) that reaches one, sends SIU^S12 when it is booked,
 * S13 when its start or end moved, S15 when it is cancelled, S14 for any other change a partner would read (the
 * message after MSH differs from the last one sent). Never back to the office the change came from (an SIU of
 * theirs being applied).
 */
import type { Appointment, Location, Patient, Practitioner, Reference, ServiceRequest } from '@medplum/fhirtypes';
import type { Change } from '../store/changes.ts';
import type { Repository } from '../store/repository.ts';
import { appointmentMessage, type AppointmentOut } from '../translate/hl7v2/siu-out.ts';
import { everSent, queue, reach, readOrNothing, saysSomethingNew, type OutboundContext, type Outgoing } from './outbound-hl7.ts';
import { isReferral, sentReferralId } from './referral-out.ts';

const SIU_TYPES = ['SIU^S12', 'SIU^S13', 'SIU^S14', 'SIU^S15'];
const QUIET = new Set(['proposed', 'waitlist', 'entered-in-error']);

export async function appointmentChanged(tx: Repository, ctx: OutboundContext, c: Change): Promise<void> {
  const a = c.after as Appointment | undefined;
  const before = c.before as Appointment | undefined;
  if (!a || QUIET.has(a.status)) return;
  const referral = await referralOf(tx, a);
  const participants = (a.participant ?? []).map((p) => p.actor);
  const locations = await Promise.all(participants.filter(isType('Location')).map((r) => readOrNothing<Location>(tx, r?.reference as string)));
  const targets = await reach(
    tx,
    [...(referral?.performer ?? []), ...participants.filter((r) => !isType('Location')(r) && !isType('Patient')(r)), ...locations.map((l) => l?.managingOrganization)],
    tx.origin
  );
  if (!targets.length) return;
  const event = eventOf(before, a);
  if (!event) return;
  const out: AppointmentOut = {
    event,
    appointment: a,
    patient: await readOrNothing<Patient>(tx, participants.find(isType('Patient'))?.reference ?? ''),
    practitioners: (await Promise.all(participants.filter(isType('Practitioner')).map((r) => readOrNothing<Practitioner>(tx, r?.reference as string))))
      .filter((p): p is Practitioner => !!p),
    locations: locations.filter((l): l is Location => !!l),
    ...(referral ? { referralId: await sentReferralId(tx, referral) } : {}),
  };
  const related = `Appointment/${a.id}`;
  for (const to of targets) {
    // A first message to this office books (whatever the change); after that, one only when it says something new.
    const first = !(await everSent(tx, related, to.destination, SIU_TYPES));
    const e = first ? (a.status === 'cancelled' ? undefined : 'S12') : event;
    if (!e) continue;
    const msg = { ...out, event: e };
    const m: Outgoing = { to, type: ['SIU', e, 'SIU_S12'], build: (env) => appointmentMessage(env, msg), related };
    if (!first && !(await saysSomethingNew(tx, ctx, m, SIU_TYPES))) continue;
    await queue(tx, ctx, m);
  }
}

function eventOf(before: Appointment | undefined, a: Appointment): AppointmentOut['event'] | undefined {
  if (a.status === 'cancelled') return before?.status === 'cancelled' ? undefined : 'S15';
  if (!before || before.status === 'cancelled' || QUIET.has(before.status)) return 'S12';
  if (before.start !== a.start || before.end !== a.end) return 'S13';
  return 'S14';
}

/** The referral (a ServiceRequest in the referral category) the appointment is `basedOn`. */
async function referralOf(tx: Repository, a: Appointment): Promise<ServiceRequest | undefined> {
  for (const ref of a.basedOn ?? []) {
    if (!ref.reference?.startsWith('ServiceRequest/')) continue;
    const sr = await readOrNothing<ServiceRequest>(tx, ref.reference);
    if (isReferral(sr)) return sr;
  }
  return undefined;
}

function isType(type: string) {
  return (r: Reference | undefined): boolean => !!r?.reference?.startsWith(`${type}/`);
}

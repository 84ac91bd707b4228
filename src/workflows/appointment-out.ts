/**
 * @module workflows/appointment-out — appointment news for partner offices (issue #14 point 3), called by the
 * store's change hook inside the transaction that changed the Appointment.
 *
 * An Appointment for offices — those a referral it is `basedOn` went to (and still have it), and those its
 * practitioners, practitioner roles and locations (through their managing Organization) reach — is sent to each as
 * what the office has been sent so far calls for: SIU^S12 when it does not have it yet, S13 when it moved, S14 for
 * another change it would read (the message after MSH differs from the last one), S15 when it is cancelled, deleted
 * or no longer the office's, S17 when entered in error. Never back to the office the change came from (an SIU of
 * theirs being applied); a dead letter counts as not sent.
 */
import type {
  Appointment,
  Location,
  Patient,
  Practitioner,
  Reference,
  Resource,
  ServiceRequest,
} from '@medplum/fhirtypes';
import type { Change } from '../store/changes.ts';
import type { Repository } from '../store/repository.ts';
import { appointmentMessage, type AppointmentOut } from '../translate/hl7v2/siu-out.ts';
import {
  lastLive,
  notFromOrigin,
  queue,
  reach,
  readOrNothing,
  saysSomethingNew,
  type OutboundContext,
  type Outgoing,
  type Reached,
} from './outbound-hl7.ts';
import { isReferral, REF_TYPES, sentReferralId } from './referral-out.ts';

const SIU_TYPES = ['SIU^S12', 'SIU^S13', 'SIU^S14', 'SIU^S15', 'SIU^S17'];
const OPEN = new Set(['SIU^S12', 'SIU^S13', 'SIU^S14']);
/** Not (or no longer) an appointment an office keeps. */
const GONE = new Set(['proposed', 'waitlist', 'cancelled', 'entered-in-error']);

export async function appointmentChanged(tx: Repository, ctx: OutboundContext, c: Change): Promise<void> {
  const after = c.after as Appointment | undefined;
  const before = c.before as Appointment | undefined;
  const a = after ?? ({ ...before, status: 'cancelled' } as Appointment);
  if (!a.id) return;
  const skip = notFromOrigin(ctx, tx.origin);
  const now = after && !GONE.has(after.status) ? await officesOf(tx, after, skip) : [];
  const earlier = before ? await officesOf(tx, before, skip) : [];
  const offices = [...new Map([...now, ...earlier].map((r) => [r.destination, r])).values()];
  offices.sort((x, y) => x.destination.localeCompare(y.destination));
  const related = `Appointment/${a.id}`;
  let out: Omit<AppointmentOut, 'event'> | undefined;
  for (const to of offices) {
    const open = OPEN.has((await lastLive(tx, related, to.destination, SIU_TYPES)) ?? '');
    const event = eventOf(
      open,
      now.some((r) => r.destination === to.destination),
      before,
      a
    );
    if (!event) continue;
    out ??= await gather(tx, a);
    const msg: AppointmentOut = { ...out, event };
    const m: Outgoing = { to, type: ['SIU', event, 'SIU_S12'], build: (env) => appointmentMessage(env, msg), related };
    if ((event === 'S13' || event === 'S14') && !(await saysSomethingNew(tx, ctx, m, SIU_TYPES))) continue;
    await queue(tx, ctx, m);
  }
}

/**
 * An office that does not have the appointment is sent S12; one that has it, S13 when it moved, S14 for another
 * change, S15 when it is cancelled, deleted or no longer the office's, S17 when it was entered in error.
 */
function eventOf(
  open: boolean,
  wanted: boolean,
  before: Appointment | undefined,
  a: Appointment
): AppointmentOut['event'] | undefined {
  if (!open) return wanted ? 'S12' : undefined;
  if (!wanted) return a.status === 'entered-in-error' ? 'S17' : 'S15';
  return before && (before.start !== a.start || before.end !== a.end) ? 'S13' : 'S14';
}

/**
 * The offices an appointment is for: those a referral it is `basedOn` went to (and still has), and those its
 * practitioners, practitioner roles and locations (their managing Organization) reach.
 */
async function officesOf(tx: Repository, a: Appointment, skip: (r: Reached) => boolean): Promise<Reached[]> {
  const actors = (a.participant ?? []).map((p) => p.actor).filter((r) => !isType('Patient')(r));
  const locations = await Promise.all(
    actors.filter(isType('Location')).map((r) => readOrNothing<Location>(tx, r?.reference as string))
  );
  const direct = await reach(
    tx,
    [...actors.filter((r) => !isType('Location')(r)), ...locations.map((l) => l?.managingOrganization)],
    skip
  );
  const referral = await referralOf(tx, a);
  const referred = referral ? await reach(tx, referral.performer ?? [], skip) : [];
  const related = `ServiceRequest/${referral?.id}`;
  const holding = [];
  for (const r of referred)
    if (['REF^I12', 'REF^I13'].includes((await lastLive(tx, related, r.destination, REF_TYPES)) ?? '')) holding.push(r);
  return [...direct, ...holding];
}

async function gather(tx: Repository, a: Appointment): Promise<Omit<AppointmentOut, 'event'>> {
  const actors = (a.participant ?? []).map((p) => p.actor);
  const read = <T>(type: string) =>
    Promise.all(actors.filter(isType(type)).map((r) => readOrNothing<T & Resource>(tx, r?.reference as string)));
  const referral = await referralOf(tx, a);
  return {
    appointment: a,
    patient: (await read<Patient>('Patient'))[0],
    practitioners: (await read<Practitioner>('Practitioner')).filter((p): p is Practitioner => !!p),
    locations: (await read<Location>('Location')).filter((l): l is Location => !!l),
    ...(referral ? { referralId: await sentReferralId(tx, referral) } : {}),
  };
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

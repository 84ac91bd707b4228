/**
 * @module workflows/referral-loop — what the specialist's messages do to a referral the gateway sent, beyond their
 * translation (src/translate/hl7v2/ref.ts, siu.ts):
 * - an RRI^I12 that leaves RF1-6 empty answers the referral whose REF its MSA-2 names (that REF's MSH-10);
 * - an SIU naming the referral in SCH-26 (placer order number, the REF's RF1-6) books it: the Appointment gets
 *   `basedOn` the ServiceRequest and the Task becomes `in-progress`. An SCH-26 naming no referral known here is
 *   reported among the unmapped fields, never an error: partners also use it for orders of their own.
 */
import { parseSearchRequest } from '@medplum/core';
import type { Appointment, Identifier, ServiceRequest } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { entityId } from '../translate/hl7v2/entity-id.ts';
import type { Hl7v2Message } from '../translate/hl7v2/parse.ts';
import { referralMatch } from '../translate/hl7v2/referral-id.ts';
import type { Hl7Applied } from './receive-hl7v2.ts';
import { isReferral, sentReferralId } from './referral-out.ts';
import { updateTask } from './referral-task.ts';
import { readOrNothing } from './outbound-hl7.ts';
import { referralSentAs } from '../store/sent.ts';

const OPEN = new Set(['requested', 'received', 'accepted', 'ready']);

/**
 * The referral an RRI answers by MSA-2, when its RF1-6 is empty: a REF the gateway sent to the RRI's sender (its
 * partner, or the MSH-5/MSH-6 it was sent to being the RRI's MSH-3/MSH-4).
 */
export async function answeredByAck(
  repo: Repository,
  msg: Hl7v2Message,
  partner?: string
): Promise<Identifier | undefined> {
  if (msg.first('RF1')?.text(6, 1)) return undefined;
  const control = msg.first('MSA')?.text(2);
  const msh = msg.first('MSH');
  if (!control) return undefined;
  const sender = `${msh?.text(3) ?? ''}^${msh?.text(4) ?? ''}`;
  const subject = await referralSentAs(repo.sql, control, sender, partner);
  const sr = subject ? await readOrNothing<ServiceRequest>(repo, subject) : undefined;
  return sr ? sentReferralId(repo, sr) : undefined;
}

/** After an SIU's plan is applied, in its transaction: the appointment linked to the referral SCH-26 names. */
export async function linkAppointment(tx: Repository, msg: Hl7v2Message, applied: Hl7Applied): Promise<void> {
  const sch = msg.first('SCH');
  const msh = msg.first('MSH');
  const named = sch ? entityId(sch.rep(26, 0), msh?.text(6) ?? msh?.text(5)) : undefined;
  if (!named?.system || !named.value) return;
  const found = await tx.search(parseSearchRequest(`ServiceRequest?${referralMatch(named)}&_count=2`));
  const sr = found.resources.length === 1 ? (found.resources[0] as ServiceRequest) : undefined;
  const ref = applied.resources.find((r) => r.startsWith('Appointment/'));
  if (!sr || !isReferral(sr) || !ref) {
    applied.unmapped.push('SCH-26 (names no referral known here)');
    return;
  }
  const appointment = await tx.read<Appointment>('Appointment', ref.split('/')[1] as string);
  const basedOn = `ServiceRequest/${sr.id}`;
  if (!appointment.basedOn?.some((b) => b.reference === basedOn)) {
    await tx.update<Appointment>({ ...appointment, basedOn: [...(appointment.basedOn ?? []), { reference: basedOn }] });
  }
  if (appointment.status === 'cancelled') return;
  await updateTask(tx, sr, (task) => (OPEN.has(task.status) ? { ...task, status: 'in-progress' } : undefined));
}

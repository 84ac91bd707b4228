/**
 * @module workflows/referral-out — a referral leaving for partner offices, and the Task that follows it (issue
 * #14). Called by the store's change hook (src/store/changes.ts) inside the transaction that changed the
 * ServiceRequest, so the REF in the outbox and the Task commit with the change or not at all.
 *
 * A ServiceRequest in the referral category (SNOMED 3457005) whose `performer` reaches offices (`hl7v2-mllp`
 * Endpoints). What each office is sent follows from what it was last sent (a dead letter counts as not sent):
 * nothing or a cancel, and the referral is `active` → REF^I12; an I12 or I13, and the referral is still its own
 * (`active`, `on-hold`, `completed`) and changed in what the office reads (the message after MSH) → REF^I13; an
 * I12 or I13, and the referral is `revoked`, `entered-in-error`, deleted or given to another office → REF^I14. The
 * Task (`focus` the request, `owner` the performer) is `requested` when an I12 goes, `cancelled` when no office
 * has the referral any more. A referral cancelled with an office is not reopened: a new one is a new request.
 * What the offices answer moves the Task on: ./referral-task.ts, ./referral-loop.ts.
 */
import { parseSearchRequest } from '@medplum/core';
import type {
  Condition,
  Coverage,
  DocumentReference,
  Identifier,
  Organization,
  Patient,
  Practitioner,
  PractitionerRole,
  RelatedPerson,
  ServiceRequest,
  Task,
} from '@medplum/fhirtypes';
import { conflict, invalid, OperationOutcomeError } from '../outcome.ts';
import type { Change } from '../store/changes.ts';
import type { Repository } from '../store/repository.ts';
import { roundTrips } from '../translate/hl7v2/datatypes-out.ts';
import { REFERRAL_CATEGORY, referralMessage, type Party, type ReferralOut } from '../translate/hl7v2/ref-out.ts';
import { OWN_REFERRAL_SYSTEM, referralOfTask } from '../translate/hl7v2/referral-id.ts';
import {
  everSent,
  lastLive,
  notFromOrigin,
  queue,
  reach,
  readOrNothing,
  saysSomethingNew,
  type OutboundContext,
  type Outgoing,
} from './outbound-hl7.ts';
import { ensureTask, referralTask, updateTask } from './referral-task.ts';

export const REF_TYPES = ['REF^I12', 'REF^I13', 'REF^I14'];
const ENDED = new Set(['revoked', 'entered-in-error']);
/** A referral in these states is still the office's: a change is news for it (on hold: RF1-1 H). */
const UPDATED = new Set(['active', 'on-hold', 'completed']);

export function isReferral(sr: ServiceRequest | undefined): boolean {
  return !!sr?.category?.some((c) =>
    c.coding?.some((k) => k.system === REFERRAL_CATEGORY.system && k.code === REFERRAL_CATEGORY.code)
  );
}

/** RF1-6: the request's placer identifier (or first one with a system) that survives an EI, else the gateway's own. */
export function referralIdOf(sr: ServiceRequest): Identifier {
  const ids = (sr.identifier ?? []).filter((i) => i.system && i.value && roundTrips(i.system));
  const placer = ids.find((i) => i.type?.coding?.some((k) => k.code === 'PLAC')) ?? ids[0];
  return placer ? { system: placer.system, value: placer.value } : { system: OWN_REFERRAL_SYSTEM, value: sr.id };
}

/** RF1-6 of a referral: the one its first REF went with, else the one it would go with. */
export async function sentReferralId(tx: Repository, sr: ServiceRequest): Promise<Identifier> {
  const task = await referralTask(tx, sr);
  return (task && referralOfTask(task)) || referralIdOf(sr);
}

export async function referralChanged(tx: Repository, ctx: OutboundContext, c: Change): Promise<void> {
  const before = c.before as ServiceRequest | undefined;
  const after = c.after as ServiceRequest | undefined;
  const sr = after ?? before;
  if (!sr || !isReferral(sr)) return;
  const task = await referralTask(tx, sr);
  const related = `ServiceRequest/${sr.id}`;
  const reopened = before && after && ENDED.has(before.status) && !ENDED.has(after.status);
  if (reopened && (await everSent(tx, related, REF_TYPES))) {
    throw new OperationOutcomeError(
      conflict(
        `ServiceRequest/${sr.id} was cancelled with the office it went to: refer again with a new ServiceRequest`
      )
    );
  }
  const skip = notFromOrigin(ctx, tx.origin);
  const current = after && !ENDED.has(after.status) ? await reach(tx, after.performer ?? [], skip) : [];
  const earlier = await reach(tx, before?.performer ?? [], skip);
  const offices = [...new Map([...current, ...earlier].map((r) => [r.destination, r])).values()];
  // One order for the offices' queue locks, whatever the order of the performers.
  offices.sort((x, y) => x.destination.localeCompare(y.destination));
  const referralId = (task && referralOfTask(task)) || referralIdOf(sr);
  const sent = { I12: false, I14: false, holders: 0 };
  let out: Omit<ReferralOut, 'event'> | undefined;
  for (const to of offices) {
    const last = await lastLive(tx, related, to.destination, REF_TYPES);
    const open = last === 'REF^I12' || last === 'REF^I13';
    const event = eventFor(
      open,
      current.some((r) => r.destination === to.destination),
      after
    );
    if ((open && event !== 'I14') || event === 'I12') sent.holders++;
    if (!event) continue;
    out ??= await gather(tx, sr, referralId);
    const status = event === 'I14' ? (after && ENDED.has(after.status) ? after.status : 'revoked') : sr.status;
    const shown: ReferralOut = { ...out, event, referral: { ...sr, status } };
    const m: Outgoing = { to, type: ['REF', event, 'REF_I12'], build: (env) => referralMessage(env, shown), related };
    if (event === 'I13' && !(await saysSomethingNew(tx, ctx, m, REF_TYPES))) continue;
    await queue(tx, ctx, m);
    if (event === 'I12') sent.I12 = true;
    if (event === 'I14') sent.I14 = true;
  }
  await followTask(tx, sr, after, task, referralId, sent);
}

function eventFor(open: boolean, wanted: boolean, after: ServiceRequest | undefined): ReferralOut['event'] | undefined {
  if (open && !wanted) return 'I14';
  if (!open && wanted && after?.status === 'active') return 'I12';
  if (open && wanted && after && UPDATED.has(after.status)) return 'I13';
  return undefined;
}

/** The Task after what was sent: requested with a new I12, cancelled when no office has the referral any more. */
async function followTask(
  tx: Repository,
  sr: ServiceRequest,
  after: ServiceRequest | undefined,
  task: Task | undefined,
  referralId: Identifier,
  sent: { I12: boolean; I14: boolean; holders: number }
): Promise<void> {
  if (sent.I12) return ensureTask(tx, after ?? sr, referralId, task);
  if (!task || task.status === 'cancelled' || task.status === 'completed') return;
  const owner = after?.performer?.[0];
  await updateTask(tx, sr, (t) => {
    if (sent.I14 && !sent.holders) return { ...t, status: 'cancelled' };
    if (owner && t.owner?.reference !== owner.reference) return { ...t, owner };
    return undefined;
  });
}

/** Everything the REF says, read in the transaction. */
async function gather(tx: Repository, sr: ServiceRequest, referralId: Identifier): Promise<Omit<ReferralOut, 'event'>> {
  const patient = sr.subject?.reference ? await readOrNothing<Patient>(tx, sr.subject.reference) : undefined;
  if (!patient) invalid('A referral for a partner office needs the Patient it is for', 'ServiceRequest.subject');
  const coverages = (
    await tx.search(parseSearchRequest('Coverage', { beneficiary: `Patient/${patient.id}`, status: 'active' }))
  ).resources as Coverage[];
  const insurance = await Promise.all(
    coverages.map(async (coverage) => ({
      coverage,
      payer: await readAs<Organization>(tx, coverage.payor?.[0]?.reference, 'Organization'),
      subscriber: await readAs<RelatedPerson>(tx, coverage.subscriber?.reference, 'RelatedPerson'),
    }))
  );
  const conditions = await readAll<Condition>(tx, sr.reasonReference, 'Condition');
  const documents = await readAll<DocumentReference>(tx, sr.supportingInfo, 'DocumentReference');
  return {
    referral: sr,
    referralId,
    patient,
    insurance,
    conditions,
    documents,
    requester: await party(tx, sr.requester?.reference),
    performer: await party(tx, sr.performer?.[0]?.reference),
  };
}

/** A practitioner and organization from a reference to either, or to a PractitionerRole naming both. */
async function party(tx: Repository, reference: string | undefined): Promise<Party> {
  const type = reference?.split('/')[0];
  if (!reference) return {};
  if (type === 'Organization') return { organization: await readOrNothing<Organization>(tx, reference) };
  if (type === 'Practitioner') return { practitioner: await readOrNothing<Practitioner>(tx, reference) };
  if (type !== 'PractitionerRole') return {};
  const role = await readOrNothing<PractitionerRole>(tx, reference);
  return {
    practitioner: await readAs<Practitioner>(tx, role?.practitioner?.reference, 'Practitioner'),
    organization: await readAs<Organization>(tx, role?.organization?.reference, 'Organization'),
  };
}

async function readAs<T>(tx: Repository, reference: string | undefined, type: string): Promise<T | undefined> {
  return reference?.startsWith(`${type}/`) ? ((await readOrNothing(tx, reference)) as T | undefined) : undefined;
}

async function readAll<T>(tx: Repository, refs: { reference?: string }[] | undefined, type: string): Promise<T[]> {
  const all = await Promise.all((refs ?? []).map((r) => readAs<T>(tx, r.reference, type)));
  return all.filter((x): x is Awaited<T> & T => x !== undefined);
}

/**
 * @module workflows/referral-out — a referral leaving for a partner office, and the Task that follows it
 * (issue #14). Called by the store's change hook (src/store/changes.ts) inside the transaction that changed the
 * ServiceRequest, so the REF in the outbox and the Task commit with the change or not at all.
 *
 * A ServiceRequest in the referral category (SNOMED 3457005) whose `performer` reaches an `hl7v2-mllp` Endpoint:
 * becoming `active` sends REF^I12 and creates its Task (`requested`, `focus` the request, `owner` the performer);
 * changed while active, on hold or completed sends REF^I13 — only when what the specialist would read changed (the
 * message after MSH differs from the last one sent); `revoked` (or `entered-in-error`, or deleted) after a REF went out sends REF^I14
 * and cancels the Task. What the partner answers moves the Task on: ./referral-loop.ts.
 */
import { parseSearchRequest } from '@medplum/core';
import type {
  Condition, Coverage, DocumentReference, Identifier, Organization, Patient, Practitioner, PractitionerRole,
  RelatedPerson, ServiceRequest, Task,
} from '@medplum/fhirtypes';
import type { Change } from '../store/changes.ts';
import type { Repository } from '../store/repository.ts';
import { roundTrips } from '../translate/hl7v2/datatypes-out.ts';
import { REFERRAL_CATEGORY, referralMessage, type Party, type ReferralOut } from '../translate/hl7v2/ref-out.ts';
import { OWN_REFERRAL_SYSTEM, referralOfTask } from '../translate/hl7v2/referral-id.ts';
import { queue, reach, readOrNothing, saysSomethingNew, type OutboundContext, type Outgoing } from './outbound-hl7.ts';
import { ensureTask, referralTask } from './referral-task.ts';

const REF_TYPES = ['REF^I12', 'REF^I13', 'REF^I14'];
const ENDED = new Set(['revoked', 'entered-in-error']);
/** A sent referral in these states is still the office's: a change is news for it (on hold: RF1-1 H). */
const UPDATED = new Set(['active', 'on-hold', 'completed']);

export function isReferral(sr: ServiceRequest | undefined): boolean {
  return !!sr?.category?.some((c) => c.coding?.some((k) => k.system === REFERRAL_CATEGORY.system && k.code === REFERRAL_CATEGORY.code));
}

/** RF1-6: the request's placer identifier (or first one with a system) that survives an EI, else the gateway's own. */
export function referralIdOf(sr: ServiceRequest): Identifier {
  const ids = (sr.identifier ?? []).filter((i) => i.system && i.value && roundTrips(i.system));
  const placer = ids.find((i) => i.type?.coding?.some((k) => k.code === 'PLAC')) ?? ids[0];
  return placer ? { system: placer.system, value: placer.value } : { system: OWN_REFERRAL_SYSTEM, value: sr.id };
}

export async function referralChanged(tx: Repository, ctx: OutboundContext, c: Change): Promise<void> {
  const before = c.before as ServiceRequest | undefined;
  const after = c.after as ServiceRequest | undefined;
  const sr = after ?? before;
  if (!sr || !isReferral(sr)) return;
  const wasSent = await referralTask(tx, sr);
  const open = !!wasSent && wasSent.status !== 'cancelled';
  let event: ReferralOut['event'] | undefined;
  if (open && (!after || ENDED.has(after.status))) event = 'I14';
  else if (open && after && UPDATED.has(after.status)) event = 'I13';
  else if (!open && after?.status === 'active') event = 'I12';
  if (!event) return;
  const targets = await reach(tx, sr.performer ?? [], tx.origin);
  if (!targets.length) return;
  // RF1-6 stays what the first REF said, whatever identifiers the request gains later.
  const referralId = (wasSent && referralOfTask(wasSent)) || referralIdOf(sr);
  const out = await gather(tx, event, event === 'I14' && !after ? { ...sr, status: 'revoked' } : sr, referralId);
  const related = `ServiceRequest/${sr.id}`;
  let sent = false;
  for (const to of targets) {
    const m: Outgoing = { to, type: ['REF', event, 'REF_I12'], build: (env) => referralMessage(env, out), related };
    if (event === 'I13' && !(await saysSomethingNew(tx, ctx, m, REF_TYPES))) continue;
    await queue(tx, ctx, m);
    sent = true;
  }
  if (!sent) return;
  if (event === 'I12') await ensureTask(tx, sr, out.referralId, wasSent);
  if (event === 'I14' && wasSent) await tx.update<Task>({ ...wasSent, status: 'cancelled', lastModified: new Date().toISOString() });
}

/** RF1-6 of a referral: the one its REF went with, else the one it would go with. */
export async function sentReferralId(tx: Repository, sr: ServiceRequest): Promise<Identifier> {
  const task = await referralTask(tx, sr);
  return (task && referralOfTask(task)) || referralIdOf(sr);
}

/** Everything the REF says, read in the transaction. */
async function gather(tx: Repository, event: ReferralOut['event'], sr: ServiceRequest, referralId: Identifier): Promise<ReferralOut> {
  const patient = sr.subject?.reference ? await readOrNothing<Patient>(tx, sr.subject.reference) : undefined;
  if (!patient) throw new Error(`ServiceRequest/${sr.id} names no patient that can be read`);
  const coverages = (await tx.search(parseSearchRequest('Coverage', { beneficiary: `Patient/${patient.id}`, status: 'active' })))
    .resources as Coverage[];
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
    event, referral: sr, referralId, patient, insurance, conditions, documents,
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

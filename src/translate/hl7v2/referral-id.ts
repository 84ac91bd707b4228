/**
 * @module translate/hl7v2/referral-id — how a referral is known on both sides: RF1-6 of the REF, RF1-6 of the
 * specialist's RRI, SCH-26 (placer order number) of the specialist's SIU; and the identifier of the Task that
 * follows it.
 *
 * A referral the gateway sends without an identifier of its own is named by its id in `urn:frontdesk:referral`
 * (RF1-6 `<id>^^urn:frontdesk:referral^URI`): the answer finds it by `_id`, with nothing written to the request.
 */
import type { Identifier } from '@medplum/fhirtypes';
import { byIdentifier } from './plan.ts';

export const OWN_REFERRAL_SYSTEM = 'urn:frontdesk:referral';

/** The search (without the type) that finds the ServiceRequest a referral identifier names. */
export function referralMatch(id: Pick<Identifier, 'system' | 'value'>): string {
  return id.system === OWN_REFERRAL_SYSTEM ? `_id=${encodeURIComponent(id.value ?? '')}` : byIdentifier(id);
}

/**
 * The Task's own identifier: the referral's value in `urn:frontdesk:referral-task:` + the referral's system
 * URI-encoded (as `urn:frontdesk:policy:` does for Coverage), one Task system per referral system, no `|` inside.
 */
export function taskIdentifier(referral: Pick<Identifier, 'system' | 'value'>): Identifier {
  return { system: `urn:frontdesk:referral-task:${encodeURIComponent(referral.system ?? '')}`, value: referral.value };
}

/** The referral identifier a Task made by {@link taskIdentifier} carries: what RF1-6 said when the REF first went. */
export function referralOfTask(task: { identifier?: Identifier[] }): Identifier | undefined {
  const prefix = 'urn:frontdesk:referral-task:';
  const id = task.identifier?.find((i) => i.system?.startsWith(prefix) && i.value);
  return id ? { system: decodeURIComponent((id.system as string).slice(prefix.length)), value: id.value } : undefined;
}

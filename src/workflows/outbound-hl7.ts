/**
 * @module workflows/outbound-hl7 — what the outbound workflows share: finding the partner office a reference
 * reaches (an Organization, Practitioner or PractitionerRole whose Organization has an `hl7v2-mllp` Endpoint) and
 * putting a message for it in the outbox, inside the caller's transaction, with the Endpoint's MSH-5/MSH-6.
 */
import { parseSearchRequest } from '@medplum/core';
import type { Endpoint, Organization, PractitionerRole, Reference, Resource } from '@medplum/fhirtypes';
import { enqueue } from '../store/outbox.ts';
import type { Origin } from '../store/changes.ts';
import type { Repository } from '../store/repository.ts';
import { encodeMessage, STANDARD_DELIMITERS, type OutSegment } from '../translate/hl7v2/encode.ts';
import type { Delimiters } from '../translate/hl7v2/header.ts';
import type { Envelope } from '../translate/hl7v2/out-segments.ts';
import { errorKind } from '../store/errors.ts';
import { everQueued, lastLiveType, lastSentRaw } from '../store/sent.ts';

/** The gateway's side of outbound messages, handed in by the composition root. */
export type OutboundContext = {
  /** MSH-3/MSH-4 of every message the gateway sends. */
  sender: { application: string; facility: string };
  /** MSH-10, unique per message (at most 20 characters). */
  newControlId: () => string;
  /** The partner id (partners file) an Endpoint belongs to, for the message log. */
  partnerOf: (endpoint: string) => string | undefined;
  /** The delimiters a destination reads, when its partner declares them (partners file `encoding`). */
  delimitersOf?: (endpoint: string) => Delimiters | undefined;
  /** Wakes the outbox worker once a commit has queued something. */
  kick: () => void;
  processingId?: string;
};

/** A partner office reached: its Endpoint (`Endpoint/<id>`, the outbox destination) and MSH-5/MSH-6 for it. */
export type Reached = { destination: string; endpoint: Endpoint; application?: string; facility?: string };

const MLLP = 'hl7v2-mllp';

/** The HL7 v2 destinations references reach, each once, leaving out those `skip` names. */
export async function reach(
  tx: Repository,
  refs: (Reference | undefined)[],
  skip?: (r: Reached) => boolean
): Promise<Reached[]> {
  const out = new Map<string, Reached>();
  for (const ref of refs) {
    for (const endpointRef of await endpointsOf(tx, ref?.reference)) {
      if (out.has(endpointRef)) continue;
      const endpoint = await readOrNothing<Endpoint>(tx, endpointRef);
      if (!endpoint || endpoint.status !== 'active' || endpoint.connectionType?.code !== MLLP) continue;
      const r = { destination: endpointRef, endpoint, ...headers(endpoint) };
      if (!skip?.(r)) out.set(endpointRef, r);
    }
  }
  return [...out.values()];
}

/**
 * The office a change came from (the sender of the message being applied): never sent its own news back. Known by
 * its partner (the partners file: the sender's partner owns the destination), else by the Endpoint's MSH-5/MSH-6
 * being the message's MSH-3/MSH-4.
 */
export function notFromOrigin(ctx: OutboundContext, origin: Origin | undefined): (r: Reached) => boolean {
  if (!origin) return () => false;
  return (r) => (!!origin.partner && ctx.partnerOf(r.destination) === origin.partner) || sameParty(r, origin);
}

/**
 * The Endpoint references of an Organization, of a PractitionerRole (its own, else its Organization's), of a
 * Practitioner's roles.
 */
async function endpointsOf(tx: Repository, reference: string | undefined): Promise<string[]> {
  const [type, id] = (reference ?? '').split('/');
  if (!id) return [];
  if (type === 'Organization') {
    const org = await readOrNothing<Organization>(tx, reference as string);
    return refsOf(org?.endpoint);
  }
  if (type === 'PractitionerRole') {
    const role = await readOrNothing<PractitionerRole>(tx, reference as string);
    const own = refsOf(role?.endpoint);
    return own.length ? own : endpointsOf(tx, role?.organization?.reference);
  }
  if (type === 'Practitioner') {
    const roles = (await tx.search(parseSearchRequest('PractitionerRole', { practitioner: reference as string })))
      .resources as PractitionerRole[];
    const lists = await Promise.all(
      roles.filter((r) => r.active !== false).map((r) => endpointsOf(tx, `PractitionerRole/${r.id}`))
    );
    return lists.flat();
  }
  return [];
}

function refsOf(refs: Reference[] | undefined): string[] {
  return (refs ?? []).map((r) => r.reference).filter((r): r is string => !!r?.startsWith('Endpoint/'));
}

/** MSH-5/MSH-6 from the Endpoint's `header` entries `MSH-5=…`, `MSH-6=…`. */
function headers(e: Endpoint): { application?: string; facility?: string } {
  const value = (field: string) =>
    e.header?.find((h) => h.startsWith(`${field}=`))?.slice(field.length + 1) || undefined;
  const application = value('MSH-5');
  const facility = value('MSH-6');
  return { ...(application ? { application } : {}), ...(facility ? { facility } : {}) };
}

/** A destination is the sender of the message being applied when its MSH-5/MSH-6 are that message's MSH-3/MSH-4. */
function sameParty(r: Reached, origin: Origin): boolean {
  if (origin.facility && r.facility)
    return (
      origin.facility === r.facility && (!r.application || !origin.application || r.application === origin.application)
    );
  return !!origin.application && r.application === origin.application;
}

export type Outgoing = {
  to: Reached;
  /** MSH-9 as code, trigger, structure. */
  type: [string, string, string];
  build: (env: Envelope) => OutSegment[];
  /** The resource the message is about, for the message log (`ServiceRequest/<id>`). */
  related: string;
};

/** Encodes the message for its destination and queues it in the caller's transaction; the outbox wakes after the commit. */
export async function queue(
  tx: Repository,
  ctx: OutboundContext,
  m: Outgoing
): Promise<{ id: string; controlId: string; raw: string }> {
  const controlId = ctx.newControlId();
  const env: Envelope = {
    sender: ctx.sender,
    receiver: { application: m.to.application, facility: m.to.facility },
    controlId,
    at: new Date().toISOString(),
    ...(ctx.processingId ? { processingId: ctx.processingId } : {}),
  };
  const raw = encodeMessage(m.build(env), ctx.delimitersOf?.(m.to.destination) ?? STANDARD_DELIMITERS);
  const partner = ctx.partnerOf(m.to.destination);
  const id = await enqueue(tx.sql, {
    destination: m.to.destination,
    sender: [ctx.sender.application, ctx.sender.facility].join('^'),
    receiver: [m.to.application ?? '', m.to.facility ?? ''].join('^'),
    controlId,
    messageType: m.type.slice(0, 2).join('^'),
    raw: Buffer.from(raw, 'utf8'),
    ...(partner ? { partner } : {}),
    subject: m.related,
  });
  tx.afterCommit(ctx.kick);
  return { id, controlId, raw };
}

/**
 * Whether the message would tell the destination something the last one of `types` about the same resource did
 * not: compared without MSH (its control id and time always differ), in the destination's own delimiters.
 */
export async function saysSomethingNew(
  tx: Repository,
  ctx: OutboundContext,
  m: Outgoing,
  types: string[]
): Promise<boolean> {
  const raw = await lastSentRaw(tx.sql, m.related, m.to.destination, types);
  if (!raw) return true;
  const probe: Envelope = { sender: ctx.sender, receiver: {}, controlId: 'probe', at: new Date(0).toISOString() };
  const text = encodeMessage(m.build(probe), ctx.delimitersOf?.(m.to.destination) ?? STANDARD_DELIMITERS);
  return bodyOf(text) !== bodyOf(raw.toString('utf8'));
}

/** The type of the last message of `types` queued for the resource and destination that is not a dead letter. */
export async function lastLive(
  tx: Repository,
  related: string,
  destination: string,
  types: string[]
): Promise<string | undefined> {
  return lastLiveType(tx.sql, related, destination, types);
}

/** Whether any message of `types` about the resource was ever queued, to any destination. */
export async function everSent(tx: Repository, related: string, types: string[]): Promise<boolean> {
  return everQueued(tx.sql, related, types);
}

/** A message without its MSH: what two messages about the same thing are compared by. */
function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf('\r') + 1);
}

/** A resource by `Type/id`; nothing when it does not exist or was deleted (other failures are thrown). */
export async function readOrNothing<T extends Resource>(tx: Repository, reference: string): Promise<T | undefined> {
  const [type, id] = reference.split('/');
  if (!type || !id || reference.includes('?')) return undefined;
  try {
    return await tx.read<T>(type, id);
  } catch (err) {
    if (errorKind(err) === 'not-found' || errorKind(err) === 'gone') return undefined;
    throw err;
  }
}

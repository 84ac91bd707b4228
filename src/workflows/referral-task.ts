/**
 * @module workflows/referral-task — the Task that follows a referral the gateway sent: `code` fulfill, `focus` and
 * `basedOn` the ServiceRequest, `owner` the performer, known by the referral's identifier in
 * `urn:frontdesk:referral-task:…` (the one an RRI^I12 answering it finds it by, src/translate/hl7v2/ref.ts).
 */
import { parseSearchRequest } from '@medplum/core';
import type { Identifier, ServiceRequest, Task } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { taskIdentifier } from '../translate/hl7v2/referral-id.ts';

const FULFILL = { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill', display: 'Fulfill the focal request' }] };

/** The Task following a referral, if one was made. */
export async function referralTask(tx: Repository, sr: ServiceRequest): Promise<Task | undefined> {
  const found = await tx.search(parseSearchRequest('Task', { focus: `ServiceRequest/${sr.id}`, code: 'fulfill', _count: '1' }));
  return found.resources[0] as Task | undefined;
}

/** A new REF^I12 went out: the Task `requested` (a new one, or the cancelled one of a referral sent again). */
export async function ensureTask(tx: Repository, sr: ServiceRequest, referralId: Identifier, existing: Task | undefined): Promise<void> {
  const now = new Date().toISOString();
  if (existing) {
    await tx.update<Task>({ ...existing, status: 'requested', lastModified: now });
    return;
  }
  const task: Task = {
    resourceType: 'Task',
    identifier: [taskIdentifier(referralId)],
    status: 'requested',
    intent: 'order',
    code: FULFILL,
    focus: { reference: `ServiceRequest/${sr.id}` },
    basedOn: [{ reference: `ServiceRequest/${sr.id}` }],
    lastModified: now,
    ...(sr.priority ? { priority: sr.priority } : {}),
    ...(sr.subject ? { for: sr.subject } : {}),
    ...(sr.requester ? { requester: sr.requester } : {}),
    ...(sr.performer?.[0] ? { owner: sr.performer[0] } : {}),
  };
  await tx.create(task);
}

/**
 * What the partner's ACK to the REF^I12 says: AA → `received`, AE/AR or a dead letter → `failed` with the reason.
 * A Task already moved on (an RRI came first, or the referral was cancelled) is left as it is.
 */
export async function referralDelivered(repo: Repository, related: string, delivered: boolean, reason?: string): Promise<void> {
  const [type, id] = related.split('/');
  if (type !== 'ServiceRequest' || !id) return;
  await repo.transaction(async (tx) => {
    const task = await referralTask(tx, { resourceType: 'ServiceRequest', id } as ServiceRequest);
    if (!task || task.status !== 'requested') return;
    const next: Task = { ...task, status: delivered ? 'received' : 'failed', lastModified: new Date().toISOString() };
    if (!delivered && reason) next.statusReason = { text: reason };
    await tx.update<Task>(next);
  });
}

/**
 * @module workflows/referral-task — the Task that follows a referral the gateway sent: `code` fulfill, `focus` and
 * `basedOn` the ServiceRequest, `owner` the performer, known by the referral's identifier in
 * `urn:frontdesk:referral-task:…` (the one an RRI^I12 answering it finds it by, src/translate/hl7v2/ref.ts).
 */
import { parseSearchRequest } from '@medplum/core';
import type { Identifier, ServiceRequest, Task } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { taskIdentifier } from '../translate/hl7v2/referral-id.ts';
import { errorKind } from '../store/errors.ts';

const FULFILL = {
  coding: [
    { system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill', display: 'Fulfill the focal request' },
  ],
};

/** The Task following a referral, if one was made. */
export async function referralTask(tx: Repository, sr: ServiceRequest): Promise<Task | undefined> {
  const found = await tx.search(
    parseSearchRequest('Task', { focus: `ServiceRequest/${sr.id}`, code: 'fulfill', _count: '1' })
  );
  return found.resources[0] as Task | undefined;
}

/** A new REF^I12 went out: the Task `requested` (a new one, or the one of a referral sent again, to its new owner). */
export async function ensureTask(
  tx: Repository,
  sr: ServiceRequest,
  referralId: Identifier,
  existing: Task | undefined
): Promise<void> {
  const now = new Date().toISOString();
  if (existing) {
    const owner = sr.performer?.[0];
    await updateTask(tx, sr, (t) => ({
      ...t,
      status: 'requested',
      statusReason: undefined,
      ...(owner ? { owner } : {}),
    }));
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
 * Read, change, write the referral's Task, the write conditional on the version read (If-Match): what another
 * transaction committed meanwhile (an RRI answering at once) is read again and changed in turn, never overwritten.
 * `change` returns the new Task, or nothing to leave it.
 */
export async function updateTask(
  tx: Repository,
  sr: ServiceRequest,
  change: (t: Task) => Task | undefined
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const task = await referralTask(tx, sr);
    const next = task && change(task);
    if (!task || !next) return;
    try {
      await tx.update<Task>({ ...next, lastModified: new Date().toISOString() }, task.meta?.versionId);
      return;
    } catch (err) {
      if (errorKind(err) !== 'precondition-failed' || attempt >= 3) throw err;
    }
  }
}

/**
 * What the office's ACK to the REF^I12 says: AA → `received` (also after a dead letter sent again), AE/AR or a dead
 * letter → `failed` with the reason. A Task the office already moved on (an RRI came first) is left as it is.
 */
export async function referralDelivered(
  repo: Repository,
  related: string,
  delivered: boolean,
  reason?: string
): Promise<void> {
  const [type, id] = related.split('/');
  if (type !== 'ServiceRequest' || !id) return;
  await repo.transaction((tx) =>
    updateTask(tx, { resourceType: 'ServiceRequest', id } as ServiceRequest, (task) => {
      if (task.status !== 'requested' && !(delivered && task.status === 'failed')) return undefined;
      if (delivered) return { ...task, status: 'received', statusReason: undefined };
      return { ...task, status: 'failed', ...(reason ? { statusReason: { text: reason } } : {}) };
    })
  );
}

/**
 * @module workflows/apply-plan — writes translated messages (plans, src/translate/hl7v2/plan.ts) in one database
 * transaction with HL7 v2 merge semantics, before the ACK.
 *
 * Two passes. First every entry finds its stored twin by its match or gets a fresh id (./plan-match.ts). Then
 * every entry is written with the placeholders replaced by `Type/id`: a new resource is created under its id; a
 * stored one takes the message's values over its own (./plan-merge.ts) and is left untouched (no new version) when
 * nothing changed. What is written is validated against the base specification and the entry's profiles.
 *
 * Several plans can be applied in one transaction (./plan-batch.ts): their matches share statements, their
 * creates one statement, their stored resources one read. Within a transaction a plan does not see what another
 * creates before the writes, and advisory locks do not exclude each other; so a plan that would create what an
 * earlier plan of the same transaction creates, or change a stored resource an earlier one changes, is left out
 * of it (nothing of it written) and applied after that transaction commits, as if it had come second.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { errorKind } from '../store/errors.ts';
import { canonicalOrder } from '../store/order.ts';
import { readMany } from '../store/read-many.ts';
import type { Repository } from '../store/repository.ts';
import type { Plan, PlanEntry } from '../translate/hl7v2/plan.ts';
import { validate } from '../validate/validator.ts';
import { matchPlans, type Resolution } from './plan-match.ts';
import { mergeInto, sameContent, withoutSelfLinks } from './plan-merge.ts';
import type { Hl7Applied as Applied } from './receive-hl7v2.ts';

/** Runs inside the transaction after the plan's writes: the caller records the message's outcome with them. */
export type Within = (sql: Sql, applied: Applied) => Promise<void>;

export type PlanJob = { plan: Plan; within?: Within | undefined };

/** A stored resource with the message's values merged over it, and the version they were merged over. */
type Update = { resource: Resource; over: string | undefined };

/** What one plan writes: its new resources, the stored ones it changes, and what it reports. */
type Writes = { creates: { resource: Resource; id: string }[]; updates: Update[]; applied: Applied };

/** One plan in its own transaction (or the caller's, when `repo` is inside one). */
export async function applyPlan(repo: Repository, plan: Plan, within?: Within): Promise<Applied> {
  return repo.transaction(async (tx) => (await applyPlansIn(tx, [{ plan, within }]))[0] as Applied);
}

/**
 * Applies plans in the transaction `tx`. Each plan gets what it applied, or `undefined` when it was left out
 * because an earlier plan creates or changes the same resource (see the module comment). A plan whose content
 * fails throws, and the caller's transaction then commits nothing.
 */
export async function applyPlansIn(tx: Repository, jobs: PlanJob[]): Promise<(Applied | undefined)[]> {
  const plans = jobs.map((j) => j.plan);
  const found = new Map<string, Resource>();
  const resolved = await matchPlans(tx, plans, found);
  const stored = await storedOf(tx, resolved.flatMap(metStored), found);
  const claimed = new Set<string>();
  const kept: { writes: Writes; within: Within | undefined }[] = [];
  const out = resolved.map((r, i) => {
    const writes = writesOf(r, stored);
    const keys = [...r.creating, ...writes.updates.map((u) => `${u.resource.resourceType}/${u.resource.id}`)];
    if (keys.some((k) => claimed.has(k))) return undefined;
    for (const k of keys) claimed.add(k);
    kept.push({ writes, within: jobs[i]?.within });
    return writes.applied;
  });
  const creates = kept.flatMap((k) => k.writes.creates);
  await Promise.all([
    creates.length ? tx.createManyWithIds(creates) : undefined,
    ...kept.flatMap((k) => k.writes.updates.map((u) => updateOver(tx, u))),
    ...kept.map((k) => k.within?.(tx.sql, k.writes.applied)),
  ]);
  return out;
}

/**
 * Writes a merge only over the version it was merged with: the stored resources are read without a lock, and a
 * writer that changed one in between (another transaction, an HTTP update) would otherwise lose its change. Such a
 * race makes the whole transaction run again (Repository.transaction retries it), reading the new version.
 */
async function updateOver(tx: Repository, u: Update): Promise<void> {
  try {
    await tx.update(u.resource, u.over);
  } catch (err) {
    if (errorKind(err) === 'precondition-failed')
      throw new ChangedMeanwhile(`${u.resource.resourceType}/${u.resource.id}`);
    throw err;
  }
}

/** A stored resource changed between its read and its merge; `code` is what Repository.transaction retries. */
class ChangedMeanwhile extends Error {
  readonly code = '40001';
  constructor(ref: string) {
    super(`${ref} changed while a message was merged over it`);
  }
}

/**
 * The current content of the resources the plans change: those their matches by identifier found came with the
 * match (same statement); the rest (found by other matches) are read in one statement.
 */
async function storedOf(
  tx: Repository,
  refs: { type: string; id: string }[],
  found: Map<string, Resource>
): Promise<Map<string, Resource>> {
  const key = (r: { type: string; id: string }) => `${r.type}/${r.id}`;
  const out = await readMany(
    tx.sql,
    refs.filter((r) => !found.has(key(r)))
  );
  for (const r of refs) {
    const content = found.get(key(r));
    if (content) out.set(key(r), canonicalOrder(content));
  }
  return out;
}

/** The stored resources a plan's entries met and may change (not those it only refers to: `ensure`). */
function metStored(r: Resolution): { type: string; id: string }[] {
  return r.plan.entries.flatMap((e) => {
    const t = r.target(e.key);
    return t.existing && e.mode !== 'ensure' ? [t] : [];
  });
}

/**
 * A plan's writes. Entries that met the same stored resource are merged over it one after the other (one new
 * version, if anything changed); an entry skipped when it finds the same resource as another (`distinctFrom`).
 */
function writesOf(r: Resolution, stored: Map<string, Resource>): Writes {
  const byTarget = new Map<string, PlanEntry[]>();
  for (const e of r.plan.entries) {
    const t = r.target(e.key);
    if (e.distinctFrom && r.target(e.distinctFrom)?.id === t.id) continue;
    const ref = `${t.type}/${t.id}`;
    byTarget.set(ref, [...(byTarget.get(ref) ?? []), e]);
  }
  const writes: Writes = {
    creates: [],
    updates: [],
    applied: { resources: [...byTarget.keys()], unmapped: r.plan.unmapped },
  };
  for (const [ref, entries] of byTarget) {
    const first = entries[0] as PlanEntry;
    const t = r.target(first.key);
    if (!t.existing) {
      writes.creates.push({ resource: newResource(r, first, t.id), id: t.id });
      continue;
    }
    const changed = mergedOver(r, entries, stored, ref);
    if (changed) writes.updates.push({ resource: changed, over: stored.get(ref)?.meta?.versionId });
  }
  return writes;
}

/** An entry's resource as it is created: placeholders resolved, its defaults under it, checked against its profiles. */
function newResource(r: Resolution, e: PlanEntry, id: string): Resource {
  const created = withoutSelfLinks({
    ...e.defaults,
    ...(JSON.parse(r.resolve(JSON.stringify(e.resource))) as Resource),
    id,
  } as Resource);
  validateEntry(created, e);
  return created;
}

/** The entries' values merged over the stored resource; `undefined` when nothing changed. */
function mergedOver(
  r: Resolution,
  entries: PlanEntry[],
  stored: Map<string, Resource>,
  ref: string
): Resource | undefined {
  const before = stored.get(ref);
  let current = before;
  for (const e of entries) {
    if (e.mode === 'ensure') continue;
    // Matched in this transaction, read in the same one: gone between the two only if deleted meanwhile.
    if (!current) throw new Error(`${ref}, matched by ${e.source}, could not be read`);
    const incoming = JSON.parse(r.resolve(JSON.stringify(e.resource))) as Resource;
    const merged = withoutSelfLinks(mergeInto(current, incoming, e.remove, e.partial));
    if (sameContent(current, merged)) continue;
    validateEntry(merged, e);
    current = merged;
  }
  return current === before ? undefined : current;
}

/** The entry's profiles; the base R4 validation is the repository's, on every write. */
function validateEntry(resource: Resource, e: PlanEntry): void {
  if (e.profiles.length) validate(resource, { profiles: e.profiles, profilesOnly: true });
}

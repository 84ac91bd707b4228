/**
 * @module workflows/apply-plan — writes a translated message (a plan, src/translate/hl7v2/plan.ts) in one database
 * transaction with HL7 v2 merge semantics, before the ACK.
 *
 * Two passes. First every entry finds its stored twin by its match (under the repository's advisory lock, so two
 * messages about the same patient cannot both create one) or gets a fresh id; entries refer to each other by
 * placeholder, and a match may name an earlier entry. Then every entry is written with the placeholders replaced
 * by `Type/id`: a new resource is created under its id; a stored one takes the message's values over its own —
 * fields the message leaves empty keep what is stored, fields sent as `""` remove what they feed, a valued field
 * replaces what it feeds and no more (one slice of an array several fields feed: `mergeInto`), identifiers and
 * links are united, never dropped — and is left untouched (no new version) when nothing changed. No resource gets
 * a link to itself. What is written is validated against the base specification and the entry's profiles.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import type { Repository } from '../store/repository.ts';
import { contentError } from '../translate/hl7v2/datatypes.ts';
import { inSlice, parsePart, type Part, type Plan, type PlanEntry } from '../translate/hl7v2/plan.ts';
import type { Hl7Applied as Applied } from './receive-hl7v2.ts';
import { validate } from '../validate/validator.ts';

/** Arrays united (by value) rather than replaced when a message meets a stored resource. */
const UNITED = ['identifier', 'link'] as const;

/** `within` runs inside the transaction after the writes (the caller records the message's outcome with them). */
export async function applyPlan(repo: Repository, plan: Plan, within?: (sql: Sql, applied: Applied) => Promise<void>): Promise<Applied> {
  return repo.transaction(async (tx) => {
    const ids = new Map<string, { type: string; id: string; existing: boolean }>();
    const resolve = (text: string): string => {
      let out = text;
      for (const e of plan.entries) {
        const target = ids.get(e.key);
        if (target) out = out.replaceAll(e.fullUrl, `${target.type}/${target.id}`);
      }
      return out;
    };
    // Pass 1 in waves: the entries whose matches name no unresolved entry are looked up together, in one
    // statement, and the misses locked together (store/match.ts lockAndMatchMany).
    let pending = plan.entries;
    // A match that requires a reference to a resource this message creates (`patient=<new Patient>`) cannot find
    // anything: the new id is unknown outside this transaction. It is not looked up, and needs no lock.
    const fresh = (value: string) => plan.entries.some((o) => o.fullUrl === value && ids.get(o.key)?.existing === false);
    const missesSurely = (e: PlanEntry) => e.match.split('&').some((part) => fresh(part.slice(part.indexOf('=') + 1)));
    while (pending.length > 0) {
      const waiting = (e: PlanEntry) => pending.some((o) => o !== e && e.match.includes(o.fullUrl));
      const wave = pending.filter((e) => !waiting(e));
      const ready = wave.length > 0 ? wave : [pending[0] as PlanEntry]; // a cycle cannot happen; never stall
      const looked = ready.filter((e) => !missesSurely(e));
      const hits = await tx.matchManyForWrite(looked.map((e) => ({ type: e.resource.resourceType, query: resolve(e.match), where: `${e.source} match` })));
      const found = ready.map((e) => (looked.includes(e) ? (hits[looked.indexOf(e)] as string[]) : []));
      ready.forEach((e, i) => {
        const type = e.resource.resourceType;
        const hits = found[i] as string[];
        if (hits.length > 1) throw contentError(`More than one ${type} matches the ${e.source} identifiers: cannot tell which to update`, e.source, '205');
        if (!hits[0] && e.mode === 'update-existing') throw contentError(`No active ${type} matches ${e.source}`, e.source, '204');
        ids.set(e.key, hits[0] ? { type, id: hits[0], existing: true } : { type, id: randomUUID(), existing: false });
      });
      pending = pending.filter((e) => !ready.includes(e));
    }
    // Pass 2: the writes of different resources go out together; entries that met the same stored resource
    // are written one after the other.
    const written: string[] = [];
    const byTarget = new Map<string, PlanEntry[]>();
    for (const e of plan.entries) {
      const target = ids.get(e.key) as { type: string; id: string; existing: boolean };
      if (e.distinctFrom && ids.get(e.distinctFrom)?.id === target.id) continue;
      const ref = `${target.type}/${target.id}`;
      written.push(ref);
      byTarget.set(ref, [...(byTarget.get(ref) ?? []), e]);
    }
    const applied = { resources: [...new Set(written)], unmapped: plan.unmapped };
    // The resources this message creates go in together, in one statement; each has an id of its own, so none
    // shares a target with another entry.
    const target = (e: PlanEntry) => ids.get(e.key) as { type: string; id: string; existing: boolean };
    const creates = [...byTarget.values()].filter((entries) => !target(entries[0] as PlanEntry).existing).map((entries) => entries[0] as PlanEntry);
    const updates = [...byTarget.values()].filter((entries) => target(entries[0] as PlanEntry).existing);
    await Promise.all([
      creates.length ? tx.createManyWithIds(creates.map((e) => ({ resource: newResource(e, target(e).id, resolve), id: target(e).id }))) : undefined,
      ...updates.map(async (entries) => {
        for (const e of entries) await writeEntry(tx, e, target(e), resolve);
      }),
      within?.(tx.sql, applied),
    ]);
    return applied;
  });
}

/** An entry's resource as it is created: placeholders resolved, its defaults under it, checked against its profiles. */
function newResource(e: PlanEntry, id: string, resolve: (text: string) => string): Resource {
  const created = withoutSelfLinks({ ...e.defaults, ...(JSON.parse(resolve(JSON.stringify(e.resource))) as Resource), id } as Resource);
  validateEntry(created, e);
  return created;
}

/** An entry that met a stored resource: the message's values merged over it (a new version only if changed). */
async function writeEntry(tx: Repository, e: PlanEntry, target: { type: string; id: string; existing: boolean }, resolve: (text: string) => string): Promise<void> {
  if (e.mode === 'ensure') return;
  const incoming = JSON.parse(resolve(JSON.stringify(e.resource))) as Resource;
  const stored = await tx.read(target.type, target.id);
  const merged = withoutSelfLinks(mergeInto(stored, incoming, e.remove, e.partial));
  if (sameContent(stored, merged)) return;
  validateEntry(merged, e);
  await tx.update(merged);
}

/** The entry's profiles; the base R4 validation is the repository's, on every write. */
function validateEntry(resource: Resource, e: PlanEntry): void {
  if (e.profiles.length) validate(resource, { profiles: e.profiles, profilesOnly: true });
}

/**
 * A resource never links to itself: an A40 whose merged patient turns out to be the survivor (the merge sent
 * again, or PID-3 and MRG-1 naming one patient) would give the survivor a `replaces` link to its own id.
 */
function withoutSelfLinks<T extends Resource>(resource: T): T {
  const r = resource as T & { link?: { other?: { reference?: string } }[] };
  if (!Array.isArray(r.link)) return resource;
  const link = r.link.filter((l) => l.other?.reference !== `${resource.resourceType}/${resource.id}`);
  if (link.length === r.link.length) return resource;
  const { link: _dropped, ...rest } = r;
  return (link.length ? { ...rest, link } : rest) as T;
}

/**
 * The message's values over the stored ones. First the parts the sender deleted (`""`) go from what is stored;
 * then each element the message sets replaces the stored one — only in the parts it sets where several fields
 * feed the element (`partial`: the stored items of those slices, or those members, are replaced, the rest kept) —
 * and identifiers and links are united, never dropped.
 */
export function mergeInto<T extends Resource>(stored: T, incoming: T, remove: string[], partial: string[] = []): T {
  // A shallow copy is enough: removals and merged parts build new elements, they never change the stored ones.
  const base = { ...stored } as unknown as Record<string, unknown>;
  for (const part of remove) removePart(base, parsePart(part));
  const parts = partial.map(parsePart);
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(JSON.parse(JSON.stringify(incoming)) as Record<string, unknown>)) {
    if (value === undefined || (UNITED as readonly string[]).includes(key)) continue;
    const own = parts.filter((p) => p.element === key);
    merged[key] = own.length ? mergeParts(base[key], value, own) : value;
  }
  for (const key of UNITED) {
    const all = [...((base[key] as unknown[] | undefined) ?? []), ...(((incoming as unknown as Record<string, unknown>)[key] as unknown[] | undefined) ?? [])];
    if (!all.length) continue;
    const seen = new Set<string>();
    merged[key] = all.filter((v) => {
      const k = key === 'identifier' ? `${(v as { system?: string }).system}|${(v as { value?: string }).value}` : JSON.stringify(v);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }
  // A choice sent as `true` (PID-30 Y: deceasedBoolean) next to a stored variant that says more (deceasedDateTime)
  // keeps the stored one: the flag adds nothing, and both together would be invalid.
  for (const [key, value] of Object.entries(incoming as unknown as Record<string, unknown>)) {
    if (value !== true || !key.endsWith('Boolean')) continue;
    const choice = key.slice(0, -'Boolean'.length);
    if (Object.keys(base).some((k) => k !== key && k.startsWith(choice) && /^[A-Z]/.test(k.slice(choice.length)))) delete merged[key];
  }
  merged.id = stored.id;
  merged.meta = stored.meta;
  return merged as unknown as T;
}

/** Deletes a part: the element, its member, or the items of its slice (an element left empty goes). */
function removePart(r: Record<string, unknown>, p: Part): void {
  const v = r[p.element];
  if (p.member && v && typeof v === 'object' && !Array.isArray(v)) {
    const { [p.member]: _gone, ...rest } = v as Record<string, unknown>;
    if (Object.keys(rest).length) r[p.element] = rest;
    else delete r[p.element];
  } else if (p.slice && Array.isArray(v)) {
    const kept = v.filter((item) => !inSlice(item, p.slice as NonNullable<Part['slice']>));
    if (kept.length) r[p.element] = kept;
    else delete r[p.element];
  } else if (!p.member && !p.slice) delete r[p.element];
}

/**
 * The message's parts of an element over the stored element: members over the stored object; for slices, the
 * stored items in them (and any stored copy of an item the message sends) give way to the message's items, which
 * take the place of the first of them, so an unchanged message leaves the array as it was.
 */
function mergeParts(stored: unknown, incoming: unknown, parts: Part[]): unknown {
  if (parts.every((p) => p.member)) return { ...(stored as object | undefined), ...(incoming as object) };
  if (!Array.isArray(stored) || !Array.isArray(incoming)) return incoming;
  const same = new Set(incoming.map((i) => JSON.stringify(sortKeys(i))));
  const replaced = (item: unknown) => parts.some((p) => p.slice && inSlice(item, p.slice)) || same.has(JSON.stringify(sortKeys(item)));
  const out: unknown[] = [];
  let placed = false;
  for (const item of stored) {
    if (!replaced(item)) out.push(item);
    else if (!placed) {
      out.push(...incoming);
      placed = true;
    }
  }
  if (!placed) out.push(...incoming);
  return out;
}

function sameContent(a: Resource, b: Resource): boolean {
  const strip = (r: Resource) => JSON.stringify(sortKeys({ ...r, meta: undefined }));
  return strip(a) === strip(b);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, sortKeys(x)])
    );
  }
  return v;
}

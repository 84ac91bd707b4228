/**
 * @module workflows/plan-merge — how a message's values meet a stored resource (HL7 v2 merge semantics): fields
 * the message leaves empty keep what is stored, fields sent as `""` remove what they feed, a valued field replaces
 * what it feeds and no more (one slice of an array several fields feed), identifiers and links are united, never
 * dropped; and a resource never links to itself. Pure functions: ./apply-plan.ts applies them.
 */
import type { Resource } from '@medplum/fhirtypes';
import { inSlice, parsePart, type Part } from '../translate/hl7v2/plan.ts';

/** Arrays united (by value) rather than replaced when a message meets a stored resource. */
const UNITED = ['identifier', 'link'] as const;

/**
 * A resource never links to itself: an A40 whose merged patient turns out to be the survivor (the merge sent
 * again, or PID-3 and MRG-1 naming one patient) would give the survivor a `replaces` link to its own id.
 */
export function withoutSelfLinks<T extends Resource>(resource: T): T {
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
    const all = [
      ...((base[key] as unknown[] | undefined) ?? []),
      ...(((incoming as unknown as Record<string, unknown>)[key] as unknown[] | undefined) ?? []),
    ];
    if (!all.length) continue;
    const seen = new Set<string>();
    merged[key] = all.filter((v) => {
      const k =
        key === 'identifier'
          ? `${(v as { system?: string }).system}|${(v as { value?: string }).value}`
          : JSON.stringify(v);
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
    if (Object.keys(base).some((k) => k !== key && k.startsWith(choice) && /^[A-Z]/.test(k.slice(choice.length))))
      delete merged[key];
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
  const replaced = (item: unknown) =>
    parts.some((p) => p.slice && inSlice(item, p.slice)) || same.has(JSON.stringify(sortKeys(item)));
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

export function sameContent(a: Resource, b: Resource): boolean {
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

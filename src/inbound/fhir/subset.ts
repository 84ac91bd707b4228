/**
 * @module inbound/fhir/subset — `_summary=true` and `_elements` (search.html#summary, search.html#elements):
 * only some top-level elements are returned, and the resource is tagged SUBSETTED.
 */
import type { Resource } from '@medplum/fhirtypes';
import { baseDefinition } from '../../validate/definitions.ts';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };
const summaries = new Map<string, Set<string>>();

/** Top-level elements marked isSummary in the R4 StructureDefinition. */
export function summaryElements(type: string): Set<string> {
  let s = summaries.get(type);
  if (!s) {
    s = new Set(
      (baseDefinition(type)?.snapshot?.element ?? [])
        .filter((e) => e.isSummary && e.path.split('.').length === 2)
        .map((e) => (e.path.split('.')[1] as string).replace('[x]', ''))
    );
    summaries.set(type, s);
  }
  return s;
}

export function subset<T extends Resource>(resource: T, keep: ReadonlySet<string>): T {
  const out: Record<string, unknown> = { resourceType: resource.resourceType, id: resource.id };
  for (const [k, v] of Object.entries(resource)) {
    if (k === 'resourceType' || k === 'id' || k === 'meta') continue;
    const bare = k.startsWith('_') ? k.slice(1) : k;
    // choice elements: `value[x]` kept as `value` also keeps valueString, valueQuantity, …
    const kept = keep.has(bare) || [...keep].some((name) => bare.startsWith(name) && /^[A-Z]/.test(bare.slice(name.length)));
    if (kept) out[k] = v;
  }
  out.meta = { ...resource.meta, tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return out as T;
}

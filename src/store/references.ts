/**
 * @module store/references — walks a resource's references: rewrites them (transaction `urn:uuid:`
 * placeholders) and resolves conditional ones (`Patient?identifier=system|value`, http.html#trules).
 */
import type { Resource } from '@medplum/fhirtypes';

export type ReferenceSite = { path: string; value: string; set: (v: string) => void };

/** Every `reference` string inside `resource` (contained resources included), with its FHIRPath. */
export function referenceSites(resource: Resource): ReferenceSite[] {
  const sites: ReferenceSite[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${path}[${i}]`));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(obj)) {
      if (key === 'reference' && typeof value === 'string') {
        sites.push({ path: `${path}.reference`, value, set: (v) => (obj[key] = v) });
      } else if (typeof value === 'object') {
        walk(value, `${path}.${key}`);
      }
    }
  };
  walk(resource, resource.resourceType);
  return sites;
}

/** A conditional reference is `Type?query` (a search URL), as opposed to `Type/id`, `#local` or a URL. */
export function isConditionalReference(ref: string): boolean {
  return /^[A-Z][A-Za-z]+\?/.test(ref);
}

/**
 * Replaces `reference` values that are keys of `map` (the `urn:uuid:` fullUrls of a transaction) with the
 * identities they got. Only references: an identifier or a note that happens to hold the same text is data.
 */
export function rewriteReferences<T>(node: T, map: ReadonlyMap<string, string>): T {
  if (map.size === 0) return node;
  const visit = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(visit);
    if (n !== null && typeof n === 'object') {
      return Object.fromEntries(
        Object.entries(n).map(([k, v]) => [k, k === 'reference' && typeof v === 'string' ? (map.get(v) ?? v) : visit(v)])
      );
    }
    return n;
  };
  return visit(node) as T;
}

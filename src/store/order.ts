/**
 * @module store/order — puts a resource's top-level elements back in FHIR order after a trip through `jsonb`.
 *
 * `jsonb` stores object keys sorted by length, so `resourceType` would come out after `id` and `gender`. Clients
 * and people reading payloads expect `resourceType`, `id`, `meta` first and the element order of the
 * StructureDefinition after that (json.html: "resourceType SHOULD be first").
 */
import type { Resource } from '@medplum/fhirtypes';
import { baseDefinition } from '../validate/definitions.ts';

const orders = new Map<string, Map<string, number>>();

function orderOf(type: string): Map<string, number> {
  let order = orders.get(type);
  if (!order) {
    order = new Map([['resourceType', -1]]);
    for (const e of baseDefinition(type)?.snapshot?.element ?? []) {
      const parts = e.path.split('.');
      if (parts.length !== 2) continue;
      const name = (parts[1] as string).replace('[x]', '');
      order.set(name, order.size);
    }
    orders.set(type, order);
  }
  return order;
}

export function canonicalOrder<T extends Resource>(resource: T): T {
  const order = orderOf(resource.resourceType);
  const rank = (key: string): number => {
    const bare = key.startsWith('_') ? key.slice(1) : key;
    const exact = order.get(bare);
    if (exact !== undefined) return exact + (key.startsWith('_') ? 0.5 : 0);
    // choice elements: valueString → value[x]
    for (const [name, i] of order) if (bare.startsWith(name) && /^[A-Z]/.test(bare.slice(name.length))) return i;
    return Number.MAX_SAFE_INTEGER;
  };
  const keys = Object.keys(resource).sort((a, b) => rank(a) - rank(b));
  return Object.fromEntries(keys.map((k) => [k, resource[k as keyof T]])) as unknown as T;
}

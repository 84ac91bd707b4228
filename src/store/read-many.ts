/**
 * @module store/read-many — the current versions of several resources in one statement: what the resources an
 * HL7 v2 batch meets are read with before the message's values are merged over them (workflows/apply-plan.ts).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { canonicalOrder } from './order.ts';

/** Current, not deleted, by `Type/id`; a reference missing from the answer is unknown or deleted. */
export async function readMany(sql: Sql, refs: { type: string; id: string }[]): Promise<Map<string, Resource>> {
  const out = new Map<string, Resource>();
  if (refs.length === 0) return out;
  const rows = await sql<{ content: Resource }[]>`
    SELECT r.content FROM resource r
    JOIN unnest(${refs.map((r) => r.type)}::text[], ${refs.map((r) => r.id)}::text[]) AS k(t, i)
      ON r.resource_type = k.t AND r.id = k.i
    WHERE NOT r.deleted`;
  for (const { content } of rows) out.set(`${content.resourceType}/${content.id}`, canonicalOrder(content));
  return out;
}

/**
 * @module store/match — the resources a conditional search names (conditional create, update and delete,
 * conditional references, the entries of an HL7 v2 plan): their ids, at most two (one decides, two prove
 * ambiguity).
 */
import { splitSearchOnComma, type SearchRequest } from '@medplum/core';
import type { Sql } from 'postgres';
import { buildWhere } from './search-sql.ts';

/** `refuse` is called with the parameters a condition cannot use, and throws. */
export async function matchIds(sql: Sql, search: SearchRequest, baseUrl: string, refuse: (unsupported: string) => never): Promise<string[]> {
  const built = buildWhere(sql, search, baseUrl);
  if (built.unsupported.length > 0) refuse(built.unsupported.join(', '));
  const rows = built.ids
    ? await sql<{ id: string }[]>`${built.ids} LIMIT 2`
    : await sql<{ id: string }[]>`SELECT r.id FROM resource r WHERE ${built.where} LIMIT 2`;
  return rows.map((r) => r.id);
}

/**
 * The same, for a write that creates on a miss: after a miss, a transaction-scoped advisory lock on the
 * normalised search is held until the transaction ends, so two writers cannot both create. When a match exists
 * nobody can create a second one, so no lock is taken (ADT messages naming one payer do not queue behind each
 * other) and the statement is planned once, not twice. After a miss, the lock and the second look are sent
 * together (one round trip): the connection runs them in order, so the second look happens under the lock.
 */
export async function lockAndMatch(sql: Sql, search: SearchRequest, baseUrl: string, refuse: (unsupported: string) => never): Promise<string[]> {
  const first = await matchIds(sql, search, baseUrl, refuse);
  if (first.length > 0) return first;
  // postgres.js sends a query when it is awaited: `execute()` sends the locks now, before the look that follows.
  // Sorted, so that two writers wanting the same keys take them in the same order.
  const lock = sql`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(${lockKeys(search)}::text[]) AS k ORDER BY k`.execute();
  const [, ids] = await Promise.all([lock, matchIds(sql, search, baseUrl, refuse)]);
  return ids;
}

/**
 * What a creating writer locks. A match by identifiers locks each identifier (`Patient|identifier=s|v`): two
 * messages naming one new patient by different lists of identifiers (`A~B`, `B~C`) share a lock and cannot both
 * create it. Any other match locks its whole normalised search.
 */
export function lockKeys(search: SearchRequest): string[] {
  const identifiers = (search.filters ?? []).filter((f) => f.code === 'identifier' && f.operator === 'eq');
  if (identifiers.length) return [...new Set(identifiers.flatMap((f) => splitSearchOnComma(f.value).map((v) => `${search.resourceType}|identifier=${v}`)))];
  return [
    `${search.resourceType}?${(search.filters ?? [])
      .map((f) => `${f.code}:${f.operator}=${f.value}`)
      .sort()
      .join('&')}`,
  ];
}

/**
 * @module store/match — the resources a conditional search names (conditional create, update and delete,
 * conditional references, the entries of an HL7 v2 plan): their ids, at most two (one decides, two prove
 * ambiguity).
 */
import type { SearchRequest } from '@medplum/core';
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
  const key = `${search.resourceType}?${(search.filters ?? [])
    .map((f) => `${f.code}:${f.operator}=${f.value}`)
    .sort()
    .join('&')}`;
  // postgres.js sends a query when it is awaited: `execute()` sends the lock now, before the look that follows.
  const lock = sql`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`.execute();
  const [, ids] = await Promise.all([lock, matchIds(sql, search, baseUrl, refuse)]);
  return ids;
}

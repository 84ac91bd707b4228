/**
 * @module store/history — instance, type or system history, newest first (http.html#history).
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { canonicalOrder } from './order.ts';

export type HistoryEntry = { type: string; id: string; version: number; lastUpdated: string; resource?: Resource };

type Row = { resource_type: string; id: string; version_id: string; last_updated: Date; content: Resource | null };

export async function readHistory(
  sql: Sql,
  q: { type: string | undefined; id: string | undefined; count: number; offset: number; since: string | undefined }
): Promise<HistoryEntry[]> {
  const rows = await sql<Row[]>`
    SELECT resource_type, id, version_id, last_updated, content FROM resource_history
    WHERE true
      ${q.type ? sql`AND resource_type = ${q.type}` : sql``}
      ${q.id ? sql`AND id = ${q.id}` : sql``}
      ${q.since ? sql`AND last_updated >= ${q.since}` : sql``}
    ORDER BY last_updated DESC, version_id DESC
    LIMIT ${q.count} OFFSET ${q.offset}`;
  return rows.map((r) => ({
    type: r.resource_type,
    id: r.id,
    version: Number(r.version_id),
    lastUpdated: r.last_updated.toISOString(),
    resource: r.content ? canonicalOrder(r.content) : undefined,
  }));
}

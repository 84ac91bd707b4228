/**
 * @module store/audit-shapes — the ids of AuditEvent term shapes (./audit-terms.ts): the distinct sets of shared
 * terms, stored once each in `audit_shape`.
 *
 * A process remembers the shapes it has met; a new one is registered (by its key, so processes registering the
 * same shape at once get one row) in a statement of its own, committed before any record points at it. A trail
 * runs for months with a few hundred shapes: clients × addresses × interactions × outcomes.
 */
import type { Sql } from 'postgres';
import type { SplitTerms } from './audit-terms.ts';

/** Past this many shapes remembered, the memory starts again (they are read back as met). */
const MAX_KNOWN = 10_000;

export class AuditShapes {
  private readonly sql: Sql;
  private readonly known = new Map<string, number>();

  /** `sql`: a pool, or a transaction whose shapes are forgotten with it (a new AuditShapes per transaction). */
  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** The shape id of each record's terms, registering the shapes not met before. */
  async ids(records: SplitTerms[]): Promise<number[]> {
    const fresh = new Map<string, string[]>();
    for (const r of records) if (!this.known.has(r.key)) fresh.set(r.key, r.shared);
    if (fresh.size > 0) await this.register(fresh);
    return records.map((r) => this.known.get(r.key)!);
  }

  private async register(shapes: Map<string, string[]>): Promise<void> {
    const doc = JSON.stringify([...shapes].map(([key, terms]) => ({ key, terms })));
    await this.sql`INSERT INTO audit_shape (key, terms)
      SELECT x.key, ARRAY(SELECT json_array_elements_text(x.terms))
      FROM json_to_recordset(${doc}::text::json) AS x(key text, terms json)
      ON CONFLICT (key) DO NOTHING`;
    const rows = await this.sql<{ id: number; key: string }[]>`
      SELECT id, key FROM audit_shape WHERE key = ANY(${[...shapes.keys()]}::text[])`;
    if (this.known.size + rows.length > MAX_KNOWN) this.known.clear();
    for (const r of rows) this.known.set(r.key, r.id);
  }
}

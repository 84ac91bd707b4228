/**
 * Migration 0018 moves the AuditEvent terms many records share into shapes (src/store/audit-shapes.ts). A cluster
 * at migration 0017 gets a trail the way the 0017 gateway wrote it (every term beside its record); after the
 * migration, every query answers what the generic search answers over copies of the same events, `audit verify`
 * passes, and a gateway appending the same kinds of events afterwards finds the shapes the migration made.
 */
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, chainHash } from '../../src/audit/trail.ts';
import { verifyAuditTrail } from '../../src/audit/verify.ts';
import { auditTerms } from '../../src/store/audit-terms.ts';
import { migrate } from '../../src/store/migrate.ts';
import { search } from '../../src/store/search.ts';
import { answersOverCopies, auditEvents, auditQueries, ids, request } from '../helpers/audit-events.ts';
import { databaseBefore } from '../helpers/database.ts';

const BASE = 'http://localhost/fhir';
let sql: Sql;
let end: () => Promise<void>;

beforeAll(async () => ({ sql, end } = await databaseBefore('0018')));
afterAll(async () => end?.());

/** Appends as the 0017 gateway did: the record, and all its terms in its audit_search row. */
async function appendAt0017(list: AuditEvent[]): Promise<void> {
  const [head] = await sql<{ seq: string; hash: Buffer }[]>`SELECT seq, hash FROM audit_head WHERE id = 1`;
  let seq = Number(head!.seq);
  let prev = head!.hash;
  for (const e of list) {
    seq += 1;
    const stored = { ...e, id: `r17-${seq}`, meta: { versionId: '1', lastUpdated: e.recorded } };
    const content = JSON.stringify(stored);
    const hash = chainHash(prev, content);
    await sql`INSERT INTO audit_log (seq, id, recorded, content, prev_hash, hash)
      VALUES (${seq}, ${stored.id}, ${e.recorded!}, ${content}, ${prev}, ${hash})`;
    await sql`INSERT INTO audit_search (seq, terms) VALUES (${seq}, ${auditTerms(stored as never)})`;
    await sql`UPDATE audit_head SET seq = ${seq}, hash = ${hash} WHERE id = 1`;
    prev = hash;
  }
}

describe('migration 0018: AuditEvent term shapes', () => {
  it('keeps every answer and the verified chain, and later appends reuse the shapes it made', async () => {
    // Twice the same events under two tags: records with equal shared terms must end up sharing one shape.
    await appendAt0017([...auditEvents('m1', 0), ...auditEvents('m1', 200)]);
    await appendAt0017(auditEvents('m2', 400));
    expect(await migrate(sql)).toEqual(['0018_audit_shape.sql']);

    const [{ records, shapes } = { records: 0, shapes: 0 }] = await sql<{ records: number; shapes: number }[]>`
      SELECT count(*)::int AS records, count(DISTINCT shape)::int AS shapes FROM audit_search`;
    expect(records).toBe(24);
    expect(shapes).toBeLessThan(records);
    const [{ own } = { own: 0 }] = await sql<{ own: number }[]>`
      SELECT count(*)::int AS own FROM audit_search, unnest(terms) t
      WHERE left(t, 2) = 'p:' OR (left(t, 2) = 't:' AND t !~ '^t:[^:|]+:identifier:')`;
    expect(own).toBe(0);

    const rows = await sql<{ id: string; content: string }[]>`SELECT id, content FROM audit_log ORDER BY seq`;
    const queries = [...auditQueries('m1'), ...auditQueries('m2')];
    const generic = await answersOverCopies(sql, rows, queries, BASE);
    expect([...generic.values()].filter((v) => v.length > 0).length).toBeGreaterThan(40);
    for (const q of queries)
      expect({ q, ids: ids(await search(sql, request(q), BASE)) }).toEqual({ q, ids: generic.get(q) });
    expect(await verifyAuditTrail(sql)).toMatchObject({ ok: true, checked: 24, problems: [] });

    const shapesBefore = (await sql`SELECT id FROM audit_shape`).length;
    const trail = new AuditTrail(sql);
    await Promise.all(auditEvents('m1', 600).map((e) => trail.record(e)));
    expect((await sql`SELECT id FROM audit_shape`).length).toBe(shapesBefore);
    expect(await verifyAuditTrail(sql)).toMatchObject({ ok: true, checked: 32, problems: [] });
  });
});

/**
 * AuditEvent search from the log (migration 0017, src/store/audit-search.ts) against the generic search it
 * replaced. A cluster at migration 0016 gets a trail the way the earlier gateway wrote it — log records plus
 * searchable copies, the last two not projected yet — and every query is answered by the generic engine over
 * those copies. Then the cluster migrates and starts on the new code: the same queries must return the same
 * events, the two unprojected ones included, and `audit verify` passes. Events appended afterwards are checked the
 * same way, against copies written for the comparison only.
 */
import type { AuditEvent } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail, chainHash, indexUnindexedRecords } from '../../src/audit/trail.ts';
import { verifyAuditTrail } from '../../src/audit/verify.ts';
import { migrate } from '../../src/store/migrate.ts';
import { search, searchResourceTable } from '../../src/store/search.ts';
import { writeNewResources } from '../../src/store/write.ts';
import {
  answersOverCopies,
  auditEvents as events,
  auditQueries as queries,
  ids,
  request,
} from '../helpers/audit-events.ts';
import { databaseBefore } from '../helpers/database.ts';

const BASE = 'http://localhost/fhir';
let sql: Sql;
let end: () => Promise<void>;

beforeAll(async () => ({ sql, end } = await databaseBefore('0017')));
afterAll(async () => end?.());

/** Appends the way the gateway before migration 0017 did: the record, then (if projected) its searchable copy. */
async function appendOld(list: AuditEvent[], projected: number): Promise<void> {
  const [head] = await sql<{ seq: string; hash: Buffer }[]>`SELECT seq, hash FROM audit_head WHERE id = 1`;
  let seq = Number(head!.seq);
  let prev = head!.hash;
  for (const [i, e] of list.entries()) {
    const stored = { ...e, id: `old-${seq + 1}`, meta: { versionId: '1', lastUpdated: e.recorded } };
    const content = JSON.stringify(stored);
    const hash = chainHash(prev, content);
    seq += 1;
    await sql`INSERT INTO audit_log (seq, id, recorded, content, prev_hash, hash) VALUES (${seq}, ${stored.id}, ${e.recorded!}, ${content}, ${prev}, ${hash})`;
    await sql`UPDATE audit_head SET seq = ${seq}, hash = ${hash} WHERE id = 1`;
    prev = hash;
    if (i < projected) {
      await writeNewResources(sql, [
        { type: 'AuditEvent', id: stored.id, lastUpdated: e.recorded!, resource: stored as AuditEvent },
      ]);
      await sql`UPDATE audit_projection SET seq = ${seq} WHERE id = 1`;
    }
  }
}

describe('AuditEvent search from the log', () => {
  it('answers as the generic search did, across the migration, the unprojected records included', async () => {
    const old = events('old', 0);
    await appendOld(old, old.length);
    const before = new Map<string, (string | undefined)[]>();
    for (const q of queries('old')) before.set(q, ids(await searchResourceTable(sql, request(q), BASE)));
    expect([...before.values()].filter((v) => v.length > 0).length).toBe(before.size - 2); // the queries say something
    // The last two records were appended but not projected when the old gateway stopped.
    await sql`DELETE FROM search_token WHERE id IN ('old-7', 'old-8')`;
    await sql`DELETE FROM search_string WHERE id IN ('old-7', 'old-8')`;
    await sql`DELETE FROM search_reference WHERE id IN ('old-7', 'old-8')`;
    await sql`DELETE FROM search_date WHERE id IN ('old-7', 'old-8')`;
    await sql`DELETE FROM resource_history WHERE id IN ('old-7', 'old-8')`;
    await sql`DELETE FROM resource WHERE id IN ('old-7', 'old-8')`;
    await sql`UPDATE audit_projection SET seq = 6 WHERE id = 1`;

    expect(await migrate(sql)).toContain('0017_audit_search.sql');
    expect(await indexUnindexedRecords(sql)).toBe(2);
    expect(await indexUnindexedRecords(sql)).toBe(0); // once
    for (const q of queries('old'))
      expect({ q, ids: ids(await search(sql, request(q), BASE)) }).toEqual({ q, ids: before.get(q) });
    expect(await verifyAuditTrail(sql)).toMatchObject({ ok: true, checked: 8, problems: [] });
  });

  it('answers for new records as the generic search does over copies of them', async () => {
    const trail = new AuditTrail(sql);
    const fresh = events('new', 120);
    await Promise.all(fresh.map((e) => trail.record(e)));
    const rows = await sql<
      { id: string; content: string }[]
    >`SELECT id, content FROM audit_log WHERE content LIKE '%-new%'`;
    expect(rows).toHaveLength(fresh.length);
    const got = new Map<string, (string | undefined)[]>();
    const mine = (found: (string | undefined)[]) => found.filter((id) => rows.some((r) => r.id === id));
    for (const q of queries('new')) got.set(q, mine(ids(await search(sql, request(q), BASE))));
    const generic = await answersOverCopies(sql, rows, queries('new'), BASE);
    for (const q of queries('new')) expect({ q, ids: got.get(q) }).toEqual({ q, ids: generic.get(q) });
  });
});

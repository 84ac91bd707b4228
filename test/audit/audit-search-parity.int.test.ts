/**
 * AuditEvent search from the log (migration 0017, src/store/audit-search.ts) against the generic search it
 * replaced. A cluster at migration 0016 gets a trail the way the earlier gateway wrote it — log records plus
 * searchable copies, the last two not projected yet — and every query is answered by the generic engine over
 * those copies. Then the cluster migrates and starts on the new code: the same queries must return the same
 * events, the two unprojected ones included, and `audit verify` passes. Events appended afterwards are checked the
 * same way, against copies written for the comparison only.
 */
import { parseSearchRequest } from '@medplum/core';
import type { AuditEvent } from '@medplum/fhirtypes';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageEvent, restEvent } from '../../src/audit/events.ts';
import { AuditTrail, chainHash, indexUnindexedRecords } from '../../src/audit/trail.ts';
import { verifyAuditTrail } from '../../src/audit/verify.ts';
import { connect } from '../../src/store/db.ts';
import { migrate, MIGRATIONS_DIR } from '../../src/store/migrate.ts';
import { search, searchResourceTable } from '../../src/store/search.ts';
import { writeNewResources } from '../../src/store/write.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';

const BASE = 'http://localhost/fhir';
let sql: Sql;
let dir: string;

beforeAll(async () => {
  sql = connect(await freshDatabase(), 4);
  dir = await mkdtemp(join(tmpdir(), 'fd-mig16-'));
  for (const f of await readdir(MIGRATIONS_DIR)) if (f < '0017') await cp(join(MIGRATIONS_DIR, f), join(dir, f));
  await migrate(sql, dir);
});
afterAll(async () => {
  await sql?.end();
  await rm(dir, { recursive: true, force: true });
  await dropAll();
});

const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();

/** A varied trail: reads and searches by two clients, refusals, messages in and out with partners. */
function events(tag: string, minute: number): AuditEvent[] {
  const rest = (
    clientId: string | undefined,
    address: string,
    method: string,
    interaction: string,
    status: number,
    refs: string[],
    patients: string[],
    query?: string
  ) => restEvent({ clientId, address, method, interaction, status, references: refs, patients, query });
  const message = (
    direction: 'inbound' | 'outbound',
    type: string,
    control: string,
    ack: string,
    resources: string[],
    partner?: string
  ) =>
    messageEvent({
      direction,
      protocol: 'HL7v2',
      messageType: type,
      controlId: control,
      messageId: `m-${control}`,
      peer: '10.1.0.4',
      sender: 'CLINIC^FAC',
      ack,
      resources,
      partner,
    });
  const list = [
    rest(`client-a-${tag}`, '10.0.0.5', 'GET', 'read', 200, [`Patient/p1-${tag}`], [`Patient/p1-${tag}`]),
    rest(`client-a-${tag}`, '10.0.0.5', 'POST', 'create', 201, [`Patient/p2-${tag}`], [`Patient/p2-${tag}`]),
    rest(
      `client-b-${tag}`,
      '10.0.0.6',
      'GET',
      'search-type',
      200,
      [`Patient/p1-${tag}`, `Coverage/c1-${tag}`],
      [`Patient/p1-${tag}`],
      'family=Quill'
    ),
    rest(undefined, '10.0.0.7', 'GET', 'read', 401, [`Patient/p2-${tag}`], []),
    rest(`client-b-${tag}`, '10.0.0.6', 'PUT', 'update', 500, [`Appointment/a1-${tag}`], []),
    message('inbound', 'ADT^A04', `CTRL-IN-${tag}`, 'AA', [`Patient/p1-${tag}`], `Organization/org-${tag}`),
    message('outbound', 'REF^I12', `CTRL-OUT-${tag}`, 'AE', [`ServiceRequest/s1-${tag}`]),
    message('inbound', 'SIU^S12', `CTRL-SIU-${tag}`, 'AR', []),
  ];
  return list.map((e, i) => ({ ...e, recorded: at(minute + i * 10) }));
}

function queries(tag: string): string[] {
  return [
    `patient=Patient/p1-${tag}`,
    `entity=Patient/p2-${tag}`,
    `entity=p1-${tag}`,
    `entity:Coverage=c1-${tag}`,
    `altid=client-a-${tag}`,
    `altid=client-a-${tag},client-b-${tag}`,
    `altid:not=client-a-${tag}`,
    'subtype=read',
    'subtype=http://hl7.org/fhir/restful-interaction|create',
    'subtype=http://hl7.org/fhir/restful-interaction|',
    'subtype=urn:frontdesk:message-type|ADT^A04',
    'type=110107',
    'type=http://dicom.nema.org/resources/ontology/DCM|110106',
    'outcome=4',
    'outcome:not=0',
    'action=R',
    `entity-name=ctrl-in-${tag}`,
    `entity-name:exact=CTRL-OUT-${tag}`,
    `agent:identifier=urn:frontdesk:client-id|client-b-${tag}`,
    'agent:identifier=CLINIC^FAC',
    `agent=Organization/org-${tag}`,
    'address=10.0.0.7',
    'entity-role=4',
    'entity-type=2',
    'entity:missing=true',
    'source:missing=true',
    'date=2026-12-01',
    `date=ge${at(40)}`,
    `date=lt${at(30)}&altid=client-a-${tag}`,
    'date=gt2026-12-01T11:00:00Z&outcome=0',
    `patient=Patient/p1-${tag}&subtype=search-type`,
  ];
}

const ids = (found: { resources: { id?: string }[] }) => found.resources.map((r) => r.id).sort();
const request = (q: string) => ({
  ...parseSearchRequest('AuditEvent', Object.fromEntries(new URLSearchParams(q))),
  count: 1000,
});

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
    for (const q of queries('new')) got.set(q, ids(await search(sql, request(q), BASE)));
    // The copies exist only for the comparison: the generic engine reads them, the gateway never does.
    await writeNewResources(
      sql,
      rows.map((r) => {
        const resource = JSON.parse(r.content) as AuditEvent & { id: string; meta: { lastUpdated: string } };
        return { type: 'AuditEvent', id: r.id, lastUpdated: resource.meta.lastUpdated, resource };
      })
    );
    for (const q of queries('new')) {
      const generic = ids(await searchResourceTable(sql, request(q), BASE)).filter((id) =>
        rows.some((r) => r.id === id)
      );
      expect({ q, ids: got.get(q)!.filter((id) => rows.some((r) => r.id === id)) }).toEqual({ q, ids: generic });
    }
  });
});

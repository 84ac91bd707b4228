import { execFile } from 'node:child_process';
import { connect as tcp } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restEvent } from '../../src/audit/events.ts';
import { AuditTrail } from '../../src/audit/trail.ts';
import { frame } from '../../src/inbound/mllp/framer.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { client, getToken, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

const run = promisify(execFile);
let g: TestGateway;
let dbUrl: string;
let fhir: ReturnType<typeof client>;

beforeAll(async () => {
  // A database of its own: these tests tamper with the trail on purpose.
  dbUrl = await freshDatabase();
  g = await testGateway({ DATABASE_URL: dbUrl });
  fhir = client(g);
});
afterAll(async () => {
  await g?.stop();
  await dropAll();
});

const auditSearch = async (query: string) => (await fhir('GET', `AuditEvent?${query}&_count=100`)).body.entry.map((e: any) => e.resource);

async function verify(): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, ['src/cli.ts', 'audit', 'verify'], { env: { ...process.env, DATABASE_URL: dbUrl } });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('audit trail of the FHIR door', () => {
  it('records who read which patient, and makes it searchable by patient, client, entity and date', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const { body: p } = await fhir('POST', 'Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:t', value: unique() }], name: [{ family: 'Audited' }] });
    await fhir('GET', `Patient/${p.id}`);
    const byPatient = await auditSearch(`patient=Patient/${p.id}`);
    const subtypes = byPatient.map((e: any) => e.subtype[0].code).sort();
    expect(subtypes).toEqual(['create', 'read']);
    const read = byPatient.find((e: any) => e.subtype[0].code === 'read');
    expect(read.action).toBe('R');
    expect(read.outcome).toBe('0');
    expect(read.agent[0].who.identifier.value).toBe(g.credentials.id);
    expect(read.agent[0].network.address).toMatch(/127\.0\.0\.1/);
    expect((await auditSearch(`entity=Patient/${p.id}&date=ge${since}`)).length).toBe(2);
    expect((await auditSearch(`altid=${g.credentials.id}&patient=Patient/${p.id}`)).length).toBe(2);
  });

  it('records searches with the query, and the patients in the results', async () => {
    const mrn = unique();
    const { body: p } = await fhir('POST', 'Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:t', value: mrn }], name: [{ family: 'Searched' }] });
    await fhir('GET', `Patient?identifier=urn:t|${mrn}`);
    const events = await auditSearch(`patient=Patient/${p.id}&subtype=search-type`);
    expect(events).toHaveLength(1);
    const query = events[0].entity.find((e: any) => e.query).query;
    expect(Buffer.from(query, 'base64').toString()).toBe(`identifier=urn:t|${mrn}`);
  });

  it('records refused requests too: no token (unauthenticated) and wrong scope', async () => {
    const id = unique('nobody');
    expect((await fetch(`${g.fhirUrl}/Patient/${id}`)).status).toBe(401);
    const narrow = client(g, () => getToken(g, 'system/Coverage.rs'));
    expect((await narrow('GET', `Patient/${id}`)).status).toBe(403);
    const events = await auditSearch(`entity=Patient/${id}`);
    expect(events.map((e: any) => [e.agent[0].altId === 'unauthenticated', e.outcome]).sort()).toEqual([
      [false, '4'],
      [true, '4'],
    ]);
  });

  it('lets only clients with the AuditEvent scope read the trail', async () => {
    const noAudit = client(g, () => getToken(g, 'system/Patient.rs'));
    expect((await noAudit('GET', 'AuditEvent')).status).toBe(403);
    const auditor = client(g, () => getToken(g, 'system/AuditEvent.rs'));
    expect((await auditor('GET', 'AuditEvent?_count=1')).status).toBe(200);
    expect((await auditor('POST', 'AuditEvent', { resourceType: 'AuditEvent' })).status).toBe(405); // never writable by clients
  });

  it('records every inbound MLLP message', async () => {
    const control = unique('m').slice(-20);
    const socket = tcp(g.mllp.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const ack = new Promise((r) => socket.once('data', r));
    socket.write(frame(`MSH|^~\\&|AUDITAPP|FAC|FD|FD|20260105||ZZZ^Z99|${control}|P|2.5.1\r`));
    await ack;
    socket.end();
    const events = await auditSearch('subtype=ZZZ^Z99');
    const mine = events.find((e: any) => e.entity.some((x: any) => x.name === control));
    expect(mine.type.code).toBe('110107');
    expect(mine.outcome).toBe('4');
    expect(mine.agent[0].altId).toBe('AUDITAPP^FAC');
  });
});

describe('search straight from the log', () => {
  it('commits the record and its search terms before the answer: the next reader finds it', async () => {
    const id = unique('searchable');
    const before = Number((await g.db.sql<{ seq: string }[]>`SELECT seq FROM audit_head WHERE id = 1`)[0]!.seq);
    expect((await fhir('GET', `Patient/${id}`)).status).toBe(404);
    const [logged] = await g.db.sql<{ n: number; indexed: number }[]>`
      SELECT count(*)::int AS n, count(s.seq)::int AS indexed FROM audit_log l LEFT JOIN audit_search s ON s.seq = l.seq
      WHERE l.seq > ${before} AND l.content LIKE ${'%Patient/' + id + '%'}`;
    expect(logged).toEqual({ n: 1, indexed: 1 }); // in the log, with its terms, as soon as the answer is out
    const [event] = await auditSearch(`entity=Patient/${id}`);
    expect(event.outcome).toBe('4');
    expect((await fhir('GET', `AuditEvent/${event.id}`)).body).toEqual(event);
    expect((await fhir('GET', `AuditEvent/${event.id}/_history/1`)).body).toEqual(event);
    expect((await fhir('GET', `AuditEvent/${event.id}/_history/2`)).status).toBe(404);
    expect((await fhir('GET', `AuditEvent/${event.id}/_history`)).body.entry.map((e: any) => e.resource)).toEqual([event]);
    expect((await fhir('GET', `AuditEvent/not-${id}`)).status).toBe(404);
    const [copies] = await g.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM resource WHERE resource_type = 'AuditEvent'`;
    expect(copies!.n).toBe(0); // no copy: the log is what is read
  });

  it('brings the events concerning a patient along with _revinclude, and follows their references with _include', async () => {
    const { body: p } = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Revincluded' }] });
    await fhir('GET', `Patient/${p.id}`);
    const res = await fhir('GET', `Patient?_id=${p.id}&_revinclude=AuditEvent:patient`);
    const events = res.body.entry.filter((e: any) => e.resource.resourceType === 'AuditEvent');
    expect(events.map((e: any) => e.resource.subtype[0].code).sort()).toEqual(['create', 'read']);
    const back = await fhir('GET', `AuditEvent?patient=Patient/${p.id}&_include=AuditEvent:patient`);
    const included = back.body.entry.filter((e: any) => e.search.mode === 'include').map((e: any) => e.resource.id);
    expect(included).toEqual([p.id]);
  });

  it('refuses to mix AuditEvent with other types in one search, and to sort it by what it cannot', async () => {
    expect((await fhir('GET', '?_type=AuditEvent,Patient')).status).toBe(400);
    expect((await fhir('GET', 'AuditEvent?_sort=outcome')).status).toBe(400);
  });
});

describe('a create and its record', () => {
  const createEvents = (id: string) => g.db.sql<{ xmin: string; outcome: string }[]>`
    SELECT l.xmin::text AS xmin, l.content::jsonb->>'outcome' AS outcome FROM audit_log l JOIN audit_terms s USING (seq)
    WHERE s.terms @> ARRAY[${'r:entity:Patient/' + id}, 't:subtype:*|create']`;

  it('are committed by one transaction: the resource and its AuditEvent have the same xmin', async () => {
    const { status, body: p } = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'OneCommit' }] });
    expect(status).toBe(201);
    const [row] = await g.db.sql<{ xmin: string }[]>`
      SELECT xmin::text AS xmin FROM resource WHERE resource_type = 'Patient' AND id = ${p.id}`;
    const events = await createEvents(p.id);
    expect(events).toEqual([{ xmin: row!.xmin, outcome: '0' }]);
  });

  it('stay one record per request, in one unbroken chain, when creates, reads and another process append at once', async () => {
    const other = (await import('../../src/store/db.ts')).connect(dbUrl, 4);
    const trail = new AuditTrail(other);
    try {
      const results = await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: `Busy${i}` }] })),
        ...Array.from({ length: 30 }, (_, i) => fhir('GET', `Patient/${unique('absent')}-${i}`)),
        ...Array.from({ length: 30 }, () =>
          trail.record(restEvent({ clientId: 'proc-x', address: '10.0.0.9', method: 'GET', interaction: 'read', status: 404, references: [], patients: [] }))
        ),
      ]);
      const created = results.slice(0, 30) as { status: number; body: { id: string } }[];
      expect(created.map((r) => r.status)).toEqual(Array(30).fill(201));
      const counts = await Promise.all(created.map(async (r) => (await createEvents(r.body.id)).length));
      expect(counts).toEqual(Array(30).fill(1));
      expect((await verify()).code).toBe(0);
    } finally {
      await other.end();
    }
  });

  it('is recorded after the answer when the create is refused', async () => {
    const family = unique('Refused');
    const res = await fhir('POST', 'Patient', { resourceType: 'Patient', gender: 'sometimes', name: [{ family }] });
    expect(res.status).toBe(400);
    const [row] = await g.db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM audit_log l JOIN audit_terms s USING (seq)
      WHERE s.terms @> ARRAY['t:subtype:*|create', 't:outcome:*|4'] AND l.recorded > now() - interval '1 minute'`;
    expect(row!.n).toBeGreaterThanOrEqual(1);
    const [stored] = await g.db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM resource WHERE resource_type = 'Patient' AND content::text LIKE ${'%' + family + '%'}`;
    expect(stored!.n).toBe(0);
  });
});

describe('several gateway processes appending to one trail', () => {
  it('keeps one unbroken chain, every record searchable once, whoever appended it', async () => {
    await g.audit.settled();
    const tag = unique('race');
    // Two more "processes" (trails with pools of their own) race this gateway's trail for the head.
    const { connect } = await import('../../src/store/db.ts');
    const pools = [connect(dbUrl, 4), connect(dbUrl, 4)];
    const trails = [g.audit, ...pools.map((p) => new AuditTrail(p))];
    try {
      const before = Number((await g.db.sql<{ seq: string }[]>`SELECT seq FROM audit_head WHERE id = 1`)[0]!.seq);
      await Promise.all(
        Array.from({ length: 90 }, (_, i) =>
          trails[i % 3]!.record(restEvent({ clientId: `proc-${i % 3}`, address: '10.0.0.8', method: 'GET', interaction: 'read', status: 404, references: [`Patient/${tag}-${i}`], patients: [] }))
        )
      );
      const rows = await g.db.sql<{ seq: string }[]>`SELECT seq FROM audit_log WHERE seq > ${before} ORDER BY seq`;
      expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 90 }, (_, i) => before + 1 + i));
      expect((await verify()).code).toBe(0);
      const found = await Promise.all([0, 1, 2].map((p) => auditSearch(`altid=proc-${p}&entity=Patient/${tag}-${p}`)));
      expect(found.map((f) => f.length)).toEqual([1, 1, 1]);
      const [indexed] = await g.db.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM audit_terms s JOIN audit_log l ON l.seq = s.seq
        WHERE l.seq > ${before} AND l.content LIKE ${'%Patient/' + tag + '-%'}`;
      expect(indexed!.n).toBe(90);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

describe('audit verify', () => {
  it('passes on an untouched trail', async () => {
    await fhir('GET', 'Patient?_count=1');
    const res = await verify();
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/audit trail intact: \d+ records verified/);
  });

  it('is append-only: the database refuses to update or delete a record', async () => {
    await expect(g.db.sql`UPDATE audit_log SET content = '{}' WHERE seq = 1`).rejects.toThrow(/append-only/);
    await expect(g.db.sql`DELETE FROM audit_log WHERE seq = 1`).rejects.toThrow(/append-only/);
  });

  it('finds an edited record, a deleted record, and edited or missing search terms', async () => {
    const sql = g.db.sql;
    // A privileged attacker can switch the trigger off; the hash chain still tells.
    await sql`ALTER TABLE audit_log DISABLE TRIGGER USER`;
    try {
      const [row] = await sql<{ seq: string; content: string }[]>`SELECT seq, content FROM audit_log ORDER BY seq LIMIT 1 OFFSET 2`;
      await sql`UPDATE audit_log SET content = ${row!.content.replace('"outcome":"0"', '"outcome":"8"')} WHERE seq = ${row!.seq}`;
      let res = await verify();
      expect(res.code).toBe(1);
      expect(res.out).toContain(`record ${row!.seq}: content does not match its hash (edited)`);
      await sql`UPDATE audit_log SET content = ${row!.content} WHERE seq = ${row!.seq}`;
      expect((await verify()).code).toBe(0);

      const [victim] = await sql<{ seq: string; content: string; id: string }[]>`SELECT seq, id FROM audit_log ORDER BY seq LIMIT 1 OFFSET 3`;
      const saved = await sql`SELECT * FROM audit_log WHERE seq = ${victim!.seq}`;
      await sql`DELETE FROM audit_log WHERE seq = ${victim!.seq}`;
      res = await verify();
      expect(res.code).toBe(1);
      expect(res.out).toMatch(/missing \(deleted\?\)/);
      await sql`INSERT INTO audit_log ${sql(saved[0]!)}`;
      expect((await verify()).code).toBe(0);
    } finally {
      await sql`ALTER TABLE audit_log ENABLE TRIGGER USER`;
    }
    const [first] = await sql<{ seq: string }[]>`SELECT seq FROM audit_log ORDER BY seq LIMIT 1`;
    const [saved] = await sql<{ shape: number; terms: string[] }[]>`
      SELECT shape, terms FROM audit_search WHERE seq = ${first!.seq}`;
    await sql`UPDATE audit_search SET terms = array_append(terms, 'r:patient:Patient/hidden') WHERE seq = ${first!.seq}`;
    let res = await verify();
    expect(res.code).toBe(1);
    expect(res.out).toContain(`record ${first!.seq}: search terms differ from its content`);
    await sql`UPDATE audit_search SET terms = ${saved!.terms} WHERE seq = ${first!.seq}`;
    // The terms records share (their shape): edited, every record of that shape is reported.
    await sql`UPDATE audit_shape SET terms = array_append(terms, 't:outcome:*|8') WHERE id = ${saved!.shape}`;
    res = await verify();
    expect(res.code).toBe(1);
    expect(res.out).toContain(`record ${first!.seq}: search terms differ from its content`);
    await sql`UPDATE audit_shape SET terms = array_remove(terms, 't:outcome:*|8') WHERE id = ${saved!.shape}`;
    await sql`DELETE FROM audit_search WHERE seq = ${first!.seq}`;
    res = await verify();
    expect(res.out).toContain(`record ${first!.seq}: search terms are missing`);
    await sql`INSERT INTO audit_search (seq, shape, terms) VALUES (${first!.seq}, ${saved!.shape}, ${saved!.terms})`;
    expect((await verify()).code).toBe(0);
  }, 120_000);
});

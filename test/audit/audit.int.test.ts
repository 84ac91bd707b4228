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

describe('searchable copies projected from the log', () => {
  it('commits the log record before the answer, and makes it searchable for the next reader', async () => {
    const id = unique('projected');
    const before = Number((await g.db.sql<{ seq: string }[]>`SELECT seq FROM audit_head WHERE id = 1`)[0]!.seq);
    expect((await fhir('GET', `Patient/${id}`)).status).toBe(404);
    const [logged] = await g.db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM audit_log WHERE seq > ${before} AND content LIKE ${'%Patient/' + id + '%'}`;
    expect(logged!.n).toBe(1); // in the log as soon as the answer is out
    expect(await auditSearch(`entity=Patient/${id}`)).toHaveLength(1);
  });

  it('projects what another gateway process logged but did not project (it stopped first)', async () => {
    await g.audit.catchUp(); // nothing of this gateway's left to project: what follows is the other process's alone
    const other = new AuditTrail(g.db.sql);
    (other as unknown as { project: () => Promise<void> }).project = async () => undefined; // a process that died before projecting
    const id = unique('elsewhere');
    await other.record(restEvent({ clientId: 'other-process', address: '10.0.0.9', method: 'GET', interaction: 'read', status: 404, references: [`Patient/${id}`], patients: [] }));
    const [copies] = await g.db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM resource WHERE resource_type = 'AuditEvent' AND content::text LIKE ${'%Patient/' + id + '%'}`;
    expect(copies!.n).toBe(0);
    expect((await verify()).out).toMatch(/audit trail intact: \d+ records verified \(1 not yet searchable/);
    const events = await auditSearch(`entity=Patient/${id}`);
    expect(events.map((e: any) => e.agent[0].altId)).toEqual(['other-process']);
    expect((await verify()).out).not.toMatch(/not yet searchable/);
  });
});

describe('several gateway processes appending to one trail', () => {
  it('keeps one unbroken chain and projects every record once, whoever appended it', async () => {
    await g.audit.catchUp();
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
      const res = await verify();
      expect(res.code).toBe(0);
      await Promise.all(trails.map((t) => t.catchUp()));
      const [copies] = await g.db.sql<{ n: number; distinct: number }[]>`
        SELECT count(*)::int AS n, count(DISTINCT id)::int AS distinct FROM resource
        WHERE resource_type = 'AuditEvent' AND content::text LIKE ${'%Patient/' + tag + '-%'}`;
      expect(copies).toEqual({ n: 90, distinct: 90 });
      expect((await verify()).out).not.toMatch(/not yet searchable/);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

describe('projection in the background', () => {
  it('runs on the low-priority connection while it keeps up, and on the main pool once this process falls behind', async () => {
    await g.audit.catchUp(); // everything before is projected: this trail's own appends project from memory
    const postgres = (await import('postgres')).default;
    const seen = { main: [] as string[], background: [] as string[] };
    const main = postgres(dbUrl, { max: 4, onnotice: () => undefined, debug: (_c, q) => void seen.main.push(q) });
    const bg = postgres(dbUrl, { max: 1, onnotice: () => undefined, debug: (_c, q) => void seen.background.push(q) });
    let lowered = 0;
    const trail = new AuditTrail(main, { sql: bg, lower: async () => void lowered++ });
    const projected = (q: string[]) => q.filter((s) => s.includes('UPDATE audit_projection')).length;
    const event = (i: number, tag: string) => restEvent({ clientId: 'bg-test', address: '10.0.0.7', method: 'GET', interaction: 'read', status: 404, references: [`Patient/${tag}-${i}`], patients: [] });
    const copies = async (tag: string) => (await g.db.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM resource WHERE resource_type = 'AuditEvent' AND content::text LIKE ${'%Patient/' + tag + '-%'}`)[0]!.n;
    try {
      const one = unique('bg');
      await trail.record(event(0, one));
      await (trail as unknown as { projecting?: Promise<void> }).projecting;
      expect(await copies(one)).toBe(1);
      expect({ lowered, background: projected(seen.background), main: projected(seen.main) }).toEqual({ lowered: 1, background: 1, main: 0 });

      // 600 events in one flush: more than the backlog the background may hold, so they go at normal priority.
      seen.main.length = 0;
      seen.background.length = 0;
      const many = unique('backlog');
      await Promise.all(Array.from({ length: 600 }, (_, i) => trail.record(event(i, many))));
      await (trail as unknown as { projecting?: Promise<void> }).projecting; // no reader waiting: only the backlog decides
      expect(await copies(many)).toBe(600);
      expect(projected(seen.main)).toBeGreaterThan(0);
      expect((await verify()).out).not.toMatch(/not yet searchable/);
    } finally {
      await Promise.all([main.end(), bg.end()]);
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

  it('finds an edited record, a deleted record and an edited searchable copy', async () => {
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
    const [copy] = await sql<{ id: string }[]>`SELECT id FROM audit_log ORDER BY seq LIMIT 1`;
    await sql`UPDATE resource SET content = jsonb_set(content, '{outcome}', '"8"') WHERE resource_type = 'AuditEvent' AND id = ${copy!.id}`;
    const res = await verify();
    expect(res.code).toBe(1);
    expect(res.out).toContain('differs from the log');
  });
});

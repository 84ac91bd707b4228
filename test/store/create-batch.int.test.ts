/**
 * Creates that arrive together share one statement and one commit (store/create-batch.ts): each answer still
 * comes only after its own resource is committed (visible to another connection the moment the answer arrives),
 * and one create that fails inside a shared batch fails alone.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateBatcher } from '../../src/store/create-batch.ts';
import { statementsWhile } from '../helpers/database.ts';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

const patient = (family: string) => ({ resourceType: 'Patient', name: [{ family }] });
const item = (id: string) => ({
  type: 'Patient',
  id,
  lastUpdated: new Date().toISOString(),
  resource: { ...patient('B'), id } as never,
});

describe('creates sharing a commit', () => {
  it('answers each of 60 concurrent creates only once it is visible, in fewer statements than creates', async () => {
    const seen: boolean[] = [];
    const family = unique('Batch');
    const sent = await statementsWhile(g.db.sql, () =>
      Promise.all(
        Array.from({ length: 60 }, async () => {
          const { status, body } = await fhir('POST', 'Patient', patient(family));
          expect(status).toBe(201);
          // Another connection, at the moment the answer arrives: the row must already be committed.
          const rows = await g.db.sql`SELECT 1 FROM resource WHERE resource_type = 'Patient' AND id = ${body.id}`;
          seen.push(rows.length === 1);
        })
      )
    );
    const statements = sent.filter(
      (q) => q.includes('jsonb_to_recordset') && q.includes('INSERT INTO resource ')
    ).length;
    const found = await fhir('GET', `Patient?family=${family}&_summary=count`);
    expect(found.body.total).toBe(60);
    expect(seen).toEqual(Array(60).fill(true));
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThan(60);
  });

  it('fails only the create whose id is taken when it shares a batch with others', async () => {
    const batcher = new CreateBatcher(g.db.sql);
    const taken = randomUUID();
    await batcher.write(item(taken));
    const [a, b] = [randomUUID(), randomUUID()];
    const results = await Promise.allSettled([
      batcher.write(item(a)),
      batcher.write(item(taken)),
      batcher.write(item(b)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.code).toBe('23505');
    const rows = await g.db.sql`SELECT id FROM resource WHERE id IN (${a}, ${b}, ${taken})`;
    expect(rows.map((r) => r.id).sort()).toEqual([a, b, taken].sort());
  });
});

/**
 * Reads by id that arrive together share one statement (store/read-batch.ts): each caller still gets its own
 * resource, its own 404 or 410, a resource it may change without touching another caller's copy, and every
 * commit that preceded its request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadBatcher } from '../../src/store/read-batch.ts';
import { statementsWhile } from '../helpers/database.ts';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

/** The statements that read `resource` by key while `fn` runs: by a list of keys, and by one. */
async function countingBatchReads(fn: () => Promise<void>): Promise<{ batched: number; single: number }> {
  const sent = await statementsWhile(g.db.sql, fn);
  return {
    batched: sent.filter((q) => q.includes('WITH ORDINALITY AS k(t, i, n)')).length,
    single: sent.filter((q) => /FROM resource WHERE resource_type = \$1 AND id = \$2$/.test(q.trim())).length,
  };
}

describe('reads by id sharing a statement', () => {
  it('answers 40 concurrent GETs each with its own resource, 404 or 410, in fewer statements than reads', async () => {
    const family = unique('Read');
    const ids: string[] = [];
    for (let k = 0; k < 6; k++) {
      const { status, body } = await fhir('POST', 'Patient', {
        resourceType: 'Patient',
        name: [{ family, given: [`G${k}`] }],
      });
      expect(status).toBe(201);
      ids.push(body.id);
    }
    expect((await fhir('DELETE', `Patient/${ids[5]}`)).status).toBe(204);
    const asked = Array.from({ length: 40 }, (_, k) => (k % 8 === 7 ? 'no-such-patient' : ids[k % 8]!));
    const answers: { status: number; given?: string }[] = [];
    // Open the client's 40 connections first, so that the measured requests arrive together, as a busy front
    // office's do, rather than one by one behind their connections' handshakes.
    await Promise.all(asked.map(() => fhir('GET', `Patient/${ids[0]}`)));
    const counts = await countingBatchReads(async () => {
      await Promise.all(
        asked.map(async (id, k) => {
          const { status, body } = await fhir('GET', `Patient/${id}`);
          answers[k] = { status, given: body.name?.[0]?.given?.[0] };
        })
      );
    });
    const expected = asked.map((id) => {
      const k = ids.indexOf(id);
      if (k === -1) return { status: 404, given: undefined };
      if (k === 5) return { status: 410, given: undefined };
      return { status: 200, given: `G${k}` };
    });
    expect(answers).toEqual(expected);
    expect(counts.batched).toBeGreaterThan(0);
    expect(counts.batched + counts.single).toBeLessThan(40);
  });

  it('sends the reads of one turn as one statement and gives a key asked twice two separate copies', async () => {
    const { body } = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: unique('Twice') }] });
    const batcher = new ReadBatcher(g.db.sql);
    let rows: Awaited<ReturnType<ReadBatcher['read']>>[] = [];
    const counts = await countingBatchReads(async () => {
      rows = await Promise.all([
        batcher.read('Patient', body.id),
        batcher.read('Patient', 'unknown-id'),
        batcher.read('Patient', body.id),
      ]);
    });
    expect(counts).toEqual({ batched: 1, single: 0 });
    expect(rows[1]).toBeUndefined();
    expect(rows[0]!.content).toEqual(rows[2]!.content);
    expect(rows[0]!.content).not.toBe(rows[2]!.content);
    const lone = await countingBatchReads(async () => void (await batcher.read('Patient', body.id)));
    expect(lone).toEqual({ batched: 0, single: 1 });
  });

  it('sees a write committed just before the read was asked', async () => {
    const { body } = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: unique('Fresh') }] });
    const results = await Promise.all(
      Array.from({ length: 10 }, async (_, k) => {
        const put = await fhir('PUT', `Patient/${body.id}`, { ...body, gender: k % 2 ? 'male' : 'female' });
        const got = await fhir('GET', `Patient/${body.id}`);
        return Number(got.body.meta.versionId) >= Number(put.body.meta.versionId);
      })
    );
    expect(results).toEqual(Array(10).fill(true));
  });
});

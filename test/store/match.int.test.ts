/**
 * The matches of an HL7 v2 plan's entries (store/match.ts `lockAndMatchMany`): every search answered at its own
 * position in one look, the misses locked together and looked at again under their locks, so a second writer
 * wanting to create the same resource waits and then finds the first one's — in three statements however many
 * entries the message has.
 */
import { parseSearchRequest } from '@medplum/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockAndMatchMany } from '../../src/store/match.ts';
import { statementsWhile } from '../helpers/database.ts';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
const SYSTEM = 'urn:oid:2.16.840.1.113883.3.999.77';
const BASE = 'http://frontdesk.invalid/fhir/R4';
const byMrn = (mrn: string) => parseSearchRequest(`Patient?identifier=${SYSTEM}|${mrn}`);
const refuse = (names: string): never => {
  throw new Error(`unsupported: ${names}`);
};

beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

async function patient(mrn: string): Promise<string> {
  const { status, body } = await fhir('POST', 'Patient', {
    resourceType: 'Patient',
    identifier: [{ system: SYSTEM, value: mrn }],
  });
  expect(status).toBe(201);
  return body.id as string;
}

describe('matching several conditions at once', () => {
  it('answers each search at its position: one hit, a miss, another hit, two hits', async () => {
    const [a, b, twin] = [unique('A'), unique('B'), unique('T')];
    const ids = { a: await patient(a), b: await patient(b), t1: await patient(twin), t2: await patient(twin) };
    const found = await g.db.sql.begin((tx) =>
      lockAndMatchMany(tx as never, [byMrn(a), byMrn(unique('none')), byMrn(b), byMrn(twin)], BASE, refuse)
    );
    expect(found[0]).toEqual([ids.a]);
    expect(found[1]).toEqual([]);
    expect(found[2]).toEqual([ids.b]);
    expect([...(found[3] as string[])].sort()).toEqual([ids.t1, ids.t2].sort());
  });

  it('uses three statements for four searches with misses: one look, the locks, one look again', async () => {
    const hit = unique('H');
    const id = await patient(hit);
    const searches = [byMrn(hit), byMrn(unique('m1')), byMrn(unique('m2')), byMrn(unique('m3'))];
    let found: string[][] = [];
    const statements = await statementsWhile(g.db.sql, async () => {
      found = await g.db.sql.begin((tx) => lockAndMatchMany(tx as never, searches, BASE, refuse));
    });
    expect(found).toEqual([[id], [], [], []]);
    const work = statements.filter((q) => /search_token|pg_advisory_xact_lock/.test(q));
    expect(work).toHaveLength(3);
    expect(work[1]).toMatch(/pg_advisory_xact_lock/);
  });

  it('makes a second writer wanting the same new resource wait for the first, then find what it created', async () => {
    const mrn = unique('N');
    const other = unique('O');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let firstCreated = '';
    const first = g.repo.transaction(async (tx) => {
      const found = await lockAndMatchMany(tx.sql, [byMrn(mrn), byMrn(other)], BASE, refuse);
      expect(found).toEqual([[], []]);
      await held;
      firstCreated = (
        await tx.createWithId(
          { resourceType: 'Patient', identifier: [{ system: SYSTEM, value: mrn }] },
          crypto.randomUUID()
        )
      ).id;
    });
    await new Promise((r) => setTimeout(r, 200));
    let secondDone = false;
    const second = g.repo.transaction(async (tx) => {
      const found = await lockAndMatchMany(tx.sql, [byMrn(unique('x')), byMrn(mrn)], BASE, refuse);
      secondDone = true;
      return found;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(secondDone).toBe(false); // waiting on the first writer's lock
    release();
    await first;
    const found = await second;
    expect(found[1]).toEqual([firstCreated]);
  });
});

/**
 * The matches of an HL7 v2 plan's entries (store/match.ts `lockAndMatchMany`): every search answered at its own
 * position in one look, the misses locked together and looked at again under their locks, so a second writer
 * wanting to create the same resource waits and then finds the first one's — in three statements however many
 * entries the message has.
 */
import { parseSearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifierRows } from '../../src/store/match-identifiers.ts';
import { lockAndMatchMany, matchIds } from '../../src/store/match.ts';
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

  it('answers searches by identifier in one statement of fixed shape, as the generic search SQL does', async () => {
    const [a, b, twin, gone, sleeper] = [unique('A'), unique('B'), unique('T'), unique('G'), unique('S')];
    const ids = { a: await patient(a), b: await patient(b), t1: await patient(twin), t2: await patient(twin) };
    const inactive = await fhir('POST', 'Patient', {
      resourceType: 'Patient',
      active: false,
      identifier: [{ system: SYSTEM, value: sleeper }],
    });
    expect(inactive.status).toBe(201);
    expect((await fhir('DELETE', `Patient/${await patient(gone)}`)).status).toBe(204);
    const active = (q: string) => parseSearchRequest(`Patient?identifier=${q}&active:not=false`);
    const fixed = [
      byMrn(a),
      byMrn(unique('none')),
      byMrn(twin),
      byMrn(gone),
      byMrn(sleeper),
      active(`${SYSTEM}|${sleeper}`),
      active(`${SYSTEM}|${a},${SYSTEM}|${b}`),
      active(`${SYSTEM}|${a},urn:other|${a}`),
      parseSearchRequest(`Organization?identifier=${SYSTEM}|${a}`),
    ];
    const generic = [
      parseSearchRequest(`Patient?identifier=${a}`),
      parseSearchRequest(`Patient?identifier=${SYSTEM}|${a}&active=true`),
      parseSearchRequest(`Patient?identifier=${SYSTEM}|${b}&active:not=false&gender:not=male`),
    ];
    expect(fixed.map((q) => identifierRows(q) !== undefined)).toEqual(fixed.map(() => true));
    expect(generic.map((q) => identifierRows(q))).toEqual(generic.map(() => undefined));
    const searches = [...fixed, ...generic];
    let found: string[][] = [];
    const contents = new Map<string, Resource>();
    const statements = await statementsWhile(g.db.sql, async () => {
      found = await g.db.sql.begin((tx) => lockAndMatchMany(tx as never, searches, BASE, refuse, contents));
    });
    // What the identifier looks found came with its current content.
    expect([...contents.keys()].sort()).toEqual(
      [...new Set(found.slice(0, 9).flat())].map((id) => `Patient/${id}`).sort()
    );
    expect(contents.get(`Patient/${ids.a}`)).toEqual((await fhir('GET', `Patient/${ids.a}`)).body);
    const alone = await Promise.all(searches.map((q) => matchIds(g.db.sql, q, BASE, refuse)));
    expect(found.map((f) => [...f].sort())).toEqual(alone.map((f) => [...f].sort()));
    expect(found.slice(0, 8).map((f) => f.length)).toEqual([1, 0, 2, 0, 1, 0, 2, 1]);
    expect(found[6]?.sort()).toEqual([ids.a, ids.b].sort());
    expect(found[2]?.sort()).toEqual([ids.t1, ids.t2].sort());
    // Two looks (the first and, after the misses' locks, again), each one fixed statement and one generic.
    const byRows = statements.filter((q) => q.includes('CROSS JOIN LATERAL'));
    expect(byRows).toHaveLength(2);
    expect(byRows[1]).toBe(byRows[0]);
    expect(statements.filter((q) => q.includes('AS i, m.id FROM ('))).toHaveLength(2);
  });
});

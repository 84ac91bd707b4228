/**
 * The official R4 examples of every supported type (test/fixtures/r4-examples, CC0) round-trip: POST then GET
 * gives back the same resource apart from id and the server-owned meta fields.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, type TestGateway } from '../../helpers/gateway.ts';

const DIR = join(import.meta.dirname, '../../fixtures/r4-examples');
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as { file: string; resourceType: string; id: string }[];

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

function withoutServerFields(r: Record<string, any>): Record<string, any> {
  const { id: _id, meta, ...rest } = r;
  const { versionId: _v, lastUpdated: _l, ...keptMeta } = meta ?? {};
  return Object.keys(keptMeta).length > 0 ? { ...rest, meta: keptMeta } : rest;
}

describe('official R4 examples round-trip', () => {
  it('has examples of every supported type but AuditEvent', () => {
    expect(new Set(index.map((e) => e.resourceType)).size).toBe(22);
    expect(index.some((e) => e.file === 'Patient-newborn.json')).toBe(true);
  });

  it.each(index.map((e) => [e.file, e.resourceType] as const))('%s: POST then GET returns the same %s', async (file, type) => {
    const original = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
    const created = await fhir('POST', type, original);
    expect(created.status, JSON.stringify(created.body?.issue ?? created.body).slice(0, 500)).toBe(201);
    expect(created.body.id).not.toBe(original.id);
    const read = await fhir('GET', `${type}/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(withoutServerFields(read.body)).toEqual(withoutServerFields(original));
  });

  it('accepts Patient-newborn, which has neither identifier nor name (it does not claim the project profile)', async () => {
    const newborn = JSON.parse(readFileSync(join(DIR, 'Patient-newborn.json'), 'utf8'));
    expect(newborn.identifier).toBeUndefined();
    expect(newborn.name).toBeUndefined();
    expect((await fhir('POST', 'Patient', newborn)).status).toBe(201);
    const claimed = await fhir('POST', 'Patient', {
      ...newborn,
      meta: { profile: ['https://frontdesk.example.org/fhir/StructureDefinition/frontdesk-patient'] },
    });
    expect(claimed.status).toBe(400);
    expect(claimed.body.issue.flatMap((i: any) => i.expression)).toEqual(expect.arrayContaining(['Patient.identifier', 'Patient.name']));
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;

beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

const SYSTEM = 'urn:oid:2.16.840.1.113883.3.999.2';
const patient = (mrn: string, gender = 'unknown') => ({
  resourceType: 'Patient',
  identifier: [{ system: SYSTEM, value: mrn }],
  name: [{ family: 'Racer' }],
  gender,
});

describe('concurrent writes over real HTTP', () => {
  it('lets exactly one of two PUTs with the same If-Match win; the other gets 412', async () => {
    for (let round = 0; round < 5; round++) {
      const { body } = await fhir('POST', 'Patient', patient(unique()));
      const [a, b] = await Promise.all([
        fhir('PUT', `Patient/${body.id}`, { ...body, gender: 'female' }, { 'if-match': 'W/"1"' }),
        fhir('PUT', `Patient/${body.id}`, { ...body, gender: 'male' }, { 'if-match': 'W/"1"' }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 412]);
      const winner = a.status === 200 ? a : b;
      const current = await fhir('GET', `Patient/${body.id}`);
      expect(current.body.meta.versionId).toBe('2');
      expect(current.body.gender).toBe(winner.body.gender);
      const history = await fhir('GET', `Patient/${body.id}/_history`);
      expect(history.body.entry).toHaveLength(2);
    }
  });

  it('makes exactly one resource from ten concurrent conditional creates for one identifier', async () => {
    const mrn = unique('mrn');
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        fhir('POST', 'Patient', patient(mrn), { 'if-none-exist': `identifier=${SYSTEM}|${mrn}` })
      )
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(9);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const search = await fhir('GET', `Patient?identifier=${SYSTEM}|${mrn}`);
    expect(search.body.entry).toHaveLength(1);
  });

  it('makes exactly one resource from ten concurrent conditional updates for one identifier', async () => {
    const mrn = unique('mrn');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => fhir('PUT', `Patient?identifier=${SYSTEM}|${mrn}`, patient(mrn, i % 2 ? 'male' : 'female')))
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    const search = await fhir('GET', `Patient?identifier=${SYSTEM}|${mrn}`);
    expect(search.body.entry).toHaveLength(1);
    expect(search.body.entry[0].resource.meta.versionId).toBe('10');
  });

  it('makes one patient from concurrent transactions that conditionally create it', async () => {
    const mrn = unique('mrn');
    const bundle = () => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:5f0f3a4e-27a8-4a41-9a0b-7d1f0e1d2c3b',
          resource: patient(mrn),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SYSTEM}|${mrn}` },
        },
        {
          resource: {
            resourceType: 'Coverage',
            status: 'active',
            beneficiary: { reference: 'urn:uuid:5f0f3a4e-27a8-4a41-9a0b-7d1f0e1d2c3b' },
            payor: [{ display: 'Synthetic Payer' }],
          },
          request: { method: 'POST', url: 'Coverage' },
        },
      ],
    });
    const results = await Promise.all(Array.from({ length: 6 }, () => fhir('POST', '', bundle())));
    for (const r of results) expect(r.status).toBe(200);
    const search = await fhir('GET', `Patient?identifier=${SYSTEM}|${mrn}`);
    expect(search.body.entry).toHaveLength(1);
    const id = search.body.entry[0].resource.id;
    const coverages = await fhir('GET', `Coverage?beneficiary=Patient/${id}&_count=50`);
    expect(coverages.body.entry).toHaveLength(6);
  });
});

describe('conditional writes find their resource from its search rows', () => {
  it('counts a resource that matches on two of its identifiers once, not as two matches', async () => {
    const [a, b] = [unique('mrn-a'), unique('mrn-b')];
    const created = await fhir('POST', 'Patient', { ...patient(a), identifier: [{ system: SYSTEM, value: a }, { system: SYSTEM, value: b }] });
    const query = `identifier=${encodeURIComponent(`${SYSTEM}|${a}`)},${encodeURIComponent(`${SYSTEM}|${b}`)}`;
    const updated = await fhir('PUT', `Patient?${query}`, { ...patient(a), identifier: [{ system: SYSTEM, value: a }, { system: SYSTEM, value: b }], gender: 'female' });
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    const again = await fhir('POST', 'Patient', patient(a), { 'if-none-exist': query });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
  });

  it('does not find a deleted resource, nor its old identifier after an update', async () => {
    const [old, renamed] = [unique('mrn-old'), unique('mrn-new')];
    const created = await fhir('POST', 'Patient', patient(old));
    await fhir('PUT', `Patient/${created.body.id}`, { ...created.body, identifier: [{ system: SYSTEM, value: renamed }] });
    const byOld = await fhir('POST', 'Patient', patient(old), { 'if-none-exist': `identifier=${SYSTEM}|${old}` });
    expect(byOld.status).toBe(201);
    expect(byOld.body.id).not.toBe(created.body.id);
    expect((await fhir('DELETE', `Patient/${byOld.body.id}`)).status).toBeLessThan(300);
    const afterDelete = await fhir('POST', 'Patient', patient(old), { 'if-none-exist': `identifier=${SYSTEM}|${old}` });
    expect(afterDelete.status).toBe(201);
    expect(afterDelete.body.id).not.toBe(byOld.body.id);
  });
});

/**
 * The search slice of issue #2 (the rest is issue #4): the indexed parameter kinds, paging and warnings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, getToken, testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
const SYS = 'urn:oid:2.16.840.1.113883.3.999.3';
let tag: string;
let ids: Record<string, string>;

beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
  tag = unique('fam').replace(/[^a-z]/gi, '');
  const make = async (key: string, body: Record<string, unknown>) => {
    const res = await fhir('POST', 'Patient', { resourceType: 'Patient', ...body });
    expect(res.status).toBe(201);
    return [key, res.body.id as string] as const;
  };
  ids = Object.fromEntries(
    await Promise.all([
      make('munoz', { identifier: [{ system: SYS, value: `${tag}-1` }], name: [{ family: `Muñoz${tag}`, given: ['Élodie'] }], birthDate: '1978-03-04', gender: 'female' }),
      make('munro', { identifier: [{ system: SYS, value: `${tag}-2` }], name: [{ family: `Munro${tag}` }], birthDate: '1978-11-30', gender: 'male' }),
      make('smith', { identifier: [{ system: 'urn:other', value: `${tag}-3` }], name: [{ family: `Smith${tag}` }], birthDate: '1990-01-01' }),
    ])
  );
});
afterAll(async () => g?.stop());

const found = (res: { body: any }) =>
  (res.body.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id).sort();

describe('search by string', () => {
  it('matches the start of any name part, ignoring case and accents', async () => {
    const res = await fhir('GET', `Patient?name=munoz${tag.toLowerCase()}`);
    expect(found(res)).toEqual([ids.munoz]);
    expect(found(await fhir('GET', `Patient?given=elodie&family=MUÑOZ${tag}`))).toEqual([ids.munoz]);
  });

  it('supports :exact and :contains', async () => {
    expect(found(await fhir('GET', `Patient?family:exact=Muñoz${tag}`))).toEqual([ids.munoz]);
    expect(found(await fhir('GET', `Patient?family:exact=munoz${tag}`))).toEqual([]);
    expect(found(await fhir('GET', `Patient?family:contains=${tag.toLowerCase()}`)).sort()).toEqual([ids.munoz, ids.munro, ids.smith].sort());
  });
});

describe('search by token', () => {
  it('matches system|code, |code-less systems, system| and bare codes; commas mean OR', async () => {
    expect(found(await fhir('GET', `Patient?identifier=${SYS}|${tag}-1`))).toEqual([ids.munoz]);
    expect(found(await fhir('GET', `Patient?identifier=${SYS}|${tag}-3`))).toEqual([]);
    expect(found(await fhir('GET', `Patient?identifier=${tag}-3`))).toEqual([ids.smith]);
    expect(found(await fhir('GET', `Patient?identifier=${tag}-1,${tag}-2`))).toEqual([ids.munoz, ids.munro].sort());
    expect(found(await fhir('GET', `Patient?family:contains=${tag}&gender:not=male`))).toEqual([ids.munoz, ids.smith].sort());
  });
});

describe('search by date', () => {
  it('applies prefixes to the range a partial date denotes', async () => {
    const q = `family:contains=${tag}`;
    expect(found(await fhir('GET', `Patient?${q}&birthdate=1978`))).toEqual([ids.munoz, ids.munro].sort());
    expect(found(await fhir('GET', `Patient?${q}&birthdate=1978-03`))).toEqual([ids.munoz]);
    expect(found(await fhir('GET', `Patient?${q}&birthdate=gt1978-06`))).toEqual([ids.munro, ids.smith].sort());
    expect(found(await fhir('GET', `Patient?${q}&birthdate=lt1978-06`))).toEqual([ids.munoz]);
    expect(found(await fhir('GET', `Patient?${q}&birthdate=ge1990-01-01`))).toEqual([ids.smith]);
    expect(found(await fhir('GET', `Patient?${q}&birthdate=sa1978`))).toEqual([ids.smith]);
    expect(found(await fhir('GET', `Patient?${q}&birthdate=eb1979`))).toEqual([ids.munoz, ids.munro].sort());
    expect(found(await fhir('GET', `Patient?${q}&birthdate=ne1978`))).toEqual([ids.smith]);
  });

  it('compares Periods as the range they cover, open ends included (R4 prefix semantics)', async () => {
    const system = `urn:test:${tag}`;
    const make = async (key: string, period: Record<string, string>) => {
      const res = await fhir('POST', 'Encounter', {
        resourceType: 'Encounter', status: 'finished', identifier: [{ system, value: key }], period,
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${ids.smith}` },
      });
      expect(res.status).toBe(201);
    };
    await Promise.all([
      make('half-year', { start: '2026-01-01', end: '2026-06-30' }),
      make('open', { start: '2026-03-01' }),
      make('hour', { start: '2026-03-10T09:00:00Z', end: '2026-03-10T10:00:00Z' }),
    ]);
    // Encounter `date` is Encounter.period.
    const dated = async (value: string) => {
      const res = await fhir('GET', `Encounter?identifier=${encodeURIComponent(`${system}|`)}&date=${value}&_count=10`);
      expect(res.status).toBe(200);
      return (res.body.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.identifier[0].value).sort();
    };
    expect(await dated('2026')).toEqual(['half-year', 'hour']); // within the year; an open end is not
    expect(await dated('2026-03-10')).toEqual(['hour']);
    expect(await dated('eb2026-07')).toEqual(['half-year', 'hour']);
    expect(await dated('sa2026-02')).toEqual(['hour', 'open']);
    expect(await dated('ap2026-03-10')).toEqual(['half-year', 'hour', 'open']);
    expect(await dated('lt2026-03-01')).toEqual(['half-year']);
    expect(await dated('gt2026-12')).toEqual(['open']);
    expect(await dated('ne2026')).toEqual(['open']);
  });

  it('refuses an invalid date with 400 naming the parameter', async () => {
    const res = await fhir('GET', 'Patient?birthdate=yesterday');
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toContain('birthdate');
  });
});

describe('search by reference and :missing', () => {
  it('finds by Type/id and by bare id, and :missing tells presence', async () => {
    const cov = await fhir('POST', 'Coverage', {
      resourceType: 'Coverage',
      status: 'active',
      beneficiary: { reference: `Patient/${ids.munoz}` },
      payor: [{ display: 'Synthetic Payer' }],
    });
    expect(found(await fhir('GET', `Coverage?beneficiary=Patient/${ids.munoz}`))).toEqual([cov.body.id]);
    expect(found(await fhir('GET', `Coverage?beneficiary=${ids.munoz}`))).toEqual([cov.body.id]);
    expect(found(await fhir('GET', `Coverage?patient=${g.fhirUrl}/Patient/${ids.munoz}`))).toEqual([cov.body.id]);
    expect(found(await fhir('GET', `Patient?family:contains=${tag}&gender:missing=true`))).toEqual([ids.smith]);
  });
});

describe('paging and result shape', () => {
  it('pages with next/previous links that neither repeat nor skip', async () => {
    const q = `family:contains=${tag}&_sort=_id`;
    const p1 = await fhir('GET', `Patient?${q}&_count=2`);
    expect(p1.body.type).toBe('searchset');
    const next = p1.body.link.find((l: any) => l.relation === 'next').url as string;
    const p2 = await fhir('GET', next.slice(g.fhirUrl.length + 1));
    expect(p2.body.link.find((l: any) => l.relation === 'next')).toBeUndefined();
    expect(p2.body.link.find((l: any) => l.relation === 'previous')).toBeDefined();
    expect([...found(p1), ...found(p2)].sort()).toEqual(Object.values(ids).sort());
    expect(new Set([...found(p1), ...found(p2)]).size).toBe(3);
  });

  it('gives the total on request and fullUrls on every entry', async () => {
    const res = await fhir('GET', `Patient?family:contains=${tag}&_total=accurate`);
    expect(res.body.total).toBe(3);
    for (const e of res.body.entry) expect(e.fullUrl).toBe(`${g.fhirUrl}/Patient/${e.resource.id}`);
  });

  it('ignores an unknown parameter with a warning OperationOutcome entry', async () => {
    const res = await fhir('GET', `Patient?family:contains=${tag}&shoe-size=42`);
    expect(res.status).toBe(200);
    expect(found(res)).toHaveLength(3);
    const warning = res.body.entry.find((e: any) => e.search?.mode === 'outcome');
    expect(warning.resource.issue[0].severity).toBe('warning');
    expect(warning.resource.issue[0].diagnostics).toContain('shoe-size');
  });

  it('searches by POST _search with a form body', async () => {
    const res = await fetch(`${g.fhirUrl}/Patient/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/fhir+json', authorization: `Bearer ${await getToken(g)}` },
      body: `identifier=${encodeURIComponent(`${SYS}|${tag}-2`)}`,
    });
    expect(res.status).toBe(200);
    expect(found({ body: await res.json() })).toEqual([ids.munro]);
  });
});

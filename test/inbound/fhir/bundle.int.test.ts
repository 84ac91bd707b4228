/**
 * Batch and transaction Bundles (http.html#transaction) over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

const MRN = 'urn:oid:2.16.840.1.113883.3.999.7';
const NPI = 'http://hl7.org/fhir/sid/us-npi';
const uuid = () => `urn:uuid:${crypto.randomUUID()}`;
const patient = (mrn: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  identifier: [{ system: MRN, value: mrn }],
  name: [{ family: 'Bundle', given: ['Test'] }],
  ...extra,
});
const count = async (q: string) => (await fhir('GET', q)).body.entry.filter((e: any) => e.search.mode === 'match').length;

describe('transaction Bundles', () => {
  it('rewrites urn:uuid references to the ids it assigns, and answers entry by entry in request order', async () => {
    const [p, org] = [uuid(), uuid()];
    const mrn = unique();
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: { resourceType: 'Coverage', status: 'active', beneficiary: { reference: p }, subscriber: { reference: p }, payor: [{ reference: org }] },
          request: { method: 'POST', url: 'Coverage' },
        },
        { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: org, resource: { resourceType: 'Organization', name: 'Synthetic Payer' }, request: { method: 'POST', url: 'Organization' } },
        {
          resource: {
            resourceType: 'Appointment',
            status: 'booked',
            start: '2026-02-01T09:00:00Z',
            end: '2026-02-01T09:15:00Z',
            participant: [{ actor: { reference: p }, status: 'accepted' }],
          },
          request: { method: 'POST', url: 'Appointment' },
        },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created', '201 Created', '201 Created']);
    const [coverageLoc, patientLoc, orgLoc, apptLoc] = res.body.entry.map((e: any) => e.response.location as string);
    expect(patientLoc).toMatch(/^Patient\/[0-9a-f-]{36}\/_history\/1$/);
    expect(res.body.entry[1].response.etag).toBe('W/"1"');
    const patientRef = patientLoc.split('/_history')[0];
    const coverage = await fhir('GET', coverageLoc.split('/_history')[0]);
    expect(coverage.body.beneficiary.reference).toBe(patientRef);
    expect(coverage.body.subscriber.reference).toBe(patientRef);
    expect(coverage.body.payor[0].reference).toBe(orgLoc.split('/_history')[0]);
    const appt = await fhir('GET', apptLoc.split('/_history')[0]);
    expect(appt.body.participant[0].actor.reference).toBe(patientRef);
  });

  it('resolves conditional references to the one matching resource', async () => {
    const npi = unique('npi');
    const { body: dr } = await fhir('POST', 'Practitioner', { resourceType: 'Practitioner', identifier: [{ system: NPI, value: npi }], name: [{ family: 'Refer' }] });
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: {
            resourceType: 'Appointment',
            status: 'proposed',
            participant: [{ actor: { reference: `Practitioner?identifier=${NPI}|${npi}` }, status: 'needs-action' }],
          },
          request: { method: 'POST', url: 'Appointment' },
        },
      ],
    });
    expect(res.status).toBe(200);
    const appt = await fhir('GET', res.body.entry[0].response.location.split('/_history')[0]);
    expect(appt.body.participant[0].actor.reference).toBe(`Practitioner/${dr.id}`);
  });

  it('fails whole (412) when a conditional reference matches nothing, storing nothing', async () => {
    const mrn = unique();
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: uuid(), resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Appointment', status: 'proposed', participant: [{ actor: { reference: `Practitioner?identifier=${NPI}|${unique('none')}` }, status: 'needs-action' }] },
          request: { method: 'POST', url: 'Appointment' },
        },
      ],
    });
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].expression[0]).toContain('Bundle.entry[1]');
    expect(await count(`Patient?identifier=${MRN}|${mrn}`)).toBe(0);
  });

  it('honours ifNoneExist: an existing match is reused (200) and references point to it; a rerun makes no duplicate', async () => {
    const mrn = unique();
    const { body: existing } = await fhir('POST', 'Patient', patient(mrn));
    const bundle = () => {
      const p = uuid();
      return {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } },
          { resource: { resourceType: 'Coverage', status: 'active', beneficiary: { reference: p }, payor: [{ display: 'X' }] }, request: { method: 'POST', url: 'Coverage' } },
        ],
      };
    };
    for (let run = 0; run < 2; run++) {
      const res = await fhir('POST', '', bundle());
      expect(res.status).toBe(200);
      expect(res.body.entry[0].response.status).toBe('200 OK');
      expect(res.body.entry[0].response.location).toContain(`Patient/${existing.id}/`);
      const cov = await fhir('GET', res.body.entry[1].response.location.split('/_history')[0]);
      expect(cov.body.beneficiary.reference).toBe(`Patient/${existing.id}`);
    }
    expect(await count(`Patient?identifier=${MRN}|${mrn}`)).toBe(1);
  });

  it('conditional update entries create when absent (201) and update when present (200)', async () => {
    const mrn = unique();
    const bundle = (gender: string) => ({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: patient(mrn, { gender }), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } }],
    });
    const first = await fhir('POST', '', bundle('female'));
    expect(first.body.entry[0].response.status).toBe('201 Created');
    const second = await fhir('POST', '', bundle('male'));
    expect(second.body.entry[0].response.status).toBe('200 OK');
    expect(second.body.entry[0].response.location.split('/_history')[0]).toBe(first.body.entry[0].response.location.split('/_history')[0]);
    expect(second.body.entry[0].resource.gender).toBe('male');
  });

  it('is all or nothing: one invalid entry rejects the Bundle with its path, and nothing is stored', async () => {
    const mrns = [unique(), unique(), unique()];
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient(mrns[0]!), request: { method: 'POST', url: 'Patient' } },
        { resource: patient(mrns[1]!), request: { method: 'POST', url: 'Patient' } },
        { resource: patient(unique(), { gender: 'x' }), request: { method: 'POST', url: 'Patient' } },
        { resource: patient(mrns[2]!), request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[2].resource.gender']);
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[2]');
    for (const m of mrns) expect(await count(`Patient?identifier=${MRN}|${m}`)).toBe(0);
  });

  it('runs DELETE, GET and JSON Patch (as Binary) entries', async () => {
    const { body: a } = await fhir('POST', 'Patient', patient(unique()));
    const { body: b } = await fhir('POST', 'Patient', patient(unique()));
    const patch = Buffer.from(JSON.stringify([{ op: 'add', path: '/gender', value: 'female' }])).toString('base64');
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { request: { method: 'GET', url: `Patient/${b.id}` } },
        { request: { method: 'DELETE', url: `Patient/${a.id}` } },
        { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient/${b.id}` } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: any) => e.response.status)).toEqual(['200 OK', '204 No Content', '200 OK']);
    expect((await fhir('GET', `Patient/${a.id}`)).status).toBe(410);
    expect((await fhir('GET', `Patient/${b.id}`)).body.gender).toBe('female');
  });

  it('refuses two entries acting on the same resource', async () => {
    const { body: a } = await fhir('POST', 'Patient', patient(unique()));
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { ...a, gender: 'male' }, request: { method: 'PUT', url: `Patient/${a.id}` } },
        { request: { method: 'DELETE', url: `Patient/${a.id}` } },
      ],
    });
    expect(res.status).toBe(400);
    expect((await fhir('GET', `Patient/${a.id}`)).body.meta.versionId).toBe('1');
  });

  it('with Prefer: return=minimal answers without resources', async () => {
    const res = await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient(unique()), request: { method: 'POST', url: 'Patient' } }] }, { prefer: 'return=minimal' });
    expect(res.body.entry[0].response.status).toBe('201 Created');
    expect(res.body.entry[0].resource).toBeUndefined();
  });

  it('refuses what is not a batch or transaction Bundle', async () => {
    expect((await fhir('POST', '', { resourceType: 'Patient' })).status).toBe(400);
    const collection = await fhir('POST', '', { resourceType: 'Bundle', type: 'collection', entry: [] });
    expect(collection.status).toBe(400);
    expect(collection.body.issue[0].expression).toEqual(['Bundle.type']);
    expect((await fhir('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient('x') }] })).status).toBe(400);
  });
});

describe('batch Bundles', () => {
  it('processes each entry on its own and reports each outcome', async () => {
    const mrn = unique();
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { resource: patient(unique(), { birthDate: 'yesterday' }), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        { request: { method: 'GET', url: `Patient?identifier=${MRN}|${mrn}` } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    const statuses = res.body.entry.map((e: any) => e.response.status);
    expect(statuses).toEqual(['201 Created', '400', '404', '200 OK']);
    expect(res.body.entry[1].response.outcome.issue[0].expression).toEqual(['Patient.birthDate']);
    expect(res.body.entry[3].resource.type).toBe('searchset');
    expect(await count(`Patient?identifier=${MRN}|${mrn}`)).toBe(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;

beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

function patient(mrn: string, extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.3.999.1', value: mrn }],
    name: [{ family: 'Testperson', given: ['Alex'] }],
    gender: 'other',
    birthDate: '1980-04-05',
    ...extra,
  };
}

describe('FHIR create and read', () => {
  it('creates with a server-assigned id and answers 201 with Location, ETag and Last-Modified', async () => {
    const res = await fhir('POST', 'Patient', { ...patient(unique()), id: 'client-chosen' });
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.meta.versionId).toBe('1');
    expect(res.headers.get('etag')).toBe('W/"1"');
    expect(res.headers.get('location')).toBe(`${g.fhirUrl}/Patient/${res.body.id}/_history/1`);
    expect(new Date(res.headers.get('last-modified')!).getTime()).toBeGreaterThan(0);
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    const read = await fhir('GET', `Patient/${res.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
    expect(Object.keys(read.body).slice(0, 3)).toEqual(['resourceType', 'id', 'meta']);
  });

  it('answers 404 with an OperationOutcome for an unknown id and for an unknown type', async () => {
    const missing = await fhir('GET', 'Patient/does-not-exist');
    expect(missing.status).toBe(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
    expect(missing.body.issue[0].diagnostics).toContain('Patient/does-not-exist');
    const type = await fhir('GET', 'Spaceship/1');
    expect(type.status).toBe(404);
    expect(type.body.issue[0].diagnostics).toContain('Spaceship');
  });

  it('answers 304 to a read whose If-None-Match is the current version', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique()));
    const res = await fhir('GET', `Patient/${body.id}`, undefined, { 'if-none-match': 'W/"1"' });
    expect(res.status).toBe(304);
  });
});

describe('FHIR update, vread and history', () => {
  it('versions every update and serves each version by vread', async () => {
    const { body: v1 } = await fhir('POST', 'Patient', patient(unique()));
    const v2 = await fhir('PUT', `Patient/${v1.id}`, { ...v1, gender: 'female' });
    expect(v2.status).toBe(200);
    expect(v2.body.meta.versionId).toBe('2');
    expect(v2.headers.get('etag')).toBe('W/"2"');
    const old = await fhir('GET', `Patient/${v1.id}/_history/1`);
    expect(old.status).toBe(200);
    expect(old.body.gender).toBe('other');
    const hist = await fhir('GET', `Patient/${v1.id}/_history`);
    expect(hist.body.type).toBe('history');
    expect(hist.body.entry.map((e: any) => e.resource.meta.versionId)).toEqual(['2', '1']);
    expect((await fhir('GET', `Patient/${v1.id}/_history/9`)).status).toBe(404);
  });

  it('creates on PUT to a new id (update as create) with 201', async () => {
    const id = unique('put');
    const res = await fhir('PUT', `Patient/${id}`, { ...patient(unique()), id });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe(id);
    expect(res.headers.get('location')).toContain(`/Patient/${id}/_history/1`);
  });

  it('refuses a PUT whose body id differs from the URL', async () => {
    const res = await fhir('PUT', 'Patient/abc', { ...patient(unique()), id: 'xyz' });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Patient.id']);
  });

  it('checks If-Match: the current version succeeds, a stale one gets 412', async () => {
    const { body: v1 } = await fhir('POST', 'Patient', patient(unique()));
    const ok = await fhir('PUT', `Patient/${v1.id}`, { ...v1, gender: 'male' }, { 'if-match': 'W/"1"' });
    expect(ok.status).toBe(200);
    const stale = await fhir('PUT', `Patient/${v1.id}`, { ...v1, gender: 'female' }, { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    expect((await fhir('GET', `Patient/${v1.id}`)).body.gender).toBe('male');
  });

  it('serves type history newest first', async () => {
    const { body } = await fhir('POST', 'Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Hist' }] });
    const res = await fhir('GET', 'Practitioner/_history?_count=5');
    expect(res.status).toBe(200);
    expect(res.body.entry[0].resource.id).toBe(body.id);
  });
});

describe('FHIR delete', () => {
  it('deletes, then read answers 410 Gone, and history keeps the deletion', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique()));
    const del = await fhir('DELETE', `Patient/${body.id}`);
    expect(del.status).toBe(204);
    const read = await fhir('GET', `Patient/${body.id}`);
    expect(read.status).toBe(410);
    expect(read.body.resourceType).toBe('OperationOutcome');
    const hist = await fhir('GET', `Patient/${body.id}/_history`);
    expect(hist.body.entry[0].request.method).toBe('DELETE');
    expect((await fhir('DELETE', `Patient/${body.id}`)).status).toBe(204);
    const search = await fhir('GET', `Patient?_id=${body.id}`);
    expect(search.body.entry).toHaveLength(0);
  });

  it('refuses a delete with a stale If-Match', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique()));
    await fhir('PUT', `Patient/${body.id}`, { ...body, active: true });
    const res = await fhir('DELETE', `Patient/${body.id}`, undefined, { 'if-match': 'W/"1"' });
    expect(res.status).toBe(412);
  });
});

describe('FHIR patch (JSON Patch)', () => {
  it('applies a JSON Patch as a new version', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique()));
    const res = await fhir('PATCH', `Patient/${body.id}`, [{ op: 'replace', path: '/gender', value: 'female' }], {
      'content-type': 'application/json-patch+json',
    });
    expect(res.status).toBe(200);
    expect(res.body.gender).toBe('female');
    expect(res.body.meta.versionId).toBe('2');
  });

  it('refuses a patch that makes the resource invalid, naming the element', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique()));
    const res = await fhir('PATCH', `Patient/${body.id}`, [{ op: 'replace', path: '/gender', value: 'x' }], {
      'content-type': 'application/json-patch+json',
    });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Patient.gender']);
    expect((await fhir('GET', `Patient/${body.id}`)).body.meta.versionId).toBe('1');
  });

  it('answers a failed test operation with 422 and a stale If-Match with 412', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique()));
    const test = await fhir('PATCH', `Patient/${body.id}`, [{ op: 'test', path: '/gender', value: 'male' }], {
      'content-type': 'application/json-patch+json',
    });
    expect(test.status).toBe(422);
    const stale = await fhir('PATCH', `Patient/${body.id}`, [{ op: 'replace', path: '/active', value: true }], {
      'content-type': 'application/json-patch+json',
      'if-match': 'W/"7"',
    });
    expect(stale.status).toBe(412);
  });
});

describe('FHIR conditional interactions', () => {
  it('conditional create returns the existing resource (200) instead of a duplicate', async () => {
    const mrn = unique('mrn');
    const first = await fhir('POST', 'Patient', patient(mrn), {
      'if-none-exist': `identifier=urn:oid:2.16.840.1.113883.3.999.1|${mrn}`,
    });
    expect(first.status).toBe(201);
    const again = await fhir('POST', 'Patient', patient(mrn), {
      'if-none-exist': `identifier=urn:oid:2.16.840.1.113883.3.999.1|${mrn}`,
    });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
  });

  it('conditional update updates the single match, creates when none matches', async () => {
    const mrn = unique('mrn');
    const q = `identifier=urn:oid:2.16.840.1.113883.3.999.1|${mrn}`;
    const created = await fhir('PUT', `Patient?${q}`, patient(mrn));
    expect(created.status).toBe(201);
    const updated = await fhir('PUT', `Patient?${q}`, patient(mrn, { gender: 'female' }));
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    expect(updated.body.meta.versionId).toBe('2');
  });

  it('refuses conditional writes that match several resources with 412', async () => {
    const family = unique('Twin').replace(/[^A-Za-z]/g, '');
    await fhir('POST', 'Patient', patient(unique(), { name: [{ family }] }));
    await fhir('POST', 'Patient', patient(unique(), { name: [{ family }] }));
    const res = await fhir('PUT', `Patient?family:exact=${family}`, patient(unique()));
    expect(res.status).toBe(412);
    const del = await fhir('DELETE', `Patient?family:exact=${family}`);
    expect(del.status).toBe(412);
  });

  it('conditional delete removes the single match', async () => {
    const mrn = unique('mrn');
    const { body } = await fhir('POST', 'Patient', patient(mrn));
    const res = await fhir('DELETE', `Patient?identifier=${mrn}`);
    expect(res.status).toBe(204);
    expect((await fhir('GET', `Patient/${body.id}`)).status).toBe(410);
  });

  it('refuses a condition on a parameter it cannot evaluate rather than guessing', async () => {
    const res = await fhir('POST', 'Patient', patient(unique()), { 'if-none-exist': 'nonsense-param=1' });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toMatch(/not supported/);
  });
});

describe('Prefer: return', () => {
  it('minimal gives no body, OperationOutcome gives an outcome, representation the resource', async () => {
    const minimal = await fhir('POST', 'Patient', patient(unique()), { prefer: 'return=minimal' });
    expect(minimal.status).toBe(201);
    expect(minimal.body).toBeUndefined();
    expect(minimal.headers.get('location')).toContain('/Patient/');
    const oo = await fhir('POST', 'Patient', patient(unique()), { prefer: 'return=OperationOutcome' });
    expect(oo.body.resourceType).toBe('OperationOutcome');
    expect(oo.body.issue[0].severity).toBe('information');
    const rep = await fhir('POST', 'Patient', patient(unique()), { prefer: 'return=representation' });
    expect(rep.body.resourceType).toBe('Patient');
  });
});

describe('FHIR errors', () => {
  it('answers invalid JSON with 400 and an OperationOutcome, never a stack trace', async () => {
    const res = await fhir('POST', 'Patient', '{"resourceType": "Patient",');
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toMatch(/Invalid JSON/);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('validates every write and names the offending elements', async () => {
    const res = await fhir('POST', 'Patient', { resourceType: 'Patient', gender: 'x', birthDate: '1980-13-45', foo: 1 });
    expect(res.status).toBe(400);
    const expressions = res.body.issue.flatMap((i: any) => i.expression);
    expect(expressions).toEqual(expect.arrayContaining(['Patient.gender', 'Patient.birthDate', 'Patient.foo']));
    for (const issue of res.body.issue) {
      expect(issue.severity).toBe('error');
      expect(issue.code).toBeTruthy();
      expect(issue.diagnostics).toBeTruthy();
    }
  });

  it('catches a broken invariant (Appointment app-3: start and end together)', async () => {
    const res = await fhir('POST', 'Appointment', {
      resourceType: 'Appointment',
      status: 'booked',
      start: '2026-01-05T09:00:00Z',
      participant: [{ actor: { reference: 'Patient/x' }, status: 'accepted' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Appointment']);
  });

  it('answers a body whose resourceType does not match the URL with 400', async () => {
    const res = await fhir('POST', 'Patient', { resourceType: 'Practitioner' });
    expect(res.status).toBe(400);
  });

  it('is JSON only: 406 for XML Accept or _format, 415 for an XML body', async () => {
    expect((await fhir('GET', 'metadata', undefined, { accept: 'application/fhir+xml' })).status).toBe(406);
    expect((await fhir('GET', 'Patient?_format=xml')).status).toBe(406);
    const xml = await fhir('POST', 'Patient', '<Patient xmlns="http://hl7.org/fhir"/>', {
      'content-type': 'application/fhir+xml',
    });
    expect(xml.status).toBe(415);
    expect(xml.body.resourceType).toBe('OperationOutcome');
  });

  it('keeps AuditEvent read-only to clients (405)', async () => {
    const res = await fhir('POST', 'AuditEvent', { resourceType: 'AuditEvent' });
    expect(res.status).toBe(405);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect((await fhir('GET', 'AuditEvent')).status).toBe(200);
  });
});

describe('CapabilityStatement', () => {
  it('lists exactly the supported types and their interactions', async () => {
    const res = await fhir('GET', 'metadata');
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('CapabilityStatement');
    expect(res.body.fhirVersion).toBe('4.0.1');
    const types = res.body.rest[0].resource.map((r: any) => r.type);
    expect(types).toContain('Patient');
    expect(types).toContain('CoverageEligibilityResponse');
    expect(types).toHaveLength(24);
    const audit = res.body.rest[0].resource.find((r: any) => r.type === 'AuditEvent');
    expect(audit.interaction.map((i: any) => i.code)).not.toContain('create');
    const p = res.body.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(p.searchParam.map((s: any) => s.name)).toEqual(expect.arrayContaining(['identifier', 'name', 'birthdate']));
  });
});

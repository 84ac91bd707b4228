/**
 * Transaction and batch Bundles (FHIR R4 http.html#transaction) through real HTTP: `POST {base}` with a Bundle.
 *
 * Every identifier comes from `unique()`, so test files sharing the database never see each other's data, and
 * "nothing was stored" is checked by searching for those identifiers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, getToken, testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;

beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

const MRN = 'urn:oid:2.16.840.1.113883.3.999.42';
const NPI = 'http://hl7.org/fhir/sid/us-npi';
const PAYER = 'urn:oid:2.16.840.1.113883.3.999.43';

type Entry = {
  fullUrl?: string;
  resource?: Record<string, unknown>;
  request: { method: string; url: string; ifNoneExist?: string; ifMatch?: string };
};

const urn = () => `urn:uuid:${crypto.randomUUID()}`;
const transaction = (entry: Entry[]) => ({ resourceType: 'Bundle', type: 'transaction', entry });
const batch = (entry: Entry[]) => ({ resourceType: 'Bundle', type: 'batch', entry });

function patient(mrn: string, extra: Record<string, unknown> = {}) {
  return {
    resourceType: 'Patient',
    identifier: [{ system: MRN, value: mrn }],
    name: [{ family: 'Synthetic', given: ['Transaction'] }],
    gender: 'unknown',
    birthDate: '1990-01-02',
    ...extra,
  };
}

function practitioner(npi: string) {
  return { resourceType: 'Practitioner', identifier: [{ system: NPI, value: npi }], name: [{ family: 'Synthdoc' }] };
}

function organization(payerId: string) {
  return { resourceType: 'Organization', identifier: [{ system: PAYER, value: payerId }], name: 'Synthetic Payer Inc.' };
}

function appointment(...actors: string[]) {
  return {
    resourceType: 'Appointment',
    status: 'booked',
    start: '2026-03-02T09:00:00Z',
    end: '2026-03-02T09:20:00Z',
    participant: actors.map((reference) => ({ actor: { reference }, status: 'accepted' })),
  };
}

function coverage(beneficiary: string, payor: string) {
  return {
    resourceType: 'Coverage',
    status: 'active',
    beneficiary: { reference: beneficiary },
    subscriber: { reference: beneficiary },
    payor: [{ reference: payor }],
  };
}

/** `Patient/abc/_history/3` → `Patient/abc`. */
const refOf = (location: string) => location.replace(/\/_history\/.*$/, '');

/** Ids of the resources a search matches (included resources left out). */
async function matches(query: string): Promise<string[]> {
  const res = await fhir('GET', query);
  expect(res.status).toBe(200);
  return (res.body.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id as string);
}

describe('transaction Bundles', () => {
  it('rewrites urn:uuid references to the ids it assigns, answering entry by entry in request order', async () => {
    const [p, org] = [urn(), urn()];
    const [mrn, payerId] = [unique('mrn'), unique('payer')];
    const res = await fhir(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        // The Coverage names the Organization before the Bundle has declared it: the order must not matter.
        { fullUrl: urn(), resource: coverage(p, org), request: { method: 'POST', url: 'Coverage' } },
        { fullUrl: org, resource: organization(payerId), request: { method: 'POST', url: 'Organization' } },
        { fullUrl: urn(), resource: appointment(p), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('Bundle');
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry).toHaveLength(4);
    const types = ['Patient', 'Coverage', 'Organization', 'Appointment'];
    res.body.entry.forEach((e: any, i: number) => {
      expect(e.response.status).toMatch(/^201\b/);
      expect(e.response.location).toMatch(new RegExp(`^${types[i]}/[0-9a-f-]{36}/_history/1$`));
      expect(e.response.etag).toBe('W/"1"');
      expect(Date.parse(e.response.lastModified)).toBeGreaterThan(0);
      expect(e.resource.resourceType).toBe(types[i]);
      expect(refOf(e.response.location)).toBe(`${types[i]}/${e.resource.id}`);
    });
    const [patientRef, coverageRef, orgRef, apptRef] = res.body.entry.map((e: any) => refOf(e.response.location));
    // Nothing in the response still carries a placeholder.
    expect(JSON.stringify(res.body)).not.toContain('urn:uuid:');

    const cov = await fhir('GET', coverageRef);
    expect(cov.status).toBe(200);
    expect(cov.body.beneficiary.reference).toBe(patientRef);
    expect(cov.body.subscriber.reference).toBe(patientRef);
    expect(cov.body.payor[0].reference).toBe(orgRef);
    const appt = await fhir('GET', apptRef);
    expect(appt.status).toBe(200);
    expect(appt.body.participant[0].actor.reference).toBe(patientRef);
    // The assigned ids are real: the patient is findable by its identifier and is the one referenced.
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toEqual([patientRef.split('/')[1]]);
    expect(await matches(`Coverage?beneficiary=${patientRef}`)).toEqual([coverageRef.split('/')[1]]);
  });

  it('resolves a conditional reference to the one resource it matches', async () => {
    const npi = unique('npi');
    const dr = await fhir('POST', 'Practitioner', practitioner(npi));
    expect(dr.status).toBe(201);
    const p = urn();
    const res = await fhir(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(unique('mrn')), request: { method: 'POST', url: 'Patient' } },
        { resource: appointment(p, `Practitioner?identifier=${NPI}|${npi}`), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(200);
    expect(res.body.entry[1].response.status).toMatch(/^201\b/);
    const appt = await fhir('GET', refOf(res.body.entry[1].response.location));
    expect(appt.body.participant.map((x: any) => x.actor.reference)).toEqual([
      refOf(res.body.entry[0].response.location),
      `Practitioner/${dr.body.id}`,
    ]);
  });

  it('fails whole with 412 when a conditional reference matches nothing, storing nothing', async () => {
    const mrn = unique('mrn');
    const p = urn();
    const res = await fhir(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { resource: appointment(p, `Practitioner?identifier=${NPI}|${unique('nobody')}`), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].severity).toBe('error');
    expect(res.body.issue[0].diagnostics).toMatch(/matched no resource/);
    expect(res.body.issue[0].expression[0]).toMatch(/^Bundle\.entry\[1\]\.resource\.participant\[1\]\.actor\.reference$/);
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(0);
  });

  it('fails whole with 412 when a conditional reference matches more than one resource', async () => {
    const npi = unique('npi');
    await fhir('POST', 'Practitioner', practitioner(npi));
    await fhir('POST', 'Practitioner', practitioner(npi));
    const mrn = unique('mrn');
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { resource: appointment(`Practitioner?identifier=${NPI}|${npi}`), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(412);
    expect(res.body.issue[0].diagnostics).toMatch(/more than one/);
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(0);
  });

  // http.html#trules: conditional references are resolved after the writes; the entry order must not matter.
  it('resolves conditional references after the writes, whatever the entry order', async () => {
    const mrn = unique('mrn');
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: appointment(`Patient?identifier=${MRN}|${mrn}`), request: { method: 'POST', url: 'Appointment' } },
        { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
      ])
    );
    expect(res.status).toBe(200);
    const appt = await fhir('GET', refOf(res.body.entry[0].response.location));
    expect(appt.body.participant[0].actor.reference).toBe(refOf(res.body.entry[1].response.location));
  });

  it('resolves a conditional reference to a resource created earlier in the same Bundle', async () => {
    const mrn = unique('mrn');
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { resource: appointment(`Patient?identifier=${MRN}|${mrn}`), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(200);
    const appt = await fhir('GET', refOf(res.body.entry[1].response.location));
    expect(appt.body.participant[0].actor.reference).toBe(refOf(res.body.entry[0].response.location));
  });
});

describe('conditional entries in transaction Bundles', () => {
  const registration = (mrn: string) => {
    const p = urn();
    return transaction([
      { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } },
      { fullUrl: urn(), resource: appointment(p), request: { method: 'POST', url: 'Appointment' } },
    ]);
  };

  it('reuses the existing match of an ifNoneExist create (200) and points references at it', async () => {
    const mrn = unique('mrn');
    const existing = await fhir('POST', 'Patient', patient(mrn));
    expect(existing.status).toBe(201);
    const res = await fhir('POST', '', registration(mrn));
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toMatch(/^200\b/);
    expect(res.body.entry[0].response.location).toBe(`Patient/${existing.body.id}/_history/1`);
    expect(res.body.entry[0].resource.id).toBe(existing.body.id);
    expect(res.body.entry[1].response.status).toMatch(/^201\b/);
    const appt = await fhir('GET', refOf(res.body.entry[1].response.location));
    expect(appt.body.participant[0].actor.reference).toBe(`Patient/${existing.body.id}`);
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toEqual([existing.body.id]);
  });

  it('creates on the first run of an ifNoneExist transaction and makes no duplicate on the second', async () => {
    const mrn = unique('mrn');
    const first = await fhir('POST', '', registration(mrn));
    expect(first.status).toBe(200);
    expect(first.body.entry[0].response.status).toMatch(/^201\b/);
    const id = first.body.entry[0].resource.id;
    const second = await fhir('POST', '', registration(mrn));
    expect(second.status).toBe(200);
    expect(second.body.entry[0].response.status).toMatch(/^200\b/);
    expect(second.body.entry[0].resource.id).toBe(id);
    const appt = await fhir('GET', refOf(second.body.entry[1].response.location));
    expect(appt.body.participant[0].actor.reference).toBe(`Patient/${id}`);
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toEqual([id]);
    expect(await matches(`Appointment?patient=Patient/${id}`)).toHaveLength(2);
  });

  it('makes exactly one resource when the same ifNoneExist transaction arrives concurrently', async () => {
    const mrn = unique('mrn');
    const results = await Promise.all(Array.from({ length: 5 }, () => fhir('POST', '', registration(mrn))));
    for (const r of results) expect(r.status).toBe(200);
    const statuses = results.map((r) => r.body.entry[0].response.status.slice(0, 3)).sort();
    expect(statuses).toEqual(['200', '200', '200', '200', '201']);
    const ids = new Set(results.map((r) => r.body.entry[0].resource.id));
    expect(ids.size).toBe(1);
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toEqual([...ids]);
  });

  it('refuses an ifNoneExist that matches several resources with 412', async () => {
    const mrn = unique('mrn');
    await fhir('POST', 'Patient', patient(mrn));
    await fhir('POST', 'Patient', patient(mrn));
    const res = await fhir('POST', '', registration(mrn));
    expect(res.status).toBe(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].code).toBe('multiple-matches');
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[0]');
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(2);
  });

  it('conditional update entries create when nothing matches (201) and update the match (200, same id)', async () => {
    const mrn = unique('mrn');
    const put = (gender: string) =>
      fhir('POST', '', transaction([{ resource: patient(mrn, { gender }), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } }]));
    const created = await put('female');
    expect(created.status).toBe(200);
    expect(created.body.entry[0].response.status).toMatch(/^201\b/);
    expect(created.body.entry[0].response.etag).toBe('W/"1"');
    const id = created.body.entry[0].resource.id;
    expect(created.body.entry[0].response.location).toBe(`Patient/${id}/_history/1`);

    const updated = await put('male');
    expect(updated.status).toBe(200);
    expect(updated.body.entry[0].response.status).toMatch(/^200\b/);
    expect(updated.body.entry[0].response.location).toBe(`Patient/${id}/_history/2`);
    expect(updated.body.entry[0].response.etag).toBe('W/"2"');
    const read = await fhir('GET', `Patient/${id}`);
    expect(read.body.gender).toBe('male');
    expect(read.body.meta.versionId).toBe('2');
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toEqual([id]);
  });

  it('points urn:uuid references at the resource a conditional update entry resolved to', async () => {
    const mrn = unique('mrn');
    const { body: existing } = await fhir('POST', 'Patient', patient(mrn));
    const p = urn();
    const res = await fhir(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(mrn, { gender: 'female' }), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } },
        { resource: appointment(p), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.location).toBe(`Patient/${existing.id}/_history/2`);
    const appt = await fhir('GET', refOf(res.body.entry[1].response.location));
    expect(appt.body.participant[0].actor.reference).toBe(`Patient/${existing.id}`);
  });
});

describe('transaction Bundles are all or nothing', () => {
  it('rejects the Bundle with 400 for one invalid entry, names the entry, and stores none of the others', async () => {
    const [mrn1, mrn2, npi, badMrn] = [unique('mrn'), unique('mrn'), unique('npi'), unique('mrn')];
    const p = urn();
    const res = await fhir(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(mrn1), request: { method: 'POST', url: 'Patient' } },
        { resource: practitioner(npi), request: { method: 'POST', url: 'Practitioner' } },
        { resource: patient(badMrn, { gender: 'x' }), request: { method: 'POST', url: 'Patient' } },
        { resource: patient(mrn2), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn2}` } },
      ])
    );
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    const expressions: string[] = res.body.issue.flatMap((i: any) => i.expression ?? []);
    expect(expressions).toContain('Bundle.entry[2].resource.gender');
    for (const e of expressions) expect(e).toMatch(/^Bundle\.entry\[2\]/);
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[2]');
    expect(await matches(`Patient?identifier=${MRN}|${mrn1}`)).toHaveLength(0);
    expect(await matches(`Patient?identifier=${MRN}|${mrn2}`)).toHaveLength(0);
    expect(await matches(`Patient?identifier=${MRN}|${badMrn}`)).toHaveLength(0);
    expect(await matches(`Practitioner?identifier=${NPI}|${npi}`)).toHaveLength(0);
  });

  it('rolls back deletes and updates already done when a later entry fails', async () => {
    const { body: doomed } = await fhir('POST', 'Patient', patient(unique('mrn')));
    const { body: edited } = await fhir('POST', 'Patient', patient(unique('mrn')));
    const res = await fhir(
      'POST',
      '',
      transaction([
        { request: { method: 'DELETE', url: `Patient/${doomed.id}` } },
        { resource: { ...edited, gender: 'female' }, request: { method: 'PUT', url: `Patient/${edited.id}` } },
        // Runs last (GET after the writes) and fails: the delete and the update must be undone.
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      ])
    );
    expect(res.status).toBe(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[2]');
    const a = await fhir('GET', `Patient/${doomed.id}`);
    expect(a.status).toBe(200);
    expect(a.body.meta.versionId).toBe('1');
    const b = await fhir('GET', `Patient/${edited.id}`);
    expect(b.body.gender).toBe('unknown');
    expect(b.body.meta.versionId).toBe('1');
  });

  it('fails whole with 412 for an entry whose ifMatch is stale', async () => {
    const { body: v1 } = await fhir('POST', 'Patient', patient(unique('mrn')));
    await fhir('PUT', `Patient/${v1.id}`, { ...v1, active: true });
    const mrn = unique('mrn');
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...v1, gender: 'male' }, request: { method: 'PUT', url: `Patient/${v1.id}`, ifMatch: 'W/"1"' } },
      ])
    );
    expect(res.status).toBe(412);
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[1]');
    expect((await fhir('GET', `Patient/${v1.id}`)).body.gender).toBe('unknown');
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(0);
  });
});

describe('DELETE, GET and PATCH entries', () => {
  it('deletes one resource (204) and reads another (200) in one transaction', async () => {
    const { body: gone } = await fhir('POST', 'Patient', patient(unique('mrn')));
    const { body: kept } = await fhir('POST', 'Patient', patient(unique('mrn'), { gender: 'female' }));
    const res = await fhir(
      'POST',
      '',
      transaction([
        { request: { method: 'DELETE', url: `Patient/${gone.id}` } },
        { request: { method: 'GET', url: `Patient/${kept.id}` } },
      ])
    );
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry[0].response.status).toMatch(/^204\b/);
    expect(res.body.entry[0].resource).toBeUndefined();
    expect(res.body.entry[1].response.status).toMatch(/^200\b/);
    expect(res.body.entry[1].resource.id).toBe(kept.id);
    expect(res.body.entry[1].resource.gender).toBe('female');
    expect((await fhir('GET', `Patient/${gone.id}`)).status).toBe(410);
    expect((await fhir('GET', `Patient/${kept.id}`)).status).toBe(200);
  });

  it('applies a JSON Patch carried as a Binary', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique('mrn')));
    const ops = [
      { op: 'test', path: '/gender', value: 'unknown' },
      { op: 'replace', path: '/gender', value: 'female' },
      { op: 'add', path: '/active', value: true },
    ];
    const res = await fhir(
      'POST',
      '',
      transaction([
        {
          resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(ops)).toString('base64') },
          request: { method: 'PATCH', url: `Patient/${body.id}` },
        },
      ])
    );
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toMatch(/^200\b/);
    expect(res.body.entry[0].response.location).toBe(`Patient/${body.id}/_history/2`);
    const read = await fhir('GET', `Patient/${body.id}`);
    expect(read.body.gender).toBe('female');
    expect(read.body.active).toBe(true);
    expect(read.body.meta.versionId).toBe('2');
  });

  it('fails the transaction when a JSON Patch entry does not apply', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique('mrn')));
    const mrn = unique('mrn');
    const ops = [{ op: 'test', path: '/gender', value: 'male' }];
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(ops)).toString('base64') },
          request: { method: 'PATCH', url: `Patient/${body.id}` },
        },
      ])
    );
    expect(res.status).toBe(422);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(0);
  });
});

describe('transaction Bundle rules', () => {
  it('refuses two entries acting on the same resource with 400, changing nothing', async () => {
    const { body: a } = await fhir('POST', 'Patient', patient(unique('mrn')));
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: { ...a, gender: 'male' }, request: { method: 'PUT', url: `Patient/${a.id}` } },
        { request: { method: 'DELETE', url: `Patient/${a.id}` } },
      ])
    );
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toContain(`Patient/${a.id}`);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1]']);
    const read = await fhir('GET', `Patient/${a.id}`);
    expect(read.status).toBe(200);
    expect(read.body.meta.versionId).toBe('1');
  });

  it('refuses a conditional entry that resolves to a resource another entry acts on', async () => {
    const mrn = unique('mrn');
    const { body: a } = await fhir('POST', 'Patient', patient(mrn));
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: { ...a, active: true }, request: { method: 'PUT', url: `Patient/${a.id}` } },
        { resource: patient(mrn, { gender: 'male' }), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } },
      ])
    );
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toContain(`Patient/${a.id}`);
    expect((await fhir('GET', `Patient/${a.id}`)).body.meta.versionId).toBe('1');
  });

  it('with Prefer: return=minimal answers each entry with a response and no resource', async () => {
    const mrn = unique('mrn');
    const p = urn();
    const res = await fhir(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { resource: appointment(p), request: { method: 'POST', url: 'Appointment' } },
      ]),
      { prefer: 'return=minimal' }
    );
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry).toHaveLength(2);
    for (const e of res.body.entry) {
      expect(e.response.status).toMatch(/^201\b/);
      expect(e.response.location).toMatch(/^(Patient|Appointment)\/[0-9a-f-]{36}\/_history\/1$/);
      expect(e.response.etag).toBe('W/"1"');
      expect(e).not.toHaveProperty('resource');
    }
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toEqual([refOf(res.body.entry[0].response.location).split('/')[1]]);
  });

  it('refuses a body that is not a Bundle with 400 and an OperationOutcome', async () => {
    const res = await fhir('POST', '', patient(unique('mrn')));
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toMatch(/Bundle/);
  });

  it('refuses a Bundle of type collection with 400 naming Bundle.type', async () => {
    const mrn = unique('mrn');
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: patient(mrn), request: { method: 'POST', url: 'Patient' } }],
    });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].expression).toEqual(['Bundle.type']);
    expect(res.body.issue[0].diagnostics).toContain('collection');
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(0);
  });

  it('refuses an entry without request with 400 naming it', async () => {
    const mrn = unique('mrn');
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: patient(mrn), request: { method: 'POST', url: 'Patient' } }, { resource: patient(unique('mrn')) }],
    });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[1].request']);
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(0);
  });

  it('checks each entry against the token scopes: one forbidden entry refuses the whole transaction (403)', async () => {
    const patientsOnly = client(g, () => getToken(g, 'system/Patient.cruds'));
    const mrn = unique('mrn');
    const p = urn();
    const res = await patientsOnly(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { resource: appointment(p), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(403);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toContain('Bundle.entry[1]');
    expect(await matches(`Patient?identifier=${MRN}|${mrn}`)).toHaveLength(0);
  });

  // http.html#trules: only references to the entry are updated; an identifier holding the same text is data.
  it('rewrites references only, leaving an identifier that equals a fullUrl untouched', async () => {
    const p = urn();
    const res = await fhir(
      'POST',
      '',
      transaction([
        {
          fullUrl: p,
          resource: patient(unique('mrn'), { identifier: [{ system: 'urn:ietf:rfc:3986', value: p }] }),
          request: { method: 'POST', url: 'Patient' },
        },
        { resource: appointment(p), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(200);
    const id = res.body.entry[0].resource.id;
    const appt = await fhir('GET', refOf(res.body.entry[1].response.location));
    expect(appt.body.participant[0].actor.reference).toBe(`Patient/${id}`);
    expect(res.body.entry[0].resource.identifier).toEqual([{ system: 'urn:ietf:rfc:3986', value: p }]);
    expect(await matches(`Patient?identifier=urn:ietf:rfc:3986|${p}`)).toEqual([id]);
  });

  // http.html#cond-update: one match but the body names another id → 400, inside a Bundle as outside.
  it('refuses a conditional update entry whose resource id differs from the match (400), as a plain PUT does', async () => {
    const mrn = unique('mrn');
    const { body: a } = await fhir('POST', 'Patient', patient(mrn));
    const plain = await fhir('PUT', `Patient?identifier=${MRN}|${mrn}`, patient(mrn, { id: 'some-other-id', gender: 'male' }));
    expect(plain.status).toBe(400);
    const res = await fhir(
      'POST',
      '',
      transaction([
        { resource: patient(mrn, { id: 'some-other-id', gender: 'male' }), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } },
      ])
    );
    expect(res.status).toBe(400);
    expect((await fhir('GET', `Patient/${a.id}`)).body.meta.versionId).toBe('1');
  });

  // bdl-7: fullUrls are unique in a Bundle; a reference to a shared one would be ambiguous.
  it('refuses a transaction whose entries share a fullUrl (bdl-7) and stores nothing', async () => {
    const p = urn();
    const [m1, m2] = [unique('mrn'), unique('mrn')];
    const res = await fhir(
      'POST',
      '',
      transaction([
        { fullUrl: p, resource: patient(m1), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: p, resource: patient(m2), request: { method: 'POST', url: 'Patient' } },
        { resource: appointment(p), request: { method: 'POST', url: 'Appointment' } },
      ])
    );
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(await matches(`Patient?identifier=${MRN}|${m1}`)).toHaveLength(0);
    expect(await matches(`Patient?identifier=${MRN}|${m2}`)).toHaveLength(0);
  });
});

describe('batch Bundles', () => {
  it('processes each entry on its own: the good one is stored, the bad one reported', async () => {
    const [good, bad] = [unique('mrn'), unique('mrn')];
    const res = await fhir(
      'POST',
      '',
      batch([
        { resource: patient(good), request: { method: 'POST', url: 'Patient' } },
        { resource: patient(bad, { gender: 'x' }), request: { method: 'POST', url: 'Patient' } },
      ])
    );
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('Bundle');
    expect(res.body.type).toBe('batch-response');
    expect(res.body.entry).toHaveLength(2);
    const [ok, ko] = res.body.entry;
    expect(ok.response.status).toMatch(/^201\b/);
    expect(ok.response.location).toBe(`Patient/${ok.resource.id}/_history/1`);
    expect(ko.response.status).toMatch(/^4\d\d\b/);
    expect(ko.response.outcome.resourceType).toBe('OperationOutcome');
    expect(ko.response.outcome.issue[0].severity).toBe('error');
    expect(ko.response.outcome.issue.flatMap((i: any) => i.expression ?? [])).toContain('Patient.gender');
    expect(ko.resource).toBeUndefined();
    expect(await matches(`Patient?identifier=${MRN}|${good}`)).toEqual([ok.resource.id]);
    expect(await matches(`Patient?identifier=${MRN}|${bad}`)).toHaveLength(0);
  });

  it('answers a failed read and a search inside a batch with their own statuses', async () => {
    const mrn = unique('mrn');
    const { body } = await fhir('POST', 'Patient', patient(mrn));
    const res = await fhir(
      'POST',
      '',
      batch([
        { request: { method: 'GET', url: 'Patient/not-a-known-id' } },
        { request: { method: 'GET', url: `Patient?identifier=${MRN}|${mrn}` } },
      ])
    );
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toMatch(/^404\b/);
    expect(res.body.entry[0].response.outcome.resourceType).toBe('OperationOutcome');
    expect(res.body.entry[1].response.status).toMatch(/^200\b/);
    expect(res.body.entry[1].resource.type).toBe('searchset');
    expect(res.body.entry[1].resource.entry.map((e: any) => e.resource.id)).toEqual([body.id]);
  });

  // HEAD is a Bundle.entry.request.method (HTTPVerb) and answers like the read it stands for.
  it('answers a HEAD entry like the read it stands for (200)', async () => {
    const { body } = await fhir('POST', 'Patient', patient(unique('mrn')));
    const res = await fhir('POST', '', batch([{ request: { method: 'HEAD', url: `Patient/${body.id}` } }]));
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toMatch(/^200\b/);
  });
});

/**
 * Input that parses but that no later step can take gets a 400 naming what is wrong and where, not a 500 (each
 * case was once a 500 found by test/fuzz): JSON nested past any resource, strings jsonb cannot hold, Bundle
 * entries of the wrong JSON type, page parameters that are no whole number, patches that point at nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
let patientId: string;
beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
  patientId = (await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Refusals' }] })).body.id;
});
afterAll(async () => g?.stop());

async function refused(method: string, path: string, body: unknown, diagnostics: RegExp, expression?: string) {
  const headers: Record<string, string> = {};
  if (method === 'PATCH' && Array.isArray(body)) headers['content-type'] = 'application/json-patch+json';
  const res = await fhir(method, path, body, headers);
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].diagnostics).toMatch(diagnostics);
  if (expression) expect(res.body.issue[0].expression).toEqual([expression]);
}

describe('bodies no later step could take', () => {
  it('JSON nested deeper than any resource', async () => {
    const deep = `{"resourceType":"Patient","extension":${'['.repeat(5000)}1${']'.repeat(5000)}}`;
    await refused('POST', 'Patient', deep, /nests deeper than 128 levels/);
    await refused('POST', '', `{"resourceType":"Bundle","type":${'['.repeat(50_000)}1${']'.repeat(50_000)}}`, /deeper/);
  });

  it('a lone surrogate or a NUL in a string', async () => {
    await refused(
      'POST',
      'Patient',
      '{"resourceType":"Patient","name":[{"family":"\\ud800"}]}',
      /lone UTF-16 surrogate/
    );
    await refused('POST', 'Patient', '{"resourceType":"Patient","name":[{"family":"a\\u0000b"}]}', /NUL character/);
    // A well-formed pair written as escapes is a character like any other.
    const ok = await fhir('POST', 'Patient', '{"resourceType":"Patient","name":[{"family":"Smile \\ud83d\\ude00"}]}');
    expect(ok.status).toBe(201);
    expect(ok.body.name[0].family).toBe('Smile 😀');
  });

  it('Bundle entries of the wrong JSON type', async () => {
    const bundle = (entry: unknown) => ({ resourceType: 'Bundle', type: 'transaction', entry });
    await refused('POST', '', bundle({}), /Bundle.entry must be an array/, 'Bundle.entry');
    await refused('POST', '', bundle([null]), /Each entry must be an object/, 'Bundle.entry[0]');
    const url7 = [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 7 } }];
    await refused('POST', '', bundle(url7), /request.url must be a string/, 'Bundle.entry[0].request.url');
    await refused('POST', '', { resourceType: 'Bundle', type: [1] }, /got object/, 'Bundle.type');
  });

  it('patches that point at the whole resource, or are no list of operations', async () => {
    await refused('PATCH', `Patient/${patientId}`, [{ op: 'add', path: '', value: null }], /names the whole resource/);
    await refused('PATCH', `Patient/${patientId}`, [{ op: 'move', path: '/x' }], /move needs "from"/, '[0].from');
    await refused('PATCH', `Patient/${patientId}`, [{ op: 'frobnicate', path: '/x' }], /unknown op/, '[0].op');
    const notAList = { resourceType: 'Parameters', parameter: {} };
    await refused('PATCH', `Patient/${patientId}`, notAList, /must be an array/, 'Parameters.parameter');
  });
});

describe('search parameters PostgreSQL could not take', () => {
  it('a NUL in a value, in the resource search and in the audit log search', async () => {
    await refused('GET', 'Patient?name=%00', undefined, /holds a NUL character/, 'name');
    await refused('GET', 'AuditEvent?entity=%00', undefined, /holds a NUL character/, 'entity');
    await refused('GET', `Patient?identifier=a%00b`, undefined, /NUL/, 'identifier');
  });

  it('_count and _offset that are no whole number, or past what a LIMIT holds', async () => {
    await refused('GET', 'Patient?_count=', undefined, /_count must be a whole number/, '_count');
    await refused('GET', 'Patient?_count=abc', undefined, /_count must be a whole number/, '_count');
    await refused(
      'GET',
      'Patient?_offset=99999999999999999999',
      undefined,
      /_offset must be a whole number/,
      '_offset'
    );
    await refused('GET', 'AuditEvent?_count=x', undefined, /_count/, '_count');
    await refused('GET', 'Patient/_history?_offset=99999999999999999999', undefined, /_offset/, '_offset');
    const page = await fhir('GET', 'Patient?_count=2&_offset=1');
    expect(page.status).toBe(200);
  });

  it('the same NUL in a conditional create is refused, and nothing is created', async () => {
    const res = await fhir(
      'POST',
      'Patient',
      { resourceType: 'Patient', name: [{ family: 'NoNul' }] },
      {
        'if-none-exist': 'name=a%00b',
      }
    );
    expect(res.status).toBe(400);
    const found = await fhir('GET', 'Patient?name=NoNul');
    expect(found.body.total ?? found.body.entry?.length ?? 0).toBe(0);
  });
});

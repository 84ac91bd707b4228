/**
 * The root HTTP app through Hono's `app.request()` (no socket): health, readiness, and the error mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getToken, testGateway, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
let auth: { authorization: string };
beforeAll(async () => {
  g = await testGateway();
  auth = { authorization: `Bearer ${await getToken(g)}` };
});
afterAll(async () => g?.stop());

describe('health endpoints', () => {
  it('answers /healthz while the process is up', async () => {
    const res = await g.app.request('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with ready when the database answers and migrations are applied', async () => {
    const res = await g.app.request('/readyz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
  });
});

describe('HTTP error mapping', () => {
  it('answers an unknown path with a 404 OperationOutcome', async () => {
    const res = await g.app.request('/nowhere');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    const body = (await res.json()) as { resourceType: string; issue: { severity: string; code: string; diagnostics: string }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]).toMatchObject({ severity: 'error', code: 'not-found' });
  });

  it('answers an unsupported method on a resource with 405', async () => {
    const res = await g.app.request('/fhir/Patient/123/_history', { method: 'DELETE', headers: auth });
    expect(res.status).toBe(405);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('refuses a body over the size limit with 413', async () => {
    const big = JSON.stringify({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(17 * 1024 * 1024)}</div>` } });
    const res = await g.app.request('/fhir/Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...auth }, body: big });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('answers an empty body with 400 and a body that is not an object with 400', async () => {
    const empty = await g.app.request('/fhir/Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...auth }, body: '' });
    expect(empty.status).toBe(400);
    const array = await g.app.request('/fhir/Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...auth }, body: '[1,2]' });
    expect(array.status).toBe(400);
  });

  it('answers history of an unknown resource with 404 and vread of an unknown version with 404', async () => {
    expect((await g.app.request('/fhir/Patient/never-was/_history', { headers: auth })).status).toBe(404);
    expect((await g.app.request('/fhir/Patient/never-was/_history/1', { headers: auth })).status).toBe(404);
    expect((await g.app.request('/fhir/Patient/never-was/_history/abc', { headers: auth })).status).toBe(404);
  });
});

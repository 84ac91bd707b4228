import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { client, getToken, testGateway, type TestGateway } from '../helpers/gateway.ts';

const started: TestGateway[] = [];
afterAll(async () => {
  for (const g of started) await g.stop();
});
async function gateway(env: Record<string, string> = {}) {
  const g = await testGateway(env);
  started.push(g);
  return g;
}

describe('rate limits', () => {
  it('answers a client over its limit with 429 and Retry-After, without slowing other clients', async () => {
    const g = await gateway({ FRONTDESK_RATE_LIMIT_PER_MINUTE: '60', FRONTDESK_RATE_LIMIT_BURST: '3' });
    const fhir = client(g);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fhir('GET', 'Patient?_count=1')).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await fhir('GET', 'Patient?_count=1');
    expect(limited.body.issue[0].code).toBe('throttled');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // another client has its own bucket
    const { addClient } = await import('../../src/access/clients.ts');
    const { client: other, secret } = await addClient(g.db.sql, { scopes: 'system/*.rs' });
    const otherFhir = client(g, () => getToken(g, undefined, { id: other.id, secret: secret! }));
    expect((await otherFhir('GET', 'Patient?_count=1')).status).toBe(200);
  });
});

describe('security headers', () => {
  it('sends nosniff, frame and referrer protections, and no-store on FHIR answers', async () => {
    const g = await gateway();
    const res = await client(g)('GET', 'Patient?_count=1');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('strict-transport-security')).toContain('max-age=');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const denied = await fetch(`${g.fhirUrl}/Patient`);
    expect(denied.headers.get('cache-control')).toBe('no-store');
    // Refusals, errors, unknown paths and health checks carry the same protections.
    const origin = new URL(g.fhirUrl).origin;
    const others = [denied, await fetch(`${origin}/nowhere`), await fetch(`${origin}/healthz`)];
    for (const answer of others) {
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(answer.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    }
  });
});

describe('FRONTDESK_AUTH=off', () => {
  it('is refused unless every listener is on loopback', () => {
    expect(() => loadConfig({ FRONTDESK_AUTH: 'off', HOST: '0.0.0.0' })).toThrow(/only allowed when HOST and FRONTDESK_MLLP_HOST are loopback/);
    expect(() => loadConfig({ FRONTDESK_AUTH: 'off', HOST: '127.0.0.1', FRONTDESK_MLLP_HOST: '0.0.0.0' })).toThrow(/loopback/);
    expect(loadConfig({ FRONTDESK_AUTH: 'off' }).auth).toBe(false);
    expect(() => loadConfig({ FRONTDESK_AUTH: 'maybe' })).toThrow(/FRONTDESK_AUTH/);
  });

  it('serves without a token on loopback, and still audits who called', async () => {
    const g = await gateway({ FRONTDESK_AUTH: 'off' });
    const res = await fetch(`${g.fhirUrl}/Patient?_count=1`);
    expect(res.status).toBe(200);
    expect((await fetch(`${new URL(g.fhirUrl).origin}/auth/token`, { method: 'POST' })).status).toBe(404);
    const id = `nobody-${Date.now()}`;
    expect((await fetch(`${g.fhirUrl}/Patient/${id}`)).status).toBe(404);
    // other test files share the database: find this request's own record
    const [row] = await g.db.sql<{ content: string }[]>`SELECT content FROM audit_log WHERE content LIKE ${'%Patient/' + id + '%'}`;
    expect(JSON.parse(row!.content).agent[0].altId).toBe('auth-off');
  });
});

/**
 * Every door guarded by construction (issue #16, point 3). The routes come from the HTTP router itself, not from a
 * list: each one it serves is either public — in PUBLIC, with its reason — or refuses a request without a token
 * (401) and one whose token lacks the scope it needs (403), and leaves an AuditEvent of each refusal. A route added
 * later that is neither fails here, so none can be born open: a concrete route is probed as its pattern reads, a
 * wildcard must be given representative requests (FHIR: every interaction, and every operation `/metadata` lists).
 */
import type { AuditEvent, CapabilityStatement } from '@medplum/fhirtypes';
import { inspectRoutes } from 'hono/dev';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, getToken, testGateway, unique } from '../helpers/gateway.ts';

/** Served without a bearer token, each for a reason; `METHOD pattern` as the router spells it. */
const PUBLIC: Record<string, string> = {
  'GET /healthz': 'liveness probe for orchestrators: says only that the process is up',
  'GET /readyz': 'readiness probe: database reachable and migrated, nothing more',
  'POST /auth/token': 'where a client trades its own credentials for a token (RFC 6749 §4.4)',
  'GET /.well-known/jwks.json': 'the public keys that check our tokens (RFC 7517): public by design',
  'GET /fhir/metadata': 'the CapabilityStatement, read before any token is had (FHIR http.html#capabilities)',
  'GET /fhir/.well-known/smart-configuration': 'how to get a token (SMART App Launch 2.0 §Conformance)',
};

/**
 * A request to send, and what a token must hold for it (`Patient.r`, `*.r`; none known: a token of NO_DOOR_SCOPE
 * stands in); `withToken`: its answer to a token lacking that (default 403).
 */
type Probe = { name: string; method: string; path: string; body?: string; type?: string; needs: string[] } & {
  headers?: Record<string, string>;
  withToken?: number;
};
/** A valid scope that opens no door at all (Basic is not served), for routes whose needs this file does not know. */
const NO_DOOR_SCOPE = 'system/Basic.r';
const ID = 'door-probe';
const json = (v: unknown) => JSON.stringify(v);
const patient = json({ resourceType: 'Patient', id: ID, name: [{ family: 'Door' }] });
const cond = 'identifier=urn:test:doors|x';
const transaction = (entry: unknown[]) => json({ resourceType: 'Bundle', type: 'transaction', entry });
const get = (name: string, path: string, needs: string[]): Probe => ({ name, method: 'GET', path, needs });

/** `/fhir/*` serves every FHIR interaction and operation, whatever the method: one request for each. */
const FHIR_INTERACTIONS: Probe[] = [
  get('read', `/fhir/Patient/${ID}`, ['Patient.r']),
  { name: 'read (HEAD)', method: 'HEAD', path: `/fhir/Patient/${ID}`, needs: ['Patient.r'] },
  get('vread', `/fhir/Patient/${ID}/_history/1`, ['Patient.r']),
  get('history-instance', `/fhir/Patient/${ID}/_history`, ['Patient.r']),
  get('history-type', '/fhir/Patient/_history', ['Patient.r']),
  get('history-system', '/fhir/_history', ['*.r']),
  get('search-type', '/fhir/Patient?family=Door', ['Patient.s']),
  get('search-system', '/fhir?_type=Patient', ['Patient.s']),
  {
    name: 'search-type (POST _search)', method: 'POST', path: '/fhir/Patient/_search', body: 'family=Door',
    type: 'application/x-www-form-urlencoded', needs: ['Patient.s'],
  },
  { name: 'create', method: 'POST', path: '/fhir/Patient', body: patient, needs: ['Patient.c'] },
  {
    name: 'conditional create', method: 'POST', path: '/fhir/Patient', body: patient,
    headers: { 'if-none-exist': cond }, needs: ['Patient.c', 'Patient.s'],
  },
  { name: 'update', method: 'PUT', path: `/fhir/Patient/${ID}`, body: patient, needs: ['Patient.u'] },
  {
    name: 'conditional update', method: 'PUT', path: `/fhir/Patient?${cond}`, body: patient,
    needs: ['Patient.u', 'Patient.c', 'Patient.s'],
  },
  {
    name: 'patch', method: 'PATCH', path: `/fhir/Patient/${ID}`, type: 'application/json-patch+json',
    body: json([{ op: 'replace', path: '/active', value: false }]), needs: ['Patient.u'],
  },
  { name: 'delete', method: 'DELETE', path: `/fhir/Patient/${ID}`, needs: ['Patient.d'] },
  { name: 'conditional delete', method: 'DELETE', path: `/fhir/Patient?${cond}`, needs: ['Patient.d', 'Patient.s'] },
  // Any other method reaches the route too: it is no interaction, so no scope opens it.
  { name: 'OPTIONS (no interaction)', method: 'OPTIONS', path: '/fhir/Patient', needs: [], withToken: 405 },
];

/** What each FHIR operation needs (its `needs` in src/inbound/fhir/eligibility-operations.ts). */
const OPERATION_NEEDS: Record<string, { needs: string[]; body?: string; query?: string }> = {
  'CoverageEligibilityRequest/$submit': {
    needs: ['CoverageEligibilityRequest.c', 'CoverageEligibilityResponse.c', 'CoverageEligibilityResponse.r'],
    body: json({ resourceType: 'CoverageEligibilityRequest', status: 'active' }),
  },
  'Appointment/$verify-coverage': {
    needs: ['Appointment.s', 'Coverage.s', 'Task.c', 'CoverageEligibilityRequest.c', 'CoverageEligibilityResponse.c'],
    query: 'date=2026-01-05',
  },
};

/** Routes whose requests need a body or whose scopes are known; any other concrete route is probed as it reads. */
const KNOWN: Record<string, Probe[]> = {
  'POST /fhir': [
    {
      name: 'transaction', method: 'POST', path: '/fhir', needs: ['Patient.c'],
      body: transaction([{ resource: JSON.parse(patient), request: { method: 'POST', url: 'Patient' } }]),
    },
  ],
  'POST /hl7v2': [{ name: 'send HL7 v2', method: 'POST', path: '/hl7v2', body: 'MSH|^~\\&|', needs: ['hl7v2.c'] }],
  'POST /x12': [{ name: 'send X12', method: 'POST', path: '/x12', body: 'ISA*00*', needs: ['x12.c'] }],
  'GET /messages': [get('message log', '/messages', ['Message.s'])],
  'GET /messages/:id': [get('one message', `/messages/${ID}`, ['Message.r'])],
  'POST /messages/:id/:op{\\$resend}': [
    { name: 'resend', method: 'POST', path: `/messages/${ID}/$resend`, needs: ['Message.u'] },
  ],
  'POST /messages/:id/:op{\\$reprocess}': [
    { name: 'reprocess', method: 'POST', path: `/messages/${ID}/$reprocess`, needs: ['Message.u'] },
  ],
};


const g = await testGateway();
afterAll(async () => g?.stop());
const origin = new URL(g.fhirUrl).origin;
const since = new Date(Date.now() - 60_000);

// Hono's own reading of its table (hono/dev): an `app.use` entry is middleware; an entry with a method of its own
// is served whatever its arity (an inline middleware shares its handler's method and pattern, deduplicated here).
const routes = inspectRoutes(g.app).filter((r) => r.method !== 'ALL' || !r.isMiddleware);
const served = [...new Set(routes.map((r) => `${r.method} ${r.path}`))];
const capability = (await (await fetch(`${g.fhirUrl}/metadata`)).json()) as CapabilityStatement;
const operations = (capability.rest?.[0]?.resource ?? []).flatMap((r) =>
  (r.operation ?? []).map((o) => `${r.type}/$${o.name}`)
);
const guarded = served.filter((key) => !(key in PUBLIC)).map((key) => ({ key, probes: probesFor(key) }));

function probesFor(key: string): Probe[] {
  if (KNOWN[key]) return KNOWN[key];
  if (key === 'ALL /fhir/*') {
    return [
      ...FHIR_INTERACTIONS,
      ...operations.map((op) => {
        const known = OPERATION_NEEDS[op];
        const path = `/fhir/${op}${known?.query ? `?${known.query}` : ''}`;
        return { name: `operation ${op}`, method: 'POST', path, body: known?.body, needs: known?.needs ?? [] };
      }),
    ];
  }
  const [method, pattern] = key.split(' ') as [string, string];
  // A wildcard stands for paths no single request covers: it needs representative requests, named above.
  if (pattern.includes('*')) return [];
  const path = concretePath(pattern);
  const methods = method === 'ALL' ? ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] : [method];
  return methods.map((m) => ({ name: `${m} ${path}`, method: m, path, needs: [] }));
}

/** `/messages/:id/:op{\$resend}` → `/messages/door-probe/$resend`; a pattern that is a real regex cannot be built. */
function concretePath(pattern: string): string {
  return pattern
    .replace(/:\w+\{((?:\\.|[^}])*)\}/g, (_all, re: string) => {
      if (/(^|[^\\])[.*+?()[\]{}|^$]/.test(re)) throw new Error(`No path can stand for ${pattern}: add it to KNOWN`);
      return re.replace(/\\(.)/g, '$1');
    })
    .replace(/:\w+/g, ID);
}

const tokens = new Map<string, Promise<string>>();
const tokenFor = (scope: string) => tokens.get(scope) ?? tokens.set(scope, getToken(g, scope)).get(scope)!;

/** Every permission on the resources `needs` names, except `missing` (`Patient.s`): the token one letter short. */
function scopeLacking(needs: string[], missing: string): string {
  const [resource, letter] = missing.split('.') as [string, string];
  const resources = new Set(needs.map((n) => n.split('.')[0]!));
  return [...resources].map((r) => `system/${r}.${'cruds'.replace(r === resource ? letter : '', '')}`).join(' ');
}

/** Sends a probe marked with a unique query parameter, and finds the AuditEvents whose query carries that mark. */
async function send(p: Probe, token?: string): Promise<{ status: number; challenge: string; audit: AuditEvent[] }> {
  const url = new URL(p.path, origin);
  url.searchParams.append('door-probe', unique('door'));
  const headers: Record<string, string> = { accept: FHIR_JSON, ...p.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (p.body !== undefined) headers['content-type'] = p.type ?? FHIR_JSON;
  const res = await fetch(url, { method: p.method, headers, body: p.body });
  await res.arrayBuffer();
  // restEvent keeps the query string base64-encoded in entity.query (BALP), so it is matched whole.
  const query = Buffer.from(url.search.slice(1)).toString('base64');
  const rows = await g.db.sql<{ content: string }[]>`
    SELECT content FROM audit_log WHERE recorded >= ${since} AND content LIKE ${`%"query":"${query}"%`}`;
  const audit = rows.map((r) => JSON.parse(r.content) as AuditEvent);
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '', audit };
}

describe('public routes', () => {
  it('lists only routes the router serves', () => {
    expect(Object.keys(PUBLIC).filter((key) => !served.includes(key))).toEqual([]);
  });

  it.each(Object.entries(PUBLIC))('serves %s without a token: %s', async (key) => {
    const [method, path] = key.split(' ') as [string, string];
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = method === 'GET' ? undefined : 'grant_type=client_credentials';
    const res = await fetch(`${origin}${path}`, { method, headers: form, body });
    const answer = (await res.json()) as { error?: string };
    expect(res.headers.get('www-authenticate') ?? '').not.toMatch(/^Bearer/);
    // The token endpoint authenticates the client itself: without credentials, its own OAuth error (RFC 6749 §5.2).
    if (method === 'GET') expect(res.status).toBe(200);
    else expect([res.status, answer.error]).toEqual([401, 'invalid_client']);
  });
});

describe('guarded routes', () => {
  it('names requests for every FHIR operation and known route, and none the router does not serve', () => {
    expect(Object.keys(KNOWN).filter((key) => !served.includes(key))).toEqual([]);
    expect(Object.keys(OPERATION_NEEDS).filter((op) => !operations.includes(op))).toEqual([]);
    expect(operations.length).toBeGreaterThan(0);
  });

  describe.each(guarded)('$key', ({ key, probes }) => {
    it('has a representative request for each interaction it serves', () => {
      expect(probes, `${key} is neither public nor probed: add it to PUBLIC or KNOWN`).not.toEqual([]);
    });

    it.each(probes)('refuses $name without a token (401), audited', async (p) => {
      const res = await send(p);
      expect(res.status).toBe(401);
      expect(res.challenge).toMatch(/^Bearer realm=/);
      expect(res.audit).toHaveLength(1);
      const refusal = { outcome: '4', outcomeDesc: 'HTTP 401', agent: [{ altId: 'unauthenticated' }, {}] };
      for (const event of res.audit) expect(event).toMatchObject(refusal);
    });

    it.each(probes)('refuses $name to a token lacking each scope it needs, audited', async (p) => {
      const scopes = p.needs.length ? p.needs.map((n) => scopeLacking(p.needs, n)) : [NO_DOOR_SCOPE];
      const status = p.withToken ?? 403;
      const refusal = { outcome: '4', outcomeDesc: `HTTP ${status}`, agent: [{ altId: g.credentials.id }, {}] };
      for (const scope of scopes) {
        const res = await send(p, await tokenFor(scope));
        expect(res.status, scope).toBe(status);
        expect(res.audit, scope).toHaveLength(1);
        for (const event of res.audit) expect(event, scope).toMatchObject(refusal);
      }
    });
  });
});

/**
 * In a transaction a conditional entry is searched before it is carried out (and then rewritten to `Type/id`): the
 * scopes the same request needs over plain HTTP — search, and create where it may create — are asked before that
 * search, so a token without them learns nothing of what matched.
 */
describe('conditional writes inside a transaction', () => {
  const system = unique('urn:test:doors');
  const tx = async (scope: string, entry: unknown) => {
    const headers = { authorization: `Bearer ${await tokenFor(scope)}`, 'content-type': FHIR_JSON };
    const res = await fetch(g.fhirUrl, { method: 'POST', headers, body: transaction([entry]) });
    return { status: res.status, text: await res.text() };
  };
  const put = (value: string, resource: object = {}) => ({
    resource: { resourceType: 'Patient', ...resource },
    request: { method: 'PUT', url: `Patient?identifier=${system}|${value}` },
  });
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    for (const value of ['update', 'delete', 'leak', 'twice', 'twice']) {
      const body = json({ resourceType: 'Patient', identifier: [{ system, value }] });
      const headers = { authorization: `Bearer ${await getToken(g)}`, 'content-type': FHIR_JSON };
      const res = await fetch(`${g.fhirUrl}/Patient`, { method: 'POST', headers, body });
      ids[value] = ((await res.json()) as { id: string }).id;
    }
  });

  it('refuses a conditional update to a token without search, as PUT Patient?… does', async () => {
    const res = await tx('system/Patient.u', put('update'));
    expect(res.status).toBe(403);
  });

  it('refuses a conditional delete to a token without search, as DELETE Patient?… does', async () => {
    const url = `Patient?identifier=${system}|delete`;
    const res = await tx('system/Patient.d', { request: { method: 'DELETE', url } });
    expect(res.status).toBe(403);
  });

  it('tells a token with no Patient scope nothing of what a conditional search matched', async () => {
    const wrongId = await tx(NO_DOOR_SCOPE, put('leak', { id: 'x' }));
    const twice = await tx(NO_DOOR_SCOPE, put('twice'));
    expect(wrongId.text).not.toContain(ids.leak);
    expect([wrongId.status, twice.status]).toEqual([403, 403]);
  });
});

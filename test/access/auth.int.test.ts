import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClient, revokeClient } from '../../src/access/clients.ts';
import { TokenService } from '../../src/access/tokens.ts';
import { client, getToken, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
let origin: string;

beforeAll(async () => {
  g = await testGateway();
  origin = new URL(g.fhirUrl).origin;
});
afterAll(async () => g?.stop());

const patient = () => ({ resourceType: 'Patient', identifier: [{ system: 'urn:test:auth', value: unique() }], name: [{ family: 'Scope' }] });

async function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

/** Signs a token with the gateway's own active key, with chosen claims (to make expired or foreign tokens). */
async function forge(claims: Record<string, unknown>, opts: { exp?: number; aud?: string; key?: 'own' | 'other' } = {}) {
  const [row] = await g.db.sql<{ kid: string; private_jwk: JWK }[]>`SELECT kid, private_jwk FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1`;
  const key = opts.key === 'other' ? (await generateKeyPair('ES384')).privateKey : await importJWK(row!.private_jwk, 'ES384');
  return new SignJWT({ scope: 'system/*.*', ...claims })
    .setProtectedHeader({ alg: 'ES384', kid: row!.kid, typ: 'at+jwt' })
    .setIssuer(origin)
    .setAudience(opts.aud ?? g.fhirUrl)
    .setSubject(g.credentials.id)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 60)
    .sign(key);
}

async function fhirWith(token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${g.fhirUrl}/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => undefined) };
}

describe('OAuth 2.0 token endpoint', () => {
  it('issues a short-lived ES384 JWT for client_secret_basic, with no-store caching', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials' }, basic(g.credentials.id, g.credentials.secret));
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
    expect(res.body.expires_in).toBe(300);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const [header] = (res.body.access_token as string).split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toMatchObject({ alg: 'ES384', typ: 'at+jwt' });
  });

  it('refuses a wrong secret, an unknown client and a revoked client with invalid_client (401)', async () => {
    expect((await tokenRequest({ grant_type: 'client_credentials' }, basic(g.credentials.id, 'wrong'))).body.error).toBe('invalid_client');
    expect((await tokenRequest({ grant_type: 'client_credentials' }, basic('nobody', 'x'))).status).toBe(401);
    const { client: c, secret } = await addClient(g.db.sql, { scopes: 'system/*.rs' });
    expect((await tokenRequest({ grant_type: 'client_credentials' }, basic(c.id, secret!))).status).toBe(200);
    await revokeClient(g.db.sql, c.id);
    const revoked = await tokenRequest({ grant_type: 'client_credentials' }, basic(c.id, secret!));
    expect(revoked.status).toBe(401);
    expect(revoked.body.error).toBe('invalid_client');
  });

  it('narrows the requested scope to what the client was registered with', async () => {
    const { client: c, secret } = await addClient(g.db.sql, { scopes: 'system/Patient.rs' });
    const ok = await tokenRequest({ grant_type: 'client_credentials', scope: 'system/Patient.rs system/Coverage.rs' }, basic(c.id, secret!));
    expect(ok.body.scope).toBe('system/Patient.rs');
    const none = await tokenRequest({ grant_type: 'client_credentials', scope: 'system/Coverage.c' }, basic(c.id, secret!));
    expect(none.body.error).toBe('invalid_scope');
    const grant = await tokenRequest({ grant_type: 'password' }, basic(c.id, secret!));
    expect(grant.body.error).toBe('unsupported_grant_type');
  });

  it('accepts private_key_jwt assertions signed RS384 or ES384 once, and refuses a replayed jti', async () => {
    for (const alg of ['RS384', 'ES384'] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg);
      const kid = randomUUID();
      const { client: c } = await addClient(g.db.sql, {
        scopes: 'system/*.rs',
        secret: false,
        jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg }] },
      });
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg, kid })
        .setIssuer(c.id)
        .setSubject(c.id)
        .setAudience(`${origin}/auth/token`)
        .setJti(randomUUID())
        .setExpirationTime('4m')
        .setIssuedAt()
        .sign(privateKey);
      const form = {
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      };
      const first = await tokenRequest(form);
      expect(first.status, alg).toBe(200);
      expect(first.body.scope).toBe('system/Patient.rs');
      const replay = await tokenRequest(form);
      expect(replay.status).toBe(401);
      expect(replay.body.error_description).toMatch(/replay/);
      // and the token it got works for what it allows
      expect((await fhirWith(first.body.access_token, 'GET', 'Patient?_count=1')).status).toBe(200);
    }
  });

  it('refuses an assertion signed by a key the client did not register, or for another audience', async () => {
    const registered = await generateKeyPair('ES384');
    const other = await generateKeyPair('ES384');
    const { client: c } = await addClient(g.db.sql, { scopes: 'system/*.rs', secret: false, jwks: { keys: [{ ...(await exportJWK(registered.publicKey)), alg: 'ES384' }] } });
    const sign = (key: CryptoKey, aud: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'ES384' }).setIssuer(c.id).setSubject(c.id).setAudience(aud).setJti(randomUUID()).setExpirationTime('1m').sign(key);
    const type = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
    expect((await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: type, client_assertion: await sign(other.privateKey, `${origin}/auth/token`) })).status).toBe(401);
    expect((await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: type, client_assertion: await sign(registered.privateKey, 'https://elsewhere.example/token') })).status).toBe(401);
  });

  it('publishes its public keys and a SMART configuration without a token', async () => {
    const jwks = (await (await fetch(`${origin}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).not.toHaveProperty('d'); // never the private part
    const smart = (await (await fetch(`${g.fhirUrl}/.well-known/smart-configuration`)).json()) as Record<string, unknown>;
    expect(smart.token_endpoint).toBe(`${origin}/auth/token`);
    expect(smart.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'private_key_jwt']);
    expect((await fetch(`${g.fhirUrl}/metadata`)).status).toBe(200);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });
});

describe('bearer tokens on the FHIR door', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', 'Patient'],
    ['POST', 'Patient', patient()],
    ['GET', 'Patient/x'],
    ['PUT', 'Patient/x', { ...patient(), id: 'x' }],
    ['DELETE', 'Patient/x'],
    ['GET', 'Patient/x/_history'],
    ['GET', '_history'],
    ['POST', '', { resourceType: 'Bundle', type: 'batch', entry: [] }],
  ];

  it.each(routes)('answers %s /fhir/%s without a token with 401 and WWW-Authenticate', async (method, path, body) => {
    const res = await fetch(`${g.fhirUrl}/${path}`, { method, headers: { 'content-type': 'application/fhir+json' }, body: body ? JSON.stringify(body) : undefined });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="frontdesk"/);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('refuses expired, foreign-signed, wrong-audience and alg:none tokens', async () => {
    const expired = await forge({}, { exp: Math.floor(Date.now() / 1000) - 10 });
    const foreign = await forge({}, { key: 'other' });
    const audience = await forge({}, { aud: 'https://other.example/fhir' });
    const good = await forge({});
    const [h, p] = good.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${p}.`;
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'system/*.*', sub: 'someone-else' })).toString('base64url')}.${good.split('.')[2]}`;
    expect((await fhirWith(good, 'GET', 'Patient?_count=1')).status).toBe(200);
    for (const bad of [expired, foreign, audience, none, tampered, 'not-a-jwt']) {
      const res = await fhirWith(bad, 'GET', 'Patient?_count=1');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });
});

describe('SMART scopes on FHIR interactions', () => {
  it('allows what v2 scopes grant and answers 403 with an OperationOutcome otherwise', async () => {
    const readOnly = client(g, () => getToken(g, 'system/Patient.rs'));
    expect((await readOnly('GET', 'Patient?_count=1')).status).toBe(200);
    const post = await readOnly('POST', 'Patient', patient());
    expect(post.status).toBe(403);
    expect(post.body.resourceType).toBe('OperationOutcome');
    expect(post.body.issue[0].code).toBe('forbidden');
    expect((await readOnly('GET', 'Coverage?_count=1')).status).toBe(403);
    expect((await readOnly('GET', '_history')).status).toBe(403);

    const createOnly = client(g, () => getToken(g, 'system/Patient.c'));
    expect((await createOnly('POST', 'Patient', patient())).status).toBe(201);
    // a conditional create also reveals whether a match exists: it needs search too
    expect((await createOnly('POST', 'Patient', patient(), { 'if-none-exist': 'identifier=urn:test:auth|x' })).status).toBe(403);
    expect((await createOnly('GET', 'Patient?_count=1')).status).toBe(403);
  });

  it('understands v1 scopes: read allows read and search, write allows create/update/delete', async () => {
    const v1read = client(g, () => getToken(g, 'system/*.read'));
    expect((await v1read('GET', 'Coverage?_count=1')).status).toBe(200);
    expect((await v1read('POST', 'Patient', patient())).status).toBe(403);
    const v1write = client(g, () => getToken(g, 'system/Patient.write'));
    const created = await v1write('POST', 'Patient', patient());
    expect(created.status).toBe(201);
    expect((await v1write('DELETE', `Patient/${created.body.id}`)).status).toBe(204);
    expect((await v1write('GET', `Patient/${created.body.id}`)).status).toBe(403);
  });

  it('checks every entry of a transaction: one forbidden entry fails the whole Bundle', async () => {
    const fhir = client(g, () => getToken(g, 'system/Patient.c'));
    const p = patient();
    const res = await fhir('POST', '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:0b7e8d1a-8a52-4f33-9d7e-4a1f4f7f0c11', resource: p, request: { method: 'POST', url: 'Patient' } },
        {
          resource: { resourceType: 'Coverage', status: 'active', beneficiary: { reference: 'urn:uuid:0b7e8d1a-8a52-4f33-9d7e-4a1f4f7f0c11' }, payor: [{ display: 'X' }] },
          request: { method: 'POST', url: 'Coverage' },
        },
      ],
    });
    expect(res.status).toBe(403);
    const admin = client(g);
    const found = await admin('GET', `Patient?identifier=urn:test:auth|${p.identifier[0]!.value}`);
    expect(found.body.entry).toHaveLength(0);
  });
});

describe('keys and key sets', () => {
  it('verifies private_key_jwt against a JWKS fetched from the client URL', async () => {
    const { createServer } = await import('node:http');
    const { publicKey, privateKey } = await generateKeyPair('RS384');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS384' }] };
    let fetched = 0;
    const server = createServer((_req, res) => {
      fetched += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const { client: c } = await addClient(g.db.sql, { scopes: 'system/*.rs', secret: false, jwksUrl: `http://127.0.0.1:${port}/jwks.json` });
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS384', kid: 'k1' })
        .setIssuer(c.id)
        .setSubject(c.id)
        .setAudience(`${origin}/auth/token`)
        .setJti(randomUUID())
        .setExpirationTime('2m')
        .sign(privateKey);
      const res = await tokenRequest({
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      });
      expect(res.body).toMatchObject({ token_type: 'Bearer' });
      expect(fetched).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });

  it('rotates its signing key: new tokens use the new key, tokens from the old one stay valid', async () => {
    const before = await getToken(g);
    const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid as string;
    const newKid = await g.access.tokens!.rotate();
    const after = await getToken(g);
    expect(kidOf(after)).toBe(newKid);
    expect(kidOf(before)).not.toBe(newKid);
    expect((await fhirWith(before, 'GET', 'Patient?_count=1')).status).toBe(200);
    expect((await fhirWith(after, 'GET', 'Patient?_count=1')).status).toBe(200);
    const jwks = (await (await fetch(`${origin}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([kidOf(before), newKid]));
  });

  it('signs with a key rotated by another process (frontdesk keys rotate) from the next token on', async () => {
    const kidOf = (t: string) => JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).kid as string;
    const running = kidOf(await getToken(g));
    const cli = new TokenService(g.db.sql, { issuer: 'cli', audience: 'cli', ttlSeconds: 60 });
    await cli.init();
    const rotated = await cli.rotate();
    expect(rotated).not.toBe(running);
    const next = await getToken(g);
    expect(kidOf(next)).toBe(rotated);
    expect((await fhirWith(next, 'GET', 'Patient?_count=1')).status).toBe(200);
    const jwks = (await (await fetch(`${origin}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([running, rotated]));
  });
});

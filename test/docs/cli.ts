/**
 * @module test/docs/cli — the CLI table of docs/configuration.md, run as `npx frontdesk …` on the database of a
 * gateway started by `npm start`: `migrate`, `clients add` in each of its forms, `clients list`, `clients revoke`
 * (the client's next token request fails) and `keys rotate` (tokens signed before stay valid, a process loading
 * the keys now signs with the new one, and the running gateway takes its tokens).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { TokenService } from '../../src/access/tokens.ts';
import { connect } from '../../src/store/db.ts';
import { npx, type Started } from './run.ts';

export async function checkCli(o: { db: string; gw: Started; token: string; dir: string }): Promise<void> {
  const ok = async (args: string[]) => {
    const r = await npx(args, { DATABASE_URL: o.db });
    expect(r.code, `npx frontdesk ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  expect(await ok(['migrate'])).toMatch(/migrations up to date/);
  const jwks = join(o.dir, 'jwks.json');
  writeFileSync(jwks, JSON.stringify({ keys: [] }));
  const add = 'clients add --scopes system/Patient.rs';
  const [added] = await Promise.all([
    ok(`${add} --name Docs --id docs-secret`.split(' ')),
    ok(`${add} --id docs-jwks --jwks ${jwks} --no-secret`.split(' ')),
    ok(`${add} --id docs-url --jwks-url https://example.org/jwks --no-secret`.split(' ')),
  ]);
  const secret = /client_secret: (\S+)/.exec(added)![1]!;
  const tokenFor = (id: string, s: string) =>
    fetch(`${o.gw.origin}/auth/token`, {
      method: 'POST',
      body: 'grant_type=client_credentials',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${btoa(`${id}:${s}`)}` },
    });
  expect((await tokenFor('docs-secret', secret)).status).toBe(200);
  const list = (await ok(['clients', 'list'])).split('\n').map((l) => l.split('\t').slice(0, 3).join(' '));
  expect(list).toEqual(
    expect.arrayContaining(['docs-secret active secret', 'docs-jwks active jwks', 'docs-url active jwks-url'])
  );
  expect(await ok(['clients', 'revoke', 'docs-secret'])).toMatch(/revoked docs-secret/);
  expect((await tokenFor('docs-secret', secret)).status).not.toBe(200);

  const kid = /new signing key (\S+)/.exec(await ok(['keys', 'rotate']))?.[1];
  const patients = (t: string) => fetch(`${o.gw.fhir}/Patient?_count=1`, { headers: { authorization: `Bearer ${t}` } });
  expect((await patients(o.token)).status).toBe(200);
  const sql = connect(o.db, 1);
  try {
    const tokens = new TokenService(sql, { issuer: o.gw.origin, audience: o.gw.fhir, ttlSeconds: 300 });
    await tokens.init();
    const fresh = (await tokens.issue('admin', 'system/Patient.rs')).access_token;
    expect(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
    expect((await patients(fresh)).status).toBe(200);
  } finally {
    await sql.end();
  }
}

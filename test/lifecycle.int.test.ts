/**
 * `npm start` as users run it: a real process with the embedded PostgreSQL in a fresh data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/gateway.ts';
import { startGatewayProcess, type GatewayProcess } from './helpers/process.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<GatewayProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), FRONTDESK_DATA_DIR: dataDir, FRONTDESK_MLLP_PORT: String(await freePort()) };
  delete env.DATABASE_URL;
  const started = await startGatewayProcess(env);
  children.push(started.child);
  return started;
}

describe('npm start with the embedded PostgreSQL', () => {
  it('starts with no configuration, keeps data across restarts, and stops gracefully on SIGTERM and SIGINT', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'frontdesk-life-'));
    await chmod(parent, 0o755); // as root, the embedded server's postgres user must be able to enter it
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    const first = await start(dataDir);
    const base = first.fhir.replace(/\/fhir$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready' });
    expect(first.output()).toMatch(/MLLP/);

    // First start: an admin client was created, its secret printed once and saved in the data directory.
    const secret = /client_secret: (\S+)/.exec(first.output())?.[1];
    expect(secret).toBeTruthy();
    const saved = JSON.parse(await readFile(join(dataDir, 'admin-client.json'), 'utf8')) as { client_id: string; client_secret: string };
    expect(saved).toMatchObject({ client_id: 'admin', client_secret: secret });
    expect((await stat(join(dataDir, 'admin-client.json'))).mode & 0o777).toBe(0o600);
    const token = async (fhir: string): Promise<string> => {
      const res = await fetch(`${new URL(fhir).origin}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const auth = { authorization: `Bearer ${await token(first.fhir)}` };
    expect((await fetch(`${first.fhir}/Patient`)).status).toBe(401);

    const created = await fetch(`${first.fhir}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', ...auth },
      body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:test', value: 'life-1' }], name: [{ family: 'Restart' }] }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };

    // CLI commands work on the same embedded database while the gateway runs (and after it stops, below).
    const cli = (...args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const env: NodeJS.ProcessEnv = { ...process.env, FRONTDESK_DATA_DIR: dataDir };
        delete env.DATABASE_URL;
        const p = spawn(process.execPath, ['src/cli.ts', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('exit', (code) => resolve({ code, out }));
      });
    const running = await cli('audit', 'verify');
    expect(running.out).toMatch(/audit trail intact: [1-9]\d* records verified/);
    expect(running.code).toBe(0);
    // A failing command exits non-zero on the embedded database too (its exit hook used to force 0).
    const failing = await cli('clients', 'revoke', 'no-such-client');
    expect(failing.out).toMatch(/no active client/);
    expect(failing.code).toBe(1);

    // An in-flight request when SIGTERM arrives still completes.
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: Array.from({ length: 300 }, (_, i) => ({
        resource: { resourceType: 'Patient', identifier: [{ system: 'urn:test', value: `bulk-${i}` }], name: [{ family: 'Bulk' }] },
        request: { method: 'POST', url: 'Patient' },
      })),
    };
    const inflight = fetch(`${first.fhir}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...auth }, body: JSON.stringify(bundle) });
    await new Promise((r) => setTimeout(r, 150));
    first.child.kill('SIGTERM');
    const response = await inflight;
    expect(response.status).toBe(200);
    const result = (await response.json()) as { entry: unknown[] };
    expect(result.entry).toHaveLength(300);
    expect(await first.exited).toBe(0);
    // The embedded database was stopped too (PostgreSQL removes its pid file on a clean shutdown).
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
    const stopped = await cli('audit', 'verify');
    expect(stopped.out).toMatch(/audit trail intact/);
    expect(stopped.code).toBe(0);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false); // the CLI stopped what it started

    const second = await start(dataDir);
    expect(second.output()).not.toMatch(/client_secret/); // printed on the first start only
    const auth2 = { authorization: `Bearer ${await token(second.fhir)}` };
    const read = await fetch(`${second.fhir}/Patient/${id}`, { headers: auth2 });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { name: { family: string }[] }).name[0]!.family).toBe('Restart');
    const bulk = await fetch(`${second.fhir}/Patient?identifier=urn:test|bulk-299`, { headers: auth2 });
    expect(((await bulk.json()) as { entry: unknown[] }).entry).toHaveLength(1);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 120_000);

  it('refuses an invalid configuration with a message naming the variable', async () => {
    const child = spawn(process.execPath, ['src/main.ts'], { env: { ...process.env, PORT: 'eighty' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(err).toMatch(/PORT must be an integer/);
  });
});

describe.runIf(process.getuid?.() === 0)('npm start as root', () => {
  it('explains which directory the postgres user cannot enter instead of failing in initdb', async () => {
    const locked = await mkdtemp(join(tmpdir(), 'frontdesk-locked-')); // mkdtemp makes it 0700
    dirs.push(locked);
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(await freePort()), FRONTDESK_DATA_DIR: join(locked, 'data') };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, ['src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(err).toContain(`cannot enter ${locked}`);
  });
});

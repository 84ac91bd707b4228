/**
 * A real gateway on a real port against the run's PostgreSQL, for tests that go through HTTP.
 */
import { createServer } from 'node:net';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/log.ts';

export const FHIR_JSON = 'application/fhir+json';

export type TestGateway = Gateway & { credentials: { id: string; secret: string } };

/**
 * Starts a gateway with authentication on and a client of its own (unique per call, so test files sharing the
 * database never overwrite each other's secret) holding `scopes` (default: everything).
 */
export async function testGateway(
  env: Record<string, string> = {},
  scopes = 'system/*.* system/hl7v2.c system/x12.c system/Message.rus',
  logTo?: NodeJS.WritableStream
): Promise<TestGateway> {
  const port = await freePort();
  const credentials = { id: `test-${Math.random().toString(36).slice(2, 10)}`, secret: `s-${Math.random().toString(36).slice(2)}` };
  const config = loadConfig({
    PORT: String(port),
    FRONTDESK_MLLP_PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: inject('databaseUrl'),
    FRONTDESK_LOG_LEVEL: 'silent',
    FRONTDESK_DB_POOL: '8',
    FRONTDESK_BOOTSTRAP_CLIENT: `${credentials.id}:${credentials.secret}:${scopes}`,
    ...env,
  });
  const g = await startGateway(config, createLogger(config, logTo), { warm: false });
  return Object.assign(g, { credentials });
}

/** Client credentials grant with client_secret_basic; returns the access token. */
export async function getToken(g: TestGateway, scope?: string, creds = g.credentials): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (scope) form.set('scope', scope);
  const res = await fetch(`${new URL(g.fhirUrl).origin}/auth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${creds.id}:${creds.secret}`).toString('base64')}`,
    },
    body: form,
  });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (!body.access_token) throw new Error(`token refused: ${JSON.stringify(body)}`);
  return body.access_token;
}

/**
 * A port free now, for a process started next to listen on. Taken below Linux's ephemeral range (32768 and up):
 * a port the kernel hands out for `listen(0)` is also what it hands to outgoing connections, and one of the
 * suite's many client sockets could take it before the process starting next binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** A client bound to one gateway: `fhir('POST', 'Patient', body, headers)` → status, headers, parsed body. */
export function client(g: TestGateway, tokenFor?: () => Promise<string>) {
  let token: Promise<string> | undefined;
  return async function fhir(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {}
  ): Promise<{ status: number; headers: Headers; body: any }> {
    token ??= tokenFor ? tokenFor() : getToken(g);
    const init: RequestInit = { method, headers: { accept: FHIR_JSON, authorization: `Bearer ${await token}`, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= FHIR_JSON;
    }
    const res = await fetch(`${g.fhirUrl}/${path}`, init);
    const text = await res.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.status, headers: res.headers, body: parsed };
  };
}

/** A unique token so tests sharing one database never see each other's data. */
export function unique(prefix = 't'): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * A real gateway on a real port against the run's PostgreSQL, for tests that go through HTTP.
 */
import { createServer } from 'node:net';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startGateway, type Gateway } from '../../src/gateway.ts';
import { createLogger } from '../../src/log.ts';

export const FHIR_JSON = 'application/fhir+json';

export async function testGateway(env: Record<string, string> = {}): Promise<Gateway> {
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    FRONTDESK_MLLP_PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: inject('databaseUrl'),
    FRONTDESK_LOG_LEVEL: 'silent',
    FRONTDESK_DB_POOL: '8',
    ...env,
  });
  return startGateway(config, createLogger(config), { warm: false });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** A client bound to one gateway: `fhir('POST', 'Patient', body, headers)` → status, headers, parsed body. */
export function client(g: Gateway) {
  return async function fhir(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {}
  ): Promise<{ status: number; headers: Headers; body: any }> {
    const init: RequestInit = { method, headers: { accept: FHIR_JSON, ...headers } };
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

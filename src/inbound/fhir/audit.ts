/**
 * @module inbound/fhir/audit — the audit middleware of the FHIR door: after each request (allowed, refused or
 * failed) one AuditEvent is committed before the response leaves.
 */
import type { MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Resource } from '@medplum/fhirtypes';
import type { AccessEnv } from '../../access/guard.ts';
import { restEvent, touched } from '../../audit/events.ts';
import type { AuditTrail } from '../../audit/trail.ts';

export type AuditEnv = AccessEnv & { Variables: { audited?: Resource; bundleType?: string } };

export function auditRequests(
  trail: AuditTrail | undefined,
  interaction: (method: string, parts: string[], bundleType?: string) => string = interactionOf
): MiddlewareHandler<AuditEnv> {
  return async (c, next) => {
    await next();
    if (!trail) return;
    const url = new URL(c.req.url);
    const path = url.pathname.startsWith('/fhir') ? url.pathname.replace(/^\/fhir\/?/, '') : '';
    const parts = path.split('/').filter(Boolean);
    const info = touched(c.get('audited'));
    if (info.references.length === 0 && parts.length >= 2 && !parts[1]!.startsWith('_')) {
      info.references.push(`${parts[0]}/${parts[1]}`);
      if (parts[0] === 'Patient') info.patients.push(`Patient/${parts[1]}`);
    }
    let address = '';
    try {
      address = getConnInfo(c).remote.address ?? '';
    } catch {
      address = ''; // app.request() in tests has no socket
    }
    await trail.record(
      restEvent({
        clientId: c.get('principal')?.clientId,
        address,
        method: c.req.method,
        interaction: interaction(c.req.method, parts, c.get('bundleType')),
        status: c.res.status,
        references: info.references,
        patients: info.patients,
        query: url.search.length > 1 ? url.search.slice(1) : undefined,
      })
    );
  };
}

/** FHIR restful-interaction code for a request (http://hl7.org/fhir/restful-interaction). */
export function interactionOf(method: string, parts: string[], bundleType?: string): string {
  const [type, second, third, fourth] = parts;
  if (!type) return method === 'POST' ? (bundleType === 'batch' ? 'batch' : 'transaction') : 'search-system';
  if (type === '_history') return 'history-system';
  if (parts.length === 1) return ({ GET: 'search-type', POST: 'create', PUT: 'update', DELETE: 'delete', PATCH: 'patch' } as Record<string, string>)[method] ?? 'operation';
  if (second === '_search') return 'search-type';
  if (second === '_history') return 'history-type';
  if (third === '_history') return fourth ? 'vread' : 'history-instance';
  return ({ GET: 'read', HEAD: 'read', PUT: 'update', DELETE: 'delete', PATCH: 'patch' } as Record<string, string>)[method] ?? 'operation';
}

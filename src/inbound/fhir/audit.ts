/**
 * @module inbound/fhir/audit — the audit middleware of the FHIR door: for each request (allowed, refused or
 * failed) one AuditEvent is committed before the response leaves.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { AuditEvent, Resource } from '@medplum/fhirtypes';
import type { AccessEnv } from '../../access/guard.ts';
import { restEvent, touched } from '../../audit/events.ts';
import type { AuditTrail } from '../../audit/trail.ts';
import type { CreateCommit } from '../../store/write.ts';

export type AuditEnv = AccessEnv & {
  Variables: { audited?: Resource; bundleType?: string; commitCreate?: CreateCommit };
};

/**
 * A plain create is committed with its record (`commitCreate`, handed to the repository through the request):
 * one commit for both. Once that commit has happened and the answer is the 201 it records, nothing is left to
 * record; any other answer (the create refused or failed, or the answer not the one recorded) is recorded after.
 */
export function auditRequests(
  trail: AuditTrail | undefined,
  interaction: (method: string, parts: string[], bundleType?: string) => string = interactionOf
): MiddlewareHandler<AuditEnv> {
  return async (c, next) => {
    if (!trail) return next();
    let committed = false;
    if (c.req.method === 'POST') {
      c.set('commitCreate', async (item) => {
        await trail.recordCreate(item, eventOf(c, interaction, 201, item.resource));
        committed = true;
      });
    }
    await next();
    if (committed && c.res.status === 201) return;
    await trail.record(eventOf(c, interaction, c.res.status, c.get('audited')));
  };
}

/** The AuditEvent of the request in `c`, answered with `status`, about `audited` (or what its path names). */
function eventOf(
  c: Context<AuditEnv>,
  interaction: (method: string, parts: string[], bundleType?: string) => string,
  status: number,
  audited: Resource | undefined
): AuditEvent {
  const url = new URL(c.req.url);
  const path = url.pathname.startsWith('/fhir') ? url.pathname.replace(/^\/fhir\/?/, '') : '';
  const parts = path.split('/').filter(Boolean);
  const info = touched(audited);
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
  return restEvent({
    clientId: c.get('principal')?.clientId,
    address,
    method: c.req.method,
    interaction: interaction(c.req.method, parts, c.get('bundleType')),
    status,
    references: info.references,
    patients: info.patients,
    query: url.search.length > 1 ? url.search.slice(1) : undefined,
  });
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

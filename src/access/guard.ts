/**
 * @module access/guard — the one access check every door uses: who is calling (a bearer token, RFC 6750) and
 * may they do this (SMART scopes). HTTP doors mount {@link requireToken}; domain code calls {@link demand}.
 *
 * A new door plugs in by mounting `requireToken(tokens)` on its Hono sub-app (or, for a socket door, calling
 * `tokens.verify`/the TLS client-certificate mapping) and calling `demand(principal, resource, permission)`
 * before acting; the audit trail is written by `audit/` from the same principal.
 */
import type { MiddlewareHandler } from 'hono';
import { OperationOutcomeError } from '@medplum/core';
import { httpError, outcome } from '../outcome.ts';
import { allows, parseScopes, type Permission } from './scopes.ts';
import type { Principal, TokenService } from './tokens.ts';

export type AccessEnv = { Variables: { principal: Principal } };

/** What a caller may do when `FRONTDESK_AUTH=off` (local development only, loopback only). */
export const DEVELOPMENT_PRINCIPAL: Principal = {
  clientId: 'auth-off',
  scope: 'system/*.*',
  grants: parseScopes('system/*.*'),
  tokenId: 'none',
};

/** Bearer-token check for an HTTP door; `tokens` undefined means authentication is off. */
export function requireToken(tokens: TokenService | undefined, realm = 'frontdesk'): MiddlewareHandler<AccessEnv> {
  return async (c, next) => {
    if (!tokens) {
      c.set('principal', DEVELOPMENT_PRINCIPAL);
      return next();
    }
    const header = c.req.header('authorization');
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) throw unauthorized(realm, header ? 'invalid_request' : undefined, 'A bearer access token is required');
    try {
      c.set('principal', await tokens.verify(m[1] as string));
    } catch (err) {
      throw unauthorized(realm, 'invalid_token', `The access token is not valid: ${(err as Error).message}`);
    }
    return next();
  };
}

/** Throws 403 unless the principal's scopes grant `permission` on `resource` (a FHIR type or a door name). */
export function demand(principal: Principal, resource: string, permission: Permission, what?: string): void {
  if (!allows(principal.grants, resource, permission)) {
    throw httpError(403, 'forbidden', `The token's scopes do not allow ${what ?? permission} on ${resource} (needs system/${resource}.${permission})`);
  }
}

function unauthorized(realm: string, error: string | undefined, description: string): OperationOutcomeError {
  const err = new OperationOutcomeError(outcome('login', description));
  const attrs = [`realm="${realm}"`];
  if (error) attrs.push(`error="${error}"`, `error_description="${description.replace(/"/g, "'")}"`);
  Object.assign(err, { status: 401, headers: { 'WWW-Authenticate': `Bearer ${attrs.join(', ')}` } });
  return err;
}

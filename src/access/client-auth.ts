/**
 * @module access/client-auth — the OAuth 2.0 client credentials grant (RFC 6749 4.4) as SMART Backend Services
 * profiles it: the client proves itself with `client_secret_basic` (RFC 6749 2.3.1) or `private_key_jwt`
 * (RFC 7523; RS384 or ES384 assertion, `iss` = `sub` = client id, `aud` = token endpoint, at most 5 minutes,
 * `jti` used once).
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Sql } from 'postgres';
import { findClient, type Client } from './clients.ts';
import { verifySecret } from './secrets.ts';
import { narrow } from './scopes.ts';
import type { TokenService } from './tokens.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An RFC 6749 5.2 error: `{ error, error_description }` with its HTTP status. */
export class OAuthError extends Error {
  readonly error: string;
  readonly status: number;
  constructor(error: string, description: string, status = 400) {
    super(description);
    this.error = error;
    this.status = status;
  }
}

export type TokenRequest = { form: URLSearchParams; authorization: string | undefined };

export class ClientAuthenticator {
  private readonly sql: Sql;
  private readonly tokens: TokenService;
  private readonly tokenEndpoint: string;
  private readonly remoteSets = new Map<string, JWTVerifyGetKey>();

  constructor(sql: Sql, tokens: TokenService, tokenEndpoint: string) {
    this.sql = sql;
    this.tokens = tokens;
    this.tokenEndpoint = tokenEndpoint;
  }

  async token(req: TokenRequest): Promise<{ clientId: string; body: Awaited<ReturnType<TokenService['issue']>> }> {
    const grant = req.form.get('grant_type');
    if (grant !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', 'Only grant_type=client_credentials is supported');
    }
    const client = req.form.has('client_assertion') ? await this.byAssertion(req.form) : await this.bySecret(req.authorization);
    const requested = req.form.get('scope')?.trim() || client.scopes;
    const scope = narrow(requested, client.scopes);
    if (!scope) throw new OAuthError('invalid_scope', 'None of the requested scopes is granted to this client');
    return { clientId: client.id, body: await this.tokens.issue(client.id, scope) };
  }

  private async bySecret(authorization: string | undefined): Promise<Client> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
    if (!m) throw new OAuthError('invalid_client', 'Authenticate with HTTP Basic (client_secret_basic) or a client assertion (private_key_jwt)', 401);
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // RFC 6749 2.3.1: id and secret are form-urlencoded before Basic encoding.
    const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    const client = colon > 0 ? await findClient(this.sql, id) : undefined;
    if (!client || client.revokedAt || !client.secretHash || !(await verifySecret(secret, client.secretHash))) {
      throw new OAuthError('invalid_client', 'Unknown client, revoked client or wrong secret', 401);
    }
    return client;
  }

  private async byAssertion(form: URLSearchParams): Promise<Client> {
    if (form.get('client_assertion_type') !== ASSERTION_TYPE) {
      throw new OAuthError('invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
    }
    const assertion = form.get('client_assertion') ?? '';
    let claimed: string | undefined;
    try {
      claimed = decodeJwt(assertion).iss;
    } catch {
      throw new OAuthError('invalid_client', 'client_assertion is not a JWT', 401);
    }
    const client = claimed ? await findClient(this.sql, claimed) : undefined;
    if (!client || client.revokedAt || (!client.jwks && !client.jwksUrl)) {
      throw new OAuthError('invalid_client', 'Unknown client, revoked client, or no keys registered', 401);
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, this.keySet(client), {
        algorithms: ['RS384', 'ES384'],
        issuer: client.id,
        subject: client.id,
        audience: this.tokenEndpoint,
        // SMART Backend Services requires exp (at most 5 minutes ahead, checked below) and jti, not iat.
        requiredClaims: ['exp', 'jti'],
      }));
    } catch (err) {
      throw new OAuthError('invalid_client', `client_assertion refused: ${(err as Error).message}`, 401);
    }
    if ((payload.exp ?? 0) * 1000 > Date.now() + 5 * 60_000) {
      throw new OAuthError('invalid_client', 'client_assertion must expire within 5 minutes', 401);
    }
    await this.sql`DELETE FROM assertion_jti WHERE expires_at < now() - interval '1 minute'`;
    const fresh = await this.sql`
      INSERT INTO assertion_jti (client_id, jti, expires_at) VALUES (${client.id}, ${payload.jti as string}, to_timestamp(${payload.exp as number}))
      ON CONFLICT DO NOTHING RETURNING jti`;
    if (fresh.length === 0) throw new OAuthError('invalid_client', 'client_assertion jti was already used (replay)', 401);
    return client;
  }

  private keySet(client: Client): JWTVerifyGetKey {
    if (client.jwks) return createLocalJWKSet(client.jwks);
    let set = this.remoteSets.get(client.jwksUrl as string);
    if (!set) {
      set = createRemoteJWKSet(new URL(client.jwksUrl as string), { timeoutDuration: 5000, cooldownDuration: 30_000 });
      this.remoteSets.set(client.jwksUrl as string, set);
    }
    return set;
  }
}

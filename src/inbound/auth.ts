/**
 * @module inbound/auth — the OAuth 2.0 door: `POST /auth/token` (client credentials), `GET /.well-known/jwks.json`,
 * and the SMART configuration document (SMART App Launch 2.0 §Conformance, `/.well-known/smart-configuration`).
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { OAuthError, type ClientAuthenticator } from '../access/client-auth.ts';
import type { TokenService } from '../access/tokens.ts';
import type { Logger } from '../log.ts';

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

export function authRoutes(authenticator: ClientAuthenticator, tokens: TokenService, log: Logger): Hono {
  const app = new Hono({ strict: false });
  app.post('/auth/token', bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.json({ error: 'invalid_request', error_description: 'Body too large' }, 413) }), async (c) => {
    const type = c.req.header('content-type') ?? '';
    if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return c.json({ error: 'invalid_request', error_description: 'Send application/x-www-form-urlencoded' }, 400, NO_STORE);
    }
    try {
      const { clientId, body } = await authenticator.token({
        form: new URLSearchParams(await c.req.text()),
        authorization: c.req.header('authorization'),
      });
      log.info({ clientId }, 'token issued');
      return c.json(body, 200, NO_STORE);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      log.warn({ error: err.error }, 'token refused');
      const headers: Record<string, string> = { ...NO_STORE };
      if (err.status === 401) headers['WWW-Authenticate'] = 'Basic realm="frontdesk"';
      return c.json({ error: err.error, error_description: err.message }, err.status as 400, headers);
    }
  });
  app.get('/.well-known/jwks.json', async (c) => c.json(await tokens.jwks()));
  return app;
}

export function smartConfiguration(baseUrl: string): Record<string, unknown> {
  const origin = new URL(baseUrl).origin;
  return {
    issuer: origin,
    jwks_uri: `${origin}/.well-known/jwks.json`,
    token_endpoint: `${origin}/auth/token`,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    scopes_supported: ['system/*.cruds', 'system/*.rs', 'system/*.read', 'system/*.write', 'system/*.*'],
    capabilities: ['client-confidential-symmetric', 'client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}

/**
 * @module access/setup — access control at start-up: the token service, the bootstrap client from
 * `FRONTDESK_BOOTSTRAP_CLIENT`, and on a first start with the embedded database an admin client whose
 * credentials are printed once and kept in the data directory.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import type { Config } from '../config.ts';
import { ClientAuthenticator } from './client-auth.ts';
import { addClient } from './clients.ts';
import { hashSecret } from './secrets.ts';
import { TokenService } from './tokens.ts';

export const ADMIN_SCOPES = 'system/*.cruds system/hl7v2.c system/x12.c system/Message.rus';

export type Access = {
  tokens: TokenService | undefined;
  authenticator: ClientAuthenticator | undefined;
  /** Set on a first embedded start: the admin credentials to show once. */
  firstAdmin?: { id: string; secret: string; file: string };
};

export async function setUpAccess(sql: Sql, config: Config, embedded: boolean): Promise<Access> {
  if (!config.auth) return { tokens: undefined, authenticator: undefined };
  const origin = new URL(config.baseUrl).origin;
  const tokens = new TokenService(sql, { issuer: origin, audience: config.baseUrl, ttlSeconds: config.tokenTtlSeconds });
  await tokens.init();
  const authenticator = new ClientAuthenticator(sql, tokens, `${origin}/auth/token`);
  const access: Access = { tokens, authenticator };
  const b = config.bootstrapClient;
  if (b) {
    // Created or brought in line with the variable at every start (automation re-runs it).
    await sql`
      INSERT INTO oauth_client (id, name, secret_hash, scopes) VALUES (${b.id}, 'bootstrap', ${await hashSecret(b.secret)}, ${b.scopes})
      ON CONFLICT (id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, scopes = EXCLUDED.scopes, revoked_at = NULL`;
  }
  if (embedded) {
    const [{ n } = { n: 0 }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM oauth_client`;
    if (n === 0) {
      const { client, secret } = await addClient(sql, { id: 'admin', name: 'first-start admin', scopes: ADMIN_SCOPES });
      const file = join(config.dataDir, 'admin-client.json');
      await writeFile(file, JSON.stringify({ client_id: client.id, client_secret: secret, scope: client.scopes }, null, 2) + '\n', { mode: 0o600 });
      access.firstAdmin = { id: client.id, secret: secret as string, file };
    }
  }
  return access;
}

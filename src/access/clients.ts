/**
 * @module access/clients — registered OAuth 2.0 clients: add, list, revoke, look up.
 */
import { randomBytes } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import type { Sql } from 'postgres';
import { hashSecret, newSecret } from './secrets.ts';
import { invalidScopes } from './scopes.ts';

export type Client = {
  id: string;
  name: string;
  secretHash: string | null;
  jwks: JSONWebKeySet | null;
  jwksUrl: string | null;
  scopes: string;
  createdAt: Date;
  revokedAt: Date | null;
};

export type NewClient = { id?: string; name?: string; scopes: string; secret?: string | false; jwks?: JSONWebKeySet; jwksUrl?: string };

/** Registers a client; returns it with the secret in clear, which is shown once and never stored. */
export async function addClient(sql: Sql, c: NewClient): Promise<{ client: Client; secret?: string }> {
  const bad = invalidScopes(c.scopes);
  if (bad.length > 0 || !c.scopes.trim()) throw new Error(`Invalid scopes: ${bad.join(' ') || '(none given)'}`);
  const id = c.id ?? `fd-${randomBytes(9).toString('base64url')}`;
  if (!/^[A-Za-z0-9._~-]{3,128}$/.test(id)) throw new Error('Client id: 3-128 characters of A-Z a-z 0-9 . _ ~ -');
  const secret = c.secret === false ? undefined : (c.secret ?? newSecret());
  const [row] = await sql<ClientRow[]>`
    INSERT INTO oauth_client (id, name, secret_hash, jwks, jwks_url, scopes)
    VALUES (${id}, ${c.name ?? ''}, ${secret ? await hashSecret(secret) : null}, ${c.jwks ? sql.json(c.jwks as never) : null}::jsonb,
            ${c.jwksUrl ?? null}, ${c.scopes.trim()})
    RETURNING *`;
  return { client: fromRow(row!), secret };
}

export async function findClient(sql: Sql, id: string): Promise<Client | undefined> {
  const [row] = await sql<ClientRow[]>`SELECT * FROM oauth_client WHERE id = ${id}`;
  return row ? fromRow(row) : undefined;
}

export async function listClients(sql: Sql): Promise<Client[]> {
  return (await sql<ClientRow[]>`SELECT * FROM oauth_client ORDER BY created_at`).map(fromRow);
}

export async function revokeClient(sql: Sql, id: string): Promise<boolean> {
  const rows = await sql`UPDATE oauth_client SET revoked_at = now() WHERE id = ${id} AND revoked_at IS NULL RETURNING id`;
  return rows.length === 1;
}

type ClientRow = {
  id: string;
  name: string;
  secret_hash: string | null;
  jwks: JSONWebKeySet | null;
  jwks_url: string | null;
  scopes: string;
  created_at: Date;
  revoked_at: Date | null;
};

function fromRow(r: ClientRow): Client {
  return {
    id: r.id,
    name: r.name,
    secretHash: r.secret_hash,
    jwks: r.jwks,
    jwksUrl: r.jwks_url,
    scopes: r.scopes,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}

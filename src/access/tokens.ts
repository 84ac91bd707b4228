/**
 * @module access/tokens — the gateway's own access tokens: short-lived JWTs (RFC 9068 shape) signed with a key
 * kept in the database, published at `/.well-known/jwks.json`, rotatable.
 *
 * Several gateway processes share one database: each signs with the newest active key and, meeting a `kid`
 * it has not loaded, reloads the keys before refusing a token. A rotation by another process (`frontdesk keys
 * rotate` while the gateway runs) is seen at the next token issued or JWKS served: both ask which key is active
 * (one indexed row), so a key rotated away is not signed with again.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import type { Sql } from 'postgres';
import { parseScopes, type Grant } from './scopes.ts';

const ALG = 'ES384';

export type Principal = { clientId: string; scope: string; grants: Grant[]; tokenId: string };

type Key = { kid: string; alg: string; privateKey?: CryptoKey; publicKey: CryptoKey; publicJwk: JWK; retiredAt: Date | null; created: Date };

export class TokenService {
  private readonly sql: Sql;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  private keys = new Map<string, Key>();

  constructor(sql: Sql, o: { issuer: string; audience: string; ttlSeconds: number }) {
    this.sql = sql;
    this.issuer = o.issuer;
    this.audience = o.audience;
    this.ttlSeconds = o.ttlSeconds;
  }

  /** Loads the keys, creating the first one when the database has none. */
  async init(): Promise<void> {
    await this.reload();
    if (![...this.keys.values()].some((k) => k.retiredAt === null)) await this.rotate();
  }

  /** A new signing key; the previous ones are retired (they still verify the tokens they signed). */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = randomUUID();
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: ALG, use: 'sig' };
    await this.sql.begin(async (tx) => {
      await tx`UPDATE signing_key SET retired_at = now() WHERE retired_at IS NULL`;
      await tx`INSERT INTO signing_key (kid, alg, private_jwk, public_jwk)
               VALUES (${kid}, ${ALG}, ${tx.json(privateJwk as never)}, ${tx.json(publicJwk as never)})`;
    });
    await this.reload();
    return kid;
  }

  /** Public keys of the active key and of keys retired less than a token lifetime ago. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.active();
    const horizon = Date.now() - this.ttlSeconds * 1000 * 2;
    return { keys: [...this.keys.values()].filter((k) => k.retiredAt === null || k.retiredAt.getTime() > horizon).map((k) => k.publicJwk) };
  }

  async issue(clientId: string, scope: string): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number; scope: string }> {
    const key = await this.active();
    const token = await new SignJWT({ scope, client_id: clientId })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(clientId)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { access_token: token, token_type: 'Bearer', expires_in: this.ttlSeconds, scope };
  }

  /**
   * Verifies signature (our keys only, ES384 only — `alg: none` and foreign keys fail), issuer, audience, expiry.
   * A verified token is remembered until it expires: ECDSA verification costs about 1 ms, every request.
   */
  async verify(token: string): Promise<Principal> {
    const hit = this.verified.get(token);
    if (hit && hit.expiresAt > Date.now()) return hit.principal;
    const principal = await this.verifyUncached(token);
    if (this.verified.size >= 10_000) {
      const now = Date.now();
      for (const [t, v] of this.verified) if (v.expiresAt <= now) this.verified.delete(t);
      if (this.verified.size >= 10_000) this.verified.clear();
    }
    this.verified.set(token, principal);
    return principal.principal;
  }

  private readonly verified = new Map<string, { principal: Principal; expiresAt: number }>();

  private async verifyUncached(token: string): Promise<{ principal: Principal; expiresAt: number }> {
    const { payload } = await jwtVerify(token, (header) => this.keyFor(header.kid), {
      algorithms: [ALG],
      issuer: this.issuer,
      audience: this.audience,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'sub', 'jti'],
    });
    const p = payload as JWTPayload & { scope?: string };
    return {
      principal: { clientId: p.sub as string, scope: p.scope ?? '', grants: parseScopes(p.scope ?? ''), tokenId: p.jti as string },
      expiresAt: (p.exp as number) * 1000,
    };
  }

  /** The active signing key as the database has it now, the keys reloaded when another process rotated them. */
  private async active(): Promise<Key & { privateKey: CryptoKey }> {
    const [row] = await this.sql<{ kid: string }[]>`
      SELECT kid FROM signing_key WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1`;
    if (row && !this.keys.get(row.kid)?.privateKey) await this.reload();
    const key = row ? this.keys.get(row.kid) : undefined;
    if (!key?.privateKey) throw new Error('No signing key');
    return key as Key & { privateKey: CryptoKey };
  }

  private async keyFor(kid: string | undefined): Promise<CryptoKey> {
    if (!kid) throw new Error('token has no kid');
    if (!this.keys.has(kid)) await this.reload();
    const key = this.keys.get(kid);
    if (!key) throw new Error('unknown signing key');
    return key.publicKey;
  }

  private async reload(): Promise<void> {
    const rows = await this.sql<{ kid: string; alg: string; private_jwk: JWK; public_jwk: JWK; retired_at: Date | null; created_at: Date }[]>`
      SELECT kid, alg, private_jwk, public_jwk, retired_at, created_at FROM signing_key ORDER BY created_at`;
    const keys = new Map<string, Key>();
    for (const r of rows) {
      keys.set(r.kid, {
        kid: r.kid,
        alg: r.alg,
        privateKey: r.retired_at ? undefined : ((await importJWK(r.private_jwk, r.alg)) as CryptoKey),
        publicKey: (await importJWK(r.public_jwk, r.alg)) as CryptoKey,
        publicJwk: r.public_jwk,
        retiredAt: r.retired_at,
        created: r.created_at,
      });
    }
    this.keys = keys;
  }
}

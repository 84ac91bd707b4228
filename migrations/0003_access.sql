-- OAuth 2.0 clients (SMART Backend Services), the gateway's token signing keys, and seen assertion ids.
CREATE TABLE oauth_client (
  id          text        PRIMARY KEY,
  name        text        NOT NULL DEFAULT '',
  secret_hash text,                    -- scrypt, for client_secret_basic; NULL for key-only clients
  jwks        jsonb,                   -- inline public keys, for private_key_jwt
  jwks_url    text,                    -- or where to fetch them
  scopes      text        NOT NULL,    -- the most this client may be granted
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

CREATE TABLE signing_key (
  kid         text        PRIMARY KEY,
  alg         text        NOT NULL,
  private_jwk jsonb       NOT NULL,
  public_jwk  jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz              -- retired keys still verify tokens until they expire, never sign
);

-- private_key_jwt replay protection: an assertion's jti is accepted once until the assertion expires.
CREATE TABLE assertion_jti (
  client_id  text        NOT NULL,
  jti        text        NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);
CREATE INDEX assertion_jti_expiry ON assertion_jti (expires_at);

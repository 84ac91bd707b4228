-- The audit trail: every FHIR interaction and every message exchanged leaves an AuditEvent here.
-- audit_log is the record of truth, append-only and hash-chained: each row's hash is
-- sha256(previous hash || content), content being the exact JSON text that was hashed. The AuditEvent is also
-- stored as a FHIR resource (table resource) so that clients with the audit scope can search it; `frontdesk
-- audit verify` checks the chain, the sequence, the head and that the searchable copy matches.
CREATE TABLE audit_log (
  seq         bigint      PRIMARY KEY,
  id          text        NOT NULL UNIQUE,      -- AuditEvent.id
  recorded    timestamptz NOT NULL,
  content     text        NOT NULL,
  prev_hash   bytea       NOT NULL,
  hash        bytea       NOT NULL
);

-- The head of the chain: one row, locked by each writer, so appends from several processes stay in one order.
CREATE TABLE audit_head (
  id   integer PRIMARY KEY CHECK (id = 1),
  seq  bigint  NOT NULL,
  hash bytea   NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

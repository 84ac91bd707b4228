-- The searchable AuditEvent copies (table resource, with history and search rows) are written after the record
-- of truth (audit_log) has committed, by a projector that follows the log (src/audit/trail.ts): the answer to a
-- request waits for its audit_log row only. audit_projection holds how far the copies go; a read of AuditEvents
-- first brings them up to date. Until now the copies were written with the log, so they reach the head.
CREATE TABLE audit_projection (
  id  integer PRIMARY KEY CHECK (id = 1),
  seq bigint  NOT NULL
);
INSERT INTO audit_projection SELECT 1, seq FROM audit_head WHERE id = 1;

-- AuditEvents are read and searched from the audit log itself (src/store/audit-search.ts): each record gets one
-- row of search terms (src/store/audit-terms.ts), written in the statement that appends it, instead of a resource
-- copy with its history and some sixteen generic search rows projected after the commit.
CREATE TABLE audit_search (
  seq   bigint PRIMARY KEY,  -- audit_log.seq
  terms text[] NOT NULL
);
CREATE INDEX audit_search_terms ON audit_search USING gin (terms);
-- `date` (AuditEvent.recorded) ranges, and `_sort=date`.
CREATE INDEX audit_log_recorded ON audit_log (recorded, seq);

-- The terms of the records projected so far, from the search rows of their copies (the same values the gateway
-- computes for new records). Records appended but not projected yet are indexed from their content by the next
-- gateway to start (audit_backfill says there may be some).
INSERT INTO audit_search (seq, terms)
SELECT l.seq, ARRAY(
  SELECT DISTINCT t FROM (
    SELECT 't:' || code || ':' || system || '|' || value FROM search_token s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
    UNION ALL
    SELECT 't:' || code || ':*|' || value FROM search_token s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
    UNION ALL
    SELECT 't:' || code || ':' || system || '|*' FROM search_token s
      WHERE s.resource_type = 'AuditEvent' AND s.id = l.id AND system <> ''
    UNION ALL
    SELECT 'r:' || code || ':' || target FROM search_reference s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
    UNION ALL
    SELECT 's:' || code || ':' || value FROM search_string s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
    UNION ALL
    SELECT 'x:' || code || ':' || raw FROM search_string s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
    UNION ALL
    SELECT 'p:' || code FROM (
      SELECT code FROM search_token s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
      UNION ALL SELECT code FROM search_reference s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
      UNION ALL SELECT code FROM search_string s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
      UNION ALL SELECT code FROM search_date s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
      UNION ALL SELECT code FROM search_number s WHERE s.resource_type = 'AuditEvent' AND s.id = l.id
    ) c WHERE position(':' IN code) = 0
  ) x(t))
FROM audit_log l
WHERE EXISTS (SELECT 1 FROM resource r WHERE r.resource_type = 'AuditEvent' AND r.id = l.id);

CREATE TABLE audit_backfill (id integer PRIMARY KEY CHECK (id = 1));
INSERT INTO audit_backfill
SELECT 1 WHERE EXISTS (SELECT 1 FROM audit_log l WHERE NOT EXISTS (SELECT 1 FROM audit_search s WHERE s.seq = l.seq));

DELETE FROM search_token WHERE resource_type = 'AuditEvent';
DELETE FROM search_string WHERE resource_type = 'AuditEvent';
DELETE FROM search_reference WHERE resource_type = 'AuditEvent';
DELETE FROM search_date WHERE resource_type = 'AuditEvent';
DELETE FROM search_number WHERE resource_type = 'AuditEvent';
DELETE FROM resource_history WHERE resource_type = 'AuditEvent';
DELETE FROM resource WHERE resource_type = 'AuditEvent';
DROP TABLE audit_projection;

-- An AuditEvent's token terms (type, subtype, action, outcome, client, entity roles and types, and which
-- parameters have a value) are the same for most records: every read by one client from one address has the same
-- ones. They are stored once per distinct set, a shape, and each record points at its shape; the record keeps only
-- its own terms (references and strings: the patient, the entities, control numbers, addresses). A record then
-- costs a handful of GIN entries instead of some forty. Which terms are shared is decided by their kind
-- and parameter alone (`t:` and `p:`, but not a reference's `:identifier`, which names each message's own id;
-- src/store/audit-terms.ts), so a search knows where to look from the parameter.
CREATE TABLE audit_shape (
  id    serial PRIMARY KEY,
  -- md5 of the terms, sorted, one per line. Sorted here by bytes, in Node by UTF-16 units: for terms outside ASCII
  -- the two may name one set with two keys, which only stores that set twice (a search finds both).
  key   text NOT NULL UNIQUE,
  terms text[] NOT NULL
);
CREATE INDEX audit_shape_terms ON audit_shape USING gin (terms);

CREATE FUNCTION pg_temp.audit_shared(t text) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT left(t, 2) = 'p:' OR (left(t, 2) = 't:' AND t !~ '^t:[^:|]+:identifier:') $$;

CREATE TEMPORARY TABLE audit_split ON COMMIT DROP AS
SELECT seq, shared, md5(array_to_string(shared, E'\n')) AS key,
  ARRAY(SELECT t FROM unnest(terms) t WHERE NOT pg_temp.audit_shared(t) ORDER BY t COLLATE "C") AS own
FROM (
  SELECT seq, terms,
    ARRAY(SELECT t FROM unnest(terms) t WHERE pg_temp.audit_shared(t) ORDER BY t COLLATE "C") AS shared
  FROM audit_search
) s;

INSERT INTO audit_shape (key, terms) SELECT DISTINCT ON (key) key, shared FROM audit_split ORDER BY key;

-- Rewritten rather than updated: every row changes, and the GIN index is built once at the end.
CREATE TABLE audit_search_new (
  seq   bigint PRIMARY KEY,  -- audit_log.seq
  shape integer NOT NULL,    -- audit_shape.id
  terms text[] NOT NULL
);
INSERT INTO audit_search_new (seq, shape, terms)
SELECT x.seq, sh.id, x.own FROM audit_split x JOIN audit_shape sh ON sh.key = x.key;
DROP TABLE audit_search;
ALTER TABLE audit_search_new RENAME TO audit_search;
ALTER INDEX audit_search_new_pkey RENAME TO audit_search_pkey;
CREATE INDEX audit_search_terms ON audit_search USING gin (terms);
CREATE INDEX audit_search_shape ON audit_search (shape, seq);

-- Every record's terms, its own and its shape's, as one array: for reading the log by hand.
CREATE VIEW audit_terms AS
SELECT s.seq, s.terms || sh.terms AS terms FROM audit_search s JOIN audit_shape sh ON sh.id = s.shape;

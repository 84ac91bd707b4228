-- Current and historical versions of every FHIR resource, plus the search values extracted at write time.
-- One table for all resource types keyed by (resource_type, id): the type set is small and fixed, and a
-- transaction Bundle touching ten types stays one set of statements. `content` is the resource as served
-- (jsonb); it is NULL for a deletion.

CREATE TABLE resource (
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    bigint      NOT NULL,
  last_updated  timestamptz NOT NULL,
  deleted       boolean     NOT NULL DEFAULT false,
  content       jsonb,
  PRIMARY KEY (resource_type, id)
);
CREATE INDEX resource_last_updated ON resource (resource_type, last_updated DESC) WHERE NOT deleted;

-- Every version, the current one included (a vread never needs the current table).
CREATE TABLE resource_history (
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  version_id    bigint      NOT NULL,
  last_updated  timestamptz NOT NULL,
  deleted       boolean     NOT NULL DEFAULT false,
  content       jsonb,
  PRIMARY KEY (resource_type, id, version_id)
);
CREATE INDEX resource_history_time ON resource_history (resource_type, last_updated DESC);

-- Search index rows (FHIR search.html): one table per value kind, rows replaced on every write of the resource.
-- token: identifier, code, coding, boolean, id-like values. system is '' when absent (so `|code` can match it).
CREATE TABLE search_token (
  resource_type text NOT NULL,
  id            text NOT NULL,
  code          text NOT NULL,
  system        text NOT NULL DEFAULT '',
  value         text NOT NULL
);
CREATE INDEX search_token_value ON search_token (resource_type, code, value, system);
CREATE INDEX search_token_owner ON search_token (resource_type, id);

-- string: normalised (lower case, accents removed) for the default starts-with match; `raw` keeps the original
-- for :exact.
CREATE TABLE search_string (
  resource_type text NOT NULL,
  id            text NOT NULL,
  code          text NOT NULL,
  value         text NOT NULL,
  raw           text NOT NULL
);
CREATE INDEX search_string_value ON search_string (resource_type, code, value text_pattern_ops);
CREATE INDEX search_string_owner ON search_string (resource_type, id);

-- reference: `Type/id` for local references, the absolute URL otherwise.
CREATE TABLE search_reference (
  resource_type text NOT NULL,
  id            text NOT NULL,
  code          text NOT NULL,
  target        text NOT NULL
);
CREATE INDEX search_reference_target ON search_reference (resource_type, code, target);
CREATE INDEX search_reference_owner ON search_reference (resource_type, id);

-- date / dateTime / Period / instant as the closed range [low, high] they denote.
CREATE TABLE search_date (
  resource_type text        NOT NULL,
  id            text        NOT NULL,
  code          text        NOT NULL,
  low           timestamptz NOT NULL,
  high          timestamptz NOT NULL
);
CREATE INDEX search_date_range ON search_date (resource_type, code, low, high);
CREATE INDEX search_date_owner ON search_date (resource_type, id);

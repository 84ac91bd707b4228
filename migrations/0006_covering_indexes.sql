-- Each search condition is an EXISTS probe "does this resource have a row with this code and value?". With the
-- owner indexes covering (code, value…), those probes are index-only: a practitioner's day (1,000 candidate
-- appointments checked for a date) no longer visits the table.
DROP INDEX search_token_owner;
CREATE INDEX search_token_owner ON search_token (resource_type, id, code) INCLUDE (system, value);
DROP INDEX search_string_owner;
CREATE INDEX search_string_owner ON search_string (resource_type, id, code) INCLUDE (value);
DROP INDEX search_reference_owner;
CREATE INDEX search_reference_owner ON search_reference (resource_type, id, code) INCLUDE (target);
DROP INDEX search_date_owner;
CREATE INDEX search_date_owner ON search_date (resource_type, id, code) INCLUDE (low, high);
DROP INDEX search_number_owner;
CREATE INDEX search_number_owner ON search_number (resource_type, id, code) INCLUDE (low, high);

-- Searches take their candidates from the search tables (src/store/search-sql.ts, buildWhere): the value indexes
-- carry the owner's id, so "the ids of the appointments whose actor is Practitioner/7" is an index-only scan
-- instead of 1,000 visits to the table.
DROP INDEX search_token_value;
CREATE INDEX search_token_value ON search_token (resource_type, code, value, system) INCLUDE (id);
DROP INDEX search_string_value;
CREATE INDEX search_string_value ON search_string (resource_type, code, value text_pattern_ops) INCLUDE (id);
-- Every reference condition compares target, code and resource_type for equality, so one index of the two that
-- held those columns serves them all; the other only cost a third of each reference row's index writes.
DROP INDEX search_reference_target;
DROP INDEX search_reference_by_target;
CREATE INDEX search_reference_by_target ON search_reference (target, code, resource_type) INCLUDE (id);
DROP INDEX search_date_range;
CREATE INDEX search_date_range ON search_date (resource_type, code, low, high) INCLUDE (id);
DROP INDEX search_number_range;
CREATE INDEX search_number_range ON search_number (resource_type, code, low, high) INCLUDE (id);

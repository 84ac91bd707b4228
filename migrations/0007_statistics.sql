-- A few targets are referenced by very many resources (a practitioner by a thousand appointments, a payer by
-- every coverage). With the default statistics the planner does not see them among the most common values,
-- guesses a handful of rows and fetches every candidate resource before applying the other filters. A larger
-- sample keeps such hot values in the statistics.
ALTER TABLE search_reference ALTER COLUMN target SET STATISTICS 2000;
ALTER TABLE search_token ALTER COLUMN value SET STATISTICS 1000;

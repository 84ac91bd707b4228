-- Search (issue #4): token display text for :text, numbers and quantities, and the sort/chain helpers.
ALTER TABLE search_token ADD COLUMN text text NOT NULL DEFAULT '';

-- number and quantity as the range [low, high] their precision denotes (search.html#number); for quantities
-- system/unit hold the Quantity's system and code (or unit).
CREATE TABLE search_number (
  resource_type text    NOT NULL,
  id            text    NOT NULL,
  code          text    NOT NULL,
  system        text    NOT NULL DEFAULT '',
  unit          text    NOT NULL DEFAULT '',
  low           numeric NOT NULL,
  high          numeric NOT NULL
);
CREATE INDEX search_number_range ON search_number (resource_type, code, low, high);
CREATE INDEX search_number_owner ON search_number (resource_type, id);

-- Reverse lookups (_revinclude, _has, chains) go from a target to the resources that point at it.
CREATE INDEX search_reference_by_target ON search_reference (target, code, resource_type);

-- What List filters and sorts resources by (AIP-160, AIP-132), one row per resource and field, so
-- a filtered or sorted page is found through an index instead of by decoding every resource of the
-- parent. The API layer computes the values when it writes a resource (`create_time`, `labels.env`,
-- ...); to the store they are opaque names and values.
--   scope: a hash of the resource's parent and collection (sqlite-resource-index.ts), so that a
--          listing walks only its own parent's entries; a collision costs time, never a wrong
--          result, since listings also compare the parent itself.
--   value: declared without a type, so SQLite keeps each value as written (text, integer or real;
--          booleans as 1 and 0) and compares and sorts it in its own type, with one index for
--          all. NULL: the resource has no value for the field (it sorts first).
CREATE TABLE resource_fields (
  resource_seq INTEGER NOT NULL,
  field TEXT NOT NULL,
  scope INTEGER NOT NULL,
  value,
  PRIMARY KEY (resource_seq, field)
) WITHOUT ROWID;
CREATE INDEX resource_fields_by_value ON resource_fields (scope, field, value);

-- A resource's rows go with it, whichever statement deletes it (a delete, a cascade).
CREATE TRIGGER resource_fields_follow_deletes AFTER DELETE ON resources BEGIN
  DELETE FROM resource_fields WHERE resource_seq = OLD.seq;
END;

-- Rows written before this migration have no index, and SQL cannot decode their protos to make
-- one: they stay `indexed = 0` until the API layer indexes them (StandardMethods, before the first
-- List of their collection). The partial index makes "is there any?" free once there are none.
ALTER TABLE resources ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX resources_unindexed ON resources (collection, seq) WHERE indexed = 0;

-- ListOperations with `error.code = N`: without it, a filter that matches few operations walks
-- every operation of the location. Only failed operations have a code, so the index stays small
-- and a running operation's insert does not touch it.
CREATE INDEX operations_by_error_code ON operations (parent, error_code, seq) WHERE error_code IS NOT NULL;

-- What List filters and sorts resources by (AIP-160, AIP-132), one row per resource and field, as
-- SQLite's migration 000006 keeps it. The API layer computes the values when it writes a resource
-- (`create_time`, `labels.env`, ...); to the store they are opaque names and values.
--   scope: a hash of the resource's parent and collection (postgres-resource-index.ts), so that a
--          sorted listing walks only its own parent's entries, in order, through the index below.
--   text_value, number_value, bool_value: PostgreSQL columns have one type, where SQLite's untyped
--          column keeps each value as written. A field's values are all of one type (store.ts), so
--          one of the three holds it and the others are NULL; all three NULL: the resource has no
--          value for the field (it sorts first). Text sorts byte by byte (COLLATE "C"), as SQLite
--          compares it, whatever the database's collation.
CREATE TABLE resource_fields (
  -- A resource's rows go with it, whichever statement deletes it (a delete, a cascade).
  resource_seq bigint NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
  field text NOT NULL,
  scope bigint NOT NULL,
  text_value text COLLATE "C",
  number_value double precision,
  bool_value boolean,
  PRIMARY KEY (resource_seq, field)
);
-- The order of a listing sorted by this field, then oldest first, in one index: ascending it is
-- read forwards (NULL first), descending backwards (NULL last), as the listing orders.
CREATE INDEX resource_fields_in_order ON resource_fields (
  scope, field, bool_value NULLS FIRST, number_value NULLS FIRST, text_value NULLS FIRST, resource_seq
);

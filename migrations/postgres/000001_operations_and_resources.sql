-- The schema of migrations/sqlite 000001 to 000006 as PostgreSQL holds it: this backend starts
-- with no data written before etags, request ids or the resource index existed, so it begins
-- where the SQLite schema stands today. Times are milliseconds since the epoch (bigint), as the
-- SQLite store keeps them, so both backends read back exactly the Date that was written.

-- Operations: seq is the keyset for listing (newest first). Several nodes draw from one sequence,
-- so seq is unique but follows commit order only within one node (each node commits one group of
-- writes at a time): a page may miss an operation another node commits while it is read, as AIP-158
-- allows for what is written during a listing.
CREATE TABLE operations (
  seq bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  parent text NOT NULL,
  kind text NOT NULL,
  input text NOT NULL,
  verb text NOT NULL,
  target text NOT NULL,
  create_time bigint NOT NULL,
  end_time bigint,
  status_message text NOT NULL DEFAULT '',
  requested_cancellation boolean NOT NULL DEFAULT false,
  done boolean NOT NULL DEFAULT false,
  error_code integer,
  error_message text,
  response_type text,
  response_value bytea,
  -- AIP-155 request ids: a retried call with the same request_id gets the operation of the first
  -- one. request_key is the method's scope and the id; request_fingerprint tells a retry from
  -- another request that reuses the id.
  request_key text,
  request_fingerprint text
);
CREATE INDEX operations_by_parent ON operations (parent, seq);
CREATE INDEX operations_unfinished ON operations (seq) WHERE NOT done;
CREATE UNIQUE INDEX operations_by_request ON operations (request_key) WHERE request_key IS NOT NULL;
-- ListOperations with `error.code = N`: only failed operations have a code, so the index stays
-- small and a running operation's insert does not touch it.
CREATE INDEX operations_by_error_code ON operations (parent, error_code, seq) WHERE error_code IS NOT NULL;

-- Resources of every collection as binary protos. Names and parents compare byte by byte
-- (COLLATE "C"), whatever the database's collation: a cascade delete takes the names from
-- 'name/' up to 'name0' ('0' follows '/'), which only holds in byte order.
CREATE TABLE resources (
  seq bigserial PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  parent text COLLATE "C" NOT NULL,
  collection text NOT NULL,
  -- Compared by etag preconditions (AIP-154) in the transaction that commits a change. NULL reads
  -- as '', like a row the SQLite store wrote before its migration 000005, should one be copied here.
  etag text,
  data bytea NOT NULL,
  -- Whether the row has its entries in resource_fields; a resource written without an index waits
  -- for the API layer to index it (listUnindexedResources, indexResource).
  indexed boolean NOT NULL DEFAULT false
);
CREATE INDEX resources_by_parent ON resources (parent, collection, seq);
CREATE INDEX resources_unindexed ON resources (collection, seq) WHERE NOT indexed;

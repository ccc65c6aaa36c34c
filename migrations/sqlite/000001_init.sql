-- Operations: seq is the keyset for listing (newest first), stable under concurrent inserts.
CREATE TABLE operations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  parent TEXT NOT NULL,
  kind TEXT NOT NULL,
  input TEXT NOT NULL,
  verb TEXT NOT NULL,
  target TEXT NOT NULL,
  create_time INTEGER NOT NULL,
  end_time INTEGER,
  status_message TEXT NOT NULL DEFAULT '',
  requested_cancellation INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  error_code INTEGER,
  error_message TEXT,
  response_type TEXT,
  response_value BLOB
);
CREATE INDEX operations_by_parent ON operations (parent, seq);
CREATE INDEX operations_unfinished ON operations (seq) WHERE done = 0;

-- Resources of every collection (connections, …) as binary protos.
CREATE TABLE resources (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  parent TEXT NOT NULL,
  collection TEXT NOT NULL,
  data BLOB NOT NULL
);
CREATE INDEX resources_by_parent ON resources (parent, collection, seq);

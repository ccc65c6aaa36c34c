-- Retention: done operations are deleted some time after they end, and request ids forgotten
-- some time after their request (serve --operation-retention, --request-id-retention). An
-- operation ends after it is created, so the old ones are found by create_time, written once.
CREATE INDEX operations_by_create_time ON operations (create_time);
-- Work that runs once per cluster (on SQLite, the one node): when each task last ran.
CREATE TABLE cluster_tasks (
  name TEXT PRIMARY KEY,
  last_run INTEGER NOT NULL
) WITHOUT ROWID;

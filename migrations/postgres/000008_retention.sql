-- Retention: done operations are deleted some time after they end, and request ids forgotten
-- some time after their request (serve --operation-retention, --request-id-retention). An
-- operation ends after it is created, so the old ones are found by create_time, written once.
CREATE INDEX operations_by_create_time ON operations (create_time);
-- Work that runs once per cluster: when each task last ran. The node that finds a task due runs
-- it under an advisory lock and records the time; the others, finding it recent, skip it.
CREATE TABLE cluster_tasks (
  name text PRIMARY KEY,
  last_run bigint NOT NULL
);

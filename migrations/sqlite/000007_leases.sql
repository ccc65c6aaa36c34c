-- Leases: the node that runs an operation holds it until lease_until (ms since the epoch) unless
-- it renews the lease; only the holder commits the outcome. SQLite has one node, so this mostly
-- keeps the schema and the engine the same as PostgreSQL's; rows written before have no owner
-- and are claimed at the next start.
ALTER TABLE operations ADD COLUMN owner TEXT;
ALTER TABLE operations ADD COLUMN lease_until INTEGER;
CREATE INDEX operations_leased ON operations (owner) WHERE done = 0;

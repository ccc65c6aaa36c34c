-- Leases: the node that runs an operation holds it until lease_until (ms since the epoch), renewed
-- by its heartbeat. A node whose lease runs out (it died, or lost the network) loses its
-- operations to whichever node claims them first (FOR UPDATE SKIP LOCKED); the outcome is written
-- only by the holder, so an operation is completed once.
ALTER TABLE operations ADD COLUMN owner text;
ALTER TABLE operations ADD COLUMN lease_until bigint;
-- The heartbeat renews by owner; claims scan the unfinished ones by seq (operations_unfinished).
CREATE INDEX operations_leased ON operations (owner) WHERE NOT done;

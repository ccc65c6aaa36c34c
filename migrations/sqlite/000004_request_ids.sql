-- AIP-155 request ids: a retried call with the same request_id gets the operation of the first one.
-- request_key is the method's scope and the id; request_fingerprint tells a retry from another
-- request that reuses the id.
ALTER TABLE operations ADD COLUMN request_key TEXT;
ALTER TABLE operations ADD COLUMN request_fingerprint TEXT;
CREATE UNIQUE INDEX operations_by_request ON operations (request_key) WHERE request_key IS NOT NULL;

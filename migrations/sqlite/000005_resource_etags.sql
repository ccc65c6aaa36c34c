-- Resource etags as a column, so an etag precondition (AIP-154) is checked in the transaction that
-- commits a change, without decoding the stored message. Rows written before this migration have
-- none (NULL): an etag given for them does not match, and the next write sets one.
ALTER TABLE resources ADD COLUMN etag TEXT;

-- Resource etags as a column, so an etag precondition (AIP-154) is checked in the transaction that
-- commits a change, without decoding the stored message. Rows written before this migration have
-- none (NULL), read as '': an update with etag '' (or none) goes through, and sets one.
ALTER TABLE resources ADD COLUMN etag TEXT;

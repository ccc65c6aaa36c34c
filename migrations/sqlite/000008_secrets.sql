-- The server's own secrets (token signing key, the keys of page tokens, git tokens and OAuth
-- tickets), kept with the data rather than as files beside it, as on PostgreSQL where every node
-- must sign and verify with the same keys. A data directory that still has the files hands them
-- over at its next start (src/auth/server-secrets.ts).
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
) WITHOUT ROWID;

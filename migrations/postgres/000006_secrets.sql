-- The server's own secrets (token signing key, the keys of page tokens, git tokens and OAuth
-- tickets): every node must sign and verify with the same keys, so they live in the database.
-- The first node to start makes each one (INSERT … ON CONFLICT DO NOTHING); the others read it.
CREATE TABLE secrets (
  name text PRIMARY KEY,
  value bytea NOT NULL
);

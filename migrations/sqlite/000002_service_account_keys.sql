-- Service-account keys: only the public half is kept; the private key lives in the key file handed to the user.
-- A deleted key keeps its row (delete_time set) so tokens signed with it are refused with a clear reason.
CREATE TABLE service_account_keys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id TEXT NOT NULL UNIQUE,
  project TEXT NOT NULL,
  email TEXT NOT NULL,
  public_key_pem TEXT NOT NULL,
  create_time INTEGER NOT NULL,
  delete_time INTEGER
);
CREATE INDEX service_account_keys_by_email ON service_account_keys (email, seq);

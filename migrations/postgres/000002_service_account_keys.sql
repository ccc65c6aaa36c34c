-- Service-account keys: only the public half is kept; the private key lives in the key file handed to the user.
-- A deleted key keeps its row (delete_time set) so tokens signed with it are refused with a clear reason.
CREATE TABLE service_account_keys (
  seq bigserial PRIMARY KEY,
  key_id text NOT NULL UNIQUE,
  project text NOT NULL,
  email text NOT NULL,
  public_key_pem text NOT NULL,
  create_time bigint NOT NULL,
  delete_time bigint
);
CREATE INDEX service_account_keys_by_email ON service_account_keys (email, seq);

-- Passkeys: registrations started by RegisterPasskey and the passkeys VerifyPasskeyRegistration
-- made READY. Times are microseconds since the Unix epoch (UTC).

-- A started registration; VerifyPasskeyRegistration deletes it (one caller wins) and, when the
-- credential checks out, writes the passkey under the same id.
CREATE TABLE passkey_registrations (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    rp_id       TEXT NOT NULL,
    state       TEXT NOT NULL,
    code_id     TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX passkey_registrations_user ON passkey_registrations (user_id);

-- READY passkeys. A credential id is registered at most once across the instance.
CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (id),
    name           TEXT NOT NULL,
    rp_id          TEXT NOT NULL,
    credential_id  BLOB NOT NULL UNIQUE,
    public_key     BLOB NOT NULL,
    algorithm      INTEGER NOT NULL,
    sign_count     BIGINT NOT NULL,
    aaguid         BLOB NOT NULL,
    transports     TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- passlink schema, PostgreSQL dialect. Times are microseconds since the Unix epoch (UTC).

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    domain      TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES orgs (id),
    kind                TEXT NOT NULL CHECK (kind IN ('human', 'machine')),
    state               INTEGER NOT NULL,
    username            TEXT NOT NULL,
    sequence            BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    changed_at          BIGINT NOT NULL,
    given_name          TEXT,
    family_name         TEXT,
    nick_name           TEXT,
    display_name        TEXT,
    preferred_language  TEXT,
    gender              INTEGER,
    email               TEXT,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    email_code_hash     BYTEA,
    phone               TEXT,
    phone_verified      INTEGER NOT NULL DEFAULT 0,
    phone_code_hash     BYTEA,
    machine_name        TEXT,
    machine_description TEXT
);

-- Usernames are unique across the instance among users that are not deleted.
CREATE UNIQUE INDEX users_username ON users (username) WHERE state <> 3;

CREATE TABLE user_metadata (
    user_id  TEXT NOT NULL REFERENCES users (id),
    key      TEXT NOT NULL,
    value    BYTEA NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Append-only: one row per change, numbered per user without gaps.
CREATE TABLE events (
    user_id     TEXT NOT NULL,
    sequence    BIGINT NOT NULL,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, sequence)
);

CREATE TABLE role_grants (
    user_id  TEXT NOT NULL REFERENCES users (id),
    role     TEXT NOT NULL,
    -- '' for an instance-wide role.
    org_id   TEXT NOT NULL,
    PRIMARY KEY (user_id, role, org_id)
);

CREATE TABLE personal_access_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE passkey_codes (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    code_hash   BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,
    used_at     BIGINT
);
CREATE INDEX passkey_codes_user ON passkey_codes (user_id);

-- Messages to deliver, written in the same transaction as the change that asks for them.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

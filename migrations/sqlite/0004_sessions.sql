-- Sessions (SESSIONS.md): a session checks a user and a passkey; its token is stored as a
-- hash only and rotates with every change. Times are microseconds since the Unix epoch (UTC).

-- The instance's id, made once at the first start: the owner of every session answer.
CREATE TABLE instance (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT NOT NULL
);

CREATE TABLE sessions (
    id                      TEXT PRIMARY KEY,
    -- Writes so far; the sequence of the last change.
    sequence                BIGINT NOT NULL,
    -- Who created it; '' for a public sign-in.
    creator_id              TEXT NOT NULL,
    -- Created without a bearer token: swept once it expires unchecked.
    public                  INTEGER NOT NULL,
    -- The hash of the current token; NULL once terminated.
    token_hash              BLOB,
    user_id                 TEXT,
    user_org_id             TEXT,
    user_checked_at         BIGINT,
    webauthn_checked_at     BIGINT,
    webauthn_user_verified  INTEGER NOT NULL DEFAULT 0,
    -- The user agent as JSON; its fingerprint id also on its own, for queries.
    user_agent              TEXT NOT NULL,
    fingerprint_id          TEXT,
    expires_at              BIGINT,
    terminated_at           BIGINT,
    created_at              BIGINT NOT NULL,
    changed_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX sessions_token ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_created ON sessions (created_at);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_terminated ON sessions (terminated_at);

CREATE TABLE session_metadata (
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    key         TEXT NOT NULL,
    value       BLOB NOT NULL,
    PRIMARY KEY (session_id, key)
);

-- Pending WebAuthn challenges: single use (a check deletes the one it answers, and the
-- session's others), expiring, dead after the failure limit.
CREATE TABLE session_challenges (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id),
    rp_id       TEXT NOT NULL,
    state       TEXT NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX session_challenges_session ON session_challenges (session_id);
CREATE INDEX session_challenges_expires ON session_challenges (expires_at);

-- Append-only: one row per change of a session, numbered per session without gaps. The
-- audit log: it stays when the session is swept.
CREATE TABLE session_events (
    session_id  TEXT NOT NULL,
    sequence    BIGINT NOT NULL,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, sequence)
);

-- Login names are matched case-insensitively.
CREATE INDEX users_username_lower ON users (lower(username)) WHERE state <> 3;

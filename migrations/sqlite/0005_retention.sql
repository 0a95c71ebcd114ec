-- Retention: the leases of tasks that one process at a time runs (the retention sweep), and
-- the indexes the sweep finds what ran out by. Times are microseconds since the Unix epoch (UTC).

-- A task's lease: the process named by `owner` runs the task until `held_until`; the others
-- skip it. A row is written the first time a task's lease is taken.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    held_until  BIGINT NOT NULL
);

CREATE INDEX passkey_codes_expires ON passkey_codes (expires_at);
CREATE INDEX passkey_registrations_expires ON passkey_registrations (expires_at);
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE state = 'sent';

-- The retention sweep finds the codes to delete by `expires_at < cutoff OR used_at < cutoff`.
-- Without an index on `used_at` neither backend can serve the OR from indexes, and each sweep
-- read the whole of passkey_codes (SQLite holding the write lock meanwhile): a cost that grew
-- with every code ever issued. Partial, because most codes are never used.
CREATE INDEX passkey_codes_used ON passkey_codes (used_at) WHERE used_at IS NOT NULL;

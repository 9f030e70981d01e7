-- Console sign-in from the officers themselves (no separate list of users): a sign-in name and a PBKDF2 hash
-- (shared/passwords.py), set by an admin (PUT /v1/admin/officers/{id}/sign-in). An ended officer cannot sign in.
ALTER TABLE officers ADD COLUMN login text UNIQUE CHECK (login ~ '^[a-z0-9][a-z0-9._-]{1,63}$');
ALTER TABLE officers ADD COLUMN password_hash text;

COMMENT ON COLUMN officers.login IS 'personal: staff sign-in name (the subject of their console tokens)';
COMMENT ON COLUMN officers.password_hash IS 'not personal: a salted PBKDF2 hash, never shown';

-- Personal data (docs/privacy.md): personal columns carry a 'personal:' comment; the retention job empties the
-- texts of a message a set time after its final status (the delivery record stays) and audits each run.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS body_removed_at timestamptz;
CREATE INDEX IF NOT EXISTS notifications_body_kept ON notifications (updated_at)
    WHERE body_removed_at IS NULL AND status IN ('delivered', 'failed', 'undeliverable', 'opted_out');

CREATE TABLE IF NOT EXISTS retention_runs (
    id        bigserial PRIMARY KEY,
    job       text        NOT NULL,
    ran_at    timestamptz NOT NULL DEFAULT now(),
    cutoff    jsonb       NOT NULL,
    counts    jsonb       NOT NULL
);

COMMENT ON COLUMN notifications.recipient IS 'personal: phone or email the message goes to';
COMMENT ON COLUMN notifications.dedup_key IS 'personal: purpose, channel and recipient';
COMMENT ON COLUMN notifications.subject IS 'personal: rendered email subject';
COMMENT ON COLUMN notifications.body IS 'personal: rendered text (names, case details)';
COMMENT ON COLUMN notifications.html IS 'personal: rendered email HTML';
COMMENT ON COLUMN notifications.reason IS 'not personal: provider error code or text';
COMMENT ON COLUMN opt_outs.address IS 'personal: phone or email that opted out';
COMMENT ON COLUMN status_history.source IS 'not personal: what reported the status';

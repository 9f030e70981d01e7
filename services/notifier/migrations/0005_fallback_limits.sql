-- Issue 23: channel fallback and provider limits.
-- New states: `throttled` (held by the per-number hourly limit, sent later), `expired` (its validity passed before it
-- could be sent), `deduplicated` (the same text went to the same number within the hour: not sent again).
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check CHECK (status IN (
    'queued', 'throttled', 'sent', 'delivered', 'failed', 'undeliverable', 'opted_out', 'expired', 'deduplicated'));

-- What a fallback needs (kept only for messages whose purpose has one, see domain/policy.py FALLBACK_ORDER): the
-- person's other addresses and the template parameters (to render the same message for the other channel).
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS alt_email text;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS alt_phone text;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS params jsonb;
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS fallback_of text;
-- Until when the message is worth sending (NULL: always); an SMS carries what is left of it as ValidityPeriod.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS expires_at timestamptz;
-- When an SMS was handed to the provider: the per-number hourly limit and the deduplication of identical texts.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS sent_at timestamptz;
CREATE INDEX IF NOT EXISTS notifications_sms_sent ON notifications (recipient, sent_at)
    WHERE channel = 'sms' AND sent_at IS NOT NULL;

COMMENT ON COLUMN notifications.alt_email IS 'personal: the recipient''s e-mail address, for a fallback by e-mail';
COMMENT ON COLUMN notifications.alt_phone IS 'personal: the recipient''s phone number, for a fallback by call';
COMMENT ON COLUMN notifications.params IS 'personal: template parameters (names, case details), for a fallback';
COMMENT ON COLUMN notifications.fallback_of IS 'not personal: id of the notification this one replaces';
COMMENT ON COLUMN notifications.expires_at IS 'not personal: end of the message''s validity';
COMMENT ON COLUMN notifications.sent_at IS 'not personal: when the SMS was handed to the provider';

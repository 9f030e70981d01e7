-- Which of our numbers an SMS goes out from: the notifier's own, or the duty line's (whose replies Twilio posts to
-- intake), resolved to a number by the dispatcher's settings.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS sender text NOT NULL DEFAULT 'notifier'
    CHECK (sender IN ('notifier', 'duty_line'));

-- Calls (issue 17: the welfare check's last step) go through the same reserve-then-send path as messages.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_channel_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_channel_check CHECK (channel IN ('sms', 'email', 'voice'));

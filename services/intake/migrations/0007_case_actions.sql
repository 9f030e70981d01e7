-- Case actions (POST /v1/reports/{reference}/messages, provisional-reply, forward, status, notes, assignee) and the
-- charter's answer of each case.

-- What answered the charter's clock: a reply, a provisional reply (which defers the reply to the date it announced)
-- or a forward with its notice; when, and whether within the deadline of that moment. NULL: not answered yet.
ALTER TABLE reports ADD COLUMN answered_by text CHECK (answered_by IN ('reply', 'provisional_reply', 'forward'));
ALTER TABLE reports ADD COLUMN answered_at timestamptz;
ALTER TABLE reports ADD COLUMN answered_on_time boolean;

-- Each line of the history says what happened: a status change (NULL in rows written before), or an action.
ALTER TABLE status_history ADD COLUMN action text;

-- Cases opened forwarded or complex answered their clock at receipt (the notice, the provisional reply).
UPDATE reports SET answered_by = 'forward', answered_at = received_at, answered_on_time = true
    WHERE forward_to IS NOT NULL AND answered_by IS NULL;
UPDATE reports SET answered_by = 'provisional_reply', answered_at = received_at, answered_on_time = true
    WHERE complex AND forward_to IS NULL AND answered_by IS NULL;

CREATE INDEX reports_open_unanswered_due ON reports (reply_due_by)
    WHERE status NOT IN ('closed', 'forwarded') AND (answered_by IS NULL OR answered_by = 'provisional_reply');

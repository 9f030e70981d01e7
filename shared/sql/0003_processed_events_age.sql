-- Consumers forget the event ids they handled long ago (shared/kafka/consumer.py, `prune_processed`): a BRIN index
-- on the time they were handled finds the old rows without a btree's cost on every insert (rows come in time order).
CREATE INDEX IF NOT EXISTS processed_events_age ON processed_events USING brin (processed_at);

"""Kafka helpers: the idempotent producer, the consumer loop with dedup and DLQ, the outbox relay, topic admin."""

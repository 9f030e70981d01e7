"""Outbox rows built in Python so that a case and its events go into the database in one statement
(`enqueue` costs a round trip per event; intake's acceptance path is measured in round trips)."""

from shared.kafka.outbox import OutboxRow
from shared.kafka.outbox import prepare as outbox_row

__all__ = ["OutboxRow", "outbox_row"]

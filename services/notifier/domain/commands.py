"""From a send command to what the notifier stores: whose case it is, status events' ids."""

from __future__ import annotations


def is_own_case(template: str, case_reference: str | None) -> bool:
    """A message about the recipient's own case (acknowledgement, message about it) rather than an alert."""
    return case_reference is not None and template.startswith("case_")


def status_event_id(notification_id: str, status: str) -> str:
    """One status event per notification and state (states never repeat): a replay publishes nothing new."""
    return f"{notification_id}:{status}"

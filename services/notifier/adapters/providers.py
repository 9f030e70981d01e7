"""What a provider call can end in, for the dispatcher: taken, refused for good, worth retrying, or unknown."""

from __future__ import annotations

from services.notifier.domain.delivery import Observation


class Rejected(Exception):
    """The provider refused this message for good (invalid number, unsubscribed, mailbox refused)."""

    def __init__(self, observation: Observation, detail: str = "") -> None:
        super().__init__(detail or observation.reason or observation.status.value)
        self.observation = observation


class Transient(Exception):
    """Nothing was sent and another try may work (429, 5xx, connection refused)."""


class Ambiguous(Exception):
    """The call may or may not have sent the message (timeout, connection lost mid-answer): look before resending."""

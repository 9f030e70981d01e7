"""What a provider call can end in, for the dispatcher: taken, refused for good, worth retrying, or unknown."""

from __future__ import annotations

from services.notifier.domain.delivery import Observation


class Rejected(Exception):
    """The provider refused this message for good (invalid number, unsubscribed, mailbox refused)."""

    def __init__(self, observation: Observation, detail: str = "") -> None:
        super().__init__(detail or observation.reason or observation.status.value)
        self.observation = observation


class Transient(Exception):
    """Nothing was sent and another try may work (429, 5xx, connection refused).

    `provider_wide`: the provider or our access to it failed (throttling, an outage, our credentials), not this
    message: such failures never count toward the message's dispatches, so an outage of any length fails nothing.
    """

    def __init__(self, detail: str = "", *, provider_wide: bool = False, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.provider_wide = provider_wide
        self.retry_after = retry_after
        """Seconds the provider asked us to wait (its `Retry-After`), if it said."""


class Ambiguous(Exception):
    """The call may or may not have sent the message (timeout, connection lost mid-answer): look before resending."""

"""The feeds worker's settings: where the public alert feeds are, how often they are read and what qualifies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from shared.settings import ProcessSettings

AlertLevel = Literal["green", "orange", "red"]


class FeedsSettings(ProcessSettings):
    """No HTTP API (nothing to authenticate): the worker's probes and metrics on HEALTH_PORT only."""

    health_port: int = 9105  # the worker's probes
    gdacs_feed_url: str = Field(default="https://www.gdacs.org/xml/rss.xml",
                                description="The GDACS RSS feed (GDACS_FEED_URL).")
    usgs_feed_url: str = Field(
        default="https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/4.5_week.geojson",
        description="The USGS earthquake GeoJSON summary feed (USGS_FEED_URL); the M4.5+ week feed keeps a quake "
                    "longer than FEED_INCIDENT_TTL_HOURS, so that its incident is closed by age, not by rotation.")
    feed_poll_seconds: float = Field(default=60.0, gt=0, description="How often each feed is read.")
    feed_min_gdacs_alert: AlertLevel = Field(default="orange", description="Lowest GDACS alert level reported.")
    feed_min_usgs_magnitude: float = Field(default=6.0, ge=0, le=10, description="Lowest USGS magnitude reported.")
    feed_incident_ttl_hours: float = Field(default=72.0, gt=0, description=(
        "An open incident with no change for this long is closed; an event first seen whose last activity is older "
        "is not reported."))
    feed_fetch_timeout_seconds: float = Field(default=20.0, gt=0, description="A slower answer counts as a failure.")
    feed_max_bytes: int = Field(default=20_000_000, ge=1000, description="A larger document counts as a failure.")
    feed_retry_base_seconds: float = Field(default=10.0, gt=0, description=(
        "After a failed read the feed is read again after this, doubling with each failure in a row..."))
    feed_retry_max_seconds: float = Field(default=600.0, gt=0, description="...up to this.")
    feed_absent_polls: int = Field(default=2, ge=1, description=(
        "Successful reads in a row an event must be missing from before its incident is closed."))

    @field_validator("feed_min_gdacs_alert", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def schema_name(self) -> str:
        return self.database_schema or "feeds"

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"

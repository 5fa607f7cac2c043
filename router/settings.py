"""The router process's settings: its port, subgraph URLs replacing the supergraph's, its
configuration file, and where auth publishes its keys."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section


class RouterSettings(Section):
    router_port: int = Field(default=4000, ge=1, le=65535)
    router_subgraph_urls: dict[str, str] = Field(default_factory=dict)
    router_config: Path | None = None
    jwks_url: str | None = None


class Settings(Protocol):
    """What the router reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def router(self) -> RouterSettings: ...

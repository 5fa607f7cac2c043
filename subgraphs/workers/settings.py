"""Workers' settings: how many jobs of one organization run at once, the size of a stored
result and how long a finished run keeps all its checkpoints."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section


class WorkersSettings(Section):
    # Until billing's entitlements say otherwise, every organization gets this many.
    job_concurrency_per_org: int = Field(default=2, ge=1, le=100)
    job_result_max_bytes: int = Field(default=65536, ge=256)
    # A finished run keeps only its latest checkpoint once this many days have passed.
    workflow_checkpoint_retention_days: int = Field(default=7, ge=0, le=3650)


class Settings(Protocol):
    """What workers reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def workers(self) -> WorkersSettings: ...

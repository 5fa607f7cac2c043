"""Workers' settings: the size of a stored result and how long a finished run keeps all its
checkpoints."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from core.settings import CoreSettings, Section


class WorkersSettings(Section):
    job_result_max_bytes: int = Field(default=65536, ge=256)
    # A finished run keeps only its latest checkpoint once this many days have passed.
    workflow_checkpoint_retention_days: int = Field(default=7, ge=0, le=3650)


class Settings(Protocol):
    """What workers reads of its process's settings."""

    @property
    def core(self) -> CoreSettings: ...
    @property
    def workers(self) -> WorkersSettings: ...

"""Tables of the workers schema: jobs, with their progress, result, error and last log lines."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

MAX_LOG_LINES = 200


class Status(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT})
UNFINISHED = [s.value for s in Status if s not in FINISHED]


class Job(SQLModel, table=True):
    """One unit of work of an organization; ``logs`` keeps the last lines only."""

    __tablename__ = "jobs"
    __table_args__ = {"schema": "workers"}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    kind: str = Field(max_length=100)
    created_by: UUID | None = None
    idempotency_key: str = Field(max_length=200)
    concurrency_key: str | None = Field(default=None, max_length=200)
    status: str = Field(default=Status.QUEUED.value, max_length=16)
    attempt: int = 0
    max_attempts: int = 1
    progress: float = 0.0
    message: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    result: Any = Field(default=None, sa_column=Column(JSONB))
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = None
    # What a waiting workflow asks: {"id": ..., "payload": ...}.
    interrupt: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB))
    logs: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return Status(self.status) in FINISHED

"""Job kinds, registered in code by name: what a job of the kind runs, its retry policy
(Temporal's fields) and its schedule-to-close, start-to-close and heartbeat timeouts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class RetryPolicy:
    initial_interval_seconds: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval_seconds: float = 100.0
    maximum_attempts: int = 3
    non_retryable_codes: frozenset[str] = frozenset()

    def delay(self, attempt: int) -> float:
        """The wait before the attempt after ``attempt`` (1-based)."""
        interval = self.initial_interval_seconds * self.backoff_coefficient ** (attempt - 1)
        return min(interval, self.maximum_interval_seconds)

    def retries(self, code: str, attempt: int) -> bool:
        return code not in self.non_retryable_codes and attempt < self.maximum_attempts


class JobFailed(Exception):
    """Raised by a job for a failure with a code of its own (retried unless non-retryable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Run:
    """What a running job sees of itself; ``report`` is its heartbeat."""

    job_id: UUID
    org_id: UUID
    payload: dict[str, Any]
    attempt: int
    report: Callable[[float, str | None], Awaitable[None]]
    log: Callable[[str, str], Awaitable[None]]
    # Becomes ``waiting`` on interrupts ({"id": ..., "payload": ...} each) until every one
    # is decided.
    wait: Callable[[list[dict[str, Any]]], Awaitable[None]]
    # The worker's ARQ job context: each domain's services, as its startup put them there.
    context: dict[str, Any]
    # A workflow step finished (a heartbeat too).
    step: Callable[[str], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    run: Callable[[Run], Awaitable[Any]]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    start_to_close_seconds: float = 300.0
    heartbeat_seconds: float | None = None
    # A job's own heartbeat timeout, read from its payload (a workflow's, as it declares it).
    heartbeat_for: Callable[[dict[str, Any]], float | None] | None = None
    # From the job's creation to its end, every attempt and wait included.
    schedule_to_close_seconds: float | None = None

    def heartbeat(self, payload: dict[str, Any]) -> float | None:
        """The heartbeat timeout of a job of this kind with ``payload`` (None: none)."""
        return self.heartbeat_for(payload) if self.heartbeat_for else self.heartbeat_seconds

    def deadline(self, created_at: datetime) -> datetime | None:
        """When a job created at ``created_at`` times out, whatever attempt it is in."""
        if self.schedule_to_close_seconds is None:
            return None
        return created_at + timedelta(seconds=self.schedule_to_close_seconds)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make ``kind`` runnable by every process that imports its module."""
    KINDS[kind.name] = kind
    return kind

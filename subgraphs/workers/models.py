"""Tables of the workers schema: jobs, with their progress, result, error and last log lines;
the approvals of waiting runs with their links; schedules; the members of organizations and how
many of their jobs may run at once."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow
from subgraphs.workers.contract import DEFAULT_CONCURRENT_JOBS

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
    # How many of the organization's jobs may run for it to start (None: any number).
    concurrency_limit: int | None = DEFAULT_CONCURRENT_JOBS
    status: str = Field(default=Status.QUEUED.value, max_length=16)
    attempt: int = 0
    max_attempts: int = 1
    progress: float = 0.0
    message: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    result: Any = Field(default=None, sa_column=Column(JSONB))
    error_code: str | None = Field(default=None, max_length=64)
    error_message: str | None = None
    # What a waiting workflow asks and nobody answered yet, in the order it asked: one
    # {"id": ..., "payload": ...} per interrupt its parallel branches raised.
    interrupts: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    logs: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # When a finished run's checkpoints were pruned to its latest; when it loses that one too
    # (its plan's history window), and when it did.
    pruned_at: datetime | None = None
    forget_at: datetime | None = None
    forgotten_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return Status(self.status) in FINISHED

    @property
    def interrupt(self) -> dict[str, Any] | None:
        """The first of ``interrupts``; None when it waits on nothing."""
        return self.interrupts[0] if self.interrupts else None


class ApprovalStatus(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Approval(SQLModel, table=True):
    """What a waiting run asks of its approvers, and the audit of how it was decided: who,
    when, how (``link``, ``graphql`` or ``expiry``) and with what comment."""

    __tablename__ = "approvals"
    __table_args__ = {"schema": "workers"}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    job_id: UUID
    interrupt_id: str = Field(max_length=200)
    workflow: str = Field(max_length=100)
    payload: Any = Field(default=None, sa_column=Column(JSONB))
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    users: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    status: str = Field(default=ApprovalStatus.PENDING.value, max_length=16)
    expires_at: datetime
    escalated: bool = False
    decided_by: UUID | None = None
    decided_at: datetime | None = None
    decided_via: str | None = Field(default=None, max_length=16)
    comment: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def pending(self) -> bool:
        return self.status == ApprovalStatus.PENDING.value

    def allows(self, user_id: UUID | None, roles: frozenset[str]) -> bool:
        """Whether a user of the organization with ``roles`` may decide it."""
        return bool(roles & set(self.roles)) or (user_id is not None and str(user_id) in self.users)


class ApprovalLink(SQLModel, table=True):
    """A single-use link of one approver that decides an approval one way; only the sha256 of
    its token is kept."""

    __tablename__ = "approval_links"
    __table_args__ = {"schema": "workers"}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    approval_id: UUID
    user_id: UUID
    decision: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class OrganizationMembers(SQLModel, table=True):
    """Who belongs to an organization and with which role (user id -> role), as tenancy last
    announced it."""

    __tablename__ = "organization_members"
    __table_args__ = {"schema": "workers"}

    org_id: UUID = Field(primary_key=True)
    roles: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    as_of: datetime


class OrganizationLimit(SQLModel, table=True):
    """How many of an organization's jobs may run at once (None: any number) and how many days
    its finished runs keep their last checkpoint (None: forever), as billing last announced its
    plan."""

    __tablename__ = "organization_limits"
    __table_args__ = {"schema": "workers"}

    org_id: UUID = Field(primary_key=True)
    concurrent_jobs: int | None = None
    history_days: int | None = None
    as_of: datetime


class Schedule(SQLModel, table=True):
    """A workflow an organization runs at the slots of a cron expression in its timezone."""

    __tablename__ = "schedules"
    __table_args__ = {"schema": "workers"}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    workflow: str = Field(max_length=100)
    cron: str = Field(max_length=200)
    timezone: str = Field(max_length=64)
    input: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_by: UUID | None = None
    next_run_at: datetime
    last_run_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

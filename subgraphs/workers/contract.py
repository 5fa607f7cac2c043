"""What other parties may know of workers: how a domain starts a job (an ARQ job through the
outbox, once per idempotency key), how tenancy tells it who the members of an organization are
and their roles and billing how many of its jobs run at once, how a workflow declares who
approves its interrupts, the channel of a job's live status, and the codes."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Limit
from subgraphs.kernel.errors import Code
from subgraphs.kernel.outbox import stage_job

START_JOB = "workers_start"
MEMBERS_JOB = "workers.organization_members"
PLAN_JOB = "workers.organization_plan"
WORKFLOW_KIND = "workflow"
# The plan entitlement that bounds how many jobs of an organization run at once, and how many
# when a plan does not name it.
CONCURRENT_JOBS = "concurrent_jobs"
DEFAULT_CONCURRENT_JOBS = 2
# How many days a finished workflow run keeps its last checkpoint (a plan without it: forever).
JOB_HISTORY_DAYS = "job_history_days"
# What billing tells workers of an organization's plan.
PLAN_FEATURES = (CONCURRENT_JOBS, JOB_HISTORY_DAYS)
# A job's limit is its organization's plan's as billing last announced it when the job starts
# (the free plan's until billing announced one).
ORGANIZATION_LIMIT: Final = "organization"


class WorkersErrorCode(Code):
    WORKFLOW_NOT_FOUND = "WORKFLOW_NOT_FOUND", "No workflow has this name."
    INVALID_WORKFLOW_INPUT = (
        "INVALID_WORKFLOW_INPUT",
        "The workflow's JSON Schema refuses the input; `field` is the path.",
    )
    JOB_FINISHED = "JOB_FINISHED", "The job has ended."
    JOB_NOT_WAITING = "JOB_NOT_WAITING", "The job waits for no decision."
    ALREADY_DECIDED = "ALREADY_DECIDED", "The interrupt was decided already."
    CONCURRENCY_LIMIT_REACHED = (
        "CONCURRENCY_LIMIT_REACHED",
        "`multitask: REJECT` and a job of the same concurrency key is unfinished.",
    )
    NOT_APPROVER = "NOT_APPROVER", "You are not one of the approvers of this decision."
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED", "The approval's time ran out before a decision."
    INVALID_CRON = (
        "INVALID_CRON",
        "Not a five-field cron expression, or one that names no existing date.",
    )
    INVALID_TIMEZONE = "INVALID_TIMEZONE", "Not an IANA timezone name (e.g. Europe/Berlin)."


class Multitask(enum.StrEnum):
    """What a new job does to the unfinished jobs of its concurrency key (LangGraph Platform's
    double-texting strategies)."""

    REJECT = "reject"  # refuse the new one
    ENQUEUE = "enqueue"  # wait behind them
    INTERRUPT = "interrupt"  # cancel them, keep their records
    ROLLBACK = "rollback"  # cancel them and delete their records and checkpoints


@dataclass(frozen=True)
class JobRequest:
    """A job of a registered kind for an organization; handled once per idempotency key.
    ``concurrency_limit``: it starts while fewer of its organization's jobs run (None: no limit);
    by default its organization's plan's ``concurrent_jobs`` when it starts."""

    kind: str
    org_id: UUID
    idempotency_key: str
    payload: dict[str, Any] = field(default_factory=dict)
    created_by: UUID | None = None
    concurrency_key: str | None = None
    multitask: Multitask = Multitask.ENQUEUE
    concurrency_limit: int | Literal["organization"] | None = ORGANIZATION_LIMIT

    def as_job(self) -> dict[str, Any]:
        """Plain values only, so any worker version can read the job."""
        values = asdict(self)
        values["org_id"] = str(self.org_id)
        values["created_by"] = str(self.created_by) if self.created_by else None
        values["multitask"] = self.multitask.value
        return values

    @classmethod
    def from_job(cls, values: dict[str, Any]) -> JobRequest:
        return cls(
            kind=values["kind"],
            org_id=UUID(values["org_id"]),
            idempotency_key=values["idempotency_key"],
            payload=values["payload"],
            created_by=UUID(values["created_by"]) if values["created_by"] else None,
            concurrency_key=values["concurrency_key"],
            multitask=Multitask(values["multitask"]),
            # Sent before jobs had limits: the default then.
            concurrency_limit=values.get("concurrency_limit", DEFAULT_CONCURRENT_JOBS),
        )


async def start_job(session: AsyncSession, request: JobRequest) -> None:
    """Start ``request`` once the transaction of the change that causes it commits."""
    job_id = f"{START_JOB}:{request.org_id}:{request.idempotency_key}"
    await stage_job(session, START_JOB, request.as_job(), job_id=job_id)


async def stage_members(
    session: AsyncSession, org_id: UUID, roles: Mapping[UUID, str], as_of: datetime
) -> None:
    """Tell workers who belongs to an organization and with which role, as of a membership or
    role change, so approvals reach role holders and members only; an older list never wins."""
    members = {str(user): role for user, role in roles.items()}
    job_id = f"{MEMBERS_JOB}:{org_id}:{as_of.isoformat()}"
    await stage_job(session, MEMBERS_JOB, str(org_id), members, as_of.isoformat(), job_id=job_id)


async def stage_plan(
    session: AsyncSession, org_id: UUID, granted: Mapping[str, Limit | None], as_of: datetime
) -> None:
    """Tell workers what an organization's plan grants of each of ``PLAN_FEATURES`` (a number,
    True: unlimited, None: the plan does not name it) as of a plan change; an older word never
    wins."""
    args, job_id = plan_job(org_id, granted, as_of)
    await stage_job(session, PLAN_JOB, *args, job_id=job_id)


def plan_job(
    org_id: UUID, granted: Mapping[str, Limit | None], as_of: datetime
) -> tuple[list[Any], str]:
    """The arguments and the id of the job ``stage_plan`` stages."""
    stamp = as_of.isoformat()
    return [str(org_id), dict(granted), stamp], f"{PLAN_JOB}:{org_id}:{stamp}"


class OnExpiry(enum.StrEnum):
    """What becomes of an approval nobody decided in time."""

    REJECT = "reject"
    ESCALATE = "escalate"  # once: to the escalation approvers, for another period


@dataclass(frozen=True)
class Approvers:
    """Who may decide a run's interrupt: anyone holding one of ``roles`` in the run's
    organization, or one of ``users`` (who must be members). All of them are notified; when
    there is nobody, the run's starter."""

    roles: frozenset[str] = frozenset({"owner", "admin"})
    users: frozenset[UUID] = frozenset()


@dataclass(frozen=True)
class ApprovalPolicy:
    """What a workflow declares of the approvals its ``interrupt()`` calls open. An interrupt's
    payload may name more approving users under ``"approvers"`` (a list of user ids)."""

    approvers: Approvers = field(default_factory=Approvers)
    expires_after_seconds: int = 86400
    on_expiry: OnExpiry = OnExpiry.REJECT
    escalate_to: Approvers = field(default_factory=lambda: Approvers(roles=frozenset({"owner"})))


@dataclass(frozen=True)
class Workflow:
    """A LangGraph graph a domain registers by name and version. ``graph(context)`` builds the
    (uncompiled) ``StateGraph``; its nodes may use the worker's job context (the domain's own
    services), only when they run. Nodes report progress with a custom stream event
    ``{"progress": 0..1, "message": ...}``; with ``heartbeat_seconds``, a run that reports
    nothing and finishes no step for that long is stopped and retried from its last
    checkpoint."""

    name: str
    version: int
    description: str
    input_schema: dict[str, Any]
    graph: Callable[[dict[str, Any]], Any]
    approval: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    heartbeat_seconds: float | None = None


WORKFLOWS: dict[str, Workflow] = {}


def register_workflow(workflow: Workflow) -> Workflow:
    """Make ``workflow`` known to every process that imports its module."""
    WORKFLOWS[workflow.name] = workflow
    return workflow


def status_channel(job_id: UUID) -> str:
    """Where every change of a job's status and progress is published."""
    return f"vetrai:jobs:{job_id}"


APPROVALS_CATEGORY = "approvals"
APPROVAL_TEMPLATE = "approval_requested"
# The approval page of a link's token (GET shows it, POST decides), under the router's
# /assets/workers/ prefix.
APPROVAL_PATH = "/approvals"

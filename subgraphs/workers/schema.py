"""The workers subgraph's GraphQL schema: the Job entity, the jobs and schedules of an
Organization (an entity owned by tenancy), a User's pending approvals, ``job``, ``startWorkflow``,
``resumeJob``, ``cancelJob``, ``createSchedule``, ``deleteSchedule`` and the ``jobStatus``
subscription."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any, cast
from uuid import UUID

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.errors import Rejected
from subgraphs.kernel.pagination import PageInfo
from subgraphs.kernel.schema import (
    CODE,
    ERRORS,
    MUTATION,
    QUERY,
    SUBSCRIPTION,
    USER_ERROR,
    UserError,
    described_enum,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.workers import contract, live, models
from subgraphs.workers.contract import WorkersErrorCode
from subgraphs.workers.models import MAX_LOG_LINES, Status
from subgraphs.workers.service import JobService, job_cursor

Info = strawberry.Info[RequestContext[JobService], None]
StatusType = described_enum(
    Status,
    "JobStatus",
    "Where a job stands.",
    {
        Status.QUEUED: "Waiting for a worker (or for its retry, or behind its concurrency key).",
        Status.RUNNING: "An attempt is running.",
        Status.WAITING: "Paused on one or more `interrupts` until each is decided.",
        Status.SUCCEEDED: "Finished with a `result`.",
        Status.FAILED: "Finished with an `error`, out of attempts or not retryable.",
        Status.CANCELLED: "Stopped by `cancelJob` or by a newer job of its concurrency key.",
        Status.TIMED_OUT: "Its last attempt ran out of time or stopped sending heartbeats.",
    },
)


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class WorkersUserError(UserError):
    code: enum.StrEnum = strawberry.field(
        graphql_type=error_codes(WorkersErrorCode), description=CODE
    )


@strawberry.type(description="Why a job failed.")
class JobError:
    code: str = strawberry.field(description="The job's own code for the failure.")
    message: str = strawberry.field(description="What went wrong, for a person to read.")


@strawberry.type(description="A line a job logged.")
class JobLog:
    at: datetime = strawberry.field(description="When it was logged.")
    level: str = strawberry.field(description="Its level, as the job gave it (`info`, ...).")
    message: str = strawberry.field(description="The line.")


@strawberry.type(description="A saved state of a workflow run, after one of its steps.")
class JobCheckpoint:
    id: strawberry.ID = strawberry.field(description="Its id, as forkJob takes it.")
    step: int | None = strawberry.field(description="The superstep it follows (-1: the input).")
    source: str | None = strawberry.field(description="What wrote it: input, loop, update or fork.")
    created_at: datetime | None = strawberry.field(description="When it was written.")

    @classmethod
    def of(cls, row: dict[str, Any]) -> JobCheckpoint:
        at = row.get("at")
        return cls(
            id=strawberry.ID(row["id"]),
            step=row.get("step"),
            source=row.get("source"),
            created_at=datetime.fromisoformat(at) if at else None,
        )


@strawberry.type(description="What a waiting job asks before it goes on.")
class JobInterrupt:
    id: strawberry.ID = strawberry.field(description="Pass as `interruptId` to `resumeJob`.")
    payload: JSON = strawberry.field(description="What the workflow asks, as it words it.")


def _interrupts(values: list[dict[str, Any]]) -> list[JobInterrupt]:
    return [
        JobInterrupt(id=strawberry.ID(str(v["id"])), payload=cast(JSON, v["payload"]))
        for v in values
    ]


INTERRUPT = "The first of `interrupts`; null unless `WAITING`."
INTERRUPTS = (
    "Every interrupt it waits on and nobody decided yet, in the order it asked: parallel"
    " branches interrupt at once, and each is decided on its own. It goes on once none is"
    " left; empty unless `WAITING`."
)


@strawberry.federation.type(keys=["id"], description="A unit of work of an organization.")
class Job:
    id: strawberry.ID = strawberry.field(description="The job's id (a UUID).")
    kind: str = strawberry.field(description="What it runs (`workflow`).")
    status: Status = strawberry.field(description="Where it stands.")
    attempt: int = strawberry.field(description="The current attempt, from 1 (0 before the first).")
    attempts: int = strawberry.field(description="Attempts made so far.")
    max_attempts: int = strawberry.field(description="Attempts it may make before it fails.")
    progress: float = strawberry.field(description="From 0 to 1, as the current attempt reports.")
    message: str | None = strawberry.field(
        description="What the current attempt last reported; null when nothing."
    )
    result: JSON | None = strawberry.field(description="What it produced; null until it succeeds.")
    error: JobError | None = strawberry.field(
        description="Why it failed or timed out, or why its last attempt did while it waits"
        " for a retry; null otherwise (and once it succeeded)."
    )
    concurrency_key: str | None = strawberry.field(
        description="Jobs of one key run one at a time; null: none."
    )
    created_at: datetime = strawberry.field(description="When it was started.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    started_at: datetime | None = strawberry.field(
        description="When its first attempt began; null before."
    )
    finished_at: datetime | None = strawberry.field(
        description="When it finished; null while unfinished."
    )
    interrupt: JobInterrupt | None = strawberry.field(default=None, description=INTERRUPT)
    interrupts: list[JobInterrupt] = strawberry.field(default_factory=list, description=INTERRUPTS)
    org_id: strawberry.Private[UUID]
    created_by: strawberry.Private[UUID | None]
    lines: strawberry.Private[list[dict[str, Any]]]

    @classmethod
    def of(cls, job: models.Job) -> Job:
        error = (
            JobError(code=job.error_code, message=job.error_message or "")
            if job.error_code
            else None
        )
        return cls(
            id=strawberry.ID(str(job.id)),
            kind=job.kind,
            status=Status(job.status),
            attempt=job.attempt,
            attempts=job.attempt,
            max_attempts=job.max_attempts,
            progress=job.progress,
            message=job.message,
            result=cast(JSON, job.result),
            error=error,
            concurrency_key=job.concurrency_key,
            created_at=job.created_at,
            updated_at=job.updated_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            org_id=job.org_id,
            created_by=job.created_by,
            lines=job.logs,
            interrupt=next(iter(_interrupts(job.interrupts)), None),
            interrupts=_interrupts(job.interrupts),
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Job | None:
        key = uuid_or_none(id)
        found = await _job_loader(info).load(key) if key else None
        return cls.of(found) if found else None

    @strawberry.field(description="The organization it belongs to (an entity of tenancy).")
    def organization(self) -> Organization:
        return Organization(id=strawberry.ID(str(self.org_id)))

    @strawberry.field(description="Who started it (an entity of auth), if a user did.")
    def created_by_user(self) -> User | None:
        return User(id=strawberry.ID(str(self.created_by))) if self.created_by else None

    @strawberry.field(
        description="A workflow run's checkpoints, oldest first (forkJob starts from one)."
    )
    async def checkpoints(self, info: Info) -> list[JobCheckpoint]:
        ctx = info.context
        found = await loader(
            ctx, "checkpoints", lambda ids: ctx.services.checkpoints_of(ctx.caller, ids)
        ).load(UUID(self.id))
        return [JobCheckpoint.of(c) for c in found]

    @strawberry.field(description="What it asked its approvers, and how each was decided.")
    async def approvals(self, info: Info) -> list[Approval]:
        ctx = info.context
        found = await loader(
            ctx, "approvals", lambda ids: ctx.services.approvals_of(ctx.caller, ids)
        ).load(UUID(self.id))
        return [Approval.of(a) for a in found]

    @strawberry.field(description=f"Its last log lines, oldest first (at most {MAX_LOG_LINES}).")
    def logs(
        self,
        last: Annotated[
            int, strawberry.argument(description="How many of the last lines; 0 or less: none.")
        ] = MAX_LOG_LINES,
    ) -> list[JobLog]:
        kept = self.lines[-max(min(last, MAX_LOG_LINES), 0) :] if last > 0 else []
        return [
            JobLog(
                at=datetime.fromisoformat(line["at"]), level=line["level"], message=line["message"]
            )
            for line in kept
        ]


def _job_loader(info: Info) -> Any:
    ctx = info.context
    return loader(ctx, "jobs", lambda ids: ctx.services.jobs_by_id(ctx.caller, ids))


@strawberry.type(description="A job and its cursor.")
class JobEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` for the jobs after it.")
    node: Job = strawberry.field(description="The job.")


@strawberry.type(description="A page of jobs, newest first.")
class JobConnection:
    edges: list[JobEdge] = strawberry.field(description="The jobs of this page.")
    page_info: PageInfo = strawberry.field(description="Whether another page follows.")


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)

    @strawberry.field(
        description="Open approvals of the acting organization this user may decide, oldest"
        " first (the user alone sees them)."
    )
    async def pending_approvals(self, info: Info) -> list[Approval]:
        ctx = info.context
        user_id = uuid_or_none(self.id) or UUID(int=0)
        return [Approval.of(a) for a in await ctx.services.pending_approvals(ctx.caller, user_id)]


@strawberry.enum(name="ApprovalStatus", description="Where an approval stands.")
class ApprovalStatus(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Waiting for a decision.")
    APPROVED = strawberry.enum_value("approved", description="An approver approved.")
    REJECTED = strawberry.enum_value("rejected", description="An approver rejected.")
    EXPIRED = strawberry.enum_value(
        "expired", description="Nobody decided in time; the run went on as rejected."
    )


@strawberry.type(
    description="What a waiting run asks its approvers, and the audit of how it was decided."
)
class Approval:
    id: strawberry.ID = strawberry.field(description="Its id.")
    interrupt_id: strawberry.ID = strawberry.field(description="The interrupt it decides.")
    workflow: str = strawberry.field(description="The workflow of the run.")
    payload: JSON | None = strawberry.field(description="What the run asks, as it asked it.")
    approver_roles: list[str] = strawberry.field(
        description="Members with one of these roles may decide."
    )
    approver_user_ids: list[strawberry.ID] = strawberry.field(
        description="These users may decide too."
    )
    status: ApprovalStatus = strawberry.field(description="Where it stands.")
    expires_at: datetime = strawberry.field(description="When it rejects or escalates.")
    escalated: bool = strawberry.field(description="Whether it was escalated once.")
    decided_at: datetime | None = strawberry.field(description="When it was decided.")
    decided_via: str | None = strawberry.field(
        description="How: link (the emailed page), graphql (resumeJob) or expiry."
    )
    comment: str | None = strawberry.field(description="What the approver wrote.")
    created_at: datetime = strawberry.field(description="When the run asked.")
    job_id: strawberry.Private[UUID]
    decider: strawberry.Private[UUID | None]

    @classmethod
    def of(cls, approval: models.Approval) -> Approval:
        return cls(
            id=strawberry.ID(str(approval.id)),
            interrupt_id=strawberry.ID(approval.interrupt_id),
            workflow=approval.workflow,
            payload=cast(JSON, approval.payload),
            approver_roles=list(approval.roles),
            approver_user_ids=[strawberry.ID(u) for u in approval.users],
            status=ApprovalStatus(approval.status),
            expires_at=approval.expires_at,
            escalated=approval.escalated,
            decided_at=approval.decided_at,
            decided_via=approval.decided_via,
            comment=approval.comment,
            created_at=approval.created_at,
            job_id=approval.job_id,
            decider=approval.decided_by,
        )

    @strawberry.field(description="The waiting (or resumed) run.")
    async def job(self, info: Info) -> Job | None:
        found = await _job_loader(info).load(self.job_id)
        return Job.of(found) if found else None

    @strawberry.field(description="Who decided (an entity of auth); none for an expiry.")
    def decided_by(self) -> User | None:
        return User(id=strawberry.ID(str(self.decider))) if self.decider else None


@strawberry.type(description="A workflow an organization runs at the slots of a cron expression.")
class Schedule:
    id: strawberry.ID = strawberry.field(description="Its id.")
    workflow: str = strawberry.field(description="The workflow it starts.")
    cron: str = strawberry.field(description="Five fields: minute hour day month weekday.")
    timezone: str = strawberry.field(description="The IANA timezone its slots are read in.")
    input: JSON = strawberry.field(description="The input of each run, as given.")
    next_run_at: datetime = strawberry.field(description="The next slot (UTC).")
    last_run_at: datetime | None = strawberry.field(description="The last slot started.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @classmethod
    def of(cls, schedule: models.Schedule) -> Schedule:
        return cls(
            id=strawberry.ID(str(schedule.id)),
            workflow=schedule.workflow,
            cron=schedule.cron,
            timezone=schedule.timezone,
            input=cast(JSON, schedule.input),
            next_run_at=schedule.next_run_at,
            last_run_at=schedule.last_run_at,
            created_at=schedule.created_at,
        )


@strawberry.federation.type(keys=["id"])
class Organization:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Organization:
        return cls(id=id)

    @strawberry.field(description="The organization's jobs, newest first (its members only).")
    async def jobs(
        self,
        info: Info,
        status: Annotated[
            Status | None, strawberry.argument(description="Only jobs in this status.")
        ] = None,
        kind: Annotated[
            str | None, strawberry.argument(description="Only jobs of this kind.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `cursor` to continue after; null: from the start."
            ),
        ] = None,
    ) -> JobConnection:
        org_id = uuid_or_none(self.id) or UUID(int=0)
        ctx = info.context
        try:
            page = await ctx.services.jobs(
                ctx.caller, org_id, status=status, kind=kind, first=first, after=after
            )
        except Rejected as exc:
            problem = exc.problems[0]
            raise GraphQLError(
                f"{problem.field}: {problem.message}", extensions={"code": "BAD_USER_INPUT"}
            ) from None
        edges = [JobEdge(cursor=job_cursor(j), node=Job.of(j)) for j in page.items]
        return JobConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(description="The organization's schedules, oldest first (its members only).")
    async def schedules(self, info: Info) -> list[Schedule]:
        org_id = uuid_or_none(self.id) or UUID(int=0)
        ctx = info.context
        return [Schedule.of(s) for s in await ctx.services.schedules.list(ctx.caller, org_id)]


@strawberry.type(description="The result of a mutation that starts or changes a job.")
class JobPayload:
    job: Job | None = strawberry.field(
        default=None, description="The job; null when `errors` is not empty."
    )
    errors: list[WorkersUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="What createSchedule and deleteSchedule return.")
class SchedulePayload:
    schedule: Schedule | None = strawberry.field(
        default=None, description="The schedule, unless there are errors."
    )
    errors: list[WorkersUserError] = strawberry.field(
        default_factory=list, description="Why nothing changed."
    )


@strawberry.type(description="A LangGraph workflow a domain registered.")
class Workflow:
    name: str = strawberry.field(description="Its name, as `startWorkflow` takes it.")
    version: int = strawberry.field(description="Its version; a job runs the version it began.")
    description: str = strawberry.field(description="What it does.")
    input_schema: JSON = strawberry.field(description="The JSON Schema of its input.")
    drawing: str = strawberry.field(description="Its graph as a Mermaid diagram.")

    @classmethod
    def of(cls, workflow: contract.Workflow) -> Workflow:
        return cls(
            name=workflow.name,
            version=workflow.version,
            description=workflow.description,
            input_schema=cast(JSON, workflow.input_schema),
            drawing=workflow.graph({}).compile().get_graph().draw_mermaid(),
        )


MultitaskType = described_enum(
    contract.Multitask,
    "Multitask",
    "What a new run does to the unfinished runs of its concurrency key.",
    {
        contract.Multitask.REJECT: "Refuse the new run (`CONCURRENCY_LIMIT_REACHED`).",
        contract.Multitask.ENQUEUE: "Run it after them.",
        contract.Multitask.INTERRUPT: "Cancel them (they stay listed), then run it.",
        contract.Multitask.ROLLBACK: "Cancel and delete them with their checkpoints, then run it.",
    },
)


class Decision(enum.Enum):
    APPROVE = "approve"
    REJECT = "reject"


DecisionType = described_enum(
    Decision,
    "Decision",
    "An answer to a job's interrupt.",
    {
        Decision.APPROVE: "Go on as proposed.",
        Decision.REJECT: "Do not; the workflow decides what next.",
    },
)


@strawberry.input(description="A run of a workflow.")
class StartWorkflowInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    workflow: str = strawberry.field(description="The workflow's name (see `workflows`).")
    input: JSON = strawberry.field(description="Its input, valid by its `inputSchema`.")
    idempotency_key: str = strawberry.field(
        description="Up to 200 characters; starting again with it returns the same job."
    )
    concurrency_key: str | None = strawberry.field(
        default=None,
        description="Up to 200 characters; jobs of one key run one at a time. Null: none.",
    )
    multitask: contract.Multitask = strawberry.field(
        default=contract.Multitask.ENQUEUE,
        description="What to do with unfinished jobs of the concurrency key.",
    )


@strawberry.input(description="A workflow to run at the slots of a cron expression.")
class CreateScheduleInput:
    organization_id: strawberry.ID = strawberry.field(description="Your organization.")
    workflow: str = strawberry.field(description="A registered workflow's name.")
    cron: str = strawberry.field(description="Five fields: minute hour day month weekday.")
    timezone: str = strawberry.field(
        description="An IANA timezone (Europe/Berlin); slots follow its daylight saving time."
    )
    input: JSON | None = strawberry.field(
        default=None,
        description="Each run's input; a workflow whose input schema names since or"
        " scheduledFor gets the previous slot and the run's own there.",
    )


@strawberry.input(description="A run to start again from one of its checkpoints.")
class ForkJobInput:
    job_id: strawberry.ID = strawberry.field(description="The workflow run to fork.")
    checkpoint_id: strawberry.ID = strawberry.field(description="One of its checkpoints.")
    state_update: JSON | None = strawberry.field(
        default=None, description="State keys to change before the new run goes on."
    )
    idempotency_key: str = strawberry.field(description="The same key gives the same new run.")


@strawberry.input(description="A decision on what a waiting job asked.")
class ResumeJobInput:
    job_id: strawberry.ID = strawberry.field(description="The job's id.")
    interrupt_id: strawberry.ID = strawberry.field(
        description="The `id` of one of its `interrupts`."
    )
    decision: Decision = strawberry.field(description="The answer.")
    comment: str | None = strawberry.field(
        default=None, description="A note the workflow receives with it."
    )


@strawberry.type(description=QUERY)
class Query:
    @strawberry.federation.field(
        requires_scopes=[["workflows:read"]], description="Every registered workflow."
    )
    def workflows(self) -> list[Workflow]:
        return [Workflow.of(w) for w in sorted(contract.WORKFLOWS.values(), key=lambda w: w.name)]

    @strawberry.federation.field(
        requires_scopes=[["workflows:read"]], description="A job of your organization."
    )
    async def job(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> Job | None:
        key = uuid_or_none(id)
        found = await _job_loader(info).load(key) if key else None
        return Job.of(found) if found else None


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=[["workflows:write"]],
        description="Run a workflow; once per idempotencyKey. Errors: `INVALID_INPUT`,"
        " `FORBIDDEN`, `WORKFLOW_NOT_FOUND`, `INVALID_WORKFLOW_INPUT`,"
        " `CONCURRENCY_LIMIT_REACHED`.",
    )
    @rejections_as(JobPayload)
    async def start_workflow(
        self,
        info: Info,
        input: Annotated[StartWorkflowInput, strawberry.argument(description="The run.")],
    ) -> JobPayload:
        ctx = info.context
        job = await ctx.services.start_workflow(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.workflow,
            input.input,
            idempotency_key=input.idempotency_key,
            concurrency_key=input.concurrency_key,
            multitask=input.multitask,
        )
        return JobPayload(job=Job.of(job))

    @strawberry.federation.mutation(
        requires_scopes=[["workflows:read"]],
        description="Decide one interrupt of a waiting run, as one of its approvers; the run"
        " goes on once none of its `interrupts` is left (until then it stays `WAITING`)."
        " Errors: `NOT_FOUND`, `NOT_APPROVER`, `ALREADY_DECIDED`, `APPROVAL_EXPIRED`,"
        " `JOB_FINISHED`, `JOB_NOT_WAITING`.",
    )
    @rejections_as(JobPayload)
    async def resume_job(
        self,
        info: Info,
        input: Annotated[ResumeJobInput, strawberry.argument(description="The decision.")],
    ) -> JobPayload:
        ctx = info.context
        job = await ctx.services.resume(
            ctx.caller,
            identifier(input.job_id, "jobId"),
            str(input.interrupt_id),
            input.decision.value,
            input.comment,
        )
        return JobPayload(job=Job.of(job))

    @strawberry.federation.mutation(
        requires_scopes=[["workflows:write"]],
        description="Start a new run from a checkpoint of a run, with its state edited; both"
        " runs log it. Errors: `NOT_FOUND`, `FORBIDDEN`, `INVALID_INPUT`.",
    )
    @rejections_as(JobPayload)
    async def fork_job(
        self,
        info: Info,
        input: Annotated[ForkJobInput, strawberry.argument(description="What to fork, and how.")],
    ) -> JobPayload:
        ctx = info.context
        job = await ctx.services.fork(
            ctx.caller,
            identifier(input.job_id, "jobId"),
            str(input.checkpoint_id),
            input.state_update,
            input.idempotency_key,
        )
        return JobPayload(job=Job.of(job))

    @strawberry.federation.mutation(
        requires_scopes=[["workflows:write"]],
        description="Run a workflow at every slot of a cron expression in a timezone."
        " Errors: `FORBIDDEN`, `WORKFLOW_NOT_FOUND`, `INVALID_WORKFLOW_INPUT`, `INVALID_CRON`,"
        " `INVALID_TIMEZONE`.",
    )
    @rejections_as(SchedulePayload)
    async def create_schedule(
        self,
        info: Info,
        input: Annotated[
            CreateScheduleInput, strawberry.argument(description="The workflow and its slots.")
        ],
    ) -> SchedulePayload:
        ctx = info.context
        schedule = await ctx.services.schedules.create(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.workflow,
            input.cron,
            input.timezone,
            input.input,
        )
        return SchedulePayload(schedule=Schedule.of(schedule))

    @strawberry.federation.mutation(
        requires_scopes=[["workflows:write"]],
        description="Stop a schedule; runs it started go on. Errors: `NOT_FOUND`, `FORBIDDEN`.",
    )
    @rejections_as(SchedulePayload)
    async def delete_schedule(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> SchedulePayload:
        ctx = info.context
        schedule = await ctx.services.schedules.delete(ctx.caller, identifier(id, "id"))
        return SchedulePayload(schedule=Schedule.of(schedule))

    @strawberry.federation.mutation(
        requires_scopes=[["workflows:write"]],
        description="Stop a job: a queued one never starts, a running one stops. Errors:"
        " `NOT_FOUND`, `FORBIDDEN`, `JOB_FINISHED`.",
    )
    @rejections_as(JobPayload)
    async def cancel_job(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's id.")],
    ) -> JobPayload:
        job = await info.context.services.cancel(info.context.caller, identifier(id, "id"))
        return JobPayload(job=Job.of(job))


@strawberry.type(description="A job's state as it changes.")
class JobStatusEvent:
    id: strawberry.ID = strawberry.field(description="The job's id.")
    status: Status = strawberry.field(description="Where it stands now.")
    progress: float = strawberry.field(description="From 0 to 1, as the attempt reports.")
    message: str | None = strawberry.field(description="What the attempt last reported.")
    attempt: int = strawberry.field(description="The current attempt, from 1 (0 before).")
    interrupt: JobInterrupt | None = strawberry.field(description=INTERRUPT)
    interrupts: list[JobInterrupt] = strawberry.field(description=INTERRUPTS)
    updated_at: datetime = strawberry.field(description="When it changed.")
    step: str | None = strawberry.field(
        description="The workflow step (LangGraph node) that just finished, on the event of"
        " its update; none on other events."
    )

    @classmethod
    def of(cls, event: live.StatusChanged) -> JobStatusEvent:
        return cls(
            id=strawberry.ID(str(event.id)),
            status=Status(event.status),
            progress=event.progress,
            message=event.message,
            attempt=event.attempt,
            interrupt=next(iter(_interrupts(event.interrupts)), None),
            interrupts=_interrupts(event.interrupts),
            updated_at=event.updated_at,
            step=event.step,
        )


@strawberry.type(description=SUBSCRIPTION)
class Subscription:
    @strawberry.federation.field(
        is_subscription=True,
        requires_scopes=[["workflows:read"]],
        description="A job of your organization: now, then every change.",
    )
    async def job_status(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's id.")],
    ) -> AsyncGenerator[JobStatusEvent, None]:
        ctx = info.context
        key = uuid_or_none(id)
        if key is None or await ctx.services.job(ctx.caller, key) is None:
            raise GraphQLError("Unknown job.", extensions={"code": "NOT_FOUND"})
        async for event in live.changes(
            ctx.services.redis, key, lambda: ctx.services.job(ctx.caller, key)
        ):
            yield JobStatusEvent.of(event)


schema = federated_schema(
    Query, Mutation, types=[Job, Organization, User, Approval, Schedule], subscription=Subscription
)

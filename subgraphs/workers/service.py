"""Business rules of workers: jobs are created once per idempotency key, wait their turn in
their organization's fair queue, report progress, finish, are retried or cancelled; every change
is stored in the job's organization and published on the job's channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import orjson
from arq.constants import abort_jobs_ss
from arq.utils import timestamp_ms
from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import ANONYMOUS, Caller, Limit, limit_of
from subgraphs.billing.contract import free_plan_grants
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.errors import ErrorCode, Rejected, existing, require, signed_in
from subgraphs.kernel.pagination import Page, decode_cursor, encode_cursor, page_size, trimmed
from subgraphs.kernel.usage import record_usage
from subgraphs.workers import approvals, live, repository
from subgraphs.workers.contract import (
    CONCURRENT_JOBS,
    DEFAULT_CONCURRENT_JOBS,
    JOB_HISTORY_DAYS,
    ORGANIZATION_LIMIT,
    PLAN_FEATURES,
    WORKFLOWS,
    JobRequest,
    Multitask,
    OnExpiry,
    WorkersErrorCode,
)
from subgraphs.workers.fair import FairQueue
from subgraphs.workers.kinds import KINDS
from subgraphs.workers.models import (
    MAX_LOG_LINES,
    Approval,
    ApprovalLink,
    ApprovalStatus,
    Job,
    OrganizationLimit,
    Status,
)
from subgraphs.workers.retention import forget, keep_latest
from subgraphs.workers.runs import (
    WORKFLOW,
    check_input,
    connect,
    require_writer,
    thread_id,
    workflow_request,
)
from subgraphs.workers.schedules import ScheduleService
from subgraphs.workers.settings import Settings

MAX_COMMENT = 2000
SCHEDULE_TO_CLOSE = "SCHEDULE_TO_CLOSE_TIMEOUT"
MAX_PENDING = 200


def job_cursor(job: Job) -> str:
    return encode_cursor(job.created_at.isoformat(), str(job.id))


def _position(cursor: str) -> tuple[datetime, UUID]:
    created, job_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(created), UUID(job_id)
    except ValueError:
        raise Rejected.one(ErrorCode.INVALID_INPUT, "Not a valid cursor.", "after") from None


def plan_limit(granted: Limit | None) -> int | None:
    """How many of an organization's jobs may run at once under a plan granting ``granted`` of
    ``concurrent_jobs`` (at least one, or no job would ever start; None: any number)."""
    limit = limit_of(granted, DEFAULT_CONCURRENT_JOBS)
    return None if limit is None else max(limit, 1)


def callers_limit(caller: Caller) -> int | Literal["organization"] | None:
    """The limit of a job the caller starts: what the plan signed into the caller's context
    grants, else (a context without one) the organization's as billing announced it."""
    granted = caller.limits.get(CONCURRENT_JOBS)
    return ORGANIZATION_LIMIT if granted is None else plan_limit(granted)


def _plan_of(
    org_id: UUID, granted: Mapping[str, Limit | None], as_of: datetime
) -> OrganizationLimit:
    """What workers keeps of a plan granting ``granted``."""
    return OrganizationLimit(
        org_id=org_id,
        concurrent_jobs=plan_limit(granted.get(CONCURRENT_JOBS)),
        history_days=limit_of(granted.get(JOB_HISTORY_DAYS)),
        as_of=as_of,
    )


def _in(org_id: UUID) -> Caller:
    return Caller(org_id=org_id)


def _line(level: str, message: str) -> dict[str, Any]:
    return {"at": utcnow().isoformat(), "level": level, "message": message[:2000]}


def _comment(comment: str | None) -> str | None:
    require(
        comment is None or len(comment) <= MAX_COMMENT,
        ErrorCode.INVALID_INPUT,
        f"At most {MAX_COMMENT} characters.",
        "comment",
    )
    return comment.strip() or None if comment else None


def _decidable(job: Job, approval: Approval | None, interrupt_id: str) -> Approval:
    """A decision of ``interrupt_id`` is possible now, or why not."""
    if approval is not None:
        require(
            approval.status != ApprovalStatus.EXPIRED.value and approval.expires_at > utcnow(),
            WorkersErrorCode.APPROVAL_EXPIRED,
            "The time to decide is over.",
        )
        require(
            approval.pending,
            WorkersErrorCode.ALREADY_DECIDED,
            "This interrupt was decided already.",
            "interruptId",
        )
    require(not job.finished, WorkersErrorCode.JOB_FINISHED, "The job is finished.")
    require(
        job.status == Status.WAITING.value and bool(job.interrupts),
        WorkersErrorCode.JOB_NOT_WAITING,
        "The job is not waiting for a decision.",
    )
    if approval is None or interrupt_id not in {str(i["id"]) for i in job.interrupts}:
        raise Rejected.one(
            ErrorCode.NOT_FOUND, "The job is not waiting on this interrupt.", "interruptId"
        )
    return approval


def _invalid_link() -> Rejected:
    return Rejected.one(ErrorCode.INVALID_TOKEN, "This link is not valid.", "token")


class JobService:
    def __init__(self, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.queue = FairQueue(redis, settings.core.queue_name)
        self.schedules = ScheduleService(db)

    # starting ----------------------------------------------------------------------------------

    async def start(self, request: JobRequest) -> Job:
        """The job of ``request``'s idempotency key, created and queued the first time."""
        require(request.kind in KINDS, ErrorCode.INVALID_INPUT, "Unknown job kind.", "kind")
        key = validation.text(request.idempotency_key, "idempotencyKey", max_length=200)
        ckey = request.concurrency_key and validation.text(
            request.concurrency_key, "concurrencyKey", max_length=200
        )
        caller = Caller(org_id=request.org_id, user_id=request.created_by)
        async with self.db.transaction(caller) as session:
            found = await repository.job_by_key(session, request.org_id, key)
            if found is not None:
                return found
            stopped = await self._make_room(session, request, ckey)
            limit = request.concurrency_limit
            if limit == ORGANIZATION_LIMIT:
                limit = await self._organization_limit(session, request.org_id)
            job = Job(
                org_id=request.org_id,
                kind=request.kind,
                created_by=request.created_by,
                idempotency_key=key,
                concurrency_key=ckey,
                max_attempts=KINDS[request.kind].retry.maximum_attempts,
                payload=request.payload,
                concurrency_limit=limit,
            )
            if not await repository.insert_job(session, job):  # a concurrent start, same key, won
                return existing(await repository.job_by_key(session, request.org_id, key), "job")
        for previous, was in stopped:
            await self._stopped(previous, was)
        if request.multitask is Multitask.ROLLBACK:  # a running one's, once it stopped
            idle = [p.id for p, was in stopped if was is not Status.RUNNING]
            await self.forget_runs(request.org_id, idle)
        await self.queue.push(job.org_id, job.id, job.concurrency_key, job.concurrency_limit)
        await live.publish(self.redis, job)
        return job

    @staticmethod
    async def _plan(session: AsyncSession, org_id: UUID) -> OrganizationLimit:
        """The organization's plan now, as billing last announced it (the free plan until it
        announced one)."""
        found = await repository.organization_plan(session, org_id)
        if found is None:
            granted = {f: free_plan_grants(f) for f in PLAN_FEATURES}
            return _plan_of(org_id, granted, utcnow())
        return found

    async def _organization_limit(self, session: AsyncSession, org_id: UUID) -> int | None:
        return (await self._plan(session, org_id)).concurrent_jobs

    async def _make_room(
        self, session: AsyncSession, request: JobRequest, key: str | None
    ) -> list[tuple[Job, Status]]:
        """Apply the multitask strategy to the key's unfinished jobs; those it cancelled."""
        if key is None or request.multitask is Multitask.ENQUEUE:
            return []
        unfinished = await repository.locked_unfinished(session, request.org_id, key)
        if request.multitask is Multitask.REJECT:
            require(
                not unfinished,
                WorkersErrorCode.CONCURRENCY_LIMIT_REACHED,
                "A job of this concurrency key is not finished yet.",
                "concurrencyKey",
            )
            return []
        previous = [(job, Status(job.status)) for job in unfinished]
        for job, _ in previous:
            self._finish(job, Status.CANCELLED)
        if request.multitask is Multitask.ROLLBACK:
            await repository.delete_jobs(session, [j.id for j in unfinished])
        return previous

    async def start_workflow(
        self,
        caller: Caller,
        org_id: UUID,
        name: str,
        given: Any,
        *,
        idempotency_key: str,
        concurrency_key: str | None,
        multitask: Multitask,
    ) -> Job:
        """A run of the workflow ``name`` with input ``given``, checked by its JSON Schema."""
        require_writer(caller)
        require(caller.org_id == org_id, ErrorCode.FORBIDDEN, "Not your organization.")
        workflow = WORKFLOWS.get(name)
        if workflow is None:
            raise Rejected.one(WorkersErrorCode.WORKFLOW_NOT_FOUND, "Unknown workflow.", "workflow")
        check_input(workflow, given)
        request = workflow_request(
            org_id,
            workflow,
            given,
            key=idempotency_key,
            created_by=caller.user_id,
            concurrency_key=concurrency_key,
            multitask=multitask,
            concurrency_limit=callers_limit(caller),
        )
        return await self.start(request)

    async def fork(
        self,
        caller: Caller,
        job_id: UUID,
        checkpoint_id: str,
        update: Any,
        idempotency_key: str,
    ) -> Job:
        """A new run from a checkpoint of one of the organization's runs, its state updated
        by ``update``; both runs log who forked what."""
        require_writer(caller)
        require(
            update is None or isinstance(update, dict),
            ErrorCode.INVALID_INPUT,
            "An object of state keys.",
            "stateUpdate",
        )
        source = await self.job(caller, job_id)
        if source is None or source.kind != WORKFLOW.name or caller.org_id is None:
            raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown run.", "jobId")
        [known] = await self.checkpoints_of(caller, [job_id])
        if checkpoint_id not in {c["id"] for c in known}:
            raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown checkpoint.", "checkpointId")
        fork = {"job": str(job_id), "checkpoint": checkpoint_id, "update": update}
        request = JobRequest(
            kind=WORKFLOW.name,
            org_id=caller.org_id,
            idempotency_key=validation.text(idempotency_key, "idempotencyKey", max_length=200),
            payload={**source.payload, "fork": fork, "resume": None},
            created_by=caller.user_id,
            concurrency_limit=callers_limit(caller),
        )
        job = await self.start(request)
        note = f"forked from {job_id} at {checkpoint_id} by {caller.user_id}"
        await self.log(caller.org_id, job.id, "info", note)
        await self.log(caller.org_id, job_id, "info", f"{note} as {job.id}")
        return job

    async def checkpoints_of(
        self, caller: Caller, job_ids: Sequence[UUID]
    ) -> list[list[dict[str, Any]]]:
        """Each run's checkpoints, oldest first: id, step and when."""
        if caller.org_id is None:
            return [[] for _ in job_ids]
        threads = {thread_id(caller.org_id, j): j for j in job_ids}
        url = self.settings.core.login_url("workers")
        found: dict[UUID, list[dict[str, Any]]] = {}
        async with await connect(url, caller.org_id) as connection:
            for row in await repository.checkpoints(connection, list(threads)):
                found.setdefault(threads[row.pop("thread_id")], []).append(row)
        return [found.get(j, []) for j in job_ids]

    async def resume(
        self, caller: Caller, job_id: UUID, interrupt_id: str, decision: str, comment: str | None
    ) -> Job:
        """Decide a waiting run's interrupt as one of its approvers (a signed-in user, never an
        API key); it goes on."""
        signed_in(caller)
        comment = _comment(comment)
        async with self.db.transaction(caller) as session:
            job = await repository.locked_job(session, caller.org_id or UUID(int=0), job_id)
            if job is None:
                raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown job.", "jobId")
            approval = _decidable(
                job, await approvals.locked(session, job.id, interrupt_id), interrupt_id
            )
            # The signed context names the caller's role in the job's organization now.
            require(
                bool(caller.roles) and approval.allows(caller.user_id, caller.roles),
                WorkersErrorCode.NOT_APPROVER,
                "You are not one of its approvers.",
            )
            self._decide(job, approval, caller.user_id, decision, "graphql", comment)
            session.add_all([job, approval])
        await self._decided(job)
        return job

    async def link(self, token: str) -> tuple[Approval, ApprovalLink]:
        """The approval a link's token decides, and the link; read only (a GET decides nothing)."""
        async with self.db.transaction(ANONYMOUS) as session:
            link = await approvals.link_of(session, token)
            approval = await session.get(Approval, link.approval_id) if link else None
            if link is None or approval is None:
                raise _invalid_link()
            return approval, link

    async def decide_by_link(self, token: str, comment: str | None) -> tuple[Approval, Job]:
        """Decide as the link's approver, the way the link says; once. The approval and its
        job, which goes on once none of its interrupts waits any more."""
        comment = _comment(comment)
        async with self.db.transaction(ANONYMOUS) as session:
            link = await approvals.link_of(session, token)
            job_id = await repository.job_of_approval(session, link.approval_id) if link else None
            if link is None or job_id is None:
                raise _invalid_link()
            # The job first, as resumeJob locks them: the decisions of one run take turns.
            job = await repository.locked_job(session, link.org_id, job_id)
            approval = await repository.locked_approval(session, link.approval_id)
            if job is None or approval is None:
                raise _invalid_link()
            _decidable(job, approval, approval.interrupt_id)
            members = await repository.members_of(session, link.org_id)
            require(
                approvals.may_decide(approval, link.user_id, members),
                WorkersErrorCode.NOT_APPROVER,
                "You are no longer a member of the organization or one of its approvers.",
            )
            self._decide(job, approval, link.user_id, link.decision, "link", comment)
            session.add_all([job, approval])
        await self._decided(job)
        return approval, job

    def _decide(
        self,
        job: Job,
        approval: Approval,
        by: UUID | None,
        decision: str,
        via: str,
        comment: str | None,
    ) -> None:
        """Record the decision of one of the job's interrupts; the job is queued again once it
        waits on no other, to be resumed with every answer by interrupt id."""
        status = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
        approvals.record(approval, status, by, via, comment)
        answer = {"decision": decision, "comment": comment, "by": by and str(by)}
        answers = {**(job.payload.get("resume") or {}), approval.interrupt_id: answer}
        job.payload = {**job.payload, "resume": answers}
        job.interrupts = [i for i in job.interrupts if str(i["id"]) != approval.interrupt_id]
        if not job.interrupts:
            job.status = Status.QUEUED.value
        job.updated_at = utcnow()
        line = f"{status.value} by {by or 'nobody'} via {via}"
        if job.interrupts:
            line += f"; {len(job.interrupts)} more to decide"
        job.logs = [*job.logs, _line("info", line)][-MAX_LOG_LINES:]

    async def _decided(self, job: Job) -> None:
        """After a decision committed: queued again if it was the last, subscribers told."""
        if job.status == Status.QUEUED.value:
            await self.queue.push(job.org_id, job.id, job.concurrency_key, job.concurrency_limit)
        await live.publish(self.redis, job)

    async def expire_due(self, now: datetime, limit: int = 100) -> int:
        """Reject, or escalate once, every pending approval past its expiry; how many."""
        async with self.db.transaction(ANONYMOUS) as session:
            found = await approvals.due(session, now, limit)
        for org_id, approval_id in found:
            await self._expire(org_id, approval_id, now)
        return len(found)

    async def _expire(self, org_id: UUID, approval_id: UUID, now: datetime) -> None:
        async with self.db.transaction(_in(org_id)) as session:
            job_id = await repository.job_of_approval(session, approval_id)
            job = await repository.locked_job(session, org_id, job_id) if job_id else None
            approval = await repository.locked_approval(session, approval_id)
            if approval is None or not approval.pending or approval.expires_at > now:
                return
            if job is None or job.status != Status.WAITING.value:
                approvals.record(approval, ApprovalStatus.EXPIRED, None, "expiry", None)
                session.add(approval)
                return
            policy = approvals.policy_of(job)
            if policy.on_expiry is OnExpiry.ESCALATE and not approval.escalated:
                await approvals.escalate(session, self.settings.core.public_url, job, approval, now)
                return
            self._decide(job, approval, None, "reject", "expiry", "expired")
            approval.status = ApprovalStatus.EXPIRED.value
            session.add_all([job, approval])
        await self._decided(job)

    async def prune_finished(self, now: datetime, limit: int = 100) -> int:
        """Keep only the latest checkpoint of runs finished longer than the retention ago, in
        every organization; how many runs were pruned."""
        days = self.settings.workers.workflow_checkpoint_retention_days
        async with self.db.transaction(ANONYMOUS) as session:
            before = now - timedelta(days=days)
            due = await repository.runs_to_prune(session, WORKFLOW.name, before, limit)
        url = self.settings.core.login_url("workers")
        for org_id, job_id in due:
            async with await connect(url, org_id) as connection:
                await keep_latest(connection, thread_id(org_id, job_id))
            async with self.db.transaction(_in(org_id)) as session:
                job = await repository.locked_job(session, org_id, job_id)
                if job is not None and job.finished_at is not None:
                    history = (await self._plan(session, org_id)).history_days
                    job.pruned_at = now
                    job.forget_at = (
                        None if history is None else job.finished_at + timedelta(days=history)
                    )
                    session.add(job)
        return len(due)

    async def forget_expired(self, now: datetime, limit: int = 100) -> int:
        """Delete the last checkpoint of runs whose plan's history window is over, in every
        organization; how many runs lost it."""
        async with self.db.transaction(ANONYMOUS) as session:
            due = await repository.runs_to_forget(session, now, limit)
        for org_id, job_id in due:
            await self.forget_runs(org_id, [job_id])
            async with self.db.transaction(_in(org_id)) as session:
                job = await repository.locked_job(session, org_id, job_id)
                if job is not None:
                    job.forgotten_at = now
                    session.add(job)
        return len(due)

    async def forget_runs(self, org_id: UUID, job_ids: list[UUID]) -> None:
        """Delete the checkpoints of the organization's runs ``job_ids`` (rolled back)."""
        if not job_ids:
            return
        url = self.settings.core.login_url("workers")
        async with await connect(url, org_id) as connection:
            await forget(connection, [thread_id(org_id, j) for j in job_ids])

    async def forget_if_deleted(self, org_id: UUID, job_id: UUID) -> None:
        """A run stopped by a rollback (its job deleted) loses its checkpoints, those of its
        last step too."""
        if await self.job(_in(org_id), job_id) is None:
            await self.forget_runs(org_id, [job_id])

    async def set_members(self, org_id: UUID, roles: dict[str, str], as_of: datetime) -> None:
        """Tenancy's list of the organization's members and their roles, unless a newer one
        is stored already."""
        async with self.db.transaction(_in(org_id)) as session:
            await repository.record_members(session, org_id, roles, as_of)

    async def set_plan(
        self, org_id: UUID, granted: Mapping[str, Limit | None], as_of: datetime
    ) -> None:
        """Billing's word on the organization's plan (what it grants of ``PLAN_FEATURES``),
        unless a newer word is stored already: the jobs started after it run under its limit,
        and its finished runs keep their last checkpoint for its days."""
        plan = _plan_of(org_id, granted, as_of)
        async with self.db.transaction(_in(org_id)) as session:
            if await repository.record_plan(session, plan):
                await repository.reschedule_forgetting(session, org_id, plan.history_days)

    async def pending_approvals(self, caller: Caller, user_id: UUID) -> list[Approval]:
        """The open approvals of the caller's organization that the caller may decide."""
        if caller.org_id is None or caller.user_id != user_id:
            return []
        async with self.db.transaction(caller) as session:
            rows = await repository.pending_approvals(session, caller.org_id, MAX_PENDING)
            return [a for a in rows if a.allows(caller.user_id, caller.roles)]

    async def approvals_of(self, caller: Caller, job_ids: Sequence[UUID]) -> list[list[Approval]]:
        """Each job's approvals, oldest first (the audit of its decisions)."""
        async with self.db.transaction(caller) as session:
            found = await repository.approvals_of(session, caller.org_id, job_ids)
        return [found.get(i, []) for i in job_ids]

    # reading -----------------------------------------------------------------------------------

    async def jobs_by_id(self, caller: Caller, ids: Sequence[UUID]) -> list[Job | None]:
        """The caller's organization's jobs by id, in order (another org's are None)."""
        if caller.org_id is None:
            return [None] * len(ids)
        async with self.db.transaction(caller) as session:
            found = await repository.jobs_by_id(session, caller.org_id, ids)
        return [found.get(i) for i in ids]

    async def job(self, caller: Caller, job_id: UUID) -> Job | None:
        [found] = await self.jobs_by_id(caller, [job_id])
        return found

    async def jobs(
        self,
        caller: Caller,
        org_id: UUID,
        *,
        status: Status | None,
        kind: str | None,
        first: int,
        after: str | None,
    ) -> Page[Job]:
        """The organization's jobs, newest first; empty for anyone outside it."""
        size = page_size(first)
        position = _position(after) if after else None
        if caller.org_id != org_id:
            return Page([], has_next=False)
        async with self.db.transaction(caller) as session:
            rows = await repository.jobs_page(
                session, org_id, status=status, kind=kind, before=position, limit=size + 1
            )
        return trimmed(rows, size)

    # cancelling --------------------------------------------------------------------------------

    async def cancel(self, caller: Caller, job_id: UUID) -> Job:
        """Queued: taken out of its queue; running or waiting: its run is aborted. Never again."""
        require_writer(caller)
        async with self.db.transaction(caller) as session:
            job = await repository.locked_job(session, caller.org_id or UUID(int=0), job_id)
            if job is None:
                raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown job.", "id")
            require(not job.finished, WorkersErrorCode.JOB_FINISHED, "The job is finished already.")
            was = Status(job.status)
            self._finish(job, Status.CANCELLED)
        await self._stopped(job, was)
        return job

    async def _stopped(self, job: Job, was: Status) -> None:
        """After a cancellation committed: out of the queue, its run aborted, subscribers told."""
        await self.queue.remove(job.org_id, job.id, job.concurrency_key, job.concurrency_limit)
        if was is Status.QUEUED:
            # Handed to ARQ but not begun, ARQ drops its aborted run without running it:
            # its slot is given back here (a second release, if it runs after all, is harmless).
            await self.queue.release(job.org_id, job.id, job.concurrency_key)
        run = await self.redis.get(self.queue.runner_key(job.id))
        if run is not None:
            await self.redis.zadd(abort_jobs_ss, {run: timestamp_ms()})
        await live.publish(self.redis, job)

    def _finish(self, job: Job, status: Status) -> None:
        job.status = status.value
        job.finished_at = job.updated_at = utcnow()

    # running (the worker) ----------------------------------------------------------------------

    async def begin(self, org_id: UUID, job_id: UUID, *, again: bool = False) -> Job | None:
        """Mark the job running for a new attempt; None when it must not run (cancelled).
        ``again``: the run of a dead worker, still marked running, goes on."""
        runnable = {Status.QUEUED.value, *([Status.RUNNING.value] if again else [])}
        async with self.db.transaction(_in(org_id)) as session:
            job = await repository.locked_job(session, org_id, job_id)
            if job is None or job.status not in runnable:
                return None
            deadline = KINDS[job.kind].deadline(job.created_at)
            if deadline is not None and utcnow() >= deadline:
                self._finish(job, Status.TIMED_OUT)
                job.error_code, job.error_message = SCHEDULE_TO_CLOSE, "Ran out of time."
                session.add(job)
            else:
                job.status = Status.RUNNING.value
                job.attempt += 1
                job.progress, job.message = 0.0, None
                job.started_at = job.updated_at = utcnow()
                session.add(job)
                await record_usage(session, org_id, "jobs", 1, f"job:{job.id}")
        await live.publish(self.redis, job)
        return job if job.status == Status.RUNNING.value else None

    async def report(
        self, org_id: UUID, job_id: UUID, progress: float, message: str | None
    ) -> None:
        """A running job's progress (0 to 1); its heartbeat."""
        await self._update(org_id, job_id, progress=min(max(progress, 0.0), 1.0), message=message)

    async def wait(self, org_id: UUID, job_id: UUID, interrupts: list[dict[str, Any]]) -> None:
        """A running workflow asks ``interrupts``; it waits, holding no slot, until each is
        decided on its approval, opened (its approvers notified) in the same transaction."""
        async with self.db.transaction(_in(org_id)) as session:
            job = await repository.locked_job(session, org_id, job_id)
            if job is None or job.status != Status.RUNNING.value:
                return
            job.status, job.interrupts, job.updated_at = Status.WAITING.value, interrupts, utcnow()
            # The answers of this wait replace those of the last one.
            job.payload = {k: v for k, v in job.payload.items() if k != "resume"}
            session.add(job)
            opened = await repository.interrupts_asked(session, job.id)
            for interrupt in interrupts:
                if str(interrupt["id"]) not in opened:
                    await approvals.open_approval(
                        session, self.settings.core.public_url, job, interrupt
                    )
        await live.publish(self.redis, job)

    async def step(self, org_id: UUID, job_id: UUID, node: str) -> None:
        """A running workflow's step finished: logged, and published with the step's name."""
        async with self.db.transaction(_in(org_id)) as session:
            job = await repository.locked_job(session, org_id, job_id)
            if job is None or job.status != Status.RUNNING.value:
                return
            job.logs = [*job.logs, _line("info", f"step {node} finished")][-MAX_LOG_LINES:]
            job.updated_at = utcnow()
            session.add(job)
        await live.publish(self.redis, job, step=node)

    async def log(self, org_id: UUID, job_id: UUID, level: str, message: str) -> None:
        line = _line(level, message)
        async with self.db.transaction(_in(org_id)) as session:
            job = await repository.locked_job(session, org_id, job_id)
            if job is not None:
                job.logs = [*job.logs, line][-MAX_LOG_LINES:]
                session.add(job)

    async def succeed(self, org_id: UUID, job_id: UUID, result: Any) -> None:
        size = len(orjson.dumps(result))
        if size > self.settings.workers.job_result_max_bytes:
            limit = self.settings.workers.job_result_max_bytes
            await self.fail(org_id, job_id, "RESULT_TOO_LARGE", f"{size} bytes, at most {limit}.")
            return
        await self._update(
            org_id, job_id, status=Status.SUCCEEDED, result=result, progress=1.0, final=True
        )

    async def fail(
        self, org_id: UUID, job_id: UUID, code: str, message: str, *, timed_out: bool = False
    ) -> None:
        """Queue the job again after its backoff while its policy allows and its
        schedule-to-close end is not reached by then; else it failed or timed out."""
        job = await self.job(_in(org_id), job_id)
        if job is None or job.status != Status.RUNNING.value:
            return
        kind = KINDS[job.kind]
        delay = kind.retry.delay(job.attempt)
        deadline = kind.deadline(job.created_at)
        late = deadline is not None and utcnow() + timedelta(seconds=delay) >= deadline
        if kind.retry.retries(code, job.attempt):
            if not late:
                await self._update(org_id, job_id, status=Status.QUEUED, code=code, error=message)
                limit = job.concurrency_limit
                await self.queue.push(org_id, job_id, job.concurrency_key, limit, delay=delay)
                return
            code, message, timed_out = SCHEDULE_TO_CLOSE, f"Ran out of time ({message})", True
        final = Status.TIMED_OUT if timed_out else Status.FAILED
        await self._update(org_id, job_id, status=final, code=code, error=message, final=True)

    async def _update(
        self,
        org_id: UUID,
        job_id: UUID,
        *,
        status: Status | None = None,
        progress: float | None = None,
        message: str | None = None,
        result: Any = None,
        code: str | None = None,
        error: str | None = None,
        final: bool = False,
    ) -> None:
        """Change a running job (nothing once it is cancelled) and publish the change."""
        async with self.db.transaction(_in(org_id)) as session:
            job = await repository.locked_job(session, org_id, job_id)
            if job is None or job.status != Status.RUNNING.value:
                return
            if status is not None:
                job.status = status.value
            if progress is not None:
                job.progress, job.message = progress, message
            if result is not None:
                job.result = result
            if code is not None:
                job.error_code, job.error_message = code, error
            elif status is Status.SUCCEEDED:  # an earlier attempt's error is no longer why
                job.error_code, job.error_message = None, None
            job.interrupts = []
            job.updated_at = utcnow()
            if final:
                job.finished_at = job.updated_at
            session.add(job)
        await live.publish(self.redis, job)

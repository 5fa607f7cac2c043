"""Business rules of workers: jobs are created once per idempotency key, wait their turn in
their organization's fair queue, report progress, finish, are retried or cancelled; every change
is stored in the job's organization and published on the job's channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from arq.constants import abort_jobs_ss
from arq.utils import timestamp_ms
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from redis.asyncio import Redis
from sqlalchemy import delete, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.errors import ErrorCode, Problem, Rejected, existing, require
from subgraphs.kernel.pagination import Page, decode_cursor, encode_cursor, page_size, trimmed
from subgraphs.kernel.usage import record_usage
from subgraphs.workers import live
from subgraphs.workers.contract import WORKFLOWS, JobRequest, Multitask, WorkersErrorCode, Workflow
from subgraphs.workers.fair import FairQueue
from subgraphs.workers.kinds import KINDS
from subgraphs.workers.models import MAX_LOG_LINES, UNFINISHED, Job, Status
from subgraphs.workers.runs import WORKFLOW
from subgraphs.workers.settings import Settings

WRITE_SCOPE = "workflows:write"


def job_cursor(job: Job) -> str:
    return encode_cursor(job.created_at.isoformat(), str(job.id))


def _position(cursor: str) -> tuple[datetime, UUID]:
    created, job_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(created), UUID(job_id)
    except ValueError:
        raise Rejected.one(ErrorCode.INVALID_INPUT, "Not a valid cursor.", "after") from None


def _writer(caller: Caller) -> None:
    if WRITE_SCOPE not in caller.scopes:
        raise Rejected.one(
            ErrorCode.FORBIDDEN, f"Starting and cancelling jobs needs {WRITE_SCOPE}."
        )


def _check_input(workflow: Workflow, given: Any) -> None:
    """Every JSON Schema error of ``given``, each with its field path under ``input``."""
    errors = sorted(
        Draft202012Validator(workflow.input_schema).iter_errors(given), key=lambda e: e.path
    )
    if errors:
        raise Rejected(
            *(
                Problem(
                    WorkersErrorCode.INVALID_WORKFLOW_INPUT,
                    error.message,
                    ".".join(["input", *(str(p) for p in error.absolute_path)]),
                )
                for error in errors
            )
        )


def _in(org_id: UUID) -> Caller:
    return Caller(org_id=org_id)


class JobService:
    def __init__(self, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self.queue = FairQueue(redis, settings.core.queue_name)

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
            existing = await self._by_key(session, request.org_id, key)
            if existing is not None:
                return existing
            stopped = await self._make_room(session, request, ckey)
            job = Job(
                org_id=request.org_id,
                kind=request.kind,
                created_by=request.created_by,
                idempotency_key=key,
                concurrency_key=ckey,
                max_attempts=KINDS[request.kind].retry.maximum_attempts,
                payload=request.payload,
            )
            inserted = await session.exec(
                insert(Job)
                .values(**job.model_dump())
                .on_conflict_do_nothing(index_elements=["org_id", "idempotency_key"])
                .returning(col(Job.id))
            )
            if inserted.first() is None:  # a concurrent start with the same key won
                return await self._existing(session, request.org_id, key)
        for previous, was in stopped:
            await self._stopped(previous, was)
        await self.queue.push(job.org_id, job.id, job.concurrency_key)
        await live.publish(self.redis, job)
        return job

    async def _by_key(self, session: AsyncSession, org_id: UUID, key: str) -> Job | None:
        found = await session.exec(
            select(Job).where(Job.org_id == org_id, Job.idempotency_key == key)
        )
        return found.first()

    async def _existing(self, session: AsyncSession, org_id: UUID, key: str) -> Job:
        return existing(await self._by_key(session, org_id, key), "job")

    async def _make_room(
        self, session: AsyncSession, request: JobRequest, key: str | None
    ) -> list[tuple[Job, Status]]:
        """Apply the multitask strategy to the key's unfinished jobs; those it cancelled."""
        if key is None or request.multitask is Multitask.ENQUEUE:
            return []
        unfinished = list(
            await session.exec(
                select(Job)
                .where(
                    Job.org_id == request.org_id,
                    Job.concurrency_key == key,
                    col(Job.status).in_(UNFINISHED),
                )
                .with_for_update()
            )
        )
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
            await session.exec(delete(Job).where(col(Job.id).in_([j.id for j in unfinished])))
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
        _writer(caller)
        require(caller.org_id == org_id, ErrorCode.FORBIDDEN, "Not your organization.")
        workflow = WORKFLOWS.get(name)
        if workflow is None:
            raise Rejected.one(WorkersErrorCode.WORKFLOW_NOT_FOUND, "Unknown workflow.", "workflow")
        _check_input(workflow, given)
        request = JobRequest(
            kind=WORKFLOW.name,
            org_id=org_id,
            idempotency_key=idempotency_key,
            payload={"workflow": name, "version": workflow.version, "input": given},
            created_by=caller.user_id,
            concurrency_key=concurrency_key,
            multitask=multitask,
        )
        return await self.start(request)

    async def resume(
        self, caller: Caller, job_id: UUID, interrupt_id: str, decision: str, comment: str | None
    ) -> Job:
        """Decide a waiting run's interrupt; the run goes on from its checkpoint."""
        _writer(caller)
        async with self.db.transaction(caller) as session:
            job = await self._locked(session, caller.org_id or UUID(int=0), job_id)
            if job is None:
                raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown job.", "jobId")
            require(
                interrupt_id not in job.payload.get("decided", []),
                WorkersErrorCode.ALREADY_DECIDED,
                "This interrupt was decided already.",
                "interruptId",
            )
            require(not job.finished, WorkersErrorCode.JOB_FINISHED, "The job is finished.")
            require(
                job.status == Status.WAITING.value and job.interrupt is not None,
                WorkersErrorCode.JOB_NOT_WAITING,
                "The job is not waiting for a decision.",
            )
            require(
                job.interrupt is not None and job.interrupt["id"] == interrupt_id,
                ErrorCode.NOT_FOUND,
                "The job is not waiting on this interrupt.",
                "interruptId",
            )
            answer = {"decision": decision, "comment": comment, "by": str(caller.user_id)}
            decided = [*job.payload.get("decided", []), interrupt_id]
            job.payload = {**job.payload, "resume": answer, "decided": decided}
            job.status, job.interrupt, job.updated_at = Status.QUEUED.value, None, utcnow()
            session.add(job)
        await self.queue.push(job.org_id, job.id, job.concurrency_key)
        await live.publish(self.redis, job)
        return job

    # reading -----------------------------------------------------------------------------------

    async def jobs_by_id(self, caller: Caller, ids: Sequence[UUID]) -> list[Job | None]:
        """The caller's organization's jobs by id, in order (another org's are None)."""
        if caller.org_id is None:
            return [None] * len(ids)
        async with self.db.transaction(caller) as session:
            rows = await session.exec(
                select(Job).where(col(Job.id).in_(list(ids)), Job.org_id == caller.org_id)
            )
            found = {job.id: job for job in rows}
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
        query = select(Job).where(Job.org_id == org_id)
        if status is not None:
            query = query.where(Job.status == status.value)
        if kind is not None:
            query = query.where(Job.kind == kind)
        if position is not None:
            query = query.where(tuple_(col(Job.created_at), col(Job.id)) < tuple_(*position))
        query = query.order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(size + 1)
        async with self.db.transaction(caller) as session:
            rows = list(await session.exec(query))
        return trimmed(rows, size)

    # cancelling --------------------------------------------------------------------------------

    async def cancel(self, caller: Caller, job_id: UUID) -> Job:
        """Queued: taken out of its queue; running or waiting: its run is aborted. Never again."""
        _writer(caller)
        async with self.db.transaction(caller) as session:
            job = (
                await session.exec(
                    select(Job)
                    .where(Job.id == job_id, Job.org_id == caller.org_id)
                    .with_for_update()
                )
            ).first()
            if job is None:
                raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown job.", "id")
            require(not job.finished, WorkersErrorCode.JOB_FINISHED, "The job is finished already.")
            was = Status(job.status)
            self._finish(job, Status.CANCELLED)
        await self._stopped(job, was)
        return job

    async def _stopped(self, job: Job, was: Status) -> None:
        """After a cancellation committed: out of the queue, its run aborted, subscribers told."""
        await self.queue.remove(job.org_id, job.id, job.concurrency_key)
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
            job = await self._locked(session, org_id, job_id)
            if job is None or job.status not in runnable:
                return None
            job.status = Status.RUNNING.value
            job.attempt += 1
            job.progress, job.message = 0.0, None
            job.started_at = job.updated_at = utcnow()
            session.add(job)
            await record_usage(session, org_id, "jobs", 1, f"job:{job.id}")
        await live.publish(self.redis, job)
        return job

    async def _locked(self, session: AsyncSession, org_id: UUID, job_id: UUID) -> Job | None:
        query = select(Job).where(Job.id == job_id, Job.org_id == org_id).with_for_update()
        return (await session.exec(query)).first()

    async def report(
        self, org_id: UUID, job_id: UUID, progress: float, message: str | None
    ) -> None:
        """A running job's progress (0 to 1); its heartbeat."""
        await self._update(org_id, job_id, progress=min(max(progress, 0.0), 1.0), message=message)

    async def wait(self, org_id: UUID, job_id: UUID, interrupt: dict[str, Any]) -> None:
        """A running workflow asks ``interrupt``; it waits, holding no slot, until resumed."""
        await self._update(org_id, job_id, status=Status.WAITING, interrupt=interrupt)

    async def log(self, org_id: UUID, job_id: UUID, level: str, message: str) -> None:
        line = {"at": utcnow().isoformat(), "level": level, "message": message[:2000]}
        async with self.db.transaction(_in(org_id)) as session:
            job = await self._locked(session, org_id, job_id)
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
        """Queue the job again after its backoff while its policy allows, else it failed."""
        job = await self.job(_in(org_id), job_id)
        if job is None or job.status != Status.RUNNING.value:
            return
        policy = KINDS[job.kind].retry
        if policy.retries(code, job.attempt):
            await self._update(org_id, job_id, status=Status.QUEUED, code=code, error=message)
            delay = policy.delay(job.attempt)
            await self.queue.push(org_id, job_id, job.concurrency_key, delay=delay)
            return
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
        interrupt: dict[str, Any] | None = None,
        final: bool = False,
    ) -> None:
        """Change a running job (nothing once it is cancelled) and publish the change."""
        async with self.db.transaction(_in(org_id)) as session:
            job = await self._locked(session, org_id, job_id)
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
            job.interrupt = interrupt
            job.updated_at = utcnow()
            if final:
                job.finished_at = job.updated_at
            session.add(job)
        await live.publish(self.redis, job)

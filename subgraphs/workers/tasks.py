"""ARQ jobs of workers: other domains' job requests, tenancy's lists of members, billing's word
on organizations' plans, the dispatcher that hands each organization's jobs to ARQ in turn, the
run of one attempt under its timeouts, and the sweeps that start due schedules, expire undecided
approvals and prune finished runs' checkpoints (all of them past the plan's history window)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis
from arq.cron import CronJob, cron
from arq.worker import Function, func
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from core.caller import Limit
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.domain import Jobs
from subgraphs.workers.contract import MEMBERS_JOB, PLAN_JOB, START_JOB, JobRequest
from subgraphs.workers.kinds import KINDS, JobFailed, Kind, Run
from subgraphs.workers.models import Job
from subgraphs.workers.service import JobService
from subgraphs.workers.settings import Settings

log = logging.getLogger("vetrai.workers")
Ctx = dict[str, Any]
RUN_JOB = "workers_run"
FIRE_SCHEDULES_JOB = "workers_fire_schedules"
EXPIRE_APPROVALS_JOB = "workers_expire_approvals"
PRUNE_CHECKPOINTS_JOB = "workers_prune_checkpoints"
# The sweeps' seconds of every minute: a schedule starts within 5 s of its slot.
SCHEDULE_SECONDS = set(range(0, 60, 5))
EXPIRY_SECONDS = {0, 30}
IDLE_WAIT_SECONDS = 0.2
# ARQ's own timeout (JOB_TIMEOUT_SECONDS, which also bounds a kind's start-to-close timeout)
# only backs ours up.
ARQ_TIMEOUT_MARGIN_SECONDS = 5


class HeartbeatTimeout(Exception):
    pass


async def start(ctx: Ctx, values: dict[str, Any]) -> str:
    service: JobService = ctx["jobs"]
    return str((await service.start(JobRequest.from_job(values))).id)


async def organization_members(ctx: Ctx, org_id: str, roles: dict[str, str], as_of: str) -> None:
    service: JobService = ctx["jobs"]
    await service.set_members(UUID(org_id), roles, datetime.fromisoformat(as_of))


async def organization_plan(
    ctx: Ctx, org_id: str, granted: dict[str, Limit | None], as_of: str
) -> None:
    service: JobService = ctx["jobs"]
    await service.set_plan(UUID(org_id), granted, datetime.fromisoformat(as_of))


async def supervised(kind: Kind, run: Run, beats: list[float], longest: float) -> Any:
    """``kind.run(run)`` under its start-to-close timeout (at most ``longest``), cancelled when
    the last of ``beats`` is older than its heartbeat timeout."""
    task: asyncio.Future[Any] = asyncio.ensure_future(kind.run(run))
    heartbeat = kind.heartbeat(run.payload)
    try:
        async with asyncio.timeout(min(kind.start_to_close_seconds, longest)):
            while True:
                done, _ = await asyncio.wait({task}, timeout=heartbeat)
                if done:
                    return task.result()
                if heartbeat is not None and time.monotonic() - beats[-1] > heartbeat:
                    raise HeartbeatTimeout
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def run_job(ctx: Ctx, org: str, job: str, key: str | None) -> None:
    """One attempt of a job the dispatcher handed out; its slot is released however it ends."""
    service: JobService = ctx["jobs"]
    org_id, job_id = UUID(org), UUID(job)
    try:
        # A later ARQ try is the run of a worker that died: it goes on where that one was.
        started = await service.begin(org_id, job_id, again=ctx["job_try"] > 1)
        if started is not None:
            await attempt(ctx, service, started)
    except asyncio.CancelledError:  # aborted: by a cancellation, maybe of a rollback
        await asyncio.shield(service.forget_if_deleted(org_id, job_id))
        raise
    finally:
        await asyncio.shield(service.queue.release(org_id, job_id, key))


async def attempt(context: Ctx, service: JobService, job: Job) -> None:
    kind, org_id, job_id = KINDS[job.kind], job.org_id, job.id
    beats = [time.monotonic()]

    async def report(progress: float, message: str | None) -> None:
        beats.append(time.monotonic())
        await service.report(org_id, job_id, progress, message)

    async def write_log(level: str, message: str) -> None:
        await service.log(org_id, job_id, level, message)

    async def wait(interrupts: list[dict[str, Any]]) -> None:
        await service.wait(org_id, job_id, interrupts)

    async def step(node: str) -> None:
        beats.append(time.monotonic())
        await service.step(org_id, job_id, node)

    run = Run(job_id, org_id, job.payload, job.attempt, report, write_log, wait, context, step)
    try:
        result = await supervised(kind, run, beats, _longest(service, kind, job))
    except JobFailed as exc:
        await service.fail(org_id, job_id, exc.code, exc.message)
    except HeartbeatTimeout:
        await service.fail(
            org_id, job_id, "HEARTBEAT_TIMEOUT", "No progress in time.", timed_out=True
        )
    except TimeoutError:
        await service.fail(org_id, job_id, "TIMEOUT", "Ran out of time.", timed_out=True)
    except Exception as exc:  # a job's bug fails its attempt, not the worker
        log.exception("job failed", extra={"fields": {"job": str(job_id)}})
        await service.fail(org_id, job_id, "UNEXPECTED", type(exc).__name__)
    else:
        await service.succeed(org_id, job_id, result)


def _longest(service: JobService, kind: Kind, job: Job) -> float:
    """At most the worker's job timeout, and no later than the job's schedule-to-close end."""
    longest = float(service.settings.core.job_timeout_seconds)
    deadline = kind.deadline(job.created_at)
    if deadline is None:
        return longest
    return max(min(longest, (deadline - utcnow()).total_seconds()), 0.0)


async def dispatch(service: JobService, arq: ArqRedis, stop: asyncio.Event) -> None:
    """Round after round, hand ARQ the jobs the fair queue lets start; idle, wait for work."""
    queue = service.settings.core.queue_name
    while not stop.is_set():
        try:
            handed = await service.queue.round()
            for job in handed:
                run_id = f"{RUN_JOB}:{job.job_id}:{uuid4().hex}"
                await arq.set(service.queue.runner_key(job.job_id), run_id, ex=86400)
                args = (str(job.org_id), str(job.job_id), job.key)
                await arq.enqueue_job(RUN_JOB, *args, _job_id=run_id, _queue_name=queue)
            if not handed:
                await service.queue.wait(IDLE_WAIT_SECONDS)
        except (RedisError, OSError, DBAPIError) as exc:
            log.warning("dispatch failed", extra={"fields": {"error": repr(exc)}})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_WAIT_SECONDS):
                    await stop.wait()


async def fire_schedules(ctx: Ctx) -> int:
    service: JobService = ctx["jobs"]
    return await service.schedules.fire_due(utcnow())


async def expire_approvals(ctx: Ctx) -> int:
    service: JobService = ctx["jobs"]
    return await service.expire_due(utcnow())


async def prune_checkpoints(ctx: Ctx) -> int:
    """Finished runs pruned to their last checkpoint, then those past their history window
    without it."""
    service: JobService = ctx["jobs"]
    now = utcnow()
    return await service.prune_finished(now) + await service.forget_expired(now)


def cron_jobs(_: Settings) -> list[CronJob]:
    return [
        cron(fire_schedules, name=FIRE_SCHEDULES_JOB, second=SCHEDULE_SECONDS, keep_result=0),
        cron(expire_approvals, name=EXPIRE_APPROVALS_JOB, second=EXPIRY_SECONDS, keep_result=0),
        cron(prune_checkpoints, name=PRUNE_CHECKPOINTS_JOB, minute=17, second=0, keep_result=0),
    ]


def functions(settings: Settings) -> list[Function]:
    timeout = settings.core.job_timeout_seconds + ARQ_TIMEOUT_MARGIN_SECONDS
    return [
        func(start, name=START_JOB, timeout=settings.core.job_timeout_seconds, keep_result=0),
        func(run_job, name=RUN_JOB, timeout=timeout, keep_result=0, max_tries=2),
        func(
            organization_members,
            name=MEMBERS_JOB,
            timeout=settings.core.job_timeout_seconds,
            keep_result=0,
        ),
        func(
            organization_plan,
            name=PLAN_JOB,
            timeout=settings.core.job_timeout_seconds,
            keep_result=0,
        ),
    ]


async def startup(ctx: Ctx, settings: Settings, db: Database) -> None:
    service = JobService(db, ctx["redis"], settings)
    stop = asyncio.Event()
    ctx["jobs"] = service
    ctx["jobs_dispatch"] = (stop, asyncio.create_task(dispatch(service, ctx["redis"], stop)))


async def shutdown(ctx: Ctx) -> None:
    running: tuple[asyncio.Event, asyncio.Task[None]] | None = ctx.pop("jobs_dispatch", None)
    if running is not None:
        running[0].set()
        await running[1]


JOBS = Jobs(functions=functions, cron=cron_jobs, startup=startup, shutdown=shutdown)

"""Job kinds the workers tests run, callers, and waits on a job's state."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from core.caller import Caller
from core.scopes import scopes_of
from subgraphs.billing.contract import free_plan_grants
from subgraphs.kernel.db import utcnow
from subgraphs.workers.contract import CONCURRENT_JOBS, JobRequest, Multitask
from subgraphs.workers.kinds import JobFailed, Kind, RetryPolicy, Run, register
from subgraphs.workers.models import Job, Status
from subgraphs.workers.service import JobService

# The limit of a job nobody started for a plan, in an organization billing announced none for.
FREE_LIMIT = free_plan_grants(CONCURRENT_JOBS)
# What the blocking kind saw: the attempts that started and those that were cancelled.
STARTED: dict[UUID, int] = {}
CANCELLED: set[UUID] = set()
FAST_RETRY = RetryPolicy(
    initial_interval_seconds=0.01,
    backoff_coefficient=2.0,
    maximum_interval_seconds=0.05,
    maximum_attempts=3,
    non_retryable_codes=frozenset({"FATAL"}),
)


async def _echo(run: Run) -> Any:
    await run.report(0.5, "half way")
    await run.log("info", f"attempt {run.attempt}")
    return run.payload


async def _flaky(run: Run) -> Any:
    if run.payload.get("code") == "FATAL":
        raise JobFailed("FATAL", "cannot work")
    if run.attempt < run.payload.get("succeed_on", 99):
        raise JobFailed("FLAKY", f"attempt {run.attempt} failed")
    return {"attempt": run.attempt}


async def _block(run: Run) -> None:
    STARTED[run.job_id] = STARTED.get(run.job_id, 0) + 1
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        CANCELLED.add(run.job_id)
        raise


# Jobs of the gated kind report half way, then wait until the test opens their gate.
GATES: dict[str, asyncio.Event] = {}


async def _gated(run: Run) -> str:
    await run.report(0.5, "half way")
    await GATES[run.payload["gate"]].wait()
    return "done"


async def _noop(run: Run) -> None:
    return None


ECHO = register(Kind("test.echo", _echo))
FLAKY = register(Kind("test.flaky", _flaky, retry=FAST_RETRY))
BLOCK = register(Kind("test.block", _block, retry=RetryPolicy(maximum_attempts=1)))
NOOP = register(Kind("test.noop", _noop))
GATED = register(Kind("test.gated", _gated))
SILENT = register(
    Kind("test.silent", _block, retry=RetryPolicy(maximum_attempts=1), heartbeat_seconds=0.2)
)
SLOW = register(
    Kind("test.slow", _block, retry=RetryPolicy(maximum_attempts=1), start_to_close_seconds=0.2)
)
# Retried without end within 1 s of its creation, or held past it.
DOOMED = register(
    Kind(
        "test.doomed",
        _flaky,
        retry=RetryPolicy(initial_interval_seconds=0.05, maximum_attempts=100),
        schedule_to_close_seconds=1.0,
    )
)
HELD = register(
    Kind("test.held", _block, retry=RetryPolicy(maximum_attempts=5), schedule_to_close_seconds=1.0)
)


async def announce(
    service: JobService, org_id: UUID, roles: dict[UUID, str], as_of: datetime | None = None
) -> None:
    """Who belongs to the organization with which role, as tenancy's announcement says."""
    await service.set_members(org_id, {str(u): r for u, r in roles.items()}, as_of or utcnow())


def member_of(org_id: UUID, role: str = "owner") -> Caller:
    return Caller(user_id=uuid4(), org_id=org_id, roles=frozenset({role}), scopes=scopes_of([role]))


def request(
    org_id: UUID, kind: str = "test.echo", *, key: str | None = None, **extra: Any
) -> JobRequest:
    return JobRequest(
        kind=kind,
        org_id=org_id,
        idempotency_key=key or secrets.token_hex(8),
        payload=extra.pop("payload", {}),
        multitask=extra.pop("multitask", Multitask.ENQUEUE),
        **extra,
    )


async def until(
    service: JobService, org_id: UUID, job_id: UUID, *statuses: Status, within: float = 10
) -> Job:
    """The job once it reaches one of ``statuses``; fails after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        job = await service.job(Caller(org_id=org_id), job_id)
        assert job is not None
        if Status(job.status) in statuses:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"still {job.status}"
        await asyncio.sleep(0.01)


async def until_true(check: Any, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


async def waiting(service: JobService, org_id: UUID) -> list[str]:
    """The entries of the organization's list in the fair queue."""
    key = f"{service.queue.prefix}:org:{org_id}"
    entries = await service.redis.lrange(key, 0, -1)  # type: ignore[misc]
    return [e.decode() for e in entries]

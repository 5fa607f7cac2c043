"""Jobs run by the real worker beside the tests: requested through the outbox, progress and
logs stored, retries by policy, timeouts, cancellation that stops the work for good, and an
organization's burst that does not hold another organization's job back."""

from __future__ import annotations

import asyncio
import secrets
from uuid import UUID, uuid4

from core.caller import Caller
from subgraphs.kernel.db import utcnow
from subgraphs.workers import live
from subgraphs.workers.contract import CONCURRENT_JOBS, start_job
from subgraphs.workers.models import Job, Status
from subgraphs.workers.service import JobService
from tests.subgraphs.workers.builders import (
    CANCELLED,
    GATES,
    STARTED,
    member_of,
    request,
    until,
    until_true,
)

FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED)


async def test_a_job_started_through_the_outbox_runs_once_and_keeps_its_progress_and_logs(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    asked = request(org, payload={"answer": 42}, key="from-another-domain")
    for _ in range(2):  # a resent request is the same job
        async with jobs.db.transaction(Caller(org_id=org)) as session:
            await start_job(session, asked)
    [job] = await _listed(jobs, org)
    done = await until(jobs, org, job.id, *FINISHED)
    assert (done.status, done.result, done.attempt) == ("succeeded", {"answer": 42}, 1)
    assert done.progress == 1.0
    assert [line["message"] for line in done.logs] == ["attempt 1"]
    assert len(await _listed(jobs, org)) == 1


async def test_a_failing_job_is_retried_until_it_succeeds(jobs: JobService, worker: None) -> None:
    org = uuid4()
    job = await jobs.start(request(org, "test.flaky", payload={"succeed_on": 3}))
    done = await until(jobs, org, job.id, *FINISHED)
    assert (done.status, done.attempt, done.result) == ("succeeded", 3, {"attempt": 3})


async def test_retries_stop_at_the_maximum_attempts(jobs: JobService, worker: None) -> None:
    org = uuid4()
    job = await jobs.start(request(org, "test.flaky"))
    done = await until(jobs, org, job.id, *FINISHED)
    assert (done.status, done.attempt, done.error_code) == ("failed", 3, "FLAKY")
    assert done.error_message == "attempt 3 failed"


async def test_a_non_retryable_code_fails_at_once(jobs: JobService, worker: None) -> None:
    org = uuid4()
    job = await jobs.start(request(org, "test.flaky", payload={"code": "FATAL"}))
    done = await until(jobs, org, job.id, *FINISHED)
    assert (done.status, done.attempt, done.error_code) == ("failed", 1, "FATAL")


async def test_start_to_close_and_heartbeat_timeouts_time_the_job_out(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    slow = await jobs.start(request(org, "test.slow"))
    silent = await jobs.start(request(org, "test.silent"))
    slow_done = await until(jobs, org, slow.id, *FINISHED)
    silent_done = await until(jobs, org, silent.id, *FINISHED)
    assert (slow_done.status, slow_done.error_code) == ("timed_out", "TIMEOUT")
    assert (silent_done.status, silent_done.error_code) == ("timed_out", "HEARTBEAT_TIMEOUT")
    assert {slow.id, silent.id} <= CANCELLED


async def test_the_schedule_to_close_timeout_ends_retries_and_attempts_alike(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    retried = await jobs.start(request(org, "test.doomed"))
    held = await jobs.start(request(org, "test.held"))
    retried_done = await until(jobs, org, retried.id, *FINISHED)
    held_done = await until(jobs, org, held.id, *FINISHED)
    assert (retried_done.status, retried_done.error_code) == (
        "timed_out",
        "SCHEDULE_TO_CLOSE_TIMEOUT",
    )
    assert retried_done.attempt < 100
    assert (held_done.status, held_done.error_code) == ("timed_out", "SCHEDULE_TO_CLOSE_TIMEOUT")
    # Whether an attempt began before the end depends on the machine; it never ran on.
    assert held_done.attempt <= 1
    assert (held.id in CANCELLED) == (held_done.attempt == 1)


async def test_cancelling_a_running_job_stops_its_work_and_it_never_runs_again(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    job = await jobs.start(request(org, "test.block"))
    await until(jobs, org, job.id, Status.RUNNING)
    await until_true(lambda: job.id in STARTED)
    await jobs.cancel(member_of(org), job.id)
    await until_true(lambda: job.id in CANCELLED)
    after = await jobs.start(request(org))  # the organization's slot was given back
    assert (await until(jobs, org, after.id, *FINISHED)).status == "succeeded"
    assert (await jobs.job(member_of(org), job.id)).status == "cancelled"  # type: ignore[union-attr]
    assert STARTED[job.id] == 1


async def test_a_burst_of_one_organization_does_not_hold_back_another(
    jobs: JobService, worker: None
) -> None:
    a, b = uuid4(), uuid4()
    await jobs.set_plan(a, {CONCURRENT_JOBS: 2}, utcnow())  # as billing announces it
    burst = [await jobs.start(request(a, "test.block")) for _ in range(50)]
    await until(jobs, a, burst[1].id, Status.RUNNING)
    single = await jobs.start(request(b))
    assert (await until(jobs, b, single.id, *FINISHED)).status == "succeeded"
    statuses = [(await jobs.job(member_of(a), j.id)).status for j in burst]  # type: ignore[union-attr]
    assert statuses.count("running") == 2  # org A's limit; the rest still wait
    queued_one = burst[-1]
    for job in burst:
        await jobs.cancel(member_of(a), job.id)
    later = await jobs.start(request(a))
    assert (await until(jobs, a, later.id, *FINISHED)).status == "succeeded"
    assert queued_one.id not in STARTED


async def _listed(jobs: JobService, org: UUID) -> list[Job]:
    """The organization's jobs once there is one."""
    for _ in range(1000):
        page = await jobs.jobs(member_of(org), org, status=None, kind=None, first=100, after=None)
        if page.items:
            return page.items
        await asyncio.sleep(0.01)
    raise AssertionError("no job was created")


async def test_every_change_and_progress_update_is_published(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    key = secrets.token_hex(4)
    gate = GATES[key] = asyncio.Event()
    job = await jobs.start(request(org, "test.gated", payload={"gate": key}))
    seen: list[tuple[str, float, str | None]] = []
    async for event in live.changes(jobs.redis, job.id, lambda: jobs.job(member_of(org), job.id)):
        seen.append((event.status, event.progress, event.message))
        if event.message == "half way":
            gate.set()
    assert seen[-2:] == [("running", 0.5, "half way"), ("succeeded", 1.0, None)]
    assert {s for s, _, _ in seen} <= {"queued", "running", "succeeded"}

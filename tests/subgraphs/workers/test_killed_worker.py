"""A worker killed mid-run (SIGKILL) loses no finished step: once the run's timeout has passed,
another worker goes on from the last checkpoint, and the first step does not run again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from uuid import uuid4

from redis.asyncio import Redis

from subgraphs.workers.contract import Multitask
from subgraphs.workers.models import Status
from subgraphs.workers.runs import thread_id
from subgraphs.workers.service import JobService
from tests.conftest import TEST_DATA, free_port_offset, until_worker_healthy
from tests.subgraphs.workers.builders import member_of, until
from tests.subgraphs.workers.crash_flow import CRASH, gate_key, steps_key
from vetrai import worker as workers
from vetrai.settings import PlatformSettings

WORKER = (
    "import runpy, sys, tests.subgraphs.workers.crash_flow;"
    " sys.argv = ['vetrai', 'worker']; runpy.run_module('vetrai', run_name='__main__')"
)


async def _steps(redis: Redis, thread: str, count: int) -> list[str]:
    for _ in range(1500):
        steps = [s.decode() for s in await redis.lrange(steps_key(thread), 0, -1)]  # type: ignore[misc]
        if len(steps) >= count:
            return steps
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} steps ran")


async def test_a_run_of_a_killed_worker_goes_on_from_its_checkpoint(
    jobs: JobService, settings: PlatformSettings
) -> None:
    fast = settings.replace(job_timeout_seconds=6, queue_name=f"vetrai:test:{uuid4().hex}")
    assert fast.core.database_url
    assert fast.core.redis_url
    offset = free_port_offset([fast.core.worker_port])
    environment = {
        **os.environ,
        "DATABASE_URL": fast.core.database_url,
        "REDIS_URL": fast.core.redis_url,
        "VETRAI_QUEUE": fast.core.queue_name,
        "VETRAI_DATA_DIR": str(TEST_DATA),
        "VETRAI_PORT_OFFSET": str(offset),
        "JOB_TIMEOUT_SECONDS": "6",
    }
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    service = JobService(jobs.db, jobs.redis, fast)
    org = uuid4()
    try:
        # Its imports and start take seconds, far more on a loaded host.
        await until_worker_healthy(doomed, fast.core.worker_port + offset)
        job = await service.start_workflow(
            member_of(org),
            org,
            CRASH.name,
            {},
            idempotency_key="crash",
            concurrency_key=None,
            multitask=Multitask.ENQUEUE,
        )
        thread = thread_id(org, job.id)
        assert await _steps(jobs.redis, thread, 2) == ["first", "second"]
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        await jobs.redis.set(gate_key(thread), 1, ex=120)
        rescuer = workers.create_worker(fast, poll_delay=0.05)
        running = asyncio.create_task(workers.run(rescuer))
        try:
            done = await until(service, org, job.id, Status.SUCCEEDED, Status.FAILED, within=60)
        finally:
            # Left running, its outbox relay would take the session's waiting messages to its queue.
            workers.stop(rescuer)
            await running
    finally:
        if doomed.returncode is None:
            doomed.kill()
    assert (done.status, done.result) == ("succeeded", {"done": True})
    assert await _steps(jobs.redis, thread, 3) == ["first", "second", "second"]

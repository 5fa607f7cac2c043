"""A worker killed mid-job (SIGKILL: no chance to put the job back) loses no notification:
once the job's timeout has passed another worker runs it, and the email goes out once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from typing import Any
from uuid import UUID, uuid4

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.notifications.contract import enqueue_notification
from tests.conftest import TEST_DATA, free_port_offset, unique_email, until_worker_healthy
from tests.worker.conftest import Mailbox, deliveries, request
from vetrai import worker as workers
from vetrai.settings import PlatformSettings

# Long enough that neither worker times the delivery out on a loaded host (a timed-out job has
# failed for ARQ and is not run again); ARQ runs a dead worker's job again 10 s after it.
JOB_TIMEOUT_SECONDS = 15
# Waits for a condition, generous for a loaded host.
DEADLINE = 120


async def test_job_of_a_killed_worker_runs_again_and_sends_once(
    delivery_settings: PlatformSettings, mailbox: Mailbox, owner_engine: AsyncEngine
) -> None:
    fast = delivery_settings.replace(job_timeout_seconds=JOB_TIMEOUT_SECONDS)
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
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),
        "SMTP_SECURITY": "none",
        "JOB_TIMEOUT_SECONDS": str(JOB_TIMEOUT_SECONDS),
    }
    gate = mailbox.gate = threading.Event()
    mailbox.arrived.clear()
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vetrai",
        "worker",
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    user, email = uuid4(), unique_email()
    redis = Redis.from_url(fast.core.redis_url)
    try:
        await until_worker_healthy(doomed, fast.core.worker_port + offset)
        await enqueue_notification(redis, fast.core.queue_name, request(user, email))
        assert await asyncio.to_thread(mailbox.arrived.wait, DEADLINE)  # it is mid-send
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        gate.set()
        rescuer = workers.create_worker(fast, poll_delay=0.05)
        running = asyncio.create_task(workers.run(rescuer))
        try:
            found = await _until_sent(owner_engine, user)
        finally:
            workers.stop(rescuer)
            await running
    finally:
        await redis.aclose()
        if doomed.returncode is None:
            doomed.kill()
    assert [(d["channel"], d["status"]) for d in found] == [("email", "sent")]
    assert len(mailbox.to(email)) == 1


async def _until_sent(owner_engine: AsyncEngine, user: UUID) -> list[dict[str, Any]]:
    """The user's deliveries once the first is sent: after the job's timeout, ARQ's ten
    seconds and its polling."""
    async with asyncio.timeout(DEADLINE):
        while True:
            found = await deliveries(owner_engine, user)
            if found and found[0]["status"] == "sent":
                return found
            await asyncio.sleep(0.05)

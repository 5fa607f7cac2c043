"""A worker killed mid-job (SIGKILL: no chance to put the job back) loses no notification:
once the job's timeout has passed another worker runs it, and the email goes out once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from uuid import uuid4

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.notifications.contract import enqueue_notification
from tests.conftest import TEST_DATA, free_port_offset, unique_email
from tests.worker.conftest import Mailbox, deliveries, request
from vetrai import worker as workers
from vetrai.settings import PlatformSettings


async def test_job_of_a_killed_worker_runs_again_and_sends_once(
    delivery_settings: PlatformSettings, mailbox: Mailbox, owner_engine: AsyncEngine
) -> None:
    fast = delivery_settings.replace(job_timeout_seconds=2)
    assert fast.core.database_url
    assert fast.core.redis_url
    environment = {
        **os.environ,
        "DATABASE_URL": fast.core.database_url,
        "REDIS_URL": fast.core.redis_url,
        "VETRAI_QUEUE": fast.core.queue_name,
        "VETRAI_DATA_DIR": str(TEST_DATA),
        "VETRAI_PORT_OFFSET": str(free_port_offset([fast.core.worker_port])),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),
        "SMTP_SECURITY": "none",
        "JOB_TIMEOUT_SECONDS": "2",
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
        await enqueue_notification(redis, fast.core.queue_name, request(user, email))
        assert await asyncio.to_thread(mailbox.arrived.wait, 30)  # it is mid-send
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        gate.set()
        rescuer = workers.create_worker(fast, poll_delay=0.05)
        running = asyncio.create_task(workers.run(rescuer))
        for _ in range(600):  # 30 s: the timeout plus ARQ's ten seconds, then its polling
            found = await deliveries(owner_engine, user)
            if found and found[0]["status"] == "sent":
                break
            await asyncio.sleep(0.05)
        workers.stop(rescuer)
        await running
    finally:
        await redis.aclose()
        if doomed.returncode is None:
            doomed.kill()
    assert [(d["channel"], d["status"]) for d in found] == [("email", "sent")]
    assert len(mailbox.to(email)) == 1

"""``vetrai worker`` as an operator runs it: from environment settings, it takes jobs from the
queue, and SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from uuid import uuid4

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.notifications.contract import enqueue_notification
from tests.conftest import TEST_DATA, free_port_offset, unique_email
from tests.worker.conftest import deliveries, request
from vetrai.settings import PlatformSettings


async def test_worker_command_sends_queued_email_and_stops_on_sigterm(
    settings: PlatformSettings, owner_engine: AsyncEngine
) -> None:
    assert settings.core.database_url
    assert settings.core.redis_url
    queue = f"vetrai:test:{secrets.token_hex(6)}"
    environment = {
        **os.environ,
        "DATABASE_URL": settings.core.database_url,
        "REDIS_URL": settings.core.redis_url,
        "VETRAI_QUEUE": queue,
        "VETRAI_DATA_DIR": str(TEST_DATA),
        "VETRAI_PORT_OFFSET": str(free_port_offset([settings.core.worker_port])),
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vetrai",
        "worker",
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert worker.stdout is not None
        started = await asyncio.wait_for(worker.stdout.readuntil(b"Redis queue"), 30)
        assert b"Ctrl-C stops it" in started
        user = uuid4()
        redis = Redis.from_url(settings.core.redis_url)
        await enqueue_notification(redis, queue, request(user, unique_email()))
        await redis.aclose()
        for _ in range(500):  # 10 s
            found = await deliveries(owner_engine, user)
            if found and found[0]["status"] != "queued":
                break
            await asyncio.sleep(0.02)
        assert [(d["channel"], d["status"]) for d in found] == [("email", "sent")]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 30) == 0

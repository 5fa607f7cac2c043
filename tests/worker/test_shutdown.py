"""Stopping the worker mid-send puts the job back: the next worker sends it, once."""

from __future__ import annotations

import asyncio
import threading
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.notifications.contract import enqueue_notification
from subgraphs.notifications.service import NotificationService
from tests.conftest import unique_email
from tests.worker.conftest import Mailbox, deliveries, request, run_worker
from vetrai import worker as workers
from vetrai.settings import PlatformSettings


async def test_job_running_at_shutdown_is_requeued_and_sent_once(
    delivery_settings: PlatformSettings,
    service: NotificationService,
    mailbox: Mailbox,
    owner_engine: AsyncEngine,
) -> None:
    user, email = uuid4(), unique_email()
    gate = mailbox.gate = threading.Event()
    mailbox.arrived.clear()
    first = workers.create_worker(delivery_settings, poll_delay=0.01, job_completion_wait=0.2)
    running = asyncio.create_task(workers.run(first))
    await enqueue_notification(
        service.redis, delivery_settings.core.queue_name, request(user, email)
    )
    assert await asyncio.to_thread(mailbox.arrived.wait, 5)
    workers.stop(first)
    await running
    assert await deliveries(owner_engine, user) == [
        {"channel": "email", "status": "queued", "attempts": 0, "failure_reason": None}
    ]
    gate.set()
    await run_worker(delivery_settings)
    assert len(mailbox.to(email)) == 1
    [sent] = await deliveries(owner_engine, user)
    assert (sent["status"], sent["attempts"]) == ("sent", 1)


async def test_worker_stopped_before_its_startup_ran_shuts_down_cleanly(
    settings: PlatformSettings,
) -> None:
    never_started = workers.create_worker(settings)
    await never_started.close()  # runs every domain's shutdown with an empty job context
    assert never_started.ctx == {}

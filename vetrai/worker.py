"""The ARQ worker: the jobs of every subgraph that has tasks, taken from one Redis queue.

It runs alone (``vetrai worker``) or beside the servers of ``vetrai up`` in the same event loop.
On SIGINT/SIGTERM it takes no new job, lets running ones finish for a while, then cancels the
rest, which ARQ puts back in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker

from subgraphs.kernel.db import Database
from subgraphs.kernel.settings import Settings, SettingsError
from subgraphs.keys import tasks as keys_tasks
from subgraphs.notifications import tasks as notification_tasks

SHUTDOWN_GRACE_SECONDS = 10


def create_worker(settings: Settings, **options: Any) -> Worker:
    """A worker for ``settings``; ``options`` go to ARQ (``burst``, ``poll_delay``, ...)."""
    if not settings.redis_url:
        raise SettingsError("REDIS_URL: not set")
    url, role = settings.app_database()
    db = Database(url, role=role)

    async def startup(ctx: dict[str, Any]) -> None:
        await notification_tasks.startup(ctx, settings, db)
        await keys_tasks.startup(ctx, settings, db)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await notification_tasks.shutdown(ctx)
        await db.close()

    defaults: dict[str, Any] = {"job_completion_wait": SHUTDOWN_GRACE_SECONDS}
    return Worker(
        notification_tasks.functions(settings),
        queue_name=settings.queue_name,
        redis_pool=ArqRedis.from_url(settings.redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        cron_jobs=keys_tasks.cron_jobs(),
        handle_signals=False,
        **(defaults | options),
    )


def stop(worker: Worker) -> None:
    """Begin a graceful shutdown (what a signal does)."""
    worker.handle_sig_wait_for_completion(signal.SIGTERM)


async def run(worker: Worker) -> None:
    """Run until the queue is empty (burst) or ``stop``; always release the connections."""
    try:
        # A stopped worker ends by cancelling its main task.
        with contextlib.suppress(asyncio.CancelledError):
            await worker.async_run()
    finally:
        await worker.close()

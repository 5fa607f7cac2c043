"""The ARQ worker: the jobs of every subgraph that has tasks, taken from one Redis queue.

It runs alone (``vetrai worker``) or beside the servers of ``vetrai up`` in the same event loop.
On SIGINT/SIGTERM it takes no new job, lets running ones finish for a while, then cancels the
rest, which ARQ puts back in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from subgraphs.billing import tasks as billing_tasks
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
        await billing_tasks.startup(ctx, settings, db)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await notification_tasks.shutdown(ctx)
        await db.close()

    # Every job's timeout, cron ones included: ARQ runs a dead worker's job again only once the
    # longest timeout has passed.
    defaults: dict[str, Any] = {
        "job_completion_wait": SHUTDOWN_GRACE_SECONDS,
        "job_timeout": settings.job_timeout_seconds,
    }
    return Worker(
        [*notification_tasks.functions(settings), *billing_tasks.functions()],
        queue_name=settings.queue_name,
        redis_pool=ArqRedis.from_url(settings.redis_url),
        on_startup=startup,
        on_shutdown=shutdown,
        cron_jobs=[*keys_tasks.cron_jobs(), *billing_tasks.cron_jobs()],
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


class _JobCounts(Collector):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        jobs = CounterMetricFamily(
            "vetrai_worker_jobs", "Jobs finished, by result", labels=["result"]
        )
        jobs.add_metric(["complete"], self.worker.jobs_complete)
        jobs.add_metric(["failed"], self.worker.jobs_failed)
        jobs.add_metric(["retried"], self.worker.jobs_retried)
        yield jobs
        yield GaugeMetricFamily(
            "vetrai_worker_jobs_running", "Jobs running now", value=len(self.worker.tasks)
        )


def monitoring_app(worker: Worker) -> Starlette:
    """``/health`` (running, and its Redis answers) and ``/metrics`` for a worker process."""
    registry = CollectorRegistry()
    registry.register(_JobCounts(worker))

    async def health(_: Request) -> Response:
        running = worker.main_task is not None and not worker.main_task.done()
        try:
            await worker.pool.ping()
        except (RedisError, OSError):
            running = False
        body = {"status": "ok" if running else "unavailable", "service": "worker"}
        return JSONResponse(body, status_code=200 if running else 503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/health", health), Route("/metrics", metrics)])

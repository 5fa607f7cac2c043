"""The ARQ worker: the jobs every registered domain declares, taken from one Redis queue.

It runs alone (``vetrai worker``) or beside the servers of ``vetrai up`` in the same event loop.
On SIGINT/SIGTERM it takes no new job, lets running ones finish for a while, then cancels the
rest, which ARQ puts back in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterator, Sequence
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

from core.settings import SettingsError
from subgraphs.kernel.db import Database
from subgraphs.kernel.domain import Domain, Jobs
from subgraphs.kernel.outbox import Relay, start_relay, stop_relay
from vetrai.platform import DOMAINS, RELAY
from vetrai.settings import PlatformSettings

SHUTDOWN_GRACE_SECONDS = 10
# How long a worker that lost Redis waits before it polls again: doubled at each loss in a
# row, up to the maximum, so a long outage is not a warning every half second.
REDIS_RETRY_SECONDS = 0.5
REDIS_RETRY_MAX_SECONDS = 30.0
# Set in the job context once every part's startup ran (a worker polling again skips them).
STARTED = "vetrai_started"
# The name its Redis connections carry (CLIENT LIST).
CLIENT_NAME = "vetrai-worker"

log = logging.getLogger("vetrai.worker")


def create_worker(
    settings: PlatformSettings, domains: Sequence[Domain] = DOMAINS, **options: Any
) -> Worker:
    """A worker for ``settings``; ``options`` go to ARQ (``burst``, ``poll_delay``, ...)."""
    if not settings.core.redis_url:
        raise SettingsError("REDIS_URL: not set")
    redis_pool = ArqRedis.from_url(settings.core.redis_url, client_name=CLIENT_NAME)
    parts = _parts(domains)
    jobs = [job for _, job in parts]
    dbs = {name: Database(settings.core.login_url(name)) for name in used_logins(domains)}
    for db in dbs.values():
        db.after_commit = Relay(db, redis_pool, settings.core.queue_name).after_commit

    async def startup(ctx: dict[str, Any]) -> None:
        if ctx.get(STARTED):
            return
        for name, job in parts:
            if job.startup is not None:
                await job.startup(ctx, settings, dbs[name])
        ctx[STARTED] = True

    async def shutdown(ctx: dict[str, Any]) -> None:
        for job in reversed(jobs):
            if job.shutdown is not None:
                await job.shutdown(ctx)
        for db in dbs.values():
            await db.close()

    # Every job's timeout, cron ones included: ARQ runs a dead worker's job again only once the
    # longest timeout has passed.
    defaults: dict[str, Any] = {
        "job_completion_wait": SHUTDOWN_GRACE_SECONDS,
        # Cancelling a running job aborts its ARQ job.
        "allow_abort_jobs": True,
        "job_timeout": settings.core.job_timeout_seconds,
    }
    return Worker(
        [f for job in jobs for f in job.functions(settings)],
        queue_name=settings.core.queue_name,
        redis_pool=redis_pool,
        on_startup=startup,
        on_shutdown=shutdown,
        cron_jobs=[c for job in jobs for c in job.cron(settings)],
        handle_signals=False,
        **(defaults | options),
    )


def _parts(domains: Sequence[Domain]) -> list[tuple[str, Jobs]]:
    """The worker's parts by login: the outbox relay, then each domain, whose jobs connect as
    that domain's own role, so a job of one domain cannot read another's tables."""
    return [(RELAY, Jobs(startup=start_relay, shutdown=stop_relay))] + [
        (d.name, d.jobs) for d in domains
    ]


def used_logins(domains: Sequence[Domain] = DOMAINS) -> list[str]:
    """The logins the worker connects with: the relay's and those of the domains with jobs."""
    return [name for name, job in _parts(domains) if job.startup is not None]


def stop(worker: Worker) -> None:
    """Begin a graceful shutdown (what a signal does)."""
    worker.handle_sig_wait_for_completion(signal.SIGTERM)


async def run(worker: Worker) -> None:
    """Run until the queue is empty (burst) or ``stop``; always release the connections.

    A Redis connection lost once the worker has started (a restart, a failover, a killed client)
    does not end it: it polls again, its running jobs untouched."""
    delay = 0.0
    try:
        while True:
            started = time.monotonic()
            error = await _lost(worker)
            if error is None:
                break
            delay = retry_delay(delay, time.monotonic() - started)
            log.warning("lost Redis (%s): polling again in %s s", error, delay)
            if not await _waited(worker, delay):
                break
    finally:
        await worker.close()


def retry_delay(previous: float, ran_for: float) -> float:
    """The wait after a loss: the first one after a poll loop that ran longer than the maximum
    (Redis had come back), else twice the previous, at most the maximum."""
    if not previous or ran_for > REDIS_RETRY_MAX_SECONDS:
        return REDIS_RETRY_SECONDS
    return min(previous * 2, REDIS_RETRY_MAX_SECONDS)


async def _lost(worker: Worker) -> RedisError | OSError | None:
    """Run ARQ's poll loop: None once it ended as asked, the error when Redis failed it."""
    try:
        # A stopped worker ends by cancelling its main task.
        with contextlib.suppress(asyncio.CancelledError):
            await worker.async_run()
    except (RedisError, OSError) as error:
        if not worker.ctx.get(STARTED) or not worker.allow_pick_jobs:
            raise
        return error
    return None


async def _waited(worker: Worker, seconds: float) -> bool:
    """Wait ``seconds``, False as soon as the worker is stopped (a stop is not held up)."""
    deadline = time.monotonic() + seconds
    while worker.allow_pick_jobs:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, REDIS_RETRY_SECONDS))
    return False


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

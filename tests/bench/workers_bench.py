"""Workers' figures, with a real worker in this process on embedded PostgreSQL and Redis: enqueue
-> start latency on an idle worker, no-op jobs per second, an organization's wait behind
another's 1,000-job burst, cancel -> the run stopped, a worker's update -> a ``jobStatus``
subscriber through the router (graphql-transport-ws), and the checkpoint rows and bytes of a
workflow run.

Run with `.venv/bin/python -m tests.bench.workers_bench` from the repository root; not part of CI.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypedDict
from uuid import UUID, uuid4

import httpx
import orjson
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from websockets.asyncio.client import ClientConnection, connect

from core.caller import Caller
from router.app import create_router
from router.compose.compose import compose
from subgraphs.kernel.db import Database, async_url, utcnow
from subgraphs.kernel.migrations import migrate
from subgraphs.workers.contract import JobRequest, Workflow, register_workflow
from subgraphs.workers.kinds import Kind, RetryPolicy, Run, register
from subgraphs.workers.models import FINISHED, Job, Status
from subgraphs.workers.runs import workflow_request
from subgraphs.workers.service import JobService
from tests.bench.stack import run_on_stack
from tests.router.platform.conftest import RouterClient, router_config, served
from vetrai import worker as workers
from vetrai.devstack import create_database, on_database
from vetrai.platform import DOMAINS, all_migrations, composition_sources, logins
from vetrai.settings import PlatformSettings

LATENCY_JOBS = 100
THROUGHPUT_JOBS = 500
BATCH = 20
BURST = 1000
CANCELS = 30
UPDATES = 100
STOPPED: dict[UUID, float] = {}  # when each cancelled run saw its CancelledError
BEGUN: dict[UUID, asyncio.Event] = {}
STOPPING: dict[UUID, asyncio.Event] = {}
JOB_STATUS = 'subscription { jobStatus(id: "%s") { progress } }'


async def _noop(run: Run) -> None:
    return None


async def _block(run: Run) -> None:
    BEGUN.setdefault(run.job_id, asyncio.Event()).set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        STOPPED[run.job_id] = time.perf_counter()
        STOPPING.setdefault(run.job_id, asyncio.Event()).set()
        raise


NOOP = register(Kind("bench.noop", _noop))
BLOCK = register(Kind("bench.block", _block, retry=RetryPolicy(maximum_attempts=1)))


class Steps(TypedDict, total=False):
    text: str
    words: int


def _steps(_: dict[str, Any]) -> StateGraph[Steps]:
    def clean(state: Steps) -> Steps:
        get_stream_writer()({"progress": 0.5, "message": "cleaned"})
        return {"text": " ".join(state["text"].split())}

    def count(state: Steps) -> Steps:
        return {"words": len(state["text"].split(" "))}

    graph = StateGraph(Steps)
    graph.add_node("clean", clean)
    graph.add_node("count", count)
    graph.add_edge(START, "clean")
    graph.add_edge("clean", "count")
    graph.add_edge("count", END)
    return graph


STEPS = register_workflow(
    Workflow("bench_steps", 1, "Two steps over a text.", {"type": "object"}, _steps)
)


def _request(org: UUID, kind: str, limit: int | None = None) -> JobRequest:
    return JobRequest(kind, org, secrets.token_hex(8), concurrency_limit=limit)


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms ({len(ordered)} samples)"


async def _until(service: JobService, org: UUID, job_id: UUID, *statuses: Status) -> Job:
    while True:
        job = await service.job(Caller(org_id=org), job_id)
        if job is not None and Status(job.status) in statuses:
            return job
        await asyncio.sleep(0.002)


async def _latency(service: JobService) -> None:
    waits = []
    for _ in range(LATENCY_JOBS):
        org = uuid4()
        job = await service.start(_request(org, NOOP.name))
        done = await _until(service, org, job.id, *FINISHED)
        assert done.started_at is not None
        waits.append((done.started_at - done.created_at).total_seconds() * 1000)
    print(f"enqueue -> start on an idle worker: {_ms(waits)}")


async def _started(service: JobService, requests: list[JobRequest]) -> list[UUID]:
    """The jobs of ``requests``, started ``BATCH`` at a time."""
    ids: list[UUID] = []
    for i in range(0, len(requests), BATCH):
        jobs = await asyncio.gather(*(service.start(r) for r in requests[i : i + BATCH]))
        ids.extend(job.id for job in jobs)
    return ids


async def _throughput(service: JobService) -> None:
    org = uuid4()
    began = time.perf_counter()
    ids = await _started(service, [_request(org, NOOP.name) for _ in range(THROUGHPUT_JOBS)])
    started = time.perf_counter()
    for job_id in ids:
        await _until(service, org, job_id, *FINISHED)
    ended = time.perf_counter()
    print(
        f"no-op jobs: {THROUGHPUT_JOBS / (ended - began):.0f} per second started and run"
        f" ({THROUGHPUT_JOBS / (started - began):.0f} per second started, {BATCH} at a time),"
        " one organization without a limit"
    )


async def _burst(service: JobService) -> None:
    """Last: org A's burst is left to drain."""
    a, b = uuid4(), uuid4()
    await _started(service, [_request(a, NOOP.name, 2) for _ in range(BURST)])
    single = await service.start(_request(b, NOOP.name, 2))
    done = await _until(service, b, single.id, *FINISHED)
    assert done.started_at is not None
    waited = (done.started_at - done.created_at).total_seconds() * 1000
    page = await service.jobs(
        Caller(org_id=a), a, status=Status.QUEUED, kind=None, first=100, after=None
    )
    print(
        f"org B's one job behind org A's {BURST}-job burst (limit 2 each): started after"
        f" {waited:.1f} ms, with {'100+' if page.has_next else len(page.items)} of A's"
        " still queued"
    )


async def _cancels(service: JobService) -> None:
    stopped = []
    for _ in range(CANCELS):
        org = uuid4()
        job = await service.start(_request(org, BLOCK.name))
        # Cancelled before its coroutine began, a run never sees the CancelledError.
        await BEGUN.setdefault(job.id, asyncio.Event()).wait()
        began = time.perf_counter()
        await service.cancel(Caller(org_id=org, scopes=frozenset({"workflows:write"})), job.id)
        await STOPPING.setdefault(job.id, asyncio.Event()).wait()
        stopped.append((STOPPED[job.id] - began) * 1000)
    print(f"cancelJob -> the running attempt stopped (CancelledError): {_ms(stopped)}")


async def _next(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] != "ping":
            return message


@asynccontextmanager
async def _router(settings: PlatformSettings) -> AsyncIterator[RouterClient]:
    async with AsyncExitStack() as stack:
        urls = {}
        for spec in DOMAINS:
            base = await stack.enter_async_context(served(spec.create_app(settings)))
            urls[spec.name] = f"{base}/graphql"
        sdl = compose(composition_sources()).supergraph_sdl
        assert sdl is not None
        app = create_router(settings, sdl, urls, router_config())
        base = await stack.enter_async_context(served(app))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=30))
        yield RouterClient(client)


async def _updates(service: JobService, settings: PlatformSettings) -> None:
    async with _router(settings) as router:
        token, org_id = await router.owner_of_new_organization()
        org = UUID(org_id)
        job = await service.start(_request(org, BLOCK.name))
        await _until(service, org, job.id, Status.RUNNING)
        url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
        init = {"Authorization": f"Bearer {token}", "x-organization-id": org_id}
        delays = []
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(orjson.dumps({"type": "connection_init", "payload": init}).decode())
            assert (await _next(ws))["type"] == "connection_ack"
            query = {"query": JOB_STATUS % job.id}
            await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": query}).decode())
            await _next(ws)  # the job as it is now
            for i in range(1, UPDATES + 1):
                progress = i / (UPDATES + 1)
                began = time.perf_counter()
                await service.report(org, job.id, progress, None)
                while True:
                    event = (await _next(ws))["payload"]["data"]["jobStatus"]
                    if abs(event["progress"] - progress) < 1e-9:
                        break
                delays.append((time.perf_counter() - began) * 1000)
        await service.cancel(Caller(org_id=org, scopes=frozenset({"workflows:write"})), job.id)
    print(f"worker update -> jobStatus subscriber through the router: {_ms(delays)}")


async def _checkpoints(service: JobService, settings: PlatformSettings) -> None:
    org = uuid4()
    given = {"text": "  a  few   words of   text "}
    job = await service.start(workflow_request(org, STEPS, given, key="run", created_by=None))
    done = await _until(service, org, job.id, *FINISHED)
    assert done.status == Status.SUCCEEDED.value, done.error_message
    assert settings.core.database_url
    engine = create_async_engine(async_url(settings.core.database_url), poolclass=NullPool)
    thread = f"{org}:{job.id}"
    async with engine.connect() as connection:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            rows, size = (
                await connection.execute(
                    text(
                        f"select count(*), coalesce(sum(pg_column_size(t.*)), 0)"  # noqa: S608
                        f" from workers.{table} t where thread_id = :t"
                    ),
                    {"t": thread},
                )
            ).one()
            print(f"a two-step run's {table}: {rows} rows, {size} bytes")
    await engine.dispose()


async def bench(stack_settings: PlatformSettings) -> None:
    assert stack_settings.core.database_url
    name = f"bench_{secrets.token_hex(3)}"
    url = await create_database(stack_settings.core.database_url, name)
    settings = on_database(stack_settings, name).replace(queue_name=f"vetrai:bench:{name}")
    await asyncio.to_thread(migrate, url, all_migrations(), logins(settings))
    running = workers.create_worker(settings, poll_delay=0.02)
    task = asyncio.create_task(workers.run(running))
    db = Database(settings.core.login_url("workers"))
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    service = JobService(db, redis, settings)
    try:
        started = utcnow()
        await _latency(service)
        await _throughput(service)
        await _cancels(service)
        await _updates(service, settings)
        await _checkpoints(service, settings)
        await _burst(service)
        print(f"({(utcnow() - started).total_seconds():.0f} s in all)")
    finally:
        workers.stop(running)
        await task
        await redis.aclose()
        await db.close()


def main() -> None:
    run_on_stack(bench)


if __name__ == "__main__":
    main()

"""Billing's answers on this machine: the webhook's acknowledgement (signature checked, event and
its job stored in one transaction) by `vetrai subgraph billing` in its own process, one and ten
at a time, with the server's CPU per delivery; and the latency of a plan change's invoice
preview against the Stripe-compatible test server; an empty transaction's time first, for scale.

Run with `.venv/bin/python -m tests.bench.billing_webhook` from the repository root (embedded
PostgreSQL, Redis and the test server under a temporary folder); not part of CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from uuid import uuid4

import httpx
import orjson
import psutil
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.caller import Caller
from subgraphs.billing.command import sync_plans
from subgraphs.billing.gateway import StripeGateway
from subgraphs.billing.plans import catalogue
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database, async_url
from subgraphs.kernel.migrations import migrate
from subgraphs.kernel.outbox import Relay
from tests.bench.billing_ledger import empty_transactions
from tests.bench.stack import run_on_stack
from tests.subgraphs.billing.builders import WEBHOOK_SECRET, event, signature
from vetrai.devstack import create_database, on_database, with_logins
from vetrai.embedded import acquire
from vetrai.embedded_stripe import SECRET_KEY, STRIPE
from vetrai.platform import RELAY, all_migrations, logins
from vetrai.settings import PlatformSettings, load_settings

EVENTS = 400
WARM_UP = 50
BENCH = [sys.executable, "-m", "tests.bench.billing_webhook"]
CONCURRENT = 10
PREVIEWS = 30


def _figures(name: str, times: list[float]) -> str:
    times = sorted(times)
    p99 = times[max(0, int(len(times) * 0.99) - 1)]
    return f"{name}: median {statistics.median(times):.1f} ms, p99 {p99:.1f} ms ({len(times)})"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(settings: PlatformSettings) -> dict[str, str]:
    """What ``vetrai subgraph billing`` reads to serve the bench's database and queue."""
    core, secret = settings.core, settings.billing.stripe_webhook_secret
    assert core.database_url
    assert core.redis_url
    assert secret
    return os.environ | {
        "ENVIRONMENT": core.environment,
        "VETRAI_DATA_DIR": str(core.data_dir.resolve()),
        "DATABASE_URL": core.database_url,
        "REDIS_URL": core.redis_url,
        "VETRAI_QUEUE": core.queue_name,
        "STRIPE_WEBHOOK_SECRET": secret.get_secret_value(),
    }


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _delivery(client: httpx.AsyncClient) -> float:
    """One signed event posted; milliseconds to its answer."""
    payload = event("invoice.paid", {"id": f"in_{uuid4().hex}", "customer": "cus_x"})
    body = orjson.dumps(payload)
    headers = {"stripe-signature": signature(body), "content-type": "application/json"}
    started = time.perf_counter()
    response = await client.post("/stripe/webhook", content=body, headers=headers)
    took = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return took


async def _until_sent(outbox: AsyncEngine, redis: Redis, queue: str, jobs: int) -> None:
    """Wait until billing's outbox is empty and the queue holds ``jobs`` jobs: every delivery's
    job sent, so the server's CPU counted includes sending them."""
    while True:
        async with outbox.connect() as connection:
            waiting = await connection.scalar(text("select count(*) from outbox.messages"))
        if not waiting and await redis.zcard(queue) >= jobs:
            return
        await asyncio.sleep(0.05)


async def _started(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    while server.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/health")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"vetrai subgraph billing exited with {server.returncode}")


async def webhook_ack(settings: PlatformSettings) -> None:
    """Deliveries to ``vetrai subgraph billing`` in its own process, one at a time and
    ``CONCURRENT`` at a time: latency to the answer, and CPU per delivery of the server and of
    the outbox relay (another process, as in the worker) until every job is on the queue."""
    assert settings.core.redis_url
    port = _free_port()
    environment = _environment(settings)
    command = [sys.executable, "-m", "vetrai", "subgraph", "billing", "--port", str(port)]
    # its log (a line per request, as in production) is written, then dropped
    server = subprocess.Popen(  # noqa: S603, ASYNC220
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    relay = subprocess.Popen([*BENCH, "relay"], env=environment)  # noqa: S603, ASYNC220
    outbox = create_async_engine(async_url(settings.core.login_url("billing")))
    redis = Redis.from_url(settings.core.redis_url)
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
            await _started(client, server)
            processes = [psutil.Process(server.pid), psutil.Process(relay.pid)]
            sent = WARM_UP
            for _ in range(WARM_UP):
                await _delivery(client)
            for concurrency in (1, CONCURRENT):
                used = [_cpu_seconds(p) for p in processes]
                times: list[float] = []
                for _ in range(EVENTS // concurrency):
                    times += await asyncio.gather(*(_delivery(client) for _ in range(concurrency)))
                sent += len(times)
                await _until_sent(outbox, redis, settings.core.queue_name, sent)
                cpu = [
                    (_cpu_seconds(p) - u) / len(times) * 1000
                    for p, u in zip(processes, used, strict=True)
                ]
                name = f"webhook ack, {concurrency} at a time"
                print(
                    f"{_figures(name, times)}; CPU per delivery: server {cpu[0]:.1f} ms,"
                    f" relay {cpu[1]:.1f} ms"
                )
    finally:
        for process in (server, relay):
            process.terminate()
            await asyncio.to_thread(process.wait)
        await redis.aclose()
        await outbox.dispose()


def relay() -> None:
    """The worker's outbox relay alone, on the database and queue of the environment, until
    SIGTERM."""
    settings = with_logins(load_settings())
    assert settings.core.redis_url

    async def run() -> None:
        db = Database(settings.core.login_url(RELAY))
        redis = Redis.from_url(settings.core.redis_url or "")
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await Relay(db, redis, settings.core.queue_name).run(stop)
        await redis.aclose()
        await db.close()

    asyncio.run(run())


async def preview_latency(settings: PlatformSettings, api_base: str) -> None:
    gateway = StripeGateway(SECRET_KEY, api_base)
    await sync_plans(gateway, catalogue())
    assert settings.core.redis_url
    db = Database(settings.core.login_url("billing"))
    redis = Redis.from_url(settings.core.redis_url)
    service = BillingService(db, redis, settings, gateway)
    caller = Caller(user_id=uuid4(), org_id=uuid4(), roles=frozenset({"owner"}))
    assert caller.org_id
    try:
        await service.start_subscription(caller, caller.org_id, "pro", "pm_card_visa")
        times = []
        for _ in range(PREVIEWS):
            started = time.perf_counter()
            await service.preview_plan_change(caller, caller.org_id, "team")
            times.append((time.perf_counter() - started) * 1000)
        print(_figures("invoice preview pro -> team (test server)", times))
    finally:
        await redis.aclose()
        await db.close()


async def bench(stack_settings: PlatformSettings) -> None:
    assert stack_settings.core.database_url
    name = f"bench_{secrets.token_hex(3)}"
    url = await create_database(stack_settings.core.database_url, name)
    settings = on_database(stack_settings, name).replace(
        queue_name=f"vetrai:bench:{secrets.token_hex(3)}",
        stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
    )
    await asyncio.to_thread(migrate, url, all_migrations(), logins(settings))
    db = Database(settings.core.login_url("billing"))
    try:
        await empty_transactions(db)  # for scale: the machine's load shows here first
    finally:
        await db.close()
    await webhook_ack(settings)
    server = await asyncio.to_thread(acquire, settings.core.data_dir.resolve(), STRIPE)
    try:
        await preview_latency(settings, server.url)
    finally:
        server.release()


def main() -> None:
    if sys.argv[1:] == ["relay"]:
        relay()
        return
    run_on_stack(bench)


if __name__ == "__main__":
    main()

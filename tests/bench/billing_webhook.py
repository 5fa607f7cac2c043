"""Billing's answers on this machine: the webhook's acknowledgement (signature checked, event and
its job stored in one transaction), sequential and ten at a time, and the latency of a plan
change's invoice preview against the Stripe-compatible test server; an empty transaction's
time first, for scale.

Run with `.venv/bin/python -m tests.bench.billing_webhook` from the repository root (embedded
PostgreSQL, Redis and the test server under a temporary folder); not part of CI.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from uuid import uuid4

import httpx
import orjson
from pydantic import SecretStr
from redis.asyncio import Redis

from core.caller import Caller
from subgraphs.billing.command import sync_plans
from subgraphs.billing.gateway import StripeGateway
from subgraphs.billing.plans import catalogue
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database
from subgraphs.kernel.migrations import migrate
from tests.bench.billing_ledger import empty_transactions
from tests.bench.stack import run_on_stack
from tests.subgraphs.billing.builders import WEBHOOK_SECRET, event, signature
from vetrai.devstack import create_database, on_database
from vetrai.embedded import acquire
from vetrai.embedded_stripe import SECRET_KEY, STRIPE
from vetrai.platform import all_migrations, domain, logins
from vetrai.settings import PlatformSettings

EVENTS = 400
CONCURRENT = 10
PREVIEWS = 30


def _figures(name: str, times: list[float]) -> str:
    times = sorted(times)
    p99 = times[max(0, int(len(times) * 0.99) - 1)]
    return f"{name}: median {statistics.median(times):.1f} ms, p99 {p99:.1f} ms ({len(times)})"


async def webhook_ack(settings: PlatformSettings) -> None:
    app = domain("billing").create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing") as client:

        async def post() -> float:
            payload = event("invoice.paid", {"id": f"in_{uuid4().hex}", "customer": "cus_x"})
            body = orjson.dumps(payload)
            headers = {"stripe-signature": signature(body), "content-type": "application/json"}
            started = time.perf_counter()
            response = await client.post("/stripe/webhook", content=body, headers=headers)
            took = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text
            return took

        await post()  # warm the pool
        print(_figures("webhook ack, one at a time", [await post() for _ in range(EVENTS)]))
        concurrent: list[float] = []
        for _ in range(EVENTS // CONCURRENT):
            concurrent += await asyncio.gather(*(post() for _ in range(CONCURRENT)))
        print(_figures(f"webhook ack, {CONCURRENT} at a time", concurrent))
    await app.state.runtime.db.close()
    await app.state.runtime.redis.aclose()


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
    run_on_stack(bench)


if __name__ == "__main__":
    main()

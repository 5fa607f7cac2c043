"""Billing fixtures: the Stripe-compatible test server (the embedded one, unless
STRIPE_SECRET_KEY points the suite at Stripe's test mode), the plans synced to it, the billing
subgraph served over HTTP so the server's webhooks reach it, and signed events built from
Stripe's shapes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from subgraphs.billing.gateway import gateway_for
from subgraphs.billing.plans import catalogue
from tests.conftest import WORKER_DATA, SignedClient, served, subgraph_client
from tests.subgraphs.billing.builders import PREVIOUS_WEBHOOK_SECRET, WEBHOOK_SECRET
from vetrai.embedded import Lease, acquire
from vetrai.embedded_stripe import SECRET_KEY, STRIPE, register_webhook
from vetrai.settings import PlatformSettings


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[Lease | None]:
    """The embedded test server, or None when STRIPE_SECRET_KEY names Stripe's test mode."""
    if os.environ.get("STRIPE_SECRET_KEY"):
        yield None
        return
    lease = acquire(WORKER_DATA.resolve(), STRIPE)  # its webhooks reach this worker's app
    yield lease
    lease.release()


@pytest.fixture(scope="session")
async def billing_settings(
    settings: PlatformSettings, stripe_server: Lease | None
) -> PlatformSettings:
    if stripe_server is None:
        key, base = os.environ["STRIPE_SECRET_KEY"], os.environ.get("STRIPE_API_BASE")
    else:
        key, base = SECRET_KEY, stripe_server.url
    configured = settings.replace(
        stripe_secret_key=SecretStr(key),
        stripe_api_base=base,
        stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
        stripe_webhook_previous_secret=SecretStr(PREVIOUS_WEBHOOK_SECRET),
    )
    gateway = gateway_for(configured.billing)
    assert gateway is not None
    for plan in catalogue().plans:
        if not plan.is_free:
            await gateway.sync_plan(plan)
    return configured


@pytest.fixture(scope="session")
async def billing(billing_settings: PlatformSettings, worker: None) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("billing", billing_settings):
        yield client


@pytest.fixture(scope="session")
async def webhook_url(billing: SignedClient, stripe_server: Lease | None) -> AsyncIterator[str]:
    """The billing app on a real port, registered with the test server for its events."""
    app = billing.client._transport.app  # type: ignore[attr-defined]
    async with served(app) as port:
        url = f"http://127.0.0.1:{port}/stripe/webhook"
        if stripe_server is not None:
            await asyncio.to_thread(register_webhook, stripe_server.url, url, WEBHOOK_SECRET)
        yield url

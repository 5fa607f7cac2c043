"""Billing fixtures: the Stripe-compatible test server (started here unless STRIPE_SECRET_KEY
points the suite at Stripe's test mode), the plans synced to it, the billing subgraph served
over HTTP so the server's webhooks reach it, and signed events built from Stripe's shapes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from subgraphs.billing.app import gateway_for
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.settings import Settings
from tests.conftest import Subgraph, served, subgraph_client
from tests.subgraphs.billing.helpers import PREVIOUS_WEBHOOK_SECRET, WEBHOOK_SECRET
from vetrai.embedded_stripe import EmbeddedStripe, register_webhook, start_embedded_stripe


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[EmbeddedStripe | None]:
    """The embedded test server, or None when STRIPE_SECRET_KEY names Stripe's test mode."""
    if os.environ.get("STRIPE_SECRET_KEY"):
        yield None
        return
    server = start_embedded_stripe()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def billing_settings(settings: Settings, stripe_server: EmbeddedStripe | None) -> Settings:
    if stripe_server is None:
        key, base = os.environ["STRIPE_SECRET_KEY"], os.environ.get("STRIPE_API_BASE")
    else:
        key, base = stripe_server.secret_key, stripe_server.url
    configured = settings.model_copy(
        update={
            "stripe_secret_key": SecretStr(key),
            "stripe_api_base": base,
            "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "stripe_webhook_previous_secret": SecretStr(PREVIOUS_WEBHOOK_SECRET),
        }
    )
    gateway = gateway_for(configured)
    assert gateway is not None
    for plan in catalogue().plans:
        if not plan.is_free:
            await gateway.sync_plan(plan)
    return configured


@pytest.fixture(scope="session")
async def billing(billing_settings: Settings, worker: None) -> AsyncIterator[Subgraph]:
    async for client in subgraph_client("billing", billing_settings):
        yield client


@pytest.fixture(scope="session")
async def webhook_url(
    billing: Subgraph, stripe_server: EmbeddedStripe | None
) -> AsyncIterator[str]:
    """The billing app on a real port, registered with the test server for its events."""
    app = billing.client._transport.app  # type: ignore[attr-defined]
    async with served(app) as port:
        url = f"http://127.0.0.1:{port}/stripe/webhook"
        if stripe_server is not None:
            await asyncio.to_thread(register_webhook, stripe_server, url, WEBHOOK_SECRET)
        yield url

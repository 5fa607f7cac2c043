"""The billing subgraph (port 8004): its schema, migrations and ASGI app, with Stripe's webhook
route ``POST /stripe/webhook``."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route

from subgraphs.billing.gateway import StripeGateway
from subgraphs.billing.plans import catalogue
from subgraphs.billing.schema import schema
from subgraphs.billing.service import BillingService
from subgraphs.billing.webhooks import WEBHOOK_PATH, receive
from subgraphs.kernel.app import Runtime, create_subgraph_app
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.kernel.settings import Settings

MIGRATIONS = MigrationSet("billing", Path(__file__).parent / "migrations")

__all__ = ["MIGRATIONS", "create_app", "gateway_for", "schema"]


def gateway_for(settings: Settings) -> StripeGateway | None:
    """The Stripe client the settings describe; None without a key (billing then answers
    BILLING_PROVIDER_UNAVAILABLE)."""
    key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    if not key:
        return None
    return StripeGateway(key, settings.stripe_api_base or None)


def create_app(settings: Settings) -> Starlette:
    gateway = gateway_for(settings)

    def services(runtime: Runtime) -> BillingService:
        return BillingService(runtime.db, runtime.redis, catalogue(), gateway)

    return create_subgraph_app(
        "billing",
        schema,
        settings,
        services,
        routes=[Route(WEBHOOK_PATH, receive, methods=["POST"])],
    )

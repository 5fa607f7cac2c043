"""The billing subgraph (port 8004): its schema, services, migrations and jobs, with Stripe's
webhook route ``POST /stripe/webhook``."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from subgraphs.billing.contract import WEBHOOK_PATH
from subgraphs.billing.gateway import gateway_for
from subgraphs.billing.schema import schema
from subgraphs.billing.service import BillingService
from subgraphs.billing.settings import Settings
from subgraphs.billing.tasks import JOBS
from subgraphs.billing.webhooks import receive
from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet


def services(runtime: Runtime, settings: Settings) -> BillingService:
    return BillingService(runtime.db, runtime.redis, settings, gateway_for(settings.billing))


DOMAIN = Domain(
    name="billing",
    port=8004,
    schema=schema,
    services=services,
    migrations=MigrationSet("billing", Path(__file__).parent / "migrations"),
    routes=[Route(WEBHOOK_PATH, receive, methods=["POST"])],
    jobs=JOBS,
    # Stripe delivers events in bursts (ten at once in the suite and the benchmark): each finds a
    # kept connection rather than opening one for a single statement.
    pool_size=10,
)

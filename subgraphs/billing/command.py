"""``vetrai billing``: operator commands of billing. ``sync-plans`` creates or updates each paid
plan's Stripe Product and Plan from ``plans.yaml``, a Billing Meter per meter and a metered Price
per plan's overage, then gives each live subscription its plan's overage Prices (running it
again changes nothing; a server without meters skips them);
``replay-events --since`` applies the Stripe events billing missed since then (an outage, a
lost delivery), listing them; events already applied change nothing."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import uuid4

if TYPE_CHECKING:  # the command line builds its parser from this module without loading billing
    from subgraphs.billing.gateway import StripeGateway
    from subgraphs.billing.plans import Catalogue
    from subgraphs.billing.settings import Settings


def _moment(value: str) -> datetime:
    """An ISO day or time; UTC unless it names its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO day or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "sync-plans",
        help="create or update the plans' Stripe Products, Plans, Meters and Prices, and give"
        " live subscriptions their plan's overage Prices",
    )
    replay = actions.add_parser("replay-events", help="apply the Stripe events billing missed")
    replay.add_argument(
        "--since",
        required=True,
        type=_moment,
        help="from this ISO day or time (UTC unless given), e.g. 2026-12-01T09:30",
    )


async def sync_plans(gateway: StripeGateway, plans: Catalogue) -> list[tuple[str, str]]:
    """Each paid plan's key and Stripe Plan id, then each meter's event name and Meter id
    (none without meters), once they exist in Stripe."""
    synced = [(p.key, await gateway.sync_plan(p)) for p in plans.plans if not p.is_free]
    for event_name in sorted(plans.meters):
        meter = await gateway.sync_meter(event_name)
        if meter is not None:
            synced.append((f"meter {event_name}", meter))
    return synced


async def reconcile_overage(gateway: StripeGateway, plans: Catalogue) -> list[tuple[str, str]]:
    """Each subscription given (or relieved of) overage Prices, with its plan's key, once the
    plans are synced: subscriptions made before their plan's overage Price existed carry it
    from now on, not from their next plan change."""
    run, changed = f"sync-plans:{uuid4()}", []
    for plan in plans.plans:
        if not plan.is_free:
            changed += [(s, plan.key) for s in await gateway.reconcile_overage(plan, run)]
    return changed


async def replay_events(
    settings: Settings, gateway: StripeGateway, since: datetime
) -> list[tuple[str, str]]:
    """The ids and types of the events missed since ``since``, once applied."""
    from redis.asyncio import Redis

    from subgraphs.billing.service import BillingService
    from subgraphs.kernel.db import Database

    url = settings.core.login_url("billing")
    assert settings.core.redis_url  # noqa: S101 - the stack resolves it before commands run
    db, redis = Database(url), Redis.from_url(settings.core.redis_url)
    try:
        service = BillingService(db, redis, settings, gateway)
        events = await gateway.events_since(int(since.timestamp()))
        return await service.replay_events(events)
    finally:
        await redis.aclose()
        await db.close()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from subgraphs.billing.gateway import ProviderUnavailable, gateway_for
    from subgraphs.billing.plans import catalogue

    gateway = gateway_for(settings.billing)
    if gateway is None:
        print("vetrai billing: STRIPE_SECRET_KEY: not set")
        return 2
    try:
        if args.action == "replay-events":
            missed = asyncio.run(replay_events(settings, gateway, args.since))
            for event_id, kind in missed:
                print(f"{event_id} {kind}")
            print(f"{len(missed)} missed events applied")
            return 0
        synced = asyncio.run(sync_and_reconcile(gateway, catalogue()))
    except ProviderUnavailable as exc:
        print(f"vetrai billing: Stripe cannot be reached ({exc})")
        return 1
    for key, plan_id in synced:
        print(f"{key}: {plan_id}")
    return 0


async def sync_and_reconcile(gateway: StripeGateway, plans: Catalogue) -> list[tuple[str, str]]:
    synced = await sync_plans(gateway, plans)
    reconciled = await reconcile_overage(gateway, plans)
    return synced + [(s, f"overage prices of {key}") for s, key in reconciled]

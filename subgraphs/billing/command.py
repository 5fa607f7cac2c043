"""``vetrai billing``: operator commands of billing (``sync-plans``: create or update each paid
plan's Stripe Product and Plan from ``plans.yaml``; running it again changes nothing)."""

from __future__ import annotations

import argparse
import asyncio

from subgraphs.billing.gateway import ProviderUnavailable, StripeGateway, gateway_for
from subgraphs.billing.plans import Catalogue, catalogue
from subgraphs.billing.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("sync-plans", help="create or update the plans' Stripe Products and Plans")


async def sync_plans(gateway: StripeGateway, plans: Catalogue) -> list[tuple[str, str]]:
    """Each paid plan's key and Stripe Plan id, once they exist in Stripe."""
    return [(p.key, await gateway.sync_plan(p)) for p in plans.plans if not p.is_free]


def run(args: argparse.Namespace, settings: Settings) -> int:
    gateway = gateway_for(settings.billing)
    if gateway is None:
        print("vetrai billing: STRIPE_SECRET_KEY: not set")
        return 2
    try:
        synced = asyncio.run(sync_plans(gateway, catalogue()))
    except ProviderUnavailable as exc:
        print(f"vetrai billing: Stripe cannot be reached ({exc})")
        return 1
    for key, plan_id in synced:
        print(f"{key}: {plan_id}")
    return 0

"""``vetrai billing sync-plans``: every paid plan gets one Stripe Product and Plan, found again
by metadata and id, so running it again creates nothing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from subgraphs.billing.command import sync_plans
from subgraphs.billing.gateway import PLAN_METADATA, StripeGateway, gateway_for
from subgraphs.billing.plans import catalogue, read_catalogue
from vetrai.embedded import acquire
from vetrai.embedded_stripe import SECRET_KEY, STRIPE
from vetrai.settings import PlatformSettings


async def _ours(gateway: StripeGateway) -> list[str]:
    products = await gateway.client.v1.products.list_async(params={"limit": 100})
    return sorted(
        p.to_dict()["metadata"][PLAN_METADATA]
        for p in products.data
        if PLAN_METADATA in p.to_dict().get("metadata", {})
    )


async def test_syncing_twice_makes_each_product_and_plan_once(
    billing_settings: PlatformSettings,
) -> None:
    gateway = gateway_for(billing_settings.billing)
    assert gateway is not None
    first = await sync_plans(gateway, catalogue())
    again = await sync_plans(gateway, catalogue())
    assert (
        first
        == again
        == [
            ("pro", "vetrai-pro-month-2900usd"),
            ("pro_yearly", "vetrai-pro_yearly-year-29000usd"),
            ("team", "vetrai-team-month-9900usd"),
            ("business", "vetrai-business-month-29900usd"),
        ]
    )
    assert await _ours(gateway) == ["business", "pro", "pro_yearly", "team"]
    plan = await gateway.client.v1.plans.retrieve_async("vetrai-team-month-9900usd")
    assert (plan.amount, plan.currency, plan.interval) == (9900, "usd", "month")


async def test_the_command_syncs_against_the_configured_server(tmp_path: Path) -> None:
    server = await asyncio.to_thread(acquire, tmp_path, STRIPE)
    try:
        env = {**os.environ, "STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_API_BASE": server.url}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "vetrai",
            "billing",
            "sync-plans",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
    finally:
        server.release()
    assert process.returncode == 0, output.decode()
    assert output.decode().splitlines() == [
        "the provider has no billing meters or prices: usage is not billed",  # said once
        "pro: vetrai-pro-month-2900usd",
        "pro_yearly: vetrai-pro_yearly-year-29000usd",
        "team: vetrai-team-month-9900usd",
        "business: vetrai-business-month-29900usd",
    ]


async def test_the_command_without_a_key_says_which_setting_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "vetrai",
        "billing",
        "sync-plans",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 2
    assert "STRIPE_SECRET_KEY" in output.decode()


def test_a_catalogue_with_a_duplicate_or_malformed_plan_is_refused(tmp_path: Path) -> None:
    plans = tmp_path / "plans.yaml"
    free = (
        "{key: free, name: Free, interval: month, price_cents: 0, currency: usd,"
        " trial_days: 0, grace_days: 0}"
    )
    plans.write_text(f"plans: [{free}, {free}]")
    with pytest.raises(ValidationError, match="unique"):
        read_catalogue(plans)
    plans.write_text(f"plans: [{free.replace('month', 'week')}]")
    with pytest.raises(ValidationError, match="interval"):
        read_catalogue(plans)

"""``vetrai billing replay-events --since``: the test server's events list, read back; what
billing missed (never received, or never applied) is applied and listed, and replaying what
was applied changes nothing."""

from __future__ import annotations

import argparse
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.billing.command import add_arguments, replay_events
from subgraphs.billing.gateway import StripeGateway, gateway_for
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import applied, owner, until
from tests.subgraphs.billing.test_subscriptions import start
from vetrai.settings import PlatformSettings


async def _stored(owner_engine: AsyncEngine, ids: list[str]) -> list[tuple[str, bool]]:
    async with owner_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "select id, applied_at is not null from billing.webhook_events"
                " where id = any(:ids) order by id"
            ),
            {"ids": ids},
        )
    return [(r[0], r[1]) for r in rows]


async def _all_applied(owner_engine: AsyncEngine, ids: list[str]) -> bool:
    return all([await applied(owner_engine, i) for i in ids])


@pytest.fixture
def gateway(billing_settings: PlatformSettings) -> StripeGateway:
    found = gateway_for(billing_settings.billing)
    assert found is not None
    return found


async def test_missed_events_are_applied_once_and_a_replay_changes_nothing(
    billing: SignedClient,
    billing_settings: PlatformSettings,
    gateway: StripeGateway,
    owner_engine: AsyncEngine,
    webhook_url: str,
) -> None:
    since = int(time.time())
    caller = owner()
    await start(billing, caller)
    events = await gateway.events_since(since)
    ours = [e["id"] for e in events]
    assert "customer.subscription.created" in {e["type"] for e in events}
    # Every event is delivered to the registered webhook, once: wait for all of them.
    await until(lambda: _all_applied(owner_engine, ours), "the deliveries applied")
    moment = _moment(since)
    assert await replay_events(billing_settings, gateway, moment) == []

    lost: dict[str, Any] = next(e for e in events if e["type"] == "customer.subscription.created")
    async with owner_engine.begin() as connection:  # an outage: never received
        await connection.execute(
            text("delete from billing.webhook_events where id = :id"), {"id": lost["id"]}
        )
    before = await _stored(owner_engine, ours)
    replayed = await replay_events(billing_settings, gateway, moment)
    assert replayed == [(lost["id"], "customer.subscription.created")]
    assert await applied(owner_engine, lost["id"])
    after = await _stored(owner_engine, ours)
    assert sorted([*before, (lost["id"], True)]) == after == sorted((i, True) for i in ours)
    assert await replay_events(billing_settings, gateway, moment) == []
    assert await _stored(owner_engine, ours) == after


def _moment(epoch: int) -> Any:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return parser.parse_args(["replay-events", "--since", stamp]).since


def test_since_must_be_an_iso_day_or_time(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["replay-events", "--since", "yesterday"])
    assert "not an ISO day or time" in capsys.readouterr().err
    day = parser.parse_args(["replay-events", "--since", "2026-12-01"]).since
    assert (day.isoformat()) == "2026-12-01T00:00:00+00:00"

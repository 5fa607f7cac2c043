"""The spend cap: an owner caps what a month's overage may cost; billing sends the router, with
the entitlements, the month's requests at which the cap is reached (the router refuses past
them with SPEND_CAP_REACHED) and announces the change; readers see it and cannot change it."""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis

from core.caller import Caller
from router.ratelimit import usage_of
from subgraphs.billing.contract import (
    PLAN_CHANGED_CHANNEL,
    REQUESTS_PER_MONTH,
    REQUESTS_SPEND_CAP,
)
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import owner, until
from tests.subgraphs.billing.test_subscriptions import org_ref, start
from vetrai.settings import PlatformSettings

SET_CAP = """mutation($org: ID!, $cents: Int) { setSpendCap(organizationId: $org,
  amountCents: $cents) { spendCapCents errors { code field } } }"""
READ = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  billing { spendCapCents } entitlements { feature enabled limit } } } }"""
TEAM_INCLUDED = 10_000_000  # requests a month; each beyond costs 0.001 cents


async def set_cap(billing: SignedClient, caller: Caller, cents: int | None) -> dict[str, Any]:
    variables = {"org": str(caller.org_id), "cents": cents}
    found: dict[str, Any] = (await billing.run(SET_CAP, variables, caller))["setSpendCap"]
    return found


async def _cap_of(billing: SignedClient, caller: Caller) -> tuple[int | None, int | None]:
    found = (await billing.run(READ, org_ref(caller), caller))["_entities"][0]
    limit = next(
        (e["limit"] for e in found["entitlements"] if e["feature"] == REQUESTS_SPEND_CAP), None
    )
    return found["billing"]["spendCapCents"], limit


async def test_a_cap_becomes_the_requests_it_pays_for_and_is_announced(
    billing: SignedClient, settings: PlatformSettings
) -> None:
    caller = owner()
    assert (await start(billing, caller, "team"))["errors"] == []
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    announcements = redis.pubsub()
    await announcements.subscribe(PLAN_CHANGED_CHANNEL)
    try:
        assert await set_cap(billing, caller, 500) == {"spendCapCents": 500, "errors": []}

        async def announced() -> dict[str, Any] | None:
            message = await announcements.get_message(ignore_subscribe_messages=True, timeout=0.1)
            found = orjson.loads(message["data"]) if message else None
            return found if found and found["org_id"] == str(caller.org_id) else None

        assert await until(announced, "the cap announced") == {
            "org_id": str(caller.org_id),
            "plan": "team",
        }
    finally:
        await announcements.aclose()
        await redis.aclose()
    # $5 pays for 500 000 requests beyond the included ones
    assert await _cap_of(billing, caller) == (500, TEAM_INCLUDED + 500_000)
    assert (await set_cap(billing, caller, 0))["errors"] == []
    assert await _cap_of(billing, caller) == (0, TEAM_INCLUDED)
    assert await set_cap(billing, caller, None) == {"spendCapCents": None, "errors": []}
    assert await _cap_of(billing, caller) == (None, None)


async def test_a_cap_on_a_plan_whose_overage_is_free_limits_nothing(
    billing: SignedClient,
) -> None:
    caller = owner()  # the free plan: past its quota requests are refused, never charged
    assert (await set_cap(billing, caller, 100))["errors"] == []
    assert await _cap_of(billing, caller) == (100, None)


async def test_bad_caps_and_callers_are_refused_and_change_nothing(billing: SignedClient) -> None:
    caller = owner()
    assert (await set_cap(billing, caller, 300))["errors"] == []
    for cents in (-1, 10**8 + 1):
        refused = await set_cap(billing, caller, cents)
        assert refused == {
            "spendCapCents": None,
            "errors": [{"code": "INVALID_INPUT", "field": "amountCents"}],
        }
    member = Caller(user_id=caller.user_id, org_id=caller.org_id, roles=frozenset({"member"}))
    assert (await set_cap(billing, member, 1))["errors"] == [{"code": "FORBIDDEN", "field": None}]
    stranger = owner()
    elsewhere = await billing.run(SET_CAP, {"org": str(caller.org_id), "cents": 1}, stranger)
    assert [e["code"] for e in elsewhere["setSpendCap"]["errors"]] == ["NOT_FOUND"]
    assert (await _cap_of(billing, member))[0] == 300  # readers see it
    assert (await _cap_of(billing, caller))[0] == 300


def test_the_router_holds_an_organization_to_the_tighter_of_its_quota_and_cap() -> None:
    org = owner().org_id

    def usage(soft: bool, **limits: int) -> tuple[int | None, bool, bool]:
        caller = Caller(org_id=org, limits=limits)
        found = usage_of(caller, soft)
        assert found is not None
        return found.quota, found.hard, found.capped

    month, cap = REQUESTS_PER_MONTH, REQUESTS_SPEND_CAP
    assert usage(False, **{month: 100}) == (100, True, False)
    assert usage(False, **{month: 100, cap: 150}) == (100, True, False)  # the quota binds
    assert usage(False, **{month: 100, cap: 80}) == (80, True, True)
    assert usage(True, **{month: 100, cap: 150}) == (150, True, True)  # soft: the cap refuses
    assert usage(True, **{month: 100}) == (100, False, False)

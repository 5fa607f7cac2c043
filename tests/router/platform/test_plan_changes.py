"""A plan bought or changed through the router applies at the router as soon as billing announces
it: the new per-minute limit, the new features, the new counts and the plan's kind of quota."""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from subgraphs.billing.contract import PLAN_CHANGED_CHANNEL, monthly_requests_key
from tests.router.platform.conftest import RouterClient, limited_as, until_limited
from tests.router.platform.test_plans import (
    CALENDAR,
    CUSTOM_CSS,
    DRAFT,
    ORGANIZATION,
    SLA_POLICY,
    as_owner,
)
from vetrai.settings import PlatformSettings

CHANGE = """mutation($org: ID!, $plan: String!) {
  changePlan(input: {organizationId: $org, planKey: $plan}) { errors { code } } }"""


async def test_a_bought_and_a_changed_plan_apply_at_the_router_at_once(
    router: RouterClient, settings: PlatformSettings
) -> None:
    token, org = await router.owner_of_new_organization()
    assert await limited_as(router, org, token, "free")
    await router.subscribe(token, org, "pro")

    calendar = (await router.data(CALENDAR, {"org": org}, **as_owner(token)))[
        "createBusinessCalendar"
    ]["calendar"]
    variables = {"org": org, "calendar": calendar["id"]}
    created = [
        (await router.data(SLA_POLICY, variables, **as_owner(token)))["createSlaPolicy"]["errors"]
        for _ in range(4)
    ]
    # Pro allows three SLA policies: support counts them from the signed caller.
    assert created == [[], [], [], [{"code": "SLA_POLICY_LIMIT_REACHED"}]]

    changed = await router.data(CHANGE, {"org": org, "plan": "team"}, **as_owner(token))
    assert changed["changePlan"] == {"errors": []}
    await until_limited(router, org, token, "team")
    drafted = await router.data(DRAFT, {"org": org}, **as_owner(token))
    assert drafted["updateThemeDraft"]["errors"] == []
    css = await router.data(CUSTOM_CSS, {"id": org}, **as_owner(token))
    assert isinstance(css["organization"]["themeDraft"]["customCss"], str)

    # Team's quota is soft: past its month's requests, answered with a warning.
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    try:
        await redis.set(monthly_requests_key(org, datetime.now(UTC)), 10_000_000)
        past = await router.post(ORGANIZATION, {"id": org}, **as_owner(token))
    finally:
        await redis.aclose()
    assert past.status_code == 200, past.json()
    assert past.headers["x-quota-exceeded"] == "api_requests; used=10000001; limit=10000000"


async def test_time_from_billings_announcement_to_the_router_enforcing_the_plan(
    router: RouterClient, settings: PlatformSettings
) -> None:
    """Measured, not asserted (the machine is shared): printed with ``-s``."""
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "pro")
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(PLAN_CHANGED_CHANNEL)
    loop = asyncio.get_running_loop()
    seconds = []
    try:
        for plan in ["team", "pro"] * 20:
            announced = asyncio.create_task(_announced(pubsub, org, loop))
            enforced = asyncio.create_task(_enforced(router, org, token, plan, loop))
            await asyncio.sleep(0)
            changed = await router.data(CHANGE, {"org": org, "plan": plan}, **as_owner(token))
            assert changed["changePlan"] == {"errors": []}
            seconds.append(await enforced - await announced)
    finally:
        await pubsub.aclose()
        await redis.aclose()
    assert len(seconds) == 40
    p99 = statistics.quantiles(seconds, n=100, method="inclusive")[98]
    print(
        f"plan change -> enforced: p50 {statistics.median(seconds) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms over {len(seconds)} changes"
    )


async def _announced(pubsub: PubSub, org: str, loop: asyncio.AbstractEventLoop) -> float:
    """When billing's announcement of ``org``'s plan change arrived."""
    deadline = loop.time() + 15
    while True:
        assert loop.time() < deadline, "no plan change announced"
        message = await pubsub.get_message(timeout=1)
        if message and message["type"] == "message" and org.encode() in message["data"]:
            return loop.time()


async def _enforced(
    router: RouterClient, org: str, token: str, plan: str, loop: asyncio.AbstractEventLoop
) -> float:
    """When the first answer under ``plan``'s limit arrived."""
    await until_limited(router, org, token, plan)
    return loop.time()

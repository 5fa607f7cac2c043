"""The router enforces the organization's billing plan, read from billing with its identity and
signed into the caller: the per-minute limit, the monthly quota counted beside it, the features
its fields need, and the counts subgraphs hold it to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from subgraphs.billing.contract import hourly_requests_key, monthly_requests_key
from tests.router.platform.conftest import RouterClient
from vetrai.settings import PlatformSettings

ORGANIZATION = "query($id: ID!) { organization(id: $id) { id } }"
CREATE_KEY = """mutation($org: ID!) { createApiKey(input: {organizationId: $org, name: "ci",
  scopes: ["organization:read"]}) { secret errors { code } } }"""
DRAFT = """mutation($org: ID!) { updateThemeDraft(input: {organizationId: $org, radius: 4}) {
  errors { code } } }"""
CUSTOM_CSS = "query($id: ID!) { organization(id: $id) { themeDraft { isDraft customCss } } }"
CALENDAR = """mutation($org: ID!) { createBusinessCalendar(input: {organizationId: $org,
  name: "Office", timezone: "Europe/Berlin", weeklyHours: [{weekday: 0, startMinute: 0,
  endMinute: 1440}]}) { calendar { id } errors { code } } }"""
SLA_POLICY = """mutation($org: ID!, $calendar: ID!) { createSlaPolicy(input: {
  organizationId: $org, name: "Standard", calendarId: $calendar,
  targets: [{priority: HIGH, firstResponseSeconds: 3600, resolutionSeconds: 86400}]}) {
  policy { id } errors { code } } }"""


def as_owner(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_an_organization_is_limited_per_minute_as_its_plan_says(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    response = await router.post(ORGANIZATION, {"id": org}, **as_owner(token))
    assert response.status_code == 200, response.json()
    # The free plan's api_requests_per_minute, not router.yaml's 600 for "free".
    assert response.headers["ratelimit-limit"] == "60"


async def test_the_plans_key_limit_reaches_the_keys_subgraph_in_the_signed_caller(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    created = [
        (await router.data(CREATE_KEY, {"org": org}, **as_owner(token)))["createApiKey"]
        for _ in range(3)
    ]
    # The free plan allows two keys; the setting's 25 would have allowed the third.
    assert [c["errors"] for c in created] == [[], [], [{"code": "API_KEY_LIMIT_REACHED"}]]
    assert created[2]["secret"] is None


async def test_a_field_of_a_feature_the_plan_lacks_answers_null_with_not_entitled(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    drafted = await router.data(DRAFT, {"org": org}, **as_owner(token))
    assert drafted["updateThemeDraft"]["errors"] == []
    expected = {
        "message": "The organization's plan does not include this feature.",
        "path": ["organization", "themeDraft", "customCss"],
        "extensions": {"code": "NOT_ENTITLED", "feature": "white_label"},
    }
    over_http = (await router.post(CUSTOM_CSS, {"id": org}, **as_owner(token))).json()
    assert over_http["errors"] == [expected]
    # customCss is non-null: its null takes the draft with it, as the schema says.
    assert over_http["data"] == {"organization": {"themeDraft": None}}
    over_websocket = await websocket_answer(router, CUSTOM_CSS, {"id": org}, token)
    assert over_websocket == {"type": "next", "id": "1", "payload": over_http}


async def test_a_root_field_of_a_feature_the_plan_lacks_refuses_the_operation(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    calendar = (await router.data(CALENDAR, {"org": org}, **as_owner(token)))[
        "createBusinessCalendar"
    ]["calendar"]
    variables = {"org": org, "calendar": calendar["id"]}
    refused = {
        "message": "The organization's plan does not include this feature.",
        "path": ["createSlaPolicy"],
        "extensions": {"code": "NOT_ENTITLED", "feature": "sla_policies"},
    }
    over_http = await router.post(SLA_POLICY, variables, **as_owner(token))
    # Support was not called: it would have answered a payload (the free plan allows none).
    assert (over_http.status_code, over_http.json()) == (200, {"data": {}, "errors": [refused]})
    over_websocket = await websocket_answer(router, SLA_POLICY, variables, token)
    assert over_websocket == {"type": "error", "id": "1", "payload": [refused]}


async def test_requests_are_counted_per_hour_and_month_and_refused_past_a_hard_quota(
    router: RouterClient, settings: PlatformSettings
) -> None:
    token, org = await router.owner_of_new_organization()
    now = datetime.now(UTC)
    hour, month = hourly_requests_key(org, now), monthly_requests_key(org, now)
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    try:
        before = int(await redis.get(month) or 0)
        assert (await router.post(ORGANIZATION, {"id": org}, **as_owner(token))).status_code == 200
        assert int(await redis.get(month) or 0) == before + 1
        assert int(await redis.get(hour) or 0) >= 1
        assert 2 * 86400 < await redis.ttl(hour) <= 3 * 86400
        assert 39 * 86400 < await redis.ttl(month) <= 40 * 86400

        await redis.set(month, 9_999, keepttl=True)  # the free plan's 10 000th is next
        last = await router.post(ORGANIZATION, {"id": org}, **as_owner(token))
        assert last.status_code == 200
        assert "x-quota-exceeded" not in last.headers
        past = await router.post(ORGANIZATION, {"id": org}, **as_owner(token))
        assert past.status_code == 429
        assert past.json()["errors"][0]["extensions"] == {
            "code": "QUOTA_EXCEEDED",
            "meter": "api_requests",
        }
        # Refused requests are not counted: the ledger bills what was served.
        assert int(await redis.get(month) or 0) == 10_000
        # Billing's own operations still run, uncounted: the owner can upgrade.
        upgrade = await router.post("query { plans { key } }", {}, **as_owner(token))
        assert upgrade.status_code == 200
        assert "free" in {plan["key"] for plan in upgrade.json()["data"]["plans"]}
        assert int(await redis.get(month) or 0) == 10_000
    finally:
        await redis.aclose()


async def websocket_answer(
    router: RouterClient, query: str, variables: dict[str, Any], token: str
) -> dict[str, Any]:
    """The first answer to ``query`` over graphql-transport-ws."""
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": as_owner(token)}
        await ws.send(orjson.dumps(init).decode())
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        payload = {"query": query, "variables": variables}
        await ws.send(orjson.dumps({"type": "subscribe", "id": "1", "payload": payload}).decode())
        while True:
            message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] != "ping":
                return message

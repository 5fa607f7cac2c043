"""What the pipeline's stages count and time: every stage timed once within its request, an
organization's quota counted (and enforced) with rate limits turned off, a per-operation limit
counted per caller, and the status of each refusal made before anything runs."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from router.config import RouterConfig, Window
from subgraphs.billing.contract import monthly_requests_key
from subgraphs.keys.contract import USAGE_PATTERN
from tests.router.platform.conftest import (
    RouterClient,
    fresh_rate_limits,
    router_client,
    router_config,
)
from vetrai.settings import PlatformSettings

ORGANIZATION = "query($id: ID!) { organization(id: $id) { id } }"


def _histogram(metrics: str, name: str, labels: str) -> tuple[float, float]:
    """The count and sum of one labelled histogram series (0, 0 when it was never observed)."""
    found = []
    for part in ("count", "sum"):
        match = re.search(rf"^{name}_{part}\{{{labels}\}} (\S+)$", metrics, re.MULTILINE)
        found.append(float(match.group(1)) if match else 0.0)
    return found[0], found[1]


def _counter(metrics: str, name: str) -> float:
    match = re.search(rf"^{name}_total (\S+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_each_stage_and_the_operation_are_timed_once_within_the_request(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    async with router_client(settings, supergraph_sdl, subgraph_urls, router_config()) as router:
        started = time.perf_counter()
        answer = await router.post("query Timed { __typename }")
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200, answer.text
        metrics = (await router.client.get("/metrics")).text
    # The router runs in this process: its clock is ours, its request inside our wait.
    series = [
        *(
            ("vetrai_router_stage_seconds", f'stage="{stage}"')
            for stage in ("identify", "prepare", "rate_limit", "execute")
        ),
        ("vetrai_router_operation_seconds", 'outcome="ok"'),
    ]
    for name, labels in series:
        count, total = _histogram(metrics, name, labels)
        assert count == 1.0, (name, labels)
        assert 0.0 <= total <= elapsed, (name, labels, total, elapsed)


async def test_with_rate_limits_off_an_organizations_quota_is_still_counted_and_enforced(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    config = RouterConfig(rate_limits=fresh_rate_limits(enabled=False))
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    try:
        async with router_client(settings, supergraph_sdl, subgraph_urls, config) as router:
            token, org = await router.owner_of_new_organization()
            month = monthly_requests_key(org, datetime.now(UTC))
            bearer = f"Bearer {token}"
            before = int(await redis.get(month) or 0)
            ran = await router.post(ORGANIZATION, {"id": org}, authorization=bearer)
            assert ran.status_code == 200, ran.text
            assert "ratelimit-limit" not in ran.headers
            assert int(await redis.get(month) or 0) == before + 1

            await redis.set(month, 10_000, keepttl=True)  # the free plan's hard quota, used up
            past = await router.post(ORGANIZATION, {"id": org}, authorization=bearer)
            metrics = (await router.client.get("/metrics")).text
    finally:
        await redis.aclose()
    assert past.status_code == 429
    assert past.json()["errors"][0]["extensions"] == {
        "code": "QUOTA_EXCEEDED",
        "meter": "api_requests",
    }
    assert _counter(metrics, "vetrai_router_rate_limited") == 1.0


async def test_a_per_operation_limit_is_counted_per_caller(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    rules = fresh_rate_limits(operations={"Limited": Window(limit=1, window_seconds=60)})
    async with router_client(
        settings, supergraph_sdl, subgraph_urls, RouterConfig(rate_limits=rules)
    ) as router:
        _, token = await router.sign_up()
        limited = "query Limited { __typename }"
        anonymous = await router.post(limited)
        first = await router.post(limited, authorization=f"Bearer {token}")
        second = await router.post(limited, authorization=f"Bearer {token}")
    assert (anonymous.status_code, first.status_code, second.status_code) == (200, 200, 429)


async def test_refusals_before_anything_runs_have_their_status(router: RouterClient) -> None:
    me = "{ me { id } }"
    wrong_hash = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    missing = {"persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(b"x").hexdigest()}}
    cases = [
        ({"query": me, "extensions": wrong_hash}, {}, 400, "INVALID_SHA256_HASH"),
        ({"extensions": missing}, {}, 200, "PERSISTED_QUERY_NOT_FOUND"),
        ({"query": "{ me {"}, {}, 400, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, {}, 400, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": me, "operationName": "Nope"}, {}, 400, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": "subscription { notificationAdded { id } }"}, {}, 400, "BAD_REQUEST"),
        ({"query": me}, {"authorization": "Bearer not-a-token"}, 401, "UNAUTHENTICATED"),
    ]
    for body, headers, status, code in cases:
        answer = await router.client.post("/graphql", json=body, headers=headers)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["errors"][0]["extensions"]["code"] == code, (body, answer.text)


async def test_of_several_invalid_variables_the_first_is_named(router: RouterClient) -> None:
    query = (
        "query($a: ID!, $b: ID!) { a: organization(id: $a) { id } b: organization(id: $b) { id } }"
    )
    answer = await router.post(query, {"a": None, "b": None})
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$a" in error["message"]
    assert "$b" not in error["message"]


async def test_a_soft_quota_warns_from_the_first_request_past_it(
    router: RouterClient, settings: PlatformSettings
) -> None:
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "team")  # a soft quota of 10 000 000 requests a month
    bearer = f"Bearer {token}"
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    try:
        await redis.set(monthly_requests_key(org, datetime.now(UTC)), 9_999_999, keepttl=True)
        last = await router.post(ORGANIZATION, {"id": org}, authorization=bearer)
        past = await router.post(ORGANIZATION, {"id": org}, authorization=bearer)
    finally:
        await redis.aclose()
    assert last.status_code == 200, last.text
    assert "x-quota-exceeded" not in last.headers
    assert past.status_code == 200, past.text
    assert past.headers["x-quota-exceeded"] == "api_requests; used=10000001; limit=10000000"


async def test_a_members_request_counts_no_keys_use(
    router: RouterClient, settings: PlatformSettings
) -> None:
    token, org = await router.owner_of_new_organization()
    answer = await router.post(ORGANIZATION, {"id": org}, authorization=f"Bearer {token}")
    assert answer.status_code == 200, answer.text
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    try:
        counters = [k async for k in redis.scan_iter(USAGE_PATTERN.replace("*", f"{org}:*"))]
    finally:
        await redis.aclose()
    assert counters == []


async def test_users_outside_any_organization_and_anonymous_callers_have_their_own_windows(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    rules = fresh_rate_limits(
        users=Window(limit=7, window_seconds=60), anonymous=Window(limit=5, window_seconds=60)
    )
    async with router_client(
        settings, supergraph_sdl, subgraph_urls, RouterConfig(rate_limits=rules)
    ) as router:
        _, token = await router.sign_up()
        user = await router.post("{ me { id } }", authorization=f"Bearer {token}")
        anonymous = await router.post("{ __typename }")
    assert (user.status_code, user.headers["ratelimit-limit"]) == (200, "7")
    assert (anonymous.status_code, anonymous.headers["ratelimit-limit"]) == (200, "5")


async def test_an_organization_without_a_window_is_not_limited_per_minute(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    # Billing unreachable and no window for the organization's plan in the config.
    urls = {**subgraph_urls, "billing": "http://127.0.0.1:9/graphql"}
    config = RouterConfig(rate_limits=fresh_rate_limits(plans={}))
    async with router_client(settings, supergraph_sdl, urls, config) as router:
        token, org = await router.owner_of_new_organization()
        answer = await router.post(ORGANIZATION, {"id": org}, authorization=f"Bearer {token}")
    assert answer.status_code == 200, answer.text
    assert "ratelimit-limit" not in answer.headers

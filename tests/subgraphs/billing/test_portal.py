"""The billing portal: only an https address (or one on the platform's own origin) to come back
to, a URL from the provider's portal, and a clear code where the provider has none (the test
server), never a server error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from core.caller import Caller
from subgraphs.billing.gateway import StripeGateway
from subgraphs.billing.service import BillingService
from subgraphs.kernel.db import Database
from subgraphs.kernel.errors import Rejected
from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import owner
from tests.subgraphs.billing.test_subscriptions import codes, start
from vetrai.embedded_stripe import SECRET_KEY
from vetrai.settings import PlatformSettings

PORTAL = """mutation($org: ID!, $url: String!) {
  createBillingPortalSession(organizationId: $org, returnUrl: $url) {
  url errors { code field message } } }"""


class PortalGateway(StripeGateway):
    """The real gateway with the portal Stripe has and the test server lacks."""

    def __init__(self, api_base: str | None) -> None:
        super().__init__(SECRET_KEY, api_base)
        self.asked: list[tuple[str, str]] = []

    async def portal_url(self, customer: str, return_url: str, key: str) -> str:
        assert key.startswith("billing:")  # the mutation's command id
        self.asked.append((customer, return_url))
        return f"https://billing.stripe.test/p/session/{customer}"


async def _portal(billing: SignedClient, caller: Caller, url: str) -> dict[str, object]:
    variables = {"org": str(caller.org_id), "url": url}
    found: dict[str, object] = (await billing.run(PORTAL, variables, caller))[
        "createBillingPortalSession"
    ]
    return found


async def test_only_https_or_the_platforms_origin_is_a_return_address(
    billing: SignedClient, billing_settings: PlatformSettings
) -> None:
    caller = owner()
    assert (await start(billing, caller))["errors"] == []
    refused = [
        "http://app.example/settings",
        "javascript:alert(1)",
        "ftp://app.example/",
        "https://",
        "https://user@evil.example/",
        "/settings",
        "https://app.example/" + "a" * 2000,
    ]
    for url in refused:
        found = await _portal(billing, caller, url)
        assert (found["url"], codes(found)) == (None, ["INVALID_RETURN_URL"]), url
    own = billing_settings.core.public_url.rstrip("/") + "/settings"
    for url in ("https://app.example/settings", own):
        assert codes(await _portal(billing, caller, url)) == ["PORTAL_UNAVAILABLE"], url


async def test_without_a_subscription_or_as_a_reader_there_is_no_portal(
    billing: SignedClient,
) -> None:
    caller = owner()
    assert codes(await _portal(billing, caller, "https://app.example/")) == ["NO_SUBSCRIPTION"]
    reader = Caller(user_id=caller.user_id, org_id=caller.org_id, roles=frozenset({"member"}))
    assert codes(await _portal(billing, reader, "https://app.example/")) == ["FORBIDDEN"]


@pytest.fixture
async def service(billing_settings: PlatformSettings) -> AsyncIterator[BillingService]:
    assert billing_settings.core.redis_url
    db = Database(billing_settings.core.login_url("billing"))
    redis = Redis.from_url(billing_settings.core.redis_url)
    gateway = PortalGateway(billing_settings.billing.stripe_api_base)
    yield BillingService(db, redis, billing_settings, gateway)
    await redis.aclose()
    await db.close()


async def test_a_provider_with_a_portal_gives_its_url(
    billing: SignedClient, service: BillingService
) -> None:
    caller = owner()
    assert caller.org_id
    assert (await start(billing, caller))["errors"] == []
    url = await service.portal_url(caller, caller.org_id, "https://app.example/settings")
    gateway = service.gateway
    assert isinstance(gateway, PortalGateway)
    [(customer, back)] = gateway.asked
    assert url == f"https://billing.stripe.test/p/session/{customer}"
    assert customer.startswith("cus_")
    assert back == "https://app.example/settings"
    with pytest.raises(Rejected):  # bad input reaches no provider
        await service.portal_url(caller, caller.org_id, "http://app.example/")
    assert len(gateway.asked) == 1

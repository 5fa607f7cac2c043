"""An organization's list of keys reads each key's latest use as the router stamped it, before
the flush writes it to PostgreSQL, as a single key read does."""

from __future__ import annotations

from uuid import UUID

from redis.asyncio import Redis

from tests.conftest import SignedClient
from tests.subgraphs.keys.builders import count_use, issued, manager
from vetrai.settings import PlatformSettings

ORG_KEYS = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Organization { apiKeys { id lastUsedAt } } } }"""


async def test_an_organizations_keys_show_their_latest_use_before_the_flush(
    keys: SignedClient, settings: PlatformSettings
) -> None:
    owner = manager()
    assert owner.org_id
    assert settings.core.redis_url
    key_id, _ = await issued(keys, owner)
    organization = [{"__typename": "Organization", "id": str(owner.org_id)}]
    unused = await keys.run(ORG_KEYS, {"r": organization}, owner)
    assert unused["_entities"][0]["apiKeys"] == [{"id": key_id, "lastUsedAt": None}]
    redis = Redis.from_url(settings.core.redis_url)
    try:
        await count_use(redis, key_id=UUID(key_id), org_id=owner.org_id, rejected=False)
    finally:
        await redis.aclose()
    used = await keys.run(ORG_KEYS, {"r": organization}, owner)
    [listed] = used["_entities"][0]["apiKeys"]
    assert listed["id"] == key_id
    assert listed["lastUsedAt"] is not None

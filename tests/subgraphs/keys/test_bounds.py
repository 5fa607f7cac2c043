"""The accepting side of every key bound, keys that count toward the maximum, and rotations
serialised by their row lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.kernel.tokens import token_hash
from tests.conftest import SignedClient
from tests.subgraphs.keys.builders import ROTATE, codes, create_key, issued, manager, verify

LONGEST_GRACE = 7 * 86400


async def test_the_largest_limit_and_the_shortest_window_are_accepted(keys: SignedClient) -> None:
    created = await create_key(keys, manager(), rateLimit={"limit": 1_000_000, "windowSeconds": 1})
    assert created["errors"] == []
    assert created["apiKey"]["rateLimit"] == {"limit": 1_000_000, "windowSeconds": 1}


async def test_a_name_of_exactly_100_characters_is_accepted(keys: SignedClient) -> None:
    created = await create_key(keys, manager(), name="n" * 100)
    assert created["errors"] == []
    assert created["apiKey"]["name"] == "n" * 100


async def test_the_longest_and_the_shortest_grace_are_accepted(keys: SignedClient) -> None:
    owner = manager()
    key_id, old = await issued(keys, owner)
    longest = await keys.run(ROTATE, {"id": key_id, "grace": LONGEST_GRACE}, owner)
    assert longest["rotateApiKey"]["errors"] == []
    assert (await verify(keys, old)).status_code == 200
    none = (await keys.run(ROTATE, {"id": key_id, "grace": 0}, owner))["rotateApiKey"]
    assert none["errors"] == []
    assert (await verify(keys, longest["rotateApiKey"]["secret"])).status_code == 404
    assert (await verify(keys, none["secret"])).status_code == 200


async def _previous_secret(owner_engine: AsyncEngine, key_id: str) -> tuple[object, object]:
    """What the key's row keeps of the secret it had before its last rotation."""
    async with owner_engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "select previous_secret_hash, previous_valid_until from keys.api_keys"
                    " where id = :id"
                ),
                {"id": key_id},
            )
        ).one()
    return row[0], row[1]


async def test_a_one_second_grace_keeps_the_old_secret_and_none_keeps_nothing(
    keys: SignedClient, owner_engine: AsyncEngine
) -> None:
    owner = manager()
    key_id, old = await issued(keys, owner)
    kept = await keys.run(ROTATE, {"id": key_id, "grace": 1}, owner)
    assert kept["rotateApiKey"]["errors"] == []
    hashed, until = await _previous_secret(owner_engine, key_id)
    assert hashed == token_hash(old)
    assert until is not None
    dropped = await keys.run(ROTATE, {"id": key_id, "grace": 0}, owner)
    assert dropped["rotateApiKey"]["errors"] == []
    # Not even the hash of the replaced secret is kept once no grace needs it.
    assert await _previous_secret(owner_engine, key_id) == (None, None)


async def test_keys_that_expire_later_count_toward_the_maximum(keys: SignedClient) -> None:
    owner = manager()
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for n in range(25):
        await issued(keys, owner, name=f"k{n}", expiresAt=later)
    assert codes(await create_key(keys, owner)) == [("API_KEY_LIMIT_REACHED", None)]


async def test_expired_keys_do_not_count_toward_the_maximum(
    keys: SignedClient, owner_engine: AsyncEngine
) -> None:
    owner = manager()
    for n in range(25):
        await issued(keys, owner, name=f"k{n}")
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "update keys.api_keys set expires_at = now() - interval '1 second'"
                " where org_id = :org and name = 'k0'"
            ),
            {"org": owner.org_id},
        )
    assert (await create_key(keys, owner))["errors"] == []


async def _waiting_for_locks(owner_engine: AsyncEngine, count: int) -> None:
    query = text(
        "select count(*) from pg_stat_activity"
        " where wait_event_type = 'Lock' and query ilike '%api_keys%'"
    )
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        async with owner_engine.connect() as connection:
            if await connection.scalar(query) >= count:
                return
        assert asyncio.get_running_loop().time() < deadline, "the rotations never waited"
        await asyncio.sleep(0.02)


async def test_concurrent_rotations_take_turns_so_no_secret_is_lost(
    keys: SignedClient, owner_engine: AsyncEngine
) -> None:
    owner = manager()
    key_id, original = await issued(keys, owner)
    async with owner_engine.begin() as holder:
        # Both rotations start while the row is locked, so both have read it before either
        # writes unless they wait for the lock themselves.
        await holder.execute(
            text("select 1 from keys.api_keys where id = :id for update"), {"id": key_id}
        )
        rotations = asyncio.gather(
            *(keys.run(ROTATE, {"id": key_id, "grace": 600}, owner) for _ in range(2))
        )
        await _waiting_for_locks(owner_engine, 2)
    secrets = [r["rotateApiKey"]["secret"] for r in await rotations]
    # The later rotation keeps the earlier one's secret for the grace period, not the original.
    assert [(await verify(keys, s)).status_code for s in secrets] == [200, 200]
    assert (await verify(keys, original)).status_code == 404


async def test_old_secret_ends_with_the_key_when_the_key_expires_first(keys: SignedClient) -> None:
    owner = manager()
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    key_id, old = await issued(keys, owner, expiresAt=expires.isoformat())
    rotated = await keys.run(ROTATE, {"id": key_id, "grace": LONGEST_GRACE}, owner)
    assert rotated["rotateApiKey"]["errors"] == []
    during = (await verify(keys, old)).json()
    assert datetime.fromisoformat(during["expires_at"]) == expires

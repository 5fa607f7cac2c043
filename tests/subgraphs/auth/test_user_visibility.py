"""A user is shown only to the people who share an organization with them (and to themselves),
as auth learns the members of each organization from tenancy, never from its tables."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient
from tests.subgraphs.tenancy.builders import REMOVE, create_org, join, new_user

USERS = """query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }"""


async def seen_by(auth: SignedClient, caller: Caller, *users: Caller) -> list[UUID | None]:
    representations = [{"__typename": "User", "id": str(u.user_id)} for u in users]
    found = (await auth.run(USERS, {"r": representations}, caller))["_entities"]
    return [UUID(f["id"]) if f else None for f in found]


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.02)


async def test_users_are_shown_only_to_those_sharing_an_organization(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, bob, eve = await new_user(auth), await new_user(auth), await new_user(auth)
    org = (await create_org(tenancy, ada))["organization"]["id"]
    await create_org(tenancy, eve)
    assert await seen_by(auth, ada, ada, bob, eve) == [ada.user_id, None, None]

    await join(tenancy, owner_engine, ada, org, bob)

    async def ada_sees_bob() -> bool:
        return await seen_by(auth, ada, ada, bob, eve) == [ada.user_id, bob.user_id, None]

    await until(ada_sees_bob)
    assert await seen_by(auth, bob, ada, bob) == [ada.user_id, bob.user_id]
    assert await seen_by(auth, eve, ada, bob, eve) == [None, None, eve.user_id]
    as_key = Caller(key_id=uuid4(), org_id=UUID(org))
    assert await seen_by(auth, as_key, ada, bob, eve) == [ada.user_id, bob.user_id, None]

    await tenancy.run(REMOVE, {"org": org, "user": str(bob.user_id)}, ada)

    async def ada_no_longer_sees_bob() -> bool:
        return await seen_by(auth, ada, bob) == [None]

    await until(ada_no_longer_sees_bob)

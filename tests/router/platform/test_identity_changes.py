"""Identity changes apply at once through the router: a removed or demoted member, a deleted
organization and the API keys of a member who left stop being honoured as soon as tenancy's
announcement arrives, not when a cache expires."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.router.platform.builders import invited_member
from tests.router.platform.conftest import RouterClient

MEMBERS = "query($id: ID!) { organization(id: $id) { members { role } } }"
CREATE_KEY = """mutation($org: ID!) { createApiKey(input: {organizationId: $org, name: "ci",
  scopes: ["organization:read"]}) { secret errors { code } } }"""
CURRENT = "query { currentOrganization { id } }"


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll ``check``; well before the 30 s a cached membership used to live."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.01)


async def admin_of(
    router: RouterClient, owner_engine: AsyncEngine, owner: str, org: str
) -> tuple[str, str]:
    """A new user who joined ``org`` as an admin: their id and access token."""
    return await invited_member(router, owner_engine, owner, org, "ADMIN")


def as_member(token: str, org: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "x_organization_id": org}


def refused(
    router: RouterClient, status: int, query: str, org: str, **headers: str
) -> Callable[[], Awaitable[bool]]:
    """Whether ``query`` about ``org`` is now refused with HTTP ``status``."""

    async def check() -> bool:
        return (await router.post(query, {"id": org}, **headers)).status_code == status

    return check


async def member_action(
    router: RouterClient, owner: str, mutation: str, variables: dict[str, Any]
) -> None:
    data = await router.data(mutation, variables, authorization=f"Bearer {owner}")
    assert next(iter(data.values()))["errors"] == [], data


async def test_removed_admin_is_refused_at_once_and_their_key_stops_working(
    router: RouterClient, owner_engine: AsyncEngine, worker: None
) -> None:
    owner, org = await router.owner_of_new_organization()
    admin_id, admin = await admin_of(router, owner_engine, owner, org)
    assert (await router.data(MEMBERS, {"id": org}, **as_member(admin, org)))["organization"]
    created = await router.data(CREATE_KEY, {"org": org}, authorization=f"Bearer {admin}")
    secret = created["createApiKey"]["secret"]
    assert await router.data(CURRENT, x_api_key=secret) == {"currentOrganization": {"id": org}}

    await member_action(
        router,
        owner,
        """mutation($o: ID!, $u: ID!) { removeMember(input: {organizationId: $o, userId: $u})
        { errors { code } } }""",
        {"o": org, "u": admin_id},
    )

    await until(refused(router, 403, MEMBERS, org, **as_member(admin, org)))
    await until(refused(router, 401, CURRENT, org, x_api_key=secret))
    body = (await router.post(CURRENT, x_api_key=secret)).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_demoted_admin_loses_admin_rights_at_once(
    router: RouterClient, owner_engine: AsyncEngine, worker: None
) -> None:
    owner, org = await router.owner_of_new_organization()
    admin_id, admin = await admin_of(router, owner_engine, owner, org)
    created = await router.data(CREATE_KEY, {"org": org}, **as_member(admin, org))
    assert created["createApiKey"]["errors"] == []

    await member_action(
        router,
        owner,
        """mutation($o: ID!, $u: ID!) { changeMemberRole(input: {organizationId: $o,
        userId: $u, role: MEMBER}) { errors { code } } }""",
        {"o": org, "u": admin_id},
    )

    async def forbidden() -> bool:
        # org:manage is decided at the router from the caller's role, before keys is called
        answer = (await router.post(CREATE_KEY, {"org": org}, **as_member(admin, org))).json()
        codes = [e["extensions"]["code"] for e in answer.get("errors", [])]
        return codes == ["UNAUTHORIZED_FIELD_OR_TYPE"]

    await until(forbidden)


async def test_deleted_organization_is_refused_at_once(router: RouterClient) -> None:
    owner, org = await router.owner_of_new_organization()
    assert (await router.data(MEMBERS, {"id": org}, **as_member(owner, org)))["organization"]

    await member_action(
        router,
        owner,
        "mutation($o: ID!) { deleteOrganization(id: $o) { errors { code } } }",
        {"o": org},
    )

    await until(refused(router, 403, MEMBERS, org, **as_member(owner, org)))

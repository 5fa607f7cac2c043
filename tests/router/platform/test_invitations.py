"""An invitation through the router: only the invited address, once verified, joins with its
link; anyone else holding the link is refused and the invitation stays usable."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import unique_email
from tests.router.platform.builders import ACCEPT, invite, signed_up, verified
from tests.router.platform.conftest import RouterClient

MEMBERS = "query($id: ID!) { organization(id: $id) { members { user { id } } } }"


async def accepted_as(router: RouterClient, invitation: str, token: str) -> dict[str, object]:
    data = await router.data(ACCEPT, {"t": invitation}, authorization=f"Bearer {token}")
    payload: dict[str, object] = data["acceptInvitation"]
    return payload


async def test_only_the_invited_verified_user_joins_through_the_router(
    router: RouterClient, owner_engine: AsyncEngine, worker: None
) -> None:
    owner, org = await router.owner_of_new_organization()
    invitee = unique_email("invitee")
    invitee_id, unverified = await signed_up(router, invitee)
    invitation = await invite(router, owner_engine, owner, org, invitee.upper())
    other = unique_email("other")
    await signed_up(router, other)
    other_token = await verified(router, owner_engine, other)

    refused = await accepted_as(router, invitation, other_token)
    assert refused == {"organization": None, "errors": [{"code": "INVITATION_FOR_ANOTHER_EMAIL"}]}
    refused = await accepted_as(router, invitation, unverified)
    assert refused == {"organization": None, "errors": [{"code": "EMAIL_NOT_VERIFIED"}]}
    members = await router.data(MEMBERS, {"id": org}, authorization=f"Bearer {owner}")
    assert len(members["organization"]["members"]) == 1

    token = await verified(router, owner_engine, invitee)
    assert await accepted_as(router, invitation, token) == {
        "organization": {"id": org},
        "errors": [],
    }
    members = await router.data(MEMBERS, {"id": org}, authorization=f"Bearer {owner}")
    joined = {m["user"]["id"] for m in members["organization"]["members"]}
    assert invitee_id in joined
    assert len(joined) == 2

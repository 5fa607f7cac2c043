"""Organizations, memberships and invitations through the tenancy subgraph."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient, unique_email, unique_slug
from tests.subgraphs.tenancy.builders import (
    ACCEPT,
    CREATE,
    INVITE,
    READ,
    REMOVE,
    create_org,
    invitation_token,
    join,
    new_user,
)

CHANGE_ROLE = """mutation($org: ID!, $user: ID!, $role: Role!) {
  changeMemberRole(input: {organizationId: $org, userId: $user, role: $role}) {
    membership { role } errors { code message } } }"""


async def test_create_and_read_organization_as_written(
    auth: SignedClient, tenancy: SignedClient
) -> None:
    ada = await new_user(auth)
    created = await create_org(tenancy, ada)
    assert created["errors"] == []
    org = created["organization"]
    assert org["name"] == "Acme"
    assert org["settings"] == {
        "locale": "en",
        "timezone": "UTC",
        "support_email": None,
        "allowed_email_domains": [],
    }
    read = await tenancy.run(READ, {"id": org["id"]}, ada)
    assert read["organization"] == {
        "id": org["id"],
        "name": "Acme",
        "slug": org["slug"],
        "members": [{"role": "OWNER", "user": {"id": str(ada.user_id)}}],
    }


async def test_taken_slug_is_slug_taken_and_creates_nothing(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, bob = await new_user(auth), await new_user(auth)
    slug = unique_slug()
    assert (await create_org(tenancy, ada, slug=slug))["errors"] == []
    taken = await create_org(tenancy, bob, slug=slug)
    assert taken["organization"] is None
    assert [(e["code"], e["field"]) for e in taken["errors"]] == [("SLUG_TAKEN", "slug")]
    async with owner_engine.connect() as connection:
        count = await connection.scalar(
            text("select count(*) from tenancy.memberships where user_id = :u"), {"u": bob.user_id}
        )
    assert count == 0


async def test_non_member_reads_null(auth: SignedClient, tenancy: SignedClient) -> None:
    ada, eve = await new_user(auth), await new_user(auth)
    org = (await create_org(tenancy, ada))["organization"]
    assert (await tenancy.run(READ, {"id": org["id"]}, eve))["organization"] is None
    assert (await tenancy.run(READ, {"id": org["id"]}))["organization"] is None
    assert (await tenancy.run(READ, {"id": "not-an-id"}, ada))["organization"] is None
    assert (await tenancy.run(READ, {"id": str(uuid4())}, ada))["organization"] is None


async def test_bad_organization_input_names_each_field(
    auth: SignedClient, tenancy: SignedClient
) -> None:
    ada = await new_user(auth)
    result = await create_org(
        tenancy, ada, name="  ", slug="-Bad Slug-", settings={"timezone": "Mars/Base", "x": 1}
    )
    fields = sorted(e["field"] for e in result["errors"])
    assert fields == ["name", "settings.timezone", "settings.x", "slug"]
    assert {e["code"] for e in result["errors"]} == {"INVALID_INPUT"}
    assert result["organization"] is None
    oversized = await create_org(tenancy, ada, name="x" * 101)
    assert [e["field"] for e in oversized["errors"]] == ["name"]


async def test_anonymous_cannot_create(tenancy: SignedClient) -> None:
    result = await tenancy.run(CREATE, {"name": "Acme", "slug": unique_slug()})
    assert [e["code"] for e in result["createOrganization"]["errors"]] == ["UNAUTHENTICATED"]


async def test_invited_user_joins_and_last_owner_cannot_leave(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, bob = await new_user(auth), await new_user(auth)
    org_id = (await create_org(tenancy, ada))["organization"]["id"]
    await join(tenancy, owner_engine, ada, org_id, bob)
    members = (await tenancy.run(READ, {"id": org_id}, bob))["organization"]["members"]
    assert [m["role"] for m in members] == ["OWNER", "MEMBER"]

    leave = await tenancy.run(REMOVE, {"org": org_id, "user": str(ada.user_id)}, ada)
    assert [e["code"] for e in leave["removeMember"]["errors"]] == ["LAST_OWNER"]
    demote = await tenancy.run(
        CHANGE_ROLE, {"org": org_id, "user": str(ada.user_id), "role": "ADMIN"}, ada
    )
    assert [e["code"] for e in demote["changeMemberRole"]["errors"]] == ["LAST_OWNER"]

    promote = await tenancy.run(
        CHANGE_ROLE, {"org": org_id, "user": str(bob.user_id), "role": "OWNER"}, bob
    )
    assert [e["code"] for e in promote["changeMemberRole"]["errors"]] == ["FORBIDDEN"]
    promote = await tenancy.run(
        CHANGE_ROLE, {"org": org_id, "user": str(bob.user_id), "role": "OWNER"}, ada
    )
    assert promote["changeMemberRole"]["membership"] == {"role": "OWNER"}
    left = await tenancy.run(REMOVE, {"org": org_id, "user": str(ada.user_id)}, ada)
    assert left["removeMember"] == {"ok": True, "errors": []}
    assert (await tenancy.run(READ, {"id": org_id}, ada))["organization"] is None


async def test_invitation_token_is_single_use(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, bob = await new_user(auth), await new_user(auth)
    org_id = (await create_org(tenancy, ada))["organization"]["id"]
    await tenancy.run(INVITE, {"org": org_id, "email": bob.email, "role": "ADMIN"}, ada)
    token = await invitation_token(owner_engine, str(bob.email))
    assert (await tenancy.run(ACCEPT, {"token": token}, bob))["acceptInvitation"]["errors"] == []
    again = await tenancy.run(ACCEPT, {"token": token}, bob)
    assert [e["code"] for e in again["acceptInvitation"]["errors"]] == ["INVALID_TOKEN"]
    async with owner_engine.connect() as connection:
        stored = await connection.scalar(
            text("select count(*) from tenancy.invitations where token_hash = :t"), {"t": token}
        )
    assert stored == 0


async def test_only_the_invited_verified_address_joins(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, bob, eve = await new_user(auth), await new_user(auth), await new_user(auth)
    org_id = (await create_org(tenancy, ada))["organization"]["id"]
    invited = str(bob.email).upper()  # the address as the inviter typed it
    await tenancy.run(INVITE, {"org": org_id, "email": invited, "role": "ADMIN"}, ada)
    token = await invitation_token(owner_engine, str(bob.email))

    other = await tenancy.run(ACCEPT, {"token": token}, eve)
    assert other["acceptInvitation"]["organization"] is None
    assert [e["code"] for e in other["acceptInvitation"]["errors"]] == [
        "INVITATION_FOR_ANOTHER_EMAIL"
    ]
    unverified = await tenancy.run(ACCEPT, {"token": token}, replace(bob, email_verified=False))
    assert [e["code"] for e in unverified["acceptInvitation"]["errors"]] == ["EMAIL_NOT_VERIFIED"]
    no_email = await tenancy.run(ACCEPT, {"token": token}, Caller(user_id=eve.user_id))
    codes = [e["code"] for e in no_email["acceptInvitation"]["errors"]]
    assert codes == ["INVITATION_FOR_ANOTHER_EMAIL"]
    async with owner_engine.connect() as connection:
        pending = await connection.scalar(
            text(
                "select count(*) from tenancy.invitations where org_id = :o"
                " and accepted_at is null and accepted_by is null"
            ),
            {"o": org_id},
        )
    assert pending == 1
    assert (await tenancy.run(READ, {"id": org_id}, eve))["organization"] is None

    joined = await tenancy.run(ACCEPT, {"token": token}, bob)
    assert joined["acceptInvitation"] == {"organization": {"id": org_id}, "errors": []}
    members = (await tenancy.run(READ, {"id": org_id}, bob))["organization"]["members"]
    assert sorted(m["user"]["id"] for m in members) == sorted([str(ada.user_id), str(bob.user_id)])


async def test_members_cannot_invite(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, bob = await new_user(auth), await new_user(auth)
    org_id = (await create_org(tenancy, ada))["organization"]["id"]
    await join(tenancy, owner_engine, ada, org_id, bob)
    denied = await tenancy.run(
        INVITE, {"org": org_id, "email": unique_email(), "role": "MEMBER"}, bob
    )
    assert [e["code"] for e in denied["inviteMember"]["errors"]] == ["FORBIDDEN"]
    bad = await tenancy.run(INVITE, {"org": org_id, "email": "not-an-email", "role": "MEMBER"}, ada)
    assert [(e["code"], e["field"]) for e in bad["inviteMember"]["errors"]] == [
        ("INVALID_INPUT", "email")
    ]

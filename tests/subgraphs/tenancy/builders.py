"""Builders of tenancy test data: users, organizations and their members."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient, emailed, link_token, unique_email, unique_slug
from tests.subgraphs.auth.builders import sign_up

CREATE = """mutation($name: String!, $slug: String!, $settings: JSON) {
  createOrganization(input: {name: $name, slug: $slug, settings: $settings}) {
    organization { id name slug settings } errors { code field message } } }"""


READ = """query($id: ID!) { organization(id: $id) { id name slug members { role user { id } } } }"""


INVITE = """mutation($org: ID!, $email: String!, $role: Role!) {
  inviteMember(input: {organizationId: $org, email: $email, role: $role}) {
    invitation { id email role } errors { code field message } } }"""


ACCEPT = """mutation($token: String!) { acceptInvitation(token: $token) {
  organization { id } errors { code message } } }"""


REMOVE = """mutation($org: ID!, $user: ID!) {
  removeMember(input: {organizationId: $org, userId: $user}) { ok errors { code message } } }"""


async def new_user(auth: SignedClient, email: str | None = None) -> Caller:
    """A new account, called as the router signs a user who verified their address."""
    result = await sign_up(auth, email or unique_email())
    user = result["user"]
    return Caller(user_id=UUID(user["id"]), email=user["email"], email_verified=True)


async def create_org(tenancy: SignedClient, caller: Caller, **extra: Any) -> dict[str, Any]:
    variables = {"name": "Acme", "slug": unique_slug(), **extra}
    data = await tenancy.run(CREATE, variables, caller)
    payload: dict[str, Any] = data["createOrganization"]
    return payload


async def join(
    tenancy: SignedClient,
    owner_engine: AsyncEngine,
    owner: Caller,
    org_id: str,
    member: Caller,
    role: str = "MEMBER",
) -> None:
    assert member.email is not None
    invited = await tenancy.run(INVITE, {"org": org_id, "email": member.email, "role": role}, owner)
    assert invited["inviteMember"]["errors"] == []
    token = await invitation_token(owner_engine, member.email)
    accepted = await tenancy.run(ACCEPT, {"token": token}, member)
    assert accepted["acceptInvitation"]["organization"] == {"id": org_id}


async def invitation_token(owner_engine: AsyncEngine, email: str) -> str:
    return link_token(await emailed(owner_engine, email, "invitation"))

"""Every tenancy mutation answers unknown or malformed ids with a clear error and changes
nothing."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.conftest import SignedClient
from tests.subgraphs.tenancy.builders import create_org, new_user

UNKNOWN = str(uuid4())
MUTATIONS = {
    "updateOrganization": 'updateOrganization(input: {id: "%s", name: "X"})'
    " { errors { code field } }",
    "deleteOrganization": 'deleteOrganization(id: "%s") { errors { code field } }',
    "setActiveOrganization": 'setActiveOrganization(organizationId: "%s")'
    " { errors { code field } }",
    "inviteMember": 'inviteMember(input: {organizationId: "%s", email: "a@example.com"})'
    " { errors { code field } }",
    "revokeInvitation": 'revokeInvitation(id: "%s") { errors { code field } }',
    "changeMemberRole": 'changeMemberRole(input: {organizationId: "%s", userId: "%s",'
    " role: ADMIN}) { errors { code field } }",
    "removeMember": 'removeMember(input: {organizationId: "%s", userId: "%s"})'
    " { errors { code field } }",
}


def _mutation(name: str, value: str) -> str:
    template = MUTATIONS[name]
    return "mutation { " + template % ((value,) * template.count("%s")) + " }"


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_malformed_id_is_invalid_input(
    name: str, auth: SignedClient, tenancy: SignedClient
) -> None:
    ada = await new_user(auth)
    result = await tenancy.run(_mutation(name, "not-an-id"), caller=ada)
    assert [e["code"] for e in result[name]["errors"]] == ["INVALID_INPUT"]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_unknown_id_is_not_found(
    name: str, auth: SignedClient, tenancy: SignedClient
) -> None:
    ada = await new_user(auth)
    await create_org(tenancy, ada)
    result = await tenancy.run(_mutation(name, UNKNOWN), caller=ada)
    assert [e["code"] for e in result[name]["errors"]] == ["NOT_FOUND"]


async def test_someone_elses_organization_reads_as_unknown(
    auth: SignedClient, tenancy: SignedClient
) -> None:
    ada, eve = await new_user(auth), await new_user(auth)
    org = (await create_org(tenancy, ada))["organization"]
    renamed = await tenancy.run(_mutation("updateOrganization", org["id"]), caller=eve)
    assert [e["code"] for e in renamed["updateOrganization"]["errors"]] == ["NOT_FOUND"]
    read = await tenancy.run(
        "query($id: ID!) { organization(id: $id) { name } }", {"id": org["id"]}, ada
    )
    assert read["organization"] == {"name": "Acme"}

"""API key lifecycle through the keys subgraph: create, read, rotate, revoke, and who may."""

from __future__ import annotations

import asyncio
import hashlib
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient
from tests.subgraphs.keys.builders import (
    CREATE,
    KEY_FIELDS,
    REVOKE,
    ROTATE,
    codes,
    create_key,
    issued,
    manager,
)

READ = f"query($id: ID!) {{ apiKey(id: $id) {{ {KEY_FIELDS} }} }}"
ORG_KEYS = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Organization { apiKeys { id name } } } }"""


async def test_create_returns_the_secret_once_and_stores_only_its_hash(
    keys: SignedClient, owner_engine: AsyncEngine
) -> None:
    owner = manager()
    created = await create_key(
        keys,
        owner,
        scopes=["tickets:read", "billing:read"],
        rateLimit={"limit": 3, "windowSeconds": 60},
    )
    assert created["errors"] == []
    secret, key = created["secret"], created["apiKey"]
    assert secret.startswith("vetrai_")
    assert len(secret) >= len("vetrai_") + 43  # 32 random bytes, URL-safe base64
    assert key["prefix"] == secret[:15]
    assert key["scopes"] == ["billing:read", "tickets:read"]
    assert key["rateLimit"] == {"limit": 3, "windowSeconds": 60}
    assert key["createdBy"] == {"id": str(owner.user_id)}
    assert key["revokedAt"] is None
    assert key["lastUsedAt"] is None
    assert key["expiresAt"] is None
    async with owner_engine.connect() as connection:
        row = (
            (
                await connection.execute(
                    text("select * from keys.api_keys where id = :id"), {"id": key["id"]}
                )
            )
            .mappings()
            .one()
        )
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {str(v) for v in row.values()}
    read = await keys.run(READ, {"id": key["id"]}, owner)
    assert read["apiKey"]["id"] == key["id"]
    assert "secret" not in read["apiKey"]


async def test_default_rate_limit_comes_from_settings(keys: SignedClient) -> None:
    created = await create_key(keys, manager())
    assert created["apiKey"]["rateLimit"] == {"limit": 600, "windowSeconds": 60}


async def test_admin_may_manage_but_member_and_anonymous_may_not(keys: SignedClient) -> None:
    admin = manager(role="admin")
    assert (await create_key(keys, admin))["errors"] == []
    member = manager(role="member")
    assert codes(await create_key(keys, member)) == [("FORBIDDEN", None)]
    anonymous = Caller()
    result = await keys.run(
        CREATE,
        {"input": {"organizationId": str(uuid4()), "name": "x", "scopes": ["tickets:read"]}},
        anonymous,
    )
    assert codes(result["createApiKey"]) == [("UNAUTHENTICATED", None)]


async def test_another_organization_is_not_found(keys: SignedClient) -> None:
    owner = manager()
    result = await create_key(keys, owner, organizationId=str(uuid4()))
    assert codes(result) == [("NOT_FOUND", "organizationId")]
    assert result["apiKey"] is None
    assert result["secret"] is None


async def test_a_key_cannot_create_keys(keys: SignedClient) -> None:
    org = uuid4()
    as_key = Caller(key_id=uuid4(), org_id=org, roles=frozenset({"owner"}))
    assert codes(await create_key(keys, as_key)) == [("FORBIDDEN", None)]


async def test_keys_and_anonymous_callers_are_refused_before_any_key_is_looked_up(
    keys: SignedClient,
) -> None:
    # Refused as what they are, whatever the id names: no answer tells which keys exist.
    as_key = Caller(key_id=uuid4(), org_id=uuid4(), roles=frozenset({"owner"}))
    unknown = str(uuid4())
    for caller, code in ((as_key, "FORBIDDEN"), (Caller(), "UNAUTHENTICATED")):
        for mutation, variables in (
            (REVOKE, {"id": unknown}),
            (ROTATE, {"id": unknown, "grace": 0}),
        ):
            result = next(iter((await keys.run(mutation, variables, caller)).values()))
            assert codes(result) == [(code, None)]


async def test_a_key_never_has_scopes_its_creator_lacks(keys: SignedClient) -> None:
    admin = manager(role="admin")
    result = await create_key(keys, admin, scopes=["tickets:read", "billing:write"])
    assert codes(result) == [("SCOPE_NOT_HELD", "scopes")]
    assert "billing:write" in result["errors"][0]["message"]
    owner = manager(admin.org_id)
    assert (await create_key(keys, owner, scopes=["billing:write"]))["errors"] == []


async def test_organization_has_a_maximum_of_active_keys(keys: SignedClient) -> None:
    owner = manager()
    ids = [(await issued(keys, owner, name=f"k{n}"))[0] for n in range(25)]
    assert codes(await create_key(keys, owner)) == [("API_KEY_LIMIT_REACHED", None)]
    revoked = await keys.run(REVOKE, {"id": ids[0]}, owner)
    assert revoked["revokeApiKey"]["errors"] == []
    assert (await create_key(keys, owner))["errors"] == []
    assert (await create_key(keys, manager()))["errors"] == []  # other organizations unaffected


async def test_concurrent_creations_cannot_pass_the_maximum(keys: SignedClient) -> None:
    owner = manager()
    for n in range(23):
        await issued(keys, owner, name=f"k{n}")
    results = await asyncio.gather(*(create_key(keys, owner) for _ in range(4)))
    assert sorted(codes(r) for r in results) == [
        [],
        [],
        [("API_KEY_LIMIT_REACHED", None)],
        [("API_KEY_LIMIT_REACHED", None)],
    ]


async def test_rotation_gives_a_new_secret_and_keeps_the_key(keys: SignedClient) -> None:
    owner = manager()
    key_id, secret = await issued(keys, owner)
    rotated = (await keys.run(ROTATE, {"id": key_id, "grace": 60}, owner))["rotateApiKey"]
    assert rotated["errors"] == []
    assert rotated["apiKey"]["id"] == key_id
    assert rotated["secret"] != secret
    assert rotated["secret"].startswith("vetrai_")
    assert rotated["apiKey"]["prefix"] == rotated["secret"][:15]


async def test_rotating_needs_every_scope_of_the_key(keys: SignedClient) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner, scopes=["billing:write"])
    admin = manager(owner.org_id, role="admin")
    rotated = (await keys.run(ROTATE, {"id": key_id, "grace": 0}, admin))["rotateApiKey"]
    assert codes(rotated) == [("SCOPE_NOT_HELD", "scopes")]
    assert rotated["secret"] is None


async def test_revoked_key_cannot_be_rotated_and_revoking_twice_is_harmless(
    keys: SignedClient,
) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    first = (await keys.run(REVOKE, {"id": key_id}, owner))["revokeApiKey"]
    assert first["errors"] == []
    assert first["apiKey"]["revokedAt"] is not None
    again = (await keys.run(REVOKE, {"id": key_id}, owner))["revokeApiKey"]
    assert again["apiKey"]["revokedAt"] == first["apiKey"]["revokedAt"]
    rotated = (await keys.run(ROTATE, {"id": key_id, "grace": 0}, owner))["rotateApiKey"]
    assert codes(rotated) == [("API_KEY_REVOKED", None)]


async def test_other_tenants_and_members_cannot_see_or_touch_a_key(keys: SignedClient) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    intruder = manager()
    member = manager(owner.org_id, role="member")
    for caller in (intruder, member, Caller()):
        assert (await keys.run(READ, {"id": key_id}, caller))["apiKey"] is None
    for mutation, variables in ((REVOKE, {"id": key_id}), (ROTATE, {"id": key_id, "grace": 0})):
        result = next(iter((await keys.run(mutation, variables, intruder)).values()))
        assert codes(result) == [("NOT_FOUND", None)]
    member_revoke = (await keys.run(REVOKE, {"id": key_id}, member))["revokeApiKey"]
    assert codes(member_revoke) == [("FORBIDDEN", None)]
    assert (await keys.run(READ, {"id": key_id}, owner))["apiKey"]["revokedAt"] is None


async def test_organization_api_keys_for_managers_only(keys: SignedClient) -> None:
    owner = manager()
    first, _ = await issued(keys, owner, name="first")
    second, _ = await issued(keys, owner, name="second")
    await keys.run(REVOKE, {"id": first}, owner)
    reps = {"r": [{"__typename": "Organization", "id": str(owner.org_id)}]}
    listed = (await keys.run(ORG_KEYS, reps, owner))["_entities"]
    assert listed == [{"apiKeys": [{"id": second, "name": "second"}]}]
    with_revoked = await keys.run(
        ORG_KEYS.replace("apiKeys {", "apiKeys(includeRevoked: true) {"), reps, owner
    )
    assert [k["id"] for k in with_revoked["_entities"][0]["apiKeys"]] == [second, first]
    for caller in (manager(owner.org_id, role="member"), manager(), Caller()):
        assert (await keys.run(ORG_KEYS, reps, caller))["_entities"] == [{"apiKeys": []}]


async def test_api_key_entities_resolve_for_managers_only(keys: SignedClient) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on ApiKey { id name createdBy { id } } } }"""
    reps = {"r": [{"__typename": "ApiKey", "id": key_id}, {"__typename": "ApiKey", "id": "x"}]}
    found = await keys.run(query, reps, owner)
    assert found["_entities"] == [
        {"id": key_id, "name": "ci", "createdBy": {"id": str(owner.user_id)}},
        None,
    ]
    assert (await keys.run(query, reps, manager()))["_entities"] == [None, None]


async def test_the_issues_operations_work_as_written(keys: SignedClient) -> None:
    owner = manager()
    create = """mutation { createApiKey(input: {organizationId: "ORG", name: "ci",
      scopes: ["tickets:read"], rateLimit: {limit: 3, windowSeconds: 60}})
      { apiKey { id prefix scopes } secret errors { code field message } } }"""
    created = await keys.run(create.replace("ORG", str(owner.org_id)), caller=owner)
    assert created["createApiKey"]["errors"] == []
    key = created["createApiKey"]["apiKey"]
    assert key["scopes"] == ["tickets:read"]
    revoke = """mutation { revokeApiKey(id: "KEY") { apiKey { id revokedAt }
      errors { code message } } }"""
    revoked = (await keys.run(revoke.replace("KEY", key["id"]), caller=owner))["revokeApiKey"]
    assert revoked["errors"] == []
    assert revoked["apiKey"]["id"] == key["id"]
    assert revoked["apiKey"]["revokedAt"] is not None

"""Bad input to the key mutations: typed errors naming each field, and nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.scopes import SCOPES
from tests.conftest import SignedClient
from tests.subgraphs.keys.builders import REVOKE, ROTATE, codes, create_key, issued, manager


async def test_every_bad_field_is_reported_and_nothing_is_stored(
    keys: SignedClient, owner_engine: AsyncEngine
) -> None:
    owner = manager()
    result = await create_key(
        keys,
        owner,
        name=" ",
        scopes=["tickets:read", "tickets:delete", "root"],
        expiresAt=(datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        rateLimit={"limit": 0, "windowSeconds": 86401},
    )
    assert sorted(codes(result)) == [
        ("INVALID_INPUT", "expiresAt"),
        ("INVALID_INPUT", "name"),
        ("INVALID_INPUT", "rateLimit.limit"),
        ("INVALID_INPUT", "rateLimit.windowSeconds"),
        ("INVALID_INPUT", "scopes"),
    ]
    assert result["apiKey"] is None
    assert result["secret"] is None
    scope_error = next(e for e in result["errors"] if e["field"] == "scopes")
    assert scope_error["message"].startswith("Unknown scopes: root, tickets:delete. Valid scopes:")
    assert all(scope in scope_error["message"] for scope in SCOPES)
    async with owner_engine.connect() as connection:
        stored = await connection.scalar(
            text("select count(*) from keys.api_keys where org_id = :org"), {"org": owner.org_id}
        )
    assert stored == 0


async def test_name_must_be_one_line_of_at_most_100_characters(keys: SignedClient) -> None:
    owner = manager()
    for name in ("", "x" * 101, "two\nlines"):
        assert codes(await create_key(keys, owner, name=name)) == [("INVALID_INPUT", "name")]
    assert (await create_key(keys, owner, name="  x" * 33 + " "))["apiKey"]["name"] == (
        "  x" * 33
    ).strip()


async def test_a_key_needs_at_least_one_scope(keys: SignedClient) -> None:
    assert codes(await create_key(keys, manager(), scopes=[])) == [("INVALID_INPUT", "scopes")]
    duplicated = await create_key(keys, manager(), scopes=["tickets:read", "tickets:read"])
    assert duplicated["apiKey"]["scopes"] == ["tickets:read"]


async def test_rate_limit_bounds(keys: SignedClient) -> None:
    owner = manager()
    for limit, window, field in (
        (-1, 60, "rateLimit.limit"),
        (1_000_001, 60, "rateLimit.limit"),
        (10, 0, "rateLimit.windowSeconds"),
    ):
        result = await create_key(keys, owner, rateLimit={"limit": limit, "windowSeconds": window})
        assert codes(result) == [("INVALID_INPUT", field)]
    edge = await create_key(keys, owner, rateLimit={"limit": 1, "windowSeconds": 86400})
    assert edge["apiKey"]["rateLimit"] == {"limit": 1, "windowSeconds": 86400}


async def test_expiry_without_offset_is_utc(keys: SignedClient) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None, microsecond=0)
    created = await create_key(keys, manager(), expiresAt=later.isoformat())
    assert datetime.fromisoformat(created["apiKey"]["expiresAt"]) == later.replace(tzinfo=UTC)


async def test_malformed_and_unknown_ids(keys: SignedClient) -> None:
    owner = manager()
    assert codes(await create_key(keys, owner, organizationId="not-an-id")) == [
        ("INVALID_INPUT", "organizationId")
    ]
    for mutation, variables in (
        (REVOKE, {"id": "42"}),
        (ROTATE, {"id": "42", "grace": 0}),
    ):
        result = next(iter((await keys.run(mutation, variables, owner)).values()))
        assert codes(result) == [("INVALID_INPUT", "id")]
    for mutation, variables in (
        (REVOKE, {"id": str(uuid4())}),
        (ROTATE, {"id": str(uuid4()), "grace": 0}),
    ):
        result = next(iter((await keys.run(mutation, variables, owner)).values()))
        assert codes(result) == [("NOT_FOUND", None)]
    read = await keys.run('query { a: apiKey(id: "x") { id } b: apiKey(id: "") { id } }', {}, owner)
    assert read == {"a": None, "b": None}


async def test_grace_period_must_be_within_bounds(keys: SignedClient) -> None:
    owner = manager()
    key_id, _ = await issued(keys, owner)
    for grace in (-1, 7 * 86400 + 1):
        result = (await keys.run(ROTATE, {"id": key_id, "grace": grace}, owner))["rotateApiKey"]
        assert codes(result) == [("INVALID_INPUT", "gracePeriodSeconds")]
        assert result["secret"] is None

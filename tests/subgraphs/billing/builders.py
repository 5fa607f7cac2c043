"""Builders for billing tests: callers, Stripe events in Stripe's documented shapes (the JSON
files under ``events/``) signed as Stripe signs them, and polling for the worker's effects."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.plans import catalogue
from subgraphs.workers import contract as workers
from tests.conftest import SignedClient
from tests.subgraphs.tenancy.builders import create_org

WEBHOOK_SECRET = "whsec_test_current"
PREVIOUS_WEBHOOK_SECRET = "whsec_test_previous"
EVENTS = Path(__file__).parent / "events"


def owner(org_id: UUID | None = None, role: str = "owner") -> Caller:
    return Caller(user_id=uuid4(), org_id=org_id or uuid4(), roles=frozenset({role}))


async def announced_roles(owner_engine: AsyncEngine, org_id: UUID) -> dict[str, str]:
    """The members' roles notifications holds for the organization (as tenancy announced)."""
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select roles from notifications.organization_members where org_id = :org"),
            {"org": org_id},
        )
    return dict(found or {})


async def tenancy_owner(tenancy: SignedClient, owner_engine: AsyncEngine) -> Caller:
    """The owner of a new organization made through tenancy, once notifications knows it."""
    user = Caller(user_id=uuid4())
    created = await create_org(tenancy, user)
    org_id = UUID(created["organization"]["id"])
    await until(lambda: announced_roles(owner_engine, org_id), "the members announced")
    return Caller(user_id=user.user_id, org_id=org_id, roles=frozenset({"owner"}))


def signature(body: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it."""
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def event(kind: str, obj: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    """A Stripe event of type ``kind`` around ``obj``, in the shape of ``events/<kind>.json``."""
    shape: dict[str, Any] = orjson.loads((EVENTS / f"{kind}.json").read_bytes())
    shape["id"] = f"evt_{secrets.token_hex(12)}"
    shape["created"] = int(time.time()) if created is None else created
    shape["data"]["object"] = {**shape["data"]["object"], **obj}
    return shape


async def post_event(
    client: httpx.AsyncClient, payload: dict[str, Any], secret: str = WEBHOOK_SECRET
) -> httpx.Response:
    body = orjson.dumps(payload)
    headers = {"stripe-signature": signature(body, secret), "content-type": "application/json"}
    return await client.post("/stripe/webhook", content=body, headers=headers)


async def until(check: Any, what: str, seconds: float = 60.0) -> Any:
    """Poll ``check()`` (async) until it returns something truthy; fail after ``seconds``
    (the session worker applies events behind every other test's jobs: 15 s was short at a
    load average of 13)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def store_unqueued(owner_engine: AsyncEngine, payload: dict[str, Any]) -> None:
    """Store an event as the webhook stores one, but with no job queued (the session's worker
    never applies it; a test does, through a service of its own)."""
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "insert into billing.webhook_events (id, type, created, payload, received_at)"
                " values (:id, :type, :created, cast(:payload as jsonb), now())"
            ),
            {**payload, "payload": orjson.dumps(payload).decode()},
        )


async def applied(owner_engine: AsyncEngine, event_id: str) -> bool:
    async with owner_engine.connect() as connection:
        stamp = await connection.scalar(
            text("select applied_at from billing.webhook_events where id = :id"),
            {"id": event_id},
        )
    return stamp is not None


async def announced_plan(owner_engine: AsyncEngine, org_id: UUID) -> str | None:
    """The key of the plan billing last announced for the organization."""
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select plan_key from billing.announced_plans where org_id = :org"),
            {"org": org_id},
        )
    return None if found is None else str(found)


WORKERS_PLAN = """select concurrent_jobs, history_days from workers.organization_limits
  where org_id = :org"""
WHITE_LABEL = "select white_label from {}.organization_white_label where org_id = :org"


def granted_to_workers(plan: str) -> dict[str, Any]:
    """What ``plan`` grants of the features workers is told about."""
    found = catalogue().get(plan)
    assert found is not None
    return found.grants_of(workers.PLAN_FEATURES)


async def told_workers(owner_engine: AsyncEngine, org_id: UUID, plan: str) -> None:
    """Wait until workers holds what ``plan`` grants for the organization."""
    granted = granted_to_workers(plan)
    expected = (granted[workers.CONCURRENT_JOBS], granted[workers.JOB_HISTORY_DAYS])

    async def stored() -> bool:
        async with owner_engine.connect() as connection:
            found = (await connection.execute(text(WORKERS_PLAN), {"org": org_id})).first()
        return found is not None and tuple(found) == expected

    await until(stored, f"{plan} announced")


async def told_white_label(owner_engine: AsyncEngine, org_id: UUID, expected: bool) -> None:
    """Wait until themes and notifications both hold ``expected`` for the organization."""

    async def both() -> bool:
        async with owner_engine.connect() as connection:
            found = [
                await connection.scalar(text(WHITE_LABEL.format(schema)), {"org": org_id})
                for schema in ("themes", "notifications")
            ]
        return found == [expected, expected]

    await until(both, f"white_label {expected} announced")

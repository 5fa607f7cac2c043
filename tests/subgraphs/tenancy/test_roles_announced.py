"""The migration that announces every organization's members with their roles once more, so
notifications and workers know the roles of organizations from before roles were announced:
the jobs it stages are those each contract's ``stage_members`` stages."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.kernel.migrations import _config
from subgraphs.notifications import contract as notifications
from subgraphs.tenancy.app import DOMAIN
from subgraphs.workers import contract as workers

ORGANIZATION = """insert into tenancy.organizations (id, name, slug, settings, plan, created_at,
  updated_at) values (:id, 'Old', :slug, '{}', 'free', now(), now())"""
MEMBER = """insert into tenancy.memberships (id, org_id, user_id, role, created_at)
  values (gen_random_uuid(), :org, :user, :role, now())"""


class Staged:
    """What a contract's ``stage_members`` hands the outbox, caught instead of staged."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, list[Any], str]] = []

    async def __call__(self, session: object, job: str, *args: Any, job_id: str) -> None:
        self.jobs.append((job, list(args), job_id))


async def test_every_organization_is_announced_with_its_roles_as_the_contracts_do(
    migrated_database: tuple[str, AsyncEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, engine = migrated_database
    tenancy = _config(url, DOMAIN.migrations)
    await asyncio.to_thread(command.downgrade, tenancy, "tenancy_0001")
    org, owner, admin = uuid4(), uuid4(), uuid4()
    async with engine.begin() as connection:
        await connection.execute(text(ORGANIZATION), {"id": org, "slug": f"old-{org.hex[:8]}"})
        for user, role in ((owner, "owner"), (admin, "admin")):
            await connection.execute(text(MEMBER), {"org": org, "user": user, "role": role})
    await asyncio.to_thread(command.upgrade, tenancy, "head")
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("select target, payload, job_id from outbox.messages where job_id like :org"),
            {"org": f"%:{org}:%"},
        )
        staged = {row.target: (row.payload, row.job_id) for row in rows}
    assert set(staged) == {notifications.MEMBERS_JOB, workers.MEMBERS_JOB}
    stamp = staged[workers.MEMBERS_JOB][0][2]
    as_of = datetime.fromisoformat(stamp)
    assert as_of.utcoffset() is not None
    expected = Staged()
    roles = dict(sorted({owner: "owner", admin: "admin"}.items(), key=lambda i: str(i[0])))
    for contract in (notifications, workers):
        monkeypatch.setattr(contract, "stage_job", expected)
        await contract.stage_members(None, org, roles, as_of)
    for job, args, job_id in expected.jobs:
        assert staged[job] == (args, job_id), job
    assert {UUID(u) for u in staged[workers.MEMBERS_JOB][0][1]} == {owner, admin}

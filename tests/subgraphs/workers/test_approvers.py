"""Who approves: the holders of an approving role are notified with links of their own, as
tenancy's member announcements tell workers who they are; a named approver outside the run's
organization fails the run; a member removed or demoted since keeps links that decide
nothing."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from core.scopes import scopes_of
from subgraphs.kernel.db import utcnow
from subgraphs.workers import repository
from subgraphs.workers.approvals import APPROVER_NOT_MEMBER
from subgraphs.workers.models import Approval, Status
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient, emailed, unique_email
from tests.subgraphs.auth.builders import sign_up
from tests.subgraphs.tenancy.builders import create_org, join
from tests.subgraphs.workers.builders import announce, member_of, until
from tests.subgraphs.workers.reviews import ADMINS, REVIEW, links

DEMOTE = """mutation($org: ID!, $user: ID!) { changeMemberRole(input: {organizationId: $org,
  userId: $user, role: MEMBER}) { errors { code message } } }"""
START = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  job { id status } errors { code field message } } }"""


async def _user(auth: SignedClient) -> tuple[UUID, str]:
    email = unique_email("approver")
    return UUID((await sign_up(auth, email))["user"]["id"]), email


async def _start(
    subgraph: SignedClient, starter: Caller, workflow: str, approvers: list[UUID]
) -> UUID:
    given = {
        "organizationId": str(starter.org_id),
        "workflow": workflow,
        "input": {"title": "the spring sale", "approvers": [str(a) for a in approvers]},
        "idempotencyKey": secrets.token_hex(6),
    }
    started = (await subgraph.run(START, {"input": given}, starter))["startWorkflow"]
    assert started["errors"] == [], started
    return UUID(started["job"]["id"])


async def _members(jobs: JobService, org: UUID, acting: UUID | None = None) -> dict[str, str]:
    """The members workers knows of ``org``, read in ``acting``'s organization (its own)."""
    async with jobs.db.transaction(Caller(org_id=acting or org)) as session:
        return await repository.members_of(session, org)


async def _approval(jobs: JobService, org: UUID, job_id: UUID) -> Approval:
    [[approval]] = await jobs.approvals_of(Caller(org_id=org), [job_id])
    return approval


async def test_the_holders_of_an_approving_role_get_links_of_their_own(
    auth: SignedClient,
    tenancy: SignedClient,
    workers_subgraph: SignedClient,
    jobs: JobService,
    owner_engine: AsyncEngine,
) -> None:
    owner_id, _ = await _user(auth)
    owner = Caller(user_id=owner_id)
    org = (await create_org(tenancy, owner))["organization"]["id"]
    admins = [await _user(auth) for _ in range(2)]
    for admin_id, email in admins:
        admin = Caller(user_id=admin_id, email=email, email_verified=True)
        await join(tenancy, owner_engine, owner, org, admin, "ADMIN")
    org_id = UUID(org)
    expected = {str(owner_id): "owner", **{str(a): "admin" for a, _ in admins}}

    async def announced() -> None:
        deadline = asyncio.get_running_loop().time() + 10
        while await _members(jobs, org_id) != expected:
            assert asyncio.get_running_loop().time() < deadline, await _members(jobs, org_id)
            await asyncio.sleep(0.02)

    await announced()
    owner_in = Caller(
        user_id=owner_id, org_id=org_id, roles=frozenset({"owner"}), scopes=scopes_of(["owner"])
    )
    job_id = await _start(workers_subgraph, owner_in, ADMINS.name, [])
    await until(jobs, org_id, job_id, Status.WAITING)
    approval = await _approval(jobs, org_id, job_id)
    assert (approval.roles, approval.users) == (["admin"], [])
    paths = [links(await emailed(owner_engine, email, "approval_requested")) for _, email in admins]
    assert all(set(p) == {"approve", "reject"} for p in paths)
    assert paths[0]["approve"] != paths[1]["approve"]
    # An admin made a member since holds links that no longer decide.
    demoted = {"org": org, "user": str(admins[0][0])}
    assert (await tenancy.run(DEMOTE, demoted, owner_in))["changeMemberRole"]["errors"] == []
    expected[str(admins[0][0])] = "member"
    await announced()
    refused = await workers_subgraph.client.post(paths[0]["approve"], data={"comment": "x"})
    assert refused.status_code == 409
    assert (await _approval(jobs, org_id, job_id)).status == "pending"
    decided = await workers_subgraph.client.post(paths[1]["approve"], data={"comment": "go"})
    assert decided.status_code == 200, decided.text
    done = await until(jobs, org_id, job_id, Status.SUCCEEDED, Status.FAILED)
    assert done.result["decision"] == "approve"
    audited = await _approval(jobs, org_id, job_id)
    assert (audited.decided_by, audited.decided_via) == (admins[1][0], "link")


async def test_naming_an_approver_outside_the_organization_fails_the_run(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org, member, stranger = uuid4(), uuid4(), uuid4()
    await announce(jobs, org, {member: "member"})
    job_id = await _start(workers_subgraph, member_of(org), REVIEW.name, [member, stranger])
    failed = await until(jobs, org, job_id, Status.FAILED, Status.WAITING)
    assert (failed.status, failed.error_code) == ("failed", APPROVER_NOT_MEMBER)
    assert str(stranger) in (failed.error_message or "")
    assert str(member) not in (failed.error_message or "")
    assert failed.attempt == 1
    assert await jobs.approvals_of(Caller(org_id=org), [job_id]) == [[]]


async def test_the_links_of_a_member_removed_since_decide_nothing(
    workers_subgraph: SignedClient,
    jobs: JobService,
    auth: SignedClient,
    owner_engine: AsyncEngine,
) -> None:
    org = uuid4()
    (leaving, email), (staying, other) = await _user(auth), await _user(auth)
    await announce(jobs, org, {leaving: "member", staying: "member"})
    job_id = await _start(workers_subgraph, member_of(org), REVIEW.name, [leaving, staying])
    await until(jobs, org, job_id, Status.WAITING)
    gone = links(await emailed(owner_engine, email, "approval_requested"))
    kept = links(await emailed(owner_engine, other, "approval_requested"))
    await announce(jobs, org, {staying: "member"}, utcnow() + timedelta(seconds=1))
    refused = await workers_subgraph.client.post(gone["approve"], data={"comment": "x"})
    assert refused.status_code == 409
    assert "no longer a member" in refused.text
    assert (await _approval(jobs, org, job_id)).status == "pending"
    decided = await workers_subgraph.client.post(kept["reject"], data={"comment": "no"})
    assert decided.status_code == 200
    done = await until(jobs, org, job_id, Status.SUCCEEDED, Status.FAILED)
    assert done.result["decision"] == "reject"


async def test_row_security_keeps_an_organizations_members_to_itself(jobs: JobService) -> None:
    org, other = uuid4(), uuid4()
    await announce(jobs, org, {uuid4(): "admin"})
    count = text("select count(*) from workers.organization_members where org_id = :id")
    async with jobs.db.engine.connect() as connection:
        for acting, expected in ((org, 1), (other, 0)):
            await connection.execute(
                text("select set_config('app.org_id', :o, false)"), {"o": str(acting)}
            )
            assert await connection.scalar(count, {"id": org}) == expected
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(
                text(
                    "insert into workers.organization_members (org_id, roles, as_of)"
                    " values (:org, '{}', now())"
                ),
                {"org": uuid4()},
            )
        await connection.rollback()
    assert await _members(jobs, org, other) == {}
    assert list((await _members(jobs, org)).values()) == ["admin"]

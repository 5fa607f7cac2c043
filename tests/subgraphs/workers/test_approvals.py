"""The approval inbox: an interrupt opens an approval whose named approvers are emailed
single-use links; the link's page shows and only its POST decides; resumeJob decides for
approvers only, once; undecided approvals reject or escalate; rows stay in their organization."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from core.caller import Caller
from core.scopes import scopes_of
from subgraphs.kernel.db import utcnow
from subgraphs.notifications.service import NotificationService
from subgraphs.workers.models import Approval, ApprovalLink, Status
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient, emailed
from tests.subgraphs.workers.builders import announce, member_of, until
from tests.subgraphs.workers.reviews import known_approver, links, member

START = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  job { id status } errors { code field message } } }"""
RESUME = """mutation($input: ResumeJobInput!) { resumeJob(input: $input) {
  job { id status } errors { code message } } }"""
PENDING = """query($id: ID!) { _entities(representations: [{__typename: "User", id: $id}]) {
  ... on User { pendingApprovals { id interruptId workflow payload approverUserIds status } } } }"""
AUDIT = """query($id: ID!) { job(id: $id) { status approvals { status decidedVia comment
  decidedBy { id } } } }"""


async def _waiting_review(
    subgraph: SignedClient,
    jobs: JobService,
    org: UUID,
    approvers: list[UUID],
    workflow: str = "test_review",
) -> tuple[UUID, str]:
    """A run waiting for ``approvers``, announced as members of ``org`` first."""
    await announce(jobs, org, dict.fromkeys(approvers, "member"))
    given = {
        "organizationId": str(org),
        "workflow": workflow,
        "input": {
            "title": f"post {secrets.token_hex(3)}",
            "approvers": [str(a) for a in approvers],
        },
        "idempotencyKey": secrets.token_hex(6),
    }
    started = (await subgraph.run(START, {"input": given}, member_of(org)))["startWorkflow"]
    job_id = UUID(started["job"]["id"])
    job = await until(jobs, org, job_id, Status.WAITING, Status.FAILED)
    assert job.interrupt is not None, job.error_message
    return job_id, str(job.interrupt["id"])


async def _resume(
    subgraph: SignedClient, caller: Caller, job_id: UUID, interrupt: str, decision: str = "APPROVE"
) -> dict[str, Any]:
    decide = {"jobId": str(job_id), "interruptId": interrupt, "decision": decision}
    payload: dict[str, Any] = (await subgraph.run(RESUME, {"input": decide}, caller))["resumeJob"]
    return payload


async def _approvals(jobs: JobService, org: UUID, job_id: UUID) -> list[Approval]:
    [found] = await jobs.approvals_of(Caller(org_id=org), [job_id])
    return found


async def _linked(jobs: JobService, org: UUID, approval_id: UUID) -> set[UUID]:
    """The users holding links of the approval."""
    async with jobs.db.transaction(Caller(org_id=org)) as session:
        rows = await session.exec(
            select(ApprovalLink.user_id).where(ApprovalLink.approval_id == approval_id)
        )
        return set(rows)


def _post(client: httpx.AsyncClient, path: str, **headers: str) -> Any:
    return client.post(path, data={"comment": "ship it"}, headers=headers)


async def test_the_emailed_link_shows_the_run_and_only_its_button_decides(
    workers_subgraph: SignedClient,
    jobs: JobService,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
    worker: None,
) -> None:
    org = uuid4()
    approver, email = await known_approver(notification_service, org)
    job_id, _ = await _waiting_review(workers_subgraph, jobs, org, [approver])
    [approval] = await _approvals(jobs, org, job_id)
    assert (approval.status, approval.users, approval.roles) == ("pending", [str(approver)], [])
    paths = links(await emailed(owner_engine, email, "approval_requested"))
    assert set(paths) == {"approve", "reject"}
    client = workers_subgraph.client
    for _ in range(2):  # a mail scanner opening it, then the approver
        page = await client.get(paths["approve"])
        assert page.status_code == 200
        assert "Publish post" in page.text
        assert '<form method="post">' in page.text
        assert page.headers["cache-control"] == "no-store"
    assert (await until(jobs, org, job_id, Status.WAITING)).status == "waiting"
    decided = await _post(client, paths["approve"])
    assert decided.status_code == 200
    assert "Approved" in decided.text
    done = await until(jobs, org, job_id, Status.SUCCEEDED, Status.FAILED)
    assert done.result["decision"] == "approve"
    assert done.result["comment"] == "ship it"
    [audited] = await _approvals(jobs, org, job_id)
    assert (audited.status, audited.decided_by, audited.decided_via, audited.comment) == (
        "approved",
        approver,
        "link",
        "ship it",
    )
    again = await _post(client, paths["reject"])
    assert again.status_code == 409
    assert (await client.get(paths["approve"])).status_code == 409
    assert (await client.get("/approvals/not-a-token")).status_code == 404


async def test_the_token_of_a_link_stays_out_of_the_request_log(
    workers_subgraph: SignedClient,
    jobs: JobService,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
    worker: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    org = uuid4()
    approver, email = await known_approver(notification_service, org)
    await _waiting_review(workers_subgraph, jobs, org, [approver])
    path = links(await emailed(owner_engine, email, "approval_requested"))["approve"]
    token = path.rsplit("/", 1)[1]
    with caplog.at_level(logging.INFO, logger="vetrai.http"):
        assert (await workers_subgraph.client.get(path)).status_code == 200
    logged = [r.fields for r in caplog.records if r.name == "vetrai.http"]  # type: ignore[attr-defined]
    assert {"path": "/approvals/{token}", "status": 200}.items() <= logged[-1].items()
    assert not [r for r in caplog.records if token in str(r.__dict__)]


async def test_a_post_from_another_site_or_not_a_form_decides_nothing(
    workers_subgraph: SignedClient,
    jobs: JobService,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
    worker: None,
) -> None:
    org = uuid4()
    approver, email = await known_approver(notification_service, org)
    job_id, _ = await _waiting_review(workers_subgraph, jobs, org, [approver])
    path = links(await emailed(owner_engine, email, "approval_requested"))["approve"]
    client = workers_subgraph.client
    evil = await _post(client, path, origin="https://evil.example")
    assert evil.status_code == 403
    fetched = await _post(client, path, **{"sec-fetch-site": "cross-site"})
    assert fetched.status_code == 403
    as_json = await client.post(path, json={"comment": "x"})
    assert as_json.status_code == 403
    [approval] = await _approvals(jobs, org, job_id)
    assert approval.status == "pending"
    ours = await _post(client, path, origin=jobs.settings.core.public_url.rstrip("/"))
    assert ours.status_code == 200


async def test_only_approvers_decide_through_graphql_and_only_once(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    approver = member(org)
    assert approver.user_id is not None
    job_id, interrupt = await _waiting_review(workers_subgraph, jobs, org, [approver.user_id])
    owner = member_of(org)
    refused = await _resume(workers_subgraph, owner, job_id, interrupt)
    assert [e["code"] for e in refused["errors"]] == ["NOT_APPROVER"]
    key = Caller(org_id=org, roles=frozenset({"owner"}), scopes=scopes_of(["owner"]))
    by_key = await _resume(workers_subgraph, key, job_id, interrupt)
    assert [e["code"] for e in by_key["errors"]] == ["UNAUTHENTICATED"]
    listed = await workers_subgraph.run(PENDING, {"id": str(approver.user_id)}, approver)
    [pending] = listed["_entities"][0]["pendingApprovals"]
    assert (pending["interruptId"], pending["workflow"], pending["status"]) == (
        interrupt,
        "test_review",
        "PENDING",
    )
    assert pending["approverUserIds"] == [str(approver.user_id)]
    for someone in (owner, member(uuid4(), approver.user_id)):
        others = await workers_subgraph.run(PENDING, {"id": str(approver.user_id)}, someone)
        assert others["_entities"][0]["pendingApprovals"] == []
    decided = await _resume(workers_subgraph, approver, job_id, interrupt, "REJECT")
    assert decided == {"job": {"id": str(job_id), "status": "QUEUED"}, "errors": []}
    twice = await _resume(workers_subgraph, approver, job_id, interrupt)
    assert [e["code"] for e in twice["errors"]] == ["ALREADY_DECIDED"]
    done = await until(jobs, org, job_id, Status.SUCCEEDED, Status.FAILED)
    assert done.result["decision"] == "reject"
    audit = (await workers_subgraph.run(AUDIT, {"id": str(job_id)}, owner))["job"]
    assert audit["approvals"] == [
        {
            "status": "REJECTED",
            "decidedVia": "graphql",
            "comment": None,
            "decidedBy": {"id": str(approver.user_id)},
        }
    ]


async def test_an_undecided_approval_rejects_or_escalates_as_its_workflow_says(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    named = uuid4()
    rejected, _ = await _waiting_review(workers_subgraph, jobs, org, [named])
    escalated, interrupt = await _waiting_review(
        workers_subgraph, jobs, org, [named], "test_escalated_review"
    )
    boss = uuid4()
    await announce(jobs, org, {named: "member", boss: "owner"})
    later = utcnow() + timedelta(days=2)
    assert await jobs.expire_due(later) >= 2
    done = await until(jobs, org, rejected, Status.SUCCEEDED, Status.FAILED)
    assert done.result["decision"] == "reject"
    [expired] = await _approvals(jobs, org, rejected)
    assert (expired.status, expired.decided_via, expired.decided_by) == ("expired", "expiry", None)
    [widened] = await _approvals(jobs, org, escalated)
    assert (widened.status, widened.escalated, widened.roles) == ("pending", True, ["owner"])
    assert widened.expires_at > later
    assert await _linked(jobs, org, widened.id) == {named, boss}  # the owner too, now
    assert (await until(jobs, org, escalated, Status.WAITING)).status == "waiting"
    owner = member_of(org)
    refused = await _resume(workers_subgraph, owner, rejected, "gone")
    assert [e["code"] for e in refused["errors"]] == ["JOB_FINISHED"]
    await jobs.expire_due(widened.expires_at)
    [closed] = await _approvals(jobs, org, escalated)
    assert closed.status == "expired"
    late = await _resume(workers_subgraph, owner, escalated, interrupt)
    assert [e["code"] for e in late["errors"]] == ["APPROVAL_EXPIRED"]


async def test_a_link_decides_its_own_organizations_run_only(
    workers_subgraph: SignedClient,
    jobs: JobService,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
    worker: None,
) -> None:
    org_a, org_b = uuid4(), uuid4()
    approver_a, _ = await known_approver(notification_service, org_a)
    approver_b, email_b = await known_approver(notification_service, org_b)
    job_a, interrupt_a = await _waiting_review(workers_subgraph, jobs, org_a, [approver_a])
    job_b, _ = await _waiting_review(workers_subgraph, jobs, org_b, [approver_b])
    path_b = links(await emailed(owner_engine, email_b, "approval_requested"))["approve"]
    assert (await _post(workers_subgraph.client, path_b)).status_code == 200
    assert (await until(jobs, org_b, job_b, Status.SUCCEEDED)).result["decision"] == "approve"
    foreign = await _resume(workers_subgraph, member(org_b, approver_b), job_a, interrupt_a)
    assert [e["code"] for e in foreign["errors"]] == ["NOT_FOUND"]
    [untouched] = await _approvals(jobs, org_a, job_a)
    assert untouched.status == "pending"
    assert (await until(jobs, org_a, job_a, Status.WAITING)).status == "waiting"


@pytest.mark.parametrize("table", ["approvals", "approval_links"])
async def test_row_security_hides_and_refuses_another_organizations_approvals(
    workers_subgraph: SignedClient, jobs: JobService, worker: None, table: str
) -> None:
    org, other = uuid4(), uuid4()
    job_id, _ = await _waiting_review(workers_subgraph, jobs, org, [uuid4()])
    [approval] = await _approvals(jobs, org, job_id)
    column = "id" if table == "approvals" else "approval_id"
    count = text(f"select count(*) from workers.{table} where {column} = :id")  # noqa: S608
    async with jobs.db.engine.connect() as connection:
        for acting, expected in ((org, 1 if table == "approvals" else 2), (other, 0)):
            await connection.execute(
                text("select set_config('app.org_id', :o, false)"), {"o": str(acting)}
            )
            assert await connection.scalar(count, {"id": approval.id}) == expected
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(
                text(
                    "insert into workers.approval_links (id, org_id, approval_id, user_id,"
                    " decision, token_hash, created_at) values (:id, :org, :a, :u, 'approve',"
                    " :h, now())"
                ),
                {
                    "id": uuid4(),
                    "org": org,
                    "a": approval.id,
                    "u": uuid4(),
                    "h": secrets.token_hex(32),
                },
            )
        await connection.rollback()
    await jobs.cancel(member_of(org), job_id)


async def test_the_sweep_reads_every_organizations_approvals_and_changes_none(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    job_id, _ = await _waiting_review(workers_subgraph, jobs, org, [uuid4()])
    [approval] = await _approvals(jobs, org, job_id)
    async with jobs.db.engine.connect() as connection:
        for name, value in (("app.org_id", str(uuid4())), ("app.sweep", "approvals")):
            await connection.execute(
                text("select set_config(:n, :v, false)"), {"n": name, "v": value}
            )
        seen = text("select count(*) from workers.approvals where id = :id")
        assert await connection.scalar(seen, {"id": approval.id}) == 1
        changed = await connection.execute(
            text("update workers.approvals set comment = 'x' where id = :id"), {"id": approval.id}
        )
        assert changed.rowcount == 0
        their_links = text("select count(*) from workers.approval_links where approval_id = :id")
        assert await connection.scalar(their_links, {"id": approval.id}) == 0
        await connection.rollback()
    await jobs.cancel(member_of(org), job_id)

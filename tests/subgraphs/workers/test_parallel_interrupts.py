"""Parallel branches that interrupt in the same step: the run waits on every interrupt, each
with its own approval, approvers, links and place in the inbox; each is decided once, on its
own; the run stays waiting until none is left, then goes on with every answer by interrupt id
(LangGraph's ``Command(resume={id: answer})``), through the subgraph and the real worker."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from core.caller import Caller
from core.caller_context import HEADER, sign_caller
from subgraphs.kernel.db import utcnow
from subgraphs.kernel.migrations import _config
from subgraphs.notifications.service import NotificationService
from subgraphs.workers.app import DOMAIN
from subgraphs.workers.models import Approval, ApprovalLink, Job, Status
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient, emailed, served
from tests.subgraphs.workers.builders import announce, member_of, until
from tests.subgraphs.workers.reviews import PARALLEL, known_approver, links, member
from vetrai.settings import PlatformSettings

START = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  job { id status } errors { code field message } } }"""
RESUME = """mutation($input: ResumeJobInput!) { resumeJob(input: $input) {
  job { id status interrupts { id } } errors { code message } } }"""
JOB = """query($id: ID!) { job(id: $id) { status interrupt { id } interrupts { id payload }
  approvals { interruptId status decidedVia comment approverUserIds decidedBy { id } } } }"""
PENDING = """query($id: ID!) { _entities(representations: [{__typename: "User", id: $id}]) {
  ... on User { pendingApprovals { interruptId payload } } } }"""
JOB_STATUS = """subscription($id: ID!) { jobStatus(id: $id) { status interrupt { id }
  interrupts { id payload } } }"""
PROTOCOLS = [Subprotocol("graphql-transport-ws")]


async def _parallel(
    subgraph: SignedClient,
    jobs: JobService,
    org: UUID,
    *,
    legal: list[UUID],
    finance: list[UUID],
    again: bool = False,
) -> tuple[UUID, dict[str, str]]:
    """A run of the parallel review waiting on both branches, their approvers announced as
    members first; the id of each branch's interrupt."""
    await announce(jobs, org, dict.fromkeys([*legal, *finance], "member"))
    given = {
        "organizationId": str(org),
        "workflow": PARALLEL.name,
        "input": {
            "title": f"post {secrets.token_hex(3)}",
            "legal": [str(u) for u in legal],
            "finance": [str(u) for u in finance],
            "again": again,
        },
        "idempotencyKey": secrets.token_hex(6),
    }
    started = (await subgraph.run(START, {"input": given}, member_of(org)))["startWorkflow"]
    job_id = UUID(started["job"]["id"])
    job = await until(jobs, org, job_id, Status.WAITING, Status.FAILED)
    assert len(job.interrupts) == 2, job.error_message
    return job_id, _by_branch(job.interrupts)


def _by_branch(interrupts: list[dict[str, Any]]) -> dict[str, str]:
    """Each interrupt's id by the branch whose question it is (``legal: publish ...?``)."""
    return {str(i["payload"]["question"]).split(":")[0]: str(i["id"]) for i in interrupts}


async def _resume(
    subgraph: SignedClient, caller: Caller, job_id: UUID, interrupt: str, decision: str = "APPROVE"
) -> dict[str, Any]:
    decide = {"jobId": str(job_id), "interruptId": interrupt, "decision": decision}
    payload: dict[str, Any] = (await subgraph.run(RESUME, {"input": decide}, caller))["resumeJob"]
    return payload


async def _inbox(subgraph: SignedClient, caller: Caller) -> list[str]:
    """The interrupts the caller's pending approvals decide."""
    found = await subgraph.run(PENDING, {"id": str(caller.user_id)}, caller)
    return [a["interruptId"] for a in found["_entities"][0]["pendingApprovals"]]


async def _links_held(jobs: JobService, org: UUID, user: UUID) -> set[tuple[str, str]]:
    """The interrupt and decision of each approval link the user holds."""
    async with jobs.db.transaction(Caller(org_id=org)) as session:
        rows = await session.exec(
            select(Approval.interrupt_id, ApprovalLink.decision)
            .join(ApprovalLink, col(ApprovalLink.approval_id) == col(Approval.id))
            .where(ApprovalLink.user_id == user)
        )
        return set(rows)


def _post(client: httpx.AsyncClient, path: str, comment: str = "ship it") -> Any:
    return client.post(path, data={"comment": comment})


async def _job(subgraph: SignedClient, org: UUID, job_id: UUID) -> dict[str, Any]:
    found: dict[str, Any] = (await subgraph.run(JOB, {"id": str(job_id)}, member_of(org)))["job"]
    return found


def _answers(job: Job) -> dict[str, tuple[str, str | None, str | None]]:
    """Each question's decision, comment and decider, as the run received them."""
    answers = job.result["answers"]
    return {k: (a["decision"], a["comment"], a["by"]) for k, a in answers.items()}


@pytest.fixture(scope="module")
async def endpoint(settings: PlatformSettings) -> AsyncIterator[str]:
    """The workers subgraph served by uvicorn, for subscriptions over WebSocket."""
    app = DOMAIN.create_app(settings)
    async with served(app) as port:
        yield f"ws://127.0.0.1:{port}/graphql"
    await app.state.runtime.db.close()
    await app.state.runtime.redis.aclose()


async def _subscribed(
    endpoint: str, subgraph: SignedClient, caller: Caller, job_id: UUID
) -> ClientConnection:
    signed = sign_caller(caller, audience="workers", key=subgraph.key)
    ws = await connect(endpoint, subprotocols=PROTOCOLS, additional_headers={HEADER: signed})
    await ws.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
    assert orjson.loads(await ws.recv())["type"] == "connection_ack"
    subscribe = {"query": JOB_STATUS, "variables": {"id": str(job_id)}}
    await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": subscribe}).decode())
    return ws


async def _event(ws: ClientConnection) -> dict[str, Any] | None:
    """The next status event; None once the subscription completed (the job finished)."""
    message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    if message["type"] == "complete":
        return None
    assert message["type"] == "next", message
    event: dict[str, Any] = message["payload"]["data"]["jobStatus"]
    return event


async def test_parallel_interrupts_are_each_asked_decided_once_and_resume_the_run_together(
    workers_subgraph: SignedClient,
    jobs: JobService,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
    endpoint: str,
    worker: None,
) -> None:
    org = uuid4()
    legal, legal_email = await known_approver(notification_service, org)
    finance, finance_email = await known_approver(notification_service, org)
    both = member(org)
    assert both.user_id is not None
    job_id, asked = await _parallel(
        workers_subgraph,
        jobs,
        org,
        legal=[legal, both.user_id],
        finance=[finance, both.user_id],
    )
    waiting = await _job(workers_subgraph, org, job_id)
    assert waiting["status"] == "WAITING"
    assert {i["id"]: i["payload"]["approvers"] for i in waiting["interrupts"]} == {
        asked["legal"]: [str(legal), str(both.user_id)],
        asked["finance"]: [str(finance), str(both.user_id)],
    }
    assert waiting["interrupt"] == {"id": waiting["interrupts"][0]["id"]}
    opened = {a["interruptId"]: a for a in waiting["approvals"]}
    assert set(opened) == set(asked.values())
    assert {a["status"] for a in opened.values()} == {"PENDING"}
    assert set(opened[asked["legal"]]["approverUserIds"]) == {str(legal), str(both.user_id)}
    # Each approver's inbox lists each interrupt they may decide, and only those.
    assert await _inbox(workers_subgraph, member(org, legal)) == [asked["legal"]]
    assert await _inbox(workers_subgraph, member(org, finance)) == [asked["finance"]]
    assert sorted(await _inbox(workers_subgraph, both)) == sorted(asked.values())
    # Each approver named on both is notified of each, with links of their own.
    assert await _links_held(jobs, org, both.user_id) == {
        (asked["legal"], "approve"),
        (asked["legal"], "reject"),
        (asked["finance"], "approve"),
        (asked["finance"], "reject"),
    }
    legal_links = links(await emailed(owner_engine, legal_email, "approval_requested"))
    finance_links = links(await emailed(owner_engine, finance_email, "approval_requested"))
    assert "legal: publish" in (await workers_subgraph.client.get(legal_links["approve"])).text
    assert "finance: publish" in (await workers_subgraph.client.get(finance_links["reject"])).text

    ws = await _subscribed(endpoint, workers_subgraph, member_of(org), job_id)
    try:
        now = await _event(ws)
        assert now is not None
        assert (now["status"], len(now["interrupts"])) == ("WAITING", 2)
        decided = await _post(workers_subgraph.client, legal_links["approve"])
        assert decided.status_code == 200
        assert "once its other question is decided too" in decided.text
        left = [i for i in waiting["interrupts"] if i["id"] == asked["finance"]]
        assert await _event(ws) == {
            "status": "WAITING",
            "interrupt": {"id": asked["finance"]},
            "interrupts": left,
        }
        # A second answer to the decided interrupt is refused, by link and through GraphQL.
        assert (await _post(workers_subgraph.client, legal_links["reject"])).status_code == 409
        twice = await _resume(workers_subgraph, both, job_id, asked["legal"], "REJECT")
        assert [e["code"] for e in twice["errors"]] == ["ALREADY_DECIDED"]
        assert await _inbox(workers_subgraph, both) == [asked["finance"]]
        assert (await until(jobs, org, job_id, Status.WAITING)).status == "waiting"
        last = await _resume(
            workers_subgraph, member(org, finance), job_id, asked["finance"], "REJECT"
        )
        assert last == {
            "job": {"id": str(job_id), "status": "QUEUED", "interrupts": []},
            "errors": [],
        }
        statuses = []
        while (event := await _event(ws)) is not None:
            statuses.append(event["status"])
        assert statuses[-1] == "SUCCEEDED"
    finally:
        await ws.close()
    done = await until(jobs, org, job_id, Status.SUCCEEDED)
    assert _answers(done) == {
        "legal": ("approve", "ship it", str(legal)),
        "finance": ("reject", None, str(finance)),
    }
    assert done.result["published"] is False
    audit = {a["interruptId"]: a for a in (await _job(workers_subgraph, org, job_id))["approvals"]}
    assert {i: (a["status"], a["decidedVia"], a["decidedBy"]) for i, a in audit.items()} == {
        asked["legal"]: ("APPROVED", "link", {"id": str(legal)}),
        asked["finance"]: ("REJECTED", "graphql", {"id": str(finance)}),
    }
    assert await _inbox(workers_subgraph, both) == []


async def test_a_branch_asking_again_waits_on_its_new_interrupt_and_no_step_runs_twice(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    legal_id, finance_id = uuid4(), uuid4()
    legal, finance = member(org, legal_id), member(org, finance_id)
    job_id, asked = await _parallel(
        workers_subgraph, jobs, org, legal=[legal_id], finance=[finance_id], again=True
    )
    first = await _resume(workers_subgraph, finance, job_id, asked["finance"])
    assert first["job"]["status"] == "WAITING"
    await _resume(workers_subgraph, legal, job_id, asked["legal"])
    job = await until(jobs, org, job_id, Status.WAITING, Status.SUCCEEDED, Status.FAILED)
    [again] = job.interrupts
    assert again["payload"]["question"].startswith("legal: really publish")
    assert again["id"] not in asked.values()
    assert await _inbox(workers_subgraph, legal) == [again["id"]]
    assert await _inbox(workers_subgraph, finance) == []
    await _resume(workers_subgraph, legal, job_id, str(again["id"]))
    done = await until(jobs, org, job_id, Status.SUCCEEDED, Status.FAILED)
    assert _answers(done) == {
        "legal": ("approve", None, str(legal_id)),
        "finance": ("approve", None, str(finance_id)),
        "legal again": ("approve", None, str(legal_id)),
    }
    assert done.result["published"] is True
    # The finance branch finished in the first resumed attempt; the second one only repeats
    # its stored update, which is no step of its own.
    steps = [line["message"] for line in done.logs if line["message"].startswith("step ")]
    assert steps == ["step finance finished", "step legal finished", "step publish finished"]
    assert len((await _job(workers_subgraph, org, job_id))["approvals"]) == 3


async def test_an_undecided_interrupt_expires_alone_and_the_run_goes_on_as_it_rejects(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    legal_id, finance_id = uuid4(), uuid4()
    legal = member(org, legal_id)
    job_id, asked = await _parallel(
        workers_subgraph, jobs, org, legal=[legal_id], finance=[finance_id]
    )
    await _resume(workers_subgraph, legal, job_id, asked["legal"])
    assert await jobs.expire_due(utcnow() + timedelta(days=2)) >= 1
    done = await until(jobs, org, job_id, Status.SUCCEEDED, Status.FAILED)
    assert _answers(done) == {
        "legal": ("approve", None, str(legal_id)),
        "finance": ("reject", "expired", None),
    }
    audit = {a["interruptId"]: a for a in (await _job(workers_subgraph, org, job_id))["approvals"]}
    assert (audit[asked["legal"]]["status"], audit[asked["legal"]]["decidedVia"]) == (
        "APPROVED",
        "graphql",
    )
    assert (audit[asked["finance"]]["status"], audit[asked["finance"]]["decidedVia"]) == (
        "EXPIRED",
        "expiry",
    )


async def test_decisions_at_the_same_moment_resume_the_run_once_and_one_answer_each_wins(
    workers_subgraph: SignedClient,
    jobs: JobService,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
    worker: None,
) -> None:
    org = uuid4()
    client = workers_subgraph.client
    legal, legal_email = await known_approver(notification_service, org)
    finance, finance_email = await known_approver(notification_service, org)
    job_id, _ = await _parallel(workers_subgraph, jobs, org, legal=[legal], finance=[finance])
    paths = [
        links(await emailed(owner_engine, email, "approval_requested"))["approve"]
        for email in (legal_email, finance_email)
    ]
    pages = await asyncio.gather(*(_post(client, path) for path in paths))
    assert [page.status_code for page in pages] == [200, 200]
    done = await until(jobs, org, job_id, Status.SUCCEEDED, Status.FAILED)
    assert done.attempt == 2  # queued again once, by whichever decision was the last
    assert done.result["published"] is True

    # Two answers to one interrupt at once: one decides, the other is told it was decided.
    clerk, clerk_email = await known_approver(notification_service, org)
    boss = member(org)
    assert boss.user_id is not None
    job_id, asked = await _parallel(
        workers_subgraph, jobs, org, legal=[clerk, boss.user_id], finance=[boss.user_id]
    )
    reject = links(await emailed(owner_engine, clerk_email, "approval_requested"))["reject"]
    page, payload = await asyncio.gather(
        _post(client, reject), _resume(workers_subgraph, boss, job_id, asked["legal"])
    )
    codes = [e["code"] for e in payload["errors"]]
    assert sorted([page.status_code == 200, codes == []]) == [False, True]
    assert page.status_code in (200, 409)
    assert codes in ([], ["ALREADY_DECIDED"])
    [legal_approval] = [
        a
        for a in (await _job(workers_subgraph, org, job_id))["approvals"]
        if a["interruptId"] == asked["legal"]
    ]
    expected = ("REJECTED", "link") if page.status_code == 200 else ("APPROVED", "graphql")
    assert (legal_approval["status"], legal_approval["decidedVia"]) == expected
    job = await until(jobs, org, job_id, Status.WAITING)
    assert [i["id"] for i in job.interrupts] == [asked["finance"]]
    await jobs.cancel(member_of(org), job_id)
    assert await _inbox(workers_subgraph, boss) == []  # a cancelled run asks nothing


JOB_ROW = """insert into workers.jobs (id, org_id, kind, idempotency_key, status, attempt,
  max_attempts, progress, payload, logs, created_at, updated_at, interrupt)
  values (:id, :org, 'workflow', :key, :status, 1, 3, 0, :payload, '[]', now(), now(),
  :interrupt)"""


async def test_the_migration_keeps_a_waiting_runs_interrupt_as_its_only_one(
    migrated_database: tuple[str, AsyncEngine],
) -> None:
    url, engine = migrated_database
    workers = _config(url, DOMAIN.migrations)
    await asyncio.to_thread(command.downgrade, workers, "workers_0006")
    org, waiting, queued = uuid4(), uuid4(), uuid4()
    asked = {"id": "a" * 32, "payload": {"question": "Publish?"}}
    answer = {"decision": "approve", "comment": None, "by": None}
    rows = (
        (waiting, "waiting", {"input": {}, "resume": answer}, asked),
        (queued, "queued", {"input": {}, "resume": answer}, None),
    )
    async with engine.begin() as connection:
        for job_id, status, payload, interrupt in rows:
            values = {
                "id": job_id,
                "org": org,
                "key": str(job_id),
                "status": status,
                "payload": orjson.dumps(payload).decode(),
                "interrupt": orjson.dumps(interrupt).decode() if interrupt else None,
            }
            await connection.execute(text(JOB_ROW), values)
    await asyncio.to_thread(command.upgrade, workers, "head")
    read = text("select id, interrupts, payload from workers.jobs where org_id = :org")
    async with engine.connect() as connection:
        found = {
            r.id: (r.interrupts, r.payload) for r in await connection.execute(read, {"org": org})
        }
    # The waiting run's answer of an earlier wait is gone; a queued run keeps the answer it
    # is resumed with.
    assert found == {
        waiting: ([asked], {"input": {}}),
        queued: ([], {"input": {}, "resume": answer}),
    }
    await asyncio.to_thread(command.downgrade, workers, "workers_0006")
    back = text("select id, interrupt from workers.jobs where org_id = :org")
    async with engine.connect() as connection:
        restored = {r.id: r.interrupt for r in await connection.execute(back, {"org": org})}
    assert restored == {waiting: asked, queued: None}

"""Workflows: listed with their input schema and drawing, started with a checked input once per
idempotency key, run by the real worker with checkpoints in PostgreSQL under row security,
waiting at an ``interrupt()`` until resumed, and notifications' digest."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any, TypedDict
from uuid import UUID, uuid4

import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from psycopg.errors import InsufficientPrivilege
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.billing.contract import free_plan_grants
from subgraphs.kernel.db import utcnow
from subgraphs.notifications.contract import NotificationRequest, Recipient
from subgraphs.notifications.service import NotificationService
from subgraphs.notifications.templates import MESSAGE
from subgraphs.workers import live
from subgraphs.workers.contract import JOB_HISTORY_DAYS, Multitask, Workflow, register_workflow
from subgraphs.workers.kinds import JobFailed
from subgraphs.workers.models import Status
from subgraphs.workers.runs import connect
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient
from tests.subgraphs.workers.builders import member_of, until
from tests.subgraphs.workers.crash_flow import CRASH, steps_key

WORKFLOWS = "query { workflows { name version description inputSchema drawing } }"
START_WORKFLOW = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  job { id status } errors { code field message } } }"""
RESUME = """mutation($input: ResumeJobInput!) { resumeJob(input: $input) {
  job { id status } errors { code message } } }"""
JOB = """query($id: ID!) { job(id: $id) { status result interrupt { id payload } } }"""
DRAFTS: list[str] = []


class Approval(TypedDict, total=False):
    title: str
    decision: str


def _approval(context: dict[str, Any]) -> StateGraph[Approval]:
    def draft(state: Approval) -> Approval:
        DRAFTS.append(state["title"])
        get_stream_writer()({"progress": 0.3, "message": "drafted"})
        return {}

    def ask(state: Approval) -> Approval:
        answer = interrupt({"question": f"Publish {state['title']}?"})
        return {"decision": answer["decision"]}

    graph = StateGraph(Approval)
    graph.add_node("draft", draft)
    graph.add_node("ask", ask)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "ask")
    graph.add_edge("ask", END)
    return graph


register_workflow(
    Workflow(
        name="test_approval",
        version=2,
        description="Drafts, then asks.",
        input_schema={
            "type": "object",
            "properties": {"title": {"type": "string", "minLength": 1}},
            "required": ["title"],
        },
        graph=_approval,
    )
)


# Per run (its title): how often each step of the failing workflow ran.
RUNS: dict[str, list[str]] = {}


class Failing(TypedDict, total=False):
    title: str
    fails: int
    hangs: int
    done: bool


def _failing(context: dict[str, Any]) -> StateGraph[Failing]:
    def prepare(state: Failing) -> Failing:
        RUNS.setdefault(state["title"], []).append("prepare")
        return {}

    async def publish(state: Failing) -> Failing:
        runs = RUNS.setdefault(state["title"], [])
        runs.append("publish")
        if runs.count("publish") <= state["fails"]:
            raise JobFailed("FLAKY", "the publisher is down")
        if runs.count("publish") <= state.get("hangs", 0):
            await asyncio.Event().wait()  # silent: no progress, no step
        return {"done": True}

    graph = StateGraph(Failing)
    graph.add_node("prepare", prepare)
    graph.add_node("publish", publish)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "publish")
    graph.add_edge("publish", END)
    return graph


FAILING = register_workflow(
    Workflow(
        "test_failing",
        1,
        "Prepares, then publishes; fails or hangs as told.",
        {},
        _failing,
        heartbeat_seconds=0.5,
    )
)


def _input(org: UUID, workflow: str = "test_approval", **extra: Any) -> dict[str, Any]:
    return {
        "organizationId": str(org),
        "workflow": workflow,
        "input": {"title": "Spring sale"},
        "idempotencyKey": secrets.token_hex(6),
        **extra,
    }


async def _start(subgraph: SignedClient, caller: Caller, input: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await subgraph.run(START_WORKFLOW, {"input": input}, caller))[
        "startWorkflow"
    ]
    return payload


async def test_workflows_are_listed_with_their_input_schema_and_drawing(
    workers_subgraph: SignedClient,
) -> None:
    listed = {w["name"]: w for w in (await workers_subgraph.run(WORKFLOWS))["workflows"]}
    digest = listed["notification_digest"]
    assert digest["version"] == 1
    assert digest["inputSchema"]["required"] == ["since"]
    assert "collect" in digest["drawing"]
    assert "send" in digest["drawing"]
    assert listed["test_approval"]["version"] == 2


async def test_start_workflow_checks_its_input_and_who_starts_it(
    workers_subgraph: SignedClient,
) -> None:
    org = uuid4()
    owner = member_of(org)
    unknown = await _start(workers_subgraph, owner, _input(org, "no_such"))
    assert [(e["code"], e["field"]) for e in unknown["errors"]] == [
        ("WORKFLOW_NOT_FOUND", "workflow")
    ]
    bad = await _start(workers_subgraph, owner, _input(org, input={"title": 3}))
    assert [(e["code"], e["field"]) for e in bad["errors"]] == [
        ("INVALID_WORKFLOW_INPUT", "input.title")
    ]
    missing = await _start(workers_subgraph, owner, _input(org, "notification_digest", input={}))
    assert [e["code"] for e in missing["errors"]] == ["INVALID_WORKFLOW_INPUT"]
    member = await _start(workers_subgraph, member_of(org, "member"), _input(org))
    assert [e["code"] for e in member["errors"]] == ["FORBIDDEN"]
    outsider = await _start(workers_subgraph, member_of(uuid4()), _input(org))
    assert [e["code"] for e in outsider["errors"]] == ["FORBIDDEN"]
    for payload in (unknown, bad, missing, member, outsider):
        assert payload["job"] is None


async def test_a_run_waits_at_its_interrupt_and_goes_on_from_its_checkpoint_when_resumed(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    owner = member_of(org)
    given = _input(org, input={"title": f"sale {secrets.token_hex(3)}"})
    started = await _start(workers_subgraph, owner, given)
    again = await _start(workers_subgraph, owner, given)
    assert again["job"]["id"] == started["job"]["id"]
    job_id = UUID(started["job"]["id"])
    waiting = await until(jobs, org, job_id, Status.WAITING, Status.FAILED)
    assert waiting.status == "waiting"
    asked = (await workers_subgraph.run(JOB, {"id": str(job_id)}, owner))["job"]["interrupt"]
    assert asked["payload"] == {"question": f"Publish {given['input']['title']}?"}
    decide = {"jobId": str(job_id), "interruptId": asked["id"], "decision": "APPROVE"}
    resumed = (await workers_subgraph.run(RESUME, {"input": decide}, owner))["resumeJob"]
    assert resumed["job"]["status"] == "QUEUED"
    done = await until(jobs, org, job_id, Status.SUCCEEDED, Status.FAILED)
    assert done.result == {"title": given["input"]["title"], "decision": "approve"}
    assert DRAFTS.count(given["input"]["title"]) == 1  # the draft step did not run again
    twice = (await workers_subgraph.run(RESUME, {"input": decide}, owner))["resumeJob"]
    assert [e["code"] for e in twice["errors"]] == ["ALREADY_DECIDED"]
    other = {**decide, "interruptId": "another"}
    finished = (await workers_subgraph.run(RESUME, {"input": other}, owner))["resumeJob"]
    assert [e["code"] for e in finished["errors"]] == ["JOB_FINISHED"]


async def test_resume_needs_a_waiting_job_of_ones_own(
    workers_subgraph: SignedClient, idle: JobService
) -> None:
    org = uuid4()
    queued = await idle.start_workflow(
        member_of(org),
        org,
        "test_approval",
        {"title": "x"},
        idempotency_key="k",
        concurrency_key=None,
        multitask=Multitask.ENQUEUE,
    )
    decide = {"jobId": str(queued.id), "interruptId": "i", "decision": "REJECT"}
    refused = (await workers_subgraph.run(RESUME, {"input": decide}, member_of(org)))["resumeJob"]
    assert [e["code"] for e in refused["errors"]] == ["JOB_NOT_WAITING"]
    foreign = await workers_subgraph.run(RESUME, {"input": decide}, member_of(uuid4()))
    assert [e["code"] for e in foreign["resumeJob"]["errors"]] == ["NOT_FOUND"]


async def test_checkpoints_are_visible_and_writable_only_under_their_organization(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    started = await _start(workers_subgraph, member_of(org), _input(org))
    job_id = UUID(started["job"]["id"])
    await until(jobs, org, job_id, Status.WAITING)
    url = jobs.settings.core.login_url("workers")
    count = "select count(*) as n from checkpoints where thread_id = %s"
    async with await connect(url, org) as mine:
        rows = await (await mine.execute(count, (f"{org}:{job_id}",))).fetchone()
        assert rows is not None
        assert rows["n"] > 0
    async with await connect(url, uuid4()) as other:
        rows = await (await other.execute(count, (f"{org}:{job_id}",))).fetchone()
        assert rows is not None
        assert rows["n"] == 0
        with pytest.raises(InsufficientPrivilege):
            await other.execute(
                "insert into checkpoints (thread_id, checkpoint_id, checkpoint)"
                " values (%s, 'x', '{}')",
                (f"{org}:{uuid4()}",),
            )
    await jobs.cancel(member_of(org), job_id)


async def test_a_failing_node_is_retried_from_the_last_checkpoint_until_out_of_attempts(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    outcomes = {}
    for title, fails in (("once", 1), ("always", 99)):
        key = f"{title}-{secrets.token_hex(4)}"
        job = await jobs.start_workflow(
            member_of(org),
            org,
            FAILING.name,
            {"title": key, "fails": fails},
            idempotency_key=key,
            concurrency_key=None,
            multitask=Multitask.ENQUEUE,
        )
        outcomes[title] = (key, await until(jobs, org, job.id, Status.SUCCEEDED, Status.FAILED))
    key, once = outcomes["once"]
    assert (once.status, once.attempt, once.error_code) == ("succeeded", 2, None)
    assert once.result == {"title": key, "fails": 1, "done": True}
    # The finished step is not run again: the retry goes on from its checkpoint.
    assert RUNS[key] == ["prepare", "publish", "publish"]
    key, always = outcomes["always"]
    assert (always.status, always.attempt, always.error_code) == ("failed", 3, "FLAKY")
    assert RUNS[key] == ["prepare", "publish", "publish", "publish"]


async def test_a_silent_run_is_stopped_after_its_heartbeat_timeout_and_retried(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    outcomes = {}
    for title, hangs in (("once", 1), ("always", 99)):
        key = f"{title}-{secrets.token_hex(4)}"
        job = await jobs.start_workflow(
            member_of(org),
            org,
            FAILING.name,
            {"title": key, "fails": 0, "hangs": hangs},
            idempotency_key=key,
            concurrency_key=None,
            multitask=Multitask.ENQUEUE,
        )
        done = await until(jobs, org, job.id, Status.SUCCEEDED, Status.TIMED_OUT, within=30)
        outcomes[title] = (key, done)
    key, once = outcomes["once"]
    assert (once.status, once.attempt, once.error_code) == ("succeeded", 2, None)
    assert RUNS[key] == ["prepare", "publish", "publish"]
    key, always = outcomes["always"]
    assert (always.status, always.attempt) == ("timed_out", 3)
    assert always.error_code == "HEARTBEAT_TIMEOUT"


async def _checkpoint_count(jobs: JobService, org: UUID, job_id: UUID) -> int:
    url = jobs.settings.core.login_url("workers")
    count = "select count(*) as n from checkpoints where thread_id = %s"
    async with await connect(url, org) as connection:
        row = await (await connection.execute(count, (f"{org}:{job_id}",))).fetchone()
        assert row is not None
        return int(row["n"])


async def test_interrupt_keeps_the_runs_it_cancels_and_rollback_deletes_their_checkpoints(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    owner = member_of(org)

    async def started(workflow: str, multitask: Multitask) -> UUID:
        job = await jobs.start_workflow(
            owner,
            org,
            workflow,
            {"title": "x"},
            idempotency_key=secrets.token_hex(6),
            concurrency_key="k",
            multitask=multitask,
        )
        return job.id

    first = await started("test_approval", Multitask.ENQUEUE)
    await until(jobs, org, first, Status.WAITING)
    second = await started("test_approval", Multitask.INTERRUPT)
    assert (await until(jobs, org, first, Status.CANCELLED)).finished_at is not None
    assert await _checkpoint_count(jobs, org, first) > 0
    await until(jobs, org, second, Status.WAITING)
    held = await started(CRASH.name, Multitask.ROLLBACK)  # second step held until aborted
    assert await jobs.job(owner, second) is None
    assert await _checkpoint_count(jobs, org, second) == 0
    steps = steps_key(f"{org}:{held}")
    deadline = asyncio.get_running_loop().time() + 10
    while await jobs.redis.llen(steps) < 2:  # type: ignore[misc]
        assert asyncio.get_running_loop().time() < deadline, "the second step never began"
        await asyncio.sleep(0.01)
    assert await _checkpoint_count(jobs, org, held) > 0  # the first step's
    # Rolled back while running: the stopped run's checkpoints go once it stopped.
    await started("test_approval", Multitask.ROLLBACK)
    assert await jobs.job(owner, held) is None
    while await _checkpoint_count(jobs, org, held) > 0:
        assert asyncio.get_running_loop().time() < deadline + 10, "checkpoints kept"
        await asyncio.sleep(0.05)
    await jobs.redis.delete(steps)


async def test_the_digest_emails_each_member_their_unread_notifications(
    workers_subgraph: SignedClient,
    jobs: JobService,
    notification_service: NotificationService,
    owner_engine: AsyncEngine,
    worker: None,
) -> None:
    org, reader, idle = uuid4(), uuid4(), uuid4()
    await notification_service.set_members(org, [reader, idle], utcnow())
    await notification_service.notify(
        NotificationRequest(
            template_key=MESSAGE,
            category="announcement",
            recipients=[Recipient(user_id=reader, email=f"{reader}@example.com")],
            idempotency_key=secrets.token_hex(6),
            data={"title": "Quarterly report", "body": "Read it"},
            channels=["in_app"],
            org_id=org,
        )
    )
    given = _input(org, "notification_digest", input={"since": "2026-01-01T00:00:00Z"})
    started = await _start(workers_subgraph, member_of(org), given)
    done = await until(jobs, org, UUID(started["job"]["id"]), Status.SUCCEEDED, Status.FAILED)
    assert done.status == "succeeded"
    assert done.result["sent"] == 1
    async with owner_engine.connect() as connection:
        emailed = await connection.execute(
            text(
                "select n.user_id, n.body from notifications.notifications n"
                " join notifications.deliveries d on d.notification_id = n.id"
                " where d.channel = 'email' and n.org_id = :org"
            ),
            {"org": org},
        )
        assert [tuple(r) for r in emailed] == [(reader, "Quarterly report")]


async def test_each_finished_step_is_logged_and_published_with_its_name(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    pubsub = jobs.redis.pubsub()
    await pubsub.psubscribe("vetrai:jobs:*")
    try:
        started = await _start(workers_subgraph, member_of(org), _input(org))
        job_id = UUID(started["job"]["id"])
        waiting = await until(jobs, org, job_id, Status.WAITING)
        steps: list[str | None] = []
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            assert asyncio.get_running_loop().time() < deadline, steps
            # None as well for the subscription's own confirmation, which it skips.
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is None:
                continue
            changed = live.StatusChanged.model_validate_json(message["data"])
            if changed.id == job_id:
                steps.append(changed.step)
                if changed.status == "waiting":
                    break
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    assert "draft" in steps
    assert steps[-1] is None  # the waiting event names no step
    assert "step draft finished" in [line["message"] for line in waiting.logs]
    await jobs.cancel(member_of(org), job_id)


async def test_a_finished_run_keeps_its_last_checkpoint_until_its_plans_history_window(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    owner = member_of(org)
    started = await _start(workers_subgraph, owner, _input(org))
    job_id = UUID(started["job"]["id"])
    asked = await until(jobs, org, job_id, Status.WAITING)
    assert asked.interrupt is not None
    await jobs.resume(owner, job_id, asked.interrupt["id"], "approve", None)
    done = await until(jobs, org, job_id, Status.SUCCEEDED)
    assert done.finished_at is not None
    thread = f"{org}:{job_id}"
    url = jobs.settings.core.login_url("workers")

    async def rows() -> dict[str, int]:
        counted = {}
        async with await connect(url, org) as connection:
            for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
                found = await connection.execute(
                    f"select count(*) as n from {table} where thread_id = %s",  # noqa: S608
                    (thread,),
                )
                counted[table] = (await found.fetchone() or {"n": -1})["n"]
        return counted

    before = await rows()
    assert before["checkpoints"] > 1
    await jobs.prune_finished(done.finished_at + timedelta(days=6))
    assert await rows() == before  # within the retention
    later = done.finished_at + timedelta(days=8)
    await jobs.prune_finished(later)
    after = await rows()
    assert after["checkpoints"] == 1
    assert after["checkpoint_blobs"] < before["checkpoint_blobs"]
    assert after["checkpoint_writes"] <= before["checkpoint_writes"]
    pruned = await jobs.job(Caller(org_id=org), job_id)
    assert pruned is not None
    assert pruned.pruned_at == later
    async with await connect(url, org) as connection:
        graph = _approval({}).compile(checkpointer=AsyncPostgresSaver(connection))
        state = await graph.aget_state({"configurable": {"thread_id": thread}})
    assert state.values == done.result
    # Billing announced no plan: the free plan's history window, which a plan change moves.
    free = free_plan_grants(JOB_HISTORY_DAYS)
    assert isinstance(free, int)
    assert pruned.forget_at == done.finished_at + timedelta(days=free)
    await jobs.set_plan(org, {JOB_HISTORY_DAYS: True}, utcnow())
    kept = await jobs.job(Caller(org_id=org), job_id)
    assert kept is not None
    assert kept.forget_at is None  # unlimited
    await jobs.set_plan(org, {JOB_HISTORY_DAYS: 30}, utcnow())
    await jobs.forget_expired(done.finished_at + timedelta(days=29), limit=10000)
    assert (await rows())["checkpoints"] == 1
    gone = done.finished_at + timedelta(days=31)
    await jobs.forget_expired(gone, limit=10000)
    assert await rows() == {"checkpoints": 0, "checkpoint_blobs": 0, "checkpoint_writes": 0}
    forgotten = await jobs.job(Caller(org_id=org), job_id)
    assert forgotten is not None
    assert forgotten.forgotten_at == gone


FORK = """mutation($input: ForkJobInput!) { forkJob(input: $input) {
  job { id status } errors { code field message } } }"""
CHECKPOINTS = "query($id: ID!) { job(id: $id) { checkpoints { id step source createdAt } } }"


async def test_a_fork_goes_on_from_a_checkpoint_with_its_state_edited(
    workers_subgraph: SignedClient, jobs: JobService, worker: None
) -> None:
    org = uuid4()
    owner = member_of(org)
    title = f"sale {secrets.token_hex(3)}"
    started = await _start(workers_subgraph, owner, _input(org, input={"title": title}))
    source = UUID(started["job"]["id"])
    asked = await until(jobs, org, source, Status.WAITING)
    assert asked.interrupt is not None
    await jobs.resume(owner, source, asked.interrupt["id"], "approve", None)
    done = await until(jobs, org, source, Status.SUCCEEDED)
    listed = (await workers_subgraph.run(CHECKPOINTS, {"id": str(source)}, owner))["job"]
    # The checkpoint after the draft step, before the question.
    drafted = next(c for c in listed["checkpoints"] if c["step"] == 1)
    assert drafted["source"] == "loop"
    edited = f"edited {secrets.token_hex(3)}"
    given = {
        "jobId": str(source),
        "checkpointId": drafted["id"],
        "stateUpdate": {"title": edited},
        "idempotencyKey": secrets.token_hex(6),
    }
    forked = (await workers_subgraph.run(FORK, {"input": given}, owner))["forkJob"]
    assert forked["errors"] == []
    fork_id = UUID(forked["job"]["id"])
    waiting = await until(jobs, org, fork_id, Status.WAITING, Status.FAILED)
    assert waiting.interrupt is not None, waiting.error_message
    assert waiting.interrupt["payload"] == {"question": f"Publish {edited}?"}
    await jobs.resume(owner, fork_id, waiting.interrupt["id"], "reject", None)
    again = await until(jobs, org, fork_id, Status.SUCCEEDED, Status.FAILED)
    assert again.result == {"title": edited, "decision": "reject"}
    assert DRAFTS.count(title) == 1  # the fork did not draft again
    kept = await jobs.job(Caller(org_id=org), source)
    assert kept is not None
    assert kept.result == done.result
    assert any(f"as {fork_id}" in line["message"] for line in kept.logs)
    for bad, code, field in (
        ({**given, "checkpointId": "nope"}, "NOT_FOUND", "checkpointId"),
        ({**given, "stateUpdate": [1]}, "INVALID_INPUT", "stateUpdate"),
    ):
        refused = (await workers_subgraph.run(FORK, {"input": bad}, owner))["forkJob"]
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [(code, field)]
    stranger = await workers_subgraph.run(FORK, {"input": given}, member_of(uuid4()))
    assert [e["code"] for e in stranger["forkJob"]["errors"]] == ["NOT_FOUND"]
    reader = await workers_subgraph.run(FORK, {"input": given}, member_of(org, "member"))
    assert [e["code"] for e in reader["forkJob"]["errors"]] == ["FORBIDDEN"]

"""Jobs without a worker: created once per idempotency key, read and listed only by their
organization (service, GraphQL and SQL as the application role), cancelled, and the multitask
strategies of a concurrency key. Jobs here wait on a queue no worker takes."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.caller import Caller
from subgraphs.kernel.errors import Rejected
from subgraphs.workers.contract import Multitask, WorkersErrorCode
from subgraphs.workers.models import Status
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient
from tests.subgraphs.workers.builders import FREE_LIMIT, member_of, request, waiting

JOB = """query($id: ID!) { job(id: $id) { id kind status attempt attempts maxAttempts progress
  result error { code message } logs(last: 20) { at level message } concurrencyKey } }"""
ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Job { id kind } } }"""
ORG_JOBS = """query($r: [_Any!]!, $status: JobStatus, $kind: String, $after: String) {
  _entities(representations: $r) { ... on Organization {
    jobs(status: $status, kind: $kind, first: 1, after: $after) {
      pageInfo { hasNextPage endCursor } edges { node { id kind status } } } } } }"""
CANCEL = (
    """mutation($id: ID!) { cancelJob(id: $id) { job { id status } errors { code message } } }"""
)


async def test_the_same_idempotency_key_gives_the_same_job(idle: JobService) -> None:
    org = uuid4()
    first = await idle.start(request(org, key="same"))
    again = await idle.start(request(org, key="same", payload={"other": True}))
    assert again.id == first.id
    assert again.payload == {}
    assert (await idle.start(request(uuid4(), key="same"))).id != first.id


async def test_an_unknown_kind_is_rejected_and_nothing_is_stored(idle: JobService) -> None:
    org = uuid4()
    with pytest.raises(Rejected) as rejected:
        await idle.start(request(org, "no.such.kind"))
    assert rejected.value.problems[0].field == "kind"
    page = await idle.jobs(member_of(org), org, status=None, kind=None, first=10, after=None)
    assert page.items == []


async def test_a_job_is_read_by_its_organization_only(
    idle: JobService, workers_subgraph: SignedClient
) -> None:
    org = uuid4()
    job = await idle.start(request(org, concurrency_key="k"))
    mine = await workers_subgraph.run(JOB, {"id": str(job.id)}, member_of(org, "member"))
    assert mine["job"] == {
        "id": str(job.id),
        "kind": "test.echo",
        "status": "QUEUED",
        "attempt": 0,
        "attempts": 0,
        "maxAttempts": 3,
        "progress": 0.0,
        "result": None,
        "error": None,
        "logs": [],
        "concurrencyKey": "k",
    }
    stranger = member_of(uuid4())
    assert (await workers_subgraph.run(JOB, {"id": str(job.id)}, stranger))["job"] is None
    reps = {"r": [{"__typename": "Job", "id": str(job.id)}]}
    assert (await workers_subgraph.run(ENTITIES, reps, stranger))["_entities"] == [None]
    found = await workers_subgraph.run(ENTITIES, reps, member_of(org))
    assert found["_entities"] == [{"id": str(job.id), "kind": "test.echo"}]


async def test_organization_jobs_filter_and_page(
    idle: JobService, workers_subgraph: SignedClient
) -> None:
    org = uuid4()
    older = await idle.start(request(org))
    newer = await idle.start(request(org))
    other_kind = await idle.start(request(org, "test.noop"))
    await idle.cancel(member_of(org), other_kind.id)
    reps = [{"__typename": "Organization", "id": str(org)}]
    variables = {"r": reps, "kind": "test.echo", "status": "QUEUED"}
    page = (await workers_subgraph.run(ORG_JOBS, variables, member_of(org)))["_entities"][0]
    assert [e["node"]["id"] for e in page["jobs"]["edges"]] == [str(newer.id)]
    assert page["jobs"]["pageInfo"]["hasNextPage"] is True
    variables["after"] = page["jobs"]["pageInfo"]["endCursor"]
    rest = (await workers_subgraph.run(ORG_JOBS, variables, member_of(org)))["_entities"][0]
    assert [e["node"]["id"] for e in rest["jobs"]["edges"]] == [str(older.id)]
    assert rest["jobs"]["pageInfo"]["hasNextPage"] is False
    cancelled = {"r": reps, "status": "CANCELLED"}
    page = (await workers_subgraph.run(ORG_JOBS, cancelled, member_of(org)))["_entities"][0]
    assert [e["node"]["id"] for e in page["jobs"]["edges"]] == [str(other_kind.id)]
    outside = await workers_subgraph.run(ORG_JOBS, {"r": reps}, member_of(uuid4()))
    assert outside["_entities"][0]["jobs"]["edges"] == []


async def test_row_security_hides_and_refuses_another_organizations_jobs(
    idle: JobService,
) -> None:
    org, other = uuid4(), uuid4()
    job = await idle.start(request(org))
    async with idle.db.engine.connect() as connection:
        await connection.execute(
            text("select set_config('app.org_id', :o, false)"), {"o": str(other)}
        )
        seen = await connection.scalar(
            text("select count(*) from workers.jobs where id = :id"), {"id": job.id}
        )
        assert seen == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(
                text(
                    "insert into workers.jobs (id, org_id, kind, idempotency_key, status, attempt,"
                    " max_attempts, progress, payload, logs, created_at, updated_at) values"
                    " (:id, :org, 'x', 'k', 'queued', 0, 1, 0, '{}', '[]', now(), now())"
                ),
                {"id": uuid4(), "org": org},
            )
        await connection.rollback()


async def test_cancelling_a_queued_job_takes_it_out_of_its_queue(idle: JobService) -> None:
    org = uuid4()
    job = await idle.start(request(org))
    assert await waiting(idle, org) == [f"{job.id}|{FREE_LIMIT}|"]
    cancelled = await idle.cancel(member_of(org), job.id)
    assert cancelled.status == Status.CANCELLED.value
    assert cancelled.finished_at is not None
    assert await waiting(idle, org) == []
    assert await idle.queue.round() == []


async def test_cancel_needs_the_write_scope_and_an_unfinished_job_of_ones_own(
    idle: JobService, workers_subgraph: SignedClient
) -> None:
    org = uuid4()
    job = await idle.start(request(org))
    variables = {"id": str(job.id)}

    async def cancel(caller: Caller) -> dict[str, object]:
        payload: dict[str, object] = (await workers_subgraph.run(CANCEL, variables, caller))[
            "cancelJob"
        ]
        return payload

    assert (await cancel(member_of(org, "member")))["errors"][0]["code"] == "FORBIDDEN"  # type: ignore[index]
    assert (await cancel(member_of(uuid4())))["errors"][0]["code"] == "NOT_FOUND"  # type: ignore[index]
    done = await cancel(member_of(org, "admin"))
    assert done == {"job": {"id": str(job.id), "status": "CANCELLED"}, "errors": []}
    again = await cancel(member_of(org))
    assert again["errors"][0]["code"] == WorkersErrorCode.JOB_FINISHED.value  # type: ignore[index]


async def test_reject_refuses_a_second_job_of_an_unfinished_key(idle: JobService) -> None:
    org = uuid4()
    first = await idle.start(request(org, concurrency_key="digest"))
    with pytest.raises(Rejected) as rejected:
        await idle.start(request(org, concurrency_key="digest", multitask=Multitask.REJECT))
    problem = rejected.value.problems[0]
    assert (problem.code, problem.field) == (
        WorkersErrorCode.CONCURRENCY_LIMIT_REACHED,
        "concurrencyKey",
    )
    await idle.start(request(org, concurrency_key="other", multitask=Multitask.REJECT))
    await idle.cancel(member_of(org), first.id)
    await idle.start(request(org, concurrency_key="digest", multitask=Multitask.REJECT))


async def test_enqueue_keeps_interrupt_cancels_and_rollback_deletes_the_keys_jobs(
    idle: JobService,
) -> None:
    org = uuid4()
    reader = member_of(org)
    first = await idle.start(request(org, concurrency_key="k"))
    second = await idle.start(request(org, concurrency_key="k", multitask=Multitask.ENQUEUE))
    assert (await idle.job(reader, first.id)).status == "queued"  # type: ignore[union-attr]
    third = await idle.start(request(org, concurrency_key="k", multitask=Multitask.INTERRUPT))
    statuses = [(await idle.job(reader, j.id)).status for j in (first, second, third)]  # type: ignore[union-attr]
    assert statuses == ["cancelled", "cancelled", "queued"]
    fourth = await idle.start(request(org, concurrency_key="k", multitask=Multitask.ROLLBACK))
    assert await idle.job(reader, third.id) is None
    assert (await idle.job(reader, first.id)) is not None
    assert await waiting(idle, org) == [f"{fourth.id}|{FREE_LIMIT}|k"]

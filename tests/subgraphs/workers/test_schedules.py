"""Schedules: created with a checked cron expression, timezone and workflow by writers only; next
runs in the schedule's local time across daylight saving changes; each due slot started once,
however many sweeps run; listed, deleted and isolated by organization."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.caller import Caller
from subgraphs.kernel.db import utcnow
from subgraphs.workers.contract import CONCURRENT_JOBS
from subgraphs.workers.models import Status
from subgraphs.workers.schedules import next_slot
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient
from tests.subgraphs.workers.builders import FREE_LIMIT, member_of, until

CREATE = """mutation($input: CreateScheduleInput!) { createSchedule(input: $input) {
  schedule { id nextRunAt cron timezone } errors { code field message } } }"""
DELETE = """mutation($id: ID!) { deleteSchedule(id: $id) { schedule { id } errors { code } } }"""
LISTED = """query($id: ID!) { _entities(representations: [{__typename: "Organization", id: $id}]) {
  ... on Organization { schedules { id workflow cron timezone nextRunAt lastRunAt } } } }"""
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_AT_8 = "0 8 * * 1-5"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _input(org: UUID, **changes: Any) -> dict[str, Any]:
    return {
        "organizationId": str(org),
        "workflow": "notification_digest",
        "cron": WEEKDAYS_AT_8,
        "timezone": "Europe/Berlin",
        **changes,
    }


async def _create(subgraph: SignedClient, caller: Caller, given: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = (await subgraph.run(CREATE, {"input": given}, caller))[
        "createSchedule"
    ]
    return created


async def _listed(subgraph: SignedClient, caller: Caller, org: UUID) -> list[dict[str, Any]]:
    found = await subgraph.run(LISTED, {"id": str(org)}, caller)
    schedules: list[dict[str, Any]] = found["_entities"][0]["schedules"]
    return schedules


async def test_create_schedule_checks_its_cron_timezone_workflow_and_caller(
    workers_subgraph: SignedClient,
) -> None:
    org = uuid4()
    owner = member_of(org)
    cases = [
        (_input(org, cron="61 * * * *"), [("INVALID_CRON", "cron")]),
        (_input(org, cron="* * * * * *"), [("INVALID_CRON", "cron")]),
        (_input(org, cron="0 0 31 4 *"), [("INVALID_CRON", "cron")]),
        (_input(org, cron=",".join(["1"] * 120) + " * * * *"), [("INVALID_CRON", "cron")]),
        (_input(org, timezone="Mars/Olympus"), [("INVALID_TIMEZONE", "timezone")]),
        (
            _input(org, cron="nope", timezone="", workflow="no_such"),
            [
                ("WORKFLOW_NOT_FOUND", "workflow"),
                ("INVALID_CRON", "cron"),
                ("INVALID_TIMEZONE", "timezone"),
            ],
        ),
        (_input(org, input={"since": 3}), [("INVALID_WORKFLOW_INPUT", "input.since")]),
        (_input(org, input=[1]), [("INVALID_INPUT", "input")]),
    ]
    for given, expected in cases:
        refused = await _create(workers_subgraph, owner, given)
        assert [(e["code"], e["field"]) for e in refused["errors"]] == expected
        assert refused["schedule"] is None
    for caller in (member_of(org, "member"), member_of(uuid4())):
        forbidden = await _create(workers_subgraph, caller, _input(org))
        assert [e["code"] for e in forbidden["errors"]] == ["FORBIDDEN"]
    assert await _listed(workers_subgraph, owner, org) == []


def test_next_runs_keep_local_time_across_daylight_saving_changes() -> None:
    spring, autumn = _at("2027-03-26T12:00:00Z"), _at("2027-10-29T12:00:00Z")
    assert next_slot(WEEKDAYS_AT_8, BERLIN, spring) == _at("2027-03-29T06:00:00Z")  # CEST
    assert next_slot(WEEKDAYS_AT_8, BERLIN, autumn) == _at("2027-11-01T07:00:00Z")  # CET
    nightly = "30 2 * * *"
    skipped = next_slot(nightly, BERLIN, _at("2027-03-27T12:00:00Z"))
    assert skipped == _at("2027-03-28T01:00:00Z")  # 02:30 does not exist: at the change
    repeated = next_slot(nightly, BERLIN, _at("2027-10-30T12:00:00Z"))
    assert repeated == _at("2027-10-31T00:30:00Z")  # the first 02:30 ...
    assert next_slot(nightly, BERLIN, repeated) == _at("2027-11-01T01:30:00Z")  # ... only


# The session's worker reads the moved clock too: tests/conftest.py schedules its cron jobs
# before any test can move it, and again after a test that moved it.
@pytest.mark.parametrize(
    ("today", "first"),
    [
        ("2026-03-27T12:00:00Z", "2026-03-30T06:00:00Z"),  # Berlin moves to CEST on the 29th
        ("2026-10-23T12:00:00Z", "2026-10-26T07:00:00Z"),  # and back to CET on the 25th
    ],
)
async def test_a_berlin_schedule_runs_at_eight_local_and_its_due_slot_is_started_once(
    jobs: JobService, worker: None, today: str, first: str
) -> None:
    org = uuid4()
    owner = member_of(org)
    with time_machine.travel(_at(today), tick=True):
        schedule = await jobs.schedules.create(
            owner, org, "notification_digest", WEEKDAYS_AT_8, "Europe/Berlin", None
        )
    assert schedule.next_run_at == _at(first)
    before = utcnow()
    job = await _scheduled_job(jobs, org)  # the worker's sweep starts the slot now due
    assert job.status == "succeeded"
    assert job.idempotency_key == f"schedule:{schedule.id}:{_at(first).isoformat()}"
    assert job.payload["input"] == {"since": schedule.created_at.isoformat()}
    [after] = await jobs.schedules.list(owner, org)
    assert after.last_run_at == _at(first)
    # A missed slot runs once, late; the next is the next one from now.
    expected = {next_slot(WEEKDAYS_AT_8, BERLIN, t) for t in (before, utcnow())}
    assert after.next_run_at in expected


async def _scheduled_job(jobs: JobService, org: UUID, after: UUID | None = None) -> Any:
    """The organization's one workflow run (but ``after``), once it ended."""
    caller = Caller(org_id=org)
    found: list[Any] = []

    async def started() -> bool:
        page = await jobs.jobs(caller, org, status=None, kind="workflow", first=10, after=None)
        found[:] = [j for j in page.items if j.id != after]
        return bool(found)

    await _until_async(started)
    [job] = found
    return await until(jobs, org, job.id, Status.SUCCEEDED, Status.FAILED)


async def _until_async(check: Any, within: float = 30) -> None:
    """Polls ``check``; the worker sweeps schedules every 5 s."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def test_sweeps_running_together_start_a_slot_once(jobs: JobService, worker: None) -> None:
    org = uuid4()
    owner = member_of(org)
    schedule = await jobs.schedules.create(
        owner, org, "notification_digest", "0 0 1 1 *", "UTC", None
    )
    slot = schedule.next_run_at
    # Sweeps see every organization's due schedules: count this one's runs, not theirs.
    await asyncio.gather(*(jobs.schedules.fire_due(slot) for _ in range(4)))
    await jobs.schedules.fire_due(slot)
    job = await _scheduled_job(jobs, org)
    assert job.status == "succeeded"
    page = await jobs.jobs(Caller(org_id=org), org, status=None, kind=None, first=10, after=None)
    assert [j.id for j in page.items] == [job.id]
    [moved] = await jobs.schedules.list(owner, org)
    assert moved.next_run_at.year == slot.year + 1


async def test_each_slot_runs_under_the_plan_its_organization_is_on_when_it_starts(
    jobs: JobService, worker: None
) -> None:
    org = uuid4()
    owner = member_of(org)
    schedule = await jobs.schedules.create(
        owner, org, "notification_digest", "0 0 1 1 *", "UTC", None
    )
    await jobs.schedules.fire_due(schedule.next_run_at)
    first = await _scheduled_job(jobs, org)
    assert first.concurrency_limit == FREE_LIMIT  # billing announced nothing
    # The plan changed after the schedule was made: the next slot runs under the new one.
    await jobs.set_plan(org, {CONCURRENT_JOBS: 7}, utcnow())
    [moved] = await jobs.schedules.list(owner, org)
    await jobs.schedules.fire_due(moved.next_run_at)
    second = await _scheduled_job(jobs, org, after=first.id)
    assert second.concurrency_limit == 7


async def test_schedules_are_listed_deleted_and_kept_in_their_organization(
    workers_subgraph: SignedClient, jobs: JobService
) -> None:
    org, other = uuid4(), uuid4()
    owner, stranger = member_of(org), member_of(other)
    created = await _create(workers_subgraph, owner, _input(org))
    assert created["errors"] == []
    schedule_id = created["schedule"]["id"]
    [listed] = await _listed(workers_subgraph, owner, org)
    assert (listed["id"], listed["cron"], listed["lastRunAt"]) == (schedule_id, WEEKDAYS_AT_8, None)
    assert await _listed(workers_subgraph, stranger, org) == []
    foreign = await workers_subgraph.run(DELETE, {"id": schedule_id}, stranger)
    assert [e["code"] for e in foreign["deleteSchedule"]["errors"]] == ["NOT_FOUND"]
    reader = await workers_subgraph.run(DELETE, {"id": schedule_id}, member_of(org, "member"))
    assert [e["code"] for e in reader["deleteSchedule"]["errors"]] == ["FORBIDDEN"]
    async with jobs.db.engine.connect() as connection:
        await connection.execute(
            text("select set_config('app.org_id', :o, false)"), {"o": str(other)}
        )
        count = text("select count(*) from workers.schedules where id = :id")
        assert await connection.scalar(count, {"id": UUID(schedule_id)}) == 0
        with pytest.raises(DBAPIError, match="row-level security"):
            await connection.execute(
                text(
                    "insert into workers.schedules (id, org_id, workflow, cron, timezone, input,"
                    " next_run_at, created_at) values (:id, :org, 'w', '* * * * *', 'UTC', '{}',"
                    " now(), now())"
                ),
                {"id": uuid4(), "org": org},
            )
        await connection.rollback()
    deleted = await workers_subgraph.run(DELETE, {"id": schedule_id}, owner)
    assert deleted["deleteSchedule"] == {"schedule": {"id": schedule_id}, "errors": []}
    assert await _listed(workers_subgraph, owner, org) == []

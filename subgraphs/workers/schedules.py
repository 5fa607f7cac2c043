"""Schedules: an organization's workflow run at the slots of a five-field cron expression in
its timezone. The worker's sweep starts each due slot once (the run's idempotency key is the
schedule and the slot, so two workers sweeping together start it once); a slot missed while
no worker ran is started once, late, and the schedule goes on from now. A slot's run gets its
organization's plan limit of concurrent jobs as it is when the slot starts (a schedule outlives
plan changes and its creator's membership)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter  # type: ignore[import-untyped]
from sqlmodel import col, select

from core.caller import ANONYMOUS, Caller
from subgraphs.kernel.db import Database, set_local, utcnow
from subgraphs.kernel.errors import ErrorCode, Rejected, checked, require
from subgraphs.workers.contract import WORKFLOWS, WorkersErrorCode, Workflow, start_job
from subgraphs.workers.models import Schedule
from subgraphs.workers.runs import check_input, require_writer, workflow_request

MAX_SCHEDULES = 100
FIELDS = 5
MAX_CRON = 200
# What a scheduled run's input gets besides the schedule's own, when its schema names it.
SINCE, SCHEDULED_FOR = "since", "scheduledFor"


def timezone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Rejected.one(
            WorkersErrorCode.INVALID_TIMEZONE, "Not an IANA timezone name.", "timezone"
        ) from None


def valid_cron(expression: str) -> str:
    text = " ".join(expression.split())
    require(
        len(text) <= MAX_CRON and len(text.split(" ")) == FIELDS and croniter.is_valid(text),
        WorkersErrorCode.INVALID_CRON,
        "Not a cron expression of five fields (minute hour day month weekday).",
        "cron",
    )
    try:
        croniter(text, utcnow()).get_next(datetime)
    except CroniterBadDateError:
        raise Rejected.one(
            WorkersErrorCode.INVALID_CRON,
            "It names no date that exists (such as 31 April).",
            "cron",
        ) from None
    return text


def next_slot(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first slot after ``after`` (UTC). A local time runs once: the hour repeated when
    clocks go back does not run its slots again, a slot in the hour skipped when they go
    forward runs at the change."""
    local = after.astimezone(zone)
    slots = croniter(expression, local)
    while True:
        slot: datetime = slots.get_next(datetime)
        if slot.replace(tzinfo=None) > local.replace(tzinfo=None):
            return slot.astimezone(UTC)


def run_input(
    schedule_input: dict[str, Any], schema: dict[str, Any], slot: datetime, previous: datetime
) -> dict[str, Any]:
    """The input of a slot's run: the schedule's, with ``since`` (the previous slot) and
    ``scheduledFor`` (this one) when the workflow's input schema names them."""
    named = schema.get("properties", {})
    given = {SINCE: previous.isoformat(), SCHEDULED_FOR: slot.isoformat()}
    extra = {k: v for k, v in given.items() if k in named and k not in schedule_input}
    return {**schedule_input, **extra}


class ScheduleService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        caller: Caller,
        org_id: UUID,
        workflow: str,
        cron: str,
        timezone: str,
        given: Any,
    ) -> Schedule:
        require_writer(caller)
        require(caller.org_id == org_id, ErrorCode.FORBIDDEN, "Not your organization.")
        require(
            given is None or isinstance(given, dict), ErrorCode.INVALID_INPUT, "An object.", "input"
        )
        values = checked(
            workflow=lambda: _workflow(workflow),
            cron=lambda: valid_cron(cron),
            zone=lambda: timezone_of(timezone),
        )
        now = utcnow()
        schedule_input = given or {}
        found = values["workflow"]
        check_input(found, run_input(schedule_input, found.input_schema, now, now))
        async with self.db.transaction(caller) as session:
            count = await session.exec(select(Schedule.id).where(Schedule.org_id == org_id))
            require(
                len(list(count)) < MAX_SCHEDULES,
                ErrorCode.INVALID_INPUT,
                f"At most {MAX_SCHEDULES} schedules per organization.",
            )
            schedule = Schedule(
                org_id=org_id,
                workflow=workflow,
                cron=values["cron"],
                timezone=timezone,
                input=schedule_input,
                created_by=caller.user_id,
                next_run_at=next_slot(values["cron"], values["zone"], now),
            )
            session.add(schedule)
        return schedule

    async def list(self, caller: Caller, org_id: UUID) -> list[Schedule]:
        """The organization's schedules, oldest first; empty for anyone outside it."""
        if caller.org_id != org_id:
            return []
        async with self.db.transaction(caller) as session:
            rows = await session.exec(
                select(Schedule)
                .where(Schedule.org_id == org_id)
                .order_by(col(Schedule.created_at), col(Schedule.id))
            )
            return list(rows)

    async def delete(self, caller: Caller, schedule_id: UUID) -> Schedule:
        require_writer(caller)
        async with self.db.transaction(caller) as session:
            schedule = (
                await session.exec(
                    select(Schedule).where(
                        Schedule.id == schedule_id, Schedule.org_id == caller.org_id
                    )
                )
            ).first()
            if schedule is None:
                raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown schedule.", "id")
            await session.delete(schedule)
        return schedule

    async def fire_due(self, now: datetime, limit: int = 100) -> int:
        """Start the due slot of every due schedule, in every organization; how many."""
        async with self.db.transaction(ANONYMOUS) as session:
            await set_local(session, "app.sweep", "schedules")
            rows = await session.exec(
                select(Schedule.org_id, Schedule.id)
                .where(col(Schedule.next_run_at) <= now)
                .order_by(col(Schedule.next_run_at))
                .limit(limit)
            )
            due = list(rows)
        fired = [await self._fire(org_id, schedule_id, now) for org_id, schedule_id in due]
        return sum(fired)

    async def _fire(self, org_id: UUID, schedule_id: UUID, now: datetime) -> bool:
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            schedule = (
                await session.exec(
                    select(Schedule)
                    .where(Schedule.id == schedule_id, Schedule.org_id == org_id)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if schedule is None or schedule.next_run_at > now:
                return False
            workflow = WORKFLOWS.get(schedule.workflow)
            slot, previous = schedule.next_run_at, schedule.last_run_at or schedule.created_at
            schedule.last_run_at = slot
            schedule.next_run_at = next_slot(
                schedule.cron, ZoneInfo(schedule.timezone), max(now, slot)
            )
            session.add(schedule)
            if workflow is None:  # unregistered since: the slot passes without a run
                return False
            given = run_input(schedule.input, workflow.input_schema, slot, previous)
            await start_job(
                session,
                workflow_request(
                    org_id,
                    workflow,
                    given,
                    key=f"schedule:{schedule.id}:{slot.isoformat()}",
                    created_by=schedule.created_by,
                    concurrency_key=f"schedule:{schedule.id}",
                ),
            )
        return True


def _workflow(name: str) -> Workflow:
    found = WORKFLOWS.get(name)
    if found is None:
        raise Rejected.one(WorkersErrorCode.WORKFLOW_NOT_FOUND, "Unknown workflow.", "workflow")
    return found

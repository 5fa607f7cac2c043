"""The SLA watch (the worker's cron, every minute) under a frozen clock: a clock at 80 % warns
and at 100 % breaches, each notified once per run of the clock, inside business hours unless
the ticket is urgent; escalation rules then reassign, raise the priority or tell a team's
admins, each named in the timeline; two watches at once notify once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from subgraphs.kernel.db import Database
from subgraphs.support.tasks import sla_watch
from subgraphs.support.watch import SlaWatch
from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import (
    UPDATE,
    Org,
    agent,
    embedded,
    office_policy,
    team,
    ticket,
)
from vetrai.settings import PlatformSettings

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
HIGH = [{"priority": "HIGH", "firstResponseSeconds": 3600, "resolutionSeconds": 8 * 3600}]
URGENT = [{"priority": "URGENT", "firstResponseSeconds": 3600, "resolutionSeconds": 4 * 3600}]
TIMELINE = """query($id: ID!) { ticket(id: $id) { priority assignee { id } createdAt
  sla { timeline { at clock event rule } } } }"""
RULE = """mutation($input: CreateSlaEscalationRuleInput!) { createSlaEscalationRule(input: $input)
  { rule { id name level clock action teamId } errors { code field message } } }"""
ASSIGN = """mutation($input: AssignTicketToTeamInput!) { assignTicketToTeam(input: $input) {
  ticket { assignee { id } } errors { code } } }"""


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture(scope="module")
async def watch(settings: PlatformSettings) -> AsyncIterator[SlaWatch]:
    url = settings.core.login_url("support")
    db = Database(url)
    yield SlaWatch(db, settings.core.public_url)
    await db.close()


async def timeline(support: SignedClient, org: Org, ticket_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await support.run(TIMELINE, {"id": ticket_id}, org.owner()))["ticket"]
    return found


def events(found: dict[str, Any], *names: str) -> list[tuple[str, str]]:
    return [(e["clock"], e["event"]) for e in found["sla"]["timeline"] if e["event"] in names]


async def notified(owner_engine: AsyncEngine, user: UUID | None, count: int) -> list[str]:
    """The titles of the first ``count`` messages the worker delivered to ``user``."""
    query = text(
        "select title from notifications.notifications where user_id = :u"
        " and template_key = 'message' order by created_at, title"
    )
    for _ in range(500):
        async with owner_engine.connect() as connection:
            titles = list((await connection.execute(query, {"u": user})).scalars())
        if len(titles) >= count:
            return titles
        await asyncio.sleep(0.02)
    raise AssertionError(f"{user} got {count} messages")


async def rule(support: SignedClient, org: Org, **input: Any) -> dict[str, Any]:
    data = await support.run(RULE, {"input": {"organizationId": str(org.id), **input}}, org.owner())
    payload: dict[str, Any] = data["createSlaEscalationRule"]
    return payload


async def test_a_clock_warns_at_80_and_breaches_at_100_percent_each_once_then_rules_run(
    support: SignedClient,
    watch: SlaWatch,
    owner_engine: AsyncEngine,
    worker: None,
    clock: time_machine.Traveller,
) -> None:
    org = Org()
    await office_policy(support, org, [*HIGH, *URGENT])
    assignee = await agent(support, org)
    lead = await agent(support, org)
    leads = await team(support, org, "Leads", [], admins=(lead,))
    warned = await rule(
        support,
        org,
        name="Tell the leads",
        level="WARNING",
        action="NOTIFY_TEAM_ADMINS",
        teamId=leads,
    )
    assert warned["errors"] == []
    assert (
        await rule(
            support,
            org,
            name="Raise it",
            level="BREACH",
            clock="FIRST_RESPONSE",
            action="RAISE_PRIORITY",
        )
    )["errors"] == []
    created = await ticket(support, org.caller(), priority="HIGH")
    update = {"ticketId": created["id"], "assigneeId": str(assignee.user_id)}
    assert (await support.run(UPDATE, {"input": update}, org.owner()))["updateTicket"][
        "errors"
    ] == []

    clock.shift(timedelta(minutes=47))
    await watch.run()
    assert events(await timeline(support, org, created["id"]), "WARNING") == []
    clock.shift(timedelta(minutes=2))  # 09:49: 80 % of the hour used
    await watch.run()
    await watch.run()
    found = await timeline(support, org, created["id"])
    assert events(found, "WARNING", "BREACH_NOTIFIED", "ESCALATE") == [
        ("first_response", "WARNING"),
        ("first_response", "ESCALATE"),
    ]
    [warning, escalation] = [
        e for e in found["sla"]["timeline"] if e["event"] in ("WARNING", "ESCALATE")
    ]
    assert warning["rule"] == "80 % of the first response target used; notified the assignee"
    assert escalation["rule"] == "escalation rule 'Tell the leads': notified 1 admin(s) of Leads"

    clock.shift(timedelta(minutes=12))  # 10:01: breached
    await watch.run()
    await watch.run()
    found = await timeline(support, org, created["id"])
    assert events(found, "BREACH_NOTIFIED", "RECALCULATE") == [
        ("first_response", "BREACH_NOTIFIED"),
        ("first_response", "RECALCULATE"),
        ("resolution", "RECALCULATE"),
    ]
    assert found["priority"] == "URGENT"
    assert [e["rule"] for e in found["sla"]["timeline"] if e["event"] == "ESCALATE"][-1] == (
        "escalation rule 'Raise it': priority raised from high to urgent"
    )
    assert sorted(await notified(owner_engine, assignee.user_id, 2)) == [
        "#1 SLA breach: 100 % of the first response target used",
        "#1 SLA warning: 80 % of the first response target used",
    ]
    assert await notified(owner_engine, lead.user_id, 1) == ["#1 escalated by 'Tell the leads'"]


async def test_outside_business_hours_only_urgent_tickets_are_notified(
    support: SignedClient, watch: SlaWatch, clock: time_machine.Traveller
) -> None:
    org = Org()
    await office_policy(support, org, [*HIGH, *URGENT])
    clock.shift(timedelta(hours=6, minutes=58))  # 15:58
    high = await ticket(support, org.caller(), priority="HIGH")
    urgent = await ticket(support, org.caller(), priority="URGENT")
    clock.shift(timedelta(minutes=90))  # 17:28, closed: both breached at 16:58
    await watch.run()
    notices = ("WARNING", "BREACH_NOTIFIED")
    assert events(await timeline(support, org, high["id"]), *notices) == []
    assert events(await timeline(support, org, urgent["id"]), *notices) == [
        ("first_response", "BREACH_NOTIFIED")
    ]
    clock.shift(timedelta(hours=15, minutes=22))  # Tuesday 08:50
    await watch.run()
    assert events(await timeline(support, org, high["id"]), *notices) == []
    clock.shift(timedelta(minutes=15))  # 09:05
    await watch.run()
    assert events(await timeline(support, org, high["id"]), *notices) == [
        ("first_response", "BREACH_NOTIFIED")
    ]


async def test_two_watches_at_once_notify_a_clock_once(
    support: SignedClient, settings: PlatformSettings, clock: time_machine.Traveller
) -> None:
    org = Org()
    await office_policy(support, org, HIGH)
    created = [await ticket(support, org.caller(), priority="HIGH") for _ in range(5)]
    clock.shift(timedelta(minutes=50))
    url = settings.core.login_url("support")
    dbs = [Database(url) for _ in range(2)]
    try:
        await asyncio.gather(*(SlaWatch(db, settings.core.public_url).run() for db in dbs))
    finally:
        for db in dbs:
            await db.close()
    for each in created:
        assert events(await timeline(support, org, each["id"]), "WARNING") == [
            ("first_response", "WARNING")
        ]


async def test_a_reassign_rule_picks_another_agent_and_nobody_left_tells_the_team_admins(
    support: SignedClient,
    watch: SlaWatch,
    owner_engine: AsyncEngine,
    worker: None,
    clock: time_machine.Traveller,
) -> None:
    org = Org()
    await office_policy(support, org, HIGH)
    first, second, lead = [await agent(support, org) for _ in range(3)]
    billing = await team(support, org, "Billing", [first, second], admins=(lead,))
    reassign = {"name": "Hand over", "level": "BREACH", "action": "REASSIGN", "teamId": billing}
    away = """mutation($org: ID!) { setAgentAvailability(organizationId: $org, available: false) {
      ok } }"""
    assert (await support.run(away, {"org": str(org.id)}, lead))["setAgentAvailability"]["ok"]
    assert (await rule(support, org, **reassign))["errors"] == []
    one = await ticket(support, org.caller(), priority="HIGH")
    assigned = await support.run(
        ASSIGN, {"input": {"ticketId": one["id"], "teamId": billing}}, org.owner()
    )
    holder = assigned["assignTicketToTeam"]["ticket"]["assignee"]["id"]
    other = str((second if holder == str(first.user_id) else first).user_id)
    clock.shift(timedelta(minutes=61))
    await watch.run()
    found = await timeline(support, org, one["id"])
    assert found["assignee"] == {"id": other}
    assert [e["rule"] for e in found["sla"]["timeline"] if e["event"] == "ESCALATE"] == [
        f"escalation rule 'Hand over': reassigned to {other} in Billing"
    ]

    for member in (first, second):
        assert (await support.run(away, {"org": str(org.id)}, member))["setAgentAvailability"]["ok"]
    stuck = await ticket(support, org.caller(), priority="HIGH")
    failed = await support.run(
        ASSIGN, {"input": {"ticketId": stuck["id"], "teamId": billing}}, org.owner()
    )
    assert failed["assignTicketToTeam"]["ticket"]["assignee"] is None
    clock.shift(timedelta(minutes=61))
    await watch.run()
    found = await timeline(support, org, stuck["id"])
    assert events(found, "ASSIGNMENT_FAILED", "BREACH_NOTIFIED", "ESCALATE") == [
        ("assignment", "ASSIGNMENT_FAILED"),
        ("first_response", "BREACH_NOTIFIED"),
        ("assignment", "ASSIGNMENT_FAILED"),
        ("first_response", "ESCALATE"),
    ]
    assert (
        found["sla"]["timeline"][-1]["rule"] == "escalation rule 'Hand over': nobody to reassign to"
    )
    titles = await notified(owner_engine, lead.user_id, 3)
    assert titles.count("#2 could not be assigned") == 2
    assert "#2 SLA breach: 100 % of the first response target used" in titles


async def test_escalation_rules_are_for_owners_and_admins_and_checked(
    support: SignedClient,
) -> None:
    org = Org()
    made = await rule(support, org, name="Raise", level="BREACH", action="RAISE_PRIORITY")
    assert made == {
        "rule": {
            "id": made["rule"]["id"],
            "name": "Raise",
            "level": "BREACH",
            "clock": None,
            "action": "RAISE_PRIORITY",
            "teamId": None,
        },
        "errors": [],
    }
    listed = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on Organization { slaEscalationRules { name } } } }"""
    variables = {"r": [{"__typename": "Organization", "id": str(org.id)}]}
    mine = await support.run(listed, variables, org.owner())
    assert mine["_entities"] == [{"slaEscalationRules": [{"name": "Raise"}]}]
    theirs = await support.run(listed, variables, Org().owner())
    assert theirs["_entities"] == [{"slaEscalationRules": []}]
    member = await support.run(
        RULE,
        {
            "input": {
                "organizationId": str(org.id),
                "name": "x",
                "level": "BREACH",
                "action": "RAISE_PRIORITY",
            }
        },
        org.caller(),
    )
    assert [e["code"] for e in member["createSlaEscalationRule"]["errors"]] == ["FORBIDDEN"]
    no_team = await rule(support, org, name="x", level="BREACH", action="REASSIGN")
    assert [(e["code"], e["field"]) for e in no_team["errors"]] == [("INVALID_INPUT", "teamId")]
    foreign = await team(support, Org(), "Elsewhere", [])
    other = await rule(support, org, name="x", level="BREACH", action="REASSIGN", teamId=foreign)
    assert [e["code"] for e in other["errors"]] == ["NOT_FOUND"]
    empty = await rule(support, org, name=" ", level="WARNING", action="RAISE_PRIORITY")
    assert [(e["code"], e["field"]) for e in empty["errors"]] == [("INVALID_INPUT", "name")]


async def test_the_cron_job_runs_the_watch(watch: SlaWatch) -> None:
    assert await sla_watch({"sla_watch": watch, "job_try": 1}) >= 0


async def test_the_watch_setting_shows_ids_and_changes_nothing_of_another_organization(
    support: SignedClient, watch: SlaWatch
) -> None:
    mine, theirs = Org(), Org()
    assert (await rule(support, theirs, name="Theirs", level="BREACH", action="RAISE_PRIORITY"))[
        "errors"
    ] == []
    their_ticket = await ticket(support, theirs.caller())
    async with watch.db.transaction(mine.owner()) as session:
        rules = await session.exec(text("select count(*) from support.escalation_rules"))  # type: ignore[call-overload]
        assert rules.scalar_one() == 0
        await session.exec(text("select set_config('app.sla_watch', 'on', true)"))  # type: ignore[call-overload]
        seen = await session.exec(  # type: ignore[call-overload]
            text("select count(*) from support.tickets where id = cast(:t as uuid)").bindparams(
                t=their_ticket["id"]
            )
        )
        assert seen.scalar_one() == 1
        changed = await session.exec(  # type: ignore[call-overload]
            text("update support.tickets set title = 'x' where id = cast(:t as uuid)").bindparams(
                t=their_ticket["id"]
            )
        )
        assert changed.rowcount == 0


async def test_a_ticket_the_engine_cannot_read_does_not_hold_back_the_others(
    support: SignedClient,
    watch: SlaWatch,
    owner_engine: AsyncEngine,
    clock: time_machine.Traveller,
    caplog: pytest.LogCaptureFixture,
) -> None:
    org = Org()
    await office_policy(support, org, HIGH)
    broken = await ticket(support, org.caller(), priority="HIGH")
    fine = await ticket(support, org.caller(), priority="HIGH")
    async with owner_engine.begin() as connection:
        await connection.execute(
            text(
                "insert into support.ticket_events (id, org_id, ticket_id, at, kind, data)"
                " values (gen_random_uuid(), :org, :t, :at, 'priority', '{}')"
            ),
            {"org": org.id, "t": broken["id"], "at": datetime.now(UTC)},
        )
    # Storing a ticket's embedding (the worker's job) holds its row FOR KEY SHARE, and the watch
    # skips a row it cannot lock at once: the watch must find both free to read the broken one.
    await embedded(owner_engine, [broken["id"], fine["id"]])
    clock.shift(timedelta(minutes=50))
    with caplog.at_level(logging.ERROR, logger="vetrai.support.watch"):
        await watch.run()
    assert "SLA watch skipped a ticket" in [r.getMessage() for r in caplog.records]
    assert events(await timeline(support, org, fine["id"]), "WARNING") == [
        ("first_response", "WARNING")
    ]

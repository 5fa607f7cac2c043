"""Support stats and the SLA policy preview, replayed by the SLA engine from the tickets' logs
under a frozen clock: SLA met % per agent and team, CSAT, how a draft policy would have scored
the last 30 days; owners and admins only, and never another organization's tickets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import (
    UPDATE,
    Org,
    agent,
    comment,
    office_policy,
    rating_links,
    set_status,
    team,
    ticket,
)

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
HIGH = [{"priority": "HIGH", "firstResponseSeconds": 3600, "resolutionSeconds": 8 * 3600}]
RATE = """mutation($token: String!, $score: Int!) { rateTicket(token: $token, score: $score) {
  errors { code } } }"""
ASSIGN = """mutation($input: AssignTicketToTeamInput!) { assignTicketToTeam(input: $input) {
  ticket { assignee { id } } errors { code } } }"""
SCORE = "met breached metPercent"
STATS = f"""query($r: [_Any!]!, $from: DateTime!, $to: DateTime!) {{
  _entities(representations: $r) {{ ... on Organization {{ supportStats(from: $from, to: $to) {{
    sla {{ {SCORE} }} csat {{ average count }}
    agents {{ agent {{ id }} sla {{ {SCORE} }} csat {{ average count }} }}
    teams {{ team {{ name }} sla {{ {SCORE} }} csat {{ average count }} }} }} }} }} }}"""
PREVIEW = f"""query($draft: SlaPolicyDraftInput!) {{ previewSlaPolicy(draft: $draft) {{
  tickets sla {{ {SCORE} }} breachesByTeam {{ team {{ name }} breaches }} }} }}"""


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(MONDAY_9) as traveller:
        yield traveller


async def rated(
    support: SignedClient,
    owner_engine: AsyncEngine,
    org: Org,
    requester: Caller,
    ticket_id: str,
    score: int,
) -> None:
    assert (await set_status(support, org.owner(), ticket_id, "RESOLVED"))["errors"] == []
    token = (await rating_links(owner_engine, requester.user_id, 1))[-1]
    assert (await support.run(RATE, {"token": token, "score": score}))["rateTicket"]["errors"] == []


async def busy_org(
    support: SignedClient, owner_engine: AsyncEngine, clock: time_machine.Traveller
) -> tuple[Org, str, Caller, Caller]:
    """Two HIGH tickets: one answered in time by A (of team Billing), rated 5; one B let
    breach, rated 3. Returns the org, its calendar and A and B."""
    org = Org()
    calendar = await office_policy(support, org, HIGH)
    a, b = await agent(support, org), await agent(support, org)
    billing = await team(support, org, "Billing", [a])
    first_requester, second_requester = org.caller(), org.caller()
    first = await ticket(support, first_requester, priority="HIGH")
    second = await ticket(support, second_requester, priority="HIGH")
    assigned = await support.run(
        ASSIGN, {"input": {"ticketId": first["id"], "teamId": billing}}, org.owner()
    )
    assert assigned["assignTicketToTeam"]["ticket"]["assignee"] == {"id": str(a.user_id)}
    update = {"ticketId": second["id"], "assigneeId": str(b.user_id)}
    assert (await support.run(UPDATE, {"input": update}, org.owner()))["updateTicket"][
        "errors"
    ] == []
    clock.shift(timedelta(minutes=10))
    assert (await comment(support, a, first["id"]))["errors"] == []
    await rated(support, owner_engine, org, first_requester, first["id"], 5)
    clock.shift(timedelta(minutes=80))  # 10:30: the second's first response is late
    await rated(support, owner_engine, org, second_requester, second["id"], 3)
    return org, calendar, a, b


def score(met: int, breached: int, percent: float | None) -> dict[str, Any]:
    return {"met": met, "breached": breached, "metPercent": percent}


async def test_support_stats_give_sla_met_percent_per_agent_and_team_and_csat(
    support: SignedClient, owner_engine: AsyncEngine, worker: None, clock: time_machine.Traveller
) -> None:
    org, _, a, b = await busy_org(support, owner_engine, clock)
    elsewhere, _, _, _ = await busy_org(support, owner_engine, clock)
    variables = {
        "r": [{"__typename": "Organization", "id": str(org.id)}],
        "from": (MONDAY_9 - timedelta(hours=1)).isoformat(),
        "to": (MONDAY_9 + timedelta(days=1)).isoformat(),
    }
    [found] = (await support.run(STATS, variables, org.owner()))["_entities"]
    agents = sorted(
        [
            {
                "agent": {"id": str(a.user_id)},
                "sla": score(2, 0, 100.0),
                "csat": {"average": 5.0, "count": 1},
            },
            {
                "agent": {"id": str(b.user_id)},
                "sla": score(1, 1, 50.0),
                "csat": {"average": 3.0, "count": 1},
            },
        ],
        key=lambda s: s["agent"]["id"],
    )
    assert found["supportStats"] == {
        "sla": score(3, 1, 75.0),
        "csat": {"average": 4.0, "count": 2},
        "agents": agents,
        "teams": [
            {
                "team": {"name": "Billing"},
                "sla": score(2, 0, 100.0),
                "csat": {"average": 5.0, "count": 1},
            }
        ],
    }
    member = await support.run(STATS, variables, org.caller())
    assert member["_entities"] == [{"supportStats": None}]
    other = await support.run(STATS, variables, elsewhere.owner())
    assert other["_entities"] == [{"supportStats": None}]
    backwards = {**variables, "from": variables["to"], "to": variables["from"]}
    refused = (await support.post(STATS, backwards, org.owner())).json()
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_draft_policy_is_scored_on_the_last_30_days_of_its_organizations_tickets(
    support: SignedClient, owner_engine: AsyncEngine, worker: None, clock: time_machine.Traveller
) -> None:
    org, calendar, _, _ = await busy_org(support, owner_engine, clock)
    await busy_org(support, owner_engine, clock)
    strict = {
        "organizationId": str(org.id),
        "calendarId": calendar,
        "targets": [{"priority": "HIGH", "firstResponseSeconds": 300}],
    }
    found = (await support.run(PREVIEW, {"draft": strict}, org.owner()))["previewSlaPolicy"]
    assert found == {
        "tickets": 2,
        "sla": score(0, 2, 0.0),
        "breachesByTeam": [
            {"team": None, "breaches": 1},
            {"team": {"name": "Billing"}, "breaches": 1},
        ],
    }
    lenient = {**strict, "targets": [{"priority": "HIGH", "firstResponseSeconds": 7200}]}
    found = (await support.run(PREVIEW, {"draft": lenient}, org.owner()))["previewSlaPolicy"]
    # the second was resolved unanswered: its first response stopped, neither met nor breached
    assert (found["tickets"], found["sla"], found["breachesByTeam"]) == (2, score(1, 0, 100.0), [])
    low_only = {**strict, "priorities": ["LOW"]}
    found = (await support.run(PREVIEW, {"draft": low_only}, org.owner()))["previewSlaPolicy"]
    assert (found["tickets"], found["sla"]) == (0, score(0, 0, None))

    clock.shift(timedelta(days=31))
    later = (await support.run(PREVIEW, {"draft": strict}, org.owner()))["previewSlaPolicy"]
    assert later["tickets"] == 0
    assert (await support.run(PREVIEW, {"draft": strict}, org.caller()))["previewSlaPolicy"] is None
    foreign = {**strict, "organizationId": str(Org().id)}
    assert (await support.run(PREVIEW, {"draft": foreign}, org.owner()))["previewSlaPolicy"] is None
    bad = {**strict, "targets": [{"priority": "HIGH", "firstResponseSeconds": 1}]}
    refused = (await support.post(PREVIEW, {"draft": bad}, org.owner())).json()
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

"""SLA policies through the subgraph: calendars and policies an owner defines, the clocks a new
ticket gets, the explain timeline after a status change, and the breached filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import Org, codes, set_status, ticket

CALENDAR = """mutation($input: CreateBusinessCalendarInput!) {
  createBusinessCalendar(input: $input) {
  calendar { id timezone weeklyHours { weekday startMinute endMinute } holidays }
  errors { code field message } } }"""
POLICY = """mutation($input: CreateSlaPolicyInput!) { createSlaPolicy(input: $input) {
  policy { id name targets { priority firstResponseSeconds resolutionSeconds } }
  errors { code field message } } }"""
SLA = """query($id: ID!) { ticket(id: $id) { sla { policy { name } breached firstResponseDueAt
  firstResponse { dueAt metAt breachedAt status businessSecondsUsed }
  resolution { dueAt status }
  timeline { at clock event rule businessSecondsUsed businessSecondsLeft } } } }"""
BREACHED = """query($r: [_Any!]!, $breached: Boolean!) { _entities(representations: $r) {
  ... on Organization { tickets(filter: {breached: $breached}) { edges { node { id } } } } } }"""


def always_open() -> list[dict[str, int]]:
    return [{"weekday": d, "startMinute": 0, "endMinute": 1440} for d in range(7)]


async def define_policy(
    support: SignedClient, org: Org, first_response: int, hours: list[dict[str, int]] | None = None
) -> dict[str, Any]:
    owner = org.owner()
    calendar = await support.run(
        CALENDAR,
        {
            "input": {
                "organizationId": str(org.id),
                "name": "Office",
                "timezone": "Europe/Berlin",
                "weeklyHours": hours or always_open(),
                "holidays": ["2026-12-25"],
            }
        },
        owner,
    )
    assert calendar["createBusinessCalendar"]["errors"] == []
    targets = [
        {"priority": "HIGH", "firstResponseSeconds": first_response, "resolutionSeconds": 86400}
    ]
    input = {
        "organizationId": str(org.id),
        "name": "Standard",
        "calendarId": calendar["createBusinessCalendar"]["calendar"]["id"],
        "targets": targets,
    }
    policy = await support.run(POLICY, {"input": input}, owner)
    assert policy["createSlaPolicy"]["errors"] == []
    created: dict[str, Any] = policy["createSlaPolicy"]["policy"]
    return created


async def test_a_new_ticket_gets_due_dates_from_the_matching_policy(support: SignedClient) -> None:
    org = Org()
    await define_policy(support, org, first_response=3600)
    before = datetime.now(UTC)
    created = await ticket(support, org.caller(), priority="HIGH")
    sla = (await support.run(SLA, {"id": created["id"]}, org.owner()))["ticket"]["sla"]
    assert sla["policy"] == {"name": "Standard"}
    due = datetime.fromisoformat(sla["firstResponse"]["dueAt"])
    assert before + timedelta(hours=1) <= due <= datetime.now(UTC) + timedelta(hours=1)
    assert sla["firstResponseDueAt"] == sla["firstResponse"]["dueAt"]
    assert sla["firstResponse"]["status"] == "RUNNING"
    assert [(e["clock"], e["event"]) for e in sla["timeline"]] == [
        ("first_response", "START"),
        ("resolution", "START"),
    ]
    normal = await ticket(support, org.caller(), priority="NORMAL")
    no_target = await support.run(SLA, {"id": normal["id"]}, org.owner())
    assert no_target["ticket"]["sla"]["firstResponse"] is None


async def test_pending_pauses_resolution_and_the_timeline_says_why(support: SignedClient) -> None:
    org = Org()
    await define_policy(support, org, first_response=3600)
    created = await ticket(support, org.caller(), priority="HIGH")
    paused = await set_status(support, org.owner(), created["id"], "PENDING")
    assert paused["errors"] == []
    assert paused["ticket"]["status"] == "PENDING"
    assert paused["ticket"]["sla"]["timeline"][-1] == {
        "event": "PAUSE",
        "rule": "status pending pauses resolution",
    }
    sla = (await support.run(SLA, {"id": created["id"]}, org.owner()))["ticket"]["sla"]
    assert sla["resolution"] == {"dueAt": None, "status": "PAUSED"}


async def test_the_breached_filter_finds_tickets_past_a_target(support: SignedClient) -> None:
    org = Org()
    await define_policy(support, org, first_response=60)
    created = await ticket(support, org.caller(), priority="HIGH")
    variables = {"r": [{"__typename": "Organization", "id": str(org.id)}]}
    # the first response is due a minute after creation; before that it is not breached
    fresh = await support.run(BREACHED, {**variables, "breached": False}, org.owner())
    assert [e["node"]["id"] for e in fresh["_entities"][0]["tickets"]["edges"]] == [created["id"]]
    hit = await support.run(BREACHED, {**variables, "breached": True}, org.owner())
    assert hit["_entities"][0]["tickets"]["edges"] == []


async def test_a_policy_resolves_for_its_organization_only(support: SignedClient) -> None:
    org = Org()
    policy = await define_policy(support, org, first_response=3600)
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on SlaPolicy { id name targets { priority firstResponseSeconds } } } }"""
    variables = {"r": [{"__typename": "SlaPolicy", "id": policy["id"]}]}
    [mine] = (await support.run(query, variables, org.owner()))["_entities"]
    assert mine == {
        "id": policy["id"],
        "name": "Standard",
        "targets": [{"priority": "HIGH", "firstResponseSeconds": 3600}],
    }
    assert (await support.run(query, variables, Org().owner()))["_entities"] == [None]


async def test_only_owners_and_admins_define_policies_and_bad_calendars_are_refused(
    support: SignedClient,
) -> None:
    org = Org()
    input = {
        "organizationId": str(org.id),
        "name": "Office",
        "timezone": "Mars/Olympus",
        "weeklyHours": [{"weekday": 0, "startMinute": 600, "endMinute": 500}],
    }
    bad = await support.run(CALENDAR, {"input": input}, org.owner())
    assert codes(bad["createBusinessCalendar"]) == [("INVALID_INPUT", "timezone")]
    input["timezone"] = "Europe/Berlin"
    bad = await support.run(CALENDAR, {"input": input}, org.owner())
    assert codes(bad["createBusinessCalendar"]) == [("INVALID_INPUT", "weeklyHours")]
    refused = await support.run(CALENDAR, {"input": input}, org.caller())
    assert codes(refused["createBusinessCalendar"]) == [("FORBIDDEN", None)]

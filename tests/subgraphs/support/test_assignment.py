"""Assignment: round-robin inside a team among available agents under their capacity; with
nobody eligible the ticket stays unassigned and its timeline says so; manual assignment
respects capacity too."""

from __future__ import annotations

from typing import Any

from core.caller import Caller
from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import UPDATE, Org, codes, ticket

SET_AGENT = (
    """mutation($input: SetAgentInput!) { setAgent(input: $input) { ok errors { code } } }"""
)
TEAM = """mutation($org: ID!) { createTeam(organizationId: $org, name: "Billing") {
  team { id } errors { code } } }"""
MEMBER = """mutation($team: ID!, $user: ID!) { addTeamMember(teamId: $team, userId: $user) {
  ok errors { code field } } }"""
ASSIGN = """mutation($input: AssignTicketToTeamInput!) { assignTicketToTeam(input: $input) {
  ticket { assignee { id } teamId sla { timeline { clock event rule } } } errors { code } } }"""
AWAY = """mutation($org: ID!) { setAgentAvailability(organizationId: $org, available: false) {
  ok errors { code } } }"""


async def agent(support: SignedClient, org: Org, capacity: int = 20) -> Caller:
    user = org.caller()
    input = {
        "organizationId": str(org.id),
        "userId": str(user.user_id),
        "agent": True,
        "capacity": capacity,
    }
    assert (await support.run(SET_AGENT, {"input": input}, org.owner()))["setAgent"]["ok"]
    return user


async def team_of(support: SignedClient, org: Org, *members: Caller) -> str:
    created = await support.run(TEAM, {"org": str(org.id)}, org.owner())
    team: str = created["createTeam"]["team"]["id"]
    for member in members:
        added = await support.run(MEMBER, {"team": team, "user": str(member.user_id)}, org.owner())
        assert added["addTeamMember"]["ok"], added
    return team


async def assign(support: SignedClient, org: Org, team: str) -> dict[str, Any]:
    created = await ticket(support, org.caller())
    input = {"ticketId": created["id"], "teamId": team}
    data = await support.run(ASSIGN, {"input": input}, org.owner())
    payload: dict[str, Any] = data["assignTicketToTeam"]
    assert payload["errors"] == []
    assigned: dict[str, Any] = payload["ticket"]
    return assigned


def assignee(assigned: dict[str, Any]) -> str | None:
    return assigned["assignee"]["id"] if assigned["assignee"] else None


async def test_tickets_go_round_robin_to_the_teams_agents(support: SignedClient) -> None:
    org = Org()
    first, second = await agent(support, org), await agent(support, org)
    team = await team_of(support, org, first, second)
    picks = [assignee(await assign(support, org, team)) for _ in range(4)]
    ids = sorted([str(first.user_id), str(second.user_id)])
    assert picks == [ids[0], ids[1], ids[0], ids[1]]


async def test_away_agents_and_full_agents_are_skipped_and_nobody_is_never_a_silent_pick(
    support: SignedClient,
) -> None:
    org = Org()
    away, busy = await agent(support, org), await agent(support, org, capacity=1)
    team = await team_of(support, org, away, busy)
    assert (await support.run(AWAY, {"org": str(org.id)}, away))["setAgentAvailability"]["ok"]
    assert assignee(await assign(support, org, team)) == str(busy.user_id)
    failed = await assign(support, org, team)
    assert failed["assignee"] is None
    assert failed["teamId"] == team
    [entry] = failed["sla"]["timeline"]
    assert (entry["clock"], entry["event"]) == ("assignment", "ASSIGNMENT_FAILED")
    assert "Billing" in entry["rule"]


async def test_manual_assignment_respects_capacity_and_team_membership_needs_an_agent(
    support: SignedClient,
) -> None:
    org = Org()
    full = await agent(support, org, capacity=1)
    held = await ticket(support, org.caller())
    input = {"ticketId": held["id"], "assigneeId": str(full.user_id)}
    assert (await support.run(UPDATE, {"input": input}, org.owner()))["updateTicket"][
        "errors"
    ] == []
    other = await ticket(support, org.caller())
    input = {"ticketId": other["id"], "assigneeId": str(full.user_id)}
    refused = (await support.run(UPDATE, {"input": input}, org.owner()))["updateTicket"]
    assert codes(refused) == [("AGENT_AT_CAPACITY", "assigneeId")]
    team = await team_of(support, org)
    stranger = org.caller()
    added = await support.run(MEMBER, {"team": team, "user": str(stranger.user_id)}, org.owner())
    assert codes(added["addTeamMember"]) == [("ASSIGNEE_NOT_AGENT", "userId")]

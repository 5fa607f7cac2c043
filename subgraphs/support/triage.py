"""Triage by precedent: what the nearest settled tickets of an organization (resolved or closed,
so their priority, tags and team are agents' decisions) say a new ticket should get, each
neighbour's vote weighted by its similarity."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from uuid import UUID

from subgraphs.support.models import Ticket

NEIGHBOURS = 5


@dataclass(frozen=True)
class Suggestion:
    priority: str | None
    tags: list[str]
    team_id: UUID | None
    neighbours: list[UUID]


def _heaviest(votes: dict[str, float]) -> str | None:
    return max(sorted(votes), key=lambda v: votes[v]) if votes else None


def suggest(neighbours: list[tuple[Ticket, float]]) -> Suggestion:
    """The priority and team with the most weight, and the tags of at least half of it."""
    weights = [(t, max(score, 0.0)) for t, score in neighbours]
    total = sum(w for _, w in weights)
    priority: dict[str, float] = defaultdict(float)
    tags: dict[str, float] = defaultdict(float)
    teams: dict[str, float] = defaultdict(float)
    for ticket, weight in weights:
        priority[ticket.priority] += weight
        for tag in ticket.tags:
            tags[tag] += weight
        if ticket.team_id:
            teams[str(ticket.team_id)] += weight
    team = _heaviest(teams)
    return Suggestion(
        priority=_heaviest(priority),
        tags=sorted(t for t, w in tags.items() if total and w * 2 >= total),
        team_id=UUID(team) if team else None,
        neighbours=[t.id for t, _ in neighbours],
    )

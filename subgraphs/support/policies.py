"""SLA policies as the engine reads them: a calendar row as a ``Calendar``, a policy as the
snapshot the event log keeps, which tickets a policy's conditions cover, and its targets
checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from subgraphs.kernel.errors import ErrorCode, require
from subgraphs.support import sla
from subgraphs.support.calendar import Calendar
from subgraphs.support.models import BusinessCalendar, SlaPolicy

MIN_TARGET_SECONDS = 60
MAX_TARGET_SECONDS = 366 * 86400


def calendar_of(row: BusinessCalendar) -> Calendar:
    hours = tuple(tuple((s[0], s[1]) for s in row.weekly_hours.get(str(d), [])) for d in range(7))
    return Calendar(ZoneInfo(row.timezone), hours, frozenset(row.holidays))


def policy_data(policy: SlaPolicy, calendar: BusinessCalendar) -> dict[str, Any]:
    return sla.Policy(policy.name, calendar_of(calendar), policy.targets).as_data()


def covers(priorities: list[str], tags: list[str], priority: str, ticket_tags: list[str]) -> bool:
    """Whether a policy with these conditions (empty: any) applies to a ticket."""
    if priorities and priority not in priorities:
        return False
    return not tags or bool(set(tags) & set(ticket_tags))


def check_targets(targets: Mapping[Any, Mapping[str, int]]) -> None:
    for clocks in targets.values():
        for seconds in clocks.values():
            require(
                MIN_TARGET_SECONDS <= seconds <= MAX_TARGET_SECONDS,
                ErrorCode.INVALID_INPUT,
                "Targets are from one minute to a year.",
                "targets",
            )

"""Choosing among alternative plans: the planning walk asks at each ambiguous choice (which
subgraph resolves a field, which route of key jumps reaches it) and takes the option ranked
first unless told otherwise; the search walks again with single choices changed and keeps the
cheapest plan, as Apollo's planner compares the plans its options make."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from router.planner.errors import PlanningError

T = TypeVar("T")
Plan = TypeVar("Plan")
Cost = tuple[float, ...]
FAILED: Cost = (float("inf"),)

WALKS = 8
"""At most this many walks per operation, so planning stays fast where choices are many."""


@dataclass
class Choices:
    """The options a walk takes: a forced one where the search says so, else the first."""

    forced: dict[Hashable, Hashable] = field(default_factory=dict)
    offered: dict[Hashable, tuple[Hashable, ...]] = field(default_factory=dict)
    """Each open choice the walk met and its options, by identity."""
    taken: dict[Hashable, Hashable] = field(default_factory=dict)

    def take(
        self,
        choice: Hashable,
        options: Sequence[T],
        identity: Callable[[T], Hashable],
        settled: bool = False,
    ) -> T:
        """One of the options (ranked best first); `settled` when the first cannot be beaten,
        so the search does not try the others."""
        if (settled or len(options) == 1) and choice not in self.forced:
            return options[0]
        names = tuple(identity(o) for o in options)
        wanted = self.forced.get(choice, names[0])
        index = names.index(wanted) if wanted in names else 0
        if len(options) > 1 and not settled:
            self.offered.setdefault(choice, names)
            self.taken.setdefault(choice, names[index])
        return options[index]


def cheapest(plan: Callable[[Choices], Plan], cost: Callable[[Plan], Cost]) -> Plan:
    """The cheapest plan found from the ranked one by changing one open choice at a time,
    keeping each change that lowers the cost; a change that does not is tried further with
    the choices it opened (one option may pay off only with another behind it). At most
    WALKS walks."""

    def walk(choices: Choices) -> tuple[Plan | None, Cost, PlanningError | None]:
        try:
            found = plan(choices)
        except PlanningError as error:
            return None, FAILED, error
        return found, cost(found), None

    best = Choices()
    best_plan, best_cost, error = walk(best)
    pending = _changes(best, set())
    tried: set[frozenset[tuple[Hashable, Hashable]]] = {frozenset()}
    walks = 1
    while pending and walks < WALKS:
        forced = pending.pop(0)
        if frozenset(forced.items()) in tried:
            continue
        tried.add(frozenset(forced.items()))
        attempt = Choices(forced)
        found, found_cost, _ = walk(attempt)
        walks += 1
        if found_cost < best_cost:
            best, best_plan, best_cost = attempt, found, found_cost
            pending = _changes(best, set())
        else:
            pending[:0] = _changes(attempt, set(best.offered))
    if best_plan is None:
        assert error is not None  # noqa: S101 - a walk without a plan raised
        raise error
    return best_plan


def _changes(choices: Choices, known: set[Hashable]) -> list[dict[Hashable, Hashable]]:
    """The walk's choices with one open choice (not among `known`) changed."""
    return [
        {**choices.forced, choice: option}
        for choice, options in choices.offered.items()
        if choice not in known
        for option in options
        if option != choices.taken[choice]
    ]

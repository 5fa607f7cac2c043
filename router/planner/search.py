"""Choosing among alternative plans: the planning walk asks at each ambiguous choice (which
subgraph resolves a field, which route of key jumps reaches it) and takes the option ranked
first unless told otherwise; the search walks again with sets of choices changed and keeps the
cheapest plan, as Apollo's planner compares the plans its options make."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from router.planner.errors import PlanningError

T = TypeVar("T")
Plan = TypeVar("Plan")
Cost = tuple[float, ...]
FAILED: Cost = (float("inf"),)
Picks = dict[Hashable, Hashable]
"""An option for each of some choices, by identity."""
Change = tuple[Hashable, Hashable]

WALKS = 8
"""Walks an operation gets at least (where its choices have so many combinations)."""
WALKS_PER_OPTION = 2
"""More walks for each option the first walk left open, so planning stays fast where choices
are few and still reaches a late or joint change where they are many."""
MAX_WALKS = 64
"""At most this many walks per operation, however many its choices."""


@dataclass
class Choices:
    """The options a walk takes: a forced one where the search says so, else the first."""

    forced: Picks = field(default_factory=dict)
    offered: dict[Hashable, tuple[Hashable, ...]] = field(default_factory=dict)
    """Each open choice the walk met and its options, by identity."""
    taken: Picks = field(default_factory=dict)
    """The option taken at each open or forced choice the walk met."""

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
        self.taken.setdefault(choice, names[index])
        if len(options) > 1 and not settled:
            self.offered.setdefault(choice, names)
        return options[index]

    def met(self) -> Picks:
        """The forced options of choices the walk came to: what it was actually told."""
        return {c: o for c, o in self.forced.items() if c in self.taken}


@dataclass
class _Walked(Generic[Plan]):
    choices: Choices
    plan: Plan | None
    cost: Cost
    error: PlanningError | None = None


@dataclass(order=True)
class _Queued:
    """Forced options to walk with, best first: those made from the cheaper walk, then a
    change that paid off where it was tried before, then fewer changes, then the earlier."""

    parent_cost: Cost
    outcome: int
    changes: int
    order: int
    forced: Picks = field(compare=False)
    change: Change = field(compare=False)


def cheapest(plan: Callable[[Choices], Plan], cost: Callable[[Plan], Cost]) -> Plan:
    """The cheapest plan found by walking again with open choices changed: each walk's
    changes of one more choice are queued by that walk's cost (best first), so options that
    pay off only together, or only with a choice a change opened, are reached too. Each set
    of options is walked once; the walks are bounded by `_budget`."""

    def walk(forced: Picks) -> _Walked[Plan]:
        choices = Choices(forced)
        try:
            found = plan(choices)
        except PlanningError as error:
            return _Walked(choices, None, FAILED, error)
        return _Walked(choices, found, cost(found))

    first = best = walk({})
    search = _Search()
    search.expand(first)
    for _ in range(_budget(first.choices) - 1):
        if (queued := search.next()) is None:
            break
        walked = walk(queued.forced)
        search.outcomes[queued.change] = _compare(walked.cost, queued.parent_cost)
        if walked.cost < best.cost:
            best = walked
        search.expand(walked)
    if best.plan is None:
        assert first.error is not None  # noqa: S101 - a walk without a plan raised
        raise first.error
    return best.plan


@dataclass
class _Search:
    queue: list[_Queued] = field(default_factory=list)
    queued: set[frozenset[Change]] = field(default_factory=lambda: {frozenset()})
    """Forced options walked or queued."""
    expanded: set[frozenset[Change]] = field(default_factory=set)
    """What the walks expanded were actually told."""
    outcomes: dict[Change, int] = field(default_factory=dict)
    """How each change did the last time it was walked: -1 cheaper, 0 the same, 1 dearer."""

    def next(self) -> _Queued | None:
        """The best queued options, by what their change did when last walked (it may have
        been walked elsewhere since they were queued)."""
        while self.queue:
            queued = heapq.heappop(self.queue)
            outcome = self.outcomes.get(queued.change, 0)
            if outcome <= queued.outcome:
                return queued
            heapq.heappush(self.queue, replace(queued, outcome=outcome))
        return None

    def expand(self, walked: _Walked[Plan]) -> None:
        """Queue what the walk was told with one more of its open choices changed, unless a
        walk told the same was expanded already (forced options it did not come to tell it
        nothing)."""
        told = walked.choices.met()
        if frozenset(told.items()) in self.expanded:
            return
        self.expanded.add(frozenset(told.items()))
        for choice, options in walked.choices.offered.items():
            if choice in told:
                continue
            for option in options:
                forced = {**told, choice: option}
                key = frozenset(forced.items())
                if option == walked.choices.taken[choice] or key in self.queued:
                    continue
                self.queued.add(key)
                change = (choice, option)
                order = len(self.queued)
                outcome = self.outcomes.get(change, 0)
                entry = _Queued(walked.cost, outcome, len(forced), order, forced, change)
                heapq.heappush(self.queue, entry)


def _budget(first: Choices) -> int:
    options = sum(len(names) - 1 for names in first.offered.values())
    return min(MAX_WALKS, WALKS + WALKS_PER_OPTION * options)


def _compare(found: Cost, before: Cost) -> int:
    return (found > before) - (found < before)

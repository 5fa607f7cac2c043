"""The planner's search over open choices: it keeps the cheapest plan it walks, tries what a
change opens, falls back from a walk that cannot plan, and stops after a bounded number of walks."""

import pytest

from router.planner import search
from router.planner.errors import PlanningError
from router.planner.search import Choices, cheapest


def _total(plan: tuple[str, ...]) -> tuple[float, ...]:
    return (float(sum(len(part) for part in plan)),)


def test_a_cheaper_option_of_one_choice_is_kept() -> None:
    def plan(choices: Choices) -> tuple[str, ...]:
        return (choices.take("a", ["xxx", "x"], str),)

    assert cheapest(plan, _total) == ("x",)


def test_a_change_is_tried_with_the_choice_it_opens() -> None:
    # "deep" alone costs the same as the default; only with the inner choice changed too it pays.
    def plan(choices: Choices) -> tuple[str, ...]:
        if choices.take("outer", ["flat", "deep"], str) == "flat":
            return ("xx",)
        return (choices.take("inner", ["xx", "y"], str),)

    assert cheapest(plan, _total) == ("y",)


def test_a_settled_choice_is_not_searched() -> None:
    walks: list[str] = []

    def plan(choices: Choices) -> tuple[str, ...]:
        walks.append(taken := choices.take("a", ["xxx", "x"], str, settled=True))
        return (taken,)

    assert cheapest(plan, _total) == ("xxx",)
    assert walks == ["xxx"]


def test_a_walk_that_cannot_plan_gives_way_to_one_that_can() -> None:
    def plan(choices: Choices) -> tuple[str, ...]:
        if choices.take("a", ["dead end", "way"], str) == "dead end":
            raise PlanningError("no path")
        return ("way",)

    assert cheapest(plan, _total) == ("way",)


def test_planning_fails_when_no_option_plans() -> None:
    def plan(choices: Choices) -> tuple[str, ...]:
        choices.take("a", ["one", "two"], str)
        raise PlanningError("no path")

    with pytest.raises(PlanningError, match="no path"):
        cheapest(plan, _total)


def test_walks_are_bounded_however_many_choices() -> None:
    walks = 0

    def plan(choices: Choices) -> tuple[str, ...]:
        nonlocal walks
        walks += 1
        return tuple(choices.take(f"c{i}", ["xx", "x"], str) for i in range(50))

    cheapest(plan, _total)
    assert walks == search.WALKS

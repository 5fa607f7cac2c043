"""The planner's search over open choices: it keeps the cheapest plan it walks, tries what a
change opens and changes that pay off only together, walks each combination once, falls back
from a walk that cannot plan, and stops after a number of walks that grows with the choices but
is bounded."""

from collections.abc import Callable, Hashable
from typing import Any

import pytest
from graphql import parse

from router.planner import build, search
from router.planner.errors import PlanningError
from router.planner.plan import plan_to_json
from router.planner.planner import QueryPlanner
from router.planner.search import Choices, cheapest
from router.supergraph import Supergraph
from tests.router.fedfixtures.corpus import Case


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


def test_options_that_pay_off_only_together_are_found() -> None:
    # Either choice changed alone costs more than the ranked plan; both changed cost less.
    def plan(choices: Choices) -> tuple[str, ...]:
        price = choices.take("price", ["direct", "via hub"], str)
        stock = choices.take("stock", ["direct", "via hub"], str)
        if price == stock:
            return ("x",) if price == "via hub" else ("xx",)
        return ("xxx",)

    assert cheapest(plan, _total) == ("x",)


def test_the_ranked_plan_is_kept_among_equally_cheap_ones() -> None:
    def plan(choices: Choices) -> tuple[str, ...]:
        return tuple(choices.take(c, ["p", "q"], str) for c in "ab")

    assert cheapest(plan, _total) == ("p", "p")


def test_each_combination_of_options_is_walked_once() -> None:
    walked: list[tuple[str, ...]] = []

    def plan(choices: Choices) -> tuple[str, ...]:
        walked.append(taken := tuple(choices.take(c, ["a", "b"], str) for c in "pq"))
        return taken

    cheapest(plan, _total)
    assert sorted(walked) == [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")]


def test_a_late_choice_is_reached_where_choices_are_many() -> None:
    # Twelve open choices; only the last one's other option is cheaper.
    def plan(choices: Choices) -> tuple[str, ...]:
        early = tuple(choices.take(f"c{i}", ["x", "xx"], str) for i in range(11))
        return (*early, choices.take("late", ["xx", "x"], str))

    assert cheapest(plan, _total) == ("x",) * 12


def test_walks_are_bounded_however_many_choices() -> None:
    walks = 0

    def plan(choices: Choices) -> tuple[str, ...]:
        nonlocal walks
        walks += 1
        return tuple(choices.take(f"c{i}", ["xx", "x"], str) for i in range(50))

    cheapest(plan, _total)
    assert walks == search.MAX_WALKS


def test_the_walks_grow_with_the_open_options() -> None:
    # Three choices of three options each: six options open, not all 27 combinations walked.
    walks = 0

    def plan(choices: Choices) -> tuple[str, ...]:
        nonlocal walks
        walks += 1
        return tuple(choices.take(c, ["x", "xx", "xxx"], str) for c in "pqr")

    cheapest(plan, _total)
    assert walks == search.WALKS + 6 * search.WALKS_PER_OPTION


def _fetched_subgraphs(
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    operation: str,
    kind: str,
    option: Hashable | None,
) -> tuple[tuple[str, ...], set[str]]:
    """The options of the walk's one open choice of `kind` in a corpus operation, and the
    subgraphs fetched from when that choice takes `option` (the ranked one if None)."""
    offered: dict[Hashable, tuple[Hashable, ...]] = {}

    def one_walk(plan: Callable[[Choices], Any], cost: Callable[[Any], Any]) -> Any:
        first = Choices()
        plan(first)
        offered.update(first.offered)
        forced: dict[Hashable, Hashable] = {c: option for c in first.offered if _kind(c) == kind}
        return plan(Choices(forced if option else {}))

    monkeypatch.setattr(build, "cheapest", one_walk)
    found = Case(case)
    planned = QueryPlanner(Supergraph(found.supergraph_sdl())).build(
        parse(found.operation(operation)), None, frozenset()
    )
    options = [names for choice, names in offered.items() if _kind(choice) == kind]
    assert len(options) == 1
    return tuple(map(str, options[0])), set(_services(plan_to_json(planned.plan)))


def _kind(choice: Hashable) -> object:
    """A planning choice's kind: the first part of its identity."""
    return choice[0] if isinstance(choice, tuple) else None


def _services(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["serviceName"]] if node.get("kind") == "Fetch" else []
        return own + [s for v in node.values() for s in _services(v)]
    if isinstance(node, list):
        return [s for v in node for s in _services(v)]
    return []


def test_where_a_value_type_is_fetched_again_is_a_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    # Details.weight is in beta and gamma; neither is fetched from yet.
    case, operation = "value_type_rehome_choice", "weight_from_either"
    options, ranked = _fetched_subgraphs(monkeypatch, case, operation, "rehome", None)
    assert options == ("beta", "gamma")
    assert ranked == {"shop", "beta"}
    _, other = _fetched_subgraphs(monkeypatch, case, operation, "rehome", "gamma")
    assert other == {"shop", "gamma"}


def test_which_subgraph_gives_the_concrete_type_is_a_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both alpha and beta know Media's implementations; each misses one of the selections,
    # which then goes to the other side by side whichever is taken first.
    case, operation = "interface_object_two_sources", "title_and_studio"
    kind = "implementations"
    options, ranked = _fetched_subgraphs(monkeypatch, case, operation, kind, None)
    assert options == ("alpha", "beta")
    assert ranked == {"ratings", "alpha", "beta"}
    _, other = _fetched_subgraphs(monkeypatch, case, operation, kind, "beta")
    assert other == {"ratings", "alpha", "beta"}


def test_where_a_required_field_is_fetched_is_a_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    # Product.fee requires weight, which inventory and shipping both resolve.
    case, operation = "requires_condition_beside_sibling", "requirement_alone"
    options, ranked = _fetched_subgraphs(monkeypatch, case, operation, "route", None)
    assert options == ("(('inventory', False),)", "(('shipping', False),)")
    assert ranked == {"catalog", "inventory", "logistics"}
    shipping = (("shipping", False),)
    _, other = _fetched_subgraphs(monkeypatch, case, operation, "route", shipping)
    assert other == {"catalog", "shipping", "logistics"}


def _planned_services(case: str, operation: str) -> list[str]:
    found = Case(case)
    planned = QueryPlanner(Supergraph(found.supergraph_sdl())).build(
        parse(found.operation(operation)), None, frozenset()
    )
    return sorted(_services(plan_to_json(planned.plan)))


def test_two_fields_take_the_middle_subgraph_together() -> None:
    # Price and stock are each a jump to alpha or beta and one more from there, or two jumps
    # through catalog: no cheaper for either alone, one fetch fewer when both share catalog's.
    services = _planned_services("search_combined", "stock_before_price")
    assert services == ["catalog", "pricing", "shop", "warehouse"]


def test_a_cheaper_plan_many_changes_away_is_reached() -> None:
    # Eight items each fetched whole from alpha and beta side by side, and the last one's
    # detail from alpha's root fetch: nine changes from the ranked plan.
    services = _planned_services("search_late_choice", "detail_after_eight_items")
    assert services == ["alpha", "beta", "notes", "tags"]

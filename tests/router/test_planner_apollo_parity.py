"""Our plans for the fixture operations have the fetches of Apollo's planner (2.14.4)."""

import pytest
from graphql import parse

from router.planner.plan import plan_to_json
from router.planner.planner import QueryPlanner
from router.supergraph import Supergraph
from tests.router.fedfixtures.operations import (
    apollo_plan,
    operation,
    operation_names,
    override_labels,
)
from tests.router.fedfixtures.plans import canonical_plan
from tests.router.fedfixtures.subgraphs import DATA_DIR


@pytest.fixture(scope="module")
def planner() -> QueryPlanner:
    return QueryPlanner(Supergraph((DATA_DIR / "supergraph.graphql").read_text()))


@pytest.mark.parametrize("name", operation_names())
def test_plan_has_apollos_fetches_order_and_parallelism(planner: QueryPlanner, name: str) -> None:
    source = operation(name)
    planned = planner.build(parse(source), None, override_labels(source))
    assert canonical_plan(plan_to_json(planned.plan)) == canonical_plan(apollo_plan(name))


@pytest.mark.parametrize("name", operation_names())
def test_plan_numbers_and_names_fetches_like_apollo(planner: QueryPlanner, name: str) -> None:
    source = operation(name)
    planned = planner.build(parse(source), None, override_labels(source))
    ours = [_fetch_names(plan_to_json(planned.plan))]
    assert ours == [_fetch_names(apollo_plan(name))]


def _fetch_names(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["operationName"])] if node.get("kind") == "Fetch" else []
        return found + [n for value in node.values() for n in _fetch_names(value)]
    if isinstance(node, list):
        return [n for value in node for n in _fetch_names(value)]
    return []


def test_cached_plan_is_reused_per_document_and_operation_name(planner: QueryPlanner) -> None:
    source = operation("entity_chain")
    document = parse(source)
    first = planner.plan_for(source, document, None)
    assert planner.plan_for(source, document, None) is first
    assert planner.plan_for(source, document, "TopProductReviews") is not first


def test_override_label_state_is_part_of_the_cache_key(planner: QueryPlanner) -> None:
    source = operation("override_label_off")
    document = parse(source)
    off = planner.plan_for(source, document, None, frozenset())
    on = planner.plan_for(source, document, None, frozenset({"percent(50)"}))
    assert off is not on
    assert planner.plan_for(source, document, None, frozenset({"unrelated"})) is off


def test_least_recently_used_plans_are_evicted() -> None:
    planner = QueryPlanner(Supergraph((DATA_DIR / "supergraph.graphql").read_text()), cache_size=1)
    first_source, second_source = operation("provides"), operation("nullability")
    first = planner.plan_for(first_source, parse(first_source), None)
    planner.plan_for(second_source, parse(second_source), None)
    assert planner.plan_for(first_source, parse(first_source), None) is not first

"""The one field walk behind depth, aliases, root fields and cost: what it counts, how lists and
@cost/@listSize price an operation, and where each limit starts refusing."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FragmentDefinitionNode, build_ast_schema, parse

from router import limits
from router.compose import Subgraph, compose
from router.config import Limits
from router.planner.planner import QueryPlanner, select_operation
from router.supergraph import Supergraph
from tests.bench.federation import OPERATIONS, SUBGRAPHS

SDL = """
schema @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@cost", "@listSize"]) {
  query: Query
}
directive @link(url: String!, import: [String]) repeatable on SCHEMA
directive @cost(weight: Int!) on FIELD_DEFINITION | OBJECT | SCALAR | ENUM
directive @listSize(
  assumedSize: Int
  slicingArguments: [String!]
  sizedFields: [String!]
  requireOneSlicingArgument: Boolean = true
) on FIELD_DEFINITION

interface Node { id: ID! }

type Query {
  node: Node
  shop: Shop
  shops(first: Int, last: Int, limit: Int): [Shop!]!
  pricey: Shop @cost(weight: 7)
  page(take: Int, skip: Int): ShopPage @listSize(slicingArguments: ["take"], sizedFields: ["items"])
  few: [Shop!]! @listSize(assumedSize: 3)
  ranked(minimum: Int): [Shop!]!
  either(a: Int, b: Int): [Shop!]!
    @listSize(slicingArguments: ["a", "b"], requireOneSlicingArgument: false)
}
type ShopPage { items: [Shop!]! total: Int! }
type Shop implements Node { id: ID! name: String! products: [Product!]! owner: Shop }
type Product @cost(weight: 2) { id: ID! name: String! }
"""
DOCUMENT = parse(SDL)
SCHEMA = build_ast_schema(DOCUMENT)
DEFAULTS = Limits()


def measured(source: str, variables: dict[str, Any] | None = None) -> limits.Measure:
    document = parse(source)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = select_operation(document, None)
    # The demand is read per test, not once at import: each test then checks reading it too.
    demand = limits.demand_of(DOCUMENT)
    return limits.measure(SCHEMA, demand, operation, fragments, variables or {}, DEFAULTS)


def test_an_object_costs_one_and_a_leaf_nothing() -> None:
    assert measured("{ shop { id name } }").cost == 1
    assert measured("{ shop { owner { id } } }").cost == 2


def test_nested_lists_multiply() -> None:
    # 10 shops, each with 10 products of weight 2: 10 + 10 x 10 x 2
    assert measured("{ shops { products { id } } }").cost == 210


@pytest.mark.parametrize("argument", ["first", "last", "limit"])
def test_size_arguments_price_a_list_literal_or_variable(argument: str) -> None:
    assert measured(f"{{ shops({argument}: 3) {{ id }} }}").cost == 3
    variable = f"query($n: Int) {{ shops({argument}: $n) {{ id }} }}"
    assert measured(variable, {"n": 1_000_000}).cost == 1_000_000
    assert measured(variable, {}).cost == DEFAULTS.default_list_size


def test_fields_of_named_and_inline_fragments_count() -> None:
    named = measured("{ ...Shops } fragment Shops on Query { a: shops { owner { id } } }")
    assert (named.depth, named.aliases, named.root_fields, named.cost) == (3, 1, 1, 20)
    inline = measured(
        "{ ... on Query { a: shop { id } b: shop { ... on Shop { c: owner { id } } } } }"
    )
    assert (inline.depth, inline.aliases, inline.root_fields, inline.cost) == (3, 3, 2, 3)


def test_fields_are_priced_on_the_type_their_fragment_names() -> None:
    # a Node costs 1, its products (only a Shop has them) 10 x 2
    assert measured("{ node { ... on Shop { products { id } } } }").cost == 21
    assert measured("{ node { ... on Node { ... on Shop { products { id } } } } }").cost == 21
    nested = "{ node { ...N } } fragment N on Node { ... on Shop { products { id } } }"
    assert measured(nested).cost == 21


def test_typename_and_introspection_fields_count_toward_depth() -> None:
    assert measured("{ shop { __typename } }").depth == 2
    assert measured("{ __schema { queryType { name } } }").depth == 3


def test_skipped_and_excluded_fields_do_not_count() -> None:
    literal = measured("{ shop @skip(if: true) { id } shops @include(if: true) { id } }")
    assert (literal.root_fields, literal.cost) == (1, 10)
    source = "query($on: Boolean!) { a: shops @include(if: $on) { products { id } } shop { id } }"
    assert measured(source, {"on": False}) == measured("{ shop { id } }")
    on = measured(source, {"on": True})
    assert (on.depth, on.aliases, on.root_fields, on.cost) == (3, 1, 2, 211)
    fragment = measured(
        "{ ... @skip(if: true) { shops { id } } ...F @include(if: false) shop { id } }"
        " fragment F on Query { shops { id } }"
    )
    assert fragment.cost == 1


def test_cost_and_list_size_directives_of_the_schema_are_read() -> None:
    assert measured("{ pricey { id } }").cost == 7
    assert measured("{ few { id } }").cost == 3
    paged = measured("{ page(take: 4) { items { id } total } }")
    assert (paged.cost, paged.problem) == (5, None)
    assert measured("{ either(a: 2, b: 5) { id } }").cost == 5


def test_a_required_slicing_argument_must_be_given() -> None:
    missing = measured("{ page { items { id } } }").problem
    assert missing is not None
    assert missing.code == "SLICING_ARGUMENT_REQUIRED"
    assert (
        limits.check_shape(measured("{ page { items { id } } }"), DEFAULTS, introspection=True)
        == missing
    )


def test_introspection_is_noticed_in_fragments() -> None:
    assert measured("{ ... on Query { __schema { queryType { name } } } }").introspection
    assert not measured("{ __typename shop { id } }").introspection


def _at(limit: str, value: int) -> Limits:
    return DEFAULTS.model_copy(update={limit: value})


@pytest.mark.parametrize(
    ("limit", "source", "found", "code"),
    [
        ("max_depth", "{ shop { owner { owner { id } } } }", 4, "MAX_DEPTH_EXCEEDED"),
        ("max_aliases", "{ a: shop { b: id c: name } }", 3, "MAX_ALIASES_EXCEEDED"),
        (
            "max_root_fields",
            "{ shop { id } few { id } pricey { id } }",
            3,
            "MAX_ROOT_FIELDS_EXCEEDED",
        ),
    ],
)
def test_each_shape_limit_admits_its_value_and_refuses_one_more(
    limit: str, source: str, found: int, code: str
) -> None:
    shape = measured(source)
    assert limits.check_shape(shape, _at(limit, found), introspection=True) is None
    refused = limits.check_shape(shape, _at(limit, found - 1), introspection=True)
    assert refused is not None
    assert refused.code == code


def test_introspection_is_refused_only_when_turned_off() -> None:
    shape = measured("{ __schema { queryType { name } } }")
    assert limits.check_shape(shape, DEFAULTS, introspection=True) is None
    refused = limits.check_shape(shape, DEFAULTS, introspection=False)
    assert refused is not None
    assert refused.code == "INTROSPECTION_DISABLED"


def test_cost_limit_admits_its_value_and_refuses_one_more() -> None:
    assert limits.check_cost(50, _at("max_cost", 50)) is None
    refused = limits.check_cost(51, _at("max_cost", 50))
    assert refused is not None
    assert refused.code == "COST_LIMIT_EXCEEDED"


def test_actual_cost_counts_the_objects_answered_and_the_fetches() -> None:
    data = {"shops": [{"id": "1", "owner": {"id": "2"}}, {"id": "3", "owner": None}]}
    assert limits.actual_cost(data, 2, DEFAULTS) == 3 + 2 * DEFAULTS.fetch_cost
    assert limits.actual_cost(None, 0, DEFAULTS) == 0


def _bench_cost(source: str) -> int:
    sdls = {name: factory().sdl for name, factory in SUBGRAPHS.items()}
    subgraphs = [
        Subgraph(name=n, url=f"http://{n}.example/graphql", sdl=s) for n, s in sdls.items()
    ]
    sdl = compose(subgraphs).supergraph_sdl
    assert sdl is not None
    supergraph = Supergraph(sdl)
    document = parse(source)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operation = select_operation(document, None)
    found = limits.measure(
        supergraph.api_schema, limits.demand_of(parse(sdl)), operation, fragments, {}, DEFAULTS
    )
    planned = QueryPlanner(supergraph).plan_for(source, document, None)
    return limits.cost(found, planned.plan, DEFAULTS)


def test_default_limit_admits_the_benchmarks_heavy_query_and_refuses_fan_outs() -> None:
    assert limits.check_cost(_bench_cost(OPERATIONS["heavy"]), DEFAULTS) is None
    wider = (
        "{ users { reviews { product { reviews { author { reviews { product"
        " { reviews { id } } } } } } } } }"
    )
    assert limits.check_cost(_bench_cost(wider), DEFAULTS) is not None
    huge = "{ topProducts(first: 1000000) { upc } }"
    assert limits.check_cost(_bench_cost(huge), DEFAULTS) is not None
    assert limits.check_cost(_bench_cost("{ topProducts(first: 100) { upc } }"), DEFAULTS) is None


def test_each_fetch_of_the_plan_is_priced() -> None:
    assert _bench_cost("{ topProducts(first: 1) { upc } }") == 1 + DEFAULTS.fetch_cost
    # products, then reviews for them: two fetches
    two = "{ topProducts(first: 1) { reviews { id } } }"
    assert _bench_cost(two) == 1 + 10 + 2 * DEFAULTS.fetch_cost


def test_a_conditional_fetch_is_priced_by_its_larger_branch() -> None:
    conditional = (
        "query($on: Boolean!) { topProducts(first: 1) { reviews @include(if: $on) { id } } }"
    )
    assert _bench_cost(conditional) == 1 + 10 + 2 * DEFAULTS.fetch_cost


HEAD = """
directive @link(url: String!, as: String, import: [String], for: String) repeatable on SCHEMA
directive @other(url: String) on SCHEMA
"""


def _linked(imports: str) -> str:
    url = "https://specs.apollo.dev/cost/v0.1"
    return f'schema @link(url: "{url}", import: {imports}) {{ query: Query }}'


def _demand(schema: str, types: str) -> limits.Demand:
    return limits.demand_of(parse(HEAD + schema + types))


def test_the_cost_spec_is_read_under_the_name_its_link_gives_it() -> None:
    schema = """
    schema
      @link(url: "https://specs.apollo.dev/link/v1.0")
      @other(url: "https://specs.apollo.dev/cost/v0.1")
      @link(url: "https://specs.apollo.dev/join/v0.5", for: "EXECUTION")
      @link(url: "https://specs.apollo.dev/cost/v0.1", as: "price", import: ["@listSize", 3])
    { query: Query }
    """
    types = """
    type Query {
      a: Shop @price__cost(weight: 9)
      b: Shop @cost(weight: 100)
      d: [Shop!]! @listSize(assumedSize: 4)
      e: [Shop!]! @price__listSize(assumedSize: 100)
    }
    type Shop { id: ID! }
    """

    demand = _demand(schema, types)

    assert demand.field_weights == {("Query", "a"): 9}
    assert demand.list_sizes == {("Query", "d"): limits.ListSize(assumed_size=4)}


def test_the_cost_spec_linked_without_a_name_is_prefixed_cost() -> None:
    schema = 'extend schema @link(url: "https://specs.apollo.dev/cost/v0.1")\n'
    types = "type Query { a: Shop @cost__cost(weight: 2) b: Shop @cost(weight: 5) }"

    assert _demand(schema, types).field_weights == {("Query", "a"): 2}


def test_without_the_cost_spec_linked_the_directives_keep_their_names() -> None:
    schema = 'schema @link(url: "https://specs.apollo.dev/link/v1.0") { query: Query }\n'
    types = "type Query { a: Shop @cost(weight: 2) d: [Shop!]! @listSize(assumedSize: 6) }"

    demand = _demand(schema, types)

    assert demand.field_weights == {("Query", "a"): 2}
    assert demand.list_sizes == {("Query", "d"): limits.ListSize(assumed_size=6)}


def test_weights_of_zero_and_written_as_strings_are_read() -> None:
    schema = _linked('["@cost"]')
    types = """
    type Query { a: Shop @cost(weight: 0) b: Shop @cost(weight: "12") c: Shop @cost(weight: "x") }
    type Shop { id: ID! }
    enum Level @cost(weight: 0) { LOW }
    scalar Money @cost(weight: 3)
    type Zero @cost(weight: 0) { id: ID! }
    extend type Zero @cost(weight: 4) { more: Level @cost(weight: 6) }
    interface Node { tag: Money @cost(weight: 8) }
    """

    demand = _demand(schema, types)

    assert demand.field_weights == {
        ("Query", "a"): 0,
        ("Query", "b"): 12,
        ("Query", "c"): 0,
        ("Zero", "more"): 6,
        ("Node", "tag"): 8,
    }
    assert demand.type_weights == {"Level": 0, "Money": 3, "Zero": 4}


def test_list_size_arguments_are_read_by_name_whatever_their_order() -> None:
    schema = _linked('["@listSize"]')
    types = """
    type Query {
      d: [Shop!]! @listSize(sizedFields: ["x", 1], requireOneSlicingArgument: false, assumedSize: 2)
      e: [Shop!]! @listSize(requireOneSlicingArgument: "no", slicingArguments: ["first", "last"])
    }
    """

    demand = _demand(schema, types)

    assert demand.list_sizes == {
        ("Query", "d"): limits.ListSize(2, (), ("x",), require_one_slicing_argument=False),
        ("Query", "e"): limits.ListSize(None, ("first", "last"), ()),
    }


def test_fragments_without_a_type_condition_or_deferred_count() -> None:
    plain = measured("{ ... { shops { id } } }")
    deferred = measured(
        "query($now: Boolean!) { ... @defer(if: $now) { shops { id } } }", {"now": False}
    )
    labelled = measured('{ ... @defer(label: "later") { shops { id } } }')

    assert (plain.cost, deferred.cost, labelled.cost) == (10, 10, 10)


def test_an_import_renamed_in_an_object_is_read_under_its_new_name() -> None:
    schema = """
    schema @link(url: "https://specs.apollo.dev/cost/v0.1",
      import: [{name: "@cost", as: "@weight"}, {name: "@listSize"}, {as: "@nothing"}, 7])
    { query: Query }
    """
    types = """
    type Query {
      a: Shop @weight(weight: 3)
      b: Shop @cost(weight: 100)
      d: [Shop!]! @listSize(assumedSize: 5)
    }
    """

    demand = _demand(schema, types)

    assert demand.field_weights == {("Query", "a"): 3}
    assert demand.list_sizes == {("Query", "d"): limits.ListSize(assumed_size=5)}


def test_typename_costs_nothing_and_only_size_arguments_size_a_list() -> None:
    assert measured("{ __typename shop { __typename id } }").cost == 1
    assert measured("{ ranked(minimum: 50) { id } }").cost == DEFAULTS.default_list_size
    assert measured("{ shops(first: null) { id } }").cost == DEFAULTS.default_list_size


def test_deferred_fetches_are_priced_nested_ones_too() -> None:
    fetch = DEFAULTS.fetch_cost
    assert _bench_cost("{ __typename }") == 0
    deferred = "{ topProducts(first: 1) { upc ... @defer { reviews { id } } } }"
    assert _bench_cost(deferred) == 1 + 10 + 2 * fetch
    nested = (
        "{ topProducts(first: 1) { upc ... @defer { reviews { id"
        " ... @defer { author { username } } } } } }"
    )
    assert _bench_cost(nested) == 1 + 10 + 10 + 3 * fetch

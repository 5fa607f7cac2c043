"""The router removes from an operation what the caller may not read, as the supergraph's
@authenticated, @requiresScopes and @policy say, with an error at each removed path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import parse, print_ast

from router.authorization import AccessRules, Authorized, Grants
from router.compose import compose
from router.supergraph import Supergraph
from tests.router.compose.compose_groups import GROUPS, Group

ENFORCED = Group(GROUPS / "valid" / "access_control_enforced")
ANONYMOUS = Grants()
SIGNED_IN = Grants(authenticated=True)


def _rules(sdl: str) -> AccessRules:
    return AccessRules.of(parse(sdl), Supergraph(sdl).api_schema)


def _ours(group: Group) -> str:
    sdl = compose(group.subgraphs).supergraph_sdl
    assert sdl is not None
    return sdl


@pytest.fixture(scope="module", params=["our composition", "Apollo's composition"])
def rules(request: pytest.FixtureRequest) -> AccessRules:
    sdl = _ours(ENFORCED) if request.param == "our composition" else ENFORCED.apollo_supergraph
    return _rules(sdl)


def _authorize(
    rules: AccessRules, query: str, grants: Grants, operation: str | None = None
) -> Authorized:
    return rules.authorize(parse(query), operation, grants)


def _kept(result: Authorized) -> str | None:
    return print_ast(result.document) if result.document else None


def _same(query: str) -> str:
    return print_ast(parse(query))


def _paths(result: Authorized, variables: dict[str, Any] | None = None) -> list[list[str]]:
    return [error["path"] for error in result.errors(variables or {})]


def test_public_selections_pass_unchanged(rules: AccessRules) -> None:
    query = "{ products { id name } ping: product(id: 1) { __typename } }"

    document = parse(query)

    result = rules.authorize(document, None, ANONYMOUS)

    assert result.document is document
    assert result.denied == ()
    assert not result.refused


def test_authenticated_field_is_removed_for_anonymous_callers_only(rules: AccessRules) -> None:
    query = "{ products { id } secretNote }"

    anonymous = _authorize(rules, query, ANONYMOUS)
    signed_in = _authorize(rules, query, SIGNED_IN)

    assert _kept(anonymous) == _same("{ products { id } }")
    assert anonymous.errors({}) == [
        {
            "message": "Unauthorized field or type",
            "path": ["secretNote"],
            "extensions": {"code": "UNAUTHORIZED_FIELD_OR_TYPE"},
        }
    ]
    assert _kept(signed_in) == _same(query)
    assert signed_in.denied == ()


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ({"admin"}, True),
        ({"report:read", "staff"}, True),
        ({"report:read", "staff", "other"}, True),
        ({"report:read"}, False),
        ({"staff"}, False),
        (set(), False),
    ],
)
def test_scopes_are_any_one_of_the_sets_all_of_its_members(
    rules: AccessRules, scopes: set[str], allowed: bool
) -> None:
    result = _authorize(rules, "{ adminReport ping: secretNote }", Grants(True, frozenset(scopes)))

    assert (["adminReport"] not in _paths(result)) is allowed


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ({"inventory", "warehouse"}, True),
        ({"inventory", "audit"}, True),
        ({"inventory"}, False),
        ({"warehouse", "audit"}, False),
    ],
)
def test_a_field_annotated_in_two_subgraphs_needs_both_requirements(
    rules: AccessRules, scopes: set[str], allowed: bool
) -> None:
    result = _authorize(rules, "{ product(id: 1) { id stock } }", Grants(True, frozenset(scopes)))

    assert (_paths(result) == []) is allowed


def test_an_empty_scope_list_lets_no_one_in(rules: AccessRules) -> None:
    everything = Grants(True, frozenset({"admin", "money", "finance"}), rules.policy_names)

    result = _authorize(rules, "{ closed products { id } }", everything)

    assert _paths(result) == [["closed"]]


def test_authentication_is_not_implied_by_scopes(rules: AccessRules) -> None:
    result = _authorize(rules, "{ orders { id } products { id } }", Grants(False, frozenset({"x"})))

    assert _paths(result) == [["orders"]]


@pytest.mark.parametrize(
    ("policies", "denied"),
    [
        (set(), [["audit"], ["orders", "@", "buyer"]]),
        ({"buyer:read"}, [["audit"]]),
        ({"org:manage"}, []),
    ],
)
def test_policies_are_decided_from_the_granted_set(
    rules: AccessRules, policies: set[str], denied: list[list[str]]
) -> None:
    grants = Grants(True, frozenset(), frozenset(policies))

    result = _authorize(rules, "{ audit orders { id buyer { id } } }", grants)

    assert _paths(result) == denied


def test_the_policies_of_the_supergraph_are_listed_for_deciding(rules: AccessRules) -> None:
    assert rules.policy_names == {"org:manage", "grades", "buyer:read"}


def test_a_field_returning_a_protected_type_is_removed(rules: AccessRules) -> None:
    result = _authorize(rules, "{ product(id: 1) { id internal { note } } }", ANONYMOUS)

    assert _kept(result) == _same("{ product(id: 1) { id } }")
    assert _paths(result) == [["product", "internal"]]


def test_fields_returning_a_protected_scalar_or_enum_are_removed(rules: AccessRules) -> None:
    result = _authorize(rules, "{ price grade products { id cost } }", SIGNED_IN)

    assert _kept(result) == _same("{ products { id } }")
    assert _paths(result) == [["price"], ["grade"], ["products", "@", "cost"]]


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [({"money", "premium"}, True), ({"money"}, False), ({"premium"}, False)],
)
def test_a_field_needs_both_its_own_scopes_and_its_types(
    rules: AccessRules, scopes: set[str], allowed: bool
) -> None:
    result = _authorize(rules, "{ premiumPrice products { id } }", Grants(True, frozenset(scopes)))

    assert (_paths(result) == []) is allowed


def test_paths_use_aliases_and_mark_list_items(rules: AccessRules) -> None:
    query = "{ p: product(id: 1) { m: margin } all: products { margin name } }"

    result = _authorize(rules, query, SIGNED_IN)

    assert _paths(result) == [["p", "m"], ["all", "@", "margin"]]
    assert _kept(result) == _same("{ p: product(id: 1) { __typename } all: products { name } }")


def test_a_field_left_with_nothing_answers_its_typename(rules: AccessRules) -> None:
    result = _authorize(rules, "{ product(id: 1) { margin } products { id } }", SIGNED_IN)

    assert _kept(result) == _same("{ product(id: 1) { __typename } products { id } }")


def test_inline_fragment_on_a_protected_union_member_is_removed(rules: AccessRules) -> None:
    query = "{ feed { __typename ... on Draft { text } ... on Announcement { text } } }"

    without = _authorize(rules, query, SIGNED_IN)
    with_scope = _authorize(rules, query, Grants(True, frozenset({"drafts"})))

    assert _kept(without) == _same("{ feed { __typename ... on Announcement { text } } }")
    assert _paths(without) == [["feed", "@", "... on Draft"]]
    assert _kept(with_scope) == _same(query)


def test_named_fragment_on_a_protected_type_is_removed_with_its_definition(
    rules: AccessRules,
) -> None:
    query = "{ feed { __typename ...D } } fragment D on Draft { text }"

    result = _authorize(rules, query, SIGNED_IN)

    assert _kept(result) == _same("{ feed { __typename } }")
    assert _paths(result) == [["feed", "@", "... on Draft"]]


def test_named_fragment_is_pruned_once_and_reported_at_each_use(rules: AccessRules) -> None:
    query = (
        "{ a: product(id: 1) { ...P } b: product(id: 2) { ...P } }"
        " fragment P on Product { name margin }"
    )

    result = _authorize(rules, query, SIGNED_IN)

    assert _paths(result) == [["a", "margin"], ["b", "margin"]]
    assert _kept(result) == _same(
        "{ a: product(id: 1) { ...P } b: product(id: 2) { ...P } } fragment P on Product { name }"
    )


def test_fields_inside_fragments_are_checked(rules: AccessRules) -> None:
    query = "{ products { ... on Product { id margin } ...M } } fragment M on Product { cost }"

    result = _authorize(rules, query, SIGNED_IN)

    assert _paths(result) == [["products", "@", "margin"], ["products", "@", "cost"]]
    assert _kept(result) == _same("{ products { ... on Product { id } } }")


def test_interface_field_needs_what_every_implementation_field_needs(rules: AccessRules) -> None:
    on_interface = _authorize(rules, "{ media { id title } }", SIGNED_IN)
    on_public_implementation = _authorize(rules, "{ media { ... on Photo { title } } }", SIGNED_IN)
    on_protected_implementation = _authorize(
        rules, "{ media { ... on Book { title } } }", SIGNED_IN
    )

    assert _paths(on_interface) == [["media", "@", "title"]]
    assert on_public_implementation.denied == ()
    assert _paths(on_protected_implementation) == [["media", "@", "title"]]


def test_interfaces_are_checked_even_if_the_supergraph_did_not_propagate_requirements() -> None:
    sdl = ENFORCED.apollo_supergraph.replace(
        'title: String @requiresScopes(scopes: [["books"]])\n}\n\nscalar Money',
        "title: String\n}\n\nscalar Money",
    )
    assert sdl != ENFORCED.apollo_supergraph

    result = _authorize(_rules(sdl), "{ media { id title } }", SIGNED_IN)

    assert _paths(result) == [["media", "@", "title"]]


def test_interface_takes_the_type_requirements_of_its_implementations() -> None:
    group = Group(GROUPS / "valid" / "access_control_interfaces")
    rules = _rules(_ours(group))
    everything = Grants(True, frozenset({"a", "b"}), frozenset({"pc"}))

    assert _authorize(rules, "{ node { id } }", everything).denied == ()
    for lacking in (
        Grants(False, everything.scopes, everything.policies),
        Grants(True, frozenset({"a"}), everything.policies),
        Grants(True, everything.scopes, frozenset()),
    ):
        assert _paths(_authorize(rules, "{ node { id } }", lacking)) == [["node"]]


def test_interface_type_requirement_comes_from_implementations_without_propagation() -> None:
    group = Group(GROUPS / "valid" / "access_control_interfaces")
    sdl = _ours(group)
    unpropagated = sdl.replace('  @requiresScopes(scopes: [["a", "b"]])\n', "", 1)
    assert unpropagated != sdl

    grants = Grants(True, frozenset({"a"}), frozenset({"pc"}))
    result = _authorize(_rules(unpropagated), "{ node { id } }", grants)

    assert _paths(result) == [["node"]]


def test_typename_is_always_allowed(rules: AccessRules) -> None:
    result = _authorize(rules, "{ __typename secretNote feed { __typename } }", ANONYMOUS)

    assert _kept(result) == _same("{ __typename feed { __typename } }")
    assert not result.refused


def test_an_operation_left_with_nothing_is_refused(rules: AccessRules) -> None:
    result = _authorize(rules, "{ secretNote adminReport }", ANONYMOUS)

    assert result.refused
    assert result.document is None
    assert _paths(result) == [["secretNote"], ["adminReport"]]


def test_a_protected_mutation_is_removed(rules: AccessRules) -> None:
    query = 'mutation { placeOrder(productId: "1") { id } ping }'

    without = _authorize(rules, query, SIGNED_IN)
    with_scope = _authorize(rules, query, Grants(True, frozenset({"orders:write"})))

    assert _kept(without) == _same("mutation { ping }")
    assert _paths(without) == [["placeOrder"]]
    assert with_scope.denied == ()


def test_a_protected_root_type_refuses_every_root_field() -> None:
    sdl = ENFORCED.apollo_supergraph.replace("type Mutation\n", "type Mutation @authenticated\n")
    assert sdl != ENFORCED.apollo_supergraph
    rules = _rules(sdl)
    query = 'mutation { ping ... on Mutation { placeOrder(productId: "1") { id } } }'

    anonymous = _authorize(rules, query, ANONYMOUS)
    signed_in = _authorize(rules, "mutation { ping }", SIGNED_IN)

    assert anonymous.refused
    assert _paths(anonymous) == [["ping"], ["placeOrder"]]
    assert signed_in.denied == ()


def test_only_the_selected_operation_is_kept(rules: AccessRules) -> None:
    query = "query A { products { id } } query B { secretNote products { name } }"

    result = _authorize(rules, query, ANONYMOUS, "B")

    assert _kept(result) == _same("query B { products { name } }")
    assert _paths(result) == [["secretNote"]]


def test_errors_of_skipped_selections_are_not_reported(rules: AccessRules) -> None:
    query = (
        "query ($show: Boolean!, $hide: Boolean!) { products { id }"
        " secretNote @include(if: $show)"
        " ... @skip(if: $hide) { adminReport }"
        " price @include(if: false) }"
    )

    result = _authorize(rules, query, ANONYMOUS)

    assert _kept(result) == _same("query ($show: Boolean!, $hide: Boolean!) { products { id } }")
    assert _paths(result, {"show": False, "hide": True}) == []
    assert _paths(result, {"show": True, "hide": True}) == [["secretNote"]]
    assert _paths(result, {"show": False, "hide": False}) == [["adminReport"]]


def test_skip_and_include_conditions_nest(rules: AccessRules) -> None:
    query = (
        "query ($a: Boolean!, $b: Boolean!)"
        " { products @include(if: $a) { id ... @include(if: $b) { margin } } }"
    )

    result = _authorize(rules, query, SIGNED_IN)

    assert _paths(result, {"a": True, "b": True}) == [["products", "@", "margin"]]
    assert _paths(result, {"a": True, "b": False}) == []
    assert _paths(result, {"a": False, "b": True}) == []


def test_renamed_directives_are_enforced() -> None:
    group = Group(GROUPS / "valid" / "access_control_renamed")
    rules = _rules(_ours(group))

    result = _authorize(rules, "{ x y z { id } }", SIGNED_IN)

    assert _paths(result) == [["y"], ["z"]]
    assert _paths(_authorize(rules, "{ x }", ANONYMOUS)) == [["x"]]


def test_results_are_cached_per_document_operation_and_grants(rules: AccessRules) -> None:
    document = parse("{ secretNote products { id } }")

    first = rules.authorize(document, None, ANONYMOUS)

    assert rules.authorize(document, None, ANONYMOUS) is first
    assert rules.authorize(document, None, SIGNED_IN) is not first
    assert rules.authorize(parse("{ secretNote products { id } }"), None, ANONYMOUS) is not first


def test_cached_results_are_per_operation(rules: AccessRules) -> None:
    document = parse("query A { secretNote products { id } } query B { products { id } }")

    first = rules.authorize(document, "A", ANONYMOUS)
    second = rules.authorize(document, "B", ANONYMOUS)

    assert _paths(first) == [["secretNote"]]
    assert second.denied == ()


def test_the_cache_keeps_at_most_its_size() -> None:
    rules = _rules(ENFORCED.apollo_supergraph)
    rules.cache_size = 1
    first_document, second_document = parse("{ secretNote }"), parse("{ adminReport }")
    first = rules.authorize(first_document, None, ANONYMOUS)

    assert rules.authorize(first_document, None, ANONYMOUS) is first
    rules.authorize(second_document, None, ANONYMOUS)
    assert rules.authorize(first_document, None, ANONYMOUS) is not first


def test_directives_of_a_supergraph_that_does_not_link_them_are_still_enforced() -> None:
    link = '  @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)\n'
    sdl = ENFORCED.apollo_supergraph.replace(link, "")
    assert sdl != ENFORCED.apollo_supergraph

    result = _authorize(_rules(sdl), "{ secretNote products { id } }", ANONYMOUS)

    assert _paths(result) == [["secretNote"]]


PLATFORM = (Path(__file__).parents[2] / "schema" / "supergraph.graphql").read_text()
SUPPORT_WRITER = Grants(authenticated=True, scopes=frozenset({"tickets:write"}))


def test_a_root_field_the_plan_lacks_refuses_the_whole_operation_beside_others() -> None:
    rules = _rules(PLATFORM)
    query = """mutation { createSlaPolicy(input: {organizationId: "o", name: "n", calendarId:
      "c", targets: []}) { policy { id } }
      createBusinessCalendar(input: {organizationId: "o", name: "n", timezone: "UTC",
      weeklyHours: []}) { calendar { id } } }"""

    result = _authorize(rules, query, SUPPORT_WRITER)

    # Nothing runs: a mutation beside the refused one must not be made on its own.
    assert result.refused
    assert result.errors({}) == [
        {
            "message": "The organization's plan does not include this feature.",
            "path": ["createSlaPolicy"],
            "extensions": {"code": "NOT_ENTITLED", "feature": "sla_policies"},
        }
    ]


def test_a_field_lacking_two_plan_features_names_the_first_by_name() -> None:
    audit = '@policy(policies: [["org:manage"]])'
    sdl = ENFORCED.apollo_supergraph.replace(
        audit, '@policy(policies: [["feature:zeta", "feature:beta"]])'
    )
    assert sdl != ENFORCED.apollo_supergraph

    result = _authorize(_rules(sdl), "{ audit products { id } }", SIGNED_IN)
    partly = _authorize(
        _rules(sdl), "{ audit }", Grants(True, policies=frozenset({"feature:beta"}))
    )

    assert [e["extensions"] for e in result.errors({})] == [
        {"code": "NOT_ENTITLED", "feature": "beta"}
    ]
    assert [e["extensions"] for e in partly.errors({})] == [
        {"code": "NOT_ENTITLED", "feature": "zeta"}
    ]


@pytest.mark.parametrize(
    ("directive", "shown"),
    [
        ("@include(if: true)", True),
        ("@skip(if: false)", True),
        ("@include(if: false)", False),
        ("@skip(if: true)", False),
    ],
)
def test_literal_conditions_decide_whether_an_error_shows(
    rules: AccessRules, directive: str, shown: bool
) -> None:
    result = _authorize(rules, f"{{ products {{ id }} secretNote {directive} }}", ANONYMOUS)

    assert _kept(result) == _same("{ products { id } }")
    assert (_paths(result) == [["secretNote"]]) is shown


@pytest.mark.parametrize("defer", ["@defer", '@defer(label: "later")', "@defer(if: $later)"])
def test_other_directives_do_not_hide_an_error(rules: AccessRules, defer: str) -> None:
    query = f"query ($later: Boolean!) {{ products {{ id }} ... {defer} {{ secretNote }} }}"

    result = _authorize(rules, query, ANONYMOUS)

    for later in (True, False):
        assert _paths(result, {"later": later}) == [["secretNote"]]


def test_introspection_beside_a_removed_field_is_kept(rules: AccessRules) -> None:
    query = '{ __type(name: "Product") { name } __schema { queryType { name } } secretNote }'

    result = _authorize(rules, query, ANONYMOUS)

    assert _kept(result) == _same(
        '{ __type(name: "Product") { name } __schema { queryType { name } } }'
    )
    assert _paths(result) == [["secretNote"]]


def test_a_protected_root_type_refuses_the_fields_of_named_fragments_too() -> None:
    sdl = ENFORCED.apollo_supergraph.replace("type Mutation\n", "type Mutation @authenticated\n")
    query = "mutation { ...Ping } fragment Ping on Mutation { ping p: ping }"

    result = _authorize(_rules(sdl), query, ANONYMOUS)

    assert result.refused
    assert _paths(result) == [["ping"], ["p"]]


def test_the_cache_drops_the_least_recently_used_entry() -> None:
    rules = _rules(ENFORCED.apollo_supergraph)
    rules.cache_size = 2
    a, b, c = parse("{ secretNote }"), parse("{ adminReport }"), parse("{ price }")
    first_a, first_b = rules.authorize(a, None, ANONYMOUS), rules.authorize(b, None, ANONYMOUS)

    assert rules.authorize(a, None, ANONYMOUS) is first_a  # a used last now
    rules.authorize(c, None, ANONYMOUS)

    assert rules.authorize(a, None, ANONYMOUS) is first_a
    assert rules.authorize(b, None, ANONYMOUS) is not first_b


def test_the_cache_holds_4096_operations_by_default() -> None:
    rules = _rules(ENFORCED.apollo_supergraph)
    documents = [parse(f"{{ p{i}: price }}") for i in range(4097)]
    results = [rules.authorize(d, None, ANONYMOUS) for d in documents[:4096]]

    assert rules.authorize(documents[0], None, ANONYMOUS) is results[0]
    rules.authorize(documents[4096], None, ANONYMOUS)  # the oldest is now documents[1]

    assert rules.authorize(documents[0], None, ANONYMOUS) is results[0]
    assert rules.authorize(documents[1], None, ANONYMOUS) is not results[1]


def test_a_deprecated_field_is_not_taken_for_a_protected_one(rules: AccessRules) -> None:
    sdl = ENFORCED.apollo_supergraph.replace(
        "secretNote: String @join__field(graph: SHOP) @authenticated",
        'secretNote: String @join__field(graph: SHOP) @deprecated(reason: "old")',
    )
    assert sdl != ENFORCED.apollo_supergraph

    assert _authorize(_rules(sdl), "{ secretNote }", ANONYMOUS).denied == ()


@pytest.mark.parametrize("directive", ["@policy", "@requiresScopes"])
def test_a_directive_without_its_argument_lets_no_one_in(directive: str) -> None:
    sdl = ENFORCED.apollo_supergraph.replace('@policy(policies: [["org:manage"]])', directive)
    everything = Grants(True, frozenset({"org:manage"}), frozenset({"org:manage"}))

    assert _paths(_authorize(_rules(sdl), "{ audit products { id } }", everything)) == [["audit"]]


def test_a_directive_is_read_from_its_own_argument() -> None:
    sdl = ENFORCED.apollo_supergraph.replace(
        '@policy(policies: [["org:manage"]])',
        '@policy(other: [["open"]], policies: [["org:manage"]])',
    )
    opened = Grants(True, policies=frozenset({"open"}))
    managing = Grants(True, policies=frozenset({"org:manage"}))

    assert _paths(_authorize(_rules(sdl), "{ audit products { id } }", opened)) == [["audit"]]
    assert _authorize(_rules(sdl), "{ audit }", managing).denied == ()

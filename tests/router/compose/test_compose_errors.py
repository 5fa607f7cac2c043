"""Composition errors name the subgraph and coordinate at fault, and all of them are reported."""

from __future__ import annotations

from router.compose import Subgraph, compose

LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: {})\n'


def _subgraph(name: str, imports: str, body: str) -> Subgraph:
    return Subgraph(name, f"http://{name}/graphql", LINK.format(imports) + body)


def test_errors_of_every_subgraph_are_reported_with_subgraph_and_coordinate() -> None:
    result = compose(
        [
            _subgraph(
                "a",
                '["@key"]',
                'type Product @key(fields: "upc") { id: ID! }\ntype Query { product: Product }\n',
            ),
            _subgraph(
                "b",
                '["@key", "@requires"]',
                'type Order @key(fields: "id") { id: ID! total: Int @requires(fields: "x") }\n',
            ),
        ]
    )

    assert [(e.code, e.subgraph, e.coordinate) for e in result.errors] == [
        ("KEY_INVALID_FIELDS", "a", "Product"),
        ("REQUIRES_INVALID_FIELDS", "b", "Order.total"),
    ]
    assert result.supergraph_sdl is None


def test_an_error_prints_its_code_subgraph_and_coordinate() -> None:
    result = compose([_subgraph("a", '["@key"]', 'type Product @key(fields: "upc") { id: ID! }\n')])

    assert str(result.errors[0]).startswith('KEY_INVALID_FIELDS [a, Product] [a] On type "Product"')


def test_unsupported_federation_directives_are_refused_rather_than_dropped() -> None:
    result = compose(
        [_subgraph("a", '["@cacheTag"]', 'type Query { me: String @cacheTag(format: "me") }\n')]
    )

    assert [(e.code, e.subgraph) for e in result.errors] == [("UNSUPPORTED_FEATURE", "a")]


def test_syntax_errors_are_invalid_graphql() -> None:
    result = compose([Subgraph("a", "http://a/graphql", "type Query {")])

    assert [e.code for e in result.errors] == ["INVALID_GRAPHQL"]

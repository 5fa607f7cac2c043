"""The supergraph model: join metadata read from Apollo's supergraph, and the API schema."""

import pytest
from graphql import print_schema

from router.supergraph import Supergraph
from tests.router.fedfixtures.subgraphs import DATA_DIR


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph((DATA_DIR / "supergraph.graphql").read_text())


def test_subgraphs_come_from_the_join_graph_enum(supergraph: Supergraph) -> None:
    assert supergraph.subgraphs["inventory"].url == "http://inventory/graphql"
    assert sorted(supergraph.subgraphs) == [
        "accounts",
        "catalog",
        "inventory",
        "media",
        "products",
        "reviews",
    ]


def test_keys_per_subgraph_include_compound_and_unresolvable_ones(
    supergraph: Supergraph,
) -> None:
    in_products = supergraph.type_in("Product", "products")
    in_media = supergraph.type_in("Product", "media")
    assert in_products is not None
    assert in_media is not None
    assert [k.source for k in in_products.keys] == ["upc", "sku brand { id }"]
    assert [k.resolvable for k in in_media.keys] == [False]


def test_external_fields_are_not_placed_where_they_are_external(
    supergraph: Supergraph,
) -> None:
    assert list(supergraph.placements("Product", "price", frozenset())) == ["products"]
    placed = supergraph.placements("Product", "shippingEstimate", frozenset())["inventory"]
    assert placed.requires is not None
    assert placed.requires.names() == ("price", "weight")


def test_progressive_override_moves_the_field_when_its_label_is_on(
    supergraph: Supergraph,
) -> None:
    assert supergraph.override_labels == {"percent(50)"}
    assert list(supergraph.placements("Product", "description", frozenset())) == ["products"]
    on = supergraph.placements("Product", "description", frozenset({"percent(50)"}))
    assert list(on) == ["catalog"]


def test_interface_object_is_known_per_subgraph(supergraph: Supergraph) -> None:
    in_reviews = supergraph.type_in("Media", "reviews")
    assert in_reviews is not None
    assert in_reviews.is_interface_object
    assert supergraph.possible_types("Media") == {"Book", "Movie"}


def test_api_schema_hides_machinery_and_inaccessible_fields(supergraph: Supergraph) -> None:
    api = print_schema(supergraph.api_schema)
    assert "join__" not in api
    assert "link__" not in api
    assert "@link" not in api
    assert "passwordHash" not in api
    assert "_entities" not in api
    assert "_service" not in api
    assert "passwordHash" in print_schema(supergraph.schema)

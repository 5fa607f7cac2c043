"""Each fixture operation through the router: the exact response and the subgraph requests."""

from typing import Any

import httpx
import pytest

from tests.router.fedfixtures.operations import operation
from tests.router.fedfixtures.server import SubgraphServer

TABLE = {"name": "Table", "price": 899}


async def run(
    router: httpx.AsyncClient, name: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await router.post(
        "/graphql", json={"query": operation(name), "variables": variables or {}}
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_entity_chain_joins_three_subgraphs_with_one_request_each(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "entity_chain")
    ada = {"name": "Ada Lovelace", "username": "ada"}
    alan = {"name": "Alan Turing", "username": "alan"}
    assert body == {
        "data": {
            "topProducts": [
                {
                    "upc": "1",
                    "name": "Table",
                    "reviews": [
                        {"body": "Love it!", "author": ada},
                        {"body": "Prefer something else.", "author": alan},
                    ],
                },
                {
                    "upc": "2",
                    "name": "Couch",
                    "reviews": [{"body": "Too expensive.", "author": ada}],
                },
                {
                    "upc": "3",
                    "name": "Chair",
                    "reviews": [{"body": "Could be better.", "author": alan}],
                },
            ]
        }
    }
    assert subgraphs.requests == {"products": 1, "reviews": 1, "accounts": 1}


async def test_requires_fetches_required_fields_first_and_dedupes_representations(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "requires")
    assert body == {
        "data": {
            "me": {
                "name": "Ada Lovelace",
                "reviews": [
                    {
                        "body": "Love it!",
                        "product": {"name": "Table", "shippingEstimate": 50, "inStock": True},
                    },
                    {
                        "body": "Too expensive.",
                        "product": {"name": "Couch", "shippingEstimate": 0, "inStock": False},
                    },
                ],
            }
        }
    }
    assert subgraphs.requests == {"accounts": 1, "reviews": 1, "products": 1, "inventory": 2}


async def test_nested_requires_sends_the_nested_selection(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "requires_nested")
    assert body == {
        "data": {
            "topProducts": [
                {"name": "Table", "packaging": "box"},
                {"name": "Couch", "packaging": "crate"},
            ]
        }
    }
    assert subgraphs.requests == {"products": 1, "inventory": 1}


async def test_provided_fields_need_no_further_fetch(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "provides")
    ada = {"username": "ada"}
    assert body == {
        "data": {
            "topReviews": [
                {"body": "Love it!", "author": ada},
                {"body": "Too expensive.", "author": ada},
            ]
        }
    }
    assert subgraphs.requests == {"reviews": 1}


async def test_shareable_field_is_taken_from_the_subgraph_already_fetched(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "shareable")
    assert body == {
        "data": {
            "catalogItems": [
                {"name": "Table", "tagline": "A STURDY OAK TABLE", "price": 899},
                {"name": "Couch", "tagline": "A COUCH FOR FOUR", "price": 1299},
                {"name": "Chair", "tagline": "A SIMPLE CHAIR", "price": 54},
            ]
        }
    }
    assert subgraphs.requests == {"catalog": 1, "products": 1}


async def test_compound_key_is_fetched_through_a_subgraph_that_knows_it(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "compound_key")
    assert body == {
        "data": {
            "topReviews": [
                {"product": {"tagline": "A STURDY OAK TABLE", "curator": {"name": "Alan Turing"}}},
                {"product": {"tagline": "A COUCH FOR FOUR", "curator": {"name": "Ada Lovelace"}}},
            ]
        }
    }
    assert subgraphs.requests == {"reviews": 1, "products": 1, "catalog": 1, "accounts": 1}


async def test_union_members_from_other_subgraphs_are_resolved_by_key(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "union_members", {"term": ""})
    assert body == {
        "data": {
            "search": [
                {"__typename": "Book", "title": "Dune", "pages": 412},
                {"__typename": "Movie"},
                {"__typename": "Product", **TABLE},
            ]
        }
    }
    assert subgraphs.requests == {"media": 1, "products": 1}


async def test_no_entity_fetch_when_no_member_needs_one(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "union_members", {"term": "dune"})
    assert body == {"data": {"search": [{"__typename": "Book", "title": "Dune", "pages": 412}]}}
    assert subgraphs.requests == {"media": 1}


async def test_interface_object_fields_keep_the_concrete_typename(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "interface_object")
    assert body == {
        "data": {
            "media": [
                {"__typename": "Book", "title": "Dune", "rating": 5},
                {"__typename": "Movie", "title": "Arrival", "rating": 4, "minutes": 116},
            ]
        }
    }
    assert subgraphs.requests == {"media": 1, "reviews": 1}


async def test_overridden_field_comes_from_the_overriding_subgraph(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "override")
    assert body == {"data": {"me": {"name": "Ada Lovelace", "nickname": "Enchantress of Numbers"}}}
    assert subgraphs.requests == {"accounts": 1, "reviews": 1}


async def test_progressive_override_label_off_keeps_the_old_subgraph(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "override_label_off")
    assert body == {"data": {"topProducts": [{"description": "Table (from products)"}]}}
    assert subgraphs.requests == {"products": 1}


async def test_aliases_of_one_field_with_different_arguments(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "aliases")
    assert body == {
        "data": {
            "table": {"label": "Table", "cost": 899},
            "couch": {"name": "Couch", "reviews": [{"body": "Too expensive."}]},
        }
    }
    assert subgraphs.requests == {"products": 1, "reviews": 1}


async def test_variable_defaults_apply_and_only_used_variables_are_sent(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "variables", {"upc": "2"})
    assert body == {
        "data": {
            "topProducts": [{"name": "Table"}, {"name": "Couch"}],
            "product": {"name": "Couch", "inStock": False},
        }
    }
    assert subgraphs.requests == {"products": 1, "inventory": 1}


@pytest.mark.parametrize(
    ("variables", "expected", "requests"),
    [
        (
            {"withReviews": True},
            {
                "me": {"name": "Ada Lovelace"},
                "topProducts": [
                    {
                        "name": "Table",
                        "reviews": [{"body": "Love it!"}, {"body": "Prefer something else."}],
                    }
                ],
            },
            {"accounts": 1, "products": 1, "reviews": 1},
        ),
        (
            {"withReviews": False, "withMe": False},
            {"topProducts": [{"name": "Table"}]},
            {"products": 1},
        ),
    ],
)
async def test_skip_and_include_decide_which_fetches_run(
    router: httpx.AsyncClient,
    subgraphs: SubgraphServer,
    variables: dict[str, Any],
    expected: dict[str, Any],
    requests: dict[str, int],
) -> None:
    body = await run(router, "skip_include", variables)
    assert body == {"data": expected}
    assert subgraphs.requests == requests


async def test_typename_everywhere(router: httpx.AsyncClient, subgraphs: SubgraphServer) -> None:
    body = await run(router, "typename")
    review = {"__typename": "Review", "product": {"__typename": "Product", "name": "Table"}}
    couch = {"__typename": "Review", "product": {"__typename": "Product", "name": "Couch"}}
    assert body == {
        "data": {
            "__typename": "Query",
            "me": {"__typename": "User", "reviews": [review, couch]},
        }
    }
    assert subgraphs.requests == {"accounts": 1, "reviews": 1, "products": 1}


async def test_lists_of_lists_are_flattened_for_entity_fetches(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "list_of_lists")
    assert body == {
        "data": {
            "product": {
                "reviewsByStars": [
                    [{"body": "Love it!", "author": {"name": "Ada Lovelace"}}],
                    [{"body": "Prefer something else.", "author": {"name": "Alan Turing"}}],
                ]
            }
        }
    }
    assert subgraphs.requests == {"products": 1, "reviews": 1, "accounts": 1}


async def test_null_in_non_null_field_nulls_the_nearest_nullable_parent(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "nullability")
    assert body == {
        "data": {
            "topProducts": [
                {"name": "Table", "inStock": True},
                {"name": "Couch", "inStock": False},
                None,
            ]
        },
        "errors": [
            {
                "message": "Cannot return null for non-nullable field Product.inStock.",
                "path": ["topProducts", 2, "inStock"],
                "extensions": {"code": "DOWNSTREAM_SERVICE_ERROR", "serviceName": "inventory"},
            }
        ],
    }
    assert subgraphs.requests == {"products": 1, "inventory": 1}


async def test_independent_root_fields_are_fetched_in_parallel(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "parallel_roots")
    assert body == {
        "data": {
            "me": {"name": "Ada Lovelace"},
            "topProducts": [{"name": "Table"}],
            "media": [{"title": "Dune"}, {"title": "Arrival"}],
        }
    }
    assert subgraphs.requests == {"accounts": 1, "products": 1, "media": 1}


async def test_mutation_root_fields_run_in_order(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "mutation")
    assert body == {
        "data": {
            "first": {"name": "Grace"},
            "addReview": {"body": "Comfy.", "product": {"name": "Couch"}},
            "second": {"name": "A. M. Turing"},
        }
    }
    assert subgraphs.requests == {"accounts": 2, "reviews": 1, "products": 1}


async def test_deep_walk_with_fragments_and_requires_at_two_depths(
    router: httpx.AsyncClient, subgraphs: SubgraphServer
) -> None:
    body = await run(router, "deep_walk")
    table = {"name": "Table", "price": 899, "shippingEstimate": 50}
    couch = {"name": "Couch", "price": 1299, "shippingEstimate": 0}
    chair = {"name": "Chair", "price": 54, "shippingEstimate": 25}
    ada = {
        "name": "Ada Lovelace",
        "username": "ada",
        "reviews": [
            {"body": "Love it!", "product": table},
            {"body": "Too expensive.", "product": couch},
        ],
    }
    alan = {
        "name": "Alan Turing",
        "username": "alan",
        "reviews": [
            {"body": "Could be better.", "product": chair},
            {"body": "Prefer something else.", "product": table},
        ],
    }
    assert body == {
        "data": {
            "me": {
                "name": "Ada Lovelace",
                "username": "ada",
                "reviews": [
                    {"product": {**table, "reviews": [{"author": ada}, {"author": alan}]}},
                    {"product": {**couch, "reviews": [{"author": ada}]}},
                ],
            }
        }
    }
    assert subgraphs.requests == {"accounts": 2, "reviews": 1, "products": 2, "inventory": 2}

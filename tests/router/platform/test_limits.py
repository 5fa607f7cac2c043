"""Limits and protection at the router: refused with a code before any subgraph is called."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator

from tests.router.platform.conftest import RouterClient, router_client, router_config
from vetrai.settings import PlatformSettings


def _depth_query(depth: int) -> str:
    """A valid query ``depth`` fields deep: me, then organizations, members, user, ..."""
    cycle = ("organizations", "members", "user")
    fields = ["me", *(cycle[i % 3] for i in range(depth - 2))]
    last = "role" if fields[-1] == "members" else "id"
    return "{ " + " { ".join([*fields, last]) + " }" * (depth - 1) + " }"


async def test_forty_levels_deep_is_max_depth_exceeded(router: RouterClient) -> None:
    response = await router.post(_depth_query(40))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "MAX_DEPTH_EXCEEDED"
    shallow = await router.post(_depth_query(6))
    assert shallow.status_code == 200


async def test_aliases_and_root_fields_limits(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    config = router_config(max_aliases=2, max_root_fields=2)
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as strict:
        aliases = await strict.post("{ a: me { id } b: me { id } c: me { id } }")
        assert aliases.json()["errors"][0]["extensions"]["code"] == "MAX_ALIASES_EXCEEDED"
        roots = await strict.post("{ me { id } currentOrganization { id } __typename }")
        assert roots.json()["errors"][0]["extensions"]["code"] == "MAX_ROOT_FIELDS_EXCEEDED"
        cheap = await strict.post("{ me { id } }")
        assert cheap.json() == {"data": {"me": None}}


async def test_csrf_prevention_refuses_simple_requests(router: RouterClient) -> None:
    simple_get = await router.client.get("/graphql", params={"query": "{ me { id } }"})
    assert simple_get.status_code == 400
    assert simple_get.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTION"
    text_post = await router.client.post(
        "/graphql", content='{"query": "{ me { id } }"}', headers={"content-type": "text/plain"}
    )
    assert text_post.status_code == 400
    preflighted = await router.client.get(
        "/graphql", params={"query": "{ me { id } }"}, headers={"apollo-require-preflight": "1"}
    )
    assert preflighted.json() == {"data": {"me": None}}


async def test_body_and_batch_limits(router: RouterClient) -> None:
    huge = await router.client.post(
        "/graphql", json={"query": "{ me { id } }", "pad": "x" * 1_100_000}
    )
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    batch = await router.client.post(
        "/graphql", json=[{"query": "{ me { id } }"}, {"query": "{ __typename }"}]
    )
    assert batch.json() == [{"data": {"me": None}}, {"data": {"__typename": "Query"}}]
    too_many = await router.client.post("/graphql", json=[{"query": "{ __typename }"}] * 11)
    assert too_many.json()["errors"][0]["extensions"]["code"] == "BATCH_LIMIT_EXCEEDED"


async def test_automatic_persisted_queries(router: RouterClient) -> None:
    query = f"query Apq{secrets.token_hex(4)} {{ __typename }}"
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    miss = await router.client.post("/graphql", json={"extensions": extensions})
    # As Apollo's protocol has it: a miss is no failure, the client sends the query next.
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await router.client.post(
        "/graphql", json={"query": query, "extensions": extensions}
    )
    assert registered.json() == {"data": {"__typename": "Query"}}
    hit = await router.client.post("/graphql", json={"extensions": extensions})
    assert hit.json() == {"data": {"__typename": "Query"}}
    wrong = await router.client.post(
        "/graphql",
        json={"query": "{ me { id } }", "extensions": extensions},
    )
    assert wrong.json()["errors"][0]["extensions"]["code"] == "INVALID_SHA256_HASH"


async def test_introspection_can_be_turned_off(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    config = router_config()
    config = config.model_copy(
        update={"protection": config.protection.model_copy(update={"introspection": False})}
    )
    async with router_client(settings, supergraph_sdl, subgraph_urls, config) as closed:
        refused = await closed.post("{ __schema { queryType { name } } }")
        assert refused.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        assert (await closed.post("{ __typename }")).status_code == 200


async def test_development_answers_report_estimated_and_actual_cost(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    development = settings.replace(environment="development")
    async with router_client(development, supergraph_sdl, subgraph_urls, router_config()) as dev:
        answer = (await dev.post("{ me { id } }")).json()
    # me: an object (1) and one fetch (10); anonymous, so no object came back
    assert answer == {"data": {"me": None}, "extensions": {"cost": {"estimated": 11, "actual": 10}}}


async def test_other_environments_answer_without_cost(router: RouterClient) -> None:
    assert (await router.post("{ me { id } }")).json() == {"data": {"me": None}}


def _body_of(size: int) -> bytes:
    """A JSON body of exactly ``size`` bytes holding one small query."""
    start, end = b'{"query": "{ __typename }", "pad": "', b'"}'
    return start + b"x" * (size - len(start) - len(end)) + end


async def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(
    router: RouterClient,
) -> None:
    limit = router_config().limits.max_body_bytes
    json = {"content-type": "application/json"}
    at_limit = await router.client.post("/graphql", content=_body_of(limit), headers=json)
    assert at_limit.json() == {"data": {"__typename": "Query"}}
    beyond = await router.client.post("/graphql", content=_body_of(limit + 1), headers=json)
    assert beyond.status_code == 413

    async def streamed() -> AsyncIterator[bytes]:
        # Sent in chunks without a content-length: counted as it arrives.
        body = _body_of(limit + 1)
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    chunked = await router.client.post("/graphql", content=streamed(), headers=json)
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413
    assert chunked.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"


async def test_a_batch_of_exactly_the_limit_is_answered_and_an_empty_one_is_refused(
    router: RouterClient,
) -> None:
    limit = router_config().limits.max_batch
    full = await router.client.post("/graphql", json=[{"query": "{ __typename }"}] * limit)
    assert full.json() == [{"data": {"__typename": "Query"}}] * limit
    empty = await router.client.post("/graphql", json=[])
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["extensions"]["code"] == "BATCH_LIMIT_EXCEEDED"

"""The platform's @authenticated, @requiresScopes and @policy, enforced by the router with real
users and API keys: every annotated root field refused to a caller lacking what it needs (over
HTTP and WebSocket, the list read from the composed supergraph), removed nested fields null at
their paths, role policies decided from the signed caller."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_named_type,
    is_composite_type,
    parse,
)
from graphql.pyutils import Undefined
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect

from core.scopes import SCOPES
from router.authorization import FEATURE, AccessRules, Requirement
from router.policy import POLICIES
from router.supergraph import Supergraph
from subgraphs.billing.plans import catalogue
from tests.router.platform.builders import invited_member
from tests.router.platform.conftest import RouterClient

UNAUTHORIZED = "UNAUTHORIZED_FIELD_OR_TYPE"
SDL = (Path(__file__).parents[3] / "schema" / "supergraph.graphql").read_text()
SCHEMA = Supergraph(SDL)
RULES = AccessRules.of(parse(SDL), SCHEMA.api_schema)
ROOTS = {
    kind: root
    for kind, root in (
        ("query", SCHEMA.api_schema.query_type),
        ("mutation", SCHEMA.api_schema.mutation_type),
        ("subscription", SCHEMA.api_schema.subscription_type),
    )
    if root is not None
}
ANNOTATED = sorted(
    (kind, name)
    for kind, root in ROOTS.items()
    for name in root.fields
    if RULES.field_requirement(root.name, name) != Requirement()
)
MEMBERS_NOT_KNOWN_YET = {"code": "INVALID_INPUT", "message": "Notify 1 to 1000 members at once."}
UNRELATED_SCOPE = "themes:read"  # held by the key below, needed by no root field


def _literal(type_: GraphQLInputType) -> str:
    """A value of ``type_`` that passes validation: what authorization is checked on."""
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return "[]"
    if isinstance(type_, GraphQLEnumType):
        return str(next(iter(type_.values)))
    if isinstance(type_, GraphQLInputObjectType):
        required = [
            f"{name}: {_literal(f.type)}"
            for name, f in type_.fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
        ]
        return "{" + ", ".join(required) + "}"
    return {"Int": "1", "Float": "1.5", "Boolean": "true"}.get(type_.name, '"x"')


def _required(field: GraphQLField) -> str:
    arguments = [
        f"{name}: {_literal(a.type)}"
        for name, a in field.args.items()
        if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined
    ]
    return f"({', '.join(arguments)})" if arguments else ""


def operation_of(kind: str, name: str) -> str:
    """The smallest valid operation selecting the root field ``name``."""
    root: GraphQLObjectType = ROOTS[kind]
    field = root.fields[name]
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    return f"{kind} {{ {name}{_required(field)}{selection} }}"


def refused(path: list[str]) -> dict[str, Any]:
    return {
        "message": "Unauthorized field or type",
        "path": path,
        "extensions": {"code": UNAUTHORIZED},
    }


def _named(headers: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in headers.items()}


async def over_http(router: RouterClient, kind: str, query: str, **headers: str) -> Any:
    accept = "multipart/mixed" if kind == "subscription" else "application/json"
    response = await router.client.post(
        "/graphql", json={"query": query}, headers={"accept": accept, **_named(headers)}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def over_websocket(router: RouterClient, query: str, **headers: str) -> dict[str, Any]:
    """The first answer to ``query`` on a graphql-transport-ws connection: ``next`` or ``error``."""
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": _named(headers)}
        await ws.send(orjson.dumps(init).decode())
        assert orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        subscribe = {"type": "subscribe", "id": "1", "payload": {"query": query}}
        await ws.send(orjson.dumps(subscribe).decode())
        while True:
            message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] != "ping":
                return message


async def new_key(router: RouterClient, token: str, org: str, scopes: list[str]) -> str:
    created = await router.data(
        """mutation($org: ID!, $scopes: [String!]!) { createApiKey(input: {organizationId: $org,
        name: "ci", scopes: $scopes, rateLimit: {limit: 1000, windowSeconds: 60}})
        { secret errors { code message } } }""",
        {"org": org, "scopes": scopes},
        authorization=f"Bearer {token}",
    )
    assert created["createApiKey"]["errors"] == [], created
    secret: str = created["createApiKey"]["secret"]
    return secret


@pytest.fixture(scope="module")
async def owner(router: RouterClient) -> tuple[str, str]:
    """An organization on the team plan: the module's many requests and keys fit in it."""
    token, org = await router.owner_of_new_organization()
    await router.subscribe(token, org, "team")
    return token, org


@pytest.fixture(scope="module")
async def unrelated_key(router: RouterClient, owner: tuple[str, str]) -> str:
    token, org = owner
    return await new_key(router, token, org, [UNRELATED_SCOPE])


def test_the_supergraph_annotates_every_mutation_that_needs_a_caller() -> None:
    public = {"signUp", "logIn", "refreshTokens", "logOut", "verifyEmail"}
    public |= {"requestPasswordReset", "resetPassword"}
    public |= {"rateTicket"}  # its single-use token is the authority, as a reset link is
    mutations = set(ROOTS["mutation"].fields)

    assert {name for kind, name in ANNOTATED if kind == "mutation"} == mutations - public


def test_every_scope_and_policy_the_supergraph_names_is_known_to_the_router() -> None:
    requirements = [*RULES.fields.values(), *RULES.types.values()]
    named_scopes = {s for r in requirements for a in r.scopes for group in a for s in group}

    assert named_scopes
    assert named_scopes <= SCOPES
    features = {FEATURE + f.key for plan in catalogue().plans for f in plan.features}
    assert RULES.policy_names
    assert RULES.policy_names <= set(POLICIES) | features
    assert not any(UNRELATED_SCOPE in group for r in requirements for a in r.scopes for group in a)


@pytest.mark.parametrize(("kind", "name"), ANNOTATED)
async def test_annotated_root_field_is_refused_to_an_anonymous_caller_and_a_key_lacking_it(
    router: RouterClient, unrelated_key: str, kind: str, name: str
) -> None:
    query = operation_of(kind, name)

    for headers in ({}, {"x-api-key": unrelated_key}):
        http = await over_http(router, kind, query, **headers)
        websocket = await over_websocket(router, query, **headers)

        assert http == {"data": {}, "errors": [refused([name])]}, headers
        assert websocket == {"type": "error", "id": "1", "payload": [refused([name])]}, headers


async def test_key_with_notifications_read_is_refused_the_organization(
    router: RouterClient, owner: tuple[str, str]
) -> None:
    secret = await new_key(router, *owner, ["notifications:read"])

    body = await over_http(
        router, "query", "{ currentOrganization { name slug plan settings } }", x_api_key=secret
    )

    assert body == {"data": {}, "errors": [refused(["currentOrganization"])]}


async def test_removed_nested_field_answers_null_at_its_path_over_http_and_websocket(
    router: RouterClient, owner: tuple[str, str]
) -> None:
    token, org = owner
    secret = await new_key(router, token, org, ["organization:read"])
    query = "query { currentOrganization { id members { role } } }"
    expected = {
        "data": {"currentOrganization": {"id": org, "members": None}},
        "errors": [refused(["currentOrganization", "members"])],
    }

    http = await over_http(router, "query", query, x_api_key=secret)
    websocket = await over_websocket(router, query, x_api_key=secret)
    owners = await router.data(query, authorization=f"Bearer {token}")

    assert http == expected
    assert websocket == {"type": "next", "id": "1", "payload": expected}
    assert owners == {"currentOrganization": {"id": org, "members": [{"role": "OWNER"}]}}


async def test_key_with_notifications_write_sends_a_notification(
    router: RouterClient, worker: None, owner: tuple[str, str]
) -> None:
    token, org = owner
    secret = await new_key(router, token, org, ["notifications:write"])
    send = """mutation($org: ID!) { sendNotification(input: {organizationId: $org,
      category: "announcement", channels: [IN_APP], idempotencyKey: "k1", title: "Hello",
      body: "All"}) { notifications { title } errors { code message } } }"""

    deadline = asyncio.get_running_loop().time() + 30
    # Notifications learn the organization's members from tenancy's announcement, just after.
    while True:
        sent = await router.data(send, {"org": org}, x_api_key=secret)
        waiting = sent["sendNotification"]["errors"][:1] == [MEMBERS_NOT_KNOWN_YET]
        if not waiting or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)

    assert sent == {"sendNotification": {"notifications": [{"title": "Hello"}], "errors": []}}


async def member_of(router: RouterClient, owner_engine: AsyncEngine, token: str, org: str) -> str:
    """The access token of a new plain member of ``org``."""
    return (await invited_member(router, owner_engine, token, org))[1]


async def test_policy_fields_are_refused_to_a_plain_member_and_answered_to_the_owner(
    router: RouterClient, owner_engine: AsyncEngine, worker: None
) -> None:
    token, org = await router.owner_of_new_organization()  # its own: a member joins it
    member = await member_of(router, owner_engine, token, org)
    as_member = {"authorization": f"Bearer {member}", "x-organization-id": org}
    preview = """{ previewTemplate(input: {key: "invitation", channel: EMAIL}) {
      preview { subject } errors { code } } }"""
    keys = "{ currentOrganization { id apiKeys { name } } }"

    templates = await over_http(router, "query", preview, **as_member)
    nested = await over_http(router, "query", keys, **as_member)
    owners = await router.data(preview, authorization=f"Bearer {token}")

    assert templates == {"data": {}, "errors": [refused(["previewTemplate"])]}
    assert nested == {
        "data": {"currentOrganization": {"id": org, "apiKeys": None}},
        "errors": [refused(["currentOrganization", "apiKeys"])],
    }
    assert owners["previewTemplate"]["errors"] == []


async def test_callers_with_different_grants_never_share_a_pruned_plan(
    router: RouterClient, owner: tuple[str, str]
) -> None:
    token, org = owner
    reader = await new_key(router, token, org, ["organization:read"])
    lister = await new_key(router, token, org, ["organization:read", "members:read"])
    query = "query { currentOrganization { id members { role } invitations { id } } }"

    first = await over_http(router, "query", query, x_api_key=reader)
    second = await over_http(router, "query", query, x_api_key=lister)
    again = await over_http(router, "query", query, x_api_key=reader)

    assert first == again
    assert first == {
        "data": {"currentOrganization": {"id": org, "members": None, "invitations": None}},
        "errors": [
            refused(["currentOrganization", "members"]),
            refused(["currentOrganization", "invitations"]),
        ],
    }
    assert second == {
        "data": {
            "currentOrganization": {"id": org, "members": [{"role": "OWNER"}], "invitations": None}
        },
        "errors": [refused(["currentOrganization", "invitations"])],
    }


async def test_a_refused_operation_spends_the_rate_limit_and_counts_as_rejected(
    router: RouterClient, owner: tuple[str, str]
) -> None:
    token, org = owner
    created = await router.data(
        """mutation($org: ID!) { createApiKey(input: {organizationId: $org, name: "ci",
        scopes: ["tickets:read"], rateLimit: {limit: 10, windowSeconds: 60}})
        { apiKey { id } secret } }""",
        {"org": org},
        authorization=f"Bearer {token}",
    )
    key = created["createApiKey"]

    answers = [
        await router.post("{ currentOrganization { id } }", x_api_key=key["secret"])
        for _ in range(2)
    ]
    usage = await router.data(
        """query($id: ID!, $day: Date!) { apiKey(id: $id) {
        usage(from: $day, to: $day) { requests rejected } } }""",
        {"id": key["apiKey"]["id"], "day": str(date.today())},
        authorization=f"Bearer {token}",
    )

    assert [a.headers["ratelimit-remaining"] for a in answers] == ["9", "8"]
    assert all(a.json()["errors"] == [refused(["currentOrganization"])] for a in answers)
    assert usage["apiKey"]["usage"] == [{"requests": 2, "rejected": 2}]

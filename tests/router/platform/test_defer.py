"""`@defer` through the router over HTTP: multipart payloads (deferSpec=20220824) for a client
that accepts them, the whole answer at once for one that does not."""

from __future__ import annotations

from typing import Any

from tests.router.multipart import multipart_parts
from tests.router.platform.builders import new_key
from tests.router.platform.conftest import RouterClient

DEFER_ACCEPT = "multipart/mixed;deferSpec=20220824, application/json"
INBOX = """query Inbox($later: Boolean!) { me { name ... @defer(label: "inbox", if: $later) {
  notifications(first: 5) { totalCount unreadCount } email } } }"""


PEOPLE = """{ currentOrganization { id ... @defer(label: "people") { name members { role } } } }"""


async def _parts(
    router: RouterClient,
    token: str,
    accept: str,
    variables: dict[str, Any],
    query: str = INBOX,
    credentials: str = "authorization",
) -> tuple[str, list[dict[str, Any]]]:
    secret = f"Bearer {token}" if credentials == "authorization" else token
    headers = {credentials: secret, "accept": accept}
    body = {"query": query, "variables": variables}
    response = await router.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    kind = response.headers["content-type"]
    if not kind.startswith("multipart/mixed"):
        return kind, [response.json()]
    return kind, multipart_parts(response.content)


async def test_deferred_fragment_comes_in_a_later_part(router: RouterClient) -> None:
    _, token = await router.sign_up()

    kind, parts = await _parts(router, token, DEFER_ACCEPT, {"later": True})

    assert kind == 'multipart/mixed; boundary="graphql"; deferSpec=20220824'
    assert parts[0] == {"data": {"me": {"name": "Test"}}, "hasNext": True}
    [item] = parts[1]["incremental"]
    assert item["path"] == ["me"]
    assert item["label"] == "inbox"
    assert item["data"]["notifications"] == {"totalCount": 0, "unreadCount": 0}
    assert item["data"]["email"].endswith("@example.com")
    assert parts[1]["hasNext"] is False


async def test_defer_if_false_answers_in_the_first_part(router: RouterClient) -> None:
    _, token = await router.sign_up()

    _, parts = await _parts(router, token, DEFER_ACCEPT, {"later": False})

    [only] = parts
    assert only["hasNext"] is False
    assert only["data"]["me"]["notifications"] == {"totalCount": 0, "unreadCount": 0}


async def test_client_without_multipart_gets_the_whole_answer(router: RouterClient) -> None:
    _, token = await router.sign_up()

    kind, [answer] = await _parts(router, token, "application/json", {"later": True})

    assert kind.startswith("application/json")
    assert answer["data"]["me"]["name"] == "Test"
    assert answer["data"]["me"]["notifications"] == {"totalCount": 0, "unreadCount": 0}
    assert "hasNext" not in answer


async def test_subscription_multipart_accept_does_not_defer(router: RouterClient) -> None:
    _, token = await router.sign_up()

    accept = 'multipart/mixed;subscriptionSpec="1.0", application/json'
    kind, [answer] = await _parts(router, token, accept, {"later": True})

    assert kind.startswith("application/json")
    assert answer["data"]["me"]["notifications"]["totalCount"] == 0


async def test_field_authorization_removes_is_null_with_its_error_in_the_deferred_part(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    secret = (await new_key(router, token, org))["secret"]  # organization:read, no members:read

    _, parts = await _parts(router, secret, DEFER_ACCEPT, {}, PEOPLE, "x-api-key")
    _, [whole] = await _parts(router, secret, "application/json", {}, PEOPLE, "x-api-key")

    assert parts[0] == {"data": {"currentOrganization": {"id": org}}, "hasNext": True}
    [item] = parts[1]["incremental"]
    assert item["path"] == ["currentOrganization"]
    assert item["data"] == {"name": whole["data"]["currentOrganization"]["name"], "members": None}
    assert item["errors"] == whole["errors"]
    assert whole["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    assert parts[1]["hasNext"] is False


async def test_mutation_runs_first_and_its_deferred_fields_come_after(
    router: RouterClient,
) -> None:
    _, token = await router.sign_up()
    rename = """mutation { updateProfile(input: {name: "Renamed"}) { user { name
      ... @defer(label: "inbox") { notifications(first: 5) { totalCount } } } errors { code } } }"""

    _, parts = await _parts(router, token, DEFER_ACCEPT, {}, rename)

    assert parts[0] == {
        "data": {"updateProfile": {"user": {"name": "Renamed"}, "errors": []}},
        "hasNext": True,
    }
    [item] = parts[1]["incremental"]
    assert item["path"] == ["updateProfile", "user"]
    assert item["data"] == {"notifications": {"totalCount": 0}}
    assert parts[1]["hasNext"] is False

"""schemathesis's GraphQL fuzzing through the router over the whole API schema, with a valid
JWT and with an API key: no 5xx and no unmasked internal error. The suite runs a bounded number
of examples; `VETRAI_FUZZ_EXAMPLES=500 pytest tests/e2e/test_fuzz.py` runs a longer campaign."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from graphql import ObjectValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from tests.e2e.conftest import ROUTER, Platform, run_query

EXAMPLES = int(os.environ.get("VETRAI_FUZZ_EXAMPLES", "3"))
# Required JSON arguments (a workflow's input) get an empty object.
schemathesis.graphql.scalar("JSON", st.just(ObjectValueNode(fields=())))


def _credentials() -> dict[str, dict[str, str]]:
    signed_up = run_query(
        ROUTER,
        """mutation { signUp(input: {email: "fuzz@example.com", password: "correct horse battery",
        name: "Fuzz"}) { tokens { accessToken } errors { code } } }""",
    )["signUp"]
    if signed_up["tokens"] is None:
        signed_up = run_query(
            ROUTER,
            """mutation { logIn(input: {email: "fuzz@example.com",
            password: "correct horse battery"}) { tokens { accessToken } } }""",
        )["logIn"]
    bearer = {"authorization": f"Bearer {signed_up['tokens']['accessToken']}"}
    org = (
        run_query(
            ROUTER,
            'mutation { createOrganization(input: {name: "Fuzz", slug: "fuzz-org"})'
            " { organization { id } } }",
            bearer,
        )["createOrganization"]["organization"]
        or run_query(ROUTER, "{ currentOrganization { id } }", bearer)["currentOrganization"]
    )
    key = run_query(
        ROUTER,
        f'mutation {{ createApiKey(input: {{organizationId: "{org["id"]}", name: "fuzz",'
        ' scopes: ["tickets:read", "members:read"],'
        " rateLimit: {limit: 100000, windowSeconds: 60}}) { secret errors { code } } }",
        bearer,
    )["createApiKey"]["secret"]
    return {"jwt": bearer, "api key": {"x-api-key": key}}


@pytest.fixture(scope="module")
def credentials(platform: Platform) -> dict[str, dict[str, str]]:
    return _credentials()


def _check(case: Any, headers: dict[str, str]) -> None:
    response = case.call(headers={**headers, "content-type": "application/json"})
    assert response.status_code < 500, response.text
    body = response.json()
    for error in body.get("errors", []) if isinstance(body, dict) else []:
        assert "Traceback" not in error["message"]
        code = error.get("extensions", {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", error


def _fuzzer(operation: Any, headers: dict[str, str]) -> Any:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def fuzz(case: Any) -> None:
        _check(case, headers)

    return fuzz


def test_every_root_field_fuzzed_with_a_jwt_and_with_an_api_key(
    credentials: dict[str, dict[str, str]],
) -> None:
    schema = schemathesis.graphql.from_url(ROUTER)
    fuzzed = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        for headers in credentials.values():
            _fuzzer(result.ok(), headers)()
            fuzzed += 1
    assert fuzzed >= 2 * 30

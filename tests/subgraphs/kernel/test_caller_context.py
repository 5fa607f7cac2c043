"""Subgraphs accept identity only from a fresh, genuine, unused context signed for them."""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import replace
from uuid import UUID, uuid4

import orjson
import pytest
import strawberry
from starlette.types import Message

from core.caller import Caller
from core.caller_context import (
    HEADER,
    InvalidContext,
    caller_claims,
    read_caller,
    sign_caller,
    sign_claims,
)
from subgraphs.kernel.schema import federated_schema
from tests.conftest import SignedClient, unique_email
from tests.subgraphs.auth.builders import sign_up
from vetrai.platform import domain
from vetrai.settings import PlatformSettings

ME = {"query": "{ me { id } }"}
ENTITIES = {
    "query": "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id email } } }"
}


async def _me(auth: SignedClient, header: str) -> tuple[int, dict[str, object]]:
    response = await auth.client.post("/graphql", json=ME, headers={HEADER: header})
    return response.status_code, response.json()


async def test_signed_context_identifies_the_caller(auth: SignedClient) -> None:
    user = (await sign_up(auth, unique_email()))["user"]
    caller = Caller(user_id=uuid4())
    assert (await auth.run("{ me { id } }", caller=caller))["me"] is None
    me = await auth.run("{ me { id } }", caller=Caller(user_id=user["id"]))
    assert me["me"] == {"id": user["id"]}


async def test_context_with_malformed_claims_is_rejected(auth: SignedClient) -> None:
    header = sign_caller(Caller(user_id="not-a-uuid"), audience="auth", key=auth.key)  # type: ignore[arg-type]
    assert (await _me(auth, header))[0] == 401


async def test_forged_context_is_rejected(auth: SignedClient) -> None:
    header = sign_caller(Caller(user_id=uuid4()), audience="auth", key=b"not-the-key" * 4)
    status, body = await _me(auth, header)
    assert status == 401
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}  # type: ignore[index]


async def test_expired_context_is_rejected(auth: SignedClient) -> None:
    header = sign_caller(Caller(user_id=uuid4()), audience="auth", key=auth.key, ttl=-10)
    assert (await _me(auth, header))[0] == 401


async def test_context_for_another_subgraph_is_rejected(auth: SignedClient) -> None:
    header = sign_caller(Caller(user_id=uuid4()), audience="tenancy", key=auth.key)
    assert (await _me(auth, header))[0] == 401


async def test_replayed_context_is_rejected(auth: SignedClient) -> None:
    header = sign_caller(Caller(user_id=uuid4()), audience="auth", key=auth.key)
    assert (await _me(auth, header))[0] == 200
    status, body = await _me(auth, header)
    assert status == 401
    assert "already used" in body["errors"][0]["message"]  # type: ignore[index]


def test_tampered_claims_fail_the_signature() -> None:
    key = b"k" * 32
    version, body, mac = sign_caller(Caller(user_id=uuid4()), audience="a", key=key).split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["roles"] = ["owner"]
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    with pytest.raises(InvalidContext, match="signature is invalid"):
        read_caller(f"{version}.{forged}.{mac}", audience="a", key=key)
    with pytest.raises(InvalidContext, match="signature is invalid"):
        read_caller(f"v2.{body}.{mac}", audience="a", key=key)
    with pytest.raises(InvalidContext):
        read_caller("garbage", audience="a", key=key)
    _caller, _, expires = read_caller(f"{version}.{body}.{mac}", audience="a", key=key)
    assert expires > time.time()


async def test_entities_need_a_caller(auth: SignedClient) -> None:
    user = (await sign_up(auth, unique_email()))["user"]
    variables = {"r": [{"__typename": "User", "id": user["id"]}]}
    anonymous = await auth.run(ENTITIES["query"], variables)
    assert anonymous["_entities"] == [None]
    signed = await auth.run(ENTITIES["query"], variables, Caller(user_id=UUID(user["id"])))
    assert signed["_entities"] == [{"id": user["id"], "email": user["email"]}]


async def test_health_metrics_and_request_id(auth: SignedClient) -> None:
    health = await auth.client.get("/health", headers={"x-request-id": "abc123"})
    assert health.json() == {"status": "ok", "service": "auth"}
    assert health.headers["x-request-id"] == "abc123"
    metrics = (await auth.client.get("/metrics")).text
    assert 'vetrai_http_requests_total{path="/health",service="auth",status="200"}' in metrics


async def test_unexpected_errors_are_masked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def broken(self) -> str:
            raise RuntimeError("database password is hunter2")

    result = await federated_schema(Query).execute("{ broken }")
    assert result.errors is not None
    error = result.errors[0].formatted
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" in caplog.text


async def test_validation_errors_are_not_masked(auth: SignedClient) -> None:
    bad = await auth.client.post("/graphql", json={"query": "{ nope }"})
    assert bad.json()["errors"][0]["message"].startswith("Cannot query field 'nope'")


KEY = b"k" * 32


def test_the_plan_and_its_limits_travel_in_the_context() -> None:
    caller = Caller(
        org_id=uuid4(), plan="pro", limits={"api_keys": 25, "white_label": False, "seats": True}
    )
    read, _, _ = read_caller(
        sign_caller(caller, audience="keys", key=KEY), audience="keys", key=KEY
    )
    assert (read.plan, dict(read.limits)) == ("pro", dict(caller.limits))
    assert (read.limit("api_keys", 3), read.limit("white_label"), read.limit("seats")) == (
        25,
        0,
        None,
    )
    assert read.limit("concurrent_jobs", 3) == 3  # not in the plan: the caller's default
    assert (read.entitled("api_keys"), read.entitled("white_label")) == (True, False)


EVERYTHING = Caller(
    user_id=uuid4(),
    org_id=uuid4(),
    roles=frozenset({"admin", "member"}),
    scopes=frozenset({"tickets:read", "keys:write"}),
    key_id=uuid4(),
    session_id=uuid4(),
    client_ip="203.0.113.7",
    plan="pro",
    limits={"api_keys": 25},
    email="ada@example.com",
    email_verified=True,
)


def _claims_of(header: str) -> dict[str, object]:
    body = header.split(".")[1]
    claims: dict[str, object] = orjson.loads(
        base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    )
    return claims


def test_a_context_carries_every_claim_of_its_caller() -> None:
    header = sign_caller(EVERYTHING, audience="tenancy", key=KEY, ttl=30)
    read, jti, expires = read_caller(header, audience="tenancy", key=KEY)
    assert read == EVERYTHING
    claims = _claims_of(header)
    assert (claims["jti"], claims["exp"]) == (jti, expires)
    assert claims["exp"] == claims["iat"] + 30  # type: ignore[operator]
    assert abs(expires - 30 - time.time()) < 5
    assert read_caller(sign_caller(Caller(), audience="a", key=KEY), audience="a", key=KEY)[0] == (
        Caller()
    )


def test_one_requests_claims_are_signed_per_subgraph_each_with_a_fresh_jti() -> None:
    claims = caller_claims(EVERYTHING)
    before = dict(claims)
    first, second, other = (
        sign_claims(claims, audience=service, key=KEY) for service in ("keys", "keys", "auth")
    )
    assert claims == before  # shared by every subgraph request, never changed by one
    read = [read_caller(h, audience=a, key=KEY) for h, a in ((first, "keys"), (second, "keys"))]
    assert [caller for caller, _, _ in read] == [EVERYTHING, EVERYTHING]
    assert read[0][1] != read[1][1]
    assert read_caller(other, audience="auth", key=KEY)[0] == EVERYTHING
    with pytest.raises(InvalidContext, match="another service"):
        read_caller(other, audience="keys", key=KEY)
    assert _claims_of(first)["aud"] == "keys"


def test_an_address_is_verified_only_when_the_claim_says_true() -> None:
    unverified = replace(EVERYTHING, email_verified=False)
    read, _, _ = read_caller(sign_caller(unverified, audience="a", key=KEY), audience="a", key=KEY)
    assert (read.email, read.email_verified) == ("ada@example.com", False)
    for claimed in ("true", 1, None):
        header = _resigned(EVERYTHING, ev=claimed)
        assert read_caller(header, audience="a", key=KEY)[0].email_verified is False
    with pytest.raises(InvalidContext, match="malformed"):
        read_caller(_resigned(EVERYTHING, email=["ada@example.com"]), audience="a", key=KEY)
    assert read_caller(_resigned(EVERYTHING, email=None), audience="a", key=KEY)[0].email is None


def _resigned(caller: Caller, **changes: object) -> str:
    """A genuine context for ``caller`` with some claims changed before signing."""
    return sign_claims({**caller_claims(caller), **changes}, audience="a", key=KEY)


def test_a_context_without_a_plan_reads_as_one_with_no_limits() -> None:
    header = sign_caller(Caller(org_id=uuid4()), audience="keys", key=KEY)
    claims = orjson.loads(base64.urlsafe_b64decode(header.split(".")[1] + "=="))
    assert "plan" not in claims  # what a router before plans signed
    assert "lim" not in claims
    read, _, _ = read_caller(header, audience="keys", key=KEY)
    assert (read.plan, dict(read.limits), read.limit("api_keys", 25)) == (None, {}, 25)


async def test_a_caller_gone_before_its_request_was_read_is_no_error(
    settings: PlatformSettings,
) -> None:
    app = domain("auth").create_app(settings)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"20")],
        "query_string": b"",
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    finally:
        await app.state.runtime.db.close()
        await app.state.runtime.redis.aclose()
    assert sent == []  # nobody to answer, and nothing raised to the server


def test_a_context_lives_a_minute_by_default_under_a_jti_of_128_bits() -> None:
    for header in (
        sign_caller(EVERYTHING, audience="a", key=KEY),
        sign_claims(caller_claims(EVERYTHING), audience="a", key=KEY),
    ):
        claims = _claims_of(header)
        assert claims["exp"] == claims["iat"] + 60  # type: ignore[operator]
        assert len(base64.urlsafe_b64decode(f"{claims['jti']}==")) == 16


@pytest.mark.parametrize("limits", [["api_keys"], {"api_keys": "many"}, {"seats": None}])
def test_plan_limits_that_are_not_numbers_or_booleans_are_malformed(limits: object) -> None:
    with pytest.raises(InvalidContext, match="malformed"):
        read_caller(_resigned(EVERYTHING, lim=limits), audience="a", key=KEY)


def _issued_at(iat: int) -> str:
    """A genuine context whose ``iat`` is ``iat``, signed with the key."""
    claims = {**_claims_of(sign_caller(EVERYTHING, audience="a", key=KEY)), "iat": iat}
    body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    mac = hmac.digest(KEY, body.encode(), "sha256")
    return f"v1.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_a_context_issued_up_to_five_seconds_ahead_is_accepted_and_no_further() -> None:
    now = int(time.time())
    assert read_caller(_issued_at(now + 5), audience="a", key=KEY)[0] == EVERYTHING
    with pytest.raises(InvalidContext, match="expired"):
        read_caller(_issued_at(now + 6), audience="a", key=KEY)

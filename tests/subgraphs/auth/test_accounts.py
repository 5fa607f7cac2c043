"""Sign up, log in, tokens and sessions through the auth subgraph's GraphQL API."""

from __future__ import annotations

from uuid import UUID

from core.caller import Caller
from tests.conftest import SignedClient, unique_email
from tests.subgraphs.auth.builders import LOG_IN, PASSWORD, REFRESH, sign_up


async def test_sign_up_returns_user_and_tokens(auth: SignedClient) -> None:
    email = unique_email("ada")
    result = await sign_up(auth, email.upper())
    assert result["errors"] == []
    assert result["user"]["email"] == email
    assert result["user"]["name"] == "Ada"
    assert result["tokens"]["accessToken"].count(".") == 2
    assert len(result["tokens"]["refreshToken"]) >= 43


async def test_second_sign_up_with_same_email_is_email_taken(auth: SignedClient) -> None:
    email = unique_email()
    await sign_up(auth, email)
    result = await sign_up(auth, email, name="Other")
    assert result["user"] is None
    assert result["tokens"] is None
    assert [e["code"] for e in result["errors"]] == ["EMAIL_TAKEN"]
    logged_in = await auth.run(LOG_IN, {"email": email, "password": PASSWORD})
    assert logged_in["logIn"]["errors"] == []


async def test_wrong_password_is_invalid_credentials(auth: SignedClient) -> None:
    email = unique_email()
    await sign_up(auth, email)
    result = await auth.run(LOG_IN, {"email": email, "password": "wrong horse battery"})
    assert result["logIn"]["tokens"] is None
    assert [e["code"] for e in result["logIn"]["errors"]] == ["INVALID_CREDENTIALS"]
    unknown = await auth.run(LOG_IN, {"email": unique_email(), "password": PASSWORD})
    assert [e["code"] for e in unknown["logIn"]["errors"]] == ["INVALID_CREDENTIALS"]


async def test_weak_password_names_the_field_and_creates_nothing(auth: SignedClient) -> None:
    email = unique_email()
    for weak in ("short", "aaaaaaaaaaaa", "x" * 129):
        result = await sign_up(auth, email, password=weak)
        assert [(e["code"], e["field"]) for e in result["errors"]] == [
            ("WEAK_PASSWORD", "password")
        ]
    result = await auth.run(LOG_IN, {"email": email, "password": "short"})
    assert [e["code"] for e in result["logIn"]["errors"]] == ["INVALID_CREDENTIALS"]


async def test_bad_sign_up_input_reports_every_field(auth: SignedClient) -> None:
    result = await sign_up(auth, "not an email", password="", name="")
    assert sorted((e["code"], e["field"]) for e in result["errors"]) == [
        ("INVALID_INPUT", "email"),
        ("INVALID_INPUT", "name"),
        ("WEAK_PASSWORD", "password"),
    ]
    oversized = await sign_up(auth, "a" * 300 + "@example.com", name="n" * 101)
    assert sorted(e["field"] for e in oversized["errors"]) == ["email", "name"]


async def test_refresh_rotates_and_reuse_revokes_family(auth: SignedClient) -> None:
    first = (await sign_up(auth, unique_email()))["tokens"]["refreshToken"]
    rotated = (await auth.run(REFRESH, {"t": first}))["refreshTokens"]
    assert rotated["errors"] == []
    second = rotated["tokens"]["refreshToken"]
    assert second != first
    reused = (await auth.run(REFRESH, {"t": first}))["refreshTokens"]
    assert [e["code"] for e in reused["errors"]] == ["INVALID_TOKEN"]
    after = (await auth.run(REFRESH, {"t": second}))["refreshTokens"]
    assert [e["code"] for e in after["errors"]] == ["INVALID_TOKEN"]


async def test_log_out_ends_the_session(auth: SignedClient) -> None:
    tokens = (await sign_up(auth, unique_email()))["tokens"]
    out = await auth.run(
        "mutation($t: String!) { logOut(refreshToken: $t) { ok errors { code } } }",
        {"t": tokens["refreshToken"]},
    )
    assert out["logOut"] == {"ok": True, "errors": []}
    again = (await auth.run(REFRESH, {"t": tokens["refreshToken"]}))["refreshTokens"]
    assert [e["code"] for e in again["errors"]] == ["INVALID_TOKEN"]


async def test_me_update_profile_and_anonymous(auth: SignedClient) -> None:
    user = (await sign_up(auth, unique_email()))["user"]
    caller = Caller(user_id=UUID(user["id"]))
    assert (await auth.run("{ me { id } }"))["me"] is None
    updated = await auth.run(
        'mutation { updateProfile(input: {name: "Ada L."}) { user { name } errors { code } } }',
        caller=caller,
    )
    assert updated["updateProfile"] == {"user": {"name": "Ada L."}, "errors": []}
    me = await auth.run("{ me { id name emailVerified } }", caller=caller)
    assert me["me"] == {"id": user["id"], "name": "Ada L.", "emailVerified": False}
    blank = await auth.run(
        'mutation { updateProfile(input: {name: ""}) { user { name } errors { field } } }',
        caller=caller,
    )
    assert blank["updateProfile"] == {"user": None, "errors": [{"field": "name"}]}

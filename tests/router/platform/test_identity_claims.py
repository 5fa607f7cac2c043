"""Access tokens signed by a published key still need every claim right: issuer, audience,
expiry, subject and session, or the router answers 401."""

from __future__ import annotations

import time
from typing import Any
from uuid import uuid4

import pytest
from joserfc import jwt

from subgraphs.auth.signing import TokenSigner, keys_path
from tests.router.platform.conftest import RouterClient
from vetrai.settings import PlatformSettings

ME = "{ me { id } }"


@pytest.fixture(scope="module")
def signer(settings: PlatformSettings) -> TokenSigner:
    """Signs with the key auth publishes, so only the claims can be wrong."""
    return TokenSigner(
        keys_path(settings), issuer=settings.core.jwt_issuer, audience=settings.core.jwt_audience
    )


def _signed(signer: TokenSigner, user: str, **changes: Any) -> str:
    """A token signed by auth's current key with ``changes`` to its claims (None: left out)."""
    now = int(time.time())
    claims = {
        "iss": signer.issuer,
        "aud": signer.audience,
        "sub": user,
        "sid": str(uuid4()),
        "iat": now,
        "exp": now + 300,
        **changes,
    }
    key = signer.keys[0]
    present = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, present, key)


async def test_token_with_every_claim_right_identifies_the_user(
    router: RouterClient, signer: TokenSigner
) -> None:
    user, _ = await router.sign_up()
    token = _signed(signer, user)
    assert await router.data(ME, authorization=f"Bearer {token}") == {"me": {"id": user}}


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(time.time()) - 60},
        {"exp": None},
        {"sub": None},
        {"iss": "someone-else"},
        {"iss": None},
        {"aud": "another-audience"},
        {"aud": None},
        {"sid": None},
    ],
    ids=[
        "expired",
        "without-exp",
        "without-sub",
        "wrong-issuer",
        "without-issuer",
        "wrong-audience",
        "without-audience",
        "without-session",
    ],
)
async def test_token_with_a_wrong_or_missing_claim_is_refused(
    router: RouterClient, signer: TokenSigner, changes: dict[str, Any]
) -> None:
    user, _ = await router.sign_up()
    token = _signed(signer, user, **changes)
    response = await router.post(ME, authorization=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
async def test_authorization_other_than_a_bearer_token_is_refused(
    router: RouterClient, authorization: str
) -> None:
    response = await router.post(ME, authorization=authorization)
    assert response.status_code == 401
    assert "Bearer" in response.json()["errors"][0]["message"]

"""The JWKS and signing-key rotation."""

from __future__ import annotations

from pathlib import Path

from joserfc.jwk import KeySet

from router.identity import verify_token
from subgraphs.auth.signing import TokenSigner, rotate
from tests.conftest import SignedClient, unique_email
from tests.subgraphs.auth.builders import sign_up
from vetrai.settings import PlatformSettings


async def test_access_token_verifies_against_published_jwks(
    auth: SignedClient, settings: PlatformSettings
) -> None:
    tokens = (await sign_up(auth, unique_email()))["tokens"]
    jwks = (await auth.client.get("/.well-known/jwks.json")).json()
    assert all("d" not in key for key in jwks["keys"])
    claims = verify_token(
        tokens["accessToken"],
        KeySet.import_key_set(jwks),
        issuer=settings.core.jwt_issuer,
        audience=settings.core.jwt_audience,
    )
    assert claims is not None
    assert claims["exp"] - claims["iat"] == settings.auth.access_token_ttl_seconds
    tampered = tokens["accessToken"][:-4] + "AAAA"
    assert (
        verify_token(tampered, KeySet.import_key_set(jwks), issuer="vetrai", audience="vetrai")
        is None
    )


def test_rotation_keeps_previous_key_published(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    old = TokenSigner(path, issuer="i", audience="a")
    token = old.sign({"sub": "u", "exp": 2**40})
    rotate(path)
    new = TokenSigner(path, issuer="i", audience="a")
    assert len(new.jwks()["keys"]) == 2
    assert verify_token(token, new.key_set, issuer="i", audience="a") is not None
    rotate(path)
    newest = TokenSigner(path, issuer="i", audience="a")
    assert verify_token(token, newest.key_set, issuer="i", audience="a") is None
    assert path.stat().st_mode & 0o077 == 0


async def test_jwks_is_served_over_http(auth: SignedClient) -> None:
    response = await auth.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json()["keys"][0]["kty"] == "EC"

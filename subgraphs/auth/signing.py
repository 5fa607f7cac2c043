"""The keys that sign access tokens (ES256) and the JWKS that publishes their public halves.

The key file is a JWK set with private keys, newest first: the first signs, all are published,
so a rotation keeps tokens signed by the previous key valid until they expire.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from core.settings import SettingsError
from subgraphs.auth.settings import Settings

KEEP = 2


def keys_path(settings: Settings) -> Path:
    if settings.auth.jwt_keys_file is not None:
        return settings.auth.jwt_keys_file
    if settings.core.environment == "production":
        raise SettingsError("JWT_KEYS_FILE: required in production")
    return settings.core.secret_path("jwt-keys.json")


def _new_key() -> dict[str, Any]:
    key = ECKey.generate_key("P-256", parameters={"kid": secrets.token_hex(8), "use": "sig"})
    return dict(key.as_dict(private=True))


def _write(path: Path, keys: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps({"keys": keys}))


def rotate(path: Path) -> str:
    """Put a new signing key first, keep the previous one published; return the new kid."""
    keys = json.loads(path.read_text())["keys"] if path.exists() else []
    keys = [_new_key(), *keys][:KEEP]
    _write(path, keys)
    return str(keys[0]["kid"])


class TokenSigner:
    def __init__(self, path: Path, *, issuer: str, audience: str) -> None:
        if not path.exists():
            rotate(path)
        self.keys = [ECKey.import_key(k) for k in json.loads(path.read_text())["keys"]]
        self.key_set = KeySet(list(self.keys))
        self.issuer = issuer
        self.audience = audience

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.keys[0]
        header = {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, {"iss": self.issuer, "aud": self.audience, **claims}, key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.keys]}

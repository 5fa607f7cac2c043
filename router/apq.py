"""Automatic persisted queries, as Apollo's protocol defines them: a client sends the sha256 of
its query; the router answers from its store (Redis, shared by every process) or asks for the
full query once. In persisted-only mode nothing new is registered."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from router.config import PersistedQueries


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _hash_of(extensions: Mapping[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if (
        not isinstance(persisted, dict)
        or persisted.get("version") != 1
        or not isinstance(persisted.get("sha256Hash"), str)
    ):
        raise PersistedQueryError("PERSISTED_QUERY_NOT_SUPPORTED", "Unsupported persisted query.")
    return str(persisted["sha256Hash"]).lower()


def load_manifest(path: Path | None) -> dict[str, str]:
    """sha256 -> query of an Apollo persisted query manifest."""
    if path is None:
        return {}
    manifest = orjson.loads(path.read_bytes())
    return {op["id"]: op["body"] for op in manifest["operations"]}


def _sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueryStore:
    def __init__(self, redis: Redis, config: PersistedQueries) -> None:
        self.redis = redis
        self.config = config
        self.manifest = load_manifest(config.manifest)

    async def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The query to run: ``query``, or the one stored under the hash the extensions name
        (``query`` is registered under it when both are given)."""
        digest = _hash_of(extensions) if self.config.enabled or self.config.persisted_only else None
        if self.config.persisted_only:
            return self._listed(digest, query)
        if digest is None:
            return query
        key = f"vetrai:apq:{digest}"
        if not query:
            stored = self.manifest.get(digest) or await self.redis.get(key)
            if stored is None:
                raise PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
            return stored if isinstance(stored, str) else stored.decode()
        if _sha256(query) != digest:
            raise PersistedQueryError("INVALID_SHA256_HASH", "provided sha does not match query")
        await self.redis.set(key, query, ex=self.config.ttl_seconds)
        return query

    def _listed(self, digest: str | None, query: object) -> str:
        if digest is None and isinstance(query, str):
            digest = _sha256(query)
        listed = self.manifest.get(digest or "")
        if listed is None:
            raise PersistedQueryError(
                "PERSISTED_QUERY_NOT_IN_LIST", "Only the operations of the persisted list run."
            )
        return listed

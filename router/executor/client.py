"""Subgraph requests: GraphQL over pooled keep-alive HTTP, JSON in and out with orjson."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from router.executor.http import HttpError, Origin

SUBGRAPH_ERROR = "SUBGRAPH_ERROR"
SUBGRAPH_TIMEOUT = "SUBGRAPH_TIMEOUT"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class SubgraphRequestError(Exception):
    """A subgraph request that produced no GraphQL response."""

    def __init__(self, service: str, code: str, message: str) -> None:
        super().__init__(message)
        self.service = service
        self.code = code

    def as_error(self) -> dict[str, Any]:
        return {
            "message": str(self),
            "extensions": {"code": self.code, "serviceName": self.service},
        }


FetchObserver = Callable[[str, float, str | None], None]
"""Told of every subgraph request: service, seconds taken, error code (None when it answered)."""


class SubgraphClient:
    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 30.0,
        observe: FetchObserver | None = None,
    ) -> None:
        self._targets = {name: _target(url, timeout) for name, url in urls.items()}
        self._observe = observe

    async def request(
        self,
        service: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """The subgraph's GraphQL response; ``idempotent`` (a query) may be sent again when a
        kept-alive connection fails under it, anything else never is."""
        if self._observe is None:
            return await self._request(service, body, headers, idempotent)
        started = time.perf_counter()
        try:
            response = await self._request(service, body, headers, idempotent)
        except SubgraphRequestError as exc:
            self._observe(service, time.perf_counter() - started, exc.code)
            raise
        self._observe(service, time.perf_counter() - started, None)
        return response

    async def _request(
        self, service: str, body: dict[str, Any], headers: Mapping[str, str], idempotent: bool
    ) -> dict[str, Any]:
        origin, path = self._targets[service]
        try:
            response = await origin.post(
                path, orjson.dumps(body), {**JSON_HEADERS, **headers}, idempotent=idempotent
            )
        except TimeoutError as exc:
            raise SubgraphRequestError(
                service, SUBGRAPH_TIMEOUT, f"Subgraph '{service}' timed out."
            ) from exc
        except (HttpError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            raise SubgraphRequestError(
                service, SUBGRAPH_ERROR, f"Subgraph '{service}' could not be reached."
            ) from exc
        return _graphql_response(service, response.status, response.body)

    async def aclose(self) -> None:
        for origin, _ in self._targets.values():
            origin.close()


def _target(url: str, timeout: float) -> tuple[Origin, str]:
    parts = urlsplit(url)
    path = parts.path or "/"
    return Origin(url, timeout=timeout), f"{path}?{parts.query}" if parts.query else path


def _graphql_response(service: str, status: int, content: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
        raise SubgraphRequestError(
            service,
            SUBGRAPH_ERROR,
            f"Subgraph '{service}' answered HTTP {status}, not GraphQL.",
        )
    return payload

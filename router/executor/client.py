"""HTTP to subgraphs: one pooled keep-alive client, JSON in and out with orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

SUBGRAPH_ERROR = "SUBGRAPH_ERROR"
SUBGRAPH_TIMEOUT = "SUBGRAPH_TIMEOUT"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


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


class SubgraphClient:
    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        timeout: float = 30.0,
        max_connections: int = 256,
    ) -> None:
        self.urls = dict(urls)
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits)

    async def request(
        self, service: str, body: dict[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self.urls[service],
                content=orjson.dumps(body),
                headers={**JSON_HEADERS, **headers},
            )
        except httpx.TimeoutException as exc:
            raise SubgraphRequestError(
                service, SUBGRAPH_TIMEOUT, f"Subgraph '{service}' timed out."
            ) from exc
        except httpx.HTTPError as exc:
            raise SubgraphRequestError(
                service, SUBGRAPH_ERROR, f"Subgraph '{service}' could not be reached."
            ) from exc
        return _graphql_response(service, response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _graphql_response(service: str, response: httpx.Response) -> dict[str, Any]:
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict) or ("data" not in payload and "errors" not in payload):
        raise SubgraphRequestError(
            service,
            SUBGRAPH_ERROR,
            f"Subgraph '{service}' answered HTTP {response.status_code}, not GraphQL.",
        )
    return payload

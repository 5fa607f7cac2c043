"""Public files of a subgraph under the router's address: ``GET /assets/<subgraph>/<path>`` is
forwarded to ``<subgraph>/<path>`` when the configuration lists a prefix of that path (themes'
stylesheets and images, shown on pages before anyone signs in). Nothing else of the subgraph is
reachable this way: its GraphQL endpoint stays behind the router's checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response

# What a cached file needs on the way in and out; cookies and credentials are never forwarded.
_REQUEST_HEADERS = ("accept", "if-none-match", "if-modified-since")
_RESPONSE_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-security-policy",
    "content-type",
    "etag",
    "last-modified",
    "x-content-type-options",
)


class PublicAssets:
    """The forwarder; ``urls`` gives each subgraph's GraphQL URL of the supergraph now served."""

    def __init__(
        self,
        prefixes: Mapping[str, list[str]],
        urls: Callable[[], Mapping[str, str]],
        timeout: float,
    ) -> None:
        self.prefixes = prefixes
        self.urls = urls
        self.client = httpx.AsyncClient(timeout=timeout)

    def target(self, subgraph: str, path: str, query: str) -> str | None:
        """The subgraph URL of a public path, or None when the path is not public."""
        allowed = self.prefixes.get(subgraph, [])
        url = self.urls().get(subgraph)
        if url is None or ".." in path.split("/") or not any(path.startswith(p) for p in allowed):
            return None
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{path}", query, ""))

    async def endpoint(self, request: Request) -> Response:
        params = request.path_params
        target = self.target(params["subgraph"], params["path"], request.url.query)
        if target is None:
            return Response(b"not found", status_code=404, media_type="text/plain")
        headers = {k: v for k in _REQUEST_HEADERS if (v := request.headers.get(k)) is not None}
        try:
            answer = await self.client.request(request.method, target, headers=headers)
        except httpx.HTTPError:
            return Response(b"unavailable", status_code=503, media_type="text/plain")
        kept = {k: v for k in _RESPONSE_HEADERS if (v := answer.headers.get(k)) is not None}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    async def aclose(self) -> None:
        await self.client.aclose()

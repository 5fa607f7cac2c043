"""Public files of a subgraph under the router's address: ``GET /assets/<subgraph>/<path>`` is
forwarded to ``<subgraph>/<path>`` when the configuration lists a prefix of that path (themes'
stylesheets and images, shown on pages before anyone signs in), and a form ``POST`` for paths
under the prefixes of ``forms`` (workers' approval pages, whose address holds their credential).
Nothing else of the subgraph is reachable this way: its GraphQL endpoint stays behind the
router's checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response

# What a cached file needs on the way in and out; cookies and credentials are never forwarded.
_REQUEST_HEADERS = ("accept", "if-none-match", "if-modified-since")
# What a form's page needs to tell a POST of its own from another site's.
_FORM_HEADERS = ("content-type", "origin", "sec-fetch-site")
MAX_FORM_BYTES = 16384
_RESPONSE_HEADERS = (
    "cache-control",
    "content-disposition",
    "content-security-policy",
    "content-type",
    "etag",
    "last-modified",
    "referrer-policy",
    "x-content-type-options",
)


class PublicAssets:
    """The forwarder; ``urls`` gives each subgraph's GraphQL URL of the supergraph now served."""

    def __init__(
        self,
        prefixes: Mapping[str, list[str]],
        urls: Callable[[], Mapping[str, str]],
        timeout: float,
        forms: Mapping[str, list[str]] | None = None,
    ) -> None:
        self.prefixes = prefixes
        self.forms = forms or {}
        self.urls = urls
        self.client = httpx.AsyncClient(timeout=timeout)

    def target(self, subgraph: str, path: str, query: str, *, form: bool = False) -> str | None:
        """The subgraph URL of a public path, or None when the path is not public."""
        allowed = (self.forms if form else self.prefixes).get(subgraph, [])
        url = self.urls().get(subgraph)
        if url is None or ".." in path.split("/") or not any(path.startswith(p) for p in allowed):
            return None
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{path}", query, ""))

    async def endpoint(self, request: Request) -> Response:
        params = request.path_params
        form = request.method == "POST"
        target = self.target(params["subgraph"], params["path"], request.url.query, form=form)
        if target is None:
            return Response(b"not found", status_code=404, media_type="text/plain")
        names = (*_REQUEST_HEADERS, *(_FORM_HEADERS if form else ()))
        headers = {k: v for k in names if (v := request.headers.get(k)) is not None}
        body = await _bounded_body(request) if form else None
        if body is None and form:
            return Response(b"too large", status_code=413, media_type="text/plain")
        try:
            answer = await self.client.request(
                request.method, target, headers=headers, content=body
            )
        except httpx.HTTPError:
            return Response(b"unavailable", status_code=503, media_type="text/plain")
        kept = {k: v for k in _RESPONSE_HEADERS if (v := answer.headers.get(k)) is not None}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    async def aclose(self) -> None:
        await self.client.aclose()


async def _bounded_body(request: Request) -> bytes | None:
    """The form's body, or None once it passes MAX_FORM_BYTES (read no further)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return bytes(body)

"""The router serves a subgraph's public files (themes' stylesheets) under /assets/<subgraph>/,
and nothing else of that subgraph; its connections to them close when it stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from router.assets import MAX_FORM_BYTES
from tests.router.platform.conftest import RouterClient, router_client, router_config, served
from tests.router.test_hot_reload import _sockets, _until
from vetrai.settings import PlatformSettings

CSS = b":root { --vetrai-color-primary: #0a66c2; }"


class Files:
    """A stand-in for the themes app: records what reached it."""

    def __init__(self) -> None:
        self.seen: list[Request] = []

    async def handle(self, request: Request) -> Response:
        self.seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"etag": '"v1"'})
        headers = {
            "etag": '"v1"',
            "cache-control": "public, max-age=31536000, immutable",
            "set-cookie": "session=leak",
            "x-internal": "secret",
        }
        return Response(CSS, media_type="text/css", headers=headers)


@asynccontextmanager
async def routed_to(
    files: Files | None,
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> AsyncIterator[RouterClient]:
    app = Starlette(routes=[Route("/{path:path}", files.handle)]) if files else None
    if app is None:
        urls = {**subgraph_urls, "themes": "http://127.0.0.1:9/graphql"}
        async with router_client(settings, supergraph_sdl, urls, router_config()) as router:
            yield router
        return
    async with served(app) as base:
        urls = {**subgraph_urls, "themes": f"{base}/graphql"}
        async with router_client(settings, supergraph_sdl, urls, router_config()) as router:
            yield router


async def test_a_public_stylesheet_is_forwarded_with_its_cache_headers_only(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    files = Files()
    async with routed_to(files, settings, supergraph_sdl, subgraph_urls) as router:
        answer = await router.client.get(
            "/assets/themes/css/org/abc.css?v=1",
            headers={"cookie": "session=mine", "authorization": "Bearer secret"},
        )
        again = await router.client.get(
            "/assets/themes/css/org/abc.css", headers={"if-none-match": '"v1"'}
        )
    assert answer.status_code == 200
    assert answer.content == CSS
    assert answer.headers["content-type"].startswith("text/css")
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "set-cookie" not in answer.headers
    assert "x-internal" not in answer.headers
    assert again.status_code == 304
    first = files.seen[0]
    assert (first.url.path, first.url.query) == ("/css/org/abc.css", "v=1")
    assert "cookie" not in first.headers
    assert "authorization" not in first.headers


async def test_stopping_the_router_closes_its_connections_to_the_files(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    files = Files()
    app = Starlette(routes=[Route("/{path:path}", files.handle)])
    async with served(app) as base:
        before = _sockets()
        urls = {**subgraph_urls, "themes": f"{base}/graphql"}
        async with router_client(settings, supergraph_sdl, urls, router_config()) as router:
            answer = await router.client.get("/assets/themes/css/org/abc.css")
            assert answer.status_code == 200
        # closed at shutdown: well before the files' server would drop it itself (5 s)
        await _until(lambda: _sockets() <= before, seconds=1.0)


async def test_paths_outside_the_public_prefixes_never_reach_the_subgraph(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    files = Files()
    async with routed_to(files, settings, supergraph_sdl, subgraph_urls) as router:
        refused = [
            await router.client.get(path)
            for path in (
                "/assets/themes/graphql?query={__typename}",
                "/assets/themes/metrics",
                "/assets/themes/css/../metrics",
                "/assets/themes/css/%2e%2e/metrics",
                "/assets/auth/css/x.css",
                "/assets/nowhere/css/x.css",
            )
        ]
        public = await router.client.get("/assets/themes/preview/org?token=t")
    assert [r.status_code for r in refused] == [404] * len(refused)
    assert public.status_code == 200
    assert [(r.url.path, r.url.query) for r in files.seen] == [("/preview/org", "token=t")]


async def test_an_unreachable_subgraph_is_unavailable(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    async with routed_to(None, settings, supergraph_sdl, subgraph_urls) as router:
        answer = await router.client.get("/assets/themes/css/org/abc.css")
    assert answer.status_code == 503


async def test_a_form_post_reaches_only_form_prefixes_and_no_further_than_its_limit(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    files = Files()
    app = Starlette(routes=[Route("/{path:path}", files.handle, methods=["GET", "POST"])])
    async with served(app) as base:
        urls = {**subgraph_urls, "themes": f"{base}/graphql", "workers": f"{base}/graphql"}
        async with router_client(settings, supergraph_sdl, urls, router_config()) as router:
            not_a_form = await router.client.post("/assets/themes/css/x.css", data={"a": "b"})
            at_limit = await router.client.post(
                "/assets/workers/approvals/t", content=b"c=" + b"x" * (MAX_FORM_BYTES - 2)
            )
            over = await router.client.post(
                "/assets/workers/approvals/t", content=b"c=" + b"x" * (MAX_FORM_BYTES - 1)
            )
    assert not_a_form.status_code == 404
    assert at_limit.status_code == 200
    assert over.status_code == 413
    assert [(r.method, r.url.path) for r in files.seen] == [("POST", "/approvals/t")]

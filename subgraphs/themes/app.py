"""The themes subgraph (port 8006): its schema, services, migrations and jobs, plus the files
it serves without a caller (the router forwards ``GET /assets/themes/*`` here): stylesheets at
``/css/<org>/<sha256>.css`` and asset files at ``/files/<org>/<asset>/<name>``, immutable, and the
sample page a signed preview link shows at ``/preview/<org>?token=...``."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.kernel.storage import Storage
from subgraphs.themes.schema import schema
from subgraphs.themes.service import ThemesService
from subgraphs.themes.settings import Settings
from subgraphs.themes.tasks import JOBS
from subgraphs.themes.tokens import scope_class

_HASH = re.compile(r"^[0-9a-f]{64}$")
_IMMUTABLE = "public, max-age=31536000, immutable"
_PAGES = Environment(loader=PackageLoader("subgraphs.themes"), autoescape=select_autoescape())


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def _not_found() -> Response:
    return Response("not found", status_code=404, media_type="text/plain")


async def stylesheet(request: Request) -> Response:
    org_id, name = _uuid(request.path_params["org"]), request.path_params["name"]
    css_hash = name.removesuffix(".css")
    if org_id is None or not name.endswith(".css") or not _HASH.match(css_hash):
        return _not_found()
    etag = f'"{css_hash}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"etag": etag, "cache-control": _IMMUTABLE})
    service: ThemesService = request.app.state.services
    found = await service.stylesheet(org_id, css_hash)
    if found is None:
        return _not_found()
    headers = {"etag": etag, "cache-control": _IMMUTABLE, "x-content-type-options": "nosniff"}
    return Response(found, media_type="text/css", headers=headers)


async def asset(request: Request) -> Response:
    org_id, asset_id = _uuid(request.path_params["org"]), _uuid(request.path_params["asset"])
    if org_id is None or asset_id is None:
        return _not_found()
    service: ThemesService = request.app.state.services
    found = await service.asset_file(org_id, asset_id, request.path_params["name"])
    if found is None:
        return _not_found()
    # An SVG opened on its own is a document: nothing may load or run, its style attributes
    # may apply.
    policy = "default-src 'none'" + ("; style-src 'unsafe-inline'" if found.is_vector else "")
    headers = {
        "etag": f'"{asset_id}-{found.name}"',
        "cache-control": _IMMUTABLE,
        "x-content-type-options": "nosniff",
        "content-security-policy": policy,
    }
    return Response(found.data, media_type=found.content_type, headers=headers)


async def preview(request: Request) -> Response:
    org_id = _uuid(request.path_params["org"])
    service: ThemesService = request.app.state.services
    draft = await service.preview(org_id, request.query_params.get("token", "")) if org_id else None
    # Inlined in <style>: the sanitizer guarantees no "</" could close the element early.
    if draft is None or "</" in draft.css:
        return Response("this preview link is invalid or expired", status_code=403)
    page = _PAGES.get_template("preview.html").render(
        css=draft.css, scope=scope_class(draft.org_id), logo=service.logo_url(draft)
    )
    headers = {
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
        "referrer-policy": "no-referrer",
    }
    return Response(page, media_type="text/html", headers=headers)


def services(runtime: Runtime, settings: Settings) -> ThemesService:
    storage = Storage.from_settings(settings.storage) if settings.storage.minio_endpoint else None
    return ThemesService(runtime.db, runtime.redis, settings, storage, runtime.context_key)


DOMAIN = Domain(
    name="themes",
    port=8006,
    schema=schema,
    services=services,
    migrations=MigrationSet("themes", Path(__file__).parent / "migrations"),
    routes=[
        Route("/css/{org}/{name}", stylesheet, methods=["GET"]),
        Route("/files/{org}/{asset}/{name}", asset, methods=["GET"]),
        Route("/preview/{org}", preview, methods=["GET"]),
    ],
    jobs=JOBS,
)

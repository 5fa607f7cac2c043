"""Subgraph sources from a rover-style `supergraph.yaml`: SDL from a file or from `_service`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from router.compose.subgraph import Subgraph

SERVICE_QUERY = "{ _service { sdl } }"


class ConfigError(Exception):
    """The configuration, or a subgraph it names, cannot be read."""


@dataclass(frozen=True)
class SubgraphSource:
    """Where one subgraph's SDL comes from: a `file` or the `subgraph_url` serving `_service`."""

    name: str
    routing_url: str
    file: Path | None = None
    subgraph_url: str | None = None


def read_config(path: Path) -> list[SubgraphSource]:
    """Parse `path` (rover's `supergraph.yaml` shape); relative files are relative to it."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("subgraphs"), dict):
        raise ConfigError(f"{path}: expected a mapping with a `subgraphs` mapping")
    version = str(data.get("federation_version", "2")).lstrip("=v")
    if not version.startswith("2"):
        raise ConfigError(
            f"{path}: federation_version {version} is not supported (Federation 2 only)"
        )
    return [_source(path.parent, name, entry) for name, entry in data["subgraphs"].items()]


def _source(base: Path, name: str, entry: Any) -> SubgraphSource:
    schema = entry.get("schema") if isinstance(entry, dict) else None
    if not isinstance(schema, dict):
        raise ConfigError(
            f"subgraph {name}: expected `schema: {{file: ...}}` or `{{subgraph_url: ...}}`"
        )
    url = entry.get("routing_url") or schema.get("subgraph_url")
    if not url:
        raise ConfigError(f"subgraph {name}: a `routing_url` is required")
    if "file" in schema:
        return SubgraphSource(name, str(url), file=base / str(schema["file"]))
    if "subgraph_url" in schema:
        return SubgraphSource(name, str(url), subgraph_url=str(schema["subgraph_url"]))
    raise ConfigError(f"subgraph {name}: `schema` needs `file` or `subgraph_url`")


def fetch_sdl(url: str, client: httpx.Client) -> str:
    """Ask a running subgraph for its SDL with the federation `_service` query."""
    try:
        response = client.post(url, json={"query": SERVICE_QUERY})
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ConfigError(f"cannot fetch the SDL of {url}: {error}") from error
    sdl = ((body or {}).get("data") or {}).get("_service", {}).get("sdl")
    if not isinstance(sdl, str):
        raise ConfigError(f"{url} answered `_service` without an SDL: {body.get('errors')}")
    return sdl


def load_subgraphs(path: Path, client: httpx.Client | None = None) -> list[Subgraph]:
    """Every subgraph named by the configuration at `path`, with its SDL loaded."""
    sources = read_config(path)
    with client or httpx.Client(timeout=10.0) as http:
        return [Subgraph(s.name, s.routing_url, _sdl(s, http)) for s in sources]


def _sdl(source: SubgraphSource, client: httpx.Client) -> str:
    if source.file is not None:
        try:
            return source.file.read_text()
        except OSError as error:
            raise ConfigError(f"subgraph {source.name}: {error}") from error
    return fetch_sdl(str(source.subgraph_url), client)

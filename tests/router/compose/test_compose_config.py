"""Subgraph sources from a rover-style supergraph.yaml: SDL files and the `_service` query."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import strawberry
import uvicorn
from strawberry.asgi import GraphQL

from router.compose import compose
from router.compose.command import add_arguments, run
from router.compose.config import ConfigError, load_subgraphs, read_config
from tests.router.compose.compose_groups import GROUPS

BASIC = GROUPS / "valid" / "basic"


@strawberry.federation.type(keys=["id"])
class Product:
    id: strawberry.ID
    stock: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Product:
        return Product(id=id, stock=3)


@strawberry.type
class Query:
    @strawberry.field
    def restocked(self) -> list[Product]:
        return []


@pytest.fixture(scope="module")
def inventory_url() -> Iterator[str]:
    """A Strawberry federation subgraph served by uvicorn on an ephemeral port."""
    schema = strawberry.federation.Schema(query=Query, types=[Product])
    config = uvicorn.Config(GraphQL(schema), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/graphql"
    server.should_exit = True
    thread.join(timeout=5)


def _write_config(folder: Path, inventory_url: str) -> Path:
    (folder / "products.graphql").write_text((BASIC / "products.graphql").read_text())
    config = folder / "supergraph.yaml"
    config.write_text(
        "federation_version: =2.5.0\n"
        "subgraphs:\n"
        "  products:\n"
        "    routing_url: http://products:8001/graphql\n"
        "    schema:\n"
        "      file: ./products.graphql\n"
        "  inventory:\n"
        "    routing_url: http://inventory:8002/graphql\n"
        "    schema:\n"
        f"      subgraph_url: {inventory_url}\n"
    )
    return config


def test_config_loads_files_and_running_subgraphs(tmp_path: Path, inventory_url: str) -> None:
    subgraphs = {s.name: s for s in load_subgraphs(_write_config(tmp_path, inventory_url))}

    assert subgraphs["products"].url == "http://products:8001/graphql"
    assert subgraphs["products"].sdl == (BASIC / "products.graphql").read_text()
    assert subgraphs["inventory"].url == "http://inventory:8002/graphql"
    assert "restocked: [Product!]!" in subgraphs["inventory"].sdl


def test_subgraphs_from_config_compose(tmp_path: Path, inventory_url: str) -> None:
    result = compose(load_subgraphs(_write_config(tmp_path, inventory_url)))

    assert result.errors == []
    assert result.supergraph_sdl is not None
    assert '@join__graph(name: "inventory", url: "http://inventory:8002/graphql")' in (
        result.supergraph_sdl
    )
    assert "stock: Int! @join__field(graph: INVENTORY)" in result.supergraph_sdl


def test_command_reads_the_config(tmp_path: Path, inventory_url: str) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = _write_config(tmp_path, inventory_url)
    out = tmp_path / "schema"

    assert run(parser.parse_args(["--config", str(config), "--out", str(out)])) == 0
    assert (out / "subgraphs" / "inventory.graphql").is_file()


def test_config_without_a_schema_source_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "supergraph.yaml"
    config.write_text("subgraphs:\n  a:\n    routing_url: http://a\n    schema: {}\n")

    with pytest.raises(ConfigError, match="`schema` needs `file` or `subgraph_url`"):
        read_config(config)


def test_federation_1_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "supergraph.yaml"
    config.write_text("federation_version: 1\nsubgraphs: {}\n")

    with pytest.raises(ConfigError, match="Federation 2 only"):
        read_config(config)


def test_unreachable_subgraph_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "supergraph.yaml"
    config.write_text(
        "subgraphs:\n  a:\n    routing_url: http://a\n"
        "    schema:\n      subgraph_url: http://127.0.0.1:9/graphql\n"
    )

    with pytest.raises(ConfigError, match="cannot fetch the SDL"):
        load_subgraphs(config)

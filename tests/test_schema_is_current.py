"""The committed schema/ is what the platform's subgraphs compose to: a stale one fails CI."""

from __future__ import annotations

import argparse
from pathlib import Path

from router.compose import command
from vetrai.platform import composition_sources

SCHEMA = Path(__file__).parent.parent / "schema"


def test_committed_schema_is_what_the_subgraphs_compose_to() -> None:
    args = argparse.Namespace(out=SCHEMA, check=True, config=None)
    assert command.run(args, composition_sources()) == 0, "run `vetrai compose` and commit schema/"


def test_every_platform_subgraph_is_in_the_supergraph() -> None:
    supergraph = (SCHEMA / "supergraph.graphql").read_text()
    for source in composition_sources():
        assert f'@join__graph(name: "{source.name}", url: "{source.url}")' in supergraph

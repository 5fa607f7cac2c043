"""`vetrai compose`: writing schema/, `--check`, and refusing to write on composition errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from router.compose import compose
from router.compose.command import add_arguments, run
from tests.router.compose.compose_groups import GROUPS, Group


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _basic() -> Group:
    return Group(GROUPS / "valid" / "basic")


def test_compose_writes_each_subgraph_and_the_supergraph(tmp_path: Path) -> None:
    sources = _basic().subgraphs

    assert run(_args("--out", str(tmp_path)), sources) == 0

    assert sorted(p.name for p in (tmp_path / "subgraphs").iterdir()) == [
        "products.graphql",
        "reviews.graphql",
    ]
    assert (tmp_path / "supergraph.graphql").read_text() == compose(sources).supergraph_sdl


def test_check_passes_when_the_committed_schema_is_current(tmp_path: Path) -> None:
    sources = _basic().subgraphs
    run(_args("--out", str(tmp_path)), sources)

    assert run(_args("--out", str(tmp_path), "--check"), sources) == 0


def test_check_fails_on_a_stale_schema_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = _basic().subgraphs
    run(_args("--out", str(tmp_path)), sources)
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text("type Query { stale: Int }\n")
    (tmp_path / "subgraphs" / "removed.graphql").write_text("type Query { gone: Int }\n")

    assert run(_args("--out", str(tmp_path), "--check"), sources) == 1

    report = capsys.readouterr().err
    assert f"differs {supergraph}" in report
    assert "stale" in report
    assert supergraph.read_text() == "type Query { stale: Int }\n"


def test_check_fails_when_nothing_was_written_yet(tmp_path: Path) -> None:
    assert run(_args("--out", str(tmp_path), "--check"), _basic().subgraphs) == 1
    assert not tmp_path.joinpath("supergraph.graphql").exists()


def test_composition_errors_are_all_printed_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = Group(GROUPS / "invalid" / "SATISFIABILITY_ERROR").subgraphs

    assert run(_args("--out", str(tmp_path)), sources) == 1

    report = capsys.readouterr().err
    assert report.count("SATISFIABILITY_ERROR") == 2
    assert "Product.sku" in report
    assert "Product.price" in report
    assert list(tmp_path.iterdir()) == []


def test_missing_config_is_a_usage_error(tmp_path: Path) -> None:
    assert run(_args("--out", str(tmp_path))) == 2

"""`vetrai compose`: write schema/subgraphs/<name>.graphql and schema/supergraph.graphql, or
check that the committed ones are current."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from router.compose.compose import compose
from router.compose.config import ConfigError, load_subgraphs
from router.compose.subgraph import Subgraph


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="rover-style supergraph.yaml naming the subgraphs"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("schema"), help="folder to write (default: schema/)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the files in --out differ from what composes",
    )


def run(args: argparse.Namespace, sources: list[Subgraph] | None = None) -> int:
    """Compose `sources` (or the subgraphs of `--config`) and write or check `--out`."""
    try:
        subgraphs = sources if sources is not None else _from_config(args.config)
    except ConfigError as error:
        print(f"vetrai compose: {error}", file=sys.stderr)
        return 2
    result = compose(subgraphs)
    if result.supergraph_sdl is None:
        for problem in result.errors:
            where = f"{problem.subgraph or '-'} {problem.coordinate or '-'}"
            print(f"{problem.code} [{where}] {problem.message}", file=sys.stderr)
        print(f"vetrai compose: {len(result.errors)} composition error(s)", file=sys.stderr)
        return 1
    files = expected_files(args.out, subgraphs, result.supergraph_sdl)
    if args.check:
        return _check(args.out, files)
    _write(args.out, files)
    print(f"vetrai compose: wrote {len(files)} files under {args.out}")
    return 0


def _from_config(config: Path | None) -> list[Subgraph]:
    if config is None:
        raise ConfigError("no subgraphs: pass --config supergraph.yaml")
    return load_subgraphs(config)


def expected_files(out: Path, subgraphs: list[Subgraph], supergraph: str) -> dict[Path, str]:
    files = {out / "subgraphs" / f"{s.name}.graphql": _with_newline(s.sdl) for s in subgraphs}
    files[out / "supergraph.graphql"] = supergraph
    return files


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _stale(out: Path, files: dict[Path, str]) -> list[Path]:
    folder = out / "subgraphs"
    existing = sorted(folder.glob("*.graphql")) if folder.is_dir() else []
    return [path for path in existing if path not in files]


def _check(out: Path, files: dict[Path, str]) -> int:
    problems = []
    for path, text in files.items():
        if not path.is_file():
            problems.append(f"missing {path}")
            continue
        current = path.read_text()
        if current != text:
            diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(), lineterm=""))
            added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
            removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
            problems.append(f"differs {path} (+{added} -{removed} lines)")
    problems += [f"stale {path}" for path in _stale(out, files)]
    if problems:
        print("vetrai compose --check: the committed schema is out of date:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"vetrai compose --check: {out} is up to date")
    return 0


def _write(out: Path, files: dict[Path, str]) -> None:
    for path in _stale(out, files):
        path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

"""Composition time for the composer's fixture groups and the platform's own subgraphs.

Run with `python tests/bench/compose_bench.py` from the repository root; not part of CI.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from router.compose import Subgraph, compose  # noqa: E402

GROUPS = ROOT / "tests" / "router" / "compose" / "groups"
EXPECTED = {"supergraph.graphql"}


def fixture_group(path: Path) -> list[Subgraph]:
    return [
        Subgraph(f.stem, f"http://{f.stem}/graphql", f.read_text())
        for f in sorted(path.glob("*.graphql"))
        if f.name not in EXPECTED
    ]


def platform() -> list[Subgraph]:
    from vetrai.platform import DOMAINS

    return [
        Subgraph(s.name, f"http://localhost:{s.port}/graphql", s.schema.as_str()) for s in DOMAINS
    ]


def timed(subgraphs: list[Subgraph], rounds: int = 20) -> tuple[float, float]:
    """Median and worst wall time of `rounds` compositions, in milliseconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        compose(subgraphs)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    total = 0.0
    for path in sorted(GROUPS.glob("*/*")):
        median, worst = timed(fixture_group(path))
        total += median
        print(f"{path.parent.name}/{path.name:<50} median {median:7.2f} ms  max {worst:7.2f} ms")
    print(f"{'all fixture groups (sum of medians)':<58} {total:7.2f} ms")
    subgraphs = platform()
    median, worst = timed(subgraphs)
    print(
        f"{'platform (' + ', '.join(s.name for s in subgraphs) + ')':<58} {median:7.2f} ms"
        f"  max {worst:7.2f} ms"
    )


if __name__ == "__main__":
    main()

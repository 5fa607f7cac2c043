"""Planning costs: CPU time to plan every corpus operation cold, and the benchmark's heavy
operation cold and from the plan cache.

Run with `.venv/bin/python -m tests.bench.planning_bench [case to skip ...]` from the repository
root; not part of CI. CPU time (`time.process_time`) is measured, so other processes on the
machine matter less.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from graphql import parse

from router.compose import Subgraph, compose
from router.planner.planner import QueryPlanner
from router.supergraph import Supergraph
from tests.bench.federation import OPERATIONS, SUBGRAPHS
from tests.router.fedfixtures.corpus import Case, case_operations

ROUNDS = 7


def corpus_ms(skipped: list[str]) -> tuple[int, float]:
    """CPU milliseconds to plan the corpus operations once, each by a fresh planner."""
    operations = [(c, o) for c, o in case_operations() if c not in skipped]
    supergraphs = {name: Supergraph(Case(name).supergraph_sdl()) for name, _ in operations}
    documents = {(c, o): parse(Case(c).operation(o)) for c, o in operations}

    def plan_all() -> None:
        for case_name, name in operations:
            planner = QueryPlanner(supergraphs[case_name])
            planner.build(documents[case_name, name], None, frozenset())

    return len(operations), _median_cpu(plan_all, 3) / 3 * 1e3


def heavy_us() -> tuple[float, float]:
    """CPU microseconds to plan the heavy operation cold, and to look its plan up cached."""
    subgraphs = [
        Subgraph(name=n, url=f"http://{n}/graphql", sdl=f().sdl) for n, f in SUBGRAPHS.items()
    ]
    composed = compose(subgraphs)
    assert composed.supergraph_sdl is not None, composed.errors
    supergraph = Supergraph(composed.supergraph_sdl)
    source = OPERATIONS["heavy"]
    document = parse(source)
    planner = QueryPlanner(supergraph)
    cold = _median_cpu(lambda: planner.build(document, None, frozenset()), 200) / 200
    planner.plan_for(source, document, None)
    cached = _median_cpu(lambda: planner.plan_for(source, document, None), 20000) / 20000
    return cold * 1e6, cached * 1e6


def _median_cpu(function: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(repeat):
            function()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def main() -> None:
    count, total = corpus_ms(sys.argv[1:])
    print(f"corpus: {count} operations planned cold in {total:.1f} ms CPU")
    cold, cached = heavy_us()
    print(f"heavy operation: cold plan {cold:.0f} µs CPU, cached lookup {cached:.2f} µs CPU")


if __name__ == "__main__":
    main()

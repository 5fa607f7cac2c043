"""Support's embeddings: cold load, milliseconds per ticket and recall@5 on the labeled fixture
(tests/subgraphs/support/similar_tickets.json), in this process without a database.

Run with `.venv/bin/python -m tests.bench.support_embedding` from the repository root; not part
of CI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

FIXTURE = Path(__file__).parent.parent / "subgraphs" / "support" / "similar_tickets.json"


def main() -> None:
    started = time.perf_counter()
    from subgraphs.support.embedding import embed, load
    from subgraphs.support.similar import document

    imported = time.perf_counter()
    load()
    loaded = time.perf_counter()
    groups: dict[str, list[list[str]]] = json.loads(FIXTURE.read_text())["groups"]
    tickets = [(name, title, body) for name, pairs in groups.items() for title, body in pairs]
    begun = time.perf_counter()
    vectors = embed([document(title, f"<p>{body}</p>") for _, title, body in tickets])
    per_ticket = (time.perf_counter() - begun) * 1000 / len(tickets)
    recalls = []
    for i, (name, _, _) in enumerate(tickets):
        scores = sorted(
            ((sum(a * b for a, b in zip(vectors[i], v, strict=True)), j)
             for j, v in enumerate(vectors) if j != i),
            reverse=True,
        )  # fmt: skip
        top = {j for _, j in scores[:5]}
        same = {j for j, (other, _, _) in enumerate(tickets) if other == name and j != i}
        recalls.append(len(top & same) / len(same))
    print(f"import {imported - started:.2f} s, load {loaded - imported:.2f} s")
    print(f"{per_ticket:.1f} ms per ticket over {len(tickets)} tickets")
    print(f"recall@5 {sum(recalls) / len(recalls):.3f}")


if __name__ == "__main__":
    main()

"""The fixture operations and Apollo's committed plans for them."""

import json
from typing import Any

from tests.router.fedfixtures.subgraphs import DATA_DIR

LABELS_PREFIX = "# overrideLabels:"


def operation_names() -> list[str]:
    return sorted(p.stem for p in (DATA_DIR / "operations").glob("*.graphql"))


def operation(name: str) -> str:
    return (DATA_DIR / "operations" / f"{name}.graphql").read_text()


def override_labels(source: str) -> frozenset[str]:
    first = source.splitlines()[0]
    if not first.startswith(LABELS_PREFIX):
        return frozenset()
    return frozenset(label.strip() for label in first[len(LABELS_PREFIX) :].split(","))


def apollo_plan(name: str) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads((DATA_DIR / "plans" / f"{name}.json").read_text())
    return plan

"""The fixture subgraph groups and what Apollo's composition said about each of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from router.compose import Subgraph

GROUPS = Path(__file__).parent / "groups"
EXPECTED_FILES = {"supergraph.graphql", "errors.json"}


@dataclass(frozen=True)
class Group:
    path: Path

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    @property
    def subgraphs(self) -> list[Subgraph]:
        return [
            Subgraph(file.stem, f"http://{file.stem}/graphql", file.read_text())
            for file in sorted(self.path.glob("*.graphql"))
            if file.name not in EXPECTED_FILES
        ]

    @property
    def apollo_supergraph(self) -> str:
        return (self.path / "supergraph.graphql").read_text()

    @property
    def apollo_error_codes(self) -> list[str]:
        errors = json.loads((self.path / "errors.json").read_text())
        return sorted({error["code"] for error in errors})


def groups(kind: str) -> list[Group]:
    return [Group(path) for path in sorted((GROUPS / kind).iterdir()) if path.is_dir()]

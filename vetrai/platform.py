"""The platform's subgraphs: name, port and the module that builds each one."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from router.compose.subgraph import Subgraph
from subgraphs import kernel
from subgraphs.kernel.migrations import MigrationSet


@dataclass(frozen=True)
class SubgraphSpec:
    name: str
    port: int

    @property
    def module(self) -> ModuleType:
        """``subgraphs.<name>.app``: ``schema``, ``MIGRATIONS`` and ``create_app(settings)``."""
        return importlib.import_module(f"subgraphs.{self.name}.app")


SUBGRAPHS = [
    SubgraphSpec("auth", 8001),
    SubgraphSpec("tenancy", 8002),
    SubgraphSpec("keys", 8003),
    SubgraphSpec("billing", 8004),
    SubgraphSpec("notifications", 8007),
]


def subgraph(name: str) -> SubgraphSpec:
    for spec in SUBGRAPHS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def composition_sources(host: str = "localhost") -> list[Subgraph]:
    """Each subgraph's SDL, straight from its Strawberry schema, with its routing URL."""
    return [
        Subgraph(spec.name, f"http://{host}:{spec.port}/graphql", spec.module.schema.as_str())
        for spec in SUBGRAPHS
    ]


# The kernel's email outbox, retired for the notifications service: its history drops its table.
OUTBOX_MIGRATIONS = MigrationSet("outbox", Path(kernel.__file__).parent / "outbox_migrations")


def all_migrations() -> list[MigrationSet]:
    return [OUTBOX_MIGRATIONS, *(spec.module.MIGRATIONS for spec in SUBGRAPHS)]

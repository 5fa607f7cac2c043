"""The platform's subgraphs: name, port and the module that builds each one."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from subgraphs.kernel.migrations import MigrationSet
from subgraphs.kernel.outbox import MIGRATIONS as OUTBOX_MIGRATIONS


@dataclass(frozen=True)
class SubgraphSpec:
    name: str
    port: int

    @property
    def module(self) -> ModuleType:
        """``subgraphs.<name>.app``: ``schema``, ``MIGRATIONS`` and ``create_app(settings)``."""
        return importlib.import_module(f"subgraphs.{self.name}.app")


SUBGRAPHS = [SubgraphSpec("auth", 8001), SubgraphSpec("tenancy", 8002)]


def subgraph(name: str) -> SubgraphSpec:
    for spec in SUBGRAPHS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def all_migrations() -> list[MigrationSet]:
    return [OUTBOX_MIGRATIONS, *(spec.module.MIGRATIONS for spec in SUBGRAPHS)]

"""Composition errors: Apollo's error codes with the subgraph and schema coordinate at fault."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CompositionError:
    """One reason a set of subgraphs does not compose, coded as Apollo's composition codes it."""

    code: str
    message: str
    subgraph: str | None = None
    coordinate: str | None = None

    def __str__(self) -> str:
        where = ", ".join(part for part in (self.subgraph, self.coordinate) if part)
        return f"{self.code} [{where}] {self.message}" if where else f"{self.code} {self.message}"


@dataclass
class CompositionResult:
    """Either a supergraph SDL or every error found; never both."""

    supergraph_sdl: str | None = None
    errors: list[CompositionError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.supergraph_sdl is not None and not self.errors

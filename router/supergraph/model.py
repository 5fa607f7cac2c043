"""The supergraph's join metadata: which subgraph resolves which type, field and key."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import SelectionSetNode

from router.supergraph.fieldset import FieldSet


@dataclass(frozen=True)
class JoinGraph:
    """A subgraph as the supergraph names it: its ``join__Graph`` value, name and URL."""

    enum_value: str
    name: str
    url: str


@dataclass(frozen=True)
class Key:
    fields: FieldSet
    source: str
    resolvable: bool


@dataclass(frozen=True)
class TypeInSubgraph:
    """A type as one subgraph defines it (`@join__type`)."""

    keys: tuple[Key, ...] = ()
    is_interface_object: bool = False

    def resolvable_keys(self) -> tuple[Key, ...]:
        return tuple(key for key in self.keys if key.resolvable)


@dataclass(frozen=True)
class ContextArgument:
    """An argument the router passes itself (`@fromContext`): the value the selection reads
    from the nearest ancestor of a type that sets the context."""

    name: str
    type: str
    context: str
    selection: SelectionSetNode


@dataclass(frozen=True)
class FieldInSubgraph:
    """A field as one subgraph defines it (`@join__field`)."""

    subgraph: str | None
    requires: FieldSet | None = None
    provides: FieldSet | None = None
    external: bool = False
    override: str | None = None
    used_overridden: bool = False
    override_label: str | None = None
    type: str | None = None
    """The field's type in this subgraph, when it differs from the supergraph's."""
    context_arguments: tuple[ContextArgument, ...] = ()


@dataclass
class TypeJoin:
    name: str
    subgraphs: dict[str, TypeInSubgraph] = field(default_factory=dict)
    fields: dict[str, tuple[FieldInSubgraph, ...]] = field(default_factory=dict)
    implements: dict[str, set[str]] = field(default_factory=dict)
    union_members: dict[str, set[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldPlacement:
    """Where a field can be resolved, for one set of enabled override labels."""

    subgraph: str
    requires: FieldSet | None
    provides: FieldSet | None
    context_arguments: tuple[ContextArgument, ...] = ()

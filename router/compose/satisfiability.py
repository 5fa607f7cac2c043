"""Satisfiability: every field of the supergraph must be reachable by some query path.

The walk follows supergraph paths from the root types, carrying the set of subgraphs that can
be "at" the current type for that path; a field is satisfiable when one of them resolves it,
either directly or after moving to another subgraph through a `@key` it can provide.
"""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass

from graphql import GraphQLInterfaceType, GraphQLObjectType

from router.compose.errors import CompositionError
from router.compose.fieldset_resolution import ResolvedFieldSet, Selected, resolve
from router.compose.metadata import Key, Metadata
from router.compose.naming import graph_enum_values, quoted
from router.compose.supergraph import ComposedSupergraph, Field, NamedType

Composite = GraphQLObjectType | GraphQLInterfaceType
_CONTEXT = re.compile(r'context: ("(?:[^"\\]|\\.)*")')


@dataclass(frozen=True)
class Step:
    """How a path reached a type: through `field`, possibly narrowed to `condition`."""

    field: str
    condition: str | None = None


@dataclass(frozen=True)
class Node:
    type: str
    subgraphs: frozenset[int]
    path: tuple[Step, ...]
    contexts: frozenset[str] = frozenset()
    """The contexts (@context) the path sets for the type's fields: its own and its ancestors'."""


class Satisfiability:
    def __init__(self, supergraph: ComposedSupergraph, metas: list[Metadata]) -> None:
        self.supergraph = supergraph
        self.metas = metas
        graphs = graph_enum_values([meta.name for meta in metas])
        self.index_of = {graphs[meta.name]: index for index, meta in enumerate(metas)}
        self.errors: dict[str, CompositionError] = {}
        self._context_cache: dict[str, frozenset[str]] = {}

    def check(self) -> list[CompositionError]:
        seen: set[tuple[str, frozenset[int], frozenset[str]]] = set()
        queue = deque(
            Node(root, frozenset(self._defining(root)), ())
            for root in self.supergraph.roots.values()
        )
        while queue:
            node = queue.popleft()
            if (node.type, node.subgraphs, node.contexts) in seen or not node.subgraphs:
                continue
            seen.add((node.type, node.subgraphs, node.contexts))
            queue.extend(self._visit(node))
        return list(self.errors.values())

    def _defining(self, type_name: str) -> list[int]:
        return [i for i, _ in enumerate(self.metas) if self._view(i, type_name) is not None]

    def _view(self, index: int, type_name: str) -> Composite | None:
        """The type (or the @interfaceObject standing for it) subgraph `index` knows it as."""
        schema = self.metas[index].subgraph.schema
        type_ = schema.type_map.get(type_name)
        if isinstance(type_, Composite):
            return type_
        merged = self.supergraph.types.get(type_name)
        for interface in merged.interfaces if merged else ():
            if interface in self.metas[index].interface_objects:
                found = schema.type_map.get(interface)
                return found if isinstance(found, Composite) else None
        return None

    def _visit(self, node: Node) -> list[Node]:
        type_ = self.supergraph.types[node.type]
        here = self._closure(node.type, set(node.subgraphs))
        following = []
        for name, merged in type_.fields.items():
            resolvers = frozenset(
                i
                for i in here
                if self._resolves(i, type_, merged)
                and self._contexts_needed(i, merged) <= node.contexts
            )
            if not resolvers:
                if not self._checked_per_runtime_type(node, type_):
                    self._report(node, here, name)
                continue
            following += self._next_nodes(node, name, merged, resolvers)
        return following

    def _next_nodes(
        self, node: Node, name: str, merged: Field, resolvers: frozenset[int]
    ) -> list[Node]:
        target = merged.type.strip("[]!")
        target_type = self.supergraph.types.get(target)
        if target_type is None or target_type.kind not in ("type", "interface", "union"):
            return []
        path = (*node.path, Step(name))
        contexts = node.contexts | self._contexts_set(target)
        nodes = [Node(target, resolvers, path, contexts)]
        if target_type.kind != "type":
            for runtime in self._runtime_types(target_type):
                knowing = frozenset(i for i in resolvers if self._view(i, runtime) is not None)
                narrowed = contexts | self._contexts_set(runtime)
                nodes.append(Node(runtime, knowing, (*node.path, Step(name, runtime)), narrowed))
        return nodes

    def _contexts_set(self, type_name: str) -> frozenset[str]:
        """The contexts a type sets for its fields: its own, those of the abstract types it
        belongs to, and for an abstract type those every one of its object types sets."""
        found = self._context_cache.get(type_name)
        if found is None:
            merged = self.supergraph.types[type_name]
            found = self._own_contexts(merged)
            if merged.kind == "type":
                for abstract in self.supergraph.types.values():
                    if abstract.name in merged.interfaces or merged.name in abstract.members:
                        found |= self._own_contexts(abstract)
            elif runtimes := self._runtime_types(merged):
                found |= frozenset.intersection(*map(self._contexts_set, runtimes))
            self._context_cache[type_name] = found
        return found

    def _own_contexts(self, merged: NamedType) -> frozenset[str]:
        return frozenset(json.loads(d.args[0][1]) for d in merged.directives if d.name == "context")

    def _contexts_needed(self, index: int, merged: Field) -> frozenset[str]:
        """The contexts subgraph `index` needs set above the field for its contextual
        arguments (@fromContext)."""
        for join in merged.directives:
            args = dict(join.args) if join.name == "join__field" else {}
            if self.index_of.get(args.get("graph", "")) == index and "contextArguments" in args:
                return frozenset(map(json.loads, _CONTEXT.findall(args["contextArguments"])))
        return frozenset()

    def _checked_per_runtime_type(self, node: Node, type_: NamedType) -> bool:
        """An interface field that no subgraph here has on the interface is asked through
        each implementation these subgraphs can return (`... on T { f }`): those paths are
        walked as their own nodes, which report what they cannot reach."""
        return type_.kind == "interface" and any(
            self._view(i, runtime) is not None
            for runtime in self._runtime_types(type_)
            for i in node.subgraphs
        )

    def _runtime_types(self, abstract: NamedType) -> list[str]:
        if abstract.kind == "union":
            return abstract.members
        return [t.name for t in self.supergraph.types.values() if abstract.name in t.interfaces]

    def _resolves(self, index: int, type_: NamedType, merged: Field) -> bool:
        view = self._view(index, type_.name)
        if view is None or merged.name not in view.fields:
            return False
        meta = self.metas[index]
        coordinate = f"{view.name}.{merged.name}"
        if coordinate in meta.external and coordinate not in meta.provided:
            return False
        joins = [d for d in merged.directives if d.name == "join__field" and d.args]
        if not joins:
            return True
        for join in joins:
            args = dict(join.args)
            if self.index_of.get(args["graph"]) == index:
                return "usedOverridden" not in args or "overrideLabel" in args
        return False

    def _closure(self, type_name: str, subgraphs: set[int]) -> set[int]:
        """Add every subgraph reachable through a `@key` from one already in the set."""
        reached = set(subgraphs)
        changed = True
        while changed:
            changed = False
            for target in range(len(self.metas)):
                if target in reached:
                    continue
                if self._can_jump(reached, target, type_name):
                    reached.add(target)
                    changed = True
        return reached

    def _keys(self, index: int, type_name: str) -> list[tuple[Key, ResolvedFieldSet]]:
        view = self._view(index, type_name)
        if view is None:
            return []
        meta = self.metas[index]
        return [
            (key, resolve(meta.subgraph.schema, view, key.fields))
            for key in meta.keys.get(view.name, [])
            if key.resolvable
        ]

    def _can_jump(self, sources: set[int], target: int, type_name: str) -> bool:
        """A key of `target` whose fields the subgraphs reached so far produce between them
        (a compound key's parts may come from different subgraphs)."""
        return any(
            all(
                any(self._collects(source, type_name, [selected]) for source in sources)
                for selected in field_set.selections
            )
            for _, field_set in self._keys(target, type_name)
        )

    def _collects(self, index: int, type_name: str, selections: list[Selected]) -> bool:
        """Can subgraph `index` produce these key fields for `type_name` on its own?"""
        view = self._view(index, type_name)
        meta = self.metas[index]
        for selected in selections:
            if view is None or selected.name not in view.fields:
                return False
            if f"{view.name}.{selected.name}" in meta.external:
                return False
            child_type = str(view.fields[selected.name].type).strip("[]!")
            if selected.children and not self._collects(index, child_type, selected.children):
                return False
        return True

    def _report(self, node: Node, here: set[int], name: str) -> None:
        coordinate = f"{node.type}.{name}"
        if coordinate in self.errors:
            return
        reasons = []
        type_ = self.supergraph.types[node.type]
        for index in sorted(here):
            reasons.append(f'- from subgraph "{self.metas[index].name}":')
            if self._resolves(index, type_, type_.fields[name]):
                reasons.append(
                    f'  - could not find a match for required context for field "{coordinate}".'
                )
                continue
            reasons.append(f'  - cannot find field "{coordinate}".')
            for target in sorted(set(range(len(self.metas))) - here):
                reasons += self._jump_reasons(index, target, node.type, name)
        message = (
            "The following supergraph API query:\n"
            + _print_path(node.path, name)
            + "\ncannot be satisfied by the subgraphs because:\n"
            + "\n".join(reasons)
        )
        self.errors[coordinate] = CompositionError(
            "SATISFIABILITY_ERROR", message, None, coordinate
        )

    def _jump_reasons(self, source: int, target: int, type_name: str, name: str) -> list[str]:
        keys = self._keys(target, type_name)
        target_name = self.metas[target].name
        reasons = [
            f'  - cannot move to subgraph "{target_name}" using @key(fields: {quoted(key.fields)})'
            f' of "{type_name}", the key field(s) cannot be resolved from subgraph '
            f'"{self.metas[source].name}".'
            for key, _ in keys
        ]
        view = self._view(target, type_name)
        if keys or view is None or name not in view.fields:
            return reasons
        declared = self.metas[target].keys.get(view.name)
        why = (
            f'none of the @key defined on type "{type_name}" in subgraph "{target_name}" are '
            'resolvable (they are all declared with their "resolvable" argument set to false)'
            if declared
            else f'type "{type_name}" has no @key defined in subgraph "{target_name}"'
        )
        return [
            f'  - cannot move to subgraph "{target_name}", which has field '
            f'"{type_name}.{name}", because {why}.'
        ]


def _print_path(path: tuple[Step, ...], leaf: str) -> str:
    lines = ["{"]
    indent = "  "
    for step in path:
        lines.append(f"{indent}{step.field} {{")
        indent += "  "
        if step.condition:
            lines.append(f"{indent}... on {step.condition} {{")
            indent += "  "
    lines.append(f"{indent}{leaf}")
    while len(indent) > 2:
        indent = indent[:-2]
        lines.append(f"{indent}}}")
    lines.append("}")
    return "\n".join(lines)


def check_satisfiability(
    supergraph: ComposedSupergraph, metas: list[Metadata]
) -> list[CompositionError]:
    """Every field no query path can reach, each reported once with one failing query."""
    return Satisfiability(supergraph, metas).check()

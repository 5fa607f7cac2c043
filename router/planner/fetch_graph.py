"""Fetch groups and their dependencies, turned into plan nodes the way Apollo's planner does.

Groups become nodes in waves: a group's children that depend on it alone run (in parallel)
right after it; a child with several parents waits until all of them have run. The groups of
a `@defer` fragment become a node of their own, run once the part it depends on has run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from graphql import VariableDefinitionNode, print_ast

from router.planner.plan import (
    Condition,
    ContextRewrite,
    Defer,
    DeferredNode,
    Fetch,
    Flatten,
    Parallel,
    PlanNode,
    RequiredFragment,
    Sequence,
)
from router.planner.selection import Conditions, SelectionTree


@dataclass(eq=False)
class DeferBlock:
    """A `@defer` fragment met by the planning walk; groups planned for it belong to it."""

    label: str | None
    path: tuple[str, ...]
    if_variable: str | None
    type_condition: str
    fragment: object
    parent: DeferBlock | None


@dataclass(eq=False)
class FetchGroup:
    subgraph: str
    merge_at: tuple[str, ...]
    entity_type: str | None
    conditions: Conditions
    reusable: bool = True
    typename_rewrite: str | None = None
    selection: SelectionTree = field(default_factory=SelectionTree)
    inputs: SelectionTree = field(default_factory=SelectionTree)
    parents: list[FetchGroup] = field(default_factory=list)
    children: list[FetchGroup] = field(default_factory=list)
    context_rewrites: list[ContextRewrite] = field(default_factory=list)
    defer: DeferBlock | None = None

    def entity_selection(self, entity_type: str) -> SelectionTree:
        return self.selection.fragment(entity_type)

    def entity_inputs(self, entity_type: str) -> SelectionTree:
        return self.inputs.fragment(entity_type)

    def add_parent(self, parent: FetchGroup) -> None:
        if parent not in self.parents:
            self.parents.append(parent)
            parent.children.append(self)

    def move_last_among_siblings(self) -> None:
        for parent in self.parents:
            parent.children.remove(self)
            parent.children.append(self)

    def narrow_conditions(self, conditions: Conditions) -> None:
        # Needed when any of its fields is: only conditions common to all still hold.
        self.conditions &= conditions


class FetchGraph:
    def __init__(self, operation_kind: str, *, types_differ: bool = False) -> None:
        self.operation_kind = operation_kind
        self.types_differ = types_differ
        """Whether subgraphs differ on some field types, so sibling fields may need aliases."""
        self.roots: list[FetchGroup] = []
        self.context_variables: dict[str, VariableDefinitionNode] = {}
        """The variables contextual arguments are sent as, beside the operation's own."""
        self.defers: list[DeferBlock] = []
        self.deferring: DeferBlock | None = None
        """A `@defer` fragment planned in the fetch of its parent (on a value type): the
        fetches its fields need from there on belong to it."""

    def root_group(
        self, subgraph: str, conditions: Conditions, defer: DeferBlock | None = None
    ) -> FetchGroup:
        sequential = self.operation_kind == "mutation"
        candidates = self.roots[-1:] if sequential else self.roots
        for group in candidates:
            if group.subgraph == subgraph and group.defer is defer:
                group.narrow_conditions(conditions)
                return group
        group = FetchGroup(subgraph, (), None, conditions, defer=defer)
        self.roots.append(group)
        return group

    def existing_child(
        self,
        parent: FetchGroup,
        subgraph: str,
        merge_at: tuple[str, ...],
        entity_type: str,
        rewrite: str | None,
        defer: DeferBlock | bool | None = True,
    ) -> FetchGroup | None:
        """A group of the parent's fetching from the subgraph at that path, to which entities of
        `entity_type` can be added: one fetch serves several types unless __typename is
        rewritten for an @interfaceObject. It belongs to the `defer` fragment given, by default
        the parent's."""
        block = self._block(parent, defer)
        return next(
            (
                c
                for c in parent.children
                if c.reusable
                and c.defer is block
                and c.subgraph == subgraph
                and c.merge_at == merge_at
                and c.entity_type is not None
                and (c.entity_type == entity_type or c.typename_rewrite is rewrite is None)
            ),
            None,
        )

    def child_group(
        self,
        parent: FetchGroup,
        subgraph: str,
        merge_at: tuple[str, ...],
        entity_type: str,
        conditions: Conditions,
        rewrite: str | None = None,
        defer: DeferBlock | bool | None = True,
    ) -> FetchGroup:
        block = self._block(parent, defer)
        existing = self.existing_child(parent, subgraph, merge_at, entity_type, rewrite, block)
        if existing is not None:
            existing.narrow_conditions(conditions)
            return existing
        group = FetchGroup(
            subgraph, merge_at, entity_type, conditions, typename_rewrite=rewrite, defer=block
        )
        group.add_parent(parent)
        return group

    def _block(self, parent: FetchGroup, defer: DeferBlock | bool | None) -> DeferBlock | None:
        """The `@defer` fragment a child of `parent` belongs to; True: the parent's, or the
        one planned in the parent's fetch."""
        if defer is not True:
            assert not isinstance(defer, bool)  # noqa: S101 - only True stands for another
            return defer
        deferring = self.deferring
        if deferring is not None and parent.defer is deferring.parent:
            return deferring
        return parent.defer

    def requires_groups(
        self, parents: list[FetchGroup], subgraph: str, merge_at: tuple[str, ...]
    ) -> list[FetchGroup]:
        """The groups for fields with @requires that wait for exactly these parents."""
        return [
            c
            for c in parents[0].children
            if not c.reusable
            and c.defer is parents[0].defer
            and c.subgraph == subgraph
            and c.merge_at == merge_at
            and set(map(id, c.parents)) == set(map(id, parents))
        ]

    def requires_group(
        self,
        parents: Iterable[FetchGroup],
        subgraph: str,
        merge_at: tuple[str, ...],
        entity_type: str,
        conditions: Conditions,
    ) -> FetchGroup:
        parents = list(parents)
        defer = parents[0].defer if parents else None
        group = FetchGroup(subgraph, merge_at, entity_type, conditions, reusable=False, defer=defer)
        for parent in parents:
            group.add_parent(parent)
        return group

    def to_plan_node(
        self, operation_name: str | None, variables: dict[str, VariableDefinitionNode]
    ) -> PlanNode | None:
        self._remove_empty_groups()
        self._remove_redundant_edges()
        if self.context_variables:
            variables = {**variables, **self.context_variables}
        builder = _NodeBuilder(self.operation_kind, operation_name, variables, self.types_differ)
        if not self.defers:
            state = _State(list(self.roots), [])
            parallel = self.operation_kind != "mutation"
            sequence, _ = builder.process_waves(state, parallel, frozenset())
            return _sequence(sequence)
        groups = self._ordered_groups()
        depends = {id(block): self._depends(block, groups) for block in self.defers}
        builder.depended = {id(g) for found in depends.values() for g in found}
        primary = builder.block_node(None, groups)
        return Defer(primary, self._deferred(builder, None, groups, depends))

    def _deferred(
        self,
        builder: _NodeBuilder,
        parent: DeferBlock | None,
        groups: list[FetchGroup],
        depends: dict[int, list[FetchGroup]],
    ) -> tuple[DeferredNode, ...]:
        nodes = []
        for block in self.defers:
            if block.parent is not parent:
                continue
            node = builder.block_node(block, groups)
            nested = self._deferred(builder, block, groups, depends)
            ids = sorted({builder.ids[id(g)] for g in depends[id(block)] if id(g) in builder.ids})
            nodes.append(
                DeferredNode(
                    block.label,
                    block.path,
                    block.if_variable,
                    block.type_condition,
                    block.fragment,
                    node,
                    nested,
                    tuple(ids),
                )
            )
        return tuple(nodes)

    def _depends(self, block: DeferBlock, groups: list[FetchGroup]) -> list[FetchGroup]:
        """The groups of other parts the fragment's own groups start from: those their
        inputs come from; in a mutation, its root fields also wait for the root fields of
        the part it is in, which run before them."""
        found: list[FetchGroup] = []
        for group in groups:
            if group.defer is not block:
                continue
            found += [p for p in group.parents if p.defer is not block and p not in found]
            if self.operation_kind == "mutation" and group.entity_type is None:
                found += [g for g in self.roots if g.defer is block.parent and g not in found]
        return found

    def cost(self) -> tuple[int, int, int]:
        """How Apollo's planner weighs a plan: a fetch weighs more the more fetches run before
        it (1, 100, 200, ...), then the number of fetches, then the longest chain of them."""
        levels: dict[int, int] = {}

        def level(group: FetchGroup) -> int:
            if id(group) not in levels:
                levels[id(group)] = 1 + max(map(level, group.parents), default=-1)
            return levels[id(group)]

        groups = [g for g in self._all_groups() if not g.selection.is_empty() or g.children]
        found = [level(g) for g in groups]
        return sum(max(1, 100 * n) for n in found), len(found), max(found, default=-1) + 1

    def _remove_empty_groups(self) -> None:
        for group in self._all_groups():
            if group.selection.is_empty() and not group.children:
                for parent in group.parents:
                    parent.children.remove(group)
                group.parents.clear()

    def _remove_redundant_edges(self) -> None:
        for group in self._all_groups():
            for parent in list(group.parents):
                others = [p for p in group.parents if p is not parent]
                if any(_is_ancestor(parent, other) for other in others):
                    group.parents.remove(parent)
                    parent.children.remove(group)

    def _ordered_groups(self) -> list[FetchGroup]:
        """Every group, roots first in their order, then children in theirs."""
        seen: dict[int, FetchGroup] = {}
        queue = list(self.roots)
        while queue:
            group = queue.pop(0)
            if id(group) not in seen:
                seen[id(group)] = group
                queue.extend(group.children)
        return list(seen.values())

    def _all_groups(self) -> list[FetchGroup]:
        seen: dict[int, FetchGroup] = {}
        stack = list(self.roots)
        while stack:
            group = stack.pop()
            if id(group) not in seen:
                seen[id(group)] = group
                stack.extend(group.children)
        return list(seen.values())


def _is_ancestor(candidate: FetchGroup, group: FetchGroup) -> bool:
    stack = list(group.parents)
    while stack:
        current = stack.pop()
        if current is candidate:
            return True
        stack.extend(current.parents)
    return False


@dataclass
class _State:
    ready: list[FetchGroup]
    waiting: list[tuple[FetchGroup, list[FetchGroup]]]
    """Groups with parents still to run, and which ones."""

    def merged(self, other: _State) -> _State:
        ready = self.ready + [g for g in other.ready if g not in self.ready]
        waiting: list[tuple[FetchGroup, list[FetchGroup]]] = []
        others = list(other.waiting)
        for group, pending in self.waiting:
            match = next((o for o in others if o[0] is group), None)
            if match is not None:
                others.remove(match)
                pending = [p for p in pending if p in match[1]]
            if pending:
                waiting.append((group, pending))
            elif group not in ready:
                ready.append(group)
        return _State(ready, waiting + others)

    def after_running(self, ran: list[FetchGroup]) -> _State:
        ready = list(self.ready)
        waiting: list[tuple[FetchGroup, list[FetchGroup]]] = []
        for group, pending in self.waiting:
            pending = [p for p in pending if p not in ran]
            if pending:
                waiting.append((group, pending))
            elif group not in ready:
                ready.append(group)
        return _State(ready, waiting)


class _NodeBuilder:
    def __init__(
        self,
        operation_kind: str,
        operation_name: str | None,
        variables: dict[str, VariableDefinitionNode],
        types_differ: bool,
    ) -> None:
        self.types_differ = types_differ
        self.operation_kind = operation_kind
        self.operation_name = operation_name
        self.variables = variables
        self.count = 0
        self.block: DeferBlock | None = None
        """The `@defer` fragment whose groups are being built (None: the primary part)."""
        self.parted = False
        """Whether the groups are built part by part, so other parts' groups are left out."""
        self.depended: set[int] = set()
        """The groups `@defer` fragments depend on: their fetches get ids."""
        self.ids: dict[int, int] = {}
        """The id of each of those groups' fetch, once built."""

    def block_node(self, block: DeferBlock | None, groups: list[FetchGroup]) -> PlanNode | None:
        """The node of one part's groups: those with no parent in the part start it."""
        self.block, self.parted = block, True
        starts = [
            g for g in groups if g.defer is block and not any(p.defer is block for p in g.parents)
        ]
        # A mutation's root fields run one after another.
        mutating = self.operation_kind == "mutation" and any(g.entity_type is None for g in starts)
        sequence, _ = self.process_waves(_State(starts, []), not mutating, frozenset())
        return _sequence(sequence)

    def _children(self, group: FetchGroup) -> list[FetchGroup]:
        if not self.parted:
            return group.children
        return [c for c in group.children if c.defer is self.block]

    def _parents(self, group: FetchGroup) -> list[FetchGroup]:
        if not self.parted:
            return group.parents
        return [p for p in group.parents if p.defer is self.block]

    def process_waves(
        self, state: _State, parallel: bool, handled: Conditions
    ) -> tuple[list[PlanNode], _State]:
        sequence: list[PlanNode] = []
        while state.ready:
            node, state = self._process_wave(state, parallel, handled)
            parallel = True
            if node is not None:
                sequence.append(node)
        return sequence, state

    def _process_wave(
        self, state: _State, parallel: bool, handled: Conditions
    ) -> tuple[PlanNode | None, _State]:
        nodes: list[PlanNode] = []
        after = _State([], state.waiting)
        for group in state.ready:
            node, group_state = self._process_group(group, handled)
            nodes.append(node)
            after = after.merged(group_state)
        combined = _parallel(nodes) if parallel else _sequence(nodes)
        return combined, after.after_running(state.ready)

    def _process_group(self, group: FetchGroup, handled: Conditions) -> tuple[PlanNode, _State]:
        conditions = group.conditions - handled
        fetch = self._fetch_node(group, handled | conditions)
        children = self._children(group)
        if not children:
            return _with_conditions(conditions, fetch), _State([], [])
        ready = [c for c in children if len(self._parents(c)) == 1]
        waiting = [
            (c, [p for p in self._parents(c) if p is not group])
            for c in children
            if len(self._parents(c)) > 1
        ]
        state = _State(ready, waiting)
        if not ready:
            return _with_conditions(conditions, fetch), state
        sequence, state = self.process_waves(state, True, handled | conditions)
        node = _sequence([fetch, *sequence])
        assert node is not None  # noqa: S101 - the fetch itself is there
        return _with_conditions(conditions, node), state

    def _fetch_node(self, group: FetchGroup, handled: Conditions) -> PlanNode:
        index = self.count
        self.count += 1
        fetch_id = None
        if id(group) in self.depended:
            fetch_id = self.ids[id(group)] = index
        name = f"{self.operation_name}__{group.subgraph}__{index}" if self.operation_name else None
        used = group.selection.variables(handled)
        definitions = "".join(_print_variable(self.variables[v]) for v in used)
        renames = tuple(group.selection.alias_conflicts()) if self.types_differ else ()
        if group.entity_type is None:
            header = _header(self.operation_kind, name, definitions)
            operation = header + group.selection.print(handled)
            return Fetch(
                group.subgraph,
                operation,
                name,
                self.operation_kind,
                tuple(used),
                output_renames=renames,
                id=fetch_id,
            )
        header = _header("query", name, "$representations:[_Any!]!" + definitions)
        selection = group.selection.print(handled)
        required = group.inputs.required()
        fetch = Fetch(
            group.subgraph,
            f"{header}{{_entities(representations:$representations){selection}}}",
            name,
            "query",
            tuple(used),
            tuple(r for r in required if isinstance(r, RequiredFragment)),
            group.typename_rewrite,
            renames,
            tuple(group.context_rewrites),
            id=fetch_id,
        )
        return Flatten(group.merge_at, fetch)


def _header(kind: str, name: str | None, definitions: str) -> str:
    header = f"{kind} {name}" if name else kind
    return f"{header}({definitions})" if definitions else header


def _print_variable(definition: VariableDefinitionNode) -> str:
    text = f"${definition.variable.name.value}:{print_ast(definition.type)}"
    if definition.default_value is not None:
        text += f"={print_ast(definition.default_value)}"
    return text


def _with_conditions(conditions: Conditions, node: PlanNode) -> PlanNode:
    for variable, included in sorted(conditions, reverse=True):
        node = Condition(variable, node if included else None, None if included else node)
    return node


def _flat(kind: type[Sequence] | type[Parallel], nodes: list[PlanNode]) -> list[PlanNode]:
    flat: list[PlanNode] = []
    for node in nodes:
        flat.extend(node.nodes if isinstance(node, kind) else (node,))
    return flat


def _sequence(nodes: list[PlanNode]) -> PlanNode | None:
    flat = _flat(Sequence, nodes)
    if len(flat) <= 1:
        return flat[0] if flat else None
    return Sequence(tuple(flat))


def _parallel(nodes: list[PlanNode]) -> PlanNode | None:
    flat = _flat(Parallel, nodes)
    if len(flat) <= 1:
        return flat[0] if flat else None
    return Parallel(tuple(flat))

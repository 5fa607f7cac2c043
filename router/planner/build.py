"""The planning walk: an operation's selections distributed over fetch groups, per subgraph; at
each open choice it asks `Choices`, so the search (`search.cheapest`) can walk it again with
other options and keep the cheapest plan."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

from graphql import (
    ArgumentNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLCompositeType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    parse_type,
    print_ast,
)

from router.planner.errors import PlanningError
from router.planner.fetch_graph import DeferBlock, FetchGraph, FetchGroup
from router.planner.plan import ContextRewrite
from router.planner.search import Choices, cheapest
from router.planner.selection import (
    Conditions,
    FieldSelection,
    SelectionTree,
    condition_of,
    defer_directive,
    is_deferred,
    variable_conditions,
)
from router.supergraph import ContextArgument, FieldPlacement, FieldSet, Key, Supergraph


@dataclass(frozen=True)
class _Hop:
    subgraph: str
    key: Key
    planned_key: bool = False
    """Whether the key's fields are not all where the entity is, and are planned like the
    fields of a @requires first."""


@dataclass(frozen=True)
class _Route:
    entity_type: str
    hops: tuple[_Hop, ...]
    typename_rewrite: str | None


@dataclass
class _Position:
    """Where selections land: a group, the spot in its selection, and the response path."""

    group: FetchGroup
    tree: SelectionTree
    parent_type: GraphQLCompositeType
    path: tuple[str, ...]
    provided: FieldSet | None
    conditions: Conditions
    parent: _Position | None = None
    step: FieldNode | str | None = None
    """How this position was reached from `parent`: a field, or a type condition; None where
    a fetch starts (a root or an entity)."""
    origin: _Position | None = None
    """Where a fetch starting at an entity was entered from (the same object in the fetch
    before), so contexts can be looked for above it."""


def build_fetch_graph(
    supergraph: Supergraph,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    labels: frozenset[str],
) -> FetchGraph:
    routes: dict[tuple[str, ...], list[_Route]] = {}

    def plan(choices: Choices) -> FetchGraph:
        walk = _Walk(supergraph, fragments, labels, operation.operation.value, choices, routes)
        walk.plan_root(operation.selection_set)
        return walk.graph

    return cheapest(plan, FetchGraph.cost)


class _Walk:
    def __init__(
        self,
        supergraph: Supergraph,
        fragments: dict[str, FragmentDefinitionNode],
        labels: frozenset[str],
        kind: str,
        choices: Choices,
        routes: dict[tuple[str, ...], list[_Route]],
    ) -> None:
        self.supergraph = supergraph
        self.choices = choices
        self._two_hop_routes = routes
        """Routes through a middle subgraph, by source, parent type and field: the same in
        every walk, where no @provides is in play."""
        self.schema = supergraph.schema
        self.fragments = fragments
        self.labels = labels
        self.graph = FetchGraph(kind, types_differ=bool(supergraph.subgraph_types))
        root = self.schema.get_root_type(OperationType(kind))
        if root is None:
            raise PlanningError(f"the supergraph has no {kind} type")
        self.root: GraphQLObjectType = root
        self._recorders: list[set[int]] = []
        self._aliases: dict[str, dict[str, str]] = {}
        self._siblings: Sequence[SelectionNode] = ()
        """The selections around the field being planned, for choosing among subgraphs."""
        self._groups_by_id: dict[int, FetchGroup] = {}

    # roots

    def plan_root(self, selection_set: SelectionSetNode) -> None:
        self._plan_roots(selection_set.selections, frozenset(), None)

    def _plan_roots(
        self, selections: Sequence[SelectionNode], conditions: Conditions, defer: DeferBlock | None
    ) -> None:
        deferred: list[tuple[SelectionNode, Conditions]] = []
        fields = list(self._root_fields(selections, conditions, deferred))
        siblings = [node for node, _ in fields]
        for node, field_conditions in fields:
            name = node.name.value
            if name in ("__typename", "__schema", "__type"):
                continue
            placements = self.supergraph.placements(self.root.name, name, self.labels)
            ranked, settled = self._ranked(
                list(placements),
                self.root,
                node,
                lambda s: any(g.subgraph == s and g.defer is defer for g in self.graph.roots),
                siblings,
            )
            choice: tuple[object, ...] = ("root", node.alias.value if node.alias else name)
            if defer is not None:
                choice += (id(defer.fragment),)
            subgraph = self.choices.take(choice, ranked, str, settled)
            group = self.graph.root_group(subgraph, field_conditions, defer)
            position = _Position(group, group.selection, self.root, (), None, field_conditions)
            self._add_field(position, node, placements[subgraph].provides)
        for fragment, fragment_conditions in deferred:
            block = self._defer_block(fragment, (), defer, self.root.name)  # type: ignore[arg-type]
            inner = self._fragment_selections(fragment)
            self._plan_roots(inner, fragment_conditions, block)

    def _root_fields(
        self,
        selections: Sequence[SelectionNode],
        conditions: Conditions,
        deferred: list[tuple[SelectionNode, Conditions]],
    ) -> Iterator[tuple[FieldNode, Conditions]]:
        for selection in selections:
            own = _conditions(selection.directives)
            if own is None:
                continue
            if isinstance(selection, FieldNode):
                yield selection, conditions | own
            elif self._deferred(selection):
                deferred.append((selection, conditions | own))
            else:
                inner = self._fragment_selections(selection)
                yield from self._root_fields(inner, conditions | own, deferred)

    # @defer: the fragment's fields are fetched after the part it is in, from the entity it is
    # on (a key jump, to its own subgraph too, as Apollo plans it) or the root; on a value type
    # they come with their parent, and only their delivery waits.

    def _deferred(self, selection: SelectionNode) -> bool:
        """Whether a fragment is deferred: `@defer` unless `if: false`, in a query or a
        mutation (whose root fields still run one after another, in the first part)."""
        return self.graph.operation_kind != "subscription" and is_deferred(selection, frozenset())

    def _defer_block(
        self,
        fragment: InlineFragmentNode | FragmentSpreadNode,
        path: tuple[str, ...],
        parent: DeferBlock | None,
        parent_type: str,
    ) -> DeferBlock:
        directive = defer_directive(fragment.directives)
        assert directive is not None  # noqa: S101 - callers check `_deferred`
        arguments = {a.name.value: a.value for a in directive.arguments or ()}
        label = arguments.get("label")
        condition = arguments.get("if")
        block = DeferBlock(
            label.value if isinstance(label, StringValueNode) else None,
            path,
            condition.name.value if isinstance(condition, VariableNode) else None,
            _type_condition(fragment, self.fragments) or parent_type,
            fragment,
            parent,
        )
        self.graph.defers.append(block)
        return block

    def _plan_deferred(
        self, at: _Position, fragment: InlineFragmentNode | FragmentSpreadNode
    ) -> None:
        parent = at.parent_type
        block = self._defer_block(fragment, at.path, at.group.defer, parent.name)
        selections = self._fragment_selections(fragment)
        condition = block.type_condition
        if condition == parent.name or not is_abstract_type(parent):
            positions = [at]
        elif self._spreadable(at, condition):
            positions = [self._narrowed(at, condition)]
        else:
            positions = [self._narrowed(at, r) for r in self._runtime_types(at, condition)]
        for position in positions:
            self._defer_at(position, selections, block)

    def _requires_any(
        self, subgraph: str, parent: GraphQLObjectType, selections: Sequence[SelectionNode]
    ) -> bool:
        """Whether a field among the selections has @requires in the subgraph."""
        for node in _fields_in(SelectionSetNode(selections=tuple(selections))):
            placement = self.supergraph.placements(parent.name, node.name.value, self.labels)
            found = placement.get(subgraph)
            if found is not None and found.requires is not None:
                return True
        return False

    def _defer_at(
        self, at: _Position, selections: Sequence[SelectionNode], block: DeferBlock
    ) -> None:
        entity = at.parent_type
        if not isinstance(entity, GraphQLObjectType) or at.provided is not None:
            self._defer_with_parent(at, selections, block)
            return
        source = at.group.subgraph
        keys = {
            target: key
            for target in sorted(self.supergraph.subgraphs)
            if (key := self._reachable_key(source, at, entity.name, target)) is not None
        }
        if not keys:
            self._defer_with_parent(at, selections, block)
            return

        def weight(target: str, part: Sequence[SelectionNode]) -> int:
            # A field with @requires there costs a fetch of what it requires first.
            return self._misses(target, entity, part) + self._requires_any(target, entity, part)

        ranked = sorted(keys, key=lambda t: (weight(t, selections), t != source))
        settled = len(ranked) == 1 or weight(ranked[0], selections) == 0
        choice = ("defer", source, at.path, entity.name, id(block.fragment))
        first = self.choices.take(choice, ranked, str, settled)
        # Each field from the subgraph that misses least of it, side by side, as Apollo
        # plans a deferred fragment's fields from the entity.
        parts: dict[str, list[SelectionNode]] = {first: []}
        for unit in self._units(selections):
            best = min(keys, key=lambda t: (weight(t, [unit]), t != first))
            parts.setdefault(best, []).append(unit)
        for target, part in parts.items():
            if part:
                position = self._entity_position(at, target, keys[target], entity.name, None, block)
                self._plan_selections(position, part)

    def _defer_with_parent(
        self, at: _Position, selections: Sequence[SelectionNode], block: DeferBlock
    ) -> None:
        """A deferred fragment's fields fetched with its parent; the fetches they need from
        elsewhere wait for it, as Apollo plans them."""
        outer, self.graph.deferring = self.graph.deferring, block
        self._plan_selections(at, selections)
        self.graph.deferring = outer

    # selections

    def _plan_selections(self, at: _Position, selections: Sequence[SelectionNode]) -> None:
        if self._sees_interface_as_object(at):
            local, concrete = self._split_for_interface_object(at, selections)
            for position, part in self._concrete_type_positions(at, concrete):
                self._plan_selections(position, part)
            selections = local
        typenames: list[FieldNode] = []
        landed: _Position | None = None
        for selection in selections:
            own = _conditions(selection.directives)
            if own is None:
                continue
            if isinstance(selection, FieldNode):
                if selection.name.value == "__typename":
                    typenames.append(selection)
                    continue
                self._siblings = selections
                where = self._plan_field(_with(at, own), selection)
                landed = landed or where
            elif self._deferred(selection):
                self._plan_deferred(_with(at, own), selection)  # type: ignore[arg-type]
            elif isinstance(selection, InlineFragmentNode | FragmentSpreadNode):
                self._plan_fragment(_with(at, own), selection)
        # Apollo sends __typename with the first sibling field, wherever that one goes.
        target = landed or at
        for typename in typenames:
            target.tree.add_field(
                "__typename",
                alias=typename.alias.value if typename.alias else None,
                directives=_condition_directives(typename.directives),
            )
            self._note(target.group)

    # @interfaceObject: a subgraph that sees an interface as an object type knows neither the
    # concrete type nor the implementations' fields; a subgraph that knows the implementations
    # answers them, from a representation typed as the interface.

    def _sees_interface_as_object(self, at: _Position) -> bool:
        if not isinstance(at.parent_type, GraphQLInterfaceType):
            return False
        in_subgraph = self.supergraph.type_in(at.parent_type.name, at.group.subgraph)
        return in_subgraph is not None and in_subgraph.is_interface_object

    def _split_for_interface_object(
        self, at: _Position, selections: Sequence[SelectionNode]
    ) -> tuple[list[SelectionNode], list[SelectionNode]]:
        local: list[SelectionNode] = []
        concrete: list[SelectionNode] = []
        for selection in selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                placements = self.supergraph.placements(at.parent_type.name, name, self.labels)
                # A field another @interfaceObject view resolves is a plain entity jump.
                plain = name != "__typename" and any(
                    (seen := self.supergraph.type_in(at.parent_type.name, s)) is not None
                    and seen.is_interface_object
                    for s in placements
                )
                (local if plain else concrete).append(selection)
                continue
            condition = _type_condition(selection, self.fragments)  # type: ignore[arg-type]
            if condition in (None, at.parent_type.name) and not selection.directives:
                inner_local, inner_concrete = self._split_for_interface_object(
                    at, self._fragment_selections(selection)
                )
                local.extend(inner_local)
                concrete.extend(inner_concrete)
            else:
                concrete.append(selection)
        return local, concrete

    def _concrete_type_positions(
        self, at: _Position, concrete: Sequence[SelectionNode]
    ) -> list[tuple[_Position, list[SelectionNode]]]:
        """Fetches from subgraphs that know the implementations, each with the concrete
        selections it misses least of, side by side: the first ranked by fewest misses of them
        all (each one more fetch after it), then name."""
        if not concrete:
            return []
        interface = at.parent_type.name
        source = at.group.subgraph
        keys: dict[str, Key] = {}
        for target in sorted(self.supergraph.subgraphs):
            in_target = self.supergraph.type_in(interface, target)
            if target == source or in_target is None or in_target.is_interface_object:
                continue
            key = self._reachable_key(source, at, interface, target)
            if key is not None:
                keys[target] = key
        if not keys:
            raise PlanningError(f"no subgraph knows the implementations of {interface}")
        ranked = sorted(keys, key=lambda t: self._misses(t, at.parent_type, concrete))
        settled = len(ranked) == 1 or self._misses(ranked[0], at.parent_type, concrete) == 0
        choice = ("implementations", source, at.path, interface)
        first = self.choices.take(choice, ranked, str, settled)
        parts: dict[str, list[SelectionNode]] = {first: []}
        for unit in self._units(concrete):
            best = min(keys, key=lambda t: (self._misses(t, at.parent_type, [unit]), t != first))
            parts.setdefault(best, []).append(unit)
        positions = []
        for target, part in parts.items():
            position = self._entity_position(at, target, keys[target], interface, interface)
            position.tree.add_field("__typename")
            positions.append((position, part))
        return positions

    def _units(self, selections: Sequence[SelectionNode]) -> Iterator[SelectionNode]:
        """The selections one field each, a field under type conditions kept inside copies
        of them, so each can go to the subgraph that resolves it."""
        for selection in selections:
            if isinstance(selection, FieldNode):
                yield selection
                continue
            condition = _type_condition(selection, self.fragments)  # type: ignore[arg-type]
            for unit in self._units(self._fragment_selections(selection)):
                yield InlineFragmentNode(
                    type_condition=NamedTypeNode(name=NameNode(value=condition))
                    if condition
                    else None,
                    directives=selection.directives,
                    selection_set=SelectionSetNode(selections=(unit,)),
                )

    def _plan_fragment(
        self, at: _Position, fragment: InlineFragmentNode | FragmentSpreadNode
    ) -> None:
        selections = self._fragment_selections(fragment)
        condition = _type_condition(fragment, self.fragments)
        parent = at.parent_type
        if condition is None or condition == parent.name or not is_abstract_type(parent):
            self._plan_selections(at, selections)
            return
        narrowed = self.schema.get_type(condition)
        if not is_composite_type(narrowed):
            raise PlanningError(f"unknown type condition {condition}")
        if not self._spreadable(at, condition):
            for runtime in self._runtime_types(at, condition):
                self._plan_selections(self._narrowed(at, runtime), [fragment])
            return
        tree = at.tree.fragment(condition)
        inner = _Position(
            at.group,
            tree,
            narrowed,
            at.path,
            at.provided,
            at.conditions,
            at,
            condition,
        )
        self._plan_selections(inner, selections)

    def _spreadable(self, at: _Position, condition: str) -> bool:
        """Whether `... on condition` is valid where the subgraph has the parent type."""
        subgraph = at.group.subgraph
        if self.supergraph.type_in(condition, subgraph) is None:
            return False
        if is_abstract_type(self.schema.get_type(condition)):
            return all(
                self.supergraph.has_member(subgraph, condition, runtime)
                for runtime in self._runtime_types(at, condition)
            )
        return self.supergraph.has_member(subgraph, at.parent_type.name, condition)

    def _runtime_types(self, at: _Position, condition: str) -> list[str]:
        """The object types both the parent and the condition admit that the subgraph returns."""
        parent = at.parent_type.name
        both = self.supergraph.possible_types(parent) & self.supergraph.possible_types(condition)
        return sorted(t for t in both if self.supergraph.has_member(at.group.subgraph, parent, t))

    def _narrowed(self, at: _Position, runtime: str) -> _Position:
        narrowed = self.schema.get_type(runtime)
        return _Position(
            at.group,
            at.tree.fragment(runtime),
            narrowed,  # type: ignore[arg-type]
            at.path,
            at.provided,
            at.conditions,
            at,
            runtime,
        )

    def _fragment_selections(
        self, fragment: InlineFragmentNode | FragmentSpreadNode | SelectionNode
    ) -> Sequence[SelectionNode]:
        if isinstance(fragment, FragmentSpreadNode):
            return self.fragments[fragment.name.value].selection_set.selections
        assert isinstance(fragment, InlineFragmentNode)  # noqa: S101 - fields handled by callers
        return fragment.selection_set.selections

    # fields

    def _plan_field(self, at: _Position, node: FieldNode) -> _Position:
        name = node.name.value
        placements = self.supergraph.placements(at.parent_type.name, name, self.labels)
        contextual = next((p for p in placements.values() if p.context_arguments), None)
        if contextual is not None:
            return self._contextual_fetch(at, node, contextual)
        placement = placements.get(at.group.subgraph)
        if placement is not None and placement.requires is None:
            if is_abstract_type(at.parent_type) and not self._every_type_resolves(at, name):
                return self._plan_per_type(at, node)
            if self._from_elsewhere(at, node):
                return self._other_fetch(at, node, elsewhere=True)
            return self._add_field(at, node, placement.provides)
        if at.provided is not None and at.provided.has(name):
            return self._add_field(at, node, None)
        if is_abstract_type(at.parent_type) and not self._is_entity(at.parent_type.name):
            return self._plan_per_type(at, node)
        if not self._is_entity(at.parent_type.name):
            return self._rehome(at, node)
        return self._other_fetch(at, node)

    # @fromContext: as Apollo plans it, a field with contextual arguments is always fetched as
    # an entity, its arguments sent as variables read from the nearest ancestor setting the
    # context, whose selection the fetches above it are asked for.

    def _contextual_fetch(
        self, at: _Position, node: FieldNode, placement: FieldPlacement
    ) -> _Position:
        entity_type = at.parent_type.name
        target = placement.subgraph
        key = self._reachable_key(at.group.subgraph, at, entity_type, target)
        if key is None:
            at, key = self._through_middle(at, node, entity_type, target)
        at.tree.add_field("__typename")
        at.tree.add_field_set(key.fields)
        self._note(at.group)
        group = self.graph.child_group(at.group, target, at.path, entity_type, at.conditions)
        inputs = group.entity_inputs(entity_type)
        inputs.add_field("__typename")
        inputs.add_field_set(key.fields)
        arguments = list(node.arguments or ())
        for argument in placement.context_arguments:
            variable = self.supergraph.context_variables[
                (target, entity_type, node.name.value, argument.name)
            ]
            self._provide_context(at, group, argument, variable)
            arguments.append(
                ArgumentNode(
                    name=NameNode(value=argument.name),
                    value=VariableNode(name=NameNode(value=variable)),
                )
            )
            self.graph.context_variables[variable] = VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=variable)),
                type=parse_type(argument.type),
            )
        self._note(group)
        contextual = FieldNode(
            alias=node.alias,
            name=node.name,
            arguments=tuple(arguments),
            directives=node.directives,
            selection_set=node.selection_set,
        )
        entity = self.schema.get_type(entity_type)
        current = _Position(
            group,
            group.entity_selection(entity_type),
            entity,  # type: ignore[arg-type]
            at.path,
            None,
            at.conditions,
            origin=at,
        )
        return self._add_field(current, contextual, placement.provides)

    def _through_middle(
        self, at: _Position, node: FieldNode, entity_type: str, target: str
    ) -> tuple[_Position, Key]:
        """Where the fetch's subgraph cannot give the target's key: an entity fetch from a
        subgraph that can, reached by a key of its own, first (one fetching there already
        ranks first); contexts are still looked for above `at`."""
        source = at.group.subgraph
        middles = {
            middle: (first, then)
            for middle in sorted(self.supergraph.subgraphs)
            if middle not in (source, target)
            and (first := self._reachable_key(source, at, entity_type, middle)) is not None
            and (then := self._key_local_in(middle, entity_type, target)) is not None
        }
        if not middles:
            raise PlanningError(f"no key of {entity_type} reaches {target} from {at.path}")
        ranked = sorted(
            middles,
            key=lambda m: (
                self.graph.existing_child(at.group, m, at.path, entity_type, None) is None
            ),
        )
        choice = ("context middle", source, at.path, entity_type, _key(node))
        middle = self.choices.take(choice, ranked, str, len(ranked) == 1)
        first, then = middles[middle]
        return self._entity_position(at, middle, first, entity_type, None), then

    def _provide_context(
        self, at: _Position, group: FetchGroup, argument: ContextArgument, variable: str
    ) -> None:
        """The context's selection fetched at the nearest ancestor setting it, and where the
        fetch reads the argument from."""
        found = self._context_holder(at, argument.context)
        if found is None:
            raise PlanningError(f"no ancestor of {at.parent_type.name} sets {argument.context}")
        holder, ups = found
        holder.tree.add_field("__typename")
        self._note(holder.group)
        with self._recording() as touched:
            for condition, selection, planned in self._context_selections(holder, argument):
                # Read on each object type the holder may be, as Apollo's rewrites say it.
                runtimes = (
                    self._runtime_types(holder, condition)
                    if is_abstract_type(self.schema.get_type(condition))
                    else [condition]
                )
                for runtime in runtimes:
                    rewrite = ContextRewrite(ups, runtime, selection.name.value, variable)
                    if rewrite not in group.context_rewrites:
                        group.context_rewrites.append(rewrite)
                self._plan_selections(holder, [planned])
        for other in touched:
            if other != id(group):
                group.add_parent(self._groups_by_id[other])

    def _context_holder(self, at: _Position, context: str) -> tuple[_Position, int] | None:
        """The nearest position above `at` whose type sets the context, and how many fields up."""
        ups = 0
        current = at
        while True:
            if current.step is None:
                if current.origin is None:
                    return None
                current = current.origin
                continue
            assert current.parent is not None  # noqa: S101 - a step has the position it left
            if isinstance(current.step, FieldNode):
                ups += 1
                if self.supergraph.sets_context(current.parent.parent_type.name, context):
                    return current.parent, ups
            current = current.parent

    def _context_selections(
        self, holder: _Position, argument: ContextArgument
    ) -> Iterator[tuple[str, FieldNode, SelectionNode]]:
        """The context's fields that apply at the holder, each with the type it is read on
        and the selection to plan there (its type condition kept on an abstract holder)."""
        here = holder.parent_type.name
        for selection in argument.selection.selections:
            if isinstance(selection, FieldNode):
                yield here, selection, selection
                continue
            assert isinstance(selection, InlineFragmentNode)  # noqa: S101 - composition checks
            condition = selection.type_condition.name.value if selection.type_condition else here
            possible = self.supergraph.possible_types(condition)
            if (
                condition != here
                and here not in possible
                and not is_abstract_type(holder.parent_type)
            ):
                continue
            for inner in selection.selection_set.selections:
                assert isinstance(inner, FieldNode)  # noqa: S101 - composition checks
                planned = selection if is_abstract_type(holder.parent_type) else inner
                yield condition, inner, planned

    def _other_fetch(self, at: _Position, node: FieldNode, elsewhere: bool = False) -> _Position:
        """An entity's field from another fetch: a root fetch of a subgraph resolving the
        whole path down to it, or an entity jump."""
        if self.graph.operation_kind != "query" or at.group.entity_type is not None:
            return self._jump(at, node, elsewhere)
        anchor, steps = self._steps_up(at, through_entities=True)
        targets = self._root_paths(at, anchor, steps, node)
        key = node.alias.value if node.alias else node.name.value
        choice = ("root path", at.group.subgraph, at.path, at.parent_type.name, key)
        target = self.choices.take(choice, ["", *targets], str) if targets else ""
        start = self._start_in(anchor, target) if target else None
        if start is None:
            return self._jump(at, node, elsewhere)
        return self._add_field(self._walk(start, steps), node, None)

    def _root_paths(
        self, at: _Position, anchor: _Position, steps: list[FieldNode | str], node: FieldNode
    ) -> list[str]:
        """Other subgraphs resolving the query's whole path from its root down to the field:
        a root fetch from one of them runs alongside instead of after (as Apollo plans)."""
        if anchor.parent_type is not self.root:
            return []
        placements = self.supergraph.placements(at.parent_type.name, node.name.value, self.labels)
        return [
            target
            for target in sorted(placements)
            if target != anchor.group.subgraph
            and placements[target].requires is None
            and self._walkable(anchor, steps, target)
        ]

    def _from_elsewhere(self, at: _Position, node: FieldNode) -> bool:
        """Whether to take an entity's field the fetch's subgraph resolves from another one
        instead: an option where another subgraph misses fewer of the fields under it."""
        if node.selection_set is None or at.provided is not None:
            return False
        if not self._is_entity(at.parent_type.name):
            return False
        here = at.group.subgraph
        others = self.supergraph.placements(at.parent_type.name, node.name.value, self.labels)
        if len(others) < 2 or not (misses := self._misses_under(here, at, node)):
            return False
        if all(self._misses_under(s, at, node) >= misses for s in others if s != here):
            return False
        key = node.alias.value if node.alias else node.name.value
        choice = ("elsewhere", at.group.subgraph, at.path, at.parent_type.name, key)
        return self.choices.take(choice, [False, True], bool)

    def _plan_per_type(self, at: _Position, node: FieldNode) -> _Position:
        """An abstract type's field planned under a type condition for each object type."""
        for runtime in self._runtime_types(at, at.parent_type.name):
            self._plan_field(self._narrowed(at, runtime), node)
        return at

    def _entity_position(
        self,
        at: _Position,
        target: str,
        key: Key,
        entity_type: str,
        rewrite: str | None,
        defer: DeferBlock | bool | None = True,
    ) -> _Position:
        """Where selections on the entity at `at` land in a fetch from `target` by `key` (for
        the `defer` fragment given, by default that of `at`'s fetch)."""
        at.tree.add_field("__typename")
        at.tree.add_field_set(key.fields)
        self._note(at.group)
        group = self.graph.child_group(
            at.group, target, at.path, entity_type, at.conditions, rewrite, defer
        )
        inputs = group.entity_inputs(entity_type)
        inputs.add_field("__typename")
        inputs.add_field_set(key.fields)
        self._note(group)
        entity = self.schema.get_type(entity_type)
        tree = group.entity_selection(entity_type)
        return _Position(group, tree, entity, at.path, None, at.conditions, origin=at)  # type: ignore[arg-type]

    def _rehome(self, at: _Position, node: FieldNode) -> _Position:
        """A field of a value type the current subgraph lacks: from the nearest root or entity
        above, the path down to it is fetched again from a subgraph that resolves it all."""
        anchor, steps = self._steps_up(at, through_entities=False)
        name = node.name.value
        placements = self.supergraph.placements(at.parent_type.name, name, self.labels)
        targets = [
            t
            for t in placements
            if self._walkable(anchor, steps, t) and self._can_start_in(anchor, t)
        ]
        if not targets:
            raise PlanningError(f"no path from {at.group.subgraph} to {at.parent_type.name}.{name}")
        ranked, settled = self._ranked(
            targets, at.parent_type, node, lambda t: self._fetched_from(anchor, t), self._siblings
        )
        choice = ("rehome", anchor.group.subgraph, at.path, at.parent_type.name, _key(node))
        target = self.choices.take(choice, ranked, str, settled)
        start = self._start_in(anchor, target)
        assert start is not None  # noqa: S101 - the targets are reachable from the anchor
        return self._add_field(self._walk(start, steps), node, None)

    def _is_root(self, at: _Position) -> bool:
        return at.step is None and at.parent_type is self.root

    def _fetched_from(self, anchor: _Position, target: str) -> bool:
        """Whether a fetch from the target already starts where the anchor is."""
        if self._is_root(anchor):
            return any(g.subgraph == target for g in self.graph.roots)
        entity = anchor.parent_type.name
        existing = self.graph.existing_child(anchor.group, target, anchor.path, entity, None)
        return existing is not None

    def _steps_up(
        self, at: _Position, through_entities: bool
    ) -> tuple[_Position, list[FieldNode | str]]:
        """The position where the fetch holding `at` starts (or the nearest entity above, unless
        `through_entities`), and the steps from there down to `at`."""
        steps: list[FieldNode | str] = []
        anchor = at
        while anchor.step is not None and (
            through_entities or not self._is_entity(anchor.parent_type.name)
        ):
            steps.insert(0, anchor.step)
            assert anchor.parent is not None  # noqa: S101 - a step has the position it left
            anchor = anchor.parent
        return anchor, steps

    def _can_start_in(self, anchor: _Position, target: str) -> bool:
        """Whether a fetch from the target can start at the anchor (a root or an entity)."""
        if self._is_root(anchor):
            return True
        entity = anchor.parent_type.name
        key = self._reachable_key(anchor.group.subgraph, anchor, entity, target)
        return key is not None and target != anchor.group.subgraph

    def _start_in(self, anchor: _Position, target: str) -> _Position | None:
        if self._is_root(anchor):
            group = self.graph.root_group(target, anchor.conditions, anchor.group.defer)
            return _Position(group, group.selection, self.root, (), None, anchor.conditions)
        if not self._can_start_in(anchor, target):
            return None
        entity = anchor.parent_type.name
        key = self._reachable_key(anchor.group.subgraph, anchor, entity, target)
        assert key is not None  # noqa: S101 - checked just above
        return self._entity_position(anchor, target, key, entity, None)

    def _walkable(self, anchor: _Position, steps: list[FieldNode | str], target: str) -> bool:
        parent = anchor.parent_type
        for step in steps:
            if isinstance(step, str):
                parent = self.schema.get_type(step)  # type: ignore[assignment]
                continue
            if target not in self.supergraph.placements(parent.name, step.name.value, self.labels):
                return False
            parent = get_named_type(_field_type(parent, step.name.value))  # type: ignore[assignment]
        return True

    def _walk(self, start: _Position, steps: list[FieldNode | str]) -> _Position:
        at = start
        for step in steps:
            if isinstance(step, str):
                at = self._narrowed(at, step)
                continue
            field_type = _field_type(at.parent_type, step.name.value)
            named = get_named_type(field_type)
            selection = at.tree.add_field(
                step.name.value,
                alias=step.alias.value if step.alias else None,
                arguments=tuple(step.arguments or ()),
                directives=_condition_directives(step.directives),
                composite=True,
            )
            assert selection.sub is not None  # noqa: S101 - composite fields have one
            if is_abstract_type(named):
                selection.sub.add_field("__typename")
            key = step.alias.value if step.alias else step.name.value
            path = (*at.path, key, *(["@"] * _list_depth(field_type)))
            at = _Position(
                at.group,
                selection.sub,
                named,  # type: ignore[arg-type]
                path,
                None,
                at.conditions,
                at,
                step,
            )
        return at

    def _every_type_resolves(self, at: _Position, name: str) -> bool:
        """Whether the subgraph resolves an abstract type's field for each of its types, which
        it does not for a type whose field another subgraph overrides."""
        return all(
            at.group.subgraph in self.supergraph.placements(runtime, name, self.labels)
            for runtime in self._runtime_types(at, at.parent_type.name)
            if name in getattr(self.schema.get_type(runtime), "fields", {})
        )

    def _is_entity(self, type_name: str) -> bool:
        join = self.supergraph.types.get(type_name)
        return join is not None and any(t.keys for t in join.subgraphs.values())

    def _add_field(self, at: _Position, node: FieldNode, provides: FieldSet | None) -> _Position:
        name = node.name.value
        field_type = _field_type(at.parent_type, name)
        named = get_named_type(field_type)
        selection = at.tree.add_field(
            name,
            alias=node.alias.value if node.alias else None,
            arguments=tuple(node.arguments or ()),
            directives=_condition_directives(node.directives),
            composite=node.selection_set is not None,
        )
        if self.supergraph.subgraph_types:
            selection.output_type = self.supergraph.subgraph_types.get(
                (at.parent_type.name, name, at.group.subgraph), str(field_type)
            )
        self._note(at.group)
        if node.selection_set is not None and selection.sub is not None:
            if is_abstract_type(named):
                selection.sub.add_field("__typename")
            provided = provides or (at.provided.get(name) if at.provided else None)
            key = node.alias.value if node.alias else name
            inner = _Position(
                at.group,
                selection.sub,
                named,  # type: ignore[arg-type]
                (*at.path, key, *(["@"] * _list_depth(field_type))),
                provided,
                at.conditions,
                at,
                node,
            )
            self._plan_selections(inner, node.selection_set.selections)
        return at

    def _jump(self, at: _Position, node: FieldNode, elsewhere: bool = False) -> _Position:
        name = node.name.value
        route = self._route(at, node, elsewhere)
        current = at
        at.tree.add_field("__typename")
        if not route.hops[0].planned_key:
            at.tree.add_field_set(route.hops[0].key.fields)
        self._note(at.group)
        for index, hop in enumerate(route.hops):
            last = index == len(route.hops) - 1
            placement = self.supergraph.placements(route.entity_type, name, self.labels).get(
                hop.subgraph
            )
            requires = placement.requires if placement and last else None
            group = self.graph.child_group(
                current.group,
                hop.subgraph,
                at.path,
                route.entity_type,
                at.conditions,
                route.typename_rewrite,
            )
            if hop.planned_key:
                group = self._requires_group(group, current, at, route, hop.key.fields, {})
            aliases = self._requirement_aliases(route.entity_type, requires) if requires else {}
            if requires is not None:
                group = self._requires_group(group, current, at, route, requires, aliases)
            group.typename_rewrite = route.typename_rewrite
            inputs = group.entity_inputs(route.entity_type)
            inputs.add_field("__typename")
            inputs.add_field_set(hop.key.fields)
            if requires is not None:
                inputs.add_field_set(requires, aliases)
            entity = self.schema.get_type(route.entity_type)
            current = _Position(
                group,
                group.entity_selection(route.entity_type),
                entity,  # type: ignore[arg-type]
                at.path,
                None,
                at.conditions,
                origin=at,
            )
            if not last:
                current.tree.add_field_set(route.hops[index + 1].key.fields)
        provides = self.supergraph.placements(route.entity_type, name, self.labels)
        placement = provides.get(route.hops[-1].subgraph)
        return self._add_field(current, node, placement.provides if placement else None)

    def _requires_group(
        self,
        regular: FetchGroup,
        current: _Position,
        origin: _Position,
        route: _Route,
        requires: FieldSet,
        aliases: dict[str, str],
    ) -> FetchGroup:
        """The group for a field with @requires: the regular one when the required fields come
        from where the entity already is and its representations can carry them, else one of
        its own after the groups fetching them."""
        with self._recording() as touched:
            self._plan_selections(origin, _required_selections(requires, aliases))
        others = [self._groups_by_id[i] for i in touched if i != id(origin.group)]
        for group in others:
            # Apollo fetches requirements in a group of their own and merges it into the
            # matching sibling, which takes the later place among its parent's children.
            group.move_last_among_siblings()
        if not others and current.group is origin.group and not _clashes(regular, route, aliases):
            return regular
        parents = [current.group, *others]
        for existing in self.graph.requires_groups(parents, regular.subgraph, origin.path):
            if existing.entity_type == route.entity_type and not _clashes(existing, route, aliases):
                existing.narrow_conditions(origin.conditions)
                return existing
        return self.graph.requires_group(
            parents,
            regular.subgraph,
            origin.path,
            route.entity_type,
            origin.conditions,
        )

    def _requirement_aliases(self, entity_type: str, requires: FieldSet) -> dict[str, str]:
        """Aliases for required fields that take arguments, one per distinct argument list,
        so they never merge with a client's field or another requirement of other arguments."""
        assert requires.selection_set is not None  # noqa: S101 - parsed field sets keep it
        entity = self.schema.get_type(entity_type)
        aliases: dict[str, str] = {}
        for node in requires.selection_set.selections:
            if not isinstance(node, FieldNode):
                continue
            name = node.name.value
            definition = getattr(entity, "fields", {}).get(name)
            if definition is None:
                continue
            arguments = _arguments_within(definition, node)
            if not arguments:
                continue
            known = self._aliases.setdefault(name, {})
            aliases[name] = known.setdefault(arguments, f"{name}__alias_{len(known)}")
        return aliases

    # routes between subgraphs

    def _route(self, at: _Position, node: FieldNode, elsewhere: bool) -> _Route:
        """A route to a subgraph resolving the field (one other than the fetch's own if
        `elsewhere`)."""
        name = node.name.value
        source = at.group.subgraph
        entity_type, candidates, rewrite = self._candidates(at.parent_type, name)
        candidates = [c for c in candidates if not elsewhere or c != source]
        if not candidates:
            raise PlanningError(f"no subgraph resolves {at.parent_type.name}.{name}")
        direct = {
            s: key for s in candidates if (key := self._reachable_key(source, at, entity_type, s))
        }
        routes: list[_Route] = []
        settled = False
        if direct:
            ranked, settled = self._ranked(
                list(direct),
                self.schema.get_type(entity_type),  # type: ignore[arg-type]
                node,
                lambda s: (
                    self.graph.existing_child(at.group, s, at.path, entity_type, rewrite)
                    is not None
                ),
                self._siblings,
            )
            routes = [_Route(entity_type, (_Hop(s, direct[s]),), rewrite) for s in ranked]
        # One direct subgraph missing nothing under the field beats two jumps.
        if settled and len(direct) == 1:
            settled = not self._misses_under(routes[0].hops[0].subgraph, at, node)
        if not settled:
            routes += self._routes_through_another(at, node, entity_type, candidates, rewrite)
        for target in sorted(candidates) if not routes else ():
            in_target = self.supergraph.type_in(entity_type, target)
            keys = in_target.resolvable_keys() if in_target else ()
            if keys and target != source:
                routes.append(_Route(entity_type, (_Hop(target, keys[0], True),), rewrite))
        if not routes:
            raise PlanningError(f"no path from {source} to {at.parent_type.name}.{name}")
        choice = ("route", source, at.path, at.parent_type.name, (node.alias or node.name).value)
        # Where a condition (@requires, @fromContext) is fetched is never settled by the
        # ranking alone: a subgraph the client's other fields fetch from later may carry it.
        settled = settled and not self._recorders
        return self.choices.take(choice, routes, _route_identity, settled)

    def _routes_through_another(
        self,
        at: _Position,
        node: FieldNode,
        entity_type: str,
        candidates: list[str],
        rewrite: str | None,
    ) -> list[_Route]:
        """Routes by a key jump to a middle subgraph that has the target's key, then on."""
        source = at.group.subgraph
        memo = (source, at.parent_type.name, node.name.value)
        known = self._two_hop_routes.get(memo) if at.provided is None else None
        if known is not None:
            return known
        routes: list[_Route] = []
        for target in sorted(candidates):
            for middle in sorted(self.supergraph.subgraphs):
                first = self._reachable_key(source, at, entity_type, middle)
                second = self._key_local_in(middle, entity_type, target)
                if first and second and middle not in (source, target):
                    hops = (_Hop(middle, first), _Hop(target, second))
                    routes.append(_Route(entity_type, hops, rewrite))
        if at.provided is None:
            self._two_hop_routes[memo] = routes
        return routes

    def _candidates(
        self, parent: GraphQLCompositeType, name: str
    ) -> tuple[str, list[str], str | None]:
        placements = self.supergraph.placements(parent.name, name, self.labels)
        if placements:
            return parent.name, list(placements), self._rewrite(parent.name, list(placements))
        for interface in getattr(parent, "interfaces", ()):
            found = self.supergraph.placements(interface.name, name, self.labels)
            if found:
                return interface.name, list(found), self._rewrite(interface.name, list(found))
        return parent.name, [], None

    def _rewrite(self, entity_type: str, subgraphs: list[str]) -> str | None:
        in_subgraph = (self.supergraph.type_in(entity_type, s) for s in subgraphs)
        interface_object = any(t is not None and t.is_interface_object for t in in_subgraph)
        return entity_type if interface_object else None

    def _reachable_key(
        self, source: str, at: _Position, entity_type: str, target: str
    ) -> Key | None:
        in_target = self.supergraph.type_in(entity_type, target)
        if in_target is None:
            return None
        for key in in_target.resolvable_keys():
            if self._local(source, at.parent_type.name, key.fields, at.provided):
                return key
        return None

    def _key_local_in(self, middle: str, entity_type: str, target: str) -> Key | None:
        in_target = self.supergraph.type_in(entity_type, target)
        if in_target is None or self.supergraph.type_in(entity_type, middle) is None:
            return None
        for key in in_target.resolvable_keys():
            if self._local(middle, entity_type, key.fields):
                return key
        return None

    def _local(
        self, subgraph: str, type_name: str, fields: FieldSet, provided: FieldSet | None = None
    ) -> bool:
        """Whether the subgraph resolves the fields there, itself or by @provides."""
        for name, sub in fields.fields:
            by_provides = provided is not None and provided.has(name)
            if not by_provides and subgraph not in self.supergraph.placements(
                type_name, name, self.labels
            ):
                return False
            if sub is not None:
                child = get_named_type(_field_type(self.schema.get_type(type_name), name))  # type: ignore[arg-type]
                inner = provided.get(name) if provided is not None else None
                if not self._local(subgraph, child.name, sub, inner):
                    return False
        return True

    def _ranked(
        self,
        candidates: list[str],
        parent: GraphQLCompositeType,
        node: FieldNode,
        in_use: Callable[[str], bool],
        siblings: Sequence[SelectionNode],
    ) -> tuple[list[str], bool]:
        """The subgraphs by how few fields under the field they miss, how many of its children
        and siblings they resolve, whether already fetched from, then name; and whether the
        first is settled: the only one, or it misses nothing, needs no @requires, and costs
        no fetch of its own or resolves the siblings too, so no other option can do better."""
        if not candidates:
            raise PlanningError(f"no subgraph resolves {parent.name}.{node.name.value}")
        if len(candidates) == 1:
            return candidates, True
        named = get_named_type(_field_type(parent, node.name.value))
        children = node.selection_set.selections if node.selection_set else ()

        def local_children(subgraph: str) -> int:
            fields = [c for c in children if isinstance(c, FieldNode)]
            return sum(
                subgraph in self.supergraph.placements(named.name, c.name.value, self.labels)
                for c in fields
            )

        def local_siblings(subgraph: str) -> int:
            return sum(
                isinstance(c, FieldNode)
                and c is not node
                and subgraph in self.supergraph.placements(parent.name, c.name.value, self.labels)
                for c in siblings
            )

        placements = self.supergraph.placements(parent.name, node.name.value, self.labels)

        def rank(subgraph: str) -> tuple[int, int, int, str]:
            together = local_children(subgraph) + local_siblings(subgraph)
            placement = placements.get(subgraph)
            provides = placement.provides if placement else None
            misses = self._misses(subgraph, named, children, provides)
            return (misses, -together, 0 if in_use(subgraph) else 1, subgraph)

        ranks = sorted(map(rank, candidates))
        misses, _, fetched, first = ranks[0]
        placement = placements.get(first)
        settled = (
            misses == 0
            and (placement is None or placement.requires is None)
            and (fetched == 0 or self._misses(first, parent, siblings) == 0)
        )
        return [r[3] for r in ranks], settled

    def _misses_under(self, subgraph: str, at: _Position, node: FieldNode) -> int:
        named = get_named_type(_field_type(at.parent_type, node.name.value))
        children = node.selection_set.selections if node.selection_set else ()
        return self._misses(subgraph, named, children)

    def _misses(
        self,
        subgraph: str,
        parent: GraphQLNamedType,
        selections: Sequence[SelectionNode],
        provided: FieldSet | None = None,
    ) -> int:
        """How many fields under a field the subgraph cannot resolve itself (or by the
        @provides given), at any depth: each one costs a jump (a fetch) if the field is taken
        from this subgraph."""
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        count = 0
        for selection in selections:
            if isinstance(selection, InlineFragmentNode | FragmentSpreadNode):
                condition = _type_condition(selection, self.fragments)
                inner = self.schema.get_type(condition) if condition else parent
                count += self._misses(
                    subgraph, inner or parent, self._fragment_selections(selection), provided
                )
                continue
            assert isinstance(selection, FieldNode)  # noqa: S101 - the three selection kinds
            name = selection.name.value
            if name.startswith("__") or name not in parent.fields:
                continue
            placement = self.supergraph.placements(parent.name, name, self.labels).get(subgraph)
            if placement is None and not (provided is not None and provided.has(name)):
                count += 1
            elif selection.selection_set:
                named = get_named_type(parent.fields[name].type)
                inner_provided = provided.get(name) if provided is not None else None
                count += self._misses(
                    subgraph,
                    named,
                    selection.selection_set.selections,
                    inner_provided or (placement.provides if placement else None),
                )
        return count

    # bookkeeping of where required fields land

    @contextmanager
    def _recording(self) -> Iterator[set[int]]:
        touched: set[int] = set()
        self._recorders.append(touched)
        try:
            yield touched
        finally:
            self._recorders.pop()

    def _note(self, group: FetchGroup) -> None:
        self._groups_by_id[id(group)] = group
        for recorder in self._recorders:
            recorder.add(id(group))


def _key(node: FieldNode) -> str:
    """The field's response key."""
    return node.alias.value if node.alias else node.name.value


def _route_identity(route: _Route) -> tuple[tuple[str, bool], ...]:
    return tuple((hop.subgraph, hop.planned_key) for hop in route.hops)


def _with(at: _Position, conditions: Conditions) -> _Position:
    if not conditions:
        return at
    return _Position(
        at.group,
        at.tree,
        at.parent_type,
        at.path,
        at.provided,
        at.conditions | conditions,
        at.parent,
        at.step,
    )


def _conditions(directives: Sequence[DirectiveNode] | None) -> Conditions | None:
    """Variable conditions of @skip/@include; None when a literal excludes the selection."""
    found = variable_conditions(directives)
    return None if found is None else frozenset(found)


def _condition_directives(directives: Sequence[DirectiveNode] | None) -> tuple[DirectiveNode, ...]:
    return tuple(
        d for d in directives or () if d.name.value in ("skip", "include") and condition_of(d)
    )


def _type_condition(
    fragment: InlineFragmentNode | FragmentSpreadNode, fragments: dict[str, FragmentDefinitionNode]
) -> str | None:
    if isinstance(fragment, FragmentSpreadNode):
        return fragments[fragment.name.value].type_condition.name.value
    return fragment.type_condition.name.value if fragment.type_condition else None


def _field_type(parent: GraphQLCompositeType, name: str) -> GraphQLOutputType:
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        raise PlanningError(f"{parent.name} has no field {name}")
    field = parent.fields.get(name)
    if field is None:
        raise PlanningError(f"{parent.name} has no field {name}")
    field_type: GraphQLOutputType = field.type
    return field_type


def _list_depth(type_: GraphQLOutputType) -> int:
    depth = 0
    current: object = type_
    while isinstance(current, GraphQLNonNull | GraphQLList):
        if isinstance(current, GraphQLList):
            depth += 1
        current = current.of_type
    return depth


def _clashes(group: FetchGroup, route: _Route, aliases: dict[str, str]) -> bool:
    """Whether the group's representations already carry one of the fields under another
    alias (a requirement of other arguments)."""
    inputs = group.entity_inputs(route.entity_type).items
    return any(
        isinstance(given := inputs.get(name), FieldSelection) and given.alias != alias
        for name, alias in aliases.items()
    )


def _arguments_within(definition: GraphQLField, node: FieldNode) -> str:
    """The arguments of a required field and of every field under it, defaults filled in:
    two requirements of the same field share an alias only when these are equal, since one
    response field cannot carry two argument lists (`reviews(first: 2) { score(scale: 10) }`
    and `reviews(first: 2) { score }`)."""
    given = {a.name.value: print_ast(a.value) for a in node.arguments or ()}
    own = " ".join(
        f"{arg}:{given.get(arg) or _printed_default(spec)}"
        for arg, spec in sorted(definition.args.items())
    )
    fields = getattr(get_named_type(definition.type), "fields", {})
    inner = [
        f"{child.name.value}({nested})"
        for child in _fields_in(node.selection_set)
        if child.name.value in fields
        and (nested := _arguments_within(fields[child.name.value], child))
    ]
    return " ".join([own, *sorted(inner)]).strip()


def _fields_in(selection_set: SelectionSetNode | None) -> Iterator[FieldNode]:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields_in(selection.selection_set)


def _printed_default(argument: GraphQLArgument) -> str:
    node = argument.ast_node
    return print_ast(node.default_value) if node and node.default_value else "null"


def _required_selections(field_set: FieldSet, aliases: dict[str, str]) -> Sequence[SelectionNode]:
    """The @requires field set as written, arguments and type conditions included, with the
    aliases chosen for fields that take arguments."""
    assert field_set.selection_set is not None  # noqa: S101 - parsed field sets keep it
    return tuple(
        replace(node, alias=NameNode(value=aliases[node.name.value]))
        if isinstance(node, FieldNode) and node.name.value in aliases
        else node
        for node in field_set.selection_set.selections
    )

"""The planning walk: an operation's selections distributed over fetch groups, per subgraph."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
)

from router.planner.errors import PlanningError
from router.planner.fetch_graph import FetchGraph, FetchGroup
from router.planner.selection import Conditions, SelectionTree, condition_of, variable_conditions
from router.supergraph import FieldSet, Key, Supergraph


@dataclass(frozen=True)
class _Hop:
    subgraph: str
    key: Key


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


def build_fetch_graph(
    supergraph: Supergraph,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    labels: frozenset[str],
) -> FetchGraph:
    walk = _Walk(supergraph, fragments, labels, operation.operation.value)
    walk.plan_root(operation.selection_set)
    return walk.graph


class _Walk:
    def __init__(
        self,
        supergraph: Supergraph,
        fragments: dict[str, FragmentDefinitionNode],
        labels: frozenset[str],
        kind: str,
    ) -> None:
        self.supergraph = supergraph
        self.schema = supergraph.schema
        self.fragments = fragments
        self.labels = labels
        self.graph = FetchGraph(kind)
        root = self.schema.get_root_type(OperationType(kind))
        if root is None:
            raise PlanningError(f"the supergraph has no {kind} type")
        self.root: GraphQLObjectType = root
        self._recorders: list[set[int]] = []
        self._groups_by_id: dict[int, FetchGroup] = {}

    # roots

    def plan_root(self, selection_set: SelectionSetNode) -> None:
        for node, conditions in self._root_fields(selection_set.selections, frozenset()):
            name = node.name.value
            if name in ("__typename", "__schema", "__type"):
                continue
            subgraph = self._choose(
                list(self.supergraph.placements(self.root.name, name, self.labels)),
                self.root,
                node,
                lambda s: any(g.subgraph == s for g in self.graph.roots),
            )
            group = self.graph.root_group(subgraph, conditions)
            position = _Position(group, group.selection, self.root, (), None, conditions)
            self._add_field(position, node, None)

    def _root_fields(
        self, selections: Sequence[SelectionNode], conditions: Conditions
    ) -> Iterator[tuple[FieldNode, Conditions]]:
        for selection in selections:
            own = _conditions(selection.directives)
            if own is None:
                continue
            if isinstance(selection, FieldNode):
                yield selection, conditions | own
            else:
                yield from self._root_fields(self._fragment_selections(selection), conditions | own)

    # selections

    def _plan_selections(self, at: _Position, selections: Sequence[SelectionNode]) -> None:
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
                where = self._plan_field(_with(at, own), selection)
                landed = landed or where
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
        if self.supergraph.type_in(condition, at.group.subgraph) is None:
            return
        tree = at.tree.fragment(condition)
        inner = _Position(
            at.group,
            tree,
            narrowed,
            at.path,
            at.provided,
            at.conditions,
        )
        self._plan_selections(inner, selections)

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
        placement = self.supergraph.placements(at.parent_type.name, name, self.labels).get(
            at.group.subgraph
        )
        if placement is not None and placement.requires is None:
            return self._add_field(at, node, placement.provides)
        if at.provided is not None and at.provided.has(name):
            return self._add_field(at, node, None)
        return self._jump(at, node)

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
            )
            self._plan_selections(inner, node.selection_set.selections)
        return at

    def _jump(self, at: _Position, node: FieldNode) -> _Position:
        name = node.name.value
        route = self._route(at, node)
        current = at
        at.tree.add_field("__typename")
        at.tree.add_field_set(route.hops[0].key.fields)
        self._note(at.group)
        for index, hop in enumerate(route.hops):
            last = index == len(route.hops) - 1
            placement = self.supergraph.placements(route.entity_type, name, self.labels).get(
                hop.subgraph
            )
            requires = placement.requires if placement and last else None
            group = self.graph.child_group(
                current.group, hop.subgraph, at.path, route.entity_type, at.conditions
            )
            if requires is not None:
                group = self._requires_group(group, current, at, route, requires)
            group.typename_rewrite = route.typename_rewrite
            group.entity_inputs().add_field("__typename")
            group.entity_inputs().add_field_set(hop.key.fields)
            if requires is not None:
                group.entity_inputs().add_field_set(requires)
            entity = self.schema.get_type(route.entity_type)
            current = _Position(
                group,
                group.entity_selection(),
                entity,  # type: ignore[arg-type]
                at.path,
                None,
                at.conditions,
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
    ) -> FetchGroup:
        """The group for a field with @requires: the regular one when the required fields come
        from where the entity already is, else one of its own after the groups fetching them."""
        with self._recording() as touched:
            self._plan_selections(origin, _field_set_selections(requires))
        others = [self._groups_by_id[i] for i in touched if i != id(origin.group)]
        for group in others:
            # Apollo fetches requirements in a group of their own and merges it into the
            # matching sibling, which takes the later place among its parent's children.
            group.move_last_among_siblings()
        if not others and current.group is origin.group:
            return regular
        return self.graph.requires_group(
            [current.group, *others],
            regular.subgraph,
            origin.path,
            route.entity_type,
            origin.conditions,
        )

    # routes between subgraphs

    def _route(self, at: _Position, node: FieldNode) -> _Route:
        name = node.name.value
        entity_type, candidates, rewrite = self._candidates(at.parent_type, name)
        if not candidates:
            raise PlanningError(f"no subgraph resolves {at.parent_type.name}.{name}")
        source = at.group.subgraph
        direct = {
            s: key for s in candidates if (key := self._reachable_key(source, at, entity_type, s))
        }
        if direct:
            chosen = self._choose(
                list(direct),
                self.schema.get_type(entity_type),  # type: ignore[arg-type]
                node,
                lambda s: self.graph.existing_child(at.group, s, at.path, entity_type) is not None,
            )
            return _Route(entity_type, (_Hop(chosen, direct[chosen]),), rewrite)
        for target in sorted(candidates):
            for middle in sorted(self.supergraph.subgraphs):
                first = self._reachable_key(source, at, entity_type, middle)
                second = self._key_local_in(middle, entity_type, target)
                if first and second and middle != source:
                    return _Route(entity_type, (_Hop(middle, first), _Hop(target, second)), rewrite)
        raise PlanningError(f"no path from {source} to {at.parent_type.name}.{name}")

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
            if self._local(source, at.parent_type.name, key.fields):
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

    def _local(self, subgraph: str, type_name: str, fields: FieldSet) -> bool:
        for name, sub in fields.fields:
            if subgraph not in self.supergraph.placements(type_name, name, self.labels):
                return False
            if sub is not None:
                child = get_named_type(_field_type(self.schema.get_type(type_name), name))  # type: ignore[arg-type]
                if not self._local(subgraph, child.name, sub):
                    return False
        return True

    def _choose(
        self,
        candidates: list[str],
        parent: GraphQLCompositeType,
        node: FieldNode,
        in_use: Callable[[str], bool],
    ) -> str:
        if not candidates:
            raise PlanningError(f"no subgraph resolves {parent.name}.{node.name.value}")
        if len(candidates) == 1:
            return candidates[0]
        named = get_named_type(_field_type(parent, node.name.value))
        children = node.selection_set.selections if node.selection_set else ()

        def local_children(subgraph: str) -> int:
            fields = [c for c in children if isinstance(c, FieldNode)]
            return sum(
                subgraph in self.supergraph.placements(named.name, c.name.value, self.labels)
                for c in fields
            )

        def rank(subgraph: str) -> tuple[int, int, str]:
            return (-local_children(subgraph), 0 if in_use(subgraph) else 1, subgraph)

        return min(candidates, key=rank)

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


def _with(at: _Position, conditions: Conditions) -> _Position:
    if not conditions:
        return at
    return _Position(
        at.group, at.tree, at.parent_type, at.path, at.provided, at.conditions | conditions
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


def _field_set_selections(field_set: FieldSet) -> tuple[SelectionNode, ...]:
    selections: list[SelectionNode] = []
    for name, sub in field_set.fields:
        sub_set = SelectionSetNode(selections=_field_set_selections(sub)) if sub else None
        selections.append(FieldNode(name=NameNode(value=name), selection_set=sub_set))
    return tuple(selections)

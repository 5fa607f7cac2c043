"""The response an operation asks for, per runtime type, compiled once per plan.

The executor completes merged subgraph data against it: response keys in query order,
__typename, @skip/@include on variables, and nullability for null propagation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from graphql import (
    REMOVE,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    is_enum_type,
    visit,
)
from graphql.language import Visitor

from router.planner.selection import is_deferred, variable_conditions
from router.supergraph import Supergraph

NON_NULL = 0
LIST = 1
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


@dataclass(frozen=True, slots=True)
class ShapeField:
    key: str
    name: str
    parent_type: str
    wrappers: tuple[int, ...]
    selection: SelectionShape | None
    conditions: tuple[tuple[str, bool], ...]
    non_null: bool = False
    plain: bool = False
    """Whether the value is copied as it is: no selection, no list, no enum values to hide."""
    enum_values: frozenset[str] | None = None
    """The values clients may see, for an enum with @inaccessible values."""


def shape_field(
    key: str,
    name: str,
    parent_type: str,
    wrappers: tuple[int, ...],
    selection: SelectionShape | None,
    conditions: tuple[tuple[str, bool], ...],
    enum_values: frozenset[str] | None = None,
) -> ShapeField:
    non_null = bool(wrappers) and wrappers[0] == NON_NULL
    plain = selection is None and LIST not in wrappers and enum_values is None
    return ShapeField(
        key, name, parent_type, wrappers, selection, conditions, non_null, plain, enum_values
    )


@dataclass(frozen=True, slots=True)
class SelectionShape:
    by_type: dict[str, tuple[ShapeField, ...]]
    default_type: str | None
    """The type of objects without __typename: the field's type when it is an object type."""


@dataclass(frozen=True, slots=True)
class ResponseShape:
    root: SelectionShape
    introspection: DocumentNode | None


def compile_shape(
    supergraph: Supergraph,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> ResponseShape:
    compiler = _Compiler(supergraph, fragments)
    root_type = supergraph.schema.get_root_type(operation.operation)
    assert root_type is not None  # noqa: S101 - validation guarantees the root type
    root = compiler.selection(root_type.name, [operation.selection_set])
    return ResponseShape(root, _introspection_document(operation, fragments))


@dataclass(frozen=True, slots=True)
class DeliveryShapes:
    """The shapes of an incrementally delivered response: the first payload without the
    deferred fragments, and each deferred fragment's own (by its node's id), without the
    fragments deferred within it."""

    primary: SelectionShape
    deferred: dict[int, SelectionShape]


def compile_delivery(
    supergraph: Supergraph,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    blocks: Sequence[tuple[SelectionNode, SelectionNode, str]],
    disabled: frozenset[str],
) -> DeliveryShapes:
    """`blocks` are the deferred fragments of the plan, each with the fragment of `operation`
    it stands for and the type of its objects; a fragment whose `@defer(if:)` variable is in
    `disabled` is delivered with its parent."""
    compiler = _Compiler(supergraph, fragments, disabled)
    root_type = supergraph.schema.get_root_type(operation.operation)
    assert root_type is not None  # noqa: S101 - validation guarantees the root type
    primary = compiler.selection(root_type.name, [operation.selection_set])
    deferred = {
        id(planned): compiler.selection(type_name, [_own_selections(written, fragments)])
        for planned, written, type_name in blocks
    }
    return DeliveryShapes(primary, deferred)


def _own_selections(
    fragment: SelectionNode, fragments: dict[str, FragmentDefinitionNode]
) -> SelectionSetNode:
    if isinstance(fragment, FragmentSpreadNode):
        return fragments[fragment.name.value].selection_set
    assert isinstance(fragment, InlineFragmentNode)  # noqa: S101 - @defer is on fragments
    return fragment.selection_set


class _Compiler:
    def __init__(
        self,
        supergraph: Supergraph,
        fragments: dict[str, FragmentDefinitionNode],
        disabled: frozenset[str] | None = None,
    ) -> None:
        self.supergraph = supergraph
        self.schema = supergraph.schema
        self.fragments = fragments
        self.disabled = disabled
        """For incremental delivery, the false `@defer(if:)` variables; None: nothing is
        deferred."""

    def selection(self, type_name: str, sets: list[SelectionSetNode]) -> SelectionShape:
        named = self.schema.get_type(type_name)
        visible = self.supergraph.api_schema.type_map
        runtime = sorted(t for t in self.supergraph.possible_types(type_name) if t in visible)
        if self._has_interface_objects(type_name):
            # Answered by @interfaceObject subgraphs only, an object keeps the interface's name.
            runtime.append(type_name)
        by_type = {r: self._fields(r, sets) for r in runtime}
        default = None if is_abstract_type(named) else type_name
        return SelectionShape(by_type, default)

    def _has_interface_objects(self, type_name: str) -> bool:
        join = self.supergraph.types.get(type_name)
        return join is not None and any(t.is_interface_object for t in join.subgraphs.values())

    def _fields(self, runtime: str, sets: list[SelectionSetNode]) -> tuple[ShapeField, ...]:
        grouped: dict[str, list[tuple[FieldNode, tuple[tuple[str, bool], ...]]]] = {}
        for selection_set in sets:
            for node, conditions in self._collect(runtime, selection_set.selections, ()):
                key = node.alias.value if node.alias else node.name.value
                grouped.setdefault(key, []).append((node, conditions))
        return tuple(self._field(runtime, key, occurrences) for key, occurrences in grouped.items())

    def _field(
        self,
        runtime: str,
        key: str,
        occurrences: list[tuple[FieldNode, tuple[tuple[str, bool], ...]]],
    ) -> ShapeField:
        node = occurrences[0][0]
        conditions = min((c for _, c in occurrences), key=len)
        name = node.name.value
        if name == "__typename" or name == "__schema":
            return shape_field(key, name, runtime, (NON_NULL,), None, conditions)
        if name == "__type":
            return shape_field(key, name, runtime, (), None, conditions)
        parent = self.schema.get_type(runtime)
        field_type: GraphQLOutputType = parent.fields[name].type  # type: ignore[union-attr]
        named = get_named_type(field_type)
        sub = None
        if is_composite_type(named):
            sets = [n.selection_set for n, _ in occurrences if n.selection_set is not None]
            sub = self.selection(named.name, sets)
        enum_values = self._visible_enum_values(named.name) if is_enum_type(named) else None
        return shape_field(key, name, runtime, _wrappers(field_type), sub, conditions, enum_values)

    def _visible_enum_values(self, name: str) -> frozenset[str] | None:
        full = self.schema.get_type(name)
        visible = self.supergraph.api_schema.get_type(name)
        values = frozenset(getattr(visible, "values", None) or ())
        return values if len(values) < len(getattr(full, "values", None) or ()) else None

    def _collect(
        self,
        runtime: str,
        selections: Sequence[SelectionNode],
        conditions: tuple[tuple[str, bool], ...],
    ) -> Iterator[tuple[FieldNode, tuple[tuple[str, bool], ...]]]:
        for selection in selections:
            own = variable_conditions(selection.directives)
            if own is None:
                continue
            combined = conditions + own
            if isinstance(selection, FieldNode):
                yield selection, combined
                continue
            if self.disabled is not None and is_deferred(selection, self.disabled):
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                condition: str | None = fragment.type_condition.name.value
                inner = fragment.selection_set.selections
            else:
                assert isinstance(selection, InlineFragmentNode)  # noqa: S101 - by elimination
                condition = (
                    selection.type_condition.name.value if selection.type_condition else None
                )
                inner = selection.selection_set.selections
            if (
                condition is None
                or condition == runtime
                or runtime in self.supergraph.possible_types(condition)
            ):
                yield from self._collect(runtime, inner, combined)


def _wrappers(type_: GraphQLOutputType) -> tuple[int, ...]:
    wrappers: list[int] = []
    current: object = type_
    while isinstance(current, GraphQLNonNull | GraphQLList):
        wrappers.append(NON_NULL if isinstance(current, GraphQLNonNull) else LIST)
        current = current.of_type
    return tuple(wrappers)


def _introspection_document(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> DocumentNode | None:
    selections = _introspection_selections(operation.selection_set.selections, fragments)
    if not selections:
        return None
    only = replace(operation, selection_set=SelectionSetNode(selections=selections))
    document = DocumentNode(definitions=(only, *fragments.values()))
    return visit(document, _WithoutDefer())  # type: ignore[no-any-return]


def _introspection_selections(
    selections: Sequence[SelectionNode], fragments: dict[str, FragmentDefinitionNode]
) -> tuple[SelectionNode, ...]:
    """The root's introspection fields, in the fragments they are in (named ones inlined, so
    that none of their other fields is run against the API schema)."""
    found: list[SelectionNode] = []
    condition: NamedTypeNode | None
    for selection in selections:
        if isinstance(selection, FieldNode):
            if selection.name.value in INTROSPECTION_FIELDS:
                found.append(selection)
            continue
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            condition, inner = fragment.type_condition, fragment.selection_set
        else:
            assert isinstance(selection, InlineFragmentNode)  # noqa: S101 - by elimination
            condition, inner = selection.type_condition, selection.selection_set
        kept = _introspection_selections(inner.selections, fragments)
        if kept:
            found.append(
                InlineFragmentNode(
                    type_condition=condition,
                    directives=selection.directives,
                    selection_set=SelectionSetNode(selections=kept),
                )
            )
    return tuple(found)


class _WithoutDefer(Visitor):
    """Introspection is answered in the first payload: its fragments are not deferred."""

    def enter_directive(self, node: DirectiveNode, *_: object) -> object:
        return REMOVE if node.name.value == "defer" else None

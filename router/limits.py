"""What an operation may ask for: depth, aliases, root fields, introspection and cost, checked
before any subgraph is called. Cost counts every field once per list item above it (a list
field counts its ``first``/``last``/``limit`` argument, else a default) plus a price per
subgraph fetch of the plan."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)

from router.config import Limits
from router.planner.plan import Condition, Fetch, Flatten, Parallel, PlanNode, QueryPlan, Sequence

_LIST_SIZE_ARGUMENTS = ("first", "last", "limit")
_INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class Violation:
    code: str
    message: str


@dataclass(frozen=True)
class Shape:
    depth: int
    aliases: int
    root_fields: int
    introspection: bool


def _fields(
    selections: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[tuple[FieldNode, str | None]]:
    """The fields of a selection set with fragments expanded, each with its type condition."""
    for selection in selections.selections if selections else ():
        if isinstance(selection, FieldNode):
            yield selection, None
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            for field, inner in _fields(selection.selection_set, fragments):
                yield field, inner or condition
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                for field, inner in _fields(fragment.selection_set, fragments):
                    yield field, inner or fragment.type_condition.name.value


def shape(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Shape:
    aliases = 0
    introspection = False

    def depth_of(selections: SelectionSetNode | None) -> int:
        nonlocal aliases, introspection
        deepest = 0
        for field, _ in _fields(selections, fragments):
            aliases += field.alias is not None
            introspection |= field.name.value in _INTROSPECTION
            deepest = max(deepest, 1 + depth_of(field.selection_set))
        return deepest

    depth = depth_of(operation.selection_set)
    roots = sum(1 for _ in _fields(operation.selection_set, fragments))
    return Shape(depth, aliases, roots, introspection)


def check_shape(found: Shape, limits: Limits, *, introspection: bool) -> Violation | None:
    if found.depth > limits.max_depth:
        return Violation(
            "MAX_DEPTH_EXCEEDED",
            f"The operation is {found.depth} levels deep; the limit is {limits.max_depth}.",
        )
    if found.aliases > limits.max_aliases:
        return Violation(
            "MAX_ALIASES_EXCEEDED",
            f"The operation uses {found.aliases} aliases; the limit is {limits.max_aliases}.",
        )
    if found.root_fields > limits.max_root_fields:
        return Violation(
            "MAX_ROOT_FIELDS_EXCEEDED",
            f"The operation asks for {found.root_fields} root "
            f"fields; the limit is {limits.max_root_fields}.",
        )
    if found.introspection and not introspection:
        return Violation("INTROSPECTION_DISABLED", "Introspection is disabled.")
    return None


def _list_size(field: FieldNode, variables: Mapping[str, Any], default: int) -> int:
    for argument in field.arguments or ():
        if argument.name.value not in _LIST_SIZE_ARGUMENTS:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode) and isinstance(variables.get(value.name.value), int):
            return int(variables[value.name.value])
    return default


def _count_fetches(node: PlanNode | None) -> int:
    if node is None:
        return 0
    if isinstance(node, Fetch):
        return 1
    if isinstance(node, Flatten):
        return 1
    if isinstance(node, Sequence | Parallel):
        return sum(_count_fetches(child) for child in node.nodes)
    assert isinstance(node, Condition)  # noqa: S101 - the plan node union is closed
    return max(_count_fetches(node.if_clause), _count_fetches(node.else_clause))


def cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    plan: QueryPlan,
    limits: Limits,
) -> int:
    root = schema.get_root_type(operation.operation)
    assert root is not None  # noqa: S101 - the operation was validated against the schema

    def walk(parent: GraphQLNamedType, selections: SelectionSetNode | None, items: int) -> int:
        total = 0
        for field, condition in _fields(selections, fragments):
            owner = schema.get_type(condition) if condition else parent
            if not isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
                continue
            definition = owner.fields.get(field.name.value)
            if definition is None:
                continue
            total += items
            kind = get_nullable_type(definition.type)
            inner = items
            if isinstance(kind, GraphQLList):
                inner = items * _list_size(field, variables, limits.default_list_size)
            total += walk(get_named_type(definition.type), field.selection_set, inner)
        return total

    return walk(root, operation.selection_set, 1) + limits.fetch_cost * _count_fetches(plan.node)


def check_cost(spent: int, limits: Limits) -> Violation | None:
    if spent > limits.max_cost:
        return Violation(
            "COST_LIMIT_EXCEEDED",
            f"The operation would cost {spent}; the limit is {limits.max_cost}.",
        )
    return None

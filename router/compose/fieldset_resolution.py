"""Field sets (`@key`, `@requires`, `@provides` `fields:` strings) resolved against a subgraph's
schema for composition, with the problems found; the planner's schema-free form of a field set is
`router.supergraph.fieldset`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
    is_leaf_type,
    parse,
)

Composite = GraphQLObjectType | GraphQLInterfaceType


@dataclass
class Selected:
    """One field of a field set, with what it selects in turn."""

    parent: str
    name: str
    definition: GraphQLField
    node: FieldNode
    children: list[Selected] = field(default_factory=list)

    @property
    def coordinate(self) -> str:
        return f"{self.parent}.{self.name}"


@dataclass
class ResolvedFieldSet:
    """A parsed field set: its top-level selections and the problems found resolving it."""

    selections: list[Selected] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[Selected]:
        stack = list(self.selections)
        while stack:
            selected = stack.pop()
            yield selected
            stack.extend(selected.children)


def parse_selection_set(fields: str) -> SelectionSetNode:
    operation = parse("{" + fields + "}", no_location=True).definitions[0]
    return cast(OperationDefinitionNode, operation).selection_set


def resolve(schema: GraphQLSchema, parent: Composite, fields: str) -> ResolvedFieldSet:
    """Resolve `fields` on `parent`; unknown fields are reported as problems, not raised."""
    result = ResolvedFieldSet()
    try:
        selection_set = parse_selection_set(fields)
    except GraphQLSyntaxError as error:
        result.problems.append(error.message)
        return result
    result.selections = _resolve(schema, parent, selection_set, result.problems)
    return result


def _resolve(
    schema: GraphQLSchema, parent: Composite, selection_set: SelectionSetNode, problems: list[str]
) -> list[Selected]:
    resolved: list[Selected] = []
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            target = schema.get_type(condition.name.value) if condition else parent
            if isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
                resolved += _resolve(schema, target, selection.selection_set, problems)
            else:
                problems.append(f'Unknown type "{condition.name.value if condition else parent}".')
            continue
        if not isinstance(selection, FieldNode):
            problems.append("Fragment spreads are not allowed in field sets.")
            continue
        resolved += _resolve_field(schema, parent, selection, problems)
    return resolved


def _resolve_field(
    schema: GraphQLSchema, parent: Composite, node: FieldNode, problems: list[str]
) -> list[Selected]:
    name = node.name.value
    if name == "__typename":
        return []
    definition = parent.fields.get(name)
    if definition is None:
        problems.append(f'Cannot query field "{name}" on type "{parent.name}".')
        return []
    selected = Selected(parent.name, name, definition, node)
    named = get_named_type(definition.type)
    if node.selection_set and is_leaf_type(named):
        problems.append(
            f'Field "{name}" must not have a selection since type "{definition.type}" '
            "has no subfields."
        )
    elif not node.selection_set and is_composite_type(named):
        problems.append(
            f'Field "{name}" of type "{definition.type}" must have a selection of subfields. '
            f'Did you mean "{name} {{ ... }}"?'
        )
    elif node.selection_set and isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        selected.children = _resolve(schema, named, node.selection_set, problems)
    return [selected]


def with_implementations(schema: GraphQLSchema, selected: Selected) -> list[str]:
    """The coordinate of `selected`, plus the same field on implementations of an interface."""
    coordinates = [selected.coordinate]
    parent = schema.get_type(selected.parent)
    if isinstance(parent, GraphQLInterfaceType):
        for implementation in schema.get_possible_types(parent):
            if selected.name in implementation.fields:
                coordinates.append(f"{implementation.name}.{selected.name}")
    return coordinates

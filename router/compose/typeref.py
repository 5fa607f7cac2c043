"""Comparing what subgraphs say of one element: types and subtyping, defaults, descriptions."""

from __future__ import annotations

from collections import Counter
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLInputField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLType,
    GraphQLUnionType,
    print_ast,
)

from router.compose.supergraph import NamedType


def is_strict_subtype(
    types: dict[str, NamedType], type_: GraphQLType, maybe_sub: GraphQLType
) -> bool:
    """Apollo's default subtyping: non-null, list and nullability propagation, and union
    membership or interface implementation as merged in the supergraph (`types`)."""
    if isinstance(maybe_sub, GraphQLList):
        return isinstance(type_, GraphQLList) and _is_subtype(
            types, type_.of_type, maybe_sub.of_type
        )
    if isinstance(maybe_sub, GraphQLNonNull):
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        return _is_subtype(types, inner, maybe_sub.of_type)
    if isinstance(maybe_sub, GraphQLObjectType | GraphQLInterfaceType) and isinstance(
        type_, GraphQLInterfaceType | GraphQLUnionType
    ):
        merged, sub = types.get(type_.name), types.get(maybe_sub.name)
        if merged is None or sub is None:
            return False
        if merged.kind == "union":
            return sub.kind == "type" and sub.name in merged.members
        return type_.name in sub.interfaces
    return False


def _is_subtype(types: dict[str, NamedType], type_: GraphQLType, maybe_sub: GraphQLType) -> bool:
    return str(type_) == str(maybe_sub) or is_strict_subtype(types, type_, maybe_sub)


def merge_descriptions(descriptions: list[str | None]) -> str | None:
    """The description most subgraphs agree on; an empty one only when there is no other."""
    counts = Counter(d for d in descriptions if d is not None)
    if not counts:
        return None
    non_empty = [d for d in counts if d != ""]
    if len(counts) == 1:
        return next(iter(counts))
    if len(non_empty) == 1:
        return non_empty[0]
    return max(non_empty, key=lambda d: counts[d])


def is_required(element: GraphQLArgument | GraphQLInputField) -> bool:
    node = element.ast_node
    has_default = node is not None and node.default_value is not None
    return isinstance(element.type, GraphQLNonNull) and not has_default


def default_of(element: Any) -> str | None:
    """The default value as written in the subgraph, printed, or None."""
    node = element.ast_node
    return print_ast(node.default_value) if node is not None and node.default_value else None

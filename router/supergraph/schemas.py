"""GraphQL schemas derived from a supergraph document.

The full schema drops only the join/link machinery (the planner needs @inaccessible fields for
keys and requirements); the API schema, which clients see, also drops @inaccessible elements.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from graphql import (
    DefinitionNode,
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    GraphQLSchema,
    NamedTypeNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    parse,
)

MACHINERY_PREFIXES = ("join__", "link__", "context__")
MACHINERY_DIRECTIVES = frozenset({"link", "inaccessible", "context"})
FEDERATION_TYPES = frozenset({"_Any", "_Entity", "_Service", "FieldSet", "link__Import"})
FEDERATION_ROOT_FIELDS = frozenset({"_entities", "_service"})

NodeT = TypeVar("NodeT", bound=Any)


def build_full_schema(document: DocumentNode) -> GraphQLSchema:
    return build_ast_schema(_strip(document, drop_inaccessible=False), assume_valid_sdl=True)


# The router delivers `@defer` fragments incrementally, so clients may use the directive, as
# Apollo Router's API schema declares it.
DEFER_DEFINITION = parse(
    "directive @defer(label: String, if: Boolean! = true) on FRAGMENT_SPREAD | INLINE_FRAGMENT"
).definitions[0]


def build_api_schema(document: DocumentNode) -> GraphQLSchema:
    stripped = _strip(document, drop_inaccessible=True)
    if not any(
        isinstance(d, DirectiveDefinitionNode) and d.name.value == "defer"
        for d in stripped.definitions
    ):
        stripped = replace(stripped, definitions=(*stripped.definitions, DEFER_DEFINITION))
    return build_ast_schema(stripped, assume_valid_sdl=True)


def _is_machinery(name: str) -> bool:
    return name.startswith(MACHINERY_PREFIXES) or name in FEDERATION_TYPES


def _inaccessible(node: Any) -> bool:
    return any(d.name.value == "inaccessible" for d in getattr(node, "directives", None) or ())


def _strip(document: DocumentNode, *, drop_inaccessible: bool) -> DocumentNode:
    hidden = {
        d.name.value
        for d in document.definitions
        if isinstance(d, TypeDefinitionNode)
        and (_is_machinery(d.name.value) or (drop_inaccessible and _inaccessible(d)))
    }
    kept: list[DefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, DirectiveDefinitionNode):
            name = definition.name.value
            if not _is_machinery(name) and name not in MACHINERY_DIRECTIVES:
                kept.append(definition)
        elif isinstance(definition, SchemaDefinitionNode):
            kept.append(_without_machinery_directives(definition))
        elif isinstance(definition, TypeDefinitionNode):
            if definition.name.value not in hidden:
                kept.append(_strip_type(definition, hidden, drop_inaccessible))
        else:
            kept.append(definition)
    return DocumentNode(definitions=tuple(kept))


def _without_machinery_directives(node: NodeT) -> NodeT:
    directives = tuple(
        d
        for d in node.directives or ()
        if not _is_machinery(d.name.value) and d.name.value not in MACHINERY_DIRECTIVES
    )
    return replace(node, directives=directives)


def _strip_type(node: NodeT, hidden: set[str], drop_inaccessible: bool) -> NodeT:
    changes: dict[str, Any] = {}
    if getattr(node, "fields", None) is not None:
        changes["fields"] = tuple(
            _strip_field(f, drop_inaccessible)
            for f in node.fields
            if f.name.value not in FEDERATION_ROOT_FIELDS
            and not (drop_inaccessible and _inaccessible(f))
            and _named_type(f.type) not in hidden
        )
    if getattr(node, "values", None) is not None:
        changes["values"] = tuple(
            _without_machinery_directives(v)
            for v in node.values
            if not (drop_inaccessible and _inaccessible(v))
        )
    if getattr(node, "interfaces", None) is not None:
        changes["interfaces"] = tuple(i for i in node.interfaces if i.name.value not in hidden)
    if isinstance(node, UnionTypeDefinitionNode):
        changes["types"] = tuple(t for t in node.types or () if t.name.value not in hidden)
    return replace(_without_machinery_directives(node), **changes)


def _strip_field(node: NodeT, drop_inaccessible: bool) -> NodeT:
    changes: dict[str, Any] = {}
    if getattr(node, "arguments", None) is not None:
        changes["arguments"] = tuple(
            _without_machinery_directives(a)
            for a in node.arguments
            if not (drop_inaccessible and _inaccessible(a))
        )
    return replace(_without_machinery_directives(node), **changes)


def _named_type(type_node: Any) -> str:
    while not isinstance(type_node, NamedTypeNode):
        type_node = type_node.type
    return str(type_node.name.value)


def directive_named(node: Any, name: str) -> list[DirectiveNode]:
    return [d for d in getattr(node, "directives", None) or () if d.name.value == name]

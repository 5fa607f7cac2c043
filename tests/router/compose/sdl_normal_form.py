"""A canonical print of an SDL document, so two supergraphs compare equal whatever their order."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from graphql import DocumentNode, Node, StringValueNode, parse, print_ast

_SORTED_LISTS = (
    "definitions",
    "fields",
    "values",
    "types",
    "interfaces",
    "directives",
    "operation_types",
    "locations",
)


def normal_form(sdl: str) -> str:
    """Parse, sort every unordered list (definitions, fields, directive applications...), print."""
    document = parse(sdl, no_location=True)
    return print_ast(_normalise(document))


def _normalise(node: Any) -> Any:
    if isinstance(node, tuple | list):
        return tuple(_normalise(item) for item in node)
    if not isinstance(node, Node):
        return node
    changes = {key: _normalise(getattr(node, key)) for key in node.keys if key != "loc"}
    for key in _SORTED_LISTS:
        if changes.get(key):
            changes[key] = tuple(sorted(changes[key], key=_sort_key))
    if isinstance(node, StringValueNode):
        changes["block"] = False
    return replace(node, **changes)


def _sort_key(node: Any) -> str:
    return print_ast(node) if isinstance(node, Node) else str(node)


def same_document(left: DocumentNode, right: DocumentNode) -> bool:
    return print_ast(_normalise(left)) == print_ast(_normalise(right))

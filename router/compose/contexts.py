"""Federation 2.8's @context / @fromContext: a type names a context, an argument of a field
below it takes its value from a selection on the nearest ancestor of that context. Read from
the subgraphs, checked, and written to the supergraph as Apollo's composer writes it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphql import (
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLUnionType,
    is_abstract_type,
    parse,
)

from router.compose.errors import CompositionError
from router.compose.metadata import Metadata, argument, field_directives, type_directives
from router.compose.naming import quoted
from router.compose.supergraph import Applied, ComposedSupergraph

CONTEXT_URL = "https://specs.apollo.dev/context/v0.1"
# `$name selection`, where the selection is what follows the name, as Apollo splits it.
_REFERENCE = re.compile(r"^[\s,]*\$[\s,]*([A-Za-z_]\w*)(?!\w)([\s\S]*)$")
_NAME = re.compile(r"^[A-Za-z]\w*$")


@dataclass(frozen=True)
class ContextArgument:
    """An argument whose value comes from a context: the context's supergraph name is
    `<subgraph>__<name>`."""

    name: str
    type: str
    context: str
    selection: str


@dataclass
class SubgraphContexts:
    """One subgraph's contexts: the names each type sets, the contextual arguments of each
    `Type.field`, and what is wrong with them."""

    set_by: dict[str, list[str]]
    arguments: dict[str, list[ContextArgument]]
    errors: list[CompositionError]


def contexts_of(meta: Metadata) -> SubgraphContexts:
    subgraph = meta.subgraph
    found = SubgraphContexts({}, {}, [])
    types_of: dict[str, list[GraphQLNamedType]] = {}
    for type_ in subgraph.schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            continue
        for directive in subgraph.federation_directives(
            type_directives(subgraph, type_), "context"
        ):
            name = str(argument(directive, "name"))
            found.set_by.setdefault(type_.name, []).append(name)
            types_of.setdefault(name, []).append(type_)
            found.errors += _name_errors(meta.name, name)
    for type_ in subgraph.schema.type_map.values():
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, definition in type_.fields.items():
                for arg_name, arg in definition.args.items():
                    nodes = subgraph.federation_directives(field_directives(arg), "fromContext")
                    for directive in nodes:
                        coordinate = f"{type_.name}.{field_name}({arg_name}:)"
                        reference = str(argument(directive, "field") or "")
                        errors = _argument_errors(meta, type_, field_name, coordinate, arg)
                        context = _reference(reference)
                        if context is None:
                            errors.append(
                                _error(
                                    "NO_CONTEXT_IN_SELECTION",
                                    meta.name,
                                    "@fromContext argument does not reference a context"
                                    f' "{reference}".',
                                )
                            )
                        elif context[0] not in types_of:
                            errors.append(
                                _error(
                                    "CONTEXT_NOT_SET",
                                    meta.name,
                                    f'Context "{context[0]}" is used at location "{coordinate}"'
                                    " but is never set.",
                                )
                            )
                        else:
                            errors += _selection_errors(
                                meta.name, coordinate, context, types_of[context[0]]
                            )
                            errors += _key_errors(meta, type_)
                        found.errors += errors
                        if not errors and context is not None:
                            found.arguments.setdefault(f"{type_.name}.{field_name}", []).append(
                                ContextArgument(
                                    arg_name,
                                    str(arg.type),
                                    f"{meta.name}__{context[0]}",
                                    context[1],
                                )
                            )
    return found


def _reference(text: str) -> tuple[str, str] | None:
    match = _REFERENCE.match(text)
    if match is None or not match.group(2).strip():
        return None
    return match.group(1), match.group(2)


def _error(code: str, subgraph: str, message: str) -> CompositionError:
    return CompositionError(code, f"[{subgraph}] {message}", subgraph)


def _name_errors(subgraph: str, name: str) -> list[CompositionError]:
    if "_" in name:
        return [
            _error(
                "CONTEXT_NAME_INVALID",
                subgraph,
                f'Context name "{name}" may not contain an underscore.',
            )
        ]
    if not _NAME.match(name):
        return [
            _error(
                "CONTEXT_NAME_INVALID",
                subgraph,
                f'Context name "{name}" is invalid. It should have only alphanumeric characters.',
            )
        ]
    return []


def _argument_errors(
    meta: Metadata,
    parent: GraphQLObjectType | GraphQLInterfaceType,
    field_name: str,
    coordinate: str,
    arg: object,
) -> list[CompositionError]:
    if not isinstance(parent, GraphQLObjectType):
        return [
            _error(
                "CONTEXT_NOT_SET",
                meta.name,
                "@fromContext argument cannot be used on a field that exists on an abstract"
                f' type "{coordinate}".',
            )
        ]
    errors = [
        _error(
            "CONTEXT_NOT_SET",
            meta.name,
            "@fromContext argument cannot be used on a field implementing an interface field"
            f' "{interface.name}.{field_name}".',
        )
        for interface in parent.interfaces
        if field_name in interface.fields
    ]
    ast_node = getattr(arg, "ast_node", None)
    if ast_node is not None and ast_node.default_value is not None:
        errors.append(
            _error(
                "CONTEXT_NOT_SET",
                meta.name,
                f'@fromContext arguments may not have a default value: "{coordinate}".',
            )
        )
    return errors


def _key_errors(meta: Metadata, parent: GraphQLNamedType) -> list[CompositionError]:
    if any(key.resolvable for key in meta.keys.get(parent.name, [])):
        return []
    return [
        _error(
            "CONTEXT_NO_RESOLVABLE_KEY",
            meta.name,
            f'Object "{parent.name}" has no resolvable key but has a field with a contextual'
            " argument.",
        )
    ]


def _selection_errors(
    subgraph: str, coordinate: str, context: tuple[str, str], locations: list[GraphQLNamedType]
) -> list[CompositionError]:
    """The selection must be one field, or inline fragments on object types each selecting one,
    valid on every type setting the context."""
    name, selection = context
    try:
        document = parse(selection_document(selection), no_location=True)
    except GraphQLError as error:
        return [_invalid_selection(subgraph, name, coordinate, error.message)]
    nodes = document.definitions[0].selection_set.selections  # type: ignore[attr-defined]
    fragments = [n for n in nodes if n.kind == "inline_fragment"]
    fields = [n for n in nodes if n.kind == "field"]
    if len(fields) > 1 or (fields and fragments) or len(fields) + len(fragments) != len(nodes):
        return [_invalid_selection(subgraph, name, coordinate, "multiple selections are made")]
    for location in locations:
        if fields:
            if not _has_field(location, fields[0].name.value):
                return [_invalid_selection(subgraph, name, coordinate, "unknown field")]
            continue
        conditions = [f.type_condition.name.value for f in fragments if f.type_condition]
        if not is_abstract_type(location) and location.name not in conditions:
            message = f'no type condition matches the location "{location.name}"'
            return [_invalid_selection(subgraph, name, coordinate, message)]
    return []


def selection_document(selection: str) -> str:
    """A context's selection (`{ a }` or `... on T { a }`) as a query document."""
    text = selection.strip()
    return text if text.startswith("{") else "{" + text + "}"


def _has_field(location: GraphQLNamedType, name: str) -> bool:
    return name in getattr(location, "fields", {})


def _invalid_selection(subgraph: str, name: str, coordinate: str, why: str) -> CompositionError:
    return _error(
        "CONTEXT_INVALID_SELECTION",
        subgraph,
        f'Context "{name}" is used in "{coordinate}" but the selection is invalid: {why}',
    )


def context_directives(meta: Metadata, found: SubgraphContexts, type_name: str) -> list[Applied]:
    return [
        Applied("context", [("name", quoted(f"{meta.name}__{name}"))])
        for name in found.set_by.get(type_name, [])
    ]


def context_arguments_literal(arguments: list[ContextArgument]) -> str:
    items = (
        f"{{context: {quoted(a.context)}, name: {quoted(a.name)}, type: {quoted(a.type)},"
        f" selection: {quoted(a.selection)}}}"
        for a in arguments
    )
    return "[" + ", ".join(items) + "]"


def add_context_spec(supergraph: ComposedSupergraph) -> None:
    supergraph.links.append(Applied("link", [("url", f'"{CONTEXT_URL}"'), ("for", "SECURITY")]))
    supergraph.spec_directives["context"] = (
        "directive @context(name: String!) repeatable on INTERFACE | OBJECT | UNION"
    )
    supergraph.spec_directives["context__fromContext"] = (
        "directive @context__fromContext(field: context__ContextFieldValue) on ARGUMENT_DEFINITION"
    )
    supergraph.spec_types["context__ContextFieldValue"] = "scalar context__ContextFieldValue"

"""Every element of the API schema clients see through the router has a description that says
something: each type, field, argument, input field and enum value, named by its coordinate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    TypeDefinitionNode,
    TypeExtensionNode,
    parse,
)

from router.supergraph.schemas import build_api_schema
from vetrai import docs

ROOT = Path(__file__).parent.parent
SUPERGRAPH = ROOT / docs.SUPERGRAPH
COMPOSE_GROUPS = ROOT / "tests" / "router" / "compose" / "groups" / "valid"


def _elements(named: GraphQLNamedType) -> Iterator[tuple[str, str, str | None]]:
    """(coordinate, name, description) of the type and of everything it holds."""
    yield named.name, named.name, named.description
    if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
        for name, field in named.fields.items():
            yield f"{named.name}.{name}", name, field.description
            for arg_name, arg in field.args.items():
                yield f"{named.name}.{name}({arg_name}:)", arg_name, arg.description
    elif isinstance(named, GraphQLInputObjectType):
        for name, input_field in named.fields.items():
            yield f"{named.name}.{name}", name, input_field.description
    elif isinstance(named, GraphQLEnumType):
        for name, value in named.values.items():
            yield f"{named.name}.{name}", name, value.description


def _described(sdl: str) -> Iterator[tuple[str, str]]:
    """(coordinate, description) of every described element of a subgraph's SDL."""
    for definition in parse(sdl).definitions:
        if not isinstance(definition, TypeDefinitionNode | TypeExtensionNode):
            continue
        name = definition.name.value
        nodes: list[tuple[str, Any]] = [(name, definition)]
        for field in getattr(definition, "fields", None) or ():
            nodes.append((f"{name}.{field.name.value}", field))
            nodes += [
                (f"{name}.{field.name.value}({arg.name.value}:)", arg)
                for arg in getattr(field, "arguments", None) or ()
            ]
        nodes += [(f"{name}.{v.name.value}", v) for v in getattr(definition, "values", None) or ()]
        for coordinate, node in nodes:
            description = getattr(node, "description", None)
            if description is not None:
                yield coordinate, description.value


def _says_nothing(name: str, description: str | None) -> bool:
    """Missing, blank, or the name again (``createdAt``: "Created at.")."""
    words = re.sub(r"[^a-z0-9]", "", (description or "").lower())
    return not words or words == re.sub(r"[^a-z0-9]", "", name.lower())


def undescribed(sdl: str) -> list[str]:
    """The coordinates of the API schema's elements without a useful description."""
    document = parse(sdl)
    types = docs.api_types(document, build_api_schema(document))
    return [
        coordinate
        for named in types
        for coordinate, name, description in _elements(named)
        if _says_nothing(name, description)
    ]


def test_every_element_of_the_api_schema_is_described() -> None:
    missing = undescribed(SUPERGRAPH.read_text())
    assert missing == [], f"{len(missing)} elements lack a description:\n" + "\n".join(missing)


def test_subgraphs_agree_on_the_description_of_what_they_share() -> None:
    # Composition keeps one of differing descriptions (the first subgraph's, as Apollo does):
    # an entity's stub in another subgraph must not describe it differently from its owner.
    by_coordinate: dict[str, dict[str, set[str]]] = {}
    for path in sorted((ROOT / "schema" / "subgraphs").glob("*.graphql")):
        for coordinate, description in _described(path.read_text()):
            by_coordinate.setdefault(coordinate, {}).setdefault(description, set()).add(path.stem)
    differing = {c: d for c, d in by_coordinate.items() if len(d) > 1}
    assert differing == {}


def test_a_missing_or_empty_description_is_named_by_its_coordinate() -> None:
    sdl = """
    schema { query: Query }
    "Reads." type Query {
      "A ticket." ticket(id: ID!, "Also merged ones." merged: Boolean): Ticket
    }
    "" type Ticket { "Ticket id." id: ID! "status" status: Status }
    "Where a ticket is." enum Status { "Being worked on." OPEN CLOSED }
    "A filter." input Filter { "" status: Status }
    "An instant." scalar DateTime
    """
    assert undescribed(sdl) == [
        "Filter.status",
        "Query.ticket(id:)",
        "Status.CLOSED",
        "Ticket",
        "Ticket.status",
    ]


def test_federation_machinery_and_inaccessible_elements_are_not_part_of_the_api_schema() -> None:
    apollo = COMPOSE_GROUPS / "tags_inaccessible" / "supergraph.graphql"
    assert undescribed(apollo.read_text()) == [
        "Query",
        "Query.audit",
        "Query.user",
        "Query.user(id:)",
        "User",
        "User.id",
        "User.lastLogin",
        "User.kind",
        "UserKind",
        "UserKind.HUMAN",
    ]

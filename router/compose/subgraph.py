"""A subgraph's SDL read as a Federation 2 schema: federation names resolved, GraphQL validated."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

from graphql import (
    DefinitionNode,
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    TypeDefinitionNode,
    TypeExtensionNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    build_ast_schema,
    parse,
    validate_schema,
)
from graphql.validation.validate import validate_sdl

from router.compose.errors import CompositionError
from router.compose.links import FEDERATION_IDENTITY, Link, links_of, schema_directives

FEDERATION_VERSIONS = [(2, minor) for minor in range(15)]
_ALL = (
    "FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM"
    " | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)
_AUTH = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"
# Definitions loose enough to validate any correct use; the composer reads arguments itself.
FEDERATION_DIRECTIVES = {
    "key": "(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE",
    "requires": "(fields: String!) on FIELD_DEFINITION",
    "provides": "(fields: String!) on FIELD_DEFINITION",
    "external": "(reason: String) on OBJECT | FIELD_DEFINITION",
    "tag": f"(name: String!) repeatable on {_ALL} | SCHEMA",
    "extends": "on OBJECT | INTERFACE",
    "shareable": "repeatable on OBJECT | FIELD_DEFINITION",
    "inaccessible": f"on {_ALL}",
    "override": "(from: String!, label: String) on FIELD_DEFINITION",
    "composeDirective": "(name: String!) repeatable on SCHEMA",
    "interfaceObject": "on OBJECT",
    "authenticated": f"on {_AUTH}",
    "requiresScopes": f"(scopes: [[String!]!]!) on {_AUTH}",
    "policy": f"(policies: [[String!]!]!) on {_AUTH}",
    "cost": "(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION"
    " | INPUT_FIELD_DEFINITION | OBJECT | SCALAR",
    "listSize": "(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],"
    " requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION",
    "context": "(name: String!) repeatable on INTERFACE | OBJECT | UNION",
    "fromContext": "(field: String) on ARGUMENT_DEFINITION",
}
# The federation version that introduced a directive, for those that came after 2.0.
FEDERATION_MINIMUM_VERSION = {
    "authenticated": (2, 5),
    "requiresScopes": (2, 5),
    "policy": (2, 6),
    "cost": (2, 9),
    "listSize": (2, 9),
    "context": (2, 8),
    "fromContext": (2, 8),
}
UNSUPPORTED_DIRECTIVES = ("cacheTag",)
FEDERATION_TYPES = {
    "_Any",
    "_Entity",
    "_Service",
    "_FieldSet",
    "FieldSet",
    "Import",
    "Purpose",
    "Scope",
    "Policy",
}
FEDERATION_FIELDS = {"_entities", "_service"}
_DEFINITION_OF: dict[type[TypeExtensionNode], type[TypeDefinitionNode]] = {
    ObjectTypeExtensionNode: ObjectTypeDefinitionNode,
    InterfaceTypeExtensionNode: InterfaceTypeDefinitionNode,
    UnionTypeExtensionNode: UnionTypeDefinitionNode,
    EnumTypeExtensionNode: EnumTypeDefinitionNode,
    InputObjectTypeExtensionNode: InputObjectTypeDefinitionNode,
    ScalarTypeExtensionNode: ScalarTypeDefinitionNode,
}


@dataclass(frozen=True)
class Subgraph:
    """A named subgraph: where the router reaches it and the SDL it serves."""

    name: str
    url: str
    sdl: str


@dataclass
class ParsedSubgraph:
    """A subgraph's validated schema and what composition needs to know of its federation use."""

    name: str
    url: str
    document: DocumentNode
    schema: GraphQLSchema
    federation: Link | None
    links: list[Link]
    canonical: dict[str, str]
    extension_types: set[str] = field(default_factory=set)
    schema_directives: list[DirectiveNode] = field(default_factory=list)
    applied: set[str] = field(default_factory=set)

    @property
    def version(self) -> tuple[int, int]:
        return self.federation.version if self.federation else (2, 0)

    def local(self, canonical: str) -> str:
        return self.federation.local_directive(canonical) if self.federation else canonical

    def federation_directives(
        self, directives: list[DirectiveNode], name: str
    ) -> list[DirectiveNode]:
        """The applications of federation directive `name` among `directives`."""
        return [d for d in directives if self.canonical.get(d.name.value) == name]


def parse_subgraph(subgraph: Subgraph) -> ParsedSubgraph | list[CompositionError]:
    """Parse and validate one subgraph's SDL, or say why it is not a valid subgraph."""
    try:
        document = parse(subgraph.sdl)
    except GraphQLSyntaxError as error:
        return [_invalid(subgraph.name, error.message)]
    links = links_of(document)
    federation = next((link for link in links if link.identity == FEDERATION_IDENTITY), None)
    if federation and federation.version not in FEDERATION_VERSIONS:
        message = f"Invalid version v{federation.version[0]}.{federation.version[1]}"
        code = "UNKNOWN_FEDERATION_LINK_VERSION"
        return [
            CompositionError(
                code,
                f"[{subgraph.name}] {message} for the federation feature "
                f"in @link direction on schema",
                subgraph.name,
            )
        ]
    canonical = _federation_names(federation)
    applied = applied_names(document)
    errors = _unknown_imports(subgraph.name, federation) + _unsupported(
        subgraph.name, applied, federation
    )
    if errors:
        return errors
    cleaned, extension_types = _clean(document, canonical, links)
    sdl_errors = validate_sdl(cleaned)
    if sdl_errors:
        return [_invalid(subgraph.name, error.message) for error in sdl_errors]
    try:
        schema = build_ast_schema(cleaned, assume_valid_sdl=True)
    except (GraphQLError, TypeError) as error:
        return [_invalid(subgraph.name, str(error))]
    schema_errors = [e for e in validate_schema(schema) if "Query root type" not in e.message]
    if schema_errors:
        return [_invalid(subgraph.name, error.message) for error in schema_errors]
    other_links = [link for link in links if link is not federation]
    return ParsedSubgraph(
        subgraph.name,
        subgraph.url,
        cleaned,
        schema,
        federation,
        other_links,
        canonical,
        extension_types,
        schema_directives(document),
        applied,
    )


def _invalid(subgraph: str, message: str) -> CompositionError:
    return CompositionError("INVALID_GRAPHQL", f"[{subgraph}] {message}", subgraph)


def _federation_names(federation: Link | None) -> dict[str, str]:
    names = [*FEDERATION_DIRECTIVES, *UNSUPPORTED_DIRECTIVES]
    if federation is None:
        return {name: name for name in names}
    return {
        federation.local_directive(name): name
        for name in names
        if FEDERATION_MINIMUM_VERSION.get(name, (2, 0)) <= federation.version
    }


def _unknown_imports(subgraph: str, federation: Link | None) -> list[CompositionError]:
    """Imports of directives that the linked federation version does not have yet."""
    if federation is None:
        return []
    too_new = [
        name
        for name in federation.imports
        if FEDERATION_MINIMUM_VERSION.get(name, (2, 0)) > federation.version
    ]
    return [
        CompositionError(
            "INVALID_LINK_DIRECTIVE_USAGE",
            f'[{subgraph}] Cannot import unknown element "@{name}".',
            subgraph,
        )
        for name in too_new
    ]


def _unsupported(
    subgraph: str, applied: set[str], federation: Link | None
) -> list[CompositionError]:
    local = {federation.local_directive(n) if federation else n: n for n in UNSUPPORTED_DIRECTIVES}
    used = sorted({local[name] for name in applied if name in local})
    return [
        CompositionError(
            "UNSUPPORTED_FEATURE",
            f"[{subgraph}] Directive @{name} is not supported by this composer yet.",
            subgraph,
        )
        for name in used
    ]


def applied_names(document: DocumentNode) -> set[str]:
    """Names of every directive applied in the type system of `document`."""
    names: set[str] = set()
    for definition in document.definitions:
        elements = [definition]
        for member in ("fields", "values"):
            elements += getattr(definition, member, None) or ()
        elements += [
            arg for element in elements for arg in getattr(element, "arguments", None) or ()
        ]
        names.update(
            directive.name.value
            for element in elements
            for directive in getattr(element, "directives", None) or ()
        )
    return names


def _clean(
    document: DocumentNode, canonical: dict[str, str], links: list[Link]
) -> tuple[DocumentNode, set[str]]:
    """Drop federation plumbing, turn orphan extensions into definitions, declare federation
    directives under their local names."""
    spec_types = {_spec_type(link, name) for link in links for name in FEDERATION_TYPES}
    spec_types |= FEDERATION_TYPES - {"Import", "Purpose"}
    defined = {d.name.value for d in document.definitions if isinstance(d, TypeDefinitionNode)}
    extension_types: set[str] = set()
    dropped: set[str] = set()
    definitions: list[DefinitionNode] = []
    for definition in document.definitions:
        if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            if definition.operation_types:
                definitions.append(_without_directives(definition))
            continue
        if isinstance(definition, DirectiveDefinitionNode):
            if definition.name.value not in canonical and definition.name.value != "link":
                definitions.append(definition)
            continue
        name = getattr(getattr(definition, "name", None), "value", None)
        if name in spec_types:
            continue
        if isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            if definition.fields and all(
                f.name.value in FEDERATION_FIELDS for f in definition.fields
            ):
                dropped.add(str(name))
                continue
            definition = _without_federation_fields(definition)
        if isinstance(definition, TypeExtensionNode) and name not in defined:
            extension_types.add(str(name))
            defined.add(str(name))
            definition = _as_definition(definition)
        definitions.append(definition)
    definitions = [_without_roots(d, dropped) for d in definitions]
    definitions.extend(_federation_definitions(canonical))
    return DocumentNode(definitions=tuple(definitions)), extension_types


def _without_roots(definition: DefinitionNode, dropped: set[str]) -> DefinitionNode:
    """Forget root operations whose type only held `_entities` / `_service`."""
    if not isinstance(definition, SchemaDefinitionNode) or not dropped:
        return definition
    kept = tuple(o for o in definition.operation_types if o.type.name.value not in dropped)
    return replace(definition, operation_types=kept)


def _spec_type(link: Link, name: str) -> str:
    return link.imports.get(name, f"{link.prefix}__{name}")


def _without_directives(node: SchemaDefinitionNode | SchemaExtensionNode) -> DefinitionNode:
    if isinstance(node, SchemaExtensionNode):
        return SchemaDefinitionNode(operation_types=node.operation_types or (), directives=())
    return SchemaDefinitionNode(
        description=node.description, operation_types=node.operation_types, directives=()
    )


def _without_federation_fields(
    node: ObjectTypeDefinitionNode | ObjectTypeExtensionNode,
) -> ObjectTypeDefinitionNode | ObjectTypeExtensionNode:
    fields = tuple(f for f in node.fields or () if f.name.value not in FEDERATION_FIELDS)
    if len(fields) == len(node.fields or ()):
        return node
    return replace(node, fields=fields)


def _as_definition(node: TypeExtensionNode) -> TypeDefinitionNode:
    return _DEFINITION_OF[type(node)](
        **{key: getattr(node, key) for key in node.keys}, description=None
    )


def _federation_definitions(canonical: dict[str, str]) -> tuple[DefinitionNode, ...]:
    return _parsed_definitions(tuple(canonical.items()))


@cache
def _parsed_definitions(canonical: tuple[tuple[str, str], ...]) -> tuple[DefinitionNode, ...]:
    sdl = "\n".join(
        f"directive @{local} {FEDERATION_DIRECTIVES[name]}"
        for local, name in canonical
        if name in FEDERATION_DIRECTIVES
    )
    return parse(sdl, no_location=True).definitions

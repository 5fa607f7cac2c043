"""The core specs a supergraph links (link, join, tag, inaccessible) and their definitions."""

from __future__ import annotations

from router.compose.supergraph import Applied, ComposedSupergraph

LINK_URL = "https://specs.apollo.dev/link/v1.0"
TAG_URL = "https://specs.apollo.dev/tag/v0.3"
INACCESSIBLE_URL = "https://specs.apollo.dev/inaccessible/v0.2"
_ALL_LOCATIONS = (
    "FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM"
    " | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)
_PURPOSE = '''enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY

  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}'''


def join_version(federation_version: tuple[int, int]) -> tuple[int, int]:
    """The join spec version Apollo pairs with the highest federation version in use."""
    if federation_version >= (2, 8):
        return (0, 5)
    if federation_version >= (2, 7):
        return (0, 4)
    return (0, 3)


def add_core_specs(supergraph: ComposedSupergraph, join: tuple[int, int]) -> None:
    version = f"v{join[0]}.{join[1]}"
    supergraph.links += [
        Applied("link", [("url", f'"{LINK_URL}"')]),
        Applied(
            "link", [("url", f'"https://specs.apollo.dev/join/{version}"'), ("for", "EXECUTION")]
        ),
    ]
    directives = supergraph.spec_directives
    directives["link"] = (
        "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import])"
        " repeatable on SCHEMA"
    )
    field_args = (
        "graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String,"
        " external: Boolean, override: String, usedOverridden: Boolean"
    )
    if join >= (0, 4):
        field_args += ", overrideLabel: String"
        directives["join__directive"] = (
            "directive @join__directive(graphs: [join__Graph!], name: String!,"
            " args: join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE"
            " | FIELD_DEFINITION"
        )
        supergraph.spec_types["join__DirectiveArguments"] = "scalar join__DirectiveArguments"
    if join >= (0, 5):
        field_args += ", contextArguments: [join__ContextArgument!]"
        supergraph.spec_types["join__ContextArgument"] = (
            "input join__ContextArgument {\n  name: String!\n  type: String!\n"
            "  context: String!\n  selection: join__FieldValue!\n}"
        )
        supergraph.spec_types["join__FieldValue"] = "scalar join__FieldValue"
    directives["join__enumValue"] = (
        "directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE"
    )
    directives["join__field"] = (
        f"directive @join__field({field_args}) repeatable on FIELD_DEFINITION"
        " | INPUT_FIELD_DEFINITION"
    )
    directives["join__graph"] = "directive @join__graph(name: String!, url: String!) on ENUM_VALUE"
    directives["join__implements"] = (
        "directive @join__implements(graph: join__Graph!, interface: String!) repeatable"
        " on OBJECT | INTERFACE"
    )
    directives["join__type"] = (
        "directive @join__type(graph: join__Graph!, key: join__FieldSet,"
        " extension: Boolean! = false, resolvable: Boolean! = true,"
        " isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM"
        " | INPUT_OBJECT | SCALAR"
    )
    directives["join__unionMember"] = (
        "directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION"
    )
    supergraph.spec_types["join__FieldSet"] = "scalar join__FieldSet"
    supergraph.spec_types["link__Import"] = "scalar link__Import"
    supergraph.spec_types["link__Purpose"] = _PURPOSE


def add_graphs(supergraph: ComposedSupergraph, graphs: list[tuple[str, str, str]]) -> None:
    """`graphs` holds (enum value, subgraph name, routing URL) triples."""
    values = "".join(
        f'\n  {value} @join__graph(name: "{name}", url: "{url}")' for value, name, url in graphs
    )
    supergraph.spec_types["join__Graph"] = f"enum join__Graph {{{values}\n}}"


def add_tag(supergraph: ComposedSupergraph, name: str) -> None:
    supergraph.links.append(Applied("link", [("url", f'"{TAG_URL}"'), *_import(name, "tag")]))
    supergraph.spec_directives[name] = (
        f"directive @{name}(name: String!) repeatable on {_ALL_LOCATIONS} | SCHEMA"
    )


def add_inaccessible(supergraph: ComposedSupergraph, name: str) -> None:
    supergraph.links.append(
        Applied(
            "link",
            [("url", f'"{INACCESSIBLE_URL}"'), *_import(name, "inaccessible"), ("for", "SECURITY")],
        )
    )
    supergraph.spec_directives[name] = f"directive @{name} on {_ALL_LOCATIONS}"


def _import(local: str, name: str) -> list[tuple[str, str]]:
    if local == name:
        return []
    return [("import", f'[{{name: "@{name}", as: "@{local}"}}]')]

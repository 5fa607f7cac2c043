"""`@link` applications of a subgraph: which specs it uses and under which names."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphql import (
    DirectiveNode,
    DocumentNode,
    ListValueNode,
    ObjectValueNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    ValueNode,
)

FEDERATION_IDENTITY = "https://specs.apollo.dev/federation"
LINK_IDENTITY = "https://specs.apollo.dev/link"
_URL = re.compile(r"^(?P<identity>.+)/(?P<name>[A-Za-z_][\w-]*)/v(?P<major>\d+)\.(?P<minor>\d+)/?$")


@dataclass(frozen=True)
class Link:
    """One `@link(url:, as:, import:)`: a spec and the local names of its elements."""

    url: str
    identity: str
    name: str
    version: tuple[int, int]
    alias: str | None = None
    imports: dict[str, str] = field(default_factory=dict)
    node: DirectiveNode | None = None

    @property
    def prefix(self) -> str:
        return self.alias or self.name

    def local_directive(self, name: str) -> str:
        """The name under which the spec's directive `@name` appears in the subgraph."""
        if name in self.imports:
            return self.imports[name]
        if name == self.name:
            return self.prefix
        return f"{self.prefix}__{name}"


def parse_url(url: str) -> tuple[str, str, tuple[int, int]] | None:
    match = _URL.match(url)
    if not match:
        return None
    version = (int(match["major"]), int(match["minor"]))
    return f"{match['identity']}/{match['name']}", match["name"], version


def schema_directives(document: DocumentNode) -> list[DirectiveNode]:
    return [
        directive
        for definition in document.definitions
        if isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode)
        for directive in definition.directives or ()
    ]


def links_of(document: DocumentNode) -> list[Link]:
    """Every `@link` on the schema definition or its extensions, in order."""
    links = []
    for directive in schema_directives(document):
        if directive.name.value != "link":
            continue
        args = {arg.name.value: arg.value for arg in directive.arguments or ()}
        url = _string(args.get("url"))
        parsed = parse_url(url) if url else None
        if not url or not parsed:
            continue
        identity, name, version = parsed
        links.append(
            Link(url, identity, name, version, _string(args.get("as")), _imports(args), directive)
        )
    return links


def _imports(args: dict[str, ValueNode]) -> dict[str, str]:
    value = args.get("import")
    imports: dict[str, str] = {}
    for item in value.values if isinstance(value, ListValueNode) else ():
        if isinstance(item, StringValueNode):
            imports[item.value.lstrip("@")] = item.value.lstrip("@")
        elif isinstance(item, ObjectValueNode):
            parts = {f.name.value: _string(f.value) for f in item.fields}
            name, alias = parts.get("name"), parts.get("as") or parts.get("name")
            if name and alias:
                imports[name.lstrip("@")] = alias.lstrip("@")
    return imports


def _string(value: ValueNode | None) -> str | None:
    return value.value if isinstance(value, StringValueNode) else None

"""What a subgraph's federation directives say: keys, externals, shareables, overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DirectiveNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    get_named_type,
    value_from_ast_untyped,
)

from router.compose.fieldset_resolution import (
    Composite,
    ResolvedFieldSet,
    resolve,
    with_implementations,
)
from router.compose.subgraph import ParsedSubgraph


@dataclass(frozen=True)
class Key:
    """One `@key` of a type in one subgraph."""

    fields: str
    resolvable: bool
    extension: bool
    node: DirectiveNode


@dataclass
class Metadata:
    """Federation facts about one subgraph, keyed by type name or `Type.field` coordinate."""

    subgraph: ParsedSubgraph
    keys: dict[str, list[Key]] = field(default_factory=dict)
    interface_objects: set[str] = field(default_factory=set)
    external: set[str] = field(default_factory=set)
    fake_external: set[str] = field(default_factory=set)
    provided: set[str] = field(default_factory=set)
    shareable: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    requires: dict[str, str] = field(default_factory=dict)
    provides: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.subgraph.name

    def is_fully_external(self, coordinate: str) -> bool:
        return coordinate in self.external and coordinate not in self.provided

    def is_entity(self, type_name: str) -> bool:
        return bool(self.keys.get(type_name))


def argument(directive: DirectiveNode, name: str) -> Any:
    for arg in directive.arguments or ():
        if arg.name.value == name:
            return value_from_ast_untyped(arg.value)
    return None


def type_directives(subgraph: ParsedSubgraph, type_: GraphQLNamedType) -> list[DirectiveNode]:
    nodes = [type_.ast_node, *type_.extension_ast_nodes] if type_.ast_node else []
    return [d for node in nodes for d in getattr(node, "directives", None) or ()]


def field_directives(definition: Any) -> list[DirectiveNode]:
    node = definition.ast_node
    return list(node.directives or ()) if node else []


def field_definition(meta: Metadata, coordinate: str) -> GraphQLField:
    """The field at `Type.field` in the subgraph (KeyError when there is none)."""
    type_name, field_name = coordinate.split(".")
    parent = meta.subgraph.schema.get_type(type_name)
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        raise KeyError(coordinate)
    definition: GraphQLField = parent.fields[field_name]
    return definition


def composite_types(subgraph: ParsedSubgraph) -> list[Composite]:
    return [
        t
        for name, t in subgraph.schema.type_map.items()
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) and not name.startswith("__")
    ]


def collect(subgraph: ParsedSubgraph) -> Metadata:
    """Read every federation directive of `subgraph` into a `Metadata`."""
    meta = Metadata(subgraph)
    for type_ in composite_types(subgraph):
        _collect_type(meta, type_)
    for type_ in composite_types(subgraph):
        for name, definition in type_.fields.items():
            _collect_field(meta, type_, name, definition)
    _collect_fake_externals(meta)
    _collect_field_set_uses(meta)
    return meta


def _collect_type(meta: Metadata, type_: Composite) -> None:
    subgraph = meta.subgraph
    directives = type_directives(subgraph, type_)
    extends = bool(subgraph.federation_directives(directives, "extends"))
    keys = []
    for directive in subgraph.federation_directives(directives, "key"):
        resolvable = argument(directive, "resolvable") is not False
        extension = extends or _in_extension(subgraph, type_, directive)
        keys.append(Key(str(argument(directive, "fields")), resolvable, extension, directive))
    meta.keys[type_.name] = keys
    if subgraph.federation_directives(directives, "interfaceObject"):
        meta.interface_objects.add(type_.name)
    if subgraph.federation_directives(directives, "external") and subgraph.version >= (2, 0):
        meta.external |= {f"{type_.name}.{name}" for name in type_.fields}
    if subgraph.federation_directives(directives, "shareable"):
        meta.shareable |= {f"{type_.name}.{name}" for name in type_.fields}


def _in_extension(subgraph: ParsedSubgraph, type_: Composite, directive: DirectiveNode) -> bool:
    if type_.name in subgraph.extension_types:
        return True
    return any(directive in (node.directives or ()) for node in type_.extension_ast_nodes)


def _collect_field(meta: Metadata, parent: Composite, name: str, definition: GraphQLField) -> None:
    subgraph = meta.subgraph
    coordinate = f"{parent.name}.{name}"
    directives = field_directives(definition)
    if subgraph.federation_directives(directives, "external"):
        meta.external.add(coordinate)
    if subgraph.federation_directives(directives, "shareable"):
        meta.shareable.add(coordinate)
    for directive in subgraph.federation_directives(directives, "requires"):
        meta.requires[coordinate] = str(argument(directive, "fields"))
    for directive in subgraph.federation_directives(directives, "provides"):
        meta.provides[coordinate] = str(argument(directive, "fields"))
    for directive in subgraph.federation_directives(directives, "override"):
        label = argument(directive, "label")
        meta.overrides[coordinate] = (str(argument(directive, "from")), label)


def _collect_fake_externals(meta: Metadata) -> None:
    """Key fields marked @external on an extension are not really external (Fed 1 heritage)."""
    schema = meta.subgraph.schema
    for type_name, keys in meta.keys.items():
        parent = schema.get_type(type_name)
        for key in keys:
            if not key.extension or not isinstance(
                parent, GraphQLObjectType | GraphQLInterfaceType
            ):
                continue
            for selected in resolve(schema, parent, key.fields).selections:
                if selected.coordinate in meta.external:
                    meta.fake_external.add(selected.coordinate)
    meta.external -= meta.fake_external


def key_field_set(meta: Metadata, type_name: str, key: Key) -> ResolvedFieldSet:
    parent = meta.subgraph.schema.get_type(type_name)
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return ResolvedFieldSet()
    return resolve(meta.subgraph.schema, parent, key.fields)


def requires_field_set(meta: Metadata, coordinate: str) -> ResolvedFieldSet:
    parent = meta.subgraph.schema.get_type(coordinate.split(".")[0])
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return ResolvedFieldSet()
    return resolve(meta.subgraph.schema, parent, meta.requires[coordinate])


def provides_field_set(meta: Metadata, coordinate: str) -> ResolvedFieldSet:
    target = get_named_type(field_definition(meta, coordinate).type)
    if not isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
        return ResolvedFieldSet()
    return resolve(meta.subgraph.schema, target, meta.provides[coordinate])


def _collect_field_set_uses(meta: Metadata) -> None:
    schema = meta.subgraph.schema
    for type_name, keys in meta.keys.items():
        for key in keys:
            for selected in key_field_set(meta, type_name, key).walk():
                targets = with_implementations(schema, selected)
                meta.used.update(targets)
                meta.shareable.update(targets)
    for coordinate in meta.requires:
        for selected in requires_field_set(meta, coordinate).walk():
            meta.used.update(with_implementations(schema, selected))
    for coordinate in meta.provides:
        for selected in provides_field_set(meta, coordinate).walk():
            targets = with_implementations(schema, selected)
            meta.used.update(targets)
            meta.provided.update(targets)
            meta.shareable.update(t for t in targets if t in meta.external)
    for type_ in composite_types(meta.subgraph):
        if isinstance(type_, GraphQLInterfaceType):
            for implementation in schema.get_possible_types(type_):
                meta.used.update(
                    f"{implementation.name}.{name}"
                    for name in type_.fields
                    if name in implementation.fields
                )

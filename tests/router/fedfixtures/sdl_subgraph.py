"""A subgraph built from its SDL and in-memory JSON data, for the fixture corpus.

Data per subgraph: `Query` and `Mutation` (root values) and `entities` (records by type). A field
is read from the object at hand, else from the entity record its keys match; a field with
arguments is first looked up as `name(arg:json,...)`. A field with @requires that has no
stored value answers the JSON of the required fields as the representation carried them,
and a field with a @fromContext argument the JSON of its arguments, so an answer shows
exactly what the router sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    ObjectTypeDefinitionNode,
    SelectionSetNode,
    build_ast_schema,
    extend_schema,
    graphql,
    is_abstract_type,
    parse,
)

Data = dict[str, Any]
ENTITIES_SDL = """
scalar _Any
union _Entity = {members}
extend type Query {{ _entities(representations: [_Any!]!): [_Entity]! }}
"""


@dataclass
class SdlSubgraph:
    schema: GraphQLSchema
    root: Data
    entities: dict[str, list[Data]]
    keys: dict[str, list[SelectionSetNode]]
    requires: dict[tuple[str, str], SelectionSetNode]
    contextual: set[tuple[str, str]]

    async def execute(self, body: dict[str, Any]) -> dict[str, Any]:
        result = await graphql(
            self.schema,
            body.get("query", ""),
            root_value=self.root,
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
            field_resolver=self._resolve,
            type_resolver=_type_of,
        )
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [e.formatted for e in result.errors]
        return response

    def _resolve(self, source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        if info.field_name == "_entities" and info.parent_type.name == "Query":
            return [self._entity(r) for r in args["representations"]]
        value = self._value(source, info.parent_type.name, info.field_name, args)
        if isinstance(value, dict) and "@error" in value:
            raise GraphQLError(value["@error"], extensions={"code": "FIXTURE_ERROR"})
        return value

    def _value(self, obj: Data, type_name: str, field: str, args: dict[str, Any]) -> Any:
        for candidate in (obj, self._record(type_name, obj)):
            if candidate is None:
                continue
            if args and (key := _argument_key(field, args)) in candidate:
                return candidate[key]
            if field in candidate:
                return candidate[field]
        required = self.requires.get((type_name, field))
        if required is not None:
            return json.dumps(_project(obj, required), sort_keys=True)
        if (type_name, field) in self.contextual:
            return json.dumps(args, sort_keys=True)
        return None

    def _entity(self, representation: Data) -> Data | None:
        typename = representation["__typename"]
        named = self.schema.get_type(typename)
        types = (
            [t.name for t in self.schema.get_possible_types(named)]
            if named is not None and is_abstract_type(named)
            else [typename]
        )
        for name in types:
            record = self._record(name, representation)
            if record is not None:
                return {**record, **representation, "__typename": name}
        return None

    def _record(self, type_name: str, obj: Data) -> Data | None:
        for key in self.keys.get(type_name, ()):
            wanted = _project(obj, key, strict=True)
            if wanted is None:
                continue
            for record in self.entities.get(type_name, ()):
                if _project(record, key) == wanted:
                    return record
        return None


def _type_of(value: Any, info: GraphQLResolveInfo[Any], abstract: Any) -> str | None:
    return value.get("__typename") if isinstance(value, dict) else None


def _argument_key(field: str, args: dict[str, Any]) -> str:
    inner = ",".join(f"{k}:{json.dumps(v, sort_keys=True)}" for k, v in sorted(args.items()))
    return f"{field}({inner})"


def _project(value: Any, selection: SelectionSetNode, strict: bool = False) -> Any:
    """The value restricted to a field set; with `strict`, None when a field is missing."""
    if isinstance(value, list):
        return [_project(v, selection, strict) for v in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for node in selection.selections:
        if isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            if condition is None or value.get("__typename") in (condition, None):
                inner = _project(value, node.selection_set, strict)
                if inner is None:
                    return None
                result.update(inner)
            continue
        assert isinstance(node, FieldNode)
        key = node.alias.value if node.alias else node.name.value
        if key not in value:
            if strict:
                return None
            continue
        sub = node.selection_set
        result[key] = _project(value[key], sub, strict) if sub else value[key]
    return result


def build_subgraph(sdl: str, data: Data) -> SdlSubgraph:
    document = parse(sdl)
    keys: dict[str, list[SelectionSetNode]] = {}
    requires: dict[tuple[str, str], SelectionSetNode] = {}
    contextual: set[tuple[str, str]] = set()
    for definition in document.definitions:
        name = getattr(definition, "name", None)
        if name is None:
            continue
        for directive in getattr(definition, "directives", None) or ():
            if directive.name.value == "key":
                keys.setdefault(name.value, []).append(_field_set(directive))
        for field in getattr(definition, "fields", None) or ():
            for directive in field.directives or ():
                if directive.name.value == "requires":
                    requires[(name.value, field.name.value)] = _field_set(directive)
            if any(
                d.name.value == "fromContext"
                for a in field.arguments or ()
                for d in a.directives or ()
            ):
                contextual.add((name.value, field.name.value))
    schema = build_ast_schema(_with_query(document), assume_valid_sdl=True)
    members = [n for n in keys if not is_abstract_type(schema.get_type(n))]
    if members:
        extension = parse(ENTITIES_SDL.format(members=" | ".join(members)))
        schema = extend_schema(schema, extension, assume_valid_sdl=True)
    entities = {name: list(records) for name, records in data.get("entities", {}).items()}
    root = {**data.get("Query", {}), **data.get("Mutation", {})}
    return SdlSubgraph(schema, root, entities, keys, requires, contextual)


def _field_set(directive: Any) -> SelectionSetNode:
    fields = next(a.value.value for a in directive.arguments if a.name.value == "fields")
    operation = parse("{" + fields + "}").definitions[0]
    selection_set: SelectionSetNode = operation.selection_set  # type: ignore[attr-defined]
    return selection_set


def _with_query(document: DocumentNode) -> DocumentNode:
    has_query = any(
        isinstance(d, ObjectTypeDefinitionNode) and d.name.value == "Query"
        for d in document.definitions
    )
    if has_query:
        return document
    return DocumentNode(definitions=(*document.definitions, *parse("type Query").definitions))

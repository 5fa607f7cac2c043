"""A minimal federation subgraph server for the benchmark: answers from memory, as cheaply as
possible, so that the router in front of it is the bottleneck.

Documents come from routers, already valid, so they are parsed once, never validated, and their
selection sets are collected once per object type, and the answer to each distinct request body
is kept. Objects in memory are dicts that carry their `__typename`; a field is read from the
dict unless the subgraph gives it a resolver.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)

Object = dict[str, Any]
FieldResolver = Callable[[Object, dict[str, Any]], Any]
EntityResolver = Callable[[Object], Object | None]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
MEMO_SIZE = 1024


@dataclass
class LeanSubgraph:
    """One subgraph: its SDL, root query fields, entity resolvers and computed fields."""

    name: str
    sdl: str
    query: dict[str, FieldResolver] = field(default_factory=dict)
    entities: dict[str, EntityResolver] = field(default_factory=dict)
    fields: dict[tuple[str, str], FieldResolver] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Field:
    key: str
    name: str
    arguments: tuple[tuple[str, Any], ...]
    selection: _Selection | None


class _Selection:
    """The fields of one selection set, collected per runtime type on first use."""

    def __init__(self, nodes: list[SelectionSetNode], fragments: Mapping[str, Any]) -> None:
        self.nodes = nodes
        self.fragments = fragments
        self.by_type: dict[str, list[_Field]] = {}

    def fields_for(self, typename: str) -> list[_Field]:
        found = self.by_type.get(typename)
        if found is None:
            found = self.by_type[typename] = self._collect(typename)
        return found

    def _collect(self, typename: str) -> list[_Field]:
        grouped: dict[str, list[FieldNode]] = {}
        for node in self.nodes:
            self._gather(node, typename, grouped)
        result = []
        for key, nodes in grouped.items():
            sets = [n.selection_set for n in nodes if n.selection_set is not None]
            arguments = tuple((a.name.value, a.value) for a in nodes[0].arguments or ())
            selection = _Selection(sets, self.fragments) if sets else None
            result.append(_Field(key, nodes[0].name.value, arguments, selection))
        return result

    def _gather(
        self, node: SelectionSetNode, typename: str, grouped: dict[str, list[FieldNode]]
    ) -> None:
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or condition.name.value == typename:
                    self._gather(selection.selection_set, typename, grouped)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                if fragment.type_condition.name.value == typename:
                    self._gather(fragment.selection_set, typename, grouped)


class _Operation:
    def __init__(self, document: DocumentNode) -> None:
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        self.selection = _Selection([operation.selection_set], fragments)


class _Execution:
    def __init__(self, subgraph: LeanSubgraph, variables: dict[str, Any]) -> None:
        self.subgraph = subgraph
        self.variables = variables

    def object(self, obj: Object, selection: _Selection) -> Object:
        typename = obj["__typename"]
        result: Object = {}
        resolvers = self.subgraph.fields
        for f in selection.fields_for(typename):
            if f.name == "__typename":
                result[f.key] = typename
                continue
            resolver = resolvers.get((typename, f.name))
            value = obj.get(f.name) if resolver is None else resolver(obj, self.arguments(f))
            if f.selection is not None and value is not None:
                value = self.value(value, f.selection)
            result[f.key] = value
        return result

    def value(self, value: Any, selection: _Selection) -> Any:
        if isinstance(value, list):
            return [None if item is None else self.value(item, selection) for item in value]
        return self.object(value, selection)

    def arguments(self, f: _Field) -> dict[str, Any]:
        return {name: value_from_ast_untyped(node, self.variables) for name, node in f.arguments}


def _root_resolvers(subgraph: LeanSubgraph) -> dict[tuple[str, str], FieldResolver]:
    resolvers = {("Query", name): resolver for name, resolver in subgraph.query.items()}
    service = {"__typename": "_Service", "sdl": subgraph.sdl}
    resolvers["Query", "_service"] = lambda _obj, _args: service

    def entities(_obj: Object, args: dict[str, Any]) -> list[Object | None]:
        return [subgraph.entities[rep["__typename"]](rep) for rep in args["representations"]]

    resolvers["Query", "_entities"] = entities
    return resolvers


def asgi_app(subgraph: LeanSubgraph) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The subgraph over HTTP: POST a GraphQL request as JSON to any path."""
    runtime = LeanSubgraph(
        subgraph.name,
        subgraph.sdl,
        subgraph.query,
        subgraph.entities,
        {**subgraph.fields, **_root_resolvers(subgraph)},
    )
    operations: dict[str, _Operation] = {}
    headers = [(b"content-type", b"application/json")]

    answers: dict[bytes, bytes] = {}

    def answer(body: bytes) -> bytes:
        # Routers send the same few requests over and over: answering each distinct request
        # once keeps the subgraphs' cost far below the router's.
        known = answers.get(body)
        if known is None:
            known = compute(body)
            if len(answers) >= MEMO_SIZE:
                answers.clear()
            answers[body] = known
        return known

    def compute(body: bytes) -> bytes:
        request = orjson.loads(body)
        source = request["query"]
        operation = operations.get(source)
        if operation is None:
            operation = operations[source] = _Operation(parse(source, no_location=True))
        execution = _Execution(runtime, request.get("variables") or {})
        data = execution.object({"__typename": "Query"}, operation.selection)
        return orjson.dumps({"data": data})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            payload = answer(body)
        except Exception as error:
            payload = orjson.dumps({"data": None, "errors": [{"message": repr(error)}]})
        length = (b"content-length", str(len(payload)).encode())
        await send({"type": "http.response.start", "status": 200, "headers": [*headers, length]})
        await send({"type": "http.response.body", "body": payload})

    return app

"""Client documents parsed and validated against the API schema, cached by source text."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, validate


@dataclass(frozen=True, slots=True)
class CheckedDocument:
    document: DocumentNode | None
    errors: tuple[dict[str, Any], ...]


class DocumentCache:
    def __init__(self, schema: GraphQLSchema, size: int = 1024) -> None:
        self.schema = schema
        self.size = size
        self._entries: OrderedDict[str, CheckedDocument] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, source: str) -> CheckedDocument:
        cached = self._entries.get(source)
        if cached is not None:
            self.hits += 1
            self._entries.move_to_end(source)
            return cached
        self.misses += 1
        checked = self._check(source)
        self._entries[source] = checked
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return checked

    def _check(self, source: str) -> CheckedDocument:
        try:
            document = parse(source)
        except GraphQLError as error:
            return CheckedDocument(None, (_coded(error, "GRAPHQL_PARSE_FAILED"),))
        errors = validate(self.schema, document)
        if errors:
            return CheckedDocument(
                None, tuple(_coded(e, "GRAPHQL_VALIDATION_FAILED") for e in errors)
            )
        return CheckedDocument(document, ())


def _coded(error: GraphQLError, code: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    extensions: dict[str, Any] = dict(formatted.get("extensions") or {})
    formatted["extensions"] = {**extensions, "code": code}
    return formatted

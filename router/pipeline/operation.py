"""What the pipeline knows of one request's operation, built once and handed from stage to
stage: the parameters read, the document (cached per source and name) and the prepared
operation (variables, measure, plan, cost, what authorization removed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from graphql import DocumentNode, FragmentDefinitionNode, OperationDefinitionNode, OperationType

from router import limits
from router.pipeline.errors import RouterError
from router.planner.planner import PlannedOperation


class Transport(StrEnum):
    GET = "get"
    POST = "post"
    MULTIPART = "multipart"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True)
class Params:
    """A GraphQL request's parameters, from a JSON body, a query string or a ``subscribe``."""

    query: str | None
    operation_name: str | None
    variables: Mapping[str, Any] | None
    extensions: Mapping[str, Any] | None

    @classmethod
    def of(cls, raw: Any) -> Params:
        if not isinstance(raw, dict):
            raise RouterError(400, "BAD_REQUEST", "Each operation must be a JSON object.")
        query, name = raw.get("query"), raw.get("operationName")
        variables, extensions = _object(raw.get("variables")), _object(raw.get("extensions"))
        if query is not None and not isinstance(query, str):
            raise RouterError(400, "BAD_REQUEST", "The query must be a string.")
        if name is not None and not isinstance(name, str):
            raise RouterError(400, "BAD_REQUEST", "The operation name must be a string.")
        if variables is not None and not isinstance(variables, dict):
            raise RouterError(400, "BAD_REQUEST", "Variables must be an object.")
        if extensions is not None and not isinstance(extensions, dict):
            raise RouterError(400, "BAD_REQUEST", "Extensions must be an object.")
        return cls(query or None, name or None, variables, extensions)


def _object(value: Any) -> Any:
    """A JSON object, also when a query string carries it as text."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise RouterError(400, "BAD_REQUEST", "A parameter is not valid JSON.") from None


@dataclass(frozen=True, slots=True)
class Document:
    """One operation of a validated document; ``measure`` is kept when no variable can
    change it."""

    source: str
    document: DocumentNode
    operation: OperationDefinitionNode
    fragments: Mapping[str, FragmentDefinitionNode]
    name: str | None
    measure: limits.Measure | None

    @property
    def kind(self) -> OperationType:
        return self.operation.operation


@dataclass(frozen=True, slots=True)
class PreparedOperation:
    """An operation that passed every check before running: what execution needs."""

    document: Document
    variables: dict[str, Any]
    measure: limits.Measure
    planned: PlannedOperation
    cost: int
    headers: Mapping[str, str]  # RateLimit-* of the rate limit that applied
    refusals: tuple[dict[str, Any], ...] = ()  # errors at the paths authorization removed

    @property
    def name(self) -> str | None:
        return self.document.name

    @property
    def kind(self) -> OperationType:
        return self.document.kind

    def limited(self, headers: Mapping[str, str]) -> PreparedOperation:
        """This operation with the headers of its rate limit (``dataclasses.replace`` reads
        every field's definition, a cost on every request's path)."""
        return PreparedOperation(
            self.document,
            self.variables,
            self.measure,
            self.planned,
            self.cost,
            headers,
            self.refusals,
        )

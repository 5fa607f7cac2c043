"""The router's one error: what every stage raises and every transport writes the same way."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.logs import request_id
from router import authorization

logger = logging.getLogger("vetrai.router")


@dataclass
class RouterError(Exception):
    """A refusal or failure answered as GraphQL errors with ``extensions.code``. ``errors``
    carries several (a document's validation errors); otherwise ``message`` is the one.
    ``data``, when given, is answered beside them (an operation authorization left empty)."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    extensions: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[dict[str, Any], ...] = ()
    data: Mapping[str, Any] | None = None

    def __str__(self) -> str:
        return self.message

    def as_errors(self) -> list[dict[str, Any]]:
        if self.errors:
            return list(self.errors)
        return [{"message": self.message, "extensions": {**self.extensions, "code": self.code}}]

    def body(self) -> dict[str, Any]:
        if self.data is not None:
            return {"data": self.data, "errors": self.as_errors()}
        return {"errors": self.as_errors()}


def masked(exc: BaseException) -> RouterError:
    """An unexpected failure: logged with the request id, answered without its details."""
    logger.error("unexpected router failure (request %s)", request_id.get(), exc_info=exc)
    return RouterError(500, "INTERNAL_SERVER_ERROR", "Internal server error")


def body_too_large(limit: int) -> RouterError:
    return RouterError(413, "BODY_TOO_LARGE", f"The request body exceeds {limit} bytes.")


def unauthorized(errors: list[dict[str, Any]], headers: Mapping[str, str]) -> RouterError:
    """Nothing of the operation is left for the caller: as Apollo Router, HTTP 200 with empty
    data and an error per removed path, and no subgraph is called."""
    code, message = authorization.CODE, authorization.MESSAGE
    return RouterError(200, code, message, headers, errors=tuple(errors), data={})

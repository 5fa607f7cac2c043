"""Expected failures: services raise ``Rejected`` with problems; mutations return them as values."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


class ErrorCode(enum.Enum):
    """Every code a mutation payload can carry; one enum so all subgraphs publish the same type."""

    INVALID_INPUT = "INVALID_INPUT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 - an error code
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - an error code
    SLUG_TAKEN = "SLUG_TAKEN"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    LAST_OWNER = "LAST_OWNER"
    MANDATORY_CATEGORY = "MANDATORY_CATEGORY"
    SCOPE_NOT_HELD = "SCOPE_NOT_HELD"
    API_KEY_LIMIT_REACHED = "API_KEY_LIMIT_REACHED"
    API_KEY_REVOKED = "API_KEY_REVOKED"
    API_KEY_EXPIRED = "API_KEY_EXPIRED"


@dataclass(frozen=True)
class Problem:
    code: enum.Enum  # the kernel's ErrorCode or a domain's own
    message: str
    field: str | None = None


class Rejected(Exception):
    """Raised by a service for an expected failure; the transaction rolls back, nothing is kept."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)

    @classmethod
    def one(cls, code: enum.Enum, message: str, field: str | None = None) -> Rejected:
        return cls(Problem(code, message, field))


def require(condition: bool, code: enum.Enum, message: str, field: str | None = None) -> None:
    """Reject unless ``condition`` holds."""
    if not condition:
        raise Rejected.one(code, message, field)


def existing(value: T | None, what: str) -> T:
    """``value``, or a NOT_FOUND rejection when it is missing (or invisible to the caller)."""
    if value is None:
        raise Rejected.one(ErrorCode.NOT_FOUND, f"Unknown {what}.")
    return value


def checked(**checks: Callable[[], Any]) -> dict[str, Any]:
    """Run every check; their values by name, or one ``Rejected`` with every problem found."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, check in checks.items():
        try:
            values[name] = check()
        except Rejected as exc:
            problems.extend(exc.problems)
    if problems:
        raise Rejected(*problems)
    return values

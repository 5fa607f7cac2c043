"""Expected failures: services raise ``Rejected`` with problems; mutations return them as values."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from uuid import UUID

from core.caller import Caller

T = TypeVar("T")


class Code(enum.StrEnum):
    """An error code and what it tells a client (its GraphQL description):
    ``NAME = "NAME", "When it happens."``."""

    _value_: str
    description: str

    def __new__(cls, value: str, description: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


class ErrorCode(Code):
    """The codes any subgraph may return; each domain adds its own in its ``contract`` module."""

    INVALID_INPUT = "INVALID_INPUT", "A value is out of its range or format; `field` names it."
    UNAUTHENTICATED = "UNAUTHENTICATED", "The operation needs a signed-in caller."
    FORBIDDEN = "FORBIDDEN", "The caller's role or scopes do not allow it."
    NOT_FOUND = "NOT_FOUND", "No such object for the caller (another tenant's look the same)."
    INVALID_TOKEN = "INVALID_TOKEN", "The token is unknown, used or expired."


@dataclass(frozen=True)
class Problem:
    code: enum.StrEnum
    message: str
    field: str | None = None


class Rejected(Exception):
    """Raised by a service for an expected failure; the transaction rolls back, nothing is kept."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)

    @classmethod
    def one(cls, code: enum.StrEnum, message: str, field: str | None = None) -> Rejected:
        return cls(Problem(code, message, field))


def require(condition: bool, code: enum.StrEnum, message: str, field: str | None = None) -> None:
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


def signed_in(caller: Caller) -> UUID:
    """The caller's user id, or an UNAUTHENTICATED rejection."""
    if caller.user_id is None:
        raise Rejected.one(ErrorCode.UNAUTHENTICATED, "Log in first.")
    return caller.user_id

"""Input checks more than one subgraph needs; a failure is a ``Rejected`` naming the field."""

from __future__ import annotations

import re
from uuid import UUID

from subgraphs.kernel.errors import ErrorCode, Rejected, require

_EMAIL = re.compile(
    r"^[^@\s\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)


def email(value: str, field: str = "email") -> str:
    """The address lower-cased; rejects what cannot be an email address."""
    value = value.strip().lower()
    require(
        len(value) <= 254 and bool(_EMAIL.match(value)),
        ErrorCode.INVALID_INPUT,
        "Enter a valid email address.",
        field,
    )
    return value


def text(value: str, field: str, *, max_length: int, min_length: int = 1) -> str:
    """Trimmed single-line text within bounds."""
    value = value.strip()
    if not min_length <= len(value) <= max_length:
        raise Rejected.one(
            ErrorCode.INVALID_INPUT,
            f"Must be between {min_length} and {max_length} characters.",
            field,
        )
    require(
        not any(c in value for c in "\r\n\x00"),
        ErrorCode.INVALID_INPUT,
        "Must be a single line of text.",
        field,
    )
    return value


def uuid_or_none(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


def identifier(value: str, field: str) -> UUID:
    """A client-supplied id; something that cannot be an id is invalid input, not a crash."""
    parsed = uuid_or_none(value)
    if parsed is None:
        raise Rejected.one(ErrorCode.INVALID_INPUT, "Not a valid id.", field)
    return parsed

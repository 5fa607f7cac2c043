"""Cursor pagination for list fields (Relay-style connections): page size, opaque cursors over a
sort key, and the page info every connection type carries."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson
import strawberry

from subgraphs.kernel.errors import ErrorCode, Rejected

T = TypeVar("T")
MAX_PAGE = 100


@strawberry.federation.type(
    shareable=True, description="Where a page ends and whether another follows it."
)
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether items follow this page.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null when the page is empty."
    )


@strawberry.type(description="One item of a page, with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque; pass as `after` for the items after it.")
    node: T = strawberry.field(description="The item.")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows, in order, and whether more follow."""

    items: list[T]
    has_next: bool


def page_size(first: int, field: str = "first") -> int:
    if not 1 <= first <= MAX_PAGE:
        raise Rejected.one(ErrorCode.INVALID_INPUT, f"Must be between 1 and {MAX_PAGE}.", field)
    return first


def encode_cursor(*key: str) -> str:
    """An opaque cursor for a row's sort key (clients must not build cursors themselves)."""
    return base64.urlsafe_b64encode(orjson.dumps(list(key))).decode()


def decode_cursor(cursor: str, parts: int, field: str = "after") -> list[str]:
    """The sort key of ``cursor``; anything not made by ``encode_cursor`` is invalid input."""
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list) or len(key) != parts or not all(isinstance(k, str) for k in key):
        raise Rejected.one(ErrorCode.INVALID_INPUT, "Not a valid cursor.", field)
    return key


def trimmed(rows: list[T], size: int) -> Page[T]:
    """A page from ``size + 1`` fetched rows: the extra row only says another page exists."""
    return Page(items=rows[:size], has_next=len(rows) > size)

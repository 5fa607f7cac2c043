"""What every subgraph's GraphQL schema shares: the error payload types and error masking."""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.extensions import MaskErrors
from strawberry.federation import Schema

from core.caller import Caller
from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.errors import Code, ErrorCode, Rejected

log = logging.getLogger("vetrai.errors")


USER_ERROR = "An expected failure of a mutation."
CODES = "Why a mutation refused: a `UserError`'s code (see the guide's table of errors)."
CODE = "What failed, for a program to act on."
ERRORS = "Why it was refused (nothing changed then); empty on success."
QUERY = "What a client can read."
MUTATION = "What a client can change; expected failures come back in each payload's `errors`."
SUBSCRIPTION = "What a client can follow live, over WebSocket (`graphql-transport-ws`)."


E = TypeVar("E", bound=enum.Enum)


def described_enum(
    values: type[E], name: str, description: str, meanings: Mapping[E, str]
) -> type[E]:
    """A domain's enum as a GraphQL enum, with what it and each of its values mean to a client
    (the domain's own module stays free of GraphQL)."""
    graphql = strawberry.enum(values, name=name, description=description)
    for value in graphql.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = meanings.get(values[value.name])
    return graphql


def error_codes(*domain: type[Code]) -> Any:
    """A subgraph's one GraphQL ``ErrorCode`` enum: the kernel's codes, then its domain's."""
    every: tuple[type[Code], ...] = (ErrorCode, *domain)
    members = {
        code.name: strawberry.enum_value(code.value, description=code.description)
        for codes in every
        for code in codes
    }
    return strawberry.enum(enum.Enum("ErrorCode", members), name="ErrorCode", description=CODES)  # type: ignore[call-overload]


@strawberry.federation.type(shareable=True, description=USER_ERROR)
class UserError:
    """With the kernel's codes only; a domain with codes of its own subclasses it, naming the
    subclass ``UserError`` and giving ``code`` the enum of ``error_codes(<its codes>)``."""

    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(), description=CODE)
    message: str = strawberry.field(description="What went wrong, for a person to read.")
    field: str | None = strawberry.field(
        default=None,
        description="The input at fault, by its GraphQL name (`slug`, a JSON path for workflow"
        " input); null when no one input is.",
    )


def user_errors(rejected: Rejected) -> list[UserError]:
    return [UserError(code=p.code, message=p.message, field=p.field) for p in rejected.problems]


class _MaskUnexpected(MaskErrors):
    """Errors raised by resolvers are logged in full and reach the client only as a code;
    a ``GraphQLError`` a resolver raises on purpose (bad arguments of a query) passes as is."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda e: (
                e.original_error is not None and not isinstance(e.original_error, GraphQLError)
            )
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        log.error("unexpected error", exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


def federated_schema(
    query: type,
    mutation: type | None = None,
    types: Iterable[type] = (),
    subscription: type | None = None,
) -> Schema:
    return Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        extensions=[_MaskUnexpected],
    )


P = TypeVar("P")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def require_scope(caller: Caller, scope: str) -> None:
    """An API key reaches a field only with the scope for it (a user's role decides for users)."""
    if caller.key_id is not None and scope not in caller.scopes:
        raise GraphQLError(
            f"This API key lacks the scope '{scope}'.", extensions={"code": "FORBIDDEN"}
        )


def rejections_as(payload: Callable[..., P]) -> Callable[[F], F]:
    """Turn a service's ``Rejected`` into ``payload(errors=[...])``: failures become values."""

    def decorate(resolver: F) -> F:
        @functools.wraps(resolver)
        async def resolve(*args: Any, **kwargs: Any) -> Any:
            try:
                return await resolver(*args, **kwargs)
            except Rejected as exc:
                return payload(errors=user_errors(exc))

        return cast(F, resolve)

    return decorate


def loader(
    context: RequestContext[Any], name: str, load: Callable[[list[Any]], Awaitable[Sequence[Any]]]
) -> DataLoader[Any, Any]:
    """The request's DataLoader called ``name``: N lookups in one request cost one query."""
    if name not in context.loaders:
        context.loaders[name] = DataLoader(load_fn=load)
    return cast(DataLoader[Any, Any], context.loaders[name])

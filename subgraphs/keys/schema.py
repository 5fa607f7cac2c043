"""The keys subgraph's GraphQL schema: the ApiKey entity, the API keys of an Organization (an
entity owned by tenancy) and the key mutations."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from core.scopes import MANAGE_ORGANIZATION, SCOPE_DESCRIPTIONS
from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.schema import (
    CODE,
    ERRORS,
    MUTATION,
    QUERY,
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.keys import models
from subgraphs.keys.contract import KeysErrorCode
from subgraphs.keys.service import IssuedSecret, KeysService, NewKey, RateLimit

Info = strawberry.Info[RequestContext[KeysService], None]


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class KeysUserError(UserError):
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(KeysErrorCode), description=CODE)


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class User:
    id: strawberry.ID


@strawberry.type(name="RateLimit", description="At most `limit` requests per window.")
class RateLimitType:
    limit: int = strawberry.field(description="Requests allowed per window.")
    window_seconds: int = strawberry.field(description="The window's length, in seconds.")


@strawberry.type(description="Requests made with a key on one day (UTC).")
class KeyUsage:
    day: date = strawberry.field(description="The day, in UTC.")
    requests: int = strawberry.field(description="Requests made with the key that day.")
    rejected: int = strawberry.field(description="Requests refused by a limit or a scope.")


@strawberry.federation.type(
    keys=["id"],
    description="A machine client's credential, sent as `X-API-Key`; readable by the owners and"
    " admins of its organization.",
)
class ApiKey:
    id: strawberry.ID = strawberry.field(description="The key's id (a UUID).")
    name: str = strawberry.field(description="What the key is for, up to 100 characters.")
    prefix: str = strawberry.field(description="The secret's first characters, to recognise it.")
    scopes: list[str] = strawberry.field(
        description="What the key may do (see `apiKeyScopes`), sorted."
    )
    rate_limit: RateLimitType = strawberry.field(description="The key's own request limit.")
    created_at: datetime = strawberry.field(description="When the key was created.")
    expires_at: datetime | None = strawberry.field(
        description="When the key stops working; null: never."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When a request last came with it; null: never used."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked; null while it is not."
    )
    created_by: User | None = strawberry.field(
        description="The member who created it; null once they have left the organization."
    )

    @classmethod
    def of(cls, key: models.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(str(key.id)),
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            rate_limit=RateLimitType(limit=key.rate_limit, window_seconds=key.rate_window_seconds),
            created_at=key.created_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            created_by=User(id=strawberry.ID(str(key.created_by))),
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> ApiKey | None:
        key_id = uuid_or_none(id)
        ctx = info.context
        keys = loader(ctx, "api_keys", lambda ids: ctx.services.api_keys(ctx.caller, ids))
        found = await keys.load(key_id) if key_id else None
        return cls.of(found) if found else None

    @strawberry.field(description="Requests per day, `from` to `to` (at most 366 days).")
    async def usage(
        self,
        info: Info,
        from_: Annotated[
            date,
            strawberry.argument(
                name="from",
                description="The first day (UTC); only the last 366 days up to `to` are returned.",
            ),
        ],
        to: Annotated[date, strawberry.argument(description="The last day (UTC), included.")],
    ) -> list[KeyUsage]:
        ctx = info.context
        days = loader(
            ctx,
            f"usage:{from_}:{to}",
            lambda ids: ctx.services.usage(ctx.caller, ids, from_, to),
        )
        return [
            KeyUsage(day=u.day, requests=u.requests, rejected=u.rejected)
            for u in await days.load(UUID(self.id))
        ]


@strawberry.federation.type(keys=["id"])
class Organization:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Organization:
        return cls(id=id)

    @strawberry.federation.field(
        description="The organization's API keys; empty unless you are an owner or admin.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    async def api_keys(
        self,
        info: Info,
        include_revoked: Annotated[
            bool, strawberry.argument(description="Also list the revoked keys.")
        ] = False,
    ) -> list[ApiKey] | None:
        org_id = uuid_or_none(self.id)
        if org_id is None:
            return []
        ctx = info.context
        keys = loader(
            ctx,
            f"keys_of:{include_revoked}",
            lambda ids: ctx.services.keys_of(ctx.caller, ids, include_revoked),
        )
        return [ApiKey.of(k) for k in await keys.load(org_id)]


@strawberry.input(description="A key's own request limit.")
class RateLimitInput:
    limit: int = strawberry.field(description="Requests allowed per window, 1 to 1,000,000.")
    window_seconds: int = strawberry.field(
        description="The window's length in seconds, 1 to 86,400."
    )


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization the key acts for: the one you act in."
    )
    name: str = strawberry.field(description="What the key is for, up to 100 characters.")
    scopes: list[str] = strawberry.field(
        description="At least one of `apiKeyScopes`, each held by your role."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When it stops working, in the future; null: never."
    )
    rate_limit: RateLimitInput | None = strawberry.field(
        default=None, description="Defaults to the platform's per-key limit."
    )


@strawberry.type(description="A key with its secret, shown this once; store it now.")
class ApiKeySecretPayload:
    api_key: ApiKey | None = strawberry.field(
        default=None, description="The key; null when `errors` is not empty."
    )
    secret: str | None = strawberry.field(
        default=None,
        description="The secret to send as `X-API-Key`; only its hash is kept, so it cannot be"
        " read again.",
    )
    errors: list[KeysUserError] = strawberry.field(default_factory=list, description=ERRORS)

    @classmethod
    def of(cls, issued: IssuedSecret) -> ApiKeySecretPayload:
        return cls(api_key=ApiKey.of(issued.api_key), secret=issued.secret)


@strawberry.type(description="The result of a mutation that changes a key.")
class ApiKeyPayload:
    api_key: ApiKey | None = strawberry.field(
        default=None, description="The key as changed; null when `errors` is not empty."
    )
    errors: list[KeysUserError] = strawberry.field(default_factory=list, description=ERRORS)


def _new_key(input: CreateApiKeyInput) -> NewKey:
    limit = input.rate_limit
    return NewKey(
        org_id=identifier(input.organization_id, "organizationId"),
        name=input.name,
        scopes=input.scopes,
        expires_at=input.expires_at,
        rate_limit=RateLimit(limit.limit, limit.window_seconds) if limit else None,
    )


@strawberry.type(description="A right an API key can be given.")
class ApiKeyScope:
    name: str = strawberry.field(description="The scope, as `CreateApiKeyInput.scopes` takes it.")
    description: str = strawberry.field(description="What it allows.")


@strawberry.type(description=QUERY)
class Query:
    @strawberry.federation.field(
        description="A key of an organization you manage; null otherwise.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    async def api_key(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> ApiKey | None:
        return await ApiKey.resolve_reference(info, id)

    @strawberry.field(description="The scopes an API key can hold.")
    def api_key_scopes(self) -> list[ApiKeyScope]:
        return [ApiKeyScope(name=n, description=d) for n, d in sorted(SCOPE_DESCRIPTIONS.items())]


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.federation.mutation(
        description="Owners and admins, signed in (not with a key); the key gets only scopes you"
        " hold. Errors: `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`, `UNAUTHENTICATED`,"
        " `SCOPE_NOT_HELD`, `API_KEY_LIMIT_REACHED`.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(ApiKeySecretPayload)
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[CreateApiKeyInput, strawberry.argument(description="The new key.")],
    ) -> ApiKeySecretPayload:
        ctx = info.context
        return ApiKeySecretPayload.of(await ctx.services.create(ctx.caller, _new_key(input)))

    @strawberry.federation.mutation(
        description="A new secret; the old one works for the grace period (rotating again ends"
        " an earlier grace period at once). Errors: `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`,"
        " `UNAUTHENTICATED`, `API_KEY_REVOKED`, `API_KEY_EXPIRED`, `SCOPE_NOT_HELD`.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(ApiKeySecretPayload)
    async def rotate_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key's id.")],
        grace_period_seconds: Annotated[
            int,
            strawberry.argument(
                description="Seconds the old secret keeps working: 0 (not at all) up to the"
                " platform's maximum (7 days by default)."
            ),
        ] = 3600,
    ) -> ApiKeySecretPayload:
        ctx = info.context
        issued = await ctx.services.rotate(ctx.caller, identifier(id, "id"), grace_period_seconds)
        return ApiKeySecretPayload.of(issued)

    @strawberry.federation.mutation(
        description="The key stops working at once, its old secret too; revoking twice is"
        " harmless. Errors: `NOT_FOUND`, `FORBIDDEN`, `UNAUTHENTICATED`.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(ApiKeyPayload)
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key's id.")],
    ) -> ApiKeyPayload:
        ctx = info.context
        return ApiKeyPayload(
            api_key=ApiKey.of(await ctx.services.revoke(ctx.caller, identifier(id, "id")))
        )


schema = federated_schema(Query, Mutation, types=[ApiKey, Organization, User])

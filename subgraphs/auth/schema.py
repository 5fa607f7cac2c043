"""The auth subgraph's GraphQL schema: the User entity, ``me`` and the account mutations."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from subgraphs.auth import models
from subgraphs.auth.contract import AuthErrorCode
from subgraphs.auth.service import AuthService, Tokens
from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.schema import (
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
)
from subgraphs.kernel.validation import uuid_or_none

Info = strawberry.Info[RequestContext[AuthService], None]


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class AuthUserError(UserError):
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(AuthErrorCode))


@strawberry.federation.type(keys=["id"], description="A person with an account.")
class User:
    id: strawberry.ID
    email: str
    name: str
    email_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: models.User) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            name=user.name,
            email_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        key = uuid_or_none(id)
        if key is None:
            return None
        ctx = info.context
        found = await loader(ctx, "users", lambda ids: ctx.services.users(ctx.caller, ids)).load(
            key
        )
        return cls.of(found) if found else None


@strawberry.type(name="AuthTokens")
class TokensType:
    access_token: str
    refresh_token: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")

    @classmethod
    def of(cls, tokens: Tokens) -> TokensType:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
        )


@strawberry.type
class AuthPayload:
    user: User | None = None
    tokens: TokensType | None = None
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class RefreshTokensPayload:
    tokens: TokensType | None = None
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class UserPayload:
    user: User | None = None
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.type
class AuthActionPayload:
    ok: bool = False
    errors: list[AuthUserError] = strawberry.field(default_factory=list)


@strawberry.input
class SignUpInput:
    email: str
    password: str
    name: str


@strawberry.input
class LogInInput:
    email: str
    password: str


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.input
class ResetPasswordInput:
    token: str
    new_password: str


@strawberry.input
class UpdateProfileInput:
    name: str


@strawberry.type
class Query:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def me(self, info: Info) -> User | None:
        user = await info.context.services.me(info.context.caller)
        return User.of(user) if user else None


@strawberry.type
class Mutation:
    @strawberry.mutation
    @rejections_as(AuthPayload)
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        user, tokens = await info.context.services.sign_up(input.email, input.password, input.name)
        return AuthPayload(user=User.of(user), tokens=TokensType.of(tokens))

    @strawberry.mutation
    @rejections_as(AuthPayload)
    async def log_in(self, info: Info, input: LogInInput) -> AuthPayload:
        ctx = info.context
        user, tokens = await ctx.services.log_in(input.email, input.password, ctx.caller)
        return AuthPayload(user=User.of(user), tokens=TokensType.of(tokens))

    @strawberry.mutation
    @rejections_as(RefreshTokensPayload)
    async def refresh_tokens(self, info: Info, refresh_token: str) -> RefreshTokensPayload:
        tokens = await info.context.services.refresh(refresh_token)
        return RefreshTokensPayload(tokens=TokensType.of(tokens))

    @strawberry.mutation(description="End the session of this refresh token.")
    @rejections_as(AuthActionPayload)
    async def log_out(self, info: Info, refresh_token: str) -> AuthActionPayload:
        await info.context.services.log_out(refresh_token)
        return AuthActionPayload(ok=True)

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(AuthActionPayload)
    async def request_email_verification(self, info: Info) -> AuthActionPayload:
        await info.context.services.request_email_verification(info.context.caller)
        return AuthActionPayload(ok=True)

    @strawberry.mutation
    @rejections_as(UserPayload)
    async def verify_email(self, info: Info, token: str) -> UserPayload:
        return UserPayload(user=User.of(await info.context.services.verify_email(token)))

    @strawberry.mutation(description="Emails a reset link if the address has an account.")
    @rejections_as(AuthActionPayload)
    async def request_password_reset(self, info: Info, email: str) -> AuthActionPayload:
        await info.context.services.request_password_reset(email)
        return AuthActionPayload(ok=True)

    @strawberry.mutation
    @rejections_as(AuthActionPayload)
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> AuthActionPayload:
        await info.context.services.reset_password(input.token, input.new_password)
        return AuthActionPayload(ok=True)

    @strawberry.federation.mutation(
        authenticated=True, description="Other sessions of the account end."
    )
    @rejections_as(AuthActionPayload)
    async def change_password(self, info: Info, input: ChangePasswordInput) -> AuthActionPayload:
        ctx = info.context
        await ctx.services.change_password(ctx.caller, input.current_password, input.new_password)
        return AuthActionPayload(ok=True)

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(UserPayload)
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UserPayload:
        user = await info.context.services.update_profile(info.context.caller, input.name)
        return UserPayload(user=User.of(user))


schema = federated_schema(Query, Mutation, types=[User])

"""The auth subgraph's GraphQL schema: the User entity, ``me`` and the account mutations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry

from subgraphs.auth import models
from subgraphs.auth.contract import AuthErrorCode
from subgraphs.auth.service import AuthService, Tokens
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
from subgraphs.kernel.validation import uuid_or_none

Info = strawberry.Info[RequestContext[AuthService], None]


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class AuthUserError(UserError):
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(AuthErrorCode), description=CODE)


@strawberry.federation.type(
    keys=["id"],
    description="A person with an account. Visible to themselves and to those they share an"
    " organization with (an API key: the members of its organization); null otherwise.",
)
class User:
    id: strawberry.ID = strawberry.field(description="The user's id (a UUID).")
    email: str = strawberry.field(description="Lower-cased; unique among accounts.")
    name: str = strawberry.field(description="The name they go by, up to 100 characters.")
    email_verified: bool = strawberry.field(
        description="Whether they followed the link of a verification or reset email."
    )
    created_at: datetime = strawberry.field(description="When the account was made.")

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


@strawberry.type(name="AuthTokens", description="The credentials of a new or renewed session.")
class TokensType:
    access_token: str = strawberry.field(
        description="A JWT to send as `Authorization: Bearer <accessToken>`; it stops working"
        " when it expires or its session ends."
    )
    refresh_token: str = strawberry.field(
        description="Spend it once with `refreshTokens` for new tokens, or end the session with"
        " `logOut`; keep it secret."
    )
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")

    @classmethod
    def of(cls, tokens: Tokens) -> TokensType:
        return cls(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
        )


@strawberry.type(description="The result of signing up or logging in.")
class AuthPayload:
    user: User | None = strawberry.field(
        default=None, description="The account; null when `errors` is not empty."
    )
    tokens: TokensType | None = strawberry.field(
        default=None, description="The new session's tokens; null when `errors` is not empty."
    )
    errors: list[AuthUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `refreshTokens`.")
class RefreshTokensPayload:
    tokens: TokensType | None = strawberry.field(
        default=None, description="The session's new tokens; null when `errors` is not empty."
    )
    errors: list[AuthUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a mutation that changes a user.")
class UserPayload:
    user: User | None = strawberry.field(
        default=None, description="The user as changed; null when `errors` is not empty."
    )
    errors: list[AuthUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of an account action that returns nothing else.")
class AuthActionPayload:
    ok: bool = strawberry.field(
        default=False, description="True when it was done; false when `errors` says why not."
    )
    errors: list[AuthUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="A new account.")
class SignUpInput:
    email: str = strawberry.field(description="Where the verification email goes; unique.")
    password: str = strawberry.field(
        description="10 to 128 characters, not common and not containing the email's name."
    )
    name: str = strawberry.field(description="The name to go by, up to 100 characters.")


@strawberry.input(description="An account's credentials.")
class LogInInput:
    email: str = strawberry.field(description="The account's email (any case).")
    password: str = strawberry.field(description="The account's password.")


@strawberry.input(description="The password now and the one to replace it.")
class ChangePasswordInput:
    current_password: str = strawberry.field(description="The password in use now.")
    new_password: str = strawberry.field(
        description="10 to 128 characters, not common and not containing the email's name."
    )


@strawberry.input(description="A reset link's token and the new password.")
class ResetPasswordInput:
    token: str = strawberry.field(description="The token of the link the reset email holds.")
    new_password: str = strawberry.field(
        description="10 to 128 characters, not common and not containing the email's name."
    )


@strawberry.input(description="What a user may change of their own profile.")
class UpdateProfileInput:
    name: str = strawberry.field(description="The new name, up to 100 characters.")


@strawberry.type(description=QUERY)
class Query:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def me(self, info: Info) -> User | None:
        user = await info.context.services.me(info.context.caller)
        return User.of(user) if user else None


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.mutation(
        description="Create an account and log in; a verification email is sent. Errors:"
        " `INVALID_INPUT`, `EMAIL_TAKEN`, `WEAK_PASSWORD`."
    )
    @rejections_as(AuthPayload)
    async def sign_up(
        self,
        info: Info,
        input: Annotated[SignUpInput, strawberry.argument(description="The new account.")],
    ) -> AuthPayload:
        user, tokens = await info.context.services.sign_up(input.email, input.password, input.name)
        return AuthPayload(user=User.of(user), tokens=TokensType.of(tokens))

    @strawberry.mutation(
        description="Start a session. Repeated failures slow down, then refuse, logins for the"
        " email and address. Errors: `INVALID_CREDENTIALS`, `TOO_MANY_ATTEMPTS`."
    )
    @rejections_as(AuthPayload)
    async def log_in(
        self,
        info: Info,
        input: Annotated[LogInInput, strawberry.argument(description="The credentials.")],
    ) -> AuthPayload:
        ctx = info.context
        user, tokens = await ctx.services.log_in(input.email, input.password, ctx.caller)
        return AuthPayload(user=User.of(user), tokens=TokensType.of(tokens))

    @strawberry.mutation(
        description="New tokens for a refresh token, which is spent; presenting a spent one"
        " again ends its session. Errors: `INVALID_TOKEN`."
    )
    @rejections_as(RefreshTokensPayload)
    async def refresh_tokens(
        self,
        info: Info,
        refresh_token: Annotated[
            str, strawberry.argument(description="The latest refresh token of the session.")
        ],
    ) -> RefreshTokensPayload:
        tokens = await info.context.services.refresh(refresh_token)
        return RefreshTokensPayload(tokens=TokensType.of(tokens))

    @strawberry.mutation(
        description="End the session of this refresh token; its access tokens stop working."
        " Errors: `INVALID_TOKEN`."
    )
    @rejections_as(AuthActionPayload)
    async def log_out(
        self,
        info: Info,
        refresh_token: Annotated[
            str, strawberry.argument(description="A refresh token of the session to end.")
        ],
    ) -> AuthActionPayload:
        await info.context.services.log_out(refresh_token)
        return AuthActionPayload(ok=True)

    @strawberry.federation.mutation(
        authenticated=True,
        description="Email the signed-in user a new verification link (nothing when verified"
        " already).",
    )
    @rejections_as(AuthActionPayload)
    async def request_email_verification(self, info: Info) -> AuthActionPayload:
        await info.context.services.request_email_verification(info.context.caller)
        return AuthActionPayload(ok=True)

    @strawberry.mutation(
        description="Mark the email verified with the token of a verification link. Errors:"
        " `INVALID_TOKEN`."
    )
    @rejections_as(UserPayload)
    async def verify_email(
        self,
        info: Info,
        token: Annotated[
            str, strawberry.argument(description="The token of the verification link.")
        ],
    ) -> UserPayload:
        return UserPayload(user=User.of(await info.context.services.verify_email(token)))

    @strawberry.mutation(
        description="Emails a reset link if the address has an account; the answer is the same"
        " either way. Errors: `INVALID_INPUT`."
    )
    @rejections_as(AuthActionPayload)
    async def request_password_reset(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="The account's email.")],
    ) -> AuthActionPayload:
        await info.context.services.request_password_reset(email)
        return AuthActionPayload(ok=True)

    @strawberry.mutation(
        description="Set a new password with a reset link's token; every session of the account"
        " ends and the email counts as verified. Errors: `INVALID_TOKEN`, `WEAK_PASSWORD`."
    )
    @rejections_as(AuthActionPayload)
    async def reset_password(
        self,
        info: Info,
        input: Annotated[
            ResetPasswordInput, strawberry.argument(description="The token and new password.")
        ],
    ) -> AuthActionPayload:
        await info.context.services.reset_password(input.token, input.new_password)
        return AuthActionPayload(ok=True)

    @strawberry.federation.mutation(
        authenticated=True,
        description="Change the signed-in user's password; their other sessions end. Errors:"
        " `INVALID_CREDENTIALS` (wrong current password), `WEAK_PASSWORD`.",
    )
    @rejections_as(AuthActionPayload)
    async def change_password(
        self,
        info: Info,
        input: Annotated[
            ChangePasswordInput, strawberry.argument(description="The current and new password.")
        ],
    ) -> AuthActionPayload:
        ctx = info.context
        await ctx.services.change_password(ctx.caller, input.current_password, input.new_password)
        return AuthActionPayload(ok=True)

    @strawberry.federation.mutation(
        authenticated=True,
        description="Change the signed-in user's profile. Errors: `INVALID_INPUT`.",
    )
    @rejections_as(UserPayload)
    async def update_profile(
        self,
        info: Info,
        input: Annotated[UpdateProfileInput, strawberry.argument(description="The changes.")],
    ) -> UserPayload:
        user = await info.context.services.update_profile(info.context.caller, input.name)
        return UserPayload(user=User.of(user))


schema = federated_schema(Query, Mutation, types=[User])

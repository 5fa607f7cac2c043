"""The themes subgraph's GraphQL schema: the Theme entity, the themes of an Organization (an
entity owned by tenancy), the public theme of a slug and the theme mutations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from subgraphs.kernel.app import Context
from subgraphs.kernel.schema import (
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
    require_scope,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.themes import colors
from subgraphs.themes.contract import ThemesErrorCode
from subgraphs.themes.images import RENDITIONS, AssetKind
from subgraphs.themes.service import DraftChanges, ThemesService
from subgraphs.themes.tokens import ThemeView

Info = strawberry.Info[Context[ThemesService], None]
AssetKindType = strawberry.enum(AssetKind, name="ThemeAssetKind")


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class ThemesUserError(UserError):
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(ThemesErrorCode))


@strawberry.type(description="Every color of one mode, chosen and derived, as #rrggbb.")
class ThemeColors:
    primary: str
    background: str
    foreground: str
    link: str
    primary_foreground: str
    hover: str
    active: str
    focus_ring: str
    border: str
    muted: str

    @classmethod
    def of(cls, palette: colors.Palette) -> ThemeColors:
        return cls(**palette.as_dict())


@strawberry.type(description="The WCAG 2.x contrast of one pair of colors.")
class ContrastCheck:
    pair: str
    ratio: float
    required: float
    passes: bool
    suggestion: str | None = strawberry.field(
        description="The nearest color along OKLCH lightness that passes, when this one fails."
    )

    @classmethod
    def of(cls, check: colors.Contrast) -> ContrastCheck:
        return cls(
            pair=check.pair,
            ratio=check.ratio,
            required=check.required,
            passes=check.passes,
            suggestion=check.suggestion,
        )


@strawberry.type(description="The theme's generated stylesheet; its URL never changes content.")
class ThemeCss:
    url: str
    hash: str


@strawberry.type(description="One file made from an asset (logo @2x, favicon.ico, ...).")
class ThemeAssetFile:
    name: str
    url: str


@strawberry.type
class ThemeAsset:
    kind: AssetKind
    width: int
    height: int
    url: str = strawberry.field(description="Its first file: logo.png, icon.png, favicon.png.")
    files: list[ThemeAssetFile]

    @classmethod
    def of(
        cls, info: Info, org_id: UUID, asset_id: str, kind: AssetKind, size: tuple[int, int]
    ) -> ThemeAsset:
        urls = [
            ThemeAssetFile(name=name, url=info.context.services.asset_url(org_id, asset_id, name))
            for name, _ in RENDITIONS[kind]
        ]
        return cls(kind=kind, width=size[0], height=size[1], url=urls[0].url, files=urls)


def _css(info: Info, theme: ThemeView) -> ThemeCss:
    return ThemeCss(url=info.context.services.css_url(theme), hash=theme.css_hash)


def _asset(info: Info, theme: ThemeView, kind: AssetKind) -> ThemeAsset | None:
    found = theme.assets.get(kind.value)
    if found is None:
        return None
    return ThemeAsset.of(info, theme.org_id, found["id"], kind, (found["width"], found["height"]))


@strawberry.type(description="What a theme shows; shared by drafts, versions and public pages.")
class ThemeLook:
    view: strawberry.Private[ThemeView]

    @strawberry.field
    def version(self) -> int:
        return self.view.version

    @strawberry.field
    def light(self) -> ThemeColors:
        return ThemeColors.of(self.view.light)

    @strawberry.field
    def dark(self) -> ThemeColors:
        return ThemeColors.of(self.view.dark)

    @strawberry.field
    def radius(self) -> int:
        return int(self.view.tokens["radius"])

    @strawberry.field
    def font_family(self) -> str:
        return str(self.view.tokens["font_family"])

    @strawberry.field(description="system, light or dark.")
    def appearance(self) -> str:
        return str(self.view.tokens["appearance"])

    @strawberry.field
    def css(self, info: Info) -> ThemeCss:
        return _css(info, self.view)

    @strawberry.field
    def logo(self, info: Info) -> ThemeAsset | None:
        return _asset(info, self.view, AssetKind.LOGO)

    @strawberry.field
    def icon(self, info: Info) -> ThemeAsset | None:
        return _asset(info, self.view, AssetKind.ICON)

    @strawberry.field
    def favicon(self, info: Info) -> ThemeAsset | None:
        return _asset(info, self.view, AssetKind.FAVICON)


@strawberry.type(description="A published theme as pages shown before login see it.")
class PublicTheme(ThemeLook):
    pass


@strawberry.federation.type(
    keys=["id"], description="An organization's draft (id <org>:draft) or a published version."
)
class Theme(ThemeLook):
    id: strawberry.ID

    @classmethod
    def of(cls, view: ThemeView) -> Theme:
        return cls(id=strawberry.ID(view.id), view=view)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Theme | None:
        ctx = info.context
        themes = loader(ctx, "themes", lambda ids: ctx.services.themes(ctx.caller, ids))
        found: ThemeView | None = await themes.load(str(id))
        return cls.of(found) if found else None

    @strawberry.field
    def is_draft(self) -> bool:
        return self.view.is_draft

    @strawberry.federation.field(policy=[["feature:white_label"]])
    def custom_css(self) -> str:
        return self.view.custom_css

    @strawberry.field
    def contrast(self) -> list[ContrastCheck]:
        return [ContrastCheck.of(c) for c in self.view.contrast]

    @strawberry.field
    def published_at(self) -> datetime | None:
        return self.view.published_at

    @strawberry.field(description="The id of the user who published it.")
    def published_by(self) -> strawberry.ID | None:
        by = self.view.published_by
        return strawberry.ID(str(by)) if by else None

    @strawberry.field(description="An owner published it although some contrast failed.")
    def accepted_low_contrast(self) -> bool:
        return self.view.accepted_low_contrast

    @strawberry.field
    def rolled_back_from(self) -> int | None:
        return self.view.rolled_back_from

    @strawberry.field(description="A 15-minute link to a sample page in this draft; drafts only.")
    def preview_url(self, info: Info) -> str | None:
        return info.context.services.preview_url(self.view.org_id) if self.view.is_draft else None


def _org_loader(info: Info, name: str) -> Any:
    ctx = info.context
    load = getattr(ctx.services, name)
    return loader(ctx, name, lambda ids: load(ctx.caller, ids))


@strawberry.federation.type(keys=["id"])
class Organization:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Organization:
        return cls(id=id)

    @strawberry.field(description="The published theme; members only, null before publishing.")
    async def theme(self, info: Info) -> Theme | None:
        require_scope(info.context.caller, "themes:read")
        org_id = uuid_or_none(self.id)
        found = await _org_loader(info, "published").load(org_id) if org_id else None
        return Theme.of(found) if found else None

    @strawberry.field(description="The theme being edited; owners and admins only.")
    async def theme_draft(self, info: Info) -> Theme | None:
        require_scope(info.context.caller, "themes:write")
        org_id = uuid_or_none(self.id)
        found = await _org_loader(info, "drafts").load(org_id) if org_id else None
        return Theme.of(found) if found else None

    @strawberry.field(description="Published versions, newest first; owners and admins only.")
    async def theme_versions(self, info: Info, first: int = 10) -> list[Theme]:
        require_scope(info.context.caller, "themes:write")
        org_id = uuid_or_none(self.id)
        if org_id is None:
            return []
        found = await info.context.services.versions(info.context.caller, org_id, first)
        return [Theme.of(v) for v in found]


@strawberry.input
class ThemeColorsInput:
    primary: str
    background: str
    foreground: str
    link: str


@strawberry.input
class UpdateThemeDraftInput:
    organization_id: strawberry.ID
    light: ThemeColorsInput | None = None
    dark: ThemeColorsInput | None = None
    radius: int | None = None
    font_family: str | None = None
    appearance: str | None = None
    custom_css: str | None = None


@strawberry.input
class RequestThemeAssetUploadInput:
    organization_id: strawberry.ID
    kind: AssetKind
    content_type: str
    size_bytes: int


@strawberry.type(description="A multipart form POST of fields, then the file, to url.")
class ThemeAssetUpload:
    asset_id: strawberry.ID
    url: str
    fields: JSON
    expires_at: datetime


@strawberry.type
class ThemePayload:
    theme: Theme | None = None
    errors: list[ThemesUserError] = strawberry.field(default_factory=list)


@strawberry.type
class ThemeAssetUploadPayload:
    upload: ThemeAssetUpload | None = None
    errors: list[ThemesUserError] = strawberry.field(default_factory=list)


@strawberry.type
class ThemeAssetPayload:
    asset: ThemeAsset | None = None
    errors: list[ThemesUserError] = strawberry.field(default_factory=list)


def _colors(value: ThemeColorsInput | None) -> dict[str, str] | None:
    return None if value is None else dict(vars(value))


def _theme(view: ThemeView) -> ThemePayload:
    return ThemePayload(theme=Theme.of(view))


@strawberry.type
class Query:
    @strawberry.field(description="The published theme of an organization, for public pages.")
    async def theme_by_slug(self, info: Info, slug: str) -> PublicTheme | None:
        found = await info.context.services.by_slug(slug)
        return PublicTheme(view=found) if found else None


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=[["themes:write"]],
        description="Edit the draft only; contrast is reported, not enforced.",
    )
    @rejections_as(ThemePayload)
    async def update_theme_draft(self, info: Info, input: UpdateThemeDraftInput) -> ThemePayload:
        ctx = info.context
        changes = DraftChanges(
            light=_colors(input.light),
            dark=_colors(input.dark),
            radius=input.radius,
            font_family=input.font_family,
            appearance=input.appearance,
            custom_css=input.custom_css,
        )
        org_id = identifier(input.organization_id, "organizationId")
        return _theme(await ctx.services.update_draft(ctx.caller, org_id, changes))

    @strawberry.federation.mutation(
        requires_scopes=[["themes:write"]],
        description="Publish the draft if expectedVersion is still the live one.",
    )
    @rejections_as(ThemePayload)
    async def publish_theme(
        self,
        info: Info,
        organization_id: strawberry.ID,
        expected_version: int,
        accept_low_contrast: bool = False,
    ) -> ThemePayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        published = await ctx.services.publish(
            ctx.caller, org_id, expected_version, accept_low_contrast
        )
        return _theme(published)

    @strawberry.federation.mutation(
        requires_scopes=[["themes:write"]],
        description="Publish an old version again, as the next version.",
    )
    @rejections_as(ThemePayload)
    async def rollback_theme(
        self, info: Info, organization_id: strawberry.ID, version: int
    ) -> ThemePayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        return _theme(await ctx.services.rollback(ctx.caller, org_id, version))

    @strawberry.federation.mutation(requires_scopes=[["themes:write"]])
    @rejections_as(ThemeAssetUploadPayload)
    async def request_theme_asset_upload(
        self, info: Info, input: RequestThemeAssetUploadInput
    ) -> ThemeAssetUploadPayload:
        ctx = info.context
        org_id = identifier(input.organization_id, "organizationId")
        asset, upload = await ctx.services.request_upload(
            ctx.caller, org_id, input.kind, input.content_type, input.size_bytes
        )
        return ThemeAssetUploadPayload(
            upload=ThemeAssetUpload(
                asset_id=strawberry.ID(str(asset.id)),
                url=upload.url,
                fields=cast(JSON, upload.fields),
                expires_at=upload.expires_at,
            )
        )

    @strawberry.federation.mutation(
        requires_scopes=[["themes:write"]],
        description="Check, re-encode and put an uploaded file in the draft.",
    )
    @rejections_as(ThemeAssetPayload)
    async def complete_theme_asset_upload(
        self, info: Info, asset_id: strawberry.ID
    ) -> ThemeAssetPayload:
        ctx = info.context
        asset = await ctx.services.complete_upload(ctx.caller, identifier(asset_id, "assetId"))
        size = (asset.width or 0, asset.height or 0)
        found = ThemeAsset.of(info, asset.org_id, str(asset.id), AssetKind(asset.kind), size)
        return ThemeAssetPayload(asset=found)


schema = federated_schema(Query, Mutation, types=[Organization, Theme])

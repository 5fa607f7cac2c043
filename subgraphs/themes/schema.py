"""The themes subgraph's GraphQL schema: the Theme entity, the themes of an Organization (an
entity owned by tenancy), the public theme of a slug and the theme mutations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.schema import (
    CODE,
    ERRORS,
    MUTATION,
    QUERY,
    USER_ERROR,
    UserError,
    described_enum,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
    require_scope,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.themes import colors
from subgraphs.themes.contract import ThemesErrorCode
from subgraphs.themes.images import AssetKind
from subgraphs.themes.service import DraftChanges, ThemesService, placement
from subgraphs.themes.tokens import ThemeView

Info = strawberry.Info[RequestContext[ThemesService], None]
AssetKindType = described_enum(
    AssetKind,
    "ThemeAssetKind",
    "Which image of a theme an asset is.",
    {
        AssetKind.LOGO: "The logo: up to 1 MiB, made into logo.png (512x128) and logo-2x.png"
        " (emails show logo.png); an SVG is cleaned into logo.svg, its main file, and drawn"
        " into those PNGs too (its text only as paths: no font is loaded).",
        AssetKind.ICON: "The app icon: up to 512 KiB, made into icon.png, touch-icon.png (180x180)"
        " and favicon.ico (16, 32, 48); an SVG is cleaned into icon.svg, its main file, and"
        " drawn into those files too.",
        AssetKind.FAVICON: "The browser tab icon: up to 256 KiB, made into favicon.png and"
        " favicon.ico; PNG, JPEG or WebP only.",
    },
)


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class ThemesUserError(UserError):
    code: enum.StrEnum = strawberry.field(
        graphql_type=error_codes(ThemesErrorCode), description=CODE
    )


@strawberry.type(description="Every color of one mode, chosen and derived, as #rrggbb.")
class ThemeColors:
    primary: str = strawberry.field(description="Chosen: buttons and accents.")
    background: str = strawberry.field(description="Chosen: the page.")
    foreground: str = strawberry.field(description="Chosen: text on the page.")
    link: str = strawberry.field(description="Chosen: links.")
    primary_foreground: str = strawberry.field(description="Derived: text on `primary`.")
    hover: str = strawberry.field(description="Derived: `primary` under the pointer.")
    active: str = strawberry.field(description="Derived: `primary` while pressed.")
    focus_ring: str = strawberry.field(description="Derived: the outline of a focused control.")
    border: str = strawberry.field(description="Derived: borders and dividers.")
    muted: str = strawberry.field(description="Derived: secondary text.")

    @classmethod
    def of(cls, palette: colors.Palette) -> ThemeColors:
        return cls(**palette.as_dict())


@strawberry.type(
    description="Light colors proposed from the logo, already moved until their contrast passes:"
    " pass them as `light` to `updateThemeDraft`."
)
class SuggestedPalette:
    primary: str = strawberry.field(description="The logo's most used colorful color.")
    background: str = strawberry.field(
        description="The logo's most used neutral color, or white behind a transparent logo."
    )
    foreground: str = strawberry.field(description="Near-black or near-white, as reads best.")
    link: str = strawberry.field(description="The primary color, made readable as text.")


@strawberry.type(description="The WCAG 2.x contrast of one pair of colors.")
class ContrastCheck:
    pair: str = strawberry.field(
        description="The mode and colors compared, as `light.foreground/background`."
    )
    ratio: float = strawberry.field(description="Their contrast ratio, 1 to 21.")
    required: float = strawberry.field(
        description="The least that passes: 4.5 for text, 3 for focus rings and borders."
    )
    passes: bool = strawberry.field(description="Whether `ratio` reaches `required`.")
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
    url: str = strawberry.field(description="Where to load it from; cache it for ever.")
    hash: str = strawberry.field(description="Its content hash, part of `url`.")


@strawberry.type(description="One file made from an asset (logo @2x, favicon.ico, ...).")
class ThemeAssetFile:
    name: str = strawberry.field(description="The file's name (`logo-2x.png`).")
    url: str = strawberry.field(description="Where to load it from.")


@strawberry.type(description="An image of a theme, checked and re-encoded into its files.")
class ThemeAsset:
    kind: AssetKind = strawberry.field(description="Which image it is.")
    width: int = strawberry.field(
        description="Its main file's width, in pixels (an SVG's own width, or its viewBox's)."
    )
    height: int = strawberry.field(
        description="Its main file's height, in pixels (an SVG's own height, or its viewBox's)."
    )
    url: str = strawberry.field(
        description="Its main file: logo.png, icon.png, favicon.png, or logo.svg, icon.svg"
        " for an SVG (its PNGs are among `files`)."
    )
    files: list[ThemeAssetFile] = strawberry.field(description="Every file made from it.")

    @classmethod
    def of(cls, info: Info, org_id: UUID, kind: AssetKind, placed: dict[str, Any]) -> ThemeAsset:
        urls = info.context.services.asset_urls(org_id, kind, placed)
        files = [ThemeAssetFile(name=name, url=url) for name, url in urls.items()]
        return cls(
            kind=kind,
            width=placed["width"] or 0,
            height=placed["height"] or 0,
            url=files[0].url,
            files=files,
        )


def _css(info: Info, theme: ThemeView) -> ThemeCss:
    return ThemeCss(url=info.context.services.css_url(theme), hash=theme.css_hash)


def _asset(info: Info, theme: ThemeView, kind: AssetKind) -> ThemeAsset | None:
    found = theme.assets.get(kind.value)
    return ThemeAsset.of(info, theme.org_id, kind, found) if found else None


@strawberry.type(description="What a theme shows; shared by drafts, versions and public pages.")
class ThemeLook:
    view: strawberry.Private[ThemeView]

    @strawberry.field(
        description="The published version number (1, 2, ...); a draft's is the version it"
        " started from (0 before any)."
    )
    def version(self) -> int:
        return self.view.version

    @strawberry.field(description="The light mode's colors.")
    def light(self) -> ThemeColors:
        return ThemeColors.of(self.view.light)

    @strawberry.field(description="The dark mode's colors (derived from light unless chosen).")
    def dark(self) -> ThemeColors:
        return ThemeColors.of(self.view.dark)

    @strawberry.field(description="Corner radius, in pixels (0 to 32).")
    def radius(self) -> int:
        return int(self.view.tokens["radius"])

    @strawberry.field(
        description="The font stack's name: `System`, `Inter`, `Roboto`, `Georgia` or `Monospace`."
    )
    def font_family(self) -> str:
        return str(self.view.tokens["font_family"])

    @strawberry.field(description="system, light or dark.")
    def appearance(self) -> str:
        return str(self.view.tokens["appearance"])

    @strawberry.field(description="The generated stylesheet (tokens and custom CSS).")
    def css(self, info: Info) -> ThemeCss:
        return _css(info, self.view)

    @strawberry.field(description="The logo; null when none was uploaded.")
    def logo(self, info: Info) -> ThemeAsset | None:
        return _asset(info, self.view, AssetKind.LOGO)

    @strawberry.field(description="The app icon; null when none was uploaded.")
    def icon(self, info: Info) -> ThemeAsset | None:
        return _asset(info, self.view, AssetKind.ICON)

    @strawberry.field(description="The favicon; null when none was uploaded.")
    def favicon(self, info: Info) -> ThemeAsset | None:
        return _asset(info, self.view, AssetKind.FAVICON)


@strawberry.type(description="A published theme as pages shown before login see it.")
class PublicTheme(ThemeLook):
    pass


@strawberry.federation.type(
    keys=["id"], description="An organization's draft (id <org>:draft) or a published version."
)
class Theme(ThemeLook):
    id: strawberry.ID = strawberry.field(
        description="`<organization id>:draft` or `<organization id>:<version>`."
    )

    @classmethod
    def of(cls, view: ThemeView) -> Theme:
        return cls(id=strawberry.ID(view.id), view=view)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Theme | None:
        ctx = info.context
        themes = loader(ctx, "themes", lambda ids: ctx.services.themes(ctx.caller, ids))
        found: ThemeView | None = await themes.load(str(id))
        return cls.of(found) if found else None

    @strawberry.field(description="Whether this is the draft rather than a published version.")
    def is_draft(self) -> bool:
        return self.view.is_draft

    @strawberry.federation.field(
        policy=[["feature:white_label"]],
        description="The custom CSS as written (it is served sanitized, scoped); plans with"
        " `white_label` only.",
    )
    def custom_css(self) -> str:
        return self.view.custom_css

    @strawberry.field(
        description="Colors proposed from the logo (Pillow's quantizer, an SVG's from the PNG"
        " drawn from it); null without a logo."
    )
    def suggested_palette(self) -> SuggestedPalette | None:
        found = self.view.assets.get(AssetKind.LOGO.value, {}).get("palette")
        return SuggestedPalette(**found) if found else None

    @strawberry.field(description="Every color pair checked, in both modes.")
    def contrast(self) -> list[ContrastCheck]:
        return [ContrastCheck.of(c) for c in self.view.contrast]

    @strawberry.field(description="When it was published; null for the draft.")
    def published_at(self) -> datetime | None:
        return self.view.published_at

    @strawberry.field(description="The id of the user who published it.")
    def published_by(self) -> strawberry.ID | None:
        by = self.view.published_by
        return strawberry.ID(str(by)) if by else None

    @strawberry.field(description="An owner published it although some contrast failed.")
    def accepted_low_contrast(self) -> bool:
        return self.view.accepted_low_contrast

    @strawberry.field(
        description="The old version this one republished (`rollbackTheme`); null otherwise."
    )
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
    async def theme_versions(
        self,
        info: Info,
        first: Annotated[
            int, strawberry.argument(description="How many, up to 100 (more are cut to 100).")
        ] = 10,
    ) -> list[Theme]:
        require_scope(info.context.caller, "themes:write")
        org_id = uuid_or_none(self.id)
        if org_id is None:
            return []
        found = await info.context.services.versions(info.context.caller, org_id, first)
        return [Theme.of(v) for v in found]


@strawberry.input(description="The chosen colors of one mode, as #rrggbb; the rest is derived.")
class ThemeColorsInput:
    primary: str = strawberry.field(description="Buttons and accents.")
    background: str = strawberry.field(description="The page.")
    foreground: str = strawberry.field(description="Text on the page.")
    link: str = strawberry.field(description="Links.")


@strawberry.input(description="Changes to the draft theme; a null field is left as it is.")
class UpdateThemeDraftInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    light: ThemeColorsInput | None = strawberry.field(
        default=None, description="New light mode colors."
    )
    dark: ThemeColorsInput | None = strawberry.field(
        default=None, description="New dark mode colors."
    )
    radius: int | None = strawberry.field(
        default=None, description="Corner radius, 0 to 32 pixels."
    )
    font_family: str | None = strawberry.field(
        default=None, description="One of the font stacks (see `Theme.fontFamily`)."
    )
    appearance: str | None = strawberry.field(
        default=None, description="`system`, `light` or `dark`."
    )
    custom_css: str | None = strawberry.field(
        default=None,
        description="Up to 20 KB and 500 rules, allowed properties only; scoped to the"
        " organization's pages. An empty string removes it.",
    )


@strawberry.input(description="An image to upload for the draft.")
class RequestThemeAssetUploadInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    kind: AssetKind = strawberry.field(description="Which image it is.")
    content_type: str = strawberry.field(
        description="`image/png`, `image/jpeg`, `image/webp`, or `image/svg+xml` for a LOGO or"
        " ICON (served cleaned of scripts, style sheets and references to other files)."
    )
    size_bytes: int = strawberry.field(
        description="The file's size in bytes, within the kind's limit."
    )


@strawberry.type(description="A multipart form POST of fields, then the file, to url.")
class ThemeAssetUpload:
    asset_id: strawberry.ID = strawberry.field(
        description="Pass to `completeThemeAssetUpload` once uploaded."
    )
    url: str = strawberry.field(description="Where to POST the form.")
    fields: JSON = strawberry.field(description="The form's fields, name to value, in order.")
    expires_at: datetime = strawberry.field(description="When the form stops being accepted.")


@strawberry.type(description="The result of a mutation that changes or publishes a theme.")
class ThemePayload:
    theme: Theme | None = strawberry.field(
        default=None, description="The theme as changed; null when `errors` is not empty."
    )
    errors: list[ThemesUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `requestThemeAssetUpload`.")
class ThemeAssetUploadPayload:
    upload: ThemeAssetUpload | None = strawberry.field(
        default=None, description="How to upload; null when `errors` is not empty."
    )
    errors: list[ThemesUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `completeThemeAssetUpload`.")
class ThemeAssetPayload:
    asset: ThemeAsset | None = strawberry.field(
        default=None, description="The asset, now in the draft; null when `errors` is not empty."
    )
    errors: list[ThemesUserError] = strawberry.field(default_factory=list, description=ERRORS)


def _colors(value: ThemeColorsInput | None) -> dict[str, str] | None:
    return None if value is None else dict(vars(value))


def _theme(view: ThemeView) -> ThemePayload:
    return ThemePayload(theme=Theme.of(view))


@strawberry.type(description=QUERY)
class Query:
    @strawberry.field(description="The published theme of an organization, for public pages.")
    async def theme_by_slug(
        self,
        info: Info,
        slug: Annotated[str, strawberry.argument(description="The organization's slug.")],
    ) -> PublicTheme | None:
        found = await info.context.services.by_slug(slug)
        return PublicTheme(view=found) if found else None


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=[["themes:write"]],
        description="Owners and admins: edit the draft only; contrast is reported, not"
        " enforced. Errors: `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`, `INVALID_COLOR`,"
        " `FONT_NOT_ALLOWED`, `CSS_INVALID`, `CSS_NOT_ALLOWED`, `CSS_TOO_LARGE`, `NOT_ENTITLED`"
        " (custom CSS on a plan without `white_label`).",
    )
    @rejections_as(ThemePayload)
    async def update_theme_draft(
        self,
        info: Info,
        input: Annotated[UpdateThemeDraftInput, strawberry.argument(description="The changes.")],
    ) -> ThemePayload:
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
        description="Owners and admins: publish the draft as the next version if"
        " expectedVersion is still the live one. Errors: `NOT_FOUND`, `FORBIDDEN`,"
        " `VERSION_CONFLICT`, `NOTHING_TO_PUBLISH`, `CONTRAST_TOO_LOW`, `NOT_ENTITLED` (the"
        " draft has custom CSS and the plan no longer has `white_label`).",
    )
    @rejections_as(ThemePayload)
    async def publish_theme(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        expected_version: Annotated[
            int, strawberry.argument(description="The live version's number; 0 before any.")
        ],
        accept_low_contrast: Annotated[
            bool,
            strawberry.argument(
                description="Publish although contrast fails (owners signed in, not keys)."
            ),
        ] = False,
    ) -> ThemePayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        published = await ctx.services.publish(
            ctx.caller, org_id, expected_version, accept_low_contrast
        )
        return _theme(published)

    @strawberry.federation.mutation(
        requires_scopes=[["themes:write"]],
        description="Owners and admins: publish an old version again, as the next version; the"
        " draft is discarded. Errors: `NOT_FOUND`, `FORBIDDEN`, `VERSION_CONFLICT`,"
        " `NOT_ENTITLED` (the version has custom CSS the plan no longer allows).",
    )
    @rejections_as(ThemePayload)
    async def rollback_theme(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        version: Annotated[int, strawberry.argument(description="The version to publish again.")],
    ) -> ThemePayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        return _theme(await ctx.services.rollback(ctx.caller, org_id, version))

    @strawberry.federation.mutation(
        requires_scopes=[["themes:write"]],
        description="Owners and admins: a form to upload an image to storage directly. Errors:"
        " `NOT_FOUND`, `FORBIDDEN`, `ASSET_TOO_LARGE`, `ASSET_TYPE_NOT_ALLOWED`.",
    )
    @rejections_as(ThemeAssetUploadPayload)
    async def request_theme_asset_upload(
        self,
        info: Info,
        input: Annotated[
            RequestThemeAssetUploadInput, strawberry.argument(description="The image.")
        ],
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
        description="Check, re-encode and put an uploaded file in the draft. Errors:"
        " `NOT_FOUND` (also when nothing was uploaded), `ASSET_TOO_LARGE`,"
        " `ASSET_TYPE_NOT_ALLOWED`, `IMAGE_TOO_LARGE`, `IMAGE_UNREADABLE`.",
    )
    @rejections_as(ThemeAssetPayload)
    async def complete_theme_asset_upload(
        self,
        info: Info,
        asset_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The `assetId` of `requestThemeAssetUpload`."),
        ],
    ) -> ThemeAssetPayload:
        ctx = info.context
        asset = await ctx.services.complete_upload(ctx.caller, identifier(asset_id, "assetId"))
        found = ThemeAsset.of(info, asset.org_id, AssetKind(asset.kind), placement(asset))
        return ThemeAssetPayload(asset=found)


schema = federated_schema(Query, Mutation, types=[Organization, Theme])

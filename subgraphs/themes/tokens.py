"""A theme's tokens (colors, radius, font, appearance, assets) as stored, checked, and turned
into what readers see: both palettes, their contrast and the generated stylesheet."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from subgraphs.kernel.errors import ErrorCode, checked, require
from subgraphs.themes import colors, css
from subgraphs.themes.contract import ThemesErrorCode
from subgraphs.themes.models import Draft, Version

APPEARANCES = frozenset({"system", "light", "dark"})
MAX_RADIUS = 32
FONTS = {
    "System": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
    "Inter": "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
    "Roboto": "Roboto, system-ui, -apple-system, 'Segoe UI', Arial, sans-serif",
    "Georgia": "Georgia, 'Times New Roman', Times, serif",
    "Monospace": "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
}
DEFAULT_TOKENS: dict[str, Any] = {
    "light": asdict(colors.DEFAULT_LIGHT),
    "dark": None,
    "radius": 6,
    "font_family": "System",
    "appearance": "system",
    "assets": {},
}


def scope_class(org_id: UUID) -> str:
    """The class every selector of an organization's custom CSS is prefixed with."""
    return f"vetrai-org-{org_id.hex}"


@dataclass(frozen=True)
class ThemeView:
    """A draft or a published version, with everything derived from its tokens."""

    org_id: UUID
    version: int
    is_draft: bool
    tokens: dict[str, Any]
    custom_css: str
    css: str
    css_hash: str
    light: colors.Palette
    dark: colors.Palette
    contrast: list[colors.Contrast]
    published_at: datetime | None = None
    published_by: UUID | None = None
    accepted_low_contrast: bool = False
    rolled_back_from: int | None = None
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.org_id}:{'draft' if self.is_draft else self.version}"


def _palettes(tokens: dict[str, Any]) -> tuple[colors.Palette, colors.Palette]:
    light = colors.Chosen(**tokens["light"])
    dark = colors.Chosen(**tokens["dark"]) if tokens.get("dark") else colors.dark_default(light)
    return colors.palette(light), colors.palette(dark)


def _custom_properties(palette: colors.Palette, tokens: dict[str, Any]) -> dict[str, str]:
    values = {f"color-{k.replace('_', '-')}": v for k, v in palette.as_dict().items()}
    return values | {"radius": f"{tokens['radius']}px", "font-family": FONTS[tokens["font_family"]]}


def view(
    org_id: UUID,
    tokens: dict[str, Any],
    custom_css: str,
    scoped_css: str,
    version: int,
    **extra: Any,
) -> ThemeView:
    light, dark = _palettes(tokens)
    sheet = css.stylesheet(
        _custom_properties(light, tokens),
        _custom_properties(dark, tokens),
        tokens["appearance"],
        scoped_css,
    )
    return ThemeView(
        org_id=org_id,
        version=version,
        tokens=tokens,
        custom_css=custom_css,
        css=sheet,
        css_hash=hashlib.sha256(sheet.encode()).hexdigest(),
        light=light,
        dark=dark,
        contrast=colors.contrast("light", light) + colors.contrast("dark", dark),
        assets=tokens.get("assets", {}),
        **extra,
    )


def draft_view(draft: Draft) -> ThemeView:
    return view(
        draft.org_id,
        draft.tokens,
        draft.custom_css,
        draft.scoped_css,
        draft.base_version,
        is_draft=True,
    )


def version_view(row: Version) -> ThemeView:
    return view(
        row.org_id,
        row.tokens,
        row.custom_css,
        row.scoped_css,
        row.version,
        is_draft=False,
        published_at=row.published_at,
        published_by=row.published_by,
        accepted_low_contrast=row.accepted_low_contrast,
        rolled_back_from=row.rolled_back_from,
    )


def chosen(values: dict[str, str], mode: str) -> dict[str, str]:
    wanted = ("primary", "background", "foreground", "link")
    found = checked(
        **{name: (lambda n=name: colors.color(values.get(n, ""), f"{mode}.{n}")) for name in wanted}
    )
    return {name: found[name] for name in wanted}


def font(name: str) -> str:
    require(
        name in FONTS,
        ThemesErrorCode.FONT_NOT_ALLOWED,
        f"Choose one of {', '.join(FONTS)} (no remote fonts).",
        "fontFamily",
    )
    return name


def radius(value: int) -> int:
    require(0 <= value <= MAX_RADIUS, ErrorCode.INVALID_INPUT, f"0 to {MAX_RADIUS} px.", "radius")
    return value


def appearance(value: str) -> str:
    require(value in APPEARANCES, ErrorCode.INVALID_INPUT, "system, light or dark.", "appearance")
    return value

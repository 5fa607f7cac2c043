"""A theme's palette: the four colors people choose per mode, the ones derived from them in
OKLCH, and the WCAG 2.x contrast of every pair that text, focus rings and borders rely on."""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from coloraide import Color

from subgraphs.kernel.errors import Rejected
from subgraphs.themes.contract import ThemesErrorCode

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
TEXT = 4.5  # WCAG 2.x AA for text
NON_TEXT = 3.0  # focus rings and borders
_STEP = 0.005  # of OKLCH lightness, when searching the nearest passing color
_BLACK, _WHITE = "#000000", "#ffffff"


@dataclass(frozen=True)
class Chosen:
    """What people pick for one mode."""

    primary: str
    background: str
    foreground: str
    link: str


@dataclass(frozen=True)
class Palette:
    """Every color of one mode, chosen and derived, as lowercase ``#rrggbb``."""

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

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Contrast:
    """One checked pair; ``suggestion`` is the nearest color for ``pair``'s first color
    (or primary, for text on primary) along OKLCH lightness that passes."""

    pair: str
    ratio: float
    required: float
    suggestion: str | None

    @property
    def passes(self) -> bool:
        return self.ratio >= self.required


DEFAULT_LIGHT = Chosen("#2563eb", "#ffffff", "#111827", "#2563eb")
_DARK_BASE = Chosen("#60a5fa", "#0b1220", "#e5e7eb", "#93c5fd")


def color(value: str, field: str) -> str:
    """``value`` as lowercase ``#rrggbb``; INVALID_COLOR unless it is ``#rgb`` or ``#rrggbb``."""
    if not _HEX.match(value):
        raise Rejected.one(
            ThemesErrorCode.INVALID_COLOR, f"{value!r} is not a #rrggbb color.", field
        )
    return str(Color(value).to_string(hex=True)).lower()


def ratio(a: str, b: str) -> float:
    return float(Color(a).contrast(b, method="wcag21"))


def _with_lightness(value: str, lightness: float) -> str:
    oklch = Color(value).convert("oklch")
    oklch["lightness"] = min(max(lightness, 0.0), 1.0)
    return str(oklch.convert("srgb").fit().to_string(hex=True)).lower()


def nearest_passing(value: str, against: str, required: float) -> str | None:
    """The color of ``value``'s hue and chroma closest in lightness that reaches ``required``
    against ``against``; None when neither direction gets there."""
    start = float(Color(value).convert("oklch")["lightness"])
    for step in range(1, int(1 / _STEP) + 1):
        for lightness in (start - step * _STEP, start + step * _STEP):
            if 0.0 <= lightness <= 1.0:
                candidate = _with_lightness(value, lightness)
                if ratio(candidate, against) >= required:
                    return candidate
    return None


def _shade(value: str, toward_dark: bool, amount: float) -> str:
    lightness = float(Color(value).convert("oklch")["lightness"])
    return _with_lightness(value, lightness - amount if toward_dark else lightness + amount)


def _passing(value: str, against: str, required: float) -> str:
    if ratio(value, against) >= required:
        return value
    return nearest_passing(value, against, required) or value


def _mix(a: str, b: str, share_of_b: float) -> str:
    mixed = Color(a).mix(b, share_of_b, space="oklch")
    return str(mixed.convert("srgb").fit().to_string(hex=True)).lower()


# Deriving searches along lightness (tens of ms a theme); every reader of a theme asks again.
@functools.lru_cache(maxsize=4096)
def palette(chosen: Chosen) -> Palette:
    """Derive the rest: text on primary is black or white (whichever contrasts more), hover and
    active move primary away from that text, focus ring, border and muted text are nudged until
    they pass on the background."""
    on_primary = max((_BLACK, _WHITE), key=lambda c: ratio(c, chosen.primary))
    darker = on_primary == _WHITE
    return Palette(
        primary=chosen.primary,
        background=chosen.background,
        foreground=chosen.foreground,
        link=chosen.link,
        primary_foreground=on_primary,
        hover=_shade(chosen.primary, darker, 0.06),
        active=_shade(chosen.primary, darker, 0.12),
        focus_ring=_passing(chosen.primary, chosen.background, NON_TEXT),
        border=_passing(_mix(chosen.background, chosen.foreground, 0.25), chosen.background, 3.0),
        muted=_passing(_mix(chosen.foreground, chosen.background, 0.35), chosen.background, TEXT),
    )


@functools.lru_cache(maxsize=4096)
def dark_default(light: Chosen) -> Chosen:
    """A dark mode for a theme that sets only light: the light brand colors, made readable on
    the platform's dark background."""
    return Chosen(
        primary=_passing(light.primary, _DARK_BASE.background, NON_TEXT),
        background=_DARK_BASE.background,
        foreground=_DARK_BASE.foreground,
        link=_passing(light.link, _DARK_BASE.background, TEXT),
    )


def contrast(mode: str, colors: Palette) -> list[Contrast]:
    """The checked pairs of one mode, each with its suggestion when it fails."""
    return list(_contrast(mode, colors))


@functools.lru_cache(maxsize=4096)
def _contrast(mode: str, colors: Palette) -> tuple[Contrast, ...]:
    checks = [
        ("foreground/background", colors.foreground, colors.background, TEXT),
        ("primaryForeground/primary", colors.primary, colors.primary_foreground, TEXT),
        ("primaryForeground/hover", colors.hover, colors.primary_foreground, TEXT),
        ("primaryForeground/active", colors.active, colors.primary_foreground, TEXT),
        ("link/background", colors.link, colors.background, TEXT),
        ("muted/background", colors.muted, colors.background, TEXT),
        ("focusRing/background", colors.focus_ring, colors.background, NON_TEXT),
        ("border/background", colors.border, colors.background, NON_TEXT),
    ]
    found = []
    for pair, subject, against, required in checks:
        value = ratio(subject, against)
        suggestion = None if value >= required else nearest_passing(subject, against, required)
        found.append(Contrast(f"{mode}.{pair}", round(value, 2), required, suggestion))
    return tuple(found)


_NEUTRAL_CHROMA = 0.07  # of OKLCH: greys, off-whites, navy; a page background should be one


def _chroma(value: str) -> float:
    return float(Color(value).convert("oklch")["chroma"])


def suggested(prominent: list[tuple[int, str]], transparent: float) -> Chosen:
    """Light colors proposed from a logo's prominent colors (most used first): the page is its
    most used neutral color when the logo is mostly opaque (else white), the brand color is
    its most used colorful one, text is near-black or near-white, whichever reads on the page,
    and the brand color and links are moved along lightness until they pass on the page."""
    neutral = [c for _, c in prominent if _chroma(c) < _NEUTRAL_CHROMA]
    background = neutral[0] if transparent < 0.5 and neutral else _WHITE
    colorful = [(n * _chroma(c), c) for n, c in prominent if _chroma(c) >= _NEUTRAL_CHROMA]
    primary = max(colorful)[1] if colorful else DEFAULT_LIGHT.primary
    foreground = max(
        (DEFAULT_LIGHT.foreground, _DARK_BASE.foreground), key=lambda c: ratio(c, background)
    )
    return Chosen(
        primary=_passing(primary, background, NON_TEXT),
        background=background,
        foreground=foreground,
        link=_passing(primary, background, TEXT),
    )

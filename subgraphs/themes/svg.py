"""Uploaded SVG made safe to serve: py-svg-hush's allow-list first (scripts, event handlers,
``javascript:``, ``foreignObject``, entities and other hosts go), then a second pass over its
output for what it leaves (a mangled ``<style>``, references to other files by path, CSS
escapes), and the drawing's size read from its root."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from py_svg_hush import filter_svg

from subgraphs.kernel.errors import Rejected
from subgraphs.themes.contract import ThemesErrorCode

SVG_NS = "http://www.w3.org/2000/svg"
# Far deeper than any drawing nests; ElementTree writes recursively and would fail near 1000.
MAX_DEPTH = 100
_SVG = f"{{{SVG_NS}}}"
# Attributes that name another resource: only a fragment of this file (``#id``) may stay.
REFERENCES = frozenset(
    {
        "href",
        "src",
        "{http://www.w3.org/1999/xlink}href",
        "{http://www.w3.org/XML/1998/namespace}base",
    }
)
DROPPED = frozenset({"style", "script", "foreignObject"})
# Animations that change a named attribute (animateMotion moves its element and names none).
ANIMATIONS = frozenset({"animate", "set", "animateTransform"})
# CSS functions an attribute may call; ``url()`` only as ``url(#id)``. Anything else (image-set(),
# expression(), src(), ...) could fetch or run something, so the attribute goes.
FUNCTIONS = frozenset(
    {
        *("rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch", "color"),
        *("color-mix", "var", "calc", "min", "max", "clamp"),
        *("matrix", "translate", "translatex", "translatey", "scale", "scalex", "scaley"),
        *("rotate", "skewx", "skewy"),
        *("blur", "brightness", "contrast", "drop-shadow", "grayscale", "hue-rotate"),
        *("invert", "opacity", "saturate", "sepia"),
    }
)
_FUNCTION = re.compile(r"([A-Za-z_-][\w-]*)\(")
_FRAGMENT_URL = re.compile(r"""\s*(['"]?)#[^'"()\s]*\1\s*\)""")
_PIXELS = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)(?:px)?\s*")
_SIGNS = re.compile(r"[(:\\]")
_BLANK = re.compile(r"[\s\x00-\x1f]+")


@dataclass(frozen=True)
class CleanSvg:
    data: bytes
    width: int
    height: int


def _unreadable(why: str) -> Rejected:
    return Rejected.one(ThemesErrorCode.IMAGE_UNREADABLE, f"The SVG cannot be read: {why}.")


def _value_allowed(name: str, value: str) -> bool:
    if name in REFERENCES:
        return value.startswith("#")
    if not _SIGNS.search(value):
        return True  # no call, scheme or escape: most of a drawing's values, checked at once
    # Escapes could spell a url( that no pattern here would see; py-svg-hush leaves the
    # remains of what it cut, which may still hold an absolute URL.
    compact = _BLANK.sub("", value).lower()
    if "\\" in value or "javascript:" in compact or "://" in compact:
        return False
    for call in _FUNCTION.finditer(value):
        function = call.group(1).lower()
        if function == "url":
            if not _FRAGMENT_URL.match(value, call.end()):
                return False
        elif function not in FUNCTIONS:
            return False
    return True


def _kept(element: ET.Element) -> bool:
    """Whether an element stays: SVG's own, not a style sheet, and not an animation of a
    reference (its values would be one no attribute check sees) or of an attribute py-svg-hush
    removed from it."""
    if not element.tag.startswith(_SVG):
        return False
    name = element.tag.removeprefix(_SVG)
    if name in DROPPED:
        return False
    if name not in ANIMATIONS:
        return True
    target = element.get("attributeName")
    return target is not None and target not in {"href", "xlink:href"}


def _cleaned(element: ET.Element, depth: int = 0) -> None:
    """Drop what is not kept, in place; tags lose their namespace, which the root declares."""
    if depth > MAX_DEPTH:
        raise _unreadable(f"its elements nest more than {MAX_DEPTH} deep")
    for child in list(element):
        if _kept(child):
            _cleaned(child, depth + 1)
        else:
            element.remove(child)
    element.tag = element.tag.removeprefix(_SVG)
    for name, value in list(element.attrib.items()):
        if not _value_allowed(name, value):
            del element.attrib[name]


def _pixels(value: str | None) -> float | None:
    found = _PIXELS.fullmatch(value or "")
    return float(found.group(1)) if found else None


def _size(root: ET.Element) -> tuple[int, int]:
    """Its width and height in pixels (px or no unit), else its viewBox's."""
    width, height = _pixels(root.get("width")), _pixels(root.get("height"))
    if width is None or height is None:
        box = (root.get("viewBox") or "").replace(",", " ").split()
        try:
            width, height = (float(box[2]), float(box[3])) if len(box) == 4 else (0.0, 0.0)
        except ValueError:
            width = height = 0.0
    if not (0 < width < math.inf and 0 < height < math.inf):
        raise _unreadable("it needs a width and height in pixels, or a viewBox")
    return math.ceil(width), math.ceil(height)


def cleaned(data: bytes) -> CleanSvg:
    """The upload with nothing left that runs, styles from a sheet or reaches another file."""
    try:
        filtered = filter_svg(data).decode()
    except (ValueError, UnicodeDecodeError):
        raise _unreadable("it is not well-formed XML") from None
    # The standard parser would expand entities, so none may reach it; py-svg-hush drops them,
    # and in its UTF-8 output a declaration can only be spelled so.
    if re.search("<!(DOCTYPE|ENTITY)", filtered, re.IGNORECASE):
        raise _unreadable("a DOCTYPE or entity declaration is not accepted")
    try:
        root = ET.fromstring(filtered)  # noqa: S314 - no DOCTYPE, checked just above
    except ET.ParseError:
        raise _unreadable("it is not well-formed XML") from None
    if root.tag != f"{_SVG}svg":
        raise Rejected.one(
            ThemesErrorCode.ASSET_TYPE_NOT_ALLOWED, "The file is not an SVG image (<svg> root)."
        )
    _cleaned(root)
    root.set("xmlns", SVG_NS)
    width, height = _size(root)
    # Written as text then encoded: ElementTree's own UTF-8 output is several times slower.
    document = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
    return CleanSvg(document.encode(), width, height)

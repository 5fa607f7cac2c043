"""Uploaded logos and icons made safe to serve: the type read from the file's signature,
raster images decoded by Pillow within a pixel budget, resized and re-encoded as PNG from bare
pixels, so no metadata or trailing payload of the upload survives; SVG logos and icons cleaned
by ``svg``, kept as that file and drawn by ``raster`` (the cleaned file, never the upload) into
the same PNG and ICO files as a raster's.

The three raster types have fixed signatures, so they are matched here rather than with
libmagic, which the platform's slim runtime image does not have; SVG has none (libmagic guesses
it from text), and what decides is that the file parses with an ``<svg>`` root."""

from __future__ import annotations

import enum
import io
import warnings
from dataclasses import dataclass
from typing import cast

from PIL import Image, UnidentifiedImageError

from subgraphs.kernel.errors import Rejected
from subgraphs.themes import raster, svg
from subgraphs.themes.contract import ThemesErrorCode

MAX_SIDE = 4096
# Pillow warns above this many pixels and refuses above twice as many; we refuse at the warning.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
SVG = "image/svg+xml"


class AssetKind(enum.Enum):
    LOGO = "LOGO"
    ICON = "ICON"
    FAVICON = "FAVICON"


MAX_BYTES = {AssetKind.LOGO: 1024 * 1024, AssetKind.ICON: 512 * 1024, AssetKind.FAVICON: 256 * 1024}
ICO_SIZES = [(16, 16), (32, 32), (48, 48)]
# The files made of each kind, the first being the one its ``url`` names; never enlarged.
RENDITIONS: dict[AssetKind, list[tuple[str, tuple[int, int]]]] = {
    AssetKind.LOGO: [("logo.png", (512, 128)), ("logo-2x.png", (1024, 256))],
    AssetKind.ICON: [
        ("icon.png", (512, 512)),
        ("touch-icon.png", (180, 180)),
        ("favicon.ico", (48, 48)),
    ],
    AssetKind.FAVICON: [("favicon.png", (48, 48)), ("favicon.ico", (48, 48))],
}
# An SVG's own file, cleaned; its main file, before the rasters drawn from it.
VECTOR_RENDITIONS = {AssetKind.LOGO: "logo.svg", AssetKind.ICON: "icon.svg"}
# The file every mail client shows (Gmail and Outlook show no SVG).
EMAIL_LOGO = RENDITIONS[AssetKind.LOGO][0][0]
CONTENT_TYPES = {".png": "image/png", ".ico": "image/x-icon", ".svg": SVG}


@dataclass(frozen=True)
class Rendition:
    name: str
    data: bytes
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.name[self.name.rindex(".") :]]

    @property
    def is_vector(self) -> bool:
        return self.content_type == SVG


def file_names(kind: AssetKind, content_type: str) -> list[str]:
    """The files an asset of ``kind`` uploaded as ``content_type`` is made into."""
    rasters = [name for name, _ in RENDITIONS[kind]]
    return [VECTOR_RENDITIONS[kind], *rasters] if content_type == SVG else rasters


def allowed_type(content_type: str, kind: AssetKind, field: str = "contentType") -> str:
    if content_type not in FORMATS and not (content_type == SVG and kind in VECTOR_RENDITIONS):
        raise Rejected.one(
            ThemesErrorCode.ASSET_TYPE_NOT_ALLOWED,
            f"Upload PNG, JPEG or WebP (SVG too for a LOGO or ICON), not {content_type[:60]}.",
            field,
        )
    return content_type


def signature_type(data: bytes) -> str | None:
    """The image type the file's first bytes announce, among the accepted ones; markup is
    taken for SVG, which ``svg`` then parses or refuses."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return SVG
    return None


def sniffed(data: bytes, declared: str) -> str:
    """The type the bytes are; it must be allowed and the one declared."""
    found = signature_type(data)
    if found is None or found != declared:
        raise Rejected.one(
            ThemesErrorCode.ASSET_TYPE_NOT_ALLOWED,
            f"The file is not the {declared} announced (PNG, JPEG, WebP or SVG are accepted).",
        )
    return found


def _decoded(data: bytes, content_type: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[FORMATS[content_type]])
            if max(image.size) > MAX_SIDE:
                raise Rejected.one(
                    ThemesErrorCode.IMAGE_TOO_LARGE, f"At most {MAX_SIDE} pixels a side."
                )
            image.load()
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise Rejected.one(
                ThemesErrorCode.IMAGE_TOO_LARGE, f"At most {MAX_SIDE * MAX_SIDE} pixels."
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise Rejected.one(
                ThemesErrorCode.IMAGE_UNREADABLE, "The image cannot be decoded."
            ) from None
    return image


def _rendition(image: Image.Image, name: str, box: tuple[int, int]) -> Rendition:
    resized = image.copy()
    resized.thumbnail(box, Image.Resampling.LANCZOS)
    bare = Image.frombytes("RGBA", resized.size, resized.tobytes())
    out = io.BytesIO()
    if name.endswith(".ico"):
        bare.save(out, format="ICO", sizes=ICO_SIZES)
    else:
        bare.save(out, format="PNG", optimize=True)
    return Rendition(name, out.getvalue(), bare.width, bare.height)


def _drawing_box(size: tuple[int, int], kind: AssetKind) -> tuple[int, int]:
    """The pixels an SVG of ``size`` is drawn at: scaled, up or down, to fill the largest of
    its kind's renditions, which bounds resvg's canvas whatever the SVG's viewBox says."""
    box_width, box_height = max((box for _, box in RENDITIONS[kind]), key=lambda b: b[0] * b[1])
    scale = min(box_width / size[0], box_height / size[1])
    return (
        min(box_width, max(1, round(size[0] * scale))),
        min(box_height, max(1, round(size[1] * scale))),
    )


def _drawn(clean: svg.CleanSvg, kind: AssetKind) -> Image.Image:
    try:
        png = raster.drawn(clean.data, *_drawing_box((clean.width, clean.height), kind))
    except raster.DrawingRefused as refused:
        if refused.too_costly:
            raise Rejected.one(
                ThemesErrorCode.IMAGE_TOO_LARGE,
                f"The SVG takes more than {raster.CPU_SECONDS} seconds or"
                f" {raster.MEMORY_BYTES // 2**20} MiB to draw; simplify its filters.",
            ) from None
        raise Rejected.one(ThemesErrorCode.IMAGE_UNREADABLE, "The SVG cannot be drawn.") from None
    return _decoded(png, "image/png")


def processed(data: bytes, declared: str, kind: AssetKind) -> list[Rendition]:
    """The upload's files for its kind: rasters made from bare pixels so no metadata survives,
    after an SVG's own file cleaned of anything that runs or reaches another file (the rasters
    drawn from that cleaned file)."""
    found = sniffed(data, declared)
    vector: list[Rendition] = []
    if found == SVG:
        clean = svg.cleaned(data)
        if max(clean.width, clean.height) > MAX_SIDE:
            raise Rejected.one(
                ThemesErrorCode.IMAGE_TOO_LARGE, f"At most {MAX_SIDE} pixels a side."
            )
        vector = [Rendition(VECTOR_RENDITIONS[kind], clean.data, clean.width, clean.height)]
        image = _drawn(clean, kind)
    else:
        image = _decoded(data, found)
    image = image.convert("RGBA")
    return vector + [_rendition(image, name, box) for name, box in RENDITIONS[kind]]


def prominent_colors(data: bytes, count: int = 8) -> tuple[list[tuple[int, str]], float]:
    """The main opaque colors of an image this module made (Pillow's median-cut quantizer),
    most used first with their pixel counts, and the share of the image that is transparent."""
    with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
        # Nearest neighbour keeps the drawn colors; smoothing would invent edge blends.
        small = image.convert("RGBA").resize((128, 32 if image.width > image.height else 128))
    pixels = cast(tuple[tuple[int, int, int, int], ...], small.get_flattened_data())
    opaque = [pixel[:3] for pixel in pixels if pixel[3] >= 128]
    if not opaque:
        return [], 1.0
    strip = Image.new("RGB", (len(opaque), 1))
    strip.putdata(opaque)
    quantized = strip.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    # A palette image counts (pixels, palette index).
    used = sorted(cast(list[tuple[int, int]], quantized.getcolors() or []), reverse=True)
    found = [(n, "#{:02x}{:02x}{:02x}".format(*palette[3 * i : 3 * i + 3])) for n, i in used]
    return found, 1 - len(opaque) / len(pixels)

"""Uploaded logos and icons made safe to serve: the type sniffed from the bytes (libmagic),
decoded by Pillow within a pixel budget, resized and re-encoded as PNG from bare pixels, so no
metadata or trailing payload of the upload survives."""

from __future__ import annotations

import enum
import io
import warnings
from dataclasses import dataclass

import magic
from PIL import Image, UnidentifiedImageError

from subgraphs.kernel.errors import Rejected
from subgraphs.themes.contract import ThemesErrorCode

MAX_SIDE = 4096
# Pillow warns above this many pixels and refuses above twice as many; we refuse at the warning.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
# SVG is refused: a safe SVG needs a sanitizer this platform does not have.
TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})


class AssetKind(enum.Enum):
    LOGO = "LOGO"
    ICON = "ICON"
    FAVICON = "FAVICON"


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    box: tuple[int, int]  # the largest rendition, @2x for the logo


LIMITS = {
    AssetKind.LOGO: Limits(1024 * 1024, (1024, 256)),
    AssetKind.ICON: Limits(512 * 1024, (512, 512)),
    AssetKind.FAVICON: Limits(256 * 1024, (48, 48)),
}


@dataclass(frozen=True)
class Processed:
    png: bytes
    width: int
    height: int


def allowed_type(content_type: str, field: str = "contentType") -> str:
    if content_type not in TYPES:
        raise Rejected.one(
            ThemesErrorCode.ASSET_TYPE_NOT_ALLOWED,
            f"Upload PNG, JPEG or WebP (not {content_type[:60]}); SVG is not accepted.",
            field,
        )
    return content_type


def sniffed(data: bytes, declared: str) -> str:
    """The type libmagic reads in the bytes; it must be allowed and the one declared."""
    found = str(magic.from_buffer(data[:4096], mime=True))
    if found not in TYPES or found != declared:
        raise Rejected.one(
            ThemesErrorCode.ASSET_TYPE_NOT_ALLOWED,
            f"The file is {found}, not the {declared} announced, or not an allowed image.",
        )
    return found


def _decoded(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
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


def processed(data: bytes, declared: str, kind: AssetKind) -> Processed:
    """The upload as a PNG within its kind's box (never enlarged), metadata dropped."""
    sniffed(data, declared)
    image = _decoded(data).convert("RGBA")
    image.thumbnail(LIMITS[kind].box, Image.Resampling.LANCZOS)
    bare = Image.frombytes("RGBA", image.size, image.tobytes())
    out = io.BytesIO()
    bare.save(out, format="PNG", optimize=True)
    return Processed(out.getvalue(), bare.width, bare.height)

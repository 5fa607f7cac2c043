"""The asset pipeline on bytes alone: what the signature says, what Pillow decodes, what is
written out."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from subgraphs.kernel.errors import Rejected
from subgraphs.themes import images
from subgraphs.themes.images import AssetKind
from tests.subgraphs.themes.conftest import image_bytes

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _code(data: bytes, declared: str, kind: AssetKind = AssetKind.LOGO) -> str:
    with pytest.raises(Rejected) as refused:
        images.processed(data, declared, kind)
    return str(refused.value.problems[0].code)


@pytest.mark.parametrize(
    ("fmt", "declared"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_each_accepted_type_is_recognised_by_its_signature(fmt: str, declared: str) -> None:
    assert images.signature_type(image_bytes(fmt, (8, 8))) == declared


def test_svg_is_taken_only_as_svg_and_never_for_a_favicon() -> None:
    assert _code(SVG, "image/png") == "ASSET_TYPE_NOT_ALLOWED"
    assert _code(image_bytes("PNG", (8, 8)), images.SVG) == "ASSET_TYPE_NOT_ALLOWED"
    assert images.allowed_type(images.SVG, AssetKind.ICON) == images.SVG
    with pytest.raises(Rejected):
        images.allowed_type(images.SVG, AssetKind.FAVICON)


def test_a_png_signature_on_something_else_is_unreadable() -> None:
    polyglot = b"\x89PNG\r\n\x1a\n" + b"<html><script>alert(1)</script></html>"
    assert _code(polyglot, "image/png") == "IMAGE_UNREADABLE"


def test_bytes_appended_to_an_image_do_not_survive_the_re_encoding() -> None:
    payload = b"<script>alert(1)</script>"
    files = images.processed(image_bytes("PNG", (64, 64)) + payload, "image/png", AssetKind.ICON)
    assert all(payload not in f.data for f in files)
    assert Image.open(io.BytesIO(files[0].data)).size == (64, 64)


def test_a_favicon_is_a_48_px_png_and_an_ico_of_three_sizes() -> None:
    files = images.processed(image_bytes("PNG", (300, 200)), "image/png", AssetKind.FAVICON)
    assert [(f.name, f.content_type) for f in files] == [
        ("favicon.png", "image/png"),
        ("favicon.ico", "image/x-icon"),
    ]
    assert (files[0].width, files[0].height) == (48, 32)

"""SVG logos and icons through the embedded S3: each attack of a corpus is removed from the
served file or refused with its code, a clean drawing keeps its shapes, and the file is served
as a document that can neither load nor run anything; the PNG and ICO files drawn from it have
the raster sizes and its colors, draw nothing from disk, and a drawing too costly is refused."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import resvg_py
from PIL import IcoImagePlugin, Image

from core.caller import Caller
from subgraphs.kernel.db import utcnow
from subgraphs.themes.service import ThemesService
from tests.conftest import SignedClient, unique_slug
from tests.subgraphs.themes import operations
from tests.subgraphs.themes.conftest import (
    asset_through,
    image_bytes,
    org_themes,
    owner,
    publish,
)
from tests.subgraphs.themes.operations import filled

SVG = "image/svg+xml"
NAMESPACES = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
CLEAN = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg {NAMESPACES} width="120px" height="40" viewBox="0 0 120 40">
  <defs>
    <linearGradient id="brand"><stop offset="0" stop-color="#0a66c2"/></linearGradient>
    <path id="mark" d="M0 0h10v10z"/>
  </defs>
  <rect width="120" height="40" rx="6" fill="url(#brand)" style="stroke: rgb(1, 2, 3)"/>
  <use xlink:href="#mark" transform="translate(10, 10) rotate(45)"/>
  <circle cx="100" cy="20" r="8" fill="url('#brand')" opacity="0.5"/>
  <text x="30" y="26" font-family="Arial, sans-serif" font-size="14">Acme (beta)</text>
</svg>""".encode()
KEPT = '<rect id="kept" width="8" height="8" fill="#0a66c2"/>'


def _svg(inner: str, prolog: str = "") -> bytes:
    """A drawing holding ``inner`` and one rectangle that must survive its cleaning."""
    return f'{prolog}<svg {NAMESPACES} width="64" height="32">{inner}{KEPT}</svg>'.encode()


LAUGHS = "".join(
    f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' if n else '<!ENTITY lol0 "lol">' for n in range(10)
)
# Each attack, and what must not be left of it in the served file (compared in lowercase).
REMOVED = {
    "script": (
        '<script>alert(1)</script><script xlink:href="https://evil.example/x.js"/>',
        "",
        ["<script", "alert", "evil.example"],
    ),
    "event handlers": (
        '<g onload="alert(1)"><rect onclick="alert(2)" onmouseover="alert(3)" width="1"/></g>',
        "",
        ["onload", "onclick", "onmouseover", "alert"],
    ),
    "javascript: links": (
        '<a href="javascript:alert(1)"><text>a</text></a>'
        '<a xlink:href="JaVaScRiPt:alert(2)"><text>b</text></a>'
        '<a href="&#106;ava&#x09;script:alert(3)"><text>c</text></a>',
        "",
        ["javascript", "alert"],
    ),
    "foreignObject": (
        '<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">'
        '<img src="x" onerror="alert(1)"/></div></foreignObject>',
        "",
        ["foreignobject", "<div", "<img", "onerror", "alert"],
    ),
    "use of another file": (
        '<use href="https://evil.example/sprite.svg#a"/><use xlink:href="other.svg#b"/>'
        '<use href="/abs.svg#c"/><use href="#kept"/>',
        "",
        ["evil.example", "sprite.svg", "other.svg", "abs.svg"],
    ),
    "style element with @import": (
        "<style>@import url(https://evil.example/x.css); rect { fill: url(/p) }</style>",
        "",
        ["<style", "@import", "evil.example", "x.css", "url(/p)"],
    ),
    "style element in CDATA": (
        "<style><![CDATA[ rect { fill: url(https://evil.example/y) } ]]></style>",
        "",
        ["<style", "evil.example", "fill: url"],
    ),
    "style attributes that fetch": (
        '<rect style="fill:url(http://x.example/p)" width="1"/>'
        '<rect style="fill: image(&quot;/a.png&quot;)" width="1"/>'
        '<rect style="stroke: image-set(&quot;/b.png&quot; 1x)" width="1"/>',
        "",
        ["x.example", "a.png", "b.png", "image"],
    ),
    "relative url()": (
        '<rect fill="url(/p)" filter="url(/f#x)" mask="url(m.svg#m)" style="fill:url(/q)"/>',
        "",
        ["url(/", "/f#x", "m.svg"],
    ),
    "data: references": (
        '<image xlink:href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="'
        ' width="5" height="5"/><image href="data:image/svg+xml;base64,PHN2Zy8+" width="5"/>',
        "",
        ["data:", "base64", "phnjcmlwd"],
    ),
    "escape-obfuscated style": (
        r'<rect style="f\69ll:u\72l(/p)" width="1"/>'
        r'<rect style="fill:\75rl(https://evil.example/)" width="1"/>'
        '<rect style="fill:u/**/rl(/x)" width="1"/>',
        "",
        ["\\", "evil.example", "url", "rl("],
    ),
    "animated reference": (
        '<a href="#kept"><set attributeName="href" to="javascript:alert(1)"/>'
        '<animate attributeName="xlink:href" values="https://evil.example/;#kept"/></a>',
        "",
        ["javascript", "alert", "evil.example"],
    ),
    "external entity": (
        "<text>&xxe;</text>",
        '<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        ["root:", "passwd", "doctype", "entity"],
    ),
    "stylesheet instruction": (
        "",
        '<?xml-stylesheet type="text/css" href="https://evil.example/s.css"?>',
        ["xml-stylesheet", "evil.example"],
    ),
    "xml:base": (
        '<g xml:base="https://evil.example/"><use href="#kept"/></g>',
        "",
        ["xml:base", "evil.example"],
    ),
}
REFUSED = {
    "billion laughs": (
        f"<!DOCTYPE svg [{LAUGHS}]><svg {NAMESPACES}><text>&lol9;</text></svg>".encode(),
        "IMAGE_UNREADABLE",
    ),
    "a shape as root": (
        b'<rect xmlns="http://www.w3.org/2000/svg" width="5" height="5"/>',
        "ASSET_TYPE_NOT_ALLOWED",
    ),
    "an XHTML page": (
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body><script>alert(1)</script></body></html>',
        "IMAGE_UNREADABLE",
    ),
    "svg outside its namespace": (b'<svg width="5" height="5"><rect/></svg>', "IMAGE_UNREADABLE"),
    "elements nested too deep": (
        f'<svg {NAMESPACES} width="5" height="5">{"<g>" * 5000}{"</g>" * 5000}</svg>'.encode(),
        "IMAGE_UNREADABLE",
    ),
    "truncated": (b'<svg xmlns="http://www.w3.org/2000/svg" width="5"', "IMAGE_UNREADABLE"),
    "plain text": (b"just some words " * 4, "ASSET_TYPE_NOT_ALLOWED"),
    "a PNG announced as SVG": (image_bytes("PNG", (8, 8)), "ASSET_TYPE_NOT_ALLOWED"),
    "no size in pixels": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10em" height="2em"/>',
        "IMAGE_UNREADABLE",
    ),
    "too wide": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="4097" height="10"/>',
        "IMAGE_TOO_LARGE",
    ),
    "a viewBox too tall": (
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 5000"/>',
        "IMAGE_TOO_LARGE",
    ),
}


async def _served(themes: SignedClient, url: str) -> httpx.Response:
    found = await themes.client.get(url.removeprefix("/assets/themes"))
    assert found.status_code == 200
    return found


def _references_only_fragments(document: bytes) -> None:
    """Nothing in ``document`` names another file, styles from a sheet or hides an escape."""
    assert b"<!DOCTYPE" not in document
    assert b"\\" not in document
    root = ET.fromstring(document)  # noqa: S314 - no DOCTYPE, checked just above
    for element in root.iter():
        assert element.tag.rsplit("}", 1)[-1] not in {"style", "script", "foreignObject"}
        for name, value in element.attrib.items():
            if name in {"href", XLINK_HREF, "src"}:
                assert value.startswith("#"), (name, value)
            for target in re.findall(r"url\(\s*['\"]?([^)]*)", value, re.IGNORECASE):
                assert target.startswith("#"), (name, value)


@pytest.mark.parametrize(("inner", "prolog", "left_out"), REMOVED.values(), ids=REMOVED.keys())
async def test_each_attack_is_removed_from_the_served_svg(
    themes: SignedClient, inner: str, prolog: str, left_out: list[str]
) -> None:
    done = await asset_through(themes, owner(), "LOGO", _svg(inner, prolog), SVG)
    assert done["errors"] == []
    served = await _served(themes, done["asset"]["url"])
    assert _shapes(_svg(""))[-1] in _shapes(served.content)  # the drawing itself is still there
    for word in left_out:
        assert word not in served.text.lower(), word
    _references_only_fragments(served.content)


@pytest.mark.parametrize(("data", "code"), REFUSED.values(), ids=REFUSED.keys())
async def test_an_svg_that_cannot_be_made_safe_is_refused_with_its_code(
    themes: SignedClient, data: bytes, code: str
) -> None:
    caller = owner()
    done = await asset_through(themes, caller, "ICON", data, SVG)
    assert [e["code"] for e in done["errors"]] == [code]
    seen = await themes.run(ICON, {"r": [_organization(caller)]}, caller)
    assert seen["_entities"][0]["themeDraft"]["icon"] is None  # nothing reached the draft


ICON = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  themeDraft { icon { url } } } } }"""
LOGO = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  themeDraft { suggestedPalette { primary } logo { width height url files { name } } } } } }"""

PALETTE = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  themeDraft { suggestedPalette { primary background foreground link } } } } }"""


def _organization(caller: Caller) -> dict[str, Any]:
    return {"__typename": "Organization", "id": str(caller.org_id)}


def _shapes(document: bytes) -> list[tuple[str, dict[str, str], str]]:
    """Each element's name, attributes (xlink:href as href) and text."""
    root = ET.fromstring(document)  # noqa: S314 - the test's own drawing or the platform's output
    return [
        (
            element.tag,
            {("href" if k == XLINK_HREF else k): v for k, v in element.attrib.items()},
            (element.text or "").strip(),
        )
        for element in root.iter()
    ]


async def test_a_clean_svg_logo_keeps_its_drawing_and_is_served_as_an_inert_document(
    themes: SignedClient,
) -> None:
    caller = owner()
    done = await asset_through(themes, caller, "LOGO", CLEAN, SVG)
    assert done["errors"] == []
    asset = done["asset"]
    assert (asset["width"], asset["height"]) == (120, 40)
    assert asset["url"].endswith("/logo.svg")
    assert [f["name"] for f in asset["files"]] == ["logo.svg", "logo.png", "logo-2x.png"]

    served = await _served(themes, asset["url"])
    assert served.headers["content-type"] == SVG
    assert (
        served.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in served.headers["cache-control"]
    expected = _shapes(CLEAN)
    expected[7][1]["fill"] = "url(#brand)"  # the circle's quotes are dropped, nothing more
    assert _shapes(served.content) == expected

    seen = (await themes.run(LOGO, {"r": [_organization(caller)]}, caller))["_entities"][0]
    assert seen["themeDraft"]["logo"]["url"] == asset["url"]
    assert (seen["themeDraft"]["logo"]["width"], seen["themeDraft"]["logo"]["height"]) == (120, 40)
    assert seen["themeDraft"]["suggestedPalette"] is not None  # read from its PNG


async def test_an_svg_logo_proposes_its_fill_on_its_page_color(themes: SignedClient) -> None:
    caller = owner()
    drawing = (
        f'<svg {NAMESPACES} width="400" height="100"><rect width="400" height="100" fill="#fff"/>'
        '<path d="M40 20h160v60H40z" fill="#0a66c2"/></svg>'
    ).encode()
    assert (await asset_through(themes, caller, "LOGO", drawing, SVG))["errors"] == []
    seen = await themes.run(PALETTE, {"r": [_organization(caller)]}, caller)
    assert seen["_entities"][0]["themeDraft"]["suggestedPalette"] == {
        "primary": "#0a66c2",
        "background": "#ffffff",
        "foreground": "#111827",
        "link": "#0a66c2",
    }


BLUE, AMBER = (10, 102, 194), (245, 158, 11)


def _halves(size: str) -> bytes:
    """A drawing of ``size`` (its root's attributes), blue on its left half, amber on its right."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" {size}><rect width="50%" height="100%"'
        ' fill="#0a66c2"/><rect x="50%" width="50%" height="100%" fill="#f59e0b"/></svg>'
    ).encode()


async def _file(themes: SignedClient, asset: dict[str, Any], name: str) -> httpx.Response:
    [url] = [f["url"] for f in asset["files"] if f["name"] == name]
    return await _served(themes, url)


def _image(data: bytes, format: str = "PNG") -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=[format])
    assert image.format == format
    return image


def _rgb(image: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    """The color at ``x``, ``y`` as shares of the width and height (opaque there)."""
    pixel = image.convert("RGBA").getpixel((int(image.width * x), int(image.height * y)))
    assert isinstance(pixel, tuple)
    r, g, b, a = pixel
    assert a == 255
    return (int(r), int(g), int(b))


@pytest.mark.parametrize(
    ("size", "one_x", "two_x"),
    [
        ('width="120" height="40"', (384, 128), (768, 256)),
        ('width="400" height="100" viewBox="0 0 4e9 1e9"', (512, 128), (1024, 256)),
        ('width="100" height="400"', (32, 128), (64, 256)),
    ],
    ids=["small", "a huge viewBox", "tall"],
)
async def test_an_svg_logos_pngs_are_drawn_within_the_raster_sizes_in_its_colors(
    themes: SignedClient, size: str, one_x: tuple[int, int], two_x: tuple[int, int]
) -> None:
    done = await asset_through(themes, owner(), "LOGO", _halves(size), SVG)
    assert done["errors"] == []
    for name, expected in [("logo.png", one_x), ("logo-2x.png", two_x)]:
        served = await _file(themes, done["asset"], name)
        assert served.headers["content-type"] == "image/png"
        image = _image(served.content)
        assert image.size == expected
        assert (_rgb(image, 0.25, 0.5), _rgb(image, 0.75, 0.5)) == (BLUE, AMBER)


async def test_an_svg_icon_gets_a_favicon_and_touch_icon_drawn_from_it(
    themes: SignedClient,
) -> None:
    done = await asset_through(themes, owner(), "ICON", _halves('width="64" height="64"'), SVG)
    assert done["errors"] == []
    asset = done["asset"]
    assert [f["name"] for f in asset["files"]] == [
        *("icon.svg", "icon.png", "touch-icon.png", "favicon.ico")
    ]
    assert asset["url"].endswith("/icon.svg")
    assert (asset["width"], asset["height"]) == (64, 64)
    for name, side in [("icon.png", 512), ("touch-icon.png", 180)]:
        image = _image((await _file(themes, asset, name)).content)
        assert image.size == (side, side)
        assert (_rgb(image, 0.25, 0.5), _rgb(image, 0.75, 0.5)) == (BLUE, AMBER)
    served = await _file(themes, asset, "favicon.ico")
    assert served.headers["content-type"] == "image/x-icon"
    favicon = _image(served.content, "ICO")
    assert sorted(favicon.info["sizes"]) == [(16, 16), (32, 32), (48, 48)]
    assert isinstance(favicon, IcoImagePlugin.IcoImageFile)
    for side in (16, 32, 48):
        frame = favicon.ico.getimage((side, side))
        assert frame.size == (side, side)
        assert (_rgb(frame, 0.25, 0.5), _rgb(frame, 0.75, 0.5)) == (BLUE, AMBER)


async def test_an_image_naming_a_file_on_disk_is_not_drawn_from_it(
    themes: SignedClient, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    Image.new("RGB", (10, 10), (255, 0, 0)).save(secret)
    drawing = (
        f'<svg {NAMESPACES} width="400" height="100"><rect width="400" height="100"'
        ' fill="#0a66c2"/>'
        + "".join(
            f'<image {attribute}="{target}" width="400" height="100"/>'
            for attribute in ("href", "xlink:href")
            for target in (secret, f"file://{secret}", secret.name)
        )
        + "</svg>"
    ).encode()
    # resvg itself reads such a file: only the cleaning keeps it out.
    raw = _image(resvg_py.svg_to_bytes(svg_string=drawing.decode(), skip_system_fonts=True))
    assert _rgb(raw, 0.5, 0.5) == (255, 0, 0)

    done = await asset_through(themes, owner(), "LOGO", drawing, SVG)
    assert done["errors"] == []
    for name in ("logo.png", "logo-2x.png"):
        image = _image((await _file(themes, done["asset"], name)).content).convert("RGB")
        assert image.getcolors() == [(image.width * image.height, BLUE)]


async def test_an_svg_too_costly_to_draw_is_refused_and_changes_nothing(
    themes: SignedClient,
) -> None:
    caller = owner()
    # A morphology of this radius keeps resvg busy for minutes on a 1024x256 canvas.
    drawing = _svg(
        '<filter id="f"><feMorphology radius="100"/></filter>'
        '<rect width="64" height="32" filter="url(#f)"/>'
    )
    done = await asset_through(themes, caller, "LOGO", drawing, SVG)
    assert [e["code"] for e in done["errors"]] == ["IMAGE_TOO_LARGE"]
    assert "to draw" in done["errors"][0]["message"]
    seen = await themes.run(LOGO, {"r": [_organization(caller)]}, caller)
    assert seen["_entities"][0]["themeDraft"]["logo"] is None


async def test_the_public_theme_and_the_preview_name_the_svg_logo(
    themes: SignedClient, other_process: ThemesService
) -> None:
    caller, slug = owner(), unique_slug()
    assert caller.org_id is not None
    await other_process.set_slug(caller.org_id, slug, utcnow())
    done = await asset_through(themes, caller, "LOGO", CLEAN, SVG)
    assert (await publish(themes, caller, 0))["errors"] == []
    public = (await themes.run(filled(operations.BY_SLUG, slug=slug)))["themeBySlug"]
    assert public["logo"] == {"url": done["asset"]["url"], "width": 120, "height": 40}
    seen = await org_themes(themes, caller, caller.org_id)
    assert seen is not None
    preview = await themes.client.get(
        seen["themeDraft"]["previewUrl"].removeprefix("/assets/themes")
    )
    assert f'<img src="{done["asset"]["url"]}"' in preview.text

"""Themes figures: generated stylesheet size, sanitizer time for a 20 KB stylesheet, asset
pipeline time for a 1 MB PNG and a 1 MB SVG (cleaned and drawn), and how long a hostile SVG
takes to be refused. Run: python -m tests.bench.themes_bench"""

from __future__ import annotations

import io
import os
import statistics
import time
from uuid import uuid4

from PIL import Image

from subgraphs.kernel.errors import Rejected
from subgraphs.themes import css, images
from subgraphs.themes.tokens import DEFAULT_TOKENS, scope_class, view


def _timed(run: object, times: int) -> list[float]:
    found = []
    for _ in range(times):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        found.append((time.perf_counter() - start) * 1000)
    return found


def _stylesheet_of_20_kb() -> str:
    rule = ".card .btn:hover, .nav > a { color: #0a66c2; border-radius: 6px; padding: 4px 8px }\n"
    return rule * (css.MAX_BYTES // len(rule))


def _png_of_1_mb() -> bytes:
    side = 590
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG")
    return out.getvalue()


def _svg_of_1_mb() -> bytes:
    """A drawing of 11,000 shapes, each with a style, a transform and a fragment reference."""
    shape = (
        '<path d="M{x} {y}h4v4h-4z" fill="url(#g)" style="opacity: 0.5" transform="rotate({a})"/>'
    )
    shapes = "".join(shape.format(x=i % 300, y=i % 75, a=i % 90) for i in range(11_000))
    gradient = '<linearGradient id="g"><stop offset="0" stop-color="#0a66c2"/></linearGradient>'
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 75">{gradient}{shapes}</svg>'
    return svg.encode()


# Each keeps resvg busy for minutes unbounded; the child process stops it.
HOSTILE = {
    "feMorphology radius 100": '<feMorphology radius="100"/>',
    "feTurbulence of 10^6 octaves": '<feTurbulence baseFrequency="0.9" numOctaves="1000000"/>',
    "20 wide blurs": '<feGaussianBlur stdDeviation="50"/>' * 20,
}


def _hostile(primitives: str) -> bytes:
    region = 'x="-1000%" y="-1000%" width="3000%" height="3000%"'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">'
        f'<filter id="f" {region}>{primitives}</filter>'
        '<rect width="400" height="100" filter="url(#f)"/></svg>'
    ).encode()


def _refused(drawing: bytes) -> str:
    try:
        images.processed(drawing, images.SVG, images.AssetKind.LOGO)
    except Rejected as refused:
        return str(refused.problems[0].code)
    return "accepted"


def main() -> None:
    org = uuid4()
    tokens = DEFAULT_TOKENS | {
        "light": {
            "primary": "#0a66c2",
            "background": "#ffffff",
            "foreground": "#111827",
            "link": "#0a66c2",
        }
    }
    custom = css.sanitize(".btn { border-radius: 6px }", scope_class(org), "/assets/themes").css
    sheet = view(org, tokens, "", custom, 0, is_draft=True).css
    print(f"generated stylesheet: {len(sheet.encode())} bytes")
    source = _stylesheet_of_20_kb()
    ms = _timed(lambda: css.sanitize(source, scope_class(org), "/assets/themes"), 20)
    print(f"sanitize {len(source.encode())} bytes: median {statistics.median(ms):.1f} ms")
    png = _png_of_1_mb()
    ms = _timed(lambda: images.processed(png, "image/png", images.AssetKind.LOGO), 5)
    print(f"asset pipeline, {len(png)} byte PNG: median {statistics.median(ms):.1f} ms")
    drawing = _svg_of_1_mb()
    ms = _timed(lambda: images.processed(drawing, images.SVG, images.AssetKind.LOGO), 5)
    print(f"asset pipeline, {len(drawing)} byte SVG: median {statistics.median(ms):.1f} ms")
    for name, primitives in HOSTILE.items():
        start = time.perf_counter()
        outcome = _refused(_hostile(primitives))
        print(f"hostile SVG, {name}: {outcome} after {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

"""A palette proposed from the uploaded logo by Pillow's quantizer: the logo's brand color on
its page color, moved until every contrast check passes, offered on the draft."""

from __future__ import annotations

import io
from dataclasses import asdict
from uuid import uuid4

import pytest
from coloraide import Color
from PIL import Image, ImageDraw

from subgraphs.themes import colors, images, tokens
from tests.conftest import SignedClient
from tests.subgraphs.themes.conftest import asset_through, owner, publish, update

DRAFT = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization {
  themeDraft { suggestedPalette { primary background foreground link } } } } }"""
Rgb = tuple[int, int, int]


def logo(page: Rgb, mark: Rgb, *, page_alpha: int = 255) -> bytes:
    """A 400x100 PNG: a ``mark`` rectangle on a ``page`` of ``page_alpha``."""
    image = Image.new("RGBA", (400, 100), (*page, page_alpha))
    ImageDraw.Draw(image).rectangle((40, 20, 200, 80), fill=(*mark, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def suggestion_for(png: bytes) -> colors.Chosen:
    """What the upload pipeline proposes: from the re-encoded logo, as the service does."""
    [first, *_] = images.processed(png, "image/png", images.AssetKind.LOGO)
    return colors.suggested(*images.prominent_colors(first.data))


def failing_pairs(chosen: colors.Chosen) -> list[str]:
    light = {"light": asdict(chosen)}
    theme = tokens.view(uuid4(), tokens.DEFAULT_TOKENS | light, "", "", 0, is_draft=True)
    return [c.pair for c in theme.contrast if not c.passes]


def test_a_blue_mark_on_white_proposes_that_blue_on_white() -> None:
    chosen = suggestion_for(logo((255, 255, 255), (10, 102, 194)))
    assert chosen == colors.Chosen("#0a66c2", "#ffffff", "#111827", "#0a66c2")
    assert failing_pairs(chosen) == []


def test_a_yellow_mark_on_white_is_darkened_until_it_passes() -> None:
    chosen = suggestion_for(logo((255, 255, 255), (255, 212, 0)))
    assert chosen.background == "#ffffff"
    assert chosen.primary != "#ffd400"
    assert colors.ratio(chosen.primary, "#ffffff") >= colors.NON_TEXT
    assert colors.ratio(chosen.link, "#ffffff") >= colors.TEXT
    hue = Color(chosen.primary).convert("oklch")["hue"]
    assert abs(hue - Color("#ffd400").convert("oklch")["hue"]) < 10  # still yellow
    assert failing_pairs(chosen) == []


def test_an_orange_mark_on_navy_proposes_a_navy_page_with_light_text() -> None:
    chosen = suggestion_for(logo((11, 31, 58), (255, 122, 0)))
    assert (chosen.background, chosen.primary) == ("#0b1f3a", "#ff7a00")
    assert colors.ratio(chosen.foreground, chosen.background) >= colors.TEXT
    assert failing_pairs(chosen) == []


@pytest.mark.parametrize("page", [(255, 255, 255), (0, 0, 0)], ids=["white", "black"])
def test_a_transparent_logo_proposes_a_white_page(page: Rgb) -> None:
    chosen = suggestion_for(logo(page, (185, 28, 28), page_alpha=0))
    assert (chosen.background, chosen.primary) == ("#ffffff", "#b91c1c")
    assert failing_pairs(chosen) == []


def test_a_grey_logo_keeps_the_platforms_primary() -> None:
    chosen = suggestion_for(logo((255, 255, 255), (107, 114, 128)))
    assert chosen.primary == colors.DEFAULT_LIGHT.primary
    assert failing_pairs(chosen) == []


async def test_the_draft_offers_the_logos_palette_and_it_publishes_without_override(
    themes: SignedClient,
) -> None:
    caller = owner()
    representation = {"__typename": "Organization", "id": str(caller.org_id)}
    before = await themes.run(DRAFT, {"r": [representation]}, caller)
    assert before["_entities"][0]["themeDraft"]["suggestedPalette"] is None
    uploaded = await asset_through(
        themes, caller, "LOGO", logo((255, 255, 255), (255, 212, 0)), "image/png"
    )
    assert uploaded["errors"] == []
    after = await themes.run(DRAFT, {"r": [representation]}, caller)
    palette = after["_entities"][0]["themeDraft"]["suggestedPalette"]
    assert palette == asdict(suggestion_for(logo((255, 255, 255), (255, 212, 0))))
    drafted = await update(themes, caller, light=palette)
    assert [c["pair"] for c in drafted["theme"]["contrast"] if not c["passes"]] == []
    published = await publish(themes, caller, 0)
    assert published["errors"] == []
    assert published["theme"]["light"]["primary"] == palette["primary"]

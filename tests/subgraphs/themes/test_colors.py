"""Derived colors and WCAG contrast of a palette, and the nearest passing suggestion."""

from __future__ import annotations

import pytest

from subgraphs.kernel.errors import Rejected
from subgraphs.themes import colors


def test_light_blue_on_white_fails_and_the_suggestion_passes_with_the_same_hue() -> None:
    assert round(colors.ratio("#7fb3ff", "#ffffff"), 2) == 2.14
    suggestion = colors.nearest_passing("#7fb3ff", "#ffffff", colors.TEXT)
    assert suggestion is not None
    assert 4.5 <= colors.ratio(suggestion, "#ffffff") < 4.8
    assert suggestion.startswith("#4")


def test_text_on_primary_is_white_on_a_dark_primary_and_black_on_a_light_one() -> None:
    dark = colors.palette(colors.Chosen("#0a66c2", "#ffffff", "#111827", "#0a66c2"))
    pale = colors.palette(colors.Chosen("#ffd166", "#ffffff", "#111827", "#0a66c2"))
    assert dark.primary_foreground == "#ffffff"
    assert pale.primary_foreground == "#000000"


def test_hover_and_active_move_away_from_the_text_on_primary() -> None:
    chosen = colors.palette(colors.Chosen("#0a66c2", "#ffffff", "#111827", "#0a66c2"))
    base = colors.ratio(chosen.primary, chosen.primary_foreground)
    hover = colors.ratio(chosen.hover, chosen.primary_foreground)
    active = colors.ratio(chosen.active, chosen.primary_foreground)
    assert base < hover < active


def test_derived_focus_ring_border_and_muted_pass_on_their_background() -> None:
    chosen = colors.palette(colors.Chosen("#7fb3ff", "#ffffff", "#111827", "#0a66c2"))
    checks = {c.pair: c for c in colors.contrast("light", chosen)}
    assert checks["light.focusRing/background"].passes
    assert checks["light.border/background"].passes
    assert checks["light.muted/background"].passes


def test_a_failing_pair_carries_a_passing_suggestion() -> None:
    chosen = colors.palette(colors.Chosen("#0a66c2", "#ffffff", "#111827", "#9ecbff"))
    link = next(c for c in colors.contrast("light", chosen) if c.pair == "light.link/background")
    assert not link.passes
    assert link.suggestion is not None
    assert colors.ratio(link.suggestion, "#ffffff") >= colors.TEXT


@pytest.mark.parametrize("value", ["red", "#12345", "#gggggg", "", "#1234567", "rgb(0,0,0)"])
def test_colors_other_than_hex_are_refused(value: str) -> None:
    with pytest.raises(Rejected) as refused:
        colors.color(value, "light.primary")
    assert refused.value.problems[0].code == "INVALID_COLOR"
    assert refused.value.problems[0].field == "light.primary"

"""The `strawberry_access_control` fixture group is what Strawberry prints for its subgraphs."""

from __future__ import annotations

import pytest

from tests.router.compose.compose_groups import GROUPS
from tests.router.compose.strawberry_access_control import SCHEMAS


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_fixture_subgraph_is_strawberrys_sdl(name: str) -> None:
    fixture = GROUPS / "valid" / "strawberry_access_control" / f"{name}.graphql"

    assert fixture.read_text() == SCHEMAS[name].as_str() + "\n"

"""The committed fixture SDLs are what the fixture subgraphs publish (Apollo planned on them)."""

import pytest

from tests.router.fedfixtures.subgraphs import DATA_DIR, SCHEMAS, published_sdl


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_sdl_matches_the_subgraph(name: str) -> None:
    committed = (DATA_DIR / "sdl" / f"{name}.graphql").read_text()
    assert committed == published_sdl(name), (
        "regenerate: python -m tests.router.fedfixtures.subgraphs then node tools/apollo/plan.mjs"
    )

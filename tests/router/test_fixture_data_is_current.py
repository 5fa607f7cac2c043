"""The committed fixture SDLs are what the fixture subgraphs publish (Apollo planned on them)."""

import pytest

from tests.router.fedfixtures.corpus import Case, cases
from tests.router.fedfixtures.subgraphs import DATA_DIR, SCHEMAS, published_sdl


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_sdl_matches_the_subgraph(name: str) -> None:
    committed = (DATA_DIR / "sdl" / f"{name}.graphql").read_text()
    assert committed == published_sdl(name), (
        "regenerate: python -m tests.router.fedfixtures.subgraphs then node tools/apollo/plan.mjs"
    )


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_apollos_expected_answers_were_generated_from_the_current_corpus(case: Case) -> None:
    expected = sorted(p.stem for p in (case.folder / "expected").glob("*.json"))
    assert expected == case.operation_names(), "regenerate: node tools/apollo/answers.mjs"
    for name in case.operation_names():
        assert case.expected(name)["inputs"] == case.inputs_digest(name), (
            f"{case.name}/{name} changed since Apollo answered it: node tools/apollo/answers.mjs"
        )

"""Our composition of each fixture group, and of each planner corpus case, equals Apollo's:
same supergraph, or same error codes."""

from __future__ import annotations

import pytest

from router.compose import Subgraph, compose
from tests.router.compose.compose_groups import Group, groups
from tests.router.compose.sdl_normal_form import normal_form
from tests.router.fedfixtures.corpus import Case, cases


@pytest.mark.parametrize("group", groups("valid"), ids=lambda g: g.name)
def test_valid_group_composes_to_apollos_supergraph(group: Group) -> None:
    result = compose(group.subgraphs)

    assert result.errors == []
    assert result.supergraph_sdl is not None
    assert normal_form(result.supergraph_sdl) == normal_form(group.apollo_supergraph)


@pytest.mark.parametrize("group", groups("invalid"), ids=lambda g: g.name)
def test_invalid_group_fails_with_apollos_error_codes(group: Group) -> None:
    result = compose(group.subgraphs)

    assert result.supergraph_sdl is None
    assert sorted({error.code for error in result.errors}) == group.apollo_error_codes


@pytest.mark.parametrize("group", groups("invalid"), ids=lambda g: g.name)
def test_invalid_group_is_named_for_the_code_it_proves(group: Group) -> None:
    assert group.path.name.split("--")[0] in group.apollo_error_codes


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.name)
def test_every_planner_corpus_supergraph_composes_as_apollos(case: Case) -> None:
    subgraphs = [
        Subgraph(name, f"http://{name}/graphql", sdl) for name, sdl in case.subgraph_sdls().items()
    ]
    result = compose(subgraphs)

    assert [error.message for error in result.errors] == []
    assert result.supergraph_sdl is not None
    assert normal_form(result.supergraph_sdl) == normal_form(case.supergraph_sdl())

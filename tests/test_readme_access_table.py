"""The README's table of who may call each root field is the schema's, not a copy gone stale."""

from __future__ import annotations

from pathlib import Path

from graphql import parse

from router.supergraph.supergraph import Supergraph
from vetrai.docs import SUPERGRAPH, access_table

ROOT = Path(__file__).parents[1]


def test_readme_lists_the_scope_and_policy_of_every_root_field_as_the_schema_declares() -> None:
    sdl = (ROOT / SUPERGRAPH).read_text()
    table = access_table(parse(sdl), Supergraph(sdl).api_schema)

    readme = (ROOT / "README.md").read_text()

    assert table in readme, "README.md: paste the table `vetrai docs` writes into docs/api.md"
    assert "`Mutation.sendNotification` | user or API key | `notifications:write`" in table

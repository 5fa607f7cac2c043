"""The API guide: its reference is what the schema generates (a stale one fails CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vetrai import docs

ROOT = Path(__file__).parents[2]
GUIDE = ROOT / docs.GUIDE
SUPERGRAPH = ROOT / docs.SUPERGRAPH


def test_committed_api_guide_is_what_vetrai_docs_generates() -> None:
    code = docs.run(check=True, guide=GUIDE, supergraph=SUPERGRAPH)
    assert code == 0, "run `vetrai docs` and commit docs/api.md"


def test_guide_documents_every_root_field_and_every_error_code() -> None:
    text = GUIDE.read_text()
    for name in ("signUp(input: SignUpInput!)", "notificationAdded", "currentOrganization"):
        assert f"`{name}" in text
    reference = text.partition(docs.MARKER)[2]
    codes = reference.split("#### `ErrorCode` (enum)")[1].split("####")[0]
    written = text.partition(docs.MARKER)[0]
    for line in codes.splitlines():
        if line.startswith("- `"):
            assert line.split("`")[1] in written, f"{line} is not explained"


def test_a_changed_schema_makes_the_guide_stale(tmp_path: Path) -> None:
    changed = tmp_path / "supergraph.graphql"
    changed.write_text(SUPERGRAPH.read_text().replace("The signed-in user", "Who calls"))
    assert docs.run(check=True, guide=GUIDE, supergraph=changed) == 1


def test_a_guide_without_its_marker_is_refused(tmp_path: Path) -> None:
    guide = tmp_path / "api.md"
    guide.write_text("# prose only\n")
    with pytest.raises(ValueError, match="has no line"):
        docs.run(check=False, guide=guide, supergraph=SUPERGRAPH)

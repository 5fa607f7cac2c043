"""A served supergraph's caches of documents and of pruned plans are bounded (1024 each), so
no stream of distinct operations or grants grows the router's memory without end; the plans
kept are the most recently used."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from graphql import OperationDefinitionNode, parse

from router.authorization import Grants
from router.pipeline.operation import Document
from router.pipeline.runtime import Served
from tests.router.conftest import SUPERGRAPH_SDL

KEPT = 1024
ME = "{ me { name } }"


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    served = Served(SUPERGRAPH_SDL, {}, timeout=1.0, observe=None)
    yield served
    await served.aclose()


def _document(source: str) -> Document:
    parsed = parse(source)
    operation = parsed.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return Document(source, parsed, operation, {}, None, None)


def _grants(n: int) -> Grants:
    return Grants(scopes=frozenset({f"scope:{n}"}))


async def test_the_1024_latest_documents_are_kept(served: Served) -> None:
    document = _document(ME)
    for n in range(KEPT + 1):
        served.remember((f"{ME} # {n}", None), document)
    assert len(served.documents) == KEPT
    assert (f"{ME} # 0", None) not in served.documents
    assert (f"{ME} # 1", None) in served.documents
    assert (f"{ME} # {KEPT}", None) in served.documents


async def test_the_1024_most_recently_used_pruned_plans_are_kept(served: Served) -> None:
    document = _document(ME)
    labels: frozenset[str] = frozenset()
    plans = [
        served.pruned_plan(document, document.document, _grants(n), labels) for n in range(KEPT)
    ]
    assert served.pruned_plan(document, document.document, _grants(0), labels) is plans[0]
    served.pruned_plan(document, document.document, _grants(KEPT), labels)
    assert len(served.pruned_plans) == KEPT
    # The least recently used went: the second, not the first, which was just read again.
    assert served.pruned_plan(document, document.document, _grants(0), labels) is plans[0]
    assert served.pruned_plan(document, document.document, _grants(1), labels) is not plans[1]

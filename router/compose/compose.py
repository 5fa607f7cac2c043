"""Composition entry point: subgraph SDLs in, an Apollo-format supergraph SDL or errors out."""

from __future__ import annotations

from collections.abc import Iterable

from router.compose import specs
from router.compose.contexts import SubgraphContexts, add_context_spec, contexts_of
from router.compose.directives import AppliedDirectives
from router.compose.errors import CompositionError, CompositionResult
from router.compose.features import check_transitive_requirements, validate_features
from router.compose.merge import Merger
from router.compose.metadata import Metadata, collect
from router.compose.naming import graph_enum_values
from router.compose.satisfiability import check_satisfiability
from router.compose.subgraph import (
    FEDERATION_VERSIONS,
    ParsedSubgraph,
    Subgraph,
    parse_subgraph,
)
from router.compose.supergraph import ComposedSupergraph, print_supergraph
from router.compose.validation import validate


def compose(subgraphs: Iterable[Subgraph]) -> CompositionResult:
    """Compose `subgraphs` with Federation 2 rules; report every error found, not just the first."""
    ordered = sorted(subgraphs, key=lambda s: s.name)
    parsed: list[ParsedSubgraph] = []
    errors: list[CompositionError] = []
    for subgraph in ordered:
        result = parse_subgraph(subgraph)
        if isinstance(result, list):
            errors += result
        else:
            parsed.append(result)
    metas = [collect(subgraph) for subgraph in parsed]
    contexts = [contexts_of(meta) for meta in metas]
    for meta, found in zip(metas, contexts, strict=True):
        errors += validate(meta) + validate_features(meta) + found.errors
    if errors:
        return CompositionResult(errors=errors)
    return _merge(metas, contexts)


def _merge(metas: list[Metadata], contexts: list[SubgraphContexts]) -> CompositionResult:
    directives = AppliedDirectives(metas)
    if directives.errors:
        return CompositionResult(errors=directives.errors)
    supergraph = ComposedSupergraph()
    linked = [m.subgraph.federation.version for m in metas if m.subgraph.federation]
    version = max(linked, default=FEDERATION_VERSIONS[-1])
    specs.add_core_specs(supergraph, specs.join_version(version))
    if any(found.set_by for found in contexts):
        add_context_spec(supergraph)
    graphs = graph_enum_values([meta.name for meta in metas])
    specs.add_graphs(supergraph, [(graphs[m.name], m.name, m.subgraph.url) for m in metas])
    directives.add_to(supergraph)
    merger = Merger(metas, supergraph, directives, contexts)
    merger.merge()
    if not merger.errors:
        merger.errors += check_transitive_requirements(supergraph, metas, directives.names)
    if merger.errors:
        return CompositionResult(errors=merger.errors)
    errors = check_satisfiability(supergraph, metas)
    if errors:
        return CompositionResult(errors=errors)
    return CompositionResult(supergraph_sdl=print_supergraph(supergraph))

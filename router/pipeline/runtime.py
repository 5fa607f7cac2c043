"""The supergraph being served, swappable while requests run: a hot reload builds a new one
(with its access rules and plans) and retires the old, whose subgraph connections close when
its last request ends."""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Mapping

from graphql import DocumentNode, parse

from router import limits
from router.authorization import AccessRules, Grants
from router.edge import Router
from router.executor.client import FetchObserver, SubgraphClient
from router.pipeline.operation import Document
from router.planner.planner import PlannedOperation
from router.planner.shape import compile_shape
from router.supergraph import Supergraph

logger = logging.getLogger("vetrai.router")
DOCUMENTS_KEPT = 1024
PRUNED_PLANS_KEPT = 1024
PrunedKey = tuple[str, str | None, Grants, frozenset[str]]


class Served:
    """One supergraph: the federation engine, its demand-control directives, its access rules,
    the subgraph URLs, the prepared documents of its schema and the plans of operations that
    authorization pruned."""

    def __init__(
        self,
        sdl: str,
        overrides: Mapping[str, str],
        *,
        timeout: float,
        observe: FetchObserver | None,
        override_roll: Callable[[], float] = random.random,
    ) -> None:
        supergraph = Supergraph(sdl)
        self.urls = {name: s.url for name, s in supergraph.subgraphs.items()} | dict(overrides)
        client = SubgraphClient(self.urls, timeout=timeout, observe=observe)
        self.engine = Router(supergraph, client, None, False, override_roll)
        parsed = parse(sdl, no_location=True)
        self.demand = limits.demand_of(parsed)
        self.access = AccessRules.of(parsed, supergraph.api_schema)
        self.documents: OrderedDict[tuple[str, str | None], Document] = OrderedDict()
        self.pruned_plans: OrderedDict[PrunedKey, PlannedOperation] = OrderedDict()
        self.users = 0
        self.retired = False

    def remember(self, key: tuple[str, str | None], document: Document) -> None:
        self.documents[key] = document
        if len(self.documents) > DOCUMENTS_KEPT:
            self.documents.popitem(last=False)

    def pruned_plan(
        self, document: Document, pruned: DocumentNode, grants: Grants, labels: frozenset[str]
    ) -> PlannedOperation:
        """The plan of what ``grants`` leave of ``document`` (``pruned``), completed against the
        whole operation, so what was removed answers null at its path. Cached per grants: two
        callers share a pruned plan only when they hold the same grants."""
        labels = labels & self.engine.supergraph.override_labels
        key = (document.source, document.name, grants, labels)
        found = self.pruned_plans.get(key)
        if found is not None:
            self.pruned_plans.move_to_end(key)
            return found
        plan = self.engine.planner.build(pruned, document.name, labels).plan
        fragments = dict(document.fragments)
        shape = compile_shape(self.engine.supergraph, document.operation, fragments)
        found = PlannedOperation(document.operation, plan, shape, fragments)
        self.pruned_plans[key] = found
        if len(self.pruned_plans) > PRUNED_PLANS_KEPT:
            self.pruned_plans.popitem(last=False)
        return found

    async def aclose(self) -> None:
        await self.engine.executor.client.aclose()


class Using:
    """``async with runtime.using() as served``: a class rather than an
    ``asynccontextmanager``, whose generator costs more than the rest of this on every
    request."""

    __slots__ = ("runtime", "served")

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __aenter__(self) -> Served:
        self.served = served = self.runtime.served
        served.users += 1
        return served

    async def __aexit__(self, *_: object) -> None:
        served = self.served
        served.users -= 1
        if served.retired and served.users == 0:
            await served.aclose()


class Runtime:
    """Owns the served supergraph for the process's lifetime."""

    def __init__(self, build: Callable[[str], Served], sdl: str) -> None:
        self.build = build
        self.served = build(sdl)

    def using(self) -> Using:
        """The current supergraph, kept open until the caller is done with it."""
        return Using(self)

    async def swap(self, sdl: str) -> None:
        """Serve ``sdl`` from now on; a supergraph that does not load raises and changes
        nothing."""
        fresh = self.build(sdl)
        retired, self.served = self.served, fresh
        retired.retired = True
        if retired.users == 0:
            await retired.aclose()

    async def aclose(self) -> None:
        self.served.retired = True
        if self.served.users == 0:
            await self.served.aclose()

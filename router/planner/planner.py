"""Query planning per operation, cached by document, operation name and override labels."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
)

from router.planner.build import build_fetch_graph
from router.planner.errors import PlanningError
from router.planner.plan import QueryPlan, services_of
from router.planner.shape import ResponseShape, compile_shape
from router.supergraph import Supergraph


@dataclass(frozen=True, slots=True)
class PlannedOperation:
    operation: OperationDefinitionNode
    plan: QueryPlan
    shape: ResponseShape
    services: frozenset[str] = field(init=False)
    """The subgraphs the plan fetches from (computed once, as plans are cached)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", services_of(self.plan.node))


class QueryPlanner:
    def __init__(self, supergraph: Supergraph, *, cache_size: int = 1024) -> None:
        self.supergraph = supergraph
        self._cache: OrderedDict[tuple[str, str | None, frozenset[str]], PlannedOperation] = (
            OrderedDict()
        )
        self._cache_size = cache_size
        self.hits = self.misses = 0

    def plan_for(
        self,
        source: str,
        document: DocumentNode,
        operation_name: str | None,
        labels: frozenset[str] = frozenset(),
    ) -> PlannedOperation:
        """The plan for one operation of a validated document; `source` keys the cache."""
        key = (source, operation_name, labels & self.supergraph.override_labels)
        cached = self._cache.get(key)
        if cached is not None:
            self.hits += 1
            self._cache.move_to_end(key)
            return cached
        self.misses += 1
        planned = self.build(document, operation_name, key[2])
        self._cache[key] = planned
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return planned

    def build(
        self, document: DocumentNode, operation_name: str | None, labels: frozenset[str]
    ) -> PlannedOperation:
        operation = select_operation(document, operation_name)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        graph = build_fetch_graph(self.supergraph, operation, fragments, labels)
        variables = {v.variable.name.value: v for v in operation.variable_definitions or ()}
        name = operation.name.value if operation.name else None
        plan = QueryPlan(graph.to_plan_node(name, variables))
        shape = compile_shape(self.supergraph, operation, fragments)
        return PlannedOperation(operation, plan, shape)


def select_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) != 1:
            raise PlanningError(
                "Must provide operation name if query contains multiple operations."
            )
        return operations[0]
    for operation in operations:
        if operation.name and operation.name.value == name:
            return operation
    raise PlanningError(f"Unknown operation named '{name}'.")

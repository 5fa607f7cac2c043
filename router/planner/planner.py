"""Query planning per operation, cached by document, operation name and override labels."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
)

from router.planner.build import build_fetch_graph
from router.planner.errors import PlanningError
from router.planner.plan import DeferredNode, QueryPlan, deferred_blocks, services_of
from router.planner.shape import DeliveryShapes, ResponseShape, compile_delivery, compile_shape
from router.supergraph import Supergraph


@dataclass(frozen=True, slots=True)
class PlannedOperation:
    operation: OperationDefinitionNode
    plan: QueryPlan
    shape: ResponseShape
    fragments: Mapping[str, FragmentDefinitionNode] = field(default_factory=dict)
    services: frozenset[str] = field(init=False)
    """The subgraphs the plan fetches from (computed once, as plans are cached)."""
    deferred: tuple[DeferredNode, ...] = field(init=False)
    """The plan's `@defer` fragments, outer ones first."""
    _deliveries: dict[frozenset[str], DeliveryShapes] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", services_of(self.plan.node))
        object.__setattr__(self, "deferred", deferred_blocks(self.plan.node))
        object.__setattr__(self, "_deliveries", {})

    def delivery(self, supergraph: Supergraph, disabled: frozenset[str]) -> DeliveryShapes:
        """The shapes of the incremental payloads, given the false `@defer(if:)` variables."""
        found = self._deliveries.get(disabled)
        if found is None:
            whole = _inline_fragments(self.operation, self.fragments)
            blocks = [
                (d.fragment, whole.get(_place(d.fragment), d.fragment), d.type_condition)
                for d in self.deferred
            ]
            fragments = dict(self.fragments)
            found = compile_delivery(supergraph, self.operation, fragments, blocks, disabled)
            if len(self._deliveries) < DELIVERIES_KEPT:
                self._deliveries[disabled] = found
        return found


DELIVERIES_KEPT = 16


def _inline_fragments(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> dict[int, InlineFragmentNode]:
    """The inline fragments of the operation by their place in the source: a plan of what
    authorization left of it has its fragments pruned, and each is delivered as the client
    wrote it (what was removed null at its path)."""
    found: dict[int, InlineFragmentNode] = {}
    pending: list[SelectionSetNode] = [operation.selection_set]
    pending += [f.selection_set for f in fragments.values()]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, InlineFragmentNode):
                found[_place(selection)] = selection
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)
    return found


def _place(node: Node) -> int:
    return node.loc.start if node.loc is not None else id(node)


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
        return PlannedOperation(operation, plan, shape, fragments)


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

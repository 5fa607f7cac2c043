"""Query plans in Apollo's shape: Fetch, Flatten, Sequence, Parallel, Condition and Defer
nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RequiredField:
    name: str
    selections: tuple[RequiredSelection, ...] | None = None
    source: str | None = None
    """The response key the value is read from, when the planner fetched it under an alias."""


@dataclass(frozen=True, slots=True)
class RequiredFragment:
    type_condition: str
    selections: tuple[RequiredSelection, ...]


RequiredSelection = RequiredField | RequiredFragment


@dataclass(frozen=True, slots=True)
class ContextRewrite:
    """Where a contextual argument of an entity fetch comes from: on the object `ups` fields
    above each entity, if it is a `type_condition`, the value of `field`, sent as the
    variable `variable`."""

    ups: int
    type_condition: str
    field: str
    variable: str


@dataclass(frozen=True, slots=True)
class Fetch:
    service_name: str
    operation: str
    operation_name: str | None
    operation_kind: str
    variable_usages: tuple[str, ...]
    requires: tuple[RequiredFragment, ...] | None = None
    typename_rewrite: str | None = None
    """The __typename representations carry, when the subgraph knows the type as an
    @interfaceObject."""
    output_renames: tuple[tuple[tuple[str, ...], str], ...] = ()
    """Aliases in the fetch's answer ("... on T" steps select objects) and the key each one is
    renamed back to."""
    context_rewrites: tuple[ContextRewrite, ...] = ()
    id: int | None = None
    """For a fetch a `@defer` fragment depends on: what the fragment's `depends` name it by."""


@dataclass(frozen=True, slots=True)
class Flatten:
    path: tuple[str, ...]
    node: Fetch


@dataclass(frozen=True, slots=True)
class Sequence:
    nodes: tuple[PlanNode, ...]


@dataclass(frozen=True, slots=True)
class Parallel:
    nodes: tuple[PlanNode, ...]


@dataclass(frozen=True, slots=True)
class Condition:
    condition: str
    if_clause: PlanNode | None
    else_clause: PlanNode | None


@dataclass(frozen=True, slots=True)
class DeferredNode:
    """A `@defer` fragment: what is fetched for it once the payload it depends on is complete,
    and where its data is delivered."""

    label: str | None
    path: tuple[str, ...]
    """The response path of the objects it completes, "@" for each list level."""
    if_variable: str | None
    """The variable of `@defer(if: $v)`: when false, the fragment is not deferred."""
    type_condition: str
    """The type of the objects it completes (its own type condition, or its parent's type)."""
    fragment: Any = field(compare=False, hash=False, repr=False)
    """The fragment's node in the operation, from which its response shape is compiled."""
    node: PlanNode | None
    deferred: tuple[DeferredNode, ...] = ()
    """The `@defer` fragments nested in this one, delivered after it."""
    depends: tuple[int, ...] = ()
    """The ids of the fetches whose data its own fetches start from: they start once these
    have run (or the part they are in has), its payload once the part it is in is out."""


@dataclass(frozen=True, slots=True)
class Defer:
    primary: PlanNode | None
    deferred: tuple[DeferredNode, ...]


PlanNode = Fetch | Flatten | Sequence | Parallel | Condition | Defer


@dataclass(frozen=True, slots=True)
class QueryPlan:
    node: PlanNode | None


def services_of(node: PlanNode | None) -> frozenset[str]:
    """The subgraphs a plan fetches from."""
    if node is None:
        return frozenset()
    if isinstance(node, Fetch):
        return frozenset((node.service_name,))
    if isinstance(node, Flatten):
        return services_of(node.node)
    if isinstance(node, Condition):
        return services_of(node.if_clause) | services_of(node.else_clause)
    if isinstance(node, Defer):
        return services_of(node.primary).union(*(_deferred_services(d) for d in node.deferred))
    return frozenset().union(*(services_of(n) for n in node.nodes))


def _deferred_services(deferred: DeferredNode) -> frozenset[str]:
    return services_of(deferred.node).union(*(_deferred_services(d) for d in deferred.deferred))


def deferred_blocks(node: PlanNode | None) -> tuple[DeferredNode, ...]:
    """The plan's `@defer` fragments, nested ones after the ones they are in."""
    if not isinstance(node, Defer):
        return ()
    found: list[DeferredNode] = []
    pending = list(node.deferred)
    while pending:
        block = pending.pop(0)
        found.append(block)
        pending.extend(block.deferred)
    return tuple(found)


def plan_to_json(plan: QueryPlan) -> dict[str, Any]:
    """The plan as Apollo's planner serialises it (for `extensions` and comparisons)."""
    result: dict[str, Any] = {"kind": "QueryPlan"}
    if plan.node is not None:
        result["node"] = _node_json(plan.node)
    return result


def _node_json(node: PlanNode) -> dict[str, Any]:
    if isinstance(node, Fetch):
        return _fetch_json(node)
    if isinstance(node, Flatten):
        return {"kind": "Flatten", "path": list(node.path), "node": _fetch_json(node.node)}
    if isinstance(node, Sequence | Parallel):
        return {"kind": type(node).__name__, "nodes": [_node_json(n) for n in node.nodes]}
    if isinstance(node, Defer):
        return _defer_json(node.primary, node.deferred)
    result: dict[str, Any] = {"kind": "Condition", "condition": node.condition}
    if node.if_clause is not None:
        result["ifClause"] = _node_json(node.if_clause)
    if node.else_clause is not None:
        result["elseClause"] = _node_json(node.else_clause)
    return result


def _defer_json(primary: PlanNode | None, deferred: tuple[DeferredNode, ...]) -> dict[str, Any]:
    """Apollo's DeferNode: the primary part, then each deferred fragment by its path."""
    first: dict[str, Any] = {}
    if primary is not None:
        first["node"] = _node_json(primary)
    return {
        "kind": "Defer",
        "primary": first,
        "deferred": [_deferred_json(d) for d in deferred],
    }


def _deferred_json(deferred: DeferredNode) -> dict[str, Any]:
    depends = [{"id": str(i)} for i in deferred.depends]
    path = [step for step in deferred.path if step != "@"]  # as Apollo writes it
    result: dict[str, Any] = {"depends": depends, "queryPath": path}
    if deferred.label is not None:
        result["label"] = deferred.label
    if deferred.deferred:
        result["node"] = _defer_json(deferred.node, deferred.deferred)
    elif deferred.node is not None:
        result["node"] = _node_json(deferred.node)
    return result


def _fetch_json(fetch: Fetch) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": "Fetch"}
    if fetch.id is not None:
        result["id"] = str(fetch.id)
    result["serviceName"] = fetch.service_name
    if fetch.requires is not None:
        result["requires"] = [_selection_json(s) for s in fetch.requires]
    result["variableUsages"] = list(fetch.variable_usages)
    result["operation"] = fetch.operation
    result["operationKind"] = fetch.operation_kind
    result["operationName"] = fetch.operation_name
    if fetch.typename_rewrite is not None and fetch.requires:
        result["inputRewrites"] = [
            {
                "kind": "ValueSetter",
                "path": [f"... on {fetch.requires[0].type_condition}", "__typename"],
                "setValueTo": fetch.typename_rewrite,
            }
        ]
    if fetch.output_renames:
        result["outputRewrites"] = [
            {"kind": "KeyRenamer", "path": list(path), "renameKeyTo": key}
            for path, key in fetch.output_renames
        ]
    if fetch.context_rewrites:
        result["contextRewrites"] = [
            {
                "kind": "KeyRenamer",
                "path": [*([".."] * r.ups), f"... on {r.type_condition}", r.field],
                "renameKeyTo": r.variable,
            }
            for r in fetch.context_rewrites
        ]
    return result


def _selection_json(selection: RequiredSelection) -> dict[str, Any]:
    if isinstance(selection, RequiredFragment):
        return {
            "kind": "InlineFragment",
            "typeCondition": selection.type_condition,
            "selections": [_selection_json(s) for s in selection.selections],
        }
    result: dict[str, Any] = {"kind": "Field", "name": selection.name}
    if selection.selections is not None:
        result["selections"] = [_selection_json(s) for s in selection.selections]
    return result

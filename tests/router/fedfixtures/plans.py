"""Query plans in a canonical form, so ours and Apollo's compare regardless of field order."""

import re
from typing import Any

from graphql import (
    FieldNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    parse,
    print_ast,
)

_DIGITS = re.compile(r"^-?\d+$")


def canonical_plan(plan: dict[str, Any]) -> Any:
    node = plan.get("node")
    return _node(node) if node else None


def _node(node: dict[str, Any]) -> Any:
    kind = node["kind"]
    if kind == "Fetch":
        return {
            "service": node["serviceName"],
            "operation": canonical_operation(node["operation"]),
            "kind": node["operationKind"],
            "variables": sorted(node.get("variableUsages", [])),
            "requires": _requires(node.get("requires")),
            "inputRewrites": node.get("inputRewrites"),
        }
    if kind == "Flatten":
        return {"flatten": node["path"], "node": _node(node["node"])}
    if kind == "Sequence":
        return {"sequence": [_node(n) for n in node["nodes"]]}
    if kind == "Parallel":
        return {"parallel": sorted((_node(n) for n in node["nodes"]), key=repr)}
    if kind == "Condition":
        return {
            "condition": node["condition"],
            "if": _node(node["ifClause"]) if node.get("ifClause") else None,
            "else": _node(node["elseClause"]) if node.get("elseClause") else None,
        }
    raise ValueError(f"unexpected plan node {kind}")


def _requires(selections: list[dict[str, Any]] | None) -> Any:
    if selections is None:
        return None
    return sorted(
        (
            (s.get("typeCondition") or s.get("name"), _requires(s.get("selections")))
            for s in selections
        ),
        key=repr,
    )


def canonical_operation(source: str) -> str:
    """The fetch's operation with selections sorted and ID-like literals unquoted."""
    operation = parse(source, no_location=True).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    variables = sorted(print_ast(v) for v in operation.variable_definitions or ())
    selections = _selections(operation.selection_set)
    return f"{operation.operation.value}({', '.join(variables)}) {selections}"


def _selections(selection_set: SelectionSetNode | None) -> str:
    if selection_set is None:
        return ""
    items: set[str] = set()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            arguments = sorted(
                f"{a.name.value}:{_value(a.value)}" for a in selection.arguments or ()
            )
            alias = f"{selection.alias.value}:" if selection.alias else ""
            args = f"({' '.join(arguments)})" if arguments else ""
            items.add(f"{alias}{selection.name.value}{args}{_selections(selection.selection_set)}")
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else ""
            items.add(f"...on {condition}{_selections(selection.selection_set)}")
    return "{" + " ".join(sorted(items)) + "}"


def _value(value: Any) -> str:
    if isinstance(value, StringValueNode) and _DIGITS.match(value.value):
        return value.value
    return print_ast(value)

"""Small naming helpers shared by the merge and its error messages."""

from __future__ import annotations

import re

from graphql import StringValueNode, print_ast


def graph_enum_values(names: list[str]) -> dict[str, str]:
    """The `join__Graph` value for each subgraph name, disambiguated as Apollo does."""
    sanitized: dict[str, list[str]] = {}
    for name in names:
        value = re.sub(r"\W", "_", name)
        value = "_" + value if value[:1].isdigit() else value
        value = value + "_" if re.search(r"_\d+$", value) else value
        sanitized.setdefault(value.upper(), []).append(name)
    result = {}
    for value, owners in sanitized.items():
        for index, owner in enumerate(owners):
            result[owner] = value if len(owners) == 1 else f"{value}_{index + 1}"
    return result


def quoted(text: str) -> str:
    return print_ast(StringValueNode(value=text))


def subgraph_list(names: list[str]) -> str:
    """`subgraph "a"`, `subgraphs "a" and "b"`, `subgraphs "a", "b" and "c"`."""
    quoted_names = [f'"{name}"' for name in names]
    if len(quoted_names) == 1:
        return f"subgraph {quoted_names[0]}"
    return "subgraphs " + ", ".join(quoted_names[:-1]) + " and " + quoted_names[-1]


def types_list(names: list[str]) -> str:
    """`type "A"`, `types "A" and "B"`."""
    quoted_names = [f'"{name}"' for name in names]
    if len(quoted_names) == 1:
        return f"type {quoted_names[0]}"
    return "types " + ", ".join(quoted_names[:-1]) + " and " + quoted_names[-1]

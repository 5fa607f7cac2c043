"""Contextual arguments (`@fromContext`) of entity fetches: each entity's values read from its
ancestors, and one `_entities` selection per distinct set of values, all in one request."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from router.planner.plan import ContextRewrite

_ENTITIES = "{_entities(representations:$representations)"


def objects_with_ancestors(
    data: Any, path: tuple[str, ...]
) -> list[tuple[dict[str, Any], tuple[dict[str, Any], ...]]]:
    """The objects at a plan path, each with the objects holding the fields on the way there
    (the nearest last): a context's "one field up" is the last of them."""
    current: list[tuple[Any, tuple[dict[str, Any], ...]]] = [(data, ())]
    for step in path:
        following: list[tuple[Any, tuple[dict[str, Any], ...]]] = []
        for value, above in current:
            if step == "@":
                if isinstance(value, list):
                    following.extend((item, above) for item in value)
            elif isinstance(value, dict):
                following.append((value.get(step), (*above, value)))
        current = following
    return [(value, above) for value, above in current if isinstance(value, dict)]


def context_values(
    above: tuple[dict[str, Any], ...],
    rewrites: tuple[ContextRewrite, ...],
    is_a: Callable[[str, str], bool],
) -> dict[str, Any]:
    """The variables one entity's contextual arguments take; the first rewrite that applies
    gives each its value (as Apollo's router reads them)."""
    values: dict[str, Any] = {}
    for rewrite in rewrites:
        if rewrite.variable in values or rewrite.ups > len(above):
            continue
        holder = above[-rewrite.ups]
        typename = holder.get("__typename")
        if isinstance(typename, str) and not is_a(typename, rewrite.type_condition):
            continue
        if rewrite.field in holder:
            values[rewrite.variable] = holder[rewrite.field]
    return values


@cache
def aliased_operation(operation: str, variables: tuple[str, ...], count: int) -> str:
    """The entity fetch's operation with `count` aliased `_entities` selections (`_0`, `_1`,
    ...), each with its own representations and contextual variables (suffixed `_<n>`)."""
    head, body = operation.split(_ENTITIES, 1)
    body = body[:-1]
    types = {v: re.search(rf"\${v}:([^$)=]+)", head).group(1) for v in variables}  # type: ignore[union-attr]
    kept = head.replace("$representations:[_Any!]!", "", 1)
    for variable in variables:
        kept = kept.replace(f"${variable}:{types[variable]}", "", 1)
    definitions = "".join(
        f"$representations_{n}:[_Any!]!" + "".join(f"${v}_{n}:{types[v]}" for v in variables)
        for n in range(count)
    )
    opened = kept.index("(")
    header = f"{kept[: opened + 1]}{definitions}{kept[opened + 1 :]}"
    selections = ""
    for n in range(count):
        renamed = body
        for variable in variables:
            renamed = re.sub(rf"\${variable}(?!\w)", f"${variable}_{n}", renamed)
        selections += f"_{n}:_entities(representations:$representations_{n}){renamed}"
    return f"{header}{{{selections}}}"


def as_one_answer(response: dict[str, Any], sizes: list[int]) -> dict[str, Any]:
    """The answer of an aliased fetch as one `_entities` list in group order, its errors'
    paths pointing into that list."""
    data = response.get("data")
    entities: list[Any] = []
    offsets: dict[str, int] = {}
    for n, size in enumerate(sizes):
        offsets[f"_{n}"] = len(entities)
        found = data.get(f"_{n}") if isinstance(data, dict) else None
        entities.extend(found if isinstance(found, list) else [None] * size)
    errors = []
    for error in response.get("errors") or ():
        path = error.get("path")
        if isinstance(path, list) and len(path) > 1 and path[0] in offsets:
            index = path[1]
            if isinstance(index, int):
                error = {**error, "path": ["_entities", offsets[path[0]] + index, *path[2:]]}
        errors.append(error)
    result: dict[str, Any] = {"data": {"_entities": entities} if data is not None else None}
    if errors:
        result["errors"] = errors
    return result

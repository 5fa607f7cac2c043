"""Incremental delivery of `@defer` fragments (Apollo's `deferSpec=20220824`): where each
deferred fragment's objects are in the response delivered so far, and the payload items."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson

from router.executor.entities import Path
from router.planner.plan import DeferredNode
from router.planner.selection import variable_conditions
from router.planner.shape import SelectionShape


def included(block: DeferredNode, variables: dict[str, Any]) -> bool:
    """Whether the fragment's own @skip/@include keep it."""
    conditions = variable_conditions(block.fragment.directives)
    return conditions is not None and all(
        bool(variables.get(name)) == expected for name, expected in conditions
    )


def delivered_objects(
    delivered: Any, raw: Any, path: tuple[str, ...]
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each object at a plan path ("@" for list levels) that the client already has (in
    `delivered`), with its response path and the merged subgraph data for it (in `raw`)."""
    current: list[tuple[Any, Any, Path]] = [(delivered, raw, [])]
    for step in path:
        following: list[tuple[Any, Any, Path]] = []
        for shown, data, at in current:
            if step == "@":
                if isinstance(shown, list) and isinstance(data, list):
                    following.extend(
                        (item, data[index], [*at, index])
                        for index, item in enumerate(shown)
                        if index < len(data)
                    )
            elif isinstance(shown, dict) and isinstance(data, dict):
                following.append((shown.get(step), data.get(step), [*at, step]))
        current = following
    for shown, data, at in current:
        if isinstance(shown, dict) and isinstance(data, dict):
            yield at, data


def copied(data: Any) -> Any:
    """A copy to merge into, so payloads already handed out never change."""
    return orjson.loads(orjson.dumps(data))


def merge_delivered(delivered: Any, path: Path, data: dict[str, Any]) -> None:
    """An incremental item's data merged where the client merges it."""
    target = delivered
    for step in path:
        target = target[step]
    _merge(target, copied(data))


def _merge(target: dict[str, Any], data: dict[str, Any]) -> None:
    for key, value in data.items():
        existing = target.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            _merge(existing, value)
        elif isinstance(existing, list) and isinstance(value, list):
            for old, new in zip(existing, value, strict=False):
                if isinstance(old, dict) and isinstance(new, dict):
                    _merge(old, new)
        else:
            target[key] = value


def items_for(
    block: DeferredNode,
    objects: list[tuple[Path, dict[str, Any]]],
    complete: Callable[[dict[str, Any], Path], dict[str, Any] | None],
    errors: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The payload items of one deferred fragment, one per object; each error goes with the
    item whose path it is under (else the first)."""
    items = []
    for path, obj in objects:
        item: dict[str, Any] = {"data": complete(obj, path), "path": path}
        if block.label is not None:
            item["label"] = block.label
        items.append(item)
    for error in errors:
        where = error.get("path") or []
        owner = next((i for i in items if where[: len(i["path"])] == i["path"]), None)
        owner = owner or (items[0] if items else None)
        if owner is not None:
            owner.setdefault("errors", []).append(error)
    return items


def placed(
    errors: list[dict[str, Any]],
    primary: SelectionShape,
    blocks: Sequence[DeferredNode],
    shapes: dict[int, SelectionShape],
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """Errors known before running (what authorization removed), each with the payload that
    completes its path: the first one's, and the deferred fragments' by their node's id."""
    first: list[dict[str, Any]] = []
    later: dict[int, list[dict[str, Any]]] = {}
    for error in errors:
        path = tuple("@" if isinstance(s, int) else s for s in error.get("path") or ())
        owner = None
        if path and not _completes(primary, path):
            owner = next(
                (
                    b
                    for b in blocks
                    if path[: len(b.path)] == b.path
                    and _completes(shapes[id(b.fragment)], path[len(b.path) :])
                ),
                None,
            )
        if owner is None:
            first.append(error)
        else:
            later.setdefault(id(owner), []).append(error)
    return first, later


def _completes(shape: SelectionShape | None, path: tuple[str, ...]) -> bool:
    for key in path:
        if key == "@":
            continue
        if shape is None:
            return False
        if key.startswith("... on "):
            return True
        field = next((f for fs in shape.by_type.values() for f in fs if f.key == key), None)
        if field is None:
            return False
        shape = field.selection
    return True

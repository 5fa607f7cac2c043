"""Entities in the merged response: finding them by plan path, representing them, merging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from router.planner.plan import RequiredField, RequiredFragment, RequiredSelection

Path = list[str | int]


class _MissingFieldError(Exception):
    """A required field is absent: the entity cannot be represented."""


def objects_at(data: Any, path: tuple[str, ...]) -> list[dict[str, Any]]:
    """The objects at a plan path ("@" steps into lists), in response order."""
    current: list[Any] = [data]
    for step in path:
        following: list[Any] = []
        if step == "@":
            for value in current:
                if isinstance(value, list):
                    following.extend(value)
        else:
            for value in current:
                if isinstance(value, dict):
                    following.append(value.get(step))
        current = following
    return [value for value in current if isinstance(value, dict)]


def paths_at(data: Any, path: tuple[str, ...]) -> dict[int, Path]:
    """The response path of each object at a plan path, by the object's id; only errors need
    them, so they are not built while objects are collected."""
    current: list[tuple[Any, Path]] = [(data, [])]
    for step in path:
        following: list[tuple[Any, Path]] = []
        for value, at in current:
            if step == "@":
                if isinstance(value, list):
                    following.extend((item, [*at, i]) for i, item in enumerate(value))
            elif isinstance(value, dict):
                following.append((value.get(step), [*at, step]))
        current = following
    found: dict[int, Path] = {}
    for value, at in current:
        if isinstance(value, dict):
            found.setdefault(id(value), at)
    return found


Representer = Callable[[dict[str, Any]], dict[str, Any] | None]


def representer(
    requires: tuple[RequiredFragment, ...],
    is_a: Callable[[str, str], bool],
    typename_rewrite: str | None,
) -> Representer:
    """`representation` for one fetch's requirements, compiled once: when they are flat
    fields, as they are for most keys, a representation is one dict comprehension."""
    flat = [
        (fragment.type_condition, names)
        for fragment in requires
        if (names := _flat_names(fragment.selections)) is not None
    ]
    if len(flat) != len(requires):
        return lambda obj: representation(obj, requires, is_a, typename_rewrite)

    def represent(obj: dict[str, Any]) -> dict[str, Any] | None:
        typename = obj.get("__typename")
        if not isinstance(typename, str):
            return None
        for condition, names in flat:
            if typename == condition or is_a(typename, condition):
                try:
                    result = {name: obj[source] for name, source in names}
                except KeyError:
                    return None
                if typename_rewrite is not None:
                    result["__typename"] = typename_rewrite
                return result
        return None

    return represent


def _flat_names(
    selections: tuple[RequiredSelection, ...],
) -> tuple[tuple[str, str], ...] | None:
    """Each flat requirement's name and the response key it is read from."""
    names = []
    for selection in selections:
        if not isinstance(selection, RequiredField) or selection.selections is not None:
            return None
        names.append((selection.name, selection.source or selection.name))
    return tuple(names)


def representation(
    obj: dict[str, Any],
    requires: tuple[RequiredFragment, ...],
    is_a: Callable[[str, str], bool],
    typename_rewrite: str | None,
) -> dict[str, Any] | None:
    typename = obj.get("__typename")
    if not isinstance(typename, str):
        return None
    for fragment in requires:
        if is_a(typename, fragment.type_condition):
            try:
                result = _project(obj, fragment.selections, is_a)
            except _MissingFieldError:
                return None
            if typename_rewrite is not None:
                result["__typename"] = typename_rewrite
            return result
    return None


def _project(
    obj: dict[str, Any], selections: tuple[RequiredSelection, ...], is_a: Callable[[str, str], bool]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for selection in selections:
        if isinstance(selection, RequiredFragment):
            typename = obj.get("__typename")
            if isinstance(typename, str) and is_a(typename, selection.type_condition):
                result.update(_project(obj, selection.selections, is_a))
            continue
        result[selection.name] = _project_value(obj, selection, is_a)
    return result


def _project_value(
    obj: dict[str, Any], selection: RequiredField, is_a: Callable[[str, str], bool]
) -> Any:
    source = selection.source or selection.name
    if source not in obj:
        raise _MissingFieldError(source)
    value = obj[source]
    if selection.selections is None or value is None:
        return value
    return _project_nested(value, selection.selections, is_a)


def _project_nested(
    value: Any, selections: tuple[RequiredSelection, ...], is_a: Callable[[str, str], bool]
) -> Any:
    if isinstance(value, list):
        return [_project_nested(item, selections, is_a) for item in value]
    if value is None:
        return None
    return _project(value, selections, is_a)


def merge_into(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        existing = target.get(key)
        if existing is None:
            target[key] = value
        elif key == "__typename":
            # An @interfaceObject answers with the interface's name: keep the concrete type.
            continue
        elif isinstance(existing, dict) and isinstance(value, dict):
            merge_into(existing, value)
        elif isinstance(existing, list) and isinstance(value, list) and len(existing) == len(value):
            _merge_lists(existing, value)
        else:
            target[key] = value


def _merge_lists(target: list[Any], source: list[Any]) -> None:
    for index, (mine, theirs) in enumerate(zip(target, source, strict=True)):
        if isinstance(mine, dict) and isinstance(theirs, dict):
            merge_into(mine, theirs)
        elif isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
            _merge_lists(mine, theirs)
        else:
            target[index] = theirs


def rename_at(
    value: Any, path: tuple[str, ...], key: str, is_a: Callable[[str, str], bool]
) -> None:
    """Renames the alias at the end of `path` back to `key` in every object the path reaches;
    a "... on T" step keeps the objects of type T."""
    if isinstance(value, list):
        for item in value:
            rename_at(item, path, key, is_a)
        return
    if not isinstance(value, dict):
        return
    step = path[0]
    if len(path) == 1:
        if step in value:
            value[key] = value.pop(step)
    elif step.startswith("... on "):
        typename = value.get("__typename")
        if isinstance(typename, str) and is_a(typename, step[len("... on ") :]):
            rename_at(value, path[1:], key, is_a)
    else:
        rename_at(value.get(step), path[1:], key, is_a)

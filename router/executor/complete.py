"""Completion of merged subgraph data into the client's response, with null propagation.

A null (or missing value) in a non-null position makes its parent null, up to the nearest
nullable position, with one error at the path where the null appeared.
"""

from __future__ import annotations

from typing import Any

from router.planner.shape import LIST, NON_NULL, SelectionShape, ShapeField

Path = list[str | int]


class _Invalid:
    """A null in a non-null position, bubbling up to the nearest nullable one."""


INVALID = _Invalid()


class _NullInNonNullError(Exception):
    """The fast walk met what needs an error: a null where the schema forbids one, a value or
    type the API schema hides."""


class Completion:
    def __init__(self, variables: dict[str, Any], errors: list[dict[str, Any]]) -> None:
        self.variables = variables
        self.errors = errors
        self._error_paths = {tuple(e["path"]) for e in errors if e.get("path")}

    def root(self, data: dict[str, Any], shape: SelectionShape) -> dict[str, Any] | None:
        return self.at(data, shape, [])

    def at(self, data: dict[str, Any], shape: SelectionShape, path: Path) -> dict[str, Any] | None:
        """The object at `path` of the response (the root, or a deferred fragment's object)."""
        try:
            return self._fast_object(data, shape)
        except _NullInNonNullError:
            pass
        result = self._object(data, shape, path)
        return None if result is INVALID else result  # type: ignore[return-value]

    # The fast walk builds no paths and reports nothing: when it meets a null in a non-null
    # position it gives up, and the walk below, which tracks paths for errors, starts over.

    def _fast_object(self, obj: dict[str, Any], shape: SelectionShape) -> dict[str, Any] | None:
        typename: str | None = obj.get("__typename") or shape.default_type
        fields = shape.by_type.get(typename) if isinstance(typename, str) else None
        if fields is None:
            if typename is not None:
                raise _NullInNonNullError
            return None
        result: dict[str, Any] = {}
        for field in fields:
            key = field.key
            if field.conditions and not self._included(field):
                continue
            if field.name == "__typename":
                result[key] = typename
                continue
            value = obj.get(key)
            if value is None:
                if field.non_null:
                    raise _NullInNonNullError
                result[key] = None
            elif field.plain:
                result[key] = value
            else:
                result[key] = self._fast_value(value, field, 1 if field.non_null else 0)
        return result

    def _fast_value(self, value: Any, field: ShapeField, depth: int) -> Any:
        wrappers = field.wrappers
        if depth < len(wrappers) and wrappers[depth] == LIST:
            if not isinstance(value, list):
                return None
            depth += 1
            item_non_null = depth < len(wrappers) and wrappers[depth] == NON_NULL
            inner = depth + 1 if item_non_null else depth
            items: list[Any] = []
            for item in value:
                if item is None:
                    if item_non_null:
                        raise _NullInNonNullError
                    items.append(None)
                else:
                    items.append(self._fast_value(item, field, inner))
            return items
        if field.selection is None:
            if field.enum_values is not None and value not in field.enum_values:
                raise _NullInNonNullError
            return value
        if not isinstance(value, dict):
            return None
        return self._fast_object(value, field.selection)

    def _object(
        self, obj: dict[str, Any], shape: SelectionShape, path: Path
    ) -> dict[str, Any] | _Invalid | None:
        typename: str | None = obj.get("__typename") or shape.default_type
        fields = shape.by_type.get(typename) if isinstance(typename, str) else None
        if fields is None:
            if typename is not None:
                at = ".".join(map(str, path)) or "the root"
                self._invalid(f"Invalid __typename found for object at {at}.", path)
            return None
        result: dict[str, Any] = {}
        for field in fields:
            if field.conditions and not self._included(field):
                continue
            if field.name == "__typename":
                result[field.key] = typename
                continue
            value = self._value(obj.get(field.key), field, 0, [*path, field.key])
            if isinstance(value, _Invalid):
                return INVALID
            result[field.key] = value
        return result

    def _included(self, field: ShapeField) -> bool:
        return all(bool(self.variables.get(v)) == expected for v, expected in field.conditions)

    def _value(self, value: Any, field: ShapeField, depth: int, path: Path) -> Any:
        wrappers = field.wrappers
        if (
            field.enum_values is not None
            and isinstance(value, str)
            and value not in field.enum_values
        ):
            self._invalid(f"Invalid value found for field {field.parent_type}.{field.name}.", path)
            value = None
        if depth < len(wrappers) and wrappers[depth] == NON_NULL:
            if value is None:
                self._null_error(field, path)
                return INVALID
            return self._inner(value, field, depth + 1, path)
        if value is None:
            return None
        inner = self._inner(value, field, depth, path)
        return None if inner is INVALID else inner

    def _inner(self, value: Any, field: ShapeField, depth: int, path: Path) -> Any:
        if depth < len(field.wrappers) and field.wrappers[depth] == LIST:
            if not isinstance(value, list):
                return None
            items = []
            for index, item in enumerate(value):
                completed = self._value(item, field, depth + 1, [*path, index])
                if completed is INVALID:
                    return INVALID
                items.append(completed)
            return items
        if field.selection is None:
            return value
        if not isinstance(value, dict):
            return None
        return self._object(value, field.selection, path)

    def _invalid(self, message: str, path: Path) -> None:
        """A value the API schema hides: null, with the error Apollo's gateway gives."""
        self._error_paths.add(tuple(path))
        self.errors.append(
            {"message": message, "path": path, "extensions": {"code": "INVALID_GRAPHQL"}}
        )

    def _null_error(self, field: ShapeField, path: Path) -> None:
        key = tuple(path)
        if key in self._error_paths:
            return
        self._error_paths.add(key)
        self.errors.append(
            {
                "message": "Cannot return null for non-nullable field "
                f"{field.parent_type}.{field.name}.",
                "path": path,
                "extensions": {"code": "INVALID_GRAPHQL"},
            }
        )

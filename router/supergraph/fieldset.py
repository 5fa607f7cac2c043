"""Field sets (`@key(fields:)`, `@requires`, `@provides`) parsed into small selection trees, as
the planner walks them; composition checks them against a schema in
`router.compose.fieldset_resolution`."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import FieldNode, InlineFragmentNode, SelectionSetNode, parse


@dataclass(frozen=True)
class FieldSet:
    """Selected fields by name, each with its own sub-selection, plus type-conditioned parts."""

    fields: tuple[tuple[str, FieldSet | None], ...] = ()
    fragments: tuple[tuple[str, FieldSet], ...] = ()
    selection_set: SelectionSetNode | None = field(default=None, compare=False)
    """As written, with arguments: what a @requires asks the planner to fetch."""

    def get(self, name: str) -> FieldSet | None:
        return next((sub for field, sub in self.fields if field == name), None)

    def has(self, name: str) -> bool:
        return any(field == name for field, _ in self.fields)

    def names(self) -> tuple[str, ...]:
        return tuple(field for field, _ in self.fields)


def parse_field_set(source: str) -> FieldSet:
    document = parse("{" + source + "}", no_location=True)
    operation = document.definitions[0]
    return _from_selection_set(operation.selection_set)  # type: ignore[attr-defined]


def _from_selection_set(selection_set: SelectionSetNode) -> FieldSet:
    fields: list[tuple[str, FieldSet | None]] = []
    fragments: list[tuple[str, FieldSet]] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            sub = selection.selection_set
            fields.append((selection.name.value, _from_selection_set(sub) if sub else None))
        elif isinstance(selection, InlineFragmentNode) and selection.type_condition:
            fragments.append(
                (selection.type_condition.name.value, _from_selection_set(selection.selection_set))
            )
    return FieldSet(tuple(fields), tuple(fragments), selection_set)

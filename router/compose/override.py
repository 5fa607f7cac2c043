"""Who resolves a field: @override between subgraphs and the @shareable rule."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphql import GraphQLField

from router.compose.errors import CompositionError
from router.compose.metadata import Metadata
from router.compose.naming import subgraph_list

_LABEL = r"^[a-zA-Z][a-zA-Z0-9_\-:./]*$"
_PERCENT = r"^percent\((\d{1,2}(\.\d{1,8})?|100)\)$"


@dataclass
class FieldContext:
    """What @override decided for one field, per subgraph index."""

    used_overridden: set[int] = field(default_factory=set)
    unused_overridden: set[int] = field(default_factory=set)
    unknown_target: set[int] = field(default_factory=set)
    labels: dict[int, str] = field(default_factory=dict)


class Ownership:
    """Checks @override and @shareable for each merged field, collecting errors."""

    def __init__(self, metas: list[Metadata], errors: list[CompositionError]) -> None:
        self.metas = metas
        self.errors = errors

    def error(self, code: str, message: str, coordinate: str, subgraph: str | None = None) -> None:
        self.errors.append(CompositionError(code, message, subgraph, coordinate))

    def validate_override(
        self, parent: str, name: str, sources: dict[int, GraphQLField | None], on_interface: bool
    ) -> FieldContext:
        """Decide, per subgraph, what the field's @override directives mean for it."""
        context = FieldContext()
        coordinate = f"{parent}.{name}"
        names = [meta.name for meta in self.metas]
        overriding = {
            i: self.metas[i].overrides[coordinate]
            for i, f in sources.items()
            if f is not None and coordinate in self.metas[i].overrides
        }
        for index, (source, label) in overriding.items():
            subgraph = self.metas[index].name
            if on_interface:
                kind = (
                    "interface" if parent not in self.metas[index].interface_objects else "object"
                )
                self._override_on_abstract(coordinate, subgraph, kind)
                continue
            if source not in names:
                context.unknown_target.add(index)
                continue
            if source == subgraph:
                self.error(
                    "OVERRIDE_FROM_SELF_ERROR",
                    f'Source and destination subgraphs "{source}" are the same for overridden '
                    f'field "{coordinate}"',
                    coordinate,
                    subgraph,
                )
                continue
            from_index = names.index(source)
            if from_index in overriding:
                self.error(
                    "OVERRIDE_SOURCE_HAS_OVERRIDE",
                    f'Field "{coordinate}" on subgraph "{subgraph}" is also marked with directive '
                    f'@override in subgraph "{source}". Only one @override directive is allowed '
                    "per field.",
                    coordinate,
                    subgraph,
                )
                continue
            if sources.get(from_index) is None:
                continue
            self._apply_override(context, coordinate, index, from_index, label)
        return context

    def _override_on_abstract(self, coordinate: str, subgraph: str, kind: str) -> None:
        if kind == "interface":
            self.error(
                "OVERRIDE_ON_INTERFACE",
                f'@override cannot be used on field "{coordinate}" on subgraph "{subgraph}": '
                "@override is not supported on interface type fields.",
                coordinate,
                subgraph,
            )
        else:
            self.error(
                "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
                "@override is not yet supported on fields of @interfaceObject types: cannot be "
                f'used on field "{coordinate}" on subgraph "{subgraph}".',
                coordinate,
                subgraph,
            )

    def _apply_override(
        self, context: FieldContext, coordinate: str, index: int, from_index: int, label: str | None
    ) -> None:
        source = self.metas[from_index]
        subgraph = self.metas[index].name
        conflict = next(
            (d for d in ("requires", "provides") if coordinate in getattr(source, d)), None
        )
        if conflict is None and coordinate in self.metas[index].external:
            conflict = "external"
        if conflict:
            self.error(
                "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
                f'@override cannot be used on field "{coordinate}" on subgraph "{subgraph}" since '
                f'"{coordinate}" on "{source.name if conflict != "external" else subgraph}" is '
                f'marked with directive "@{conflict}"',
                coordinate,
                subgraph,
            )
            return
        if coordinate not in source.external:
            target = (
                context.used_overridden
                if coordinate in source.used
                else (context.unused_overridden)
            )
            target.add(from_index)
        if label is None:
            return
        if re.match(_LABEL, label) or re.match(_PERCENT, label):
            context.labels[index] = context.labels[from_index] = label
        else:
            self.error(
                "OVERRIDE_LABEL_INVALID",
                f'Invalid @override label "{label}" on field "{coordinate}" on subgraph '
                f'"{subgraph}": labels must start with a letter and after that may contain '
                "alphanumerics, underscores, minuses, colons, periods, or slashes. Alternatively, "
                'labels may be of the form "percent(x)" where x is a float between 0-100 '
                "inclusive.",
                coordinate,
                subgraph,
            )

    def validate_sharing(
        self, parent: str, name: str, sources: dict[int, GraphQLField | None], context: FieldContext
    ) -> None:
        """A field resolved by several subgraphs must be @shareable in all of them."""
        coordinate = f"{parent}.{name}"
        shareable: list[int] = []
        non_shareable: list[int] = []
        for index, definition in sources.items():
            meta = self.metas[index]
            if definition is None or index in context.used_overridden | context.unused_overridden:
                continue
            if meta.is_fully_external(coordinate):
                continue
            (shareable if coordinate in meta.shareable else non_shareable).append(index)
        if non_shareable and (shareable or len(non_shareable) > 1):
            resolving = subgraph_list(
                [self.metas[i].name for i in sorted(shareable + non_shareable)]
            )
            culprits = (
                subgraph_list([self.metas[i].name for i in non_shareable])
                if shareable
                else "all of them"
            )
            unknown = next((i for i in non_shareable if i in context.unknown_target), None)
            hint = ""
            if unknown is not None:
                hint = (
                    f' (please note that "{coordinate}" has an @override directive in '
                    f'"{self.metas[unknown].name}" that targets an unknown subgraph so this could '
                    "be due to misspelling the @override(from:) argument)"
                )
            self.error(
                "INVALID_FIELD_SHARING",
                f'Non-shareable field "{coordinate}" is resolved from multiple subgraphs: it is '
                f"resolved from {resolving} and defined as non-shareable in {culprits}{hint}",
                coordinate,
            )

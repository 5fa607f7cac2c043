"""Per-subgraph checks of federation directives (`@key`, `@requires`, `@provides`, `@external`)."""

from __future__ import annotations

from graphql import (
    DirectiveNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    get_named_type,
    is_composite_type,
    print_ast,
)

from router.compose.errors import CompositionError
from router.compose.fieldset_resolution import ResolvedFieldSet, Selected
from router.compose.metadata import (
    Metadata,
    field_definition,
    field_directives,
    key_field_set,
    provides_field_set,
    requires_field_set,
)

_UNKNOWN_HINT = {
    "key": " (the field should either be added to this subgraph or, if it should not be resolved"
    " by this subgraph, you need to add it to this subgraph with @external).",
    "requires": " (if the field is defined in another subgraph, you need to add it to this"
    " subgraph with @external).",
    "provides": " (if the field is defined in another subgraph, you need to add it to this"
    " subgraph with @external).",
}


def validate(meta: Metadata) -> list[CompositionError]:
    """Every federation-directive error of one subgraph."""
    return [
        *_validate_keys(meta),
        *_validate_requires(meta),
        *_validate_provides(meta),
        *_validate_externals(meta),
        *_validate_interface_objects(meta),
    ]


class _Reporter:
    """Formats errors the way Apollo words field-set errors: `On <target>, for <directive>: ...`."""

    def __init__(self, meta: Metadata, target: str, coordinate: str, directive: DirectiveNode):
        self.meta, self.target, self.coordinate = meta, target, coordinate
        self.directive = directive
        self.errors: list[CompositionError] = []

    def add(self, code: str, message: str) -> None:
        prefix = f'[{self.meta.name}] On {self.target} "{self.coordinate}", '
        prefix += f"for {print_ast(self.directive)}: "
        self.errors.append(
            CompositionError(code, prefix + message, self.meta.name, self.coordinate)
        )

    def add_problems(self, kind: str, field_set: ResolvedFieldSet) -> None:
        for problem in field_set.problems:
            hint = _UNKNOWN_HINT[kind] if problem.startswith("Cannot query field") else ""
            self.add(
                f"{kind.upper()}_INVALID_FIELDS", problem.rstrip(".") + hint if hint else problem
            )


def _validate_keys(meta: Metadata) -> list[CompositionError]:
    errors: list[CompositionError] = []
    schema = meta.subgraph.schema
    for type_name, keys in meta.keys.items():
        for key in keys:
            report = _Reporter(meta, "type", type_name, key.node)
            if isinstance(schema.get_type(type_name), GraphQLInterfaceType) and (
                meta.subgraph.version < (2, 3)
            ):
                report.add(
                    "KEY_UNSUPPORTED_ON_INTERFACE", "@key is not yet supported on interfaces"
                )
            field_set = key_field_set(meta, type_name, key)
            report.add_problems("key", field_set)
            for selected in field_set.walk():
                _check_key_field(report, selected)
            errors += report.errors
    return errors


def _check_key_field(report: _Reporter, selected: Selected) -> None:
    if selected.definition.args:
        report.add(
            "KEY_FIELDS_HAS_ARGS",
            f"field {selected.coordinate} cannot be included because it has arguments "
            "(fields with argument are not allowed in @key)",
        )
    named = get_named_type(selected.definition.type)
    if is_composite_type(named) and not isinstance(named, GraphQLObjectType):
        kind = "Interface" if isinstance(named, GraphQLInterfaceType) else "Union"
        report.add(
            "KEY_FIELDS_SELECT_INVALID_TYPE",
            f'field "{selected.coordinate}" is a {kind} type which is not allowed in @key',
        )


def _validate_requires(meta: Metadata) -> list[CompositionError]:
    errors: list[CompositionError] = []
    for coordinate in meta.requires:
        report = _Reporter(meta, "field", coordinate, _directive(meta, coordinate, "requires"))
        field_set = requires_field_set(meta, coordinate)
        report.add_problems("requires", field_set)
        _check_external_leaves(report, "requires", field_set.selections, False)
        errors += report.errors
    return errors


def _validate_provides(meta: Metadata) -> list[CompositionError]:
    errors: list[CompositionError] = []
    for coordinate in meta.provides:
        definition = field_definition(meta, coordinate)
        report = _Reporter(meta, "field", coordinate, _directive(meta, coordinate, "provides"))
        if coordinate in meta.external:
            report.errors.append(
                CompositionError(
                    "EXTERNAL_COLLISION_WITH_ANOTHER_DIRECTIVE",
                    f"[{meta.name}] Cannot have both @provides and @external on field "
                    f'"{coordinate}"',
                    meta.name,
                    coordinate,
                )
            )
        elif not is_composite_type(get_named_type(definition.type)):
            report.errors.append(
                CompositionError(
                    "PROVIDES_ON_NON_OBJECT_FIELD",
                    f'[{meta.name}] Invalid @provides directive on field "{coordinate}": field has '
                    f'type "{definition.type}" which is not a Composite Type',
                    meta.name,
                    coordinate,
                )
            )
        else:
            field_set = provides_field_set(meta, coordinate)
            report.add_problems("provides", field_set)
            _check_external_leaves(report, "provides", field_set.selections, False)
        errors += report.errors
    return errors


def _check_external_leaves(
    report: _Reporter, kind: str, selections: list[Selected], external_parent: bool
) -> None:
    meta = report.meta
    for selected in selections:
        external = selected.coordinate in meta.external
        if not selected.children and not external and not external_parent:
            already = (
                'it is already "effectively" provided by this subgraph'
                if selected.coordinate in meta.fake_external
                else "it is already provided by this subgraph (it is not marked @external)"
            )
            report.add(
                f"{kind.upper()}_FIELDS_MISSING_EXTERNAL",
                f'field "{selected.coordinate}" should not be part of a @{kind} since {already}',
            )
        _check_external_leaves(report, kind, selected.children, external_parent or external)


def _directive(meta: Metadata, coordinate: str, name: str) -> DirectiveNode:
    directives = field_directives(field_definition(meta, coordinate))
    return meta.subgraph.federation_directives(directives, name)[0]


def _validate_externals(meta: Metadata) -> list[CompositionError]:
    errors = []
    schema = meta.subgraph.schema
    for coordinate in sorted(meta.external):
        on_interface = isinstance(schema.get_type(coordinate.split(".")[0]), GraphQLInterfaceType)
        if on_interface:
            errors.append(
                CompositionError(
                    "EXTERNAL_ON_INTERFACE",
                    f'[{meta.name}] Interface type field "{coordinate}" is marked @external but '
                    "@external is not allowed on interface fields (it is nonsensical).",
                    meta.name,
                    coordinate,
                )
            )
        if coordinate not in meta.used:
            errors.append(
                CompositionError(
                    "EXTERNAL_UNUSED",
                    f'[{meta.name}] Field "{coordinate}" is marked @external but is not used in '
                    "any federation directive (@key, @provides, @requires) or to satisfy an "
                    "interface; the field declaration has no use and should be removed (or the "
                    "field should not be @external).",
                    meta.name,
                    coordinate,
                )
            )
    return errors


def _validate_interface_objects(meta: Metadata) -> list[CompositionError]:
    return [
        CompositionError(
            "INTERFACE_OBJECT_USAGE_ERROR",
            f"[{meta.name}] The @interfaceObject directive can only be applied to entity types "
            f'but type "{name}" has no @key in this subgraph.',
            meta.name,
            name,
        )
        for name in sorted(meta.interface_objects)
        if not meta.is_entity(name)
    ]

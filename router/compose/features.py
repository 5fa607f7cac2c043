"""Federation's authorization (@authenticated, @requiresScopes, @policy) and demand control
(@cost, @listSize) directives: subgraph checks, argument merging and supergraph specs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    FieldNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
    parse_value,
    value_from_ast_untyped,
)

from router.compose.errors import CompositionError
from router.compose.fieldset_resolution import parse_selection_set
from router.compose.metadata import (
    Metadata,
    argument,
    composite_types,
    field_directives,
    type_directives,
)
from router.compose.supergraph import Applied, ComposedSupergraph

ACCESS_CONTROL = ("authenticated", "requiresScopes", "policy")
_AUTH_LOCATIONS = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"

Values = list[Any]
Strategy = Callable[[Values], Any]


@dataclass(frozen=True)
class Spec:
    """A spec the supergraph links when one of its directives is applied in some subgraph."""

    name: str
    url: str
    security: bool
    directives: tuple[str, ...]
    scalar: str | None = None


SPECS = (
    Spec("authenticated", "https://specs.apollo.dev/authenticated/v0.1", True, ("authenticated",)),
    Spec(
        "requiresScopes",
        "https://specs.apollo.dev/requiresScopes/v0.1",
        True,
        ("requiresScopes",),
        "Scope",
    ),
    Spec("policy", "https://specs.apollo.dev/policy/v0.1", True, ("policy",), "Policy"),
    Spec("cost", "https://specs.apollo.dev/cost/v0.1", False, ("cost", "listSize")),
)
DIRECTIVES = tuple(name for spec in SPECS for name in spec.directives)


def dnf_conjunction(values: Values) -> list[list[str]]:
    """AND of several OR-of-ANDs lists, as one OR-of-ANDs without redundant alternatives."""
    distinct: list[list[list[str]]] = []
    for value in values:
        normal = sorted((sorted(inner) for inner in value or [[]]), key=json.dumps)
        if normal not in distinct:
            distinct.append(normal)
    result = distinct[0]
    for current in distinct[1:]:
        candidates: list[list[str]] = []
        for left in result:
            for right in current:
                candidate = sorted([*left, *(e for e in right if e not in left)])
                if candidate not in candidates:
                    candidates.append(candidate)
        result = _without_subsumed(candidates)
    return result


def _without_subsumed(alternatives: list[list[str]]) -> list[list[str]]:
    kept: list[list[str]] = []
    for candidate in sorted(alternatives, key=len):
        if not any(set(smaller) <= set(candidate) for smaller in kept):
            kept.append(candidate)
    return kept


def _nullable(merge: Strategy) -> Strategy:
    def merged(values: Values) -> Any:
        present = [v for v in values if v is not None]
        return merge(present) if present else None

    return merged


def _union(values: Values) -> list[Any]:
    result: list[Any] = []
    for value in values:
        result += [item for item in value if item not in result]
    return result


# Per directive: each argument in definition order, its default and how values merge.
ARGUMENTS: dict[str, tuple[tuple[str, Any, Strategy], ...]] = {
    "authenticated": (),
    "requiresScopes": (("scopes", None, dnf_conjunction),),
    "policy": (("policies", None, dnf_conjunction),),
    "cost": (("weight", None, max),),
    "listSize": (
        ("assumedSize", None, _nullable(max)),
        ("slicingArguments", None, _nullable(_union)),
        ("sizedFields", None, _nullable(_union)),
        ("requireOneSlicingArgument", True, _nullable(all)),
    ),
}


def arguments_of(canonical: str, node: DirectiveNode) -> dict[str, Any]:
    """The argument values of one application, defaults included (how Apollo compares them)."""
    given = {arg.name.value for arg in node.arguments or ()}
    return {
        name: argument(node, name) if name in given else default
        for name, default, _ in ARGUMENTS[canonical]
    }


def merge_applications(canonical: str, name: str, applications: list[dict[str, Any]]) -> Applied:
    """One application merging several different ones with each argument's strategy."""
    args = []
    for arg, _, strategy in ARGUMENTS[canonical]:
        value = strategy([application[arg] for application in applications])
        if value is not None:
            args.append((arg, _literal(value)))
    return Applied(name, args)


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(_literal, value)) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def add_specs(supergraph: ComposedSupergraph, names: dict[str, str]) -> None:
    """Link and define each spec of which a directive is applied; `names` maps canonical
    directive names to their supergraph names."""
    for spec in SPECS:
        if not any(directive in names for directive in spec.directives):
            continue
        imports = []
        for directive in spec.directives:
            default = spec.name if directive == spec.name else f"{spec.name}__{directive}"
            name = names.get(directive, default)
            if name != default:
                imports.append(
                    f'"@{name}"'
                    if name == directive
                    else f'{{name: "@{directive}", as: "@{name}"}}'
                )
            supergraph.spec_directives[name] = _definition(spec, directive, name)
        args = [("url", f'"{spec.url}"')]
        args += [("for", "SECURITY")] if spec.security else []
        args += [("import", "[" + ", ".join(imports) + "]")] if imports else []
        supergraph.links.append(Applied("link", args))
        if spec.scalar:
            scalar = f"{spec.name}__{spec.scalar}"
            supergraph.spec_types[scalar] = f"scalar {scalar}"


def _definition(spec: Spec, directive: str, name: str) -> str:
    if directive == "authenticated":
        return f"directive @{name} on {_AUTH_LOCATIONS}"
    if spec.scalar:
        arg = ARGUMENTS[directive][0][0]
        return f"directive @{name}({arg}: [[{spec.name}__{spec.scalar}!]!]!) on {_AUTH_LOCATIONS}"
    if directive == "cost":
        return (
            f"directive @{name}(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION"
            " | INPUT_FIELD_DEFINITION | OBJECT | SCALAR"
        )
    return (
        f"directive @{name}(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],"
        " requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION"
    )


# Subgraph checks --------------------------------------------------------------------------


def validate_features(meta: Metadata) -> list[CompositionError]:
    """Apollo's per-subgraph rules for where these directives may be applied."""
    errors: list[CompositionError] = []
    subgraph = meta.subgraph
    for type_ in composite_types(subgraph):
        is_interface = isinstance(type_, GraphQLInterfaceType)
        kind = "interface" if is_interface else "interface object"
        if is_interface or type_.name in meta.interface_objects:
            for node in access_control(meta, type_directives(subgraph, type_)):
                errors.append(_on_interface(meta, node, kind, type_.name))
        for name, definition in type_.fields.items():
            coordinate = f"{type_.name}.{name}"
            directives = field_directives(definition)
            if is_interface:
                for node in access_control(meta, directives):
                    errors.append(_on_interface(meta, node, "field", coordinate))
                for _ in subgraph.federation_directives(directives, "cost"):
                    errors.append(
                        _error(
                            meta,
                            "COST_APPLIED_TO_INTERFACE_FIELD",
                            f'@cost cannot be applied to interface "{coordinate}"',
                        )
                    )
            for node in subgraph.federation_directives(directives, "listSize"):
                errors += _validate_list_size(meta, coordinate, definition, node)
    return errors


def access_control(meta: Metadata, directives: list[DirectiveNode]) -> list[DirectiveNode]:
    return [d for d in directives if meta.subgraph.canonical.get(d.name.value) in ACCESS_CONTROL]


def _on_interface(
    meta: Metadata, node: DirectiveNode, kind: str, coordinate: str
) -> CompositionError:
    name = node.name.value
    return _error(
        meta,
        "AUTH_REQUIREMENTS_APPLIED_ON_INTERFACE",
        f'Invalid use of @{name} on {kind} "{coordinate}": @{name} cannot be applied on '
        "interfaces, interface fields and interface objects",
    )


def _validate_list_size(
    meta: Metadata, coordinate: str, definition: GraphQLField, node: DirectiveNode
) -> list[CompositionError]:
    errors = []
    sized_fields = argument(node, "sizedFields") or []
    assumed_size = argument(node, "assumedSize")
    if not sized_fields and not _is_list(definition.type):
        errors.append(
            _error(meta, "LIST_SIZE_APPLIED_TO_NON_LIST", f'"{coordinate}" is not a list')
        )
    if assumed_size is not None and assumed_size < 0:
        message = f'Assumed size of "{coordinate}" cannot be negative'
        errors.append(_error(meta, "LIST_SIZE_INVALID_ASSUMED_SIZE", message))
    for name in argument(node, "slicingArguments") or []:
        arg = definition.args.get(name)
        if arg is None:
            message = f'Slicing argument "{name}" is not an argument of "{coordinate}"'
        elif str(arg.type) not in ("Int", "Int!"):
            message = f'Slicing argument "{coordinate}({name}:)" must be Int or Int!'
        else:
            continue
        errors.append(_error(meta, "LIST_SIZE_INVALID_SLICING_ARGUMENT", message))
    errors += _validate_sized_fields(meta, definition, sized_fields)
    return errors


def _validate_sized_fields(
    meta: Metadata, definition: GraphQLField, sized_fields: list[str]
) -> list[CompositionError]:
    if not sized_fields:
        return []
    target = get_named_type(definition.type)
    if not is_composite_type(target):
        message = f'Sized fields cannot be used because "{definition.type}" is not a composite type'
        return [_error(meta, "LIST_SIZE_INVALID_SIZED_FIELD", message)]
    fields = target.fields if isinstance(target, GraphQLObjectType | GraphQLInterfaceType) else {}
    errors = []
    for name in sized_fields:
        if name not in fields:
            message = f'Sized field "{name}" is not a field on type "{target}"'
            errors.append(_error(meta, "LIST_SIZE_INVALID_SIZED_FIELD", message))
        elif not _is_list(fields[name].type):
            message = f'Sized field "{target}.{name}" is not a list'
            errors.append(_error(meta, "LIST_SIZE_APPLIED_TO_NON_LIST", message))
    return errors


def _is_list(type_: Any) -> bool:
    return isinstance(type_.of_type if isinstance(type_, GraphQLNonNull) else type_, GraphQLList)


def _error(meta: Metadata, code: str, message: str) -> CompositionError:
    return CompositionError(code, f"[{meta.name}] {message}", meta.name)


# Requirements reached through @requires ---------------------------------------------------


@dataclass(frozen=True)
class _Auth:
    """What reading one supergraph element needs, as Apollo compares requirements."""

    authenticated: bool = False
    scopes: list[list[str]] | None = None
    policies: list[list[str]] | None = None

    def satisfies(self, other: _Auth) -> bool:
        return (
            (self.authenticated or not other.authenticated)
            and _implies(self.scopes, other.scopes)
            and _implies(self.policies, other.policies)
        )


def _implies(first: list[list[str]] | None, second: list[list[str]] | None) -> bool:
    """Whoever meets `first` (OR of ANDs) meets `second`."""
    return all(any(set(inner) <= set(outer) for inner in second or [[]]) for outer in first or [[]])


def _combined(left: _Auth, right: _Auth) -> _Auth:
    def both(a: list[list[str]] | None, b: list[list[str]] | None) -> list[list[str]] | None:
        present = [v for v in (a, b) if v is not None]
        return dnf_conjunction(present) if present else None

    return _Auth(
        left.authenticated or right.authenticated,
        both(left.scopes, right.scopes),
        both(left.policies, right.policies),
    )


def check_transitive_requirements(
    supergraph: ComposedSupergraph, metas: list[Metadata], names: dict[str, str]
) -> list[CompositionError]:
    """A field that @requires others must itself need at least what reading them needs, or its
    subgraph would be handed data its caller may not see."""
    canonical_of = {n: c for c, n in names.items() if c in ACCESS_CONTROL}
    if not canonical_of:
        return []
    reader = _AuthReader(supergraph, canonical_of)
    errors = []
    for meta in metas:
        for coordinate, fields in meta.requires.items():
            problem = reader.first_unreadable(coordinate, parse_selection_set(fields))
            if problem:
                message = (
                    f'[{meta.name}] Field "{coordinate}" does not specify necessary @authenticated,'
                    f" @requiresScopes and/or @policy auth requirements to access the transitive"
                    f" {problem} from @requires selection set."
                )
                errors.append(
                    CompositionError(
                        "MISSING_TRANSITIVE_AUTH_REQUIREMENTS", message, meta.name, coordinate
                    )
                )
    return errors


class _AuthReader:
    def __init__(self, supergraph: ComposedSupergraph, canonical_of: dict[str, str]) -> None:
        self.types = supergraph.types
        self.canonical_of = canonical_of

    def auth(self, directives: list[Applied]) -> _Auth:
        found: dict[str, Any] = {}
        for applied in directives:
            canonical = self.canonical_of.get(applied.name)
            if canonical is not None:
                args = dict(applied.args)
                arg = "scopes" if canonical == "requiresScopes" else "policies"
                found[canonical] = value_from_ast_untyped(parse_value(args[arg])) if args else True
        return _Auth("authenticated" in found, found.get("requiresScopes"), found.get("policy"))

    def type_auth(self, name: str) -> _Auth:
        type_ = self.types.get(name)
        return self.auth(type_.directives) if type_ else _Auth()

    def first_unreadable(self, coordinate: str, selections: SelectionSetNode) -> str | None:
        type_name, field_name = coordinate.split(".")
        field_ = self.types[type_name].fields[field_name]
        needed = _combined(self.type_auth(type_name), self.auth(field_.directives))
        return self._walk(needed, type_name, selections)

    def _walk(self, needed: _Auth, parent: str, selections: SelectionSetNode) -> str | None:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                field_ = self.types[parent].fields.get(selection.name.value)
                if field_ is None:
                    continue
                target = field_.type.strip("[]!")
                if not (
                    needed.satisfies(self.auth(field_.directives))
                    and needed.satisfies(self.type_auth(target))
                ):
                    return f'field "{parent}.{field_.name}" data'
                inner = selection.selection_set
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = condition.name.value if condition else parent
                if condition and not needed.satisfies(self.type_auth(target)):
                    return f'data in inline fragment type condition "{target}"'
                inner = selection.selection_set
            else:
                continue
            problem = self._walk(needed, target, inner) if inner else None
            if problem:
                return problem
        return None

"""Merging validated subgraphs into one supergraph with Federation 2's rules, as Apollo does."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from graphql import (
    DirectiveNode,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLType,
    GraphQLUnionType,
    get_named_type,
)

from router.compose.contexts import (
    SubgraphContexts,
    context_arguments_literal,
    context_directives,
)
from router.compose.directives import AppliedDirectives
from router.compose.errors import CompositionError
from router.compose.features import ACCESS_CONTROL, access_control
from router.compose.metadata import Metadata, composite_types, field_directives, type_directives
from router.compose.naming import graph_enum_values, quoted, subgraph_list, types_list
from router.compose.override import FieldContext, Ownership
from router.compose.supergraph import (
    Applied,
    Argument,
    ComposedSupergraph,
    EnumValue,
    Field,
    NamedType,
)
from router.compose.typeref import default_of, is_required, is_strict_subtype, merge_descriptions

KINDS: dict[type[GraphQLNamedType], str] = {
    GraphQLObjectType: "type",
    GraphQLInterfaceType: "interface",
    GraphQLUnionType: "union",
    GraphQLEnumType: "enum",
    GraphQLInputObjectType: "input",
    GraphQLScalarType: "scalar",
}
KIND_NAMES = {
    "type": "Object Type",
    "interface": "Interface Type",
    "union": "Union Type",
    "enum": "Enum Type",
    "input": "Input Object Type",
    "scalar": "Scalar Type",
}
BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


class Merger:
    """One merge of a fixed list of subgraphs (sorted by name) into a `ComposedSupergraph`."""

    def __init__(
        self,
        metas: list[Metadata],
        supergraph: ComposedSupergraph,
        directives: AppliedDirectives,
        contexts: list[SubgraphContexts],
    ):
        self.metas = metas
        self.contexts = contexts
        self.graphs = graph_enum_values([meta.name for meta in metas])
        self.supergraph = supergraph
        self.directives = directives
        self.errors: list[CompositionError] = []
        self.ownership = Ownership(metas, self.errors)
        self.enum_usage: dict[str, dict[str, str]] = {}

    def graph(self, index: int) -> str:
        return self.graphs[self.metas[index].name]

    def error(
        self, code: str, message: str, coordinate: str | None = None, subgraph: str | None = None
    ) -> None:
        self.errors.append(CompositionError(code, message, subgraph, coordinate))

    # Types ------------------------------------------------------------------------------------

    def merge(self) -> None:
        kinds = self._kinds()
        for name, kind in kinds.items():
            self.supergraph.types[name] = NamedType(kind, name)
        by_kind: dict[str, list[str]] = {}
        for name, kind in kinds.items():
            by_kind.setdefault(kind, []).append(name)
        for name in by_kind.get("type", []) + by_kind.get("interface", []):
            self._merge_implements(name)
        for name in by_kind.get("union", []):
            self._merge_type(name, self._merge_union)
        self._merge_roots()
        for kind, merge in (
            ("scalar", None),
            ("input", self._merge_input),
            ("interface", self._merge_interface),
            ("type", self._merge_object),
        ):
            for name in by_kind.get(kind, []):
                self._merge_type(name, merge)
        for name in by_kind.get("enum", []):
            self._merge_type(name, self._merge_enum)
        self._add_interface_object_fields()
        self._check_interface_fields()
        if "Query" not in self.supergraph.types:
            self.error(
                "NO_QUERIES",
                "No queries found in any subgraph: a supergraph must have a query root type.",
            )

    def _kinds(self) -> dict[str, str]:
        kinds: dict[str, dict[int, str]] = {}
        for index, meta in enumerate(self.metas):
            for name, type_ in meta.subgraph.schema.type_map.items():
                if name.startswith("__") or name in BUILT_IN_SCALARS:
                    continue
                kind = KINDS[type(type_)]
                if name in meta.interface_objects:
                    kind = "interface"
                kinds.setdefault(name, {})[index] = kind
        merged = {}
        for name, per_subgraph in kinds.items():
            distinct = list(dict.fromkeys(per_subgraph.values()))
            if len(distinct) > 1:
                self._report_kind_mismatch(name, per_subgraph)
                continue
            merged[name] = distinct[0]
        self._check_interface_object_bases(merged)
        return dict(sorted(merged.items()))

    def _report_kind_mismatch(self, name: str, per_subgraph: dict[int, str]) -> None:
        groups: dict[str, list[str]] = {}
        for index, kind in per_subgraph.items():
            groups.setdefault(kind, []).append(self.metas[index].name)
        parts = [f"{KIND_NAMES[kind]} in {subgraph_list(names)}" for kind, names in groups.items()]
        self.error(
            "TYPE_KIND_MISMATCH",
            f'Type "{name}" has mismatched kind: it is defined as ' + " but ".join(parts),
            name,
        )

    def _check_interface_object_bases(self, kinds: dict[str, str]) -> None:
        for name in sorted({n for meta in self.metas for n in meta.interface_objects}):
            defining = [m for m in self.metas if name in m.subgraph.schema.type_map]
            if name in kinds and not any(
                isinstance(m.subgraph.schema.type_map[name], GraphQLInterfaceType) for m in defining
            ):
                self.error(
                    "INTERFACE_OBJECT_USAGE_ERROR",
                    f'Type "{name}" is declared with @interfaceObject in all the subgraphs in which'
                    f" it is defined (it is defined in {subgraph_list([m.name for m in defining])}"
                    " but should be defined as an interface in at least one subgraph)",
                    name,
                )

    def sources(self, name: str) -> dict[int, GraphQLNamedType]:
        """The subgraphs defining supergraph type `name` with the same kind."""
        kind = self.supergraph.types[name].kind
        result: dict[int, GraphQLNamedType] = {}
        for index, meta in enumerate(self.metas):
            type_ = meta.subgraph.schema.type_map.get(name)
            if type_ is None and name == "Query":
                # Every subgraph has a query root, if only for `_entities` and `_service`.
                result[index] = GraphQLObjectType("Query", {})
            if type_ is None:
                continue
            source_kind = "interface" if name in meta.interface_objects else KINDS[type(type_)]
            if source_kind == kind:
                result[index] = type_
        return result

    def _merge_type(self, name: str, merge: Any) -> None:
        dest = self.supergraph.types[name]
        sources = self.sources(name)
        self._check_extension_with_no_base(name, sources)
        dest.description = merge_descriptions([t.description for t in sources.values()])
        dest.directives += self._join_types(name, sources)
        dest.directives += self.directives.merge(
            [
                (self.metas[i], type_directives(self.metas[i].subgraph, t))
                for i, t in sources.items()
            ]
            + self.access_control_sources.get(name, [])
        )
        if merge is not None:
            merge(dest, sources)
        for index in sources:
            dest.directives += context_directives(self.metas[index], self.contexts[index], name)

    def _check_extension_with_no_base(self, name: str, sources: dict[int, Any]) -> None:
        if name in ("Query", "Mutation", "Subscription"):
            return
        extension = [i for i in sources if self._is_extension(i, name)]
        if extension and len(extension) == len(sources):
            for index in extension:
                subgraph = self.metas[index].name
                self.error(
                    "EXTENSION_WITH_NO_BASE",
                    f'[{subgraph}] Type "{name}" is an extension type, but there is no type '
                    f'definition for "{name}" in any subgraph.',
                    name,
                    subgraph,
                )

    def _is_extension(self, index: int, name: str) -> bool:
        return name in self.metas[index].subgraph.extension_types

    def _join_types(self, name: str, sources: dict[int, Any]) -> list[Applied]:
        applied = []
        for index in sources:
            meta = self.metas[index]
            interface_object = (
                [("isInterfaceObject", "true")] if name in meta.interface_objects else []
            )
            keys = meta.keys.get(name, [])
            if not keys:
                applied.append(
                    Applied("join__type", [("graph", self.graph(index)), *interface_object])
                )
            for key in keys:
                args = [("graph", self.graph(index)), ("key", quoted(key.fields))]
                args += [("extension", "true")] if key.extension else []
                args += [("resolvable", "false")] if not key.resolvable else []
                applied.append(Applied("join__type", args + interface_object))
        return applied

    def _merge_implements(self, name: str) -> None:
        dest = self.supergraph.types[name]
        for index, type_ in self.sources(name).items():
            for interface in getattr(type_, "interfaces", ()):
                if interface.name not in dest.interfaces:
                    dest.interfaces.append(interface.name)
                dest.directives.append(
                    Applied(
                        "join__implements",
                        [("graph", self.graph(index)), ("interface", quoted(interface.name))],
                    )
                )

    def _merge_union(self, dest: NamedType, sources: dict[int, Any]) -> None:
        for type_ in sources.values():
            for member in type_.types:
                if member.name not in dest.members:
                    dest.members.append(member.name)
        for member in dest.members:
            for index, type_ in sources.items():
                if any(m.name == member for m in type_.types):
                    dest.directives.append(
                        Applied(
                            "join__unionMember",
                            [("graph", self.graph(index)), ("member", quoted(member))],
                        )
                    )

    def _merge_roots(self) -> None:
        for operation, name in (
            ("query", "Query"),
            ("mutation", "Mutation"),
            ("subscription", "Subscription"),
        ):
            if name in self.supergraph.types:
                self.supergraph.roots[operation] = name

    # Objects and interfaces ---------------------------------------------------------------------

    def _merge_object(self, dest: NamedType, sources: dict[int, Any]) -> None:
        for name, field_sources in self._field_sources(dest, sources).items():
            context = self.ownership.validate_override(
                dest.name, name, field_sources, dest.kind == "interface"
            )
            self._merge_field(dest, name, field_sources, context)
            self.ownership.validate_sharing(dest.name, name, field_sources, context)

    def _merge_interface(self, dest: NamedType, sources: dict[int, Any]) -> None:
        self._validate_interface_objects(dest, sources)
        for name, field_sources in self._field_sources(dest, sources).items():
            context = self.ownership.validate_override(
                dest.name, name, field_sources, dest.kind == "interface"
            )
            self._merge_field(dest, name, field_sources, context)

    def _validate_interface_objects(self, dest: NamedType, sources: dict[int, Any]) -> None:
        implementations = self.implementations(dest.name)
        for index in sources:
            meta = self.metas[index]
            if dest.name not in meta.interface_objects:
                continue
            defined = [n for n in implementations if n in meta.subgraph.schema.type_map]
            if defined:
                self.error(
                    "INTERFACE_OBJECT_USAGE_ERROR",
                    f'[{meta.name}] Interface type "{dest.name}" is defined as an @interfaceObject '
                    f'in subgraph "{meta.name}" so that subgraph should not define any of the '
                    f'implementation types of "{dest.name}", but it defines ' + types_list(defined),
                    dest.name,
                    meta.name,
                )

    def implementations(self, interface: str) -> list[str]:
        return [
            t.name
            for t in self.supergraph.types.values()
            if t.kind == "type" and interface in t.interfaces
        ]

    def _field_sources(
        self, dest: NamedType, sources: dict[int, Any]
    ) -> dict[str, dict[int, GraphQLField | None]]:
        extra: dict[int, GraphQLField | None] = {}
        for index, meta in enumerate(self.metas):
            if _defines(meta, dest.name) or any(
                i in meta.interface_objects for i in dest.interfaces
            ):
                extra[index] = None
        result: dict[str, dict[int, GraphQLField | None]] = {}
        for index, type_ in sources.items():
            for name, definition in type_.fields.items():
                result.setdefault(name, dict(extra))[index] = definition
        return result

    def is_external(self, index: int, parent: str, name: str) -> bool:
        return f"{parent}.{name}" in self.metas[index].external

    def _merge_field(
        self,
        dest: NamedType,
        name: str,
        sources: dict[int, GraphQLField | None],
        context: FieldContext,
    ) -> None:
        coordinate = f"{dest.name}.{name}"
        defined = {i: f for i, f in sources.items() if f is not None}
        if all(self.is_external(i, dest.name, name) for i in defined) and not (
            self._abstracted_by_interface_object(dest, name)
        ):
            self.error(
                "EXTERNAL_MISSING_ON_BASE",
                f'Field "{coordinate}" is marked @external on all the subgraphs in which it is '
                f"listed ({subgraph_list([self.metas[i].name for i in defined])}).",
                coordinate,
            )
            dest.fields[name] = Field(name, str(next(iter(defined.values())).type))
            return
        resolving = {i: f for i, f in defined.items() if not self.is_external(i, dest.name, name)}
        merged = dest.fields.setdefault(name, Field(name))
        merged.description = merge_descriptions([f.description for f in resolving.values()])
        merged.directives = self.directives.merge(
            [(self.metas[i], field_directives(f)) for i, f in resolving.items()]
            + self.access_control_sources.get(coordinate, [])
        )
        merged.args = self._merge_arguments(coordinate, resolving)
        dest_type, equal = self._merge_type_reference(
            coordinate, resolving or defined, input_position=False, argument=False
        )
        merged.type = str(dest_type)
        if len(resolving) < len(defined):
            self._validate_external_types(coordinate, dest_type, defined, resolving, equal)
        joins = self._join_fields(dest.name, name, sources, context, equal)
        merged.directives = self._with_joins(joins, merged.directives)

    def _with_joins(self, joins: list[Applied], applied: list[Applied]) -> list[Applied]:
        """Apollo prints @inaccessible before the join directives, other directives after."""
        first = [a for a in applied if a.name == self.directives.inaccessible]
        return first + joins + [a for a in applied if a not in first]

    def _abstracted_by_interface_object(self, dest: NamedType, name: str) -> bool:
        return any(
            self._provided_by_interface_object(interface, name) for interface in dest.interfaces
        )

    def _validate_external_types(
        self,
        coordinate: str,
        merged_type: GraphQLType,
        defined: dict[int, GraphQLField],
        resolving: dict[int, GraphQLField],
        equal: bool,
    ) -> None:
        """An @external declaration must match the resolved type (or be a subtype of it when
        the resolving subgraphs already disagree)."""
        external = [f for i, f in defined.items() if i not in resolving]
        if any(
            str(f.type) != str(merged_type)
            and (equal or not self.is_strict_subtype(merged_type, f.type))
            for f in external
        ):
            parts = _mismatch_parts({i: f'type "{f.type}"' for i, f in defined.items()}, self.metas)
            self.error(
                "EXTERNAL_TYPE_MISMATCH",
                f'Type of field "{coordinate}" is incompatible across subgraphs (where marked '
                f"@external): it has {parts}",
                coordinate,
            )

    def _join_fields(
        self,
        parent: str,
        name: str,
        sources: dict[int, GraphQLField | None],
        context: FieldContext,
        equal: bool,
    ) -> list[Applied]:
        if not self._needs_join_field(parent, name, sources, context, equal):
            return []
        applied = []
        for index, definition in sources.items():
            unused = index in context.unused_overridden
            label = context.labels.get(index)
            if definition is None or (unused and not label):
                continue
            meta = self.metas[index]
            coordinate = f"{parent}.{name}"
            args = [("graph", self.graph(index))]
            if coordinate in meta.requires:
                args.append(("requires", quoted(meta.requires[coordinate])))
            if coordinate in meta.provides:
                args.append(("provides", quoted(meta.provides[coordinate])))
            if not equal:
                args.append(("type", quoted(str(definition.type))))
            if coordinate in meta.external:
                args.append(("external", "true"))
            if coordinate in meta.overrides:
                args.append(("override", quoted(meta.overrides[coordinate][0])))
            if index in context.used_overridden:
                args.append(("usedOverridden", "true"))
            if label:
                args.append(("overrideLabel", quoted(label)))
            if contextual := self.contexts[index].arguments.get(coordinate):
                args.append(("contextArguments", context_arguments_literal(contextual)))
            applied.append(Applied("join__field", args))
        return applied

    def _needs_join_field(
        self,
        parent: str,
        name: str,
        sources: dict[int, GraphQLField | None],
        context: FieldContext,
        equal: bool,
    ) -> bool:
        if not equal or context.used_overridden or context.labels:
            return True
        coordinate = f"{parent}.{name}"
        for index, definition in sources.items():
            meta = self.metas[index]
            if definition is not None and index not in context.unused_overridden:
                if (
                    coordinate in meta.external
                    or coordinate in meta.provides
                    or coordinate in meta.requires
                    or coordinate in self.contexts[index].arguments
                ):
                    return True
            elif _defines(meta, parent):
                return True
        return False

    @cached_property
    def access_control_sources(self) -> dict[str, list[tuple[Metadata, list[DirectiveNode]]]]:
        """Authorization an interface (or its field) takes from its implementations (or theirs),
        and an implementation's field from an @interfaceObject's: the supergraph states, on the
        abstract element, everything a concrete one may require."""
        interfaces_of = {t.name: t.interfaces for t in self.supergraph.types.values()}
        sources: dict[str, list[tuple[Metadata, list[DirectiveNode]]]] = {}
        for index, meta in enumerate(self.metas):
            for type_ in composite_types(meta.subgraph):
                if not isinstance(type_, GraphQLObjectType):
                    continue
                nodes = access_control(meta, type_directives(meta.subgraph, type_))
                for interface in interfaces_of.get(type_.name, []) if nodes else []:
                    sources.setdefault(interface, []).append((meta, nodes))
                for name, definition in type_.fields.items():
                    nodes = access_control(meta, field_directives(definition))
                    if not nodes or self.is_external(index, type_.name, name):
                        continue
                    for target in self._access_control_targets(index, type_.name, interfaces_of):
                        sources.setdefault(f"{target}.{name}", []).append((meta, nodes))
        return sources

    def _access_control_targets(
        self, index: int, type_name: str, interfaces_of: dict[str, list[str]]
    ) -> list[str]:
        if type_name not in self.metas[index].interface_objects:
            return [t for t in interfaces_of.get(type_name, []) if t != type_name]
        implementations = self.implementations(type_name)
        others = [
            i for impl in implementations for i in interfaces_of.get(impl, []) if i != type_name
        ]
        return list(dict.fromkeys([*implementations, *others]))

    # Arguments, input fields and type references ------------------------------------------

    def _merge_arguments(
        self, coordinate: str, sources: dict[int, GraphQLField]
    ) -> dict[str, Argument]:
        names = list(dict.fromkeys(n for f in sources.values() for n in f.args))
        contextual = {
            a.name for i in sources for a in self.contexts[i].arguments.get(coordinate, [])
        }
        merged = {}
        for name in names:
            if name in contextual:
                continue
            arg_coordinate = f"{coordinate}({name}:)"
            args = {i: f.args[name] for i, f in sources.items() if name in f.args}
            if len(args) < len(sources):
                required = [i for i, a in args.items() if is_required(a)]
                if required:
                    missing = [self.metas[i].name for i in sources if i not in args]
                    self.error(
                        "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
                        f'Argument "{arg_coordinate}" is required in some subgraphs but does not '
                        "appear in all subgraphs: it is required in "
                        f"{subgraph_list([self.metas[i].name for i in required])} but does not "
                        f"appear in {subgraph_list(missing)}",
                        arg_coordinate,
                    )
                continue
            merged[name] = self._merge_argument(arg_coordinate, name, args)
        return merged

    def _merge_argument(
        self, coordinate: str, name: str, args: dict[int, GraphQLArgument]
    ) -> Argument:
        merged = Argument(name)
        merged.description = merge_descriptions([a.description for a in args.values()])
        merged.directives = self.directives.merge(
            [(self.metas[i], field_directives(a)) for i, a in args.items()]
        )
        merged.type = str(self._merge_type_reference(coordinate, args, True, True)[0])
        merged.default = self._merge_default(coordinate, args, "Argument")
        return merged

    def _merge_default(self, coordinate: str, elements: dict[int, Any], kind: str) -> str | None:
        defaults = {i: default_of(e) for i, e in elements.items()}
        present = {v for v in defaults.values() if v is not None}
        if len(present) > 1:
            code = (
                "FIELD_ARGUMENT_DEFAULT_MISMATCH"
                if kind == "Argument"
                else ("INPUT_FIELD_DEFAULT_MISMATCH")
            )
            parts = _mismatch_parts(
                {
                    i: f"default value {v}" if v is not None else "no default value"
                    for i, v in defaults.items()
                },
                self.metas,
            )
            self.error(
                code,
                f'{kind} "{coordinate}" has incompatible default values across subgraphs: it has '
                + parts,
                coordinate,
            )
            return next(v for v in defaults.values() if v is not None)
        if present and None in defaults.values():
            return None
        return next(iter(present), None)

    def _merge_type_reference(
        self, coordinate: str, elements: dict[int, Any], input_position: bool, argument: bool
    ) -> tuple[GraphQLType, bool]:
        """The merged type (most general for outputs, strictest for inputs) and whether all
        subgraphs agree on it exactly."""
        types: list[GraphQLType] = [element.type for element in elements.values()]
        dest = types[0]
        subtypes = incompatible = False
        for source in types[1:]:
            if str(dest) == str(source):
                continue
            if self.is_strict_subtype(dest, source):
                subtypes = True
                dest = source if input_position else dest
            elif self.is_strict_subtype(source, dest):
                subtypes = True
                dest = dest if input_position else source
            else:
                incompatible = True
        self._record_enum_usage(coordinate, dest, input_position)
        if incompatible:
            code = "FIELD_ARGUMENT_TYPE_MISMATCH" if argument else "FIELD_TYPE_MISMATCH"
            kind = "argument" if argument else "field"
            parts = _mismatch_parts(
                {i: f'type "{e.type}"' for i, e in elements.items()}, self.metas
            )
            self.error(
                code,
                f'Type of {kind} "{coordinate}" is incompatible across subgraphs: it has {parts}',
                coordinate,
            )
        return dest, not (incompatible or subtypes)

    def is_strict_subtype(self, type_: GraphQLType, maybe_sub: GraphQLType) -> bool:
        return is_strict_subtype(self.supergraph.types, type_, maybe_sub)

    def _record_enum_usage(self, coordinate: str, type_: GraphQLType, input_position: bool) -> None:
        named = get_named_type(type_)
        if isinstance(named, GraphQLEnumType):
            usage = self.enum_usage.setdefault(named.name, {})
            usage.setdefault("Input" if input_position else "Output", coordinate.split("(")[0])

    # Input objects and enums ----------------------------------------------------------------

    def _merge_input(self, dest: NamedType, sources: dict[int, Any]) -> None:
        names = list(dict.fromkeys(n for t in sources.values() for n in t.fields))
        for name in names:
            coordinate = f"{dest.name}.{name}"
            fields = {i: t.fields[name] for i, t in sources.items() if name in t.fields}
            merged = Field(name)
            merged.description = merge_descriptions([f.description for f in fields.values()])
            merged.directives = self.directives.merge(
                [(self.metas[i], field_directives(f)) for i, f in fields.items()]
            )
            dest_type, equal = self._merge_type_reference(coordinate, fields, True, False)
            merged.type = str(dest_type)
            merged.default = self._merge_default(coordinate, fields, "Input field")
            everywhere = {i: fields.get(i) for i in sources}
            joins = self._join_fields(dest.name, name, everywhere, FieldContext(), equal)
            merged.directives = self._with_joins(joins, merged.directives)
            inaccessible = any(d.name == self.directives.inaccessible for d in merged.directives)
            if len(fields) < len(sources) and not inaccessible:
                self._report_missing_input_field(coordinate, sources, fields)
                continue
            dest.fields[name] = merged
        if not dest.fields:
            self.error(
                "EMPTY_MERGED_INPUT_TYPE",
                f'None of the fields of input object type "{dest.name}" are consistently defined '
                "in all the subgraphs defining that type. As only fields common to all subgraphs "
                "are merged, this would result in an empty type.",
                dest.name,
            )

    def _report_missing_input_field(
        self, coordinate: str, sources: dict[int, Any], fields: dict[int, GraphQLInputField]
    ) -> None:
        required = [self.metas[i].name for i, f in fields.items() if is_required(f)]
        if required:
            missing = [self.metas[i].name for i in sources if i not in fields]
            self.error(
                "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
                f'Input object field "{coordinate}" is required in some subgraphs but does not '
                f"appear in all subgraphs: it is required in {subgraph_list(required)} but does "
                f"not appear in {subgraph_list(missing)}",
                coordinate,
            )

    def _merge_enum(self, dest: NamedType, sources: dict[int, Any]) -> None:
        usage = self.enum_usage.get(dest.name, {"Output": ""})
        position = "Both" if len(usage) == 2 else next(iter(usage))
        names = list(dict.fromkeys(n for t in sources.values() for n in t.values))
        for name in names:
            values = {i: t.values[name] for i, t in sources.items() if name in t.values}
            merged = EnumValue(name)
            merged.description = merge_descriptions([v.description for v in values.values()])
            joins = [Applied("join__enumValue", [("graph", self.graph(i))]) for i in values]
            applied = self.directives.merge(
                [(self.metas[i], field_directives(v)) for i, v in values.items()]
            )
            merged.directives = self._with_joins(joins, applied)
            inaccessible = any(d.name == self.directives.inaccessible for d in merged.directives)
            if len(values) < len(sources) and position != "Output" and not inaccessible:
                if position == "Both":
                    self._report_enum_mismatch(dest.name, name, usage, sources, values)
                else:
                    continue
            dest.values[name] = merged
        if not dest.values:
            self.error(
                "EMPTY_MERGED_ENUM_TYPE",
                f'None of the values of enum type "{dest.name}" are defined consistently in all the'
                " subgraphs defining that type. As only values common to all subgraphs are merged,"
                " this would result in an empty type.",
                dest.name,
            )

    def _report_enum_mismatch(
        self,
        enum: str,
        value: str,
        usage: dict[str, str],
        sources: dict[int, Any],
        values: dict[int, Any],
    ) -> None:
        defined = subgraph_list([self.metas[i].name for i in values])
        missing = subgraph_list([self.metas[i].name for i in sources if i not in values])
        self.error(
            "ENUM_VALUE_MISMATCH",
            f'Enum type "{enum}" is used as both input type (for example, as type of '
            f'"{usage["Input"]}") and output type (for example, as type of "{usage["Output"]}"), '
            f'but value "{value}" is not defined in all the subgraphs defining "{enum}": '
            f'"{value}" is defined in {defined} but not in {missing}',
            f"{enum}.{value}",
        )

    # After the merge --------------------------------------------------------------------------

    def _add_interface_object_fields(self) -> None:
        for type_ in self.supergraph.types.values():
            if type_.kind != "type":
                continue
            for interface in type_.interfaces:
                itf = self.supergraph.types.get(interface)
                for name, itf_field in (itf.fields if itf else {}).items():
                    if name in type_.fields or not self._provided_by_interface_object(
                        interface, name
                    ):
                        continue
                    type_.fields[name] = Field(
                        name,
                        itf_field.type,
                        itf_field.description,
                        dict(itf_field.args),
                        [Applied("join__field")]
                        + [d for d in itf_field.directives if self._copied(d)]
                        + self.directives.merge(
                            self.access_control_sources.get(f"{type_.name}.{name}", [])
                        ),
                    )

    def _copied(self, directive: Applied) -> bool:
        """What an interface object's field passes on to the implementations' copies of it."""
        canonical = self.directives.canonical_of.get(directive.name)
        return not directive.name.startswith("join__") and canonical not in ACCESS_CONTROL

    def _provided_by_interface_object(self, interface: str, name: str) -> bool:
        return any(
            interface in meta.interface_objects
            and name in getattr(meta.subgraph.schema.type_map[interface], "fields", {})
            and f"{interface}.{name}" not in meta.external
            for meta in self.metas
        )

    def _check_interface_fields(self) -> None:
        for type_ in self.supergraph.types.values():
            for interface in type_.interfaces:
                itf = self.supergraph.types.get(interface)
                for name in itf.fields if itf else {}:
                    if name not in type_.fields:
                        self._report_missing_interface_field(type_.name, interface, name)

    def _report_missing_interface_field(self, type_name: str, interface: str, name: str) -> None:
        with_field = [
            m.name
            for m in self.metas
            if isinstance(m.subgraph.schema.type_map.get(interface), GraphQLInterfaceType)
            and name in m.subgraph.schema.type_map[interface].fields  # type: ignore[attr-defined]
        ]
        implementing = [
            m.name
            for m in self.metas
            if interface
            in [
                i.name for i in getattr(m.subgraph.schema.type_map.get(type_name), "interfaces", ())
            ]
        ]
        self.error(
            "INTERFACE_FIELD_NO_IMPLEM",
            f'Interface field "{interface}.{name}" is declared in {subgraph_list(with_field)} but '
            f'type "{type_name}", which implements "{interface}" only in '
            f'{subgraph_list(implementing)} does not have field "{name}".',
            f"{type_name}.{name}",
        )


def _defines(meta: Metadata, name: str) -> bool:
    return name == "Query" or name in meta.subgraph.schema.type_map


def _mismatch_parts(by_index: dict[int, str], metas: list[Metadata]) -> str:
    groups: dict[str, list[str]] = {}
    for index, text in by_index.items():
        groups.setdefault(text, []).append(metas[index].name)
    return " but ".join(f"{text} in {subgraph_list(names)}" for text, names in groups.items())

"""A Federation 2 supergraph (link v1.0, join v0.3+): its subgraphs, join metadata and schemas."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import Any

from graphql import (
    DocumentNode,
    EnumTypeDefinitionNode,
    GraphQLSchema,
    SelectionSetNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    is_abstract_type,
    parse,
    value_from_ast_untyped,
)

from router.supergraph.fieldset import FieldSet, parse_field_set
from router.supergraph.model import (
    ContextArgument,
    FieldInSubgraph,
    FieldPlacement,
    JoinGraph,
    Key,
    TypeInSubgraph,
    TypeJoin,
)
from router.supergraph.schemas import build_api_schema, build_full_schema, directive_named


class Supergraph:
    """Everything the planner asks of a supergraph, computed once from its SDL."""

    def __init__(self, sdl: str) -> None:
        document = parse(sdl, no_location=True)
        self.subgraphs = _subgraphs(document)
        by_enum = {s.enum_value: s.name for s in self.subgraphs.values()}
        self.types = {j.name: j for j in _type_joins(document, by_enum)}
        self.contexts = _contexts(document)
        """The contexts (`@context`) each type sets, by type name."""
        self.schema: GraphQLSchema = build_full_schema(document)
        self.api_schema: GraphQLSchema = build_api_schema(document)
        self.override_labels = frozenset(
            f.override_label
            for join in self.types.values()
            for fields in join.fields.values()
            for f in fields
            if f.override_label
        )
        self._placements: dict[tuple[str, str, frozenset[str]], dict[str, FieldPlacement]] = {}

    @cached_property
    def subgraph_types(self) -> dict[tuple[str, str, str], str]:
        """(type, field, subgraph) -> the field's type there, where subgraphs differ on it."""
        return {
            (join.name, name, f.subgraph): f.type
            for join in self.types.values()
            for name, fields in join.fields.items()
            for f in fields
            if f.type and f.subgraph and len({g.type for g in fields if g.type}) > 1
        }

    @cached_property
    def context_variables(self) -> dict[tuple[str, str, str, str], str]:
        """(subgraph, type, field, argument) -> the variable a contextual argument is sent as,
        numbered as Apollo's planner numbers them: per subgraph, by type and field name."""
        graphs = {name: index for index, name in enumerate(self.subgraphs, start=1)}
        found: dict[tuple[str, str, str, str], str] = {}
        counts: dict[str, int] = {}
        for join in sorted(self.types.values(), key=lambda j: j.name):
            for name, fields in sorted(join.fields.items()):
                for f in fields:
                    for argument in f.context_arguments if f.subgraph else ():
                        assert f.subgraph is not None  # noqa: S101 - checked above
                        index = counts.get(f.subgraph, 0)
                        counts[f.subgraph] = index + 1
                        variable = f"contextualArgument_{graphs[f.subgraph]}_{index}"
                        found[(f.subgraph, join.name, name, argument.name)] = variable
        return found

    def sets_context(self, type_name: str, context: str) -> bool:
        """Whether objects of the type set the context for their fields: the type sets it, or
        an abstract type it belongs to does, or (for an abstract type) each of its types does."""
        if context in self.contexts.get(type_name, ()):
            return True
        possible = self.possible_types(type_name)
        if possible != {type_name}:
            return all(self.sets_context(t, context) for t in possible)
        return any(
            context in names and type_name in self.possible_types(holder)
            for holder, names in self.contexts.items()
        )

    def type_in(self, type_name: str, subgraph: str) -> TypeInSubgraph | None:
        join = self.types.get(type_name)
        return join.subgraphs.get(subgraph) if join else None

    def placements(
        self, type_name: str, field_name: str, labels: frozenset[str]
    ) -> dict[str, FieldPlacement]:
        """The subgraphs that resolve the field themselves, by name; computed once per field
        and label set (planning asks often), so the caller must not change it."""
        key = (type_name, field_name, labels & self.override_labels)
        found = self._placements.get(key)
        if found is None:
            found = self._placements[key] = self._placed(type_name, field_name, key[2])
        return found

    def _placed(
        self, type_name: str, field_name: str, labels: frozenset[str]
    ) -> dict[str, FieldPlacement]:
        join = self.types.get(type_name)
        if join is None:
            return {}
        joins = join.fields.get(field_name)
        if joins is None:
            return {s: FieldPlacement(s, None, None) for s in join.subgraphs}
        return {
            f.subgraph: FieldPlacement(f.subgraph, f.requires, f.provides, f.context_arguments)
            for f in joins
            if f.subgraph and _active(f, labels)
        }

    def is_external(self, type_name: str, field_name: str, subgraph: str) -> bool:
        join = self.types.get(type_name)
        joins = join.fields.get(field_name, ()) if join else ()
        return any(f.subgraph == subgraph and f.external for f in joins)

    def has_member(self, subgraph: str, abstract: str, member: str) -> bool:
        """Whether objects of `member` can come from `subgraph` where it returns `abstract`."""
        join = self.types.get(abstract)
        if join is None:
            return False
        if join.union_members:
            return member in join.union_members.get(subgraph, set())
        member_join = self.types.get(member)
        return member_join is not None and abstract in member_join.implements.get(subgraph, set())

    def possible_types(self, type_name: str) -> frozenset[str]:
        return self._possible_types.get(type_name, frozenset({type_name}))

    @cached_property
    def _possible_types(self) -> dict[str, frozenset[str]]:
        result: dict[str, frozenset[str]] = {}
        for name, named in self.schema.type_map.items():
            if is_abstract_type(named):
                members = self.schema.get_possible_types(named)
                result[name] = frozenset(m.name for m in members)
        return result


def _active(field: FieldInSubgraph, labels: frozenset[str]) -> bool:
    if field.external or field.used_overridden:
        return False
    if field.override_label is None:
        return True
    # Progressive override: the overriding side is live when its label is on, the other when off.
    return (field.override_label in labels) == (field.override is not None)


def _args(directive: Any) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value) for a in directive.arguments or ()}


def _subgraphs(document: DocumentNode) -> dict[str, JoinGraph]:
    for definition in document.definitions:
        if (
            isinstance(definition, EnumTypeDefinitionNode)
            and definition.name.value == "join__Graph"
        ):
            graphs = (
                JoinGraph(value.name.value, args["name"], args["url"])
                for value in definition.values or ()
                for args in map(_args, directive_named(value, "join__graph"))
            )
            return {g.name: g for g in graphs}
    raise ValueError("not a supergraph: no join__Graph enum")


def _type_joins(document: DocumentNode, by_enum: dict[str, str]) -> Iterable[TypeJoin]:
    for definition in document.definitions:
        if not isinstance(definition, TypeDefinitionNode):
            continue
        name = definition.name.value
        if name.startswith(("join__", "link__", "context__")):
            continue
        join = TypeJoin(name)
        for args in map(_args, directive_named(definition, "join__type")):
            join.subgraphs[by_enum[args["graph"]]] = _merge_type(
                join.subgraphs.get(by_enum[args["graph"]]), args
            )
        for args in map(_args, directive_named(definition, "join__implements")):
            join.implements.setdefault(by_enum[args["graph"]], set()).add(args["interface"])
        if isinstance(definition, UnionTypeDefinitionNode):
            for args in map(_args, directive_named(definition, "join__unionMember")):
                join.union_members.setdefault(by_enum[args["graph"]], set()).add(args["member"])
        for field in getattr(definition, "fields", None) or ():
            directives = directive_named(field, "join__field")
            joins = [_field_join(args, by_enum) for args in map(_args, directives)]
            if joins:
                join.fields[field.name.value] = tuple(joins)
        yield join


def _merge_type(existing: TypeInSubgraph | None, args: dict[str, Any]) -> TypeInSubgraph:
    keys = existing.keys if existing else ()
    if args.get("key"):
        keys = (*keys, Key(parse_field_set(args["key"]), args["key"], args.get("resolvable", True)))
    interface_object = bool(args.get("isInterfaceObject")) or bool(
        existing and existing.is_interface_object
    )
    return TypeInSubgraph(keys, interface_object)


def _field_join(args: dict[str, Any], by_enum: dict[str, str]) -> FieldInSubgraph:
    graph = args.get("graph")
    return FieldInSubgraph(
        subgraph=by_enum[graph] if graph else None,
        requires=_field_set(args.get("requires")),
        provides=_field_set(args.get("provides")),
        external=bool(args.get("external")),
        override=args.get("override"),
        used_overridden=bool(args.get("usedOverridden")),
        override_label=args.get("overrideLabel"),
        type=args.get("type"),
        context_arguments=tuple(
            ContextArgument(a["name"], a["type"], a["context"], parse_selection(a["selection"]))
            for a in args.get("contextArguments") or ()
        ),
    )


def parse_selection(selection: str) -> SelectionSetNode:
    """A context's selection (`{ a }`, or `... on T { a }` fragments) as a selection set."""
    text = selection.strip()
    document = parse(text if text.startswith("{") else "{" + text + "}", no_location=True)
    found: SelectionSetNode = document.definitions[0].selection_set  # type: ignore[attr-defined]
    return found


def _contexts(document: DocumentNode) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for definition in document.definitions:
        if isinstance(definition, TypeDefinitionNode):
            names = [_args(d)["name"] for d in directive_named(definition, "context")]
            if names:
                found[definition.name.value] = frozenset(names)
    return found


def _field_set(source: str | None) -> FieldSet | None:
    return parse_field_set(source) if source else None

"""What an operation may ask for: depth, aliases, root fields, introspection and cost, measured by
one walk over the fields that will run (@skip/@include honoured, fragments expanded).

Cost follows Apollo's demand control: an object costs 1 and a leaf 0 unless ``@cost(weight:)``
says otherwise, a list multiplies what is under it by its estimated size (``@listSize``'s
slicing argument or assumed size, else a ``first``/``last``/``limit`` argument, else the
configured default), and every subgraph fetch of the plan that runs costs ``fetch_cost``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldDefinitionNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    IntValueNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    SelectionSetNode,
    StringValueNode,
    TypeDefinitionNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
)

from router.config import Limits
from router.planner.plan import (
    Condition,
    Defer,
    DeferredNode,
    Fetch,
    Flatten,
    Parallel,
    PlanNode,
    QueryPlan,
    Sequence,
)

COST_SPEC = "https://specs.apollo.dev/cost/v"
_SIZE_ARGUMENTS = ("first", "last", "limit")
_INTROSPECTION = frozenset({"__schema", "__type"})
_Coordinate = tuple[str, str]


@dataclass(frozen=True)
class Violation:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ListSize:
    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: tuple[str, ...] = ()
    require_one_slicing_argument: bool = True


@dataclass(frozen=True)
class Demand:
    """The ``@cost`` weights and ``@listSize`` estimates a supergraph declares."""

    field_weights: Mapping[_Coordinate, int] = field(default_factory=dict)
    type_weights: Mapping[str, int] = field(default_factory=dict)
    list_sizes: Mapping[_Coordinate, ListSize] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    aliases: int
    root_fields: int
    introspection: bool
    cost: int  # of the fields, before the plan's fetches
    problem: Violation | None = None  # a slicing argument that must be given and was not


def demand_of(document: DocumentNode) -> Demand:
    """``@cost`` and ``@listSize`` of a supergraph, under the names its ``@link`` imports."""
    cost, list_size = _imported_names(document)
    field_weights: dict[_Coordinate, int] = {}
    type_weights: dict[str, int] = {}
    list_sizes: dict[_Coordinate, ListSize] = {}
    for definition in document.definitions:
        if not isinstance(definition, TypeDefinitionNode | ObjectTypeExtensionNode):
            continue
        type_name = definition.name.value
        for directive in definition.directives or ():
            if directive.name.value == cost:
                type_weights[type_name] = _int_argument(directive, "weight") or 0
        fields: tuple[FieldDefinitionNode, ...] = ()
        if isinstance(
            definition,
            ObjectTypeDefinitionNode
            | ObjectTypeExtensionNode
            | InterfaceTypeDefinitionNode
            | InterfaceTypeExtensionNode,
        ):
            fields = tuple(definition.fields or ())
        for definition_field in fields:
            coordinate = (type_name, definition_field.name.value)
            for directive in definition_field.directives or ():
                if directive.name.value == cost:
                    field_weights[coordinate] = _int_argument(directive, "weight") or 0
                elif directive.name.value == list_size:
                    list_sizes[coordinate] = _list_size_of(directive)
    return Demand(field_weights, type_weights, list_sizes)


def _imported_names(document: DocumentNode) -> tuple[str, str]:
    for definition in document.definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for directive in definition.directives or ():
            arguments = {a.name.value: a.value for a in directive.arguments or ()}
            url = arguments.get("url")
            if directive.name.value != "link" or not isinstance(url, StringValueNode):
                continue
            if not url.value.startswith(COST_SPEC):
                continue
            prefix = _link_prefix(arguments)
            names = {"@cost": f"{prefix}__cost", "@listSize": f"{prefix}__listSize"}
            imports = arguments.get("import")
            for item in imports.values if isinstance(imports, ListValueNode) else ():
                name, local = _imported(item)
                if name in names:
                    names[name] = local[1:]
            return names["@cost"], names["@listSize"]
    return "cost", "listSize"


def _imported(item: ValueNode) -> tuple[str, str]:
    """An import's name and the name it takes: ``"@cost"``, or ``{name: "@cost", as: "@w"}``."""
    if isinstance(item, StringValueNode):
        return item.value, item.value
    if not isinstance(item, ObjectValueNode):
        return "", ""
    given = {f.name.value: f.value for f in item.fields}
    name, local = given.get("name"), given.get("as", given.get("name"))
    if not isinstance(name, StringValueNode) or not isinstance(local, StringValueNode):
        return "", ""
    return name.value, local.value


def _link_prefix(arguments: Mapping[str, ValueNode]) -> str:
    given = arguments.get("as")
    return given.value if isinstance(given, StringValueNode) else "cost"


def _int_argument(directive: DirectiveNode, name: str) -> int | None:
    for argument in directive.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, StringValueNode) and value.value.isdigit():
                return int(value.value)
    return None


def _strings(directive: DirectiveNode, name: str) -> tuple[str, ...]:
    for argument in directive.arguments or ():
        if argument.name.value == name and isinstance(argument.value, ListValueNode):
            return tuple(v.value for v in argument.value.values if isinstance(v, StringValueNode))
    return ()


def _list_size_of(directive: DirectiveNode) -> ListSize:
    require = True
    for argument in directive.arguments or ():
        if argument.name.value == "requireOneSlicingArgument" and isinstance(
            argument.value, BooleanValueNode
        ):
            require = argument.value.value
    return ListSize(
        assumed_size=_int_argument(directive, "assumedSize"),
        slicing_arguments=_strings(directive, "slicingArguments"),
        sized_fields=_strings(directive, "sizedFields"),
        require_one_slicing_argument=require,
    )


# the field walk -----------------------------------------------------------------------------


def _included(node: FieldNode | InlineFragmentNode | FragmentSpreadNode, variables: Any) -> bool:
    """@skip and @include, as graphql-core's collect_fields reads them."""
    for directive in node.directives or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        condition = _boolean(directive, variables)
        if condition is None:
            continue
        if (name == "skip") == condition:
            return False
    return True


def _boolean(directive: DirectiveNode, variables: Mapping[str, Any]) -> bool | None:
    for argument in directive.arguments or ():
        if argument.name.value != "if":
            continue
        value = argument.value
        if isinstance(value, BooleanValueNode):
            return value.value
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return given if isinstance(given, bool) else None
    return None


def fields(
    selections: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> Iterator[tuple[FieldNode, str | None]]:
    """The fields that run, fragments expanded, each with its innermost type condition."""
    for selection in selections.selections if selections else ():
        if not _included(selection, variables):  # type: ignore[arg-type]
            continue
        if isinstance(selection, FieldNode):
            yield selection, None
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            for found, inner in fields(selection.selection_set, fragments, variables):
                yield found, inner or condition
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                for found, inner in fields(fragment.selection_set, fragments, variables):
                    yield found, inner or fragment.type_condition.name.value


@dataclass
class _Walk:
    schema: GraphQLSchema
    demand: Demand
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    default_list_size: int
    aliases: int = 0
    introspection: bool = False
    problem: Violation | None = None

    def selection(
        self,
        parent: GraphQLNamedType | None,
        selections: SelectionSetNode | None,
        items: int,
        sized_by: Mapping[str, int],
    ) -> tuple[int, int]:
        """Depth and cost of a selection set under ``items`` estimated list items;
        ``sized_by`` sizes the lists a parent's ``@listSize(sizedFields:)`` names."""
        deepest = total = 0
        for node, condition in fields(selections, self.fragments, self.variables):
            self.aliases += node.alias is not None
            self.introspection |= node.name.value in _INTROSPECTION
            owner = self.schema.get_type(condition) if condition else parent
            depth, spent = self.field(owner, node, sized_by.get(node.name.value))
            deepest = max(deepest, depth)
            total += spent
        return deepest, total * items

    def field(
        self, owner: GraphQLNamedType | None, node: FieldNode, sized: int | None
    ) -> tuple[int, int]:
        definition = None
        if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
            definition = owner.fields.get(node.name.value)
        if definition is None:  # __typename and introspection: no price, but depth counts
            depth, _ = self.selection(None, node.selection_set, 0, {})
            return 1 + depth, 0
        assert owner is not None  # noqa: S101 - a definition was found on it
        coordinate = (owner.name, node.name.value)
        named = get_named_type(definition.type)
        weight = self.demand.field_weights.get(coordinate)
        if weight is None:
            weight = self.demand.type_weights.get(named.name, 1 if is_composite_type(named) else 0)
        declared = self.demand.list_sizes.get(coordinate)
        size = sized or 1
        if sized is None and isinstance(get_nullable_type(definition.type), GraphQLList):
            size = self.list_size(coordinate, declared, node)
        sized_by: Mapping[str, int] = {}
        if declared is not None and declared.sized_fields:
            sized_by = dict.fromkeys(
                declared.sized_fields, self.list_size(coordinate, declared, node)
            )
        depth, below = self.selection(named, node.selection_set, size, sized_by)
        return 1 + depth, weight * size + below

    def list_size(self, coordinate: _Coordinate, declared: ListSize | None, node: FieldNode) -> int:
        arguments = node.arguments or ()
        if declared is not None and declared.slicing_arguments:
            given = [self._int(a) for a in arguments if a.name.value in declared.slicing_arguments]
            sizes = [size for size in given if size is not None]
            if declared.require_one_slicing_argument and len(given) != 1:
                self.problem = Violation(
                    "SLICING_ARGUMENT_REQUIRED",
                    f"{'.'.join(coordinate)} needs exactly one of "
                    f"{', '.join(declared.slicing_arguments)}.",
                )
            if sizes:
                return max(sizes)
        if declared is not None and declared.assumed_size is not None:
            return declared.assumed_size
        for argument in arguments:
            if argument.name.value in _SIZE_ARGUMENTS:
                size = self._int(argument)
                if size is not None:
                    return size
        return self.default_list_size

    def _int(self, argument: ArgumentNode) -> int | None:
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = self.variables.get(value.name.value)
            return given if isinstance(given, int) and not isinstance(given, bool) else None
        return None


def measure(
    schema: GraphQLSchema,
    demand: Demand,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    limits: Limits,
) -> Measure:
    walk = _Walk(schema, demand, fragments, variables, limits.default_list_size)
    root = schema.get_root_type(operation.operation)
    depth, spent = walk.selection(root, operation.selection_set, 1, {})
    roots = sum(1 for _ in fields(operation.selection_set, fragments, variables))
    return Measure(depth, walk.aliases, roots, walk.introspection, spent, walk.problem)


# the checks ---------------------------------------------------------------------------------


def check_shape(found: Measure, limits: Limits, *, introspection: bool) -> Violation | None:
    if found.depth > limits.max_depth:
        return Violation(
            "MAX_DEPTH_EXCEEDED",
            f"The operation is {found.depth} levels deep; the limit is {limits.max_depth}.",
        )
    if found.aliases > limits.max_aliases:
        return Violation(
            "MAX_ALIASES_EXCEEDED",
            f"The operation uses {found.aliases} aliases; the limit is {limits.max_aliases}.",
        )
    if found.root_fields > limits.max_root_fields:
        return Violation(
            "MAX_ROOT_FIELDS_EXCEEDED",
            f"The operation asks for {found.root_fields} root "
            f"fields; the limit is {limits.max_root_fields}.",
        )
    if found.introspection and not introspection:
        return Violation("INTROSPECTION_DISABLED", "Introspection is disabled.")
    return found.problem


def count_fetches(node: PlanNode | None) -> int:
    """Subgraph fetches of a plan node (the larger branch of a condition)."""
    if node is None:
        return 0
    if isinstance(node, Fetch | Flatten):
        return 1
    if isinstance(node, Sequence | Parallel):
        return sum(count_fetches(child) for child in node.nodes)
    if isinstance(node, Defer):
        return count_fetches(node.primary) + sum(map(_deferred_fetches, node.deferred))
    assert isinstance(node, Condition)  # noqa: S101 - the plan node union is closed
    return max(count_fetches(node.if_clause), count_fetches(node.else_clause))


def _deferred_fetches(deferred: DeferredNode) -> int:
    return count_fetches(deferred.node) + sum(map(_deferred_fetches, deferred.deferred))


def cost(found: Measure, plan: QueryPlan, limits: Limits) -> int:
    return found.cost + limits.fetch_cost * count_fetches(plan.node)


def actual_cost(data: Any, fetches: int, limits: Limits) -> int:
    """What the operation cost by the default weights: an object each, plus its fetches."""
    roots = data.values() if isinstance(data, dict) else ()
    return sum(_objects(value) for value in roots) + limits.fetch_cost * fetches


def _objects(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_objects(item) for item in value.values())
    if isinstance(value, list):
        return sum(_objects(item) for item in value)
    return 0


def check_cost(spent: int, limits: Limits) -> Violation | None:
    if spent > limits.max_cost:
        return Violation(
            "COST_LIMIT_EXCEEDED",
            f"The operation would cost {spent}; the limit is {limits.max_cost}.",
        )
    return None

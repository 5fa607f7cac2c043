"""The supergraph's @authenticated, @requiresScopes and @policy, enforced on an operation before
it is planned: what the caller may not see is removed, with an error at its path.

A policy named ``feature:<key>`` is a feature of the caller's plan: what lacks only such
features answers ``NOT_ENTITLED`` (with ``extensions.feature``) instead, and a root field
lacking one refuses the whole operation."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    NameNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from router.compose.links import links_of

CODE = "UNAUTHORIZED_FIELD_OR_TYPE"
MESSAGE = "Unauthorized field or type"
FEATURE = "feature:"
NOT_ENTITLED = "NOT_ENTITLED"
NOT_ENTITLED_MESSAGE = "The organization's plan does not include this feature."
SPECS = {
    "https://specs.apollo.dev/authenticated": "authenticated",
    "https://specs.apollo.dev/requiresScopes": "requiresScopes",
    "https://specs.apollo.dev/policy": "policy",
}
LIST_ITEMS = "@"

# One OR-of-ANDs list, as the directives spell it: any one inner set, all of its members.
Alternatives = tuple[frozenset[str], ...]
Path = tuple[str, ...]


@dataclass(frozen=True)
class Grants:
    """What the caller has: signed in or not, the scopes it holds, the policies decided true."""

    authenticated: bool = False
    scopes: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Requirement:
    """Everything reading one element needs; each entry of `scopes` / `policies` must hold."""

    authenticated: bool = False
    scopes: tuple[Alternatives, ...] = ()
    policies: tuple[Alternatives, ...] = ()

    def __and__(self, other: Requirement) -> Requirement:
        return Requirement(
            self.authenticated or other.authenticated,
            _distinct(self.scopes + other.scopes),
            _distinct(self.policies + other.policies),
        )

    def met_by(self, grants: Grants) -> bool:
        if self.authenticated and not grants.authenticated:
            return False
        return all(_satisfied(a, grants.scopes) for a in self.scopes) and all(
            _satisfied(a, grants.policies) for a in self.policies
        )

    def lacking_feature(self, grants: Grants) -> str | None:
        """The plan feature ``grants`` lack, when only plan features keep them from meeting
        this requirement (the first by name); else None."""
        features = {
            policy
            for alternatives in self.policies
            for required in alternatives
            for policy in required
            if policy.startswith(FEATURE)
        }
        if not self.met_by(replace(grants, policies=grants.policies | features)):
            return None
        return min(features - grants.policies)[len(FEATURE) :]


NOTHING = Requirement()


def _satisfied(alternatives: Alternatives, held: frozenset[str]) -> bool:
    # An empty list of alternatives offers no way in: closed, not open.
    return any(required <= held for required in alternatives)


def _distinct(items: tuple[Alternatives, ...]) -> tuple[Alternatives, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class Condition:
    """An @skip / @include on the way to a removed selection: its error shows only if the
    selection would have been executed."""

    include: bool
    value: bool | str

    def holds(self, variables: Mapping[str, Any]) -> bool:
        value = variables.get(self.value) if isinstance(self.value, str) else self.value
        return bool(value) == self.include


@dataclass(frozen=True)
class Denied:
    """One removed selection: a field (answered null at `path`) or a fragment on a type the
    caller may not read (`path` ends with `... on Type`). `@` in a path stands for every item
    of a list."""

    path: Path
    conditions: tuple[Condition, ...] = ()
    feature: str | None = None  # the plan feature it lacks, when that alone removed it

    def applies(self, variables: Mapping[str, Any]) -> bool:
        return all(condition.holds(variables) for condition in self.conditions)

    def error(self) -> dict[str, Any]:
        if self.feature is None:
            return {"message": MESSAGE, "path": list(self.path), "extensions": {"code": CODE}}
        extensions = {"code": NOT_ENTITLED, "feature": self.feature}
        return {"message": NOT_ENTITLED_MESSAGE, "path": list(self.path), "extensions": extensions}


@dataclass(frozen=True)
class Authorized:
    """An operation as the caller may run it: the document itself when nothing was removed,
    else a document of the selected operation and the fragments it still uses, or None when
    nothing is left, and then the operation is refused."""

    document: DocumentNode | None
    denied: tuple[Denied, ...]

    @property
    def refused(self) -> bool:
        return self.document is None

    def errors(self, variables: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The GraphQL errors for what was removed and would have been executed."""
        return [d.error() for d in self.denied if d.applies(variables)]


@dataclass(eq=False)
class AccessRules:
    """Per supergraph: what reading each type and each field needs, computed once."""

    schema: GraphQLSchema
    types: dict[str, Requirement]
    fields: dict[tuple[str, str], Requirement]
    policy_names: frozenset[str]
    cache_size: int = 4096
    _cache: OrderedDict[tuple[int, str | None, Grants], tuple[DocumentNode, Authorized]] = field(
        default_factory=OrderedDict
    )

    @classmethod
    def of(cls, supergraph: DocumentNode, api_schema: GraphQLSchema) -> AccessRules:
        """The rules of the supergraph `supergraph` (its SDL, parsed), for operations validated
        against its API schema."""
        reader = _DirectiveReader(_names(supergraph))
        types = _type_requirements(api_schema, reader)
        fields = _field_requirements(api_schema, reader, types)
        required = [r for r in [*types.values(), *fields.values()] if r != NOTHING]
        return cls(
            api_schema,
            {name: r for name, r in types.items() if r != NOTHING},
            {key: r for key, r in fields.items() if r != NOTHING},
            frozenset(
                policy
                for requirement in required
                for alternatives in requirement.policies
                for policy_set in alternatives
                for policy in policy_set
            ),
        )

    def authorize(
        self, document: DocumentNode, operation_name: str | None, grants: Grants
    ) -> Authorized:
        """`document`'s operation `operation_name` (validated) with what `grants` may not read
        removed. Cached by document identity, operation name and grants."""
        key = (id(document), operation_name, grants)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached[1]
        result = _Pruner(self, document, grants).operation(operation_name)
        # The entry holds the document, so no other document can take its id meanwhile.
        self._cache[key] = (document, result)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return result

    def type_requirement(self, name: str) -> Requirement:
        return self.types.get(name, NOTHING)

    def field_requirement(self, parent: str, name: str) -> Requirement:
        return self.fields.get((parent, name), NOTHING)


def _type_requirements(schema: GraphQLSchema, reader: _DirectiveReader) -> dict[str, Requirement]:
    """An interface also needs what each implementation needs: any of them may answer."""
    own = {
        name: reader.requirement(type_)
        for name, type_ in schema.type_map.items()
        if not name.startswith("__")
    }
    return {
        name: _and([own[name]] + [own[t.name] for t in _implementations(schema, type_)])
        for name, type_ in schema.type_map.items()
        if name in own
    }


def _field_requirements(
    schema: GraphQLSchema, reader: _DirectiveReader, types: dict[str, Requirement]
) -> dict[tuple[str, str], Requirement]:
    """A field needs what it and its type need; an interface's, what its implementations' do."""
    requirements = {}
    for type_ in schema.type_map.values():
        if type_.name not in types or not isinstance(
            type_, GraphQLObjectType | GraphQLInterfaceType
        ):
            continue
        owners = [type_, *_implementations(schema, type_)]
        for name in type_.fields:
            requirements[(type_.name, name)] = _and(
                reader.requirement(d) & types[get_named_type(d.type).name]
                for d in (owner.fields[name] for owner in owners)
            )
    return requirements


def _and(requirements: Iterable[Requirement]) -> Requirement:
    result = NOTHING
    for requirement in requirements:
        result = result & requirement
    return result


def _implementations(schema: GraphQLSchema, type_: GraphQLNamedType) -> list[GraphQLObjectType]:
    if not isinstance(type_, GraphQLInterfaceType):
        return []
    return list(schema.get_possible_types(type_))


def _names(supergraph: DocumentNode) -> dict[str, str]:
    """The supergraph's name of each directive, by spec name (the spec name when unlinked)."""
    names = {canonical: canonical for canonical in SPECS.values()}
    for link in links_of(supergraph):
        canonical = SPECS.get(link.identity)
        if canonical is not None:
            names[canonical] = link.local_directive(canonical)
    return {local: canonical for canonical, local in names.items()}


class _DirectiveReader:
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def requirement(self, element: Any) -> Requirement:
        node = element.ast_node
        directives = node.directives or () if node else ()
        requirement = NOTHING
        for directive in directives:
            canonical = self.names.get(directive.name.value)
            if canonical == "authenticated":
                requirement = requirement & Requirement(authenticated=True)
            elif canonical == "requiresScopes":
                scopes = (_alternatives(directive, "scopes"),)
                requirement = requirement & Requirement(scopes=scopes)
            elif canonical == "policy":
                policies = (_alternatives(directive, "policies"),)
                requirement = requirement & Requirement(policies=policies)
        return requirement


def _alternatives(directive: DirectiveNode, argument: str) -> Alternatives:
    """The directive's `argument`; none, so closed, when the supergraph leaves it out."""
    value = next(
        (
            value_from_ast_untyped(a.value)
            for a in directive.arguments or ()
            if a.name.value == argument
        ),
        None,
    )
    return tuple(frozenset(inner) for inner in value or ())


class _Pruner:
    """One walk of one operation: the kept selections, and what was removed where."""

    def __init__(self, rules: AccessRules, document: DocumentNode, grants: Grants) -> None:
        self.rules = rules
        self.document = document
        self.schema = rules.schema
        self.grants = grants
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self.kept_fragments: dict[str, FragmentDefinitionNode] = {}
        self.denied: list[Denied] = []

    def operation(self, name: str | None) -> Authorized:
        operation = next(
            o for o in self.operations if name is None or (o.name and o.name.value == name)
        )
        # The document was validated against this schema: its types exist.
        root = cast(GraphQLObjectType, self.schema.get_root_type(operation.operation))
        if not self.rules.type_requirement(root.name).met_by(self.grants):
            for selection in operation.selection_set.selections:
                self._deny_all(selection, (), ())
            return Authorized(None, tuple(self.denied))
        selections = self._selection_set(operation.selection_set, root, (), ())
        if not self.denied:
            return Authorized(self.document, ())
        if selections is None or any(d.feature and len(d.path) == 1 for d in self.denied):
            return Authorized(None, tuple(self.denied))
        kept = replace(operation, selection_set=selections)
        document = DocumentNode(definitions=(kept, *self.kept_fragments.values()))
        return Authorized(document, tuple(self.denied))

    def _deny_all(
        self, selection: SelectionNode, path: Path, conditions: tuple[Condition, ...]
    ) -> None:
        """Every root field denied, when the root type itself may not be read."""
        conditions = conditions + _conditions(selection)
        if isinstance(selection, FieldNode):
            self.denied.append(Denied((*path, _key(selection)), conditions))
            return
        inner = (
            self.fragments[selection.name.value].selection_set
            if isinstance(selection, FragmentSpreadNode)
            else cast(InlineFragmentNode, selection).selection_set
        )
        for child in inner.selections:
            self._deny_all(child, path, conditions)

    def _selection_set(
        self,
        node: SelectionSetNode,
        parent: GraphQLCompositeType,
        path: Path,
        conditions: tuple[Condition, ...],
    ) -> SelectionSetNode | None:
        kept: list[SelectionNode] = []
        for selection in node.selections:
            inner_conditions = conditions + _conditions(selection)
            result: SelectionNode | None
            if isinstance(selection, FieldNode):
                result = self._field(selection, parent, path, inner_conditions)
            elif isinstance(selection, InlineFragmentNode):
                result = self._inline_fragment(selection, parent, path, inner_conditions)
            else:
                spread = cast(FragmentSpreadNode, selection)
                result = self._fragment_spread(spread, path, inner_conditions)
            if result is not None:
                kept.append(result)
        return SelectionSetNode(selections=tuple(kept)) if kept else None

    def _field(
        self,
        node: FieldNode,
        parent: GraphQLCompositeType,
        path: Path,
        conditions: tuple[Condition, ...],
    ) -> FieldNode | None:
        name = node.name.value
        definition = getattr(parent, "fields", {}).get(name)
        if definition is None:
            # __typename, and introspection, which these directives do not cover.
            return node
        path = (*path, _key(node))
        requirement = self.rules.field_requirement(parent.name, name)
        if not requirement.met_by(self.grants):
            feature = requirement.lacking_feature(self.grants)
            self.denied.append(Denied(path, conditions, feature))
            return None
        if node.selection_set is None:
            return node
        target = cast(GraphQLCompositeType, get_named_type(definition.type))
        inner_path = path + (LIST_ITEMS,) * _list_depth(definition.type)
        inner = self._selection_set(node.selection_set, target, inner_path, conditions)
        # The field itself may be read: it stays, and answers what is left of it.
        return replace(node, selection_set=inner or _TYPENAME_ONLY)

    def _inline_fragment(
        self,
        node: InlineFragmentNode,
        parent: GraphQLCompositeType,
        path: Path,
        conditions: tuple[Condition, ...],
    ) -> InlineFragmentNode | None:
        target: GraphQLCompositeType | None = parent
        if node.type_condition is not None:
            target = self._condition_type(node.type_condition.name.value, path, conditions)
        if target is None:
            return None
        inner = self._selection_set(node.selection_set, target, path, conditions)
        return replace(node, selection_set=inner) if inner else None

    def _fragment_spread(
        self, node: FragmentSpreadNode, path: Path, conditions: tuple[Condition, ...]
    ) -> FragmentSpreadNode | None:
        fragment = self.fragments[node.name.value]
        target = self._condition_type(fragment.type_condition.name.value, path, conditions)
        if target is None:
            return None
        # The pruning of a fragment depends on its type only, so each use prunes it alike;
        # each use is still walked, for the paths of what it loses there.
        inner = self._selection_set(fragment.selection_set, target, path, conditions)
        if inner is None:
            return None
        self.kept_fragments[fragment.name.value] = replace(fragment, selection_set=inner)
        return node

    def _condition_type(
        self, name: str, path: Path, conditions: tuple[Condition, ...]
    ) -> GraphQLCompositeType | None:
        if not self.rules.type_requirement(name).met_by(self.grants):
            self.denied.append(Denied((*path, f"... on {name}"), conditions))
            return None
        return cast(GraphQLCompositeType, self.schema.get_type(name))


_TYPENAME_ONLY = SelectionSetNode(selections=(FieldNode(name=NameNode(value="__typename")),))


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _list_depth(type_: GraphQLOutputType) -> int:
    depth = 0
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        depth += isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return depth


def _conditions(selection: SelectionNode) -> tuple[Condition, ...]:
    conditions = []
    for directive in selection.directives or ():
        if directive.name.value not in ("skip", "include") or not directive.arguments:
            continue
        value = directive.arguments[0].value
        if isinstance(value, VariableNode):
            literal: bool | str = value.name.value
        else:
            literal = isinstance(value, BooleanValueNode) and value.value
        conditions.append(Condition(directive.name.value == "include", literal))
    return tuple(conditions)

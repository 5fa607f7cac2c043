"""Selections of a subgraph fetch, built up while planning and printed as compact GraphQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    SelectionNode,
    VariableNode,
    print_ast,
    visit,
)
from graphql.language import Visitor

from router.planner.errors import PlanningError
from router.planner.plan import RequiredField, RequiredFragment, RequiredSelection
from router.supergraph import FieldSet

Conditions = frozenset[tuple[str, bool]]


@dataclass
class FieldSelection:
    name: str
    alias: str | None = None
    arguments: tuple[ArgumentNode, ...] = ()
    directives: tuple[DirectiveNode, ...] = ()
    sub: SelectionTree | None = None
    output_type: str | None = None
    """The field's type in the fetch's subgraph, set when subgraphs differ on some types."""


@dataclass
class SelectionTree:
    """Fields by response key and inline fragments by type condition, in insertion order."""

    items: dict[str, FieldSelection | FragmentSelection] = field(default_factory=dict)

    def add_field(
        self,
        name: str,
        *,
        alias: str | None = None,
        arguments: tuple[ArgumentNode, ...] = (),
        directives: tuple[DirectiveNode, ...] = (),
        composite: bool = False,
    ) -> FieldSelection:
        key = alias or name
        existing = self.items.get(key)
        if isinstance(existing, FieldSelection):
            if existing.name != name:
                # Validation rules out two client fields like this, so one is a key or
                # requirement the planner added; renaming it is not supported.
                raise PlanningError(f"response key '{key}' is needed for field '{name}'")
            if existing.directives and not directives:
                existing.directives = ()
            return existing
        selection = FieldSelection(name, alias, arguments, directives)
        if composite:
            selection.sub = SelectionTree()
        self.items[key] = selection
        return selection

    def fragment(self, type_condition: str) -> SelectionTree:
        key = f"... on {type_condition}"
        existing = self.items.get(key)
        if isinstance(existing, FragmentSelection):
            return existing.sub
        created = FragmentSelection(type_condition, SelectionTree())
        self.items[key] = created
        return created.sub

    def add_field_set(self, field_set: FieldSet, sources: Mapping[str, str] | None = None) -> None:
        """The field set as requirements; `sources` names the aliases some fields are read from."""
        for name, sub in field_set.fields:
            selection = self.add_field(name, composite=sub is not None)
            if sources and name in sources:
                selection.alias = sources[name]
            if sub is not None and selection.sub is not None:
                selection.sub.add_field_set(sub)
        for type_condition, sub in field_set.fragments:
            self.fragment(type_condition).add_field_set(sub)

    def alias_conflicts(
        self, path: tuple[str, ...] = (), counter: list[int] | None = None
    ) -> list[tuple[tuple[str, ...], str]]:
        """Aliases a field of a sibling type condition whose response key another one uses with
        another type in this subgraph (which would not validate there); returns each alias's
        path and the key to rename it back to."""
        counter = counter if counter is not None else [0]
        renames: list[tuple[tuple[str, ...], str]] = []
        seen = {k: i.output_type for k, i in self.items.items() if isinstance(i, FieldSelection)}
        for item in self.items.values():
            if isinstance(item, FragmentSelection):
                inner_path = (*path, f"... on {item.type_condition}")
                for key, inner in item.sub.items.items():
                    if not isinstance(inner, FieldSelection) or inner.output_type is None:
                        continue
                    if seen.setdefault(key, inner.output_type) != inner.output_type:
                        inner.alias = f"{key}__alias_{counter[0]}"
                        counter[0] += 1
                        renames.append(((*inner_path, inner.alias), key))
                renames.extend(item.sub.alias_conflicts(inner_path, counter))
            elif item.sub is not None:
                renames.extend(item.sub.alias_conflicts((*path, item.alias or item.name), counter))
        return renames

    def is_empty(self) -> bool:
        return not self.items

    def print(self, handled: Conditions = frozenset()) -> str:
        items = (i for i in self.items.values() if not _hollow(i))
        return "{" + " ".join(_print_item(item, handled) for item in items) + "}"

    def variables(self, handled: Conditions = frozenset()) -> list[str]:
        names: list[str] = []
        for item in self.items.values():
            if isinstance(item, FragmentSelection):
                names.extend(item.sub.variables(handled))
                continue
            directives = [d for d in item.directives if condition_of(d) not in handled]
            for argument in item.arguments:
                names.extend(_variables_in(argument))
            for directive in directives:
                names.extend(_variables_in(directive))
            if item.sub is not None:
                names.extend(item.sub.variables(handled))
        return list(dict.fromkeys(names))

    def required(self) -> tuple[RequiredSelection, ...]:
        result: list[RequiredSelection] = []
        for item in self.items.values():
            if isinstance(item, FragmentSelection):
                result.append(RequiredFragment(item.type_condition, item.sub.required()))
            else:
                sub = item.sub.required() if item.sub is not None else None
                result.append(RequiredField(item.name, sub, item.alias))
        return tuple(result)


@dataclass
class FragmentSelection:
    type_condition: str
    sub: SelectionTree


def condition_of(directive: DirectiveNode) -> tuple[str, bool] | None:
    """`@include(if: $v)` as (v, True), `@skip(if: $v)` as (v, False); None for literals."""
    argument = directive.arguments[0] if directive.arguments else None
    if argument is None or not isinstance(argument.value, VariableNode):
        return None
    return (argument.value.name.value, directive.name.value == "include")


def _hollow(item: FieldSelection | FragmentSelection) -> bool:
    """A composite field or fragment left selecting nothing, its fields all planned in other
    fetches: a subgraph would reject `manager{}`, so it is not printed."""
    return item.sub is not None and all(_hollow(i) for i in item.sub.items.values())


def _print_item(item: FieldSelection | FragmentSelection, handled: Conditions) -> str:
    if isinstance(item, FragmentSelection):
        return f"...on {item.type_condition}{item.sub.print(handled)}"
    text = f"{item.alias}:{item.name}" if item.alias else item.name
    if item.arguments:
        text += "(" + " ".join(_compact(a) for a in item.arguments) + ")"
    for directive in item.directives:
        if condition_of(directive) not in handled:
            text += _compact(directive)
    if item.sub is not None:
        text += item.sub.print(handled)
    return text


def _compact(node: ArgumentNode | DirectiveNode) -> str:
    if isinstance(node, ArgumentNode):
        return f"{node.name.value}:{print_ast(node.value)}"
    arguments = " ".join(_compact(a) for a in node.arguments or ())
    return f"@{node.name.value}({arguments})" if arguments else f"@{node.name.value}"


def _variables_in(node: ArgumentNode | DirectiveNode) -> list[str]:
    names: list[str] = []

    class Collect(Visitor):
        def enter_variable(self, variable: VariableNode, *_: object) -> None:
            names.append(variable.name.value)

    visit(node, Collect())
    return names


def defer_directive(directives: Sequence[DirectiveNode] | None) -> DirectiveNode | None:
    return next((d for d in directives or () if d.name.value == "defer"), None)


def is_deferred(selection: SelectionNode, disabled: frozenset[str]) -> bool:
    """Whether a selection is a fragment `@defer` delivers later, given the variables of
    `@defer(if:)` that are false."""
    directive = defer_directive(selection.directives)
    if directive is None:
        return False
    condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
    if isinstance(condition, VariableNode):
        return condition.name.value not in disabled
    return not isinstance(condition, BooleanValueNode) or condition.value


def variable_conditions(
    directives: Sequence[DirectiveNode] | None,
) -> tuple[tuple[str, bool], ...] | None:
    """The variable conditions of @skip/@include, in order; None when a literal excludes the
    selection."""
    found: list[tuple[str, bool]] = []
    for directive in directives or ():
        if directive.name.value not in ("skip", "include"):
            continue
        argument = directive.arguments[0].value if directive.arguments else None
        if isinstance(argument, BooleanValueNode):
            if argument.value != (directive.name.value == "include"):
                return None
            continue
        condition = condition_of(directive)
        if condition is not None:
            found.append(condition)
    return tuple(found)

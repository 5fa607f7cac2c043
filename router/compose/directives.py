"""Directive applications copied into the supergraph: @tag, @inaccessible, composed and built-in."""

from __future__ import annotations

import json
from dataclasses import dataclass

from graphql import DirectiveNode, GraphQLDirective, print_ast

from router.compose import features, specs
from router.compose.errors import CompositionError
from router.compose.metadata import Metadata, argument
from router.compose.naming import subgraph_list
from router.compose.subgraph import FEDERATION_DIRECTIVES
from router.compose.supergraph import Applied, Argument, ComposedSupergraph, DirectiveDefinition

BUILT_IN = {"deprecated": False, "specifiedBy": False}
EXECUTABLE_LOCATIONS = {
    "QUERY",
    "MUTATION",
    "SUBSCRIPTION",
    "FIELD",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION",
}


@dataclass
class Composed:
    """A custom directive kept in the supergraph through `@composeDirective`."""

    name: str
    url: str
    original: str
    repeatable: bool


class AppliedDirectives:
    """Decides which directive applications reach the supergraph, under which name, and merges
    them across subgraphs."""

    def __init__(self, metas: list[Metadata]) -> None:
        self.metas = metas
        self.errors: list[CompositionError] = []
        self.names = {
            canonical: name
            for canonical in ("tag", "inaccessible", *features.DIRECTIVES)
            if (name := self._spec_name(canonical)) is not None
        }
        self.canonical_of = {name: canonical for canonical, name in self.names.items()}
        self.tag = self.names.get("tag")
        self.inaccessible = self.names.get("inaccessible")
        self.composed: dict[str, Composed] = {}
        self.definitions: dict[str, GraphQLDirective] = {}
        for meta in metas:
            self._collect_composed(meta)

    def _spec_name(self, canonical: str) -> str | None:
        """The supergraph name of a spec directive, which subgraphs using it must agree on."""
        names: dict[str, str] = {}
        for meta in self.metas:
            local = meta.subgraph.local(canonical)
            if local in meta.subgraph.applied:
                names[meta.name] = local
        distinct = list(dict.fromkeys(names.values()))
        if len(distinct) > 1:
            url = next(m.subgraph.federation.url for m in self.metas if m.subgraph.federation)
            parts = []
            for name in distinct:
                owners = [s for s, n in names.items() if n == name]
                parts.append(f'"@{name}" in {subgraph_list(owners)}')
            self.errors.append(
                CompositionError(
                    "LINK_IMPORT_NAME_MISMATCH",
                    f'The "@{canonical}" directive (from {url}) is imported with mismatched name '
                    "between subgraphs: it is imported as " + " but ".join(parts),
                )
            )
        return distinct[0] if distinct else None

    def _collect_composed(self, meta: Metadata) -> None:
        subgraph = meta.subgraph
        for directive in subgraph.federation_directives(
            subgraph.schema_directives, "composeDirective"
        ):
            name = str(argument(directive, "name") or "").lstrip("@")
            link = next(
                (
                    (link, original)
                    for link in subgraph.links
                    for original in [*link.imports, link.name]
                    if link.local_directive(original) == name
                ),
                None,
            )
            definition = subgraph.schema.get_directive(name)
            if link is None or definition is None or name in subgraph.canonical:
                self.errors.append(_not_composable(meta.name, name, definition is not None))
                continue
            self.composed.setdefault(
                name, Composed(name, link[0].url, link[1], definition.is_repeatable)
            )
            self.definitions.setdefault(name, definition)

    def supergraph_name(self, meta: Metadata, node: DirectiveNode) -> str | None:
        name = node.name.value
        canonical = meta.subgraph.canonical.get(name)
        if canonical is not None:
            return self.names.get(canonical)
        if name in BUILT_IN or name in self.composed:
            return name
        return None

    def merge(self, sources: list[tuple[Metadata, list[DirectiveNode]]]) -> list[Applied]:
        """Repeatable directives: every distinct application; others: the one application, or
        the merge of their arguments for spec directives that define one, or the most common."""
        merged: list[Applied] = []
        for name, distinct in self._distinct_applications(sources).items():
            if self._repeatable(name):
                merged += [same[0] for same in distinct.values()]
            elif len(distinct) > 1 and self.canonical_of.get(name) in features.DIRECTIVES:
                values = [json.loads(key) for key in distinct]
                merged.append(features.merge_applications(self.canonical_of[name], name, values))
            else:
                merged.append(max(distinct.values(), key=len)[0])
        return merged

    def _distinct_applications(
        self, sources: list[tuple[Metadata, list[DirectiveNode]]]
    ) -> dict[str, dict[str, list[Applied]]]:
        """By supergraph directive name, its applications grouped by what their arguments say."""
        applications: dict[str, dict[str, list[Applied]]] = {}
        for meta, nodes in sources:
            for node in nodes:
                name = self.supergraph_name(meta, node)
                if name is None:
                    continue
                args = [(a.name.value, print_ast(a.value)) for a in node.arguments or ()]
                applied = Applied(name, args)
                key = self._comparison_key(name, node, applied)
                applications.setdefault(name, {}).setdefault(key, []).append(applied)
        return applications

    def _comparison_key(self, name: str, node: DirectiveNode, applied: Applied) -> str:
        canonical = self.canonical_of.get(name)
        if canonical in features.DIRECTIVES:
            return json.dumps(features.arguments_of(canonical, node))
        return str(applied)

    def _repeatable(self, name: str) -> bool:
        if name == self.tag:
            return True
        composed = self.composed.get(name)
        return composed.repeatable if composed else False

    def add_to(self, supergraph: ComposedSupergraph) -> None:
        """Link and define, in the supergraph, every directive that may be applied in it."""
        if self.tag:
            specs.add_tag(supergraph, self.tag)
        if self.inaccessible:
            specs.add_inaccessible(supergraph, self.inaccessible)
        features.add_specs(
            supergraph, {c: n for c, n in self.names.items() if c in features.DIRECTIVES}
        )
        by_url: dict[str, list[Composed]] = {}
        for composed in self.composed.values():
            by_url.setdefault(composed.url, []).append(composed)
            supergraph.directives[composed.name] = _definition(self.definitions[composed.name])
        for url, directives in by_url.items():
            imports = ", ".join(_import(d) for d in directives)
            supergraph.links.append(
                Applied("link", [("url", f'"{url}"'), ("import", f"[{imports}]")])
            )
        self._add_executable(supergraph)

    def _add_executable(self, supergraph: ComposedSupergraph) -> None:
        """Executable directives defined alike in every subgraph, on their common locations."""
        per_subgraph = [
            {d.name: d for d in m.subgraph.schema.directives if _is_custom(m, d)}
            for m in self.metas
        ]
        for name, definition in per_subgraph[0].items():
            if name in self.composed or not all(name in d for d in per_subgraph):
                continue
            locations = [
                loc
                for loc in _executable(definition)
                if all(loc in _executable(d[name]) for d in per_subgraph)
            ]
            if locations:
                merged = _definition(definition)
                merged.locations = locations
                merged.repeatable = all(d[name].is_repeatable for d in per_subgraph)
                supergraph.directives[name] = merged


def _not_composable(subgraph: str, name: str, defined: bool) -> CompositionError:
    reason = "it is not a member of a core feature" if defined else "it is not defined"
    return CompositionError(
        "DIRECTIVE_COMPOSITION_ERROR",
        f'Directive "@{name}" in subgraph "{subgraph}" cannot be composed because {reason}',
        subgraph,
    )


def _is_custom(meta: Metadata, directive: GraphQLDirective) -> bool:
    return (
        directive.name not in meta.subgraph.canonical
        and directive.name not in BUILT_IN
        and directive.name not in ("skip", "include", "oneOf")
        and directive.name not in FEDERATION_DIRECTIVES
    )


def _executable(directive: GraphQLDirective) -> list[str]:
    return [loc.name for loc in directive.locations if loc.name in EXECUTABLE_LOCATIONS]


def _definition(directive: GraphQLDirective) -> DirectiveDefinition:
    args = {}
    for name, arg in directive.args.items():
        node = arg.ast_node
        default = print_ast(node.default_value) if node and node.default_value else None
        args[name] = Argument(name, str(arg.type), default, arg.description)
    locations = [loc.name for loc in directive.locations]
    return DirectiveDefinition(directive.name, locations, args, directive.is_repeatable)


def _import(composed: Composed) -> str:
    if composed.name == composed.original:
        return f'"@{composed.name}"'
    return f'{{name: "@{composed.original}", as: "@{composed.name}"}}'

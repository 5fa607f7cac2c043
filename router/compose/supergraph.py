"""The merged supergraph model and its printer, in the layout Apollo's composition prints."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql.language.block_string import print_block_string

ROOT_OPERATIONS = (("query", "Query"), ("mutation", "Mutation"), ("subscription", "Subscription"))


@dataclass
class Applied:
    """A directive application; argument values are already printed GraphQL literals."""

    name: str
    args: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.args:
            return f"@{self.name}"
        return f"@{self.name}(" + ", ".join(f"{k}: {v}" for k, v in self.args) + ")"


@dataclass
class Argument:
    name: str
    type: str = ""
    default: str | None = None
    description: str | None = None
    directives: list[Applied] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.name}: {self.type}"
        if self.default is not None:
            text += f" = {self.default}"
        return " ".join([text, *map(str, self.directives)])


@dataclass
class Field:
    name: str
    type: str = ""
    description: str | None = None
    args: dict[str, Argument] = field(default_factory=dict)
    directives: list[Applied] = field(default_factory=list)
    default: str | None = None


@dataclass
class EnumValue:
    name: str
    description: str | None = None
    directives: list[Applied] = field(default_factory=list)


@dataclass
class NamedType:
    """A supergraph type of kind `type`, `interface`, `union`, `enum`, `input` or `scalar`."""

    kind: str
    name: str
    description: str | None = None
    directives: list[Applied] = field(default_factory=list)
    interfaces: list[str] = field(default_factory=list)
    fields: dict[str, Field] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    values: dict[str, EnumValue] = field(default_factory=dict)


@dataclass
class DirectiveDefinition:
    name: str
    locations: list[str]
    args: dict[str, Argument] = field(default_factory=dict)
    repeatable: bool = False
    description: str | None = None


@dataclass
class ComposedSupergraph:
    links: list[Applied] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)
    directives: dict[str, DirectiveDefinition] = field(default_factory=dict)
    types: dict[str, NamedType] = field(default_factory=dict)
    spec_directives: dict[str, str] = field(default_factory=dict)
    spec_types: dict[str, str] = field(default_factory=dict)


def print_supergraph(supergraph: ComposedSupergraph) -> str:
    """Print like Apollo: schema first, then directives and types, each sorted by name."""
    directives = dict(supergraph.spec_directives)
    directives.update((n, _print_directive(d)) for n, d in supergraph.directives.items())
    types = dict(supergraph.spec_types)
    types.update((n, _print_type(t)) for n, t in supergraph.types.items())
    blocks = [_print_schema(supergraph)]
    blocks += [text for _, text in sorted(directives.items())]
    blocks += [text for _, text in sorted(types.items(), key=_type_order)]
    return "\n\n".join(blocks) + "\n"


def _type_order(item: tuple[str, str]) -> tuple[str, str]:
    return item[0].lower(), item[0]


def _description(text: str | None, indent: str = "") -> str:
    if text is None:
        return ""
    block = print_block_string(text)
    return "\n".join(indent + line if line else line for line in block.split("\n")) + "\n"


def _print_schema(supergraph: ComposedSupergraph) -> str:
    links = "".join(f"\n  {link}" for link in supergraph.links)
    roots = "".join(f"\n  {op}: {name}" for op, name in supergraph.roots.items())
    return f"schema{links}\n{{{roots}\n}}"


def _print_arguments(args: dict[str, Argument], indent: str) -> str:
    if not args:
        return ""
    if not any(arg.description for arg in args.values()):
        return "(" + ", ".join(map(str, args.values())) + ")"
    inner = indent + "  "
    lines = [_description(arg.description, inner) + inner + str(arg) for arg in args.values()]
    return "(\n" + "\n".join(lines) + f"\n{indent})"


def _print_directive(directive: DirectiveDefinition) -> str:
    repeatable = " repeatable" if directive.repeatable else ""
    args = _print_arguments(directive.args, "")
    locations = " | ".join(directive.locations)
    return (
        f"{_description(directive.description)}directive @{directive.name}{args}{repeatable}"
        f" on {locations}"
    )


def _print_type(type_: NamedType) -> str:
    header = f"{_description(type_.description)}{type_.kind} {type_.name}"
    if type_.interfaces:
        header += " implements " + " & ".join(type_.interfaces)
    header += "".join(f"\n  {directive}" for directive in type_.directives)
    if type_.kind == "scalar":
        return header
    if type_.kind == "union":
        return header + ("\n = " + " | ".join(type_.members) if type_.members else "")
    body = _print_values(type_) if type_.kind == "enum" else _print_fields(type_)
    return f"{header}\n{{\n{body}\n}}"


def _print_fields(type_: NamedType) -> str:
    lines = []
    for index, item in enumerate(type_.fields.values()):
        described = _description(item.description, "  ")
        text = f"  {item.name}{_print_arguments(item.args, '  ')}: {item.type}"
        if item.default is not None:
            text += f" = {item.default}"
        text += "".join(f" {directive}" for directive in item.directives)
        lines.append(("\n" if described and index else "") + described + text)
    return "\n".join(lines)


def _print_values(type_: NamedType) -> str:
    lines = []
    for index, value in enumerate(type_.values.values()):
        described = _description(value.description, "  ")
        text = "  " + " ".join([value.name, *map(str, value.directives)])
        lines.append(("\n" if described and index else "") + described + text)
    return "\n".join(lines)

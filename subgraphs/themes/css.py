"""A theme's stylesheet: custom properties generated from its tokens, then the organization's
custom CSS, re-serialized from an allow-list and scoped to the organization's class."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import tinycss2
from tinycss2 import ast

from subgraphs.kernel.errors import Problem
from subgraphs.themes.contract import ThemesErrorCode

MAX_BYTES = 20 * 1024
MAX_RULES = 500
PREFIX = "--vetrai-"
PROPERTIES = frozenset(
    {
        "color",
        "background",
        "background-color",
        "background-image",
        "background-position",
        "background-repeat",
        "background-size",
        "border",
        "border-color",
        "border-style",
        "border-width",
        "border-radius",
        "border-top",
        "border-right",
        "border-bottom",
        "border-left",
        "box-shadow",
        "outline",
        "outline-color",
        "outline-offset",
        "outline-width",
        "padding",
        "padding-top",
        "padding-right",
        "padding-bottom",
        "padding-left",
        "margin",
        "margin-top",
        "margin-right",
        "margin-bottom",
        "margin-left",
        "gap",
        "width",
        "height",
        "min-width",
        "min-height",
        "max-width",
        "max-height",
        "display",
        "font-size",
        "font-style",
        "font-weight",
        "letter-spacing",
        "line-height",
        "text-align",
        "text-decoration",
        "text-transform",
        "opacity",
        "cursor",
        "transition",
    }
)
FUNCTIONS = frozenset(
    {
        "rgb",
        "rgba",
        "hsl",
        "hsla",
        "oklch",
        "oklab",
        "color-mix",
        "var",
        "calc",
        "min",
        "max",
        "clamp",
        "linear-gradient",
        "radial-gradient",
        "url",
    }
)
# Pseudo-classes that select by state; anything else (":has", ":host"...) is refused.
PSEUDO = frozenset(
    {
        "hover",
        "focus",
        "focus-visible",
        "focus-within",
        "active",
        "visited",
        "disabled",
        "checked",
        "first-child",
        "last-child",
        "placeholder",
        "before",
        "after",
    }
)
_FORBIDDEN_WORDS = ("javascript:", "expression", "behavior", "-moz-binding", "</")
_SENTINEL = "vetrai-end-of-stylesheet"


@dataclass(frozen=True)
class CssProblem:
    code: ThemesErrorCode
    message: str
    line: int
    column: int

    @property
    def text(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"

    def as_problem(self) -> Problem:
        return Problem(self.code, self.text, "customCss")


@dataclass(frozen=True)
class Sanitized:
    """The allowed rules, re-serialized and scoped, and every problem of what was refused."""

    css: str
    problems: list[CssProblem]


def _at(node: Any, code: ThemesErrorCode, message: str) -> CssProblem:
    return CssProblem(code, message, node.source_line, node.source_column)


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _tokens(nodes: Iterable[Any]) -> Iterator[Any]:
    """Every token, blocks and functions included with their contents."""
    for node in nodes:
        yield node
        if isinstance(node, ast.FunctionBlock):
            yield from _tokens(node.arguments)
        elif isinstance(node, ast.ParenthesesBlock | ast.SquareBracketsBlock):
            yield from _tokens(node.content)


def _words(node: Any) -> str | None:
    if isinstance(node, ast.IdentToken | ast.StringToken | ast.URLToken):
        return str(node.value).lower()
    if isinstance(node, ast.FunctionBlock):
        return str(node.lower_name)
    return None


def _url_allowed(node: Any, asset_base: str) -> bool:
    if isinstance(node, ast.URLToken):
        target = str(node.value)
    else:
        strings = [a for a in node.arguments if not isinstance(a, ast.WhitespaceToken)]
        if len(strings) != 1 or not isinstance(strings[0], ast.StringToken):
            return False
        target = str(strings[0].value)
    return target.startswith(asset_base + "/") and ".." not in target and "\\" not in target


def _value_problem(tokens: list[Any], asset_base: str) -> tuple[Any, str] | None:
    for token in _tokens(tokens):
        word = _words(token)
        if word is not None and any(bad in word for bad in _FORBIDDEN_WORDS):
            return token, f"{word[:40]!r} is not allowed"
        if isinstance(token, ast.URLToken) or (
            isinstance(token, ast.FunctionBlock) and token.lower_name == "url"
        ):
            if not _url_allowed(token, asset_base):
                return token, f"url() may only point under {asset_base}/"
        elif isinstance(token, ast.FunctionBlock) and token.lower_name not in FUNCTIONS:
            return token, f"the function {token.lower_name}() is not allowed"
        elif isinstance(token, ast.ParseError):
            return token, token.message
        elif isinstance(token, ast.CurlyBracketsBlock | ast.AtKeywordToken):
            return token, "blocks and at-keywords are not allowed in a value"
    return None


def _selectors(prelude: list[Any]) -> list[list[Any]]:
    groups: list[list[Any]] = [[]]
    for token in prelude:
        if isinstance(token, ast.LiteralToken) and token.value == ",":
            groups.append([])
        else:
            groups[-1].append(token)
    return groups


def _selector_problem(selector: list[Any]) -> tuple[Any, str] | None:
    if not any(not isinstance(t, ast.WhitespaceToken) for t in selector):
        return None, "an empty selector"
    previous: Any = None
    for token in selector:
        if isinstance(token, ast.FunctionBlock) and token.lower_name in {"not", "nth-child"}:
            inner = _selector_problem([t for t in token.arguments if _plain(t)])
            if inner is not None or not all(_plain(t) for t in token.arguments):
                return token, f":{token.lower_name}() may hold only simple selectors"
        elif isinstance(token, ast.IdentToken) and _is_colon(previous):
            if token.lower_value not in PSEUDO:
                return token, f"the pseudo-class :{token.lower_value} is not allowed"
        elif not _plain(token):
            return token, "only type, class, id, attribute and state selectors are allowed"
        previous = token
    return None


def _is_colon(token: Any) -> bool:
    return isinstance(token, ast.LiteralToken) and token.value == ":"


def _plain(token: Any) -> bool:
    if isinstance(token, ast.SquareBracketsBlock):
        return all(
            isinstance(t, ast.IdentToken | ast.StringToken | ast.WhitespaceToken)
            or (isinstance(t, ast.LiteralToken) and t.value in {"=", "~", "|", "^", "$", "*"})
            for t in token.content
        )
    if isinstance(token, ast.LiteralToken):
        return token.value in {".", ":", ">", "+", "~", "*"}
    return isinstance(
        token,
        ast.IdentToken | ast.HashToken | ast.WhitespaceToken | ast.NumberToken | ast.DimensionToken,
    )


def _declarations(
    rule: ast.QualifiedRule, asset_base: str, problems: list[CssProblem]
) -> list[str]:
    kept = []
    for node in tinycss2.parse_blocks_contents(
        rule.content, skip_whitespace=True, skip_comments=True
    ):
        if isinstance(node, ast.ParseError):
            problems.append(_at(node, ThemesErrorCode.CSS_INVALID, node.message))
        elif not isinstance(node, ast.Declaration):
            problems.append(
                _at(node, ThemesErrorCode.CSS_NOT_ALLOWED, "nested rules are not allowed")
            )
        elif node.lower_name not in PROPERTIES:
            problems.append(
                _at(
                    node,
                    ThemesErrorCode.CSS_NOT_ALLOWED,
                    f"the property {node.name[:40]!r} is not allowed",
                )
            )
        elif (found := _value_problem(node.value, asset_base)) is not None:
            token, message = found
            problems.append(_at(token, ThemesErrorCode.CSS_NOT_ALLOWED, message))
        else:
            value = tinycss2.serialize(node.value).strip()
            kept.append(f"{node.lower_name}: {value}{' !important' if node.important else ''}")
    return kept


def _rule(
    rule: ast.QualifiedRule, scope: str, asset_base: str, problems: list[CssProblem]
) -> str | None:
    selectors = _selectors(rule.prelude)
    for selector in selectors:
        if (found := _selector_problem(selector)) is not None:
            token, message = found
            problems.append(_at(token or rule, ThemesErrorCode.CSS_NOT_ALLOWED, message))
            return None
    declarations = _declarations(rule, asset_base, problems)
    scoped = ", ".join(f".{scope} {tinycss2.serialize(s).strip()}" for s in selectors)
    text = f"{scoped} {{ {'; '.join(declarations)} }}"
    # Escapes are decoded when parsing, so what is written out is checked once more.
    if any(bad in text.lower() for bad in _FORBIDDEN_WORDS):
        problems.append(
            _at(rule, ThemesErrorCode.CSS_NOT_ALLOWED, "this rule holds forbidden text")
        )
        return None
    return text if declarations else None


def _parsed(css: str, problems: list[CssProblem]) -> list[Any]:
    """Top-level rules; a block, string, comment or function left open swallows the sentinel
    rule appended here, which is how an unclosed one is found (tinycss2 closes them silently)."""
    nodes = tinycss2.parse_stylesheet(
        f"{css}\n{_SENTINEL}{{}}", skip_whitespace=True, skip_comments=True
    )
    last = nodes[-1] if nodes else None
    if not (
        isinstance(last, ast.QualifiedRule)
        and tinycss2.serialize(last.prelude).strip() == _SENTINEL
    ):
        opened = [n for n in nodes if not isinstance(n, ast.ParseError)]
        where = opened[-1] if opened else last
        if where is None:  # all of it in a comment left open: reported where the comment opens
            where = tinycss2.parse_stylesheet(css, skip_comments=False)[-1]
        problems.append(
            _at(where, ThemesErrorCode.CSS_INVALID, 'this rule is not closed (a missing } ) or ")')
        )
    return list(nodes[:-1])


def sanitize(css: str, scope: str, asset_base: str) -> Sanitized:
    """The allowed part of ``css``, every selector under ``.scope``; never raises."""
    problems: list[CssProblem] = []
    size = len(css.encode())
    if size > MAX_BYTES:
        line, column = _position(css, len(css.encode()[:MAX_BYTES].decode(errors="ignore")))
        message = f"custom CSS is {size} bytes, over {MAX_BYTES}"
        return Sanitized("", [CssProblem(ThemesErrorCode.CSS_TOO_LARGE, message, line, column)])
    if (index := css.find("</")) >= 0:
        line, column = _position(css, index)
        problems.append(
            CssProblem(ThemesErrorCode.CSS_NOT_ALLOWED, "'</' is not allowed", line, column)
        )
    rules: list[str] = []
    for counted, node in enumerate(_parsed(css, problems), start=1):
        if counted > MAX_RULES:
            message = f"more than {MAX_RULES} rules"
            problems.append(_at(node, ThemesErrorCode.CSS_TOO_LARGE, message))
            break
        if isinstance(node, ast.ParseError):
            problems.append(_at(node, ThemesErrorCode.CSS_INVALID, node.message))
        elif isinstance(node, ast.AtRule):
            message = f"the at-rule @{node.lower_at_keyword[:40]} is not allowed"
            problems.append(_at(node, ThemesErrorCode.CSS_NOT_ALLOWED, message))
        elif isinstance(node, ast.QualifiedRule) and (
            kept := _rule(node, scope, asset_base, problems)
        ):
            rules.append(kept)
    return Sanitized("\n".join(rules), problems)


def properties(values: dict[str, str]) -> str:
    return "; ".join(f"{PREFIX}{name}: {value}" for name, value in values.items())


def stylesheet(light: dict[str, str], dark: dict[str, str], appearance: str, custom: str) -> str:
    """The whole theme: light (or, for ``dark`` appearance, dark) on ``:root``, dark under the
    system preference unless the appearance is fixed, and on ``[data-theme="dark"]``."""
    root = dark if appearance == "dark" else light
    parts = [f":root {{ {properties(root)} }}"]
    if appearance == "system":
        parts.append(
            f'@media (prefers-color-scheme: dark) {{ :root:not([data-theme="light"]) '
            f"{{ {properties(dark)} }} }}"
        )
    parts.append(f'[data-theme="dark"] {{ {properties(dark)} }}')
    parts.append(f'[data-theme="light"] {{ {properties(light)} }}')
    if custom:
        parts.append(custom)
    return "\n".join(parts) + "\n"

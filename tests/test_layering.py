"""The one-way import rules of docs/architecture.md, read from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
ENGINE = ("router.supergraph", "router.planner", "router.executor", "router.edge", "router.compose")
PLATFORM = ("core", "subgraphs", "vetrai")


def _modules(package: str) -> list[str]:
    return [
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def imports(module: str) -> set[str]:
    """Every module ``module`` imports (absolute names; relative ones resolved)."""
    path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module or ""]).strip(".")
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def _domain(name: str) -> str | None:
    """``auth`` for ``subgraphs.auth.service``; ``kernel`` for the kernel; None outside."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "subgraphs" else None


def _is_contract(name: str) -> bool:
    return _domain(name) not in (None, "kernel") and name.split(".")[2:3] == ["contract"]


def _core_stands_alone(module: str, name: str) -> bool:
    return not (_within(module, "core") and _within(name, "subgraphs", "router", "vetrai"))


def _kernel_knows_no_domain(module: str, name: str) -> bool:
    return not (_domain(module) == "kernel" and _domain(name) not in (None, "kernel"))


def _domains_meet_by_contract(module: str, name: str) -> bool:
    mine, theirs = _domain(module), _domain(name)
    if mine in (None, "kernel") or theirs in (None, "kernel", mine):
        return True
    return _is_contract(name)


def _engine_knows_no_platform(module: str, name: str) -> bool:
    return not (_within(module, *ENGINE) and _within(name, *PLATFORM))


def _router_reads_only_contracts(module: str, name: str) -> bool:
    return not (_within(module, "router") and _within(name, "subgraphs") and not _is_contract(name))


RULES = [
    _core_stands_alone,
    _kernel_knows_no_domain,
    _domains_meet_by_contract,
    _engine_knows_no_platform,
    _router_reads_only_contracts,
]


def violations(module: str, imported: set[str]) -> list[str]:
    """What of ``imported`` breaks a rule for ``module``."""
    return sorted(name for name in imported if not all(rule(module, name) for rule in RULES))


@pytest.mark.parametrize("module", _modules("core") + _modules("subgraphs") + _modules("router"))
def test_imports_follow_the_layering(module: str) -> None:
    assert violations(module, imports(module)) == []


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("subgraphs.kernel.app", "subgraphs.notifications.contract"),
        ("subgraphs.tenancy.service", "subgraphs.notifications.service"),
        ("router.planner.build", "core.caller"),
        ("router.executor.http", "subgraphs.keys.contract"),
        ("router.identity", "subgraphs.kernel.db"),
        ("router.identity", "subgraphs.keys.service"),
        ("core.caller", "subgraphs.kernel.errors"),
    ],
)
def test_a_forbidden_import_is_reported(module: str, imported: str) -> None:
    assert violations(module, {imported}) == [imported]


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("subgraphs.tenancy.service", "subgraphs.notifications.contract"),
        ("subgraphs.tenancy.service", "subgraphs.kernel.db"),
        ("router.identity", "subgraphs.keys.contract"),
        ("router.identity", "core.caller"),
    ],
)
def test_an_allowed_import_is_not_reported(module: str, imported: str) -> None:
    assert violations(module, {imported}) == []

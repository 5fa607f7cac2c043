"""Mutation testing of one module (``make mutate MODULE=...``): one operator, check or constant
changed at a time, loaded in place of the module inside pytest only; reports what no test saw.

One run of the mapped tests first records which lines of the module each test runs; a mutant
then runs only the tests that run its line, fastest first, up to the first failure."""

from __future__ import annotations

import argparse
import ast
import asyncio
import copy
import difflib
import importlib.abc
import importlib.metadata
import importlib.util
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import CodeType, FrameType, FunctionType, ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    # Not imported in a mutant's pytest process before the mutant's loader is in place.
    from vetrai.devstack import Stack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The tests that cover each module; a module not listed runs the whole suite.
TESTS: dict[str, list[str]] = {
    "subgraphs/kernel/rls.py": ["tests/security"],
    "subgraphs/kernel/db.py": [
        "tests/subgraphs/kernel/test_db_settings.py",
        "tests/security",
        "tests/subgraphs/keys/test_verification.py",
    ],
    "core/caller_context.py": [
        "tests/subgraphs/kernel/test_caller_context.py",
        "tests/subgraphs/kernel/test_context_key.py",
    ],
    "subgraphs/keys/service.py": [
        "tests/subgraphs/keys",
        "tests/security/test_keys_isolation.py",
    ],
    "subgraphs/keys/repository.py": [
        "tests/subgraphs/keys",
        "tests/security/test_keys_isolation.py",
    ],
    "router/identity.py": [
        "tests/router/platform/test_identity_claims.py",
        "tests/router/platform/test_identity_outages.py",
        "tests/router/platform/test_identity_key_cache.py",
        "tests/router/platform/test_identity_changes.py",
        "tests/router/platform/test_ended_sessions.py",
        "tests/router/platform/test_announcements_lost.py",
        "tests/router/platform/test_identity_caching.py",
        "tests/router/platform/test_rate_limit_by_address.py",
        "tests/router/platform/test_protection.py::test_jwt_caller_works_in_their_active_organization",
        # Not the test of two `vetrai router` processes: they run the real module.
        *(
            f"tests/router/platform/test_api_keys.py::test_{name}"
            for name in (
                "key_as_written_reads_its_organization_then_is_rate_limited",
                "revoked_key_stops_working_within_a_second",
                "rotation_keeps_the_old_secret_for_the_grace_period",
                "expired_key_is_refused",
                "keys_of_a_deleted_organization_stop_working",
            )
        ),
    ],
    "router/ratelimit.py": [
        "tests/router/test_ratelimit.py",
        "tests/router/platform/test_rate_limit_counting.py",
    ],
    "router/pipeline/stages.py": [
        f"tests/router/platform/test_{name}.py"
        for name in (
            "transports",
            "protection",
            "limits",
            "rate_limit_by_address",
            "authorization_directives",
            "api_keys",
            "plans",
            "ended_sessions",
            "telemetry",
            "identity_outages",
            "rate_limit_counting",
            "stages_counting",
            "stages_outages",
        )
    ]
    + [
        "tests/router/test_served_supergraph.py",
        "tests/router/test_persisted_queries_outage.py",
        "tests/router/test_request_parameters.py",
        "tests/subgraphs/billing/test_through_router.py::test_past_the_spend_cap_the_router_refuses_until_the_cap_rises",
    ],
    "router/pipeline/errors.py": [
        "tests/router/test_request_parameters.py",
        "tests/router/platform/test_limits.py",
        "tests/router/platform/test_transports.py",
    ],
    "router/pipeline/operation.py": [
        "tests/router/test_request_parameters.py",
        "tests/router/test_edge_http.py",
        "tests/router/platform/test_transports.py",
    ],
    "router/pipeline/runtime.py": [
        "tests/router/test_served_supergraph.py",
        "tests/router/test_hot_reload.py",
        "tests/router/platform/test_authorization_directives.py",
    ],
    "router/policy.py": ["tests/router/test_policy.py"],
    "router/limits.py": [
        "tests/router/platform/test_limits.py",
        "tests/router/platform/test_limits_measure.py",
        "tests/router/platform/test_protection.py",
        "tests/router/platform/test_transports.py",
    ],
    "router/authorization.py": [
        "tests/router/test_authorization.py",
        "tests/router/test_policy.py",
        "tests/router/platform/test_authorization_directives.py",
        "tests/router/platform/test_plans.py",
        "tests/router/platform/test_defer.py",
        "tests/router/test_request_parameters.py",
    ],
    "core/caller.py": ["tests/core/test_caller.py", "tests/router/test_policy.py"],
    "core/scopes.py": ["tests/core/test_caller.py", "tests/router/test_policy.py"],
    "router/assets.py": ["tests/router/platform/test_public_assets.py"],
    "router/resp.py": ["tests/router/test_resp.py", "tests/router/test_ratelimit.py"],
}

# The billing plan at the router: its rate limits, request counters and quota, and the plan's
# limits in the caller.
TESTS |= {
    "router/ratelimit.py": [
        *TESTS["router/ratelimit.py"],
        "tests/router/platform/test_rate_limit_counting.py",
        "tests/router/platform/test_plans.py::test_requests_are_counted_per_hour_and_month_and_refused_past_a_hard_quota",
        "tests/router/platform/test_protection.py::test_rate_limits_by_plan_by_address_and_by_operation",
    ],
    "core/caller.py": [
        *TESTS["core/caller.py"],
        "tests/router/platform/test_rate_limit_counting.py",
        "tests/subgraphs/kernel/test_caller_context.py",
    ],
}

# The pytest process of a mutant finds its module and mutated source here.
MODULE_VAR = "VETRAI_MUTANT_MODULE"
SOURCE_VAR = "VETRAI_MUTANT_SOURCE"


# mutations --------------------------------------------------------------------------------------

_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
}
_CALL_SWAPS = {"min": "max", "max": "min"}
# Statements that only log or warn are not mutated, nor their arguments: removing a log line
# changes nothing a caller sees. With the module-level names bound to ``logging.getLogger()``.
_QUIET_CALLS = {"log", "logger", "warnings"}

Mutate = Callable[[ast.AST], None]


@dataclass(frozen=True)
class Site:
    """One possible mutation: the node (by its index in ``ast.walk``) and how to change it."""

    index: int
    line: int
    what: str
    apply: Mutate
    at_import: bool = False
    last_line: int = 0  # the last line whose run can meet the change (``line`` when 0)

    @property
    def lines(self) -> range:
        return range(self.line, max(self.line, self.last_line) + 1)


def _set(field: str, value: Callable[[], object]) -> Mutate:
    return lambda node: setattr(node, field, value())


def _sites_of(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> Iterator[tuple[str, Mutate]]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swap = _COMPARE_SWAPS.get(type(op))
            if swap:
                yield f"{type(op).__name__} -> {swap.__name__}", _replace_op(i, swap)
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield f"{type(node.op).__name__} -> {other.__name__}", _set("op", other)
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
        operator = _BINOP_SWAPS[type(node.op)]
        yield f"{type(node.op).__name__} -> {operator.__name__}", _set("op", operator)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not removed", lambda n: _become(n, getattr(n, "operand"))  # noqa: B009
    elif isinstance(node, ast.Constant) and not _is_docstring(node, parents):
        yield from _constant_sites(node)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        swap_name = _CALL_SWAPS.get(node.func.id)
        if swap_name:
            yield f"{node.func.id} -> {swap_name}", _set("func", lambda: ast.Name(swap_name))
    elif isinstance(node, ast.If | ast.While | ast.IfExp | ast.Assert):
        for forced in (True, False):
            if not (isinstance(node.test, ast.Constant) and node.test.value is forced):
                yield f"condition -> {forced}", _set("test", partial(ast.Constant, forced))
    elif isinstance(node, ast.Raise):
        yield "raise removed", lambda n: _become(n, ast.Pass())
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            yield "return None", _set("value", lambda: ast.Constant(None))
    elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Await | ast.Call):
        yield "statement removed", lambda n: _become(n, ast.Pass())


def _constant_sites(node: ast.Constant) -> Iterator[tuple[str, Mutate]]:
    value = node.value
    if isinstance(value, bool):
        yield f"{value} -> {not value}", _set("value", lambda: not value)
    elif isinstance(value, int | float):
        yield f"{value} -> {value + 1}", _set("value", lambda: value + 1)
        yield f"{value} -> {value - 1}", _set("value", lambda: value - 1)


def _replace_op(i: int, op: type[ast.cmpop]) -> Mutate:
    def apply(node: ast.AST) -> None:
        getattr(node, "ops")[i] = op()  # noqa: B009

    return apply


def _become(node: ast.AST, other: ast.AST) -> None:
    """Turn ``node`` into ``other`` in place (its parent keeps pointing at the same object)."""
    node.__class__ = other.__class__
    node.__dict__.clear()
    node.__dict__.update(other.__dict__)


def _is_docstring(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    statement = parents.get(node)
    if not isinstance(statement, ast.Expr):
        return False
    body = getattr(parents.get(statement), "body", None)
    if not body:
        return False
    return body[0] is statement and isinstance(getattr(node, "value", None), str)


def _quiet(tree: ast.Module) -> set[ast.AST]:
    """Every node of the statements that only call a logger (or ``warnings``)."""
    loggers = _loggers(tree)
    quiet: set[ast.AST] = set()
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.Expr):
            continue
        call = statement.value.value if isinstance(statement.value, ast.Await) else statement.value
        if isinstance(call, ast.Call) and _root(call.func) in loggers:
            quiet.update(ast.walk(statement))
    return quiet


def _loggers(tree: ast.Module) -> set[str]:
    """The names the module binds to ``logging.getLogger(...)``, and the usual ones."""
    named = set(_QUIET_CALLS)
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and _is_get_logger(statement.value):
            named.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and _is_get_logger(statement.value)
        ):
            named.add(statement.target.id)
    return named


def _is_get_logger(value: ast.expr | None) -> bool:
    func = value.func if isinstance(value, ast.Call) else None
    if isinstance(func, ast.Attribute):
        return func.attr == "getLogger" and _root(func) == "logging"
    return isinstance(func, ast.Name) and func.id == "getLogger"


def _root(node: ast.expr) -> str | None:
    """The name an attribute chain starts from (``log`` in ``log.warning``)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _in_annotation(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    child, parent = node, parents.get(node)
    while parent is not None:
        if child in (getattr(parent, "annotation", None), getattr(parent, "returns", None)):
            return True
        child, parent = parent, parents.get(parent)
    return False


def _at_import(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether ``node`` runs when the module is imported: outside every function's body (a
    default value or a decorator is outside it)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef) and child in parent.body:
            return False
        if isinstance(parent, ast.Lambda) and child is parent.body:
            return False
        child, parent = parent, parents.get(parent)
    return True


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def sites(source: str) -> list[Site]:
    tree = ast.parse(source)
    parents = _parents(tree)
    quiet = _quiet(tree)
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if node in quiet or _in_annotation(node, parents):
            continue
        line, at_import = getattr(node, "lineno", 0), _at_import(node, parents)
        last = _last_line(node)
        for what, apply in _sites_of(node, parents):
            found.append(Site(index, line, what, apply, at_import, last))
    return sorted(found, key=lambda s: (s.line, s.index))


def _last_line(node: ast.AST) -> int:
    """The last line a test may run to meet a change of ``node``: a test may run only the
    condition of a conditional expression over three lines, or only the last of a call's
    arguments; of an ``if`` or a loop, only its condition counts (its body is elsewhere)."""
    if isinstance(node, ast.If | ast.While):
        node = node.test
    last = getattr(node, "end_lineno", None)
    return last if isinstance(last, int) else int(getattr(node, "lineno", 0))


def mutant(source: str, site: Site) -> str:
    tree = ast.parse(source)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == site.index)
    site.apply(node)
    return ast.unparse(ast.fix_missing_locations(copy.deepcopy(tree)))


# running ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    site: Site
    result: str  # killed, survived, timeout, error, unreached (no test runs its line)
    diff: str
    tests: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Coverage:
    """What the unmutated run recorded: each test's lines of the module and its duration."""

    lines: dict[str, set[int]]
    seconds: dict[str, float]
    took: float

    def tests_of(self, site: Site) -> list[str]:
        """The tests that run the site's line, fastest first; every test for a line run at
        import, whose change every test meets."""
        every = sorted(self.lines, key=lambda t: self.seconds[t])
        if site.at_import:
            return every
        return [t for t in every if not self.lines[t].isdisjoint(site.lines)]

    def timeout(self, tests: list[str]) -> float:
        """Three times what ``tests`` took unmutated, with the run's start-up; a minute at least."""
        start_up = self.took - sum(self.seconds.values())
        return max(60.0, 3 * (start_up + sum(self.seconds.get(t, self.took) for t in tests)))


# A fork's exit code when its preparation (the mutant's patch) failed: no test ran.
_UNPREPARED = 99
_PYTEST = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist"]


def _covered(tests: list[str], traced: Path) -> tuple[int | None, Coverage]:
    """Run ``tests`` unmutated, recording the lines of ``traced`` each one runs; what pytest
    said is printed if a test fails."""
    recorder = _LineRecorder(str(traced))
    with tempfile.TemporaryDirectory() as folder:
        out, said = Path(folder) / "lines.json", Path(folder) / "pytest.txt"
        code, took = _forked(tests, lambda: recorder.start(out), 3600, str(said))
        recorded = json.loads(out.read_text()) if out.exists() else {}
        if code != 0:
            print(said.read_text()[-5000:])
    lines = {test: set(entry["lines"]) for test, entry in recorded.items()}
    seconds = {test: float(entry["seconds"]) for test, entry in recorded.items()}
    return code, Coverage(lines, seconds, took)


_job = threading.local()


def _take_job_slot(slots: Iterator[int]) -> None:
    _job.slot = next(slots)


def _own_redis(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the Redis database of this job's thread (1, 2, ...; the unmutated run keeps
    its own): mutants run at once must not meet each other's locks, counters or announcements."""
    slot = getattr(_job, "slot", None)
    if slot is None or "REDIS_URL" not in env:
        return env
    url = env["REDIS_URL"]
    if url.startswith("unix:"):  # the database is a query parameter of a socket's path
        path, _, query = url.partition("?")
        kept = [q for q in query.split("&") if q and not q.startswith("db=")]
        return {**env, "REDIS_URL": f"{path}?{'&'.join([*kept, f'db={slot}'])}"}
    return {**env, "REDIS_URL": urlsplit(url)._replace(path=f"/{slot}").geturl()}


def _forked(
    tests: list[str], prepare: Callable[[], object], timeout: float, output: str = os.devnull
) -> tuple[int | None, float]:
    """Run pytest in a fork of this process (its imports already done), after ``prepare``,
    writing to ``output``; the exit code (None on timeout) and how long it took."""
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = _UNPREPARED
        try:
            os.setsid()
            os.environ.update(_own_redis(dict(os.environ)))
            quiet = os.open(output, os.O_WRONLY | os.O_CREAT)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            plugins = [p for p in [prepare()] if p]
            code = int(pytest.main([*_PYTEST, *tests], plugins=plugins))
        finally:
            os._exit(code)
    while time.monotonic() - started < timeout:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - started
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None, time.monotonic() - started


def _pytest(tests: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, float]:
    """Run pytest in a new interpreter, in the order given; its exit code (None on timeout)
    and how long it took."""
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", *_PYTEST, "-p", "mutate"]
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [*command, *tests],
        cwd=ROOT,
        env=_own_redis(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        code = None
    return code, time.monotonic() - started


def _environment(module: str, source_file: Path) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "tools"), str(ROOT)])
    return {**os.environ, "PYTHONPATH": path, MODULE_VAR: module, SOURCE_VAR: str(source_file)}


# CPython 3.11's parser keeps its recursion depth per interpreter: two threads parsing at once
# can fail with "AST constructor recursion depth mismatch".
_PARSING = threading.Lock()


def _run_one(module: ModuleType, original: str, site: Site, coverage: Coverage) -> Outcome:
    with _PARSING:
        changed = mutant(original, site)
        unmutated = ast.unparse(ast.parse(original))
    diff = "".join(
        difflib.unified_diff(
            unmutated.splitlines(keepends=True), changed.splitlines(keepends=True), n=0
        )
    )
    shown = "".join(diff.splitlines(keepends=True)[2:])
    tests = coverage.tests_of(site)
    if not tests:
        return Outcome(site, "unreached", shown)
    timeout = coverage.timeout(tests)
    code: int | None = _UNPREPARED
    if not site.at_import:
        code, took = _forked(tests, lambda: _patch(module, original, changed), timeout)
    if code == _UNPREPARED:
        # Run at import, or where the patch in place failed (a function a decorator wrapped):
        # a new interpreter imports the mutant in place of the module.
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
            handle.write(changed)
        try:
            code, took = _pytest(tests, _environment(module.__name__, Path(handle.name)), timeout)
        finally:
            Path(handle.name).unlink()
    return Outcome(site, _result(code), shown, len(tests), took)


def _result(code: int | None) -> str:
    if code is None:
        return "timeout"
    return {0: "survived", _UNPREPARED: "error"}.get(code, "killed")


def _patch(module: ModuleType, original: str, source: str) -> None:
    """Give the module's functions and methods the code of their mutated versions, in place, so
    that whatever imported them runs the mutant. Functions are matched by qualified name and,
    for those sharing one (a property's getter and setter), by their order in the source; a
    mutant in no function reached this way (one behind another module's decorator) raises."""
    file = str(module.__file__)
    unchanged = _by_name(_codes(compile(ast.unparse(ast.parse(original)), file, "exec")))
    mutated = _by_name(_codes(compile(source, file, "exec")))
    ours = [f for f in _functions(module, vars(module).values()) if f.__code__.co_filename == file]
    originals = _by_name(f.__code__ for f in ours)
    reached = False
    for function in ours:
        name = function.__code__.co_qualname
        rank = originals[name].index(function.__code__)
        function.__code__ = mutated[name][rank]
        reached = reached or mutated[name][rank] != unchanged[name][rank]
    if not reached:
        raise LookupError("the mutated code is in no function of the module")


def _by_name(codes: Iterable[CodeType]) -> dict[str, list[CodeType]]:
    named: dict[str, list[CodeType]] = {}
    for code in sorted(set(codes), key=lambda c: c.co_firstlineno):
        named.setdefault(code.co_qualname, []).append(code)
    return named


def _codes(code: CodeType) -> Iterator[CodeType]:
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield const
            yield from _codes(const)


def _functions(module: ModuleType, members: Iterable[object]) -> Iterator[FunctionType]:
    """The functions of ``module`` among ``members``, those of its classes included."""
    for member in members:
        if isinstance(member, staticmethod | classmethod):
            member = member.__func__
        if isinstance(member, property):
            yield from _functions(module, (member.fget, member.fset, member.fdel))
        elif isinstance(member, FunctionType) and member.__module__ == module.__name__:
            yield member
        elif isinstance(member, type) and member.__module__ == module.__name__:
            yield from _functions(module, vars(member).values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="the module's path, e.g. subgraphs/keys/service.py")
    parser.add_argument("--tests", nargs="+", help="test paths (default: the module's map)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once")
    parser.add_argument("--lines", help="only mutate these lines: FIRST-LAST[,LINE,...]")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args()
    path = Path(args.module)
    dotted = ".".join(path.with_suffix("").parts)
    original = (ROOT / path).read_text()
    found = sites(original)
    if args.lines:
        found = [s for s in found if _within(s.line, args.lines)]
    if args.list:
        for site in found:
            print(f"{path}:{site.line}: {site.what}")
        return 0
    mapped = TESTS.get(str(path), ["tests"])
    tests = args.tests or [t for t in mapped if (ROOT / t.partition("::")[0]).exists()]
    stack = _shared_servers()
    try:
        module = _imported(dotted, tests)
        with _template_database():
            return _run(path, module, original, found, tests, args.jobs)
    finally:
        stack.stop()


def _run(
    path: Path, module: ModuleType, original: str, found: list[Site], tests: list[str], jobs: int
) -> int:
    code, coverage = _covered(tests, ROOT / path)
    if code != 0:
        print(f"the tests fail without any mutant (exit {code}): {' '.join(tests)}")
        return 2
    print(
        f"{len(found)} mutants of {path}; tests: {' '.join(tests)}"
        f" ({len(coverage.lines)} tests, {coverage.took:.0f} s unmutated and traced)"
    )
    outcomes = []
    slots = itertools.count(1)
    with ThreadPoolExecutor(jobs, initializer=_take_job_slot, initargs=(slots,)) as pool:
        runs = [pool.submit(_run_one, module, original, s, coverage) for s in found]
        for done, run in enumerate(as_completed(runs), 1):
            outcome = run.result()
            print(
                f"[{done}/{len(runs)}] {outcome.result}: {path}:{outcome.site.line}: "
                f"{outcome.site.what} ({outcome.tests} tests, {outcome.seconds:.0f} s)",
                flush=True,
            )
            outcomes.append(outcome)
    outcomes.sort(key=lambda o: (o.site.line, o.site.index))
    return _report(path, outcomes)


def _within(line: int, ranges: str) -> bool:
    """Whether ``line`` is in ``ranges``, e.g. ``"53,160-170"``."""
    for part in ranges.split(","):
        first, _, last = part.partition("-")
        if int(first) <= line <= int(last or first):
            return True
    return False


def _imported(dotted: str, tests: list[str]) -> ModuleType:
    """The module, imported with pytest's plugins and the tests' fixtures and modules: every
    fork starts with them (they cost a dozen seconds of CPU per run otherwise)."""
    os.chdir(ROOT)
    for plugin in importlib.metadata.entry_points(group="pytest11"):
        plugin.load()
    importlib.import_module("tests.conftest")
    for test in tests:
        file = Path(test.partition("::")[0])
        for found in [file] if file.suffix == ".py" else sorted(file.rglob("test_*.py")):
            importlib.import_module(".".join(found.with_suffix("").parts))
    return importlib.import_module(dotted)


@contextmanager
def _template_database() -> Iterator[None]:
    """One database migrated for the whole run, which each run's tests copy instead of
    migrating their own: migrated with the logins the tests read (their data folder's)."""
    from tests.conftest import TEMPLATE_VAR, TEST_DATA, database_of_our_own
    from vetrai.devstack import start_stack
    from vetrai.settings import load_settings

    base = load_settings(
        environment="test",
        data_dir=TEST_DATA,
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
    )
    loop = asyncio.new_event_loop()
    database = database_of_our_own(start_stack(base, say=lambda _: None).settings)
    template = loop.run_until_complete(database.__aenter__())
    assert template.core.database_url  # noqa: S101 - database_of_our_own sets it
    os.environ[TEMPLATE_VAR] = str(make_url(template.core.database_url).database)
    try:
        yield
    finally:
        del os.environ[TEMPLATE_VAR]
        loop.run_until_complete(database.__aexit__(None, None, None))
        loop.close()


def _shared_servers() -> Stack:
    """One PostgreSQL and Redis for every mutant's run; kept running while the returned
    object lives."""
    from vetrai.devstack import start_stack
    from vetrai.settings import load_settings

    base = load_settings(
        environment="test",
        data_dir=ROOT / ".data" / "test",
        database_url=os.environ.get("DATABASE_URL"),
        redis_url=os.environ.get("REDIS_URL"),
    )
    stack = start_stack(base, say=lambda _: None)
    os.environ["DATABASE_URL"] = str(stack.settings.core.database_url)
    os.environ["REDIS_URL"] = str(stack.settings.core.redis_url)
    return stack


def _report(path: Path, outcomes: list[Outcome]) -> int:
    survivors = [o for o in outcomes if o.result in ("survived", "unreached")]
    for outcome in survivors:
        print(
            f"\n{outcome.result.upper()} {path}:{outcome.site.line}: {outcome.site.what}"
            f"\n{outcome.diff}"
        )
    errors = [o for o in outcomes if o.result == "error"]
    for outcome in errors:
        print(f"\nNOT RUN (the patch failed) {path}:{outcome.site.line}: {outcome.site.what}")
    killed = len(outcomes) - len(survivors) - len(errors)
    timeouts = sum(o.result == "timeout" for o in outcomes)
    unreached = sum(o.result == "unreached" for o in outcomes)
    score = 100 * killed / len(outcomes) if outcomes else 100.0
    print(
        f"\n{path}: {killed} of {len(outcomes)} mutants killed ({score:.0f}%),"
        f" {timeouts} by timeout, {len(survivors)} survived ({unreached} run by no test),"
        f" {len(errors)} not run"
    )
    return 1 if survivors else 0


# inside the mutant's pytest process ------------------------------------------------------------


class _MutantLoader(importlib.abc.SourceLoader):
    """Loads the mutated source under the module's real name and file name."""

    def __init__(self, origin: str, source: Path) -> None:
        self.origin = origin
        self.source = source

    def get_filename(self, fullname: str) -> str:
        return self.origin

    def get_data(self, path: str) -> bytes:
        return self.source.read_bytes()


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, source: Path) -> None:
        self.module = module
        self.source = source

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname != self.module:
            return None
        sys.meta_path.remove(self)
        real = importlib.util.find_spec(fullname)
        sys.meta_path.insert(0, self)
        if real is None or real.origin is None:
            return None
        loader = _MutantLoader(real.origin, self.source)
        return importlib.util.spec_from_file_location(fullname, real.origin, loader=loader)


class _LineRecorder:
    """A pytest plugin recording the lines of one file that each test runs, from its setup to
    its teardown, in every thread; a test using a fixture of a wider scope is counted as
    running what that fixture's setup ran, even when an earlier test set it up."""

    def __init__(self, traced: str) -> None:
        self.traced = traced
        self.running: set[int] = set()
        self.recorded: dict[str, dict[str, Any]] = {}
        self.started = 0.0
        self.fixture_lines: dict[tuple[int, int], set[int]] = {}

    def start(self, out: Path) -> _LineRecorder:
        self.out = out
        sys.settrace(self._call)
        threading.settrace(self._call)
        return self

    def _call(self, frame: FrameType, event: str, arg: object) -> Any:
        return self._line if frame.f_code.co_filename == self.traced else None

    def _line(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "line":
            self.running.add(frame.f_lineno)
        return self._line

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Iterator[None]:
        outer, self.running = self.running, set()
        yield
        if fixturedef.scope != "function":
            self.fixture_lines[(id(fixturedef), getattr(request, "param_index", 0))] = self.running
        self.running = outer | self.running

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        yield
        if not isinstance(item, pytest.Function):
            return
        indices = getattr(getattr(item, "callspec", None), "indices", {})
        for definitions in item._fixtureinfo.name2fixturedefs.values():
            used = definitions[-1]
            key = (id(used), indices.get(used.argname, 0))
            self.running |= self.fixture_lines.get(key, set())

    def pytest_runtest_logstart(self) -> None:
        self.running = set()
        self.started = time.monotonic()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        seconds = time.monotonic() - self.started
        self.recorded[nodeid] = {"lines": sorted(self.running), "seconds": seconds}

    def pytest_sessionfinish(self) -> None:
        self.out.write_text(json.dumps(self.recorded))


if __name__ == "__main__":
    sys.exit(main())
elif os.environ.get(MODULE_VAR):
    # Loaded by pytest (``-p mutate``) before any test imports the module under test.
    sys.meta_path.insert(0, _MutantFinder(os.environ[MODULE_VAR], Path(os.environ[SOURCE_VAR])))

"""The mutants ``make mutate`` makes of a source: which changes, where, and which not at all."""

from __future__ import annotations

import threading
from pathlib import Path
from textwrap import dedent

import pytest

from tools.mutate import Coverage, _covered, _own_redis, _take_job_slot, mutant, sites


def _mutants(source: str) -> list[tuple[int, str]]:
    return [(site.line, site.what) for site in sites(dedent(source))]


def test_a_comparison_yields_its_flip() -> None:
    source = "def f(a, b):\n    return a < b\n"
    assert _mutants(source) == [(2, "return None"), (2, "Lt -> LtE")]
    (site,) = [s for s in sites(source) if s.what == "Lt -> LtE"]
    assert "return a <= b" in mutant(source, site)


def test_each_operator_of_a_chained_comparison_flips_alone() -> None:
    source = "def f(a, b, c):\n    return a == b in c\n"
    flips = {what for _, what in _mutants(source)}
    assert {"Eq -> NotEq", "In -> NotIn"} <= flips
    (site,) = [s for s in sites(source) if s.what == "In -> NotIn"]
    assert "return a == b not in c" in mutant(source, site)


def test_a_call_statement_may_be_removed() -> None:
    source = """
        async def f(store):
            await store.flush()
        """
    assert _mutants(source) == [(3, "statement removed")]


def test_a_log_line_yields_no_mutant_whatever_the_loggers_name() -> None:
    source = """
        import logging
        import warnings

        log = logging.getLogger("vetrai.keys")
        audit: logging.Logger = logging.getLogger(__name__)

        def f(count):
            log.warning("lost %d", count + 1, exc_info=True)
            audit.info("seen", extra={"fields": {"n": 2}})
            warnings.warn("old", stacklevel=2)
            return count > 0
        """
    assert _mutants(source) == [
        (12, "return None"),
        (12, "Gt -> GtE"),
        (12, "0 -> 1"),
        (12, "0 -> -1"),
    ]


def test_a_call_on_a_name_that_is_no_logger_is_mutated() -> None:
    source = """
        import logging

        audit = logging.Logger("vetrai.audit")

        def f(journal):
            audit.info("seen")
            journal.warning("kept")
        """
    assert _mutants(source) == [(7, "statement removed"), (8, "statement removed")]


def test_docstrings_and_annotations_yield_no_mutant() -> None:
    source = '''
        def f(a: int = 1) -> bool:
            """Whether it holds."""
            return True
        '''
    assert _mutants(source) == [
        (2, "1 -> 2"),
        (2, "1 -> 0"),
        (4, "return None"),
        (4, "True -> False"),
    ]


def test_a_conditional_expression_is_met_by_the_tests_of_each_of_its_lines() -> None:
    source = """
        def f(key, org):
            return (
                (key, org)
                if key is not None and org is not None
                else None
            )
        """
    forced = [s for s in sites(dedent(source)) if s.what == "condition -> True"]
    assert [list(s.lines) for s in forced] == [[4, 5, 6]]
    lines = {"runs_the_condition": {3, 5, 6}, "runs_none_of_it": {2}}
    coverage = Coverage(lines, dict.fromkeys(lines, 0.1), took=1.0)
    assert coverage.tests_of(forced[0]) == ["runs_the_condition"]


def test_an_if_is_met_by_the_tests_of_its_condition_not_of_its_body() -> None:
    source = """
        def f(a):
            if a:
                return 1
            return 2
        """
    (forced, *_) = [s for s in sites(dedent(source)) if s.what == "condition -> True"]
    assert list(forced.lines) == [3]


def test_a_test_meets_what_its_wider_fixture_ran_though_another_test_set_it_up(
    tmp_path: Path,
) -> None:
    folder = tmp_path.resolve()
    traced = folder / "traced_code.py"
    traced.write_text("def made():\n    return 1\n\n\ndef called():\n    return 2\n")
    (folder / "test_uses.py").write_text(
        dedent(
            """
            import pytest
            import traced_code

            @pytest.fixture(scope="module", params=[1, 2])
            def made(request):
                return traced_code.made() + request.param

            def test_first(made):
                traced_code.called()

            def test_second(made):
                pass
            """
        )
    )

    code, coverage = _covered([str(folder / "test_uses.py")], traced)

    assert code == 0
    assert sorted(coverage.lines.values(), key=len) == [{2}, {2}, {2, 6}, {2, 6}]
    assert [t.split("::")[1] for t in coverage.lines if coverage.lines[t] == {2}] == [
        "test_second[1]",
        "test_second[2]",
    ]


@pytest.mark.parametrize(
    ("url", "own"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/2"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/2"),
        ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock?db=2"),
        ("unix:///tmp/redis.sock?db=0&timeout=1", "unix:///tmp/redis.sock?timeout=1&db=2"),
    ],
)
def test_each_job_runs_its_mutants_on_a_redis_database_of_its_own(url: str, own: str) -> None:
    slots = iter([2])
    seen: list[dict[str, str]] = []

    def job() -> None:
        _take_job_slot(slots)
        seen.append(_own_redis({"REDIS_URL": url, "OTHER": "kept"}))

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()

    assert seen == [{"REDIS_URL": own, "OTHER": "kept"}]
    assert _own_redis({"REDIS_URL": url}) == {"REDIS_URL": url}  # no job: the run's own

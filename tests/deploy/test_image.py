"""docker/Dockerfile and .dockerignore, read without a Docker engine: a locked, non-root final
stage without compilers, the ``vetrai`` entrypoint, a health check, and a build context that
holds the sources and nothing local."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib

import pytest

from tests.deploy.deployment import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def in_build_context(path: str) -> bool:
    """Whether Docker sends ``path`` to the build, by .dockerignore (the last match wins)."""
    included = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*"):
            included = negated
    return included


def test_the_image_is_built_in_stages_and_runs_as_a_user_without_compilers() -> None:
    build, final = stages()
    assert build[0][1].endswith("AS build")
    final_text = " ".join(rest for _, rest in final)
    assert "build-essential" not in final_text
    assert "gcc" not in final_text
    assert "apt-get install" not in final_text
    (user,) = [rest for keyword, rest in final if keyword == "USER"]
    assert not user.startswith(("0", "root"))
    assert ("COPY", "--from=build /opt/vetrai /opt/vetrai") in final


def test_vetrai_is_the_entrypoint_and_every_container_is_health_checked() -> None:
    _, final = stages()
    entrypoint = [json.loads(rest) for keyword, rest in final if keyword == "ENTRYPOINT"]
    assert entrypoint == [["vetrai"]]
    (healthcheck,) = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    assert healthcheck.endswith('CMD ["python", "/app/docker/healthcheck.py"]')
    env = " ".join(rest for keyword, rest in final if keyword == "ENV")
    assert "ENVIRONMENT=production" in env
    assert "VETRAI_HOST=0.0.0.0" in env


def test_dependencies_are_installed_at_the_locked_versions() -> None:
    build, _ = stages()
    runs = [rest for keyword, rest in build if keyword == "RUN"]
    assert any("pip install -c requirements.lock -r runtime.txt" in run for run in runs)
    assert any("pip install --no-deps ." in run for run in runs)
    assert any("python -m router.graphiql" in run for run in runs)
    lock = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "requirements.lock").read_text().split()
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[\[=<>~! ]", requirement)[0].lower().replace("_", "-")
        assert name in lock, f"{name} is not locked"


def test_everything_the_image_copies_is_in_the_build_context() -> None:
    for stage in stages():
        for keyword, rest in stage:
            if keyword != "COPY" or rest.startswith("--from"):
                continue
            for source in rest.split()[:-1]:
                path = source.rstrip("/")
                assert (ROOT / path).exists(), path
                assert in_build_context(path), path


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("router/app.py", True),
        ("subgraphs/auth/migrations/0001_initial.py", True),
        ("schema/supergraph.graphql", True),
        ("docker/healthcheck.py", True),
        (".venv/bin/python", False),
        (".data/postgres/PG_VERSION", False),
        (".env", False),
        (".git/HEAD", False),
        ("tests/conftest.py", False),
        ("router/graphiql_assets/graphiql.min.js", False),
        ("router/__pycache__/app.cpython-311.pyc", False),
    ],
)
def test_the_build_context_holds_sources_and_nothing_local(path: str, sent: bool) -> None:
    assert in_build_context(path) is sent

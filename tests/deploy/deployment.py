"""What the deployment files say, read as the tools that use them read them: compose.yml with
Compose's variable interpolation, the Helm chart rendered by Helm's own template engine."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from core.settings import login_variable
from vetrai.cli import parser
from vetrai.platform import login_names
from vetrai.settings import PlatformSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yml"
CHART = ROOT / "docker" / "helm" / "vetrai"
DOCKERFILE = "docker/Dockerfile"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def compose_file() -> dict[str, Any]:
    """compose.yml as YAML, before interpolation (what the Compose schema validates)."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def interpolate(value: Any, variables: Mapping[str, str]) -> Any:
    """Compose's interpolation of ``${...}`` in every string of ``value``."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = variables.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op and op.endswith("?") and missing:
            raise KeyError(f"{name}: {arg}")
        if op and op.endswith("-") and missing:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value)


def compose_services(variables: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = interpolate(compose_file(), variables)["services"]
    return services


def mounted_sources(service: Mapping[str, Any]) -> dict[str, Path]:
    """A compose service's bind mounts: path in the container -> file in this repository."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = ROOT / source
    return mounts


def vetrai_services(compose: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the VetrAI image (the others are PostgreSQL, Redis, ...)."""
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("build", {}).get("dockerfile") == DOCKERFILE
    }


def setting_names() -> set[str]:
    """The environment variables ``PlatformSettings`` reads, with each login's URL."""
    return PlatformSettings.variables() | {login_variable(name) for name in login_names()}


def parse_command(arguments: list[str]) -> argparse.Namespace:
    """``vetrai <arguments>`` as the CLI parses it; ValueError with argparse's message if not."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return parser().parse_args(arguments)
    except SystemExit:
        message = errors.getvalue().strip().splitlines()[-1]
        raise ValueError(f"`vetrai {' '.join(arguments)}`: {message}") from None


def render_chart(values: Mapping[str, Any], name: str = "demo") -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders for ``values``, as Helm itself renders it."""
    with helm.Chart.load(str(CHART)) as chart:
        rendered = chart.render(dict(values), name=name, namespace="vetrai", is_install=True)
    return [
        document
        for path, text in sorted(rendered.items())
        if path.endswith((".yaml", ".yml"))
        for document in yaml.safe_load_all(text)
        if document
    ]


def containers(obj: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    yield from pod.get("containers", [])

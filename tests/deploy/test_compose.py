"""compose.yml: valid for the Compose Specification, and every VetrAI service in it runs a command
the ``vetrai`` CLI has, with settings ``Settings`` reads, wired in the order the platform needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from core.settings import login_variable
from router.config import RouterConfig, load_config
from subgraphs.kernel.migrations import role_of
from tests.deploy.deployment import (
    ROOT,
    compose_file,
    compose_services,
    mounted_sources,
    parse_command,
    setting_names,
    vetrai_services,
)
from vetrai.platform import DOMAINS, login_names

SCHEMA = Path(__file__).parent / "compose-spec.json"
VARIABLES = {"VETRAI_CONTEXT_KEY": "k" * 40}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return {"services": compose_services(VARIABLES)}


@pytest.fixture(scope="module")
def vetrai(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return vetrai_services(compose)


def test_compose_file_follows_the_compose_specification() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(compose_file())
    ]
    assert errors == []


def test_the_context_key_must_be_given() -> None:
    with pytest.raises(KeyError, match="VETRAI_CONTEXT_KEY"):
        compose_services({})


def test_every_service_command_exists_in_the_cli(vetrai: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, service in vetrai.items():
        try:
            parse_command(service["command"])
        except ValueError as exc:
            problems.append(f"compose service {name!r}: {exc}")
    assert problems == [], "\n".join(problems)


def test_the_platform_processes_are_all_there(vetrai: dict[str, dict[str, Any]]) -> None:
    commands = {name: tuple(service["command"]) for name, service in vetrai.items()}
    expected = {
        "migrate": ("migrate",),
        "router": ("router",),
        "worker": ("worker",),
        **{spec.name: ("subgraph", spec.name) for spec in DOMAINS},
    }
    assert commands == expected


def test_every_environment_variable_is_a_setting(vetrai: dict[str, dict[str, Any]]) -> None:
    known = setting_names()
    unknown = {
        f"{name}: {variable}"
        for name, service in vetrai.items()
        for variable in service["environment"]
        if variable not in known
    }
    assert unknown == set()


def test_services_run_as_in_production_on_every_interface(
    vetrai: dict[str, dict[str, Any]],
) -> None:
    for service in vetrai.values():
        assert service["environment"]["ENVIRONMENT"] == "production"
        assert service["environment"]["VETRAI_HOST"] == "0.0.0.0"  # noqa: S104 - in a container
        assert service["environment"]["VETRAI_CONTEXT_KEY"] == VARIABLES["VETRAI_CONTEXT_KEY"]


def test_router_reaches_every_subgraph_by_its_service(compose: dict[str, Any]) -> None:
    router = compose["services"]["router"]
    urls = json.loads(router["environment"]["ROUTER_SUBGRAPH_URLS"])
    assert urls == {spec.name: f"http://{spec.name}:{spec.port}/graphql" for spec in DOMAINS}
    assert router["environment"]["JWKS_URL"] == "http://auth:8001/.well-known/jwks.json"
    assert router["ports"] == ["4000:4000"]


def test_router_reads_its_configuration_file_from_the_repository(
    compose: dict[str, Any],
) -> None:
    router = compose["services"]["router"]
    source = mounted_sources(router)[router["environment"]["ROUTER_CONFIG"]]
    config = load_config(source)
    assert config.protection.graphiql is False
    assert config.rate_limits == RouterConfig().rate_limits


def test_router_starts_after_every_subgraph_is_healthy(compose: dict[str, Any]) -> None:
    depends = compose["services"]["router"]["depends_on"]
    assert depends == {spec.name: {"condition": "service_healthy"} for spec in DOMAINS}


def test_subgraphs_and_worker_start_after_the_migrations(compose: dict[str, Any]) -> None:
    for name in [*(spec.name for spec in DOMAINS), "worker"]:
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["redis"] == {"condition": "service_healthy"}
    assert compose["services"]["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}
    }


def test_subgraphs_expose_their_own_ports(compose: dict[str, Any]) -> None:
    for spec in DOMAINS:
        assert compose["services"][spec.name]["expose"] == [str(spec.port)]


def test_backing_services_have_health_checks_and_data_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].startswith("pgvector/pgvector:")
    for name in ("postgres", "redis", "minio", "mailpit"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    for name, mount in [
        ("postgres", "/var/lib/postgresql/data"),
        ("redis", "/data"),
        ("minio", "/data"),
    ]:
        assert f"{name}:{mount}" in services[name]["volumes"]


def test_support_and_the_worker_scan_attachments_with_clamd(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["clamd"]["image"].startswith("clamav/clamav:")
    assert services["clamd"]["healthcheck"]["test"][0] == "CMD"
    assert "clamav:/var/lib/clamav" in services["clamd"]["volumes"]
    for name in ("support", "worker"):
        environment = services[name]["environment"]
        assert (environment["CLAMD_HOST"], environment["CLAMD_PORT"]) == ("clamd", "3310")
    assert services["worker"]["environment"]["MINIO_ENDPOINT"] == "minio:9000"


def test_prometheus_scrapes_the_router_every_subgraph_and_the_worker() -> None:
    config = yaml.safe_load((ROOT / "docker" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    subgraphs = {f"{spec.name}:{spec.port}" for spec in DOMAINS}
    assert {"router:4000", *subgraphs} <= targets
    assert any(target.startswith("worker:") for target in targets)


def test_grafana_is_provisioned_with_the_router_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    assert grafana["ports"] == ["3002:3000"]
    provider = yaml.safe_load(
        (ROOT / "docker/grafana/provisioning/dashboards/vetrai.yml").read_text()
    )
    mounted = {volume.split(":")[1] for volume in grafana["volumes"]}
    assert provider["providers"][0]["options"]["path"] in mounted
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert str(home.parent) in mounted
    assert (ROOT / "docker/grafana/dashboards" / home.name).exists()
    dashboard = json.loads((ROOT / "docker/grafana/dashboards/vetrai.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {
        "Router traffic by status",
        "Router latency",
        "Router errors",
        "Subgraph fetches",
        "Rate-limit rejections",
    } <= titles


def test_each_process_logs_in_as_its_own_roles_and_only_migrate_as_the_owner(
    vetrai: dict[str, dict[str, Any]],
) -> None:
    def logins(service: str) -> set[str]:
        return {v for v in vetrai[service]["environment"] if v.endswith("_DATABASE_URL")}

    every = {login_variable(name) for name in login_names()}
    for spec in DOMAINS:
        assert logins(spec.name) == {login_variable(spec.name)}
        url = make_url(vetrai[spec.name]["environment"][login_variable(spec.name)])
        assert url.username == role_of(spec.name)
    assert logins("worker") == every
    assert logins("migrate") == every
    owners = {name for name, service in vetrai.items() if "DATABASE_URL" in service["environment"]}
    assert owners == {"migrate"}

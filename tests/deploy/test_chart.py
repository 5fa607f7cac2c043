"""The Helm chart, rendered by Helm's own engine: valid Kubernetes objects, a Deployment and a
Service for every subgraph of the platform, probes on /health, settings ``Settings`` reads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from core.settings import login_variable
from router.config import load_config
from subgraphs.kernel.migrations import role_of
from tests.deploy.deployment import CHART, containers, parse_command, render_chart, setting_names
from vetrai.platform import DOMAINS, login_names

DATABASE_URL = "postgresql://vetrai:placeholder@postgres:5432/vetrai"
LOGINS = {
    name: f"postgresql://{role_of(name)}:placeholder@postgres/vetrai" for name in login_names()
}
REQUIRED: dict[str, Any] = {
    "database": {"url": DATABASE_URL, "logins": LOGINS},
    "redis": {"url": "redis://redis:6379/0"},
    "secrets": {"jwtKeys": {"json": '{"keys": []}'}},
}
EVERYTHING = {
    **REQUIRED,
    "smtp": {"host": "smtp.example.com", "username": "vetrai", "password": "placeholder"},
    "clamd": {"host": "clamd.example.com", "port": 3310},
}
# the oldest Kubernetes the chart supports (Chart.yaml's kubeVersion) and the newest known
KUBERNETES_VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]
API_VERSIONS = {
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.fixture(scope="module", params=["required values", "every option"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render_chart(REQUIRED if request.param == "required values" else EVERYTHING)


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (o for o in objects if o["kind"] in ("Deployment", "Job"))


def test_helm_lint_finds_nothing_wrong() -> None:
    result = helm.lint(str(CHART), dict(REQUIRED), strict=True)
    warnings = [m for m in result["messages"] if m["severity"] > 1]  # 1 is informational
    assert (result["errors"], warnings) == ([], [])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_objects_follow_the_kubernetes_api_schemas(
    objects: list[dict[str, Any]], version: str
) -> None:
    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']} {obj['metadata']['name']}: {exc.message}")
    assert problems == [], "\n".join(problems)


def test_objects_are_valid_kubernetes_objects(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        assert obj["apiVersion"] == API_VERSIONS[obj["kind"]], obj["kind"]
        assert DNS_LABEL.match(obj["metadata"]["name"]), obj["metadata"]["name"]
        assert len(obj["metadata"]["name"]) <= 63
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        assert pod["containers"], workload["metadata"]["name"]
        for container in pod["containers"]:
            assert container["name"]
            assert container["image"] == "vetrai:0.1.0"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_selectors_match_their_pods(objects: list[dict[str, Any]]) -> None:
    pods = {
        name: d["spec"]["template"]["metadata"]["labels"]
        for name, d in by_kind(objects, "Deployment").items()
    }
    for name, deployment in by_kind(objects, "Deployment").items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pods[name].items()
    for name, service in by_kind(objects, "Service").items():
        assert service["spec"]["selector"].items() <= pods[name].items(), name
        ports = {
            p["name"] for c in containers(by_kind(objects, "Deployment")[name]) for p in c["ports"]
        }
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_every_subgraph_has_a_deployment_and_a_service(objects: list[dict[str, Any]]) -> None:
    deployments = by_kind(objects, "Deployment")
    services = by_kind(objects, "Service")
    for spec in DOMAINS:
        name = f"demo-vetrai-{spec.name}"
        (container,) = containers(deployments[name])
        assert container["args"] == ["subgraph", spec.name]
        assert container["ports"] == [{"name": "http", "containerPort": spec.port}]
        assert services[name]["spec"]["ports"][0]["port"] == spec.port
    names = {f"demo-vetrai-{spec.name}" for spec in DOMAINS}
    assert set(services) == {*names, "demo-vetrai-router"}
    assert set(deployments) == {*names, "demo-vetrai-router", "demo-vetrai-worker"}


def test_every_container_runs_a_cli_command(objects: list[dict[str, Any]]) -> None:
    problems = []
    for workload in workloads(objects):
        for container in containers(workload):
            try:
                parse_command(container["args"])
            except ValueError as exc:
                problems.append(f"{workload['kind']} {workload['metadata']['name']}: {exc}")
    assert problems == [], "\n".join(problems)


def test_http_services_are_ready_and_alive_on_health(objects: list[dict[str, Any]]) -> None:
    for name, deployment in by_kind(objects, "Deployment").items():
        if name.endswith("-worker"):
            continue
        (container,) = containers(deployment)
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, name


def test_every_environment_variable_is_a_setting(objects: list[dict[str, Any]]) -> None:
    sources = {
        (o["kind"], o["metadata"]["name"]): o.get("data") or o.get("stringData") or {}
        for o in objects
        if o["kind"] in ("ConfigMap", "Secret") and not o["metadata"]["name"].endswith("-keys")
    }
    names = set()
    for workload in workloads(objects):
        for container in containers(workload):
            names |= {variable["name"] for variable in container.get("env", [])}
            for source in container.get("envFrom", []):
                kind, ref = next(iter(source.items()))
                kind = "ConfigMap" if kind == "configMapRef" else "Secret"
                names |= set(sources[(kind, ref["name"])])
    assert names - setting_names() == set()
    assert {"DATABASE_URL", "REDIS_URL", "VETRAI_CONTEXT_KEY", "ROUTER_SUBGRAPH_URLS"} <= names


def test_attachments_are_scanned_by_the_clamd_given() -> None:
    def environment(values: dict[str, Any]) -> dict[str, str]:
        configs = by_kind(render_chart(values), "ConfigMap")
        data: dict[str, str] = configs["demo-vetrai-env"]["data"]
        return data

    given = environment(EVERYTHING)
    assert (given["CLAMD_HOST"], given["CLAMD_PORT"]) == ("clamd.example.com", "3310")
    assert "CLAMD_HOST" not in environment(REQUIRED)


def test_router_config_names_every_subgraph_service(objects: list[dict[str, Any]]) -> None:
    config = by_kind(objects, "ConfigMap")["demo-vetrai-router"]["data"]
    assert json.loads(config["ROUTER_SUBGRAPH_URLS"]) == {
        spec.name: f"http://demo-vetrai-{spec.name}:{spec.port}/graphql" for spec in DOMAINS
    }
    assert config["JWKS_URL"] == "http://demo-vetrai-auth:8001/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("config", "graphiql"), [({}, None), ({"protection": {"graphiql": True}}, True)]
)
def test_router_reads_its_configuration_from_a_configmap(
    tmp_path: Path, config: dict[str, Any], graphiql: bool | None
) -> None:
    objects = render_chart({**REQUIRED, "router": {"config": config}})
    configmaps = by_kind(objects, "ConfigMap")
    path = Path(configmaps["demo-vetrai-router"]["data"]["ROUTER_CONFIG"])
    pod = by_kind(objects, "Deployment")["demo-vetrai-router"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(path.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    file = configmaps[volume["configMap"]["name"]]["data"][path.name]
    (tmp_path / path.name).write_text(file)
    assert load_config(tmp_path / path.name).protection.graphiql is graphiql


def test_router_scales_horizontally_and_survives_disruptions(
    objects: list[dict[str, Any]],
) -> None:
    (hpa,) = by_kind(objects, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "demo-vetrai-router"
    assert "replicas" not in by_kind(objects, "Deployment")["demo-vetrai-router"]["spec"]
    (pdb,) = by_kind(objects, "PodDisruptionBudget").values()
    router_pods = by_kind(objects, "Deployment")["demo-vetrai-router"]["spec"]["template"]
    assert (
        pdb["spec"]["selector"]["matchLabels"].items() <= router_pods["metadata"]["labels"].items()
    )


def test_worker_scales_on_its_own() -> None:
    deployments = by_kind(render_chart({**REQUIRED, "worker": {"replicas": 5}}), "Deployment")
    assert deployments["demo-vetrai-worker"]["spec"]["replicas"] == 5
    assert deployments["demo-vetrai-auth"]["spec"]["replicas"] == 2


def test_migrations_run_as_a_hook_before_install_and_upgrade(
    objects: list[dict[str, Any]],
) -> None:
    job = by_kind(objects, "Job")["demo-vetrai-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = containers(job)
    assert container["args"] == ["migrate"]
    # hooks run before the release's objects exist: what the Job reads must be a hook as well
    for variable in container["env"]:
        ref = variable.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secret = by_kind(objects, "Secret")[ref["name"]]
            assert secret["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"
            assert ref["key"] in secret["stringData"]


def test_secrets_hold_keys_and_passwords(objects: list[dict[str, Any]]) -> None:
    secrets = by_kind(objects, "Secret")
    env = secrets["demo-vetrai-env"]["stringData"]
    assert secrets["demo-vetrai-migrate"]["stringData"]["DATABASE_URL"] == DATABASE_URL
    logins = secrets["demo-vetrai-database"]["stringData"]
    assert logins == {login_variable(name): url for name, url in LOGINS.items()}
    assert len(env["VETRAI_CONTEXT_KEY"]) >= 32
    assert secrets["demo-vetrai-jwt-keys"]["stringData"]["jwt-keys.json"] == '{"keys": []}'
    auth = by_kind(objects, "Deployment")["demo-vetrai-auth"]
    (container,) = containers(auth)
    assert {"name": "JWT_KEYS_FILE", "value": "/var/lib/vetrai/keys/jwt-keys.json"} in container[
        "env"
    ]
    for configmap in by_kind(objects, "ConfigMap").values():
        assert not {"DATABASE_URL", "REDIS_URL", "VETRAI_CONTEXT_KEY"} & set(configmap["data"])


def test_an_existing_secret_replaces_the_generated_ones() -> None:
    objects = render_chart(
        {"secrets": {"existingSecret": "mine", "jwtKeys": {"existingSecret": "my-keys"}}}
    )
    assert by_kind(objects, "Secret") == {}
    (router,) = containers(by_kind(objects, "Deployment")["demo-vetrai-router"])
    assert {"secretRef": {"name": "mine"}} in router["envFrom"]


def test_missing_database_url_is_refused_with_its_value_name() -> None:
    with pytest.raises(helm.HelmError, match=r"database\.url is required"):
        render_chart({**REQUIRED, "database": {"logins": LOGINS}})


def _logins(container: dict[str, Any]) -> dict[str, str]:
    return {
        v["name"]: v["valueFrom"]["secretKeyRef"]["name"]
        for v in container.get("env", [])
        if v["name"].endswith("_DATABASE_URL")
    }


def test_each_pod_logs_in_as_its_own_roles_and_only_the_migrations_as_the_owner(
    objects: list[dict[str, Any]],
) -> None:
    deployments = by_kind(objects, "Deployment")
    every = {login_variable(name) for name in login_names()}
    for spec in DOMAINS:
        (container,) = containers(deployments[f"demo-vetrai-{spec.name}"])
        assert _logins(container) == {login_variable(spec.name): "demo-vetrai-database"}
    (worker,) = containers(deployments["demo-vetrai-worker"])
    assert set(_logins(worker)) == every
    (migrate,) = containers(by_kind(objects, "Job")["demo-vetrai-migrate"])
    assert set(_logins(migrate)) == every
    owners = {
        workload["metadata"]["name"]
        for workload in workloads(objects)
        for container in containers(workload)
        if "DATABASE_URL" in {v["name"] for v in container.get("env", [])}
    }
    assert owners == {"demo-vetrai-migrate"}
    assert "DATABASE_URL" not in by_kind(objects, "Secret")["demo-vetrai-env"]["stringData"]


def test_a_missing_login_is_refused_with_its_value_name() -> None:
    logins = {name: url for name, url in LOGINS.items() if name != "billing"}
    with pytest.raises(helm.HelmError, match=r"database\.logins\.billing is required"):
        render_chart({**REQUIRED, "database": {"url": DATABASE_URL, "logins": logins}})

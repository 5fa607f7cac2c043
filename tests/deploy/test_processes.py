"""The platform as compose runs it: every subgraph, the router and the worker as processes of
their own, each started with its compose command and environment (pointed at the test's
PostgreSQL and Redis), answering a federated query through the router; the image's health check
run against each of them."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import login_variable
from tests.conftest import free_port_offset
from tests.deploy.deployment import (
    ROOT,
    compose_services,
    mounted_sources,
    setting_names,
    vetrai_services,
)
from vetrai.platform import DOMAINS
from vetrai.settings import PlatformSettings

PROCESSES = ["router", "worker", *(spec.name for spec in DOMAINS)]
PORTS = [spec.port for spec in DOMAINS] + [4000]
OFFSET = free_port_offset(PORTS)
_COMPOSE_URL = re.compile(r"http://([a-z0-9-]+):(\d+)")
ME = "query { me { id email organizations { id slug } } }"


def on_this_host(value: str, offset: int = OFFSET) -> str:
    """A URL between compose services (``http://auth:8001``) as these processes reach it."""
    return _COMPOSE_URL.sub(lambda m: f"http://127.0.0.1:{int(m[2]) + offset}", value)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Platform:
    folder: Path
    processes: dict[str, Process] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def router(self) -> str:
        url = self.processes["router"].url
        assert url is not None
        return url

    def start(self, name: str, command: list[str], env: dict[str, str], url: str | None) -> None:
        log = self.folder / f"{name}.log"
        popen = subprocess.Popen(  # noqa: S603 - the platform's own command line
            [sys.executable, "-m", "vetrai", *command],
            cwd=self.folder,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = Process(name, popen, log, url)
        self.environments[name] = env

    def wait_until_healthy(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        waiting = {name for name, p in self.processes.items() if p.url}
        while waiting:
            for name in sorted(waiting):
                process = self.processes[name]
                if process.popen.poll() is not None:
                    pytest.fail(f"{name} exited {process.popen.returncode}:\n{process.output()}")
                try:
                    if httpx.get(f"{process.url}/health", timeout=2).status_code == 200:
                        waiting.discard(name)
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                pytest.fail(f"not healthy after {timeout}s: {sorted(waiting)}")
            time.sleep(0.2)

    def stop(self, within: float = 120) -> dict[str, int | None]:
        """SIGTERM to every process, then each one's exit code, or None (killed) for one still
        running ``within`` seconds after the signal: the worker and uvicorn bound their own
        grace at 10 s each, the rest is a loaded host's scheduling."""
        for process in self.processes.values():
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + within
        codes: dict[str, int | None] = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                codes[name] = None
        return codes


def environment(
    service: dict[str, Any],
    settings: PlatformSettings,
    folder: Path,
    queue: str,
    offset: int = OFFSET,
) -> dict[str, str]:
    """The compose service's environment, pointed at the test's servers and this host, with
    paths of files compose mounts from the repository pointing at those files."""
    assert settings.core.redis_url
    inherited = {k: v for k, v in os.environ.items() if k not in setting_names()}
    mounts = {target: str(source) for target, source in mounted_sources(service).items()}
    env = {
        **inherited,
        **{
            k: mounts.get(str(v), on_this_host(str(v), offset))
            for k, v in service["environment"].items()
        },
    }
    # each process logs in as compose says, with the test database's roles; none as the owner
    logins = {login_variable(name): url for name, url in settings.core.database_logins.items()}
    env.update({variable: logins[variable] for variable in env if variable in logins})
    env.update(
        PYTHONPATH=str(ROOT),
        REDIS_URL=settings.core.redis_url,
        VETRAI_HOST="127.0.0.1",
        VETRAI_PORT_OFFSET=str(offset),
        # a queue of its own: the suite's in-process worker must not see these jobs, nor this
        # worker the suite's
        VETRAI_QUEUE=queue,
    )
    if "JWT_KEYS_FILE" in env:
        env["JWT_KEYS_FILE"] = str(folder / "keys" / "jwt-keys.json")
    return env


@contextmanager
def running_platform(settings: PlatformSettings) -> Iterator[Platform]:
    folder = Path(tempfile.mkdtemp(prefix="vetrai-deploy-"))
    # the image's working directory holds the committed supergraph the router serves by default
    (folder / "schema").mkdir()
    shutil.copy(ROOT / "schema" / "supergraph.graphql", folder / "schema")
    services = vetrai_services({"services": compose_services({"VETRAI_CONTEXT_KEY": "c" * 48})})
    queue = f"vetrai:deploy-test:{secrets.token_hex(4)}"
    running = Platform(folder)
    ports = {spec.name: spec.port for spec in DOMAINS} | {"router": 4000}
    try:
        for name in PROCESSES:
            service = services[name]
            port = ports.get(name)
            url = f"http://127.0.0.1:{port + OFFSET}" if port else None
            env = environment(service, settings, folder, queue)
            running.start(name, service["command"], env, url)
        running.wait_until_healthy()
        yield running
    finally:
        running.stop()
        shutil.rmtree(folder, ignore_errors=True)


class Platforms:
    """The module's one platform (ten processes take a minute or more of CPU to start), started
    when a test first needs it; the stop test stops it, and a test run after that starts another."""

    def __init__(self, settings: PlatformSettings) -> None:
        self.settings = settings
        self._running: ExitStack | None = None
        self._platform: Platform | None = None

    def get(self) -> Platform:
        if self._running is None or self._platform is None:
            self._running = ExitStack()
            self._platform = self._running.enter_context(running_platform(self.settings))
        return self._platform

    def stopped(self) -> dict[str, int | None]:
        """Stop the platform (started first if none runs): each process's exit code."""
        codes = self.get().stop()
        self.close()
        return codes

    def close(self) -> None:
        if self._running is not None:
            self._running.close()
        self._running = self._platform = None


@pytest.fixture(scope="module")
def platforms(settings: PlatformSettings) -> Iterator[Platforms]:
    held = Platforms(settings)
    try:
        yield held
    finally:
        held.close()


@pytest.fixture
def platform(platforms: Platforms) -> Platform:
    return platforms.get()


def graphql(
    platform: Platform, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    body = {"query": query, "variables": variables}
    response = httpx.post(f"{platform.router}/graphql", json=body, headers=headers, timeout=20)
    result = response.json()
    assert response.status_code == 200, result
    assert "errors" not in result, result["errors"]
    data: dict[str, Any] = result["data"]
    return data


@dataclass(frozen=True)
class Owner:
    user_id: str
    email: str
    token: str
    org_id: str
    slug: str


def owner_of_new_organization(platform: Platform) -> Owner:
    """Sign up and create an organization, both through the router."""
    email = f"deploy-{secrets.token_hex(4)}@example.com"
    signed_up = graphql(
        platform,
        """mutation ($email: String!) { signUp(input: {email: $email,
        password: "correct horse battery", name: "Deploy"}) {
        user { id } tokens { accessToken } errors { code } } }""",
        email=email,
    )["signUp"]
    assert signed_up["errors"] == []
    token = signed_up["tokens"]["accessToken"]
    slug = f"deploy-{secrets.token_hex(4)}"
    created = graphql(
        platform,
        """mutation ($slug: String!) { createOrganization(input: {name: "Deploy", slug: $slug})
        { organization { id } errors { code } } }""",
        token,
        slug=slug,
    )["createOrganization"]
    assert created["errors"] == []
    return Owner(signed_up["user"]["id"], email, token, created["organization"]["id"], slug)


def test_a_federated_query_runs_through_the_router_over_separate_processes(
    platform: Platform,
) -> None:
    owner = owner_of_new_organization(platform)
    me = graphql(platform, ME, owner.token)["me"]
    assert me == {
        "id": owner.user_id,
        "email": owner.email,
        "organizations": [{"id": owner.org_id, "slug": owner.slug}],
    }


def test_an_api_key_is_verified_and_rate_limited_across_processes(platform: Platform) -> None:
    owner = owner_of_new_organization(platform)
    created = graphql(
        platform,
        """mutation ($org: ID!) { createApiKey(input: {organizationId: $org, name: "deploy",
        scopes: ["organization:read"], rateLimit: {limit: 2, windowSeconds: 60}}) {
        secret errors { code } } }""",
        owner.token,
        org=owner.org_id,
    )["createApiKey"]
    assert created["errors"] == []
    responses = [
        httpx.post(
            f"{platform.router}/graphql",
            json={"query": "query { currentOrganization { id } }"},
            headers={"x-api-key": created["secret"]},
            timeout=20,
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[0].json()["data"] == {"currentOrganization": {"id": owner.org_id}}
    metrics = httpx.get(f"{platform.router}/metrics", timeout=5).text
    assert re.search(r"^vetrai_router_rate_limited_total [1-9]", metrics, re.MULTILINE)


def test_the_router_refuses_a_token_it_did_not_issue(platform: Platform) -> None:
    response = httpx.post(
        f"{platform.router}/graphql",
        json={"query": ME},
        headers={"authorization": "Bearer not-a-token"},
        timeout=20,
    )
    assert response.status_code == 401


def test_metrics_hold_what_the_dashboard_reads(platform: Platform) -> None:
    owner_of_new_organization(platform)  # traffic of its own through the router to tenancy
    exposed = ""
    for process in platform.processes.values():
        if process.url:
            response = httpx.get(f"{process.url}/metrics", timeout=5)
            assert response.status_code == 200, process.name
            exposed += response.text
    dashboard = json.loads((ROOT / "docker/grafana/dashboards/vetrai.json").read_text())
    read = {
        metric
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for metric in re.findall(r"\bvetrai_[a-z_]+", target["expr"])
    }
    assert read
    assert {metric for metric in read if metric not in exposed} == set()
    assert re.search(r'vetrai_router_subgraph_fetches_total\{subgraph="tenancy"\} [1-9]', exposed)


def test_the_image_health_check_passes_for_every_process(platform: Platform) -> None:
    script = ROOT / "docker" / "healthcheck.py"
    for name, process in platform.processes.items():
        deadline = time.monotonic() + 15
        while True:
            check = subprocess.run(  # noqa: S603 - our own script
                [sys.executable, str(script), str(process.popen.pid)],
                env=platform.environments[name],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if check.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert check.returncode == 0, f"{name}: {check.stderr}\n{process.output()}"


def test_every_process_stops_cleanly_when_its_container_is_stopped(platforms: Platforms) -> None:
    assert platforms.stopped() == dict.fromkeys(PROCESSES, 0)

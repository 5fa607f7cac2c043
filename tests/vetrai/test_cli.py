"""The command line: help on every command, a clear exit on bad settings."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from core.settings import login_variable
from subgraphs.kernel.migrations import role_of
from tests.conftest import free_port_offset
from vetrai.cli import main, parser
from vetrai.commands import _notes
from vetrai.devstack import Stack
from vetrai.platform import login_names
from vetrai.settings import PlatformSettings, load_settings

COMMANDS = sorted(
    name
    for action in parser()._actions
    if isinstance(action, argparse._SubParsersAction)
    for name in action.choices
)


VARIABLES = ("DATABASE_URL", "REDIS_URL", "ENVIRONMENT", "VETRAI_CONTEXT_KEY")


def _vetrai(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "vetrai", *args],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if k not in VARIABLES}, **env},
        timeout=60,
        check=False,
    )


def test_the_foundation_commands_exist() -> None:
    assert {"up", "subgraph", "migrate"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    # in this process: the other tests run the command line itself
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: vetrai {command}")


def test_bad_setting_stops_with_its_name() -> None:
    result = _vetrai("migrate", VETRAI_CONTEXT_TTL="-1")
    assert result.returncode == 2
    assert "VETRAI_CONTEXT_TTL" in result.stderr
    assert "Traceback" not in result.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _missing_database(server_settings: PlatformSettings) -> str:
    assert server_settings.core.database_url
    url = make_url(server_settings.core.database_url).set(database="vetrai_no_such_database")
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "not-a-url", "DATABASE_URL: not a URL ('not-a-url')"),
        (
            "DATABASE_URL",
            "postgresql://postgres@127.0.0.1:{closed}/vetrai",
            "DATABASE_URL: cannot connect to 127.0.0.1:{closed} (connection refused)",
        ),
        (
            "DATABASE_URL",
            "mysql://root@127.0.0.1/vetrai",
            "DATABASE_URL: not a PostgreSQL URL (scheme 'mysql')",
        ),
        ("REDIS_URL", "not-a-url", "REDIS_URL: not a Redis URL ('not-a-url')"),
        (
            "REDIS_URL",
            "redis://127.0.0.1:{closed}/0",
            "REDIS_URL: cannot connect to 127.0.0.1:{closed} (connection refused)",
        ),
    ],
)
def test_bad_server_url_stops_with_one_line_before_anything_starts(
    variable: str, value: str, message: str, tmp_path: Path
) -> None:
    # The closed port is found at run time: parameters must be the same in every xdist worker.
    closed = _closed_port()
    data = tmp_path / ".data"
    result = _vetrai(
        "migrate", VETRAI_DATA_DIR=str(data), **{variable: value.format(closed=closed)}
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"vetrai: {message.format(closed=closed)}")
    assert not data.exists()  # no embedded server was created


def test_missing_database_is_named(server_settings: PlatformSettings, tmp_path: Path) -> None:
    result = _vetrai(
        "migrate",
        VETRAI_DATA_DIR=str(tmp_path),
        DATABASE_URL=_missing_database(server_settings),
        REDIS_URL=server_settings.core.redis_url or "",
    )
    assert result.returncode == 2
    assert "DATABASE_URL: database 'vetrai_no_such_database' does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_router_in_production_requires_the_context_key(server_settings: PlatformSettings) -> None:
    result = _vetrai(
        "router",
        "--port",
        str(_closed_port()),
        ENVIRONMENT="production",
        REDIS_URL=server_settings.core.redis_url or "",
    )
    assert result.returncode == 2
    assert result.stderr == "vetrai: VETRAI_CONTEXT_KEY: required in production\n"


def test_router_port_option_is_the_port_it_checks_and_binds() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _vetrai("router", "--port", str(port), VETRAI_HOST="127.0.0.1")
    assert result.returncode == 2
    assert result.stderr == f"vetrai: port {port} is in use: is VetrAI already running?\n"


def test_the_url_table_names_the_configured_stripe_and_s3_when_nothing_is_embedded() -> None:
    settings = load_settings(
        stripe_secret_key=SecretStr("sk_test_configured"),
        stripe_api_base=None,
        minio_endpoint="minio:9000",
    )
    assert _notes(Stack(settings), inbox=None) == {
        "stripe": "https://api.stripe.com (STRIPE_SECRET_KEY)",
        "s3": "minio:9000 (MINIO_ENDPOINT)",
    }
    unset = load_settings(stripe_secret_key=None, minio_endpoint=None)
    assert _notes(Stack(unset), inbox=None) == {}


def _production(server_settings: PlatformSettings, tmp_path: Path) -> dict[str, str]:
    return {
        "ENVIRONMENT": "production",
        "VETRAI_DATA_DIR": str(tmp_path / ".data"),
        "VETRAI_CONTEXT_KEY": "k" * 40,
        "REDIS_URL": server_settings.core.redis_url or "",
        "VETRAI_PORT_OFFSET": str(free_port_offset([8001, 8009])),
    }


def test_a_subgraph_in_production_needs_its_own_login_and_no_other(
    server_settings: PlatformSettings, tmp_path: Path
) -> None:
    result = _vetrai("subgraph", "auth", **_production(server_settings, tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        "vetrai: AUTH_DATABASE_URL: not set (auth logs in as the role vetrai_auth)\n"
    )
    assert not (tmp_path / ".data").exists()  # no embedded server was created


def test_migrate_in_production_names_every_missing_login_on_a_line_of_its_own(
    settings: PlatformSettings, tmp_path: Path
) -> None:
    # ``settings`` has migrated with the logins, so tenancy's login is one that works: what
    # is wrong with it is only whose role it is.
    assert settings.core.database_url
    tenancy = settings.core.login_url("tenancy")
    env = {**_production(settings, tmp_path), "AUTH_DATABASE_URL": tenancy}
    result = _vetrai("migrate", DATABASE_URL=settings.core.database_url, **env)
    assert result.returncode == 2
    wrong = "AUTH_DATABASE_URL: logs in as 'vetrai_tenancy'; auth's role is vetrai_auth"
    missing = [
        f"{login_variable(name)}: not set ({name} logs in as the role {role_of(name)})"
        for name in login_names()
        if name != "auth"
    ]
    assert result.stderr.splitlines() == [f"vetrai: {line}" for line in [wrong, *missing]]

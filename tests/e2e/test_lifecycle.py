"""``vetrai up`` leaves nothing running: a killed run's servers are reused by the next start,
which stops them on Ctrl-C; a second start beside a running one refuses at once."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port_offset
from tests.e2e.conftest import Platform, environment
from vetrai.embedded import Process
from vetrai.platform import DOMAINS

PORTS = [4000, 8009, *(d.port for d in DOMAINS)]


@pytest.fixture(scope="module")
def data() -> Iterator[Path]:
    """One data folder: every test leaves nothing running in it."""
    checkout = Path(tempfile.mkdtemp(prefix="vetrai-lifecycle-"))  # see TEST_DATA in conftest
    yield checkout / ".data"
    shutil.rmtree(checkout, ignore_errors=True)


def _servers(data: Path) -> dict[str, Process]:
    """The embedded servers recorded under ``data``, by name."""
    return {
        path.stem: Process(**json.loads(path.read_text())["server"])
        for path in sorted((data / "run").glob("*.json"))
    }


def _healthy(offset: int) -> bool:
    response = httpx.get(f"http://127.0.0.1:{8001 + offset}/health", timeout=10)
    return bool(response.json()["status"] == "ok")


def test_next_start_after_sigkill_reuses_its_servers_and_ctrl_c_stops_them(data: Path) -> None:
    offset = free_port_offset(PORTS)
    killed = Platform(data, offset)
    first = _servers(data)
    assert set(first) == {"postgres", "redis", "mail", "stripe", "s3"}
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait(timeout=60)
    assert all(server.alive() for server in first.values())  # what a kill leaves behind

    again = Platform(data, offset)
    assert _healthy(offset)
    assert _servers(data) == first
    assert again.stop() == 0
    assert not any(server.alive() for server in first.values())
    assert _servers(data) == {}


def test_second_start_refuses_at_once_and_sigterm_stops_everything(data: Path) -> None:
    offset = free_port_offset(PORTS)
    running = Platform(data, offset)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "vetrai", "up"],
            env=environment(data, offset),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2
        assert f"port {4000 + offset} is in use: is VetrAI already running?" in second.stderr
        assert "migrations" not in second.stdout
        assert "Traceback" not in second.stderr
        assert _healthy(offset)
    finally:
        servers = _servers(data)
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=60) == 0
    assert not any(server.alive() for server in servers.values())
    assert _servers(data) == {}

"""``vetrai up`` started once, as a new user runs it, in a fresh data folder; shared by the
end-to-end tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port_offset
from vetrai.platform import DOMAINS

OFFSET = free_port_offset([4000, 8009, *(spec.port for spec in DOMAINS)])
AUTH = f"http://127.0.0.1:{8001 + OFFSET}/graphql"
TENANCY = f"http://127.0.0.1:{8002 + OFFSET}/graphql"
ROUTER = f"http://127.0.0.1:{4000 + OFFSET}/graphql"
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ME = """query { me { id email organizations { id name slug
  members { role user { id email name } } } } }"""


def environment(data: Path, offset: int) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SMTP_HOST")
    }
    env.update(
        VETRAI_DATA_DIR=str(data),
        VETRAI_PORT_OFFSET=str(offset),
        VETRAI_PUBLIC_URL=f"http://127.0.0.1:{4000 + offset}",
    )
    return env


class Platform:
    def __init__(self, data: Path, offset: int = OFFSET) -> None:
        self.data = data
        self.offset = offset
        self.output: list[str] = []
        self.process = self._start()
        # Kept apart from ``output``, which a restart starts anew, whatever ran first.
        self.first_start = "".join(self.output)

    def _start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "vetrai", "up"],
            env=environment(self.data, self.offset),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        # A first start on a loaded machine (a whole platform's imports and migrations) can
        # take minutes; past the deadline the test fails naming what was printed, rather than
        # reading on as if the platform were ready.
        deadline = time.monotonic() + 300
        for line in process.stdout:
            self.output.append(line)
            if "Ctrl-C stops it" in line:
                break
            assert time.monotonic() < deadline, "not ready in 300 s:\n" + "".join(self.output)
        for line in process.stdout:
            self.output.append(line)
            if not line.strip():
                break
        assert process.poll() is None, "".join(self.output)
        return process

    def redis_url(self) -> str:
        """The embedded Redis of this platform, as its record under the data folder gives it."""
        url: str = json.loads((self.data / "run" / "redis.json").read_text())["url"]
        return url

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    def restart(self) -> int:
        """Stop (as Ctrl-C does) and start again on the same data; the first exit code."""
        code = self.stop()
        self.output = []
        self.process = self._start()
        return code


@pytest.fixture(scope="package")
def data() -> Iterator[Path]:
    checkout = Path(tempfile.mkdtemp(prefix="vetrai-e2e-"))  # see TEST_DATA in conftest
    yield checkout / ".data"
    shutil.rmtree(checkout, ignore_errors=True)


@pytest.fixture(scope="package")
def platform(data: Path) -> Iterator[Platform]:
    running = Platform(data)
    yield running
    running.stop()


def run_query(url: str, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.post(url, json={"query": query}, headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]

"""The embedded Stripe-compatible test server (localstripe, GPL-3.0): always a separate process
that we talk to over HTTP only, never imported; started on a free port, stopped with its group."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

# localstripe accepts any key of this shape; it is not a credential.
SECRET_KEY = "sk_test_embedded"  # noqa: S105
STARTUP_SECONDS = 30.0


class EmbeddedStripeError(RuntimeError):
    """The test server could not be started (not installed, or it did not answer in time)."""


@dataclass(frozen=True)
class EmbeddedStripe:
    """A running test server: where it answers, the key it accepts, and how to stop it."""

    url: str
    secret_key: str
    stop: Callable[[], None]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("localstripe")
    program = str(script) if script.exists() else shutil.which("localstripe")
    if program is None:
        raise EmbeddedStripeError("localstripe is not installed (pip install localstripe)")
    return [program, "--port", str(port), "--from-scratch"]


def _answers(url: str) -> bool:
    try:
        reply = httpx.get(f"{url}/v1/customers", auth=(SECRET_KEY, ""), timeout=1.0)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200


def _stopper(process: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    return stop


def start_embedded_stripe(log: Path | None = None) -> EmbeddedStripe:
    """Start a fresh server on a free local port and wait until it answers (blocks)."""
    port = _free_port()
    command = _command(port)
    with log.open("ab") if log else open(os.devnull, "wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own argument list, no shell
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends all it started
        )
    stop = _stopper(process)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop()
            raise EmbeddedStripeError(f"localstripe did not answer on port {port}")
        time.sleep(0.05)
    return EmbeddedStripe(url=url, secret_key=SECRET_KEY, stop=stop)


def register_webhook(server: EmbeddedStripe, url: str, secret: str) -> None:
    """Have the test server deliver every event to ``url``, signed with ``secret``."""
    reply = httpx.post(
        f"{server.url}/_config/webhooks/vetrai", data={"url": url, "secret": secret}, timeout=5
    )
    reply.raise_for_status()

"""The embedded Stripe-compatible test server (localstripe, GPL-3.0): always a separate process
that we talk to over HTTP only, never imported; one per data folder (``embedded.py``)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

import httpx

from vetrai.embedded import Running, Server, spawn

# localstripe accepts any key of this shape; it is not a credential.
SECRET_KEY = "sk_test_embedded"  # noqa: S105
WEBHOOK_ID = "vetrai"
SIGNING_FILE = "webhook-signing"


class EmbeddedStripeError(RuntimeError):
    """The test server cannot be started: it is not installed."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _program() -> str:
    script = Path(sys.executable).with_name("localstripe")
    program = str(script) if script.exists() else shutil.which("localstripe")
    if program is None:
        raise EmbeddedStripeError("localstripe is not installed (pip install localstripe)")
    return program


def _answers(url: str) -> bool:
    try:
        reply = httpx.get(f"{url}/v1/customers", auth=(SECRET_KEY, ""), timeout=1.0)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200


def _start(folder: Path) -> Running:
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    args = [_program(), "--port", str(port), "--from-scratch"]
    return spawn(args, url, lambda: _answers(url), log=folder / "localstripe.log")


STRIPE = Server("stripe", _start)


def webhook_secret(folder: Path) -> str:
    """The development webhook signing secret, generated once (readable by its owner only)."""
    path = folder / SIGNING_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"whsec_{secrets.token_urlsafe(32)}")
    return path.read_text().strip()


def register_webhook(server_url: str, url: str, secret: str) -> None:
    """Have the test server deliver every event to ``url``, signed with ``secret``."""
    reply = httpx.post(
        f"{server_url}/_config/webhooks/{WEBHOOK_ID}",
        data={"url": url, "secret": secret},
        timeout=5,
    )
    reply.raise_for_status()

"""The local inbox of development: an SMTP catcher (an embedded server) keeping every message
under the data folder, and the pages at ``/_dev/mail`` that show them, links clickable."""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import signal
import socket
import sys
import time
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vetrai.embedded import Running, Server, spawn

PREFIX = "/_dev/mail"
HOST = "127.0.0.1"
MESSAGE_ID = re.compile(r"^[0-9]+-[0-9a-f]{8}$")
LINK = re.compile(r"https?://[^\s<>\"']+")


class _Keep:
    """aiosmtpd handler: every accepted message becomes one ``.eml`` file of ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or b""
        name = f"{time.time_ns()}-{secrets.token_hex(4)}.eml"
        partial = self.folder / f".{name}"
        partial.write_bytes(content)
        partial.rename(self.folder / name)  # the pages never see half a message
        return "250 Message accepted"


async def _catch(folder: Path, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(_Keep(folder)), HOST, port)
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    server.close()
    await server.wait_closed()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def _start_catcher(folder: Path) -> Running:
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()

    def ready() -> bool:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
        except OSError:
            return False
        return True

    args = [sys.executable, "-m", "vetrai.mailbox", str(folder), str(port)]
    return spawn(args, f"smtp://{HOST}:{port}", ready)


CATCHER = Server("mail", _start_catcher)


def _messages(folder: Path) -> list[tuple[str, EmailMessage]]:
    """The caught messages, newest first, by id."""
    parse = BytesParser(policy=policy.default)
    found = []
    for path in sorted(folder.glob("*.eml"), reverse=True):
        with path.open("rb") as file:
            message = parse.parse(file)
        assert isinstance(message, EmailMessage)  # noqa: S101 - policy.default makes one
        found.append((path.stem, message))
    return found


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:60em}td,th{padding:.3em 1em;"
        "text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}</style>"
        f"</head><body>{body}</body></html>",
        status,
    )


def _linked(text: str) -> str:
    """``text`` escaped for HTML, each URL in it a link."""
    parts = []
    last = 0
    for match in LINK.finditer(text):
        url = html.escape(match.group())
        parts += [html.escape(text[last : match.start()]), f'<a href="{url}">{url}</a>']
        last = match.end()
    return "".join([*parts, html.escape(text[last:])])


def _received(key: str) -> str:
    """When the message of ``key`` (named by its arrival in nanoseconds) was caught."""
    moment = datetime.fromtimestamp(int(key.split("-")[0]) / 1e9)
    return moment.isoformat(sep=" ", timespec="seconds")


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if isinstance(part, EmailMessage) else ""


def inbox(folder: Path) -> ASGIApp:
    """The pages of the messages caught in ``folder``."""

    async def index(_: Request) -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{_received(key)}</td><td>{html.escape(str(m['To']))}</td>"
            f'<td><a href="{PREFIX}/{key}">{html.escape(str(m["Subject"]))}</a></td></tr>'
            for key, m in _messages(folder)
        )
        empty = "" if rows else "<p>No message yet.</p>"
        table = f"<table><tr><th>received</th><th>to</th><th>subject</th></tr>{rows}</table>"
        return _page("Inbox", f"<h1>Inbox</h1>{empty}{table}")

    async def show(request: Request) -> HTMLResponse:
        key = request.path_params["key"]
        found = dict(_messages(folder)) if MESSAGE_ID.match(key) else {}
        if key not in found:
            return _page("Not found", "<p>No such message.</p>", status=404)
        m = found[key]
        headers = "".join(
            f"<tr><th>{name}</th><td>{html.escape(str(m[name] or ''))}</td></tr>"
            for name in ("From", "To", "Subject")
        )
        body = f'<p><a href="{PREFIX}">inbox</a></p><table>{headers}</table>'
        return _page(str(m["Subject"]), f"{body}<pre>{_linked(_text(m))}</pre>")

    return Starlette(routes=[Route(PREFIX, index), Route(PREFIX + "/{key}", show)])


VERIFY_SCRIPT = """<script>
document.querySelector("button").onclick = async () => {
  const token = new URLSearchParams(location.search).get("token");
  const query = "mutation($t: String!) { verifyEmail(token: $t) { user { email } } }";
  const response = await fetch("/graphql", {method: "POST",
    headers: {"content-type": "application/json"},
    body: JSON.stringify({query, variables: {t: token}})});
  const result = await response.json();
  const user = result.data && result.data.verifyEmail && result.data.verifyEmail.user;
  document.querySelector("#result").textContent = user
    ? user.email + " is verified." : JSON.stringify(result.errors || result.data);
};
</script>"""


async def _verify_email(_: Request) -> HTMLResponse:
    """Where verification links lead in development: one click runs ``verifyEmail``."""
    body = "<h1>Verify your address</h1><button>Verify</button><p id=result></p>"
    return _page("Verify your address", body + VERIFY_SCRIPT)


def beside(app: ASGIApp, folder: Path) -> ASGIApp:
    """``app``, with the inbox of ``folder`` at ``/_dev/mail`` and the verification page."""
    pages = Starlette(routes=[Route("/verify-email", _verify_email), Mount("", inbox(folder))])

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        ours = path in (PREFIX, "/verify-email") or path.startswith(PREFIX + "/")
        await (pages if scope["type"] == "http" and ours else app)(scope, receive, send)

    return dispatch


def main(argv: list[Any]) -> None:
    """The catcher's process: ``python -m vetrai.mailbox FOLDER PORT``."""
    asyncio.run(_catch(Path(argv[0]), int(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])

"""What the logs write: one JSON object a line, and never a URL an HTTP client requested
(links the router forwards carry single-use tokens in their path)."""

from __future__ import annotations

import io
import logging
import secrets
from collections.abc import Iterator

import httpx
import orjson
import pytest

from core.logs import configure_logging

# what a record looks up that configure_logging turns off for the whole process
LOOKED_UP = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    looked_up = [(name, getattr(logging, name)) for name in LOOKED_UP]
    configure_logging("DEBUG")
    yield stream
    root.handlers[:], root.level = saved
    for name, value in looked_up:
        setattr(logging, name, value)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_a_record_is_one_json_line(captured: io.StringIO) -> None:
    logging.getLogger("vetrai.test").info("hello", extra={"fields": {"n": 1}})
    entry = orjson.loads(captured.getvalue().splitlines()[-1])
    assert (entry["level"], entry["logger"], entry["message"], entry["n"]) == (
        "info",
        "vetrai.test",
        "hello",
        1,
    )


def test_requested_urls_stay_out_of_the_logs_even_at_debug(captured: io.StringIO) -> None:
    token = secrets.token_urlsafe(16)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="ok")

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        assert client.get(f"http://router.test/assets/workers/approvals/{token}").text == "ok"
    logging.getLogger("vetrai.test").debug("after the request")
    written = captured.getvalue()
    assert "after the request" in written
    assert token not in written

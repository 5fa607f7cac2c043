"""Structured (JSON lines) logs carrying the request id and trace id of the request being
served; both are taken when a record is made, so they are right whenever it is written."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import orjson

from core.tracing import current_trace_id

URL_LOGGERS = ("httpx", "httpcore")
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_make_record = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _make_record(*args, **kwargs)
    record.request_id = request_id.get()
    record.trace_id = current_trace_id()
    return record


if getattr(_make_record, "__name__", "") != _record_with_context.__name__:
    logging.setLogRecordFactory(_record_with_context)


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._time = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # the time is written to the second: formatted once a second
            self._second, self._time = second, self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        entry: dict[str, object] = {
            "time": self._time,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "trace_id"):
            if value := getattr(record, name, None):
                entry[name] = value
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # What a record would otherwise look up each time (the calling frame, thread and process)
    # is in no line written, and every request writes one.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.getLogger("uvicorn.access").disabled = True
    # Their INFO and DEBUG lines print whole URLs, and some of ours carry a token in the path
    # (approval and rating links the router forwards).
    for name in URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)

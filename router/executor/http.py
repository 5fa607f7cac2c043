"""A lean HTTP/1.1 client for subgraph requests: pooled keep-alive connections per origin.

General-purpose clients spend far more CPU per request than the router does planning and
merging; subgraph calls only ever POST small JSON bodies, which this handles directly.

A connection idle for ``IDLE_SECONDS`` is closed rather than reused: well before a server's own
keep-alive ends (uvicorn's is 75 s in `vetrai.serve`), so a request is not written on a
connection the server is closing at that moment. Should a reused connection fail anyway, only
an idempotent request (a query) is sent again; a mutation's failure is answered as such, since
the server may have run it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024
IDLE_SECONDS = 30.0


class HttpError(Exception):
    """The connection failed or the answer was not valid HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection, parsing answers as bytes arrive (no stream reader, no task
    per read): at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[HttpResponse] | None = None
        self._head: tuple[int, bool, int, int] | None = None
        """Status, keep-alive, where the body starts and its length (CHUNKED, UNTIL_CLOSE)."""
        self._chunks: list[bytes] = []
        self._chunk_at = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's.
        self.transport = cast(asyncio.Transport, transport)

    def exchange(self, request: bytes) -> asyncio.Future[HttpResponse]:
        assert self.transport is not None  # noqa: S101 - connected before use
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes nobody asked for: the connection cannot be trusted any more.
            self.close()
            return
        self._buffer += data
        try:
            self._parse()
        except (HttpError, ValueError) as exc:
            self._fail(HttpError(f"invalid HTTP answer: {exc}"))

    def eof_received(self) -> bool | None:
        head = self._head
        if head is not None and head[3] == UNTIL_CLOSE:
            self._finish(head[0], False, bytes(self._buffer[head[2] :]))
        self.closed = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(asyncio.IncompleteReadError(bytes(self._buffer), None))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()

    def _finish(self, status: int, keep_alive: bool, body: bytes) -> None:
        waiter, self._waiter = self._waiter, None
        self._head = None
        self._chunks = []
        self._chunk_at = 0
        if not keep_alive:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(HttpResponse(status, body))

    def _parse(self) -> None:
        buffer = self._buffer
        if self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEADER_BYTES:
                    raise HttpError("response head too large")
                return
            self._head = _parse_head(bytes(buffer[:end]), end + 4)
            self._chunk_at = end + 4
        status, keep_alive, start, length = self._head
        if length >= 0:
            if len(buffer) >= start + length:
                body = bytes(buffer[start : start + length])
                del buffer[: start + length]
                # Bytes beyond the announced length would be read as the next answer.
                self._finish(status, keep_alive and not buffer, body)
        elif length == CHUNKED:
            self._parse_chunks(status, keep_alive)

    def _parse_chunks(self, status: int, keep_alive: bool) -> None:
        buffer = self._buffer
        at = self._chunk_at
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                break
            size = int(bytes(buffer[at:line_end]).split(b";")[0].strip(), 16)
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    break
                del buffer[: trailer_end + 4]
                self._finish(status, keep_alive and not buffer, b"".join(self._chunks))
                return
            data_end = line_end + 2 + size
            if len(buffer) < data_end + 2:
                break
            self._chunks.append(bytes(buffer[line_end + 2 : data_end]))
            at = data_end + 2
        self._chunk_at = at


CHUNKED = -1
UNTIL_CLOSE = -2


def _parse_head(head: bytes, body_start: int) -> tuple[int, bool, int, int]:
    status_line, *header_lines = head.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise HttpError("not an HTTP/1.x response")
    status = int(rest[:3])
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        return status, keep_alive, body_start, CHUNKED
    length = headers.get(b"content-length")
    if length is not None:
        return status, keep_alive, body_start, int(length)
    return status, False, body_start, UNTIL_CLOSE


class Origin:
    """Connections to one scheme://host:port, reused while the server keeps them open."""

    def __init__(
        self, url: str, *, timeout: float, max_idle: int = 64, idle_seconds: float = IDLE_SECONDS
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.host_header = parts.netloc.encode("ascii")
        self.timeout = timeout
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        self._idle: list[tuple[float, _Connection]] = []
        """Idle connections with the moment each became idle, the most recent last."""

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str], *, idempotent: bool = False
    ) -> HttpResponse:
        """The response, or TimeoutError when it takes longer than `timeout` seconds. Only an
        ``idempotent`` request is sent again when a reused connection fails."""
        request = _request_bytes(path, self.host_header, body, headers)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while (connection := self._reusable(loop.time())) is not None:
            try:
                return await self._exchange(connection, request, deadline)
            except (HttpError, OSError, asyncio.IncompleteReadError):
                connection.close()
                if not idempotent:
                    raise
        async with asyncio.timeout_at(deadline):
            connection = await self._connect()
        return await self._exchange(connection, request, deadline)

    def _reusable(self, now: float) -> _Connection | None:
        """The most recently used open connection that has not been idle too long; the ones
        idle too long are closed."""
        self._expire(now)
        while self._idle:
            _, connection = self._idle.pop()
            if not connection.closed:
                return connection
        return None

    def _expire(self, now: float) -> None:
        idle = self._idle
        while idle and now - idle[0][0] >= self.idle_seconds:
            idle.pop(0)[1].close()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection, self.host, self.port, ssl=self.tls or None
            )
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.host}:{self.port}") from exc
        return connection

    async def _exchange(
        self, connection: _Connection, request: bytes, deadline: float
    ) -> HttpResponse:
        waiter = connection.exchange(request)
        timer = asyncio.get_running_loop().call_at(deadline, _time_out, waiter)
        try:
            response = await waiter
        except BaseException:
            connection.close()
            raise
        finally:
            timer.cancel()
        now = asyncio.get_running_loop().time()
        self._expire(now)
        if not connection.closed and len(self._idle) < self.max_idle:
            self._idle.append((now, connection))
        else:
            connection.close()
        return response

    def close(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()


def _time_out(waiter: asyncio.Future[HttpResponse]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _request_bytes(path: str, host: bytes, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [b"POST " + path.encode("ascii") + b" HTTP/1.1", b"Host: " + host]
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n"):
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(f"{name}: {value}".encode("latin-1"))
    lines.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body

"""A lean HTTP/1.1 client for subgraph requests: pooled keep-alive connections per origin.

General-purpose clients spend far more CPU per request than the router does planning and
merging; subgraph calls only ever POST small JSON bodies, which this handles directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024


class HttpError(Exception):
    """The connection failed or the answer was not valid HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class Origin:
    """Connections to one scheme://host:port, reused while the server keeps them open."""

    def __init__(self, url: str, *, timeout: float, max_idle: int = 64) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.host_header = parts.netloc.encode("ascii")
        self.timeout = timeout
        self.max_idle = max_idle
        self._idle: list[_Connection] = []

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        """The response, or TimeoutError when it takes longer than `timeout` seconds."""
        request = _request_bytes(path, self.host_header, body, headers)
        async with asyncio.timeout(self.timeout):
            while self._idle:
                connection = self._idle.pop()
                try:
                    return await self._exchange(connection, request)
                except (HttpError, OSError, asyncio.IncompleteReadError):
                    # The server may have closed an idle connection; try another one.
                    connection.close()
            return await self._exchange(await self._connect(), request)

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.tls or None, limit=MAX_HEADER_BYTES
            )
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.host}:{self.port}") from exc
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes) -> HttpResponse:
        try:
            connection.writer.write(request)
            status, keep_alive, body = await _read_response(connection.reader)
        except BaseException:
            connection.close()
            raise
        if keep_alive and len(self._idle) < self.max_idle:
            self._idle.append(connection)
        else:
            connection.close()
        return HttpResponse(status, body)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _request_bytes(path: str, host: bytes, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [b"POST " + path.encode("ascii") + b" HTTP/1.1", b"Host: " + host]
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n"):
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(f"{name}: {value}".encode("latin-1"))
    lines.append(b"Content-Length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
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
        return status, keep_alive, await _read_chunked(reader)
    length = headers.get(b"content-length")
    if length is not None:
        return status, keep_alive, await reader.readexactly(int(length))
    return status, False, await reader.read()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)

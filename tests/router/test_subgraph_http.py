"""The subgraph HTTP client against a bare socket server: framing, keep-alive, stale sockets,
idle connections expiring, and a failed reused connection resending only a query."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import uvloop

from router.executor.http import IDLE_SECONDS, Origin
from vetrai.serve import KEEP_ALIVE_SECONDS as UVICORN_KEEP_ALIVE

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def bare_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    connections: list[int] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/graphql", connections


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.startswith(b"Content-Length")
    )
    return await reader.readexactly(length)


async def test_chunked_answers_are_reassembled_and_connections_reused() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            body = await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"3\r\n" + body[:3] + b"\r\n" + b"%x\r\n" % len(body[3:]) + body[3:])
            writer.write(b"\r\n0\r\n\r\n")
            await writer.drain()

    async with bare_server(chunked) as (url, connections):
        origin = Origin(url, timeout=1.0)
        first = await origin.post("/graphql", b'{"a": 1}', {})
        second = await origin.post("/graphql", b'{"b": 22}', {})
        origin.close()
    assert (first.status, first.body) == (200, b'{"a": 1}')
    assert second.body == b'{"b": 22}'
    assert len(connections) == 1


async def test_a_connection_the_server_closed_is_replaced_under_a_query() -> None:
    async def one_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()

    async with bare_server(one_per_connection) as (url, connections):
        origin = Origin(url, timeout=1.0)
        for _ in range(3):
            # its close may reach the client only once the next query is written
            assert (await origin.post("/graphql", b"{}", {}, idempotent=True)).body == b"{}"
        origin.close()
    assert len(connections) == 3


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        body = await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()


async def test_a_connection_idle_too_long_is_not_reused() -> None:
    async with bare_server(echo_forever) as (url, connections):
        kept = Origin(url, timeout=1.0)
        expiring = Origin(url, timeout=1.0, idle_seconds=0.0)
        for origin in (kept, expiring):
            for _ in range(2):
                assert (await origin.post("/graphql", b"{}", {})).body == b"{}"
        kept.close()
        expiring.close()
    assert len(connections) == 3  # one kept alive, and two that expired at once
    assert IDLE_SECONDS < UVICORN_KEEP_ALIVE


def dropping_the_second_request(received: list[bytes]) -> Handler:
    """Answers every request but the second, which it reads and then hangs up on (a server
    closing a kept-alive connection as the request arrives)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            received.append(await read_request(reader))
            if len(received) == 2:
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()

    return handler


async def test_a_mutation_on_a_failing_reused_connection_is_not_sent_again() -> None:
    received: list[bytes] = []
    async with bare_server(dropping_the_second_request(received)) as (url, connections):
        origin = Origin(url, timeout=1.0)
        await origin.post("/graphql", b'{"n": 1}', {})
        with pytest.raises(asyncio.IncompleteReadError):
            await origin.post("/graphql", b'{"n": 2}', {})
        origin.close()
    assert received == [b'{"n": 1}', b'{"n": 2}']
    assert len(connections) == 1


async def test_a_query_on_a_failing_reused_connection_is_sent_again() -> None:
    received: list[bytes] = []
    async with bare_server(dropping_the_second_request(received)) as (url, connections):
        origin = Origin(url, timeout=1.0)
        await origin.post("/graphql", b'{"n": 1}', {})
        again = await origin.post("/graphql", b'{"n": 2}', {}, idempotent=True)
        origin.close()
    assert again.body == b"{}"
    assert received == [b'{"n": 1}', b'{"n": 2}', b'{"n": 2}']
    assert len(connections) == 2


async def test_slow_answers_time_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(1)

    async with bare_server(silent) as (url, _):
        origin = Origin(url, timeout=0.1)
        with pytest.raises(TimeoutError):
            await origin.post("/graphql", b"{}", {})


async def test_header_values_cannot_smuggle_lines() -> None:
    origin = Origin("http://127.0.0.1:1/graphql", timeout=1.0)
    with pytest.raises(ValueError, match="line break"):
        await origin.post("/graphql", b"{}", {"x-caller": "a\r\nHost: evil"})


async def test_answers_arriving_byte_by_byte_are_reassembled() -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunked = False
        while True:
            body = await read_request(reader)
            if chunked:
                framed = b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
            else:
                framed = b"Content-Length: %d\r\n\r\n%s"
            answer = b"HTTP/1.1 200 OK\r\n" + framed % (len(body), body)
            for index in range(len(answer)):
                writer.write(answer[index : index + 1])
                await writer.drain()
                await asyncio.sleep(0)
            chunked = not chunked

    async with bare_server(trickle) as (url, connections):
        origin = Origin(url, timeout=2.0)
        first = await origin.post("/graphql", b'{"a": 1}', {})
        second = await origin.post("/graphql", b'{"b": 2}', {})
        origin.close()
    assert (first.body, second.body) == (b'{"a": 1}', b'{"b": 2}')
    assert len(connections) == 1


def test_the_client_runs_on_uvloop() -> None:
    async def exchange() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            body = await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()

        async with bare_server(echo) as (url, _):
            origin = Origin(url, timeout=1.0)
            answer = await origin.post("/graphql", b'{"uv": 1}', {})
            origin.close()
        return answer.body

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(exchange()) == b'{"uv": 1}'

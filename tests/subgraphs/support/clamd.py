"""A clamd for the tests: a real TCP server speaking clamd's INSTREAM protocol (and PING) that
finds the EICAR test string, since a real ClamAV has no signatures without a download."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
STREAM_MAX = 25 * 1024 * 1024


async def _instream(reader: asyncio.StreamReader) -> bytes:
    data = bytearray()
    while size := struct.unpack("!I", await reader.readexactly(4))[0]:
        data += await reader.readexactly(size)
        if len(data) > STREAM_MAX:
            return b"INSTREAM size limit exceeded. ERROR\0"
    found = EICAR in data
    return b"stream: Eicar-Test-Signature FOUND\0" if found else b"stream: OK\0"


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        command = await reader.readuntil(b"\0")
        if command == b"zPING\0":
            writer.write(b"PONG\0")
        elif command == b"zINSTREAM\0":
            writer.write(await _instream(reader))
        else:
            writer.write(b"UNKNOWN COMMAND\0")
        await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def clamd_server() -> AsyncIterator[int]:
    """Serve on a free loopback port (yielded) for the block's duration."""
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()

"""Virus scanning of attachments by clamd over TCP with its INSTREAM protocol: the file goes
in length-prefixed chunks, clamd answers ``stream: OK`` or ``stream: <signature> FOUND``.
Without ``CLAMD_HOST`` scanning is off (said once per process) and attachments stay unscanned."""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from dataclasses import dataclass

log = logging.getLogger("vetrai.support.scanning")
CHUNK = 64 * 1024


class ScanFailed(Exception):
    """clamd could not be reached or gave no verdict; the scan is tried again later."""


@dataclass(frozen=True)
class Verdict:
    signature: str | None  # None: clean

    @property
    def infected(self) -> bool:
        return self.signature is not None


@dataclass(frozen=True)
class Scanner:
    host: str
    port: int = 3310
    timeout: float = 30.0

    async def scan(self, data: bytes) -> Verdict:
        try:
            return await asyncio.wait_for(self._scan(data), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise ScanFailed(f"clamd at {self.host}:{self.port}: {exc!r}") from exc

    async def _scan(self, data: bytes) -> Verdict:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(b"zINSTREAM\0")
            for start in range(0, len(data), CHUNK):
                chunk = data[start : start + CHUNK]
                writer.write(struct.pack("!I", len(chunk)) + chunk)
                await writer.drain()
            writer.write(struct.pack("!I", 0))
            await writer.drain()
            answer = (await reader.readuntil(b"\0"))[:-1].decode("utf-8", "replace")
        finally:
            writer.close()
        return verdict(answer)


def verdict(answer: str) -> Verdict:
    """clamd's answer read: ``stream: OK``, ``stream: Eicar-Signature FOUND``, or an error."""
    result = answer.partition(": ")[2].strip()
    if result == "OK":
        return Verdict(None)
    if result.endswith(" FOUND"):
        return Verdict(result.removesuffix(" FOUND"))
    raise ScanFailed(f"clamd answered {answer!r}")


@functools.cache
def say_scanning_off() -> None:
    log.warning("CLAMD_HOST is not set: attachments are not scanned for viruses")


def scanner_for(host: str | None, port: int, timeout: float) -> Scanner | None:
    if host is None:
        say_scanning_off()
        return None
    return Scanner(host, port, timeout)

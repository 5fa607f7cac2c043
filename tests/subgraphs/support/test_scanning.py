"""Virus scanning through a real TCP clamd (the tests' own, speaking INSTREAM) and a real S3:
an attached file waits for its scan, a clean one becomes downloadable, an infected one
(EICAR) is deleted from storage and never downloadable; with clamd away the job is retried;
without CLAMD_HOST scanning is off, said once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from arq.worker import Retry

from subgraphs.kernel.db import Database
from subgraphs.kernel.storage import ObjectKey, Storage
from subgraphs.support import scanning
from subgraphs.support.scanning import ScanFailed, Scanner, verdict
from subgraphs.support.service import SupportService
from subgraphs.support.tasks import scan_attachment
from tests.conftest import SignedClient, subgraph_client
from tests.subgraphs.support.clamd import EICAR, clamd_server
from tests.subgraphs.support.helpers import Org, create_ticket, uploaded
from vetrai.settings import PlatformSettings

READ = (
    """query($id: ID!) { ticket(id: $id) { attachments { id fileName scanStatus downloadUrl } } }"""
)


@pytest.fixture(scope="module")
async def clamd_port() -> AsyncIterator[int]:
    async with clamd_server() as port:
        yield port


def scanning_settings(
    settings: PlatformSettings, storage_settings: PlatformSettings, port: int
) -> PlatformSettings:
    support = settings.support.model_copy(update={"clamd_host": "127.0.0.1", "clamd_port": port})
    return settings.model_copy(update={"storage": storage_settings.storage, "support": support})


@pytest.fixture(scope="module")
async def scanned(
    settings: PlatformSettings, storage_settings: PlatformSettings, clamd_port: int
) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client(
        "support", scanning_settings(settings, storage_settings, clamd_port)
    ):
        yield client


@pytest.fixture(scope="module")
async def job_context(
    settings: PlatformSettings,
    storage_settings: PlatformSettings,
    clamd_port: int,
    storage: Storage,
) -> AsyncIterator[dict[str, Any]]:
    """What the worker's startup gives the scan job, with scanning on."""
    url = settings.core.login_url("support")
    db = Database(url)
    with_clamd = scanning_settings(settings, storage_settings, clamd_port)
    service = SupportService(db, None, with_clamd, storage)  # type: ignore[arg-type]
    yield {"support": service, "job_try": 1}
    await db.close()


async def attached(support: SignedClient, org: Org, data: bytes) -> dict[str, Any]:
    requester = org.caller()
    attachment = await uploaded(support, requester, data, content_type="text/plain")
    created = await create_ticket(support, requester, attachmentIds=[attachment])
    assert created["errors"] == []
    [found] = await read(support, org, created["ticket"]["id"])
    return found | {"ticket": created["ticket"]["id"]}


async def read(support: SignedClient, org: Org, ticket_id: str) -> list[dict[str, Any]]:
    result = (await support.post(READ, {"id": ticket_id}, org.owner())).json()
    found: list[dict[str, Any]] = result["data"]["ticket"]["attachments"]
    return found


async def test_a_clean_file_is_downloadable_once_scanned(
    scanned: SignedClient, job_context: dict[str, Any]
) -> None:
    org = Org()
    file = await attached(scanned, org, b"Invoice 42 was charged twice.\n")
    assert (file["scanStatus"], file["downloadUrl"]) == ("PENDING_SCAN", None)
    assert await scan_attachment(job_context, str(org.id), file["id"]) == "clean"
    [clean] = await read(scanned, org, file["ticket"])
    assert clean["scanStatus"] == "CLEAN"
    async with httpx.AsyncClient() as client:
        response = await client.get(clean["downloadUrl"])
    assert response.content == b"Invoice 42 was charged twice.\n"


async def test_an_infected_file_is_deleted_and_never_downloadable(
    scanned: SignedClient, job_context: dict[str, Any], storage: Storage
) -> None:
    org = Org()
    file = await attached(scanned, org, b"look: " + EICAR + b"\n")
    assert await scan_attachment(job_context, str(org.id), file["id"]) == "infected"
    assert await storage.stat(ObjectKey.of(org.id, "tickets", file["id"])) is None
    result = (await scanned.post(READ, {"id": file["ticket"]}, org.owner())).json()
    [infected] = result["data"]["ticket"]["attachments"]
    assert (infected["scanStatus"], infected["downloadUrl"]) == ("INFECTED", None)
    [error] = result["errors"]
    assert error["extensions"]["code"] == "ATTACHMENT_INFECTED"
    assert error["path"] == ["ticket", "attachments", 0, "downloadUrl"]
    # scanning again changes nothing
    assert await scan_attachment(job_context, str(org.id), file["id"]) == "infected"


async def test_another_organizations_attachment_is_not_scanned_for_it(
    scanned: SignedClient, job_context: dict[str, Any]
) -> None:
    org = Org()
    file = await attached(scanned, org, b"mine\n")
    assert await scan_attachment(job_context, str(Org().id), file["id"]) == "unknown"
    [still] = await read(scanned, org, file["ticket"])
    assert still["scanStatus"] == "PENDING_SCAN"


async def test_with_clamd_away_the_scan_is_retried_and_the_file_waits(
    scanned: SignedClient, job_context: dict[str, Any]
) -> None:
    org = Org()
    file = await attached(scanned, org, b"later\n")
    async with clamd_server() as port:
        pass  # a port nobody listens on any more
    service: SupportService = job_context["support"]
    away = {**job_context, "support": _with_scanner(service, Scanner("127.0.0.1", port, 2.0))}
    with pytest.raises(Retry):
        await scan_attachment(away, str(org.id), file["id"])
    [waiting] = await read(scanned, org, file["ticket"])
    assert (waiting["scanStatus"], waiting["downloadUrl"]) == ("PENDING_SCAN", None)


def _with_scanner(service: SupportService, scanner: Scanner) -> SupportService:
    other = SupportService(service.db, service.redis, service.settings, service.storage)
    other.scanner = scanner
    return other


async def test_the_client_speaks_instream_in_chunks(clamd_port: int) -> None:
    scanner = Scanner("127.0.0.1", clamd_port)
    big = b"a" * (3 * scanning.CHUNK + 17)
    assert not (await scanner.scan(big)).infected
    found = await scanner.scan(big + EICAR)
    assert (found.infected, found.signature) == (True, "Eicar-Test-Signature")
    assert not (await scanner.scan(b"")).infected
    many = await asyncio.gather(*(scanner.scan(b"x" * 1000) for _ in range(10)))
    assert not any(v.infected for v in many)


def test_clamd_answers_are_read_and_errors_are_failures() -> None:
    assert verdict("stream: OK").signature is None
    assert verdict("stream: Win.Test.EICAR_HDB-1 FOUND").signature == "Win.Test.EICAR_HDB-1"
    with pytest.raises(ScanFailed):
        verdict("INSTREAM size limit exceeded. ERROR")


async def test_without_clamd_host_files_are_unscanned_and_it_is_said_once(
    support: SignedClient, caplog: pytest.LogCaptureFixture
) -> None:
    scanning.say_scanning_off.cache_clear()
    with caplog.at_level(logging.WARNING, logger="vetrai.support.scanning"):
        assert scanning.scanner_for(None, 3310, 1.0) is None
        assert scanning.scanner_for(None, 3310, 1.0) is None
    assert [r.getMessage() for r in caplog.records] == [
        "CLAMD_HOST is not set: attachments are not scanned for viruses"
    ]
    org = Org()
    file = await attached(support, org, b"no scanner here\n")
    assert file["scanStatus"] == "UNSCANNED"
    assert file["downloadUrl"]

"""Workers' operations as written, through the router with the real worker: ``job``,
``cancelJob`` and the ``jobStatus`` subscription over graphql-transport-ws and multipart HTTP;
another organization's job is NOT_FOUND and sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import orjson
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from subgraphs.kernel.db import Database
from subgraphs.workers.models import Status
from subgraphs.workers.service import JobService
from tests.router.platform.conftest import RouterClient
from tests.subgraphs.workers.builders import request, until
from vetrai.settings import PlatformSettings

JOB_STATUS = """subscription { jobStatus(id: "%s") { id status progress message attempt
  interrupt { id payload } updatedAt } }"""
JOB = """query { job(id: "%s") { kind status attempts progress result error { code message }
  logs(last: 20) { at level message } } }"""
CANCEL = 'mutation { cancelJob(id: "%s") { job { id status } errors { code message } } }'


@pytest.fixture
async def jobs(settings: PlatformSettings) -> AsyncIterator[JobService]:
    url = settings.core.login_url("workers")
    db = Database(url)
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    yield JobService(db, redis, settings)
    await redis.aclose()
    await db.close()


@asynccontextmanager
async def _subscribed(
    router: RouterClient, token: str, org: str, query: str
) -> AsyncIterator[ClientConnection]:
    url = str(router.client.base_url).replace("http", "ws", 1) + "/graphql"
    init = {"Authorization": f"Bearer {token}", "x-organization-id": org}
    async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init", "payload": init}).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": query}}
        await ws.send(orjson.dumps(subscribe).decode())
        yield ws


async def _next(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] != "ping":
            return message


async def _running(jobs: JobService, org: str) -> UUID:
    job = await jobs.start(request(UUID(org), "test.block"))
    await until(jobs, UUID(org), job.id, Status.RUNNING)
    return job.id


async def test_job_status_streams_each_change_until_the_job_is_cancelled(
    router: RouterClient, jobs: JobService, worker: None
) -> None:
    token, org = await router.owner_of_new_organization()
    job_id = await _running(jobs, org)
    async with _subscribed(router, token, org, JOB_STATUS % job_id) as ws:
        first = await _next(ws)
        now = first["payload"]["data"]["jobStatus"]
        assert (now["id"], now["status"], now["attempt"], now["interrupt"]) == (
            str(job_id),
            "RUNNING",
            1,
            None,
        )
        cancelled = await router.data(
            CANCEL % job_id, authorization=f"Bearer {token}", x_organization_id=org
        )
        assert cancelled["cancelJob"] == {
            "job": {"id": str(job_id), "status": "CANCELLED"},
            "errors": [],
        }
        last = (await _next(ws))["payload"]["data"]["jobStatus"]
        assert last["status"] == "CANCELLED"
        assert last["updatedAt"] > now["updatedAt"]
        assert await _next(ws) == {"type": "complete", "id": "1"}
    found = await router.data(JOB % job_id, authorization=f"Bearer {token}", x_organization_id=org)
    assert found["job"] == {
        "kind": "test.block",
        "status": "CANCELLED",
        "attempts": 1,
        "progress": 0.0,
        "result": None,
        "error": None,
        "logs": [],
    }


async def test_another_organizations_job_is_not_found_and_nothing_is_sent(
    router: RouterClient, jobs: JobService, worker: None
) -> None:
    owner, org = await router.owner_of_new_organization()
    job_id = await _running(jobs, org)
    stranger, other = await router.owner_of_new_organization()
    async with _subscribed(router, stranger, other, JOB_STATUS % job_id) as ws:
        message = await _next(ws)
        assert message["payload"]["data"] is None
        codes = [e.get("extensions", {}).get("code") for e in message["payload"]["errors"]]
        assert codes[0] == "NOT_FOUND"
        assert await _next(ws) == {"type": "complete", "id": "1"}
    seen = await router.data(
        JOB % job_id, authorization=f"Bearer {stranger}", x_organization_id=other
    )
    assert seen["job"] is None
    await router.data(CANCEL % job_id, authorization=f"Bearer {owner}", x_organization_id=org)


async def test_job_status_over_multipart_http(
    router: RouterClient, jobs: JobService, worker: None
) -> None:
    token, org = await router.owner_of_new_organization()
    job_id = await _running(jobs, org)
    headers = {
        "authorization": f"Bearer {token}",
        "x-organization-id": org,
        "accept": 'multipart/mixed;subscriptionSpec="1.0", application/json',
    }
    body = {"query": JOB_STATUS % job_id}
    async with router.client.stream("POST", "/graphql", json=body, headers=headers) as response:
        assert response.headers["content-type"].startswith("multipart/mixed")
        received = bytearray()
        chunks = response.aiter_bytes()
        while b"RUNNING" not in received:
            received.extend(await asyncio.wait_for(anext(chunks), 10))
        await router.data(CANCEL % job_id, authorization=f"Bearer {token}", x_organization_id=org)
        while b"CANCELLED" not in received:
            received.extend(await asyncio.wait_for(anext(chunks), 10))
    parts = [p for p in bytes(received).split(b"\r\n\r\n")[1:] if b"jobStatus" in p]
    statuses = [
        orjson.loads(p.split(b"\r\n--graphql", 1)[0])["payload"]["data"]["jobStatus"]["status"]
        for p in parts
    ]
    assert statuses == ["RUNNING", "CANCELLED"]


WORKFLOWS = "query { workflows { name version description inputSchema } }"
START_AS_WRITTEN = """mutation { startWorkflow(input: {organizationId: "%s",
  workflow: "notification_digest", input: {since: "2026-12-01T00:00:00Z"},
  idempotencyKey: "digest-1", concurrencyKey: "digest", multitask: REJECT}) {
  job { id status } errors { code field message } } }"""
RESUME_AS_WRITTEN = """mutation { resumeJob(input: {jobId: "%s", interruptId: "%s",
  decision: APPROVE, comment: "ok"}) { job { id status } errors { code message } } }"""


async def test_the_workflow_operations_as_written(
    router: RouterClient, jobs: JobService, worker: None
) -> None:
    token, org = await router.owner_of_new_organization()

    async def data(query: str) -> Any:
        return await router.data(query, authorization=f"Bearer {token}", x_organization_id=org)

    listed = (await data(WORKFLOWS))["workflows"]
    digest = next(w for w in listed if w["name"] == "notification_digest")
    assert digest["inputSchema"]["required"] == ["since"]
    started = (await data(START_AS_WRITTEN % org))["startWorkflow"]
    assert started["errors"] == []
    job_id = started["job"]["id"]
    again = (await data(START_AS_WRITTEN % org))["startWorkflow"]
    assert again["job"]["id"] == job_id  # the same idempotency key
    async with _subscribed(router, token, org, JOB_STATUS % job_id) as ws:
        statuses: list[str] = []
        while not statuses or statuses[-1] not in ("SUCCEEDED", "FAILED"):
            statuses.append((await _next(ws))["payload"]["data"]["jobStatus"]["status"])
    assert statuses[-1] == "SUCCEEDED"
    found = (await data(JOB % job_id))["job"]
    assert (found["kind"], found["status"], found["attempts"]) == ("workflow", "SUCCEEDED", 1)
    assert found["result"]["sent"] == 0  # nobody has unread notifications
    resumed = (await data(RESUME_AS_WRITTEN % (job_id, "none")))["resumeJob"]
    assert [e["code"] for e in resumed["errors"]] == ["JOB_FINISHED"]
    cancelled = (await data(CANCEL % job_id))["cancelJob"]
    assert [e["code"] for e in cancelled["errors"]] == ["JOB_FINISHED"]

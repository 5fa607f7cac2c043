"""The ticket_triage workflow, run by the real worker: the priority, tags and team of the
nearest settled tickets suggested, held for an approval, applied once approved and not when
rejected; with an OpenAI-compatible endpoint configured (a local HTTP stub here), its ``llm``
step's summary is in what the approver is asked."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from subgraphs.kernel.db import Database
from subgraphs.kernel.errors import Rejected
from subgraphs.support.service import SupportService
from subgraphs.workers.models import Status
from subgraphs.workers.service import JobService
from tests.conftest import SignedClient, served, subgraph_client
from tests.subgraphs.support.helpers import Org, agent, embedded, set_status, team, ticket
from tests.subgraphs.workers.builders import member_of, until
from vetrai.platform import domain
from vetrai.settings import PlatformSettings

START = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  job { id } errors { code field message } } }"""
JOB = """query($id: ID!) { job(id: $id) { interrupt { id payload } } }"""
RESUME = """mutation($input: ResumeJobInput!) { resumeJob(input: $input) { errors { code } } }"""
ASSIGN = """mutation($input: AssignTicketToTeamInput!) { assignTicketToTeam(input: $input) {
  errors { code } } }"""
READ = """query($id: ID!) { ticket(id: $id) { priority tags teamId } }"""
BILLING = [
    ("My invoice was charged twice", "Two identical payments for March."),
    ("Duplicate payment taken", "The same amount was debited twice on one day."),
    ("I was billed two times", "You took the money for one order twice."),
]
BRANDING = [
    ("Cannot upload a logo", "Uploading our company logo fails."),
    ("Brand image will not save", "The theme settings reject our logo."),
]


@pytest.fixture(scope="module")
async def workers_subgraph(settings: PlatformSettings) -> AsyncIterator[SignedClient]:
    async for client in subgraph_client("workers", settings):
        yield client


@pytest.fixture
async def jobs(settings: PlatformSettings) -> AsyncIterator[JobService]:
    db = Database(settings.core.login_url("workers"))
    assert settings.core.redis_url
    redis = Redis.from_url(settings.core.redis_url)
    yield JobService(db, redis, settings)
    await redis.aclose()
    await db.close()


async def _precedents(support: SignedClient, org: Org) -> str:
    """Settled tickets: billing ones urgent-ish with their team, branding ones low; the team."""
    billing = await team(support, org, "Billing", [await agent(support, org)])
    for (title, body), priority, tags in [
        *((b, "HIGH", ["billing"]) for b in BILLING),
        *((b, "LOW", ["branding"]) for b in BRANDING),
    ]:
        created = await ticket(
            support, org.caller(), title=title, body=f"<p>{body}</p>", priority=priority, tags=tags
        )
        if tags == ["billing"]:
            assign = {"ticketId": created["id"], "teamId": billing}
            assert (await support.run(ASSIGN, {"input": assign}, org.owner()))[
                "assignTicketToTeam"
            ]["errors"] == []
        assert (await set_status(support, org.owner(), created["id"], "RESOLVED"))["errors"] == []
    return billing


async def _triaged(
    support: SignedClient,
    workers_subgraph: SignedClient,
    jobs: JobService,
    owner_engine: AsyncEngine,
    decision: str,
) -> tuple[dict[str, Any], dict[str, Any], str]:
    org = Org()
    billing = await _precedents(support, org)
    new = await ticket(support, org.caller(), title="Double charge on my card", body="<p>!</p>")
    await embedded(owner_engine, [new["id"]])
    approver = member_of(org.id)
    given = {
        "organizationId": str(org.id),
        "workflow": "ticket_triage",
        "input": {"ticket_id": new["id"]},
        "idempotencyKey": secrets.token_hex(6),
    }
    started = (await workers_subgraph.run(START, {"input": given}, approver))["startWorkflow"]
    assert started["errors"] == []
    job_id = UUID(started["job"]["id"])
    await until(jobs, org.id, job_id, Status.WAITING, Status.FAILED, within=60)
    asked = (await workers_subgraph.run(JOB, {"id": str(job_id)}, approver))["job"]["interrupt"]
    decide = {"jobId": str(job_id), "interruptId": asked["id"], "decision": decision}
    resumed = await workers_subgraph.run(RESUME, {"input": decide}, approver)
    assert resumed["resumeJob"]["errors"] == []
    done = await until(jobs, org.id, job_id, Status.SUCCEEDED, Status.FAILED, within=60)
    assert done.status == "succeeded", done.error_message
    after = (await support.run(READ, {"id": new["id"]}, org.owner()))["ticket"]
    return asked["payload"], after, billing


async def test_an_approved_triage_applies_what_the_nearest_settled_tickets_suggest(
    support: SignedClient,
    workers_subgraph: SignedClient,
    jobs: JobService,
    worker: None,
    owner_engine: AsyncEngine,
) -> None:
    asked, after, billing = await _triaged(support, workers_subgraph, jobs, owner_engine, "APPROVE")
    suggestion = asked["suggestion"]
    assert (suggestion["priority"], suggestion["tags"], suggestion["team_id"]) == (
        "high",
        ["billing"],
        billing,
    )
    assert len(suggestion["precedents"]) == 5
    assert "summary" not in asked  # no LLM endpoint is configured for the session's worker
    assert after == {"priority": "HIGH", "tags": ["billing"], "teamId": billing}


async def test_a_rejected_triage_changes_nothing(
    support: SignedClient,
    workers_subgraph: SignedClient,
    jobs: JobService,
    worker: None,
    owner_engine: AsyncEngine,
) -> None:
    asked, after, _ = await _triaged(support, workers_subgraph, jobs, owner_engine, "REJECT")
    assert asked["suggestion"]["priority"] == "high"
    assert after == {"priority": "NORMAL", "tags": [], "teamId": None}


def _completions(asked: list[dict[str, Any]], answer: str) -> Starlette:
    """An OpenAI-compatible chat completions endpoint that answers ``answer`` and keeps what
    it was asked."""

    async def complete(request: Request) -> JSONResponse:
        asked.append({"auth": request.headers.get("authorization"), **await request.json()})
        message = {"role": "assistant", "content": f"  {answer}\n"}
        return JSONResponse({"choices": [{"index": 0, "message": message}]})

    return Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])


async def test_the_llm_step_summarizes_the_ticket_for_its_approver(
    support: SignedClient, settings: PlatformSettings
) -> None:
    org = Org()
    new = await ticket(
        support, org.caller(), title="Double charge on my card", body="<p>Twice in <b>May</b></p>"
    )
    asked: list[dict[str, Any]] = []
    async with served(_completions(asked, "Charged twice; refund needed.")) as port:
        configured = settings.replace(
            llm_base_url=f"http://127.0.0.1:{port}/v1",
            llm_api_key=SecretStr("k-1"),
            llm_model="small",
        )
        app = domain("support").create_app(configured)
        service: SupportService = app.state.services
        try:
            summary = await service.summarize_for_triage(org.id, UUID(new["id"]))
            with pytest.raises(Rejected):  # another organization's ticket
                await service.summarize_for_triage(uuid4(), UUID(new["id"]))
        finally:
            await app.state.runtime.db.close()
            await app.state.runtime.redis.aclose()
    assert summary == "Charged twice; refund needed."
    [request] = asked
    assert (request["auth"], request["model"]) == ("Bearer k-1", "small")
    assert request["messages"][1] == {
        "role": "user",
        "content": "Double charge on my card\nTwice in May",
    }

"""The approval inbox through the router with the real worker and SMTP server: a run waits at
its interrupt, its approver reads the email, opens the page (which decides nothing) and presses
its button; the run succeeds. resumeJob refuses a member who is no approver, a second decision
and another organization; createSchedule works as the issue writes it."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import emailed, unique_email
from tests.router.platform.conftest import PASSWORD, RouterClient
from tests.router.platform.test_identity_changes import admin_of
from tests.subgraphs.workers.reviews import links

SIGN_UP = """mutation($e: String!, $p: String!) { signUp(input: {email: $e, password: $p,
  name: "Approver"}) { user { id } tokens { accessToken } } }"""
CREATE_ORG = """mutation($s: String!) { createOrganization(input: {name: "Acme", slug: $s})
  { organization { id } } }"""
START = """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
  job { id status } errors { code field message } } }"""
JOB = """query($id: ID!) { job(id: $id) { status result interrupt { id payload }
  approvals { status decidedVia comment decidedBy { id } } } }"""
RESUME = """mutation { resumeJob(input: {jobId: "%s", interruptId: "%s", decision: APPROVE,
  comment: "ok"}) { job { id status } errors { code message } } }"""
PENDING = "query { me { id pendingApprovals { interruptId workflow } } }"
CREATE_SCHEDULE = """mutation { createSchedule(input: {organizationId: "%s",
  workflow: "notification_digest", cron: "0 8 * * 1-5", timezone: "Europe/Berlin"}) {
  schedule { id nextRunAt } errors { code field message } } }"""


class Owner:
    """A user who owns a new organization, with the email auth knows them by."""

    def __init__(self, router: RouterClient, email: str, user_id: str, token: str, org: str):
        self.router, self.email, self.user_id, self.token, self.org = (
            router,
            email,
            user_id,
            token,
            org,
        )

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return await self.router.data(
            query, variables, authorization=f"Bearer {self.token}", x_organization_id=self.org
        )


async def _owner(router: RouterClient) -> Owner:
    email = unique_email("owner")
    signed = (await router.data(SIGN_UP, {"e": email, "p": PASSWORD}))["signUp"]
    token = signed["tokens"]["accessToken"]
    org = await router.data(
        CREATE_ORG, {"s": f"acme-{secrets.token_hex(4)}"}, authorization=f"Bearer {token}"
    )
    return Owner(
        router, email, signed["user"]["id"], token, org["createOrganization"]["organization"]["id"]
    )


async def _waiting(owner: Owner, approvers: list[str]) -> tuple[str, str]:
    given = {
        "organizationId": owner.org,
        "workflow": "test_review",
        "input": {"title": "the spring sale", "approvers": approvers},
        "idempotencyKey": secrets.token_hex(6),
    }
    started = (await owner.data(START, {"input": given}))["startWorkflow"]
    assert started["errors"] == []
    job_id = started["job"]["id"]
    for _ in range(500):
        job = (await owner.data(JOB, {"id": job_id}))["job"]
        if job["status"] == "WAITING":
            return job_id, job["interrupt"]["id"]
        assert job["status"] in ("QUEUED", "RUNNING"), job
        await asyncio.sleep(0.02)
    raise AssertionError("the run never waited")


async def _until_status(owner: Owner, job_id: str, status: str) -> dict[str, Any]:
    for _ in range(500):
        job: dict[str, Any] = (await owner.data(JOB, {"id": job_id}))["job"]
        if job["status"] == status:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"the run never became {status}")


async def test_an_approver_decides_by_the_emailed_link_through_the_router(
    router: RouterClient, owner_engine: AsyncEngine, worker: None, caplog: pytest.LogCaptureFixture
) -> None:
    owner = await _owner(router)
    job_id, interrupt = await _waiting(owner, [owner.user_id])
    pending = (await owner.data(PENDING))["me"]["pendingApprovals"]
    assert pending == [{"interruptId": interrupt, "workflow": "test_review"}]
    paths = links(await emailed(owner_engine, owner.email, "approval_requested"))
    approve = f"/assets/workers{paths['approve']}"
    with caplog.at_level(logging.INFO, logger="vetrai.http"):
        page = await router.client.get(approve)
    logged = [str(getattr(r, "fields", "")) for r in caplog.records if r.name == "vetrai.http"]
    assert len(logged) >= 2  # the router's line and the workers subgraph's
    assert not [line for line in logged if approve.rsplit("/", 1)[1] in line]
    assert page.status_code == 200
    assert "Publish the spring sale?" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert (await owner.data(JOB, {"id": job_id}))["job"]["status"] == "WAITING"
    decided = await router.client.post(approve, data={"comment": "looks good"})
    assert decided.status_code == 200
    done = await _until_status(owner, job_id, "SUCCEEDED")
    assert done["result"]["decision"] == "approve"
    assert done["approvals"] == [
        {
            "status": "APPROVED",
            "decidedVia": "link",
            "comment": "looks good",
            "decidedBy": {"id": owner.user_id},
        }
    ]
    again = (await owner.data(RESUME % (job_id, interrupt)))["resumeJob"]
    assert [e["code"] for e in again["errors"]] == ["ALREADY_DECIDED"]
    reject = await router.client.post(f"/assets/workers{paths['reject']}", data={"comment": ""})
    assert reject.status_code == 409
    assert (await owner.data(PENDING))["me"]["pendingApprovals"] == []


async def test_resume_job_refuses_a_member_who_is_no_approver_and_another_organization(
    router: RouterClient, owner_engine: AsyncEngine, worker: None
) -> None:
    owner = await _owner(router)
    job_id, interrupt = await _waiting(owner, [owner.user_id])
    _, admin_token = await admin_of(router, owner_engine, owner.token, owner.org)
    admin = Owner(router, "", "", admin_token, owner.org)
    refused = (await admin.data(RESUME % (job_id, interrupt)))["resumeJob"]
    assert [e["code"] for e in refused["errors"]] == ["NOT_APPROVER"]
    stranger = await _owner(router)
    foreign = (await stranger.data(RESUME % (job_id, interrupt)))["resumeJob"]
    assert [e["code"] for e in foreign["errors"]] == ["NOT_FOUND"]
    their_job, _ = await _waiting(stranger, [stranger.user_id])
    their_link = links(await emailed(owner_engine, stranger.email, "approval_requested"))
    decided = await router.client.post(
        f"/assets/workers{their_link['approve']}", data={"comment": ""}
    )
    assert decided.status_code == 200
    await _until_status(stranger, their_job, "SUCCEEDED")
    assert (await owner.data(JOB, {"id": job_id}))["job"]["status"] == "WAITING"
    approved = (await owner.data(RESUME % (job_id, interrupt)))["resumeJob"]
    assert approved["errors"] == []
    await _until_status(owner, job_id, "SUCCEEDED")


async def test_create_schedule_as_written(router: RouterClient) -> None:
    owner = await _owner(router)
    created = (await owner.data(CREATE_SCHEDULE % owner.org))["createSchedule"]
    assert created["errors"] == []
    assert created["schedule"]["nextRunAt"].endswith(("T06:00:00+00:00", "T07:00:00+00:00"))
    stranger = await _owner(router)
    refused = (await stranger.data(CREATE_SCHEDULE % owner.org))["createSchedule"]
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"]

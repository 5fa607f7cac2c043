"""A workflow's approval through ``vetrai up``, as a new user meets it: a ticket's triage waits
for its approver, the approval email arrives at the local SMTP catcher, its approve link decides
it, and the run goes on to succeed."""

from __future__ import annotations

import re
import secrets
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import unique_email, unique_slug
from tests.e2e.conftest import ROUTER, Platform, run_query

APPROVE = re.compile(r"Approve: (\S+/approvals/[A-Za-z0-9_-]+)")
# The worker embeds the ticket and triages it after vetrai up started: generous on a loaded host.
WAIT_SECONDS = 120


def _as(token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"}
    body = {"query": query, "variables": variables or {}}
    answer = httpx.post(ROUTER, json=body, headers=headers, timeout=30).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def _owner_with_a_ticket() -> tuple[str, str, str, str]:
    """A new user's email and token, their organization and a ticket in it."""
    email, slug = unique_email("ada"), unique_slug()
    token = run_query(
        ROUTER,
        f"""mutation {{ signUp(input: {{email: "{email}", password: "correct horse battery",
      name: "Ada"}}) {{ tokens {{ accessToken }} }} }}""",
    )["signUp"]["tokens"]["accessToken"]
    org = _as(
        token,
        f"""mutation {{ createOrganization(input: {{name: "Ada's", slug: "{slug}"}})
      {{ organization {{ id }} }} }}""",
    )["createOrganization"]["organization"]["id"]
    ticket = _as(
        token,
        f"""mutation {{ createTicket(input: {{organizationId: "{org}",
      title: "Charged twice", body: "<p>Two payments in March</p>", priority: LOW, tags: [],
      attachmentIds: []}}) {{ ticket {{ id }} errors {{ code }} }} }}""",
    )["createTicket"]["ticket"]["id"]
    return email, token, org, ticket


def _caught_approval(mail: Path, to: str) -> str:
    """The approve link of the approval email the SMTP catcher received for ``to``."""
    parse = BytesParser(policy=policy.default)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        for path in mail.glob("*.eml"):
            with path.open("rb") as file:
                message = parse.parse(file)
            assert isinstance(message, EmailMessage)
            if to not in str(message["To"]):
                continue
            text = message.get_body(preferencelist=("plain",))
            found = APPROVE.search(text.get_content() if text else "")
            if found:
                return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no approval email reached the catcher for {to}")


def _status_once_settled(token: str, job: str, *settled: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        read: dict[str, Any] = _as(
            token, "query($id: ID!) { job(id: $id) { status interrupts { id } } }", {"id": job}
        )["job"]
        if read["status"] in settled or time.monotonic() > deadline:
            return read
        time.sleep(0.2)


def test_a_triage_waits_for_the_emailed_approval_and_then_succeeds(platform: Platform) -> None:
    email, token, org, ticket = _owner_with_a_ticket()
    started = _as(
        token,
        """mutation($input: StartWorkflowInput!) { startWorkflow(input: $input) {
      job { id } errors { code message } } }""",
        {
            "input": {
                "organizationId": org,
                "workflow": "ticket_triage",
                "input": {"ticket_id": ticket},
                "idempotencyKey": secrets.token_hex(6),
            }
        },
    )["startWorkflow"]
    assert started["errors"] == []
    job = started["job"]["id"]
    waiting = _status_once_settled(token, job, "WAITING", "FAILED", "SUCCEEDED")
    assert waiting["status"] == "WAITING"
    assert len(waiting["interrupts"]) == 1

    link = _caught_approval(platform.data / "mail", email)
    assert link.startswith(ROUTER.removesuffix("/graphql"))
    page = httpx.get(link, timeout=30)
    assert page.status_code == 200
    assert "Approve" in page.text
    decided = httpx.post(link, data={"comment": "Looks right"}, timeout=30)
    assert decided.status_code == 200, decided.text

    done = _status_once_settled(token, job, "SUCCEEDED", "FAILED")
    assert done == {"status": "SUCCEEDED", "interrupts": []}
    again = httpx.post(link, data={"comment": ""}, timeout=30)
    assert again.status_code == 409  # a link decides once

"""Support through ``vetrai up``'s router: the issue's ticket operations as written (without an
attachment: the embedded S3 is not part of ``vetrai up`` yet), the requester's email joined
from auth, the organization's tickets from tenancy's Organization."""

from __future__ import annotations

from typing import Any

from tests.conftest import unique_email, unique_slug
from tests.e2e.conftest import ROUTER, Platform, run_query


def _as(token: str, query: str) -> dict[str, Any]:
    return run_query(ROUTER, query, {"authorization": f"Bearer {token}"})


def test_ticket_operations_through_the_router(platform: Platform) -> None:
    # the platform is shared by the end-to-end tests: people and slugs of our own
    email, slug = unique_email("lin"), unique_slug()
    signed_up = run_query(
        ROUTER,
        f"""mutation {{ signUp(input: {{email: "{email}",
      password: "correct horse battery", name: "Lin"}}) {{
      user {{ id }} tokens {{ accessToken }} }} }}""",
    )["signUp"]
    user, token = signed_up["user"]["id"], signed_up["tokens"]["accessToken"]
    org = _as(
        token,
        f"""mutation {{ createOrganization(input: {{name: "Lin's", slug: "{slug}"}})
      {{ organization {{ id }} }} }}""",
    )["createOrganization"]["organization"]["id"]

    created = _as(
        token,
        f"""mutation {{ createTicket(input: {{organizationId: "{org}",
      title: "Invoice charged twice", body: "<p>Twice in March</p>", priority: HIGH,
      tags: ["billing"], attachmentIds: []}}) {{
      ticket {{ id number status sla {{ firstResponse {{ dueAt }} resolution {{ dueAt }} }} }}
      errors {{ code field message }} }} }}""",
    )["createTicket"]
    assert created["errors"] == []
    ticket = created["ticket"]
    assert (ticket["number"], ticket["status"], ticket["sla"]) == (1, "NEW", None)

    note = _as(
        token,
        f"""mutation {{ addComment(input: {{ticketId: "{ticket["id"]}",
      body: "Checking with finance", internal: true}}) {{ comment {{ id internal }}
      errors {{ code message }} }} }}""",
    )["addComment"]
    assert note == {"comment": {"id": note["comment"]["id"], "internal": True}, "errors": []}
    pending = _as(
        token,
        f"""mutation {{ setTicketStatus(input: {{ticketId: "{ticket["id"]}", status: PENDING}}) {{
      ticket {{ status sla {{ timeline {{ event rule }} }} }} errors {{ code message }} }} }}""",
    )["setTicketStatus"]
    assert pending == {"ticket": {"status": "PENDING", "sla": None}, "errors": []}

    read = _as(
        token,
        f"""query {{ ticket(id: "{ticket["id"]}") {{ number title requester {{ id email }}
      assignee {{ id }} comments(first: 20) {{ edges {{ node {{ body internal author {{ id }}
      attachments {{ fileName downloadUrl }} }} }} }}
      similar(first: 5) {{ score ticket {{ id title }} }} }} }}""",
    )["ticket"]
    assert read["requester"] == {"id": user, "email": email}
    assert [e["node"]["internal"] for e in read["comments"]["edges"]] == [True]
    assert read["similar"] == []

    listed = _as(
        token,
        f"""query {{ organization(id: "{org}") {{ name tickets(first: 5) {{
      edges {{ node {{ number requester {{ email }} commentCount }} }} }} }} }}""",
    )["organization"]
    assert listed["tickets"]["edges"] == [
        {"node": {"number": 1, "requester": {"email": email}, "commentCount": 1}}
    ]
    rated = _as(
        token,
        """mutation { rateTicket(token: "not-a-link", score: 5, comment: "Fast")
      { errors { code message } } }""",
    )["rateTicket"]
    assert [e["code"] for e in rated["errors"]] == ["INVALID_TOKEN"]


def test_sla_reports_and_escalation_rules_through_the_router(platform: Platform) -> None:
    email, slug = unique_email("ola"), unique_slug()
    token = run_query(
        ROUTER,
        f"""mutation {{ signUp(input: {{email: "{email}",
      password: "correct horse battery", name: "Ola"}}) {{ tokens {{ accessToken }} }} }}""",
    )["signUp"]["tokens"]["accessToken"]
    org = _as(
        token,
        f"""mutation {{ createOrganization(input: {{name: "Ola's", slug: "{slug}"}})
      {{ organization {{ id }} }} }}""",
    )["createOrganization"]["organization"]["id"]
    rule = _as(
        token,
        f"""mutation {{ createSlaEscalationRule(input: {{organizationId: "{org}",
      name: "Raise breaches", level: BREACH, action: RAISE_PRIORITY}}) {{
      rule {{ name level clock action }} errors {{ code message }} }} }}""",
    )["createSlaEscalationRule"]
    assert rule == {
        "rule": {
            "name": "Raise breaches",
            "level": "BREACH",
            "clock": None,
            "action": "RAISE_PRIORITY",
        },
        "errors": [],
    }
    stats = _as(
        token,
        f"""query {{ organization(id: "{org}") {{ slaEscalationRules {{ name }}
      supportStats(from: "2026-01-01T00:00:00Z", to: "2027-01-01T00:00:00Z") {{
        sla {{ met breached metPercent }} csat {{ average count }}
        agents {{ agent {{ id }} }} }} }} }}""",
    )["organization"]
    assert stats == {
        "slaEscalationRules": [{"name": "Raise breaches"}],
        "supportStats": {
            "sla": {"met": 0, "breached": 0, "metPercent": None},
            "csat": {"average": None, "count": 0},
            "agents": [],
        },
    }
    preview = _as(
        token,
        f"""query {{ previewSlaPolicy(draft: {{organizationId: "{org}",
      calendarId: "00000000-0000-0000-0000-000000000000",
      targets: [{{priority: HIGH, firstResponseSeconds: 3600}}]}}) {{ tickets }} }}""",
    )
    assert preview == {"previewSlaPolicy": None}

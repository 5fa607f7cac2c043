"""The operations of issue 17, as written, through the support subgraph with a signed caller
(``requester { email }`` is auth's field: through the subgraph alone the query asks for the
id; the router test asks for both)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import PNG, Org, rating_links
from tests.subgraphs.support.test_sla_policies import define_policy


async def test_the_issues_operations_work_as_written(
    support: SignedClient, owner_engine: AsyncEngine, worker: None
) -> None:
    org = Org()
    requester, agent = org.caller(), org.owner()
    await define_policy(support, org, first_response=4 * 3600)

    upload = (
        await support.run(
            f"""mutation {{ requestAttachmentUpload(input: {{organizationId: "{org.id}",
            fileName: "screen.png", contentType: "image/png", sizeBytes: {len(PNG)}}}) {{
            upload {{ attachmentId url fields expiresAt }} errors {{ code field message }} }} }}""",
            caller=requester,
        )
    )["requestAttachmentUpload"]
    assert upload["errors"] == []
    form = upload["upload"]
    async with httpx.AsyncClient() as client:
        posted = await client.post(form["url"], data=form["fields"], files={"file": PNG})
    assert posted.status_code in (200, 201, 204)

    created = (
        await support.run(
            f"""mutation {{ createTicket(input: {{organizationId: "{org.id}",
            title: "Invoice charged twice", body: "<p>Twice in March</p>", priority: HIGH,
            tags: ["billing"], attachmentIds: ["{form["attachmentId"]}"]}}) {{
            ticket {{ id number status sla {{ firstResponse {{ dueAt }} resolution {{ dueAt }} }} }}
            errors {{ code field message }} }} }}""",
            caller=requester,
        )
    )["createTicket"]
    assert created["errors"] == []
    ticket = created["ticket"]
    assert (ticket["number"], ticket["status"]) == (1, "NEW")
    assert ticket["sla"]["firstResponse"]["dueAt"]
    assert ticket["sla"]["resolution"]["dueAt"]

    note = (
        await support.run(
            f"""mutation {{ addComment(input: {{ticketId: "{ticket["id"]}",
            body: "Checking with finance", internal: true}}) {{
            comment {{ id internal }} errors {{ code message }} }} }}""",
            caller=agent,
        )
    )["addComment"]
    assert note["errors"] == []
    assert note["comment"]["internal"] is True

    pending = (
        await support.run(
            f"""mutation {{ setTicketStatus(input: {{ticketId: "{ticket["id"]}", status: PENDING}})
            {{ ticket {{ status sla {{ timeline {{ event rule }} }} }}
            errors {{ code message }} }} }}""",
            caller=agent,
        )
    )["setTicketStatus"]
    assert pending["errors"] == []
    assert pending["ticket"]["sla"]["timeline"][-1]["event"] == "PAUSE"

    read = f"""query {{ ticket(id: "{ticket["id"]}") {{ number title requester {{ id }}
      assignee {{ id }} comments(first: 20) {{ edges {{ node {{ body internal author {{ id }}
      attachments {{ fileName downloadUrl }} }} }} }}
      similar(first: 5) {{ score ticket {{ id title }} }}
      attachments {{ fileName downloadUrl }} }} }}"""
    as_requester = (await support.run(read, caller=requester))["ticket"]
    assert as_requester["requester"] == {"id": str(requester.user_id)}
    assert as_requester["comments"]["edges"] == []  # the internal note is not theirs to read
    assert [a["fileName"] for a in as_requester["attachments"]] == ["screen.png"]
    as_agent = (await support.run(read, caller=agent))["ticket"]
    assert [e["node"]["internal"] for e in as_agent["comments"]["edges"]] == [True]

    resolved = (
        await support.run(
            f"""mutation {{ setTicketStatus(input: {{ticketId: "{ticket["id"]}", status: RESOLVED}})
            {{ ticket {{ status }} errors {{ code message }} }} }}""",
            caller=agent,
        )
    )["setTicketStatus"]
    assert resolved["errors"] == []
    [token] = await rating_links(owner_engine, requester.user_id, 1)
    rated = await support.run(
        f"""mutation {{ rateTicket(token: "{token}", score: 5, comment: "Fast")
        {{ errors {{ code message }} }} }}"""
    )
    assert rated["rateTicket"]["errors"] == []

"""A real API key with `tickets:write` through the router: refused what needs a person (opening a
ticket, commenting, uploading a file) before support is asked, and still an agent on the
organization's tickets."""

from __future__ import annotations

from typing import Any

from tests.router.platform.builders import new_key
from tests.router.platform.conftest import RouterClient

KEY = """mutation { createApiKey(input: {organizationId: "%s", name: "helpdesk",
  scopes: ["tickets:read", "tickets:write"]}) { secret errors { code field message } } }"""
CREATE = """mutation($o: ID!) { createTicket(input: {organizationId: $o,
  title: "Invoice charged twice", body: "<p>Twice in March</p>"}) {
  ticket { id } errors { code message } } }"""
COMMENT = """mutation($t: ID!) { addComment(input: {ticketId: $t, body: "Checking",
  internal: true}) { comment { id } errors { code message } } }"""
UPLOAD = """mutation($o: ID!) { requestAttachmentUpload(input: {organizationId: $o,
  fileName: "screen.png", contentType: "image/png", sizeBytes: 48213}) {
  upload { attachmentId } errors { code message } } }"""
STATUS = """mutation($t: ID!) { setTicketStatus(input: {ticketId: $t, status: PENDING}) {
  ticket { status } errors { code message } } }"""
READ = "query($id: ID!) { ticket(id: $id) { id title } }"


async def test_a_key_is_refused_what_needs_a_person_and_acts_as_an_agent_otherwise(
    router: RouterClient,
) -> None:
    token, org = await router.owner_of_new_organization()
    opened = await router.data(CREATE, {"o": org}, authorization=f"Bearer {token}")
    assert opened["createTicket"]["errors"] == []
    ticket = opened["createTicket"]["ticket"]["id"]
    secret = (await new_key(router, token, org, KEY))["secret"]

    refused = {"createTicket": {"o": org}, "addComment": {"t": ticket}}
    refused["requestAttachmentUpload"] = {"o": org}
    for (field, variables), query in zip(refused.items(), (CREATE, COMMENT, UPLOAD), strict=True):
        body: dict[str, Any] = (await router.post(query, variables, x_api_key=secret)).json()
        assert body["data"] == {}, body
        errors = [(e["path"], e["extensions"]["code"]) for e in body["errors"]]
        assert errors == [([field], "UNAUTHORIZED_FIELD_OR_TYPE")]

    read = await router.data(READ, {"id": ticket}, x_api_key=secret)
    assert read["ticket"] == {"id": ticket, "title": "Invoice charged twice"}
    moved = await router.data(STATUS, {"t": ticket}, x_api_key=secret)
    assert moved["setTicketStatus"] == {"ticket": {"status": "PENDING"}, "errors": []}

"""Attachments through the support subgraph and a real S3 server: presigned upload, checks
when a ticket takes the file, presigned downloads only for those who may read it."""

from __future__ import annotations

import httpx

from tests.conftest import SignedClient
from tests.subgraphs.support.helpers import (
    PNG,
    Org,
    codes,
    comment,
    create_ticket,
    request_upload,
    ticket,
    uploaded,
)

CREATE = """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
  ticket { id number status sla { firstResponse { dueAt } resolution { dueAt } } }
  errors { code field message } } }"""
READ = """query($id: ID!) { ticket(id: $id) { number title requester { id } assignee { id }
  attachments { fileName downloadUrl }
  comments(first: 20) { edges { node { body internal author { id }
    attachments { fileName downloadUrl } } } } } }"""
ENTITY = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Attachment { id fileName } } }"""


async def test_an_uploaded_file_is_attached_and_downloads_through_a_presigned_link(
    support: SignedClient,
) -> None:
    org = Org()
    requester = org.caller()
    attachment = await uploaded(support, requester)
    input = {
        "organizationId": str(org.id),
        "title": "Invoice charged twice",
        "body": "<p>Twice in March</p>",
        "priority": "HIGH",
        "tags": ["billing"],
        "attachmentIds": [attachment],
    }
    created = (await support.run(CREATE, {"input": input}, requester))["createTicket"]
    assert created["errors"] == []
    assert created["ticket"]["number"] == 1
    read = (await support.run(READ, {"id": created["ticket"]["id"]}, requester))["ticket"]
    [file] = read["attachments"]
    assert file["fileName"] == "screen.png"
    async with httpx.AsyncClient() as client:
        response = await client.get(file["downloadUrl"])
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-disposition"].startswith('attachment; filename="screen.png"')
    again = await create_ticket(support, requester, attachmentIds=[attachment])
    assert codes(again) == [("NOT_FOUND", "attachmentIds")]


async def test_requests_over_the_limit_or_of_other_types_are_refused(support: SignedClient) -> None:
    caller = Org().caller()
    too_large = await request_upload(support, caller, 10 * 1024 * 1024 + 1)
    assert codes(too_large) == [("ATTACHMENT_TOO_LARGE", "sizeBytes")]
    html = await request_upload(support, caller, 10, contentType="text/html", fileName="a.html")
    assert codes(html) == [("ATTACHMENT_TYPE_NOT_ALLOWED", "contentType")]
    empty = await request_upload(support, caller, 0, fileName="../x")
    assert sorted(codes(empty)) == [("INVALID_INPUT", "fileName"), ("INVALID_INPUT", "sizeBytes")]
    stranger = await request_upload(support, caller, 10, organizationId=str(Org().id))
    assert codes(stranger) == [("NOT_FOUND", "organizationId")]


async def test_a_file_never_uploaded_is_refused_and_no_ticket_is_made(
    support: SignedClient,
) -> None:
    org = Org()
    requester = org.caller()
    payload = await request_upload(support, requester, 100)
    attachment = payload["upload"]["attachmentId"]
    refused = await create_ticket(support, requester, attachmentIds=[attachment])
    assert codes(refused) == [("ATTACHMENT_NOT_UPLOADED", "attachmentIds")]
    assert (await ticket(support, requester))["number"] == 1


async def test_a_png_that_is_really_html_is_refused(support: SignedClient) -> None:
    requester = Org().caller()
    attachment = await uploaded(support, requester, b"<html><script>steal()</script></html>")
    refused = await create_ticket(support, requester, attachmentIds=[attachment])
    assert codes(refused) == [("ATTACHMENT_TYPE_NOT_ALLOWED", "attachmentIds")]


async def test_another_organizations_or_users_attachment_is_not_found(
    support: SignedClient,
) -> None:
    org = Org()
    theirs = await uploaded(support, Org().caller())
    refused = await create_ticket(support, org.caller(), attachmentIds=[theirs])
    assert codes(refused) == [("NOT_FOUND", "attachmentIds")]
    colleague = await uploaded(support, org.caller())
    refused = await create_ticket(support, org.caller(), attachmentIds=[colleague])
    assert codes(refused) == [("NOT_FOUND", "attachmentIds")]


async def test_files_of_internal_notes_never_reach_the_requester(support: SignedClient) -> None:
    org = Org()
    owner, requester = org.owner(), org.caller()
    created = await ticket(support, requester)
    note_file = await uploaded(support, owner)
    note = await comment(support, owner, created["id"], internal=True, attachmentIds=[note_file])
    assert note["errors"] == []
    reply_file = await uploaded(support, owner)
    assert (await comment(support, owner, created["id"], attachmentIds=[reply_file]))[
        "errors"
    ] == []

    as_requester = (await support.run(READ, {"id": created["id"]}, requester))["ticket"]
    files = [
        a["fileName"] for e in as_requester["comments"]["edges"] for a in e["node"]["attachments"]
    ]
    assert files == ["screen.png"]
    assert all(not e["node"]["internal"] for e in as_requester["comments"]["edges"])
    entity = [{"__typename": "Attachment", "id": note_file}]
    assert (await support.run(ENTITY, {"r": entity}, requester))["_entities"] == [None]
    assert (await support.run(ENTITY, {"r": entity}, Org().owner()))["_entities"] == [None]
    assert (await support.run(ENTITY, {"r": entity}, owner))["_entities"][0]["id"] == note_file
    as_agent = (await support.run(READ, {"id": created["id"]}, owner))["ticket"]
    assert sum(len(e["node"]["attachments"]) for e in as_agent["comments"]["edges"]) == 2


async def test_an_upload_larger_than_declared_is_refused_by_storage(support: SignedClient) -> None:
    caller = Org().caller()
    payload = await request_upload(support, caller, 100)
    upload = payload["upload"]
    async with httpx.AsyncClient() as client:
        response = await client.post(
            upload["url"], data=upload["fields"], files={"file": ("screen.png", PNG)}
        )
    assert response.status_code == 400
    assert "EntityTooLarge" in response.text

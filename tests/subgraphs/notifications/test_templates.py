"""Templates: platform defaults, organization overrides per channel and locale, previews, and
the sandbox that keeps template authors to the data they are given."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from core.caller import Caller
from subgraphs.notifications.service import NotificationService
from subgraphs.notifications.templates import POWERED_BY
from tests.conftest import SignedClient
from tests.subgraphs.notifications.helpers import (
    SETTINGS,
    admin_of,
    history,
    member,
    organization,
    save,
    send,
    send_input,
)

PREVIEW = """query($input: PreviewTemplateInput!) { previewTemplate(input: $input) {
  preview { subject body html } errors { code field message } } }"""
LIST = "{ notificationTemplates { key channel locale subject } }"
DELETE = "mutation($id: ID!) { deleteTemplate(id: $id) { ok errors { code } } }"


async def preview(notifications: SignedClient, caller: Caller, **input: Any) -> dict[str, Any]:
    data = await notifications.run(PREVIEW, {"input": input}, caller)
    payload: dict[str, Any] = data["previewTemplate"]
    return payload


async def test_platform_default_previews_with_sample_data(notifications: SignedClient) -> None:
    shown = await preview(notifications, admin_of(uuid4()), key="verify_email", channel="EMAIL")
    assert shown["errors"] == []
    assert shown["preview"]["subject"] == "Confirm your email address"
    assert "Hello Ada Lovelace" in shown["preview"]["body"]
    assert '<a href="https://example.com/action?token=sample">' in shown["preview"]["html"]
    sms = await preview(notifications, admin_of(uuid4()), key="verify_email", channel="SMS")
    assert sms["preview"]["html"] is None


async def test_draft_renders_escaped_html_and_sandbox_refuses_internals(
    notifications: SignedClient,
) -> None:
    ada = admin_of(uuid4())
    draft = {"key": "message", "channel": "EMAIL", "subject": "{{ title }}", "body": "{{ body }}"}
    shown = await preview(
        notifications,
        ada,
        **draft,
        html="<p>{{ body }}</p>",
        data={"title": "Hi", "body": "<script>x</script>"},
    )
    assert shown["preview"] == {
        "subject": "Hi",
        "body": "<script>x</script>",
        "html": "<p>&lt;script&gt;x&lt;/script&gt;</p>" + POWERED_BY,
    }
    for body in ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "{{ missing.value }}", "{%"):
        refused = await preview(notifications, ada, **(draft | {"body": body}))
        assert refused["preview"] is None
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [
            ("INVALID_INPUT", "template")
        ]


async def test_organization_template_is_used_in_the_recipients_locale(
    notifications: SignedClient, notification_service: NotificationService
) -> None:
    ada, bob = member(), member()
    admin = await organization(notification_service, ada, bob)
    await notifications.run(SETTINGS, {"input": {"locale": "fr-CA"}}, bob)
    message = {"key": "message", "channel": "IN_APP", "body": "{{ body }}"}
    english = await save(notifications, admin, **message, subject="[Acme] {{ title }}")
    assert english["errors"] == []
    french = await save(
        notifications, admin, **message, locale="fr", subject="[Acme] Oyé {{ title }}"
    )
    assert french["template"]["locale"] == "fr"
    await send(notifications, admin, send_input(admin, [ada, bob]))
    assert (await history(notifications, ada))["edges"][0]["node"]["title"] == "[Acme] Hello"
    assert (await history(notifications, bob))["edges"][0]["node"]["title"] == "[Acme] Oyé Hello"

    listed = await notifications.run(LIST, caller=admin)
    assert [(t["key"], t["locale"]) for t in listed["notificationTemplates"]] == [
        ("message", "en"),
        ("message", "fr"),
    ]
    assert (await notifications.run(LIST, caller=ada))["notificationTemplates"] == []
    gone = await notifications.run(DELETE, {"id": english["template"]["id"]}, admin)
    assert gone["deleteTemplate"] == {"ok": True, "errors": []}
    await send(notifications, admin, send_input(admin, [ada], title="Again"))
    assert (await history(notifications, ada))["edges"][0]["node"]["title"] == "Again"


async def test_only_owners_and_admins_save_valid_templates(notifications: SignedClient) -> None:
    admin = admin_of(uuid4())
    plain = Caller(user_id=uuid4(), org_id=admin.org_id, roles=frozenset({"member"}))
    template = {"key": "invitation", "channel": "EMAIL", "subject": "Join", "body": "{{ link }}"}
    denied = await save(notifications, plain, **template)
    assert [e["code"] for e in denied["errors"]] == ["FORBIDDEN"]
    for bad, field in (
        ({"key": "nope"}, "key"),
        ({"locale": "French"}, "locale"),
        ({"body": "{{ link"}, "template"),
        ({"body": "x" * 20_001}, "body"),
    ):
        refused = await save(notifications, admin, **(template | bad))
        assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INVALID_INPUT", field)]
    other_org = admin_of(uuid4())
    saved = await save(notifications, admin, **template)
    stranger = await notifications.run(DELETE, {"id": saved["template"]["id"]}, other_org)
    assert [e["code"] for e in stranger["deleteTemplate"]["errors"]] == ["NOT_FOUND"]


async def test_a_plain_member_cannot_preview_the_organizations_templates(
    notifications: SignedClient,
) -> None:
    admin = admin_of(uuid4())
    plain = Caller(user_id=uuid4(), org_id=admin.org_id, roles=frozenset({"member"}))
    secret = {"key": "invitation", "channel": "EMAIL", "subject": "Internal", "body": "{{ link }}"}
    assert (await save(notifications, admin, **secret))["errors"] == []

    seen = await preview(notifications, plain, key="invitation", channel="EMAIL")
    shown = await preview(notifications, admin, key="invitation", channel="EMAIL")

    assert seen == {
        "preview": None,
        "errors": [
            {
                "code": "FORBIDDEN",
                "field": None,
                "message": "Only owners and admins manage templates.",
            }
        ],
    }
    assert shown["preview"]["subject"] == "Internal"

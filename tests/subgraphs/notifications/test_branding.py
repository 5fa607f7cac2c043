"""Themes announces each published version's branding; notifications keeps the newest and
renders its emails with it, whatever order the announcements arrive in."""

from __future__ import annotations

import secrets
from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.notifications.contract import Branding, NotificationRequest, Recipient
from subgraphs.notifications.models import Channel
from subgraphs.notifications.service import NotificationService
from subgraphs.notifications.templates import POWERED_BY, Source
from tests.conftest import unique_email


def _branding(version: int, primary: str, **extra: object) -> Branding:
    colors = {"primary": primary, "primary_foreground": "#ffffff"}
    return Branding(version=version, colors=colors, **extra)  # type: ignore[arg-type]


async def _email_html(service: NotificationService, owner_engine: AsyncEngine, org_id: UUID) -> str:
    """The HTML of an email to a new address of the organization, as rendered when stored."""
    asked = NotificationRequest(
        template_key="invitation",
        category="invitation",
        recipients=[Recipient(email=unique_email())],
        idempotency_key=secrets.token_hex(8),
        data={"organization": "Acme", "link": "https://example.com/join?token=t"},
        channels=["email"],
        org_id=org_id,
    )
    [notification] = await service.notify(asked)
    async with owner_engine.connect() as connection:
        found = await connection.scalar(
            text("select html from notifications.deliveries where notification_id = :id"),
            {"id": notification.id},
        )
    return str(found)


async def test_an_older_version_arriving_late_never_replaces_a_newer_one(
    notification_service: NotificationService, owner_engine: AsyncEngine
) -> None:
    org_id = uuid4()
    newer = _branding(2, "#b91c1c", name="Acme", logo_url="https://cdn.example/logo.png")
    await notification_service.set_branding(org_id, newer)
    await notification_service.set_branding(org_id, _branding(1, "#0a66c2", white_label=True))
    html = await _email_html(notification_service, owner_engine, org_id)
    assert "background:#b91c1c" in html
    assert '<img src="https://cdn.example/logo.png" alt="Acme"' in html
    assert "Powered by VetrAI" in html
    await notification_service.set_branding(org_id, _branding(3, "#0a66c2", white_label=True))
    html = await _email_html(notification_service, owner_engine, org_id)
    assert "background:#0a66c2" in html
    assert "Powered by VetrAI" not in html


async def test_colors_and_logo_urls_that_could_break_out_of_the_html_are_left_out(
    notification_service: NotificationService, owner_engine: AsyncEngine
) -> None:
    org_id = uuid4()
    hostile = _branding(
        1, "red;background:url(https://evil.example)", logo_url="javascript:alert(1)"
    )
    await notification_service.set_branding(org_id, hostile)
    html = await _email_html(notification_service, owner_engine, org_id)
    assert "evil.example" not in html
    assert "javascript:" not in html
    assert "<img" not in html
    assert "background:#2563eb" in html  # the platform's primary instead


async def test_another_organizations_branding_is_never_used(
    notification_service: NotificationService, owner_engine: AsyncEngine
) -> None:
    branded, plain = uuid4(), uuid4()
    await notification_service.set_branding(branded, _branding(1, "#b91c1c", white_label=True))
    html = await _email_html(notification_service, owner_engine, plain)
    assert "#b91c1c" not in html
    assert "Powered by VetrAI" in html


async def test_row_security_shows_a_branding_to_its_organization_only(
    notification_service: NotificationService,
) -> None:
    org_id = uuid4()
    await notification_service.set_branding(org_id, _branding(1, "#b91c1c"))
    count = text("select count(*) from notifications.organization_branding")
    async with notification_service.db.transaction(Caller(org_id=uuid4())) as session:
        assert await session.scalar(count) == 0
    async with notification_service.db.transaction(Caller(org_id=org_id)) as session:
        assert await session.scalar(count) == 1


async def test_an_organizations_own_template_may_use_its_brand(
    notification_service: NotificationService,
) -> None:
    org_id = uuid4()
    await notification_service.set_branding(org_id, _branding(1, "#b91c1c", name="Acme"))
    admin = Caller(user_id=uuid4(), org_id=org_id, roles=frozenset({"admin"}))
    own = Source(
        "{{ title }}", "{{ body }}", '<p style="color:{{ brand.primary }}">{{ brand.name }}</p>'
    )
    shown = await notification_service.preview(admin, "message", Channel.EMAIL, "en", own, None)
    assert shown.html == '<p style="color:#b91c1c">Acme</p>' + POWERED_BY


async def test_an_organizations_own_template_keeps_the_platforms_mark_without_white_label(
    notification_service: NotificationService,
) -> None:
    org_id = uuid4()
    admin = Caller(user_id=uuid4(), org_id=org_id, roles=frozenset({"admin"}))
    own = Source("{{ title }}", "{{ body }}", "<html><body><p>{{ body }}</p></body></html>")
    await notification_service.set_branding(org_id, _branding(1, "#b91c1c"))
    shown = await notification_service.preview(admin, "message", Channel.EMAIL, "en", own, None)
    assert shown.html is not None
    assert shown.html.endswith(f"{POWERED_BY}</body></html>")
    await notification_service.set_branding(org_id, _branding(2, "#b91c1c", white_label=True))
    shown = await notification_service.preview(admin, "message", Channel.EMAIL, "en", own, None)
    assert shown.html is not None
    assert "Powered by" not in shown.html

"""The worker delivers email over SMTP and SMS over a Twilio-compatible API: once per
idempotency key, retried with backoff, failures recorded with their reason."""

from __future__ import annotations

import base64
import secrets
import time
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.notifications.contract import enqueue_notification
from subgraphs.notifications.service import NotificationService
from tests.conftest import unique_email
from tests.worker.conftest import (
    SMS_ACCOUNT,
    SMS_TOKEN,
    Mailbox,
    SmsProvider,
    deliveries,
    request,
    run_worker,
)
from vetrai.settings import PlatformSettings


async def test_email_goes_out_over_smtp_with_text_and_html(
    delivery_settings: PlatformSettings,
    service: NotificationService,
    mailbox: Mailbox,
    owner_engine: AsyncEngine,
) -> None:
    user, email = uuid4(), unique_email()
    await enqueue_notification(
        service.redis, delivery_settings.core.queue_name, request(user, email)
    )
    await run_worker(delivery_settings)
    [message] = mailbox.to(email)
    assert message["Subject"] == "Confirm your email address"
    assert message["From"] == delivery_settings.notifications.email_from
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert "Hello Ada" in plain.get_content()
    assert "https://example.com/verify-email?token=abc" in plain.get_content()
    assert '<a href="https://example.com/verify-email?token=abc">' in html.get_content()
    assert await deliveries(owner_engine, user) == [
        {"channel": "email", "status": "sent", "attempts": 1, "failure_reason": None}
    ]


async def test_one_idempotency_key_sends_one_email(
    delivery_settings: PlatformSettings, service: NotificationService, mailbox: Mailbox
) -> None:
    email = unique_email()
    same = request(uuid4(), email, key=secrets.token_hex(8))
    await enqueue_notification(service.redis, delivery_settings.core.queue_name, same)
    await enqueue_notification(service.redis, delivery_settings.core.queue_name, same)
    await run_worker(delivery_settings)
    await enqueue_notification(service.redis, delivery_settings.core.queue_name, same)
    await run_worker(delivery_settings)
    assert len(mailbox.to(email)) == 1


async def test_transient_failures_are_retried_with_exponential_backoff(
    delivery_settings: PlatformSettings,
    service: NotificationService,
    mailbox: Mailbox,
    owner_engine: AsyncEngine,
) -> None:
    user, email = uuid4(), unique_email()
    mailbox.answers = ["451 Try again later", "451 Try again later"]
    started = time.monotonic()
    await enqueue_notification(
        service.redis, delivery_settings.core.queue_name, request(user, email)
    )
    await run_worker(delivery_settings)
    assert time.monotonic() - started >= 0.05 + 0.1
    assert len(mailbox.to(email)) == 1
    assert await deliveries(owner_engine, user) == [
        {"channel": "email", "status": "sent", "attempts": 3, "failure_reason": None}
    ]


async def test_permanent_failure_is_recorded_with_its_reason(
    delivery_settings: PlatformSettings,
    service: NotificationService,
    mailbox: Mailbox,
    owner_engine: AsyncEngine,
) -> None:
    user, email = uuid4(), unique_email()
    mailbox.answers = ["550 No such user here"]
    await enqueue_notification(
        service.redis, delivery_settings.core.queue_name, request(user, email)
    )
    await run_worker(delivery_settings)
    [failed] = await deliveries(owner_engine, user)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert "550" in failed["failure_reason"]
    assert "No such user here" in failed["failure_reason"]
    assert mailbox.to(email) == []


async def test_delivery_fails_after_its_last_attempt(
    delivery_settings: PlatformSettings,
    service: NotificationService,
    mailbox: Mailbox,
    owner_engine: AsyncEngine,
) -> None:
    user, email = uuid4(), unique_email()
    mailbox.answers = ["451 Try again later"] * 3
    await enqueue_notification(
        service.redis, delivery_settings.core.queue_name, request(user, email)
    )
    await run_worker(delivery_settings)
    [failed] = await deliveries(owner_engine, user)
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert "451" in failed["failure_reason"]
    assert mailbox.to(email) == []


async def test_sms_uses_the_twilio_request_format_and_retries(
    delivery_settings: PlatformSettings,
    service: NotificationService,
    sms: tuple[SmsProvider, str],
    owner_engine: AsyncEngine,
) -> None:
    provider, _ = sms
    user = uuid4()
    await service.update_contact(Caller(user_id=user), {"phone": "+15551234567"})
    provider.statuses = [503]
    alert = request(
        user,
        None,
        template_key="job_failed",
        category="job",
        channels=["sms", "in_app"],
        data={"job": "Nightly report", "reason": "timeout", "link": "https://example.com/j/1"},
    )
    await enqueue_notification(service.redis, delivery_settings.core.queue_name, alert)
    await run_worker(delivery_settings)
    [sent] = [m for m in provider.received if m["To"] == "+15551234567"]
    assert sent["account"] == SMS_ACCOUNT
    assert sent["From"] == "+15550000000"
    assert sent["Body"].startswith("Your job Nightly report failed: timeout")
    credentials = base64.b64encode(f"{SMS_ACCOUNT}:{SMS_TOKEN}".encode()).decode()
    assert sent["authorization"] == f"Basic {credentials}"
    assert await deliveries(owner_engine, user) == [
        {"channel": "in_app", "status": "delivered", "attempts": 0, "failure_reason": None},
        {"channel": "sms", "status": "sent", "attempts": 2, "failure_reason": None},
    ]


async def test_sms_refused_by_the_provider_fails_at_once(
    delivery_settings: PlatformSettings,
    service: NotificationService,
    sms: tuple[SmsProvider, str],
    owner_engine: AsyncEngine,
) -> None:
    user = uuid4()
    await service.update_contact(Caller(user_id=user), {"phone": "+15557654321"})
    sms[0].statuses = [400]
    alert = request(user, None, channels=["sms"])
    await enqueue_notification(service.redis, delivery_settings.core.queue_name, alert)
    await run_worker(delivery_settings)
    [failed] = await deliveries(owner_engine, user)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert "400" in failed["failure_reason"]

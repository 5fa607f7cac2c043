"""The SMS provider reports delivery to the notifications subgraph's /sms/status, signed as
Twilio signs its status callbacks; unsigned reports change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.notifications.app import DOMAIN
from subgraphs.notifications.channels import provider_signature
from subgraphs.notifications.contract import enqueue_notification
from subgraphs.notifications.service import NotificationService
from tests.worker.conftest import SMS_TOKEN, SmsProvider, deliveries, request, run_worker
from vetrai.settings import PlatformSettings

STATUS_URL = "https://notifications.example.com/sms/status"


@pytest.fixture
def status_settings(delivery_settings: PlatformSettings) -> PlatformSettings:
    return delivery_settings.replace(sms_status_url=STATUS_URL)


@pytest.fixture
async def subgraph(status_settings: PlatformSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = DOMAIN.create_app(status_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        yield client
    await app.state.runtime.db.close()
    await app.state.runtime.redis.aclose()


async def sent_sms(
    service: NotificationService, settings: PlatformSettings, provider: SmsProvider, phone: str
) -> tuple[UUID, str]:
    """Send one SMS through the worker; the recipient and the callback URL the provider got."""
    user = uuid4()
    await service.update_contact(Caller(user_id=user), {"phone": phone})
    await enqueue_notification(
        service.redis, settings.core.queue_name, request(user, None, channels=["sms"])
    )
    await run_worker(settings)
    [sent] = [m for m in provider.received if m["To"] == phone]
    return user, sent["StatusCallback"]


async def report(
    subgraph: httpx.AsyncClient, callback: str, form: dict[str, str], token: str = SMS_TOKEN
) -> int:
    parts = urlsplit(callback)
    signature = provider_signature(token, callback, form)
    response = await subgraph.post(
        f"{parts.path}?{parts.query}", data=form, headers={"x-twilio-signature": signature}
    )
    return response.status_code


async def test_signed_report_marks_the_sms_delivered_or_failed(
    status_settings: PlatformSettings,
    service: NotificationService,
    sms: tuple[SmsProvider, str],
    subgraph: httpx.AsyncClient,
    owner_engine: AsyncEngine,
) -> None:
    user, callback = await sent_sms(service, status_settings, sms[0], "+15550001111")
    assert callback.startswith(f"{STATUS_URL}?delivery=")
    forged = await report(subgraph, callback, {"MessageStatus": "delivered"}, token="guess")
    assert forged == 403
    assert [d["status"] for d in await deliveries(owner_engine, user)] == ["sent"]
    assert await report(subgraph, callback, {"MessageStatus": "delivered"}) == 204
    assert [d["status"] for d in await deliveries(owner_engine, user)] == ["delivered"]

    other, callback = await sent_sms(service, status_settings, sms[0], "+15550002222")
    form = {"MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert await report(subgraph, callback, form) == 204
    [failed] = await deliveries(owner_engine, other)
    assert failed["status"] == "failed"
    assert failed["failure_reason"] == "provider reported undelivered (error 30003)"

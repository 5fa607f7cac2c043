"""A real SMTP server (aiosmtpd) and a local Twilio-compatible SMS provider, settings that
point the worker at them on a queue of the test's own, and a burst worker run."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from subgraphs.kernel.db import Database
from subgraphs.notifications.contract import NotificationRequest, Recipient
from subgraphs.notifications.service import NotificationService
from tests.conftest import served
from vetrai import worker as workers
from vetrai.settings import PlatformSettings

SMS_ACCOUNT = "AC0123456789"
SMS_TOKEN = "sms-secret"


class Mailbox:
    """An SMTP handler keeping the messages it accepts; ``answers`` are replied first, in order."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self.answers: list[str] = []
        self.gate: threading.Event | None = None
        self.arrived = threading.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.arrived.set()
        if self.gate is not None:
            # Hold the first message until the test opens the gate, then refuse it.
            gate, self.gate = self.gate, None
            await asyncio.get_running_loop().run_in_executor(None, gate.wait)
            return "421 Shutting down"
        if self.answers:
            return self.answers.pop(0)
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@dataclass
class SmsProvider:
    """What the local SMS provider received; ``statuses`` are answered first, in order."""

    received: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def messages(self, request: Request) -> JSONResponse:
        status = self.statuses.pop(0) if self.statuses else 201
        form = dict(parse_qsl((await request.body()).decode()))
        if status == 201:
            self.received.append(
                {
                    "account": request.path_params["account"],
                    "authorization": request.headers.get("authorization"),
                    **form,
                }
            )
        return JSONResponse({"sid": secrets.token_hex(8), "status": "queued"}, status_code=status)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox(_free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture(scope="session")
async def sms() -> AsyncIterator[tuple[SmsProvider, str]]:
    provider = SmsProvider()
    route = "/2010-04-01/Accounts/{account}/Messages.json"
    app = Starlette(routes=[Route(route, provider.messages, methods=["POST"])])
    async with served(app) as port:
        yield provider, f"http://127.0.0.1:{port}"


@pytest.fixture
def delivery_settings(
    settings: PlatformSettings, mailbox: Mailbox, sms: tuple[SmsProvider, str]
) -> PlatformSettings:
    """Fast retries, the local SMTP and SMS servers, and a queue for this test alone."""
    mailbox.answers.clear()
    mailbox.gate = None
    sms[0].statuses.clear()
    return settings.replace(
        queue_name=f"vetrai:test:{secrets.token_hex(6)}",
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        sms_api_url=sms[1],
        sms_account_sid=SMS_ACCOUNT,
        sms_auth_token=SecretStr(SMS_TOKEN),
        sms_from="+15550000000",
        delivery_max_attempts=3,
        delivery_backoff_seconds=0.05,
    )


@pytest.fixture
async def service(delivery_settings: PlatformSettings) -> AsyncIterator[NotificationService]:
    url = delivery_settings.core.login_url("notifications")
    db = Database(url)
    assert delivery_settings.core.redis_url
    redis = Redis.from_url(delivery_settings.core.redis_url)
    yield NotificationService(db, redis, delivery_settings)
    await redis.delete(delivery_settings.core.queue_name)
    await redis.aclose()
    await db.close()


async def run_worker(settings: PlatformSettings) -> None:
    await workers.run(workers.create_worker(settings, burst=True, poll_delay=0.01))


def request(
    user_id: UUID | None, email: str | None, *, key: str | None = None, **extra: Any
) -> NotificationRequest:
    values: dict[str, Any] = {
        "template_key": "verify_email",
        "category": "security",
        "data": {"name": "Ada", "link": "https://example.com/verify-email?token=abc"},
        "channels": ["email"],
        **extra,
    }
    return NotificationRequest(
        recipients=[Recipient(user_id=user_id, email=email)],
        idempotency_key=key or secrets.token_hex(8),
        **values,
    )


async def deliveries(owner_engine: AsyncEngine, user_id: UUID) -> list[dict[str, Any]]:
    async with owner_engine.connect() as connection:
        rows = await connection.execute(
            text(
                "select channel, status, attempts, failure_reason from notifications.deliveries"
                " where user_id = :u order by channel"
            ),
            {"u": user_id},
        )
        return [dict(row._mapping) for row in rows]

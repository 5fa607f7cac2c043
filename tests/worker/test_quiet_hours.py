"""During the recipient's quiet hours an email waits in the queue until they end; security
emails do not wait."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.notifications.service import DELIVER_JOB, NotificationService
from tests.conftest import unique_email
from tests.worker.conftest import request
from vetrai.settings import PlatformSettings


async def starts_at(
    service: NotificationService, settings: PlatformSettings, owner_engine: AsyncEngine, user: UUID
) -> float:
    """When the queue will run the user's email delivery (seconds since the epoch)."""
    async with owner_engine.connect() as connection:
        delivery = await connection.scalar(
            text("select id from notifications.deliveries where user_id = :u"), {"u": user}
        )
    score = await service.redis.zscore(settings.core.queue_name, f"{DELIVER_JOB}:{delivery}")
    assert score is not None
    return float(score) / 1000


async def test_email_in_quiet_hours_waits_for_their_end_unless_it_is_security(
    delivery_settings: PlatformSettings, service: NotificationService, owner_engine: AsyncEngine
) -> None:
    now = datetime.now(UTC)
    hours = {
        "quiet_hours": (
            (now - timedelta(hours=1)).strftime("%H:%M"),
            (now + timedelta(hours=1)).strftime("%H:%M"),
        )
    }
    quiet, urgent = uuid4(), uuid4()
    for user in (quiet, urgent):
        await service.update_contact(Caller(user_id=user), hours)
    await service.notify(request(quiet, unique_email(), category="announcement"))
    await service.notify(request(urgent, unique_email(), category="security"))
    wait = await starts_at(service, delivery_settings, owner_engine, quiet) - time.time()
    assert 3600 - 61 < wait <= 3600
    assert await starts_at(service, delivery_settings, owner_engine, urgent) <= time.time()

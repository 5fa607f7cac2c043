"""Live notifications through Redis pub/sub: whichever process stores a notification publishes
it, and every replica serving a subscriber of that user receives it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from redis.asyncio import Redis

from subgraphs.notifications.models import Notification


class Added(BaseModel):
    """What a subscriber is sent of a new notification."""

    id: UUID
    user_id: UUID | None = None
    category: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None = None


def topic(user_id: UUID) -> str:
    return f"vetrai:notifications:{user_id}"


async def publish(redis: Redis, notification: Notification) -> None:
    if notification.user_id is not None:
        event = Added.model_validate(notification, from_attributes=True)
        await redis.publish(topic(notification.user_id), event.model_dump_json())


async def added(redis: Redis, user_id: UUID) -> AsyncIterator[Added]:
    """The user's notifications as they are stored, until the subscriber goes away."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(topic(user_id))
    try:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None:
                yield Added.model_validate_json(message["data"])
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]

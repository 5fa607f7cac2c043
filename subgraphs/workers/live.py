"""Live job status through Redis pub/sub: whichever process changes a job publishes it, and
every replica serving a subscriber of that job receives it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from redis.asyncio import Redis

from subgraphs.workers.contract import status_channel
from subgraphs.workers.models import FINISHED, Job, Status


class StatusChanged(BaseModel):
    """What a subscriber is sent of a job's state."""

    id: UUID
    status: str
    progress: float
    message: str | None = None
    attempt: int
    # The first of ``interrupts`` (for subscribers that read one).
    interrupt: dict[str, Any] | None = None
    interrupts: list[dict[str, Any]] = []
    updated_at: datetime
    # The workflow step (LangGraph node) whose update this event reports, if any.
    step: str | None = None


def event(job: Job) -> StatusChanged:
    return StatusChanged.model_validate(job, from_attributes=True)


async def publish(redis: Redis, job: Job, step: str | None = None) -> None:
    changed = event(job).model_copy(update={"step": step})
    await redis.publish(status_channel(job.id), changed.model_dump_json())


async def changes(
    redis: Redis, job_id: UUID, current: Callable[[], Awaitable[Job | None]]
) -> AsyncIterator[StatusChanged]:
    """The job's state now, then each change, until it is finished or the subscriber leaves.
    Listening starts before ``current`` is read, so no change falls in between."""
    pubsub = redis.pubsub()
    await pubsub.subscribe(status_channel(job_id))
    try:
        job = await current()
        if job is None:
            return
        latest = event(job)
        yield latest
        while Status(latest.status) not in FINISHED:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None:
                changed = StatusChanged.model_validate_json(message["data"])
                if changed.updated_at >= latest.updated_at:
                    latest = changed
                    yield latest
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]

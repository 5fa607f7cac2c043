"""The transactional outbox: a side effect that leaves a domain (an ARQ job, an announcement
on a Redis channel) is written in the transaction of the change that causes it, and sent
once that transaction has committed, at least once: right after the commit, and by the
worker's relay for whatever that missed (Redis down, process killed). Consumers are
idempotent by key (an ARQ job id; announcements only invalidate caches)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import CTE, Column, Insert, delete, func, insert, literal
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import ANONYMOUS
from subgraphs.kernel.db import STAGED, Database, utcnow

log = logging.getLogger("vetrai.outbox")
BATCH = 100
RELAY_INTERVAL_SECONDS = 0.5


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = {"schema": "outbox"}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    kind: str  # "job" or "announcement"
    target: str  # the job's name, or the channel
    job_id: str | None = None
    payload: Any = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


def writer_rights(role: str) -> tuple[str, ...]:
    """What a domain's role needs to stage messages and flush its own (row security hides the
    others'): see the outbox's migration outbox_0004."""
    return (
        f"grant usage on schema outbox to {role}",
        f"grant select, insert, delete, update (created_at) on outbox.messages to {role}",
    )


def relay_rights(role: str) -> tuple[str, ...]:
    """What the worker's relay needs to send and delete every domain's messages."""
    return (
        f"grant usage on schema outbox to {role}",
        f"grant select, delete, update (created_at) on outbox.messages to {role}",
    )


async def _stage(
    session: AsyncSession, kind: str, target: str, payload: Any, job_id: str | None = None
) -> None:
    message = Message(kind=kind, target=target, job_id=job_id, payload=payload)
    session.add(message)
    session.info.setdefault(STAGED, []).append(message.id)


async def stage_job(session: AsyncSession, job: str, *args: Any, job_id: str) -> None:
    """ARQ job ``job(*args)`` once the transaction commits; ``job_id`` makes resending harmless."""
    await _stage(session, "job", job, list(args), job_id)


def stage_jobs_for(rows: CTE, job: str, column: str) -> Insert:
    """One statement writing ``rows`` (a data-modifying CTE: ``INSERT ... RETURNING``) and, for
    each row it returns, ARQ job ``job(<column>)`` with job id ``<job>:<column>``: a job only for
    what was written, in the same transaction; RETURNING gives the messages' ids. Nothing flushes
    these after the commit: the worker's relay sends them (within ``RELAY_INTERVAL_SECONDS``)."""
    value = rows.c[column]
    staged = select_columns(
        func.gen_random_uuid(),
        literal("job"),
        literal(job),
        literal(f"{job}:") + value,
        func.jsonb_build_array(value),
        func.now(),
    ).select_from(rows)
    columns = ["id", "kind", "target", "job_id", "payload", "created_at"]
    return insert(Message).from_select(columns, staged).add_cte(rows).returning(col(Message.id))


async def stage_announcement(session: AsyncSession, channel: str, message: Any) -> None:
    """Publish ``message`` (JSON) on Redis ``channel`` once the transaction commits."""
    await _stage(session, "announcement", channel, message)


class Relay:
    """Sends committed messages and deletes them; concurrent relays skip each other's rows."""

    def __init__(self, db: Database, redis: Redis, queue: str) -> None:
        self.db = db
        self.redis = redis
        self.queue = queue

    async def send(self, ids: list[UUID] | None = None) -> int:
        """Send the messages ``ids`` (all waiting ones when None); how many were sent."""
        query = select(Message).order_by(col(Message.created_at)).limit(BATCH)
        if ids is not None:
            query = query.where(col(Message.id).in_(ids))
        async with self.db.transaction(ANONYMOUS) as session:
            rows = list(await session.exec(query.with_for_update(skip_locked=True)))
            for row in rows:
                await self._send(row)
            if rows:
                await session.exec(delete(Message).where(col(Message.id).in_([r.id for r in rows])))
        return len(rows)

    async def _send(self, message: Message) -> None:
        if message.kind == "job":
            await ArqRedis(self.redis.connection_pool).enqueue_job(
                message.target, *message.payload, _job_id=message.job_id, _queue_name=self.queue
            )
        else:
            await self.redis.publish(message.target, orjson.dumps(message.payload))

    async def after_commit(self, ids: list[UUID]) -> None:
        """The flush right after a commit; what fails here the worker's relay sends later."""
        try:
            await self.send(ids)
        except (RedisError, OSError, DBAPIError) as exc:
            log.warning("outbox flush failed", extra={"fields": {"error": repr(exc)}})

    async def run(self, stop: asyncio.Event) -> None:
        """Send waiting messages until ``stop`` is set; a failure only delays them."""
        while not stop.is_set():
            try:
                while await self.send() == BATCH:
                    pass
            except (RedisError, OSError, DBAPIError) as exc:
                log.warning("outbox relay failed", extra={"fields": {"error": repr(exc)}})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RELAY_INTERVAL_SECONDS):
                    await stop.wait()


async def start_relay(ctx: dict[str, Any], settings: Any, db: Database) -> None:
    """The worker's startup hook: the relay runs beside the jobs for the worker's whole life."""
    relay = Relay(db, ctx["redis"], settings.core.queue_name)
    stop = ctx["outbox_stop"] = asyncio.Event()
    ctx["outbox_relay"] = asyncio.create_task(relay.run(stop))


async def stop_relay(ctx: dict[str, Any]) -> None:
    stop: asyncio.Event | None = ctx.pop("outbox_stop", None)
    if stop is not None:
        stop.set()
        await ctx.pop("outbox_relay")

"""Emails waiting to be sent: written in the same transaction as the change that causes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.migrations import MigrationSet

MIGRATIONS = MigrationSet("outbox", Path(__file__).parent / "outbox_migrations")


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxEmail(SQLModel, table=True):
    __tablename__ = "emails"
    __table_args__ = {"schema": "outbox"}

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    kind: str = Field(max_length=64)
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=200)
    body: str
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


def queue_email(session: AsyncSession, *, kind: str, to: str, subject: str, body: str) -> None:
    session.add(OutboxEmail(kind=kind, to_address=to, subject=subject, body=body))

"""Tables of the notifications schema: notifications, their deliveries per channel, templates,
preferences, what is known of each recipient (address, phone, locale, quiet hours) and who
belongs to each organization."""

from __future__ import annotations

import enum
from datetime import datetime, time
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

SCHEMA = {"schema": "notifications"}


class Channel(enum.Enum):
    IN_APP = "in_app"
    EMAIL = "email"
    SMS = "sms"


class Status(enum.Enum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    READ = "read"


class Notification(SQLModel, table=True):
    """What one recipient was told; ``dedupe_key`` makes a request idempotent per recipient.
    Only ``in_app`` ones are in the user's history: an email may carry a one-time link."""

    __tablename__ = "notifications"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID | None = None
    user_id: UUID | None = None
    category: str = Field(max_length=64)
    template_key: str | None = Field(default=None, max_length=64)
    title: str = Field(max_length=200)
    body: str
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    dedupe_key: str = Field(max_length=400, unique=True)
    in_app: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None


class Delivery(SQLModel, table=True):
    """One channel of a notification, with the content rendered for it."""

    __tablename__ = "deliveries"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    notification_id: UUID = Field(foreign_key="notifications.notifications.id")
    org_id: UUID | None = None
    user_id: UUID | None = None
    channel: str = Field(max_length=16)
    address: str | None = Field(default=None, max_length=320)
    subject: str = Field(max_length=200)
    body: str
    html: str | None = None
    status: str = Field(default=Status.QUEUED.value, max_length=16)
    attempts: int = 0
    failure_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class Template(SQLModel, table=True):
    """An organization's version of a template; the platform's defaults live in code."""

    __tablename__ = "templates"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    key: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    locale: str = Field(max_length=8)
    subject: str = Field(max_length=200)
    body: str
    html: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Preference(SQLModel, table=True):
    """A user's choice for one category on one channel; no row means enabled."""

    __tablename__ = "preferences"
    __table_args__ = SCHEMA

    user_id: UUID = Field(primary_key=True)
    category: str = Field(primary_key=True, max_length=64)
    channel: str = Field(primary_key=True, max_length=16)
    enabled: bool


class Contact(SQLModel, table=True):
    """Where and when a user may be reached."""

    __tablename__ = "contacts"
    __table_args__ = SCHEMA

    user_id: UUID = Field(primary_key=True)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    locale: str = Field(default="en", max_length=8)
    timezone: str = Field(default="UTC", max_length=64)
    quiet_start: time | None = None
    quiet_end: time | None = None


class OrganizationMembers(SQLModel, table=True):
    """Who belongs to an organization, as tenancy last announced it."""

    __tablename__ = "organization_members"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    user_ids: list[UUID] = Field(sa_column=Column(ARRAY(PG_UUID(as_uuid=True)), nullable=False))
    roles: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    as_of: datetime

    def holding(self, roles: list[str]) -> list[UUID]:
        """The members whose role is one of ``roles``."""
        return [u for u in self.user_ids if self.roles.get(str(u)) in roles]


class OrganizationBranding(SQLModel, table=True):
    """An organization's email branding, as themes last announced it (the highest version)."""

    __tablename__ = "organization_branding"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    version: int
    colors: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    logo_url: str | None = Field(default=None, max_length=2000)
    name: str | None = Field(default=None, max_length=100)
    white_label: bool = False


class OrganizationWhiteLabel(SQLModel, table=True):
    """Whether an organization's plan grants ``white_label``, as billing last announced it; it
    overrides the branding's (the plan at the theme's publication)."""

    __tablename__ = "organization_white_label"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    white_label: bool
    as_of: datetime

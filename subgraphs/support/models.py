"""Tables of the support schema: tickets and their comments, the organization's custom field
definitions and agents, SLA policies with their business calendars, the tickets' event log
(what SLA clocks are computed from) and attachments."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Column, Date, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel

from subgraphs.kernel.db import utcnow

SCHEMA = {"schema": "support"}


class Status(enum.Enum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"


class Priority(enum.Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class FieldType(enum.Enum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    CHOICE = "choice"


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    number: int
    title: str = Field(max_length=200)
    body: str
    status: str = Field(default=Status.NEW.value, max_length=16)
    priority: str = Field(default=Priority.NORMAL.value, max_length=16)
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(50)), nullable=False)
    )
    custom_fields: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False)
    )
    requester_id: UUID
    assignee_id: UUID | None = None
    team_id: UUID | None = None
    merged_into_id: UUID | None = None
    # Derived from the event log on every change (see sla.py), so lists can filter on them.
    sla_due_at: datetime | None = None
    sla_breached_at: datetime | None = None
    # when the SLA watch next has a warning or breach to notify (see watch.py)
    sla_alert_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TicketCounter(SQLModel, table=True):
    """The last ticket number an organization gave."""

    __tablename__ = "ticket_counters"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    last: int = 0


class Comment(SQLModel, table=True):
    __tablename__ = "comments"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    ticket_id: UUID = Field(foreign_key="support.tickets.id")
    author_id: UUID
    body: str
    internal: bool = False
    mentions: list[UUID] = Field(
        default_factory=list, sa_column=Column(ARRAY(PG_UUID(as_uuid=True)), nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)


class FieldDefinition(SQLModel, table=True):
    """A custom field tickets of an organization may (or must) carry."""

    __tablename__ = "field_definitions"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    key: str = Field(max_length=50)
    type: str = Field(max_length=16)
    required: bool = False
    options: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(100)), nullable=False)
    )


class Agent(SQLModel, table=True):
    """A member an organization marked as an agent (owners and admins always are)."""

    __tablename__ = "agents"
    __table_args__ = SCHEMA

    org_id: UUID = Field(primary_key=True)
    user_id: UUID = Field(primary_key=True)
    # automatic assignment skips an agent who is away or holds ``capacity`` open tickets
    available: bool = True
    capacity: int = 20
    created_at: datetime = Field(default_factory=utcnow)


class Team(SQLModel, table=True):
    __tablename__ = "teams"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    name: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"
    __table_args__ = SCHEMA

    team_id: UUID = Field(foreign_key="support.teams.id", primary_key=True)
    user_id: UUID = Field(primary_key=True)
    org_id: UUID
    # round-robin: the member assigned longest ago (or never) is next
    last_assigned_at: datetime | None = None
    # team admins hear of failed assignments and escalations
    admin: bool = False


class BusinessCalendar(SQLModel, table=True):
    __tablename__ = "business_calendars"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    name: str = Field(max_length=100)
    timezone: str = Field(max_length=64)
    # {"0": [[540, 1020]], ...}: minutes of the day, by ISO weekday - 1 (0 is Monday)
    weekly_hours: dict[str, list[list[int]]] = Field(sa_column=Column(JSONB, nullable=False))
    holidays: list[date] = Field(
        default_factory=list, sa_column=Column(ARRAY(Date), nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)


class SlaPolicy(SQLModel, table=True):
    __tablename__ = "sla_policies"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    name: str = Field(max_length=100)
    calendar_id: UUID = Field(foreign_key="support.business_calendars.id")
    # {"high": {"first_response": 3600, "next_response": ..., "resolution": ...}}: seconds
    targets: dict[str, dict[str, int]] = Field(sa_column=Column(JSONB, nullable=False))
    # conditions: empty means any
    priorities: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(16)), nullable=False)
    )
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(50)), nullable=False)
    )
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class EscalationLevel(enum.Enum):
    WARNING = "warning"
    BREACH = "breach"


class EscalationAction(enum.Enum):
    REASSIGN = "reassign"
    RAISE_PRIORITY = "raise_priority"
    NOTIFY_TEAM_ADMINS = "notify_team_admins"


class EscalationRule(SQLModel, table=True):
    """What the SLA watch does when a clock of the organization warns or breaches."""

    __tablename__ = "escalation_rules"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    name: str = Field(max_length=100)
    level: str = Field(max_length=16)
    clock: str | None = Field(default=None, max_length=32)  # None: any clock
    action: str = Field(max_length=32)
    team_id: UUID | None = Field(default=None, foreign_key="support.teams.id")
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class TicketEvent(SQLModel, table=True):
    """One fact of a ticket's life the SLA clocks depend on; never updated."""

    __tablename__ = "ticket_events"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    ticket_id: UUID = Field(foreign_key="support.tickets.id")
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))


class ScanStatus(enum.Enum):
    PENDING_SCAN = "pending_scan"
    CLEAN = "clean"
    INFECTED = "infected"
    UNSCANNED = "unscanned"  # attached while virus scanning was off


class Attachment(SQLModel, table=True):
    """A file on a ticket or comment, stored at ``orgs/<org>/tickets/<id>``; ``uploaded`` once
    its upload was checked and it was attached; downloadable once scanned clean."""

    __tablename__ = "attachments"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    uploader_id: UUID
    file_name: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size_bytes: int
    status: str = Field(default="requested", max_length=16)
    ticket_id: UUID | None = Field(default=None, foreign_key="support.tickets.id")
    comment_id: UUID | None = Field(default=None, foreign_key="support.comments.id")
    internal: bool = False
    scan_status: str = Field(default=ScanStatus.PENDING_SCAN.value, max_length=16)
    scanned_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Rating(SQLModel, table=True):
    """A satisfaction survey sent at a resolution: a single-use link (only its hash kept)."""

    __tablename__ = "ratings"
    __table_args__ = SCHEMA

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    org_id: UUID
    ticket_id: UUID = Field(foreign_key="support.tickets.id")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    score: int | None = None
    comment: str | None = None
    rated_at: datetime | None = None

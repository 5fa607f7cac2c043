"""Business rules of support: tickets, their comments and custom fields, agents, SLA policies
on business calendars (clocks computed by ``sla`` from each ticket's event log)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nh3
from redis.asyncio import Redis
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller
from subgraphs.billing.contract import SLA_POLICIES
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database, set_local, utcnow
from subgraphs.kernel.errors import ErrorCode, Rejected, checked, existing, require
from subgraphs.kernel.outbox import stage_job
from subgraphs.kernel.pagination import Page, decode_cursor, page_size, trimmed
from subgraphs.kernel.storage import Storage, StorageUnavailable
from subgraphs.kernel.tokens import new_token, token_hash
from subgraphs.kernel.usage import record_usage
from subgraphs.notifications.contract import NotificationRequest, Recipient, stage_notification
from subgraphs.support import (
    assignment,
    attachments,
    embedding,
    eventlog,
    llm,
    policies,
    repository,
    scanning,
    similar,
    sla,
    triage,
)
from subgraphs.support.access import MANAGERS, managed, person
from subgraphs.support.calendar import DAY_MINUTES, Calendar
from subgraphs.support.contract import EMBED_JOB, SupportErrorCode
from subgraphs.support.escalations import Escalations
from subgraphs.support.models import (
    Agent,
    Attachment,
    BusinessCalendar,
    Comment,
    FieldDefinition,
    FieldType,
    Priority,
    Rating,
    ScanStatus,
    SlaPolicy,
    Status,
    Team,
    TeamMember,
    Ticket,
)
from subgraphs.support.settings import Settings
from subgraphs.support.stats import Reports

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "u", "s", "a", "ul", "ol", "li",
    "blockquote", "code", "pre", "h1", "h2", "h3", "h4", "hr", "span",
}  # fmt: skip
LINK_REL = "noopener noreferrer nofollow"
MAX_BODY = 50_000
MAX_TAGS = 20
MAX_MENTIONS = 20
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(
        {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}
    ),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.RESOLVED, Status.CLOSED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
    Status.MERGED: frozenset(),
}  # fmt: skip


@dataclass(frozen=True)
class Viewer:
    """Who reads: agents see every ticket of the organization and internal notes; anyone else
    only the tickets they requested, and their public comments."""

    org_id: UUID
    user_id: UUID | None
    agent: bool


@dataclass(frozen=True)
class TicketFilter:
    status: Status | None = None
    assignee_id: UUID | None = None
    tag: str | None = None
    breached: bool | None = None


@dataclass(frozen=True)
class NewTicket:
    title: str
    body: str
    priority: Priority = Priority.NORMAL
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    attachment_ids: list[UUID] | None = None


@dataclass(frozen=True)
class TicketChanges:
    priority: Priority | None = None
    tags: list[str] | None = None
    assignee_id: UUID | None = None
    unassign: bool = False
    custom_fields: dict[str, Any] | None = None


def sanitized(body: str, field: str = "body") -> str:
    """The HTML body kept to an allow-list of tags; links open nothing of ours."""
    require(
        len(body) <= MAX_BODY, ErrorCode.INVALID_INPUT, f"At most {MAX_BODY} characters.", field
    )
    clean = nh3.clean(
        body,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
    )
    require(
        bool(nh3.clean(clean, tags=set()).strip()),
        ErrorCode.INVALID_INPUT,
        "Write something.",
        field,
    )
    return clean


async def _embedded(title: str, body: str) -> list[float]:
    """The embedding of a ticket's text, computed off the event loop."""
    (vector,) = await asyncio.to_thread(embedding.embed, [similar.document(title, body)])
    return vector


def _tags(values: list[str]) -> list[str]:
    tags = sorted({validation.text(t, "tags", max_length=50).lower() for t in values})
    require(len(tags) <= MAX_TAGS, ErrorCode.INVALID_INPUT, f"At most {MAX_TAGS} tags.", "tags")
    return tags


def _field_value(definition: FieldDefinition, value: Any) -> Any:
    name = f"customFields.{definition.key}"
    kind = FieldType(definition.type)
    ok = {
        FieldType.TEXT: isinstance(value, str) and 0 < len(value) <= 1000,
        FieldType.NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
        FieldType.BOOLEAN: isinstance(value, bool),
        FieldType.CHOICE: value in definition.options,
    }[kind]
    require(ok, ErrorCode.INVALID_INPUT, f"Not a valid {kind.value} for {definition.key}.", name)
    return value


def custom_values(definitions: list[FieldDefinition], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against the organization's field definitions (all problems at once)."""
    known = {d.key: d for d in definitions}
    checks: dict[str, Any] = {}
    for key in values:
        if key not in known:
            checks[f"unknown_{key}"] = lambda k=key: require(
                False, ErrorCode.INVALID_INPUT, f"No custom field {k}.", f"customFields.{k}"
            )
    for key, definition in known.items():
        if key in values and values[key] is not None:
            checks[key] = lambda d=definition: _field_value(d, values[d.key])
        elif definition.required:
            checks[key] = lambda k=key: require(
                False, ErrorCode.INVALID_INPUT, f"{k} is required.", f"customFields.{k}"
            )
    found = checked(**checks)
    return {k: v for k, v in found.items() if k in known}


class SupportService:
    def __init__(
        self, db: Database, redis: Redis, settings: Settings, storage: Storage | None
    ) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings
        self._storage = storage
        found = settings.support
        self.escalations = Escalations(db)
        self.reports = Reports(db)
        self.scanner = scanning.scanner_for(
            found.clamd_host, found.clamd_port, found.clamd_timeout_seconds
        )

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise StorageUnavailable("MINIO_ENDPOINT: not set")
        return self._storage

    # who may ---------------------------------------------------------------------------------

    async def _viewer(self, session: AsyncSession, caller: Caller, org_id: UUID) -> Viewer:
        """The caller inside ``org_id``; an organization other than the caller's is unknown."""
        if caller.org_id is None or caller.org_id != org_id or not caller.is_authenticated:
            raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown organization.", "organizationId")
        if caller.key_id is not None or caller.roles & MANAGERS:
            return Viewer(org_id, caller.user_id, agent=True)
        agent = await session.get(Agent, (org_id, caller.user_id))
        return Viewer(org_id, caller.user_id, agent=agent is not None)

    async def _agent(self, session: AsyncSession, caller: Caller, org_id: UUID) -> Viewer:
        viewer = await self._viewer(session, caller, org_id)
        require(viewer.agent, ErrorCode.FORBIDDEN, "Only agents can do this.")
        return viewer

    def _manager(self, caller: Caller, org_id: UUID) -> None:
        managed(caller, org_id)

    def _visible(self, viewer: Viewer, ticket: Ticket | None) -> Ticket | None:
        if ticket is None or ticket.org_id != viewer.org_id:
            return None
        return ticket if viewer.agent or ticket.requester_id == viewer.user_id else None

    async def _ticket(
        self, session: AsyncSession, caller: Caller, ticket_id: UUID
    ) -> tuple[Viewer, Ticket]:
        """The ticket, locked for the change, if the caller may see it."""
        if caller.org_id is None:
            raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown ticket.", "ticketId")
        viewer = await self._viewer(session, caller, caller.org_id)
        found = await repository.locked_ticket(session, ticket_id)
        return viewer, existing(self._visible(viewer, found), "ticket")

    async def set_agent(
        self, caller: Caller, org_id: UUID, user_id: UUID, agent: bool, capacity: int | None
    ) -> bool:
        """Owners and admins mark members as agents (or not), with their capacity."""
        self._manager(caller, org_id)
        require(
            capacity is None or 1 <= capacity <= 1000,
            ErrorCode.INVALID_INPUT,
            "Between 1 and 1000 open tickets.",
            "capacity",
        )
        async with self.db.transaction(caller) as session:
            found = await session.get(Agent, (org_id, user_id))
            if agent:
                found = found or Agent(org_id=org_id, user_id=user_id)
                found.capacity = capacity or found.capacity
                session.add(found)
            elif found is not None:
                await session.delete(found)
        return agent

    async def set_availability(self, caller: Caller, org_id: UUID, available: bool) -> None:
        """An agent's switch: away agents get no tickets automatically."""
        async with self.db.transaction(caller) as session:
            await self._viewer(session, caller, org_id)
            found = existing(await session.get(Agent, (org_id, caller.user_id)), "agent")
            found.available = available
            session.add(found)

    # teams and assignment --------------------------------------------------------------------

    async def create_team(self, caller: Caller, org_id: UUID, name: str) -> Team:
        self._manager(caller, org_id)
        team = Team(org_id=org_id, name=validation.text(name, "name", max_length=100))
        async with self.db.transaction(caller) as session:
            taken = await session.exec(
                select(Team).where(Team.org_id == org_id, Team.name == team.name)
            )
            require(taken.first() is None, ErrorCode.INVALID_INPUT, "This name exists.", "name")
            session.add(team)
        return team

    def ticket_link(self, ticket: Ticket) -> str:
        return f"{self.settings.core.public_url}/tickets/{ticket.id}"

    async def add_team_member(
        self, caller: Caller, team_id: UUID, user_id: UUID, *, admin: bool = False
    ) -> None:
        """Agents only: a team is who automatic assignment picks from; its admins hear when
        nobody could be picked and when an escalation rule says so."""
        async with self.db.transaction(caller) as session:
            team = existing(await session.get(Team, team_id), "team")
            self._manager(caller, team.org_id)
            require(
                await self._is_agent(session, team.org_id, user_id),
                SupportErrorCode.ASSIGNEE_NOT_AGENT,
                "Mark the member as an agent first.",
                "userId",
            )
            member = await session.get(TeamMember, (team_id, user_id))
            member = member or TeamMember(team_id=team_id, user_id=user_id, org_id=team.org_id)
            member.admin = admin
            session.add(member)

    async def assign_to_team(self, caller: Caller, ticket_id: UUID, team_id: UUID) -> Ticket:
        """Round-robin among the team's available agents under capacity; with nobody eligible
        the ticket stays unassigned and its timeline says why."""
        async with self.db.transaction(caller) as session:
            viewer, ticket = await self._ticket(session, caller, ticket_id)
            require(viewer.agent, ErrorCode.FORBIDDEN, "Only agents assign tickets.")
            await self._assign_to_team(session, ticket, team_id)
        return ticket

    async def _assign_to_team(self, session: AsyncSession, ticket: Ticket, team_id: UUID) -> None:
        team = await session.get(Team, team_id)
        team = existing(team if team and team.org_id == ticket.org_id else None, "team")
        await assignment.assign(session, ticket, team, link=self.ticket_link(ticket))

    async def _is_agent(self, session: AsyncSession, org_id: UUID, user_id: UUID) -> bool:
        return await session.get(Agent, (org_id, user_id)) is not None

    # custom fields ---------------------------------------------------------------------------

    async def define_field(
        self,
        caller: Caller,
        org_id: UUID,
        key: str,
        kind: FieldType,
        required: bool,
        options: list[str],
    ) -> FieldDefinition:
        self._manager(caller, org_id)
        key = validation.text(key, "key", max_length=50)
        require(key.isidentifier(), ErrorCode.INVALID_INPUT, "Letters, digits and _ only.", "key")
        require(
            (kind is FieldType.CHOICE) == bool(options) and len(options) <= 100,
            ErrorCode.INVALID_INPUT,
            "Choice fields need 1 to 100 options; other types none.",
            "options",
        )
        choices = [validation.text(o, "options", max_length=100) for o in options]
        async with self.db.transaction(caller) as session:
            taken = await session.exec(
                select(FieldDefinition).where(
                    FieldDefinition.org_id == org_id, FieldDefinition.key == key
                )
            )
            require(taken.first() is None, ErrorCode.INVALID_INPUT, "This key exists.", "key")
            definition = FieldDefinition(
                org_id=org_id, key=key, type=kind.value, required=required, options=choices
            )
            session.add(definition)
        return definition

    async def _definitions(self, session: AsyncSession, org_id: UUID) -> list[FieldDefinition]:
        return await repository.definitions(session, org_id)

    # SLA policies ----------------------------------------------------------------------------

    async def create_calendar(
        self,
        caller: Caller,
        org_id: UUID,
        name: str,
        timezone: str,
        weekly_hours: dict[int, list[tuple[int, int]]],
        holidays: list[date],
    ) -> BusinessCalendar:
        self._manager(caller, org_id)
        name = validation.text(name, "name", max_length=100)
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise Rejected.one(
                ErrorCode.INVALID_INPUT, "Not an IANA timezone.", "timezone"
            ) from None
        hours = tuple(tuple(sorted(weekly_hours.get(d, []))) for d in range(7))
        try:
            Calendar(zone, hours, frozenset(holidays))
        except ValueError:
            raise Rejected.one(
                ErrorCode.INVALID_INPUT,
                f"Opening hours need some sorted, disjoint spans within 0-{DAY_MINUTES} minutes.",
                "weeklyHours",
            ) from None
        require(
            len(holidays) <= 1000, ErrorCode.INVALID_INPUT, "At most 1000 holidays.", "holidays"
        )
        row = BusinessCalendar(
            org_id=org_id,
            name=name,
            timezone=zone.key,
            weekly_hours={
                str(d): [list(s) for s in spans] for d, spans in enumerate(hours) if spans
            },
            holidays=sorted(set(holidays)),
        )
        async with self.db.transaction(caller) as session:
            session.add(row)
        return row

    async def create_policy(
        self,
        caller: Caller,
        org_id: UUID,
        name: str,
        calendar_id: UUID,
        targets: dict[Priority, dict[str, int]],
        priorities: list[Priority],
        tags: list[str],
    ) -> SlaPolicy:
        self._manager(caller, org_id)
        name = validation.text(name, "name", max_length=100)
        policies.check_targets(targets)
        async with self.db.transaction(caller) as session:
            calendar = await session.get(BusinessCalendar, calendar_id)
            existing(calendar if calendar and calendar.org_id == org_id else None, "calendar")
            count = await session.exec(
                select(func.count()).select_from(SlaPolicy).where(SlaPolicy.org_id == org_id)
            )
            position, maximum = int(count.one()), caller.limit(SLA_POLICIES)
            require(
                maximum is None or position < maximum,
                SupportErrorCode.SLA_POLICY_LIMIT_REACHED,
                f"The organization's plan allows {maximum} SLA policies.",
            )
            policy = SlaPolicy(
                org_id=org_id,
                name=name,
                calendar_id=calendar_id,
                targets={p.value: t for p, t in targets.items()},
                priorities=[p.value for p in priorities],
                tags=_tags(tags),
                position=position,
            )
            session.add(policy)
        return policy

    async def policies(self, caller: Caller, org_id: UUID) -> list[SlaPolicy]:
        async with self.db.transaction(caller) as session:
            await self._viewer(session, caller, org_id)
            return await repository.policies(session, org_id)

    async def policies_by_id(self, caller: Caller, ids: list[UUID]) -> list[SlaPolicy | None]:
        """Policies of the caller's organization (row security hides the others)."""
        async with self.db.transaction(caller) as session:
            rows = await session.exec(select(SlaPolicy).where(col(SlaPolicy.id).in_(ids)))
            found = {p.id: p for p in rows if p.org_id == caller.org_id}
        return [found.get(i) for i in ids]

    async def _policy_for(
        self, session: AsyncSession, org_id: UUID, priority: str, tags: list[str]
    ) -> dict[str, Any] | None:
        """The first policy whose conditions the ticket meets, as the event log keeps it."""
        for policy, calendar in await repository.policies_with_calendars(session, org_id):
            if policies.covers(policy.priorities, policy.tags, priority, tags):
                return policies.policy_data(policy, calendar)
        return None

    # the event log ---------------------------------------------------------------------------

    async def _record(
        self, session: AsyncSession, ticket: Ticket, kind: str, data: dict[str, Any]
    ) -> None:
        await eventlog.record(session, ticket, kind, data)

    async def slas(self, caller: Caller, ticket_ids: list[UUID]) -> list[sla.Sla | None]:
        """Each ticket's clocks as of now (None for a ticket the caller cannot see)."""
        async with self.db.transaction(caller) as session:
            visible = await self._readable(session, caller, ticket_ids)
            logs = await repository.events_by_ticket(session, list(visible))
        now = utcnow()
        return [sla.compute(logs.get(i, []), now) if i in visible else None for i in ticket_ids]

    # tickets ---------------------------------------------------------------------------------

    async def _next_number(self, session: AsyncSession, org_id: UUID) -> int:
        return await repository.next_number(session, org_id)

    async def create_ticket(self, caller: Caller, org_id: UUID, new: NewTicket) -> Ticket:
        requester = person(caller)
        values = checked(
            title=lambda: validation.text(new.title, "title", max_length=200),
            body=lambda: sanitized(new.body),
            tags=lambda: _tags(new.tags or []),
        )
        async with self.db.transaction(caller) as session:
            await self._viewer(session, caller, org_id)
            fields = custom_values(
                await self._definitions(session, org_id), new.custom_fields or {}
            )
            ticket = Ticket(
                org_id=org_id,
                number=await self._next_number(session, org_id),
                title=values["title"],
                body=values["body"],
                priority=new.priority.value,
                tags=values["tags"],
                custom_fields=fields,
                requester_id=requester,
            )
            session.add(ticket)
            await session.flush()
            policy = await self._policy_for(session, org_id, ticket.priority, ticket.tags)
            await self._record(
                session, ticket, "created", {"priority": ticket.priority, "policy": policy}
            )
            await self._attach(session, ticket, None, new.attachment_ids or [])
            await record_usage(session, org_id, "tickets", 1, f"ticket:{ticket.id}")
            await stage_job(
                session, EMBED_JOB, str(org_id), str(ticket.id), job_id=f"{EMBED_JOB}:{ticket.id}"
            )
        return ticket

    async def embed_ticket(self, org_id: UUID, ticket_id: UUID) -> bool:
        """Store the embedding of a ticket's title and body, for similar tickets; False when
        the ticket is gone."""
        caller = Caller(org_id=org_id)
        async with self.db.transaction(caller) as session:
            found = await session.get(Ticket, ticket_id)
        if found is None:
            return False
        vector = await _embedded(found.title, found.body)
        async with self.db.transaction(caller) as session:
            await similar.store(session, found, vector)
        return True

    async def _attach(
        self, session: AsyncSession, ticket: Ticket, comment: Comment | None, ids: list[UUID]
    ) -> None:
        if not ids:
            return
        await attachments.take(
            session,
            self.storage,
            org_id=ticket.org_id,
            uploader=comment.author_id if comment else ticket.requester_id,
            ids=ids,
            ticket_id=ticket.id,
            comment_id=comment.id if comment else None,
            internal=comment.internal if comment else False,
            scanning=self.scanner is not None,
        )

    # attachments -----------------------------------------------------------------------------

    async def request_upload(
        self, caller: Caller, org_id: UUID, file_name: str, content_type: str, size: int
    ) -> attachments.RequestedUpload:
        """A presigned POST for one file, valid five minutes, for exactly its declared size."""
        uploader = person(caller)
        attachment = attachments.new_attachment(
            org_id,
            uploader,
            file_name,
            content_type,
            size,
            self.settings.support.support_attachment_max_bytes,
        )
        async with self.db.transaction(caller) as session:
            await self._viewer(session, caller, org_id)
            session.add(attachment)
        upload = self.storage.presign_upload(
            attachments.object_key(attachment),
            content_type=attachment.content_type,
            max_bytes=attachment.size_bytes,
        )
        return attachments.RequestedUpload(attachment, upload)

    async def _visible_attachments(self, caller: Caller, where: Any) -> list[Attachment]:
        """Attached files matching ``where`` on tickets the caller may read; internal notes'
        files for agents only."""
        async with self.db.transaction(caller) as session:
            rows = await repository.attached_files(session, where)
            tickets = [a.ticket_id for a in rows if a.ticket_id]
            visible = await self._readable(session, caller, tickets)
            agent = await self._sees_internal(session, caller)
        return [a for a in rows if a.ticket_id in visible and (agent or not a.internal)]

    async def attachments_of_comments(
        self, caller: Caller, comment_ids: list[UUID]
    ) -> list[list[Attachment]]:
        found = await self._visible_attachments(caller, col(Attachment.comment_id).in_(comment_ids))
        return [[a for a in found if a.comment_id == i] for i in comment_ids]

    async def attachments_of_tickets(
        self, caller: Caller, ticket_ids: list[UUID]
    ) -> list[list[Attachment]]:
        """Files attached to the tickets themselves (not to their comments)."""
        where = col(Attachment.ticket_id).in_(ticket_ids) & col(Attachment.comment_id).is_(None)
        found = await self._visible_attachments(caller, where)
        return [[a for a in found if a.ticket_id == i] for i in ticket_ids]

    async def attachments_by_id(self, caller: Caller, ids: list[UUID]) -> list[Attachment | None]:
        found = {
            a.id: a for a in await self._visible_attachments(caller, col(Attachment.id).in_(ids))
        }
        return [found.get(i) for i in ids]

    def download_url(self, attachment: Attachment) -> str | None:
        """A presigned GET (five minutes, saved as a file), for an attachment read under RLS;
        None until it was scanned clean (or attached while scanning was off)."""
        if not attachments.downloadable(attachment):
            return None
        return self.storage.download_url(
            attachments.object_key(attachment), file_name=attachment.file_name
        )

    async def scan_attachment(self, org_id: UUID, attachment_id: UUID) -> str:
        """Scan a file waiting for its scan: clean, or infected and its object deleted. The
        scan status it ends with."""
        caller = Caller(org_id=org_id)
        async with self.db.transaction(caller) as session:
            found = await session.get(Attachment, attachment_id)
        if found is None or found.scan_status != ScanStatus.PENDING_SCAN.value:
            return found.scan_status if found else "unknown"
        if self.scanner is None:
            raise scanning.ScanFailed("CLAMD_HOST: not set")
        key = attachments.object_key(found)
        result = await self.scanner.scan(await self.storage.read(key, found.size_bytes))
        if result.infected:
            await self.storage.delete(key)
        async with self.db.transaction(caller) as session:
            rows = await session.exec(
                select(Attachment).where(Attachment.id == attachment_id).with_for_update()
            )
            attachment = existing(rows.first(), "attachment")
            status = ScanStatus.INFECTED if result.infected else ScanStatus.CLEAN
            attachment.scan_status, attachment.scanned_at = status.value, utcnow()
            session.add(attachment)
        return attachment.scan_status

    async def _readable(
        self, session: AsyncSession, caller: Caller, ticket_ids: list[UUID]
    ) -> dict[UUID, Ticket]:
        if caller.org_id is None or not ticket_ids:
            return {}
        try:
            viewer = await self._viewer(session, caller, caller.org_id)
        except Rejected:
            return {}
        found = await repository.tickets_by_ids(session, ticket_ids)
        return {i: t for i, t in found.items() if self._visible(viewer, t)}

    async def similar(
        self, caller: Caller, ticket_ids: list[UUID], first: int
    ) -> list[list[tuple[Ticket, float]]]:
        """For each ticket, the most similar others of its organization the caller may read."""
        size = page_size(first)
        async with self.db.transaction(caller) as session:
            visible = await self._readable(session, caller, ticket_ids)
            if not visible or caller.org_id is None:
                return [[] for _ in ticket_ids]
            viewer = await self._viewer(session, caller, caller.org_id)
            matches = await similar.of_tickets(
                session, list(visible), agent=viewer.agent, user=viewer.user_id, first=size
            )
            found = await self._by_ids(session, [m for ms in matches.values() for m, _ in ms])
        return [[(found[m], s) for m, s in matches.get(i, []) if m in found] for i in ticket_ids]

    async def suggest_similar(
        self, caller: Caller, org_id: UUID, title: str, body: str, first: int
    ) -> list[tuple[Ticket, float]]:
        """Before creating a ticket: the existing ones it may duplicate."""
        size = page_size(first)
        words = checked(
            title=lambda: validation.text(title, "title", max_length=200),
            body=lambda: sanitized(body) if body.strip() else "",
        )
        async with self.db.transaction(caller) as session:
            viewer = await self._viewer(session, caller, org_id)
        vector = await _embedded(words["title"], words["body"])
        async with self.db.transaction(caller) as session:
            matches = await similar.of_vector(
                session, org_id, vector, agent=viewer.agent, user=viewer.user_id, first=size
            )
            found = await self._by_ids(session, [m for m, _ in matches])
        return [(found[m], s) for m, s in matches if m in found]

    async def _by_ids(self, session: AsyncSession, ids: list[UUID]) -> dict[UUID, Ticket]:
        return await repository.tickets_by_ids(session, ids)

    async def tickets_by_id(self, caller: Caller, ticket_ids: list[UUID]) -> list[Ticket | None]:
        async with self.db.transaction(caller) as session:
            found = await self._readable(session, caller, ticket_ids)
        return [found.get(i) for i in ticket_ids]

    async def tickets(
        self,
        caller: Caller,
        org_id: UUID,
        where: TicketFilter,
        first: int,
        after: str | None,
    ) -> Page[Ticket]:
        """The organization's tickets, newest first; a requester's own only."""
        size = page_size(first)
        before = int(decode_cursor(after, 1)[0]) if after else None
        async with self.db.transaction(caller) as session:
            try:
                viewer = await self._viewer(session, caller, org_id)
            except Rejected:
                return Page([], False)
            rows = await repository.ticket_page(
                session,
                org_id,
                requester=None if viewer.agent else viewer.user_id,
                where=where,
                now=utcnow(),
                before=before,
                size=size,
            )
            return trimmed(rows, size)

    async def tickets_of_users(
        self, caller: Caller, user_ids: list[UUID], *, assigned: bool
    ) -> list[list[Ticket]]:
        """Each user's assigned (or requested) tickets in the caller's organization."""
        if caller.org_id is None:
            return [[] for _ in user_ids]
        async with self.db.transaction(caller) as session:
            try:
                viewer = await self._viewer(session, caller, caller.org_id)
            except Rejected:
                return [[] for _ in user_ids]
            rows = await repository.tickets_of_users(
                session, viewer.org_id, user_ids, assigned=assigned
            )
            by_user: dict[UUID, list[Ticket]] = {}
            for ticket in rows:
                if self._visible(viewer, ticket):
                    owner = ticket.assignee_id if assigned else ticket.requester_id
                    by_user.setdefault(owner, []).append(ticket)  # type: ignore[arg-type]
        return [by_user.get(u, []) for u in user_ids]

    async def set_status(self, caller: Caller, ticket_id: UUID, status: Status) -> Ticket:
        async with self.db.transaction(caller) as session:
            viewer, ticket = await self._ticket(session, caller, ticket_id)
            require(viewer.agent, ErrorCode.FORBIDDEN, "Only agents change a ticket's status.")
            current = Status(ticket.status)
            if status not in TRANSITIONS[current]:
                raise Rejected.one(
                    SupportErrorCode.INVALID_STATUS_TRANSITION,
                    f"A {current.value} ticket cannot become {status.value}.",
                    "status",
                )
            ticket.status = status.value
            await self._record(session, ticket, "status", {"to": status.value})
            if status is Status.RESOLVED:
                await self._ask_rating(session, ticket)
        return ticket

    async def merge(self, caller: Caller, source_id: UUID, target_id: UUID) -> Ticket:
        """The source's comments and attachments move to the target; the source is closed as
        merged and points at it."""
        require(
            source_id != target_id,
            SupportErrorCode.CANNOT_MERGE_INTO_ITSELF,
            "A ticket cannot be merged into itself.",
            "targetId",
        )
        async with self.db.transaction(caller) as session:
            # both rows locked in one order, so two opposite merges wait rather than deadlock
            locked = {}
            for ticket_id in sorted((source_id, target_id)):
                viewer, locked[ticket_id] = await self._ticket(session, caller, ticket_id)
            require(viewer.agent, ErrorCode.FORBIDDEN, "Only agents merge tickets.")
            source, target = locked[source_id], locked[target_id]
            require(
                Status.MERGED.value not in (source.status, target.status),
                SupportErrorCode.ALREADY_MERGED,
                "A merged ticket cannot be merged again.",
                "sourceId",
            )
            await repository.move_thread(session, source.id, target.id)
            source.status, source.merged_into_id = Status.MERGED.value, target.id
            await self._record(session, source, "status", {"to": source.status})
            target.updated_at = utcnow()
            session.add(target)
        return target

    # satisfaction ----------------------------------------------------------------------------

    async def _ask_rating(self, session: AsyncSession, ticket: Ticket) -> None:
        """Every resolution sends the requester a new single-use rating link."""
        token, hashed = new_token()
        ttl = timedelta(seconds=self.settings.support.support_rating_ttl_seconds)
        rating = Rating(
            org_id=ticket.org_id,
            ticket_id=ticket.id,
            token_hash=hashed,
            expires_at=utcnow() + ttl,
        )
        session.add(rating)
        link = f"{self.settings.core.public_url}/tickets/rate?token={token}"
        await stage_notification(
            session,
            NotificationRequest(
                template_key="ticket_updated",
                category="ticket",
                recipients=[Recipient(user_id=ticket.requester_id)],
                idempotency_key=f"support:rating:{rating.id}",
                data={"ticket": f"#{ticket.number}", "subject": ticket.title, "link": link},
                org_id=ticket.org_id,
            ),
        )

    async def rate(self, caller: Caller, token: str, score: int, comment: str | None) -> Rating:
        """Anyone holding the link rates once; the link is the credential."""
        checked(
            score=lambda: require(
                1 <= score <= 5, ErrorCode.INVALID_INPUT, "A score from 1 to 5.", "score"
            ),
            comment=lambda: require(
                comment is None or len(comment) <= 1000,
                ErrorCode.INVALID_INPUT,
                "At most 1000 characters.",
                "comment",
            ),
        )
        hashed = token_hash(token)
        async with self.db.transaction(caller) as session:
            await set_local(session, "app.token_hash", hashed)
            rating = await repository.locked_rating(session, hashed)
            if rating is None or rating.expires_at < utcnow():
                raise Rejected.one(
                    ErrorCode.INVALID_TOKEN, "This rating link is invalid or has expired.", "token"
                )
            require(
                rating.rated_at is None,
                SupportErrorCode.RATING_ALREADY_GIVEN,
                "This resolution was already rated.",
                "token",
            )
            rating.score, rating.rated_at = score, utcnow()
            rating.comment = comment.strip() if comment else None
            session.add(rating)
        return rating

    async def update_ticket(
        self, caller: Caller, ticket_id: UUID, changes: TicketChanges
    ) -> Ticket:
        async with self.db.transaction(caller) as session:
            viewer, ticket = await self._ticket(session, caller, ticket_id)
            require(viewer.agent, ErrorCode.FORBIDDEN, "Only agents change a ticket.")
            if changes.tags is not None:
                ticket.tags = _tags(changes.tags)
            if changes.custom_fields is not None:
                definitions = await self._definitions(session, ticket.org_id)
                ticket.custom_fields = custom_values(
                    definitions, {**ticket.custom_fields, **changes.custom_fields}
                )
            if changes.unassign:
                ticket.assignee_id = None
            elif changes.assignee_id is not None and changes.assignee_id != ticket.assignee_id:
                await self._check_assignee(session, ticket.org_id, changes.assignee_id)
                ticket.assignee_id = changes.assignee_id
            if changes.priority is not None:
                await self._reprioritize(session, ticket, changes.priority)
            session.add(ticket)
        return ticket

    async def _reprioritize(
        self, session: AsyncSession, ticket: Ticket, priority: Priority
    ) -> None:
        if priority.value != ticket.priority:
            ticket.priority = priority.value
            await self._record(session, ticket, "priority", {"to": ticket.priority})

    async def suggest_triage(self, org_id: UUID, ticket_id: UUID) -> triage.Suggestion:
        """What the nearest settled tickets suggest for a ticket, embedded first."""
        require(
            await self.embed_ticket(org_id, ticket_id),
            ErrorCode.NOT_FOUND,
            "Unknown ticket.",
            "ticketId",
        )
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            matches = await similar.of_tickets(
                session, [ticket_id], agent=True, user=None, first=triage.NEIGHBOURS, settled=True
            )
            nearest = matches.get(ticket_id, [])
            found = await self._by_ids(session, [m for m, _ in nearest])
        return triage.suggest([(found[m], score) for m, score in nearest if m in found])

    async def summarize_for_triage(self, org_id: UUID, ticket_id: UUID) -> str | None:
        """A short summary of the ticket for its triage's approver, when an LLM endpoint is
        configured."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            found = await session.get(Ticket, ticket_id)
        if found is None or found.org_id != org_id:
            raise Rejected.one(ErrorCode.NOT_FOUND, "Unknown ticket.", "ticketId")
        return await llm.summary(self.settings.support, similar.document(found.title, found.body))

    async def apply_triage(
        self, caller: Caller, ticket_id: UUID, suggestion: triage.Suggestion
    ) -> Ticket:
        """An agent's approval of a suggestion: its priority, its tags added, its team's
        round-robin, all or nothing."""
        async with self.db.transaction(caller) as session:
            viewer, ticket = await self._ticket(session, caller, ticket_id)
            require(viewer.agent, ErrorCode.FORBIDDEN, "Only agents change a ticket.")
            ticket.tags = _tags([*ticket.tags, *suggestion.tags])
            if suggestion.priority is not None:
                await self._reprioritize(session, ticket, Priority(suggestion.priority))
            if suggestion.team_id is not None:
                await self._assign_to_team(session, ticket, suggestion.team_id)
            session.add(ticket)
        return ticket

    async def _check_assignee(self, session: AsyncSession, org_id: UUID, user_id: UUID) -> None:
        agent = await session.get(Agent, (org_id, user_id))
        if agent is None:
            raise Rejected.one(
                SupportErrorCode.ASSIGNEE_NOT_AGENT,
                "Tickets are assigned to agents only.",
                "assigneeId",
            )
        load = await assignment.open_load(session, org_id, [user_id])
        require(
            load.get(user_id, 0) < agent.capacity,
            SupportErrorCode.AGENT_AT_CAPACITY,
            "This agent already holds as many open tickets as they can.",
            "assigneeId",
        )

    # comments --------------------------------------------------------------------------------

    async def add_comment(
        self,
        caller: Caller,
        ticket_id: UUID,
        body: str,
        *,
        internal: bool,
        mentions: list[UUID],
        attachment_ids: list[UUID],
    ) -> Comment:
        author = person(caller)
        clean = sanitized(body)
        require(
            len(mentions) <= MAX_MENTIONS,
            ErrorCode.INVALID_INPUT,
            f"At most {MAX_MENTIONS} mentions.",
            "mentionIds",
        )
        async with self.db.transaction(caller) as session:
            viewer, ticket = await self._ticket(session, caller, ticket_id)
            require(
                viewer.agent or not internal,
                ErrorCode.FORBIDDEN,
                "Only agents write internal notes.",
            )
            mentioned = list(dict.fromkeys(m for m in mentions if m != author))
            await self._check_mentions(session, ticket, mentioned, internal=internal)
            comment = Comment(
                org_id=ticket.org_id,
                ticket_id=ticket.id,
                author_id=author,
                body=clean,
                internal=internal,
                mentions=mentioned,
            )
            session.add(comment)
            await session.flush()
            await self._attach(session, ticket, comment, attachment_ids)
            if not internal:
                await self._public_reply(session, ticket, agent=viewer.agent)
            await self._notify_mentions(session, ticket, comment)
        return comment

    async def _check_mentions(
        self, session: AsyncSession, ticket: Ticket, mentioned: list[UUID], *, internal: bool
    ) -> None:
        """Agents may be mentioned anywhere; the requester only in a public reply."""
        for user_id in mentioned:
            allowed = await self._is_agent(session, ticket.org_id, user_id) or (
                not internal and user_id == ticket.requester_id
            )
            require(
                allowed,
                ErrorCode.INVALID_INPUT,
                "Only agents (and the requester, in a public reply) can be mentioned.",
                "mentionIds",
            )

    async def _public_reply(self, session: AsyncSession, ticket: Ticket, *, agent: bool) -> None:
        """An agent's reply opens a new ticket; the requester's reopens a pending one."""
        await self._record(session, ticket, "reply", {"agent": agent})
        status = Status(ticket.status)
        opens = (agent and status is Status.NEW) or (not agent and status is Status.PENDING)
        if opens:
            ticket.status = Status.OPEN.value
            await self._record(session, ticket, "status", {"to": ticket.status})

    async def _notify_mentions(
        self, session: AsyncSession, ticket: Ticket, comment: Comment
    ) -> None:
        if not comment.mentions:
            return
        link = self.ticket_link(ticket)
        await stage_notification(
            session,
            NotificationRequest(
                template_key="ticket_updated",
                category="ticket",
                recipients=[Recipient(user_id=u) for u in comment.mentions],
                idempotency_key=f"support:mention:{comment.id}",
                data={"ticket": f"#{ticket.number}", "subject": ticket.title, "link": link},
                channels=["in_app", "email"],
                org_id=ticket.org_id,
            ),
        )

    async def comments(self, caller: Caller, ticket_ids: list[UUID]) -> list[list[Comment]]:
        """Each ticket's comments, oldest first; internal notes for agents only."""
        async with self.db.transaction(caller) as session:
            visible = await self._readable(session, caller, ticket_ids)
            agent = await self._sees_internal(session, caller)
            rows = await repository.comments_of_tickets(session, list(visible), internal=agent)
            by_ticket: dict[UUID, list[Comment]] = {}
            for comment in rows:
                by_ticket.setdefault(comment.ticket_id, []).append(comment)
        return [by_ticket.get(i, []) for i in ticket_ids]

    async def _sees_internal(self, session: AsyncSession, caller: Caller) -> bool:
        if caller.org_id is None:
            return False
        try:
            return (await self._viewer(session, caller, caller.org_id)).agent
        except Rejected:
            return False

    async def comment_counts(self, caller: Caller, ticket_ids: list[UUID]) -> list[int]:
        """How many comments the caller sees on each ticket: one query for the whole list."""
        async with self.db.transaction(caller) as session:
            if caller.org_id is None or not ticket_ids:
                return [0 for _ in ticket_ids]
            agent = await self._sees_internal(session, caller)
            counts = await repository.comment_counts(session, ticket_ids, internal=agent)
        return [counts.get(i, 0) for i in ticket_ids]

    async def comments_by_id(self, caller: Caller, comment_ids: list[UUID]) -> list[Comment | None]:
        async with self.db.transaction(caller) as session:
            rows = await repository.comments_by_ids(session, comment_ids)
            visible = await self._readable(session, caller, [c.ticket_id for c in rows])
            agent = await self._sees_internal(session, caller)
        found = {c.id: c for c in rows if c.ticket_id in visible and (agent or not c.internal)}
        return [found.get(i) for i in comment_ids]

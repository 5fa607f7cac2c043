"""The support subgraph's GraphQL schema: Ticket, Comment and SlaPolicy entities, the tickets
of an Organization (owned by tenancy) and of a User (owned by auth), and the mutations."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Any, cast
from uuid import UUID

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.errors import ErrorCode, Rejected
from subgraphs.kernel.pagination import Edge, PageInfo, encode_cursor, page_size
from subgraphs.kernel.schema import (
    CODE,
    ERRORS,
    MUTATION,
    QUERY,
    USER_ERROR,
    UserError,
    described_enum,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
    require_scope,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.support import models, sla, stats
from subgraphs.support.contract import SupportErrorCode
from subgraphs.support.models import FieldType, Priority, Status
from subgraphs.support.service import NewTicket, SupportService, TicketChanges, TicketFilter

Info = strawberry.Info[RequestContext[SupportService], None]
StatusType = described_enum(
    Status,
    "TicketStatus",
    "Where a ticket stands; `setTicketStatus` moves it.",
    {
        Status.NEW: "Not answered by an agent yet.",
        Status.OPEN: "Being worked on.",
        Status.PENDING: "Waiting for the requester (pauses resolution); their reply reopens it.",
        Status.ON_HOLD: "Waiting on something else (pauses resolution).",
        Status.RESOLVED: "Solved; the requester is sent a rating link. Can reopen.",
        Status.CLOSED: "Done. Can reopen.",
        Status.MERGED: "Merged into another ticket (`mergedInto`); final.",
    },
)
PriorityType = described_enum(
    Priority,
    "TicketPriority",
    "How urgent a ticket is; SLA targets are set per priority.",
    {
        Priority.LOW: "Can wait.",
        Priority.NORMAL: "The default.",
        Priority.HIGH: "Before normal ones.",
        Priority.URGENT: "Most urgent.",
    },
)
FieldTypeType = described_enum(
    FieldType,
    "TicketFieldType",
    "The type of a custom ticket field's value.",
    {
        FieldType.TEXT: "A string.",
        FieldType.NUMBER: "A number.",
        FieldType.BOOLEAN: "True or false.",
        FieldType.CHOICE: "One of the field's options.",
    },
)


@strawberry.enum(description="Where an SLA clock stands.")
class ClockStatus(enum.Enum):
    IDLE = strawberry.enum_value("idle", description="Not started.")
    RUNNING = strawberry.enum_value("running", description="Counting business time.")
    PAUSED = strawberry.enum_value("paused", description="Stopped while pending or on hold.")
    MET = strawberry.enum_value("met", description="Its target was met.")
    STOPPED = strawberry.enum_value(
        "stopped", description="Ended without being met (the ticket closed first)."
    )
    BREACHED = strawberry.enum_value("breached", description="Its target passed.")


@strawberry.enum(description="The virus scan of an attachment.")
class AttachmentScanStatus(enum.Enum):
    PENDING_SCAN = strawberry.enum_value("pending_scan", description="Not scanned yet.")
    CLEAN = strawberry.enum_value("clean", description="Scanned: no virus found.")
    INFECTED = strawberry.enum_value(
        "infected", description="A virus was found: the file was deleted."
    )
    UNSCANNED = strawberry.enum_value(
        "unscanned", description="Attached while virus scanning was off."
    )


def _bad_argument(rejected: Rejected) -> GraphQLError:
    problem = rejected.problems[0]
    return GraphQLError(
        f"{problem.field}: {problem.message}", extensions={"code": "BAD_USER_INPUT"}
    )


def _tickets(info: Info) -> Any:
    ctx = info.context
    return loader(ctx, "tickets", lambda ids: ctx.services.tickets_by_id(ctx.caller, ids))


def _user(user_id: UUID | None) -> User | None:
    return User(id=strawberry.ID(str(user_id))) if user_id else None


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class SupportUserError(UserError):
    code: enum.StrEnum = strawberry.field(
        graphql_type=error_codes(SupportErrorCode), description=CODE
    )


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)

    async def _tickets(self, info: Info, assigned: bool) -> list[Ticket]:
        key = uuid_or_none(self.id)
        if key is None:
            return []
        ctx = info.context
        found = loader(
            ctx,
            f"tickets_of_users:{assigned}",
            lambda ids: ctx.services.tickets_of_users(ctx.caller, ids, assigned=assigned),
        )
        return [Ticket.of(t) for t in await found.load(key)]

    @strawberry.field(description="Tickets assigned to this user in your organization.")
    async def assigned_tickets(self, info: Info) -> list[Ticket]:
        return await self._tickets(info, assigned=True)

    @strawberry.field(description="Tickets this user opened that you may see.")
    async def requested_tickets(self, info: Info) -> list[Ticket]:
        return await self._tickets(info, assigned=False)


@strawberry.type(description="One change of a clock, and the rule that made it.")
class SlaTimelineEntry:
    at: datetime = strawberry.field(description="When it happened.")
    clock: str = strawberry.field(description="`first_response`, `next_response` or `resolution`.")
    event: str = strawberry.field(
        description="`START`, `PAUSE`, `RESUME`, `MET`, `STOP`, `BREACH` or `RECALCULATE`."
    )
    rule: str = strawberry.field(description="Why, in words.")
    business_seconds_used: int = strawberry.field(
        description="Business seconds the clock had used then."
    )
    business_seconds_left: int | None = strawberry.field(
        description="Business seconds it had left; null when it has no target left."
    )

    @classmethod
    def of(cls, entry: sla.Entry) -> SlaTimelineEntry:
        return cls(
            at=entry.at,
            clock=entry.clock,
            event=entry.event,
            rule=entry.rule,
            business_seconds_used=int(entry.used.total_seconds()),
            business_seconds_left=int(entry.left.total_seconds()) if entry.left else None,
        )


@strawberry.type(description="One SLA clock of a ticket, counted in business hours.")
class SlaClock:
    due_at: datetime | None = strawberry.field(
        description="When it breaches if it keeps running; null unless running."
    )
    met_at: datetime | None = strawberry.field(description="When it was met; null if not.")
    breached_at: datetime | None = strawberry.field(
        description="When it breached; null if it did not."
    )
    status: ClockStatus = strawberry.field(description="Where it stands.")
    business_seconds_used: int = strawberry.field(description="Business seconds used so far.")

    @classmethod
    def of(cls, clock: sla.Clock) -> SlaClock | None:
        if clock.target is None:
            return None
        return cls(
            due_at=clock.due_at,
            met_at=clock.met_at,
            breached_at=clock.breached_at,
            status=ClockStatus(clock.status),
            business_seconds_used=int(clock.used.total_seconds()),
        )


@strawberry.type(description="The SLA policy a ticket falls under, by name.")
class SlaPolicyName:
    name: str = strawberry.field(description="The policy's name.")


@strawberry.type(description="A ticket's SLA clocks on business hours, and how they got there.")
class TicketSla:
    policy: SlaPolicyName | None = strawberry.field(
        description="The policy in force; null when none applies now."
    )
    first_response: SlaClock | None = strawberry.field(
        description="Until an agent's first public reply; null without a target."
    )
    next_response: SlaClock | None = strawberry.field(
        description="Until an agent answers the requester's latest reply; null without a target."
    )
    resolution: SlaClock | None = strawberry.field(
        description="Until the ticket is resolved; null without a target."
    )
    breached: bool = strawberry.field(description="Whether any clock breached.")
    timeline: list[SlaTimelineEntry] = strawberry.field(
        description="Every change of the clocks, oldest first."
    )

    @classmethod
    def of(cls, found: sla.Sla) -> TicketSla:
        clocks = found.clocks
        return cls(
            policy=SlaPolicyName(name=found.policy) if found.policy else None,
            first_response=SlaClock.of(clocks[sla.FIRST_RESPONSE]),
            next_response=SlaClock.of(clocks[sla.NEXT_RESPONSE]),
            resolution=SlaClock.of(clocks[sla.RESOLUTION]),
            breached=found.breached,
            timeline=[SlaTimelineEntry.of(e) for e in found.timeline],
        )

    @strawberry.field(description="Shortcut for `firstResponse.dueAt`; null unless it runs.")
    def first_response_due_at(self) -> datetime | None:
        return self.first_response.due_at if self.first_response else None

    @strawberry.field(description="Shortcut for `resolution.dueAt`; null unless it runs.")
    def resolution_due_at(self) -> datetime | None:
        return self.resolution.due_at if self.resolution else None


@strawberry.federation.type(keys=["id"], description="A file on a ticket or a comment.")
class Attachment:
    id: strawberry.ID = strawberry.field(description="The attachment's id (a UUID).")
    file_name: str = strawberry.field(description="The name it was uploaded with.")
    content_type: str = strawberry.field(description="Its declared and checked type.")
    size_bytes: int = strawberry.field(description="Its size, in bytes.")
    created_at: datetime = strawberry.field(description="When its upload was asked for.")
    row: strawberry.Private[models.Attachment]

    @classmethod
    def of(cls, row: models.Attachment) -> Attachment:
        return cls(
            id=strawberry.ID(str(row.id)),
            file_name=row.file_name,
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            created_at=row.created_at,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Attachment | None:
        key = uuid_or_none(id)
        if key is None:
            return None
        ctx = info.context
        found = await loader(
            ctx, "attachments_by_id", lambda ids: ctx.services.attachments_by_id(ctx.caller, ids)
        ).load(key)
        return cls.of(found) if found else None

    @strawberry.field(description="Where the virus scan of the file stands.")
    def scan_status(self) -> AttachmentScanStatus:
        return AttachmentScanStatus(self.row.scan_status)

    @strawberry.field(
        description="A link valid five minutes that saves the file; null until the file is "
        "scanned clean, and an ATTACHMENT_INFECTED error for a file found infected."
    )
    def download_url(self, info: Info) -> str | None:
        if self.row.scan_status == models.ScanStatus.INFECTED.value:
            raise GraphQLError(
                f"{self.row.file_name} was found infected and removed.",
                extensions={"code": SupportErrorCode.ATTACHMENT_INFECTED.value},
            )
        return info.context.services.download_url(self.row)


@strawberry.federation.type(keys=["id"], description="A reply or an internal note on a ticket.")
class Comment:
    id: strawberry.ID = strawberry.field(description="The comment's id (a UUID).")
    body: str = strawberry.field(description="Sanitized HTML.")
    internal: bool = strawberry.field(
        description="An internal note: agents only see it, the requester does not."
    )
    author: User | None = strawberry.field(
        description="Who wrote it; null once they have left the organization."
    )
    mentions: list[User | None] = strawberry.field(
        description="Who it mentions (they are notified); null for those who have left the"
        " organization."
    )
    created_at: datetime = strawberry.field(description="When it was written.")
    ticket_id: strawberry.Private[UUID]

    @classmethod
    def of(cls, comment: models.Comment) -> Comment:
        return cls(
            id=strawberry.ID(str(comment.id)),
            body=comment.body,
            internal=comment.internal,
            author=User(id=strawberry.ID(str(comment.author_id))),
            mentions=[User(id=strawberry.ID(str(u))) for u in comment.mentions],
            created_at=comment.created_at,
            ticket_id=comment.ticket_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Comment | None:
        key = uuid_or_none(id)
        if key is None:
            return None
        ctx = info.context
        found = await loader(
            ctx, "comments_by_id", lambda ids: ctx.services.comments_by_id(ctx.caller, ids)
        ).load(key)
        return cls.of(found) if found else None

    @strawberry.field(description="The ticket it is on; null when you cannot read it.")
    async def ticket(self, info: Info) -> Ticket | None:
        found = await _tickets(info).load(self.ticket_id)
        return Ticket.of(found) if found else None

    @strawberry.field(description="Files attached to it.")
    async def attachments(self, info: Info) -> list[Attachment]:
        ctx = info.context
        found = loader(
            ctx,
            "comment_attachments",
            lambda ids: ctx.services.attachments_of_comments(ctx.caller, ids),
        )
        return [Attachment.of(a) for a in await found.load(UUID(self.id))]


@strawberry.type(description="A page of a ticket's comments, oldest first.")
class CommentConnection:
    edges: list[Edge[Comment]] = strawberry.field(description="The comments of this page.")
    page_info: PageInfo = strawberry.field(description="Whether another page follows.")
    total_count: int = strawberry.field(description="The comments you may read, all pages.")


@strawberry.federation.type(
    keys=["id"],
    description="A request for help, and its thread; readable by the organization's agents"
    " (owners, admins, API keys, members marked agents) and by its requester.",
)
class Ticket:
    id: strawberry.ID = strawberry.field(description="The ticket's id (a UUID).")
    number: int = strawberry.field(description="Per organization, from 1.")
    title: str = strawberry.field(description="Up to 200 characters.")
    body: str = strawberry.field(description="Sanitized HTML.")
    status: Status = strawberry.field(description="Where it stands.")
    priority: Priority = strawberry.field(description="How urgent it is.")
    tags: list[str] = strawberry.field(description="Lower-cased labels, at most 20.")
    custom_fields: JSON = strawberry.field(
        description="The organization's custom fields (`defineTicketField`), key to value."
    )
    requester: User | None = strawberry.field(
        description="Who opened it; null once they have left the organization."
    )
    assignee: User | None = strawberry.field(description="The agent on it; null: nobody.")
    team_id: strawberry.ID | None = strawberry.field(
        description="The team it was assigned through; null: none."
    )
    created_at: datetime = strawberry.field(description="When it was opened.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    merged_into_id: strawberry.Private[UUID | None]

    @classmethod
    def of(cls, ticket: models.Ticket) -> Ticket:
        return cls(
            id=strawberry.ID(str(ticket.id)),
            number=ticket.number,
            title=ticket.title,
            body=ticket.body,
            status=Status(ticket.status),
            priority=Priority(ticket.priority),
            tags=list(ticket.tags),
            custom_fields=cast(JSON, ticket.custom_fields),
            requester=User(id=strawberry.ID(str(ticket.requester_id))),
            assignee=_user(ticket.assignee_id),
            team_id=strawberry.ID(str(ticket.team_id)) if ticket.team_id else None,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            merged_into_id=ticket.merged_into_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Ticket | None:
        key = uuid_or_none(id)
        found = await _tickets(info).load(key) if key else None
        return cls.of(found) if found else None

    @strawberry.field(description="The ticket it was merged into; null unless `MERGED`.")
    async def merged_into(self, info: Info) -> Ticket | None:
        found = await _tickets(info).load(self.merged_into_id) if self.merged_into_id else None
        return Ticket.of(found) if found else None

    async def _comments(self, info: Info) -> list[models.Comment]:
        ctx = info.context
        found: list[models.Comment] = await loader(
            ctx, "comments", lambda ids: ctx.services.comments(ctx.caller, ids)
        ).load(UUID(self.id))
        return found

    @strawberry.field(description="Files attached to the ticket itself.")
    async def attachments(self, info: Info) -> list[Attachment]:
        ctx = info.context
        found = loader(
            ctx,
            "ticket_attachments",
            lambda ids: ctx.services.attachments_of_tickets(ctx.caller, ids),
        )
        return [Attachment.of(a) for a in await found.load(UUID(self.id))]

    @strawberry.field(description="Comments you may read (internal notes for agents only).")
    async def comment_count(self, info: Info) -> int:
        ctx = info.context
        counts = loader(ctx, "counts", lambda ids: ctx.services.comment_counts(ctx.caller, ids))
        count: int = await counts.load(UUID(self.id))
        return count

    @strawberry.field(
        description="Oldest first; internal notes for agents only. A bad `first` is a GraphQL"
        " error `BAD_USER_INPUT`."
    )
    async def comments(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `cursor` to continue after; null: from the start."
            ),
        ] = None,
    ) -> CommentConnection:
        try:
            size = page_size(first)
        except Rejected as exc:
            raise _bad_argument(exc) from None
        every = await self._comments(info)
        start = next((i + 1 for i, c in enumerate(every) if str(c.id) == after), 0)
        page = every[start : start + size]
        return CommentConnection(
            edges=[Edge(cursor=str(c.id), node=Comment.of(c)) for c in page],
            page_info=PageInfo(
                has_next_page=start + size < len(every),
                end_cursor=str(page[-1].id) if page else None,
            ),
            total_count=len(every),
        )

    @strawberry.field(
        description="Tickets of the organization nearest in meaning (embeddings of title and"
        " body), most alike first; empty until the worker has embedded this ticket."
    )
    async def similar(
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="How many, 1 to 20.")] = 5,
    ) -> list[SimilarTicket]:
        ctx = info.context
        if not 1 <= first <= 20:
            raise GraphQLError(
                "first: must be between 1 and 20.", extensions={"code": "BAD_USER_INPUT"}
            )
        found = loader(
            ctx, f"similar:{first}", lambda ids: ctx.services.similar(ctx.caller, ids, first)
        )
        return [
            SimilarTicket(score=s, ticket=Ticket.of(t)) for t, s in await found.load(UUID(self.id))
        ]

    @strawberry.field(description="SLA clocks; null without a policy.")
    async def sla(self, info: Info) -> TicketSla | None:
        ctx = info.context
        found: sla.Sla | None = await loader(
            ctx, "sla", lambda ids: ctx.services.slas(ctx.caller, ids)
        ).load(UUID(self.id))
        return TicketSla.of(found) if found and (found.policy or found.timeline) else None


@strawberry.type(description="A ticket like another, and how alike.")
class SimilarTicket:
    score: float = strawberry.field(
        description="Cosine similarity of the two embeddings: 1 the same meaning, near 0 unrelated."
    )
    ticket: Ticket = strawberry.field(description="The similar ticket.")


@strawberry.type(description="A ticket and its cursor.")
class TicketEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` for the tickets after it.")
    node: Ticket = strawberry.field(description="The ticket.")


@strawberry.type(description="A page of tickets, newest first.")
class TicketConnection:
    edges: list[TicketEdge] = strawberry.field(description="The tickets of this page.")
    page_info: PageInfo = strawberry.field(description="Whether another page follows.")


@strawberry.input(description="Which tickets to list; every condition given must hold.")
class TicketFilterInput:
    status: Status | None = strawberry.field(default=None, description="In this status.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="Assigned to this user."
    )
    tag: str | None = strawberry.field(default=None, description="With this tag (any case).")
    breached: bool | None = strawberry.field(
        default=None, description="True: an SLA clock breached; false: none did."
    )


@strawberry.type(description="Opening hours on one weekday.")
class OpeningSpan:
    weekday: int = strawberry.field(description="0 is Monday.")
    start_minute: int = strawberry.field(description="Opens, in minutes after midnight.")
    end_minute: int = strawberry.field(description="Closes, in minutes after midnight (to 1440).")


@strawberry.type(description="When the clocks run: opening hours in a timezone, and holidays.")
class BusinessCalendar:
    id: strawberry.ID = strawberry.field(description="The calendar's id (a UUID).")
    name: str = strawberry.field(description="Its name.")
    timezone: str = strawberry.field(description="The IANA time zone its hours are in.")
    weekly_hours: list[OpeningSpan] = strawberry.field(
        description="Opening hours by weekday, in order."
    )
    holidays: list[date] = strawberry.field(description="Days the clocks do not run.")

    @classmethod
    def of(cls, row: models.BusinessCalendar) -> BusinessCalendar:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            timezone=row.timezone,
            weekly_hours=[
                OpeningSpan(weekday=int(d), start_minute=s[0], end_minute=s[1])
                for d, spans in sorted(row.weekly_hours.items())
                for s in spans
            ],
            holidays=list(row.holidays),
        )


@strawberry.type(description="Targets of one priority, in business seconds.")
class SlaTarget:
    priority: Priority = strawberry.field(description="The priority they apply to.")
    first_response_seconds: int | None = strawberry.field(
        description="Until the first agent reply; null: no target."
    )
    next_response_seconds: int | None = strawberry.field(
        description="Until each next agent reply; null: no target."
    )
    resolution_seconds: int | None = strawberry.field(
        description="Until resolution; null: no target."
    )


@strawberry.federation.type(
    keys=["id"],
    description="Response and resolution targets for the tickets it matches; the first"
    " matching policy applies.",
)
class SlaPolicy:
    id: strawberry.ID = strawberry.field(description="The policy's id (a UUID).")
    name: str = strawberry.field(description="Its name.")
    calendar_id: strawberry.ID = strawberry.field(
        description="The business calendar its clocks run on."
    )
    priorities: list[Priority] = strawberry.field(description="Empty: any priority.")
    tags: list[str] = strawberry.field(description="Empty: any tags.")
    targets: list[SlaTarget] = strawberry.field(description="Targets per priority.")

    @classmethod
    def of(cls, row: models.SlaPolicy) -> SlaPolicy:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            calendar_id=strawberry.ID(str(row.calendar_id)),
            priorities=[Priority(p) for p in row.priorities],
            tags=list(row.tags),
            targets=[
                SlaTarget(
                    priority=Priority(p),
                    first_response_seconds=t.get(sla.FIRST_RESPONSE),
                    next_response_seconds=t.get(sla.NEXT_RESPONSE),
                    resolution_seconds=t.get(sla.RESOLUTION),
                )
                for p, t in row.targets.items()
            ],
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> SlaPolicy | None:
        key = uuid_or_none(id)
        if key is None:
            return None
        ctx = info.context
        found = await loader(
            ctx, "policies", lambda ids: ctx.services.policies_by_id(ctx.caller, ids)
        ).load(key)
        return cls.of(found) if found else None


@strawberry.enum(description="One of a ticket's SLA clocks.")
class SlaClockName(enum.Enum):
    FIRST_RESPONSE = strawberry.enum_value(
        sla.FIRST_RESPONSE, description="Until an agent's first public reply."
    )
    NEXT_RESPONSE = strawberry.enum_value(
        sla.NEXT_RESPONSE, description="While a requester's message is unanswered."
    )
    RESOLUTION = strawberry.enum_value(sla.RESOLUTION, description="Until the ticket is resolved.")


@strawberry.enum(description="When an escalation rule runs.")
class SlaEscalationLevel(enum.Enum):
    WARNING = strawberry.enum_value("warning", description="A clock used 80 % of its target.")
    BREACH = strawberry.enum_value("breach", description="A clock passed its target.")


@strawberry.enum(description="What an escalation rule does.")
class SlaEscalationAction(enum.Enum):
    REASSIGN = strawberry.enum_value(
        "reassign", description="Round-robin to another available agent of the rule's team."
    )
    RAISE_PRIORITY = strawberry.enum_value(
        "raise_priority", description="One step up: low, normal, high, urgent."
    )
    NOTIFY_TEAM_ADMINS = strawberry.enum_value(
        "notify_team_admins",
        description="Notify the admins of the rule's team (else of the ticket's team).",
    )


@strawberry.type(description="What the SLA watch does when a clock warns or breaches.")
class SlaEscalationRule:
    id: strawberry.ID = strawberry.field(description="Its id.")
    name: str = strawberry.field(description="Named in the ticket's SLA timeline.")
    level: SlaEscalationLevel = strawberry.field(description="When it runs.")
    clock: SlaClockName | None = strawberry.field(description="Null: any clock.")
    action: SlaEscalationAction = strawberry.field(description="What it does.")
    team_id: strawberry.ID | None = strawberry.field(description="The team it acts on.")

    @classmethod
    def of(cls, row: models.EscalationRule) -> SlaEscalationRule:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            level=SlaEscalationLevel(row.level),
            clock=SlaClockName(row.clock) if row.clock else None,
            action=SlaEscalationAction(row.action),
            team_id=strawberry.ID(str(row.team_id)) if row.team_id else None,
        )


@strawberry.type(description="SLA clocks that ended met or breached (running ones not counted).")
class SlaScore:
    met: int = strawberry.field(description="Clocks met within their target.")
    breached: int = strawberry.field(description="Clocks that passed their target.")
    met_percent: float | None = strawberry.field(
        description="Met out of met and breached, 0 to 100; null with neither."
    )

    @classmethod
    def of(cls, score: stats.Score) -> SlaScore:
        return cls(met=score.met, breached=score.breached, met_percent=score.met_percent)


@strawberry.type(description="Satisfaction ratings given.")
class Csat:
    average: float | None = strawberry.field(description="From 1 to 5; null without ratings.")
    count: int = strawberry.field(description="How many ratings.")

    @classmethod
    def of(cls, score: stats.Score) -> Csat:
        return cls(average=score.csat_average, count=len(score.ratings))


@strawberry.type(description="One agent's share of the support stats.")
class AgentSupportStats:
    agent: User | None = strawberry.field(
        description="The assignee of the tickets counted; null once they have left the"
        " organization."
    )
    sla: SlaScore = strawberry.field(description="Clocks of the tickets assigned to them.")
    csat: Csat = strawberry.field(description="Ratings of the tickets assigned to them.")


@strawberry.type(description="One team's share of the support stats.")
class TeamSupportStats:
    team: Team = strawberry.field(description="The team of the tickets counted.")
    sla: SlaScore = strawberry.field(description="Clocks of the team's tickets.")
    csat: Csat = strawberry.field(description="Ratings of the team's tickets.")


@strawberry.type(description="SLA and satisfaction of an organization over a span of time.")
class SupportStats:
    sla: SlaScore = strawberry.field(description="Clocks of the tickets created in the span.")
    csat: Csat = strawberry.field(description="Ratings given in the span.")
    agents: list[AgentSupportStats] = strawberry.field(description="By assignee.")
    teams: list[TeamSupportStats] = strawberry.field(description="By team, by name.")

    @classmethod
    def of(cls, found: stats.Stats) -> SupportStats:
        return cls(
            sla=SlaScore.of(found.total),
            csat=Csat.of(found.total),
            agents=[
                AgentSupportStats(
                    agent=User(id=strawberry.ID(str(a))), sla=SlaScore.of(s), csat=Csat.of(s)
                )
                for a, s in sorted(found.by_agent.items(), key=lambda p: str(p[0]))
            ],
            teams=[
                TeamSupportStats(
                    team=Team(id=strawberry.ID(str(t.id)), name=t.name),
                    sla=SlaScore.of(s),
                    csat=Csat.of(s),
                )
                for t, s in found.by_team
            ],
        )


@strawberry.type(description="Tickets of one team a draft policy would have breached.")
class TeamBreaches:
    team: Team | None = strawberry.field(description="Null: tickets of no team.")
    breaches: int = strawberry.field(description="Tickets with a breached clock.")


@strawberry.type(description="How a draft SLA policy would have scored the last 30 days.")
class SlaPolicyPreview:
    tickets: int = strawberry.field(description="Tickets of the last 30 days the draft covers.")
    sla: SlaScore = strawberry.field(description="Their clocks under the draft.")
    breaches_by_team: list[TeamBreaches] = strawberry.field(description="Most breaches first.")

    @classmethod
    def of(cls, found: stats.Preview) -> SlaPolicyPreview:
        return cls(
            tickets=found.tickets,
            sla=SlaScore.of(found.score),
            breaches_by_team=[
                TeamBreaches(
                    team=Team(id=strawberry.ID(str(t.id)), name=t.name) if t else None, breaches=n
                )
                for t, n in found.breaches_by_team
            ],
        )


@strawberry.federation.type(keys=["id"])
class Organization:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Organization:
        return cls(id=id)

    @strawberry.field(description="Newest first; a requester sees only their own.")
    async def tickets(
        self,
        info: Info,
        filter: Annotated[
            TicketFilterInput | None, strawberry.argument(description="Null: every ticket.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `cursor` to continue after; null: from the start."
            ),
        ] = None,
    ) -> TicketConnection:
        ctx = info.context
        require_scope(ctx.caller, "tickets:read")
        org_id = uuid_or_none(self.id)
        where = filter or TicketFilterInput()
        assignee = uuid_or_none(where.assignee_id) if where.assignee_id else None
        if org_id is None or (where.assignee_id and assignee is None):
            return TicketConnection(
                edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None)
            )
        try:
            page = await ctx.services.tickets(
                ctx.caller,
                org_id,
                TicketFilter(where.status, assignee, where.tag, where.breached),
                first,
                after,
            )
        except Rejected as exc:
            raise _bad_argument(exc) from None
        edges = [
            TicketEdge(cursor=encode_cursor(str(t.number)), node=Ticket.of(t)) for t in page.items
        ]
        return TicketConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(
        description="Owners and admins: SLA met % and CSAT per agent and team, of tickets "
        "created (and ratings given) from `from` to `to`; null for anyone else."
    )
    async def support_stats(
        self,
        info: Info,
        from_: Annotated[
            datetime, strawberry.argument(name="from", description="Start of the span.")
        ],
        to: Annotated[datetime, strawberry.argument(description="End of the span (excluded).")],
    ) -> SupportStats | None:
        ctx = info.context
        require_scope(ctx.caller, "tickets:read")
        org_id = uuid_or_none(self.id)
        if org_id is None or not ctx.caller.manages(org_id):
            return None
        try:
            found = await ctx.services.reports.stats(ctx.caller, org_id, from_, to)
        except Rejected as exc:
            raise _bad_argument(exc) from None
        return SupportStats.of(found)

    @strawberry.field(description="Escalation rules, in the order the SLA watch runs them.")
    async def sla_escalation_rules(self, info: Info) -> list[SlaEscalationRule]:
        org_id = uuid_or_none(self.id)
        if org_id is None:
            return []
        ctx = info.context
        return [
            SlaEscalationRule.of(r) for r in await ctx.services.escalations.of(ctx.caller, org_id)
        ]

    @strawberry.field(description="Its SLA policies; empty unless you act in it.")
    async def sla_policies(self, info: Info) -> list[SlaPolicy]:
        org_id = uuid_or_none(self.id)
        if org_id is None or info.context.caller.org_id != org_id:
            return []
        return [
            SlaPolicy.of(p)
            for p in await info.context.services.policies(info.context.caller, org_id)
        ]


@strawberry.type(description="The result of a mutation that changes a ticket.")
class TicketPayload:
    ticket: Ticket | None = strawberry.field(
        default=None, description="The ticket as changed; null when `errors` is not empty."
    )
    errors: list[SupportUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `addComment`.")
class CommentPayload:
    comment: Comment | None = strawberry.field(
        default=None, description="The comment; null when `errors` is not empty."
    )
    errors: list[SupportUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of a support action that returns nothing else.")
class SupportActionPayload:
    ok: bool = strawberry.field(
        default=False, description="True when it was done; false when `errors` says why not."
    )
    errors: list[SupportUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `createBusinessCalendar`.")
class BusinessCalendarPayload:
    calendar: BusinessCalendar | None = strawberry.field(
        default=None, description="The calendar; null when `errors` is not empty."
    )
    errors: list[SupportUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="The result of `createSlaPolicy`.")
class SlaPolicyPayload:
    policy: SlaPolicy | None = strawberry.field(
        default=None, description="The policy; null when `errors` is not empty."
    )
    errors: list[SupportUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.type(description="Upload with a multipart POST of `fields`, then the file, to `url`.")
class AttachmentUpload:
    attachment_id: strawberry.ID = strawberry.field(
        description="Name it in `attachmentIds` of `createTicket` or `addComment` once uploaded."
    )
    url: str = strawberry.field(description="Where to POST the form.")
    fields: JSON = strawberry.field(description="The form's fields, name to value, in order.")
    expires_at: datetime = strawberry.field(
        description="When the form stops being accepted (five minutes)."
    )


@strawberry.type(description="The result of `requestAttachmentUpload`.")
class AttachmentUploadPayload:
    upload: AttachmentUpload | None = strawberry.field(
        default=None, description="How to upload; null when `errors` is not empty."
    )
    errors: list[SupportUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="A file to attach, declared before it is uploaded.")
class RequestAttachmentUploadInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    file_name: str = strawberry.field(description="A file name (not a path), up to 255 characters.")
    content_type: str = strawberry.field(
        description="`image/png`, `image/jpeg`, `image/gif`, `application/pdf`, `text/plain`"
        " or `text/csv`; the upload must match it."
    )
    size_bytes: int = strawberry.field(
        description="The exact size in bytes, at most the platform's limit (10 MiB by default)."
    )


@strawberry.input(description="A new ticket, opened by you.")
class CreateTicketInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    title: str = strawberry.field(description="Up to 200 characters.")
    body: str = strawberry.field(
        description="HTML, up to 50,000 characters; tags outside an allow-list are dropped."
    )
    priority: Priority = strawberry.field(default=Priority.NORMAL, description="How urgent.")
    tags: list[str] | None = strawberry.field(default=None, description="At most 20 labels.")
    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Values of the organization's custom fields, key to value; required ones"
        " must be given.",
    )
    attachment_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Uploaded attachments (`requestAttachmentUpload`)."
    )


@strawberry.input(description="Changes to a ticket; a null field is left as it is.")
class UpdateTicketInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket's id.")
    priority: Priority | None = strawberry.field(default=None, description="A new priority.")
    tags: list[str] | None = strawberry.field(
        default=None, description="The new tags, replacing the old; at most 20."
    )
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="An agent; an empty string unassigns."
    )
    custom_fields: JSON | None = strawberry.field(
        default=None, description="New custom field values, key to value."
    )


@strawberry.input(description="Two tickets of one organization to merge.")
class MergeTicketsInput:
    source_id: strawberry.ID = strawberry.field(description="The ticket that goes (`MERGED`).")
    target_id: strawberry.ID = strawberry.field(description="The ticket that stays.")


@strawberry.input(description="A ticket's next status.")
class SetTicketStatusInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket's id.")
    status: Status = strawberry.field(
        description="Allowed from the current status: from new, open, pending or on hold to any"
        " other but new and merged; from resolved to open or closed; from closed to open."
    )


@strawberry.input(description="A reply or internal note on a ticket.")
class AddCommentInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket's id.")
    body: str = strawberry.field(
        description="HTML, up to 50,000 characters; tags outside an allow-list are dropped."
    )
    internal: bool = strawberry.field(
        default=False, description="An internal note, hidden from the requester (agents only)."
    )
    mention_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Up to 20 users to notify: agents, or the requester in a public reply.",
    )
    attachment_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Uploaded attachments (`requestAttachmentUpload`)."
    )


@strawberry.input(description="Whether a member is an agent of the organization.")
class SetAgentInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    user_id: strawberry.ID = strawberry.field(description="The member's user id.")
    agent: bool = strawberry.field(description="True makes them an agent, false stops it.")
    capacity: int | None = strawberry.field(
        default=None, description="Open tickets at most, 1 to 1000; null keeps the current one."
    )


@strawberry.input(description="A rule run after a warning or breach is notified.")
class CreateSlaEscalationRuleInput:
    organization_id: strawberry.ID = strawberry.field(description="Your organization.")
    name: str = strawberry.field(description="Shown in timelines; at most 100 characters.")
    level: SlaEscalationLevel = strawberry.field(description="Warning (80 %) or breach.")
    action: SlaEscalationAction = strawberry.field(description="What to do.")
    clock: SlaClockName | None = strawberry.field(default=None, description="Null: any clock.")
    team_id: strawberry.ID | None = strawberry.field(
        default=None, description="Needed to reassign; else the ticket's team is used."
    )


@strawberry.type(description="The created escalation rule, or why not.")
class SlaEscalationRulePayload:
    rule: SlaEscalationRule | None = strawberry.field(default=None, description="The rule.")
    errors: list[SupportUserError] = strawberry.field(
        default_factory=list, description="Why nothing was created."
    )


@strawberry.input(description="A ticket to hand to a team.")
class AssignTicketToTeamInput:
    ticket_id: strawberry.ID = strawberry.field(description="The ticket's id.")
    team_id: strawberry.ID = strawberry.field(description="The team's id.")


@strawberry.type(description="Agents that automatic assignment picks from, in turn.")
class Team:
    id: strawberry.ID = strawberry.field(description="The team's id (a UUID).")
    name: str = strawberry.field(description="Its name, unique in the organization.")


@strawberry.type(description="The result of `createTeam`.")
class TeamPayload:
    team: Team | None = strawberry.field(
        default=None, description="The team; null when `errors` is not empty."
    )
    errors: list[SupportUserError] = strawberry.field(default_factory=list, description=ERRORS)


@strawberry.input(description="A custom field every ticket of the organization may carry.")
class DefineTicketFieldInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    key: str = strawberry.field(
        description="Its key in `customFields`: letters, digits and `_`, unique."
    )
    type: FieldType = strawberry.field(description="The type of its values.")
    required: bool = strawberry.field(
        default=False, description="Whether new tickets must give it."
    )
    options: list[str] | None = strawberry.field(
        default=None, description="For `CHOICE`: 1 to 100 options; for other types none."
    )


@strawberry.input(description="Opening hours on one weekday.")
class OpeningSpanInput:
    weekday: int = strawberry.field(description="0 is Monday, 6 is Sunday.")
    start_minute: int = strawberry.field(description="Opens, in minutes after midnight.")
    end_minute: int = strawberry.field(
        description="Closes, in minutes after midnight (to 1440); spans of a day are sorted and"
        " disjoint."
    )


@strawberry.input(description="A new business calendar.")
class CreateBusinessCalendarInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    name: str = strawberry.field(description="Its name.")
    timezone: str = strawberry.field(description="An IANA time zone name (`Europe/Lisbon`).")
    weekly_hours: list[OpeningSpanInput] = strawberry.field(
        description="The opening hours; at least one span."
    )
    holidays: list[date] | None = strawberry.field(
        default=None, description="Up to 1000 days without business hours."
    )


@strawberry.input(description="An SLA policy not saved, to preview.")
class SlaPolicyDraftInput:
    organization_id: strawberry.ID = strawberry.field(description="Your organization.")
    calendar_id: strawberry.ID = strawberry.field(description="One of its business calendars.")
    targets: list[SlaTargetInput] = strawberry.field(description="Targets by priority.")
    priorities: list[Priority] | None = strawberry.field(
        default=None, description="Tickets of these priorities; none: any."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="Tickets with one of these tags; none: any."
    )


@strawberry.input(description="The targets of one priority, in business seconds.")
class SlaTargetInput:
    priority: Priority = strawberry.field(description="The priority they apply to.")
    first_response_seconds: int | None = strawberry.field(
        default=None, description="One minute to a year; null: no target."
    )
    next_response_seconds: int | None = strawberry.field(
        default=None, description="One minute to a year; null: no target."
    )
    resolution_seconds: int | None = strawberry.field(
        default=None, description="One minute to a year; null: no target."
    )


@strawberry.input(description="A new SLA policy.")
class CreateSlaPolicyInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization: the one you act in."
    )
    name: str = strawberry.field(description="Its name.")
    calendar_id: strawberry.ID = strawberry.field(description="The business calendar it uses.")
    targets: list[SlaTargetInput] = strawberry.field(description="Targets per priority.")
    priorities: list[Priority] | None = strawberry.field(
        default=None, description="Tickets of these priorities only; null or empty: any."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="Tickets with one of these tags only; null or empty: any."
    )


def _targets(values: list[SlaTargetInput]) -> dict[Priority, dict[str, int]]:
    return {
        t.priority: {
            name: seconds
            for name, seconds in (
                (sla.FIRST_RESPONSE, t.first_response_seconds),
                (sla.NEXT_RESPONSE, t.next_response_seconds),
                (sla.RESOLUTION, t.resolution_seconds),
            )
            if seconds is not None
        }
        for t in values
    }


def _hours(spans: list[OpeningSpanInput]) -> dict[int, list[tuple[int, int]]]:
    hours: dict[int, list[tuple[int, int]]] = {}
    for span in spans:
        hours.setdefault(span.weekday, []).append((span.start_minute, span.end_minute))
    return hours


def _custom(value: JSON | None) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return cast(dict[str, Any] | None, value)
    return {"": value}  # not an object: reported as an unknown field


@strawberry.type(description=QUERY)
class Query:
    @strawberry.federation.field(
        requires_scopes=[["tickets:read"]], description="A ticket you may read; null otherwise."
    )
    async def ticket(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Its id.")]
    ) -> Ticket | None:
        require_scope(info.context.caller, "tickets:read")
        return await Ticket.resolve_reference(info, id)

    @strawberry.federation.field(
        requires_scopes=[["tickets:read"]],
        description="Before creating a ticket: existing ones it may duplicate, most alike"
        " first; empty for an organization you do not act in.",
    )
    async def suggest_similar(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        title: Annotated[str, strawberry.argument(description="The draft's title.")],
        body: Annotated[str, strawberry.argument(description="The draft's body (HTML).")] = "",
        first: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 5,
    ) -> list[SimilarTicket]:
        ctx = info.context
        require_scope(ctx.caller, "tickets:read")
        try:
            org_id = identifier(organization_id, "organizationId")
            found = await ctx.services.suggest_similar(ctx.caller, org_id, title, body, first)
        except Rejected as exc:
            if exc.problems[0].code == ErrorCode.NOT_FOUND:
                return []
            raise _bad_argument(exc) from None
        return [SimilarTicket(score=s, ticket=Ticket.of(t)) for t, s in found]

    @strawberry.federation.field(
        requires_scopes=[["tickets:read"]],
        description="Owners and admins: how a draft policy would have scored the last 30 days "
        "of tickets (met %, breaches per team); null for anyone else.",
    )
    async def preview_sla_policy(
        self,
        info: Info,
        draft: Annotated[SlaPolicyDraftInput, strawberry.argument(description="The policy.")],
    ) -> SlaPolicyPreview | None:
        ctx = info.context
        require_scope(ctx.caller, "tickets:read")
        try:
            org_id = identifier(draft.organization_id, "organizationId")
            if not ctx.caller.manages(org_id):
                return None
            found = await ctx.services.reports.preview(
                ctx.caller,
                org_id,
                stats.Draft(
                    calendar_id=identifier(draft.calendar_id, "calendarId"),
                    targets={p.value: t for p, t in _targets(draft.targets).items()},
                    priorities=[p.value for p in draft.priorities or []],
                    tags=[t.lower() for t in draft.tags or []],
                ),
            )
        except Rejected as exc:
            if exc.problems[0].code == ErrorCode.NOT_FOUND:
                return None
            raise _bad_argument(exc) from None
        return SlaPolicyPreview.of(found)


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.federation.mutation(
        authenticated=True,
        description="Then upload the file and name it in createTicket/addComment (signed-in"
        " users; not API keys). Errors: `INVALID_INPUT`, `NOT_FOUND`, `UNAUTHENTICATED`,"
        " `FORBIDDEN`, `ATTACHMENT_TOO_LARGE`, `ATTACHMENT_TYPE_NOT_ALLOWED`.",
    )
    @rejections_as(AttachmentUploadPayload)
    async def request_attachment_upload(
        self,
        info: Info,
        input: Annotated[
            RequestAttachmentUploadInput, strawberry.argument(description="The file.")
        ],
    ) -> AttachmentUploadPayload:
        ctx = info.context
        requested = await ctx.services.request_upload(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.file_name,
            input.content_type,
            input.size_bytes,
        )
        upload = requested.upload
        return AttachmentUploadPayload(
            upload=AttachmentUpload(
                attachment_id=strawberry.ID(str(requested.attachment.id)),
                url=upload.url,
                fields=cast(JSON, upload.fields),
                expires_at=upload.expires_at,
            )
        )

    @strawberry.federation.mutation(
        authenticated=True,
        description="Open a ticket as its requester (signed-in users; not API keys); the"
        " matching SLA policy starts its clocks. Errors: `INVALID_INPUT`, `NOT_FOUND`,"
        " `UNAUTHENTICATED`, `FORBIDDEN`, `ATTACHMENT_TOO_LARGE`, `ATTACHMENT_TYPE_NOT_ALLOWED`,"
        " `ATTACHMENT_NOT_UPLOADED`.",
    )
    @rejections_as(TicketPayload)
    async def create_ticket(
        self,
        info: Info,
        input: Annotated[CreateTicketInput, strawberry.argument(description="The ticket.")],
    ) -> TicketPayload:
        ctx = info.context
        new = NewTicket(
            title=input.title,
            body=input.body,
            priority=input.priority,
            tags=input.tags,
            custom_fields=_custom(input.custom_fields),
            attachment_ids=[identifier(a, "attachmentIds") for a in input.attachment_ids or []],
        )
        org_id = identifier(input.organization_id, "organizationId")
        return TicketPayload(
            ticket=Ticket.of(await ctx.services.create_ticket(ctx.caller, org_id, new))
        )

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Agents: change priority, tags, assignee or custom fields. Errors:"
        " `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`, `ASSIGNEE_NOT_AGENT`, `AGENT_AT_CAPACITY`.",
    )
    @rejections_as(TicketPayload)
    async def update_ticket(
        self,
        info: Info,
        input: Annotated[UpdateTicketInput, strawberry.argument(description="The changes.")],
    ) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        unassign = input.assignee_id == ""
        changes = TicketChanges(
            priority=input.priority,
            tags=input.tags,
            assignee_id=identifier(input.assignee_id, "assigneeId")
            if input.assignee_id and not unassign
            else None,
            unassign=unassign,
            custom_fields=_custom(input.custom_fields),
        )
        ticket_id = identifier(input.ticket_id, "ticketId")
        return TicketPayload(
            ticket=Ticket.of(await ctx.services.update_ticket(ctx.caller, ticket_id, changes))
        )

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Agents: move a ticket to another status (resolving sends a rating link)."
        " Errors: `NOT_FOUND`, `FORBIDDEN`, `INVALID_STATUS_TRANSITION`.",
    )
    @rejections_as(TicketPayload)
    async def set_ticket_status(
        self,
        info: Info,
        input: Annotated[SetTicketStatusInput, strawberry.argument(description="The status.")],
    ) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        ticket_id = identifier(input.ticket_id, "ticketId")
        ticket = await ctx.services.set_status(ctx.caller, ticket_id, input.status)
        return TicketPayload(ticket=Ticket.of(ticket))

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Agents: the source's comments and files move to the target; the source"
        " becomes `MERGED`. Returns the target. Errors: `NOT_FOUND`, `FORBIDDEN`,"
        " `CANNOT_MERGE_INTO_ITSELF`, `ALREADY_MERGED`.",
    )
    @rejections_as(TicketPayload)
    async def merge_tickets(
        self,
        info: Info,
        input: Annotated[MergeTicketsInput, strawberry.argument(description="The two tickets.")],
    ) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        target = await ctx.services.merge(
            ctx.caller,
            identifier(input.source_id, "sourceId"),
            identifier(input.target_id, "targetId"),
        )
        return TicketPayload(ticket=Ticket.of(target))

    @strawberry.federation.mutation(
        authenticated=True,
        description="Reply on a ticket you may read, or (agents) add an internal note, as a"
        " signed-in user (not an API key); an agent's reply opens a new ticket, the requester's"
        " reopens a pending one. Errors:"
        " `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`, `UNAUTHENTICATED`, `ATTACHMENT_TOO_LARGE`,"
        " `ATTACHMENT_TYPE_NOT_ALLOWED`, `ATTACHMENT_NOT_UPLOADED`.",
    )
    @rejections_as(CommentPayload)
    async def add_comment(
        self,
        info: Info,
        input: Annotated[AddCommentInput, strawberry.argument(description="The comment.")],
    ) -> CommentPayload:
        ctx = info.context
        comment = await ctx.services.add_comment(
            ctx.caller,
            identifier(input.ticket_id, "ticketId"),
            input.body,
            internal=input.internal,
            mentions=[identifier(m, "mentionIds") for m in input.mention_ids or []],
            attachment_ids=[identifier(a, "attachmentIds") for a in input.attachment_ids or []],
        )
        return CommentPayload(comment=Comment.of(comment))

    @strawberry.mutation(
        description="Rate a resolution with the link's token (single use; no sign-in needed)."
        " Errors: `INVALID_INPUT`, `INVALID_TOKEN`, `RATING_ALREADY_GIVEN`."
    )
    @rejections_as(SupportActionPayload)
    async def rate_ticket(
        self,
        info: Info,
        token: Annotated[str, strawberry.argument(description="The token of the emailed link.")],
        score: Annotated[int, strawberry.argument(description="1 (bad) to 5 (good).")],
        comment: Annotated[
            str | None, strawberry.argument(description="Up to 1000 characters; null: none.")
        ] = None,
    ) -> SupportActionPayload:
        await info.context.services.rate(info.context.caller, token, score, comment)
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Owners and admins mark members as agents. Errors: `INVALID_INPUT`,"
        " `FORBIDDEN`.",
    )
    @rejections_as(SupportActionPayload)
    async def set_agent(
        self,
        info: Info,
        input: Annotated[SetAgentInput, strawberry.argument(description="The member.")],
    ) -> SupportActionPayload:
        ctx = info.context
        await ctx.services.set_agent(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            identifier(input.user_id, "userId"),
            input.agent,
            input.capacity,
        )
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Your availability as an agent for automatic assignment. Errors:"
        " `NOT_FOUND` (also when you are no agent).",
    )
    @rejections_as(SupportActionPayload)
    async def set_agent_availability(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        available: Annotated[
            bool, strawberry.argument(description="False: you get no tickets automatically.")
        ],
    ) -> SupportActionPayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        await ctx.services.set_availability(ctx.caller, org_id, available)
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Owners and admins. Errors: `INVALID_INPUT` (also a name taken), `FORBIDDEN`.",
    )
    @rejections_as(TeamPayload)
    async def create_team(
        self,
        info: Info,
        organization_id: Annotated[
            strawberry.ID, strawberry.argument(description="The organization: the one you act in.")
        ],
        name: Annotated[
            str, strawberry.argument(description="Up to 100 characters, unique in it.")
        ],
    ) -> TeamPayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        team = await ctx.services.create_team(ctx.caller, org_id, name)
        return TeamPayload(team=Team(id=strawberry.ID(str(team.id)), name=team.name))

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Owners and admins add an agent to a team (again is harmless). Errors:"
        " `NOT_FOUND`, `FORBIDDEN`, `ASSIGNEE_NOT_AGENT`.",
    )
    @rejections_as(SupportActionPayload)
    async def add_team_member(
        self,
        info: Info,
        team_id: Annotated[strawberry.ID, strawberry.argument(description="The team's id.")],
        user_id: Annotated[strawberry.ID, strawberry.argument(description="An agent's user id.")],
        admin: Annotated[
            bool,
            strawberry.argument(
                description="Team admins hear of failed assignments and escalations."
            ),
        ] = False,
    ) -> SupportActionPayload:
        ctx = info.context
        await ctx.services.add_team_member(
            ctx.caller, identifier(team_id, "teamId"), identifier(user_id, "userId"), admin=admin
        )
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Owners and admins: what to do when an SLA clock warns or breaches."
        " Errors: `INVALID_INPUT`, `FORBIDDEN`, `NOT_FOUND`.",
    )
    @rejections_as(SlaEscalationRulePayload)
    async def create_sla_escalation_rule(
        self,
        info: Info,
        input: Annotated[
            CreateSlaEscalationRuleInput, strawberry.argument(description="The rule.")
        ],
    ) -> SlaEscalationRulePayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        rule = await ctx.services.escalations.create(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.name,
            models.EscalationLevel(str(input.level.value)),
            models.EscalationAction(str(input.action.value)),
            str(input.clock.value) if input.clock else None,
            identifier(input.team_id, "teamId") if input.team_id else None,
        )
        return SlaEscalationRulePayload(rule=SlaEscalationRule.of(rule))

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Agents: round-robin to an available agent of the team under capacity;"
        " with nobody eligible it stays unassigned and the SLA timeline says why. Errors:"
        " `NOT_FOUND`, `FORBIDDEN`.",
    )
    @rejections_as(TicketPayload)
    async def assign_ticket_to_team(
        self,
        info: Info,
        input: Annotated[
            AssignTicketToTeamInput, strawberry.argument(description="The ticket and team.")
        ],
    ) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        ticket = await ctx.services.assign_to_team(
            ctx.caller, identifier(input.ticket_id, "ticketId"), identifier(input.team_id, "teamId")
        )
        return TicketPayload(ticket=Ticket.of(ticket))

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Owners and admins add a custom ticket field. Errors: `INVALID_INPUT`"
        " (also a key taken), `FORBIDDEN`.",
    )
    @rejections_as(SupportActionPayload)
    async def define_ticket_field(
        self,
        info: Info,
        input: Annotated[DefineTicketFieldInput, strawberry.argument(description="The field.")],
    ) -> SupportActionPayload:
        ctx = info.context
        await ctx.services.define_field(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.key,
            input.type,
            input.required,
            input.options or [],
        )
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Owners and admins. Errors: `INVALID_INPUT`, `FORBIDDEN`.",
    )
    @rejections_as(BusinessCalendarPayload)
    async def create_business_calendar(
        self,
        info: Info,
        input: Annotated[
            CreateBusinessCalendarInput, strawberry.argument(description="The calendar.")
        ],
    ) -> BusinessCalendarPayload:
        ctx = info.context
        calendar = await ctx.services.create_calendar(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.name,
            input.timezone,
            _hours(input.weekly_hours),
            input.holidays or [],
        )
        return BusinessCalendarPayload(calendar=BusinessCalendar.of(calendar))

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        policy=[["feature:sla_policies"]],
        description="Owners and admins; it applies to matching tickets created afterwards."
        " Errors: `INVALID_INPUT`, `NOT_FOUND`, `FORBIDDEN`, `SLA_POLICY_LIMIT_REACHED`.",
    )
    @rejections_as(SlaPolicyPayload)
    async def create_sla_policy(
        self,
        info: Info,
        input: Annotated[CreateSlaPolicyInput, strawberry.argument(description="The policy.")],
    ) -> SlaPolicyPayload:
        ctx = info.context
        policy = await ctx.services.create_policy(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            input.name,
            identifier(input.calendar_id, "calendarId"),
            _targets(input.targets),
            input.priorities or [],
            input.tags or [],
        )
        return SlaPolicyPayload(policy=SlaPolicy.of(policy))


schema = federated_schema(Query, Mutation, types=[User, Organization, Ticket, Comment, SlaPolicy])

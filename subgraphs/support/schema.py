"""The support subgraph's GraphQL schema: Ticket, Comment and SlaPolicy entities, the tickets
of an Organization (owned by tenancy) and of a User (owned by auth), and the mutations."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from subgraphs.kernel.app import Context
from subgraphs.kernel.errors import ErrorCode, Rejected
from subgraphs.kernel.pagination import Edge, PageInfo, encode_cursor, page_size
from subgraphs.kernel.schema import (
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
    require_scope,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.support import models, sla
from subgraphs.support.contract import SupportErrorCode
from subgraphs.support.models import FieldType, Priority, Status
from subgraphs.support.service import NewTicket, SupportService, TicketChanges, TicketFilter

Info = strawberry.Info[Context[SupportService], None]
StatusType = strawberry.enum(Status, name="TicketStatus")
PriorityType = strawberry.enum(Priority, name="TicketPriority")
FieldTypeType = strawberry.enum(FieldType, name="TicketFieldType")


@strawberry.enum
class ClockStatus(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    STOPPED = "stopped"
    BREACHED = "breached"


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
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(SupportErrorCode))


@strawberry.federation.type(keys=["id"], description="A person, as far as support knows them.")
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
    at: datetime
    clock: str
    event: str
    rule: str
    business_seconds_used: int
    business_seconds_left: int | None

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


@strawberry.type
class SlaClock:
    due_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None
    status: ClockStatus
    business_seconds_used: int

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


@strawberry.type
class SlaPolicyName:
    name: str


@strawberry.type(description="A ticket's SLA clocks on business hours, and how they got there.")
class TicketSla:
    policy: SlaPolicyName | None
    first_response: SlaClock | None
    next_response: SlaClock | None
    resolution: SlaClock | None
    breached: bool
    timeline: list[SlaTimelineEntry]

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

    @strawberry.field
    def first_response_due_at(self) -> datetime | None:
        return self.first_response.due_at if self.first_response else None

    @strawberry.field
    def resolution_due_at(self) -> datetime | None:
        return self.resolution.due_at if self.resolution else None


@strawberry.federation.type(keys=["id"], description="A file on a ticket or a comment.")
class Attachment:
    id: strawberry.ID
    file_name: str
    content_type: str
    size_bytes: int
    created_at: datetime
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

    @strawberry.field(description="A link valid five minutes that saves the file.")
    def download_url(self, info: Info) -> str:
        return info.context.services.download_url(self.row)


@strawberry.federation.type(keys=["id"], description="A reply or an internal note on a ticket.")
class Comment:
    id: strawberry.ID
    body: str = strawberry.field(description="Sanitized HTML.")
    internal: bool
    author: User
    mentions: list[User]
    created_at: datetime
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

    @strawberry.field
    async def ticket(self, info: Info) -> Ticket | None:
        found = await _tickets(info).load(self.ticket_id)
        return Ticket.of(found) if found else None

    @strawberry.field
    async def attachments(self, info: Info) -> list[Attachment]:
        ctx = info.context
        found = loader(
            ctx,
            "comment_attachments",
            lambda ids: ctx.services.attachments_of_comments(ctx.caller, ids),
        )
        return [Attachment.of(a) for a in await found.load(UUID(self.id))]


@strawberry.type
class CommentConnection:
    edges: list[Edge[Comment]]
    page_info: PageInfo
    total_count: int


@strawberry.federation.type(keys=["id"], description="A request for help, and its thread.")
class Ticket:
    id: strawberry.ID
    number: int = strawberry.field(description="Per organization, from 1.")
    title: str
    body: str = strawberry.field(description="Sanitized HTML.")
    status: Status
    priority: Priority
    tags: list[str]
    custom_fields: JSON
    requester: User
    assignee: User | None
    team_id: strawberry.ID | None
    created_at: datetime
    updated_at: datetime
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

    @strawberry.field
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

    @strawberry.field(description="Oldest first.")
    async def comments(
        self, info: Info, first: int = 20, after: str | None = None
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

    @strawberry.field(description="Tickets of the organization with the most words in common.")
    async def similar(self, info: Info, first: int = 5) -> list[SimilarTicket]:
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


@strawberry.type(description="A ticket like another, and how alike (0 to 1, full-text rank).")
class SimilarTicket:
    score: float
    ticket: Ticket


@strawberry.type
class TicketEdge:
    cursor: str
    node: Ticket


@strawberry.type
class TicketConnection:
    edges: list[TicketEdge]
    page_info: PageInfo


@strawberry.input
class TicketFilterInput:
    status: Status | None = None
    assignee_id: strawberry.ID | None = None
    tag: str | None = None
    breached: bool | None = None


@strawberry.type
class OpeningSpan:
    weekday: int = strawberry.field(description="0 is Monday.")
    start_minute: int
    end_minute: int


@strawberry.type(description="When the clocks run: opening hours in a timezone, and holidays.")
class BusinessCalendar:
    id: strawberry.ID
    name: str
    timezone: str
    weekly_hours: list[OpeningSpan]
    holidays: list[date]

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
    priority: Priority
    first_response_seconds: int | None
    next_response_seconds: int | None
    resolution_seconds: int | None


@strawberry.federation.type(keys=["id"])
class SlaPolicy:
    id: strawberry.ID
    name: str
    calendar_id: strawberry.ID
    priorities: list[Priority] = strawberry.field(description="Empty: any priority.")
    tags: list[str] = strawberry.field(description="Empty: any tags.")
    targets: list[SlaTarget]

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


@strawberry.federation.type(keys=["id"], description="A tenant, as support knows it.")
class Organization:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Organization:
        return cls(id=id)

    @strawberry.field(description="Newest first; a requester sees only their own.")
    async def tickets(
        self,
        info: Info,
        filter: TicketFilterInput | None = None,
        first: int = 20,
        after: str | None = None,
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

    @strawberry.field
    async def sla_policies(self, info: Info) -> list[SlaPolicy]:
        org_id = uuid_or_none(self.id)
        if org_id is None or info.context.caller.org_id != org_id:
            return []
        return [
            SlaPolicy.of(p)
            for p in await info.context.services.policies(info.context.caller, org_id)
        ]


@strawberry.type
class TicketPayload:
    ticket: Ticket | None = None
    errors: list[SupportUserError] = strawberry.field(default_factory=list)


@strawberry.type
class CommentPayload:
    comment: Comment | None = None
    errors: list[SupportUserError] = strawberry.field(default_factory=list)


@strawberry.type
class SupportActionPayload:
    ok: bool = False
    errors: list[SupportUserError] = strawberry.field(default_factory=list)


@strawberry.type
class BusinessCalendarPayload:
    calendar: BusinessCalendar | None = None
    errors: list[SupportUserError] = strawberry.field(default_factory=list)


@strawberry.type
class SlaPolicyPayload:
    policy: SlaPolicy | None = None
    errors: list[SupportUserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Upload with a multipart POST of `fields`, then the file, to `url`.")
class AttachmentUpload:
    attachment_id: strawberry.ID
    url: str
    fields: JSON
    expires_at: datetime


@strawberry.type
class AttachmentUploadPayload:
    upload: AttachmentUpload | None = None
    errors: list[SupportUserError] = strawberry.field(default_factory=list)


@strawberry.input
class RequestAttachmentUploadInput:
    organization_id: strawberry.ID
    file_name: str
    content_type: str
    size_bytes: int


@strawberry.input
class CreateTicketInput:
    organization_id: strawberry.ID
    title: str
    body: str
    priority: Priority = Priority.NORMAL
    tags: list[str] | None = None
    custom_fields: JSON | None = None
    attachment_ids: list[strawberry.ID] | None = None


@strawberry.input
class UpdateTicketInput:
    ticket_id: strawberry.ID
    priority: Priority | None = None
    tags: list[str] | None = None
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None, description="An agent; an empty string unassigns."
    )
    custom_fields: JSON | None = None


@strawberry.input
class MergeTicketsInput:
    source_id: strawberry.ID
    target_id: strawberry.ID


@strawberry.input
class SetTicketStatusInput:
    ticket_id: strawberry.ID
    status: Status


@strawberry.input
class AddCommentInput:
    ticket_id: strawberry.ID
    body: str
    internal: bool = False
    mention_ids: list[strawberry.ID] | None = None
    attachment_ids: list[strawberry.ID] | None = None


@strawberry.input
class SetAgentInput:
    organization_id: strawberry.ID
    user_id: strawberry.ID
    agent: bool
    capacity: int | None = strawberry.field(default=None, description="Open tickets at most.")


@strawberry.input
class AssignTicketToTeamInput:
    ticket_id: strawberry.ID
    team_id: strawberry.ID


@strawberry.type
class Team:
    id: strawberry.ID
    name: str


@strawberry.type
class TeamPayload:
    team: Team | None = None
    errors: list[SupportUserError] = strawberry.field(default_factory=list)


@strawberry.input
class DefineTicketFieldInput:
    organization_id: strawberry.ID
    key: str
    type: FieldType
    required: bool = False
    options: list[str] | None = None


@strawberry.input
class OpeningSpanInput:
    weekday: int
    start_minute: int
    end_minute: int


@strawberry.input
class CreateBusinessCalendarInput:
    organization_id: strawberry.ID
    name: str
    timezone: str
    weekly_hours: list[OpeningSpanInput]
    holidays: list[date] | None = None


@strawberry.input
class SlaTargetInput:
    priority: Priority
    first_response_seconds: int | None = None
    next_response_seconds: int | None = None
    resolution_seconds: int | None = None


@strawberry.input
class CreateSlaPolicyInput:
    organization_id: strawberry.ID
    name: str
    calendar_id: strawberry.ID
    targets: list[SlaTargetInput]
    priorities: list[Priority] | None = None
    tags: list[str] | None = None


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


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=[["tickets:read"]], description="A ticket you may read; null otherwise."
    )
    async def ticket(self, info: Info, id: strawberry.ID) -> Ticket | None:
        require_scope(info.context.caller, "tickets:read")
        return await Ticket.resolve_reference(info, id)

    @strawberry.federation.field(
        requires_scopes=[["tickets:read"]],
        description="Before creating a ticket: existing ones it may duplicate.",
    )
    async def suggest_similar(
        self,
        info: Info,
        organization_id: strawberry.ID,
        title: str,
        body: str = "",
        first: int = 5,
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


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Then upload the file and name it in createTicket/addComment.",
    )
    @rejections_as(AttachmentUploadPayload)
    async def request_attachment_upload(
        self, info: Info, input: RequestAttachmentUploadInput
    ) -> AttachmentUploadPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
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

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(TicketPayload)
    async def create_ticket(self, info: Info, input: CreateTicketInput) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
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

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(TicketPayload)
    async def update_ticket(self, info: Info, input: UpdateTicketInput) -> TicketPayload:
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

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(TicketPayload)
    async def set_ticket_status(self, info: Info, input: SetTicketStatusInput) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        ticket_id = identifier(input.ticket_id, "ticketId")
        ticket = await ctx.services.set_status(ctx.caller, ticket_id, input.status)
        return TicketPayload(ticket=Ticket.of(ticket))

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="The source's thread moves to the target; the source closes.",
    )
    @rejections_as(TicketPayload)
    async def merge_tickets(self, info: Info, input: MergeTicketsInput) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        target = await ctx.services.merge(
            ctx.caller,
            identifier(input.source_id, "sourceId"),
            identifier(input.target_id, "targetId"),
        )
        return TicketPayload(ticket=Ticket.of(target))

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(CommentPayload)
    async def add_comment(self, info: Info, input: AddCommentInput) -> CommentPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        comment = await ctx.services.add_comment(
            ctx.caller,
            identifier(input.ticket_id, "ticketId"),
            input.body,
            internal=input.internal,
            mentions=[identifier(m, "mentionIds") for m in input.mention_ids or []],
            attachment_ids=[identifier(a, "attachmentIds") for a in input.attachment_ids or []],
        )
        return CommentPayload(comment=Comment.of(comment))

    @strawberry.mutation(description="Rate a resolution with the link's token (single use).")
    @rejections_as(SupportActionPayload)
    async def rate_ticket(
        self, info: Info, token: str, score: int, comment: str | None = None
    ) -> SupportActionPayload:
        await info.context.services.rate(info.context.caller, token, score, comment)
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]], description="Owners and admins mark members as agents."
    )
    @rejections_as(SupportActionPayload)
    async def set_agent(self, info: Info, input: SetAgentInput) -> SupportActionPayload:
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
        description="Your availability for automatic assignment.",
    )
    @rejections_as(SupportActionPayload)
    async def set_agent_availability(
        self, info: Info, organization_id: strawberry.ID, available: bool
    ) -> SupportActionPayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        await ctx.services.set_availability(ctx.caller, org_id, available)
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(TeamPayload)
    async def create_team(
        self, info: Info, organization_id: strawberry.ID, name: str
    ) -> TeamPayload:
        ctx = info.context
        org_id = identifier(organization_id, "organizationId")
        team = await ctx.services.create_team(ctx.caller, org_id, name)
        return TeamPayload(team=Team(id=strawberry.ID(str(team.id)), name=team.name))

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(SupportActionPayload)
    async def add_team_member(
        self, info: Info, team_id: strawberry.ID, user_id: strawberry.ID
    ) -> SupportActionPayload:
        ctx = info.context
        await ctx.services.add_team_member(
            ctx.caller, identifier(team_id, "teamId"), identifier(user_id, "userId")
        )
        return SupportActionPayload(ok=True)

    @strawberry.federation.mutation(
        requires_scopes=[["tickets:write"]],
        description="Round-robin to an available agent of the team.",
    )
    @rejections_as(TicketPayload)
    async def assign_ticket_to_team(
        self, info: Info, input: AssignTicketToTeamInput
    ) -> TicketPayload:
        ctx = info.context
        require_scope(ctx.caller, "tickets:write")
        ticket = await ctx.services.assign_to_team(
            ctx.caller, identifier(input.ticket_id, "ticketId"), identifier(input.team_id, "teamId")
        )
        return TicketPayload(ticket=Ticket.of(ticket))

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(SupportActionPayload)
    async def define_ticket_field(
        self, info: Info, input: DefineTicketFieldInput
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

    @strawberry.federation.mutation(requires_scopes=[["tickets:write"]])
    @rejections_as(BusinessCalendarPayload)
    async def create_business_calendar(
        self, info: Info, input: CreateBusinessCalendarInput
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
        requires_scopes=[["tickets:write"]], policy=[["feature:sla_policies"]]
    )
    @rejections_as(SlaPolicyPayload)
    async def create_sla_policy(self, info: Info, input: CreateSlaPolicyInput) -> SlaPolicyPayload:
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

"""The notifications subgraph's GraphQL schema: notifications of a User (an entity owned by
auth), preferences, templates, ``sendNotification`` and the ``notificationAdded`` subscription."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from core.scopes import MANAGE_ORGANIZATION
from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.errors import Rejected
from subgraphs.kernel.pagination import Edge, PageInfo, encode_cursor
from subgraphs.kernel.schema import (
    USER_ERROR,
    UserError,
    error_codes,
    federated_schema,
    loader,
    rejections_as,
)
from subgraphs.kernel.validation import identifier, uuid_or_none
from subgraphs.notifications import live, models
from subgraphs.notifications.contract import NotificationsErrorCode
from subgraphs.notifications.models import Channel, Status
from subgraphs.notifications.service import MANDATORY, NotificationService
from subgraphs.notifications.templates import MESSAGE, Rendered, Source

Info = strawberry.Info[RequestContext[NotificationService], None]
ChannelType = strawberry.enum(Channel, name="NotificationChannel")
StatusType = strawberry.enum(Status, name="DeliveryStatus")


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class NotificationsUserError(UserError):
    code: enum.StrEnum = strawberry.field(graphql_type=error_codes(NotificationsErrorCode))


@strawberry.type(description="How one channel of a notification went.")
class Delivery:
    channel: Channel
    status: Status
    attempts: int
    failure_reason: str | None
    sent_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, delivery: models.Delivery) -> Delivery:
        return cls(
            channel=Channel(delivery.channel),
            status=Status(delivery.status),
            attempts=delivery.attempts,
            failure_reason=delivery.failure_reason,
            sent_at=delivery.sent_at,
            updated_at=delivery.updated_at,
        )


@strawberry.federation.type(keys=["id"], description="Something a user was told.")
class Notification:
    id: strawberry.ID
    category: str
    title: str
    body: str
    data: JSON
    read: bool
    read_at: datetime | None
    created_at: datetime
    user_id: strawberry.Private[UUID | None] = None

    @classmethod
    def of(cls, notification: models.Notification | live.Added) -> Notification:
        return cls(
            id=strawberry.ID(str(notification.id)),
            user_id=notification.user_id,
            category=notification.category,
            title=notification.title,
            body=notification.body,
            data=cast(JSON, notification.data),
            read=notification.read_at is not None,
            read_at=notification.read_at,
            created_at=notification.created_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Notification | None:
        key = uuid_or_none(id)
        ctx = info.context
        found = (
            await loader(
                ctx, "notifications", lambda ids: ctx.services.notifications(ctx.caller, ids)
            ).load(key)
            if key
            else None
        )
        return cls.of(found) if found else None

    @strawberry.field(description="Who it is for (an entity of auth).")
    def recipient(self) -> User | None:
        return User(id=strawberry.ID(str(self.user_id))) if self.user_id else None

    @strawberry.field(description="One entry per channel it was sent on.")
    async def deliveries(self, info: Info) -> list[Delivery]:
        ctx = info.context
        deliveries = loader(ctx, "deliveries", lambda ids: ctx.services.deliveries(ctx.caller, ids))
        return [Delivery.of(d) for d in await deliveries.load(UUID(self.id))]


@strawberry.type
class NotificationConnection:
    edges: list[Edge[Notification]]
    page_info: PageInfo
    total_count: int
    unread_count: int


@strawberry.type(description="Whether a user gets a category of notifications on a channel.")
class Preference:
    category: str
    channel: Channel
    enabled: bool
    mandatory: bool = strawberry.field(description="Mandatory categories cannot be turned off.")

    @classmethod
    def of(cls, preference: models.Preference) -> Preference:
        return cls(
            category=preference.category,
            channel=Channel(preference.channel),
            enabled=preference.enabled or preference.category in MANDATORY,
            mandatory=preference.category in MANDATORY,
        )


@strawberry.type(description="Hours, in the user's time zone, without emails or SMS.")
class QuietHours:
    start: str
    end: str


@strawberry.type(description="How and when a user is reached.")
class NotificationSettings:
    phone: str | None
    locale: str
    timezone: str
    quiet_hours: QuietHours | None

    @classmethod
    def of(cls, contact: models.Contact | None) -> NotificationSettings:
        contact = contact or models.Contact(user_id=UUID(int=0))
        quiet = None
        if contact.quiet_start is not None and contact.quiet_end is not None:
            quiet = QuietHours(
                start=contact.quiet_start.strftime("%H:%M"), end=contact.quiet_end.strftime("%H:%M")
            )
        return cls(
            phone=contact.phone, locale=contact.locale, timezone=contact.timezone, quiet_hours=quiet
        )


@strawberry.federation.type(keys=["id"], description="A person, as far as notifications know them.")
class User:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)

    @strawberry.federation.field(
        description="The user's notifications, newest first (theirs to see only).",
        authenticated=True,
    )
    async def notifications(
        self, info: Info, first: int = 20, after: str | None = None, unread_only: bool = False
    ) -> NotificationConnection | None:
        key = uuid_or_none(self.id)
        ctx = info.context
        try:
            # Only the caller's own User has notifications: at most one query per request.
            history = await ctx.services.history(
                ctx.caller, key or UUID(int=0), first, after, unread_only
            )
        except Rejected as exc:
            problem = exc.problems[0]
            raise GraphQLError(
                f"{problem.field}: {problem.message}", extensions={"code": "BAD_USER_INPUT"}
            ) from None
        edges = [
            Edge(cursor=encode_cursor(n.created_at.isoformat(), str(n.id)), node=Notification.of(n))
            for n in history.page.items
        ]
        return NotificationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=history.page.has_next,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=history.total,
            unread_count=history.unread,
        )

    @strawberry.federation.field(authenticated=True)
    async def notification_preferences(self, info: Info) -> list[Preference] | None:
        key = uuid_or_none(self.id)
        found = await info.context.services.preferences(info.context.caller, key or UUID(int=0))
        return [Preference.of(p) for p in found]

    @strawberry.federation.field(authenticated=True)
    async def notification_settings(self, info: Info) -> NotificationSettings | None:
        key = uuid_or_none(self.id)
        if key is None or key != info.context.caller.user_id:
            return None
        return NotificationSettings.of(
            await info.context.services.contact(info.context.caller, key)
        )


@strawberry.type(description="An organization's version of a notification template.")
class Template:
    id: strawberry.ID
    key: str
    channel: Channel
    locale: str
    subject: str
    body: str
    html: str | None
    updated_at: datetime

    @classmethod
    def of(cls, template: models.Template) -> Template:
        return cls(
            id=strawberry.ID(str(template.id)),
            key=template.key,
            channel=Channel(template.channel),
            locale=template.locale,
            subject=template.subject,
            body=template.body,
            html=template.html,
            updated_at=template.updated_at,
        )


@strawberry.type
class TemplatePreview:
    subject: str
    body: str
    html: str | None

    @classmethod
    def of(cls, rendered: Rendered) -> TemplatePreview:
        return cls(subject=rendered.subject, body=rendered.body, html=rendered.html)


@strawberry.type
class SendNotificationPayload:
    notifications: list[Notification] = strawberry.field(default_factory=list)
    errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.type
class MarkNotificationsReadPayload:
    notifications: list[Notification] = strawberry.field(default_factory=list)
    errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.type
class PreferencePayload:
    preference: Preference | None = None
    errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationSettingsPayload:
    settings: NotificationSettings | None = None
    errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.type
class TemplatePayload:
    template: Template | None = None
    errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.type
class TemplatePreviewPayload:
    preview: TemplatePreview | None = None
    errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationsActionPayload:
    ok: bool = False
    errors: list[NotificationsUserError] = strawberry.field(default_factory=list)


@strawberry.input(
    description="Either templateKey (+ data) or title + body; without userIds, every member."
)
class SendNotificationInput:
    organization_id: strawberry.ID
    user_ids: list[strawberry.ID] | None = None
    category: str
    channels: list[Channel]
    idempotency_key: str
    template_key: str | None = None
    data: JSON | None = None
    title: str | None = None
    body: str | None = None


@strawberry.input
class SetNotificationPreferenceInput:
    category: str
    channel: Channel
    enabled: bool


@strawberry.input
class QuietHoursInput:
    start: str = strawberry.field(description="HH:MM, in the user's time zone.")
    end: str


@strawberry.input(description="Omitted fields stay as they are; quietHours: null clears them.")
class NotificationSettingsInput:
    phone: str | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    quiet_hours: QuietHoursInput | None = strawberry.UNSET


@strawberry.input
class TemplateInput:
    key: str
    channel: Channel
    locale: str = "en"
    subject: str
    body: str
    html: str | None = None


@strawberry.input(description="A draft (subject + body) or the template in force, rendered.")
class PreviewTemplateInput:
    key: str
    channel: Channel
    locale: str = "en"
    subject: str | None = None
    body: str | None = None
    html: str | None = None
    data: JSON | None = None


def _content(input: SendNotificationInput) -> tuple[str, dict[str, Any]]:
    if input.template_key is not None:
        return input.template_key, dict(cast(dict[str, Any], input.data or {}))
    return MESSAGE, {"title": input.title or "", "body": input.body or ""}


def _settings_changes(input: NotificationSettingsInput) -> dict[str, Any]:
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("phone", input.phone),
            ("locale", input.locale),
            ("timezone", input.timezone),
        )
        if value is not strawberry.UNSET
    }
    if input.quiet_hours is not strawberry.UNSET:
        hours = input.quiet_hours
        changes["quiet_hours"] = (hours.start, hours.end) if hours else None
    return changes


@strawberry.type
class Query:
    @strawberry.federation.field(
        description="Your organization's own templates (owners and admins).",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    async def notification_templates(self, info: Info) -> list[Template]:
        return [Template.of(t) for t in await info.context.services.templates(info.context.caller)]

    @strawberry.federation.field(
        description="Render a template with sample data, or with the data given (owners and"
        " admins).",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(TemplatePreviewPayload)
    async def preview_template(
        self, info: Info, input: PreviewTemplateInput
    ) -> TemplatePreviewPayload:
        draft = (
            Source(input.subject, input.body, input.html)
            if input.subject is not None and input.body is not None
            else None
        )
        data = cast(dict[str, Any] | None, input.data)
        rendered = await info.context.services.preview(
            info.context.caller, input.key, input.channel, input.locale, draft, data
        )
        return TemplatePreviewPayload(preview=TemplatePreview.of(rendered))


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        description="Owners and admins, or a key with notifications:write, notify members; once"
        " per idempotencyKey.",
        requires_scopes=[["notifications:write"]],
    )
    @rejections_as(SendNotificationPayload)
    async def send_notification(
        self, info: Info, input: SendNotificationInput
    ) -> SendNotificationPayload:
        ctx = info.context
        sent = await ctx.services.send_as_admin(
            ctx.caller,
            identifier(input.organization_id, "organizationId"),
            None if input.user_ids is None else [identifier(u, "userIds") for u in input.user_ids],
            category_name=input.category,
            content=_content(input),
            channels=input.channels,
            idempotency_key=input.idempotency_key,
        )
        return SendNotificationPayload(notifications=[Notification.of(n) for n in sent])

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(MarkNotificationsReadPayload)
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID]
    ) -> MarkNotificationsReadPayload:
        keys = [identifier(i, "ids") for i in ids]
        read = await info.context.services.mark_read(info.context.caller, keys)
        return MarkNotificationsReadPayload(notifications=[Notification.of(n) for n in read])

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(PreferencePayload)
    async def set_notification_preference(
        self, info: Info, input: SetNotificationPreferenceInput
    ) -> PreferencePayload:
        preference = await info.context.services.set_preference(
            info.context.caller, input.category, input.channel, input.enabled
        )
        return PreferencePayload(preference=Preference.of(preference))

    @strawberry.federation.mutation(authenticated=True)
    @rejections_as(NotificationSettingsPayload)
    async def update_notification_settings(
        self, info: Info, input: NotificationSettingsInput
    ) -> NotificationSettingsPayload:
        contact = await info.context.services.update_contact(
            info.context.caller, _settings_changes(input)
        )
        return NotificationSettingsPayload(settings=NotificationSettings.of(contact))

    @strawberry.federation.mutation(
        description="Owners and admins; replaces the template of that locale.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(TemplatePayload)
    async def save_template(self, info: Info, input: TemplateInput) -> TemplatePayload:
        template = await info.context.services.save_template(
            info.context.caller,
            input.key,
            input.channel,
            input.locale,
            Source(input.subject, input.body, input.html),
        )
        return TemplatePayload(template=Template.of(template))

    @strawberry.federation.mutation(
        description="The platform's default applies again.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(NotificationsActionPayload)
    async def delete_template(self, info: Info, id: strawberry.ID) -> NotificationsActionPayload:
        await info.context.services.delete_template(info.context.caller, identifier(id, "id"))
        return NotificationsActionPayload(ok=True)


@strawberry.type
class Subscription:
    @strawberry.federation.field(
        is_subscription=True, description="Your notifications as they arrive.", authenticated=True
    )
    async def notification_added(self, info: Info) -> AsyncGenerator[Notification, None]:
        user_id = info.context.caller.user_id
        if user_id is None:
            raise GraphQLError("Log in first.", extensions={"code": "UNAUTHENTICATED"})
        runtime_redis = info.context.services.redis
        async for notification in live.added(runtime_redis, user_id):
            yield Notification.of(notification)


schema = federated_schema(Query, Mutation, types=[User, Notification], subscription=Subscription)

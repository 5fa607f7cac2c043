"""The notifications subgraph's GraphQL schema: notifications of a User (an entity owned by
auth), preferences, templates, ``sendNotification`` and the ``notificationAdded`` subscription."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any, cast
from uuid import UUID

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from core.scopes import MANAGE_ORGANIZATION
from subgraphs.kernel.app import RequestContext
from subgraphs.kernel.errors import Rejected
from subgraphs.kernel.pagination import Edge, PageInfo, encode_cursor
from subgraphs.kernel.schema import (
    CODE,
    ERRORS,
    MUTATION,
    QUERY,
    SUBSCRIPTION,
    USER_ERROR,
    UserError,
    described_enum,
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
ChannelType = described_enum(
    Channel,
    "NotificationChannel",
    "A way of reaching a user.",
    {
        Channel.IN_APP: "In `me { notifications }` and `notificationAdded`.",
        Channel.EMAIL: "An email to the user's address.",
        Channel.SMS: "A text message to the phone of their notification settings.",
    },
)
StatusType = described_enum(
    Status,
    "DeliveryStatus",
    "Where a delivery on one channel stands.",
    {
        Status.QUEUED: "Waiting to be sent (or retried, or for quiet hours to end).",
        Status.SENT: "Handed to the channel's provider.",
        Status.DELIVERED: "The provider reported it delivered.",
        Status.FAILED: "Given up: permanently refused, or out of attempts.",
        Status.READ: "The user marked it read (in-app).",
    },
)


@strawberry.federation.type(shareable=True, name="UserError", description=USER_ERROR)
class NotificationsUserError(UserError):
    code: enum.StrEnum = strawberry.field(
        graphql_type=error_codes(NotificationsErrorCode), description=CODE
    )


@strawberry.type(description="How one channel of a notification went.")
class Delivery:
    channel: Channel = strawberry.field(description="The channel.")
    status: Status = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Tries to send it so far.")
    failure_reason: str | None = strawberry.field(
        description="Why the last try failed; null when it did not."
    )
    sent_at: datetime | None = strawberry.field(description="When it was sent; null until then.")
    updated_at: datetime = strawberry.field(description="When its status last changed.")

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


@strawberry.federation.type(
    keys=["id"], description="Something a user was told; visible to that user only."
)
class Notification:
    id: strawberry.ID = strawberry.field(description="The notification's id (a UUID).")
    category: str = strawberry.field(
        description="What it is about: `security`, `account`, `announcement`, `invitation`,"
        " `ticket`, `job`, or a sender's own (lowercase letters, digits, `.`, `-`, `_`)."
    )
    title: str = strawberry.field(description="Its rendered subject.")
    body: str = strawberry.field(description="Its rendered text.")
    data: JSON = strawberry.field(description="The values it was rendered with.")
    read: bool = strawberry.field(description="Whether the user marked it read.")
    read_at: datetime | None = strawberry.field(
        description="When it was marked read; null while unread."
    )
    created_at: datetime = strawberry.field(description="When it was sent.")
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


@strawberry.type(description="A page of a user's in-app notifications, newest first.")
class NotificationConnection:
    edges: list[Edge[Notification]] = strawberry.field(
        description="The notifications of this page."
    )
    page_info: PageInfo = strawberry.field(description="Whether another page follows.")
    total_count: int = strawberry.field(description="All their in-app notifications.")
    unread_count: int = strawberry.field(description="Those of them not read yet.")


@strawberry.type(description="Whether a user gets a category of notifications on a channel.")
class Preference:
    category: str = strawberry.field(description="The category (see `Notification.category`).")
    channel: Channel = strawberry.field(description="The channel.")
    enabled: bool = strawberry.field(description="Whether they get it there (true by default).")
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
    start: str = strawberry.field(description="HH:MM, when they begin.")
    end: str = strawberry.field(description="HH:MM, when they end (the next day if earlier).")


@strawberry.type(description="How and when a user is reached.")
class NotificationSettings:
    phone: str | None = strawberry.field(description="Where SMS go, as +15551234567; null: no SMS.")
    locale: str = strawberry.field(description="The templates' language (`en`, `fr-CA`).")
    timezone: str = strawberry.field(description="IANA name the quiet hours are read in.")
    quiet_hours: QuietHours | None = strawberry.field(description="Null: none.")

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


@strawberry.federation.type(keys=["id"])
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
        self,
        info: Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1 to 100.")] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `cursor` to continue after; null: from the start."
            ),
        ] = None,
        unread_only: Annotated[
            bool, strawberry.argument(description="Only those not read yet.")
        ] = False,
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

    @strawberry.federation.field(
        authenticated=True,
        description="Every category on every channel, as the user set it; empty for anyone but"
        " the user.",
    )
    async def notification_preferences(self, info: Info) -> list[Preference] | None:
        key = uuid_or_none(self.id)
        found = await info.context.services.preferences(info.context.caller, key or UUID(int=0))
        return [Preference.of(p) for p in found]

    @strawberry.federation.field(
        authenticated=True,
        description="How and when the user is reached; null for anyone but the user.",
    )
    async def notification_settings(self, info: Info) -> NotificationSettings | None:
        key = uuid_or_none(self.id)
        if key is None or key != info.context.caller.user_id:
            return None
        return NotificationSettings.of(
            await info.context.services.contact(info.context.caller, key)
        )


@strawberry.type(description="An organization's version of a notification template.")
class Template:
    id: strawberry.ID = strawberry.field(description="The template's id (a UUID).")
    key: str = strawberry.field(
        description="Which message it words: `message`, `verify_email`, `reset_password`,"
        " `invitation`, `ticket_created`, `ticket_updated`, `job_succeeded`, `job_failed`."
    )
    channel: Channel = strawberry.field(description="The channel it is for.")
    locale: str = strawberry.field(description="The language it is for (`en`, `fr-CA`).")
    subject: str = strawberry.field(description="The subject (Jinja syntax).")
    body: str = strawberry.field(description="The plain text (Jinja syntax).")
    html: str | None = strawberry.field(
        description="The email's HTML (Jinja syntax, escaped); null: the plain text only."
    )
    updated_at: datetime = strawberry.field(description="When it was last saved.")

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


@strawberry.type(description="A template rendered.")
class TemplatePreview:
    subject: str = strawberry.field(description="The subject as rendered.")
    body: str = strawberry.field(description="The plain text as rendered.")
    html: str | None = strawberry.field(description="The HTML as rendered; null when none.")

    @classmethod
    def of(cls, rendered: Rendered) -> TemplatePreview:
        return cls(subject=rendered.subject, body=rendered.body, html=rendered.html)


@strawberry.type(description="The result of `sendNotification`.")
class SendNotificationPayload:
    notifications: list[Notification] = strawberry.field(
        default_factory=list,
        description="One per recipient (the earlier ones for a repeated idempotency key).",
    )
    errors: list[NotificationsUserError] = strawberry.field(
        default_factory=list, description=ERRORS
    )


@strawberry.type(description="The result of `markNotificationsRead`.")
class MarkNotificationsReadPayload:
    notifications: list[Notification] = strawberry.field(
        default_factory=list, description="Those of the ids that are yours, now read."
    )
    errors: list[NotificationsUserError] = strawberry.field(
        default_factory=list, description=ERRORS
    )


@strawberry.type(description="The result of `setNotificationPreference`.")
class PreferencePayload:
    preference: Preference | None = strawberry.field(
        default=None, description="The preference as set; null when `errors` is not empty."
    )
    errors: list[NotificationsUserError] = strawberry.field(
        default_factory=list, description=ERRORS
    )


@strawberry.type(description="The result of `updateNotificationSettings`.")
class NotificationSettingsPayload:
    settings: NotificationSettings | None = strawberry.field(
        default=None, description="The settings as changed; null when `errors` is not empty."
    )
    errors: list[NotificationsUserError] = strawberry.field(
        default_factory=list, description=ERRORS
    )


@strawberry.type(description="The result of `saveTemplate`.")
class TemplatePayload:
    template: Template | None = strawberry.field(
        default=None, description="The template as saved; null when `errors` is not empty."
    )
    errors: list[NotificationsUserError] = strawberry.field(
        default_factory=list, description=ERRORS
    )


@strawberry.type(description="The result of `previewTemplate`.")
class TemplatePreviewPayload:
    preview: TemplatePreview | None = strawberry.field(
        default=None, description="The rendering; null when `errors` is not empty."
    )
    errors: list[NotificationsUserError] = strawberry.field(
        default_factory=list,
        description="Why it cannot render (`INVALID_INPUT`, `FORBIDDEN`); empty otherwise.",
    )


@strawberry.type(description="The result of a notifications action that returns nothing else.")
class NotificationsActionPayload:
    ok: bool = strawberry.field(
        default=False, description="True when it was done; false when `errors` says why not."
    )
    errors: list[NotificationsUserError] = strawberry.field(
        default_factory=list, description=ERRORS
    )


@strawberry.input(
    description="Either templateKey (+ data) or title + body; without userIds, every member."
)
class SendNotificationInput:
    organization_id: strawberry.ID = strawberry.field(
        description="The organization whose members are notified."
    )
    user_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="1 to 1000 of its members; null: every member."
    )
    category: str = strawberry.field(
        description="Lowercase letters, digits, `.`, `-`, `_`; members may turn it off."
    )
    channels: list[Channel] = strawberry.field(description="At least one channel.")
    idempotency_key: str = strawberry.field(
        description="Up to 200 characters; sending again with it sends nothing new."
    )
    template_key: str | None = strawberry.field(
        default=None, description="A template's key (see `Template.key`), rendered with `data`."
    )
    data: JSON | None = strawberry.field(
        default=None, description="The template's values (an object)."
    )
    title: str | None = strawberry.field(
        default=None, description="Without a template: the subject."
    )
    body: str | None = strawberry.field(default=None, description="Without a template: the text.")


@strawberry.input(description="Whether to get a category of notifications on a channel.")
class SetNotificationPreferenceInput:
    category: str = strawberry.field(description="The category (see `Notification.category`).")
    channel: Channel = strawberry.field(description="The channel.")
    enabled: bool = strawberry.field(description="False turns it off (not `security`).")


@strawberry.input(description="Hours without emails or SMS; they are sent when the hours end.")
class QuietHoursInput:
    start: str = strawberry.field(description="HH:MM, in the user's time zone.")
    end: str = strawberry.field(description="HH:MM; earlier than `start` means the next day.")


@strawberry.input(description="Omitted fields stay as they are; quietHours: null clears them.")
class NotificationSettingsInput:
    phone: str | None = strawberry.field(
        default=strawberry.UNSET, description="As +15551234567; null removes it."
    )
    locale: str | None = strawberry.field(
        default=strawberry.UNSET, description="A locale such as `en` or `fr-CA`."
    )
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET, description="An IANA time zone name (`Europe/Lisbon`)."
    )
    quiet_hours: QuietHoursInput | None = strawberry.field(
        default=strawberry.UNSET, description="New quiet hours; null clears them."
    )


@strawberry.input(description="An organization's wording of a message on a channel.")
class TemplateInput:
    key: str = strawberry.field(description="Which message (see `Template.key`).")
    channel: Channel = strawberry.field(description="The channel it is for.")
    locale: str = strawberry.field(default="en", description="A locale such as `en` or `fr-CA`.")
    subject: str = strawberry.field(
        description="Jinja syntax, up to 20,000 characters; it must render with sample data."
    )
    body: str = strawberry.field(description="Plain text; Jinja syntax, up to 20,000 characters.")
    html: str | None = strawberry.field(
        default=None,
        description="The email's HTML; null: none. Up to 20,000 characters. Besides the data,"
        " `brand` holds the organization's published theme: `brand.primary`,"
        " `brand.primary_foreground`, `brand.logo_url`, `brand.name` and `brand.white_label`.",
    )


@strawberry.input(description="A draft (subject + body) or the template in force, rendered.")
class PreviewTemplateInput:
    key: str = strawberry.field(description="Which message (see `Template.key`).")
    channel: Channel = strawberry.field(description="The channel.")
    locale: str = strawberry.field(default="en", description="The locale of the template in force.")
    subject: str | None = strawberry.field(
        default=None, description="A draft's subject; with `body`, rendered instead."
    )
    body: str | None = strawberry.field(default=None, description="A draft's plain text.")
    html: str | None = strawberry.field(default=None, description="A draft's HTML.")
    data: JSON | None = strawberry.field(
        default=None, description="Values over the sample data (an object)."
    )


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


@strawberry.type(description=QUERY)
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
        self,
        info: Info,
        input: Annotated[PreviewTemplateInput, strawberry.argument(description="What to render.")],
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


@strawberry.type(description=MUTATION)
class Mutation:
    @strawberry.federation.mutation(
        description="Owners and admins, or a key with notifications:write, notify members; once"
        " per idempotencyKey. Errors: `INVALID_INPUT`, `FORBIDDEN`, `UNAUTHENTICATED`.",
        requires_scopes=[["notifications:write"]],
    )
    @rejections_as(SendNotificationPayload)
    async def send_notification(
        self,
        info: Info,
        input: Annotated[SendNotificationInput, strawberry.argument(description="What to send.")],
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

    @strawberry.federation.mutation(
        authenticated=True,
        description="Mark your notifications read; ids of others' are ignored. Errors:"
        " `INVALID_INPUT`.",
    )
    @rejections_as(MarkNotificationsReadPayload)
    async def mark_notifications_read(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Up to 1000 notification ids.")
        ],
    ) -> MarkNotificationsReadPayload:
        keys = [identifier(i, "ids") for i in ids]
        read = await info.context.services.mark_read(info.context.caller, keys)
        return MarkNotificationsReadPayload(notifications=[Notification.of(n) for n in read])

    @strawberry.federation.mutation(
        authenticated=True,
        description="Turn a category on or off on a channel, for you. Errors: `INVALID_INPUT`,"
        " `MANDATORY_CATEGORY`.",
    )
    @rejections_as(PreferencePayload)
    async def set_notification_preference(
        self,
        info: Info,
        input: Annotated[
            SetNotificationPreferenceInput, strawberry.argument(description="The preference.")
        ],
    ) -> PreferencePayload:
        preference = await info.context.services.set_preference(
            info.context.caller, input.category, input.channel, input.enabled
        )
        return PreferencePayload(preference=Preference.of(preference))

    @strawberry.federation.mutation(
        authenticated=True,
        description="Change how and when you are reached. Errors: `INVALID_INPUT`.",
    )
    @rejections_as(NotificationSettingsPayload)
    async def update_notification_settings(
        self,
        info: Info,
        input: Annotated[
            NotificationSettingsInput, strawberry.argument(description="The changes.")
        ],
    ) -> NotificationSettingsPayload:
        contact = await info.context.services.update_contact(
            info.context.caller, _settings_changes(input)
        )
        return NotificationSettingsPayload(settings=NotificationSettings.of(contact))

    @strawberry.federation.mutation(
        description="Owners and admins; replaces the template of that key, channel and locale."
        " Errors: `INVALID_INPUT` (also when it does not render), `FORBIDDEN`.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(TemplatePayload)
    async def save_template(
        self,
        info: Info,
        input: Annotated[TemplateInput, strawberry.argument(description="The template.")],
    ) -> TemplatePayload:
        template = await info.context.services.save_template(
            info.context.caller,
            input.key,
            input.channel,
            input.locale,
            Source(input.subject, input.body, input.html),
        )
        return TemplatePayload(template=Template.of(template))

    @strawberry.federation.mutation(
        description="Owners and admins: the platform's default applies again. Errors:"
        " `NOT_FOUND`, `FORBIDDEN`.",
        authenticated=True,
        policy=[[MANAGE_ORGANIZATION]],
    )
    @rejections_as(NotificationsActionPayload)
    async def delete_template(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The template's id.")],
    ) -> NotificationsActionPayload:
        await info.context.services.delete_template(info.context.caller, identifier(id, "id"))
        return NotificationsActionPayload(ok=True)


@strawberry.type(description=SUBSCRIPTION)
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

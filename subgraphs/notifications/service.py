"""Business rules of notifications: who is told what on which channel, when, and exactly once.
No GraphQL here; the schema and the worker's tasks both call this service; the worker's
sending of each delivery is ``delivery.DeliveryService``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, available_timezones

from redis.asyncio import Redis
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database, set_local, utcnow
from subgraphs.kernel.errors import ErrorCode, Problem, Rejected, existing, require, signed_in
from subgraphs.kernel.pagination import Page, decode_cursor, page_size, trimmed
from subgraphs.kernel.usage import record_usage
from subgraphs.notifications import live, repository
from subgraphs.notifications.contract import (
    Branding,
    NotificationRequest,
    NotificationsErrorCode,
    job_queue,
)
from subgraphs.notifications.models import (
    Channel,
    Contact,
    Delivery,
    Notification,
    OrganizationBranding,
    OrganizationMembers,
    OrganizationWhiteLabel,
    Preference,
    Status,
    Template,
)
from subgraphs.notifications.settings import Settings
from subgraphs.notifications.templates import (
    DEFAULTS,
    MAX_SOURCE,
    PLATFORM_BRAND,
    SAMPLE_DATA,
    Brand,
    Rendered,
    Source,
    locales,
    render,
)

DELIVER_JOB = "deliver"
MAX_RECIPIENTS = 1000
CATEGORIES = ("security", "account", "announcement", "invitation", "ticket", "job", "approvals")
MANDATORY = frozenset({"security"})
_SEND_SCOPE = "notifications:write"
_CATEGORY = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_LOCALE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
_COLOR = re.compile(r"^#[0-9a-f]{6}$")
_LOGO_URL = re.compile(r"^https?://[^\s\"'<>]{1,1990}$")
_PROVIDER_FINAL = {
    "delivered": Status.DELIVERED,
    "undelivered": Status.FAILED,
    "failed": Status.FAILED,
}


@dataclass(frozen=True)
class Outgoing:
    """A request to notify, checked: content by template, recipients by user or address."""

    category: str
    template_key: str
    data: dict[str, Any]
    channels: list[Channel]
    idempotency_key: str
    org_id: UUID | None
    recipients: list[tuple[UUID | None, str | None]]


@dataclass
class History:
    page: Page[Notification]
    total: int
    unread: int


@dataclass
class Sent:
    """What a send stored, and what remains to do once it is committed."""

    notifications: list[Notification] = field(default_factory=list)
    fresh: list[Notification] = field(default_factory=list)
    queued: list[tuple[Delivery, datetime | None]] = field(default_factory=list)
    # Templates looked up once per channel and locale, however many recipients share them.
    sources: dict[tuple[Channel, str], Source] = field(default_factory=dict)
    brand: Brand = PLATFORM_BRAND


def category(value: str, field: str = "category") -> str:
    require(
        bool(_CATEGORY.match(value)),
        ErrorCode.INVALID_INPUT,
        "Use lowercase letters, digits, dots, dashes or underscores.",
        field,
    )
    return value


def quiet_until(contact: Contact | None, now: datetime) -> datetime | None:
    """The end of the contact's quiet hours if ``now`` falls within them, else None."""
    if contact is None or contact.quiet_start is None or contact.quiet_end is None:
        return None
    local = now.astimezone(ZoneInfo(contact.timezone))
    start, end, at = contact.quiet_start, contact.quiet_end, local.time()
    inside = start <= at < end if start <= end else at >= start or at < end
    if not inside:
        return None
    ends = datetime.combine(local.date(), end, tzinfo=local.tzinfo)
    return ends if ends > local else ends + timedelta(days=1)


def _local_time(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise Rejected.one(ErrorCode.INVALID_INPUT, "Use HH:MM.", field) from None


class NotificationService:
    def __init__(self, db: Database, redis: Redis, settings: Settings) -> None:
        self.db = db
        self.redis = redis
        self.settings = settings

    # sending -----------------------------------------------------------------------------------

    async def send_as_admin(
        self,
        caller: Caller,
        org_id: UUID,
        user_ids: Sequence[UUID] | None,
        *,
        category_name: str,
        content: tuple[str, dict[str, Any]],
        channels: Sequence[Channel],
        idempotency_key: str,
    ) -> list[Notification]:
        """An owner or admin of ``org_id`` (as the router vouches), or an API key of it with
        the scope to send, notifies some of its members, or all of them when ``user_ids`` is
        None."""
        if caller.key_id is None:
            signed_in(caller)
        sending_key = caller.key_id is not None and _SEND_SCOPE in caller.scopes
        if not (caller.manages(org_id) or (sending_key and caller.org_id == org_id)):
            raise Rejected.one(
                ErrorCode.FORBIDDEN, "Only owners and admins of the organization can send."
            )
        require(bool(channels), ErrorCode.INVALID_INPUT, "Name at least one channel.", "channels")
        key = validation.text(idempotency_key, "idempotencyKey", max_length=200)
        template_key, data = content
        require(
            template_key in DEFAULTS, ErrorCode.INVALID_INPUT, "Unknown template.", "templateKey"
        )
        members = await self.members(org_id)
        recipients = members if user_ids is None else list(dict.fromkeys(user_ids))
        require(
            0 < len(recipients) <= MAX_RECIPIENTS,
            ErrorCode.INVALID_INPUT,
            f"Notify 1 to {MAX_RECIPIENTS} members at once.",
            "userIds",
        )
        require(
            set(recipients) <= set(members),
            ErrorCode.INVALID_INPUT,
            "Only members of the organization can be notified.",
            "userIds",
        )
        outgoing = Outgoing(
            category=category(category_name),
            template_key=template_key,
            data=data,
            channels=list(dict.fromkeys(channels)),
            idempotency_key=f"admin:{org_id}:{key}",
            org_id=org_id,
            recipients=[(u, None) for u in recipients],
        )
        return await self.send(outgoing)

    async def notify(self, request: NotificationRequest) -> list[Notification]:
        """Another subgraph's request, through the worker; a role names the organization's
        members who hold it now."""
        require(
            request.org_id is not None or all(r.user_id for r in request.recipients),
            ErrorCode.INVALID_INPUT,
            "A recipient without an account needs the organization that writes to them.",
            "recipients",
        )
        require(
            request.org_id is not None or not request.roles,
            ErrorCode.INVALID_INPUT,
            "Roles are held in an organization: name it.",
            "roles",
        )
        named = [(r.user_id, r.email) for r in request.recipients]
        holders = []
        if request.org_id is not None and request.roles:
            holders = await self.members(request.org_id, request.roles)
        explicit = {u for u, _ in named}
        outgoing = Outgoing(
            category=category(request.category),
            template_key=request.template_key,
            data=request.data,
            channels=[Channel(c) for c in request.channels],
            idempotency_key=request.idempotency_key,
            org_id=request.org_id,
            recipients=named + [(u, None) for u in holders if u not in explicit],
        )
        return await self.send(outgoing)

    async def send(self, outgoing: Outgoing) -> list[Notification]:
        """Store and publish in-app notifications, queue the other channels; once per key."""
        try:
            sent = await self._store(outgoing)
        except IntegrityError:
            # A concurrent request with the same key stored first; this one finds its rows.
            sent = await self._store(outgoing)
        for notification in sent.fresh:
            await live.publish(self.redis, notification)
        for delivery, not_before in sent.queued:
            await self._enqueue(delivery, not_before)
        return sent.notifications

    async def _store(self, outgoing: Outgoing) -> Sent:
        sent = Sent()
        async with self.db.transaction(Caller(org_id=outgoing.org_id)) as session:
            sent.brand = await self._brand(session, outgoing.org_id)
            for user_id, email in outgoing.recipients:
                # Each recipient's rows are written as that recipient, so row security holds.
                await set_local(session, "app.user_id", user_id)
                await self._send_to(session, outgoing, user_id, email, sent)
        return sent

    async def _send_to(
        self,
        session: AsyncSession,
        outgoing: Outgoing,
        user_id: UUID | None,
        email: str | None,
        sent: Sent,
    ) -> None:
        dedupe = f"{outgoing.idempotency_key}:{user_id or email}"
        found = await repository.by_dedupe_key(session, dedupe)
        if found is not None:
            sent.notifications.append(found)
            await self._requeue(session, found, sent)
            return
        contact = await self._remember(session, user_id, email)
        channels = await self._allowed(session, outgoing, user_id)
        locale = contact.locale if contact else "en"
        shown = await self._render(session, outgoing, Channel.IN_APP, locale, sent)
        in_app = user_id is not None and Channel.IN_APP in channels
        notification = Notification(
            org_id=outgoing.org_id,
            user_id=user_id,
            category=outgoing.category,
            template_key=outgoing.template_key,
            title=shown.subject,
            body=shown.body,
            data=outgoing.data,
            dedupe_key=dedupe,
            in_app=in_app,
        )
        session.add(notification)
        await session.flush()
        if notification.org_id is not None:
            key = f"notification:{notification.id}"
            await record_usage(session, notification.org_id, "notifications", 1, key)
        sent.notifications.append(notification)
        if in_app:
            sent.fresh.append(notification)
        not_before = None if outgoing.category in MANDATORY else quiet_until(contact, utcnow())
        for channel in channels:
            delivery = await self._delivery(
                session, outgoing, notification, channel, contact, email, sent
            )
            if delivery is not None and channel is not Channel.IN_APP:
                sent.queued.append((delivery, not_before))

    async def _delivery(
        self,
        session: AsyncSession,
        outgoing: Outgoing,
        notification: Notification,
        channel: Channel,
        contact: Contact | None,
        email: str | None,
        sent: Sent,
    ) -> Delivery | None:
        address = {
            Channel.IN_APP: str(notification.user_id) if notification.user_id else None,
            Channel.EMAIL: email or (contact.email if contact else None),
            Channel.SMS: contact.phone if contact else None,
        }[channel]
        if address is None:
            return None
        locale = contact.locale if contact else "en"
        content = await self._render(session, outgoing, channel, locale, sent)
        delivery = Delivery(
            notification_id=notification.id,
            org_id=notification.org_id,
            user_id=notification.user_id,
            channel=channel.value,
            address=address,
            subject=content.subject,
            body=content.body,
            html=content.html,
            status=(Status.DELIVERED if channel is Channel.IN_APP else Status.QUEUED).value,
        )
        session.add(delivery)
        return delivery

    async def _requeue(self, session: AsyncSession, found: Notification, sent: Sent) -> None:
        """A repeated request sends nothing new, but finishes what a crash may have left."""
        rows = await repository.queued_deliveries(session, found.id)
        sent.queued.extend((d, None) for d in rows)

    async def _remember(
        self, session: AsyncSession, user_id: UUID | None, email: str | None
    ) -> Contact | None:
        if user_id is None:
            return None
        contact = await session.get(Contact, user_id)
        if email is not None and (contact is None or contact.email != email):
            contact = contact or Contact(user_id=user_id)
            contact.email = email
            session.add(contact)
        return contact

    async def _allowed(
        self, session: AsyncSession, outgoing: Outgoing, user_id: UUID | None
    ) -> list[Channel]:
        if user_id is None or outgoing.category in MANDATORY:
            return outgoing.channels
        off = await repository.disabled_channels(session, user_id, outgoing.category)
        return [c for c in outgoing.channels if c.value not in off]

    async def _source(
        self, session: AsyncSession, org_id: UUID | None, key: str, channel: Channel, locale: str
    ) -> Source:
        """The organization's template for the closest locale, else the platform's default."""
        if org_id is not None:
            candidates = locales(locale)
            by_locale = await repository.templates_by_locale(
                session, org_id, key, channel, candidates
            )
            for candidate in candidates:
                if found := by_locale.get(candidate):
                    return Source(found.subject, found.body, found.html)
        return existing(DEFAULTS.get(key), "template")

    async def _render(
        self, session: AsyncSession, outgoing: Outgoing, channel: Channel, locale: str, sent: Sent
    ) -> Rendered:
        if (channel, locale) not in sent.sources:
            sent.sources[channel, locale] = await self._source(
                session, outgoing.org_id, outgoing.template_key, channel, locale
            )
        return render(sent.sources[channel, locale], channel, outgoing.data, sent.brand)

    @staticmethod
    async def _brand(session: AsyncSession, org_id: UUID | None) -> Brand:
        found = await session.get(OrganizationBranding, org_id) if org_id else None
        if found is None:
            return PLATFORM_BRAND
        plan = await session.get(OrganizationWhiteLabel, org_id)
        return Brand(
            primary=found.colors.get("primary", PLATFORM_BRAND.primary),
            primary_foreground=found.colors.get(
                "primary_foreground", PLATFORM_BRAND.primary_foreground
            ),
            logo_url=found.logo_url,
            name=found.name,
            white_label=plan.white_label if plan else found.white_label,
        )

    async def _enqueue(self, delivery: Delivery, not_before: datetime | None) -> None:
        await job_queue(self.redis).enqueue_job(
            DELIVER_JOB,
            str(delivery.id),
            str(delivery.user_id) if delivery.user_id else None,
            str(delivery.org_id) if delivery.org_id else None,
            _job_id=f"{DELIVER_JOB}:{delivery.id}",
            _queue_name=self.settings.core.queue_name,
            _defer_until=not_before,
        )

    # organizations -----------------------------------------------------------------------------

    async def members(self, org_id: UUID, roles: list[str] | None = None) -> list[UUID]:
        """The organization's members (those holding one of ``roles`` when given)."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            found = await session.get(OrganizationMembers, org_id)
        if found is None:
            return []
        return list(found.user_ids) if roles is None else found.holding(roles)

    async def set_members(
        self,
        org_id: UUID,
        user_ids: list[UUID],
        as_of: datetime,
        roles: dict[str, str] | None = None,
    ) -> None:
        """Record tenancy's list (with each member's role by user id) unless a newer one is
        already recorded."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            await repository.record_members(session, org_id, user_ids, roles or {}, as_of)

    async def set_branding(self, org_id: UUID, branding: Branding) -> None:
        """Record themes' announcement unless a newer version is recorded; colors and a logo
        URL that are not what themes sends are left out (they go into emails' HTML)."""
        logo = (
            branding.logo_url if branding.logo_url and _LOGO_URL.match(branding.logo_url) else None
        )
        row = OrganizationBranding(
            org_id=org_id,
            version=branding.version,
            colors={k: v for k, v in branding.colors.items() if _COLOR.match(v)},
            logo_url=logo,
            name=(branding.name or "")[:100] or None,
            white_label=branding.white_label,
        )
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            await repository.record_branding(session, row)

    async def set_white_label(self, org_id: UUID, enabled: bool, as_of: datetime) -> None:
        """Record billing's word on ``white_label`` unless a newer one is recorded."""
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            await repository.record_white_label(session, org_id, enabled, as_of)

    # the SMS provider's reports ---------------------------------------------------------------

    async def sms_reported(
        self, delivery_id: UUID, recipient: Caller, status: str, error: str | None
    ) -> None:
        """The provider's later word on a sent SMS: delivered, or failed after all."""
        final = _PROVIDER_FINAL.get(status)
        if final is None:
            return
        async with self.db.transaction(recipient) as session:
            delivery = await repository.locked_delivery(session, delivery_id)
            if delivery is None or delivery.status != Status.SENT.value:
                return
            delivery.status = final.value
            delivery.updated_at = utcnow()
            if final is Status.FAILED:
                delivery.failure_reason = f"provider reported {status} (error {error})"
            session.add(delivery)

    # history -----------------------------------------------------------------------------------

    async def history(
        self, caller: Caller, user_id: UUID, first: int, after: str | None, unread_only: bool
    ) -> History:
        """A user's in-app notifications, newest first; empty for anyone but that user."""
        size = page_size(first)
        position = decode_cursor(after, 2) if after else None
        if caller.user_id != user_id:
            return History(Page([], False), 0, 0)
        before = self._position(position) if position is not None else None
        async with self.db.transaction(caller) as session:
            rows = await repository.in_app_page(
                session, user_id, unread_only=unread_only, before=before, size=size
            )
            total, unread = await repository.in_app_counts(session, user_id)
        return History(trimmed(rows, size), total, unread)

    def _position(self, position: list[str]) -> tuple[datetime, UUID]:
        try:
            return datetime.fromisoformat(position[0]), UUID(position[1])
        except ValueError:
            raise Rejected.one(ErrorCode.INVALID_INPUT, "Not a valid cursor.", "after") from None

    async def notifications(self, caller: Caller, ids: list[UUID]) -> list[Notification | None]:
        """The caller's own notifications by id, in order."""
        if caller.user_id is None:
            return [None] * len(ids)
        async with self.db.transaction(caller) as session:
            found = await repository.notifications_of(session, caller.user_id, ids)
        return [found.get(i) for i in ids]

    async def deliveries(self, caller: Caller, ids: list[UUID]) -> list[list[Delivery]]:
        async with self.db.transaction(caller) as session:
            by_notification = await repository.deliveries_of(session, ids)
        return [by_notification.get(i, []) for i in ids]

    async def mark_read(self, caller: Caller, ids: list[UUID]) -> list[Notification]:
        """Mark the caller's own notifications read; others' ids are ignored."""
        user_id = signed_in(caller)
        require(len(ids) <= 1000, ErrorCode.INVALID_INPUT, "At most 1000 at once.", "ids")
        now = utcnow()
        async with self.db.transaction(caller) as session:
            return await repository.mark_read(session, user_id, ids, now)

    # preferences -------------------------------------------------------------------------------

    async def preferences(self, caller: Caller, user_id: UUID) -> list[Preference]:
        """Every known category on every channel, as the user set it (enabled by default)."""
        if caller.user_id != user_id:
            return []
        async with self.db.transaction(caller) as session:
            rows = await repository.preferences_of(session, user_id)
            stored = {(p.category, p.channel): p for p in rows}
        names = dict.fromkeys([*CATEGORIES, *(c for c, _ in stored)])
        return [
            stored.get(
                (name, channel.value),
                Preference(user_id=user_id, category=name, channel=channel.value, enabled=True),
            )
            for name in names
            for channel in Channel
        ]

    async def set_preference(
        self, caller: Caller, category_name: str, channel: Channel, enabled: bool
    ) -> Preference:
        user_id = signed_in(caller)
        name = category(category_name)
        if name in MANDATORY and not enabled:
            raise Rejected.one(
                NotificationsErrorCode.MANDATORY_CATEGORY,
                "Security notifications cannot be turned off.",
                "enabled",
            )
        preference = Preference(
            user_id=user_id, category=name, channel=channel.value, enabled=enabled
        )
        async with self.db.transaction(caller) as session:
            await repository.save_preference(session, preference)
        return preference

    async def contact(self, caller: Caller, user_id: UUID) -> Contact | None:
        if caller.user_id != user_id:
            return None
        async with self.db.transaction(caller) as session:
            return await session.get(Contact, user_id)

    async def update_contact(self, caller: Caller, changes: dict[str, Any]) -> Contact:
        """Change phone, locale, time zone or quiet hours (``quiet_hours`` None clears them)."""
        user_id = signed_in(caller)
        checked = self._contact_changes(changes)
        async with self.db.transaction(caller) as session:
            contact = await session.get(Contact, user_id) or Contact(user_id=user_id)
            for key, value in checked.items():
                setattr(contact, key, value)
            session.add(contact)
        return contact

    def _contact_changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The changes, checked; every bad field is reported at once."""
        rules: dict[str, tuple[Callable[[Any], bool], str]] = {
            "phone": (lambda v: v is None or bool(_PHONE.match(v)), "Use the form +15551234567."),
            "locale": (lambda v: bool(_LOCALE.match(v or "")), "Use a locale such as en or fr-CA."),
            "timezone": (lambda v: v in available_timezones(), "Unknown time zone."),
        }
        problems = [
            Problem(ErrorCode.INVALID_INPUT, message, name)
            for name, (valid, message) in rules.items()
            if name in changes and not valid(changes[name])
        ]
        if problems:
            raise Rejected(*problems)
        checked = {name: changes[name] for name in rules if name in changes}
        if "quiet_hours" in changes:
            hours = changes["quiet_hours"]
            checked["quiet_start"] = hours and _local_time(hours[0], "quietHours.start")
            checked["quiet_end"] = hours and _local_time(hours[1], "quietHours.end")
        return checked

    # templates ---------------------------------------------------------------------------------

    def _manager(self, caller: Caller) -> UUID:
        signed_in(caller)
        if caller.org_id is None or not caller.manages(caller.org_id):
            raise Rejected.one(ErrorCode.FORBIDDEN, "Only owners and admins manage templates.")
        return caller.org_id

    async def templates(self, caller: Caller) -> list[Template]:
        """The organization's templates; empty unless the caller manages it."""
        org_id = caller.org_id
        if org_id is None or not caller.manages(org_id):
            return []
        async with self.db.transaction(caller) as session:
            return await repository.templates_of(session, org_id)

    async def save_template(
        self, caller: Caller, key: str, channel: Channel, locale: str, source: Source
    ) -> Template:
        """Create or replace the organization's template; it must render with sample data."""
        org_id = self._manager(caller)
        require(key in DEFAULTS, ErrorCode.INVALID_INPUT, "Unknown template.", "key")
        require(bool(_LOCALE.match(locale)), ErrorCode.INVALID_INPUT, "Unknown locale.", "locale")
        for text, name in (
            (source.subject, "subject"),
            (source.body, "body"),
            (source.html, "html"),
        ):
            ok = len(text or "") <= MAX_SOURCE
            require(ok, ErrorCode.INVALID_INPUT, f"At most {MAX_SOURCE} characters.", name)
        render(source, channel, SAMPLE_DATA)
        async with self.db.transaction(caller) as session:
            found = await repository.template(session, org_id, key, channel, locale)
            template = found or Template(
                org_id=org_id,
                key=key,
                channel=channel.value,
                locale=locale,
                subject=source.subject,
                body=source.body,
            )
            template.subject, template.body = source.subject, source.body
            template.html = source.html
            template.updated_at = utcnow()
            session.add(template)
        return template

    async def delete_template(self, caller: Caller, template_id: UUID) -> None:
        self._manager(caller)
        async with self.db.transaction(caller) as session:
            await session.delete(existing(await session.get(Template, template_id), "template"))

    async def preview(
        self,
        caller: Caller,
        key: str,
        channel: Channel,
        locale: str,
        source: Source | None,
        data: dict[str, Any] | None,
    ) -> Rendered:
        """Render a draft (or the template in force) with ``data`` or sample data, in the
        organization's branding; for the owners and admins who edit templates, as listing them
        is."""
        self._manager(caller)
        values = {**SAMPLE_DATA, **(data or {})}
        async with self.db.transaction(caller) as session:
            brand = await self._brand(session, caller.org_id)
            found = source or await self._source(session, caller.org_id, key, channel, locale)
        return render(found, channel, values, brand)

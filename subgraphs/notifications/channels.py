"""How a delivery leaves the platform: SMTP for email, a Twilio-compatible HTTP API for SMS, or
the log when neither is configured. In-app notifications need no sender: they are stored and
published live."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol
from urllib.parse import urlencode

import aiosmtplib
import httpx

from subgraphs.notifications.models import Channel, Delivery
from subgraphs.notifications.settings import Settings

log = logging.getLogger("vetrai.notifications")


class DeliveryFailed(Exception):
    """A send did not happen; ``permanent`` when trying again cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, delivery: Delivery) -> None: ...


class LogSender:
    """The default without a provider: the message is recorded, logged and counts as sent."""

    async def send(self, delivery: Delivery) -> None:
        log.info(
            "delivery logged",
            extra={"fields": {"channel": delivery.channel, "delivery": str(delivery.id)}},
        )


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def message(self, delivery: Delivery) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.notifications.email_from
        message["To"] = delivery.address
        message["Subject"] = delivery.subject
        # Derived from the delivery, so a resend after a crash is recognisable downstream.
        message["Message-ID"] = make_msgid(idstring=delivery.id.hex, domain="vetrai")
        message.set_content(delivery.body)
        if delivery.html:
            message.add_alternative(delivery.html, subtype="html")
        return message

    async def send(self, delivery: Delivery) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                self.message(delivery),
                hostname=s.notifications.smtp_host,
                port=s.notifications.smtp_port,
                username=s.notifications.smtp_username,
                password=s.notifications.smtp_password.get_secret_value()
                if s.notifications.smtp_password
                else None,
                use_tls=s.notifications.smtp_security == "tls",
                start_tls=s.notifications.smtp_security == "starttls",
                timeout=30,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"recipient refused: {exc}", permanent=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP unavailable: {exc}", permanent=False) from None


class TwilioSmsSender:
    """``POST {api}/2010-04-01/Accounts/{sid}/Messages.json`` with To, From and Body."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    async def send(self, delivery: Delivery) -> None:
        s = self.settings
        sid = s.notifications.sms_account_sid or ""
        token = (
            s.notifications.sms_auth_token.get_secret_value()
            if s.notifications.sms_auth_token
            else ""
        )
        url = f"{s.notifications.sms_api_url}/2010-04-01/Accounts/{sid}/Messages.json"
        form = {
            "To": delivery.address or "",
            "From": s.notifications.sms_from or "",
            "Body": delivery.body,
        }
        if s.notifications.sms_status_url:
            form["StatusCallback"] = status_callback(s.notifications.sms_status_url, delivery)
        try:
            response = await self.client.post(url, data=form, auth=(sid, token), timeout=30)
        except httpx.TransportError as exc:
            raise DeliveryFailed(f"SMS provider unreachable: {exc!r}", permanent=False) from None
        if response.is_success:
            return
        transient = response.status_code == 429 or response.status_code >= 500
        reason = f"SMS provider answered {response.status_code}: {response.text[:200]}"
        raise DeliveryFailed(reason, permanent=not transient)


def status_callback(url: str, delivery: Delivery) -> str:
    """Where the provider reports this delivery; it signs the whole URL, ids included."""
    query = urlencode(
        {"delivery": str(delivery.id), "user": delivery.user_id or "", "org": delivery.org_id or ""}
    )
    return f"{url}?{query}"


def provider_signature(token: str, url: str, form: dict[str, str]) -> str:
    """Twilio's request signature: HMAC-SHA1 over the URL and the sorted form fields."""
    payload = url + "".join(f"{k}{form[k]}" for k in sorted(form))
    return base64.b64encode(
        hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


def senders(settings: Settings, client: httpx.AsyncClient) -> dict[Channel, Sender]:
    return {
        Channel.EMAIL: SmtpSender(settings) if settings.notifications.smtp_host else LogSender(),
        Channel.SMS: TwilioSmsSender(settings, client)
        if settings.notifications.sms_api_url
        else LogSender(),
    }

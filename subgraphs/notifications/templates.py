"""Templates: the platform's defaults, and rendering in Jinja2's sandbox (template authors are
organization admins, so a template may read the data it is given and nothing else)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from subgraphs.kernel.errors import ErrorCode, Rejected
from subgraphs.notifications.models import Channel

MESSAGE = "message"
MAX_SOURCE = 20_000
_TEXT = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_HTML = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


@dataclass(frozen=True)
class Source:
    subject: str
    body: str
    html: str | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    html: str | None


@dataclass(frozen=True)
class Brand:
    """What an email shows of its organization's published theme (``brand`` in templates);
    the platform's own look until the organization publishes one."""

    primary: str = "#2563eb"
    primary_foreground: str = "#ffffff"
    logo_url: str | None = None
    name: str | None = None
    white_label: bool = False


PLATFORM_BRAND = Brand()
# Jinja, not f-strings: the layout is rendered with each email's ``brand``.
_HEADER = (
    '{% if brand.logo_url %}<p><img src="{{ brand.logo_url }}" alt="{{ brand.name or \'\' }}"'
    ' height="40"></p>{% endif %}'
)
_FOOTER = '<p style="color:#6b7280;font-size:12px">{{ brand.name or "" }}</p>'
# Added by ``render`` to every email's HTML, the organization's own templates included: only a
# plan with white_label leaves it out.
POWERED_BY = '<p style="color:#6b7280;font-size:12px">Powered by VetrAI</p>'

_BUTTON = (
    '<p style="background:{{ brand.primary }};border-radius:6px;padding:10px 16px;'
    'display:inline-block"><a href="{{ LINK }}">'
    '<span style="color:{{ brand.primary_foreground }}">{{ LINK }}</span></a></p>'
)


def _layout(content: str) -> str:
    return f"<!doctype html><html><body>{_HEADER}{content}{_FOOTER}</body></html>"


def _email_html(text: str, link: str | None = None) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n\n"))
    return _layout(paragraphs + (_BUTTON.replace("LINK", link) if link else ""))


def _default(subject: str, text: str, link: str | None = None) -> Source:
    body = f"{text}\n\n{{{{ {link} }}}}" if link else text
    return Source(subject=subject, body=body, html=_email_html(text, link))


DEFAULTS: dict[str, Source] = {
    MESSAGE: Source("{{ title }}", "{{ body }}", _email_html("{{ body }}")),
    "verify_email": _default(
        "Confirm your email address", "Hello {{ name }},\n\nConfirm your address:", "link"
    ),
    "reset_password": _default(
        "Reset your password", "Someone asked to reset your password. If it was you:", "link"
    ),
    "invitation": _default(
        "You are invited to {{ organization }}",
        "You have been invited to join {{ organization }} on VetrAI:",
        "link",
    ),
    "ticket_created": _default(
        "Ticket {{ ticket }}: {{ subject }}", "A new ticket was opened: {{ subject }}", "link"
    ),
    "ticket_updated": _default(
        "Ticket {{ ticket }} was updated", "Ticket {{ ticket }} ({{ subject }}) changed.", "link"
    ),
    "job_succeeded": _default("{{ job }} finished", "Your job {{ job }} finished.", "link"),
    "job_failed": _default("{{ job }} failed", "Your job {{ job }} failed: {{ reason }}", "link"),
    "approval_requested": Source(
        "{{ workflow }} asks for your approval",
        "{{ question }}\n\nApprove: {{ approve }}\n\nReject: {{ reject }}",
        _layout(
            "<p>{{ question }}</p>"
            '<p><a href="{{ approve }}">Approve</a> <a href="{{ reject }}">Reject</a></p>'
        ),
    ),
    "billing.payment_failed": _default(
        "Payment failed for invoice {{ invoice }}",
        "We could not collect {{ amount }} for invoice {{ invoice }} (attempt {{ attempt }})."
        " Your plan stays while the payment is retried; check your card:",
        "link",
    ),
    "billing.usage_alert": _default(
        "{{ percent }} % of your {{ meter }} used",
        "This month your organization has used {{ percent }} % of the {{ included }}"
        " {{ meter }} its plan includes.",
    ),
}

SAMPLE_DATA: dict[str, Any] = {
    "title": "Hello",
    "body": "This is how your message looks.",
    "name": "Ada Lovelace",
    "link": "https://example.com/action?token=sample",
    "organization": "Acme",
    "ticket": "T-1042",
    "subject": "Cannot sign in",
    "job": "Nightly report",
    "reason": "the source was unreachable",
    "workflow": "Refund approval",
    "question": "Refund 120 EUR to order 1042?",
    "approve": "https://example.com/approvals/sample-approve",
    "reject": "https://example.com/approvals/sample-reject",
    "invoice": "A1B2C3-0001",
    "amount": "29.00 USD",
    "attempt": 1,
    "meter": "api_requests",
    "percent": 80,
    "included": 10000,
}


def render(
    source: Source, channel: Channel, data: Mapping[str, Any], brand: Brand = PLATFORM_BRAND
) -> Rendered:
    """Render for ``channel`` (HTML only for email) with the organization's ``brand``; a
    template error is invalid input."""
    data = {**data, "brand": asdict(brand)}
    try:
        html = None
        if source.html and channel is Channel.EMAIL:
            html = _marked(_HTML.from_string(source.html).render(data), brand)
        return Rendered(
            subject=_TEXT.from_string(source.subject).render(data).strip()[:200],
            body=_TEXT.from_string(source.body).render(data),
            html=html,
        )
    except TemplateError as exc:
        raise Rejected.one(
            ErrorCode.INVALID_INPUT, f"The template cannot be rendered: {exc.message}", "template"
        ) from None


def _marked(html: str, brand: Brand) -> str:
    """``html`` with the platform's mark at the end of its body, unless white-labelled."""
    if brand.white_label:
        return html
    end = html.rfind("</body>")
    return html + POWERED_BY if end < 0 else html[:end] + POWERED_BY + html[end:]


def locales(locale: str) -> list[str]:
    """Which locales to try, most specific first: ``fr-CA``, ``fr``, ``en``."""
    return list(dict.fromkeys([locale, locale.split("-")[0], "en"]))

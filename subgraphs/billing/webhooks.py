"""Stripe's webhook endpoint: the signature checked on the raw body (the previous secret too
while it is being rotated), the event stored once under its id with the job that applies it
(through the outbox), in one statement. Answers fast: nothing is applied or sent from here."""

from __future__ import annotations

from typing import Any

import orjson
import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from subgraphs.billing.service import BillingService, is_event
from subgraphs.billing.settings import BillingSettings

SIGNATURE_HEADER = "stripe-signature"
_MAX_BODY = 1024 * 1024
_RECEIVED = orjson.dumps({"received": True})


def _problem(message: str) -> Response:
    return JSONResponse({"error": {"code": "INVALID_INPUT", "message": message}}, status_code=400)


def signed_by_stripe(body: bytes, header: str, settings: BillingSettings) -> bool:
    """Whether one of the configured secrets signed ``body`` within the tolerance."""
    secrets = [settings.stripe_webhook_secret, settings.stripe_webhook_previous_secret]
    configured = [s.get_secret_value() for s in secrets if s is not None]
    for secret in filter(None, configured):
        try:
            stripe.WebhookSignature.verify_header(
                body.decode(), header, secret, settings.stripe_webhook_tolerance_seconds
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            continue
        return True
    return False


def _event(body: bytes) -> dict[str, Any] | None:
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return event if is_event(event) else None


async def receive(request: Request) -> Response:
    """``POST`` from Stripe: 200 once the event is stored (again: 200, nothing changes), 400 for
    a bad signature or body."""
    service: BillingService = request.app.state.services
    body = await request.body()
    header = request.headers.get(SIGNATURE_HEADER, "")
    if len(body) > _MAX_BODY or not signed_by_stripe(body, header, service.settings.billing):
        return _problem("The Stripe-Signature header does not match the body.")
    event = _event(body)
    if event is None:
        return _problem("Not a Stripe event.")
    await service.receive_event(event)
    return Response(_RECEIVED, media_type="application/json")

"""Stripe's webhook endpoint: the signature checked on the raw body (the previous secret too
while it is being rotated), the event stored once under its id and its job queued; the worker
applies it. Answers fast: nothing is applied here."""

from __future__ import annotations

from typing import Any

import orjson
import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from subgraphs.billing.contract import APPLY_EVENT_JOB
from subgraphs.billing.plans import catalogue
from subgraphs.billing.service import BillingService
from subgraphs.kernel.app import Runtime
from subgraphs.kernel.notify import job_queue
from subgraphs.kernel.settings import Settings

WEBHOOK_PATH = "/stripe/webhook"
SIGNATURE_HEADER = "stripe-signature"
_MAX_BODY = 1024 * 1024


def _problem(message: str) -> Response:
    return JSONResponse({"error": {"code": "INVALID_INPUT", "message": message}}, status_code=400)


def signed_by_stripe(body: bytes, header: str, settings: Settings) -> bool:
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
    if not isinstance(event, dict):
        return None
    well_formed = (
        isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance((event.get("data") or {}).get("object"), dict)
    )
    return event if well_formed else None


async def enqueue_apply(runtime: Runtime, event_id: str) -> None:
    await job_queue(runtime.redis).enqueue_job(
        APPLY_EVENT_JOB,
        event_id,
        _job_id=f"{APPLY_EVENT_JOB}:{event_id}",
        _queue_name=runtime.settings.queue_name,
    )


async def receive(request: Request) -> Response:
    """``POST`` from Stripe: 200 once the event is stored (again: 200, nothing changes), 400 for
    a bad signature or body."""
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    header = request.headers.get(SIGNATURE_HEADER, "")
    if len(body) > _MAX_BODY or not signed_by_stripe(body, header, runtime.settings):
        return _problem("The Stripe-Signature header does not match the body.")
    event = _event(body)
    if event is None:
        return _problem("Not a Stripe event.")
    service = BillingService(runtime.db, runtime.redis, catalogue(), None)
    if await service.receive_event(event):
        await enqueue_apply(runtime, event["id"])
    return JSONResponse({"received": True})

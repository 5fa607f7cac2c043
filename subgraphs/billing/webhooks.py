"""Stripe's webhook endpoint: the signature checked on the raw body (the previous secret too
while it is being rotated), the event stored once under its id with the job that applies it
(through the outbox), in one statement. Answers fast: nothing is applied or sent from here."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from subgraphs.billing.service import BillingService, is_event

SIGNATURE_HEADER = "stripe-signature"
_MAX_BODY = 1024 * 1024
_RECEIVED = orjson.dumps({"received": True})


def _problem(message: str) -> Response:
    return JSONResponse({"error": {"code": "INVALID_INPUT", "message": message}}, status_code=400)


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
    if len(body) > _MAX_BODY or not service.webhook_signatures.signed(body, header, time.time()):
        return _problem("The Stripe-Signature header does not match the body.")
    event = _event(body)
    if event is None:
        return _problem("Not a Stripe event.")
    await service.receive_event(event)
    return Response(_RECEIVED, media_type="application/json")

"""The notifications subgraph (port 8007): its schema, services, migrations and jobs, plus the
route where the SMS provider reports deliveries (``POST /sms/status``, Twilio's status
callback)."""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.caller import Caller
from subgraphs.kernel.app import Runtime
from subgraphs.kernel.domain import Domain
from subgraphs.kernel.migrations import MigrationSet
from subgraphs.kernel.validation import uuid_or_none
from subgraphs.notifications.channels import provider_signature
from subgraphs.notifications.schema import schema
from subgraphs.notifications.service import NotificationService
from subgraphs.notifications.settings import Settings
from subgraphs.notifications.tasks import JOBS


def services(runtime: Runtime, settings: Settings) -> NotificationService:
    # The subgraph only stores and queues; the worker does the sending (DeliveryService).
    return NotificationService(runtime.db, runtime.redis, settings)


async def sms_status(request: Request) -> Response:
    service: NotificationService = request.app.state.services
    section = service.settings.notifications
    token, url = section.sms_auth_token, section.sms_status_url
    if token is None or url is None:
        return Response(status_code=404)
    form = dict(parse_qsl((await request.body()).decode()))
    expected = provider_signature(token.get_secret_value(), f"{url}?{request.url.query}", form)
    if not hmac.compare_digest(request.headers.get("x-twilio-signature", ""), expected):
        return Response(status_code=403)
    ids = [uuid_or_none(request.query_params.get(k) or "") for k in ("delivery", "user", "org")]
    if ids[0] is None:
        return Response(status_code=400)
    status, error = form.get("MessageStatus", ""), form.get("ErrorCode")
    await service.sms_reported(ids[0], Caller(user_id=ids[1], org_id=ids[2]), status, error)
    return Response(status_code=204)


DOMAIN = Domain(
    name="notifications",
    port=8007,
    schema=schema,
    services=services,
    migrations=MigrationSet("notifications", Path(__file__).parent / "migrations"),
    routes=[Route("/sms/status", sms_status, methods=["POST"])],
    jobs=JOBS,
)

"""GraphQL over HTTP at the router: GET, POST (one operation or a batch of them), Apollo's
multipart subscriptions and `@defer` payloads. The transport reads the parameters (with the
body-size limit and CSRF prevention), runs each operation through the pipeline and writes its
answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import OperationType
from starlette.types import Receive, Scope, Send

from core.caller import ANONYMOUS
from router import limits
from router.config import Limits
from router.edge import accepts_deferred, send_parts
from router.identity import Identity
from router.pipeline.errors import RouterError, body_too_large, masked
from router.pipeline.operation import Params, PreparedOperation, Transport
from router.pipeline.runtime import Runtime, Served
from router.pipeline.stages import Pipeline
from router.planner.plan import plan_to_json
from router.subscriptions import Subscriptions
from router.telemetry import Outcome, outcome_of

_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_PREFLIGHT_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight")
EXPOSE_PLAN_HEADER = "apollo-expose-query-plan"
_JSON = (b"content-type", b"application/json")


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]


class HttpTransport:
    """The ASGI app serving ``/graphql`` over HTTP."""

    def __init__(
        self,
        runtime: Runtime,
        pipeline: Pipeline,
        subscriptions: Subscriptions,
        *,
        csrf: bool,
        development: bool,
        expose_plans: bool,
    ) -> None:
        self.runtime = runtime
        self.pipeline = pipeline
        self.subscriptions = subscriptions
        self.csrf = csrf
        self.development = development
        self.expose_plans = expose_plans
        self.limits: Limits = pipeline.config.limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = _headers(scope)
        try:
            if self.csrf:
                _check_csrf(headers)
            raw = await _read(scope, receive, headers, self.limits.max_body_bytes)
            client = scope["client"][0] if scope.get("client") else None
            identity = await self.pipeline.identify(headers, client)
        except RouterError as error:
            self.pipeline.record(None, ANONYMOUS, Outcome.REFUSED, started, error.status, 0)
            await _write(send, _Answer(error.status, orjson.dumps(error.body()), error.headers))
            return
        async with self.runtime.using() as served:
            if isinstance(raw, list):
                await _write(send, await self._batch(served, raw, identity, headers, receive, send))
                return
            transport = _transport(scope, headers)
            answer = await self._one(served, raw, identity, headers, transport, receive, send)
            if answer is not None:
                await _write(send, answer)

    async def _batch(
        self,
        served: Served,
        items: list[Any],
        identity: Identity,
        headers: Mapping[str, str],
        receive: Receive,
        send: Send,
    ) -> _Answer:
        if not items or len(items) > self.limits.max_batch:
            error = RouterError(
                400,
                "BATCH_LIMIT_EXCEEDED",
                f"Send between 1 and {self.limits.max_batch} operations in a batch.",
            )
            return _Answer(error.status, orjson.dumps(error.body()), error.headers)
        answers = await asyncio.gather(
            *(
                self._one(served, item, identity, headers, Transport.POST, receive, send)
                for item in items
            )
        )
        given = [answer for answer in answers if answer is not None]
        merged = {name: value for answer in given for name, value in answer.headers.items()}
        return _Answer(200, b"[" + b",".join(answer.body for answer in given) + b"]", merged)

    async def _one(
        self,
        served: Served,
        raw: Any,
        identity: Identity,
        headers: Mapping[str, str],
        transport: Transport,
        receive: Receive,
        send: Send,
    ) -> _Answer | None:
        """The answer to one operation; None when it was streamed (a multipart subscription)."""
        started = time.perf_counter()
        name = raw.get("operationName") if isinstance(raw, dict) else None
        outcome, status, fetches = Outcome.REFUSED, 200, 0
        try:
            prepared = await self.pipeline.prepare(served, Params.of(raw), identity, transport)
            name = prepared.name
            if prepared.kind == OperationType.SUBSCRIPTION:
                await self.subscriptions.multipart(served, prepared, identity, receive, send)
                outcome = Outcome.OK
                return None
            if (
                prepared.planned.deferred
                and transport is Transport.MULTIPART
                and accepts_deferred(headers.get("accept", ""))
            ):
                first = await self._incremental(served, prepared, identity, headers, receive, send)
                outcome = outcome_of(first)
                fetches = limits.count_fetches(prepared.planned.plan.node)
                return None
            result = await self.pipeline.execute(served, prepared, identity.caller)
            outcome, fetches = outcome_of(result), limits.count_fetches(prepared.planned.plan.node)
            self._extend(result, prepared, headers)
            return _Answer(200, orjson.dumps(result), prepared.headers)
        except RouterError as error:
            status = error.status
            return _Answer(error.status, orjson.dumps(error.body()), error.headers)
        except Exception as exc:
            hidden = masked(exc)
            outcome, status = Outcome.ERRORS, hidden.status
            return _Answer(hidden.status, orjson.dumps(hidden.body()), hidden.headers)
        finally:
            name = name if isinstance(name, str) else None
            self.pipeline.record(name, identity.caller, outcome, started, status, fetches)

    async def _incremental(
        self,
        served: Served,
        prepared: PreparedOperation,
        identity: Identity,
        headers: Mapping[str, str],
        receive: Receive,
        send: Send,
    ) -> dict[str, Any]:
        """The payloads of an operation with `@defer`, one part each as they come, as Apollo
        Router sends them (`deferSpec=20220824`), until the client goes away; the first payload
        is returned."""
        payloads = served.engine.executor.stream(
            prepared.planned,
            prepared.variables,
            self.pipeline.signer(identity.caller),
            errors=list(prepared.refusals),
        )
        first = await anext(payloads)
        self._extend(first, prepared, headers)
        extra = [(k.encode(), v.encode()) for k, v in prepared.headers.items()]
        await send_parts(send, receive, first, payloads, extra)
        return first

    def _extend(
        self, result: dict[str, Any], prepared: PreparedOperation, headers: Mapping[str, str]
    ) -> None:
        """In development: the estimated and actual cost; on request: the query plan."""
        extensions: dict[str, Any] = {}
        if self.development:
            fetches = limits.count_fetches(prepared.planned.plan.node)
            actual = limits.actual_cost(result.get("data"), fetches, self.limits)
            extensions["cost"] = {"estimated": prepared.cost, "actual": actual}
        if self.expose_plans and headers.get(EXPOSE_PLAN_HEADER) == "true":
            extensions["apolloQueryPlan"] = {"object": plan_to_json(prepared.planned.plan)}
        if extensions:
            result["extensions"] = {**result.get("extensions", {}), **extensions}


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-cased name; of a repeated header the first counts, as
    everywhere Starlette reads one."""
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(scope["headers"])
    }


def _transport(scope: Scope, headers: Mapping[str, str]) -> Transport:
    if scope["method"] == "GET":
        return Transport.GET
    if "multipart/mixed" in headers.get("accept", ""):
        return Transport.MULTIPART
    return Transport.POST


def _check_csrf(headers: Mapping[str, str]) -> None:
    """Apollo's CSRF prevention: a request a browser could send cross-site without a preflight
    (no content type, or a "simple" one) must carry a header that forces a preflight."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    preflighted = bool(content_type) and content_type not in _SIMPLE_TYPES
    if not preflighted and not any(headers.get(name) for name in _PREFLIGHT_HEADERS):
        raise RouterError(
            400,
            "CSRF_PREVENTION",
            "This request looks like a cross-site request forgery: send it with a "
            "'Content-Type: application/json' or an 'Apollo-Require-Preflight' header.",
        )


async def _read(scope: Scope, receive: Receive, headers: Mapping[str, str], limit: int) -> Any:
    """The request's parameters: the query string of a GET, else the JSON body."""
    if scope["method"] == "GET":
        params = dict(parse_qsl(scope["query_string"].decode()))
        if any("\x00" in value or "\\u0000" in value for value in params.values()):
            raise _nul()
        return params
    if int(headers.get("content-length") or 0) > limit:
        raise body_too_large(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    if b"\\u0000" in body:
        raise _nul()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RouterError(400, "BAD_REQUEST", "The request is not valid JSON.") from None


def _nul() -> RouterError:
    # PostgreSQL cannot store it, and no text of ours needs it.
    return RouterError(400, "BAD_USER_INPUT", "Text may not contain the NUL character (U+0000).")


async def _write(send: Send, answer: _Answer) -> None:
    """The one response writer of the HTTP transport."""
    headers = [
        _JSON,
        (b"content-length", str(len(answer.body)).encode()),
        *((k.encode(), v.encode()) for k, v in answer.headers.items()),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})

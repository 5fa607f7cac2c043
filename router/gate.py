"""The router's door: everything decided about a request before it is planned and run.

In order: body size, CSRF, batches, persisted queries, who is calling, limits on the operation
(depth, aliases, root fields, introspection, cost) and rate limits. A refusal is a JSON GraphQL
error with ``extensions.code`` and no subgraph is called; every answer carries ``RateLimit-*``
headers when a limit applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import FragmentDefinitionNode, OperationType
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router import limits
from router.apq import PersistedQueryError, PersistedQueryStore
from router.config import RouterConfig
from router.edge import PARAMS_STATE, Router
from router.identity import Authenticator, Forbidden, Identity, Unauthenticated, Unavailable
from router.planner.errors import PlanningError
from router.planner.planner import select_operation
from router.ratelimit import Bucket, RateLimiter, Verdict
from router.subscriptions import Subscriptions
from router.telemetry import Metrics
from subgraphs.keys.contract import record_use

logger = logging.getLogger("vetrai.router")
_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_PREFLIGHT_HEADERS = ("x-apollo-operation-name", "apollo-require-preflight")


@dataclass
class Refusal(Exception):
    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


@dataclass
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        router: Router,
        config: RouterConfig,
        authenticator: Authenticator,
        limiter: RateLimiter,
        persisted: PersistedQueryStore,
        introspection: bool,
        metrics: Metrics,
        subscriptions: Subscriptions | None = None,
    ) -> None:
        self.app = app
        self.router = router
        self.config = config
        self.authenticator = authenticator
        self.limiter = limiter
        self.persisted = persisted
        self.introspection = introspection
        self.metrics = metrics
        self.subscriptions = subscriptions
        self._shapes: OrderedDict[tuple[str, str | None], limits.Shape] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        try:
            await self._serve(scope, receive, send)
        except Refusal as refusal:
            await _send_json(send, refusal.status, refusal.body(), refusal.headers)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if self.config.protection.csrf:
            _check_csrf(scope["method"], headers)
        raw = await self._body(scope, receive, headers)
        client = scope["client"][0] if scope.get("client") else None
        identity = await self._identify(headers, client)
        scope.setdefault("state", {})["caller"] = identity.caller
        if isinstance(raw, list):
            await self._batch(scope, raw, identity, send)
            return
        if isinstance(raw, dict) and "multipart/mixed" in headers.get("accept", ""):
            raw = await self._resolve_persisted(raw)
            if self._subscribing(raw):
                await self._stream(scope, raw, identity, receive, send)
                return
        answer = await self._one(scope, raw, identity)
        await _send(send, answer)

    def _subscribing(self, params: dict[str, Any]) -> bool:
        source = params.get("query")
        checked = self.router.documents.get(source) if isinstance(source, str) else None
        if checked is None or checked.document is None or self.subscriptions is None:
            return False
        try:
            operation = select_operation(checked.document, params.get("operationName"))
        except PlanningError:
            return False
        return operation.operation == OperationType.SUBSCRIPTION

    async def _stream(
        self, scope: Scope, params: dict[str, Any], identity: Identity, receive: Receive, send: Send
    ) -> None:
        """A subscription over multipart HTTP: checked like any operation, then streamed."""
        assert self.subscriptions is not None  # noqa: S101 - _subscribing checked it
        name = self._check_operation(params)
        verdict = await self._rate_limit(identity, name)
        extra = _encode(verdict.headers()) if verdict else []

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        connection = HTTPConnection(scope)
        await self.subscriptions.multipart(connection, params, receive, send_with_limits)

    # reading the request -------------------------------------------------------------------

    async def _body(self, scope: Scope, receive: Receive, headers: Headers) -> Any:
        if scope["method"] == "GET":
            params = dict(parse_qsl(scope["query_string"].decode()))
            if any("\x00" in value or "\\u0000" in value for value in params.values()):
                raise _nul()
            return params
        limit = self.config.limits.max_body_bytes
        if int(headers.get("content-length") or 0) > limit:
            raise _too_large(limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if b"\\u0000" in body:
            raise _nul()
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Refusal(400, "BAD_REQUEST", "The request is not valid JSON.") from None

    async def _identify(self, headers: Headers, client: str | None) -> Identity:
        try:
            return await self.authenticator.identify(headers, client)
        except Unauthenticated as exc:
            raise Refusal(401, "UNAUTHENTICATED", str(exc)) from None
        except Forbidden as exc:
            raise Refusal(403, "FORBIDDEN", str(exc)) from None
        except Unavailable as exc:
            raise Refusal(503, "SERVICE_UNAVAILABLE", str(exc), {"retry-after": "1"}) from None

    # operations ------------------------------------------------------------------------------

    async def _batch(self, scope: Scope, items: list[Any], identity: Identity, send: Send) -> None:
        if not items or len(items) > self.config.limits.max_batch:
            raise Refusal(
                400,
                "BATCH_LIMIT_EXCEEDED",
                f"Send between 1 and {self.config.limits.max_batch} operations in a batch.",
            )
        answers = await asyncio.gather(*(self._one(scope, item, identity) for item in items))
        body = b"[" + b",".join(answer.body for answer in answers) + b"]"
        merged = {name: value for answer in answers for name, value in answer.headers}
        merged[b"content-type"] = b"application/json"
        merged.pop(b"content-length", None)
        await _send(send, _Answer(200, list(merged.items()), body))

    async def _one(self, scope: Scope, params: Any, identity: Identity) -> _Answer:
        started = time.perf_counter()
        answer, name = await self._answer(scope, params, identity)
        elapsed = time.perf_counter() - started
        self.metrics.operation(name, identity.caller, answer.status, answer.body, elapsed)
        return answer

    async def _answer(
        self, scope: Scope, params: Any, identity: Identity
    ) -> tuple[_Answer, str | None]:
        """The answer, and the operation's name (from the document when the client sent none)."""
        verdict: Verdict | None = None
        name = None
        try:
            if not isinstance(params, dict):
                raise Refusal(400, "BAD_REQUEST", "Each operation must be a JSON object.")
            params = await self._resolve_persisted(params)
            given = params.get("operationName")
            name = self._check_operation(params) or (given if isinstance(given, str) else None)
            verdict = await self._rate_limit(identity, name)
            answer = await self._forward(scope, params)
        except Refusal as refusal:
            body = orjson.dumps(refusal.body())
            answer = _Answer(refusal.status, _encode(refusal.headers), body)
        if verdict is not None:
            answer.headers.extend(_encode(verdict.headers()))
        return answer, name

    async def _resolve_persisted(self, params: dict[str, Any]) -> dict[str, Any]:
        if isinstance(params.get("extensions"), str):
            params = {**params, "extensions": _json_param(params["extensions"])}
        try:
            return await self.persisted.resolve(params)
        except PersistedQueryError as exc:
            status = 200 if exc.code == "PERSISTED_QUERY_NOT_FOUND" else 400
            raise Refusal(status, exc.code, str(exc)) from None

    def _check_operation(self, params: dict[str, Any]) -> str | None:
        """Refuse an operation over the limits; return its name. Anything invalid is left for
        the edge to explain."""
        source, name = params.get("query"), params.get("operationName")
        if not isinstance(source, str):
            return None
        checked = self.router.documents.get(source)
        if checked.document is None:
            return None
        try:
            operation = select_operation(checked.document, name)
        except PlanningError:
            return None
        fragments = {
            d.name.value: d
            for d in checked.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        shape = self._shape(source, name, operation, fragments)
        violation = limits.check_shape(shape, self.config.limits, introspection=self.introspection)
        if violation is None and not shape.introspection:
            variables = params.get("variables")
            planned = self.router.planner.plan_for(source, checked.document, name)
            spent = limits.cost(
                self.router.supergraph.api_schema,
                operation,
                fragments,
                _json_param(variables) if isinstance(variables, str) else variables or {},
                planned.plan,
                self.config.limits,
            )
            violation = limits.check_cost(spent, self.config.limits)
        if violation is not None:
            raise Refusal(400, violation.code, violation.message)
        return operation.name.value if operation.name else None

    def _shape(self, source: str, name: Any, operation: Any, fragments: Any) -> limits.Shape:
        key = (source, name if isinstance(name, str) else None)
        found = self._shapes.get(key)
        if found is None:
            found = self._shapes[key] = limits.shape(operation, fragments)
            if len(self._shapes) > 1024:
                self._shapes.popitem(last=False)
        return found

    async def _rate_limit(self, identity: Identity, operation: str | None) -> Verdict | None:
        if not self.config.rate_limits.enabled:
            return None
        verdict = await self.limiter.spend(self._buckets(identity, operation))
        caller = identity.caller
        if caller.key_id is not None and caller.org_id is not None:
            rejected = verdict is not None and not verdict.allowed
            await record_use(
                self.authenticator.redis,
                key_id=caller.key_id,
                org_id=caller.org_id,
                rejected=rejected,
            )
        if verdict is not None and not verdict.allowed:
            self.metrics.rate_limited.inc()
            raise Refusal(429, "RATE_LIMITED", "Too many requests; slow down.", verdict.headers())
        return verdict

    def _buckets(self, identity: Identity, operation: str | None) -> list[Bucket]:
        rules = self.config.rate_limits
        caller = identity.caller
        buckets = []
        if caller.key_id is not None and identity.key_limit is not None:
            buckets.append(Bucket(f"key:{caller.key_id}", identity.key_limit))
        if caller.org_id is not None:
            window = rules.organizations.get(str(caller.org_id)) or rules.plans.get(
                identity.plan or "free"
            )
            if window is not None:
                buckets.append(Bucket(f"org:{caller.org_id}", window))
        elif caller.user_id is not None:
            buckets.append(Bucket(f"user:{caller.user_id}", rules.users))
        elif caller.key_id is None:
            buckets.append(Bucket(f"addr:{caller.client_ip}", rules.anonymous))
        if operation in rules.operations:
            who = caller.key_id or caller.user_id or caller.client_ip
            buckets.append(Bucket(f"op:{operation}:{who}", rules.operations[operation]))
        return buckets

    # handing over to the edge ----------------------------------------------------------------

    async def _forward(self, scope: Scope, params: dict[str, Any]) -> _Answer:
        """Run the operation on the edge with the parameters already read here."""
        variables = params.get("variables")
        if isinstance(variables, str):  # as a GET query string carries them
            params = {**params, "variables": _json_param(variables)}
        inner = {**scope, "state": {**scope.get("state", {}), PARAMS_STATE: params}}

        async def receive() -> Message:
            return {"type": "http.disconnect"}

        answer = _Answer(500, [], b"")

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = [
                    (k, v) for k, v in message.get("headers", []) if k != b"content-length"
                ]
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")

        await self.app(inner, receive, capture)
        return answer


def _check_csrf(method: str, headers: Headers) -> None:
    """Apollo's CSRF prevention: a request a browser could send cross-site without a preflight
    (no content type, or a "simple" one) must carry a header that forces a preflight."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    preflighted = bool(content_type) and content_type not in _SIMPLE_TYPES
    if not preflighted and not any(headers.get(name) for name in _PREFLIGHT_HEADERS):
        raise Refusal(
            400,
            "CSRF_PREVENTION",
            "This request looks like a cross-site request forgery: send it with a "
            "'Content-Type: application/json' or an 'Apollo-Require-Preflight' header.",
        )


def _nul() -> Refusal:
    # PostgreSQL cannot store it, and no text of ours needs it.
    return Refusal(400, "BAD_USER_INPUT", "Text may not contain the NUL character (U+0000).")


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "BODY_TOO_LARGE", f"The request body exceeds {limit} bytes.")


def _json_param(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Refusal(400, "BAD_REQUEST", "A parameter is not valid JSON.") from None


def _encode(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in headers.items()]


async def _send(send: Send, answer: _Answer) -> None:
    headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str]
) -> None:
    encoded = [(b"content-type", b"application/json"), *_encode(headers)]
    await _send(send, _Answer(status, encoded, orjson.dumps(body)))
